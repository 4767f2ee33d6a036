# Validation score against forgetting, one point per learning rate (qa)
# Draws forgetting-qa.png from the data in forgetting-qa.tsv:   gnuplot forgetting-qa.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "forgetting-qa.png"
set title "Validation score against forgetting, one point per learning rate (qa)"
set xlabel "forgetting: held-out pretraining loss − the base's"
set ylabel "validation exact match"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
set style line 6 linecolor rgb "#56B4E9" linewidth 2 pointtype 6 pointsize 1.2 dashtype 4
set style line 7 linecolor rgb "#000000" linewidth 2 pointtype 4 pointsize 1.2 dashtype 5
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "forgetting-qa.tsv" index 0 using 1:2 with linespoints linestyle 1 title "prompt tuning", \
     "forgetting-qa.tsv" index 1 using 1:2 with linespoints linestyle 2 title "prefix tuning", \
     "forgetting-qa.tsv" index 2 using 1:2 with linespoints linestyle 3 title "P-tuning (MLP)", \
     "forgetting-qa.tsv" index 3 using 1:2 with linespoints linestyle 4 title "P-tuning (LSTM)", \
     "forgetting-qa.tsv" index 4 using 1:2 with linespoints linestyle 5 title "P-tuning v2", \
     "forgetting-qa.tsv" index 5 using 1:2 with linespoints linestyle 6 title "LoRA r=8 (q,v)", \
     "forgetting-qa.tsv" index 6 using 1:2 with linespoints linestyle 7 title "full fine-tuning", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

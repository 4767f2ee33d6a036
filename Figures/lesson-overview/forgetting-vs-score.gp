# Validation score against forgetting, one point per learning rate
# Draws forgetting-vs-score.png from the data in forgetting-vs-score.tsv:   gnuplot forgetting-vs-score.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "forgetting-vs-score.png"
set title "Validation score against forgetting, one point per learning rate"
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
set style line 8 linecolor rgb "#0072B2" linewidth 2 pointtype 8 pointsize 1.2 dashtype 3
set style line 9 linecolor rgb "#D55E00" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 10 linecolor rgb "#009E73" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "forgetting-vs-score.tsv" index 0 using 1:2 with linespoints linestyle 1 title "full fine-tuning", \
     "forgetting-vs-score.tsv" index 1 using 1:2 with linespoints linestyle 2 title "freeze-tuning (top 1)", \
     "forgetting-vs-score.tsv" index 2 using 1:2 with linespoints linestyle 3 title "LoRA r=8 (q,v)", \
     "forgetting-vs-score.tsv" index 3 using 1:2 with linespoints linestyle 4 title "DoRA r=8 (q,v)", \
     "forgetting-vs-score.tsv" index 4 using 1:2 with linespoints linestyle 5 title "QLoRA r=8 (q,v)", \
     "forgetting-vs-score.tsv" index 5 using 1:2 with linespoints linestyle 6 title "AdaLoRA 12→8 (all linear)", \
     "forgetting-vs-score.tsv" index 6 using 1:2 with linespoints linestyle 7 title "prompt tuning", \
     "forgetting-vs-score.tsv" index 7 using 1:2 with linespoints linestyle 8 title "prefix tuning", \
     "forgetting-vs-score.tsv" index 8 using 1:2 with linespoints linestyle 9 title "P-tuning (MLP)", \
     "forgetting-vs-score.tsv" index 9 using 1:2 with linespoints linestyle 10 title "P-tuning v2", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

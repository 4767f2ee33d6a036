# Validation score against forgetting, one point per learning rate (topic)
# Draws forgetting-topic.png from the data in forgetting-topic.tsv:   gnuplot forgetting-topic.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "forgetting-topic.png"
set title "Validation score against forgetting, one point per learning rate (topic)"
set xlabel "forgetting: held-out pretraining loss − the base's"
set ylabel "validation accuracy"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
set style line 103 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 8)
plot "forgetting-topic.tsv" index 0 using 1:2 with linespoints linestyle 1 title "prompt tuning", \
     "forgetting-topic.tsv" index 1 using 1:2 with linespoints linestyle 2 title "P-tuning v2", \
     "forgetting-topic.tsv" index 2 using 1:2 with linespoints linestyle 3 title "LoRA r=8 (q,v)", \
     0.2 with lines linestyle 101 title "chance 0.2", \
     0.185 with lines linestyle 102 title "majority 0.185", \
     0.24 with lines linestyle 103 title "most common test answer 0.24"

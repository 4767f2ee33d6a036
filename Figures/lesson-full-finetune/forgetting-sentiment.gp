# Validation score against forgetting (sentiment), one point per learning rate
# Draws forgetting-sentiment.png from the data in forgetting-sentiment.tsv:   gnuplot forgetting-sentiment.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "forgetting-sentiment.png"
set title "Validation score against forgetting (sentiment), one point per learning rate"
set xlabel "forgetting: held-out pretraining loss − the base's"
set ylabel "validation accuracy"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
set style line 103 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 8)
plot "forgetting-sentiment.tsv" index 0 using 1:2 with linespoints linestyle 1 title "full fine-tuning", \
     "forgetting-sentiment.tsv" index 1 using 1:2 with linespoints linestyle 2 title "freeze-tuning (top 1)", \
     "forgetting-sentiment.tsv" index 2 using 1:2 with linespoints linestyle 3 title "head only", \
     "forgetting-sentiment.tsv" index 3 using 1:2 with linespoints linestyle 4 title "from scratch", \
     0.5 with lines linestyle 101 title "chance 0.5", \
     0.445 with lines linestyle 102 title "majority 0.445", \
     0.555 with lines linestyle 103 title "most common test answer 0.555"

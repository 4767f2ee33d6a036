# Test accuracy (topic) against trainable parameters
# Draws score-vs-parameters-topic.png from the data in score-vs-parameters-topic.tsv:   gnuplot score-vs-parameters-topic.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "score-vs-parameters-topic.png"
set title "Test accuracy (topic) against trainable parameters"
set xlabel "trainable parameters (log scale)"
set ylabel "test accuracy (95% CI)"
set grid
set key below
set xrange [2259.72:38217]  # room on the right for the labels
set offsets 0, 0, graph 0.08, graph 0.08
set logscale x 10
set format x "%.0s%c"  # 1k, 10k, 1M
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
set style line 103 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 8)
set style line 104 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 6, 4, 6)
plot "score-vs-parameters-topic.tsv" using 2:3:6:7 with yerrorbars linestyle 1 pointsize 1.5 notitle, \
     "" using 2:3:1 with labels left offset 1, 0.6 font ",11" notitle, \
     0.2 with lines linestyle 101 title "chance 0.2", \
     0.185 with lines linestyle 102 title "majority 0.185", \
     0.24 with lines linestyle 103 title "most common test answer 0.24", \
     0.17 with lines linestyle 104 title "hard prompt 0.17"

# Test exact match and trainable parameters against LoRA rank
# Draws score-vs-rank.png from the data in score-vs-rank.tsv:   gnuplot score-vs-rank.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "score-vs-rank.png"
set title "Test exact match and trainable parameters against LoRA rank"
set xlabel "rank r (log scale)"
set ylabel "test exact match (95% CI)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 2
set y2label "trainable parameters (log scale)"
set y2tics
set ytics nomirror
set logscale y2
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "score-vs-rank.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "test exact match", \
     "score-vs-rank.tsv" index 1 using 1:2 with linespoints linestyle 2 axes x1y2 title "trainable parameters", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

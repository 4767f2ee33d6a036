# The score of λ10 in model.layers.1.mlp.gate_proj
# Draws importance.png from the data in importance.tsv:   gnuplot importance.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "importance.png"
set title "The score of λ10 in model.layers.1.mlp.gate_proj"
set xlabel "step"
set ylabel "sensitivity (log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
set y2label "score Ī·U (log scale)"
set y2tics
set ytics nomirror
set logscale y2
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
plot "importance.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 11 title "I = |λ·∂L/∂λ|", \
     "importance.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 11 title "Ī, smoothed", \
     "importance.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 11 title "U, uncertainty", \
     "importance.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 11 axes x1y2 title "score Ī·U (right axis)"

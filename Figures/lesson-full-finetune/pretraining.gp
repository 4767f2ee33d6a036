# Pretraining loss of the base model
# Draws pretraining.png from the data in pretraining.tsv:   gnuplot pretraining.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "pretraining.png"
set title "Pretraining loss of the base model"
set xlabel "step"
set ylabel "loss (log scale)"
set grid
unset key
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
plot "pretraining.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 14 title "pretraining loss"

# Source training loss, first seed
# Draws loss-source.png from the data in loss-source.tsv:   gnuplot loss-source.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-source.png"
set title "Source training loss, first seed"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
plot "loss-source.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "MPT (P + rank-1 factors)", \
     "loss-source.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "one prompt per task"

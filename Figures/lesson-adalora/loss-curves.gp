# Training loss at t = 8, first seed
# Draws loss-curves.png from the data in loss-curves.tsv:   gnuplot loss-curves.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-curves.png"
set title "Training loss at t = 8, first seed"
set xlabel "step"
set ylabel "loss on the answer tokens (AdaLoRA: + penalty; log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
plot "loss-curves.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "LoRA r=8", \
     "loss-curves.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "AdaLoRA t=8"

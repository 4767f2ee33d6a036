# P-tuning v2 on topic for 500 steps, every seed
# Draws longer-run.png from the data in longer-run.tsv:   gnuplot longer-run.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "longer-run.png"
set title "P-tuning v2 on topic for 500 steps, every seed"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
plot "longer-run.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "seed 0", \
     "longer-run.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "seed 1", \
     "longer-run.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 3 title "seed 2", \
     "longer-run.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 3 title "LoRA, 150 steps", \
     0.359839 with lines linestyle 101 title "a uniform guess among the labels 0.36"

# Weights / absmax of their block (blocks of 64), NF4's values, INT4's levels
# Draws nf4-histogram.png from the data in nf4-histogram.tsv:   gnuplot nf4-histogram.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "nf4-histogram.png"
set title "Weights / absmax of their block (blocks of 64), NF4's values, INT4's levels"
set xlabel "weight / absmax of its block"
set ylabel "density"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
plot "nf4-histogram.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 6 title "this model's decoder weights", \
     "nf4-histogram.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 6 title "N(0, 1) samples, same blocks", \
     "nf4-histogram.tsv" index 2 using 1:2 with linespoints linestyle 3 title "the 16 NF4 values (at 0)", \
     "nf4-histogram.tsv" index 3 using 1:2 with linespoints linestyle 4 title "the 15 INT4 levels (at 0.1)"

# Reconstruction error against block size
# Draws reconstruction-error.png from the data in reconstruction-error.tsv:   gnuplot reconstruction-error.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,410 font "DejaVu Sans,12"
set termoption noenhanced
set output "reconstruction-error.png"
set grid
set xrange [32:256]  # shared by all panels, ending at the data
set logscale x 2
set yrange [0:0.02]  # shared by all panels
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
unset key
set multiplot layout 1,3 title "Reconstruction error against block size" margins 0.07, 0.98, 0.232, 0.817 spacing 0.05, 0.195
# Panel 1: N(0, 1)
set title "N(0, 1)"
set ylabel "MSE / mean x²"
set xlabel "block size (log scale)"
plot "reconstruction-error.tsv" index 0 using 1:2 with linespoints linestyle 1 notitle, \
     "reconstruction-error.tsv" index 1 using 1:2 with linespoints linestyle 2 notitle, \
     "reconstruction-error.tsv" index 2 using 1:2 with linespoints linestyle 3 notitle, \
     "reconstruction-error.tsv" index 3 using 1:2 with linespoints linestyle 4 notitle
# Panel 2: this model's weights
set title "this model's weights"
unset ylabel
set xlabel "block size (log scale)"
plot "reconstruction-error.tsv" index 4 using 1:2 with linespoints linestyle 1 notitle, \
     "reconstruction-error.tsv" index 5 using 1:2 with linespoints linestyle 2 notitle, \
     "reconstruction-error.tsv" index 6 using 1:2 with linespoints linestyle 3 notitle, \
     "reconstruction-error.tsv" index 7 using 1:2 with linespoints linestyle 4 notitle
# Panel 3: U(−1, 1)
set title "U(−1, 1)"
unset ylabel
set xlabel "block size (log scale)"
plot "reconstruction-error.tsv" index 8 using 1:2 with linespoints linestyle 1 notitle, \
     "reconstruction-error.tsv" index 9 using 1:2 with linespoints linestyle 2 notitle, \
     "reconstruction-error.tsv" index 10 using 1:2 with linespoints linestyle 3 notitle, \
     "reconstruction-error.tsv" index 11 using 1:2 with linespoints linestyle 4 notitle
# The shared legend: a plot of nothing over the panels that draws only its key
unset title
unset xlabel
unset ylabel
unset border
unset tics
unset grid
set key at screen 0.5, 0.01 center bottom horizontal
set origin 0, 0
set size 1, 1
set lmargin at screen 0.07
set rmargin at screen 0.98
set bmargin at screen 0.232
set tmargin at screen 0.817
plot NaN with linespoints linestyle 1 title "NF4", \
     NaN with linespoints linestyle 2 title "NF4 + DQ", \
     NaN with linespoints linestyle 3 title "FP4", \
     NaN with linespoints linestyle 4 title "INT4"
unset multiplot

# Training loss of every seed, prefix with and without the MLP
# Draws prefix-reparametrisation.png from the data in prefix-reparametrisation.tsv:   gnuplot prefix-reparametrisation.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,410 font "DejaVu Sans,12"
set termoption noenhanced
set output "prefix-reparametrisation.png"
set grid
set xrange [5:150]  # shared by all panels, ending at the data
set yrange [0:8]  # shared by all panels
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
unset key
set multiplot layout 1,2 title "Training loss of every seed, prefix with and without the MLP" margins 0.07, 0.98, 0.146, 0.817 spacing 0.05, 0.195
# Panel 1: qa: with the MLP
set title "qa: with the MLP"
set ylabel "loss on the answer tokens"
set xlabel "step"
unset key
plot "prefix-reparametrisation.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "seed 0", \
     "prefix-reparametrisation.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "seed 1", \
     "prefix-reparametrisation.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 3 title "seed 2", \
     "prefix-reparametrisation.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 3 title "seed 3", \
     "prefix-reparametrisation.tsv" index 4 using 1:2 with linespoints linestyle 5 pointinterval 3 title "seed 4"
# Panel 2: qa: direct
set title "qa: direct"
unset ylabel
set xlabel "step"
plot "prefix-reparametrisation.tsv" index 5 using 1:2 with linespoints linestyle 1 pointinterval 3 title "seed 0", \
     "prefix-reparametrisation.tsv" index 6 using 1:2 with linespoints linestyle 2 pointinterval 3 title "seed 1", \
     "prefix-reparametrisation.tsv" index 7 using 1:2 with linespoints linestyle 3 pointinterval 3 title "seed 2", \
     "prefix-reparametrisation.tsv" index 8 using 1:2 with linespoints linestyle 4 pointinterval 3 title "seed 3", \
     "prefix-reparametrisation.tsv" index 9 using 1:2 with linespoints linestyle 5 pointinterval 3 title "seed 4"
unset multiplot

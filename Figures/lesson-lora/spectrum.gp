# Singular values σᵢ/σ₁ of the full fine-tuning update, per matrix type
# Draws spectrum.png from the data in spectrum.tsv:   gnuplot spectrum.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 1200,690 font "DejaVu Sans,12"
set termoption noenhanced
set output "spectrum.png"
set grid
set xrange [1:32]  # shared by all panels, ending at the data
set yrange [0:1.04]  # shared by all panels
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
unset key
set multiplot layout 2,4 title "Singular values σᵢ/σ₁ of the full fine-tuning update, per matrix type" margins 0.07, 0.98, 0.138, 0.891 spacing 0.05, 0.116
# Panel 1: q_proj 128×128
set title "q_proj 128×128"
set ylabel "σᵢ / σ₁"
unset xlabel
plot "spectrum.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 2: k_proj 128×128
set title "k_proj 128×128"
unset ylabel
unset xlabel
plot "spectrum.tsv" index 2 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 3 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 3: v_proj 128×128
set title "v_proj 128×128"
unset ylabel
unset xlabel
plot "spectrum.tsv" index 4 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 5 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 4: o_proj 128×128
set title "o_proj 128×128"
unset ylabel
set xlabel "index i"
plot "spectrum.tsv" index 6 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 7 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 5: gate_proj 344×128
set title "gate_proj 344×128"
set ylabel "σᵢ / σ₁"
set xlabel "index i"
plot "spectrum.tsv" index 8 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 9 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 6: up_proj 344×128
set title "up_proj 344×128"
unset ylabel
set xlabel "index i"
plot "spectrum.tsv" index 10 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 11 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
# Panel 7: down_proj 128×344
set title "down_proj 128×344"
unset ylabel
set xlabel "index i"
plot "spectrum.tsv" index 12 using 1:2 with linespoints linestyle 1 pointinterval 3 notitle, \
     "spectrum.tsv" index 13 using 1:2 with linespoints linestyle 2 pointinterval 3 notitle
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
set bmargin at screen 0.138
set tmargin at screen 0.891
plot NaN with linespoints linestyle 1 title "ΔW (mean over layers)", \
     NaN with linespoints linestyle 2 title "random matrix"
unset multiplot

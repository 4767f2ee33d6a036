# Prompt tuning against the number of virtual tokens (qa)
# Draws length.png from the data in length.tsv:   gnuplot length.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "length.png"
set title "Prompt tuning against the number of virtual tokens (qa)"
set xlabel "virtual tokens n (log scale)"
set ylabel "test exact match (95% CI)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 10
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "length.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "prompt tuning", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

# Prompt tuning against full fine-tuning as the base grows (qa)
# Draws scale.png from the data in scale.tsv:   gnuplot scale.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "scale.png"
set title "Prompt tuning against full fine-tuning as the base grows (qa)"
set xlabel "base parameters (log scale)"
set ylabel "test exact match (95% CI)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 10
set format x "%.0s%c"  # 1k, 10k, 1M
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "scale.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "prompt tuning", \
     "scale.tsv" index 1 using 1:2:3:4 with yerrorlines linestyle 2 title "full fine-tuning", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

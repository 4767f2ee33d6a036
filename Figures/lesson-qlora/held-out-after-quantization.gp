# Held-out loss of the quantized base minus the float base's (95% CI over windows)
# Draws held-out-after-quantization.png from the data in held-out-after-quantization.tsv:   gnuplot held-out-after-quantization.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "held-out-after-quantization.png"
set title "Held-out loss of the quantized base minus the float base's (95% CI over windows)"
set xlabel "block size (log scale)"
set ylabel "Δ held-out loss"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 2
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
plot "held-out-after-quantization.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "NF4", \
     "held-out-after-quantization.tsv" index 1 using 1:2:3:4 with yerrorlines linestyle 2 title "FP4", \
     "held-out-after-quantization.tsv" index 2 using 1:2:3:4 with yerrorlines linestyle 3 title "INT4", \
     0 with lines linestyle 101 title "float base 0"

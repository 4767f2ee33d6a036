# Test exact match at equal final budgets (95% CI)
# Draws adalora-vs-lora.png from the data in adalora-vs-lora.tsv:   gnuplot adalora-vs-lora.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "adalora-vs-lora.png"
set title "Test exact match at equal final budgets (95% CI)"
set xlabel "final budget t (triplets or rank per matrix, log scale)"
set ylabel "test exact match"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 2
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "adalora-vs-lora.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "LoRA r = t", \
     "adalora-vs-lora.tsv" index 1 using 1:2:3:4 with yerrorlines linestyle 2 title "AdaLoRA init_r = 1.5·t → t", \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

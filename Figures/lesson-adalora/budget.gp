# AdaLoRA's budget, t = 8 on 28 matrices (seed 0)
# Draws budget.png from the data in budget.tsv:   gnuplot budget.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "budget.png"
set title "AdaLoRA's budget, t = 8 on 28 matrices (seed 0)"
set xlabel "step"
set ylabel "singular triplets"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "budget.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 15 title "scheduled budget b(t)", \
     "budget.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 15 title "triplets in use (λ ≠ 0)", \
     336 with lines linestyle 101 title "init_r·N 336", \
     224 with lines linestyle 102 title "target_r·N 224"

# Kept triplets per matrix while training, by matrix type (seed 0, t = 8)
# Draws ranks-by-type.png from the data in ranks-by-type.tsv:   gnuplot ranks-by-type.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "ranks-by-type.png"
set title "Kept triplets per matrix while training, by matrix type (seed 0, t = 8)"
set xlabel "step"
set ylabel "mean kept triplets per matrix"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set yrange [0:12.5]
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
set style line 6 linecolor rgb "#56B4E9" linewidth 2 pointtype 6 pointsize 1.2 dashtype 4
set style line 7 linecolor rgb "#000000" linewidth 2 pointtype 4 pointsize 1.2 dashtype 5
plot "ranks-by-type.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 15 title "q_proj", \
     "ranks-by-type.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 15 title "k_proj", \
     "ranks-by-type.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 15 title "v_proj", \
     "ranks-by-type.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 15 title "o_proj", \
     "ranks-by-type.tsv" index 4 using 1:2 with linespoints linestyle 5 pointinterval 15 title "gate_proj", \
     "ranks-by-type.tsv" index 5 using 1:2 with linespoints linestyle 6 pointinterval 15 title "up_proj", \
     "ranks-by-type.tsv" index 6 using 1:2 with linespoints linestyle 7 pointinterval 15 title "down_proj"

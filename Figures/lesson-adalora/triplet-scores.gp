# Importance S_i of the 12 triplets of model.layers.1.mlp.gate_proj
# Draws triplet-scores.png from the data in triplet-scores.tsv:   gnuplot triplet-scores.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "triplet-scores.png"
set title "Importance S_i of the 12 triplets of model.layers.1.mlp.gate_proj"
set xlabel "step"
set ylabel "S_i (log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
set style line 6 linecolor rgb "#56B4E9" linewidth 2 pointtype 6 pointsize 1.2 dashtype 4
set style line 7 linecolor rgb "#000000" linewidth 2 pointtype 4 pointsize 1.2 dashtype 5
set style line 8 linecolor rgb "#0072B2" linewidth 2 pointtype 8 pointsize 1.2 dashtype 3
set style line 9 linecolor rgb "#D55E00" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 10 linecolor rgb "#009E73" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 11 linecolor rgb "#CC79A7" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 12 linecolor rgb "#E69F00" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 13 linecolor rgb "#56B4E9" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
plot "triplet-scores.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 11 title "#1 kept", \
     "triplet-scores.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 11 title "#2 pruned", \
     "triplet-scores.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 11 title "#3 kept", \
     "triplet-scores.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 11 title "#4 kept", \
     "triplet-scores.tsv" index 4 using 1:2 with linespoints linestyle 5 pointinterval 11 title "#5 pruned", \
     "triplet-scores.tsv" index 5 using 1:2 with linespoints linestyle 6 pointinterval 11 title "#6 kept", \
     "triplet-scores.tsv" index 6 using 1:2 with linespoints linestyle 7 pointinterval 11 title "#7 pruned", \
     "triplet-scores.tsv" index 7 using 1:2 with linespoints linestyle 8 pointinterval 11 title "#8 pruned", \
     "triplet-scores.tsv" index 8 using 1:2 with linespoints linestyle 9 pointinterval 11 title "#9 pruned", \
     "triplet-scores.tsv" index 9 using 1:2 with linespoints linestyle 10 pointinterval 11 title "#10 kept", \
     "triplet-scores.tsv" index 10 using 1:2 with linespoints linestyle 11 pointinterval 11 title "#11 kept", \
     "triplet-scores.tsv" index 11 using 1:2 with linespoints linestyle 12 pointinterval 11 title "#12 pruned", \
     "triplet-scores.tsv" index 12 using 1:2 with linespoints linestyle 13 pointinterval 9 title "threshold τ"

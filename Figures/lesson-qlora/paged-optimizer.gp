# Optimizer state in RAM after each parameter's update, first 3 steps
# Draws paged-optimizer.png from the data in paged-optimizer.tsv:   gnuplot paged-optimizer.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "paged-optimizer.png"
set title "Optimizer state in RAM after each parameter's update, first 3 steps"
set xlabel "optimizer step"
set ylabel "resident optimizer state (MB)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
plot "paged-optimizer.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 16 title "AdamW on the heap (moments allocated at the first step)", \
     "paged-optimizer.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 16 title "paged AdamW (its bookkeeping)", \
     "paged-optimizer.tsv" index 2 using 1:2 with linespoints linestyle 3 title "paged AdamW after each step (/proc/self/smaps)", \
     "paged-optimizer.tsv" index 3 using 1:2 with linespoints linestyle 4 title "resident budget"

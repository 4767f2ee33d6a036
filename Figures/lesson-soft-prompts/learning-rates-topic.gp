# Validation accuracy against the learning rate (2 seeds each)
# Draws learning-rates-topic.png from the data in learning-rates-topic.tsv:   gnuplot learning-rates-topic.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "learning-rates-topic.png"
set title "Validation accuracy against the learning rate (2 seeds each)"
set xlabel "peak learning rate (log scale)"
set ylabel "validation accuracy"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 10
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
plot "learning-rates-topic.tsv" index 0 using 1:2 with linespoints linestyle 1 title "prompt tuning", \
     "learning-rates-topic.tsv" index 1 using 1:2 with linespoints linestyle 2 title "P-tuning v2", \
     "learning-rates-topic.tsv" index 2 using 1:2 with linespoints linestyle 3 title "LoRA r=8 (q,v)"

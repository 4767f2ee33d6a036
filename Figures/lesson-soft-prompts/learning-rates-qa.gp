# Validation exact match against the learning rate (2 seeds each)
# Draws learning-rates-qa.png from the data in learning-rates-qa.tsv:   gnuplot learning-rates-qa.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "learning-rates-qa.png"
set title "Validation exact match against the learning rate (2 seeds each)"
set xlabel "peak learning rate (log scale)"
set ylabel "validation exact match"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 10
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
set style line 6 linecolor rgb "#56B4E9" linewidth 2 pointtype 6 pointsize 1.2 dashtype 4
set style line 7 linecolor rgb "#000000" linewidth 2 pointtype 4 pointsize 1.2 dashtype 5
plot "learning-rates-qa.tsv" index 0 using 1:2 with linespoints linestyle 1 title "prompt tuning", \
     "learning-rates-qa.tsv" index 1 using 1:2 with linespoints linestyle 2 title "prefix tuning", \
     "learning-rates-qa.tsv" index 2 using 1:2 with linespoints linestyle 3 title "P-tuning (MLP)", \
     "learning-rates-qa.tsv" index 3 using 1:2 with linespoints linestyle 4 title "P-tuning (LSTM)", \
     "learning-rates-qa.tsv" index 4 using 1:2 with linespoints linestyle 5 title "P-tuning v2", \
     "learning-rates-qa.tsv" index 5 using 1:2 with linespoints linestyle 6 title "LoRA r=8 (q,v)", \
     "learning-rates-qa.tsv" index 6 using 1:2 with linespoints linestyle 7 title "full fine-tuning"

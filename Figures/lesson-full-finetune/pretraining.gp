# Pretraining loss of the base model
# Draw with: gnuplot pretraining.gp   (writes pretraining.png from pretraining.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "pretraining.png"
set title "Pretraining loss of the base model"
set xlabel "step"
set ylabel "loss (log scale)"
set grid
set key outside right top
set logscale y
plot "pretraining.tsv" index 0 using 1:2 with lines lw 2 title "pretraining loss"

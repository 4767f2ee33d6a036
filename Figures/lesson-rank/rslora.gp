# Final training loss against rank, alpha = 16
# Draw with: gnuplot rslora.gp   (writes rslora.png from rslora.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "rslora.png"
set title "Final training loss against rank, alpha = 16"
set xlabel "rank r (log scale)"
set ylabel "final training loss"
set grid
set key outside right top
set logscale x 2
plot "rslora.tsv" index 0 using 1:2 with linespoints lw 2 title "alpha/r (LoRA)", \
     "rslora.tsv" index 1 using 1:2 with linespoints lw 2 title "alpha/√r (rsLoRA)"

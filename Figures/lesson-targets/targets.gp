# LoRA targets at a fixed budget (qa, mean ± std over 3 seeds)
# Draw with: gnuplot targets.gp   (writes targets.png from targets.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "targets.png"
set title "LoRA targets at a fixed budget (qa, mean ± std over 3 seeds)"
set xlabel ""
set ylabel "exact match"
set grid
set key outside right top
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
plot "targets.tsv" using 2:3:xtic(1) title "exact match"

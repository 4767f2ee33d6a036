# Test score by method and task
# Draw with: gnuplot scores.gp   (writes scores.png from scores.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "scores.png"
set title "Test score by method and task"
set xlabel ""
set ylabel "score"
set grid
set key outside right top
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
plot "scores.tsv" using 2:3:xtic(1) title "qa", \
     "scores.tsv" using 4:5:xtic(1) title "sentiment"

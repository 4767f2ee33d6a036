# Training memory by kind (a batch of 16)
# Draw with: gnuplot memory.gp   (writes memory.png from memory.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "memory.png"
set title "Training memory by kind (a batch of 16)"
set xlabel ""
set ylabel "MB"
set grid
set key outside right top
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
plot "memory.tsv" using 2:xtic(1) title "weights", \
     "memory.tsv" using 4:xtic(1) title "gradients", \
     "memory.tsv" using 6:xtic(1) title "optimizer", \
     "memory.tsv" using 8:xtic(1) title "activations"

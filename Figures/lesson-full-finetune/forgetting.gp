# Held-out pretraining loss after fine-tuning (higher = more forgotten)
# Draw with: gnuplot forgetting.gp   (writes forgetting.png from forgetting.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "forgetting.png"
set title "Held-out pretraining loss after fine-tuning (higher = more forgotten)"
set xlabel ""
set ylabel "loss"
set grid
set key outside right top
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -30
set yrange [0:*]
plot "forgetting.tsv" using 2:xtic(1) title "qa", \
     "forgetting.tsv" using 4:xtic(1) title "sentiment"

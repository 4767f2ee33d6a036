# Fine-tuning loss on sentiment
# Draw with: gnuplot loss-sentiment.gp   (writes loss-sentiment.png from loss-sentiment.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-sentiment.png"
set title "Fine-tuning loss on sentiment"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key outside right top
set logscale y
plot "loss-sentiment.tsv" index 0 using 1:2 with linespoints lw 2 title "full fine-tuning", \
     "loss-sentiment.tsv" index 1 using 1:2 with linespoints lw 2 title "freeze-tuning (top 1)", \
     "loss-sentiment.tsv" index 2 using 1:2 with linespoints lw 2 title "head only", \
     "loss-sentiment.tsv" index 3 using 1:2 with linespoints lw 2 title "from scratch"

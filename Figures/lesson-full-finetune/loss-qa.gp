# Fine-tuning loss on qa
# Draw with: gnuplot loss-qa.gp   (writes loss-qa.png from loss-qa.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-qa.png"
set title "Fine-tuning loss on qa"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key outside right top
set logscale y
plot "loss-qa.tsv" index 0 using 1:2 with linespoints lw 2 title "full fine-tuning", \
     "loss-qa.tsv" index 1 using 1:2 with linespoints lw 2 title "freeze-tuning (top 1)", \
     "loss-qa.tsv" index 2 using 1:2 with linespoints lw 2 title "head only", \
     "loss-qa.tsv" index 3 using 1:2 with linespoints lw 2 title "from scratch"

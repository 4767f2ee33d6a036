# Training loss: LoRA against full fine-tuning (qa)
# Draw with: gnuplot loss-curves.gp   (writes loss-curves.png from loss-curves.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-curves.png"
set title "Training loss: LoRA against full fine-tuning (qa)"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key outside right top
set logscale y
plot "loss-curves.tsv" index 0 using 1:2 with linespoints lw 2 title "full fine-tuning", \
     "loss-curves.tsv" index 1 using 1:2 with linespoints lw 2 title "LoRA r=8"

# Test exact match against LoRA rank (q_proj, v_proj)
# Draw with: gnuplot score-vs-rank.gp   (writes score-vs-rank.png from score-vs-rank.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "score-vs-rank.png"
set title "Test exact match against LoRA rank (q_proj, v_proj)"
set xlabel "rank r (log scale)"
set ylabel "exact match"
set grid
set key outside right top
set logscale x 2
plot "score-vs-rank.tsv" index 0 using 1:2 with linespoints lw 2 title "LoRA"

# Test exact match and trainable parameters against LoRA rank (q_proj, v_proj)
# Draw with: gnuplot score-vs-rank.gp   (writes score-vs-rank.png from score-vs-rank.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "score-vs-rank.png"
set title "Test exact match and trainable parameters against LoRA rank (q_proj, v_proj)"
set xlabel "rank r (log scale)"
set ylabel "exact match (mean ± std over 3 seeds)"
set grid
set key outside right top
set logscale x 2
set y2label "trainable parameters (log scale)"
set y2tics
set ytics nomirror
set logscale y2
plot "score-vs-rank.tsv" index 0 using 1:2:3 with yerrorlines lw 2 title "test exact match", \
     "score-vs-rank.tsv" index 1 using 1:2 with linespoints lw 2 axes x1y2 title "trainable parameters"

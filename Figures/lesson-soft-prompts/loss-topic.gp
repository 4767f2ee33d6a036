# Training loss on topic, first seed
# Draws loss-topic.png from the data in loss-topic.tsv:   gnuplot loss-topic.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "loss-topic.png"
set title "Training loss on topic, first seed"
set xlabel "step"
set ylabel "loss on the answer tokens (log scale)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale y
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 4 linecolor rgb "#CC79A7" linewidth 2 pointtype 11 pointsize 1.2 dashtype 3
set style line 5 linecolor rgb "#E69F00" linewidth 2 pointtype 13 pointsize 1.2 dashtype 1
set style line 6 linecolor rgb "#56B4E9" linewidth 2 pointtype 6 pointsize 1.2 dashtype 4
set style line 7 linecolor rgb "#000000" linewidth 2 pointtype 4 pointsize 1.2 dashtype 5
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
plot "loss-topic.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "prompt tuning", \
     "loss-topic.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "prefix tuning", \
     "loss-topic.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 3 title "P-tuning (MLP)", \
     "loss-topic.tsv" index 3 using 1:2 with linespoints linestyle 4 pointinterval 3 title "P-tuning (LSTM)", \
     "loss-topic.tsv" index 4 using 1:2 with linespoints linestyle 5 pointinterval 3 title "P-tuning v2", \
     "loss-topic.tsv" index 5 using 1:2 with linespoints linestyle 6 pointinterval 3 title "LoRA r=8 (q,v)", \
     "loss-topic.tsv" index 6 using 1:2 with linespoints linestyle 7 pointinterval 3 title "full fine-tuning", \
     0.359839 with lines linestyle 101 title "a uniform guess among the labels 0.36"

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
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
plot "loss-topic.tsv" index 0 using 1:2 with linespoints linestyle 1 pointinterval 3 title "prompt tuning", \
     "loss-topic.tsv" index 1 using 1:2 with linespoints linestyle 2 pointinterval 3 title "P-tuning v2", \
     "loss-topic.tsv" index 2 using 1:2 with linespoints linestyle 3 pointinterval 3 title "LoRA r=8 (q,v)", \
     0.359839 with lines linestyle 101 title "a uniform guess among the labels 0.36"

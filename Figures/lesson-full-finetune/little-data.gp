# Test score against training-set size (sentiment, 95% CI)
# Draws little-data.png from the data in little-data.tsv:   gnuplot little-data.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "little-data.png"
set title "Test score against training-set size (sentiment, 95% CI)"
set xlabel "training examples (log scale)"
set ylabel "test score"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
set logscale x 2
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
set style line 103 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 8)
plot "little-data.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "pretrained base, full fine-tuning", \
     "little-data.tsv" index 1 using 1:2:3:4 with yerrorlines linestyle 2 title "from scratch", \
     0.5 with lines linestyle 101 title "chance 0.5", \
     0.445 with lines linestyle 102 title "majority 0.445", \
     0.555 with lines linestyle 103 title "most common test answer 0.555"

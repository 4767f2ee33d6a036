# Held-out target with 8 examples: accuracy against steps
# Draws target-vs-steps.png from the data in target-vs-steps.tsv:   gnuplot target-vs-steps.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "target-vs-steps.png"
set title "Held-out target with 8 examples: accuracy against steps"
set xlabel "training steps (each run its own schedule)"
set ylabel "test accuracy (95% CI)"
set grid
set key below
set autoscale xfix  # the x axis ends at the first and the last point
# Line styles: colour, point type and dash type per series; dashed grey for references
set style line 1 linecolor rgb "#0072B2" linewidth 2 pointtype 7 pointsize 1.2 dashtype 1
set style line 2 linecolor rgb "#D55E00" linewidth 2 pointtype 5 pointsize 1.2 dashtype 4
set style line 3 linecolor rgb "#009E73" linewidth 2 pointtype 9 pointsize 1.2 dashtype 5
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
plot "target-vs-steps.tsv" index 0 using 1:2:3:4 with yerrorlines linestyle 1 title "MPT from qa-job", \
     "target-vs-steps.tsv" index 1 using 1:2:3:4 with yerrorlines linestyle 2 title "prompt tuning, random start", \
     "target-vs-steps.tsv" index 2 using 1:2:3:4 with yerrorlines linestyle 3 title "prompt transfer from qa-job", \
     0.125 with lines linestyle 101 title "chance 0.125", \
     0.285714 with lines linestyle 102 title "majority 0.286"

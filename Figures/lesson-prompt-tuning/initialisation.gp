# Prompt tuning by initialisation (qa)
# Draws initialisation.png from the data in initialisation.tsv:   gnuplot initialisation.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "initialisation.png"
set title "Prompt tuning by initialisation (qa)"
set xlabel ""
set ylabel "test exact match (95% CI)"
set grid ytics
set key below
set style data histogram
set style histogram errorbars gap 1 linewidth 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror
set xrange [-0.5:2.5]
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0  # room above the bars for their value labels
# Bar colours, one per group; dashed grey for reference lines
set style line 1 linecolor rgb "#0072B2" linewidth 2
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
# Value labels: above the bar or its error bar; bar g (from 0) of a cluster sits at barx(g)
groups = 1
gap = 1
barx(g) = column(0) + (g - (groups - 1) / 2.0) / (groups + gap)
plot "initialisation.tsv" using 2:3:4:xtic(1) linestyle 1 title "exact match", \
     "" using (barx(0)):($4 > 0 ? $4 : 0):(sprintf("%.3f", $2)) with labels offset 0, 0.7 font ",10" notitle, \
     0.10119 with lines linestyle 101 title "chance 0.101", \
     0.0714286 with lines linestyle 102 title "majority 0.0714"

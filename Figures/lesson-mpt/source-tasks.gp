# Source tasks: test accuracy per task (95% CI)
# Draws source-tasks.png from the data in source-tasks.tsv:   gnuplot source-tasks.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "source-tasks.png"
set title "Source tasks: test accuracy per task (95% CI)"
set xlabel ""
set ylabel "test accuracy"
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
set style line 2 linecolor rgb "#D55E00" linewidth 2
set style line 3 linecolor rgb "#009E73" linewidth 2
# Value labels: above the bar or its error bar; bar g (from 0) of a cluster sits at barx(g)
groups = 3
gap = 1
barx(g) = column(0) + (g - (groups - 1) / 2.0) / (groups + gap)
plot "source-tasks.tsv" using 2:3:4:xtic(1) linestyle 1 title "MPT (P + rank-1 factors)", \
     "" using 5:6:7 linestyle 2 title "one prompt per task", \
     "" using 8:9:10 linestyle 3 title "frozen base", \
     "" using (barx(0)):($4 > 0 ? $4 : 0):(sprintf("%.3f", $2)) with labels offset 0, 0.7 font ",10" notitle, \
     "" using (barx(1)):($7 > 0 ? $7 : 0):(sprintf("%.3f", $5)) with labels offset 0, 0.7 font ",10" notitle, \
     "" using (barx(2)):($10 > 0 ? $10 : 0):(sprintf("%.3f", $8)) with labels offset 0, 0.7 font ",10" notitle

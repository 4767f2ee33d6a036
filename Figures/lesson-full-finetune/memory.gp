# Training memory by kind (one batch of 16)
# Draws memory.png from the data in memory.tsv:   gnuplot memory.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "memory.png"
set title "Training memory by kind (one batch of 16)"
set xlabel ""
set ylabel "MB"
set grid ytics
set key below
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror
set xrange [-0.5:3.5]
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0  # room above the bars for their value labels
# Bar colours, one per group; dashed grey for reference lines
set style line 1 linecolor rgb "#0072B2" linewidth 2
set style line 2 linecolor rgb "#D55E00" linewidth 2
set style line 3 linecolor rgb "#009E73" linewidth 2
set style line 4 linecolor rgb "#CC79A7" linewidth 2
# Value labels: above the bar or its error bar; bar g (from 0) of a cluster sits at barx(g)
groups = 4
gap = 1
barx(g) = column(0) + (g - (groups - 1) / 2.0) / (groups + gap)
plot "memory.tsv" using 2:xtic(1) linestyle 1 title "weights", \
     "" using 3 linestyle 2 title "gradients", \
     "" using 4 linestyle 3 title "optimizer", \
     "" using 5 linestyle 4 title "activations", \
     "" using (barx(0)):($2 > 0 ? $2 : 0):(sprintf("%.1f", $2)) with labels offset 0, 0.7 font ",10" notitle, \
     "" using (barx(1)):($3 > 0 ? $3 : 0):(sprintf("%.1f", $3)) with labels offset 0, 0.7 font ",10" notitle, \
     "" using (barx(2)):($4 > 0 ? $4 : 0):(sprintf("%.1f", $4)) with labels offset 0, 0.7 font ",10" notitle, \
     "" using (barx(3)):($5 > 0 ? $5 : 0):(sprintf("%.1f", $5)) with labels offset 0, 0.7 font ",10" notitle

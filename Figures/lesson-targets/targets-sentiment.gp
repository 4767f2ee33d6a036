# LoRA targets at one budget (sentiment, 95% CI over 5 seeds)
# Draws targets-sentiment.png from the data in targets-sentiment.tsv:   gnuplot targets-sentiment.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "targets-sentiment.png"
set title "LoRA targets at one budget (sentiment, 95% CI over 5 seeds)"
set xlabel ""
set ylabel "test accuracy (95% CI)"
set grid ytics
unset key
set style data histogram
set style histogram errorbars gap 1 linewidth 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror rotate by 30 right
set xrange [-0.5:8.5]
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0  # room above the bars for their value labels
# Bar colours, one per group; dashed grey for reference lines
set style line 1 linecolor rgb "#0072B2" linewidth 2
set style line 101 linecolor rgb "#555555" linewidth 1.5 dashtype 2
set style line 102 linecolor rgb "#555555" linewidth 1.5 dashtype (4, 6)
set style line 103 linecolor rgb "#555555" linewidth 1.5 dashtype (20, 8)
set style textbox opaque noborder  # reference labels on white, in front of the plot
set label "chance 0.5" at graph 1, first 0.5 right offset -0.5, 0.6 textcolor rgb "#555555" front boxed
set label "majority 0.445" at graph 1, first 0.445 right offset -0.5, 0.6 textcolor rgb "#555555" front boxed
set label "most common test answer 0.555" at graph 1, first 0.555 right offset -0.5, 0.6 textcolor rgb "#555555" front boxed
# Value labels: above the bar or its error bar; bar g (from 0) of a cluster sits at barx(g)
groups = 1
gap = 1
barx(g) = column(0) + (g - (groups - 1) / 2.0) / (groups + gap)
plot "targets-sentiment.tsv" using 2:3:4:xtic(1) linestyle 1 title "accuracy", \
     "" using (barx(0)):($4 > 0 ? $4 : 0):(sprintf("%.3f", $2)) with labels offset 0, 0.7 font ",10" notitle, \
     0.5 with lines linestyle 101 notitle, \
     0.445 with lines linestyle 102 notitle, \
     0.555 with lines linestyle 103 notitle

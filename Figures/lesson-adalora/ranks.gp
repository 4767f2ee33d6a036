# Final rank per matrix, AdaLoRA 12 → 8 (mean of 5 seed(s))
# Draws ranks.png from the data in ranks.tsv:   gnuplot ranks.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "ranks.png"
set title "Final rank per matrix, AdaLoRA 12 → 8 (mean of 5 seed(s))"
set xlabel "matrix type"
set ylabel "layer"
unset key
set xrange [0.5:7.5]  # column j is the cell from j - 0.5 to j + 0.5
set yrange [4.5:0.5]  # reversed: row 1 at the top, as a matrix is written
set xtics ("q" 1, "k" 2, "v" 3, "o" 4, "gate" 5, "up" 6, "down" 7) out nomirror
set ytics ("layer 0" 1, "layer 1" 2, "layer 2" 3, "layer 3" 4) out nomirror
# viridis, a perceptual colour map: lightness grows evenly from dark blue to yellow
set palette defined (0.0 "#440154", 0.125 "#472D7B", 0.25 "#3B528B", 0.375 "#2C728E", 0.5 "#21918C", 0.625 "#28AE80", 0.75 "#5EC962", 0.875 "#ADDC30", 1.0 "#FDE725")
set cbrange [4:11.8]
plot "ranks.tsv" matrix using ($1+1):($2+1):3 with image, \
     "" matrix using ($1+1):($2+1):(sprintf("%.1f", $3)):($3 > 7.9 ? 0 : 0xFFFFFF) with labels textcolor rgb variable

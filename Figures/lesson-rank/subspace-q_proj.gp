# φ(i, j), r=8 against r=64: model.layers.3.self_attn.q_proj
# Draws subspace-q_proj.png from the data in subspace-q_proj.tsv:   gnuplot subspace-q_proj.gp
# Colours: the Okabe–Ito palette (colour-blind safe); every setting is on its own line.
set terminal pngcairo size 960,600 font "DejaVu Sans,12"
set termoption noenhanced
set output "subspace-q_proj.png"
set title "φ(i, j), r=8 against r=64: model.layers.3.self_attn.q_proj"
set xlabel "j (r=64)"
set ylabel "i (r=8)"
unset key
set xrange [0.5:64.5]  # column j is the cell from j - 0.5 to j + 0.5
set yrange [8.5:0.5]  # reversed: row 1 at the top, as a matrix is written
set xtics out nomirror
set ytics 1 out nomirror
# viridis, a perceptual colour map: lightness grows evenly from dark blue to yellow
set palette defined (0.0 "#440154", 0.125 "#472D7B", 0.25 "#3B528B", 0.375 "#2C728E", 0.5 "#21918C", 0.625 "#28AE80", 0.75 "#5EC962", 0.875 "#ADDC30", 1.0 "#FDE725")
set cbrange [0.0625:0.783951]
set cbtics ("0.2" 0.2, "0.4" 0.4, "0.6" 0.6)
set cbtics add ("chance 0.0625" 0.0625)
set rmargin 20  # room for the chance label of the colour box
plot "subspace-q_proj.tsv" matrix using ($1+1):($2+1):3 with image

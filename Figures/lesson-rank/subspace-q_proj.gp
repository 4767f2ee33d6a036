# φ(i, j), r=8 against r=64: model.layers.3.self_attn.q_proj
# Draw with: gnuplot subspace-q_proj.gp   (writes subspace-q_proj.png from subspace-q_proj.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "subspace-q_proj.png"
set title "φ(i, j), r=8 against r=64: model.layers.3.self_attn.q_proj"
set xlabel "j (r=64)"
set ylabel "i (r=8)"
set grid
set key outside right top
set palette rgb 33,13,10
set view map
unset grid
set autoscale fix
plot "subspace-q_proj.tsv" matrix using ($1+1):($2+1):3 with image notitle

# Singular values of the full fine-tuning update ΔW (σᵢ/σ₁, mean over layers)
# Draw with: gnuplot spectrum.gp   (writes spectrum.png from spectrum.tsv)
set terminal pngcairo size 960,560 font "DejaVu Sans,12"
set termoption noenhanced
set output "spectrum.png"
set title "Singular values of the full fine-tuning update ΔW (σᵢ/σ₁, mean over layers)"
set xlabel "index i"
set ylabel "σᵢ / σ₁"
set grid
set key outside right top
plot "spectrum.tsv" index 0 using 1:2 with linespoints lw 2 title "ΔW q_proj", \
     "spectrum.tsv" index 1 using 1:2 with linespoints lw 2 title "random 128×128", \
     "spectrum.tsv" index 2 using 1:2 with linespoints lw 2 title "ΔW k_proj", \
     "spectrum.tsv" index 3 using 1:2 with linespoints lw 2 title "ΔW v_proj", \
     "spectrum.tsv" index 4 using 1:2 with linespoints lw 2 title "ΔW o_proj", \
     "spectrum.tsv" index 5 using 1:2 with linespoints lw 2 title "ΔW gate_proj", \
     "spectrum.tsv" index 6 using 1:2 with linespoints lw 2 title "ΔW up_proj", \
     "spectrum.tsv" index 7 using 1:2 with linespoints lw 2 title "ΔW down_proj"

# heatmap.gp - a matrix (rows of numbers, row 0 first) as an image: x = column,
# y = row, colour = value.
#   gnuplot -e "data='m.dat'; out='plots/x/heatmap-pos'; title='...'" heatmap.gp
size = "760,640"
load lib."/common.gp"
set view map
set size ratio -1
set palette defined (0 "#ffffff", 1 "#fee391", 2 "#fe9929", 3 "#cc4c02", 4 "#662506")
set xtics 1 out
set ytics 1 out
set yrange [] reverse
set autoscale xfix
set autoscale yfix
set grid noytics
set border 15
set cblabel zlabel noenhanced
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set cbrange [rlo:rhi]
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    plot data matrix with image notitle
    unset output
}

# cdf.gp - cumulative distributions, one line per run (a data block each: x, fraction),
# log x when logx=1. A margin on both sides keeps a step at the smallest or largest value
# (a distribution that is one value) off the plot's border.
#   gnuplot -e "data='d.dat'; out='plots/x/cdf-latency'; n=2; logx=1; ..." cdf.gp
load lib."/common.gp"
set yrange [0:1.02]
set key right bottom
set autoscale xfix
set offsets graph 0.04, graph 0.04, 0, 0
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set xrange [rlo:rhi]
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    plot for [i=0:n-1] data index i using 1:2 with steps lt (i+1) title columnheader(2)
    unset output
}

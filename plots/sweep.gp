# sweep.gp - a scalar metric against a sweep parameter: one line per `by` value (a data
# block each: x, mean, sd, theory, label), error bars across repeats, the theory as a
# wide pale band of the same colour. With xticlabels=1 the x values are categories
# at positions 0, 1, ... (their labels set by the extra file; column 5 names them too):
# points only, no lines joining them, the theory as open circles.
#   gnuplot -e "data='d.dat'; out='plots/x/sweep-ratio'; n=2; ..." sweep.gp
load lib."/common.gp"
if (!exists("theory")) theory = 1
set key outside right top
set autoscale xfix
if (xticlabels) set offsets 0.5, 0.5, graph 0.05, 0
if (!xticlabels) set offsets graph 0.03, graph 0.03, graph 0.05, graph 0.02
if (ymin0 && !logy) set offsets graph 0.03, graph 0.03, graph 0.05, 0
if (xticlabels && ymin0 && !logy) set offsets 0.5, 0.5, graph 0.05, 0
# No x below 0 (holds, clients, rates): the axis starts at 0 at the lowest, rather than
# at the negative tic that the offsets reach (-0.002 for holds of 0 to 10 ms).
if (!logx && !xticlabels) {
    stats data using 1 nooutput
    if (STATS_min >= 0) { set xrange [0<*:*] }
}
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set yrange [rlo:rhi]
# (Built as a string: a plot command cannot hold an if.)
th_cat = theory ? ", for [i=0:n-1] data index i using 1:4 with points lt (i+1) pt 6 " \
                  . "ps 2.4 lw 1.5 title (i == 0 ? 'theory (open circles)' : '')" : ""
th_num = theory ? "for [i=0:n-1] data index i using 1:4 with lines lw 7 lc rgb tc(i) " \
                  . "title (i == 0 ? 'theory (pale band)' : ''), " : ""
cmd = xticlabels \
    ? "plot for [i=0:n-1] data index i using 1:2:3 with yerrorbars lt (i+1) pt 7 " \
      . "ps 1.2 title columnheader(2)" . th_cat \
    : "plot " . th_num . "for [i=0:n-1] data index i using 1:2:3 with yerrorlines lt (i+1) " \
      . "lw 1.5 pt 7 title columnheader(2)"
cmd = cmd . hline_cmd
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    eval cmd
    unset output
}

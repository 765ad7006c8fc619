# sweep.gp - a scalar metric against a sweep parameter: one line per `by` value (a data
# block each: x, mean, sd, theory, label), error bars across repeats, theory dashed in
# black over the data (in the line's colour it would vanish where the data meets it).
# With xticlabels=1 the x values are labels (column 5) at positions 0, 1, ...
#   gnuplot -e "data='d.dat'; out='plots/x/sweep-ratio'; n=2; ..." sweep.gp
load lib."/common.gp"
if (!exists("theory")) theory = 1
set key outside right top
set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.02
# No x below 0 (holds, clients, rates): the axis starts at 0 at the lowest, rather than
# at the negative tic that the offsets reach (-0.002 for holds of 0 to 10 ms).
if (!logx) {
    stats data using 1 nooutput
    if (STATS_min >= 0) { set xrange [0<*:*] }
}
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set yrange [rlo:rhi]
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    # theory=1 when some run recorded the `theory` metric: then the dashed lines, drawn
    # last so that they show on top of data that matches them.
    if (xticlabels && theory) {
        plot for [i=0:n-1] data index i using 1:2:3:xtic(5) with yerrorlines lt (i+1) pt 7 \
                 title columnheader(2), \
             for [i=0:n-1] data index i using 1:4 with lines lc rgb "black" dt 2 lw 1.5 \
                 title (i == 0 ? "theory (black, dashed)" : "")
    }
    if (xticlabels && !theory) {
        plot for [i=0:n-1] data index i using 1:2:3:xtic(5) with yerrorlines lt (i+1) pt 7 \
                 title columnheader(2)
    }
    if (!xticlabels && theory) {
        plot for [i=0:n-1] data index i using 1:2:3 with yerrorlines lt (i+1) pt 7 \
                 title columnheader(2), \
             for [i=0:n-1] data index i using 1:4 with lines lc rgb "black" dt 2 lw 1.5 \
                 title (i == 0 ? "theory (black, dashed)" : "")
    }
    if (!xticlabels && !theory) {
        plot for [i=0:n-1] data index i using 1:2:3 with yerrorlines lt (i+1) pt 7 \
                 title columnheader(2)
    }
    unset output
}

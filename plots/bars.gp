# bars.gp - one bar group per run (a data block each: x, mean, sd, theory, index), error
# bars across repeats, the theory drawn as black marks over each bar.
#   gnuplot -e "data='d.dat'; out='plots/x/bars-load'; n=3; bw=0.24; ..." bars.gp
# writes out.svg and out.png. Variables: see common.gp.
load lib."/common.gp"
if (!exists("theory")) theory = 1
set style fill solid 0.75 border -1
set boxwidth bw absolute
set xtics 1
set autoscale xfix
set offsets 0.5, 0.5, 0, 0
set key outside right top
set yrange [0:*]
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set yrange [rlo:rhi]
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    # theory=1 when some run recorded the plot's `theory` metric: then its marks (a
    # column of NaN alone would make gnuplot warn that it has no valid points).
    th = theory ? ", for [i=0:n-1] data index i using 1:4 with points pt 7 ps 0.7 " \
                  . "lc rgb 'black' title (i == 0 ? 'theory' : '')" : ""
    eval "plot for [i=0:n-1] data index i using 1:2:3 with boxerrorbars lt (i+1) " \
         . "title columnheader(2)" . th . hline_cmd
    unset output
}

# timeseries.gp - one line per run (a data block each: bin centre in s, value), fault
# intervals shaded by the commands in 'extra' (written by distlab beside the data, loaded
# by common.gp).
#   gnuplot -e "data='d.dat'; out='plots/x/timeseries-rps'; n=1; extra='f.gp'" timeseries.gp
load lib."/common.gp"
set key outside right top
set autoscale xfix
set offsets 0, 0, graph 0.05, 0
# `range: [lo, hi]` in the scenario fixes the value axis.
if (exists("rlo")) set yrange [rlo:rhi]
do for [fmt in "svg png"] {
    eval term(fmt)
    set output out.".".fmt
    eval "plot for [i=0:n-1] data index i using 1:2 with lines lt (i+1) title columnheader(2)" \
         . hline_cmd
    unset output
}

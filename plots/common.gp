# common.gp - shared by the plot templates: defaults for the variables set before a
# template is loaded (distlab sets them after `reset session` on its gnuplot's input; by
# hand, with -e; lib is the directory of the templates), the line colours. Not run on
# its own.
if (!exists("title")) title = ""
if (!exists("xlabel")) xlabel = ""
if (!exists("ylabel")) ylabel = ""
if (!exists("extra")) extra = ""
if (!exists("logx")) logx = 0
if (!exists("logy")) logy = 0
if (!exists("n")) n = 1
if (!exists("bw")) bw = 0.8
if (!exists("xticlabels")) xticlabels = 0
if (!exists("size")) size = "960,540"
if (!exists("zlabel")) zlabel = ""
if (!exists("ymin0")) ymin0 = 0
# The highest horizontal line the extra file draws (a ceiling): the axis must reach it.
hline_max = -1e308
# `eval term(fmt)` sets the terminal for "svg" or "png" output.
svg_opts = 'dynamic noenhanced font "sans,12" background rgb "white"'
term(fmt) = fmt eq "svg" ? sprintf('set terminal svg size %s %s', size, svg_opts) \
                         : sprintf('set terminal pngcairo size %s noenhanced font "sans,10"', size)
set encoding utf8
set title title noenhanced
set xlabel xlabel noenhanced
set ylabel ylabel noenhanced
set key noenhanced
set grid ytics lc rgb "#dddddd"
set border 3
set tics nomirror
set format x "%g"
set format y "%g"
# Empty bins are written as NaN: missing, so they neither plot nor stretch the axes.
set datafile missing "NaN"
if (logx) set logscale x
if (logy) set logscale y
set linetype 1 lc rgb "#1f77b4" lw 2
set linetype 2 lc rgb "#ff7f0e" lw 2
set linetype 3 lc rgb "#2ca02c" lw 2
set linetype 4 lc rgb "#d62728" lw 2
set linetype 5 lc rgb "#9467bd" lw 2
set linetype 6 lc rgb "#8c564b" lw 2
set linetype 7 lc rgb "#e377c2" lw 2
set linetype 8 lc rgb "#7f7f7f" lw 2
set linetype 9 lc rgb "#bcbd22" lw 2
set linetype 10 lc rgb "#17becf" lw 2
set linetype cycle 10
# The same colours, translucent: theory curves drawn as wide pale bands behind the
# measured points, visible even where the two coincide.
array tcol[10] = ["#A01f77b4", "#A0ff7f0e", "#A02ca02c", "#A0d62728", "#A09467bd", \
                  "#A08c564b", "#A0e377c2", "#A07f7f7f", "#A0bcbd22", "#A017becf"]
tc(i) = tcol[(i % 10) + 1]
# A value axis that starts at 0 when nothing is below it (counts, shares, times).
if (ymin0 && !logy) set yrange [0:*]
# What distlab writes beside the data: fault shading, horizontal lines (ceilings).
if (strlen(extra) > 0) load extra
# An invisible line at the highest ceiling, so autoscale reaches it.
hline_cmd = hline_max > -1e307 ? sprintf(", %.10g with lines lc rgb '#FF000000' notitle", \
                                        hline_max) : ""

/* plot_impl.h - the plots' internals, shared by lab/plot*.c (prefix lab__):
 *   plot.c        the data files, gnuplot (one per scenario, loading plots/<kind>.gp),
 *                 what every kind shares, and lab_draw_plots
 *   plot_kinds.c  bars, cdf, timeseries (with the faults shaded) and heatmap
 *   plot_sweep.c  sweep: a scalar against a sweep key, a line per `by` value */
#ifndef DISTLAB_LAB_PLOT_IMPL_H
#define DISTLAB_LAB_PLOT_IMPL_H

#include <stdbool.h>
#include <stdio.h>

#include "lab/output.h"

/* A file's contents, written to memory first. */
struct buf {
    char *s;
    size_t len;
    FILE *f;
};


/* What a template (plots/<kind>.gp) is given. */
struct gp {
    const char *kind, *data, *out, *title, *xlabel, *ylabel, *zlabel, *extra;
    bool logx, logy, xticlabels, theory;
    bool ymin0;                    /* every value is >= 0 on a linear axis: start it at 0 */
    bool keep_xlabel, keep_ylabel; /* the kind made the label (with a unit): keep it */
    int n;
    double bw;
    bool has_range;
    double lo, hi;
    double yscale;                   /* hlines' y and the range are multiplied by this */
    const struct lab_config *faults; /* timeseries: shade these faults */
    const char *xtics;               /* categories: "set xtics (...)" for the extra file */
};


struct plotter; /* a scenario's gnuplot (plot.c) */

/* One plot being drawn. */
struct ctx {
    const struct lab_scenario *sc;
    const struct lab_run *runs;
    size_t nruns;
    const struct lab_plot *p;
    const char *dir;
    struct plotter *plotter; /* the scenario's gnuplot; NULL: none in PATH, data only */
    struct lab_err *err;
    struct lab_arena *a;
    size_t *match; /* indices of the runs that match where: */
    size_t nmatch;
};


FILE *lab__buf_open(struct buf *b);
/* Close b and write it to path (atomically). Returns 0 or -errno with err set. */
int lab__buf_write(struct buf *b, const char *path, struct lab_err *err);
/* A gnuplot string literal in single quotes; a data-file header field in double quotes; a
 * number (NaN when not finite). */
void lab__gp_string(FILE *f, const char *s);
void lab__dat_string(FILE *f, const char *s);
void lab__dat_number(FILE *f, double v);
/* The label of a run's group: the `by` value, else its sweep values, else the name. */
const char *lab__group_label(const struct lab_scenario *sc, const struct lab_plot *p,
                             const struct lab_runspec *r);
/* A file-name-safe form of s. */
char *lab__stem_part(struct lab_arena *a, const char *s);
double lab__mean_of(const double *v, size_t n); /* NaN when n == 0 */
double lab__sd_of(const double *v, size_t n);   /* sample sd; 0 when n < 2 */
/* Scale a unit of time for axes: values in ns shown in the unit that fits 'max'. */
double lab__time_scale(const char *unit, double max, const char **label);
/* A metric's name as words for an axis: "wasted_cpu_share" -> "wasted cpu share". */
const char *lab__words(struct lab_arena *a, const char *metric);
/* gnuplot commands that shade cfg's faults over a timeseries. */
void lab__fault_shading(struct ctx *c, FILE *f, const struct lab_config *cfg);
/* A plot drawn from nothing: say why on stderr. */
void lab__plot_warn(const struct ctx *c, const char *what);
/* Write b as <stem>.dat, and <stem>.extra.gp when the plot has fault shading, horizontal
 * lines or category labels (common.gp loads it), and draw it with g. Returns 0 or -errno
 * with c->err set. */
int lab__plot_finish(struct ctx *c, struct gp *g, struct buf *b, const char *stem);
/* The sweep points of the matching runs, in order (repeats merged): *first[g] is the
 * first run of group g. Returns the number of groups. */
size_t lab__plot_groups(struct ctx *c, size_t **first);

/* The kinds. Each returns 0 or -errno with c->err set. */
int lab__plot_bars(struct ctx *c);
int lab__plot_cdf(struct ctx *c);
int lab__plot_timeseries(struct ctx *c);
int lab__plot_heatmap(struct ctx *c);
int lab__plot_sweep(struct ctx *c);

#endif

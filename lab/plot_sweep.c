/* plot_sweep.c - the sweep plot (plot_impl.h): a scalar metric against a sweep key x, a
 * line per `by` value, mean +- sd across repeats, the theory as a pale band (or open
 * circles over categories). */
#include "lab/plot_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The axes of a sweep plot: its lines (distinct `by` labels) and its x values, sorted
 * when they are numbers (durations in seconds), else (or with xcategories) categories
 * placed 0, 1, 2, ..., each line a little apart (dodge) so equal values stay visible.
 * A time metric (unit: ns) is drawn times 'scale' in 'ulabel'. */
struct axes {
    const char **lines, **xs;
    double *xnum;
    size_t nl, nx;
    bool numeric, duration;
    double dodge, scale, ymin;
    const char *ulabel;
};

/* The label of run k's line (its `by` value, or the metric) and its x value as text. */
static const char *line_of(const struct ctx *c, const struct lab_run *run)
{
    const char *l = c->p->by ? lab_run_key_text(c->sc, run->spec, c->p->by) : c->p->metric;
    return l ? l : "-";
}

static const char *x_of(const struct ctx *c, const struct lab_run *run)
{
    const char *x = lab_run_key_text(c->sc, run->spec, c->p->x);
    return x ? x : "-";
}

static void find_axes(struct ctx *c, struct axes *ax)
{
    size_t n = c->nmatch;
    ax->lines = lab_arena_alloc(c->a, (n + 1) * sizeof(*ax->lines));
    ax->xs = lab_arena_alloc(c->a, (n + 1) * sizeof(*ax->xs));
    ax->xnum = lab_arena_alloc(c->a, (n + 1) * sizeof(double));
    ax->numeric = true;
    for (size_t k = 0; k < n; k++) {
        const struct lab_run *run = &c->runs[c->match[k]];
        const char *l = line_of(c, run), *x = x_of(c, run);
        size_t i;
        for (i = 0; i < ax->nl && strcmp(ax->lines[i], l); i++)
            ;
        if (i == ax->nl)
            ax->lines[ax->nl++] = l;
        for (i = 0; i < ax->nx && strcmp(ax->xs[i], x); i++)
            ;
        if (i < ax->nx)
            continue;
        double d;
        char *end;
        d = strtod(x, &end);
        if (*x && !*end) {
            ax->xnum[ax->nx] = d;
        } else if (lab_key_number(c->sc, run->spec, c->p->x, &d)) {
            ax->xnum[ax->nx] = d / 1e9; /* a duration, in seconds */
            ax->duration = true;
        } else {
            ax->numeric = false;
        }
        ax->xs[ax->nx++] = x;
    }
    /* Sort the x values (insertion sort: sweeps are short). */
    for (size_t i = 1; ax->numeric && i < ax->nx; i++)
        for (size_t j = i; j > 0 && ax->xnum[j - 1] > ax->xnum[j]; j--) {
            double t = ax->xnum[j];
            ax->xnum[j] = ax->xnum[j - 1];
            ax->xnum[j - 1] = t;
            const char *s = ax->xs[j];
            ax->xs[j] = ax->xs[j - 1];
            ax->xs[j - 1] = s;
        }
    if (!ax->numeric || c->p->xcategories) {
        ax->numeric = ax->duration = false;
        for (size_t i = 0; i < ax->nx; i++)
            ax->xnum[i] = (double)i;
        ax->dodge = ax->nl > 1 ? 0.3 / (double)(ax->nl - 1) : 0;
    }
    ax->scale = 1;
    ax->ulabel = "";
    if (c->p->unit_ns) {
        double max = 0;
        for (size_t k = 0; k < n; k++) {
            const struct lab_metric *m = lab_run_metric(&c->runs[c->match[k]], c->p->metric);
            if (m && m->kind == LAB_M_SCALAR && fabs(m->scalar) > max)
                max = fabs(m->scalar);
        }
        ax->scale = lab__time_scale("ns", max, &ax->ulabel);
    }
}

/* "set xtics (...)": the categories' labels, once each, at the category's centre. */
static const char *category_tics(struct ctx *c, const struct axes *ax)
{
    char *xtics = "set xtics (";
    for (size_t i = 0; i < ax->nx; i++) {
        char *q = lab_arena_strdup(c->a, ax->xs[i]);
        for (char *p = q; *p; p++)
            if (*p == '"' || *p == '\\')
                *p = '\'';
        xtics = lab_arena_printf(c->a, "%s%s\"%s\" %zu", xtics, i ? ", " : "", q, i);
    }
    return lab_arena_printf(c->a, "%s)", xtics);
}

/* Line l of the plot into f: a point per x value that has runs (mean +- sd of the metric,
 * mean of the theory). Returns the metric values it drew; adds the theory's to *nth. */
static size_t write_line(struct ctx *c, struct axes *ax, size_t l, FILE *f, size_t *nth)
{
    double *vals = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    double *th = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    size_t points = 0;
    fputs("\"x\" ", f);
    lab__dat_string(f, c->p->by ? lab_arena_printf(c->a, "%s=%s", c->p->by, ax->lines[l])
                                : lab__words(c->a, ax->lines[l]));
    fputs(" \"sd\" \"theory\" \"label\"\n", f);
    for (size_t xi = 0; xi < ax->nx; xi++) {
        size_t nv = 0, nt = 0;
        for (size_t k = 0; k < c->nmatch; k++) {
            const struct lab_run *run = &c->runs[c->match[k]];
            if (strcmp(line_of(c, run), ax->lines[l]) || strcmp(x_of(c, run), ax->xs[xi]))
                continue;
            const struct lab_metric *m = lab_run_metric(run, c->p->metric);
            if (m && m->kind == LAB_M_SCALAR)
                vals[nv++] = m->scalar * ax->scale;
            const struct lab_metric *t = c->p->theory ? lab_run_metric(run, c->p->theory)
                                                      : NULL;
            if (t && t->kind == LAB_M_SCALAR)
                th[nt++] = t->scalar * ax->scale;
        }
        /* A log axis has no room for x <= 0 (the title should say what is left out). */
        if ((!nv && !nt) || (c->p->logx && ax->numeric && ax->xnum[xi] <= 0))
            continue;
        for (size_t i = 0; i < nv; i++)
            ax->ymin = vals[i] < ax->ymin ? vals[i] : ax->ymin;
        for (size_t i = 0; i < nt; i++)
            ax->ymin = th[i] < ax->ymin ? th[i] : ax->ymin;
        points += nv;
        *nth += nt;
        fprintf(f, "%.10g", ax->xnum[xi] + ax->dodge * ((double)l - (double)(ax->nl - 1) / 2));
        lab__dat_number(f, lab__mean_of(vals, nv));
        lab__dat_number(f, lab__sd_of(vals, nv));
        lab__dat_number(f, lab__mean_of(th, nt));
        fputc(' ', f);
        lab__dat_string(f, ax->xs[xi]);
        fputc('\n', f);
    }
    fputs("\n\n", f);
    return points;
}

int lab__plot_sweep(struct ctx *c)
{
    struct axes ax = {0};
    find_axes(c, &ax);
    struct buf b;
    FILE *f = lab__buf_open(&b);
    size_t points = 0, theory_points = 0, drawn = 0;
    for (size_t l = 0; l < ax.nl; l++) {
        /* A line whose runs lack the metric (it belongs to other sweep values) is left
         * out, rather than handed to gnuplot as a block with no valid point. */
        struct buf lb;
        FILE *lf = lab__buf_open(&lb);
        size_t line_points = write_line(c, &ax, l, lf, &theory_points);
        fclose(lf);
        if (line_points) {
            fwrite(lb.s, 1, lb.len, f);
            points += line_points;
            drawn++;
        }
        free(lb.s);
    }
    if (!points) {
        fclose(b.f);
        free(b.s);
        lab__plot_warn(c, "no run recorded it as a scalar");
        return 0;
    }
    const char *ylabel = c->p->ylabel ? c->p->ylabel : lab__words(c->a, c->p->metric);
    const char *xlabel = c->p->xlabel ? c->p->xlabel : c->p->x;
    struct gp g = {.n = (int)drawn, .xticlabels = !ax.numeric, .theory = theory_points > 0,
                   .xlabel = ax.duration ? lab_arena_printf(c->a, "%s (s)", xlabel) : xlabel,
                   .ylabel = *ax.ulabel ? lab_arena_printf(c->a, "%s (%s)", ylabel, ax.ulabel)
                                        : ylabel,
                   .keep_xlabel = true, .keep_ylabel = true, .ymin0 = ax.ymin >= 0,
                   .yscale = ax.scale, .xtics = ax.numeric ? NULL : category_tics(c, &ax)};
    return lab__plot_finish(c, &g, &b, c->p->name);
}

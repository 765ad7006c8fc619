/* plot.c - a scenario's plots: the data each plot needs, written beside the images,
 * then gnuplot run on plots/<kind>.gp through fork/exec with an argument vector (never
 * a shell). Values reach gnuplot as -e assignments of quoted strings and numbers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/hist.h"
#include "lab/output.h"
#include "lab/series.h"

struct buf {
    char *s;
    size_t len;
    FILE *f;
};

static FILE *buf_open(struct buf *b)
{
    memset(b, 0, sizeof(*b));
    b->f = open_memstream(&b->s, &b->len);
    if (!b->f)
        abort();
    return b->f;
}

static int buf_write(struct buf *b, const char *path, struct lab_err *err)
{
    fclose(b->f);
    int rc = lab_write_file(path, b->s, b->len, err);
    free(b->s);
    return rc;
}

/* A gnuplot string literal in single quotes: ' doubles, newlines become spaces. */
static void gp_string(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

/* A gnuplot data-file header field in double quotes. */
static void dat_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputc(*s == '"' ? '\'' : *s == '\n' ? ' ' : *s, f);
    fputc('"', f);
}

static void dat_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.10g", v);
    else
        fputs(" NaN", f);
}

static bool find_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *dup = lab_xstrdup(path), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(dup, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/gnuplot", *d ? d : ".");
        found = access(full, X_OK) == 0;
    }
    free(dup);
    return found;
}

/* The label of a run's group: the `by` value, else its sweep values, else the name. */
static const char *group_label(const struct lab_scenario *sc, const struct lab_plot *p,
                               const struct lab_runspec *r)
{
    struct lab_arena *a = (struct lab_arena *)&sc->arena;
    if (p->by) {
        const char *t = lab_run_key_text(sc, r, p->by);
        return lab_arena_printf(a, "%s=%s", p->by, t ? t : "-");
    }
    if (sc->nsweep == 0)
        return p->metric;
    char *s = "";
    for (size_t k = 0; k < sc->nsweep; k++) {
        const char *t = lab_run_key_text(sc, r, sc->sweep[k].name);
        s = lab_arena_printf(a, "%s%s%s=%s", s, k ? " " : "", sc->sweep[k].name, t ? t : "");
    }
    return s;
}

/* A file-name-safe form of s. */
static char *stem_part(struct lab_arena *a, const char *s)
{
    char *d = lab_arena_strdup(a, s);
    for (char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    return d;
}

struct gp {
    const char *kind, *data, *out, *title, *xlabel, *ylabel, *zlabel, *extra;
    bool logx, logy, xticlabels, theory;
    bool ymin0;   /* every value is >= 0 on a linear axis: start it at 0 */
    bool keep_xlabel, keep_ylabel; /* the kind made the label (with a unit): keep it */
    int n;
    double bw;
    bool has_range;
    double lo, hi;
    double yscale;                  /* hlines' y are multiplied by this (ns -> s...) */
    const struct lab_config *faults; /* timeseries: shade these faults */
    const char *xtics;               /* categories: "set xtics (...)" for the extra file */
};

static int run_gnuplot(const struct gp *g, const char *templates, int *failed)
{
    struct buf b;
    FILE *f = buf_open(&b);
    fputs("data=", f);
    gp_string(f, g->data);
    fputs("; out=", f);
    gp_string(f, g->out);
    fputs("; title=", f);
    gp_string(f, g->title ? g->title : "");
    fputs("; xlabel=", f);
    gp_string(f, g->xlabel ? g->xlabel : "");
    fputs("; ylabel=", f);
    gp_string(f, g->ylabel ? g->ylabel : "");
    fputs("; zlabel=", f);
    gp_string(f, g->zlabel ? g->zlabel : "");
    fputs("; extra=", f);
    gp_string(f, g->extra ? g->extra : "");
    fputs("; lib=", f);
    gp_string(f, templates);
    fprintf(f, "; logx=%d; logy=%d; n=%d; bw=%.6g; xticlabels=%d; theory=%d; ymin0=%d",
            g->logx, g->logy, g->n, g->bw, g->xticlabels, g->theory, g->ymin0 && !g->logy);
    if (g->has_range)
        fprintf(f, "; rlo=%.17g; rhi=%.17g", g->lo, g->hi);
    fclose(f);
    char *tpl = lab_xmalloc(strlen(templates) + 32);
    sprintf(tpl, "%s/%s.gp", templates, g->kind);
    char *argv[] = {"gnuplot", "-e", b.s, tpl, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        execvp("gnuplot", argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "distlab: gnuplot failed on %s for %s\n", tpl, g->out);
        (*failed)++;
    }
    free(tpl);
    free(b.s);
    return 0;
}

static double mean_of(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

static double sd_of(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    double m = mean_of(v, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (double)(n - 1));
}

/* Scale a unit of time for axes: values in ns shown in the unit that fits 'max'. */
static double time_scale(const char *unit, double max, const char **label)
{
    if (strcmp(unit, "ns")) {
        *label = unit;
        return 1;
    }
    if (max >= 1e9) {
        *label = "s";
        return 1e-9;
    }
    if (max >= 1e6) {
        *label = "ms";
        return 1e-6;
    }
    if (max >= 1e3) {
        *label = "us";
        return 1e-3;
    }
    *label = "ns";
    return 1;
}

/* A metric's name as words for an axis: "wasted_cpu_share" -> "wasted cpu share". */
static const char *words(struct lab_arena *a, const char *metric)
{
    char *w = lab_arena_strdup(a, metric);
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = ' ';
    return w;
}

struct ctx {
    const struct lab_scenario *sc;
    const struct lab_run *runs;
    size_t nruns;
    const struct lab_plot *p;
    const char *dir, *templates;
    bool draw;
    int *failed;
    struct lab_err *err;
    struct lab_arena *a;
    size_t *match; /* indices of the runs that match where: */
    size_t nmatch;
};

static void warn_empty(const struct ctx *c, const char *what)
{
    fprintf(stderr, "distlab: %s: plot '%s': %s\n", c->sc->file, c->p->name, what);
}

static void fault_shading(struct ctx *c, FILE *f, const struct lab_config *cfg);

/* <stem>.extra.gp beside the data: the timeseries' fault shading and the plot's
 * horizontal lines, loaded by common.gp. Returns 0 (none needed, or written) or -errno. */
static int write_extra(struct ctx *c, struct gp *g, const char *stem)
{
    if (!c->p->nhlines && !g->faults && !g->xtics)
        return 0;
    struct buf b;
    FILE *f = buf_open(&b);
    if (g->faults)
        fault_shading(c, f, g->faults);
    if (g->xtics)
        fprintf(f, "%s\n", g->xtics);
    double scale = g->yscale > 0 ? g->yscale : 1;
    for (size_t i = 0; i < c->p->nhlines; i++) {
        const struct lab_hline *h = &c->p->hlines[i];
        fprintf(f, "set arrow from graph 0, first %.10g to graph 1, first %.10g nohead "
                   "dt 3 lw 1.5 lc rgb '#444444' front\n", h->y * scale, h->y * scale);
        fputs("set label ", f);
        gp_string(f, h->label);
        fprintf(f, " at graph 0.01, first %.10g left offset 0,0.6 font ',9' "
                   "tc rgb '#444444' front\n", h->y * scale);
        fprintf(f, "hline_max = %.10g > hline_max ? %.10g : hline_max\n", h->y * scale,
                h->y * scale);
    }
    g->extra = lab_arena_printf(c->a, "%s/%s.extra.gp", c->dir, stem);
    return buf_write(&b, g->extra, c->err);
}

static int finish(struct ctx *c, struct gp *g, struct buf *b, const char *stem)
{
    g->kind = lab_plot_kind_names[c->p->kind];
    g->data = lab_arena_printf(c->a, "%s/%s.dat", c->dir, stem);
    g->out = lab_arena_printf(c->a, "%s/%s", c->dir, stem);
    if (!g->title)
        g->title = c->p->title ? c->p->title : lab_arena_printf(c->a, "%s: %s", c->sc->name,
                                                                c->p->metric);
    if (c->p->xlabel && !g->keep_xlabel)
        g->xlabel = c->p->xlabel;
    if (c->p->ylabel && !g->keep_ylabel)
        g->ylabel = c->p->ylabel;
    if (c->p->zlabel)
        g->zlabel = c->p->zlabel;
    g->logx = c->p->logx;
    g->logy = c->p->logy;
    g->has_range = c->p->has_range;
    g->lo = c->p->range_lo * (g->yscale > 0 ? g->yscale : 1);
    g->hi = c->p->range_hi * (g->yscale > 0 ? g->yscale : 1);
    int rc = buf_write(b, g->data, c->err);
    if (rc || (rc = write_extra(c, g, stem)))
        return rc;
    return c->draw ? run_gnuplot(g, c->templates, c->failed) : 0;
}

/* Groups: the sweep points of the matching runs, in order (repeats merged). */
static size_t groups(struct ctx *c, size_t **first)
{
    *first = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(size_t));
    size_t n = 0;
    for (size_t i = 0; i < c->nmatch; i++) {
        const struct lab_runspec *r = c->runs[c->match[i]].spec;
        bool seen = false;
        for (size_t g = 0; g < n && !seen; g++)
            seen = c->runs[(*first)[g]].spec->point == r->point;
        if (!seen)
            (*first)[n++] = c->match[i];
    }
    return n;
}

static int plot_bars(struct ctx *c)
{
    size_t *first, ng = groups(c, &first), len = 0;
    for (size_t i = 0; i < c->nmatch; i++) {
        const struct lab_metric *m = lab_run_metric(&c->runs[c->match[i]], c->p->metric);
        if (m && m->kind == LAB_M_ARRAY && m->n > len)
            len = m->n;
    }
    if (!len) {
        warn_empty(c, "no run recorded it as an array");
        return 0;
    }
    struct buf b;
    FILE *f = buf_open(&b);
    double *vals = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    double *th = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    double w = 0.8 / (double)ng;
    for (size_t g = 0; g < ng; g++) {
        const struct lab_runspec *r0 = c->runs[first[g]].spec;
        dat_string(f, "x");
        fputc(' ', f);
        dat_string(f, group_label(c->sc, c->p, r0));
        fputs(" \"sd\" \"theory\" \"index\"\n", f);
        for (size_t i = 0; i < len; i++) {
            size_t nv = 0, nt = 0;
            for (size_t k = 0; k < c->nmatch; k++) {
                const struct lab_run *run = &c->runs[c->match[k]];
                if (run->spec->point != r0->point)
                    continue;
                const struct lab_metric *m = lab_run_metric(run, c->p->metric);
                if (m && m->kind == LAB_M_ARRAY && i < m->n)
                    vals[nv++] = m->v[i];
                const struct lab_metric *t = c->p->theory ? lab_run_metric(run, c->p->theory)
                                                          : NULL;
                if (t && t->kind == LAB_M_ARRAY && i < t->n)
                    th[nt++] = t->v[i];
            }
            fprintf(f, "%.6g", (double)i - 0.4 + w * ((double)g + 0.5));
            dat_number(f, mean_of(vals, nv));
            dat_number(f, sd_of(vals, nv));
            dat_number(f, mean_of(th, nt));
            fprintf(f, " %zu\n", i);
        }
        fputs("\n\n", f);
    }
    struct gp g = {.n = (int)ng, .bw = w * 0.9, .xlabel = "index",
                   .ylabel = words(c->a, c->p->metric)};
    return finish(c, &g, &b, c->p->name);
}

static int plot_cdf(struct ctx *c)
{
    size_t *first, ng = groups(c, &first);
    struct hist **h = lab_arena_alloc(c->a, (ng + 1) * sizeof(*h));
    const char *unit = "";
    double max = 0;
    size_t used = 0;
    for (size_t g = 0; g < ng; g++) {
        h[g] = hist_create();
        if (!h[g])
            abort();
        for (size_t k = 0; k < c->nmatch; k++) {
            const struct lab_run *run = &c->runs[c->match[k]];
            const struct lab_metric *m = lab_run_metric(run, c->p->metric);
            if (run->spec->point != c->runs[first[g]].spec->point || !m || m->kind != LAB_M_HIST)
                continue;
            hist_merge(h[g], m->hist);
            unit = m->unit;
        }
        if (hist_count(h[g]))
            used++;
        if ((double)hist_max(h[g]) > max)
            max = (double)hist_max(h[g]);
    }
    int rc = 0;
    if (!used) {
        warn_empty(c, "no run recorded it as a histogram");
        goto out;
    }
    const char *ulabel;
    double scale = time_scale(unit, max, &ulabel);
    /* A log axis has no 0: values <= 0 are drawn at its left edge, half the smallest
     * positive value, and the xlabel says so. */
    double minpos = INFINITY;
    bool nonpos = false;
    for (size_t g = 0; g < ng; g++) {
        size_t cur = 0;
        int64_t lo, hi;
        uint64_t cnt;
        while (hist_next_bucket(h[g], &cur, &lo, &hi, &cnt)) {
            double x = (double)(hi < hist_max(h[g]) ? hi : hist_max(h[g])) * scale;
            if (x > 0 && x < minpos)
                minpos = x;
            nonpos |= x <= 0;
        }
        if (hist_count(h[g]) && hist_min(h[g]) > 0 && (double)hist_min(h[g]) * scale < minpos)
            minpos = (double)hist_min(h[g]) * scale;
    }
    double left = isfinite(minpos) ? minpos / 2 : 1;
    bool edge = c->p->logx && nonpos;
    struct buf b;
    FILE *f = buf_open(&b);
    for (size_t g = 0; g < ng; g++) {
        dat_string(f, "x");
        fputc(' ', f);
        dat_string(f, group_label(c->sc, c->p, c->runs[first[g]].spec));
        fputc('\n', f);
        size_t cur = 0;
        int64_t lo, hi;
        uint64_t cnt, cum = 0, total = hist_count(h[g]);
        double x = 0;
        if (total) {
            x = (double)hist_min(h[g]) * scale;
            fprintf(f, "%.10g 0\n", edge && x <= 0 ? left : x);
        }
        while (hist_next_bucket(h[g], &cur, &lo, &hi, &cnt)) {
            cum += cnt;
            x = (double)(hi < hist_max(h[g]) ? hi : hist_max(h[g])) * scale;
            fprintf(f, "%.10g %.10g\n", edge && x <= 0 ? left : x,
                    (double)cum / (double)total);
        }
        /* Every line runs to the right end, so one that ends early still shows. */
        if (total && x < max * scale)
            fprintf(f, "%.10g 1\n", max * scale);
        if (!total)
            fputs("NaN NaN\n", f);
        fputs("\n\n", f);
    }
    struct gp gp = {.n = (int)ng,
                    .xlabel = *ulabel ? lab_arena_printf(c->a, "%s (%s)",
                                                         words(c->a, c->p->metric), ulabel)
                                      : words(c->a, c->p->metric),
                    .ylabel = "fraction of the values <= x"};
    if (c->p->xlabel && *ulabel) {
        gp.xlabel = lab_arena_printf(c->a, "%s (%s)", c->p->xlabel, ulabel);
        gp.keep_xlabel = true;
    }
    if (edge) {
        gp.xlabel = lab_arena_printf(c->a, "%s; 0 is drawn at the left edge",
                                     c->p->xlabel && !*ulabel ? c->p->xlabel : gp.xlabel);
        gp.keep_xlabel = true;
    }
    rc = finish(c, &gp, &b, c->p->name);
out:
    for (size_t g = 0; g < ng; g++)
        hist_destroy(h[g]);
    return rc;
}

static void fault_shading(struct ctx *c, FILE *f, const struct lab_config *cfg)
{
    double end = (double)cfg->duration / 1e9;
    for (size_t i = 0; i < cfg->nfaults; i++) {
        const struct lab_fault *x = &cfg->faults[i];
        double t0 = (double)x->at / 1e9, t1 = -1;
        const char *what = "", *color = "#cc4444";
        const char *who = x->node ? x->node : "";
        switch (x->kind) {
        case LAB_FAULT_PAUSE:
            t1 = t0 + (double)x->dur / 1e9;
            what = "pause";
            color = "#4477cc";
            break;
        case LAB_FAULT_PARTITION:
            t1 = x->dur < 0 ? end : t0 + (double)x->dur / 1e9;
            what = "partition";
            color = "#cc9922";
            break;
        case LAB_FAULT_CRASH:
            what = "crash";
            t1 = end;
            if (x->dur > 0) {
                t1 = t0 + (double)x->dur / 1e9;
            } else {
                for (size_t j = i + 1; j < cfg->nfaults; j++) {
                    const struct lab_fault *y = &cfg->faults[j];
                    if (y->kind == LAB_FAULT_RESTART && !strcmp(y->node, x->node)) {
                        t1 = (double)y->at / 1e9;
                        break;
                    }
                }
            }
            break;
        case LAB_FAULT_CLOCK_STEP:
            what = "clock step";
            break;
        case LAB_FAULT_DRIFT:
            what = "drift";
            break;
        default:
            continue; /* a restart ends a crash's shading */
        }
        if (t1 >= 0)
            fprintf(f, "set object rect from %.9g, graph 0 to %.9g, graph 1 behind "
                       "fc rgb '%s' fs transparent solid 0.15 noborder\n", t0, t1, color);
        else
            fprintf(f, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dt 2 "
                       "lc rgb '%s'\n", t0, t0, color);
        /* Labels of faults close in time go one under the other. */
        int near = 0;
        for (size_t j = 0; j < i; j++)
            near += fabs((double)cfg->faults[j].at / 1e9 - t0) < 0.08 * end &&
                    cfg->faults[j].kind != LAB_FAULT_RESTART;
        fprintf(f, "set label ");
        gp_string(f, lab_arena_printf(c->a, "%s %s", what, who));
        fprintf(f, " at %.9g, graph %.2f left offset 0.3,0 font ',8' tc rgb '%s'\n", t0,
                0.97 - 0.05 * near, color);
    }
}

static int plot_timeseries(struct ctx *c)
{
    struct buf b;
    FILE *f = buf_open(&b);
    const char *stat = c->p->stat ? c->p->stat : "sum", *unit = "";
    int n = 0;
    double ymin = 0;
    for (size_t k = 0; k < c->nmatch; k++) {
        const struct lab_run *run = &c->runs[c->match[k]];
        const struct lab_metric *m = lab_run_metric(run, c->p->metric);
        if (!m || m->kind != LAB_M_SERIES)
            continue;
        const struct series *s = m->series;
        unit = m->unit;
        const char *label = group_label(c->sc, c->p, run->spec);
        if (c->sc->repeat > 1)
            label = lab_arena_printf(c->a, "%s #%d", label, run->spec->repeat);
        dat_string(f, "t");
        fputc(' ', f);
        dat_string(f, label);
        fputc('\n', f);
        for (size_t i = 0; i < series_len(s); i++) {
            uint64_t cnt = series_count(s, i);
            double v = !strcmp(stat, "count") ? (double)cnt
                       : !strcmp(stat, "mean") ? (cnt ? series_sum(s, i) / (double)cnt : NAN)
                                               : series_sum(s, i);
            fprintf(f, "%.9g", ((double)i + 0.5) * (double)series_bin_ns(s) / 1e9);
            dat_number(f, v);
            if (v < ymin)
                ymin = v;
            fputc('\n', f);
        }
        if (!series_len(s))
            fputs("NaN NaN\n", f);
        fputs("\n\n", f);
        n++;
    }
    if (!n) {
        fclose(b.f);
        free(b.s);
        warn_empty(c, "no run recorded it as a series");
        return 0;
    }
    struct gp g = {.n = n, .faults = c->runs[c->match[0]].spec->cfg, .xlabel = "time (s)",
                   .ymin0 = ymin >= 0,
                   .ylabel = lab_arena_printf(c->a, "%s, %s per bin%s%s%s",
                                              words(c->a, c->p->metric), stat,
                                              *unit ? " (" : "", unit, *unit ? ")" : "")};
    return finish(c, &g, &b, c->p->name);
}

static int plot_heatmap(struct ctx *c)
{
    int drawn = 0, rc = 0;
    for (size_t k = 0; k < c->nmatch && !rc; k++) {
        const struct lab_run *run = &c->runs[c->match[k]];
        const struct lab_metric *m = lab_run_metric(run, c->p->metric);
        if (!m || m->kind != LAB_M_MATRIX)
            continue;
        const char *stem = c->p->name;
        const char *label = c->p->by ? lab_run_key_text(c->sc, run->spec, c->p->by) : NULL;
        size_t same = 0; /* matching runs with this label: more than one needs a suffix */
        for (size_t j = 0; j < c->nmatch; j++) {
            const char *l = c->p->by ? lab_run_key_text(c->sc, c->runs[c->match[j]].spec,
                                                        c->p->by) : NULL;
            same += !label || (l && !strcmp(l, label));
        }
        if (label)
            stem = lab_arena_printf(c->a, "%s-%s", stem, stem_part(c->a, label));
        if (same > 1)
            stem = lab_arena_printf(c->a, "%s-run%zu", stem, run->spec->index);
        struct buf b;
        FILE *f = buf_open(&b);
        for (size_t r = 0; r < m->rows; r++) {
            for (size_t col = 0; col < m->cols; col++)
                dat_number(f, m->v[r * m->cols + col]);
            fputc('\n', f);
        }
        const char *title = c->p->title ? c->p->title
                                        : lab_arena_printf(c->a, "%s: %s", c->sc->name,
                                                           c->p->metric);
        if (label)
            title = lab_arena_printf(c->a, "%s (%s = %s)", title, c->p->by, label);
        struct gp g = {.n = 1, .title = title, .xlabel = "column", .ylabel = "row",
                       .zlabel = words(c->a, c->p->metric)};
        rc = finish(c, &g, &b, stem);
        drawn++;
    }
    if (!drawn)
        warn_empty(c, "no run recorded it as a matrix");
    return rc;
}

static int plot_sweep(struct ctx *c)
{
    /* Lines: distinct `by` labels; points: distinct x values. */
    size_t n = c->nmatch;
    const char **lines = lab_arena_alloc(c->a, (n + 1) * sizeof(*lines));
    const char **xs = lab_arena_alloc(c->a, (n + 1) * sizeof(*xs));
    double *xnum = lab_arena_alloc(c->a, (n + 1) * sizeof(double));
    size_t nl = 0, nx = 0;
    bool numeric = true, duration = false;
    for (size_t k = 0; k < n; k++) {
        const struct lab_runspec *r = c->runs[c->match[k]].spec;
        const char *l = c->p->by ? lab_run_key_text(c->sc, r, c->p->by) : c->p->metric;
        const char *x = lab_run_key_text(c->sc, r, c->p->x);
        l = l ? l : "-";
        x = x ? x : "-";
        size_t i;
        for (i = 0; i < nl && strcmp(lines[i], l); i++)
            ;
        if (i == nl)
            lines[nl++] = l;
        for (i = 0; i < nx && strcmp(xs[i], x); i++)
            ;
        if (i == nx) {
            double d;
            char *end;
            d = strtod(x, &end);
            if (*x && !*end) {
                xnum[nx] = d;
            } else if (lab_key_number(c->sc, r, c->p->x, &d)) {
                xnum[nx] = d / 1e9; /* a duration, in seconds */
                duration = true;
            } else {
                numeric = false;
            }
            xs[nx++] = x;
        }
    }
    /* Sort the x values (insertion sort: sweeps are short). */
    for (size_t i = 1; numeric && i < nx; i++)
        for (size_t j = i; j > 0 && xnum[j - 1] > xnum[j]; j--) {
            double t = xnum[j];
            xnum[j] = xnum[j - 1];
            xnum[j - 1] = t;
            const char *s = xs[j];
            xs[j] = xs[j - 1];
            xs[j - 1] = s;
        }
    /* Categories sit at 0, 1, ... (sorted when they are numbers); each line a little
     * apart from the others, so equal values at one category stay visible. */
    if (!numeric || c->p->xcategories) {
        numeric = false;
        duration = false;
        for (size_t i = 0; i < nx; i++)
            xnum[i] = (double)i;
    }
    double dodge = !numeric && nl > 1 ? 0.3 / (double)(nl - 1) : 0;
    /* Their labels, once each, at the category's centre. */
    char *xtics = NULL;
    if (!numeric) {
        xtics = "set xtics (";
        for (size_t i = 0; i < nx; i++) {
            char *q = lab_arena_strdup(c->a, xs[i]);
            for (char *p = q; *p; p++)
                if (*p == '"' || *p == '\\')
                    *p = '\'';
            xtics = lab_arena_printf(c->a, "%s%s\"%s\" %zu", xtics, i ? ", " : "", q, i);
        }
        xtics = lab_arena_printf(c->a, "%s)", xtics);
    }
    double *vals = lab_arena_alloc(c->a, (n + 1) * sizeof(double));
    double *th = lab_arena_alloc(c->a, (n + 1) * sizeof(double));
    /* A time in ns is drawn in the unit that fits its largest value. */
    double scale = 1, ymin = 0;
    const char *ulabel = "";
    if (c->p->unit_ns) {
        double max = 0;
        for (size_t k = 0; k < n; k++) {
            const struct lab_metric *m = lab_run_metric(&c->runs[c->match[k]], c->p->metric);
            if (m && m->kind == LAB_M_SCALAR && fabs(m->scalar) > max)
                max = fabs(m->scalar);
        }
        scale = time_scale("ns", max, &ulabel);
    }
    struct buf b;
    FILE *f = buf_open(&b);
    size_t points = 0, theory_points = 0, drawn = 0;
    for (size_t l = 0; l < nl; l++) {
        /* A line whose runs lack the metric (it belongs to other sweep values) is left
         * out, rather than handed to gnuplot as a block with no valid point. */
        size_t line_points = 0;
        struct buf lb;
        FILE *lf = buf_open(&lb);
        fputs("\"x\" ", lf);
        dat_string(lf, c->p->by ? lab_arena_printf(c->a, "%s=%s", c->p->by, lines[l])
                                : words(c->a, lines[l]));
        fputs(" \"sd\" \"theory\" \"label\"\n", lf);
        for (size_t xi = 0; xi < nx; xi++) {
            size_t nv = 0, nt = 0;
            for (size_t k = 0; k < n; k++) {
                const struct lab_run *run = &c->runs[c->match[k]];
                const char *lab = c->p->by ? lab_run_key_text(c->sc, run->spec, c->p->by)
                                           : c->p->metric;
                const char *x = lab_run_key_text(c->sc, run->spec, c->p->x);
                if (strcmp(lab ? lab : "-", lines[l]) || strcmp(x ? x : "-", xs[xi]))
                    continue;
                const struct lab_metric *m = lab_run_metric(run, c->p->metric);
                if (m && m->kind == LAB_M_SCALAR)
                    vals[nv++] = m->scalar * scale;
                const struct lab_metric *t = c->p->theory ? lab_run_metric(run, c->p->theory)
                                                          : NULL;
                if (t && t->kind == LAB_M_SCALAR)
                    th[nt++] = t->scalar * scale;
            }
            /* A log axis has no room for x <= 0 (the title should say what is left out). */
            if ((!nv && !nt) || (c->p->logx && numeric && xnum[xi] <= 0))
                continue;
            for (size_t i = 0; i < nv; i++)
                ymin = vals[i] < ymin ? vals[i] : ymin;
            for (size_t i = 0; i < nt; i++)
                ymin = th[i] < ymin ? th[i] : ymin;
            line_points += nv;
            theory_points += nt;
            fprintf(lf, "%.10g", xnum[xi] + dodge * ((double)l - (double)(nl - 1) / 2));
            dat_number(lf, mean_of(vals, nv));
            dat_number(lf, sd_of(vals, nv));
            dat_number(lf, mean_of(th, nt));
            fputc(' ', lf);
            dat_string(lf, xs[xi]);
            fputc('\n', lf);
        }
        fputs("\n\n", lf);
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
        warn_empty(c, "no run recorded it as a scalar");
        return 0;
    }
    const char *ylabel = c->p->ylabel ? c->p->ylabel : words(c->a, c->p->metric);
    struct gp g = {.n = (int)drawn, .xticlabels = !numeric, .theory = theory_points > 0,
                   .xlabel = duration ? lab_arena_printf(c->a, "%s (s)", c->p->x) : c->p->x,
                   .ylabel = *ulabel ? lab_arena_printf(c->a, "%s (%s)", ylabel, ulabel) : ylabel,
                   .keep_ylabel = true, .ymin0 = ymin >= 0, .yscale = scale, .xtics = xtics};
    if (c->p->xlabel && duration) {
        g.xlabel = lab_arena_printf(c->a, "%s (s)", c->p->xlabel);
        g.keep_xlabel = true;
    }
    return finish(c, &g, &b, c->p->name);
}

/* Each kind's drawing, by enum lab_plot_kind. */
static int (*const draw_kind[])(struct ctx *c) = {
    [LAB_PLOT_BARS] = plot_bars,
    [LAB_PLOT_CDF] = plot_cdf,
    [LAB_PLOT_TIMESERIES] = plot_timeseries,
    [LAB_PLOT_HEATMAP] = plot_heatmap,
    [LAB_PLOT_SWEEP] = plot_sweep,
};

int lab_draw_plots(const struct lab_scenario *sc, const struct lab_run *runs, size_t nruns,
                   const char *dir, const char *templates, bool *no_gnuplot, int *failed,
                   struct lab_err *err)
{
    if (sc->nplots == 0)
        return 0;
    int rc = lab_mkdirs(dir);
    if (rc)
        return lab_err_write(err, dir, rc);
    bool draw = find_gnuplot();
    if (!draw)
        *no_gnuplot = true;
    struct lab_arena a = {0};
    for (size_t i = 0; i < sc->nplots && !rc; i++) {
        struct ctx c = {.sc = sc, .runs = runs, .nruns = nruns, .p = &sc->plots[i], .dir = dir,
                        .templates = templates, .draw = draw, .failed = failed, .err = err,
                        .a = &a};
        c.match = lab_arena_alloc(&a, (nruns + 1) * sizeof(size_t));
        for (size_t r = 0; r < nruns; r++)
            if (lab_where_match(sc, runs[r].spec, c.p->where, c.p->nwhere))
                c.match[c.nmatch++] = r;
        if (!c.nmatch) {
            warn_empty(&c, "no run matches its 'where'");
            continue;
        }
        rc = draw_kind[c.p->kind](&c);
    }
    lab_arena_free(&a);
    return rc;
}

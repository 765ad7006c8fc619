/* plot.c - a scenario's plots: the data each plot needs, written beside the images,
 * then gnuplot run on plots/<kind>.gp through fork/exec with an argument vector (never
 * a shell). Values reach gnuplot as -e assignments of quoted strings and numbers. */
#include "lab/plot_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

FILE *lab__buf_open(struct buf *b)
{
    memset(b, 0, sizeof(*b));
    b->f = open_memstream(&b->s, &b->len);
    if (!b->f)
        abort();
    return b->f;
}

int lab__buf_write(struct buf *b, const char *path, struct lab_err *err)
{
    fclose(b->f);
    int rc = lab_write_file(path, b->s, b->len, err);
    free(b->s);
    return rc;
}

/* A gnuplot string literal in single quotes: ' doubles, newlines become spaces. */
void lab__gp_string(FILE *f, const char *s)
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
void lab__dat_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        fputc(*s == '"' ? '\'' : *s == '\n' ? ' ' : *s, f);
    fputc('"', f);
}

void lab__dat_number(FILE *f, double v)
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
const char *lab__group_label(const struct lab_scenario *sc, const struct lab_plot *p,
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
char *lab__stem_part(struct lab_arena *a, const char *s)
{
    char *d = lab_arena_strdup(a, s);
    for (char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            *p = '_';
    return d;
}

static int run_gnuplot(const struct gp *g, const char *templates, int *failed)
{
    struct buf b;
    FILE *f = lab__buf_open(&b);
    fputs("data=", f);
    lab__gp_string(f, g->data);
    fputs("; out=", f);
    lab__gp_string(f, g->out);
    fputs("; title=", f);
    lab__gp_string(f, g->title ? g->title : "");
    fputs("; xlabel=", f);
    lab__gp_string(f, g->xlabel ? g->xlabel : "");
    fputs("; ylabel=", f);
    lab__gp_string(f, g->ylabel ? g->ylabel : "");
    fputs("; zlabel=", f);
    lab__gp_string(f, g->zlabel ? g->zlabel : "");
    fputs("; extra=", f);
    lab__gp_string(f, g->extra ? g->extra : "");
    fputs("; lib=", f);
    lab__gp_string(f, templates);
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

double lab__mean_of(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : NAN;
}

double lab__sd_of(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    double m = lab__mean_of(v, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (double)(n - 1));
}

/* Scale a unit of time for axes: values in ns shown in the unit that fits 'max'. */
double lab__time_scale(const char *unit, double max, const char **label)
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

const char *lab__words(struct lab_arena *a, const char *metric)
{
    char *w = lab_arena_strdup(a, metric);
    for (char *p = w; *p; p++)
        if (*p == '_')
            *p = ' ';
    return w;
}

/* <stem>.extra.gp beside the data: the timeseries' fault shading, the category labels and
 * the plot's horizontal lines, loaded by common.gp. Returns 0 (none needed, or written)
 * or -errno. */
static int write_extra(struct ctx *c, struct gp *g, const char *stem)
{
    if (!c->p->nhlines && !g->faults && !g->xtics)
        return 0;
    struct buf b;
    FILE *f = lab__buf_open(&b);
    if (g->faults)
        lab__fault_shading(c, f, g->faults);
    if (g->xtics)
        fprintf(f, "%s\n", g->xtics);
    double scale = g->yscale > 0 ? g->yscale : 1;
    for (size_t i = 0; i < c->p->nhlines; i++) {
        const struct lab_hline *h = &c->p->hlines[i];
        double y = h->y * scale;
        fprintf(f, "set arrow from graph 0, first %.10g to graph 1, first %.10g nohead "
                   "dt 3 lw 1.5 lc rgb '#444444' front\n", y, y);
        fputs("set label ", f);
        lab__gp_string(f, h->label);
        fprintf(f, " at graph 0.01, first %.10g left offset 0,0.6 font ',9' "
                   "tc rgb '#444444' front\n", y);
        fprintf(f, "hline_max = %.10g > hline_max ? %.10g : hline_max\n", y, y);
    }
    g->extra = lab_arena_printf(c->a, "%s/%s.extra.gp", c->dir, stem);
    return lab__buf_write(&b, g->extra, c->err);
}

void lab__plot_warn(const struct ctx *c, const char *what)
{
    fprintf(stderr, "distlab: %s: plot '%s': %s\n", c->sc->file, c->p->name, what);
}

int lab__plot_finish(struct ctx *c, struct gp *g, struct buf *b, const char *stem)
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
    int rc = lab__buf_write(b, g->data, c->err);
    if (rc || (rc = write_extra(c, g, stem)))
        return rc;
    return c->draw ? run_gnuplot(g, c->templates, c->failed) : 0;
}

/* Groups: the sweep points of the matching runs, in order (repeats merged). */
size_t lab__plot_groups(struct ctx *c, size_t **first)
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

/* Each kind's drawing, by enum lab_plot_kind. */
static int (*const draw_kind[])(struct ctx *c) = {
    [LAB_PLOT_BARS] = lab__plot_bars,
    [LAB_PLOT_CDF] = lab__plot_cdf,
    [LAB_PLOT_TIMESERIES] = lab__plot_timeseries,
    [LAB_PLOT_HEATMAP] = lab__plot_heatmap,
    [LAB_PLOT_SWEEP] = lab__plot_sweep,
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
            lab__plot_warn(&c, "no run matches its 'where'");
            continue;
        }
        rc = draw_kind[c.p->kind](&c);
    }
    lab_arena_free(&a);
    return rc;
}


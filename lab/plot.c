/* plot.c - a scenario's plots: the data each plot needs, written beside the images,
 * then drawn by one gnuplot per scenario (posix_spawn, never a shell) that loads
 * plots/<kind>.gp for each plot. Values reach gnuplot as assignments of quoted strings
 * and numbers on its standard input. */
#include "lab/plot_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
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

/* ---- gnuplot ------------------------------------------------------------------------ */

/* One gnuplot draws all of a scenario's plots, one after the other: started at the first
 * plot, fed on its standard input (for each plot `reset session`, the plot's variables
 * and its template), it prints after each plot whether it failed (GPVAL_ERRNO) on its
 * standard output. Its start (fonts, cairo) costs more than most plots do. Fed on a pipe,
 * gnuplot goes on after a failed plot. While it runs this thread holds SIGPIPE, so that
 * a gnuplot that dies costs only its plots. */
struct plotter {
    const char *templates; /* the directory of <kind>.gp */
    int *failed;           /* plots gnuplot failed on, counted by plotter_finish */
    pid_t pid;             /* 0: not started; -1: could not start */
    FILE *in;              /* its standard input */
    int out;               /* its standard output (non-blocking) */
    char **what;           /* each plot sent: "template for out", for the failure message */
    bool *ok;              /* each plot sent: gnuplot said it drew it */
    size_t sent, cap;
    char line[128];
    size_t linelen;
    sigset_t mask; /* this thread's signal mask before SIGPIPE was held */
};

/* Read what gnuplot printed (up to EOF when 'all', else what is there): its verdicts. */
static void plotter_read(struct plotter *pl, bool all)
{
    if (all) {
        int fl = fcntl(pl->out, F_GETFL);
        fcntl(pl->out, F_SETFL, fl & ~O_NONBLOCK);
    }
    for (;;) {
        char buf[512];
        ssize_t n = read(pl->out, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (pl->linelen < sizeof(pl->line) - 1)
                    pl->line[pl->linelen++] = buf[i];
                continue;
            }
            pl->line[pl->linelen] = 0;
            pl->linelen = 0;
            unsigned long k;
            int err;
            if (sscanf(pl->line, "distlab %lu %d", &k, &err) == 2 && k < pl->sent)
                pl->ok[k] = err == 0;
        }
    }
}

/* Start gnuplot with its standard input and output on pipes. Returns 0 or -errno. */
static int plotter_start(struct plotter *pl)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(out, O_CLOEXEC) < 0) {
        int rc = -errno;
        close(in[0]);
        close(in[1]);
        return rc;
    }
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_sig, &pl->mask);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &pl->mask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"gnuplot", NULL};
    int rc = -posix_spawnp(&pl->pid, "gnuplot", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(out[1]);
    if (!rc && !(pl->in = fdopen(in[1], "w")))
        rc = -errno;
    if (rc) {
        close(in[1]);
        close(out[0]);
        if (pl->pid > 0)
            waitpid(pl->pid, NULL, 0);
        pthread_sigmask(SIG_SETMASK, &pl->mask, NULL);
        pl->pid = -1;
        return rc;
    }
    pl->out = out[0];
    fcntl(pl->out, F_SETFL, fcntl(pl->out, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* Draw g: send it to the scenario's gnuplot (started if need be). */
static void plotter_send(struct plotter *pl, const struct gp *g)
{
    const char *templates = pl->templates;
    if (pl->sent == pl->cap) {
        pl->cap = pl->cap ? 2 * pl->cap : 16;
        pl->what = realloc(pl->what, pl->cap * sizeof(*pl->what));
        pl->ok = realloc(pl->ok, pl->cap * sizeof(*pl->ok));
        if (!pl->what || !pl->ok)
            abort();
    }
    size_t k = pl->sent++;
    pl->ok[k] = false;
    if (asprintf(&pl->what[k], "%s/%s.gp for %s", templates, g->kind, g->out) < 0)
        abort();
    if (!pl->pid)
        plotter_start(pl);
    if (pl->pid < 0)
        return;
    FILE *f = pl->in;
    fputs("reset session\nreset errors\ndata=", f);
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
    fputs("\nload ", f);
    char *tpl = lab_xmalloc(strlen(templates) + 32);
    sprintf(tpl, "%s/%s.gp", templates, g->kind);
    lab__gp_string(f, tpl);
    free(tpl);
    fprintf(f, "\nunset output\nset print '-'\nprint sprintf('distlab %zu %%d', GPVAL_ERRNO)\n", k);
    fflush(f);
    plotter_read(pl, false);
}

/* Let gnuplot finish (every plot drawn and its files closed), report the plots it
 * failed on stderr and count them. */
static void plotter_finish(struct plotter *pl)
{
    if (pl->pid > 0) {
        fclose(pl->in);
        plotter_read(pl, true);
        close(pl->out);
        while (waitpid(pl->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        /* A write to a gnuplot that died raised SIGPIPE here: drop it. */
        sigset_t pipe_sig;
        sigemptyset(&pipe_sig);
        sigaddset(&pipe_sig, SIGPIPE);
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_sig, NULL, &zero) == SIGPIPE)
            ;
        pthread_sigmask(SIG_SETMASK, &pl->mask, NULL);
    }
    for (size_t k = 0; k < pl->sent; k++) {
        if (!pl->ok[k]) {
            fprintf(stderr, "distlab: gnuplot failed on %s\n", pl->what[k]);
            (*pl->failed)++;
        }
        free(pl->what[k]);
    }
    free(pl->what);
    free(pl->ok);
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
    if (c->plotter)
        plotter_send(c->plotter, g);
    return 0;
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
    struct plotter pl = {.templates = templates, .failed = failed};
    struct lab_arena a = {0};
    for (size_t i = 0; i < sc->nplots && !rc; i++) {
        struct ctx c = {.sc = sc, .runs = runs, .nruns = nruns, .p = &sc->plots[i], .dir = dir,
                        .plotter = draw ? &pl : NULL, .err = err, .a = &a};
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
    plotter_finish(&pl);
    lab_arena_free(&a);
    return rc;
}


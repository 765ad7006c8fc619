/* runner.c - `distlab run | check` after the options: loading and checking every
 * scenario before running any, running (one pool of N threads for all the files),
 * progress on a terminal, results, plots, the PASS/FAIL report, and the exit status. */
#include "lab/runner.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lab/output.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of this process's threads and of the children it waited for (gnuplot). */
static double cpu_s(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double us = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                         kids.ru_stime.tv_sec) *
                    1e6 +
                (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                         kids.ru_stime.tv_usec);
    return us / 1e6;
}

/* ---- Executing runs: one pool for the scenarios of an invocation ------------------- */

/* The runs of one scenario (a batch) are handed out in order, and the batches in order:
 * the threads of the pool go on to the next scenario's runs while the owner (the thread
 * that started the pool) checks and writes what an earlier scenario left, so a
 * scenario's output overlaps the next one's runs. The owner takes the batches back in
 * order (pool_wait), so the report stays in file order; runs share nothing, so a
 * simulated run gives the same result on any thread and in any company. */

struct pool;

/* What a terminal shows of a batch: its runs done, and the fraction of each one running. */
struct progress {
    struct pool *pool;
    size_t batch;
    const char *name;
    size_t total, done;
    double *frac;
    double start, last;
};

struct batch {
    const struct lab_scenario *sc;
    const struct lab_runspec *const *specs; /* n runs: runs[i] executes specs[i] */
    size_t n;
    struct lab_run *runs;
    int *rcs;
    bool check;                    /* check each run's expectations (not for control runs) */
    const struct lab_shard *shard; /* NULL: every run */
    size_t next;                   /* the next run to hand out */
    size_t owned, started, finished;
    double t0, t1; /* wall: the first run's start, the last one's end */
    double cpu;    /* CPU seconds of the threads while they executed its runs */
    struct progress prog;
};

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t more;  /* a batch opened, or stop: for idle threads */
    pthread_cond_t ended; /* a run ended: for the owner */
    struct batch *b;
    size_t nb;
    size_t cur;  /* the batches before cur are all handed out */
    size_t open; /* runs of the batches before open may start */
    bool stop;   /* a run failed, or the owner gave up: hand out nothing more */
    bool progress;
    size_t shown; /* the batch whose progress a terminal shows (nb: none) */
    pthread_t *threads;
    int nthreads;
};

/* This thread's CPU seconds. */
static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of the children this process waited for (gnuplot; live servers). */
static double children_cpu_s(void)
{
    struct rusage kids;
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double)(kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) +
           (double)(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6;
}

/* Called with the pool's lock held. */
static void progress_show(struct progress *p, bool force)
{
    if (!p->pool->progress || p->pool->shown != p->batch || !p->total)
        return;
    double t = now_s();
    if (!force && t - p->last < 0.1)
        return;
    p->last = t;
    double sum = (double)p->done;
    for (size_t i = 0; i < p->total; i++)
        sum += p->frac[i];
    double f = sum / (double)p->total;
    char eta[32] = "";
    if (f > 0.01 && t - p->start > 0.5) {
        double left = (t - p->start) * (1 - f) / f;
        if (left >= 60)
            snprintf(eta, sizeof(eta), ", %dm%02ds left", (int)(left / 60), (int)left % 60);
        else
            snprintf(eta, sizeof(eta), ", %.0fs left", left);
    }
    fprintf(stderr, "\r\033[K%s: run %zu/%zu, %3.0f%%%s", p->name,
            p->done + 1 > p->total ? p->total : p->done + 1, p->total, f * 100, eta);
    fflush(stderr);
}

static void on_progress(void *user, const struct lab_run *run, double fraction)
{
    struct progress *p = user;
    pthread_mutex_lock(&p->pool->mu);
    /* The workload and lab_sim_run may both report: show the furthest. */
    if (fraction > p->frac[run->spec->index])
        p->frac[run->spec->index] = fraction;
    progress_show(p, false);
    pthread_mutex_unlock(&p->pool->mu);
}

/* The batch of specs[0..n) into runs[] (spec i has index i), those of them that the
 * shard owns (NULL: all); runs[] initialised. */
static void batch_init(struct batch *b, const struct lab_scenario *sc,
                       const struct lab_runspec *const *specs, size_t n, struct lab_run *runs,
                       bool check, const struct lab_shard *s)
{
    memset(b, 0, sizeof(*b));
    b->sc = sc;
    b->specs = specs;
    b->n = n;
    b->runs = runs;
    b->check = check;
    b->shard = s;
    for (size_t i = 0; i < n; i++)
        b->owned += lab_shard_owns(s, i);
    size_t nfrac = n;
    for (size_t i = 0; i < n; i++)
        nfrac = specs[i]->index >= nfrac ? specs[i]->index + 1 : nfrac;
    b->prog = (struct progress){.name = sc->name, .total = b->owned};
    b->prog.frac = calloc(nfrac + 1, sizeof(double));
    b->rcs = calloc(n + 1, sizeof(int));
    if (!b->prog.frac || !b->rcs)
        abort();
    for (size_t i = 0; i < n; i++)
        lab_run_init(&runs[i], sc, specs[i], sc->world);
}

static void batch_free(struct batch *b)
{
    free(b->prog.frac);
    free(b->rcs);
    b->prog.frac = NULL;
    b->rcs = NULL;
}

/* Execute runs until none of the open batches has one left to hand out; then wait for
 * more when 'wait', else return. */
static void pool_work(struct pool *p, bool wait)
{
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->cur < p->nb && p->b[p->cur].next >= p->b[p->cur].n)
            p->cur++;
        if (p->stop || p->cur >= p->nb)
            break;
        if (p->cur >= p->open) {
            if (!wait)
                break;
            pthread_cond_wait(&p->more, &p->mu);
            continue;
        }
        struct batch *b = &p->b[p->cur];
        size_t i = b->next++;
        if (!lab_shard_owns(b->shard, i))
            continue;
        if (!b->started++)
            b->t0 = b->prog.start = now_s();
        if (p->progress) {
            b->runs[i].progress = on_progress;
            b->runs[i].progress_user = &b->prog;
        }
        pthread_mutex_unlock(&p->mu);
        double cpu0 = thread_cpu_s();
        int rc = lab_run_exec(&b->runs[i]);
        if (rc >= 0 && b->check)
            lab_run_check(&b->runs[i]);
        double cpu = thread_cpu_s() - cpu0;
        pthread_mutex_lock(&p->mu);
        b->rcs[i] = rc;
        b->cpu += cpu;
        b->finished++;
        b->t1 = now_s();
        /* Runs are handed out in order: every run of the earlier batches was handed out
         * already, and ends, so those batches are whole. */
        if (rc < 0)
            p->stop = true;
        b->prog.frac[b->specs[i]->index] = 0;
        b->prog.done++;
        progress_show(&b->prog, false);
        pthread_cond_broadcast(&p->ended);
    }
    pthread_mutex_unlock(&p->mu);
}

static void *pool_thread(void *arg)
{
    pool_work(arg, true);
    return NULL;
}

/* Start 'jobs' threads on the batches b[0..nb), of which those before 'open' may start
 * (pool_open opens more). With one job (unless 'beside': the owner then writes beside
 * its one thread) or none started, the owner executes the runs itself in pool_wait.
 * 'progress': show progress on stderr. */
static void pool_start(struct pool *p, struct batch *b, size_t nb, size_t open, int jobs,
                       bool beside, bool progress)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->more, NULL);
    pthread_cond_init(&p->ended, NULL);
    p->b = b;
    p->nb = nb;
    p->open = open;
    p->shown = 0;
    size_t owned = 0;
    for (size_t i = 0; i < nb; i++) {
        b[i].prog.pool = p;
        b[i].prog.batch = i;
        owned += b[i].owned;
    }
    p->progress = progress && owned;
    if (jobs > (int)owned)
        jobs = (int)owned;
    if (jobs < 1 || (jobs == 1 && !beside))
        return;
    p->threads = calloc((size_t)jobs, sizeof(*p->threads));
    if (!p->threads)
        abort();
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p) == 0)
            p->nthreads++;
}

/* Let the runs of the batches before 'open' start. */
static void pool_open(struct pool *p, size_t open)
{
    pthread_mutex_lock(&p->mu);
    if (open > p->open) {
        p->open = open;
        pthread_cond_broadcast(&p->more);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Wait until batch i has executed all its runs (or the pool stopped: then the runs it
 * started); the terminal's progress line is cleared. Returns 0, or the exit status of
 * the batch's first failure in run order (err.h), its message printed on stderr. */
static int pool_wait(struct pool *p, size_t i)
{
    struct batch *b = &p->b[i];
    if (!p->nthreads)
        pool_work(p, false);
    pthread_mutex_lock(&p->mu);
    while (b->finished < b->started || (b->next < b->n && !p->stop))
        pthread_cond_wait(&p->ended, &p->mu);
    if (!b->started)
        b->t0 = b->t1 = now_s();
    if (p->progress) {
        p->shown = p->nb;
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&p->mu);
    int status = LAB_EXIT_OK;
    for (size_t r = 0; r < b->n && !status; r++) {
        if (b->rcs[r] < 0) {
            status = b->runs[r].status;
            fprintf(stderr, "%s\n", b->runs[r].fail);
        }
    }
    return status;
}

/* Show the progress of batch i from now on (the owner waits for it next). */
static void pool_show(struct pool *p, size_t i)
{
    pthread_mutex_lock(&p->mu);
    p->shown = i;
    if (i < p->nb)
        progress_show(&p->b[i].prog, true);
    pthread_mutex_unlock(&p->mu);
}

/* Stop handing out runs, and join the threads (the runs they execute end first). */
static void pool_end(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->more);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->more);
    pthread_cond_destroy(&p->ended);
    pthread_mutex_destroy(&p->mu);
}

/* Execute the runs of specs[0..n) into runs[] (spec i has index i), those of them that
 * the shard owns (NULL: all). */
static int execute(const struct lab_scenario *sc, const struct lab_runspec *const *specs, size_t n,
                   struct lab_run *runs, int jobs, bool progress, bool check,
                   const struct lab_shard *s)
{
    struct batch b;
    batch_init(&b, sc, specs, n, runs, check, s);
    struct pool p;
    pool_start(&p, &b, 1, 1, jobs, false, progress);
    int status = pool_wait(&p, 0);
    pool_end(&p);
    batch_free(&b);
    return status;
}

/* The runs of sc as specs, in order (sc->nruns of them). */
static const struct lab_runspec **specs_of(const struct lab_scenario *sc)
{
    const struct lab_runspec **specs = calloc(sc->nruns + 1, sizeof(*specs));
    if (!specs)
        abort();
    for (size_t i = 0; i < sc->nruns; i++)
        specs[i] = &sc->runs[i];
    return specs;
}

int lab_execute_shard(const struct lab_scenario *sc, struct lab_run *runs,
                      const struct lab_shard *s, int jobs, bool progress)
{
    const struct lab_runspec **specs = specs_of(sc);
    int status = execute(sc, specs, sc->nruns, runs, jobs, progress, true, s);
    free(specs);
    return status;
}

int lab_execute(const struct lab_scenario *sc, struct lab_run *runs, int jobs, bool progress)
{
    return lab_execute_shard(sc, runs, NULL, jobs, progress);
}

int lab_execute_controls(const struct lab_scenario *sc, struct lab_run *cruns, int jobs,
                         bool progress)
{
    const struct lab_runspec **specs = calloc(sc->ncruns + 1, sizeof(*specs));
    struct lab_run *done = calloc(sc->ncruns + 1, sizeof(*done));
    if (!specs || !done)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < sc->ncruns; i++)
        if (sc->cruns[i].same_as < 0)
            specs[n++] = &sc->cruns[i].spec;
    int status = execute(sc, specs, n, done, jobs, progress, false, NULL);
    for (size_t i = 0; i < n; i++)
        cruns[specs[i]->index] = done[i];
    free(done);
    free(specs);
    return status;
}

/* ---- The report ------------------------------------------------------------------- */

static bool color_on(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

static void print_params(const struct lab_scenario *sc, const struct lab_runspec *r)
{
    for (size_t k = 0; k < sc->nsweep; k++) {
        const char *t = lab_run_key_text(sc, r, sc->sweep[k].name);
        printf(" %s=%s", sc->sweep[k].name, t ? t : "");
    }
    if (sc->repeat > 1)
        printf(" repeat=%d", r->repeat);
}

/* " +- T" for a tolerance taken from a metric, else "". */
static const char *tol_text(const struct lab_check *c)
{
    static _Thread_local char buf[48];
    if (!isfinite(c->tol))
        return "";
    snprintf(buf, sizeof(buf), " \xc2\xb1 %.3g", c->tol);
    return buf;
}

static void print_check(const struct lab_scenario *sc, const struct lab_run *run,
                        const struct lab_check *c, bool color)
{
    if (color)
        printf(c->ok ? "\033[32mPASS\033[0m " : "\033[31mFAIL\033[0m ");
    else
        printf(c->ok ? "PASS " : "FAIL ");
    printf("%s", sc->name);
    print_params(sc, run->spec);
    printf(": %s", c->x->text);
    if (c->message)
        printf("  (%s)", c->message);
    else if (c->x->rhs_is_expr || c->x->tol_is_expr)
        printf("  (actual %.6g, expected %.6g%s)", c->actual, c->expected, tol_text(c));
    else
        printf("  (actual %.6g)", c->actual);
    if (c->x->why)
        printf("  -- %s", c->x->why);
    printf("\n");
}

/* Print the expectations' outcomes (the failed ones, or all); returns how many failed. */
static size_t report(const struct lab_scenario *sc, const struct lab_run *runs, bool all,
                     size_t *passed)
{
    bool color = color_on();
    size_t failed = 0;
    *passed = 0;
    for (size_t i = 0; i < sc->nruns; i++) {
        for (size_t k = 0; k < runs[i].nchecks; k++) {
            const struct lab_check *c = &runs[i].checks[k];
            if (c->ok)
                ++*passed;
            else
                failed++;
            if (!c->ok || all)
                print_check(sc, &runs[i], c, color);
        }
    }
    return failed;
}

/* A stretch of wall time, in seconds. */
struct span {
    double a, b;
};

/* What the runner carries from one scenario to the next. */
struct tally {
    bool warned_gnuplot;
    size_t failed;
    size_t scenarios;
    double kids; /* children's CPU seconds counted so far (children_cpu_s) */
    /* The wall time of each scenario's runs (from the first one's start to the last
     * one's end) and of its output, when it has room for them (NULL: not kept). */
    struct span *runs, *out;
};

/* ---- Controls ------------------------------------------------------------------- */

/* The control's name, or its overrides as written. */
static const char *control_label(const struct lab_scenario *sc, const struct lab_control *c)
{
    return c->name ? c->name : lab_node_text((struct lab_arena *)&sc->arena, c->node);
}

/* Every expectation with a control, on every run it applies to: the control holds when
 * the expectation fails in the control run. Prints the flagged ones (or all); returns
 * how many are flagged. */
static size_t report_controls(const struct lab_scenario *sc, const struct lab_run *runs,
                              const struct lab_run *cruns, bool all, size_t *held)
{
    bool color = color_on();
    size_t flagged = 0;
    *held = 0;
    for (size_t i = 0; i < sc->nruns; i++) {
        for (size_t k = 0; k < sc->nexpects; k++) {
            const struct lab_expect *x = &sc->expects[k];
            const struct lab_control_run *cr = lab_control_run_of(sc, x, i);
            if (!cr)
                continue;
            struct lab_check c;
            const struct lab_run *ctl =
                cr->same_as >= 0 ? &runs[cr->same_as] : &cruns[cr->spec.index];
            lab_check_control(&runs[i], ctl, x, &c);
            bool ok = !c.ok;
            if (ok)
                ++*held;
            else
                flagged++;
            if (!ok || all) {
                if (color)
                    printf(ok ? "\033[32mPASS\033[0m " : "\033[31mFAIL\033[0m ");
                else
                    printf(ok ? "PASS " : "FAIL ");
                printf("%s", sc->name);
                print_params(sc, runs[i].spec);
                printf(": %s  [control %s: ", x->text, control_label(sc, x->control));
                if (!ok)
                    printf("passes with the mechanism switched off, so it does not test "
                           "the claim; ");
                else
                    printf("fails, as it must; ");
                if (c.message)
                    printf("%s]\n", c.message);
                else
                    printf("actual %.6g, expected %.6g%s]\n", c.actual, c.expected, tol_text(&c));
            }
            free(c.message);
        }
    }
    return flagged;
}

/* Run the control runs of sc and report them. Returns an exit status (0: ran). */
static int run_controls(const struct lab_scenario *sc, const struct lab_run *runs,
                        const struct lab_runner_opts *o, int jobs, struct tally *t)
{
    if (!sc->ncruns)
        return LAB_EXIT_OK;
    struct lab_run *cruns = calloc(sc->ncruns, sizeof(*cruns));
    if (!cruns)
        abort();
    int status = lab_execute_controls(sc, cruns, jobs, !o->quiet && isatty(STDERR_FILENO));
    if (status == LAB_EXIT_OK) {
        size_t held, flagged = report_controls(sc, runs, cruns, o->check && !o->quiet, &held);
        t->failed += flagged;
        size_t own = 0;
        for (size_t r = 0; r < sc->ncruns; r++)
            own += sc->cruns[r].same_as < 0;
        if (!o->quiet)
            printf("%s: %zu control run%s (%zu of them runs of the sweep already); %zu "
                   "expectation%s failed there as they must, %zu passed without their "
                   "mechanism\n",
                   sc->name, sc->ncruns, sc->ncruns == 1 ? "" : "s", sc->ncruns - own, held,
                   held == 1 ? "" : "s", flagged);
    }
    for (size_t r = 0; r < sc->ncruns; r++)
        if (sc->cruns[r].same_as < 0)
            lab_run_cleanup(&cruns[r]);
    free(cruns);
    return status;
}

/* Where a scenario's runs took their time: from t0 to t1 (wall seconds), and 'cpu' CPU
 * seconds on the threads that executed them. */
struct timing {
    double t0, t1, cpu;
};

/* ---- Writing a result set --------------------------------------------------------- */

/* Write sc's results (and plots, unless checking) as whole sets: into temporaries beside
 * their targets, then swapped in. With --out, data and plots are one set in
 * out/<name>/; without, two (results/<name>/, plots/<name>/), the plots swapped in
 * first so that a summary.json never has older plots beside it. Returns 0, or -errno
 * with err set (nothing of this scenario was replaced then). */
static int write_sets(const struct lab_scenario *sc, const struct lab_run *runs,
                      const struct lab_runner_opts *o, const char *rdir, const char *pdir,
                      struct tally *t, struct lab_err *err)
{
    bool plots = !o->check, two = plots && strcmp(rdir, pdir) != 0;
    struct lab_outdir rs = {.lockfd = -1}, ps = {.lockfd = -1};
    int rc = lab_outdir_begin(&rs, rdir, err);
    if (!rc && two)
        rc = lab_outdir_begin(&ps, pdir, err);
    if (!rc)
        rc = lab_write_results(sc, runs, sc->nruns, rs.tmp, err);
    if (!rc && plots) {
        bool no_gnuplot = false;
        int plot_failures = 0;
        char *tpl;
        if (asprintf(&tpl, "%s/plots", lab_source_root()) < 0)
            abort();
        rc = lab_draw_plots(sc, runs, sc->nruns, two ? ps.tmp : rs.tmp, tpl, &no_gnuplot,
                            &plot_failures, err);
        free(tpl);
        if (no_gnuplot && !t->warned_gnuplot && sc->nplots) {
            fprintf(stderr,
                    "distlab: gnuplot is not in PATH: plot data written to %s, "
                    "no images drawn\n",
                    pdir);
            t->warned_gnuplot = true;
        }
    }
    if (!rc && lab_signal_pending()) /* drop the set: the signal comes when it is gone */
        rc = lab_err_write(err, rdir, -EINTR);
    if (!rc && two)
        rc = lab_outdir_commit(&ps, err);
    if (!rc)
        rc = lab_outdir_commit(&rs, err);
    lab_outdir_end(&ps);
    lab_outdir_end(&rs);
    return rc;
}

/* Write the results (and the plots, unless checking) of sc's runs, and print the report.
 * Returns 0, or -errno with err set. */
static int write_and_report(const struct lab_scenario *sc, const struct lab_run *runs,
                            const struct lab_runner_opts *o, struct tally *t,
                            const struct timing *tm, struct lab_err *err)
{
    char *rdir, *pdir;
    if (o->out) {
        if (asprintf(&rdir, "%s/%s", o->out, sc->name) < 0 ||
            asprintf(&pdir, "%s/%s", o->out, sc->name) < 0)
            abort();
    } else if (asprintf(&rdir, "results/%s", sc->name) < 0 ||
               asprintf(&pdir, "plots/%s", sc->name) < 0) {
        abort();
    }
    struct lab_signals held;
    double out0 = now_s(), cpu0 = thread_cpu_s();
    lab_signals_hold(&held);
    int rc = write_sets(sc, runs, o, rdir, pdir, t, err);
    lab_signals_release(&held);
    if (!rc) {
        size_t passed, failed = report(sc, runs, o->check && !o->quiet, &passed);
        t->failed += failed;
        /* Its CPU: its runs' threads, this thread writing, and the children waited for
         * since the previous scenario's output (its gnuplots; live, its servers). */
        double out1 = now_s(), kids = children_cpu_s();
        double out_s = out1 - out0, cpu = tm->cpu + thread_cpu_s() - cpu0 + kids - t->kids;
        t->kids = kids;
        if (t->runs) {
            t->runs[t->scenarios] = (struct span){tm->t0, tm->t1};
            t->out[t->scenarios] = (struct span){out0, out1};
        }
        t->scenarios++;
        if (!o->quiet) {
            size_t skipped = 0;
            for (size_t i = 0; i < sc->nruns; i++) {
                if (!runs[i].skipped)
                    continue;
                skipped++;
                printf("SKIP %s", sc->name);
                print_params(sc, runs[i].spec);
                printf(": %s\n", runs[i].skipped);
            }
            printf("%s: %zu run%s", sc->name, sc->nruns, sc->nruns == 1 ? "" : "s");
            if (skipped)
                printf(" (%zu skipped)", skipped);
            printf(", %zu expectation%s passed, %zu failed; results in %s", passed,
                   passed == 1 ? "" : "s", failed, rdir);
            if (!o->check && sc->nplots)
                printf(", plots in %s", pdir);
            printf("; %.2f s (runs %.2f s, output %.2f s), %.2f s CPU\n", tm->t1 - tm->t0 + out_s,
                   tm->t1 - tm->t0, out_s, cpu);
        }
    }
    free(rdir);
    free(pdir);
    return rc;
}

int lab_runner_write(const struct lab_scenario *sc, const struct lab_run *runs,
                     const struct lab_runner_opts *o)
{
    struct tally t = {.kids = children_cpu_s()};
    struct lab_err err = {.status = LAB_EXIT_WRITE};
    double now = now_s(); /* the runs were executed elsewhere (merge: by the slices) */
    struct timing tm = {.t0 = now, .t1 = now};
    if (write_and_report(sc, runs, o, &t, &tm, &err)) {
        fprintf(stderr, "distlab: %s\n", err.msg);
        return err.status;
    }
    return t.failed ? LAB_EXIT_EXPECT : LAB_EXIT_OK;
}

/* A slice of sc's runs (o->shard): its partial result and the failed expectations of
 * its runs. Returns 0, or -errno with err set. */
static int write_partial(const struct lab_scenario *sc, const struct lab_run *runs,
                         const struct lab_runner_opts *o, const struct lab_load_opts *lo,
                         struct tally *t, struct lab_err *err)
{
    char *dir;
    if (asprintf(&dir, "%s/%s", o->out ? o->out : "results", sc->name) < 0)
        abort();
    struct lab_signals held;
    lab_signals_hold(&held);
    int rc = lab_partial_write(sc, runs, &o->shard, lo, dir, err);
    lab_signals_release(&held);
    if (!rc) {
        size_t passed, failed = report(sc, runs, o->check && !o->quiet, &passed), n = 0;
        for (size_t i = 0; i < sc->nruns; i++)
            n += lab_shard_owns(&o->shard, i);
        t->failed += failed;
        char *file = lab_shard_file_name(&o->shard);
        if (!o->quiet)
            printf("%s: shard %u/%u, %zu of %zu runs, %zu expectation%s passed, %zu failed; "
                   "partial result in %s/%s\n",
                   sc->name, o->shard.i, o->shard.n, n, sc->nruns, passed, passed == 1 ? "" : "s",
                   failed, dir, file);
        free(file);
    }
    free(dir);
    return rc;
}

/* Write what scenario sc's runs left (a partial result with --shard) and report, then
 * run its controls. Returns an exit status. */
static int finish_scenario(const struct lab_scenario *sc, const struct lab_run *runs,
                           const struct timing *tm, const struct lab_runner_opts *o,
                           const struct lab_load_opts *lo, int jobs, struct tally *t)
{
    int status = LAB_EXIT_OK;
    struct lab_err err = {.status = LAB_EXIT_WRITE};
    if (o->shard.n ? write_partial(sc, runs, o, lo, t, &err)
                   : write_and_report(sc, runs, o, t, tm, &err)) {
        fprintf(stderr, "distlab: %s\n", err.msg);
        status = err.status;
    }
    if (status == LAB_EXIT_OK && o->controls)
        status = run_controls(sc, runs, o, jobs, t);
    return status;
}

/* The check pass over sc: each sweep point's workload checks its parameters and builds
 * its simulated world (names resolved, never run), so that a bad value in any file of
 * the invocation stops it before the first run starts. One run per point: repeats
 * differ only in their seed. Returns an exit status, the failure printed. */
static int precheck(const struct lab_scenario *sc)
{
    int status = LAB_EXIT_OK;
    for (size_t p = 0; p < sc->npoints && status == LAB_EXIT_OK; p++) {
        struct lab_run run;
        lab_run_init(&run, sc, &sc->runs[p * (size_t)sc->repeat], sc->world);
        if (lab_run_precheck(&run) < 0) {
            fprintf(stderr, "%s\n", run.fail);
            status = run.status;
        }
        lab_run_cleanup(&run);
    }
    return status;
}

/* The length of the union of the spans v[0..n) (in order of their start; empty ones
 * left out), and in *both that of its intersection with the spans w[0..n) (disjoint). */
static double union_s(const struct span *v, const struct span *w, size_t n, double *both)
{
    double len = 0, a = 0, b = 0;
    bool open = false;
    *both = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && v[i].b <= v[i].a)
            continue;
        if (i < n && open && v[i].a <= b) {
            b = v[i].b > b ? v[i].b : b;
            continue;
        }
        if (open) { /* [a, b] is a stretch of the union */
            len += b - a;
            for (size_t k = 0; k < n; k++) {
                double lo = w[k].a > a ? w[k].a : a, hi = w[k].b < b ? w[k].b : b;
                *both += hi > lo ? hi - lo : 0;
            }
        }
        if (i < n) {
            a = v[i].a;
            b = v[i].b;
            open = true;
        }
    }
    return len;
}

/* Execute the runs of scs[0..n) in one pool and write what each scenario left, in order;
 * in the simulated world the output of one scenario overlaps the runs of the next (live
 * runs share the machine with the output, so there each scenario runs alone, and its
 * runs one at a time unless -j says otherwise). Prints the totals. Returns an exit
 * status. */
static int run_all(struct lab_scenario *const *scs, size_t n, const struct lab_runner_opts *o,
                   const struct lab_load_opts *lo, struct tally *t)
{
    bool live = o->world == LAB_WORLD_LIVE;
    int jobs = o->jobs;
    if (jobs <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = live || cpus < 1 ? 1 : cpus > 1024 ? 1024 : (int)cpus;
    }
    struct batch *b = calloc(n + 1, sizeof(*b));
    const struct lab_runspec ***specs = calloc(n + 1, sizeof(*specs));
    if (!b || !specs)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct lab_run *runs = calloc(scs[i]->nruns + 1, sizeof(*runs));
        if (!runs)
            abort();
        specs[i] = specs_of(scs[i]);
        batch_init(&b[i], scs[i], specs[i], scs[i]->nruns, runs, true, &o->shard);
    }
    double start = now_s();
    t->kids = children_cpu_s();
    struct pool p;
    pool_start(&p, b, n, live ? 0 : n, jobs, !live, !o->quiet && isatty(STDERR_FILENO));
    int status = LAB_EXIT_OK;
    size_t i;
    for (i = 0; i < n && status == LAB_EXIT_OK; i++) {
        pool_open(&p, i + 1);
        status = pool_wait(&p, i);
        struct timing tm = {.t0 = b[i].t0, .t1 = b[i].t1, .cpu = b[i].cpu};
        if (status == LAB_EXIT_OK)
            status = finish_scenario(scs[i], b[i].runs, &tm, o, lo, jobs, t);
        pool_show(&p, i + 1);
        for (size_t r = 0; r < b[i].n; r++)
            lab_run_cleanup(&b[i].runs[r]);
    }
    pool_end(&p);
    for (size_t k = 0; k < n; k++) {
        for (size_t r = 0; k >= i && r < b[k].n; r++)
            lab_run_cleanup(&b[k].runs[r]);
        free(b[k].runs);
        free(specs[k]);
        batch_free(&b[k]);
    }
    free(b);
    free(specs);
    if (!o->quiet && t->scenarios > 1) {
        double both, runs_s = union_s(t->runs, t->out, t->scenarios, &both), out_s = 0;
        for (size_t k = 0; k < t->scenarios; k++)
            out_s += t->out[k].b - t->out[k].a;
        printf("%zu scenarios; %.2f s (runs %.2f s, output %.2f s", t->scenarios, now_s() - start,
               runs_s, out_s);
        if (both >= 0.005)
            printf(", %.2f s of it while runs went on", both);
        printf("), %.2f s CPU\n", cpu_s());
    }
    return status;
}

int lab_runner(const char *const *files, size_t nfiles, const struct lab_runner_opts *o)
{
    struct lab_scenario **scs = calloc(nfiles + 1, sizeof(*scs));
    struct tally t = {.runs = calloc(nfiles + 1, sizeof(struct span)),
                      .out = calloc(nfiles + 1, sizeof(struct span))};
    if (!scs || !t.runs || !t.out)
        abort();
    struct lab_load_opts lo = {
        .world = o->world, .sets = o->sets, .nsets = o->nsets, .seed_text = o->seed};
    int status = LAB_EXIT_OK;
    /* Load everything first: a typo in the third file should not cost two runs. */
    for (size_t i = 0; i < nfiles && status == LAB_EXIT_OK; i++) {
        struct lab_err err = {.status = LAB_EXIT_INPUT};
        scs[i] = lab_scenario_load(files[i], &lo, &err);
        if (!scs[i]) {
            fprintf(stderr, "%s\n", err.msg);
            status = err.status;
        }
    }
    /* Two scenarios of one name would write one directory, the second over the first. */
    for (size_t i = 0; i < nfiles && status == LAB_EXIT_OK; i++) {
        for (size_t j = 0; j < i && status == LAB_EXIT_OK; j++) {
            if (strcmp(scs[i]->name, scs[j]->name))
                continue;
            struct lab_err err;
            lab_errf(&err, lab_node_get(scs[i]->root, "name", NULL),
                     "'%s' is also the name of %s: both would write their results to %s/%s/",
                     scs[i]->name, scs[j]->file, o->out ? o->out : "results", scs[i]->name);
            fprintf(stderr, "%s\n", err.msg);
            status = err.status;
        }
    }
    for (size_t i = 0; i < nfiles && status == LAB_EXIT_OK; i++)
        status = precheck(scs[i]);
    if (status == LAB_EXIT_OK)
        status = run_all(scs, nfiles, o, &lo, &t);
    if (status == LAB_EXIT_OK && t.failed)
        status = LAB_EXIT_EXPECT;
    for (size_t i = 0; i < nfiles; i++)
        lab_scenario_free(scs[i]);
    free(scs);
    free(t.runs);
    free(t.out);
    fflush(stdout);
    return status;
}

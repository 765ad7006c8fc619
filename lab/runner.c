/* runner.c - `distlab run | check` after the options: loading and checking every
 * scenario before running any, running (on N threads), progress on a terminal, results,
 * plots, the PASS/FAIL report, and the exit status. */
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

/* ---- Progress --------------------------------------------------------------------- */

struct progress {
    pthread_mutex_t mu;
    bool on;
    const char *name;
    size_t total, done;
    double *frac;
    double start, last;
};

static void progress_show(struct progress *p, bool force)
{
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
    pthread_mutex_lock(&p->mu);
    /* The workload and lab_sim_run may both report: show the furthest. */
    if (fraction > p->frac[run->spec->index])
        p->frac[run->spec->index] = fraction;
    progress_show(p, false);
    pthread_mutex_unlock(&p->mu);
}

/* ---- Executing a scenario's runs -------------------------------------------------- */

struct exec {
    const struct lab_scenario *sc;
    size_t nruns;
    bool check; /* check each run's expectations (not for control runs) */
    const struct lab_shard *shard; /* NULL: every run */
    struct lab_run *runs;
    int *rcs;
    size_t next;
    bool stop;
    pthread_mutex_t mu;
    struct progress *prog;
};

static void *worker(void *arg)
{
    struct exec *x = arg;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        size_t i = x->next++;
        bool stop = x->stop || i >= x->nruns;
        pthread_mutex_unlock(&x->mu);
        if (stop)
            break;
        if (!lab_shard_owns(x->shard, i))
            continue;
        int rc = lab_run_exec(&x->runs[i]);
        x->rcs[i] = rc;
        if (rc < 0) {
            pthread_mutex_lock(&x->mu);
            x->stop = true;
            pthread_mutex_unlock(&x->mu);
        } else if (x->check) {
            lab_run_check(&x->runs[i]);
        }
        if (x->prog->on) {
            pthread_mutex_lock(&x->prog->mu);
            x->prog->frac[i] = 0;
            x->prog->done++;
            progress_show(x->prog, false);
            pthread_mutex_unlock(&x->prog->mu);
        }
    }
    return NULL;
}

/* Run worker() on 'jobs' threads (in this one when it is 1 or no thread starts). */
static void run_workers(struct exec *x, int jobs)
{
    if (jobs <= 1) {
        worker(x);
        return;
    }
    pthread_t *t = calloc((size_t)jobs, sizeof(*t));
    if (!t)
        abort();
    int started = 0;
    for (int i = 0; i < jobs; i++)
        if (pthread_create(&t[i], NULL, worker, x) == 0)
            started++;
    if (!started)
        worker(x);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    free(t);
}

/* Execute the runs of specs[0..n) into runs[] (spec i has index i), those of them that
 * the shard owns (NULL: all). */
static int execute(const struct lab_scenario *sc, const struct lab_runspec *const *specs, size_t n,
                   struct lab_run *runs, int jobs, bool progress, bool check,
                   const struct lab_shard *s)
{
    size_t owned = 0;
    for (size_t i = 0; i < n; i++)
        owned += lab_shard_owns(s, i);
    struct progress prog = {
        .on = progress && owned, .name = sc->name, .total = owned, .start = now_s()};
    pthread_mutex_init(&prog.mu, NULL);
    size_t nfrac = n;
    for (size_t i = 0; i < n; i++)
        nfrac = specs[i]->index >= nfrac ? specs[i]->index + 1 : nfrac;
    prog.frac = calloc(nfrac + 1, sizeof(double));
    int *rcs = calloc(n + 1, sizeof(int));
    if (!prog.frac || !rcs)
        abort();
    for (size_t i = 0; i < n; i++) {
        lab_run_init(&runs[i], sc, specs[i], sc->world);
        if (prog.on) {
            runs[i].progress = on_progress;
            runs[i].progress_user = &prog;
        }
    }
    struct exec x = {.sc = sc, .nruns = n, .check = check, .shard = s, .runs = runs,
                     .rcs = rcs, .prog = &prog};
    pthread_mutex_init(&x.mu, NULL);
    run_workers(&x, jobs > (int)owned ? (int)owned : jobs);
    if (prog.on) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    int status = LAB_EXIT_OK;
    for (size_t i = 0; i < n && !status; i++) {
        if (rcs[i] < 0) {
            status = runs[i].status;
            fprintf(stderr, "%s\n", runs[i].fail);
        }
    }
    pthread_mutex_destroy(&x.mu);
    pthread_mutex_destroy(&prog.mu);
    free(prog.frac);
    free(rcs);
    return status;
}

int lab_execute_shard(const struct lab_scenario *sc, struct lab_run *runs,
                      const struct lab_shard *s, int jobs, bool progress)
{
    const struct lab_runspec **specs = calloc(sc->nruns + 1, sizeof(*specs));
    if (!specs)
        abort();
    for (size_t i = 0; i < sc->nruns; i++)
        specs[i] = &sc->runs[i];
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

/* What the runner carries from one scenario to the next. */
struct tally {
    bool warned_gnuplot;
    size_t failed;
    size_t scenarios;
    double run_s, out_s; /* wall seconds executing runs, and writing results and plots */
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

/* Where a scenario's time went: executing its runs (from t0 to t1) and writing what they
 * left (from t1 to now), in wall seconds, and the CPU seconds of both since cpu0. */
struct timing {
    double t0, t1, cpu0;
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
    lab_signals_hold(&held);
    int rc = write_sets(sc, runs, o, rdir, pdir, t, err);
    lab_signals_release(&held);
    if (!rc) {
        size_t passed, failed = report(sc, runs, o->check && !o->quiet, &passed);
        t->failed += failed;
        double out_s = now_s() - tm->t1, cpu = cpu_s() - tm->cpu0;
        t->scenarios++;
        t->run_s += tm->t1 - tm->t0;
        t->out_s += out_s;
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
    struct tally t = {0};
    struct lab_err err = {.status = LAB_EXIT_WRITE};
    double now = now_s(); /* the runs were executed elsewhere (merge: by the slices) */
    struct timing tm = {.t0 = now, .t1 = now, .cpu0 = cpu_s()};
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

/* Execute one loaded scenario, write what it left and report. Returns an exit status. */
static int run_scenario(const struct lab_scenario *sc, const struct lab_runner_opts *o,
                        const struct lab_load_opts *lo, struct tally *t)
{
    struct lab_run *runs = calloc(sc->nruns, sizeof(*runs));
    if (!runs)
        abort();
    int jobs = o->jobs;
    if (jobs <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = sc->world == LAB_WORLD_LIVE || cpus < 1 ? 1 : cpus > 1024 ? 1024 : (int)cpus;
    }
    struct timing tm = {.t0 = now_s(), .cpu0 = cpu_s()};
    int status = lab_execute_shard(sc, runs, &o->shard, jobs, !o->quiet && isatty(STDERR_FILENO));
    tm.t1 = now_s();
    if (status == LAB_EXIT_OK) {
        struct lab_err err = {.status = LAB_EXIT_WRITE};
        if (o->shard.n ? write_partial(sc, runs, o, lo, t, &err)
                       : write_and_report(sc, runs, o, t, &tm, &err)) {
            fprintf(stderr, "distlab: %s\n", err.msg);
            status = err.status;
        }
    }
    if (status == LAB_EXIT_OK && o->controls)
        status = run_controls(sc, runs, o, jobs, t);
    for (size_t r = 0; r < sc->nruns; r++)
        lab_run_cleanup(&runs[r]);
    free(runs);
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

int lab_runner(const char *const *files, size_t nfiles, const struct lab_runner_opts *o)
{
    struct lab_scenario **scs = calloc(nfiles + 1, sizeof(*scs));
    if (!scs)
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
    struct tally t = {0};
    for (size_t i = 0; i < nfiles && status == LAB_EXIT_OK; i++)
        status = run_scenario(scs[i], o, &lo, &t);
    if (!o->quiet && t.scenarios > 1)
        printf("%zu scenarios; %.2f s (runs %.2f s, output %.2f s), %.2f s CPU\n", t.scenarios,
               t.run_s + t.out_s, t.run_s, t.out_s, cpu_s());
    if (status == LAB_EXIT_OK && t.failed)
        status = LAB_EXIT_EXPECT;
    for (size_t i = 0; i < nfiles; i++)
        lab_scenario_free(scs[i]);
    free(scs);
    fflush(stdout);
    return status;
}

/* workloads_test.c - the lab tests' own workload table: small workloads that exercise
 * every kind of parameter and metric, failures with each errno, and a simulated world
 * with nodes and faults, so the lab is tested without any primitive's workload. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/hist.h"
#include "lab/lab.h"
#include "lab/series.h"
#include "rng/rng.h"
#include "sim/sim.h"
#include "workloads_test.h"

static const struct lab_param compute_params[] = {
    {"n", LAB_INT, "4", 1, 64, NULL, "entities"},
    {"samples", LAB_INT, "2000", 1, 1e7, NULL, "draws"},
    {"rate", LAB_FLOAT, "0.5", 0, 1, NULL, "a probability"},
    {"fast", LAB_BOOL, "false", 1, 0, NULL, "a flag"},
    {"wait", LAB_DURATION, "10ms", 0, 10e9, NULL, "a duration"},
    {"mode", LAB_ENUM, "a", 1, 0, "a|b|c", "a choice"},
    {"label", LAB_STRING, "x", 1, 0, NULL, "a name"},
    {"weights", LAB_LIST, "[1, 2, 3]", 0, 100, NULL, "numbers"},
    {"fail", LAB_ENUM, "none", 1, 0, "none|input|refused|unreachable|other|bug|skip",
     "fail this way (skip: leave the run out)"},
    {0},
};

/* Draws 'samples' uniform picks among n entities and records every kind of metric. */
static int compute_run(struct lab_run *run)
{
    if (lab_list_len(run, "weights") > 10) /* the workload's own rule, for the tests */
        return lab_fail_param(run, "weights", "weights has %zu entries: at most 10",
                          lab_list_len(run, "weights"));
    const char *fail = lab_str(run, "fail");
    if (!strcmp(fail, "input")) {
        lab_fail(run, "bad input on purpose");
        return -EINVAL;
    }
    if (!strcmp(fail, "refused")) {
        lab_fail(run, "cannot connect to 127.0.0.1:1");
        return -ECONNREFUSED;
    }
    if (!strcmp(fail, "unreachable")) {
        lab_fail(run, "no route");
        return -EHOSTUNREACH;
    }
    if (!strcmp(fail, "other"))
        return -EIO;
    if (!strcmp(fail, "skip")) {
        lab_skip(run, "fail", "this world cannot serve it");
        return 0;
    }
    if (!strcmp(fail, "bug"))
        (void)lab_int(run, "no_such_param");
    size_t n = (size_t)lab_int(run, "n");
    int64_t samples = lab_int(run, "samples");
    struct rng r;
    rng_seed(&r, lab_seed(run));
    double *counts = calloc(n, sizeof(double)), *theory = calloc(n, sizeof(double));
    double *m = calloc(n * n, sizeof(double));
    struct hist *h = lab_hist(run, "lat", "ns");
    struct series *s = lab_series(run, "rps", 100000000, "req");
    for (int64_t i = 0; i < samples; i++) {
        size_t k = rng_below(&r, n);
        counts[k]++;
        m[k * n + rng_below(&r, n)] += 1.0 / (double)samples * (double)n;
        /* Exponential latencies, mean 1 ms. */
        hist_add(h, (int64_t)(-log(1 - rng_double(&r)) * 1e6));
        series_add(s, i * (lab_duration_total(run) / samples), 1);
    }
    for (size_t k = 0; k < n; k++)
        theory[k] = 1.0 / (double)n;
    double share[64];
    for (size_t k = 0; k < n; k++)
        share[k] = counts[k] / (double)samples;
    lab_metric_array(run, "counts", counts, n);
    lab_metric_array(run, "share", share, n);
    lab_metric_array(run, "theory", theory, n);
    lab_metric_matrix(run, "m", m, n, n);
    lab_metric(run, "total", (double)samples);
    lab_metric(run, "n", (double)n);
    lab_metric(run, "rate", lab_float(run, "rate"));
    lab_metric(run, "wait_ns", (double)lab_duration(run, "wait"));
    lab_metric(run, "fast", lab_bool(run, "fast"));
    lab_metric(run, "weights_sum", lab_list_float(run, "weights", 0) +
                                       (lab_list_len(run, "weights") > 1
                                            ? lab_list_float(run, "weights", 1) : 0));
    lab_metric(run, "first", counts[0]);
    lab_note(run, "mode %s, label %s", lab_str(run, "mode"), lab_str(run, "label"));
    lab_text(run, "doc.md", "n %zu", n);
    lab_text(run, "doc.md", ", mode %s\n", lab_str(run, "mode"));
    if (!strcmp(lab_str(run, "label"), "bad-doc"))
        lab_text(run, "../escape", "x");
    free(counts);
    free(theory);
    free(m);
    return 0;
}

const struct lab_workload test_wl_compute = {
    .name = "test/compute",
    .about = "uniform picks: every metric kind",
    .params = compute_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = compute_run,
};

/* ---- A simulated world: one ticking actor per node ------------------------------- */

struct ticks {
    double count[16];
};

static void ticker(struct env *e, void *arg)
{
    struct ticks *t = arg;
    int node = sim_env_node(e);
    for (;;) {
        env_sleep(e, 10 * SIM_MS);
        t->count[node]++;
    }
}

static const struct lab_param sim_params[] = {
    {"nodes", LAB_INT, "3", 1, 16, NULL, "nodes, named n0, n1, ..."},
    {0},
};

struct sim_wl {
    struct ticks *t;
    int n;
    struct sim *sim;
};

static int sim_build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct sim_wl *w = arg;
    for (int i = 0; i < w->n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        int id = sim_node_add(sim, name, lab_world_cores(run));
        sim_node_main(sim, id, "ticker", ticker, w->t);
    }
    w->sim = sim;
    return 0;
}

static int sim_record(struct lab_run *run, void *arg)
{
    struct sim_wl *w = arg;
    lab_metric_array(run, "ticks", w->t->count, (size_t)w->n);
    lab_metric(run, "now_ns", (double)sim_now(w->sim));
    lab_metric(run, "hash", (double)(sim_hash(w->sim) >> 12));
    return 0;
}

static int sim_run_wl(struct lab_run *run)
{
    struct sim_wl w = {.t = calloc(1, sizeof(struct ticks)), .n = (int)lab_int(run, "nodes")};
    int rc = lab_sim_run(run, &w, sim_build, sim_record);
    /* The world has ended: no ticker uses t any more. */
    lab_note(run, "%d nodes", w.n);
    free(w.t);
    return rc;
}

const struct lab_workload test_wl_sim = {
    .name = "test/sim",
    .about = "a ticking actor on each node",
    .params = sim_params,
    .worlds = LAB_WORLD_SIM,
    .run = sim_run_wl,
};

/* ---- Actors that never finish: waiting on a condition in the workload's memory ---- */

struct waiters {
    struct env_mutex mu;
    struct env_cond cv;
    int n, gone;
};

static void waiter_gone(void *arg)
{
    ((struct waiters *)arg)->gone++;
}

static void waiter(struct env *e, void *arg)
{
    struct waiters *w = arg;
    sim_env_atexit(e, waiter_gone, w);
    env_mutex_lock(e, &w->mu);
    for (;;)
        env_cond_wait(e, &w->cv, &w->mu, -1);
}

static void waiters_main(struct env *e, void *arg)
{
    struct waiters *w = arg;
    if (env_mutex_init(e, &w->mu) < 0 || env_cond_init(e, &w->cv) < 0)
        return;
    for (int i = 0; i < w->n; i++) {
        uint64_t h;
        env_spawn(e, "waiter", waiter, w, &h);
    }
}

static int waiters_build(struct lab_run *run, struct sim *sim, void *arg)
{
    int node = sim_node_add(sim, "n0", 1);
    return node < 0 ? node : sim_node_main(sim, node, "main", waiters_main, arg);
}

static int waiters_record(struct lab_run *run, void *arg)
{
    return 0;
}

/* The waiters are still waiting when the run ends: they must be gone (their exit
 * handlers run) by the time lab_sim_run returns, before the workload frees their
 * condition. "gone" records how many were. */
static int waiters_run(struct lab_run *run)
{
    struct waiters *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->n = (int)lab_int(run, "n");
    int rc = lab_sim_run(run, w, waiters_build, waiters_record);
    if (rc == 0)
        lab_metric(run, "gone", w->gone);
    free(w);
    return rc;
}

static const struct lab_param waiters_params[] = {
    {"n", LAB_INT, "8", 1, 1000, NULL, "actors waiting forever"},
    {0},
};

const struct lab_workload test_wl_waiters = {
    .name = "test/waiters",
    .about = "actors that wait forever on a condition the workload owns",
    .params = waiters_params,
    .worlds = LAB_WORLD_SIM,
    .run = waiters_run,
};

static int live_run(struct lab_run *run)
{
    lab_metric(run, "ok", 1);
    return 0;
}

const struct lab_workload test_wl_live = {
    .name = "test/live-only",
    .about = "runs in the live world only",
    .params = NULL,
    .worlds = LAB_WORLD_LIVE,
    .run = live_run,
};

static const struct lab_param required_params[] = {
    {"x", LAB_INT, NULL, 1, 0, NULL, "a required integer"},
    {0},
};

const struct lab_workload test_wl_required = {
    .name = "test/required",
    .about = "has a parameter without a default",
    .params = required_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = live_run,
};

/* ---- One workload run as another (lab_run_as) and a table (lab_table) ------------------ */

static const struct lab_param as_params[] = {
    {"n", LAB_INT, "3", 1, 64, NULL, "passed on to test/compute (the same name and type)"},
    {"mode", LAB_INT, "1", 0, 9, NULL, "not passed on: test/compute's mode is an enum"},
    {"bad", LAB_BOOL, "false", 1, 0, NULL, "set a parameter test/compute does not have"},
    {0},
};

static int as_run(struct lab_run *run)
{
    const char *set[] = {lab_bool(run, "bad") ? "nope=1" : "samples=100", NULL};
    int rc = lab_run_as(run, &test_wl_compute, set, NULL, 0, "n");
    if (rc < 0)
        return rc;
    double total = 0;
    if (!lab_metric_get(run, "total", &total) || lab_metric_get(run, "no_such", &total)) {
        lab_fail(run, "lab_metric_get");
        return -EIO;
    }
    lab_table(run, "t.csv", "n,total\n", "%d,%g\n", (int)lab_int(run, "n"), total);
    return 0;
}

const struct lab_workload test_wl_as = {
    .name = "test/as",
    .about = "test/compute run through lab_run_as, a row of a table",
    .params = as_params,
    .worlds = LAB_WORLD_SIM,
    .run = as_run,
};

const struct lab_workload *const lab_workloads[] = {
    &test_wl_compute,
    &test_wl_sim,
    &test_wl_live,
    &test_wl_required,
    &test_wl_waiters,
    &test_wl_as,
    NULL,
};

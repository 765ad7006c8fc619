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

static int sim_run_wl(struct lab_run *run)
{
    struct sim *sim = lab_sim_begin(run);
    if (!sim)
        return -EINVAL;
    struct ticks *t = calloc(1, sizeof(*t));
    int n = (int)lab_int(run, "nodes");
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        int id = sim_node_add(sim, name, lab_world_cores(run));
        sim_node_main(sim, id, "ticker", ticker, t);
    }
    int rc = lab_sim_go(run, 0);
    if (rc == 0) {
        lab_metric_array(run, "ticks", t->count, (size_t)n);
        lab_metric(run, "now_ns", (double)sim_now(sim));
        lab_metric(run, "hash", (double)(sim_hash(sim) >> 12));
    }
    /* The world is destroyed by the lab after run() returns; actors hold t. */
    lab_note(run, "%d nodes", n);
    free(t);
    return rc;
}

const struct lab_workload test_wl_sim = {
    .name = "test/sim",
    .about = "a ticking actor on each node",
    .params = sim_params,
    .worlds = LAB_WORLD_SIM,
    .run = sim_run_wl,
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

const struct lab_workload *const lab_workloads[] = {
    &test_wl_compute,
    &test_wl_sim,
    &test_wl_live,
    &test_wl_required,
    NULL,
};

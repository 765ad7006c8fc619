/* test_inproc_workload.c - the lock/counter, lock/trylock and lock/contention workloads
 * through the lab, on the committed scenario files: a simulated run replays from its
 * seed metric for metric, the simulated scenarios meet their own expectations, and the
 * live world runs the same workloads with exact counts. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/hist.h"
#include "lab/run.h"
#include "lab/scenario.h"

extern const struct lab_workload lab_wl_lock_counter, lab_wl_lock_trylock, lab_wl_lock_contention;
const struct lab_workload *const lab_workloads[] = {&lab_wl_lock_counter, &lab_wl_lock_trylock,
                                                    &lab_wl_lock_contention, NULL};

static struct lab_scenario *load(const char *name, unsigned world, const char *const *sets,
                                 size_t nsets, const char *seed)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/scenarios/%s", LOCK_TEST_SOURCE_ROOT, name);
    struct lab_load_opts o = {.world = world, .sets = sets, .nsets = nsets};
    if (seed) {
        o.has_seed = true;
        o.seed = strtoull(seed, NULL, 10);
    }
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, &o, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    return sc;
}

static void exec(struct lab_run *r, const struct lab_scenario *sc, size_t i, unsigned world)
{
    lab_run_init(r, sc, &sc->runs[i], world);
    cr_assert_eq(lab_run_exec(r), 0, "run %zu: %s", i, r->fail ? r->fail : "");
}

static bool same_metrics(const struct lab_run *a, const struct lab_run *b)
{
    if (a->nmetrics != b->nmetrics)
        return false;
    for (size_t i = 0; i < a->nmetrics; i++) {
        const struct lab_metric *x = &a->metrics[i], *y = lab_run_metric(b, x->name);
        if (!y || x->kind != y->kind)
            return false;
        if (x->kind == LAB_M_SCALAR && memcmp(&x->scalar, &y->scalar, sizeof(double)))
            return false;
        if (x->kind == LAB_M_ARRAY && (x->n != y->n || memcmp(x->v, y->v, x->n * sizeof(double))))
            return false;
        if (x->kind == LAB_M_HIST && (hist_count(x->hist) != hist_count(y->hist) ||
                                      hist_mean(x->hist) != hist_mean(y->hist) ||
                                      hist_quantile(x->hist, 0.99) != hist_quantile(y->hist, 0.99)))
            return false;
    }
    return true;
}

/* Every run of the scenario twice with one seed: identical metrics. Returns how many
 * runs differed under seed 'other' (for the caller to judge). */
static int replay(const char *name, const char *const *sets, size_t nsets, size_t every)
{
    struct lab_scenario *s1 = load(name, LAB_WORLD_SIM, sets, nsets, "11");
    struct lab_scenario *s2 = load(name, LAB_WORLD_SIM, sets, nsets, "12");
    int differ = 0;
    for (size_t i = 0; i < s1->nruns; i += every) {
        struct lab_run a, b, c;
        exec(&a, s1, i, LAB_WORLD_SIM);
        exec(&b, s1, i, LAB_WORLD_SIM);
        exec(&c, s2, i, LAB_WORLD_SIM);
        cr_assert(same_metrics(&a, &b), "%s run %zu: same seed, other metrics", name, i);
        differ += !same_metrics(&a, &c);
        lab_run_cleanup(&a);
        lab_run_cleanup(&b);
        lab_run_cleanup(&c);
    }
    lab_scenario_free(s1);
    lab_scenario_free(s2);
    return differ;
}

Test(lock_workload, simulated_scenarios_replay_from_their_seed)
{
    replay("lock_mutex_counter.yaml", NULL, 0, 1);
    replay("lock_trylock_single.yaml", (const char *const[]){"rounds=20"}, 1, 1);
    /* Shortened; the backoff runs draw their jitter from the seed, so another seed must
     * change some of them. */
    int differ = replay("lock_livelock.yaml", (const char *const[]){"run_for=100ms"}, 1, 5);
    cr_assert_gt(differ, 0, "another seed changed no run: is the jitter seeded?");
}

/* Runs every run of a scenario in the simulation and checks its own expectations. */
static void meets_expectations(const char *name)
{
    struct lab_scenario *sc = load(name, LAB_WORLD_SIM, NULL, 0, NULL);
    size_t checks = 0;
    for (size_t i = 0; i < sc->nruns; i++) {
        struct lab_run r;
        exec(&r, sc, i, LAB_WORLD_SIM);
        lab_run_check(&r);
        for (size_t j = 0; j < r.nchecks; j++) {
            const struct lab_check *c = &r.checks[j];
            cr_expect(c->ok, "%s run %zu: %s (actual %g, expected %g) %s", name, i, c->x->text,
                      c->actual, c->expected, c->message ? c->message : "");
        }
        checks += r.nchecks;
        lab_run_cleanup(&r);
    }
    cr_assert_gt(checks, sc->nruns, "%s: the expectations must apply", name);
    lab_scenario_free(sc);
}

Test(lock_workload, mutex_counter_meets_its_expectations_simulated)
{
    meets_expectations("lock_mutex_counter.yaml");
}

Test(lock_workload, trylock_single_meets_its_expectations_simulated)
{
    meets_expectations("lock_trylock_single.yaml");
}

Test(lock_workload, livelock_meets_its_expectations_simulated, .timeout = 600)
{
    meets_expectations("lock_livelock.yaml");
}

static double scalar(const struct lab_run *r, const char *name)
{
    const struct lab_metric *m = lab_run_metric(r, name);
    cr_assert_not_null(m, "metric %s not recorded", name);
    return m->scalar;
}

/* The livelock model's exact points in the simulation: below the cores every spinner
 * runs alone, and the mutex is the lock's own limit. */
Test(lock_workload, contention_matches_the_model_where_it_is_exact)
{
    struct lab_scenario *sc =
        load("lock_livelock.yaml", LAB_WORLD_SIM, (const char *const[]){"run_for=200ms"}, 1, NULL);
    for (size_t i = 0; i < sc->nruns; i++) {
        struct lab_run r;
        lab_run_init(&r, sc, &sc->runs[i], LAB_WORLD_SIM);
        const char *lock = lab_run_key_text(sc, &sc->runs[i], "lock");
        const char *k = lab_run_key_text(sc, &sc->runs[i], "contenders");
        if (strcmp(k, "1") && strcmp(k, "2") && strcmp(lock, "mutex")) {
            lab_run_cleanup(&r);
            continue;
        }
        cr_assert_eq(lab_run_exec(&r), 0, "%s", r.fail ? r.fail : "");
        double x = scalar(&r, "throughput"), th = scalar(&r, "theory_throughput");
        cr_assert(fabs(x - th) <= 0.002 * th, "%s k=%s: %g against %g", lock, k, x, th);
        cr_assert_eq(scalar(&r, "lost_updates"), 0);
        if (!strcmp(lock, "mutex"))
            cr_assert_eq(scalar(&r, "wasted_cpu_share"), 0, "a blocked waiter costs no CPU");
        lab_run_cleanup(&r);
    }
    lab_scenario_free(sc);
}

/* The live world: same workloads on threads. Only exactness is asserted. */
Test(lock_workload, live_runs_count_exactly)
{
    struct lab_scenario *sc = load("lock_mutex_counter.yaml", LAB_WORLD_LIVE,
                                   (const char *const[]){"workers=200"}, 1, NULL);
    for (size_t i = 0; i < sc->nruns; i++) {
        struct lab_run r;
        exec(&r, sc, i, LAB_WORLD_LIVE);
        const char *g = lab_run_key_text(sc, &sc->runs[i], "guard");
        cr_assert_eq(scalar(&r, "successes"), 200);
        if (!strcmp(g, "mutex"))
            cr_assert_eq(scalar(&r, "final_count"), 200);
        else
            cr_assert(scalar(&r, "final_count") >= 1 && scalar(&r, "final_count") <= 200);
        lab_run_cleanup(&r);
    }
    lab_scenario_free(sc);
    sc = load("lock_trylock_single.yaml", LAB_WORLD_LIVE, (const char *const[]){"rounds=20"}, 1,
              NULL);
    for (size_t i = 0; i < sc->nruns; i++) {
        struct lab_run r;
        exec(&r, sc, i, LAB_WORLD_LIVE);
        if (!strcmp(lab_run_key_text(sc, &sc->runs[i], "release"), "round"))
            cr_assert_eq(scalar(&r, "winners_max"), 1);
        cr_assert(scalar(&r, "winners_min") >= 1);
        cr_assert_eq(scalar(&r, "lost_updates"), 0);
        lab_run_cleanup(&r);
    }
    lab_scenario_free(sc);
    sc = load("lock_livelock.yaml", LAB_WORLD_LIVE, (const char *const[]){"live_run_for=20ms"}, 1,
              NULL);
    for (size_t i = 0; i < sc->nruns; i += 4) {
        struct lab_run r;
        exec(&r, sc, i, LAB_WORLD_LIVE);
        cr_assert_eq(scalar(&r, "lost_updates"), 0);
        cr_assert_eq(scalar(&r, "final_count"), scalar(&r, "successes"));
        lab_run_cleanup(&r);
    }
    lab_scenario_free(sc);
}

Test(lock_workload, a_run_cut_short_frees_nothing_under_its_waiting_workers)
{
    /* 1000 workers x 10^6 increments cannot finish in 10 ms: when the run ends, workers
     * still wait on the counter's mutex. The world must end before the workload frees
     * the counter (ASan once found the workers' queue written after the free). */
    const char *sets[] = {"increments=1000000", "duration=10ms", "sweep.guard=[mutex]"};
    struct lab_scenario *sc = load("lock_mutex_counter.yaml", LAB_WORLD_SIM, sets, 3, NULL);
    struct lab_run r;
    lab_run_init(&r, sc, &sc->runs[0], LAB_WORLD_SIM);
    cr_expect_lt(lab_run_exec(&r), 0);
    cr_assert_not_null(r.fail);
    cr_expect_not_null(strstr(r.fail, "did not finish within the scenario's duration"), "%s",
                       r.fail);
    lab_run_cleanup(&r);
    lab_scenario_free(sc);
}

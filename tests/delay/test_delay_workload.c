/* test_delay_workload.c - the delay workloads end to end: the committed scenarios run and
 * every expectation in them holds, a run replays from its seed, and the cluster's run
 * writes the seed's table before and after into placement.md. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/run.h"
#include "lab/scenario.h"

extern const struct lab_workload lab_wl_delay_timers, lab_wl_delay_dispatch, lab_wl_delay_cluster,
    lab_wl_delay_rebalance, lab_wl_delay_rqueue;
const struct lab_workload *const lab_workloads[] = {&lab_wl_delay_timers,  &lab_wl_delay_dispatch,
                                                    &lab_wl_delay_cluster, &lab_wl_delay_rebalance,
                                                    &lab_wl_delay_rqueue,  NULL};

static struct lab_scenario *load(const char *name)
{
    const char *root = getenv("DISTLAB_SOURCE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/scenarios/%s", root ? root : ".", name);
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    return sc;
}

/* Run every run of the scenario and assert each of its expectations. */
static void all_expectations_hold(const char *name)
{
    struct lab_scenario *sc = load(name);
    size_t checked = 0;
    for (size_t i = 0; i < sc->nruns; i++) {
        struct lab_run run;
        lab_run_init(&run, sc, &sc->runs[i], LAB_WORLD_SIM);
        cr_assert_eq(lab_run_exec(&run), 0, "%s run %zu: %s", name, i, run.fail ? run.fail : "");
        lab_run_check(&run);
        for (size_t c = 0; c < run.nchecks; c++) {
            const struct lab_check *k = &run.checks[c];
            cr_assert(k->ok, "%s run %zu: expectation failed (actual %g, expected %g) %s", name, i,
                      k->actual, k->expected, k->message ? k->message : "");
            checked++;
        }
        lab_run_cleanup(&run);
    }
    cr_assert_gt(checked, 0);
    lab_scenario_free(sc);
}

Test(delay_workload, timer_structures_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_timer_structures.yaml");
}

Test(delay_workload, dispatch_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_dispatch.yaml");
}

Test(delay_workload, broker_crash_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_broker_crash.yaml");
}

/* The same run twice gives the same measurements. */
Test(delay_workload, dispatch_replays_from_its_seed)
{
    struct lab_scenario *sc = load("delay_broker_crash.yaml");
    double v[2][3];
    for (int k = 0; k < 2; k++) {
        struct lab_run run;
        lab_run_init(&run, sc, &sc->runs[sc->nruns - 1], LAB_WORLD_SIM);
        cr_assert_eq(lab_run_exec(&run), 0);
        const struct lab_metric *lat = lab_run_metric(&run, "lateness");
        cr_assert_not_null(lat);
        v[k][0] = lab_run_metric(&run, "lost")->scalar;
        v[k][1] = lab_run_metric(&run, "retries")->scalar;
        v[k][2] = hist_mean(lat->hist);
        lab_run_cleanup(&run);
    }
    cr_assert_eq(memcmp(v[0], v[1], sizeof v[0]), 0);
    lab_scenario_free(sc);
}

Test(delay_workload, rebalance_seed_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_rebalance_seed.yaml");
}

Test(delay_workload, partitioned_primary_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_partitioned_primary.yaml");
}

Test(delay_workload, detector_timeout_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_detector_timeout.yaml");
}

Test(delay_workload, scale_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_scale.yaml");
}

Test(delay_workload, redis_redelivery_scenario_holds, .timeout = 600)
{
    all_expectations_hold("delay_redis_redelivery.yaml");
}

/* placement.md holds the seed's rows, the rebalanced ones, and says where they differ. */
Test(delay_workload, the_seed_run_writes_its_tables)
{
    struct lab_scenario *sc = load("delay_rebalance_seed.yaml");
    struct lab_run run;
    lab_run_init(&run, sc, &sc->runs[0], LAB_WORLD_SIM);
    cr_assert_eq(lab_run_exec(&run), 0, "%s", run.fail ? run.fail : "");
    cr_assert_eq(run.ntexts, 1);
    const char *md = run.texts[0].text;
    cr_assert_str_eq(run.texts[0].name, "placement.md");
    const char *want[] = {
        "| 1 | A b d E |\n| 2 | a C D |\n| 3 | B d e |\n",
        "task C has 0 replicas, want 1; task D has 2 replicas, want 1.",
        "| 1 (lost) | - |\n| 2 | A b C D e |\n| 3 | a B c d E |\n",
        "| 1 (lost) | - |\n| 2 | a b C D E |\n| 3 | A B c d e |\n",
        "0 promoted in place, 2 primaries copied to nodes that held no copy, 2 replicas copied",
        "- task A: the seed makes node 3 the primary, which held no copy of A",
        "- task E: the seed makes node 2 the primary, which held no copy of E",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert_not_null(strstr(md, want[i]), "missing: %s\nin:\n%s", want[i], md);
    lab_run_cleanup(&run);
    lab_scenario_free(sc);
}

/* The cluster's run twice gives the same measurements. */
Test(delay_workload, the_cluster_replays_from_its_seed)
{
    struct lab_scenario *sc = load("delay_partitioned_primary.yaml");
    double v[2][4];
    for (int k = 0; k < 2; k++) {
        struct lab_run run;
        lab_run_init(&run, sc, &sc->runs[0], LAB_WORLD_SIM);
        cr_assert_eq(lab_run_exec(&run), 0);
        const char *names[] = {"duplicate_fires", "stale_executed", "effects", "epoch"};
        for (int i = 0; i < 4; i++)
            v[k][i] = lab_run_metric(&run, names[i])->scalar;
        lab_run_cleanup(&run);
    }
    cr_assert_eq(memcmp(v[0], v[1], sizeof v[0]), 0);
    lab_scenario_free(sc);
}

/* The check pass checks rebalance's parameters and computes nothing: it measures nothing
 * for delay_scale.yaml's million tasks, and with four billion it answers at once (the run
 * would need tens of gigabytes). fuzz-scenario found the check pass of delay_scale.yaml
 * over its 10 s limit under ASan. */
Test(delay_workload, the_check_pass_of_rebalance_computes_nothing)
{
    const char *sets[] = {"workload.tasks=4000000000", NULL};
    for (size_t nsets = 0; nsets < 2; nsets++) {
        struct lab_load_opts opts = {.sets = sets, .nsets = nsets};
        const char *root = getenv("DISTLAB_SOURCE_ROOT");
        char path[4096];
        snprintf(path, sizeof path, "%s/scenarios/delay_scale.yaml", root ? root : ".");
        struct lab_err err;
        struct lab_scenario *sc = lab_scenario_load(path, &opts, &err);
        cr_assert_not_null(sc, "%s", err.msg);
        for (size_t i = 0; i < sc->nruns; i++) {
            struct lab_run run;
            lab_run_init(&run, sc, &sc->runs[i], LAB_WORLD_SIM);
            cr_assert_eq(lab_run_precheck(&run), 0, "run %zu: %s", i, run.fail ? run.fail : "");
            cr_assert_eq(run.nmetrics, 0, "the check pass measured something");
            lab_run_cleanup(&run);
        }
        lab_scenario_free(sc);
    }
}

/* test_delay_workload.c - the delay/timers and delay/dispatch workloads end to end: the
 * committed scenarios run and every expectation in them holds, and a run replays from
 * its seed. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/run.h"
#include "lab/scenario.h"

extern const struct lab_workload lab_wl_delay_timers, lab_wl_delay_dispatch;
const struct lab_workload *const lab_workloads[] = {&lab_wl_delay_timers, &lab_wl_delay_dispatch,
                                                    NULL};

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

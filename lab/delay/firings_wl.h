/* firings_wl.h - what the delay family's cluster workloads share (delay/cluster,
 * delay/rqueue): the timing parameters of periodic tasks, and the book of what the
 * executor saw of each firing, from which a run's firings are judged on time, late or
 * missed. Internal to lab/delay/. */
#ifndef DISTLAB_LAB_DELAY_FIRINGS_WL_H
#define DISTLAB_LAB_DELAY_FIRINGS_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delay/cluster.h"
#include "lab/lab.h"

/* The parameters every periodic-task workload takes, for its lab_param table. */
#define DELAY_FIRING_PARAMS                                                                        \
    {"period", LAB_DURATION, "100ms", 1e6, 3600e9, NULL, "every task fires this often"},           \
        {"first",                                                                                  \
         LAB_DURATION,                                                                             \
         "50ms",                                                                                   \
         0,                                                                                        \
         3600e9,                                                                                   \
         NULL,                                                                                     \
         "task t first fires at first + t x period / tasks"},                                      \
        {"late_after",                                                                             \
         LAB_DURATION,                                                                             \
         "10ms",                                                                                   \
         0,                                                                                        \
         3600e9,                                                                                   \
         NULL,                                                                                     \
         "a firing whose effect comes later than this after its due time is late"},                \
        {"settle",                                                                                 \
         LAB_DURATION,                                                                             \
         "1s",                                                                                     \
         0,                                                                                        \
         3600e9,                                                                                   \
         NULL,                                                                                     \
         "firings due in the run's last `settle` are not judged"},                                 \
    {                                                                                              \
        "bin", LAB_DURATION, "100ms", 1e6, 3600e9, NULL, "time series bin"                         \
    }

/* The tasks and what happened to each of their firings (k per task). */
struct firings {
    uint32_t ntasks;
    struct dc_task *task; /* first firing (cluster wall ns) and period */
    int64_t wall0;        /* the cluster's wall clock at true time 0 */
    int64_t period;
    size_t k;
    uint16_t *effects, *execs; /* firings that took effect; executions, ignored or not */
    int64_t *first_effect;     /* true time of the first effect */
};

/* Read period and first from the run and make the book for ntasks tasks over the run's
 * duration; the tasks' times are set by firings_start. ms: first firings rounded up to
 * whole ms (a store that keeps ms). Returns 0, or -ENOMEM after lab_fail. */
int firings_init(struct firings *f, struct lab_run *run, uint32_t ntasks, bool ms);

/* The tasks' times from the cluster's wall clock at true time 0. */
void firings_start(struct firings *f, struct lab_run *run, int64_t wall0, bool ms);

/* Task t's firing due at 'due' (wall ns) was executed at true time 'now': took effect or
 * was ignored. Out-of-range firings are not recorded. */
void firings_note(struct firings *f, uint32_t t, int64_t due, bool effect, int64_t now);

/* Judge every firing due before the last `settle` of the run: the metrics firings,
 * on_time, late, missed, doubled_effects, worst_lateness, the histogram lateness, and the
 * series on_time_ts, late_ts, missed_ts, doubled_ts (bin `bin`, by due time). */
void firings_record(struct firings *f, struct lab_run *run);

/* The latest first effect among firings due in [from, to] (true ns). */
int64_t firings_worst_in(const struct firings *f, int64_t from, int64_t to);

void firings_free(struct firings *f);

#endif

/* workloads.c - every workload the distlab executable knows, one line each.
 * Each helper adds its workload's extern declaration and its table entry (and appends
 * its source to lab_workload_sources in lab/meson.build). lab_workload_find is in
 * liblab (run.c), so that tests can link liblab with a table of their own. */
#include <stddef.h>

#include "lab/lab.h"

/* extern const struct lab_workload lab_wl_example; */
extern const struct lab_workload lab_wl_lb;
extern const struct lab_workload lab_wl_snowflake;
extern const struct lab_workload lab_wl_lock_counter, lab_wl_lock_trylock, lab_wl_lock_contention;
extern const struct lab_workload lab_wl_delay_timers, lab_wl_delay_dispatch;
extern const struct lab_workload lab_wl_redis_lock;

const struct lab_workload *const lab_workloads[] = {
    /* &lab_wl_example, */
    &lab_wl_lb,
    &lab_wl_snowflake,
    &lab_wl_lock_counter, &lab_wl_lock_trylock, &lab_wl_lock_contention,
    &lab_wl_delay_timers, &lab_wl_delay_dispatch,
    &lab_wl_redis_lock,
    NULL,
};

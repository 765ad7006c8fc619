/* The lock/redis workload end to end, through the CLI in-process: a simulated run replays
 * from its seed, a live run against a server that cannot be reached exits 3 and writes
 * nothing, a scenario the live world cannot run is an input error, and a short live run
 * against a redis-server the workload starts itself counts acquisitions and no overlap. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "../lab/workloads_test.h"

extern const struct lab_workload lab_wl_redis_lock;
const struct lab_workload *const lab_workloads[] = {&lab_wl_redis_lock, NULL};

static const char *pause_scenario =
    "name: rl\n"
    "duration: 4s\n"
    "world:\n  network: { latency: 500us, jitter: 200us }\n"
    "workload:\n  primitive: lock/redis\n  algorithm: safe\n  clients: 4\n  ttl: 500ms\n"
    "  hold: 300ms\n  holder_fault: pause\n  fault_at: 1s\n  fault_for: 1s\n"
    "expect:\n  - { metric: overlaps, op: \">=\", value: 1 }\n";

/* Metric 'name' of the first run of dir/out/rl. */
static double metric(const char *dir, const char *name)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/out", dir);
    double v = t_metric(out, "rl", 0, name);
    cr_assert(!isnan(v), "no metric %s", name);
    return v;
}

Test(redis_workload, a_simulated_run_replays_from_its_seed)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "rl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *a = t_runs_text(out, "rl");
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *b = t_runs_text(out, "rl");
    cr_assert(a && b);
    cr_assert_str_eq(a, b);
    cr_assert_geq(metric(dir, "overlaps"), 1);
    cr_assert_gt(metric(dir, "acquisitions"), 4);
    free(a);
    free(b);
    free(path);
    t_cleanup(dir);
}

Test(redis_workload, an_unreachable_server_exits_3_and_writes_nothing)
{
    char *dir = t_tmpdir(), out[512], summary[600];
    char *path = t_write(dir, "rl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    int rc = t_distlab(dir, "run", "--world", "live", "--set",
                       "world.redis=unix:/tmp/distlab-no-such-dir/redis.sock", "--out", out,
                       path, NULL);
    cr_assert_eq(rc, 3);
    snprintf(summary, sizeof(summary), "%s/rl/summary.json", out);
    cr_assert_neq(access(summary, F_OK), 0, "a result was written");
    char *err = t_read_in(dir, "err.txt");
    cr_assert(err && strstr(err, "cannot reach Redis"), "%s", err ? err : "");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(redis_workload, a_server_clock_step_is_not_for_the_live_world)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "rl.yaml",
                         "name: rl\nduration: 1s\n"
                         "workload:\n  primitive: lock/redis\n  holder_fault: clock-step\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", "--world", "live", "--out", out, path, NULL), 2);
    char *err = t_read_in(dir, "err.txt");
    cr_assert(err && strstr(err, "does not run in the live world"), "%s", err ? err : "");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(redis_workload, a_short_live_run_against_its_own_server)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "rl.yaml",
                         "name: rl\nduration: 1s\n"
                         "workload:\n  primitive: lock/redis\n  algorithm: fenced\n"
                         "  clients: 4\n  hold: 2ms\n"
                         "expect:\n  - { metric: overlaps, op: \"==\", value: 0 }\n"
                         "  - { metric: lost_updates, op: \"==\", value: 0 }\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--world", "live", "--out", out, path, NULL), 0);
    double n = metric(dir, "acquisitions");
    cr_assert_gt(n, 50, "%g acquisitions in 1 s of 2 ms holds", n);
    cr_assert_eq(metric(dir, "counter"), metric(dir, "writes"));
    free(path);
    t_cleanup(dir);
}

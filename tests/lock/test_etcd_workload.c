/* The lock/etcd workload end to end, through the CLI in-process: a simulated run replays
 * from its seed; what etcd cannot take is an input error at the value's file:line:col
 * (a key that is not a key, a TTL in fractions of a second or above etcd's maximum) with
 * exit 2 and no result; a history compacted under the waiters is counted as cancelled
 * watches, and the run ends instead of hanging. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lab/workloads_test.h"
#include "lab/lab.h"

extern const struct lab_workload lab_wl_etcd_lock;
const struct lab_workload *const lab_workloads[] = {&lab_wl_etcd_lock, NULL};

static const char *herd = "name: el\n"
                          "duration: 4s\n"
                          "world:\n  network: { latency: 100us, jitter: 50us }\n"
                          "workload:\n  primitive: lock/etcd\n  algorithm: etcdsync\n  clients: 5\n"
                          "  hold: 20ms\n  warmup: 1s\n"
                          "expect:\n  - { metric: overlaps, op: \"==\", value: 0 }\n";

static json_t *summary(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/out/el/summary.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    cr_assert_not_null(root, "%s: %s", path, err.text);
    return root;
}

/* The runs as text, without their wall-clock time. */
static char *runs_of(const char *dir)
{
    json_t *root = summary(dir);
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(root, "runs"), i, run) json_object_del(run, "wall_s");
    char *s = json_dumps(json_object_get(root, "runs"), JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

static double metric(const char *dir, const char *name)
{
    json_t *root = summary(dir);
    json_t *m = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "runs"), 0), "metrics"), name);
    cr_assert_not_null(m, "no metric %s", name);
    double v = json_number_value(m);
    json_decref(root);
    return v;
}

Test(etcd_workload, a_simulated_run_replays_from_its_seed)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "el.yaml", herd);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *a = runs_of(dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *b = runs_of(dir);
    cr_assert_str_eq(a, b);
    cr_assert_gt(metric(dir, "acquisitions"), 20);
    /* the seed's flow: every waiter wakes at every release */
    cr_assert_eq(metric(dir, "wakeups_per_acquisition"), 4);
    free(a);
    free(b);
    free(path);
    t_cleanup(dir);
}

/* Run a scenario whose workload has 'extra' lines; expect exit 2, no summary, and an
 * error that says 'what' at line 'line'. */
static void refused(const char *extra, int line, const char *what)
{
    char *dir = t_tmpdir(), out[512], text[512], summary_path[600], where[32];
    snprintf(text, sizeof(text), "name: el\nduration: 1s\nworkload:\n  primitive: lock/etcd\n%s",
             extra);
    char *path = t_write(dir, "el.yaml", text);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", "--out", out, path, NULL), 2, "%s", extra);
    snprintf(summary_path, sizeof(summary_path), "%s/el/summary.json", out);
    cr_assert_neq(access(summary_path, F_OK), 0, "a result was written");
    char *err = t_read_in(dir, "err.txt");
    snprintf(where, sizeof(where), "el.yaml:%d:", line);
    cr_assert(err && strstr(err, where) && strstr(err, what), "%s", err ? err : "");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(etcd_workload, what_etcd_cannot_take_is_an_input_error_where_it_was_written)
{
    refused("  key: lock\n", 5, "must start with '/'");
    refused("  key: \"/a b\"\n", 5, "printable ASCII without spaces");
    refused("  ttl: 1500ms\n", 5, "whole seconds");
    refused("  ttl: 9000000001s\n", 5, "etcd refuses a lease TTL");
    refused("  heartbeat: 2s\n", 5, "shorter than the election timeout");
}

Test(etcd_workload, a_compacted_history_cancels_watches_and_the_run_goes_on)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "el.yaml",
                         "name: el\nduration: 6s\n"
                         "world:\n  network: { latency: 1ms, jitter: 500us }\n"
                         "workload:\n  primitive: lock/etcd\n  algorithm: etcdsync\n"
                         "  clients: 16\n  hold: 0\n  compact_every: 1ms\n"
                         "expect:\n  - { metric: overlaps, op: \"==\", value: 0 }\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    cr_assert_gt(metric(dir, "compactions"), 100);
    cr_assert_geq(metric(dir, "watch_cancels"), 1, "a waiter's revision was compacted away");
    cr_assert_gt(metric(dir, "acquisitions"), 50, "and the lock kept working");
    free(path);
    t_cleanup(dir);
}

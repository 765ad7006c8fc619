/* The lock/etcd workload end to end, through the CLI in-process: a simulated run replays
 * from its seed; what etcd cannot take is an input error at the value's file:line:col
 * (a key that is not a key, a TTL in fractions of a second or above etcd's maximum) with
 * exit 2 and no result; a history compacted under the waiters is counted as cancelled
 * watches, and the run ends instead of hanging; an interrupted live run revokes the
 * leases its clients hold, so their keys leave the user's cluster at once. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lab/workloads_test.h"
#include "lab/lab.h"
#include "live/etcd_curl.h"
#include "live/servers.h"

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

/* ---- the live world ---- */

/* build/lab/distlab, beside this test's build/tests/. */
static void distlab_path(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 32);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    cr_assert_not_null(slash);
    *slash = 0;
    slash = strrchr(buf, '/');
    cr_assert_not_null(slash);
    strcpy(slash, "/lab/distlab");
}

/* Keys under /lock on the cluster at addrs (-1: no answer). */
static int64_t lock_keys(const char *addrs)
{
    struct etcd *c = live_etcd_connect(addrs, 2000000000LL);
    struct etcd_op r = {.kind = ETCD_OP_RANGE, .key = "/lock", .prefix = true};
    int rc = etcd_do(c, &r, NULL);
    etcd_close(c);
    return rc < 0 ? -1 : r.count;
}

Test(etcd_workload, an_interrupted_live_run_revokes_its_leases)
{
    struct live_cluster *cl = NULL;
    char err[2048], exe[512], set[600];
    cr_assert_eq(live_cluster_start(LIVE_ETCD, 1, NULL, &cl, err, sizeof(err)), 0, "%s", err);
    const char *addrs = live_cluster_addrs(cl);
    char *dir = t_tmpdir();
    /* the mutex's session leases last 60 s: only a revocation removes their keys soon */
    char *path = t_write(dir, "el.yaml",
                         "name: el\nduration: 60s\n"
                         "workload:\n  primitive: lock/etcd\n  algorithm: mutex\n"
                         "  clients: 3\n  ttl: 60s\n  hold: 100ms\n");
    distlab_path(exe, sizeof(exe));
    snprintf(set, sizeof(set), "world.etcd=%s", addrs);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(exe, exe, "run", "--world", "live", "--set", set, "--out", dir, path, (char *)NULL);
        _exit(127);
    }
    int64_t keys = 0;
    for (int i = 0; i < 200 && (keys = lock_keys(addrs)) < 3; i++)
        usleep(50000); /* until the three clients have their sessions and keys */
    cr_assert_eq(keys, 3, "the run's clients did not start (%lld keys)", (long long)keys);
    cr_assert_eq(kill(pid, SIGINT), 0);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %#x", status);
    cr_assert_eq(lock_keys(addrs), 0, "the interrupted run left its keys, and so its leases");
    live_cluster_stop(cl);
    free(path);
    t_cleanup(dir);
}

Test(etcd_workload, an_unreachable_cluster_exits_3_and_writes_nothing)
{
    char *dir = t_tmpdir(), out[512], summary_path[600];
    char *path = t_write(dir, "el.yaml", herd);
    snprintf(out, sizeof(out), "%s/out", dir);
    int rc = t_distlab(dir, "run", "--world", "live", "--set", "world.etcd=http://127.0.0.1:1",
                       "--out", out, path, NULL);
    cr_assert_eq(rc, 3);
    snprintf(summary_path, sizeof(summary_path), "%s/el/summary.json", out);
    cr_assert_neq(access(summary_path, F_OK), 0, "a result was written");
    free(path);
    t_cleanup(dir);
}

Test(etcd_workload, a_short_live_run_on_its_own_cluster)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "el.yaml",
                         "name: el\nduration: 3s\n"
                         "workload:\n  primitive: lock/etcd\n  algorithm: mutex\n  fencing: true\n"
                         "  clients: 3\n  hold: 5ms\n  warmup: 1s\n"
                         "expect:\n  - { metric: overlaps, op: \"==\", value: 0 }\n"
                         "  - { metric: lost_updates, op: \"==\", value: 0 }\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--world", "live", "--out", out, path, NULL), 0);
    double n = metric(dir, "acquisitions");
    cr_assert_gt(n, 20, "%g acquisitions in 3 s of 5 ms holds", n);
    cr_assert_leq(metric(dir, "wakeups_per_acquisition"), 1.05);
    free(path);
    t_cleanup(dir);
}

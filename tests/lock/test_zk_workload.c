/* The lock/zk workload end to end, through the CLI in-process: a simulated run replays from
 * its seed; a path or a session timeout ZooKeeper would refuse is a scenario error at its
 * file:line:col; an ensemble that cannot be reached exits 3 and writes nothing; a short
 * live run against the launcher's ZooKeeper excludes; a live run killed by SIGINT leaves
 * no ephemeral node once its sessions have expired.
 * Every .timeout here is the same: Criterion 2.4's Boxfort inserts a timeout that ends
 * sooner than a pending one by cutting the pending one off its list (leaked: ASan fails
 * the binary, and that test's timeout is lost). */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/zk.h"
#include "lab/lab.h"
#include "live/servers.h"
#include "live/zk_client.h"
#include "../lab/workloads_test.h"

extern const struct lab_workload lab_wl_zk_lock;
const struct lab_workload *const lab_workloads[] = {&lab_wl_zk_lock, NULL};

#define MS 1000000LL

static const char *pause_scenario = "name: zl\n"
                                    "duration: 5s\n"
                                    "world:\n  network: { latency: 200us, jitter: 100us }\n"
                                    "workload:\n  primitive: lock/zk\n  clients: 4\n  hold: 400ms\n"
                                    "  holder_fault: pause\n  fault_at: 1s\n  fault_for: 2s\n"
                                    "expect:\n  - { metric: overlaps, op: \">=\", value: 1 }\n";

/* Metric 'name' of the first run of dir/out/zl. */
static double metric(const char *dir, const char *name)
{
    char out[512];
    snprintf(out, sizeof(out), "%s/out", dir);
    double v = t_metric(out, "zl", 0, name);
    cr_assert(!isnan(v), "no metric %s", name);
    return v;
}

Test(zk_workload, a_simulated_run_replays_from_its_seed)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "zl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *a = t_runs_text(out, "zl");
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *b = t_runs_text(out, "zl");
    cr_assert(a && b);
    cr_assert_str_eq(a, b);
    cr_assert_geq(metric(dir, "overlaps"), 1);
    cr_assert_eq(metric(dir, "lost_leases"), 1);
    free(a);
    free(b);
    free(path);
    t_cleanup(dir);
}

/* Run a scenario text; expect exit 2 with 'want' after the file's path. */
static void refused(const char *yaml, const char *want)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "zl.yaml", yaml);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", "--out", out, path, NULL), 2);
    char *err = t_read_in(dir, "err.txt"), msg[1024];
    snprintf(msg, sizeof(msg), "%s%s", path, want);
    cr_assert(err && strstr(err, msg), "got: %s\nwant: %s", err ? err : "", msg);
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(zk_workload, a_path_or_timeout_zookeeper_refuses_is_a_scenario_error)
{
    refused("name: zl\nworkload:\n  primitive: lock/zk\n  path: /locks/\n",
            ":4:9: 'path' must not end with '/', got '/locks/'");
    refused("name: zl\nworkload:\n  primitive: lock/zk\n  path: locks\n",
            ":4:9: 'path' must start with '/', got 'locks'");
    refused("name: zl\nworkload:\n  primitive: lock/zk\n  path: /a/../b\n",
            ":4:9: 'path' has a relative component ('.' or '..'), got '/a/../b'");
    refused("name: zl\nworkload:\n  primitive: lock/zk\nsweep:\n  path: [/ok, /a//b]\n",
            ":5:15: 'path' has an empty component ('//'), got '/a//b'");
    refused("name: zl\nworkload:\n  primitive: lock/zk\n  session_timeout: 100ms\n",
            ":4:20: 'session_timeout' must be between 400ms and 4s, got 100ms");
}

Test(zk_workload, an_ensemble_nobody_runs_exits_3_and_writes_nothing, .timeout = 300)
{
    char *dir = t_tmpdir(), out[512], summary[600];
    char *path = t_write(dir, "zl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    int rc = t_distlab(dir, "run", "--world", "live", "--set", "world.zookeeper=127.0.0.1:1",
                       "--out", out, path, NULL);
    cr_assert_eq(rc, 3);
    snprintf(summary, sizeof(summary), "%s/zl/summary.json", out);
    cr_assert_neq(access(summary, F_OK), 0, "a result was written");
    char *err = t_read_in(dir, "err.txt");
    cr_assert(err && strstr(err, "127.0.0.1:1 does not answer"), "%s", err ? err : "");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(zk_workload, a_fault_the_live_world_cannot_make_names_its_place)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "zl.yaml",
                         "name: zl\nduration: 1s\nworkload:\n  primitive: lock/zk\n"
                         "faults:\n  - { at: 1s, clock: zk-0, step: 1s }\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", "--world", "live", "--out", out, path, NULL), 2);
    char *err = t_read_in(dir, "err.txt");
    char want[600];
    snprintf(want, sizeof(want), "%s:6:5: the live world cannot step the clock of zk-0", path);
    cr_assert(err && strstr(err, want), "%s", err ? err : "");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(zk_workload, a_short_live_run_against_its_own_server, .timeout = 300)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "zl.yaml",
                         "name: zl\nduration: 3s\n"
                         "workload:\n  primitive: lock/zk\n  fencing: true\n"
                         "  clients: 4\n  hold: 5ms\n"
                         "expect:\n  - { metric: overlaps, op: \"==\", value: 0 }\n"
                         "  - { metric: lost_updates, op: \"==\", value: 0 }\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--world", "live", "--out", out, path, NULL), 0);
    double n = metric(dir, "acquisitions");
    cr_assert_gt(n, 20, "%g acquisitions in 3 s of 5 ms holds", n);
    cr_assert_eq(metric(dir, "counter"), metric(dir, "writes"));
    free(path);
    t_cleanup(dir);
}

static void nap(int64_t ns)
{
    nanosleep(&(struct timespec){(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)}, NULL);
}

/* The children of /lock on the ensemble, or -1. */
static int lock_nodes(const char *addrs)
{
    struct zk *z = live_zk_connect(addrs, 4000 * MS);
    struct zk_children ch = {0, NULL};
    int n =
        z && zk_await_connected(z, 30000 * MS) == 0 && zk_get_children(z, "/lock", false, &ch) == 0
            ? (int)ch.n
            : -1;
    zk_children_free(&ch);
    zk_close(z);
    return n;
}

Test(zk_workload, an_interrupted_live_run_leaves_no_ephemeral_node, .timeout = 300)
{
    struct live_cluster *c = NULL;
    char err[2048];
    cr_assert_eq(live_cluster_start(LIVE_ZOOKEEPER, 1, NULL, &c, err, sizeof(err)), 0, "%s", err);
    char *dir = t_tmpdir(), out[512], yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "name: zl\nduration: 60s\nworld:\n  zookeeper: \"%s\"\n"
             "workload:\n  primitive: lock/zk\n  clients: 4\n  hold: 300ms\n",
             live_cluster_addrs(c));
    char *path = t_write(dir, "zl.yaml", yaml);
    snprintf(out, sizeof(out), "%s/out", dir);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) { /* a distlab run of its own: not this process's cleanup on SIGINT,
                       * which would stop the ensemble the test started */
        signal(SIGINT, SIG_DFL);
        _exit(t_distlab(dir, "run", "--world", "live", "--out", out, path, NULL));
    }
    int n = 0;
    for (int i = 0; i < 300 && n < 3; i++) { /* wait until the clients queue up */
        nap(100 * MS);
        n = lock_nodes(live_cluster_addrs(c));
    }
    cr_assert_geq(n, 3, "the clients never queued (%d nodes)", n);
    kill(child, SIGINT);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT, "status %d", status);
    /* nobody closed the sessions: the server expires them (1 s, rounded up to a tick) */
    nap(2000 * MS);
    n = lock_nodes(live_cluster_addrs(c));
    cr_assert_eq(n, 0, "%d ephemeral nodes outlived their sessions", n);
    free(path);
    t_cleanup(dir);
    live_cluster_stop(c);
}

/* The lock/redis workload end to end, through the CLI in-process: a simulated run replays
 * from its seed, a live run against a server that cannot be reached exits 3 and writes
 * nothing, a scenario the live world cannot run is an input error, a short live run
 * against a redis-server the lab starts counts acquisitions and no overlap, a server that
 * is never ready exits 3 with its log's last lines and leaves nothing, and SIGTERM in the
 * middle of a live run stops every server it started. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

/* The runs of dir/out/rl/summary.json as text, without their wall-clock time. */
static char *runs_of(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/out/rl/summary.json", dir);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    cr_assert_not_null(root, "%s: %s", path, err.text);
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(root, "runs"), i, run) json_object_del(run, "wall_s");
    char *s = json_dumps(json_object_get(root, "runs"), JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

static double metric(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/out/rl/summary.json", dir);
    json_t *root = json_load_file(path, 0, NULL);
    cr_assert_not_null(root);
    json_t *m = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "runs"), 0), "metrics"), name);
    cr_assert_not_null(m, "no metric %s", name);
    double v = json_number_value(m);
    json_decref(root);
    return v;
}

Test(redis_workload, a_simulated_run_replays_from_its_seed)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "rl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *a = runs_of(dir);
    cr_assert_eq(t_distlab(dir, "check", "--out", out, path, NULL), 0);
    char *b = runs_of(dir);
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
    int rc =
        t_distlab(dir, "run", "--world", "live", "--set",
                  "world.redis=unix:/tmp/distlab-no-such-dir/redis.sock", "--out", out, path, NULL);
    cr_assert_eq(rc, 3);
    snprintf(summary, sizeof(summary), "%s/rl/summary.json", out);
    cr_assert_neq(access(summary, F_OK), 0, "a result was written");
    char *err = t_read_in(dir, "err.txt");
    cr_assert(err && strstr(err, "world.redis: unix:/tmp/distlab-no-such-dir/redis.sock does "
                                 "not answer as redis"),
              "%s", err ? err : "");
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

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The children of 'pid' (pgrep -P, run directly), into pids; returns how many. */
static int children(pid_t pid, pid_t *pids, int cap)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    char parent[32];
    snprintf(parent, sizeof(parent), "%ld", (long)pid);
    pid_t p = fork();
    if (p == 0) {
        dup2(fd[1], 1);
        execlp("pgrep", "pgrep", "-P", parent, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char out[1024] = "";
    size_t len = 0;
    ssize_t k;
    while (len + 1 < sizeof(out) && (k = read(fd[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)k;
    out[len] = 0;
    close(fd[0]);
    waitpid(p, NULL, 0);
    int n = 0;
    for (char *line = strtok(out, "\n"); line && n < cap; line = strtok(NULL, "\n"))
        if (atol(line) > 0 && atol(line) != (long)p)
            pids[n++] = (pid_t)atol(line);
    return n;
}

Test(redis_workload, sigterm_during_a_live_run_stops_every_server)
{
    char *dir = t_tmpdir(), out[512];
    char *path = t_write(dir, "rl.yaml",
                         "name: rl\nduration: 60s\n"
                         "workload:\n  primitive: lock/redis\n  algorithm: redlock\n"
                         "  servers: 3\n  clients: 2\n  hold: 2ms\n");
    snprintf(out, sizeof(out), "%s/out", dir);
    pid_t child = fork();
    if (child == 0)
        _exit(t_distlab(dir, "run", "--world", "live", "--out", out, path, NULL));
    pid_t servers[16];
    int n = 0;
    for (int waited = 0; n < 3 && waited < 30000; waited += 50) {
        nap_ms(50);
        n = children(child, servers, 16);
    }
    cr_assert_eq(n, 3, "the run did not start its 3 redis-servers");
    kill(child, SIGTERM);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "status %#x", status);
    nap_ms(50);
    for (int i = 0; i < n; i++)
        cr_assert(kill(servers[i], 0) == -1, "redis-server %d survived SIGTERM", (int)servers[i]);
    char summary[600];
    snprintf(summary, sizeof(summary), "%s/rl/summary.json", out);
    cr_assert_neq(access(summary, F_OK), 0, "a result was written");
    free(path);
    t_cleanup(dir);
}

Test(redis_workload, a_server_never_ready_exits_3_with_its_log_and_leaves_nothing)
{
    char *dir = t_tmpdir(), out[512], bin[512], fake[600], path_env[4096];
    snprintf(bin, sizeof(bin), "%s/bin", dir);
    cr_assert_eq(mkdir(bin, 0700), 0);
    snprintf(fake, sizeof(fake), "%s/redis-server", bin);
    free(t_write(bin, "redis-server",
                 "#!/bin/sh\necho 'fake redis-server: stuck'\nexec sleep 600\n"));
    cr_assert_eq(chmod(fake, 0700), 0);
    const char *old = getenv("PATH");
    snprintf(path_env, sizeof(path_env), "%s:%s", bin, old ? old : "/usr/bin");
    char *saved = strdup(old ? old : "");
    setenv("PATH", path_env, 1);
    setenv("DISTLAB_READY_TIMEOUT", "0.5", 1);
    char *path = t_write(dir, "rl.yaml", pause_scenario);
    snprintf(out, sizeof(out), "%s/out", dir);
    int rc = t_distlab(dir, "run", "--world", "live", "--out", out, path, NULL);
    setenv("PATH", saved, 1);
    unsetenv("DISTLAB_READY_TIMEOUT");
    free(saved);
    cr_assert_eq(rc, 3);
    char *err = t_read_in(dir, "err.txt");
    cr_assert(err && strstr(err, "redis-0 was not ready within 0.5 s") &&
                  strstr(err, "fake redis-server: stuck"),
              "%s", err ? err : "");
    free(err);
    pid_t left[16];
    cr_assert_eq(children(getpid(), left, 16), 0, "a process was left behind");
    char summary[600];
    snprintf(summary, sizeof(summary), "%s/rl/summary.json", out);
    cr_assert_neq(access(summary, F_OK), 0, "a result was written");
    free(path);
    t_cleanup(dir);
}

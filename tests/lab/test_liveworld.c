/* The live world as the lab runs it (lab/liveworld.c), through a workload of its own:
 * servers by role, client nodes by name, the scenario's faults on both, the errors for
 * what the live world cannot do, the user's own servers, and a server lost behind the
 * lab's back. Times are only bounded from below by what was scheduled. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/run.h"
#include "lab/scenario.h"
#include "live/live.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"

#define MS 1000000LL
#define NCLIENTS 3

struct t_client {
    struct lab_run *run;
    const char *server; /* address of redis-0 (or NULL) */
    bool kill_behind;   /* client-0 kills redis-0 with kill(2) at 300 ms */
    _Atomic int starts, exits, pings_ok, pings_failed, pause_hooks;
    _Atomic int64_t hook_dur; /* ms */
    _Atomic int64_t max_gap, max_skew, min_skew, last_seen;
};

static void t_exit(void *arg)
{
    struct t_client *c = arg;
    atomic_fetch_add(&c->exits, 1);
}

/* lab_live_on_pause: what a pause of the node must stop besides its actors. */
static void t_on_pause(void *arg, int64_t dur)
{
    struct t_client *c = arg;
    atomic_fetch_add(&c->pause_hooks, 1);
    atomic_store(&c->hook_dur, dur / MS);
}

static void t_close(void *arg)
{
    redis_close(arg);
}

static void t_client_main(struct env *e, void *arg)
{
    struct t_client *c = arg;
    atomic_fetch_add(&c->starts, 1);
    live_env_atexit(e, t_exit, c);
    struct redis *r = c->server ? live_redis_connect(c->server, 100 * MS) : NULL;
    if (r) /* runs however the actor ends: a crash stops it where it stands */
        live_env_atexit(e, t_close, r);
    int64_t last = lab_live_now(c->run);
    bool killed = false;
    while (!lab_live_stopping(c->run)) {
        int64_t skew = env_now(e) - live_true_now();
        int64_t now = lab_live_now(c->run), gap = now - last;
        last = now;
        atomic_store(&c->last_seen, now);
        if (gap > atomic_load(&c->max_gap))
            atomic_store(&c->max_gap, gap);
        if (skew > atomic_load(&c->max_skew))
            atomic_store(&c->max_skew, skew);
        if (skew < atomic_load(&c->min_skew))
            atomic_store(&c->min_skew, skew);
        if (r) {
            int rc = redis_incr(r, "n", &(int64_t){0});
            atomic_fetch_add(rc == 0 ? &c->pings_ok : &c->pings_failed, 1);
        }
        if (c->kill_behind && !killed && now > 300 * MS) {
            killed = true;
            kill(live_cluster_pid(lab_live_cluster(c->run, LIVE_REDIS), 0), SIGKILL);
        }
        env_sleep(e, 5 * MS);
    }
}

static const struct lab_param t_params[] = {
    {"redis", LAB_BOOL, "true", 1, 0, NULL, "ask for one Redis server"},
    {"kill_behind", LAB_BOOL, "false", 1, 0, NULL, "client-0 SIGKILLs redis-0 itself"},
    {0},
};

static int t_run(struct lab_run *run)
{
    if (!lab_live_begin(run))
        return -EINVAL;
    struct t_client *c = calloc(NCLIENTS, sizeof(*c));
    const char *addr = NULL;
    if (lab_bool(run, "redis")) {
        if (!lab_live_servers(run, LIVE_REDIS, 1)) {
            free(c);
            return -EHOSTUNREACH;
        }
        addr = lab_live_server_addr(run, LIVE_REDIS, 0);
    }
    for (int k = 0; k < NCLIENTS; k++) {
        char name[32];
        snprintf(name, sizeof(name), "client-%d", k);
        c[k].run = run;
        c[k].server = addr;
        c[k].kill_behind = k == 0 && lab_bool(run, "kill_behind");
        c[k].min_skew = INT64_MAX;
        c[k].max_skew = INT64_MIN;
        cr_assert_eq(lab_live_node(run, name, t_client_main, &c[k]), 0);
        cr_assert_eq(lab_live_on_pause(run, name, t_on_pause, &c[k]), 0);
    }
    cr_assert_eq(lab_live_on_pause(run, "client-9", t_on_pause, &c[0]), -ENOENT);
    cr_assert_eq(lab_live_node(run, "client-0", t_client_main, &c[0]), -EINVAL, "a name twice");
    int rc = lab_live_go(run, 0);
    double v[NCLIENTS];
#define PUT(field, scale)                                                                          \
    do {                                                                                           \
        for (int k = 0; k < NCLIENTS; k++)                                                         \
            v[k] = (double)atomic_load(&c[k].field) / (scale);                                     \
        lab_metric_array(run, #field, v, NCLIENTS);                                                \
    } while (0)
    PUT(starts, 1);
    PUT(exits, 1);
    PUT(pings_ok, 1);
    PUT(pings_failed, 1);
    PUT(max_gap, 1e6);
    PUT(max_skew, 1e6);
    PUT(min_skew, 1e6);
    PUT(pause_hooks, 1);
    PUT(hook_dur, 1);
#undef PUT
    free(c);
    return rc;
}

static const struct lab_workload t_wl = {
    .name = "test/liveworld",
    .about = "client nodes pinging a Redis server under faults",
    .params = t_params,
    .worlds = LAB_WORLD_LIVE,
    .run = t_run,
};

const struct lab_workload *const lab_workloads[] = {&t_wl, NULL};

/* ---- Running a scenario text live ------------------------------------------------------ */

struct live_ran {
    struct lab_scenario *sc;
    struct lab_run run;
    char path[64];
    int rc;
};

static void run_live(struct live_ran *r, const char *text, const char *const *sets)
{
    snprintf(r->path, sizeof(r->path), "/tmp/distlab-lw-test-XXXXXX");
    int fd = mkstemp(r->path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct lab_load_opts o = {.world = LAB_WORLD_LIVE, .sets = sets};
    while (sets && sets[o.nsets])
        o.nsets++;
    struct lab_err err;
    r->sc = lab_scenario_load(r->path, &o, &err);
    unlink(r->path); /* loaded: messages name the path, nothing reads the file again */
    cr_assert_not_null(r->sc, "%s", err.msg);
    lab_run_init(&r->run, r->sc, &r->sc->runs[0], LAB_WORLD_LIVE);
    r->rc = lab_run_exec(&r->run);
}

static void live_ran_free(struct live_ran *r)
{
    lab_run_cleanup(&r->run);
    lab_scenario_free(r->sc);
}

static double at(struct live_ran *r, const char *name, size_t i)
{
    const struct lab_metric *m = lab_run_metric(&r->run, name);
    cr_assert(m && m->n > i, "metric %s[%zu] not recorded", name, i);
    return m->v[i];
}

#define HEAD "name: lw\nduration: 1500ms\nworkload:\n  primitive: test/liveworld\n"

Test(liveworld, faults_reach_client_and_server_nodes_by_name)
{
    struct live_ran r;
    run_live(&r,
             HEAD "world:\n  clocks: [ { node: client-2, offset: -1s } ]\n"
                  "faults:\n"
                  "  - { at: 200ms, pause: client-0, for: 300ms }\n"
                  "  - { at: 200ms, crash: client-1, for: 200ms }\n"
                  "  - { at: 100ms, clock: client-2, step: 60m }\n"
                  "  - { at: 600ms, pause: redis-0, for: 300ms }\n"
                  "  - { at: 1000ms, crash: redis-0, for: 200ms }\n",
             NULL);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail ? r.run.fail : "");
    cr_assert_geq(at(&r, "max_gap", 0), 300, "client-0 was not paused for 300 ms");
    cr_assert_lt(at(&r, "max_gap", 1), 300, "client-1 was paused");
    cr_assert_eq(at(&r, "starts", 1), 2, "the crash's for: did not start client-1 again");
    cr_assert_eq(at(&r, "exits", 1), 2, "client-1's exit handler ran once per life");
    cr_assert_eq(at(&r, "starts", 0), 1);
    cr_assert_eq(at(&r, "pause_hooks", 0), 1, "the pause hook of client-0 did not run once");
    cr_assert_eq(at(&r, "hook_dur", 0), 300);
    cr_assert_eq(at(&r, "pause_hooks", 1), 0, "a crash ran the pause hook");
    cr_assert_leq(at(&r, "min_skew", 2), -999, "world.clocks' offset was not applied");
    cr_assert_geq(at(&r, "max_skew", 2), 3598000, "the clock step did not reach client-2");
    cr_assert_lt(at(&r, "max_skew", 0), 1000, "the step reached client-0");
    cr_assert_gt(at(&r, "pings_failed", 2), 0, "the server's pause and crash went unseen");
    cr_assert_gt(at(&r, "pings_ok", 2), 0);
    live_ran_free(&r);
}

static void expect_error(const char *faults, const char *want, int status)
{
    struct live_ran r;
    char text[1024];
    snprintf(text, sizeof(text), HEAD "faults:\n%s", faults);
    run_live(&r, text, NULL);
    cr_assert_lt(r.rc, 0, "%s ran", faults);
    cr_assert(r.run.fail && strstr(r.run.fail, want), "%s: %s", faults,
              r.run.fail ? r.run.fail : "(no message)");
    cr_assert_eq(r.run.status, status, "%s", r.run.fail);
    live_ran_free(&r);
}

Test(liveworld, what_the_live_world_cannot_do_is_an_error_at_the_fault)
{
    expect_error("  - { at: 1s, partition: [[client-0], [redis-0]] }\n",
                 ":6:5: a partition needs the simulated world", 2);
    expect_error("  - { at: 1s, clock: redis-0, step: 1s }\n",
                 ":6:5: the live world cannot step the clock of redis-0", 2);
    expect_error("  - { at: 1s, drift: redis-0, ppm: 100 }\n", "drift the clock of redis-0", 2);
    expect_error("  - { at: 1s, pause: client-9, for: 1s }\n",
                 "unknown node 'client-9' in this fault (nodes: redis-0, client-0, client-1, "
                 "client-2) (world: live)",
                 2);
}

Test(liveworld, world_clocks_on_a_server_is_an_error)
{
    struct live_ran r;
    run_live(&r, HEAD "world:\n  clocks: [ { node: 'redis-*', offset: 1s } ]\n", NULL);
    cr_assert_lt(r.rc, 0);
    cr_assert(r.run.fail && strstr(r.run.fail, "cannot set the clock of redis-0"), "%s",
              r.run.fail);
    live_ran_free(&r);
}

Test(liveworld, a_server_lost_behind_the_labs_back_fails_the_run)
{
    struct live_ran r;
    run_live(&r, HEAD "  kill_behind: true\n", NULL);
    cr_assert_eq(r.rc, -EHOSTUNREACH);
    cr_assert_eq(r.run.status, 3);
    cr_assert(r.run.fail && strstr(r.run.fail, "not by a scheduled fault") &&
                  strstr(r.run.fail, "redis-0 was killed by signal 9"),
              "%s", r.run.fail);
    live_ran_free(&r);
}

Test(liveworld, the_users_own_server_answers_and_takes_no_faults)
{
    struct live_cluster *c;
    char err[2048];
    cr_assert_eq(live_cluster_start(LIVE_REDIS, 1, NULL, &c, err, sizeof(err)), 0, "%s", err);
    char set[256];
    snprintf(set, sizeof(set), "world.redis=%s", live_cluster_addrs(c));
    const char *sets[] = {set, NULL};
    struct live_ran r;
    run_live(&r, HEAD, sets);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail);
    cr_assert_gt(at(&r, "pings_ok", 0), 0);
    cr_assert_eq(at(&r, "pings_failed", 0), 0);
    live_ran_free(&r);
    run_live(&r, HEAD "faults:\n  - { at: 1s, crash: redis-0 }\n", sets);
    cr_assert(r.run.fail && strstr(r.run.fail, "redis-0 is one of your own servers"), "%s",
              r.run.fail);
    live_ran_free(&r);
    /* A count instead of addresses: the lab starts that many. */
    const char *count[] = {"world.redis=1", NULL};
    run_live(&r, HEAD, count);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail);
    live_ran_free(&r);
    live_cluster_stop(c);
    const char *gone[] = {"world.redis=unix:/tmp/distlab-no-such-dir/redis.sock", NULL};
    run_live(&r, HEAD, gone);
    cr_assert_eq(r.run.status, 3, "%s", r.run.fail);
    cr_assert(strstr(r.run.fail, "does not answer"), "%s", r.run.fail);
    live_ran_free(&r);
}

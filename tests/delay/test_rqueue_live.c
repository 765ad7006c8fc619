/* The Redis-backed delayed-task cluster in the live world: worker threads, the system
 * clock, a real redis-server on a unix socket. One worker stalls in the middle of a task
 * (an injected pause, as a long GC stop) for longer than its claim: the firing is claimed
 * again and executed elsewhere, the key keeps it from taking effect twice, the stalled
 * worker finds its claim gone, and no firing is missed. Only lower bounds on time are
 * asserted, so a loaded machine does not fail it. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "delay/rqueue.h"
#include "live/live.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"

#define MS 1000000LL
#define NODES 3
#define TASKS 6
#define MAXK 64

struct fixture {
    struct live_world *w;
    const char *addr;
    struct rq_config cfg;
    struct dc_task task[TASKS];
    struct rq_stats st[NODES];
    atomic_bool stop;
    pthread_mutex_t m;
    uint8_t times[TASKS][MAXK];
    int64_t first_ms[TASKS]; /* each task's first due ms */
    int64_t start_ms;
    /* the stall: the first claim of node 1 after 'arm_ms' */
    bool armed, stalled;
    uint32_t stalled_task;
    int64_t due, claimed_at, again_at;
};

struct worker {
    struct fixture *f;
    int self;
};

static int64_t now_ms(void)
{
    return live_true_now() / MS;
}

static void on_claimed(void *arg, int node, uint32_t task, int64_t due_ms)
{
    struct fixture *f = arg;
    pthread_mutex_lock(&f->m);
    if (f->stalled && task == f->stalled_task && due_ms == f->due && !f->again_at)
        f->again_at = now_ms();
    if (node == 1 && !f->stalled && now_ms() >= f->start_ms + 600) {
        f->stalled = true;
        f->stalled_task = task;
        f->due = due_ms;
        f->claimed_at = now_ms();
        live_pause(f->w, "worker-2", 1200 * MS); /* its next env call: the task's work */
    }
    pthread_mutex_unlock(&f->m);
}

static void on_executed(void *arg, int node, uint32_t task, int64_t due_ms, int verdict)
{
    struct fixture *f = arg;
    if (verdict != DX_EXECUTED)
        return;
    pthread_mutex_lock(&f->m);
    int64_t i = (due_ms - f->first_ms[task]) / 200;
    if (i >= 0 && i < MAXK)
        f->times[task][i]++;
    pthread_mutex_unlock(&f->m);
}

static void worker(struct env *e, void *arg)
{
    struct worker *w = arg;
    struct redis *r = live_redis_connect(w->f->addr, 1000 * MS);
    cr_assert_not_null(r);
    rq_seed(e, &w->f->cfg, r);
    rq_node_run(e, &w->f->cfg, w->self, r, &w->f->st[w->self]);
    redis_close(r);
}

Test(rqueue_live, a_stalled_worker_has_its_firing_redelivered_and_the_key_holds)
{
    struct live_cluster *s = NULL;
    char err[2048] = "";
    cr_assert_eq(live_cluster_start(LIVE_REDIS, 1, NULL, &s, err, sizeof(err)), 0, "%s", err);
    struct fixture *f = calloc(1, sizeof(*f));
    pthread_mutex_init(&f->m, NULL);
    f->addr = live_cluster_addrs(s);
    f->w = live_world_create(1);
    f->start_ms = now_ms();
    for (int t = 0; t < TASKS; t++) {
        f->task[t] = (struct dc_task){(f->start_ms + 300 + 30 * t) * MS, 200 * MS};
        f->first_ms[t] = f->start_ms + 300 + 30 * t;
    }
    struct pl_map *policy = pl_create(TASKS, NODES, 0, PL_RENDEZVOUS, 5, 0);
    f->cfg = (struct rq_config){
        .prefix = "dqlive",
        .nodes = NODES,
        .ntasks = TASKS,
        .tasks = f->task,
        .policy = policy,
        .hb_interval_ns = 50 * MS,
        .hb_timeout_ns = 200 * MS,
        .visibility_ns = 400 * MS,
        .work_ns = 5 * MS,
        .done_ttl_ns = 60000 * MS,
        .idempotent = true,
        .stop = &f->stop,
        .hooks = {.claimed = on_claimed, .executed = on_executed, .arg = f},
    };
    struct worker w[NODES];
    char name[16];
    for (int i = 0; i < NODES; i++) {
        w[i] = (struct worker){f, i};
        snprintf(name, sizeof(name), "worker-%d", i + 1);
        cr_assert_eq(live_spawn(f->w, name, worker, &w[i], NULL), 0);
    }
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    atomic_store(&f->stop, true);
    live_join_all(f->w);
    int64_t end = now_ms();
    cr_assert(f->stalled, "node 2 never claimed a firing");
    cr_assert(f->again_at, "the stalled firing was never claimed again");
    cr_assert_geq(f->again_at - f->claimed_at, 400); /* not before its claim ran out */
    int64_t i = (f->due - f->first_ms[f->stalled_task]) / 200;
    cr_assert_eq(f->times[f->stalled_task][i], 1);
    cr_assert_eq(f->st[1].lost_claims, 1);
    /* every firing due a second before the end took effect exactly once */
    for (int t = 0; t < TASKS; t++)
        for (int k = 0; k < MAXK; k++) {
            int64_t due = f->first_ms[t] + 200 * k;
            if (due <= end - 1000)
                cr_assert_eq(f->times[t][k], 1, "task %d firing %d: %d", t, k, f->times[t][k]);
        }
    live_world_destroy(f->w);
    pl_destroy(policy);
    pthread_mutex_destroy(&f->m);
    free(f);
    live_cluster_stop(s);
}

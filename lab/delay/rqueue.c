/* rqueue.c - the delay/rqueue workload: the delayed-task cluster with its tasks in Redis
 * (primitives/delay/rqueue.h), worker nodes node-1..node-N and a Redis server redis-0, in
 * the simulated world. Never writes files and never exits.
 *
 * Tasks fire every `period`, task t first at first + t x period / tasks, owned by the
 * placement policy's primary for the live workers. A firing's effect is recorded with its
 * key (SET NX, when `idempotent`) the moment its worker executes it; the worker then spends
 * `work` on the rest of the task before acknowledging. The scenario's faults hit the
 * workers by name: a crash in the middle of that work leaves the claim to run out
 * (`visibility`), and the firing is claimed again and executed elsewhere. Every firing
 * due before the last `settle` of the run is judged: on time, late, or missed; firings
 * executed more than once are counted, with the key on or off.
 *
 * The live world runs the same workers as threads of live nodes node-1..node-N against a
 * real redis-server the lab starts (or the user's, world.redis); a crash of a worker node
 * ends its thread at its next env call (in the middle of its work, when it is working),
 * with its connection closed by its exit handler, and `for:` starts it again. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay/rqueue.h"
#include "lab/delay/firings_wl.h"
#include "lab/lab.h"
#include "live/live.h"
#include "live/redis_hiredis.h"
#include "names.h"
#include "sim/redis_model.h"
#include "sim/sim.h"

struct rw;

struct rw_worker {
    struct rw *w;
    int self;
};

struct rw {
    struct lab_run *run;
    struct sim *sim;
    struct sim_redis *redis;
    int nodes, sim_node[PL_MAX_NODES];
    struct rw_worker worker[PL_MAX_NODES];
    uint32_t ntasks;
    struct firings book;
    struct pl_map *policy;
    struct rq_config cfg;
    struct rq_stats st[PL_MAX_NODES];
    /* live */
    bool live;
    const char *addr;      /* redis-0 */
    pthread_mutex_t mu;    /* the book, written by every worker's thread */
    _Atomic int64_t wall0; /* the system clock at the run's true time 0, once known */
};

static const struct lab_param rw_params[] = {
    {"nodes", LAB_INT, "3", 1, PL_MAX_NODES, NULL, "worker nodes, named node-1, node-2, ..."},
    {"policy", LAB_ENUM, "table", 1, 0, NAMES_CHOICES(PL_POLICY_NAMES),
     "who owns a task among the live workers (table: task t on worker t mod live)"},
    {"tasks", LAB_INT, "6", 1, 10000, NULL, "tasks"},
    {"hb_interval", LAB_DURATION, "100ms", 1e6, 60e9, NULL, "heartbeat (and coordination) period"},
    {"hb_timeout", LAB_DURATION, "300ms", 1e6, 600e9, NULL,
     "a heartbeat key lives this long: a worker silent longer is taken as dead"},
    {"visibility", LAB_DURATION, "500ms", 1e6, 3600e9, NULL,
     "a claim not acknowledged this long is taken back and the firing redelivered"},
    {"work", LAB_DURATION, "100ms", 0, 3600e9, NULL,
     "a firing's work after its effect, before the acknowledgement"},
    {"idempotent", LAB_BOOL, "true", 1, 0, NULL,
     "record each firing's key (SET NX) and ignore a second execution"},
    DELAY_FIRING_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

#define MS 1000000LL

static void rw_executed(void *arg, int node, uint32_t task, int64_t due_ms, int verdict)
{
    struct rw *w = arg;
    if (!w->live) {
        firings_note(&w->book, task, due_ms * MS, verdict == DX_EXECUTED, sim_now(w->sim));
        return;
    }
    pthread_mutex_lock(&w->mu);
    firings_note(&w->book, task, due_ms * MS, verdict == DX_EXECUTED, lab_live_now(w->run));
    pthread_mutex_unlock(&w->mu);
}

static bool rw_stopping(void *arg)
{
    struct rw *w = arg;
    return w->live && lab_live_stopping(w->run);
}

static void rw_close(void *arg)
{
    redis_close(arg);
}

/* A live worker node's main actor: its own connection, closed however it ends. */
static void rw_live_worker_main(struct env *e, void *arg)
{
    struct rw_worker *k = arg;
    struct rw *w = k->w;
    int64_t zero = live_true_now() - lab_live_now(w->run), unset = 0;
    atomic_compare_exchange_strong(&w->wall0, &unset, zero);
    struct redis *r = live_redis_connect(w->addr, 500 * MS);
    if (!r)
        return;
    live_env_atexit(e, rw_close, r);
    rq_seed(e, &w->cfg, r);
    rq_node_run(e, &w->cfg, k->self, r, &w->st[k->self]);
}

static void rw_worker_main(struct env *e, void *arg)
{
    struct rw_worker *k = arg;
    struct sim_addr a = sim_redis_addr(k->w->redis);
    struct redis *r = sim_redis_connect(e, &a, 1, 100 * MS);
    if (!r)
        return;
    sim_env_atexit(e, (void (*)(void *))redis_close, r);
    env_sleep(e, MS); /* the server listens from time 0 */
    rq_seed(e, &k->w->cfg, r);
    rq_node_run(e, &k->w->cfg, k->self, r, &k->w->st[k->self]);
}

static int rw_read(struct rw *w, struct lab_run *run)
{
    w->nodes = (int)lab_int(run, "nodes");
    w->ntasks = (uint32_t)lab_int(run, "tasks");
    int rc = firings_init(&w->book, run, w->ntasks, true);
    if (rc < 0)
        return rc;
    w->policy = pl_create(w->ntasks, w->nodes, 0, (enum pl_policy)lab_enum(run, "policy"),
                          lab_seed(run), 0);
    if (!w->policy) {
        lab_fail(run, "no memory for %u tasks", w->ntasks);
        return -ENOMEM;
    }
    w->cfg = (struct rq_config){
        .prefix = "dq",
        .nodes = w->nodes,
        .ntasks = w->ntasks,
        .tasks = w->book.task,
        .policy = w->policy,
        .hb_interval_ns = lab_duration(run, "hb_interval"),
        .hb_timeout_ns = lab_duration(run, "hb_timeout"),
        .visibility_ns = lab_duration(run, "visibility"),
        .work_ns = lab_duration(run, "work"),
        .done_ttl_ns = 2 * lab_duration_total(run) + 60 * 1000 * MS,
        .idempotent = lab_bool(run, "idempotent"),
        .hooks = {.executed = rw_executed, .arg = w},
        .stopping = rw_stopping,
        .stopping_arg = w,
    };
    if (rq_config_check(&w->cfg) < 0) {
        lab_fail(run, "workload: need hb_timeout > hb_interval and visibility > work");
        return -EINVAL;
    }
    return 0;
}

static int rw_build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct rw *w = arg;
    w->sim = sim;
    int rn = sim_node_add(sim, "redis-0", 1);
    if (rn < 0)
        return rn;
    struct sim_redis_cfg rc = {.peer = -1};
    if (!(w->redis = sim_redis_create(sim, rn, &rc)))
        return -ENOMEM;
    char name[24];
    for (int i = 0; i < w->nodes; i++) {
        snprintf(name, sizeof(name), "node-%d", i + 1);
        if ((w->sim_node[i] = sim_node_add(sim, name, lab_world_cores(run))) < 0)
            return w->sim_node[i];
    }
    firings_start(&w->book, run, sim_node_wall(sim, w->sim_node[0]), true);
    for (int i = 0; i < w->nodes; i++) {
        w->worker[i] = (struct rw_worker){w, i};
        int rc2 = sim_node_main(sim, w->sim_node[i], "worker", rw_worker_main, &w->worker[i]);
        if (rc2 < 0)
            return rc2;
    }
    return 0;
}

/* The firings judged, and what the workers did. */
static int rw_record(struct lab_run *run, void *arg)
{
    struct rw *w = arg;
    firings_record(&w->book, run);
    struct rq_stats sum = {0};
    for (int n = 0; n < w->nodes; n++) {
        sum.claims += w->st[n].claims;
        sum.reclaimed += w->st[n].reclaimed;
        sum.lost_claims += w->st[n].lost_claims;
        sum.rebalances += w->st[n].rebalances;
        sum.moved += w->st[n].moved;
        sum.errors += w->st[n].errors;
    }
    lab_metric(run, "claims", (double)sum.claims);
    lab_metric(run, "redelivered", (double)sum.reclaimed);
    lab_metric(run, "lost_claims", (double)sum.lost_claims);
    lab_metric(run, "rebalances", (double)sum.rebalances);
    lab_metric(run, "moved", (double)sum.moved);
    lab_metric(run, "redis_errors", (double)sum.errors);
    return 0;
}

/* The live world: redis-0 from the lab, the workers as live nodes, the tasks' times from
 * the system clock at the start. */
static int rw_live(struct lab_run *run, struct rw *w)
{
    if (!lab_live_begin(run))
        return -EINVAL;
    if (!lab_live_servers(run, LIVE_REDIS, 1))
        return -EHOSTUNREACH;
    w->addr = lab_live_server_addr(run, LIVE_REDIS, 0);
    firings_start(&w->book, run, live_true_now(), true);
    char name[24];
    for (int i = 0; i < w->nodes; i++) {
        w->worker[i] = (struct rw_worker){w, i};
        snprintf(name, sizeof(name), "node-%d", i + 1);
        int rc = lab_live_node(run, name, rw_live_worker_main, &w->worker[i]);
        if (rc < 0) {
            lab_fail(run, "cannot start live node %s: %s", name, strerror(-rc));
            return rc;
        }
    }
    int rc = lab_live_go(run, 0);
    if (rc < 0)
        return rc;
    /* due times are judged against true time from the run's start, which the first
     * worker measured (the schedule was set a few microseconds before it) */
    if (atomic_load(&w->wall0))
        w->book.wall0 = atomic_load(&w->wall0);
    return rw_record(run, w);
}

static int rw_run(struct lab_run *run)
{
    struct rw w = {.run = run, .live = lab_world(run) == LAB_WORLD_LIVE};
    pthread_mutex_init(&w.mu, NULL);
    int rc = rw_read(&w, run);
    if (rc == 0)
        rc = w.live ? rw_live(run, &w) : lab_sim_run(run, &w, rw_build, rw_record);
    /* a simulated world ended inside lab_sim_run: no actor calls the model below */
    sim_redis_destroy(w.redis);
    pl_destroy(w.policy);
    firings_free(&w.book);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

extern const struct lab_workload lab_wl_delay_rqueue;

const struct lab_workload lab_wl_delay_rqueue = {
    .name = "delay/rqueue",
    .about = "the delayed-task cluster with its tasks in Redis sorted sets: claims with a "
             "visibility timeout, redelivery after a worker's crash, the key in Redis",
    .params = rw_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = rw_run,
};

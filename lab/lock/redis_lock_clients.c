/* redis_lock_clients.c - the lock/redis workload's clients (redis_lock_wl.h): a client's
 * cycle in both worlds, the counter it protects (with the fencing check), the holder
 * fault, and the simulated world they run in. */
#include "lab/lock/redis_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if HAVE_HIREDIS
#include "live/redis_hiredis.h"
#endif

/* ---- Time, in both worlds -------------------------------------------------------- */

/* True time since the run started. */
int64_t rl_true_now(struct rl *w, struct env *e)
{
    return lockres_now(w->res, e);
}

/* ---- Connections ------------------------------------------------------------------ */

static struct redis *connect_sim(struct env *e, size_t i, void *arg)
{
    struct rl *w = arg;
    struct sim_addr a[2] = {sim_redis_addr(w->model[i])};
    size_t n = 1;
    if (i == 0 && w->replica_model)
        a[n++] = sim_redis_addr(w->replica_model);
    return sim_redis_connect(e, a, n, w->call_timeout);
}

#if HAVE_HIREDIS
static struct redis *connect_live(struct env *e, size_t i, void *arg)
{
    struct rl *w = arg;
    return live_redis_connect(w->addr[i], w->call_timeout);
}
#endif

/* ---- The holder fault ------------------------------------------------------------- */

static void holder_fault(struct rl_client *c, struct env *e, bool after_read)
{
    struct rl *w = c->w;
    if (w->hfault == HF_NONE || atomic_load(&w->fault_fired) ||
        after_read != (w->hfault == HF_PAUSE) || (w->hfault == HF_CRASH && !w->live))
        return; /* a simulated crash is armed on the servers (arm_crash) */
    int64_t now = rl_true_now(w, e);
    if (now < w->fault_at || atomic_exchange(&w->fault_fired, true))
        return;
    w->fault_fired_at = now;
    w->fault_client = c->index;
#if HAVE_HIREDIS
    if (w->live) {
        rl_holder_fault_live(c);
        return;
    }
#endif
    struct sim *sim = sim_env_sim(e);
    int64_t t = sim_now(sim);
    if (w->hfault == HF_PAUSE) {
        sim_fault_pause(sim, t, c->node, w->fault_for);
        return;
    }
    for (int i = 0; i < w->fault_servers; i++)
        sim_fault_clock_step(sim, t, w->redis_node[i], w->fault_step);
}

static void holder_fault_after_read(void *arg, struct env *e)
{
    holder_fault(arg, e, true);
}

/* crash-master in the simulation: each of the first fault_servers servers crashes after
 * its first grant at or after fault_at, just before that grant's replication would leave
 * (repl_lag - 10 us: a command takes the server at least its service time, so the write
 * before the grant has left), or right after the grant without a replica. */
static int arm_crash(struct rl *w)
{
    int64_t delay = w->replica && w->repl_lag > 10 * SIM_US ? w->repl_lag - 10 * SIM_US : 0;
    for (int i = 0; i < w->fault_servers; i++)
        if (sim_redis_crash_after_grant(w->model[i], RL_LOCK_KEY, w->fault_at, delay,
                                        w->fault_for) < 0)
            return -EINVAL;
    return 0;
}

/* ---- A client ---------------------------------------------------------------------- */

static bool stopping(struct rl *w, struct env *e, int64_t *left)
{
    if (w->live && lab_live_stopping(w->run))
        return true;
    *left = w->acquire_timeout;
    if (w->live) {
        int64_t rest = w->duration - rl_true_now(w, e);
        if (rest <= 0)
            return true;
        if (rest < *left)
            *left = rest;
    }
    return false;
}

void rl_client_loop(struct env *e, struct rl_client *c)
{
    struct rl *w = c->w;
    struct rlock *l = c->lock;
    env_sleep(e, 1 + (int64_t)env_rand_below(e, SIM_MS)); /* servers listen from time 0 */
    int64_t timeout;
    for (int64_t n = 0; (w->cycles == 0 || n < w->cycles) && !stopping(w, e, &timeout); n++) {
        int64_t t0 = env_mono(e);
        int rc = rlock_acquire(l, timeout);
        if (rc != 0) {
            c->failed++;
            c->errors += rc != -EBUSY;
            env_sleep(e, w->retry_delay);
            continue;
        }
        hist_add(c->latency, env_mono(e) - t0);
        hist_add(c->attempts, (int64_t)rlock_last_attempts(l));
        int64_t lease = lockres_acquired(w->res, c->index, e);
        holder_fault(c, e, false);
        int rr = lockres_critical(w->res, e, &c->next_id, lease, rlock_fence(l), w->hold,
                                  holder_fault_after_read, c);
        c->res_errors += rr == -ETIMEDOUT;
        int64_t t_rel = rl_true_now(w, e);
        rc = rlock_release(l);
        lockres_released(w->res, lease, t_rel, rc == 0);
        c->stale_releases += rc == -ESTALE;
        if (w->think > 0)
            env_sleep(e, w->think);
    }
    c->done = true; /* the counters: the lock's own (sim), or what its exits kept (live) */
}

struct rlock *rl_make_lock(struct rl *w, struct env *e)
{
    struct rlock_config cfg = {
        .algo = w->algo, .ttl_ns = w->ttl, .nservers = (size_t)w->servers,
        .retry_delay_ns = w->retry_delay, .retry_jitter_ns = w->retry_jitter,
        .connect = connect_sim, .connect_arg = w, .key = w->key[0] ? w->key : NULL,
    };
#if HAVE_HIREDIS
    if (w->live)
        cfg.connect = connect_live;
#endif
    return rlock_create(e, &cfg);
}

static void abandon(void *arg)
{
    rlock_abandon(arg);
}

/* A client node's main actor (sim). The lock outlives the actor, which the run stops
 * wherever it stands: the workload reads its counters afterwards, and the actor's exit
 * handler frees it when the world is torn down. */
static void client_main_sim(struct env *e, void *arg)
{
    struct rl_client *c = arg;
    c->lock = rl_make_lock(c->w, e);
    if (!c->lock || sim_env_atexit(e, abandon, c->lock) < 0) {
        rlock_abandon(c->lock);
        c->lock = NULL;
        return;
    }
    rl_client_loop(e, c);
}

/* ---- The simulated world ----------------------------------------------------------- */

static int build_sim(struct lab_run *run, struct sim *sim, void *arg)
{
    struct rl *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    char name[48];
    for (int i = 0; i < w->servers; i++) {
        snprintf(name, sizeof(name), "redis-%d", i);
        w->redis_node[i] = sim_node_add(sim, name, cores);
    }
    w->replica_node = w->replica ? sim_node_add(sim, "replica-0", cores) : -1;
    w->res_node = sim_node_add(sim, "resource", cores);
    for (int k = 0; k < w->clients; k++) {
        snprintf(name, sizeof(name), "client-%d", k);
        w->client[k].node = sim_node_add(sim, name, cores);
    }
    for (int i = 0; i < w->servers; i++) {
        struct sim_redis_cfg rc = {.service_ns = w->service, .persist = w->persist,
                                   .role = SIM_REDIS_MASTER, .peer = -1,
                                   .repl_lag_ns = w->repl_lag};
        if (i == 0 && w->replica)
            rc.peer = w->replica_node;
        w->model[i] = sim_redis_create(sim, w->redis_node[i], &rc);
        if (!w->model[i])
            goto err_nomem;
        if (i == 0 && w->replica) {
            rc.peer = w->redis_node[0];
            rc.role = SIM_REDIS_REPLICA;
            rc.failover_after_ns = w->failover_after;
            w->replica_model = sim_redis_create(sim, w->replica_node, &rc);
            if (!w->replica_model)
                goto err_nomem;
        }
    }
    if (lockres_sim(w->res, sim, w->res_node, w->call_timeout) < 0)
        goto err_nomem;
    if (w->hfault == HF_CRASH && arm_crash(w) < 0)
        goto err_nomem;
    for (int k = 0; k < w->clients; k++)
        if (sim_node_main(sim, w->client[k].node, "client", client_main_sim, &w->client[k]) < 0)
            goto err_nomem;
    return 0;
err_nomem:
    lab_fail(run, "out of memory building the simulated world");
    return -ENOMEM;
}

static int record_sim(struct lab_run *run, void *arg)
{
    struct rl *w = arg;
    struct sim_redis_stats st;
    sim_redis_stats(w->model[0], &st);
    if (w->hfault == HF_CRASH && st.armed_grant >= 0) {
        atomic_store(&w->fault_fired, true);
        w->fault_fired_at = st.armed_grant;
        w->fault_client = -1;
    }
    return rl_report(w, sim_now(w->sim));
}

/* The world ends inside lab_sim_run: the models and locks its actors use are freed by
 * the caller afterwards. */
int rl_run_sim(struct rl *w)
{
    int rc = lab_sim_run(w->run, w, build_sim, record_sim);
    w->sim = NULL;
    return rc;
}


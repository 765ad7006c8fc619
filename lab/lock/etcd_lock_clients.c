/* etcd_lock_clients.c - the lock/etcd workload's clients (etcd_lock_wl.h): a client's cycle
 * in both worlds, the holder fault, the window of the per-grant counts, the compactor, and
 * the simulated world they run in. */
#include "lab/lock/etcd_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#if HAVE_ETCD
#include "live/etcd_curl.h"
#endif

/* ---- Both worlds ------------------------------------------------------------------ */

/* A connection of client k (member k mod members first), counting its calls. */
static struct etcd *connect_client(struct env *e, void *arg)
{
    struct el_client *c = arg;
    struct el *w = c->w;
    struct etcd *inner = NULL;
#if HAVE_ETCD
    if (w->live)
        inner = live_etcd_connect_from(w->endpoints, (size_t)c->index, w->call_timeout);
#endif
    if (!w->live)
        inner =
            sim_etcd_connect(e, w->model, (size_t)c->index % (size_t)w->members, w->call_timeout);
    return el_counting(inner, &w->calls, &w->lease[c->index]);
}

int el_atexit(struct el *w, struct env *e, void (*fn)(void *arg), void *arg)
{
    return w->live ? live_env_atexit(e, fn, arg) : sim_env_atexit(e, fn, arg);
}

int64_t el_now(struct el *w, struct env *e)
{
    return lockres_now(w->res, e);
}

/* ---- The holder fault ------------------------------------------------------------- */

static void holder_fault(void *arg, struct env *e)
{
    struct el_client *c = arg;
    struct el *w = c->w;
    if (w->hfault == HF_NONE || atomic_load(&w->fault_fired))
        return;
    int64_t now = lockres_now(w->res, e);
    if (now < w->fault_at || atomic_exchange(&w->fault_fired, true))
        return;
    w->fault_fired_at = now;
    w->fault_client = c->index;
    if (w->live) { /* now, not through the lab's thread: the hold's sleep must block */
        live_node_pause(w->lw, c->name, w->fault_for);
        return;
    }
    struct sim *sim = sim_env_sim(e);
    sim_fault_pause(sim, sim_now(sim), c->node, w->fault_for);
}

/* ---- A client ---------------------------------------------------------------------- */

bool el_stopping(struct el *w, struct env *e, int64_t *left)
{
    if (left)
        *left = w->acquire_timeout;
    if (!w->live)
        return false; /* the simulation stops the actors where they stand */
    int64_t rest = w->duration - lockres_now(w->res, e);
    if (lab_live_stopping(w->run) || rest <= 0)
        return true;
    if (left && rest < *left)
        *left = rest;
    return false;
}

/* Errors a next acquire cannot cure: the scenario asks for what etcd refuses. */
static bool fatal(int rc)
{
    return rc == -EINVAL || rc == -E2BIG || rc == -ENOMEM;
}

/* sim: sum every client's counters as the window's start (0) or its latest end (1); no
 * other actor runs meanwhile, so reading their locks is safe. */
static void window_edge(struct el *w, int edge)
{
    uint64_t req = 0, wk = 0;
    for (int k = 0; k < w->clients; k++) {
        struct elock_stats st;
        if (!w->client[k].lock)
            continue;
        elock_get_stats(w->client[k].lock, &st);
        req += st.requests;
        wk += st.wakeups;
    }
    w->win_req[edge] = req;
    w->win_wk[edge] = wk;
    w->win_grants[edge] = atomic_load(&w->window_acq);
}

static void note_grant(struct el_client *c, int64_t now)
{
    struct el *w = c->w;
    if (now >= w->warmup) {
        atomic_fetch_add(&w->window_acq, 1);
        if (!w->live) {
            window_edge(w, w->win_open);
            w->win_open = true;
        }
    }
    pthread_mutex_lock(&w->mu);
    series_add(w->rate, now, 1e9 / (double)RATE_BIN);
    pthread_mutex_unlock(&w->mu);
    int64_t prev = atomic_exchange(&w->last_grant, now);
    int64_t gap = now - prev, cur = atomic_load(&w->longest_gap);
    while (gap > cur && !atomic_compare_exchange_weak(&w->longest_gap, &cur, gap))
        ;
}

void el_client_loop(struct env *e, struct el_client *c)
{
    struct el *w = c->w;
    struct elock *l = c->lock;
    env_sleep(e, 1 + (int64_t)env_rand_below(e, SIM_MS)); /* members listen from time 0 */
    int64_t timeout;
    for (int64_t n = 0; (w->cycles == 0 || n < w->cycles) && !el_stopping(w, e, &timeout); n++) {
        if (w->live && !c->snapped && lockres_now(w->res, e) >= w->warmup) {
            elock_get_stats(l, &c->snap);
            c->snapped = true;
        }
        int64_t t0 = env_mono(e);
        int rc = elock_acquire(l, timeout);
        if (rc != 0) {
            c->failed++;
            c->cancels += rc == -ECANCELED;
            if (fatal(rc)) {
                c->fatal_rc = (uint64_t)-rc;
                break;
            }
            continue;
        }
        hist_add(c->latency, env_mono(e) - t0);
        int64_t lease = lockres_acquired(w->res, c->index, e);
        note_grant(c, lockres_now(w->res, e));
        int64_t fence = w->fencing ? elock_fence(l) : 0;
        int rr = lockres_critical(w->res, e, &c->next_id, lease, fence, w->hold, holder_fault, c);
        c->res_errors += rr == -ETIMEDOUT;
        int64_t t_rel = lockres_now(w->res, e);
        rc = elock_release(l);
        lockres_released(w->res, lease, t_rel, rc == 0);
        c->stale_releases += rc == -ESTALE;
        if (w->think > 0)
            env_sleep(e, w->think);
    }
    elock_get_stats(l, &c->st);
    c->done = true;
}

struct elock *el_make_lock(struct el_client *c, struct env *e)
{
    struct el *w = c->w;
    struct elock_config cfg = {
        .algo = w->algo,
        .key = w->key,
        .ttl_s = w->ttl_s,
        .connect = connect_client,
        .connect_arg = c,
        .retry_delay_ns = w->retry_delay,
    };
    return elock_create(e, &cfg);
}

static void abandon(void *arg)
{
    elock_abandon(arg);
}

/* A client node's main actor (sim). The lock outlives the actor, which the run stops
 * wherever it stands: the workload reads its counters afterwards, and the actor's exit
 * handler frees it when the world is torn down. */
static void client_main_sim(struct env *e, void *arg)
{
    struct el_client *c = arg;
    c->lock = el_make_lock(c, e);
    if (!c->lock || sim_env_atexit(e, abandon, c->lock) < 0) {
        elock_abandon(c->lock);
        c->lock = NULL;
        return;
    }
    el_client_loop(e, c);
}

static void close_conn(void *arg)
{
    etcd_close(arg);
}

void el_compactor_main(struct env *e, void *arg)
{
    struct el *w = arg;
    struct etcd *c = NULL;
#if HAVE_ETCD
    if (w->live)
        c = live_etcd_connect(w->endpoints, w->call_timeout);
#endif
    if (!w->live)
        c = sim_etcd_connect(e, w->model, 0, w->call_timeout);
    if (!c || el_atexit(w, e, close_conn, c) < 0) { /* a run may stop it where it stands */
        etcd_close(c);
        return;
    }
    while (!el_stopping(w, e, NULL)) {
        env_sleep(e, w->compact_every);
        struct etcd_kv kv;
        int64_t rev = 0;
        if (etcd_get(c, "/", &kv, &rev) < 0 || etcd_compact(c, rev) < 0)
            atomic_fetch_add(&w->compact_errors, 1);
        else
            atomic_fetch_add(&w->compactions, 1);
    }
}

/* ---- The simulated world ----------------------------------------------------------- */

int el_build_sim(struct lab_run *run, struct sim *sim, void *arg)
{
    struct el *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    char name[48];
    for (int i = 0; i < w->members; i++) {
        snprintf(name, sizeof(name), "etcd-%d", i);
        w->member_node[i] = sim_node_add(sim, name, cores);
    }
    w->res_node = sim_node_add(sim, "resource", cores);
    w->compactor_node = w->compact_every > 0 ? sim_node_add(sim, "compactor", cores) : -1;
    for (int k = 0; k < w->clients; k++) {
        snprintf(name, sizeof(name), "client-%d", k);
        w->client[k].node = sim_node_add(sim, name, cores);
    }
    struct sim_etcd_cfg cfg = {.fsync_ns = w->fsync,
                               .service_ns = w->service,
                               .election_ns = w->election,
                               .heartbeat_ns = w->heartbeat,
                               .prefer_first = w->leader0};
    w->model = sim_etcd_create(sim, w->member_node, (size_t)w->members, &cfg);
    if (!w->model)
        return -ENOMEM;
    if (lockres_sim(w->res, sim, w->res_node, w->call_timeout) < 0)
        return -ENOMEM;
    if (w->compactor_node >= 0 &&
        sim_node_main(sim, w->compactor_node, "compactor", el_compactor_main, w) < 0)
        return -ENOMEM;
    for (int k = 0; k < w->clients; k++)
        if (sim_node_main(sim, w->client[k].node, "client", client_main_sim, &w->client[k]) < 0)
            return -ENOMEM;
    return 0;
}

int el_record_sim(struct lab_run *run, void *arg)
{
    struct el *w = arg;
    return el_report(w, sim_now(w->sim));
}

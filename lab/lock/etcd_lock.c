/* etcd_lock.c - the "lock/etcd" workload: the seed's counter increment under an etcd lock
 * (primitives/lock/etcd_lock.h: the seed's etcdsync, clientv3's mutex), with waiting herds,
 * holders that stop past their lease, and members that crash or pause; the lock checker
 * (lockres.h, lockcheck.h) counts what went wrong in true time. Never writes files or exits.
 *
 * A client's cycle: acquire (blocking, at most acquire_timeout; a failed call is retried
 * after retry_delay inside it) -> read the counter from the resource -> hold -> write it
 * back plus one -> release -> think (lockres_critical). With `fencing`, every access
 * carries the grant's token, the lock key's create_revision, and the resource refuses an
 * older one.
 *
 * The simulated world: nodes etcd-0 .. etcd-(members-1) (sim/etcd_model.h: Raft with an
 * fsync of `fsync`, election timeout `election`), `resource`, client-0 .. client-(K-1);
 * client k talks to member k mod members first. With `leader0`, etcd-0 wins the first
 * election, so `faults:` can name the leader (crash: etcd-0).
 *
 * What is counted over a window that starts at `warmup`: requests (every etcd call an
 * acquire or a release made, watches opened included; not the mutex's keep-alives),
 * wake-ups (watch events received while waiting) and grants, giving
 * requests_per_acquisition and wakeups_per_acquisition. The simulation sums every
 * client's counters at the first grant after warmup and again at each later grant, so
 * the window holds whole grant-to-grant cycles: no edge effect. Live (where one thread
 * may not read another's lock), each client reads its own counters at its first cycle
 * after warmup and at its end, and the grants after warmup are counted: the edges blur by
 * about one cycle's worth.
 * Calls are also counted by outcome through a counting connection: call_resets (the
 * member died under the call), call_timeouts, call_no_leader, call_refused, and
 * watch_resets (a watch's member died while the client waited on it); resets is both.
 *
 * `holder_fault: pause`: at the first grant at or after fault_at, the holder's node
 * pauses for fault_for right after it read the counter (its keep-alive actor, on the same
 * node, stops too). `compact_every`: a compactor node compacts the history to the current
 * revision that often (etcd's auto-compaction), so that a waiter may find the revision it
 * read compacted before its watch starts: the lock returns -ECANCELED, counted as
 * watch_cancels, and the client starts over (a clear error, not a hang).
 *
 * Every random draw comes from the actors' seeded streams. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/lock/lockres.h"
#include "lock/etcd_lock.h"
#include "names.h"
#include "sim/etcd_model.h"

#define MAX_CLIENTS 512
#define MAX_MEMBERS 7
#define RATE_BIN (500 * SIM_MS) /* grant_rate_ts: grants per second in half-second bins */

enum hfault { HF_NONE, HF_PAUSE };
#define HF_NAMES "none", "pause"

struct el;

/* Calls by outcome, through a connection that counts (see counting_ops). */
struct call_counts {
    _Atomic uint64_t calls, resets, timeouts, no_leader, refused, other;
    _Atomic uint64_t watch_events, watch_resets, watch_cancels;
};

struct el_client {
    struct el *w;
    int index;
    int node;
    char prefix[32]; /* live: "client-K/", what a pause reaches */
    struct elock *lock;
    struct hist *latency;
    uint64_t failed, fatal_rc, cancels, stale_releases, res_errors, next_id;
    bool snapped;
    struct elock_stats snap, st; /* at the window's start; at the end */
    bool done;
};

struct el {
    struct lab_run *run;
    bool live;
    enum elock_algo algo;
    bool fencing, leader0;
    int clients, members;
    const char *key;
    int64_t ttl_s, hold, think, acquire_timeout, call_timeout, retry_delay, cycles;
    int64_t fsync, service, election, heartbeat, warmup, compact_every;
    enum hfault hfault;
    int64_t fault_at, fault_for;
    int64_t duration;

    struct lockres *res;
    struct call_counts calls;
    atomic_bool fault_fired, stop;
    int64_t fault_fired_at;
    int fault_client;
    _Atomic uint64_t compactions, compact_errors;
    _Atomic int64_t last_grant; /* true time of the latest grant, any client */
    _Atomic int64_t longest_gap;
    _Atomic uint64_t window_acq; /* grants at or after warmup */
    pthread_mutex_t mu;          /* rate (live clients are threads) */
    struct series *rate;
    /* sim: the clients' summed counters at the first grant after warmup and at the last */
    bool win_open;
    uint64_t win_req[2], win_wk[2], win_grants[2];

    struct sim *sim;
    int member_node[MAX_MEMBERS], res_node, compactor_node;
    struct sim_etcd *model;

    struct el_client *client;
};

static const struct lab_param el_params[] = {
    {"algorithm", LAB_ENUM, "etcdsync", 1, 0, NAMES_CHOICES(ELOCK_ALGO_NAMES),
     "the lock (primitives/lock/etcd_lock.h): the seed's etcdsync or clientv3's mutex"},
    {"fencing", LAB_BOOL, "false", 1, 0, NULL,
     "the resource refuses a token (the lock key's create_revision) older than the newest"},
    {"clients", LAB_INT, "5", 1, MAX_CLIENTS, NULL, "client nodes (threads), one lock each"},
    {"members", LAB_INT, "1", 1, MAX_MEMBERS, NULL,
     "etcd members etcd-0..; 3 keep a quorum when one is lost"},
    {"key", LAB_STRING, "/lock", 1, 0, NULL,
     "the lock key (etcdsync) or key prefix (mutex): '/' then printable ASCII"},
    {"ttl", LAB_DURATION, "10s", 1e9, 9.2e18, NULL,
     "lease TTL in whole seconds, the seed's 10 s (etcd raises it to its minimum, 2 s)"},
    {"hold", LAB_DURATION, "50ms", 0, 86400e9, NULL,
     "the holder's work between reading the counter and writing it back"},
    {"think", LAB_DURATION, "0", 0, 86400e9, NULL, "time between a release and the next try"},
    {"acquire_timeout", LAB_DURATION, "30s", 1e6, 86400e9, NULL,
     "how long an acquire may block (waiting and retrying)"},
    {"timeout", LAB_DURATION, "1s", 1e6, 3600e9, NULL, "bound on every etcd call"},
    {"retry_delay", LAB_DURATION, "100ms", 1e3, 3600e9, NULL,
     "wait after a failed call before the lock tries again"},
    {"cycles", LAB_INT, "0", 0, 1e12, NULL, "cycles per client; 0: until the run ends"},
    {"warmup", LAB_DURATION, "2s", 0, 86400e9, NULL,
     "the per-acquisition counts start here (each client's first cycle after it)"},
    {"leader0", LAB_BOOL, "true", 1, 0, NULL,
     "etcd-0 leads at the start, so faults can name the leader"},
    {"fsync", LAB_DURATION, "1ms", 0, 1e9, NULL,
     "sim: one WAL fsync (a put cost 0.9-1.1 ms on a real etcd here: bench-etcd-lock)"},
    {"service", LAB_DURATION, "0", 0, 1e9, NULL, "sim: a member's CPU time per client request"},
    {"election", LAB_DURATION, "1s", 1e6, 3600e9, NULL, "sim: the election timeout E (etcd's)"},
    {"heartbeat", LAB_DURATION, "100ms", 1e5, 3600e9, NULL, "sim: the leader's heartbeat"},
    {"compact_every", LAB_DURATION, "0", 0, 3600e9, NULL,
     "compact the history to the current revision this often (0: never)"},
    {"holder_fault", LAB_ENUM, "none", 1, 0, NAMES_CHOICES(HF_NAMES),
     "pause: the first holder after fault_at stops for fault_for after its read"},
    {"fault_at", LAB_DURATION, "5s", 0, 86400e9, NULL, "when holder_fault arms"},
    {"fault_for", LAB_DURATION, "5s", 0, 86400e9, NULL, "how long the holder stops"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- A connection that counts calls by outcome ------------------------------------- */

struct cwatch;

struct counting {
    struct etcd base;
    struct etcd *inner;
    struct call_counts *k;
    struct cwatch *watches; /* open ones: a connection closed with watches open frees them */
};

static struct counting *cnt(struct etcd *c)
{
    return (struct counting *)(void *)c;
}

static int count(struct etcd *c, int rc)
{
    struct call_counts *k = cnt(c)->k;
    atomic_fetch_add(&k->calls, 1);
    if (rc >= 0)
        return rc;
    _Atomic uint64_t *slot = rc == -ECONNRESET     ? &k->resets
                             : rc == -ETIMEDOUT    ? &k->timeouts
                             : rc == -EAGAIN       ? &k->no_leader
                             : rc == -ECONNREFUSED ? &k->refused
                                                   : &k->other;
    atomic_fetch_add(slot, 1);
    return rc;
}

/* The inner connection carries the caller's timeout. */
static struct etcd *in(struct etcd *c)
{
    struct etcd *i = cnt(c)->inner;
    i->timeout_ns = c->timeout_ns;
    return i;
}

static int c_txn(struct etcd *c, const struct etcd_cmp *cmps, size_t ncmp, struct etcd_op *t,
                 size_t nt, struct etcd_op *e, size_t ne, bool *ok, int64_t *rev)
{
    return count(c, in(c)->ops->txn(in(c), cmps, ncmp, t, nt, e, ne, ok, rev));
}

static int c_op(struct etcd *c, struct etcd_op *op, int64_t *rev)
{
    return count(c, in(c)->ops->op(in(c), op, rev));
}

static int c_grant(struct etcd *c, int64_t ttl, int64_t *id, int64_t *granted, int64_t *rev)
{
    return count(c, in(c)->ops->lease_grant(in(c), ttl, id, granted, rev));
}

static int c_revoke(struct etcd *c, int64_t id, int64_t *rev)
{
    return count(c, in(c)->ops->lease_revoke(in(c), id, rev));
}

static int c_keepalive(struct etcd *c, int64_t id, int64_t *ttl, int64_t *rev)
{
    return count(c, in(c)->ops->lease_keepalive(in(c), id, ttl, rev));
}

static int c_compact(struct etcd *c, int64_t rev)
{
    return count(c, in(c)->ops->compact(in(c), rev));
}

/* A watch of the inner connection, wrapped to count how it ends. */
struct cwatch {
    struct etcd_watch base;
    struct etcd_watch *inner;
    struct cwatch *next, **pprev;
};

static int c_watch_open(struct etcd *c, const char *key, bool prefix, int64_t start,
                        struct etcd_watch **out, int64_t *rev)
{
    /* allocated once the inner watch exists: a run may end while the call blocks */
    struct etcd_watch *inner = NULL;
    int rc = count(c, in(c)->ops->watch_open(in(c), key, prefix, start, &inner, rev));
    if (rc < 0)
        return rc;
    struct cwatch *w = malloc(sizeof(*w));
    if (!w) {
        etcd_watch_close(inner);
        return -ENOMEM;
    }
    w->inner = inner;
    w->base = (struct etcd_watch){.c = c};
    w->next = cnt(c)->watches;
    if (w->next)
        w->next->pprev = &w->next;
    w->pprev = &cnt(c)->watches;
    cnt(c)->watches = w;
    *out = &w->base;
    return 0;
}

static int c_watch_next(struct etcd_watch *ew, struct etcd_event *ev, int64_t timeout_ns)
{
    struct cwatch *w = (struct cwatch *)(void *)ew;
    struct call_counts *k = cnt(ew->c)->k;
    int rc = etcd_watch_next(w->inner, ev, timeout_ns);
    w->base.compact_rev = w->inner->compact_rev;
    if (rc == 0)
        atomic_fetch_add(&k->watch_events, 1);
    else if (rc == -ECONNRESET)
        atomic_fetch_add(&k->watch_resets, 1);
    else if (rc == -ECANCELED)
        atomic_fetch_add(&k->watch_cancels, 1);
    return rc;
}

static void c_watch_close(struct etcd_watch *ew)
{
    struct cwatch *w = (struct cwatch *)(void *)ew;
    *w->pprev = w->next;
    if (w->next)
        w->next->pprev = w->pprev;
    etcd_watch_close(w->inner);
    free(w);
}

/* The inner connection frees its own watches; the wrappers still open go here. */
static void c_close(struct etcd *c)
{
    while (cnt(c)->watches) {
        struct cwatch *w = cnt(c)->watches;
        cnt(c)->watches = w->next;
        free(w);
    }
    etcd_close(cnt(c)->inner);
    free(c);
}

static const struct etcd_ops counting_ops = {
    .txn = c_txn,
    .op = c_op,
    .lease_grant = c_grant,
    .lease_revoke = c_revoke,
    .lease_keepalive = c_keepalive,
    .compact = c_compact,
    .watch_open = c_watch_open,
    .watch_next = c_watch_next,
    .watch_close = c_watch_close,
    .close = c_close,
};

static struct etcd *counting(struct etcd *inner, struct call_counts *k)
{
    struct counting *c = inner ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        etcd_close(inner);
        return NULL;
    }
    c->base.ops = &counting_ops;
    c->base.timeout_ns = inner->timeout_ns;
    c->inner = inner;
    c->k = k;
    return &c->base;
}

/* ---- Connections ------------------------------------------------------------------ */

static struct etcd *connect_sim(struct env *e, void *arg)
{
    struct el_client *c = arg;
    struct el *w = c->w;
    return counting(
        sim_etcd_connect(e, w->model, (size_t)c->index % (size_t)w->members, w->call_timeout),
        &w->calls);
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
    struct sim *sim = sim_env_sim(e);
    sim_fault_pause(sim, sim_now(sim), c->node, w->fault_for);
}

/* ---- A client ---------------------------------------------------------------------- */

static bool stopping(struct el *w, struct env *e, int64_t *left)
{
    if (atomic_load(&w->stop))
        return true;
    *left = w->acquire_timeout;
    if (w->live) {
        int64_t rest = w->duration - lockres_now(w->res, e);
        if (rest <= 0)
            return true;
        if (rest < *left)
            *left = rest;
    }
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

static void client_loop(struct env *e, struct el_client *c)
{
    struct el *w = c->w;
    struct elock *l = c->lock;
    env_sleep(e, 1 + (int64_t)env_rand_below(e, SIM_MS)); /* members listen from time 0 */
    int64_t timeout;
    for (int64_t n = 0; (w->cycles == 0 || n < w->cycles) && !stopping(w, e, &timeout); n++) {
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

static struct elock *make_lock(struct el_client *c, struct env *e)
{
    struct el *w = c->w;
    struct elock_config cfg = {
        .algo = w->algo,
        .key = w->key,
        .ttl_s = w->ttl_s,
        .connect = connect_sim,
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
    c->lock = make_lock(c, e);
    if (!c->lock || sim_env_atexit(e, abandon, c->lock) < 0) {
        elock_abandon(c->lock);
        c->lock = NULL;
        return;
    }
    client_loop(e, c);
}

static void close_conn(void *arg)
{
    etcd_close(arg);
}

/* The compactor: every compact_every, compact the history to the current revision. */
static void compactor_main(struct env *e, void *arg)
{
    struct el *w = arg;
    struct etcd *c = sim_etcd_connect(e, w->model, 0, w->call_timeout);
    if (!c || sim_env_atexit(e, close_conn, c) < 0) { /* the run stops it where it stands */
        etcd_close(c);
        return;
    }
    for (;;) {
        env_sleep(e, w->compact_every);
        struct etcd_kv kv;
        int64_t rev = 0;
        if (etcd_get(c, "/", &kv, &rev) < 0 || etcd_compact(c, rev) < 0)
            atomic_fetch_add(&w->compact_errors, 1);
        else
            atomic_fetch_add(&w->compactions, 1);
    }
}

/* ---- Parameters -------------------------------------------------------------------- */

static int read_params(struct el *w, struct lab_run *run)
{
    w->run = run;
    w->live = lab_world(run) == LAB_WORLD_LIVE;
    w->algo = (enum elock_algo)lab_enum(run, "algorithm");
    w->fencing = lab_bool(run, "fencing");
    w->clients = (int)lab_int(run, "clients");
    w->members = (int)lab_int(run, "members");
    w->key = lab_str(run, "key");
    int64_t ttl = lab_duration(run, "ttl");
    w->hold = lab_duration(run, "hold");
    w->think = lab_duration(run, "think");
    w->acquire_timeout = lab_duration(run, "acquire_timeout");
    w->call_timeout = lab_duration(run, "timeout");
    w->retry_delay = lab_duration(run, "retry_delay");
    w->cycles = lab_int(run, "cycles");
    w->warmup = lab_duration(run, "warmup");
    w->leader0 = lab_bool(run, "leader0");
    w->fsync = lab_duration(run, "fsync");
    w->service = lab_duration(run, "service");
    w->election = lab_duration(run, "election");
    w->heartbeat = lab_duration(run, "heartbeat");
    w->compact_every = lab_duration(run, "compact_every");
    w->hfault = (enum hfault)lab_enum(run, "holder_fault");
    w->fault_at = lab_duration(run, "fault_at");
    w->fault_for = lab_duration(run, "fault_for");
    w->duration = lab_duration_total(run);
    const char *why;
    if (elock_key_check(w->key, &why) < 0)
        return lab_fail_param(run, "key", "'%s' cannot be a lock key: %s", w->key, why);
    if (ttl % 1000000000LL)
        return lab_fail_param(run, "ttl", "etcd leases last whole seconds (%.3f s given)",
                              (double)ttl / 1e9);
    w->ttl_s = ttl / 1000000000LL;
    if (w->ttl_s > ETCD_MAX_LEASE_TTL_S)
        return lab_fail_param(run, "ttl", "etcd refuses a lease TTL above %lld s (its MaxLeaseTTL)",
                              (long long)ETCD_MAX_LEASE_TTL_S);
    if (w->heartbeat >= w->election)
        return lab_fail_param(run, "heartbeat",
                              "the heartbeat must be shorter than the "
                              "election timeout (%.3f s)",
                              (double)w->election / 1e9);
    return 0;
}

/* ---- Results ----------------------------------------------------------------------- */

static void window_sum(struct el *w, struct elock_stats *win, struct elock_stats *all)
{
    memset(win, 0, sizeof(*win));
    memset(all, 0, sizeof(*all));
    for (int k = 0; k < w->clients; k++) {
        struct el_client *c = &w->client[k];
        if (!w->live && c->lock && !c->done)
            elock_get_stats(c->lock, &c->st); /* the actor was stopped mid-cycle */
        const struct elock_stats *s = &c->st, *b = &c->snap;
        all->requests += s->requests;
        all->wakeups += s->wakeups;
        all->watches += s->watches;
        all->errors += s->errors;
        all->leases += s->leases;
        all->resumed += s->resumed;
        all->session_lost += s->session_lost;
        all->keepalives += s->keepalives;
        all->keepalive_errors += s->keepalive_errors;
        if (c->snapped) {
            win->requests += s->requests - b->requests;
            win->wakeups += s->wakeups - b->wakeups;
        } else { /* a client that started after warmup */
            win->requests += s->requests;
            win->wakeups += s->wakeups;
        }
    }
}

static int report(struct el *w, int64_t end)
{
    struct lab_run *run = w->run;
    for (int k = 0; k < w->clients; k++) {
        struct el_client *c = &w->client[k];
        if (c->fatal_rc == EINVAL)
            return lab_fail_param(run, "ttl",
                                  "etcd refused a request of this lock (%s): a "
                                  "lease TTL above its maximum?",
                                  strerror(EINVAL));
        if (c->fatal_rc) {
            lab_fail(run, "client-%d: %s", k, strerror((int)c->fatal_rc));
            return -EINVAL;
        }
    }
    struct hist *lat = lab_hist(run, "acquire_latency", "ns");
    uint64_t failed = 0, cancels = 0, stale = 0, res_err = 0;
    for (int k = 0; k < w->clients; k++) {
        struct el_client *c = &w->client[k];
        hist_merge(lat, c->latency);
        failed += c->failed;
        cancels += c->cancels;
        stale += c->stale_releases;
        res_err += c->res_errors;
    }
    struct elock_stats win, all;
    window_sum(w, &win, &all);
    uint64_t acq = atomic_load(&w->window_acq);
    if (!w->live) { /* whole cycles between the first and the last grant of the window */
        acq = w->win_open ? w->win_grants[1] - w->win_grants[0] : 0;
        win.requests = w->win_req[1] - w->win_req[0];
        win.wakeups = w->win_wk[1] - w->win_wk[0];
    }
    lab_metric(run, "window_acquisitions", (double)acq);
    lab_metric(run, "requests_per_acquisition", acq ? (double)win.requests / (double)acq : 0);
    lab_metric(run, "wakeups_per_acquisition", acq ? (double)win.wakeups / (double)acq : 0);
    /* normalised by the theory's variable: waiters (clients - 1), clients */
    if (acq && w->clients > 1)
        lab_metric(run, "wakeups_per_waiter",
                   (double)win.wakeups / (double)acq / (double)(w->clients - 1));
    lab_metric(run, "requests_per_client",
               acq ? (double)win.requests / (double)acq / (double)w->clients : 0);
    lab_metric(run, "requests", (double)all.requests);
    lab_metric(run, "wakeups", (double)all.wakeups);
    lab_metric(run, "watches", (double)all.watches);
    lab_metric(run, "leases_granted", (double)all.leases);
    lab_metric(run, "resumed", (double)all.resumed);
    lab_metric(run, "session_lost", (double)all.session_lost);
    lab_metric(run, "keepalives", (double)all.keepalives);
    lab_metric(run, "keepalive_errors", (double)all.keepalive_errors);
    lab_metric(run, "failed_acquires", (double)failed);
    lab_metric(run, "watch_cancels", (double)cancels);
    lab_metric(run, "stale_releases", (double)stale);
    lab_metric(run, "resource_timeouts", (double)res_err);
    lab_metric(run, "calls", (double)atomic_load(&w->calls.calls));
    lab_metric(run, "call_resets", (double)atomic_load(&w->calls.resets));
    lab_metric(run, "call_timeouts", (double)atomic_load(&w->calls.timeouts));
    lab_metric(run, "call_no_leader", (double)atomic_load(&w->calls.no_leader));
    lab_metric(run, "call_refused", (double)atomic_load(&w->calls.refused));
    lab_metric(run, "watch_resets", (double)atomic_load(&w->calls.watch_resets));
    lab_metric(run, "resets",
               (double)(atomic_load(&w->calls.resets) + atomic_load(&w->calls.watch_resets)));
    lab_metric(run, "longest_gap", (double)atomic_load(&w->longest_gap) / 1e9);
    struct series *rate = lab_series(run, "grant_rate_ts", RATE_BIN, "grants/s");
    for (int64_t b = 0; b * RATE_BIN < end; b++)
        series_add(rate, b * RATE_BIN,
                   (size_t)b < series_len(w->rate) ? series_sum(w->rate, (size_t)b) : 0);
    if (w->compact_every > 0) {
        lab_metric(run, "compactions", (double)atomic_load(&w->compactions));
        lab_metric(run, "compact_errors", (double)atomic_load(&w->compact_errors));
    }
    lab_metric(run, "fault_fired", atomic_load(&w->fault_fired));
    if (atomic_load(&w->fault_fired)) {
        lab_metric(run, "fault_fired_at", (double)w->fault_fired_at / 1e9);
        lab_note(run, "%s: client-%d held the lock at %.3f s and stopped for %.3f s",
                 elock_algo_name(w->algo), w->fault_client, (double)w->fault_fired_at / 1e9,
                 (double)w->fault_for / 1e9);
    } else if (w->hfault != HF_NONE) {
        lab_note(run, "%s: the holder fault never fired (no grant after %.3f s)",
                 elock_algo_name(w->algo), (double)w->fault_at / 1e9);
    }
    if (w->model) {
        struct sim_etcd_stats st;
        sim_etcd_stats(w->model, &st);
        lab_metric(run, "elections", (double)st.elections);
        lab_metric(run, "leases_expired", (double)st.expired);
        /* time without a leader after the first election */
        size_t n;
        const struct sim_etcd_change *ch = sim_etcd_changes(w->model, &n);
        int64_t without = 0, down = -1, longest = 0;
        for (size_t i = 0; i < n; i++) {
            if (ch[i].member < 0 && down < 0) {
                down = ch[i].at;
            } else if (ch[i].member >= 0 && down >= 0) {
                without += ch[i].at - down;
                longest = ch[i].at - down > longest ? ch[i].at - down : longest;
                down = -1;
            }
        }
        if (down >= 0) {
            without += end - down;
            longest = end - down > longest ? end - down : longest;
        }
        lab_metric(run, "leaderless_time", (double)without / 1e9);
        lab_metric(run, "longest_election", (double)longest / 1e9);
    }
    return lockres_report(w->res, run, end, elock_algo_name(w->algo));
}

/* ---- The simulated world ----------------------------------------------------------- */

static int build_sim(struct lab_run *run, struct sim *sim, void *arg)
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
        sim_node_main(sim, w->compactor_node, "compactor", compactor_main, w) < 0)
        return -ENOMEM;
    for (int k = 0; k < w->clients; k++)
        if (sim_node_main(sim, w->client[k].node, "client", client_main_sim, &w->client[k]) < 0)
            return -ENOMEM;
    return 0;
}

static int record_sim(struct lab_run *run, void *arg)
{
    struct el *w = arg;
    return report(w, sim_now(w->sim));
}

/* ---- The workload -------------------------------------------------------------------- */

static int el_run(struct lab_run *run)
{
    struct el *w = calloc(1, sizeof(*w));
    if (!w) {
        lab_fail(run, "out of memory");
        return -ENOMEM;
    }
    int rc = read_params(w, run);
    if (rc < 0)
        goto out_free;
    rc = -ENOMEM;
    w->res = lockres_create(w->fencing);
    w->rate = series_create(RATE_BIN);
    w->client = calloc((size_t)w->clients, sizeof(*w->client));
    pthread_mutex_init(&w->mu, NULL);
    if (!w->res || !w->rate || !w->client)
        goto out_nomem;
    for (int k = 0; k < w->clients; k++) {
        struct el_client *c = &w->client[k];
        c->w = w;
        c->index = k;
        snprintf(c->prefix, sizeof(c->prefix), "client-%d/", k);
        c->latency = hist_create();
        if (!c->latency)
            goto out_nomem;
    }
    rc = lab_sim_run(run, w, build_sim, record_sim);
    goto out;
out_nomem:
    lab_fail(run, "out of memory");
out:
    /* the lab tears the simulated world down after this; the clients' locks go with their
     * actors (exit handlers), and the members' handlers no longer read the model */
    for (int k = 0; w->client && k < w->clients; k++)
        hist_destroy(w->client[k].latency);
    free(w->client);
    lockres_destroy(w->res);
    series_destroy(w->rate);
    pthread_mutex_destroy(&w->mu);
    sim_etcd_destroy(w->model);
out_free:
    free(w);
    return rc;
}

const struct lab_workload lab_wl_etcd_lock = {
    .name = "lock/etcd",
    .about = "the seed's counter under an etcd lock (the seed's etcdsync, clientv3's mutex)",
    .params = el_params,
    .worlds = LAB_WORLD_SIM,
    .run = el_run,
};

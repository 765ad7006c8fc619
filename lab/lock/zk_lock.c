/* zk_lock.c - the "lock/zk" workload: the seed's counter under the ZooKeeper lock
 * (primitives/lock/zk_lock.h), with clients that contend, pause past their session, and
 * meet a leader that crashes; with `compare`, the same workload on the Redis lock (safe)
 * in the second half of the run, for ratios measured in one run. The lock checker
 * (lockcheck.h, beside this file) counts what went wrong in true time. Runs in both
 * worlds; never writes files or exits.
 *
 * A cycle of a client: acquire (acquire_timeout 0 waits without limit, as the seed's
 * Lock() blocks) -> read the counter from the resource -> hold -> write it back plus one
 * -> release -> think. As in lock/redis, the hold is CPU work in the simulation (a pause
 * stops it) and a sleep live (an injected pause blocks that sleep first). With `fencing`
 * every resource access carries the lease's token, its node's czxid, and the resource
 * refuses a token older than the newest it has seen.
 *
 * Counting: each call the lock makes, each notification it takes and each wake-up (a
 * notification that made a waiting client look at the children again) is counted when it
 * happens, if that is in the window [warmup, end of the phase]; the acquisitions granted
 * in the window divide them. In a steady state where every other client waits (n >= 2
 * clients, a hold longer than the think time, both long enough for every waiter to look
 * again before the next change), per acquisition (the theory_* metrics):
 *   recipe  a release wakes its successor only: 1 wake-up. A cycle's calls: the
 *           releaser's delete, the successor's look, the releaser's create, look and
 *           exists on its predecessor: 5 calls of a request and a reply, 1 notification:
 *           11 messages, whatever n.
 *   herd    a release wakes the n-1 waiters; the releaser's new node, a think time later,
 *           wakes the n-2 still waiting and notifies the holder: 2n-3 wake-ups. Calls: 1
 *           delete, n-1 looks, 1 create, 1 look, n-2 looks: 2n; notifications 2n-2;
 *           messages 2 * 2n + 2n - 2 = 6n - 2.
 * handover_share (redis_handover_share for the Redis half) is the share of the window's
 * grants that went to another client than the one granted before: 1 for a queue whose
 * releaser goes to its back; near 0 where the releaser, trying again at once, takes the
 * lock straight back before any waiter (the Redis lock on a fast link).
 * wait_ts is, at the end of each 100 ms bin, how long the client that has waited longest
 * for the lock has been waiting (0 when nobody waits): it climbs while nobody can get the
 * lock.
 * connection_losses counts, over the whole run and all clients, the times a client's
 * connection broke (zk_session's disconnects); calls_lost the calls that failed for want
 * of a reply (the lock retries each). They differ: a waiter that waits on its watch when
 * its connection breaks loses no call, and a call made while no server will take the
 * client (at the simulated start, before the first leader serves; during an election)
 * fails with each attempt to connect, a few ms apart, without a connection to lose.
 *
 * The simulated world: zk-0 .. zk-(servers-1) (tick 200 ms, initLimit 50, syncLimit 10
 * ticks, as the live launcher runs ZooKeeper; CPU per request `service`, a log write
 * `fsync`: inputs, which bench-zk-lock measures on the real server), `resource` (the
 * counter; resource-redis, the Redis half's), redis-0 with `compare`, client-0 ..
 * client-(clients-1). With empty logs, the
 * first election is won by the highest id: zk-(servers-1) leads.
 *
 * The live world (the lab's, lab.h): a ZooKeeper of `servers` members (or the ensemble in
 * world.zookeeper), a redis-server with `compare`, client nodes client-0.. as threads, the
 * resource an object in this process. Before the clock starts, the workload makes the
 * highest id lead, as in the simulation (it restarts whoever leads until zk-(servers-1)
 * does), so that `crash: zk-2` crashes the leader in both worlds. The lab applies the
 * scenario's faults by name; a pause of client-K, besides stopping its threads at their
 * next call to the world, freezes its connections (a relay, live/relay.h) for as long, so
 * that its servers hear nothing from it, as from a stopped process (the ZooKeeper client's
 * own I/O thread would keep the session alive otherwise); holder_fault pause does the same
 * to the holder. Clients reach the servers through relays only when some client may pause.
 * An ensemble that cannot be reached ends the run with exit status 3 and no result; a
 * server that dies unasked fails it.
 *
 * Every random draw comes from the actors' (threads') seeded streams. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/lock/lockcheck.h"
#include "lab/lock/lockres.h"
#include "lock/redis_lock.h"
#include "lock/zk_lock.h"
#include "names.h"
#include "sim/redis_model.h"
#include "sim/zk_model.h"
#if HAVE_ZOOKEEPER
#include <sys/resource.h>

#include "live/live.h"
#include "live/relay.h"
#include "live/zk_client.h"
#if HAVE_HIREDIS
#include "live/redis_hiredis.h"
#endif
#endif

#define MAX_CLIENTS 512
#define MAX_SERVERS SIM_ZK_MAX_SERVERS
#define TS_BIN (100 * SIM_MS)
#define TICK (200 * SIM_MS)
#define PATH_ROOM 190 /* the lock's node, leaving room for its children's names */

enum { PHASE_ZK, PHASE_REDIS, NPHASES };

#define HOLDER_FAULT_NAMES "none", "pause"
enum holder_fault { HF_NONE, HF_PAUSE };

struct wait {
    int64_t from, to; /* true time: asked, got it (or gave up) */
};

struct zl;

/* At a scheduled crash of a ZooKeeper server: was it the leader? */
struct crash_probe {
    struct zl *w;
    int server;
    int64_t at;
};

struct zl_client {
    struct zl *w;
    int index, node; /* node: sim */
    char name[32];   /* "client-K" */
    char addrs[512]; /* live: how it reaches the ensemble (through its relays or not) */
    int relay_group; /* live: -1 without relays */
    struct env *e;   /* the client's own, while it runs */
    struct zklock *lock;
    struct rlock *rlock;
    uint64_t notes[3]; /* in the window: calls, notifications, wake-ups */
    uint64_t failed[NPHASES], errors[NPHASES], stale, res_errors;
    int64_t waiting_since; /* true time, or -1 */
    struct zklock_stats st;
    uint64_t next_id;
};

struct zl {
    struct lab_run *run;
    bool live;
    enum zklock_algo algo;
    bool fencing, compare;
    int clients, servers;
    int64_t session_timeout, hold, think, acquire_timeout, warmup, cycles;
    int64_t service, fsync, redis_retry;
    const char *path;
    enum holder_fault hfault;
    int64_t fault_at, fault_for;
    int64_t duration, zk_end; /* the ZooKeeper phase ends at zk_end (the run's end
                               * without compare) */

    struct lockres *res[NPHASES]; /* each phase's counter and checker (lockres.h) */
    pthread_mutex_t mu;           /* waits, histograms, the series (live: threads) */
    struct hist *latency[NPHASES];
    struct series *lat_ts;
    uint64_t granted[NPHASES];   /* in the window */
    uint64_t handovers[NPHASES]; /* ... that went to another client than the last */
    int last_holder[NPHASES];    /* the client granted last (-1: none yet) */
    struct wait *waits;
    size_t nwaits, capwaits;
    atomic_bool fault_fired;
    int64_t fault_fired_at;
    int fault_client;
    struct crash_probe *probes;
    size_t nprobes;
    atomic_int crashes, crashed_leader; /* crashes of a zk server; of those, the leader's */

    /* sim */
    struct sim *sim;
    int zk_node[MAX_SERVERS];
    struct sim_zk *zk;
    struct sim_redis *redis;
    struct sim_zk_stats zst0; /* the ensemble's counters at warmup */
    bool zst0_taken;

#if HAVE_ZOOKEEPER
    struct live_world *lw;
    struct live_relay *relay;
    const char *zk_addrs, *redis_addr;
#endif
    struct zl_client *client;
};

static const struct lab_param zl_params[] = {
    {"algorithm", LAB_ENUM, "recipe", 1, 0, NAMES_CHOICES(ZKLOCK_ALGO_NAMES),
     "recipe: watch the predecessor (Curator; the seed's Go library); herd: watch the "
     "children (the seed's text)"},
    {"fencing", LAB_BOOL, "false", 1, 0, NULL,
     "the resource refuses a token (czxid) older than the newest it has seen"},
    {"clients", LAB_INT, "10", 1, MAX_CLIENTS, NULL, "client nodes (threads), one lock each"},
    {"servers", LAB_INT, "1", 1, MAX_SERVERS, NULL, "ZooKeeper servers zk-0.. (1: standalone)"},
    {"session_timeout", LAB_DURATION, "1s", 400e6, 4e9, NULL,
     "requested session timeout, the seed's 1 s; a 200 ms tick grants only 400 ms to 4 s"},
    {"path", LAB_STRING, "/lock", 1, 0, NULL, "the lock's node, the seed's /lock"},
    {"hold", LAB_DURATION, "50ms", 0, 86400e9, NULL,
     "the holder's work between reading the counter and writing it back"},
    {"think", LAB_DURATION, "0", 0, 86400e9, NULL, "time between a release and the next try"},
    {"acquire_timeout", LAB_DURATION, "0", 0, 86400e9, NULL,
     "how long an acquire waits; 0: no limit (the seed's Lock() blocks)"},
    {"warmup", LAB_DURATION, "0", 0, 86400e9, NULL,
     "per-acquisition counts, throughput and latency leave out what happened before"},
    {"cycles", LAB_INT, "0", 0, 1e12, NULL, "cycles per client; 0: until the run ends"},
    {"service", LAB_DURATION, "100us", 0, 1e9, NULL,
     "sim: server CPU per request (bench-zk-lock measures the real read latency)"},
    {"fsync", LAB_DURATION, "500us", 0, 1e9, NULL,
     "sim: one write of a server's transaction log (a write's latency beyond a read's)"},
    {"holder_fault", LAB_ENUM, "none", 1, 0, NAMES_CHOICES(HOLDER_FAULT_NAMES),
     "pause: the first holder after fault_at stops for fault_for right after its read"},
    {"fault_at", LAB_DURATION, "10s", 0, 86400e9, NULL, "when holder_fault arms"},
    {"fault_for", LAB_DURATION, "3s", 0, 86400e9, NULL, "the pause's length"},
    {"compare", LAB_BOOL, "false", 1, 0, NULL,
     "run the same workload on the Redis lock (safe) in the second half: redis_* metrics"},
    {"redis_retry", LAB_DURATION, "1ms", 1e3, 1e9, NULL,
     "compare: the Redis lock's wait between attempts (plus a uniform part as long)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Why a lock's node is one this workload cannot use (ZooKeeper refuses the path, or it
 * leaves no room for the children's names), or NULL. */
static const char *path_problem(const char *text)
{
    const char *why = zk_path_check(text, false);
    if (why) /* zk.c's messages read "the path must ...": the lab names the key itself */
        return strncmp(why, "the path ", 9) == 0 ? why + 9 : why;
    if (!strcmp(text, "/"))
        return "must name a node below /";
    if (strlen(text) > PATH_ROOM)
        return "must be at most 190 bytes (its children's names add 52)";
    return NULL;
}

/* ---- Time, in both worlds: the ZooKeeper counter's clock (lockres_now) ------------------ */

static int64_t true_now(struct zl *w, struct env *e)
{
    return lockres_now(w->res[PHASE_ZK], e);
}

static int64_t window_from(const struct zl *w, int phase)
{
    return phase == PHASE_ZK ? w->warmup : w->zk_end + w->warmup;
}

static int64_t window_to(const struct zl *w, int phase)
{
    return phase == PHASE_ZK ? w->zk_end : w->duration;
}

static bool in_window(const struct zl *w, int phase, int64_t t)
{
    return t >= window_from(w, phase) && t < window_to(w, phase);
}

static double window_s(const struct zl *w, int phase, int64_t end)
{
    int64_t to = window_to(w, phase) < end ? window_to(w, phase) : end;
    return to > window_from(w, phase) ? (double)(to - window_from(w, phase)) / 1e9 : 0;
}

/* ---- The locks, in both worlds ------------------------------------------------------------- */

static void note(void *arg, enum zklock_note what)
{
    struct zl_client *c = arg;
    if (in_window(c->w, PHASE_ZK, true_now(c->w, c->e)))
        c->notes[what]++;
}

static struct zk *connect_zk(struct env *e, int64_t timeout, void *arg)
{
    struct zl_client *c = arg;
#if HAVE_ZOOKEEPER
    if (c->w->live)
        return live_zk_connect(c->addrs, timeout);
#endif
    return sim_zk_connect(e, c->w->zk, timeout);
}

static struct redis *connect_redis(struct env *e, size_t i, void *arg)
{
    struct zl *w = arg;
#if HAVE_ZOOKEEPER && HAVE_HIREDIS
    if (w->live)
        return live_redis_connect(w->redis_addr, SIM_S);
#endif
    struct sim_addr a = sim_redis_addr(w->redis);
    return sim_redis_connect(e, &a, 1, SIM_S);
}

static int make_locks(struct zl_client *c)
{
    struct zl *w = c->w;
    struct zklock_config cfg = {.algo = w->algo,
                                .path = w->path,
                                .session_timeout_ns = w->session_timeout,
                                .connect = connect_zk,
                                .connect_arg = c,
                                .note = note,
                                .note_arg = c};
    c->lock = zklock_create(c->e, &cfg);
    if (!c->lock)
        return -ENOMEM;
    if (!w->compare)
        return 0;
    struct rlock_config rc = {.algo = RLOCK_SAFE,
                              .ttl_ns = 5 * SIM_S,
                              .nservers = 1,
                              .retry_delay_ns = w->redis_retry,
                              .retry_jitter_ns = w->redis_retry,
                              .connect = connect_redis,
                              .connect_arg = w};
    c->rlock = rlock_create(c->e, &rc);
    return c->rlock ? 0 : -ENOMEM;
}

/* ---- A client ------------------------------------------------------------------------------ */

#if HAVE_ZOOKEEPER
/* A pause of client c, live: its connections freeze as long as its threads stop. */
static void freeze(void *arg, int64_t dur)
{
    struct zl_client *c = arg;
    if (c->w->relay)
        live_relay_freeze(c->w->relay, c->relay_group, dur);
}
#endif

/* The first holder after fault_at stops right after it read the counter (lockres_critical
 * calls this between the read and the hold). */
static void holder_fault(void *arg, struct env *e)
{
    struct zl_client *c = arg;
    struct zl *w = c->w;
    if (w->hfault != HF_PAUSE || atomic_load(&w->fault_fired))
        return;
    int64_t now = true_now(w, e);
    if (now < w->fault_at || atomic_exchange(&w->fault_fired, true))
        return;
    w->fault_fired_at = now;
    w->fault_client = c->index;
#if HAVE_ZOOKEEPER
    if (w->live) { /* from this thread, so that its very next call to the world (the hold)
                    * stops: through the lab, it would come a moment later */
        live_node_pause(w->lw, c->name, w->fault_for);
        freeze(c, w->fault_for);
        return;
    }
#endif
    struct sim *sim = sim_env_sim(e);
    sim_fault_pause(sim, sim_now(sim), c->node, w->fault_for);
}

static void waited(struct zl *w, int64_t from, int64_t to)
{
    pthread_mutex_lock(&w->mu);
    if (w->nwaits == w->capwaits) {
        size_t cap = w->capwaits ? 2 * w->capwaits : 1024;
        struct wait *v = realloc(w->waits, cap * sizeof(*v));
        if (v) {
            w->waits = v;
            w->capwaits = cap;
        }
    }
    if (w->nwaits < w->capwaits)
        w->waits[w->nwaits++] = (struct wait){from, to};
    pthread_mutex_unlock(&w->mu);
}

/* One cycle on the lock of 'phase'. */
static void cycle(struct zl_client *c, int phase)
{
    struct zl *w = c->w;
    struct env *e = c->e;
    int64_t t0 = env_mono(e), asked = true_now(w, e);
    /* at most until the phase ends (or the acquire_timeout, if shorter) */
    int64_t left = window_to(w, phase) - asked;
    if (phase == PHASE_ZK && w->acquire_timeout && w->acquire_timeout < left)
        left = w->acquire_timeout;
    if (left <= 0)
        return;
    int rc;
    if (phase == PHASE_ZK) {
        c->waiting_since = asked;
        rc = zklock_acquire(c->lock, left);
        c->waiting_since = -1;
        waited(w, asked, true_now(w, e));
    } else {
        rc = rlock_acquire(c->rlock, left);
    }
    if (rc != 0) {
        bool late = true_now(w, e) >= window_to(w, phase); /* the phase ended meanwhile */
        c->failed[phase] += !late;
        c->errors[phase] += !late && rc != -ETIMEDOUT && rc != -EBUSY;
        if (!late)
            env_sleep(e, 10 * SIM_MS);
        return;
    }
    int64_t lat = env_mono(e) - t0;
    struct lockres *res = w->res[phase];
    int64_t lease = lockres_acquired(res, c->index, e), now = lockres_now(res, e);
    pthread_mutex_lock(&w->mu);
    if (in_window(w, phase, now)) {
        hist_add(w->latency[phase], lat);
        w->granted[phase]++;
        w->handovers[phase] += w->last_holder[phase] >= 0 && w->last_holder[phase] != c->index;
    }
    w->last_holder[phase] = c->index;
    if (phase == PHASE_ZK)
        series_add(w->lat_ts, now, (double)lat / 1e6);
    pthread_mutex_unlock(&w->mu);
    int64_t fence = phase == PHASE_ZK ? zklock_fence(c->lock) : 0;
    int rr = lockres_critical(res, e, &c->next_id, lease, fence, w->hold,
                              phase == PHASE_ZK ? holder_fault : NULL, c);
    c->res_errors += rr == -ETIMEDOUT;
    int64_t t_rel = lockres_now(res, e);
    rc = phase == PHASE_ZK ? zklock_release(c->lock) : rlock_release(c->rlock);
    lockres_released(res, lease, t_rel, rc == 0);
    c->stale += phase == PHASE_ZK && rc == -ESTALE;
    if (w->think > 0)
        env_sleep(e, w->think);
}

static bool go_on(struct zl_client *c, int64_t n, int64_t end)
{
    struct zl *w = c->w;
    return (!w->cycles || n < w->cycles) && !(w->live && lab_live_stopping(w->run)) &&
           true_now(w, c->e) < end;
}

static void client_loop(struct zl_client *c)
{
    struct zl *w = c->w;
    struct env *e = c->e;
    env_sleep(e, 1 + (int64_t)env_rand_below(e, SIM_MS)); /* servers listen from time 0 */
    for (int64_t n = 0; go_on(c, n, w->zk_end); n++)
        cycle(c, PHASE_ZK);
    zklock_get_stats(c->lock, &c->st);
    if (!w->compare)
        return;
    int64_t left = w->zk_end - true_now(w, e);
    if (left > 0)
        env_sleep(e, left);
    for (int64_t n = 0; go_on(c, n, w->duration); n++)
        cycle(c, PHASE_REDIS);
}

/* ---- Parameters ----------------------------------------------------------------------------- */

static int read_params(struct zl *w, struct lab_run *run)
{
    w->run = run;
    w->live = lab_world(run) == LAB_WORLD_LIVE;
    w->algo = (enum zklock_algo)lab_enum(run, "algorithm");
    w->fencing = lab_bool(run, "fencing");
    w->clients = (int)lab_int(run, "clients");
    w->servers = (int)lab_int(run, "servers");
    w->session_timeout = lab_duration(run, "session_timeout");
    w->path = lab_str(run, "path");
    w->hold = lab_duration(run, "hold");
    w->think = lab_duration(run, "think");
    w->acquire_timeout = lab_duration(run, "acquire_timeout");
    w->warmup = lab_duration(run, "warmup");
    w->cycles = lab_int(run, "cycles");
    w->service = lab_duration(run, "service");
    w->fsync = lab_duration(run, "fsync");
    w->hfault = (enum holder_fault)lab_enum(run, "holder_fault");
    w->fault_at = lab_duration(run, "fault_at");
    w->fault_for = lab_duration(run, "fault_for");
    w->compare = lab_bool(run, "compare");
    w->redis_retry = lab_duration(run, "redis_retry");
    w->duration = lab_duration_total(run);
    w->zk_end = w->compare ? w->duration / 2 : w->duration;
    w->fault_client = -1;
    const char *why = path_problem(w->path);
    if (why)
        return lab_fail_param(run, "path", "'path' %s, got '%s'", why, w->path);
    if (w->warmup >= w->zk_end)
        return lab_fail_param(run, "warmup", "warmup (%.3f s) leaves nothing of the %s to measure",
                              w->warmup / 1e9, w->compare ? "ZooKeeper half of the run" : "run");
    return 0;
}

/* ---- Results ------------------------------------------------------------------------------- */

/* Per acquisition, in the steady state of the file's comment; n < 2 has no waiters. */
static void theory(const struct zl *w, double *wakeups, double *messages)
{
    double n = w->clients;
    if (w->clients < 2) {
        *wakeups = 0;
        *messages = w->algo == ZKLOCK_HERD ? 7 : 6; /* 3 calls; the herd's own watch fires */
    } else if (w->algo == ZKLOCK_HERD) {
        *wakeups = 2 * n - 3;
        *messages = 6 * n - 2;
    } else {
        *wakeups = 1;
        *messages = 11;
    }
}

/* wait_ts: at the end of each 100 ms bin, how long the client waiting longest had been
 * waiting (s). O(bins x waits). */
static double wait_series(struct zl *w, int64_t end)
{
    for (int k = 0; k < w->clients; k++)
        if (w->client[k].waiting_since >= 0)
            waited(w, w->client[k].waiting_since, end);
    struct series *s = lab_series(w->run, "wait_ts", TS_BIN, "s");
    double worst = 0;
    for (int64_t b = 0; b * TS_BIN < end; b++) {
        int64_t t = (b + 1) * TS_BIN < end ? (b + 1) * TS_BIN : end;
        int64_t oldest = 0;
        for (size_t i = 0; i < w->nwaits; i++)
            if (w->waits[i].from <= t && w->waits[i].to > t && t - w->waits[i].from > oldest)
                oldest = t - w->waits[i].from;
        series_add(s, b * TS_BIN, (double)oldest / 1e9);
        if ((double)oldest / 1e9 > worst)
            worst = (double)oldest / 1e9;
    }
    return worst;
}

static int report(struct zl *w, int64_t end)
{
    struct lab_run *run = w->run;
    int64_t zk_end = w->zk_end < end ? w->zk_end : end;
    if (lockres_report(w->res[PHASE_ZK], run, zk_end, zklock_algo_name(w->algo)) < 0)
        return -ENOMEM;
    uint64_t notes[3] = {0}, failed = 0, errors = 0, stale = 0, res_err = 0;
    struct zklock_stats sum = {0};
    for (int k = 0; k < w->clients; k++) {
        struct zl_client *c = &w->client[k];
        for (int i = 0; i < 3; i++)
            notes[i] += c->notes[i];
        failed += c->failed[PHASE_ZK];
        errors += c->errors[PHASE_ZK];
        stale += c->stale;
        res_err += c->res_errors;
        sum.expired += c->st.expired;
        sum.lost += c->st.lost;
        sum.conn_losses += c->st.conn_losses;
        sum.calls_lost += c->st.calls_lost;
    }
    double acq = (double)w->granted[PHASE_ZK], secs = window_s(w, PHASE_ZK, end);
    lab_metric(run, "acquisitions_window", acq);
    if (acq > 0)
        lab_metric(run, "handover_share", (double)w->handovers[PHASE_ZK] / acq);
    lab_metric(run, "throughput", secs > 0 ? acq / secs : 0); /* in the window */
    hist_merge(lab_hist(run, "acquire_latency", "ns"), w->latency[PHASE_ZK]);
    lab_metric(run, "failed_acquires", (double)failed);
    lab_metric(run, "acquire_errors", (double)errors);
    lab_metric(run, "stale_releases", (double)stale);
    lab_metric(run, "resource_timeouts", (double)res_err);
    lab_metric(run, "lost_leases", (double)sum.lost);
    lab_metric(run, "sessions_lost", (double)sum.expired);
    lab_metric(run, "connection_losses", (double)sum.conn_losses); /* see the top */
    lab_metric(run, "calls_lost", (double)sum.calls_lost);
    if (acq > 0) {
        lab_metric(run, "calls_per_acquisition", (double)notes[ZKLOCK_NOTE_CALL] / acq);
        lab_metric(run, "events_per_acquisition", (double)notes[ZKLOCK_NOTE_EVENT] / acq);
        lab_metric(run, "wakeups_per_acquisition", (double)notes[ZKLOCK_NOTE_WAKEUP] / acq);
        lab_metric(run, "messages_per_acquisition",
                   (2.0 * (double)notes[ZKLOCK_NOTE_CALL] + (double)notes[ZKLOCK_NOTE_EVENT]) /
                       acq);
    }
    double tw, tm;
    theory(w, &tw, &tm);
    lab_metric(run, "theory_wakeups_per_acquisition", tw);
    lab_metric(run, "theory_messages_per_acquisition", tm);
    lab_metric(run, "longest_wait", wait_series(w, zk_end));
    lab_metric(run, "crashes", atomic_load(&w->crashes));
    lab_metric(run, "crashed_leader", atomic_load(&w->crashed_leader));
    if (w->zk) {
        struct sim_zk_stats st;
        sim_zk_stats(w->zk, &st);
        lab_metric(run, "sessions_expired", (double)st.sessions_expired);
        lab_metric(run, "elections", (double)st.elections);
        lab_metric(run, "leader_since", st.leader_since < 0 ? -1 : st.leader_since / 1e9);
        if (w->zst0_taken && acq > 0)
            lab_metric(run, "server_requests_per_acquisition",
                       (double)(st.requests - w->zst0.requests) / acq);
    }
    lab_metric(run, "fault_fired", atomic_load(&w->fault_fired));
    if (atomic_load(&w->fault_fired)) {
        lab_metric(run, "fault_fired_at", (double)w->fault_fired_at / 1e9);
        lab_note(run, "%s: client-%d held the lock at %.3f s and stopped for %.3f s",
                 zklock_algo_name(w->algo), w->fault_client, w->fault_fired_at / 1e9,
                 w->fault_for / 1e9);
    } else if (w->hfault != HF_NONE) {
        lab_note(run, "%s: the holder fault never fired (no acquisition after %.3f s)",
                 zklock_algo_name(w->algo), w->fault_at / 1e9);
    }
    if (!w->compare)
        return 0;
    struct lockcheck_result rr;
    if (lockres_result(w->res[PHASE_REDIS], end, &rr) < 0) {
        lab_fail(run, "out of memory computing the lock checker's result");
        return -ENOMEM;
    }
    double racq = (double)w->granted[PHASE_REDIS], rsecs = window_s(w, PHASE_REDIS, end);
    lab_metric(run, "redis_acquisitions_window", racq);
    if (racq > 0)
        lab_metric(run, "redis_handover_share", (double)w->handovers[PHASE_REDIS] / racq);
    lab_metric(run, "redis_throughput", rsecs > 0 ? racq / rsecs : 0);
    lab_metric(run, "redis_overlaps", (double)rr.overlaps);
    lab_metric(run, "redis_max_holders", rr.max_holders);
    lab_metric(run, "redis_lost_updates", (double)rr.lost_updates);
    hist_merge(lab_hist(run, "redis_acquire_latency", "ns"), w->latency[PHASE_REDIS]);
    if (racq > 0 && secs > 0 && rsecs > 0)
        lab_metric(run, "throughput_ratio", (acq / secs) / (racq / rsecs));
    struct hist *a = w->latency[PHASE_ZK], *b = w->latency[PHASE_REDIS];
    if (hist_count(a) && hist_count(b) && hist_quantile(b, 0.5) > 0 && hist_quantile(b, 0.99) > 0) {
        lab_metric(run, "latency_p50_ratio",
                   (double)hist_quantile(a, 0.5) / (double)hist_quantile(b, 0.5));
        lab_metric(run, "latency_p99_ratio",
                   (double)hist_quantile(a, 0.99) / (double)hist_quantile(b, 0.99));
    }
    return 0;
}

/* ---- The simulated world -------------------------------------------------------------------- */

/* The locks outlive their actor, which the run stops wherever it stands: the workload
 * reads their counters afterwards, and these free them when the world is torn down
 * (their sessions go with the ensemble model). */
static void abandon_zk(void *arg)
{
    zklock_abandon(arg);
}

static void abandon_redis(void *arg)
{
    rlock_abandon(arg);
}

static void client_main_sim(struct env *e, void *arg)
{
    struct zl_client *c = arg;
    c->e = e;
    c->waiting_since = -1;
    int rc = make_locks(c);
    if (c->lock && sim_env_atexit(e, abandon_zk, c->lock) < 0) {
        zklock_abandon(c->lock);
        c->lock = NULL;
    }
    if (c->rlock && sim_env_atexit(e, abandon_redis, c->rlock) < 0) {
        rlock_abandon(c->rlock);
        c->rlock = NULL;
    }
    if (rc < 0 || !c->lock || (c->w->compare && !c->rlock))
        return;
    client_loop(c);
}

static void take_zst0(struct sim *sim, void *arg)
{
    struct zl *w = arg;
    sim_zk_stats(w->zk, &w->zst0);
    w->zst0_taken = true;
}

/* Runs at a crash's instant before the crash: a callback scheduled in build, before the
 * lab schedules the faults, comes first among events of one instant. */
static void probe_crash(struct sim *sim, void *arg)
{
    struct crash_probe *p = arg;
    if (!sim_node_up(sim, sim_zk_node(p->w->zk, p->server)))
        return;
    atomic_fetch_add(&p->w->crashes, 1);
    atomic_fetch_add(&p->w->crashed_leader, sim_zk_leader(p->w->zk) == p->server);
}

/* The scheduled crashes of zk-I, as probes (both worlds). Returns 0 or -ENOMEM. */
static int find_crashes(struct zl *w)
{
    size_t nf = lab_fault_count(w->run);
    if (!(w->probes = calloc(nf + 1, sizeof(*w->probes))))
        return -ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        const struct lab_fault *f = lab_fault_get(w->run, i);
        char name[32];
        for (int s = 0; s < w->servers; s++) {
            snprintf(name, sizeof(name), "zk-%d", s);
            if (f->kind == LAB_FAULT_CRASH && f->node && !strcmp(f->node, name))
                w->probes[w->nprobes++] = (struct crash_probe){w, s, f->at};
        }
    }
    return 0;
}

static int build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct zl *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    char name[48];
    for (int i = 0; i < w->servers; i++) {
        snprintf(name, sizeof(name), "zk-%d", i);
        w->zk_node[i] = sim_node_add(sim, name, cores);
    }
    int res = sim_node_add(sim, "resource", cores);
    int res_redis = w->compare ? sim_node_add(sim, "resource-redis", cores) : -1;
    int redis = w->compare ? sim_node_add(sim, "redis-0", cores) : -1;
    for (int k = 0; k < w->clients; k++)
        w->client[k].node = sim_node_add(sim, w->client[k].name, cores);
    struct sim_zk_cfg zc = {.tick_ns = TICK,
                            .init_limit = 50,
                            .sync_limit = 10,
                            .service_ns = w->service,
                            .fsync_ns = w->fsync};
    if (!(w->zk = sim_zk_create(sim, w->zk_node, w->servers, &zc)))
        return -ENOMEM;
    if (w->compare) {
        /* the Redis model's per-command CPU, as lock/redis uses it */
        struct sim_redis_cfg rc = {.service_ns = 20 * SIM_US, .peer = -1};
        if (!(w->redis = sim_redis_create(sim, redis, &rc)) ||
            lockres_sim(w->res[PHASE_REDIS], sim, res_redis, SIM_S) < 0)
            return -ENOMEM;
    }
    if (lockres_sim(w->res[PHASE_ZK], sim, res, SIM_S) < 0 ||
        sim_at(sim, w->warmup, take_zst0, w) < 0 || find_crashes(w) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < w->nprobes; i++)
        if (sim_at(sim, w->probes[i].at, probe_crash, &w->probes[i]) < 0)
            return -ENOMEM;
    for (int k = 0; k < w->clients; k++)
        if (sim_node_main(sim, w->client[k].node, "client", client_main_sim, &w->client[k]) < 0)
            return -ENOMEM;
    return 0;
}

static int record(struct lab_run *run, void *arg)
{
    struct zl *w = arg;
    const char *why = NULL;
    if (!sim_zk_check(w->zk, &why)) {
        lab_fail(run, "the simulated ZooKeeper broke an invariant: %s", why);
        return -EPROTO;
    }
    for (int k = 0; k < w->clients; k++)
        if (w->client[k].lock) /* stopped mid-cycle */
            zklock_get_stats(w->client[k].lock, &w->client[k].st);
    return report(w, sim_now(w->sim));
}

/* ---- The live world ------------------------------------------------------------------------- */

#if HAVE_ZOOKEEPER
static void nap_ms(int64_t ms)
{
    nanosleep(&(struct timespec){(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L}, NULL);
}

/* The member that leads now, or -1 (asks each with srvr). */
static int live_leader(struct zl *w)
{
    for (int i = 0; i < w->servers; i++) {
        char mode[32];
        if (live_zk_mode(lab_live_server_addr(w->run, LIVE_ZOOKEEPER, i), SIM_S, mode,
                         sizeof(mode)) == 0 &&
            (!strcmp(mode, "leader") || !strcmp(mode, "standalone")))
            return i;
    }
    return -1;
}

/* Make the highest id lead, as it does in the simulation (where every log starts empty):
 * restart whoever else leads, and the election that follows picks the highest id among
 * equal logs. Returns 0, or -EHOSTUNREACH after lab_fail. */
static int arrange_leader(struct zl *w, struct live_cluster *c)
{
    for (int round = 0; round < 4; round++) {
        int l = -1;
        for (int t = 0; t < 300 && (l = live_leader(w)) < 0; t++)
            nap_ms(100);
        if (l == w->servers - 1)
            return 0;
        char err[2048];
        if (l < 0 || live_cluster_restart(c, l, true, err, sizeof(err)) < 0)
            break;
    }
    lab_fail(w->run,
             "cannot make zk-%d lead the live ensemble (the leader crash scenarios name "
             "it)",
             w->servers - 1);
    return -EHOSTUNREACH;
}

/* Before each scheduled crash of a ZooKeeper server, ask whether it leads (a thread of its
 * own: the lab's thread applies the faults). */
static void *crash_prober(void *arg)
{
    struct zl *w = arg;
    for (size_t i = 0; i < w->nprobes && !lab_live_stopping(w->run); i++) {
        while (lab_live_now(w->run) < w->probes[i].at - 100 * SIM_MS && !lab_live_stopping(w->run))
            nap_ms(5);
        atomic_fetch_add(&w->crashes, 1);
        atomic_fetch_add(&w->crashed_leader, live_leader(w) == w->probes[i].server);
    }
    return NULL;
}

static void client_main_live(struct env *e, void *arg)
{
    struct zl_client *c = arg;
    c->e = e;
    c->waiting_since = -1;
    if (make_locks(c) == 0)
        client_loop(c);
    if (c->lock)
        zklock_get_stats(c->lock, &c->st);
    zklock_destroy(c->lock); /* closes the session: its node, if any, goes now */
    rlock_destroy(c->rlock);
    c->lock = NULL;
    c->rlock = NULL;
}

/* Each client is a thread with the ZooKeeper client's two; raise the soft limit on open
 * files to the hard one (each session holds a socket and a pipe). */
static void more_files(void)
{
    struct rlimit l;
    if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
        l.rlim_cur = l.rlim_max;
        setrlimit(RLIMIT_NOFILE, &l);
    }
}

/* Does some client pause (holder_fault, or `pause: client-K` in faults)? */
static bool clients_pause(struct zl *w)
{
    if (w->hfault == HF_PAUSE)
        return true;
    for (size_t i = 0; i < lab_fault_count(w->run); i++) {
        const struct lab_fault *f = lab_fault_get(w->run, i);
        if (f->kind == LAB_FAULT_PAUSE && f->node && !strncmp(f->node, "client-", 7))
            return true;
    }
    return false;
}

/* The ensemble grants the session timeout asked (another tickTime would not). */
static int check_timeout(struct zl *w)
{
    struct zk *z = live_zk_connect(w->zk_addrs, w->session_timeout);
    int rc = z ? zk_await_connected(z, 10 * SIM_S) : -EINVAL;
    struct zk_session s = {0};
    if (z)
        zk_session(z, &s);
    zk_close(z);
    if (rc < 0) {
        lab_fail(w->run, "cannot open a session with ZooKeeper at %s", w->zk_addrs);
        return -EHOSTUNREACH;
    }
    if (s.timeout_ns != w->session_timeout)
        return lab_fail_param(w->run, "session_timeout",
                              "ZooKeeper at %s grants %lld ms for a session of %lld ms (its "
                              "tickTime is not 200 ms): choose one within what it grants",
                              w->zk_addrs, (long long)(s.timeout_ns / SIM_MS),
                              (long long)(w->session_timeout / SIM_MS));
    return 0;
}

static int run_live(struct zl *w)
{
    struct lab_run *run = w->run;
    if (!(w->lw = lab_live_begin(run)))
        return -EINVAL;
    if (!(w->zk_addrs = lab_live_servers(run, LIVE_ZOOKEEPER, w->servers)))
        return -EHOSTUNREACH;
    struct live_cluster *c = lab_live_cluster(run, LIVE_ZOOKEEPER);
    int rc = c && w->servers > 1 ? arrange_leader(w, c) : 0;
    if (rc < 0 || (rc = check_timeout(w)) < 0)
        return rc;
#if !HAVE_HIREDIS
    if (w->compare)
        return lab_fail_param(run, "compare", "this build has no Redis client (hiredis)");
#else
    if (w->compare && !(w->redis_addr = lab_live_servers(run, LIVE_REDIS, 1)))
        return -EHOSTUNREACH;
#endif
    more_files();
    if (clients_pause(w) && !(w->relay = live_relay_create())) {
        lab_fail(run, "cannot start the relays that pause clients: %s", strerror(errno));
        return -ENOMEM;
    }
    for (int k = 0; k < w->clients && rc == 0; k++) {
        struct zl_client *cl = &w->client[k];
        cl->relay_group = -1;
        snprintf(cl->addrs, sizeof(cl->addrs), "%s", w->zk_addrs);
        if (w->relay && (cl->relay_group = live_relay_add(w->relay, w->zk_addrs, cl->addrs,
                                                          sizeof(cl->addrs))) < 0) {
            lab_fail(run, "cannot relay %s to %s: %s", cl->name, w->zk_addrs,
                     strerror(-cl->relay_group));
            rc = -EINVAL;
        } else if ((rc = lab_live_node(run, cl->name, client_main_live, cl)) == 0 && w->relay) {
            rc = lab_live_on_pause(run, cl->name, freeze, cl);
        }
    }
    pthread_t prober;
    bool probing = rc == 0 && find_crashes(w) == 0 && w->nprobes &&
                   pthread_create(&prober, NULL, crash_prober, w) == 0;
    if (rc == 0) {
        for (int p = 0; p < NPHASES; p++)
            lockres_live(w->res[p], run); /* true time: the lab's, as the faults' */
        rc = lab_live_go(run, 0);
    }
    if (probing)
        pthread_join(prober, NULL);
    if (rc == 0)
        rc = report(w, true_now(w, NULL));
    live_relay_destroy(w->relay);
    w->relay = NULL;
    return rc;
}
#endif

/* ---- The workload ------------------------------------------------------------------------- */

static int zl_run(struct lab_run *run)
{
    struct zl *w = calloc(1, sizeof(*w));
    if (!w) {
        lab_fail(run, "out of memory");
        return -ENOMEM;
    }
    int rc = read_params(w, run);
    if (rc < 0)
        goto out_free;
    pthread_mutex_init(&w->mu, NULL);
    w->lat_ts = lab_series(run, "latency_ts", TS_BIN, "ms");
    w->client = calloc((size_t)w->clients, sizeof(*w->client));
    bool ok = w->client != NULL;
    for (int p = 0; p < NPHASES; p++) { /* fencing checks the ZooKeeper lock's tokens */
        w->res[p] = lockres_create(w->fencing && p == PHASE_ZK);
        if (w->res[p])
            lockres_rate_from(w->res[p], window_from(w, p));
        w->latency[p] = hist_create();
        w->last_holder[p] = -1;
        ok = ok && w->res[p] && w->latency[p];
    }
    if (!ok) {
        lab_fail(run, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    for (int k = 0; k < w->clients; k++) {
        struct zl_client *c = &w->client[k];
        c->w = w;
        c->index = k;
        c->waiting_since = -1;
        snprintf(c->name, sizeof(c->name), "client-%d", k);
    }
#if HAVE_ZOOKEEPER
    rc = w->live ? run_live(w) : lab_sim_run(run, w, build, record);
#else
    rc = lab_sim_run(run, w, build, record);
#endif
out:
    sim_zk_destroy(w->zk); /* no actor runs again: the lab destroys the sim next */
    sim_redis_destroy(w->redis);
    free(w->client);
    free(w->waits);
    free(w->probes);
    for (int p = 0; p < NPHASES; p++) {
        lockres_destroy(w->res[p]);
        hist_destroy(w->latency[p]);
    }
    pthread_mutex_destroy(&w->mu);
out_free:
    free(w);
    return rc;
}

const struct lab_workload lab_wl_zk_lock = {
    .name = "lock/zk",
    .about = "the seed's counter under a ZooKeeper lock (recipe, herd), beside the Redis lock",
    .params = zl_params,
    .worlds = LAB_WORLD_SIM | (HAVE_ZOOKEEPER ? LAB_WORLD_LIVE : 0),
    .run = zl_run,
};

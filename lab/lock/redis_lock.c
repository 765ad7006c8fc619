/* redis_lock.c - the "lock/redis" workload: the seed's counter increment under a Redis lock
 * (primitives/lock/redis_lock.h), with clients that contend, pause, and meet servers that
 * crash, fail over or see their clock jump; the lock checker (lockcheck.h, beside this
 * file) counts what went wrong in true time. Runs in both worlds; never writes files or exits.
 *
 * A cycle of a client, in both worlds:
 *   acquire (blocking: retries every retry_delay + jitter for at most acquire_timeout;
 *   0 is the seed's single attempt) -> GET the counter from the resource -> hold -> SET it
 *   to what was read + 1 -> release -> think.
 * The hold is the holder's work, and a pause must stretch it: in the simulation it is CPU
 * work (env_work), which a node pause stops, where a sleep would run on; live it is a
 * sleep, because an injected pause blocks the holder's next env call (that sleep) before
 * it starts, and a spinning hold would stretch with the machine's load instead.
 * The holding interval the checker sees runs from the instant acquire returned to the
 * instant release began, in true time. With `fenced`, every resource access carries the
 * lease's fencing token, and the resource refuses a token older than the newest it has
 * seen (reads included, so a stale holder cannot write back what it read before).
 *
 * The simulated world: nodes redis-0 .. redis-(servers-1) (Redlock's N; the other
 * algorithms use redis-0 only), replica-0 when `replica` is on (a replica of redis-0 with
 * `repl_lag`, promoted `failover_after` without a word from its master; clients know both
 * addresses), `resource` (the counter), client-0 .. client-(clients-1). Network as the
 * scenario's `world:` says.
 *
 * The live world: `servers` redis-servers started on unix sockets in temporary
 * directories (or the addresses in world.redis, comma-separated), client threads named
 * client-K/main (and client-K/main/watchdog), the resource an object in this process.
 * Faults: `pause: client-K` makes that client's next env call block for the pause (a GC
 * stop seen from inside: the thread and its watchdog freeze at their next call to the
 * world); `pause: redis-I` is SIGSTOP then SIGCONT; `crash: redis-I` is SIGKILL, then a
 * restart after `for:`; `clock: client-*` steps every client's clock at once (the live
 * world has one clock offset). A server's clock cannot be stepped live, nor can links be
 * cut: those scenarios are for the simulated world. A server that cannot be reached at
 * the start ends the run with exit status 3 and no result.
 *
 * `holder_fault` is a fault aimed at the lock: at the first acquisition at or after
 * `fault_at`, the new holder's node pauses for `fault_for` right after it read the counter
 * (pause), or the first `fault_servers` Redis nodes crash after the grant (restarting
 * after `fault_for`, 0: never; see arm_crash for when), or their clocks step by
 * `fault_step` right after the grant.
 *
 * Every random draw comes from the actors' (threads') seeded streams. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/lock/lockcheck.h"
#include "lab/lock/lockres.h"
#include "lock/redis_lock.h"
#include "names.h"
#include "sim/redis_model.h"
#if HAVE_HIREDIS
#include "live/live.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"
#endif

#define MAX_CLIENTS 256
#define MAX_SERVERS RLOCK_MAX_SERVERS
#define RES_PORT 7000u
#define TS_BIN (100 * SIM_MS)

enum hfault { HF_NONE, HF_PAUSE, HF_CRASH, HF_CLOCK };
#define HF_NAMES "none", "pause", "crash-master", "clock-step"

struct rl;

struct rl_client {
    struct rl *w;
    int index;
    int node;          /* sim */
    char prefix[32];   /* live: "client-K/", what a pause reaches */
    struct rlock *lock;
    struct hist *latency, *attempts;
    uint64_t failed, errors, stale_releases, res_errors;
    struct rlock_stats st;
    uint64_t next_id;
    bool done;
};

struct rl {
    struct lab_run *run;
    bool live;
    enum rlock_algo algo;
    bool fencing;
    int clients, servers, fault_servers;
    int64_t ttl, hold, think, acquire_timeout, retry_delay, retry_jitter, call_timeout;
    int64_t service, repl_lag, failover_after, cycles;
    bool replica, persist;
    enum hfault hfault;
    int64_t fault_at, fault_for, fault_step;
    int64_t duration;

    struct lockcheck *chk;
    pthread_mutex_t mu;  /* the series (live clients are threads) */
    struct lockres *res; /* the counter the lock protects (lockres.h) */
    struct series *acq_ts;
    atomic_bool fault_fired, stop;
    int64_t fault_fired_at;
    int fault_client;
    int64_t t0; /* true time of the run's start: 0 in the simulation */

    struct sim *sim;
    int redis_node[MAX_SERVERS], replica_node, res_node;
    struct sim_redis *model[MAX_SERVERS], *replica_model;

#if HAVE_HIREDIS
    struct live_world *lw;
    struct live_cluster *srv;
    atomic_int crash_req;
#endif
    char addr[MAX_SERVERS][256];
    struct rl_client *client;
};

static const struct lab_param rl_params[] = {
    {"algorithm", LAB_ENUM, "seed", 1, 0, NAMES_CHOICES(RLOCK_ALGO_NAMES),
     "the lock (primitives/lock/redis_lock.h); fenced makes the resource check tokens"},
    {"clients", LAB_INT, "10", 1, MAX_CLIENTS, NULL, "client nodes (threads), one lock each"},
    {"ttl", LAB_DURATION, "5s", 1e6, 86400e9, NULL, "the lease (PX), the seed's 5 s"},
    {"hold", LAB_DURATION, "50ms", 0, 86400e9, NULL,
     "the holder's work between reading the counter and writing it back"},
    {"think", LAB_DURATION, "0", 0, 86400e9, NULL, "time between a release and the next try"},
    {"acquire_timeout", LAB_DURATION, "10s", 0, 86400e9, NULL,
     "how long a blocking acquire retries; 0: one attempt (the seed gives up)"},
    {"retry_delay", LAB_DURATION, "10ms", 1, 3600e9, NULL, "pause between attempts"},
    {"retry_jitter", LAB_DURATION, "10ms", 0, 3600e9, NULL,
     "plus a uniform random part in [0, jitter)"},
    {"timeout", LAB_DURATION, "200ms", 1e3, 3600e9, NULL, "bound on every Redis call"},
    {"servers", LAB_INT, "1", 1, MAX_SERVERS, NULL,
     "Redis nodes redis-0..; Redlock uses them all, the others redis-0 only"},
    {"replica", LAB_BOOL, "false", 1, 0, NULL,
     "sim: a replica of redis-0 (replica-0), promoted when redis-0 goes silent"},
    {"repl_lag", LAB_DURATION, "10ms", 0, 3600e9, NULL,
     "sim: how long after the master a write reaches the replica"},
    {"failover_after", LAB_DURATION, "1s", 1e6, 3600e9, NULL,
     "sim: silence from the master after which the replica promotes itself"},
    {"persist", LAB_BOOL, "false", 1, 0, NULL,
     "sim: fsync every write to the node's durable store (survives a crash)"},
    {"service", LAB_DURATION, "20us", 0, 1e9, NULL, "sim: Redis CPU time per command"},
    {"cycles", LAB_INT, "0", 0, 1e12, NULL, "cycles per client; 0: until the run ends"},
    {"holder_fault", LAB_ENUM, "none", 1, 0, NAMES_CHOICES(HF_NAMES),
     "a fault aimed at whoever holds the lock at fault_at (see the file's comment)"},
    {"fault_at", LAB_DURATION, "10s", 0, 86400e9, NULL, "when holder_fault arms"},
    {"fault_for", LAB_DURATION, "8s", 0, 86400e9, NULL,
     "pause length, or down time before a restart (0: stays down)"},
    {"fault_step", LAB_DURATION, "6s", 1, 0, NULL, "clock-step: how far the clocks jump"},
    {"fault_servers", LAB_INT, "1", 1, MAX_SERVERS, NULL,
     "crash-master / clock-step: how many Redis nodes (redis-0..) it hits"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- Time, in both worlds -------------------------------------------------------- */

/* True time since the run started. */
static int64_t true_now(struct rl *w, struct env *e)
{
#if HAVE_HIREDIS
    if (w->live)
        return live_true_now() - w->t0;
#endif
    return sim_env_true_now(e);
}

/* ---- The protected resource (lockres.h) ----------------------------------------- */

static int64_t res_clock(void *arg, struct env *e)
{
    return true_now(arg, e);
}

static void resource_main(struct env *e, void *arg)
{
    lockres_serve(((struct rl *)arg)->res, e, RES_PORT);
}

/* A client's access to the resource: a message to its node (sim) or a call (live).
 * Returns 0, -ESTALE (fenced off) or -ETIMEDOUT. */
static int res_call(struct rl_client *c, struct env *e, bool write, int64_t lease, int64_t fence,
                    int64_t *value)
{
    struct rl *w = c->w;
    struct sim_addr at = {w->res_node, RES_PORT};
    return lockres_access(w->res, e, w->live ? NULL : &at, &c->next_id, w->call_timeout, write,
                          lease, fence, value);
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
    int64_t now = true_now(w, e);
    if (now < w->fault_at || atomic_exchange(&w->fault_fired, true))
        return;
    w->fault_fired_at = now;
    w->fault_client = c->index;
#if HAVE_HIREDIS
    if (w->live) {
        if (w->hfault == HF_PAUSE)
            live_pause(w->lw, c->prefix, w->fault_for);
        else
            atomic_store(&w->crash_req, 1); /* the run's thread kills and restarts */
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

/* crash-master in the simulation: each of the first fault_servers servers crashes after
 * its first grant at or after fault_at, just before that grant's replication would leave
 * (repl_lag - 10 us: a command takes the server at least its service time, so the write
 * before the grant has left), or right after the grant without a replica. */
static int arm_crash(struct rl *w)
{
    int64_t delay = w->replica && w->repl_lag > 10 * SIM_US ? w->repl_lag - 10 * SIM_US : 0;
    for (int i = 0; i < w->fault_servers; i++)
        if (sim_redis_crash_after_grant(w->model[i], "counter_lock", w->fault_at, delay,
                                        w->fault_for) < 0)
            return -EINVAL;
    return 0;
}

/* ---- A client ---------------------------------------------------------------------- */

static bool stopping(struct rl *w, struct env *e, int64_t *left)
{
    if (atomic_load(&w->stop))
        return true;
    *left = w->acquire_timeout;
    if (w->live) {
        int64_t rest = w->duration - true_now(w, e);
        if (rest <= 0)
            return true;
        if (rest < *left)
            *left = rest;
    }
    return false;
}

static void client_loop(struct env *e, struct rl_client *c)
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
        int64_t now = true_now(w, e);
        int64_t lease = lockcheck_acquired(w->chk, c->index, now);
        pthread_mutex_lock(&w->mu);
        series_add(w->acq_ts, now, 1);
        pthread_mutex_unlock(&w->mu);
        holder_fault(c, e, false);
        int64_t fence = rlock_fence(l), v = 0;
        int rr = res_call(c, e, false, lease, fence, &v);
        holder_fault(c, e, true);
        if (w->hold > 0 && !w->live)
            env_work(e, w->hold); /* work, not a sleep: a pause stops it */
        else if (w->hold > 0)
            env_sleep(e, w->hold); /* an injected pause blocks this call first */
        if (rr == 0) {
            v++;
            rr = res_call(c, e, true, lease, fence, &v);
        }
        c->res_errors += rr == -ETIMEDOUT;
        int64_t t_rel = true_now(w, e);
        rc = rlock_release(l);
        lockcheck_released(w->chk, lease, t_rel, rc == 0);
        c->stale_releases += rc == -ESTALE;
        if (w->think > 0)
            env_sleep(e, w->think);
    }
    rlock_get_stats(l, &c->st);
    c->done = true;
}

static struct rlock *make_lock(struct rl *w, struct env *e)
{
    struct rlock_config cfg = {
        .algo = w->algo, .ttl_ns = w->ttl, .nservers = (size_t)w->servers,
        .retry_delay_ns = w->retry_delay, .retry_jitter_ns = w->retry_jitter,
        .connect = connect_sim, .connect_arg = w,
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
    c->lock = make_lock(c->w, e);
    if (!c->lock || sim_env_atexit(e, abandon, c->lock) < 0) {
        rlock_abandon(c->lock);
        c->lock = NULL;
        return;
    }
    client_loop(e, c);
}

/* ---- Parameters -------------------------------------------------------------------- */

static int read_params(struct rl *w, struct lab_run *run)
{
    w->run = run;
    w->live = lab_world(run) == LAB_WORLD_LIVE;
    w->algo = (enum rlock_algo)lab_enum(run, "algorithm");
    w->fencing = w->algo == RLOCK_FENCED;
    w->clients = (int)lab_int(run, "clients");
    w->servers = (int)lab_int(run, "servers");
    w->ttl = lab_duration(run, "ttl");
    w->hold = lab_duration(run, "hold");
    w->think = lab_duration(run, "think");
    w->acquire_timeout = lab_duration(run, "acquire_timeout");
    w->retry_delay = lab_duration(run, "retry_delay");
    w->retry_jitter = lab_duration(run, "retry_jitter");
    w->call_timeout = lab_duration(run, "timeout");
    w->replica = lab_bool(run, "replica");
    w->repl_lag = lab_duration(run, "repl_lag");
    w->failover_after = lab_duration(run, "failover_after");
    w->persist = lab_bool(run, "persist");
    w->service = lab_duration(run, "service");
    w->cycles = lab_int(run, "cycles");
    w->hfault = (enum hfault)lab_enum(run, "holder_fault");
    w->fault_at = lab_duration(run, "fault_at");
    w->fault_for = lab_duration(run, "fault_for");
    w->fault_step = lab_duration(run, "fault_step");
    w->fault_servers = (int)lab_int(run, "fault_servers");
    w->duration = lab_duration_total(run);
    if (w->fault_servers > w->servers) {
        lab_fail(run, "fault_servers (%d) is more than servers (%d)", w->fault_servers,
                 w->servers);
        return -EINVAL;
    }
    if (w->replica && w->algo == RLOCK_REDLOCK) {
        lab_fail(run, "replica: Redlock's servers are independent masters, without replicas");
        return -EINVAL;
    }
    if (w->live && w->replica) {
        lab_fail(run, "lock/redis with a replica does not run in the live world (distlab starts "
                      "no replica there): use --world sim");
        return -EINVAL;
    }
    if (w->live && w->hfault == HF_CLOCK) {
        lab_fail(run, "lock/redis with holder_fault: clock-step does not run in the live world "
                      "(redis-server reads this machine's clock, which a run must not step): "
                      "use --world sim");
        return -EINVAL;
    }
    return 0;
}

/* ---- Results ----------------------------------------------------------------------- */

static int report(struct rl *w, int64_t end)
{
    struct lab_run *run = w->run;
    struct lockcheck_result r;
    int64_t counter = lockres_value(w->res);
    if (lockcheck_result(w->chk, end, counter, &r) < 0) {
        lab_fail(run, "out of memory computing the lock checker's result");
        return -ENOMEM;
    }
    struct hist *lat = lab_hist(run, "acquire_latency", "ns");
    struct hist *att = lab_hist(run, "attempts", "attempts");
    uint64_t failed = 0, errors = 0, stale = 0, res_err = 0;
    struct rlock_stats sum = {0};
    for (int k = 0; k < w->clients; k++) {
        struct rl_client *c = &w->client[k];
        hist_merge(lat, c->latency);
        hist_merge(att, c->attempts);
        failed += c->failed;
        errors += c->errors;
        stale += c->stale_releases;
        res_err += c->res_errors;
        if (!w->live && c->lock)
            rlock_get_stats(c->lock, &c->st); /* the actor was stopped mid-cycle */
        sum.attempts += c->st.attempts;
        sum.extends += c->st.extends;
        sum.extend_errors += c->st.extend_errors;
        sum.lost += c->st.lost;
    }
    double secs = (double)end / 1e9;
    lab_metric(run, "overlaps", (double)r.overlaps);
    lab_metric(run, "overlap_time", (double)r.overlap_ns);
    lab_metric(run, "max_holders", r.max_holders);
    lab_metric(run, "lost_updates", (double)r.lost_updates);
    lab_metric(run, "stale_writes", (double)r.stale_writes);
    lab_metric(run, "stale_reads", (double)r.stale_reads);
    lab_metric(run, "rejected_writes", (double)r.rejected_writes);
    lab_metric(run, "rejected_reads", (double)r.rejected_reads);
    lab_metric(run, "foreign_deletes", (double)r.foreign_deletes);
    lab_metric(run, "acquisitions", (double)r.leases);
    lab_metric(run, "writes", (double)r.writes);
    lab_metric(run, "counter", (double)counter);
    lab_metric(run, "failed_acquires", (double)failed);
    lab_metric(run, "acquire_errors", (double)errors);
    lab_metric(run, "stale_releases", (double)stale);
    lab_metric(run, "resource_timeouts", (double)res_err);
    lab_metric(run, "extends", (double)sum.extends);
    lab_metric(run, "extend_errors", (double)sum.extend_errors);
    lab_metric(run, "lost_leases", (double)sum.lost);
    lab_metric(run, "throughput", secs > 0 ? (double)r.leases / secs : 0);
    lab_metric(run, "attempts_per_acquire", hist_count(att) ? hist_mean(att) : 0);
    lab_metric(run, "redis_attempts", (double)sum.attempts);
    lab_metric(run, "fault_fired", atomic_load(&w->fault_fired));
    if (atomic_load(&w->fault_fired)) {
        lab_metric(run, "fault_fired_at", (double)w->fault_fired_at / 1e9);
        static const char *const what[] = {"", "paused for", "crashed the master, down for",
                                           "stepped the master's clock by"};
        int64_t amount = w->hfault == HF_CLOCK ? w->fault_step : w->fault_for;
        if (w->fault_client >= 0)
            lab_note(run, "%s: client-%d held the lock at %.3f s; the fault %s %.3f s",
                     rlock_algo_name(w->algo), w->fault_client,
                     (double)w->fault_fired_at / 1e9, what[w->hfault], (double)amount / 1e9);
        else
            lab_note(run, "%s: redis-0 granted the lock at %.3f s and crashed, down for %.3f s",
                     rlock_algo_name(w->algo), (double)w->fault_fired_at / 1e9,
                     (double)amount / 1e9);
    } else if (w->hfault != HF_NONE) {
        lab_note(run, "%s: the holder fault never fired (no acquisition after %.3f s)",
                 rlock_algo_name(w->algo), (double)w->fault_at / 1e9);
    }
    if (w->replica_model) {
        struct sim_redis_stats st;
        sim_redis_stats(w->replica_model, &st);
        lab_metric(run, "promotions", (double)st.promotions);
        lab_metric(run, "promoted_at", st.promoted_at < 0 ? -1 : (double)st.promoted_at / 1e9);
    }
    struct series *ts = lab_series(run, "acquisitions_ts", TS_BIN, "acquisitions");
    for (size_t b = 0; b < series_len(w->acq_ts); b++)
        if (series_count(w->acq_ts, b))
            series_add(ts, (int64_t)b * TS_BIN, series_sum(w->acq_ts, b));
    lockres_holders_series(run, "holders_ts", w->chk, end, TS_BIN);
    lab_note(run, "%s: %llu acquisitions, %llu overlapping pairs, %llu lost updates, "
                  "%llu stale writes, counter %lld",
             rlock_algo_name(w->algo), (unsigned long long)r.leases,
             (unsigned long long)r.overlaps, (unsigned long long)r.lost_updates,
             (unsigned long long)r.stale_writes, (long long)counter);
    return 0;
}

/* ---- The simulated world ----------------------------------------------------------- */

static int run_sim(struct rl *w)
{
    struct lab_run *run = w->run;
    struct sim *sim = w->sim = lab_sim_begin(run);
    if (!sim)
        return -EINVAL;
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
    if (sim_node_main(sim, w->res_node, "resource", resource_main, w) < 0)
        goto err_nomem;
    if (w->hfault == HF_CRASH && arm_crash(w) < 0)
        goto err_nomem;
    for (int k = 0; k < w->clients; k++)
        if (sim_node_main(sim, w->client[k].node, "client", client_main_sim, &w->client[k]) < 0)
            goto err_nomem;
    int rc = lab_sim_go(run, 0);
    if (rc < 0)
        return rc;
    struct sim_redis_stats st;
    sim_redis_stats(w->model[0], &st);
    if (w->hfault == HF_CRASH && st.armed_grant >= 0) {
        atomic_store(&w->fault_fired, true);
        w->fault_fired_at = st.armed_grant;
        w->fault_client = -1;
    }
    return report(w, sim_now(sim));
err_nomem:
    lab_fail(run, "out of memory building the simulated world");
    return -ENOMEM;
}

/* ---- The live world ---------------------------------------------------------------- */

#if HAVE_HIREDIS
enum act_kind { ACT_PAUSE_CLIENT, ACT_STOP, ACT_CONT, ACT_KILL, ACT_RESTART, ACT_STEP };

struct act {
    int64_t at;
    enum act_kind kind;
    int target; /* client or server index */
    int64_t arg;
};

struct acts {
    struct act *v;
    size_t n, cap;
};

static void act_add(struct acts *a, int64_t at, enum act_kind kind, int target, int64_t arg)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        struct act *v = realloc(a->v, cap * sizeof(*v));
        if (!v)
            return;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (struct act){at, kind, target, arg};
}

/* "client-3" -> 3 (below limit), "redis-1" -> 1; -1 otherwise. */
static int node_index(const char *name, const char *prefix, int limit)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || !name[pl])
        return -1;
    char *end;
    long v = strtol(name + pl, &end, 10);
    return *end || v < 0 || v >= limit ? -1 : (int)v;
}

/* The scenario's faults as actions of the run's thread; errors name the fault's place. */
static int live_faults(struct rl *w, struct acts *a, bool own_servers)
{
    struct lab_run *run = w->run;
    for (size_t i = 0; i < lab_fault_count(run); i++) {
        const struct lab_fault *f = lab_fault_get(run, i);
        const char *node = f->node ? f->node : "";
        int cl = node_index(node, "client-", w->clients);
        int sv = node_index(node, "redis-", w->servers);
        const char *why = NULL;
        switch (f->kind) {
        case LAB_FAULT_PAUSE:
            if (cl >= 0)
                act_add(a, f->at, ACT_PAUSE_CLIENT, cl, f->dur);
            else if (sv >= 0 && own_servers) {
                act_add(a, f->at, ACT_STOP, sv, 0);
                act_add(a, f->at + f->dur, ACT_CONT, sv, 0);
            } else
                why = sv >= 0 ? "a server given in world.redis cannot be paused"
                              : "pause needs client-K or redis-I";
            break;
        case LAB_FAULT_CRASH:
        case LAB_FAULT_RESTART:
            if (sv < 0 || !own_servers) {
                why = sv < 0 ? "only redis-I can crash or restart in the live world"
                             : "a server given in world.redis cannot be crashed";
                break;
            }
            act_add(a, f->at, f->kind == LAB_FAULT_CRASH ? ACT_KILL : ACT_RESTART, sv, 0);
            if (f->kind == LAB_FAULT_CRASH && f->dur > 0)
                act_add(a, f->at + f->dur, ACT_RESTART, sv, 0);
            break;
        case LAB_FAULT_CLOCK_STEP:
            if (strncmp(node, "client-", 7) != 0)
                why = "the live world can only step the clients' clock (all at once)";
            else
                act_add(a, f->at, ACT_STEP, 0, f->step);
            break;
        default:
            why = "drift and partitions need the simulated world";
            break;
        }
        if (why) {
            lab_fail(run, "%d:%d: %s ('%s')", f->line, f->col, why, node);
            return -EINVAL;
        }
    }
    if (w->hfault == HF_CRASH && !own_servers) {
        lab_fail(run, "holder_fault: crash-master needs servers distlab starts itself (no "
                      "world.redis)");
        return -EINVAL;
    }
    return 0;
}

static int by_at(const void *x, const void *y)
{
    const struct act *a = x, *b = y;
    return a->at < b->at ? -1 : a->at > b->at;
}

static void do_act(struct rl *w, const struct act *a)
{
    switch (a->kind) {
    case ACT_PAUSE_CLIENT:
        live_pause(w->lw, w->client[a->target].prefix, a->arg);
        break;
    case ACT_STOP:
        live_cluster_pause(w->srv, a->target);
        break;
    case ACT_CONT:
        live_cluster_resume(w->srv, a->target);
        break;
    case ACT_KILL:
        live_cluster_kill(w->srv, a->target);
        break;
    case ACT_RESTART:
        live_cluster_restart(w->srv, a->target, true, NULL, 0);
        break;
    case ACT_STEP:
        live_clock_step(w->lw, a->arg);
        break;
    }
}

static void client_main_live(struct env *e, void *arg)
{
    struct rl_client *c = arg;
    c->lock = make_lock(c->w, e);
    if (!c->lock) {
        c->done = true;
        return;
    }
    client_loop(e, c);
    rlock_destroy(c->lock);
    c->lock = NULL;
}

static void nap_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start (or find) the servers, run the clients for the duration while applying faults
 * from this thread (which also starts and restarts servers: they die with it), stop. */
static int run_live(struct rl *w)
{
    struct lab_run *run = w->run;
    const char *given = lab_world_str(run, "redis");
    struct acts acts = {0};
    int rc = live_faults(w, &acts, given == NULL);
    if (rc < 0)
        goto out;
    if (given) {
        const char *p = given;
        for (int i = 0; i < w->servers; i++) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof(w->addr[i])) {
                lab_fail(run, "world.redis: %d address(es) needed (comma-separated), got '%s'",
                         w->servers, given);
                rc = -EINVAL;
                goto out;
            }
            memcpy(w->addr[i], p, len);
            w->addr[i][len] = 0;
            p += len + (p[len] == ',');
        }
    } else {
        char err[2048];
        rc = live_cluster_start(LIVE_REDIS, w->servers, NULL, &w->srv, err, sizeof(err));
        if (rc < 0) {
            lab_fail(run, "cannot start redis-server: %s", err);
            rc = -ECONNREFUSED;
            goto out;
        }
        for (int i = 0; i < w->servers; i++)
            snprintf(w->addr[i], sizeof(w->addr[i]), "%s", live_cluster_addr(w->srv, i));
    }
    for (int i = 0; i < w->servers; i++) {
        struct redis *r = live_redis_connect(w->addr[i], w->call_timeout);
        rc = r ? redis_del(r, "counter_lock") : -EINVAL; /* leftovers on a given server */
        if (rc >= 0)
            rc = redis_del(r, "counter_lock:fence");
        redis_close(r);
        if (rc < 0) {
            lab_fail(run, "cannot reach Redis at %s: %s", w->addr[i], strerror(-rc));
            rc = rc == -EINVAL ? -EINVAL : -ECONNREFUSED;
            goto out;
        }
    }
    w->lw = live_world_create(lab_seed(run));
    if (!w->lw) {
        rc = -ENOMEM;
        lab_fail(run, "out of memory");
        goto out;
    }
    w->t0 = live_true_now();
    for (int k = 0; k < w->clients; k++) {
        char name[48];
        snprintf(name, sizeof(name), "client-%d/main", k);
        if ((rc = live_spawn(w->lw, name, client_main_live, &w->client[k], NULL)) < 0) {
            atomic_store(&w->stop, true);
            lab_fail(run, "cannot start a client thread: %s", strerror(-rc));
            goto out;
        }
    }
    if (acts.n)
        qsort(acts.v, acts.n, sizeof(*acts.v), by_at);
    size_t next = 0;
    int64_t now;
    while ((now = live_true_now() - w->t0) < w->duration) {
        while (next < acts.n && acts.v[next].at <= now)
            do_act(w, &acts.v[next++]);
        if (atomic_exchange(&w->crash_req, 0)) {
            for (int i = 0; i < w->fault_servers; i++) {
                live_cluster_kill(w->srv, i);
                if (w->fault_for > 0) {
                    act_add(&acts, now + w->fault_for, ACT_RESTART, i, 0);
                    if (acts.n > next)
                        qsort(acts.v + next, acts.n - next, sizeof(*acts.v), by_at);
                }
            }
        }
        lab_progress(run, (double)now / (double)w->duration);
        nap_ms(1);
    }
    atomic_store(&w->stop, true);
    for (int i = 0; w->srv && i < w->servers; i++) /* paused servers answer the last calls */
        live_cluster_resume(w->srv, i);
    live_join_all(w->lw);
    rc = report(w, live_true_now() - w->t0);
out:
    atomic_store(&w->stop, true);
    if (w->lw) {
        live_world_destroy(w->lw);
        w->lw = NULL;
    }
    live_cluster_stop(w->srv);
    free(acts.v);
    return rc;
}
#endif

/* ---- The workload -------------------------------------------------------------------- */

static int rl_run(struct lab_run *run)
{
    struct rl *w = calloc(1, sizeof(*w));
    if (!w) {
        lab_fail(run, "out of memory");
        return -ENOMEM;
    }
    int rc = read_params(w, run);
    if (rc < 0)
        goto out_free;
    rc = -ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    w->chk = lockcheck_create();
    w->res = w->chk ? lockres_create(w->chk, w->fencing, res_clock, w) : NULL;
    w->acq_ts = series_create(TS_BIN);
    w->client = calloc((size_t)w->clients, sizeof(*w->client));
    if (!w->chk || !w->res || !w->acq_ts || !w->client)
        goto out_nomem;
    for (int k = 0; k < w->clients; k++) {
        struct rl_client *c = &w->client[k];
        c->w = w;
        c->index = k;
        snprintf(c->prefix, sizeof(c->prefix), "client-%d/", k);
        c->latency = hist_create();
        c->attempts = hist_create();
        if (!c->latency || !c->attempts)
            goto out_nomem;
    }
#if HAVE_HIREDIS
    rc = w->live ? run_live(w) : run_sim(w);
#else
    rc = run_sim(w);
#endif
    goto out;
out_nomem:
    lab_fail(run, "out of memory");
out:
    for (int k = 0; w->client && k < w->clients; k++) {
        hist_destroy(w->client[k].latency);
        hist_destroy(w->client[k].attempts);
    }
    free(w->client);
    series_destroy(w->acq_ts);
    lockres_destroy(w->res);
    lockcheck_destroy(w->chk);
    for (int i = 0; i < MAX_SERVERS; i++)
        sim_redis_destroy(w->model[i]);
    sim_redis_destroy(w->replica_model);
    pthread_mutex_destroy(&w->mu);
out_free:
    free(w);
    return rc;
}

const struct lab_workload lab_wl_redis_lock = {
    .name = "lock/redis",
    .about = "the seed's counter under a Redis lock (seed, safe, fenced, renewing, redlock)",
    .params = rl_params,
    .worlds = LAB_WORLD_SIM | (HAVE_HIREDIS ? LAB_WORLD_LIVE : 0),
    .run = rl_run,
};

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
 * The live world (the lab's, lab.h): the lab starts redis-0.. on unix sockets (Redlock's
 * N, one for the other algorithms), or takes the user's from world.redis (a sweep point
 * that needs more servers than the user gave is skipped, with the reason); with `replica`
 * it starts redis-0, replica-0 and redis-sentinel (sentinel-0), puts a relay delaying the
 * stream by repl_lag on the replica's link, and the clients follow Sentinel's answer.
 * Client nodes client-K are threads; the resource is an object in this process. The
 * scenario's faults reach all of them by name as lab.h says (a server's clock and a
 * partition are not for the live world). The holder fault: pause pauses the holder's
 * node; crash-master kills redis-0.. right after the grant, with a replica cutting the
 * replication stream at the grant's SET first, so the promoted replica lacks the grant
 * and nothing older; clock-step needs the simulated world.
 *
 * `holder_fault` is a fault aimed at the lock: at the first acquisition at or after
 * `fault_at`, the new holder's node pauses for `fault_for` right after it read the counter
 * (pause), or the first `fault_servers` Redis nodes crash after the grant (restarting
 * after `fault_for`, 0: never; arm_crash in redis_lock_clients.c says when), or their
 * clocks step by `fault_step` right after the grant.
 *
 * Every random draw comes from the actors' (threads') seeded streams. */
#include "lab/lock/redis_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define HF_NAMES "none", "pause", "crash-master", "clock-step"

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
     "a replica of redis-0 (replica-0), promoted when redis-0 goes silent (live: by "
     "redis-sentinel, sentinel-0)"},
    {"repl_lag", LAB_DURATION, "10ms", 0, 3600e9, NULL,
     "how long after the master a write reaches the replica (live: a relay on the link)"},
    {"failover_after", LAB_DURATION, "1s", 1e6, 3600e9, NULL,
     "silence from the master before the replica is promoted (live: Sentinel's "
     "down-after)"},
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
    if (w->fault_servers > w->servers)
        return lab_fail_param(run, "fault_servers",
                              "fault_servers (%d) is more than servers (%d)", w->fault_servers,
                              w->servers);
    if (w->replica && w->algo == RLOCK_REDLOCK)
        return lab_fail_param(run, "replica", "replica: Redlock's servers are independent "
                                              "masters, without replicas");
    if (w->live && w->hfault == HF_CLOCK)
        return lab_fail_param(run, "holder_fault",
                              "lock/redis with holder_fault: clock-step does not run in the "
                              "live world (redis-server reads this machine's clock, which a "
                              "run must not step): use --world sim");
    return 0;
}

/* ---- Results ----------------------------------------------------------------------- */

void rl_stats_add(struct rlock_stats *to, const struct rlock_stats *from)
{
    to->acquired += from->acquired;
    to->attempts += from->attempts;
    to->busy += from->busy;
    to->errors += from->errors;
    to->released += from->released;
    to->stale_releases += from->stale_releases;
    to->extends += from->extends;
    to->extend_errors += from->extend_errors;
    to->lost += from->lost;
}

int rl_report(struct rl *w, int64_t end)
{
    struct lab_run *run = w->run;
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
            rlock_get_stats(c->lock, &c->st); /* the actor's lock outlives it in the sim */
        rl_stats_add(&sum, &c->st);
    }
    lab_metric(run, "failed_acquires", (double)failed);
    lab_metric(run, "acquire_errors", (double)errors);
    lab_metric(run, "stale_releases", (double)stale);
    lab_metric(run, "resource_timeouts", (double)res_err);
    lab_metric(run, "extends", (double)sum.extends);
    lab_metric(run, "extend_errors", (double)sum.extend_errors);
    lab_metric(run, "lost_leases", (double)sum.lost);
    lab_metric(run, "attempts_per_acquire", hist_count(att) ? hist_mean(att) : 0);
    lab_metric(run, "redis_attempts", (double)sum.attempts);
    /* Commands the clients sent, counted from the lock's own calls: an attempt is a SET
     * (Redlock: one per master, plus a compare-and-delete on each after a failed one), a
     * fenced grant adds its INCR, a release is one compare-and-delete (Redlock: per master). */
    double k = w->algo == RLOCK_REDLOCK ? w->servers : 1;
    double cmds = k * (double)(sum.attempts + sum.released + sum.stale_releases) +
                  (w->algo == RLOCK_FENCED ? (double)sum.acquired : 0) +
                  (w->algo == RLOCK_REDLOCK ? k * (double)sum.busy : 0);
    lab_metric(run, "requests_per_acquisition", sum.acquired ? cmds / (double)sum.acquired : 0);
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
#if HAVE_HIREDIS
    if (w->live && w->replica) {
        int64_t at = atomic_load(&w->promoted_at);
        lab_metric(run, "promotions", atomic_load(&w->promotions));
        lab_metric(run, "promoted_at", at < 0 ? -1 : (double)at / 1e9);
    }
#endif
    return lockres_report(w->res, run, end, rlock_algo_name(w->algo));
}

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
    w->res = lockres_create(w->fencing);
    w->client = calloc((size_t)w->clients, sizeof(*w->client));
    if (!w->res || !w->client)
        goto out_nomem;
    for (int k = 0; k < w->clients; k++) {
        struct rl_client *c = &w->client[k];
        c->w = w;
        c->index = k;
        c->latency = hist_create();
        c->attempts = hist_create();
        if (!c->latency || !c->attempts)
            goto out_nomem;
    }
#if HAVE_HIREDIS
    rc = w->live ? rl_run_live(w) : rl_run_sim(w);
#else
    rc = rl_run_sim(w);
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
    lockres_destroy(w->res);
    pthread_mutex_destroy(&w->mu);
    for (int i = 0; i < MAX_SERVERS; i++)
        sim_redis_destroy(w->model[i]);
    sim_redis_destroy(w->replica_model);
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


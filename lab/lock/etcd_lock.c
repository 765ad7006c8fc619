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
 * The live world (etcd_lock_live.c): `members` real etcd members the lab starts on
 * loopback (or the user's cluster, world.etcd), client nodes as threads, the resource an
 * object of this process; faults by node name as the lab applies them (a member's pause
 * is SIGSTOP, its crash SIGKILL; a client's pause blocks its actors at their next env
 * call); `fsync`, `service`, `election` and `heartbeat` are the real cluster's own then.
 * An interrupted live run revokes its clients' leases before the process dies.
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
 * watch_resets (a watch's member died while the client waited on it); member_gone is
 * those two and call_refused: how often a client found its member dead.
 *
 * `holder_fault: pause`: at the first grant at or after fault_at, the holder's node
 * pauses for fault_for right after it read the counter (its keep-alive actor, on the same
 * node, stops too). `compact_every`: a compactor node compacts the history to the current
 * revision that often (etcd's auto-compaction), so that a waiter may find the revision it
 * read compacted before its watch starts: the lock returns -ECANCELED, counted as
 * watch_cancels, and the client starts over (a clear error, not a hang).
 *
 * Every random draw comes from the actors' seeded streams. */
#include "lab/lock/etcd_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

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

/* The per-grant counts over the window, and the lock's own counters. */
static void report_counts(struct el *w)
{
    struct lab_run *run = w->run;
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
    /* One member serves one request at a time, `service` each: grants per second cannot
     * exceed 1 / (requests per grant x service), whatever else a grant waits for. */
    if (!w->live && acq && w->service > 0)
        lab_metric(run, "member_cpu_bound",
                   1e9 / ((double)win.requests / (double)acq * (double)w->service));
    lab_metric(run, "requests", (double)all.requests);
    lab_metric(run, "wakeups", (double)all.wakeups);
    lab_metric(run, "watches", (double)all.watches);
    lab_metric(run, "leases_granted", (double)all.leases);
    lab_metric(run, "resumed", (double)all.resumed);
    lab_metric(run, "session_lost", (double)all.session_lost);
    lab_metric(run, "keepalives", (double)all.keepalives);
    lab_metric(run, "keepalive_errors", (double)all.keepalive_errors);
}

/* Calls by outcome, and what the clients saw of their acquires and the resource. */
static void report_calls(struct el *w)
{
    struct lab_run *run = w->run;
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
    lab_metric(run, "member_gone",
               (double)(atomic_load(&w->calls.resets) + atomic_load(&w->calls.watch_resets) +
                        atomic_load(&w->calls.refused)));
    if (w->compact_every > 0) {
        lab_metric(run, "compactions", (double)atomic_load(&w->compactions));
        lab_metric(run, "compact_errors", (double)atomic_load(&w->compact_errors));
    }
}

/* The simulated cluster: elections, expiries, and the time it had no leader. */
static void report_cluster(struct el *w, int64_t end)
{
    struct lab_run *run = w->run;
    struct sim_etcd_stats st;
    sim_etcd_stats(w->model, &st);
    lab_metric(run, "elections", (double)st.elections);
    lab_metric(run, "leases_expired", (double)st.expired);
    size_t n;
    const struct sim_etcd_change *ch = sim_etcd_changes(w->model, &n);
    int64_t without = 0, down = -1, longest = 0;
    for (size_t i = 0; i <= n; i++) {
        bool last = i == n;
        if (!last && ch[i].member < 0 && down < 0) {
            down = ch[i].at;
        } else if ((last || ch[i].member >= 0) && down >= 0) {
            int64_t t = last ? end : ch[i].at;
            without += t - down;
            longest = t - down > longest ? t - down : longest;
            down = -1;
        }
    }
    lab_metric(run, "leaderless_time", (double)without / 1e9);
    lab_metric(run, "longest_election", (double)longest / 1e9);
}

int el_report(struct el *w, int64_t end)
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
    report_counts(w);
    report_calls(w);
    lab_metric(run, "longest_gap", (double)atomic_load(&w->longest_gap) / 1e9);
    struct series *rate = lab_series(run, "grant_rate_ts", RATE_BIN, "grants/s");
    for (int64_t b = 0; b * RATE_BIN < end; b++)
        series_add(rate, b * RATE_BIN,
                   (size_t)b < series_len(w->rate) ? series_sum(w->rate, (size_t)b) : 0);
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
    if (w->model)
        report_cluster(w, end);
    return lockres_report(w->res, run, end, elock_algo_name(w->algo));
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
    if (w->res)
        lockres_rate_from(w->res, w->warmup);
    w->rate = series_create(RATE_BIN);
    w->client = calloc((size_t)w->clients, sizeof(*w->client));
    w->lease = calloc((size_t)w->clients, sizeof(*w->lease));
    pthread_mutex_init(&w->mu, NULL);
    if (!w->res || !w->rate || !w->client || !w->lease)
        goto out_nomem;
    for (int k = 0; k < w->clients; k++) {
        struct el_client *c = &w->client[k];
        c->w = w;
        c->index = k;
        snprintf(c->name, sizeof(c->name), "client-%d", k);
        c->latency = hist_create();
        if (!c->latency)
            goto out_nomem;
    }
#if HAVE_ETCD
    if (w->live) {
        rc = el_run_live(w);
        goto out;
    }
#endif
    rc = lab_sim_run(run, w, el_build_sim, el_record_sim);
    goto out;
out_nomem:
    lab_fail(run, "out of memory");
out:
    /* the world ended inside lab_sim_run: the clients' locks went with their actors (exit
     * handlers), so nothing that runs still uses what is freed here */
    for (int k = 0; w->client && k < w->clients; k++)
        hist_destroy(w->client[k].latency);
    free(w->client);
    free(w->lease);
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
    .worlds = LAB_WORLD_SIM | (HAVE_ETCD ? LAB_WORLD_LIVE : 0),
    .run = el_run,
};

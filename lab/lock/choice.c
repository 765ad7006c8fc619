/* choice.c - the "lock/choice" workload: one workload, every lock, side by side (the
 * seed's advice on choosing a lock, measured). It adds no lock code of its own: each
 * run is performed by the lock's own workload (lab_run_as, lab.h), with this workload's
 * `clients`, `hold`, `ttl`, `fault_at` and `fault_for` and the settings below, and then
 * the common columns are recorded under common names and appended to choice.md and
 * choice.csv (lab_table: one row per run).
 *
 *   lock          driven by        settings
 *   mutex         lock/contention  a blocking mutex on one node; the hold is CPU inside
 *                                  it; the baseline (no server, no lease, no fault);
 *                                  live only up to 1 ms holds (its calibration spins 500
 *                                  holds), longer ones are skipped with that reason
 *   redis-safe    lock/redis       safe (SET NX PX, compare-and-delete), on a primary
 *                                  with a replica and Sentinel (live: redis-sentinel;
 *                                  the clients ask it for the primary)
 *   redis-fenced  lock/redis       fenced (safe + INCR token; the resource checks it),
 *                                  the same servers
 *   redlock       lock/redis       redlock over 5 independent masters
 *   zk-recipe     lock/zk          recipe, 3 servers, session = ttl, fencing (czxid)
 *   etcd-mutex    lock/etcd        clientv3's mutex, 3 members, lease = ttl, fencing
 *                                  (the key's create_revision)
 * `fencing: false` takes the resource's token check away from zk-recipe and etcd-mutex (the
 * control of the claim that fencing refuses a paused holder's late write).
 * Redis clients retry every 1-2 ms (retry_delay 1 ms + jitter 1 ms) and every blocking
 * acquire waits up to the run's length.
 *
 * The faults (`fault`), one per run:
 *   pause   the first holder after fault_at stops for fault_for right after its read (its
 *           lease or session, ttl, runs out meanwhile): each workload's holder_fault pause
 *   crash   the server side crashes at fault_at (mid-hold: the lock is always held under
 *           contention) and comes back fault_for later: Redis safe/fenced, the master just
 *           after a grant, before it reached the replica (repl_lag 50 ms; promoted 1 s after
 *           the master's silence; live: by redis-sentinel); redlock, one of its five
 *           masters after a grant (no persistence); ZooKeeper, zk-2, the leader; etcd,
 *           etcd-0, the leader
 *
 * Common metrics: acquisitions_per_s (the checker's grants per second between the first
 * grant and the last, (n - 1) / (t_n - t_1), lockres's grants_per_s: no window's edge cuts
 * a cycle; ZooKeeper and etcd count from `warmup` on, after the first election and a
 * live JVM's first seconds; mutex: its throughput),
 * acquire_latency (histogram; mutex: hold_wait), requests_per_acquisition (what the
 * clients send to the servers, each answered once: Redis, counted from the lock's own
 * calls; ZooKeeper, calls_per_acquisition; etcd, requests_per_acquisition), and for the
 * distributed locks the checker's overlaps, lost_updates, stale_writes, plus the array
 * violations = [overlaps, lost_updates, stale_writes] for a bar chart. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lab/lab.h"
#include "names.h"

extern const struct lab_workload lab_wl_lock_contention, lab_wl_redis_lock, lab_wl_zk_lock,
    lab_wl_etcd_lock;

enum choice_lock { CH_MUTEX, CH_SAFE, CH_FENCED, CH_REDLOCK, CH_ZK, CH_ETCD };
#define CHOICE_LOCK_NAMES                                                                          \
    "mutex", "redis-safe", "redis-fenced", "redlock", "zk-recipe", "etcd-mutex"
enum choice_fault { CF_NONE, CF_PAUSE, CF_CRASH };
#define CHOICE_FAULT_NAMES "none", "pause", "crash"

static const char *const lock_names[] = {CHOICE_LOCK_NAMES};
static const char *const fault_names[] = {CHOICE_FAULT_NAMES};

static const struct lab_param choice_params[] = {
    {"lock", LAB_ENUM, "redis-safe", 1, 0, NAMES_CHOICES(CHOICE_LOCK_NAMES),
     "the lock (see lab/lock/choice.c for how each is driven)"},
    {"clients", LAB_INT, "4", 1, 256, NULL, "clients contending (mutex: threads of one node)"},
    {"hold", LAB_DURATION, "1ms", 0, 60e9, NULL,
     "the holder's work between reading the counter and writing it back"},
    {"ttl", LAB_DURATION, "2s", 1e9, 4e9, NULL,
     "the lease (Redis PX, etcd lease, ZooKeeper session timeout)"},
    {"warmup", LAB_DURATION, "1500ms", 0, 86400e9, NULL,
     "ZooKeeper, etcd: requests per acquisition are counted from here on"},
    {"fencing", LAB_BOOL, "true", 1, 0, NULL,
     "zk-recipe, etcd-mutex: the resource checks the lock's token (czxid, create_revision); "
     "false switches that off (Redis: the algorithm decides, safe or fenced)"},
    {"fault", LAB_ENUM, "none", 1, 0, NAMES_CHOICES(CHOICE_FAULT_NAMES),
     "none, pause (the holder, past ttl) or crash (the master / leader, mid-hold)"},
    {"fault_at", LAB_DURATION, "3s", 0, 86400e9, NULL, "when the fault fires"},
    {"fault_for", LAB_DURATION, "4s", 0, 86400e9, NULL, "the pause's length, or the down time"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* "name=value" into buf (room for each entry: 64 bytes). */
#define SET_MAX 16
struct set {
    char text[SET_MAX][64];
    const char *v[SET_MAX + 1];
    int n;
};

static void setf(struct set *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void setf(struct set *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->text[s->n], sizeof(s->text[s->n]), fmt, ap);
    va_end(ap);
    s->v[s->n] = s->text[s->n];
    s->v[++s->n] = NULL;
}

static double metric_or_nan(struct lab_run *run, const char *name)
{
    double v;
    return lab_metric_get(run, name, &v) ? v : NAN;
}

/* Records the common columns and the table rows. */
static void record(struct lab_run *run, enum choice_lock lock, enum choice_fault fault)
{
    struct hist *lat = lab_hist(run, "acquire_latency", "ns");
    if (lock == CH_MUTEX)
        hist_merge(lat, lab_hist(run, "hold_wait", "ns"));
    double req = 0;
    if (lock == CH_ZK)
        req = metric_or_nan(run, "calls_per_acquisition");
    else if (lock != CH_MUTEX)
        req = metric_or_nan(run, "requests_per_acquisition");
    lab_metric(run, "requests_per_acquisition", req);
    /* The mutex: its throughput; a lock with a server: its grants' rate between the first
     * grant and the last (lockres_report's grants_per_s), which leaves out the wait for the
     * first grant without a window to cut cycles at its edges. */
    double thr = metric_or_nan(run, lock == CH_MUTEX ? "throughput" : "grants_per_s");
    lab_metric(run, "acquisitions_per_s", thr);
    double ov = NAN, lost = metric_or_nan(run, "lost_updates"), stale = NAN;
    if (lock != CH_MUTEX) {
        ov = metric_or_nan(run, "overlaps");
        stale = metric_or_nan(run, "stale_writes");
        double v[3] = {ov, lost, stale};
        lab_metric_array(run, "violations", v, 3);
    }
    double p50 = NAN, p99 = NAN, p999 = NAN;
    if (hist_count(lat)) {
        p50 = (double)hist_quantile(lat, 0.5) / 1e6;
        p99 = (double)hist_quantile(lat, 0.99) / 1e6;
        p999 = (double)hist_quantile(lat, 0.999) / 1e6;
    }
    const char *world = lab_world(run) == LAB_WORLD_LIVE ? "live" : "sim";
    int clients = (int)lab_int(run, "clients");
    double hold = (double)lab_duration(run, "hold") / 1e6;
    lab_table(run, "choice.csv",
              "lock,world,clients,hold_ms,fault,acquisitions_per_s,latency_p50_ms,"
              "latency_p99_ms,latency_p999_ms,requests_per_acquisition,overlaps,lost_updates,"
              "stale_writes\n",
              "%s,%s,%d,%g,%s,%.7g,%.3f,%.3f,%.3f,%.2f,%g,%g,%g\n", lock_names[lock], world,
              clients, hold, fault_names[fault], thr, p50, p99, p999, lock == CH_MUTEX ? NAN : req,
              ov, lost, stale);
    /* The mutex has no server to send requests to, no lease and no fencing: "-". A rate
     * below 10/s (100 ms or 3 s holds) keeps three digits. */
    char ovs[32] = "-", ls[32] = "-", ss[32] = "-", rs[32] = "-";
    if (lock != CH_MUTEX) {
        snprintf(ovs, sizeof(ovs), "%g", ov);
        snprintf(ss, sizeof(ss), "%g", stale);
        snprintf(rs, sizeof(rs), "%.2f", req);
    }
    snprintf(ls, sizeof(ls), "%g", lost);
    lab_table(run, "choice.md",
              "| lock | world | clients | hold (ms) | fault | acquisitions/s | p50 (ms) "
              "| p99 (ms) | p999 (ms) | requests/acq | overlaps | lost updates | stale writes |\n"
              "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
              "| %s | %s | %d | %g | %s | %.*f | %.3f | %.3f | %.3f | %s | %s | %s | %s |\n",
              lock_names[lock], world, clients, hold, fault_names[fault], thr < 10 ? 2 : 1, thr,
              p50, p99, p999, rs, ovs, ls, ss);
}

static void fmt_ns(char *buf, size_t cap, int64_t ns)
{
    snprintf(buf, cap, "%lldns", (long long)ns);
}

static int choice_run(struct lab_run *run)
{
    enum choice_lock lock = (enum choice_lock)lab_enum(run, "lock");
    enum choice_fault fault = (enum choice_fault)lab_enum(run, "fault");
    int64_t dur = lab_duration_total(run);
    int64_t fault_at = lab_duration(run, "fault_at"), fault_for = lab_duration(run, "fault_for");
    char d[32];
    fmt_ns(d, sizeof(d), dur);
    struct set s = {.n = 0};
    s.v[0] = NULL;
    struct lab_fault crash = {.kind = LAB_FAULT_CRASH, .at = fault_at, .dur = fault_for};
    size_t ncrash = 0;
    const struct lab_workload *wl = NULL;
    switch (lock) {
    case CH_MUTEX:
        if (fault != CF_NONE)
            return lab_fail_param(run, "fault",
                                  "the mutex lives in one process: it has no "
                                  "lease to outlive and no server to crash");
        if (lab_world(run) == LAB_WORLD_LIVE && lab_duration(run, "hold") > 1000000) {
            /* lock/contention measures its uncontended cycle first, 500 of them, spinning:
             * 50 s of CPU at a 100 ms hold. */
            lab_skip(run, "hold",
                     "the live mutex baseline calibrates on 500 holds of "
                     "spinning CPU (lock/contention): too long past 1 ms");
            return 0;
        }
        wl = &lab_wl_lock_contention;
        setf(&s, "lock=mutex");
        setf(&s, "contenders=%d", (int)lab_int(run, "clients"));
        int64_t hold = lab_duration(run, "hold");
        /* The simulation charges what env_work charges: a hold of 0 would make a cycle free
         * and the run endless, so its cycle is the hold plus 1 us (the in-memory
         * read-modify-write and the hand-off); live, a cycle costs what it costs. */
        fmt_ns(d, sizeof(d), hold + (lab_world(run) == LAB_WORLD_SIM ? 1000 : 0));
        setf(&s, "cs=%s", d);
        setf(&s, "think=0");
        /* Its workers stop by themselves after run_for, each after its turn in the queue
         * (clients x hold), before the run ends; the simulated cycles are exact, 2 s do. */
        int64_t margin = lab_int(run, "clients") * hold + 100000000;
        int64_t run_for = dur - margin > dur / 4 ? dur - margin : dur / 4;
        fmt_ns(d, sizeof(d), run_for < 2000000000 ? run_for : 2000000000);
        setf(&s, "run_for=%s", d);
        setf(&s, "live_run_for=%s", d);
        break;
    case CH_SAFE:
    case CH_FENCED:
    case CH_REDLOCK:
        if (lock == CH_FENCED && !lab_bool(run, "fencing"))
            return lab_fail_param(run, "fencing",
                                  "redis-fenced without its check is redis-safe plus an "
                                  "INCR: sweep lock: redis-safe instead");
        wl = &lab_wl_redis_lock;
        setf(&s, "algorithm=%s",
             lock == CH_SAFE     ? "safe"
             : lock == CH_FENCED ? "fenced"
                                 : "redlock");
        setf(&s, "servers=%d", lock == CH_REDLOCK ? 5 : 1);
        setf(&s, "retry_delay=1ms");
        setf(&s, "retry_jitter=1ms");
        setf(&s, "acquire_timeout=%s", d);
        if (fault == CF_PAUSE)
            setf(&s, "holder_fault=pause");
        /* safe and fenced run as Redis is deployed for a lock: a primary, a replica and
         * Sentinel (live: redis-sentinel), the clients asking Sentinel for the primary. */
        if (lock != CH_REDLOCK) {
            setf(&s, "replica=true");
            setf(&s, "failover_after=1s");
        }
        if (fault == CF_CRASH) {
            setf(&s, "holder_fault=crash-master");
            if (lock != CH_REDLOCK)
                setf(&s, "repl_lag=50ms");
        }
        break;
    case CH_ZK:
        wl = &lab_wl_zk_lock;
        setf(&s, "algorithm=recipe");
        setf(&s, "servers=3");
        setf(&s, "fencing=%s", lab_bool(run, "fencing") ? "true" : "false");
        fmt_ns(d, sizeof(d), lab_duration(run, "ttl"));
        setf(&s, "session_timeout=%s", d);
        if (fault == CF_PAUSE)
            setf(&s, "holder_fault=pause");
        crash.node = "zk-2"; /* the leader: the highest id wins the first election */
        ncrash = fault == CF_CRASH;
        break;
    case CH_ETCD:
        wl = &lab_wl_etcd_lock;
        setf(&s, "algorithm=mutex");
        setf(&s, "members=3");
        setf(&s, "fencing=%s", lab_bool(run, "fencing") ? "true" : "false");
        setf(&s, "acquire_timeout=%s", d);
        if (fault == CF_PAUSE)
            setf(&s, "holder_fault=pause");
        crash.node = "etcd-0"; /* leader0: etcd-0 leads from the start */
        ncrash = fault == CF_CRASH;
        break;
    }
    int rc = lab_run_as(run, wl, s.v, ncrash ? &crash : NULL, ncrash, "lock");
    double thr;
    if (rc < 0 || !lab_metric_get(run, "throughput", &thr))
        return rc; /* failed, or left out (lab_skip): nothing to add */
    record(run, lock, fault);
    return 0;
}

const struct lab_workload lab_wl_lock_choice = {
    .name = "lock/choice",
    .about = "one workload, every lock (mutex, Redis safe/fenced/redlock, ZooKeeper, etcd)",
    .params = choice_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = choice_run,
};

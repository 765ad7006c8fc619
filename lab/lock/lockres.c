/* lockres.c - the protected resource and the lock checker's bookkeeping (lockres.h). Reads
 * true time only: sim_now in the simulation, the real clock live. */
#include "lab/lock/lockres.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "lab/lab.h"
#include "lab/lock/lockcheck.h"
#include "live/live.h"
#include "sim/sim.h"

#define RES_PORT 7000u
#define RES_MAGIC 0x52455331u /* "RES1" */
#define TS_BIN (100 * SIM_MS)

struct lockres {
    bool fencing, live;
    struct lockcheck *chk;
    pthread_mutex_t mu; /* the counter, the token, the series */
    int64_t value, max_fence;
    struct series *acq_ts;
    int64_t t0;          /* live: the run's start on the real clock */
    struct lab_run *run; /* live: whose clock (lab_live_now), or NULL for t0 */
    int node;            /* sim: the resource's node */
    int64_t call_timeout;
    int64_t rate_from; /* grants_per_s counts grants from this true time on */
};

struct lockres *lockres_create(bool fencing)
{
    struct lockres *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->fencing = fencing;
    r->chk = lockcheck_create();
    r->acq_ts = series_create(TS_BIN);
    if (!r->chk || !r->acq_ts || pthread_mutex_init(&r->mu, NULL) != 0) {
        lockcheck_destroy(r->chk);
        series_destroy(r->acq_ts);
        free(r);
        return NULL;
    }
    return r;
}

void lockres_destroy(struct lockres *r)
{
    if (!r)
        return;
    lockcheck_destroy(r->chk);
    series_destroy(r->acq_ts);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int64_t lockres_now(struct lockres *r, struct env *e)
{
    if (!r->live)
        return sim_env_true_now(e);
    return r->run ? lab_live_now(r->run) : live_true_now() - r->t0;
}

void lockres_live(struct lockres *r, struct lab_run *run)
{
    r->live = true;
    r->run = run;
    r->t0 = live_true_now();
}

/* Apply an access at true time 'now'. Returns 0 or -ESTALE. */
static int apply(struct lockres *r, bool write, int64_t lease, int64_t fence, int64_t *value,
                 int64_t now)
{
    pthread_mutex_lock(&r->mu);
    bool ok = !r->fencing || fence >= r->max_fence;
    if (ok) {
        if (r->fencing)
            r->max_fence = fence;
        if (write)
            r->value = *value;
        else
            *value = r->value;
    }
    lockcheck_access(r->chk, lease, write, ok, now);
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -ESTALE;
}

struct res_msg {
    uint32_t magic;
    uint32_t write;
    uint64_t id;
    int64_t lease, fence, value;
    int32_t status;
};

static void resource_main(struct env *e, void *arg)
{
    struct lockres *r = arg;
    if (sim_listen(e, RES_PORT) < 0)
        return;
    for (;;) {
        struct res_msg m;
        struct sim_addr from;
        if (sim_recv(e, &m, sizeof(m), &from, -1) != (ssize_t)sizeof(m) || m.magic != RES_MAGIC)
            continue;
        m.status = apply(r, m.write != 0, m.lease, m.fence, &m.value, sim_env_true_now(e));
        sim_send(e, from, &m, sizeof(m));
    }
}

int lockres_sim(struct lockres *r, struct sim *sim, int node, int64_t call_timeout)
{
    r->node = node;
    r->call_timeout = call_timeout;
    return sim_node_main(sim, node, "resource", resource_main, r);
}

int lockres_access(struct lockres *r, struct env *e, uint64_t *id, bool write, int64_t lease,
                   int64_t fence, int64_t *value)
{
    if (r->live)
        return apply(r, write, lease, fence, value, lockres_now(r, e));
    struct res_msg m = {RES_MAGIC, write, ++*id, lease, fence, *value, 0};
    sim_send(e, (struct sim_addr){r->node, RES_PORT}, &m, sizeof(m));
    int64_t deadline = env_mono(e) + r->call_timeout;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        struct res_msg a;
        ssize_t n = left > 0 ? sim_recv(e, &a, sizeof(a), NULL, left) : -ETIMEDOUT;
        if (n == -ETIMEDOUT)
            return -ETIMEDOUT;
        if (n == (ssize_t)sizeof(a) && a.magic == RES_MAGIC && a.id == m.id) {
            *value = a.value;
            return a.status;
        }
    }
}

int lockres_critical(struct lockres *r, struct env *e, uint64_t *id, int64_t lease, int64_t fence,
                     int64_t hold, void (*after_read)(void *arg, struct env *e), void *arg)
{
    int64_t v = 0;
    int rc = lockres_access(r, e, id, false, lease, fence, &v);
    if (after_read)
        after_read(arg, e);
    if (hold > 0 && !r->live)
        env_work(e, hold);
    else if (hold > 0)
        env_sleep(e, hold);
    if (rc == 0) {
        v++;
        rc = lockres_access(r, e, id, true, lease, fence, &v);
    }
    return rc;
}

int64_t lockres_acquired(struct lockres *r, int client, struct env *e)
{
    int64_t now = lockres_now(r, e);
    int64_t lease = lockcheck_acquired(r->chk, client, now);
    pthread_mutex_lock(&r->mu);
    series_add(r->acq_ts, now, 1);
    pthread_mutex_unlock(&r->mu);
    return lease;
}

void lockres_released(struct lockres *r, int64_t lease, int64_t t, bool deleted)
{
    lockcheck_released(r->chk, lease, t, deleted);
}

/* holders_ts: in each bin, the fraction of it each lease covers, summed. */
static void holders_series(struct lockres *r, struct lab_run *run, int64_t end)
{
    struct series *h = lab_series(run, "holders_ts", TS_BIN, "holders");
    for (int64_t b = 0; b * TS_BIN < end; b++)
        series_add(h, b * TS_BIN, 0); /* every bin, even where nobody holds */
    size_t n = lockcheck_leases(r->chk);
    for (size_t i = 0; i < n; i++) {
        int client;
        int64_t from, to;
        if (!lockcheck_lease(r->chk, i, end, &client, &from, &to))
            break;
        for (int64_t b = from / TS_BIN; b * TS_BIN < to && b * TS_BIN < end; b++) {
            int64_t lo = from > b * TS_BIN ? from : b * TS_BIN;
            int64_t hi = to < (b + 1) * TS_BIN ? to : (b + 1) * TS_BIN;
            if (hi > lo)
                series_add(h, b * TS_BIN, (double)(hi - lo) / (double)TS_BIN);
        }
    }
}

int lockres_result(struct lockres *r, int64_t end, struct lockcheck_result *out)
{
    pthread_mutex_lock(&r->mu);
    int64_t value = r->value;
    pthread_mutex_unlock(&r->mu);
    return lockcheck_result(r->chk, end, value, out);
}

void lockres_rate_from(struct lockres *r, int64_t from)
{
    r->rate_from = from;
}

int lockres_report(struct lockres *r, struct lab_run *run, int64_t end, const char *what)
{
    struct lockcheck_result c;
    if (lockcheck_result(r->chk, end, r->value, &c) < 0) {
        lab_fail(run, "out of memory computing the lock checker's result");
        return -ENOMEM;
    }
    double secs = (double)end / 1e9;
    lab_metric(run, "overlaps", (double)c.overlaps);
    lab_metric(run, "overlap_time", (double)c.overlap_ns);
    lab_metric(run, "max_holders", c.max_holders);
    lab_metric(run, "lost_updates", (double)c.lost_updates);
    lab_metric(run, "stale_writes", (double)c.stale_writes);
    lab_metric(run, "stale_reads", (double)c.stale_reads);
    lab_metric(run, "rejected_writes", (double)c.rejected_writes);
    lab_metric(run, "rejected_reads", (double)c.rejected_reads);
    lab_metric(run, "foreign_deletes", (double)c.foreign_deletes);
    lab_metric(run, "acquisitions", (double)c.leases);
    lab_metric(run, "writes", (double)c.writes);
    lab_metric(run, "counter", (double)r->value);
    lab_metric(run, "throughput", secs > 0 ? (double)c.leases / secs : 0);
    lab_metric(run, "grants_per_s", lockcheck_grant_rate(r->chk, r->rate_from, end));
    struct series *ts = lab_series(run, "acquisitions_ts", TS_BIN, "acquisitions");
    for (size_t b = 0; b < series_len(r->acq_ts); b++)
        if (series_count(r->acq_ts, b))
            series_add(ts, (int64_t)b * TS_BIN, series_sum(r->acq_ts, b));
    holders_series(r, run, end);
    lab_note(run,
             "%s: %llu acquisitions, %llu overlapping pairs, %llu lost updates, "
             "%llu stale writes, counter %lld",
             what, (unsigned long long)c.leases, (unsigned long long)c.overlaps,
             (unsigned long long)c.lost_updates, (unsigned long long)c.stale_writes,
             (long long)r->value);
    return 0;
}

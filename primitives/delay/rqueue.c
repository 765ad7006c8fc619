/* rqueue.c - the Redis-backed delayed-task cluster (see rqueue.h). One actor per node; all
 * shared state is in Redis, so the only local state is when to heartbeat next. */
#include "delay/rqueue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000LL

struct rqn {
    const struct rq_config *cfg;
    int self;
    struct redis *r;
    struct env *e;
    struct rq_stats *st, scratch;
    uint64_t known_live; /* p:live as last read */
    int64_t started;     /* monotonic ns the node started */
};

static uint64_t bit(int n)
{
    return (uint64_t)1 << n;
}

static void key(char *buf, const struct rq_config *cfg, const char *what, int n)
{
    snprintf(buf, REDIS_KEY_MAX + 1, "%s:%s:%d", cfg->prefix, what, n);
}

static int64_t ms_of(int64_t ns)
{
    return ns / MS;
}

int rq_config_check(const struct rq_config *cfg)
{
    if (!cfg->prefix || strlen(cfg->prefix) > 16 || cfg->nodes < 1 || cfg->nodes > PL_MAX_NODES ||
        !cfg->policy || pl_nodes(cfg->policy) != cfg->nodes ||
        pl_ntasks(cfg->policy) != cfg->ntasks || (cfg->ntasks && !cfg->tasks) ||
        cfg->hb_interval_ns <= 0 || cfg->hb_timeout_ns <= cfg->hb_interval_ns || cfg->work_ns < 0 ||
        cfg->visibility_ns <= cfg->work_ns || cfg->done_ttl_ns <= 0)
        return -EINVAL;
    return 0;
}

/* Task t's owner among 'live' (all nodes when none is live). */
static int owner(const struct rq_config *cfg, uint32_t t, uint64_t live)
{
    uint64_t all = cfg->nodes >= 64 ? ~0ull : bit(cfg->nodes) - 1;
    int p = 0;
    uint64_t h;
    pl_place(cfg->policy, t, live & all ? live & all : all, &p, &h);
    return p;
}

int rq_seed(struct env *e, const struct rq_config *cfg, struct redis *r)
{
    if (rq_config_check(cfg) < 0)
        return -EINVAL;
    char k[REDIS_KEY_MAX + 1], v[32];
    snprintf(k, sizeof(k), "%s:seeded", cfg->prefix);
    int rc = redis_set(r, k, "1", REDIS_NX, 0);
    if (rc <= 0)
        return rc;
    uint64_t all = cfg->nodes >= 64 ? ~0ull : bit(cfg->nodes) - 1;
    for (uint32_t t = 0; t < cfg->ntasks; t++) {
        key(k, cfg, "due", owner(cfg, t, all));
        snprintf(v, sizeof(v), "%" PRIu32, t);
        /* due at the first whole ms not before its time: never early */
        if ((rc = redis_zadd(r, k, v, ms_of(cfg->tasks[t].first + MS - 1))) < 0)
            return rc;
    }
    snprintf(k, sizeof(k), "%s:live", cfg->prefix);
    snprintf(v, sizeof(v), "%" PRIu64, all);
    rc = redis_set(r, k, v, 0, 0);
    return rc < 0 ? rc : 0;
}

static bool failed(struct rqn *n, int rc)
{
    if (rc < 0)
        n->st->errors++;
    return rc < 0;
}

/* ---- Coordinating ----------------------------------------------------------------------- */

/* The nodes whose heartbeat key exists, or 0 when Redis could not be asked. */
static uint64_t read_live(struct rqn *n)
{
    char k[REDIS_KEY_MAX + 1], v[16];
    uint64_t live = 0;
    for (int i = 0; i < n->cfg->nodes; i++) {
        key(k, n->cfg, "hb", i);
        int rc = redis_get(n->r, k, v, sizeof(v));
        if (rc >= 0)
            live |= bit(i);
        else if (rc != -ENOENT && failed(n, rc))
            return 0;
    }
    return live;
}

/* Move task t, wherever among the due sets it is, to its owner's. Returns 1 if it moved. */
static int rehome(struct rqn *n, uint32_t t, uint64_t live)
{
    char src[REDIS_KEY_MAX + 1], dst[REDIS_KEY_MAX + 1], m[16];
    int o = owner(n->cfg, t, live);
    key(dst, n->cfg, "due", o);
    snprintf(m, sizeof(m), "%" PRIu32, t);
    for (int i = 0; i < n->cfg->nodes; i++) {
        if (i == o)
            continue;
        key(src, n->cfg, "due", i);
        int rc = redis_zmove(n->r, src, dst, m);
        if (rc != 0)
            return failed(n, rc) ? 0 : 1;
    }
    return 0;
}

/* Empty a dead node's sets: its run-out claims back into its due set, untagged, then each
 * due task to its owner. */
static void sweep(struct rqn *n, int dead, uint64_t live, int64_t now_ms)
{
    char run[REDIS_KEY_MAX + 1], due[REDIS_KEY_MAX + 1], dst[REDIS_KEY_MAX + 1],
        m[REDIS_VAL_MAX + 1];
    key(run, n->cfg, "run", dead);
    key(due, n->cfg, "due", dead);
    int64_t sc;
    int rc;
    while ((rc = redis_zpopmove(n->r, run, due, now_ms, 0, REDIS_ZUNTAG, m, sizeof(m), &sc)) == 1)
        n->st->reclaimed++;
    if (failed(n, rc))
        return;
    while ((rc = redis_zfirst(n->r, due, m, sizeof(m), &sc)) == 1) {
        key(dst, n->cfg, "due", owner(n->cfg, (uint32_t)strtoul(m, NULL, 10), live));
        if ((rc = redis_zmove(n->r, due, dst, m)) < 0)
            break;
        n->st->moved++;
    }
    failed(n, rc);
}

static void coordinate(struct rqn *n, int64_t now_ms)
{
    uint64_t live = read_live(n);
    if (!live || __builtin_ctzll(live) != n->self)
        return;
    char k[REDIS_KEY_MAX + 1], v[32];
    snprintf(k, sizeof(k), "%s:live", n->cfg->prefix);
    int rc = redis_get(n->r, k, v, sizeof(v));
    if (rc < 0 && rc != -ENOENT && failed(n, rc))
        return;
    uint64_t stored = rc >= 0 ? strtoull(v, NULL, 10) : 0;
    if (stored != live) {
        uint32_t moved = 0;
        for (uint32_t t = 0; t < n->cfg->ntasks; t++)
            moved += (uint32_t)rehome(n, t, live);
        snprintf(v, sizeof(v), "%" PRIu64, live);
        int64_t epoch;
        if (failed(n, redis_set(n->r, k, v, 0, 0)))
            return;
        snprintf(k, sizeof(k), "%s:epoch", n->cfg->prefix);
        failed(n, redis_incr(n->r, k, &epoch));
        n->st->rebalances++;
        n->st->moved += moved;
        if (n->cfg->hooks.rebalanced)
            n->cfg->hooks.rebalanced(n->cfg->hooks.arg, n->self, live, moved);
    }
    for (int d = 0; d < n->cfg->nodes; d++)
        if (!(live & bit(d)))
            sweep(n, d, live, now_ms);
    n->known_live = live;
}

/* ---- Working ---------------------------------------------------------------------------- */

/* Execute the claimed firing of t due at due_ms, then acknowledge it. */
static void execute(struct rqn *n, uint32_t t, int64_t due_ms)
{
    const struct rq_config *cfg = n->cfg;
    char k[REDIS_KEY_MAX + 1], m[REDIS_VAL_MAX + 1], me[8];
    int verdict = DX_EXECUTED;
    if (cfg->idempotent) {
        snprintf(k, sizeof(k), "%s:done:%" PRIu32 ":%" PRId64, cfg->prefix, t, due_ms);
        snprintf(me, sizeof(me), "%d", n->self);
        int rc = redis_set(n->r, k, me, REDIS_NX, cfg->done_ttl_ns);
        if (failed(n, rc))
            return; /* the claim runs out and the firing comes again */
        verdict = rc == 1 ? DX_EXECUTED : DX_IGNORED;
    }
    if (verdict == DX_EXECUTED)
        n->st->executed++;
    else
        n->st->ignored++;
    if (cfg->hooks.executed)
        cfg->hooks.executed(cfg->hooks.arg, n->self, t, due_ms, verdict);
    if (cfg->work_ns > 0)
        env_sleep(n->e, cfg->work_ns); /* the rest of the task: a crash here loses the ack */
    key(k, cfg, "run", n->self);
    snprintf(m, sizeof(m), "%" PRIu32 "@%" PRId64, t, due_ms);
    int rc = redis_zrem(n->r, k, m);
    if (failed(n, rc))
        return;
    bool held = rc == 1;
    n->st->acks += held;
    n->st->lost_claims += !held;
    if (held && cfg->tasks[t].period > 0) {
        key(k, cfg, "due", owner(cfg, t, n->known_live));
        snprintf(m, sizeof(m), "%" PRIu32, t);
        failed(n, redis_zadd(n->r, k, m, due_ms + ms_of(cfg->tasks[t].period)));
    }
    if (cfg->hooks.finished)
        cfg->hooks.finished(cfg->hooks.arg, n->self, t, due_ms, held);
}

/* Heartbeat, take back this node's run-out claims, coordinate. */
static void tick(struct rqn *n)
{
    const struct rq_config *cfg = n->cfg;
    char k[REDIS_KEY_MAX + 1], due[REDIS_KEY_MAX + 1], me[8], m[REDIS_VAL_MAX + 1];
    key(k, cfg, "hb", n->self);
    snprintf(me, sizeof(me), "%d", n->self);
    failed(n, redis_set(n->r, k, me, 0, cfg->hb_timeout_ns));
    snprintf(k, sizeof(k), "%s:live", cfg->prefix);
    char v[32];
    if (redis_get(n->r, k, v, sizeof(v)) >= 0)
        n->known_live = strtoull(v, NULL, 10);
    int64_t now_ms = ms_of(env_now(n->e)), sc;
    key(k, cfg, "run", n->self);
    key(due, cfg, "due", n->self);
    int rc;
    while ((rc = redis_zpopmove(n->r, k, due, now_ms, 0, REDIS_ZUNTAG, m, sizeof(m), &sc)) == 1)
        n->st->reclaimed++;
    failed(n, rc);
    /* the heartbeats read before every live node has had a timeout to write one would
     * show nodes as dead that are only starting */
    if (env_mono(n->e) - n->started > cfg->hb_timeout_ns)
        coordinate(n, now_ms);
}

int rq_node_run(struct env *e, const struct rq_config *cfg, int self, struct redis *r,
                struct rq_stats *st)
{
    if (rq_config_check(cfg) < 0 || self < 0 || self >= cfg->nodes || !r)
        return -EINVAL;
    struct rqn n = {.cfg = cfg, .self = self, .r = r, .e = e};
    n.st = st ? st : &n.scratch;
    n.known_live = cfg->nodes >= 64 ? ~0ull : bit(cfg->nodes) - 1;
    n.started = env_mono(e);
    char due[REDIS_KEY_MAX + 1], run[REDIS_KEY_MAX + 1], m[REDIS_VAL_MAX + 1];
    key(due, cfg, "due", self);
    key(run, cfg, "run", self);
    int64_t next_hb = env_mono(e);
    for (;;) {
        if ((cfg->stop && atomic_load(cfg->stop)) ||
            (cfg->stopping && cfg->stopping(cfg->stopping_arg)))
            return 0;
        if (env_mono(e) >= next_hb) {
            tick(&n);
            next_hb += cfg->hb_interval_ns;
            if (next_hb <= env_mono(e))
                next_hb = env_mono(e) + cfg->hb_interval_ns;
        }
        /* claim and execute what is due, one at a time, until a heartbeat is due */
        int64_t due_ms;
        int rc;
        while (env_mono(e) < next_hb) {
            int64_t now_ms = ms_of(env_now(e));
            rc = redis_zpopmove(r, due, run, now_ms, now_ms + ms_of(cfg->visibility_ns), REDIS_ZTAG,
                                m, sizeof(m), &due_ms);
            if (rc != 1) {
                failed(&n, rc);
                break;
            }
            uint32_t t = (uint32_t)strtoul(m, NULL, 10);
            if (t >= cfg->ntasks)
                continue;
            n.st->claims++;
            if (cfg->hooks.claimed)
                cfg->hooks.claimed(cfg->hooks.arg, self, t, due_ms);
            execute(&n, t, due_ms);
        }
        /* sleep until the next firing is due or the next heartbeat */
        int64_t wait = next_hb - env_mono(e);
        rc = redis_zfirst(r, due, m, sizeof(m), &due_ms);
        if (rc == 1) {
            int64_t until = due_ms * MS - env_now(e);
            if (until < wait)
                wait = until;
        }
        if (wait > 0)
            env_sleep(e, wait);
    }
}

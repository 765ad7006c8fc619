/* etcd_lock_conn.c - the lock/etcd workload's counting connection (etcd_lock_wl.h): every
 * call goes to the inner connection, and its outcome is counted (a reset, a timeout, no
 * leader, a refusal), so a run can tell what its clients met. */
#include "lab/lock/etcd_lock_wl.h"

#include <errno.h>
#include <stdlib.h>

/* ---- A connection that counts calls by outcome ------------------------------------- */

struct cwatch;

struct counting {
    struct etcd base;
    struct etcd *inner;
    struct call_counts *k;
    _Atomic int64_t *lease; /* the latest lease granted through it and not revoked */
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
    int64_t got = 0;
    int rc = count(c, in(c)->ops->lease_grant(in(c), ttl, &got, granted, rev));
    if (rc == 0 && cnt(c)->lease)
        atomic_store(cnt(c)->lease, got);
    if (id)
        *id = got;
    return rc;
}

static int c_revoke(struct etcd *c, int64_t id, int64_t *rev)
{
    int rc = count(c, in(c)->ops->lease_revoke(in(c), id, rev));
    int64_t mine = id;
    if (cnt(c)->lease && (rc == 0 || rc == -ENOENT))
        atomic_compare_exchange_strong(cnt(c)->lease, &mine, 0);
    return rc;
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

struct etcd *el_counting(struct etcd *inner, struct call_counts *k, _Atomic int64_t *lease)
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
    c->lease = lease;
    return &c->base;
}

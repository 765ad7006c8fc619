/* etcd_client.c - client/etcd.h over simulated messages to sim/etcd_model.c. One request at
 * a time per connection. Everything that reaches the actor passes through absorb(): the
 * awaited reply ends the call; watch events and cancellations are queued on their watch;
 * a member's reset fails the call and the watches on that member; anything else (a late
 * reply to a call that timed out) is dropped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/etcd_internal.h"
#include "sim/etcd_model.h"

struct simw {
    struct etcd_watch base;
    struct sime *c;
    int64_t wid;
    int node; /* the member's node: its events and reset come from there */
    int err;  /* 0, or -ECANCELED / -ECONNRESET once it is over */
    struct etcd_event *q;
    size_t head, n, cap;
    struct simw *next;
};

struct sime {
    struct etcd base;
    struct env *e;
    const struct sim_etcd *m;
    size_t cur;
    uint64_t next_id;
    int64_t next_wid;
    struct simw *watches;
    uint8_t *buf;
    size_t cap;
};

static struct sime *conn(struct etcd *c)
{
    return (struct sime *)(void *)c;
}

size_t sim_etcd_conn_member(const struct etcd *c)
{
    return ((const struct sime *)(const void *)c)->cur;
}

static int reserve(struct sime *c, size_t need)
{
    if (need <= c->cap)
        return 0;
    uint8_t *b = realloc(c->buf, need);
    if (!b)
        return -ENOMEM;
    c->buf = b;
    c->cap = need;
    return 0;
}

static void queue_events(struct simw *w, const struct etcd_event *ev, size_t n)
{
    if (w->head > 0 && w->n + n > w->cap) { /* slide what is left to the front */
        memmove(w->q, w->q + w->head, (w->n - w->head) * sizeof(*w->q));
        w->n -= w->head;
        w->head = 0;
    }
    if (w->n + n > w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        while (nc < w->n + n)
            nc *= 2;
        struct etcd_event *q = realloc(w->q, nc * sizeof(*q));
        if (!q) {
            w->err = -ENOMEM;
            return;
        }
        w->q = q;
        w->cap = nc;
    }
    memcpy(w->q + w->n, ev, n * sizeof(*ev));
    w->n += n;
}

static struct simw *watch_of(struct sime *c, int64_t wid, int node)
{
    for (struct simw *w = c->watches; w; w = w->next)
        if (w->wid == wid && w->node == node)
            return w;
    return NULL;
}

/* Take one message in. Returns 1 when it is the reply (id, from the node 'node'), with the
 * header in *rep; -ECONNRESET when 'node' reset; 0 otherwise. */
static int absorb(struct sime *c, size_t len, struct sim_addr from, uint64_t id, int node,
                  struct sim_etcd__rep *rep)
{
    struct sim_etcd__rep h;
    if (len < sizeof(h))
        return 0;
    memcpy(&h, c->buf, sizeof(h));
    if (h.magic != SIM_ETCD__MAGIC)
        return 0;
    switch (h.kind) {
    case SIM_ETCD__REPLY:
        if (h.id == id && from.node == node) {
            *rep = h;
            return 1;
        }
        return 0;
    case SIM_ETCD__EVENTS: {
        struct simw *w = watch_of(c, h.arg, from.node);
        size_t n = h.nkv;
        if (w && !w->err && len >= sizeof(h) + n * sizeof(struct etcd_event))
            queue_events(w, (const struct etcd_event *)(const void *)(c->buf + sizeof(h)), n);
        return 0;
    }
    case SIM_ETCD__CANCELED: {
        struct simw *w = watch_of(c, h.arg, from.node);
        if (w && !w->err) {
            w->err = -ECANCELED;
            w->base.compact_rev = h.arg2;
        }
        return 0;
    }
    case SIM_ETCD__RESET:
        for (struct simw *w = c->watches; w; w = w->next)
            if (w->node == from.node && !w->err)
                w->err = -ECONNRESET;
        return from.node == node ? -ECONNRESET : 0;
    default:
        return 0;
    }
}

/* Send q to the current member and wait for its reply (header in *rep, kvs in c->buf
 * after it). Returns the reply's status or an error; a timeout or a reset moves the
 * connection to the next member. 'room': kvs the reply may carry. */
static int call(struct sime *c, const struct sim_etcd__req *q, size_t room,
                struct sim_etcd__rep *rep)
{
    size_t need = sizeof(struct sim_etcd__rep) + room * sizeof(struct etcd_kv);
    size_t evs = sizeof(struct sim_etcd__rep) + SIM_ETCD__EVENTS_MAX * sizeof(struct etcd_event);
    if (reserve(c, need > evs ? need : evs) < 0 ||
        reserve(c, sizeof(struct sim_etcd__hdr) + SIM_ETCD__REQ_MAX) < 0)
        return -ENOMEM;
    struct sim_etcd__hdr h = {SIM_ETCD__MAGIC, SIM_ETCD__CLIENT_REQ, ++c->next_id};
    memcpy(c->buf, &h, sizeof(h));
    size_t len = sizeof(h) + sim_etcd__req_encode(q, c->buf + sizeof(h));
    struct sim_addr to = sim_etcd_addr(c->m, c->cur);
    if (!sim_node_up(sim_env_sim(c->e), to.node)) {
        /* nothing listens there: the kernel refuses the connection at once */
        c->cur = (c->cur + 1) % sim_etcd_members(c->m);
        return -ECONNREFUSED;
    }
    if (sim_send(c->e, to, c->buf, len) < 0)
        return -ENOMEM;
    int64_t deadline = env_mono(c->e) + c->base.timeout_ns;
    for (;;) {
        int64_t left = deadline - env_mono(c->e);
        struct sim_addr from = {-1, 0};
        ssize_t n = left > 0 ? sim_recv(c->e, c->buf, c->cap, &from, left) : -ETIMEDOUT;
        if (n == -ETIMEDOUT) {
            c->cur = (c->cur + 1) % sim_etcd_members(c->m);
            return -ETIMEDOUT;
        }
        size_t got = (size_t)n < c->cap ? (size_t)n : c->cap;
        int rc = absorb(c, got, from, h.id, to.node, rep);
        if (rc == -ECONNRESET) {
            c->cur = (c->cur + 1) % sim_etcd_members(c->m);
            return -ECONNRESET;
        }
        if (rc != 1)
            continue;
        if (rep->status == -EAGAIN) /* that member knows no leader: ask another next time */
            c->cur = (c->cur + 1) % sim_etcd_members(c->m);
        return rep->nkv * sizeof(struct etcd_kv) + sizeof(*rep) > got ? -EPROTO : rep->status;
    }
}

static void fill_op(struct sim_etcd__wop *w, const struct etcd_op *o)
{
    memset(w, 0, sizeof(*w));
    w->kind = (uint8_t)o->kind;
    w->prefix = o->prefix;
    w->sort_target = (uint8_t)o->sort_target;
    w->sort_order = (uint8_t)o->sort_order;
    w->lease = o->lease;
    w->limit = o->limit;
    w->max_create_rev = o->max_create_rev;
    w->cap = o->kvs ? (uint32_t)o->cap : 0;
    snprintf(w->key, sizeof(w->key), "%s", o->key);
    snprintf(w->val, sizeof(w->val), "%s", o->val ? o->val : "");
}

/* Copy a reply's answers into the executed branch's ops. */
static void unpack(struct sime *c, const struct sim_etcd__rep *rep, struct etcd_op *ops, size_t n)
{
    const struct etcd_kv *kv = (const struct etcd_kv *)(const void *)(c->buf + sizeof(*rep));
    for (size_t i = 0; i < n && i < rep->nops; i++) {
        struct etcd_op *o = &ops[i];
        o->n = rep->res[i].n;
        o->count = rep->res[i].count;
        o->deleted = rep->res[i].deleted;
        if (o->n && o->kvs)
            memcpy(o->kvs, kv, o->n * sizeof(*kv));
        kv += o->n;
    }
}

static int s_txn(struct etcd *ec, const struct etcd_cmp *cmps, size_t ncmp,
                 struct etcd_op *then_ops, size_t nthen, struct etcd_op *else_ops, size_t nelse,
                 bool *succeeded, int64_t *rev)
{
    struct sim_etcd__req q;
    memset(&q, 0, sizeof(q));
    q.op = SIM_ETCD__TXN;
    q.ncmp = (uint8_t)ncmp;
    q.nthen = (uint8_t)nthen;
    q.nelse = (uint8_t)nelse;
    for (size_t i = 0; i < ncmp; i++) {
        q.cmp[i].target = (uint8_t)cmps[i].target;
        q.cmp[i].result = (uint8_t)cmps[i].result;
        q.cmp[i].num = cmps[i].num;
        snprintf(q.cmp[i].key, sizeof(q.cmp[i].key), "%s", cmps[i].key);
        snprintf(q.cmp[i].val, sizeof(q.cmp[i].val), "%s", cmps[i].val ? cmps[i].val : "");
    }
    size_t room_then = 0, room_else = 0;
    for (size_t i = 0; i < nthen + nelse; i++) {
        const struct etcd_op *o = i < nthen ? &then_ops[i] : &else_ops[i - nthen];
        fill_op(&q.ops[i], o);
        *(i < nthen ? &room_then : &room_else) += q.ops[i].cap;
    }
    struct sim_etcd__rep rep;
    int rc = call(conn(ec), &q, room_then > room_else ? room_then : room_else, &rep);
    if (rc < 0)
        return rc;
    if (succeeded)
        *succeeded = rep.succeeded;
    if (rev)
        *rev = rep.rev;
    if (rep.succeeded)
        unpack(conn(ec), &rep, then_ops, nthen);
    else
        unpack(conn(ec), &rep, else_ops, nelse);
    return 0;
}

static int s_op(struct etcd *ec, struct etcd_op *op, int64_t *rev)
{
    return s_txn(ec, NULL, 0, op, 1, NULL, 0, NULL, rev);
}

/* A lease or compaction request: op with arg and lease; the reply's header into *rep. */
static int simple(struct etcd *ec, uint8_t op, int64_t arg, int64_t lease,
                  struct sim_etcd__rep *rep)
{
    struct sim_etcd__req q;
    memset(&q, 0, sizeof(q));
    q.op = op;
    q.arg = arg;
    q.lease = lease;
    return call(conn(ec), &q, 0, rep);
}

static int s_grant(struct etcd *ec, int64_t ttl_s, int64_t *id, int64_t *granted_s, int64_t *rev)
{
    struct sim_etcd__rep rep;
    int rc = simple(ec, SIM_ETCD__GRANT, ttl_s, 0, &rep);
    if (rc < 0)
        return rc;
    if (id)
        *id = rep.arg;
    if (granted_s)
        *granted_s = rep.arg2;
    if (rev)
        *rev = rep.rev;
    return 0;
}

static int s_revoke(struct etcd *ec, int64_t id, int64_t *rev)
{
    struct sim_etcd__rep rep;
    int rc = simple(ec, SIM_ETCD__REVOKE, 0, id, &rep);
    if (rc == 0 && rev)
        *rev = rep.rev;
    return rc;
}

static int s_keepalive(struct etcd *ec, int64_t id, int64_t *ttl_s, int64_t *rev)
{
    struct sim_etcd__rep rep;
    int rc = simple(ec, SIM_ETCD__KEEPALIVE, 0, id, &rep);
    if (rc < 0)
        return rc;
    if (ttl_s)
        *ttl_s = rep.arg2;
    if (rev)
        *rev = rep.rev;
    return 0;
}

static int s_compact(struct etcd *ec, int64_t rev)
{
    struct sim_etcd__rep rep;
    return simple(ec, SIM_ETCD__COMPACT, rev, 0, &rep);
}

static int s_watch_open(struct etcd *ec, const char *key, bool prefix, int64_t start_rev,
                        struct etcd_watch **out, int64_t *rev)
{
    struct sime *c = conn(ec);
    struct simw *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    struct sim_etcd__req q;
    memset(&q, 0, sizeof(q));
    q.op = SIM_ETCD__WATCH;
    q.arg = start_rev;
    q.lease = ++c->next_wid;
    q.nthen = 1;
    q.ops[0].kind = ETCD_OP_RANGE;
    q.ops[0].prefix = prefix;
    snprintf(q.ops[0].key, sizeof(q.ops[0].key), "%s", key);
    w->base.c = ec;
    w->c = c;
    w->wid = q.lease;
    w->node = sim_etcd_node(c->m, c->cur);
    /* Listed before the call: the events that follow the creation are queued on it. */
    w->next = c->watches;
    c->watches = w;
    struct sim_etcd__rep rep;
    int rc = call(c, &q, 0, &rep);
    if (rc < 0) {
        c->watches = w->next;
        free(w);
        return rc;
    }
    if (rev)
        *rev = rep.rev;
    *out = &w->base;
    return 0;
}

static int s_watch_next(struct etcd_watch *ew, struct etcd_event *ev, int64_t timeout_ns)
{
    struct simw *w = (struct simw *)(void *)ew;
    struct sime *c = w->c;
    int64_t deadline = timeout_ns < 0 ? -1 : env_mono(c->e) + timeout_ns;
    if (reserve(c, sizeof(struct sim_etcd__rep) +
                       SIM_ETCD__EVENTS_MAX * sizeof(struct etcd_event)) < 0)
        return -ENOMEM;
    for (;;) {
        if (w->head < w->n) {
            *ev = w->q[w->head++];
            if (w->head == w->n)
                w->head = w->n = 0;
            return 0;
        }
        if (w->err)
            return w->err;
        int64_t left = deadline < 0 ? -1 : deadline - env_mono(c->e);
        if (deadline >= 0 && left <= 0)
            return -ETIMEDOUT;
        struct sim_addr from = {-1, 0};
        ssize_t n = sim_recv(c->e, c->buf, c->cap, &from, left);
        if (n == -ETIMEDOUT)
            return -ETIMEDOUT;
        struct sim_etcd__rep rep;
        absorb(c, (size_t)n < c->cap ? (size_t)n : c->cap, from, 0, -1, &rep);
    }
}

static void s_watch_close(struct etcd_watch *ew)
{
    struct simw *w = (struct simw *)(void *)ew;
    struct sime *c = w->c;
    for (struct simw **p = &c->watches; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (!w->err) { /* tell the member; no answer is awaited */
        struct sim_etcd__req q;
        memset(&q, 0, sizeof(q));
        q.op = SIM_ETCD__WATCH_CANCEL;
        q.lease = w->wid;
        if (reserve(c, sizeof(struct sim_etcd__hdr) + SIM_ETCD__REQ_MAX) == 0) {
            struct sim_etcd__hdr h = {SIM_ETCD__MAGIC, SIM_ETCD__CLIENT_REQ, ++c->next_id};
            memcpy(c->buf, &h, sizeof(h));
            size_t len = sizeof(h) + sim_etcd__req_encode(&q, c->buf + sizeof(h));
            sim_send(c->e, (struct sim_addr){w->node, sim_etcd_addr(c->m, 0).port}, c->buf, len);
        }
    }
    free(w->q);
    free(w);
}

static void s_close(struct etcd *ec)
{
    struct sime *c = conn(ec);
    while (c->watches) {
        struct simw *w = c->watches;
        c->watches = w->next;
        free(w->q);
        free(w);
    }
    free(c->buf);
    free(c);
}

static const struct etcd_ops sim_etcd_client_ops = {
    .txn = s_txn,
    .op = s_op,
    .lease_grant = s_grant,
    .lease_revoke = s_revoke,
    .lease_keepalive = s_keepalive,
    .compact = s_compact,
    .watch_open = s_watch_open,
    .watch_next = s_watch_next,
    .watch_close = s_watch_close,
    .close = s_close,
};

struct etcd *sim_etcd_connect(struct env *e, const struct sim_etcd *m, size_t first,
                              int64_t timeout_ns)
{
    if (!e || !m || timeout_ns <= 0)
        return NULL;
    struct sime *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &sim_etcd_client_ops;
    c->base.timeout_ns = timeout_ns;
    c->e = e;
    c->m = m;
    c->cur = first % sim_etcd_members(m);
    return &c->base;
}

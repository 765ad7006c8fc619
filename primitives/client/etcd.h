/* etcd.h - the etcd v3 operations a primitive may use, as an ops table that each world
 * fills: sim/etcd_client.c (messages to the simulated Raft cluster, sim/etcd_model.c) and
 * live/etcd_curl.c (libcurl + jansson to a real etcd's v3 JSON gateway). A primitive
 * includes this and nothing of either world.
 *
 * A 'struct etcd' is one client connection, owned by one actor (sim) or one thread (live);
 * it is never shared, and an actor uses one connection at a time (in the simulation, the
 * replies and watch events of a connection are read from its actor's one mailbox). It
 * talks to one member of the cluster (its endpoint); a call that finds that member gone
 * (-ECONNRESET, -ECONNREFUSED), gets no answer in time (-ETIMEDOUT) or hears that it knows
 * no leader (-EAGAIN) moves the connection to the next endpoint for the next call, as a
 * client with several endpoints does. Every call is bounded by the connection's timeout (etcd_set_timeout): a write that
 * times out or whose connection resets may or may not have been committed.
 *
 * Every answer carries the header revision: the store's revision when the member answered
 * (*rev, which may be NULL). Revisions start at 1 and grow by one with each write
 * transaction; a key's create_rev, mod_rev and version are those of etcd's mvccpb.KeyValue.
 *
 * Keys and values are NUL-terminated strings of at most ETCD_KEY_MAX and ETCD_VAL_MAX
 * bytes: longer ones are -E2BIG and an empty key is -EINVAL, with nothing sent.
 *
 * Errors are negative errnos: -ETIMEDOUT (no answer in time), -ECONNREFUSED / -ECONNRESET
 * (the member cannot be reached or died during the call), -EAGAIN (the cluster has no
 * leader, or the member's request timed out inside the cluster: try again), -ENOENT (a
 * lease that does not exist or has expired), -EINVAL (a request etcd refuses: a TTL above
 * its maximum, a compacted or future revision for compaction, an empty key), -EPROTO (an
 * answer that does not parse). */
#ifndef DISTLAB_CLIENT_ETCD_H
#define DISTLAB_CLIENT_ETCD_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ETCD_KEY_MAX 127
#define ETCD_VAL_MAX 127
#define ETCD_TXN_MAX_CMPS 2               /* compares in one transaction */
#define ETCD_TXN_MAX_OPS 3                /* operations in each branch of one transaction */
#define ETCD_MAX_LEASE_TTL_S 9000000000LL /* etcd's MaxLeaseTTL: a larger TTL is refused */

struct etcd_kv {
    char key[ETCD_KEY_MAX + 1];
    char val[ETCD_VAL_MAX + 1];
    int64_t create_rev; /* revision of the write that created the key */
    int64_t mod_rev;    /* revision of its last write */
    int64_t version;    /* writes since it was created (1 after the first) */
    int64_t lease;      /* the lease it is attached to, 0: none */
};

enum etcd_op_kind { ETCD_OP_RANGE = 1, ETCD_OP_PUT, ETCD_OP_DELETE };
enum etcd_sort_target { ETCD_SORT_KEY, ETCD_SORT_CREATE, ETCD_SORT_MOD, ETCD_SORT_VERSION };
enum etcd_sort_order { ETCD_SORT_NONE, ETCD_SORT_ASCEND, ETCD_SORT_DESCEND };

/* One operation: the request fields first, then what the answer filled in. */
struct etcd_op {
    enum etcd_op_kind kind;
    const char *key;
    bool prefix;     /* range, delete: every key that starts with key */
    const char *val; /* put: the value (NULL: "") */
    int64_t lease;   /* put: attach the key to this lease (0: none) */
    /* range only */
    int64_t limit; /* at most this many keys (0: all) */
    enum etcd_sort_target sort_target;
    enum etcd_sort_order sort_order; /* NONE: by key, as etcd returns them */
    int64_t max_create_rev;          /* only keys created at or before it (0: any) */
    struct etcd_kv *kvs;             /* where the keys go (NULL: count only) */
    size_t cap;                      /* room in kvs */
    /* answer */
    size_t n;        /* range: keys copied into kvs (<= cap, <= limit) */
    int64_t count;   /* range: keys that matched (before limit and cap) */
    int64_t deleted; /* delete: keys deleted */
};

enum etcd_cmp_target { ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE };
enum etcd_cmp_result { ETCD_CMP_EQ, ETCD_CMP_NE, ETCD_CMP_LT, ETCD_CMP_GT };

/* A transaction's guard on one key: (target of key) result (num or val). A missing key
 * has version, create_rev and mod_rev 0 (and fails every VALUE compare), so
 * {key, ETCD_CMP_CREATE, ETCD_CMP_EQ, 0} means "the key does not exist". */
struct etcd_cmp {
    const char *key;
    enum etcd_cmp_target target;
    enum etcd_cmp_result result;
    int64_t num;     /* VERSION, CREATE, MOD */
    const char *val; /* VALUE */
};

enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };

/* One change seen by a watch. kv.mod_rev is the revision of the change; a delete carries
 * only the key and mod_rev (a lease that expires deletes its keys: a delete event). */
struct etcd_event {
    enum etcd_event_type type;
    struct etcd_kv kv;
};

struct etcd;
struct etcd_watch;

struct etcd_ops {
    int (*txn)(struct etcd *c, const struct etcd_cmp *cmps, size_t ncmp, struct etcd_op *then_ops,
               size_t nthen, struct etcd_op *else_ops, size_t nelse, bool *succeeded, int64_t *rev);
    int (*op)(struct etcd *c, struct etcd_op *op, int64_t *rev);
    int (*lease_grant)(struct etcd *c, int64_t ttl_s, int64_t *id, int64_t *granted_s,
                       int64_t *rev);
    int (*lease_revoke)(struct etcd *c, int64_t id, int64_t *rev);
    int (*lease_keepalive)(struct etcd *c, int64_t id, int64_t *ttl_s, int64_t *rev);
    int (*compact)(struct etcd *c, int64_t rev);
    int (*watch_open)(struct etcd *c, const char *key, bool prefix, int64_t start_rev,
                      struct etcd_watch **out, int64_t *rev);
    int (*watch_next)(struct etcd_watch *w, struct etcd_event *ev, int64_t timeout_ns);
    void (*watch_close)(struct etcd_watch *w);
    void (*close)(struct etcd *c);
};

/* Every world's connection starts with this header. */
struct etcd {
    const struct etcd_ops *ops;
    int64_t timeout_ns; /* bound on each call, > 0 */
};

/* Every world's watch starts with this header. */
struct etcd_watch {
    struct etcd *c;
    int64_t compact_rev; /* set when the server cancelled the watch for compaction */
};

/* Argument checks, made here before any world's client sees a call (nothing is sent when
 * they fail): 0, -EINVAL (an empty key, an unknown kind or target, a negative limit or
 * revision) or -E2BIG (a key or value too long, too many compares or operations). */
static inline int etcd_check_key(const char *key)
{
    if (!key || !*key)
        return -EINVAL;
    return strlen(key) > ETCD_KEY_MAX ? -E2BIG : 0;
}

static inline int etcd_check_op(const struct etcd_op *op)
{
    if (op->kind != ETCD_OP_RANGE && op->kind != ETCD_OP_PUT && op->kind != ETCD_OP_DELETE)
        return -EINVAL;
    if (op->kind == ETCD_OP_PUT && op->val && strlen(op->val) > ETCD_VAL_MAX)
        return -E2BIG;
    if (op->kind == ETCD_OP_RANGE && op->limit < 0)
        return -EINVAL;
    return etcd_check_key(op->key);
}

static inline int etcd_check_txn(const struct etcd_cmp *cmps, size_t ncmp,
                                 const struct etcd_op *then_ops, size_t nthen,
                                 const struct etcd_op *else_ops, size_t nelse)
{
    if (ncmp > ETCD_TXN_MAX_CMPS || nthen > ETCD_TXN_MAX_OPS || nelse > ETCD_TXN_MAX_OPS)
        return -E2BIG;
    for (size_t i = 0; i < ncmp; i++) {
        int rc = etcd_check_key(cmps[i].key);
        if (rc < 0)
            return rc;
        if ((unsigned)cmps[i].target > ETCD_CMP_VALUE || (unsigned)cmps[i].result > ETCD_CMP_GT)
            return -EINVAL;
        if (cmps[i].val && strlen(cmps[i].val) > ETCD_VAL_MAX)
            return -E2BIG;
    }
    for (size_t i = 0; i < nthen + nelse; i++) {
        int rc = etcd_check_op(i < nthen ? &then_ops[i] : &else_ops[i - nthen]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Txn: if every compare holds, run then_ops in order, else else_ops, as one atomic step
 * (one new revision if any operation writes; a range sees the writes before it). Fills
 * the executed branch's answers and *succeeded. A put to a lease that does not exist
 * fails the whole transaction with -ENOENT, changing nothing. Costs one Raft commit (a
 * majority round trip and an fsync) unless every operation is a range: then it is a
 * linearizable read (a heartbeat round trip to a majority, no fsync). */
static inline int etcd_txn(struct etcd *c, const struct etcd_cmp *cmps, size_t ncmp,
                           struct etcd_op *then_ops, size_t nthen, struct etcd_op *else_ops,
                           size_t nelse, bool *succeeded, int64_t *rev)
{
    int rc = etcd_check_txn(cmps, ncmp, then_ops, nthen, else_ops, nelse);
    return rc < 0 ? rc
                  : c->ops->txn(c, cmps, ncmp, then_ops, nthen, else_ops, nelse, succeeded, rev);
}

/* One operation on its own (Range, Put or DeleteRange). Same costs as etcd_txn. */
static inline int etcd_do(struct etcd *c, struct etcd_op *op, int64_t *rev)
{
    int rc = etcd_check_op(op);
    return rc < 0 ? rc : c->ops->op(c, op, rev);
}

/* Put key = val, attached to 'lease' (0: none). */
static inline int etcd_put(struct etcd *c, const char *key, const char *val, int64_t lease,
                           int64_t *rev)
{
    struct etcd_op op = {.kind = ETCD_OP_PUT, .key = key, .val = val, .lease = lease};
    return etcd_do(c, &op, rev);
}

/* Get one key into *kv. Returns 1 when it exists, 0 when not, or an error. */
static inline int etcd_get(struct etcd *c, const char *key, struct etcd_kv *kv, int64_t *rev)
{
    struct etcd_op op = {.kind = ETCD_OP_RANGE, .key = key, .kvs = kv, .cap = kv ? 1 : 0};
    int rc = etcd_do(c, &op, rev);
    return rc < 0 ? rc : op.count > 0;
}

/* Delete key (or every key under the prefix). Returns how many were deleted, or an error. */
static inline int etcd_delete(struct etcd *c, const char *key, bool prefix, int64_t *rev)
{
    struct etcd_op op = {.kind = ETCD_OP_DELETE, .key = key, .prefix = prefix};
    int rc = etcd_do(c, &op, rev);
    return rc < 0 ? rc : (int)op.deleted;
}

/* Grant a lease of ttl_s seconds. The cluster raises a TTL below its minimum (1.5
 * election timeouts, rounded up to whole seconds: 2 s by default) and refuses one above
 * ETCD_MAX_LEASE_TTL_S (-EINVAL). *granted_s is the TTL it granted. The lease expires
 * when the *leader's* clock says its TTL has passed since the grant or the last
 * keep-alive; its keys are deleted then. */
static inline int etcd_lease_grant(struct etcd *c, int64_t ttl_s, int64_t *id, int64_t *granted_s,
                                   int64_t *rev)
{
    return c->ops->lease_grant(c, ttl_s, id, granted_s, rev);
}

/* Revoke a lease: its keys are deleted in one revision. -ENOENT if it no longer exists. */
static inline int etcd_lease_revoke(struct etcd *c, int64_t id, int64_t *rev)
{
    return c->ops->lease_revoke(c, id, rev);
}

/* One keep-alive: the leader restarts the lease's TTL. *ttl_s is the TTL (seconds).
 * -ENOENT when the lease has expired or was revoked: it cannot be revived. */
static inline int etcd_lease_keepalive(struct etcd *c, int64_t id, int64_t *ttl_s, int64_t *rev)
{
    return c->ops->lease_keepalive(c, id, ttl_s, rev);
}

/* Compact the history up to 'rev': watches from revisions at or below it are cancelled.
 * -EINVAL when rev is already compacted or in the future. */
static inline int etcd_compact(struct etcd *c, int64_t rev)
{
    return c->ops->compact(c, rev);
}

/* Watch key (or the prefix) for every change from revision start_rev on (0: changes
 * after now), on the connection's current member. Returns 0 once the member has created
 * the watch (*rev: its revision then) and *out; the watch belongs to c and must be
 * closed before c. Events come in revision order, each exactly once, none skipped. */
static inline int etcd_watch_open(struct etcd *c, const char *key, bool prefix, int64_t start_rev,
                                  struct etcd_watch **out, int64_t *rev)
{
    int rc = etcd_check_key(key);
    if (rc == 0 && start_rev < 0)
        rc = -EINVAL;
    return rc < 0 ? rc : c->ops->watch_open(c, key, prefix, start_rev, out, rev);
}

/* Block for the next event, at most timeout_ns (< 0: no bound). Returns 0 and *ev,
 * -ETIMEDOUT, -ECANCELED when the server cancelled the watch because start_rev was
 * compacted (w->compact_rev says up to where), or -ECONNRESET when the member died or the
 * stream broke. After -ECANCELED or -ECONNRESET the watch delivers nothing more: close it
 * and start again from a fresh read. */
static inline int etcd_watch_next(struct etcd_watch *w, struct etcd_event *ev, int64_t timeout_ns)
{
    return w->c->ops->watch_next(w, ev, timeout_ns);
}

/* Cancel the watch and free it (NULL is allowed). */
static inline void etcd_watch_close(struct etcd_watch *w)
{
    if (w)
        w->c->ops->watch_close(w);
}

/* Bound every later call on c to timeout_ns (> 0). */
static inline void etcd_set_timeout(struct etcd *c, int64_t timeout_ns)
{
    if (timeout_ns > 0)
        c->timeout_ns = timeout_ns;
}

/* Close the connection and free c (NULL is allowed). Its watches must be closed first. */
static inline void etcd_close(struct etcd *c)
{
    if (c)
        c->ops->close(c);
}

/* The smallest key greater than every key with this prefix (etcd's range_end for a
 * prefix), into end (ETCD_KEY_MAX + 1 bytes). Returns false when there is none (a prefix
 * of 0xff bytes): the range then ends nowhere ("\0" in etcd's terms). */
static inline bool etcd_prefix_end(const char *prefix, char *end)
{
    size_t n = strlen(prefix);
    memcpy(end, prefix, n + 1);
    while (n > 0) {
        unsigned char c = (unsigned char)end[n - 1];
        if (c < 0xff) {
            end[n - 1] = (char)(c + 1);
            end[n] = 0;
            return true;
        }
        n--;
    }
    end[0] = 0;
    return false;
}

#endif

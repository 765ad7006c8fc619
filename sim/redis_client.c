/* redis_client.c - redis.h over simulated messages to sim/redis_model.c. One request at a
 * time per connection; a reply is matched by server node and request id, so a late
 * reply to a call that timed out is discarded, as are other protocols' messages that
 * reach the actor meanwhile (they were stale too: the actor waits for one thing at a time). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/redis_model.h"

struct simr {
    struct redis base;
    struct env *e;
    struct sim_addr addr[SIM_REDIS_MAX_ADDRS];
    size_t naddr, cur;
    uint64_t next_id;
};

static struct simr *conn(struct redis *r)
{
    return (struct simr *)(void *)r;
}

/* Send q to the current server and wait for its reply into q. Returns q->status or an
 * error; a timeout or a replica's refusal moves the connection to the next address. */
static int call(struct simr *c, struct sim_redis_msg *q)
{
    q->magic = SIM_REDIS_MAGIC;
    q->id = ++c->next_id;
    struct sim_addr to = c->addr[c->cur];
    if (sim_send(c->e, to, q, sizeof(*q)) < 0)
        return -ENOMEM;
    int64_t deadline = env_mono(c->e) + c->base.timeout_ns;
    uint64_t id = q->id;
    for (;;) {
        int64_t left = deadline - env_mono(c->e);
        struct sim_addr from = {-1, 0};
        ssize_t n = left > 0 ? sim_recv(c->e, q, sizeof(*q), &from, left) : -ETIMEDOUT;
        if (n == -ETIMEDOUT) {
            c->cur = (c->cur + 1) % c->naddr;
            return -ETIMEDOUT;
        }
        if (n != (ssize_t)sizeof(*q) || q->magic != SIM_REDIS_MAGIC || q->id != id ||
            q->op != SIM_REDIS_REPLY || from.node != to.node)
            continue;
        q->val[REDIS_VAL_MAX] = 0;
        if (q->status == -EROFS)
            c->cur = (c->cur + 1) % c->naddr;
        return q->status;
    }
}

static int fill(struct sim_redis_msg *q, enum sim_redis_op op, const char *key, const char *val)
{
    memset(q, 0, sizeof(*q));
    q->op = (uint16_t)op;
    if (strlen(key) > REDIS_KEY_MAX || (val && strlen(val) > REDIS_VAL_MAX))
        return -E2BIG;
    memcpy(q->key, key, strlen(key) + 1);
    if (val)
        memcpy(q->val, val, strlen(val) + 1);
    return 0;
}

/* The second key of a move. */
static int fill2(struct sim_redis_msg *q, const char *key2)
{
    if (strlen(key2) > REDIS_KEY_MAX)
        return -E2BIG;
    memcpy(q->key2, key2, strlen(key2) + 1);
    return 0;
}

static int s_set(struct redis *r, const char *key, const char *val, unsigned flags,
                 int64_t ttl_ns)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_SET, key, val);
    if (rc < 0)
        return rc;
    q.flags = (uint16_t)(flags & REDIS_NX);
    q.arg = ttl_ns > 0 ? redis_ttl_ms(ttl_ns) : 0;
    return call(conn(r), &q);
}

static int s_get(struct redis *r, const char *key, char *buf, size_t cap)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_GET, key, NULL);
    if (rc < 0)
        return rc;
    rc = call(conn(r), &q);
    if (rc >= 0 && buf && cap)
        snprintf(buf, cap, "%s", q.val);
    return rc;
}

static int s_del(struct redis *r, const char *key)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_DEL, key, NULL);
    return rc < 0 ? rc : call(conn(r), &q);
}

static int s_incr(struct redis *r, const char *key, int64_t *out)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_INCR, key, NULL);
    if (rc < 0 || (rc = call(conn(r), &q)) < 0)
        return rc;
    if (out)
        *out = q.arg;
    return 0;
}

static int s_cad(struct redis *r, const char *key, const char *val)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_CAD, key, val);
    return rc < 0 ? rc : call(conn(r), &q);
}

static int s_cae(struct redis *r, const char *key, const char *val, int64_t ttl_ns)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_CAE, key, val);
    if (rc < 0)
        return rc;
    q.arg = redis_ttl_ms(ttl_ns);
    return call(conn(r), &q);
}

static int s_zadd(struct redis *r, const char *key, const char *member, int64_t score)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_ZADD, key, member);
    if (rc < 0)
        return rc;
    q.arg = score;
    return call(conn(r), &q);
}

static int s_zrem(struct redis *r, const char *key, const char *member)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_ZREM, key, member);
    return rc < 0 ? rc : call(conn(r), &q);
}

/* A reply's member and score, when one came (rc 1). */
static int member_reply(const struct sim_redis_msg *q, int rc, char *member, size_t cap,
                        int64_t *score)
{
    if (rc == 1) {
        if (member && cap)
            snprintf(member, cap, "%s", q->val);
        if (score)
            *score = q->arg;
    }
    return rc;
}

static int s_zfirst(struct redis *r, const char *key, char *member, size_t cap, int64_t *score)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_ZFIRST, key, NULL);
    if (rc < 0)
        return rc;
    return member_reply(&q, call(conn(r), &q), member, cap, score);
}

static int s_zpopmove(struct redis *r, const char *src, const char *dst, int64_t max_score,
                      int64_t dst_score, unsigned flags, char *member, size_t cap,
                      int64_t *score)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_ZPOPMOVE, src, NULL);
    if (rc < 0 || (rc = fill2(&q, dst)) < 0)
        return rc;
    q.arg = max_score;
    q.arg2 = dst_score;
    q.flags = (uint16_t)(flags & (REDIS_ZTAG | REDIS_ZUNTAG));
    return member_reply(&q, call(conn(r), &q), member, cap, score);
}

static int s_zmove(struct redis *r, const char *src, const char *dst, const char *member)
{
    struct sim_redis_msg q;
    int rc = fill(&q, SIM_REDIS_ZMOVE, src, member);
    if (rc < 0 || (rc = fill2(&q, dst)) < 0)
        return rc;
    return call(conn(r), &q);
}

static void s_close(struct redis *r)
{
    free(conn(r));
}

static const struct redis_ops sim_redis_client_ops = {
    .set = s_set,
    .get = s_get,
    .del = s_del,
    .incr = s_incr,
    .cad = s_cad,
    .cae = s_cae,
    .zadd = s_zadd,
    .zrem = s_zrem,
    .zfirst = s_zfirst,
    .zpopmove = s_zpopmove,
    .zmove = s_zmove,
    .close = s_close,
};

struct redis *sim_redis_connect(struct env *e, const struct sim_addr *addrs, size_t n,
                                int64_t timeout_ns)
{
    if (!e || !addrs || n == 0 || n > SIM_REDIS_MAX_ADDRS || timeout_ns <= 0)
        return NULL;
    struct simr *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &sim_redis_client_ops;
    c->base.timeout_ns = timeout_ns;
    c->e = e;
    memcpy(c->addr, addrs, n * sizeof(*addrs));
    c->naddr = n;
    return &c->base;
}

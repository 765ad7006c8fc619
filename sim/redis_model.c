/* redis_model.c - the simulated Redis server (see redis_model.h for what it models).
 * Runs only as actors of its node: the main actor executes commands one at a time, a
 * sender actor delays replication by the configured lag. Never reads a real clock. */
#include "sim/redis_model.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rkey {
    struct rkey *next;
    int64_t when_ms; /* absolute ms of the server clock; -1: no expiry */
    char key[REDIS_KEY_MAX + 1];
    char val[REDIS_VAL_MAX + 1];
};

struct sim_redis {
    struct sim *sim;
    int node;
    struct sim_redis_cfg cfg;
    enum sim_redis_role role;
    bool attached;            /* master: the peer follows our stream */
    int64_t last_master_mono; /* replica: when the master was last heard from */
    struct rkey **bucket;
    size_t nbucket, count;
    struct sim_redis_stats st;
    /* sim_redis_crash_after_grant */
    bool armed;
    char armed_key[REDIS_KEY_MAX + 1];
    int64_t armed_from, armed_delay, armed_down;
};

#define STORE_KEY "redis.snapshot"

/* ---- The keyspace: a chained hash table, doubled when the load passes 2 --------------- */

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static struct rkey **slot(const struct sim_redis *m, const char *key)
{
    struct rkey **p = &m->bucket[hash(key) & (m->nbucket - 1)];
    while (*p && strcmp((*p)->key, key) != 0)
        p = &(*p)->next;
    return p;
}

static void flush(struct sim_redis *m)
{
    for (size_t i = 0; i < m->nbucket; i++) {
        while (m->bucket[i]) {
            struct rkey *k = m->bucket[i];
            m->bucket[i] = k->next;
            free(k);
        }
    }
    m->count = 0;
}

static int grow(struct sim_redis *m)
{
    size_t n = m->nbucket * 2;
    struct rkey **b = calloc(n, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < m->nbucket; i++) {
        while (m->bucket[i]) {
            struct rkey *k = m->bucket[i];
            m->bucket[i] = k->next;
            size_t j = hash(k->key) & (n - 1);
            k->next = b[j];
            b[j] = k;
        }
    }
    free(m->bucket);
    m->bucket = b;
    m->nbucket = n;
    return 0;
}

/* Set key to val with expiry when_ms, creating it if needed. Returns 0 or -ENOMEM. */
static int put(struct sim_redis *m, const char *key, const char *val, int64_t when_ms)
{
    struct rkey **p = slot(m, key);
    if (!*p) {
        if (m->count >= 2 * m->nbucket && grow(m) == 0)
            p = slot(m, key);
        struct rkey *k = calloc(1, sizeof(*k));
        if (!k)
            return -ENOMEM;
        snprintf(k->key, sizeof(k->key), "%s", key);
        *p = k;
        m->count++;
    }
    snprintf((*p)->val, sizeof((*p)->val), "%s", val);
    (*p)->when_ms = when_ms;
    return 0;
}

static void unlink_key(struct sim_redis *m, struct rkey **p)
{
    struct rkey *k = *p;
    *p = k->next;
    free(k);
    m->count--;
}

bool sim_redis_check(const struct sim_redis *m)
{
    if (!m || !m->bucket || m->nbucket == 0 || (m->nbucket & (m->nbucket - 1)))
        return false;
    size_t n = 0;
    for (size_t i = 0; i < m->nbucket; i++) {
        for (const struct rkey *k = m->bucket[i]; k; k = k->next) {
            if (memchr(k->key, 0, sizeof(k->key)) == NULL ||
                memchr(k->val, 0, sizeof(k->val)) == NULL)
                return false;
            if ((hash(k->key) & (m->nbucket - 1)) != i || k->when_ms < -1)
                return false;
            for (const struct rkey *o = k->next; o; o = o->next)
                if (strcmp(o->key, k->key) == 0)
                    return false;
            n++;
        }
    }
    return n == m->count;
}

/* ---- Persistence: the whole keyspace as one fsync'd record (O(keys) per write, which
 * suits the handful of keys a lock workload uses) ----------------------------------- */

static int save(struct sim_redis *m, struct env *e)
{
    size_t cap = m->count * sizeof(struct rkey) + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < m->nbucket; i++) {
        for (const struct rkey *k = m->bucket[i]; k; k = k->next) {
            size_t kl = strlen(k->key) + 1, vl = strlen(k->val) + 1;
            memcpy(buf + len, k->key, kl);
            memcpy(buf + len + kl, k->val, vl);
            memcpy(buf + len + kl + vl, &k->when_ms, sizeof(k->when_ms));
            len += kl + vl + sizeof(k->when_ms);
        }
    }
    int rc = env_store_put(e, STORE_KEY, buf, len);
    free(buf);
    return rc;
}

static void load(struct sim_redis *m, struct env *e)
{
    size_t len = 0;
    char probe;
    if (env_store_get(e, STORE_KEY, &probe, 0, &len) < 0 || len == 0)
        return;
    char *buf = malloc(len);
    if (!buf || env_store_get(e, STORE_KEY, buf, len, &len) < 0) {
        free(buf);
        return;
    }
    size_t off = 0;
    while (off < len) {
        const char *key = buf + off;
        size_t kl = strnlen(key, len - off) + 1;
        const char *val = key + kl;
        if (off + kl >= len)
            break;
        size_t vl = strnlen(val, len - off - kl) + 1;
        int64_t when;
        if (off + kl + vl + sizeof(when) > len)
            break;
        memcpy(&when, val + vl, sizeof(when));
        put(m, key, val, when);
        off += kl + vl + sizeof(when);
    }
    free(buf);
}

/* ---- Replication -------------------------------------------------------------------- */

static struct sim_addr peer_addr(const struct sim_redis *m)
{
    return (struct sim_addr){m->cfg.peer, m->cfg.port};
}

static struct sim_addr sender_addr(const struct sim_redis *m)
{
    return (struct sim_addr){m->node, m->cfg.port + 1};
}

/* Hand a write's effect to the sender, which delivers it to the replica after the lag. */
static void propagate(struct sim_redis *m, struct env *e, enum sim_redis_op op,
                      const struct rkey *k, const char *key)
{
    if (m->role != SIM_REDIS_MASTER || !m->attached)
        return;
    struct sim_redis_msg r = {.magic = SIM_REDIS_MAGIC, .op = (uint16_t)op};
    r.at_mono = env_mono(e);
    snprintf(r.key, sizeof(r.key), "%s", key);
    if (k) {
        snprintf(r.val, sizeof(r.val), "%s", k->val);
        r.arg = k->when_ms;
    }
    sim_send(e, sender_addr(m), &r, sizeof(r));
}

/* The sender: effects arrive in the order executed and leave 'repl_lag_ns' later; a ping
 * goes out whenever the stream has been quiet for a heartbeat. */
static void sender_main(struct env *e, void *arg)
{
    struct sim_redis *m = arg;
    if (sim_listen(e, m->cfg.port + 1) < 0)
        return;
    for (;;) {
        struct sim_redis_msg r;
        ssize_t n = sim_recv(e, &r, sizeof(r), NULL, m->cfg.heartbeat_ns);
        if (n == -ETIMEDOUT) {
            if (m->role == SIM_REDIS_MASTER && m->attached) {
                struct sim_redis_msg p = {.magic = SIM_REDIS_MAGIC, .op = SIM_REDIS_PING};
                sim_send(e, peer_addr(m), &p, sizeof(p));
            }
            continue;
        }
        if (n != (ssize_t)sizeof(r) || r.magic != SIM_REDIS_MAGIC)
            continue;
        int64_t wait = r.at_mono + m->cfg.repl_lag_ns - env_mono(e);
        if (wait > 0)
            env_sleep(e, wait);
        if (m->role == SIM_REDIS_MASTER && m->attached)
            sim_send(e, peer_addr(m), &r, sizeof(r));
    }
}

static void full_sync(struct sim_redis *m, struct env *e)
{
    m->attached = true;
    for (size_t i = 0; i < m->nbucket; i++)
        for (const struct rkey *k = m->bucket[i]; k; k = k->next)
            propagate(m, e, SIM_REDIS_PUT, k, k->key);
}

/* ---- Commands ----------------------------------------------------------------------- */

/* The entry for key if it exists and has not expired by this node's clock. A master
 * deletes an expired key when it meets it (and tells the replica); a replica only hides
 * it, waiting for the master's delete, as Redis does. */
static struct rkey **lookup(struct sim_redis *m, struct env *e, const char *key, int64_t now_ms)
{
    struct rkey **p = slot(m, key);
    if (*p && (*p)->when_ms >= 0 && now_ms > (*p)->when_ms) {
        if (m->role == SIM_REDIS_REPLICA)
            return NULL;
        m->st.expired++;
        propagate(m, e, SIM_REDIS_UNLINK, NULL, key);
        unlink_key(m, p);
        return slot(m, key);
    }
    return p;
}

/* The armed crash, once a grant of its key comes at or after its time. */
static void fire_armed(struct sim_redis *m, struct env *e)
{
    int64_t now = sim_env_true_now(e);
    if (now < m->armed_from)
        return;
    m->armed = false;
    m->st.armed_grant = now;
    sim_fault_crash(m->sim, now + m->armed_delay, m->node);
    if (m->armed_down > 0)
        sim_fault_restart(m->sim, now + m->armed_delay + m->armed_down, m->node);
}

/* INCR's parse: the whole value must be a decimal int64. */
static bool parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || s[0] == ' ' || s[0] == '+')
        return false;
    *out = v;
    return true;
}

/* Execute one client command; fills the reply fields of r. Returns true if it wrote. */
static bool execute(struct sim_redis *m, struct env *e, struct sim_redis_msg *r)
{
    int64_t now_ms = env_now(e) / 1000000;
    r->key[REDIS_KEY_MAX] = r->val[REDIS_VAL_MAX] = 0;
    bool write = r->op != SIM_REDIS_GET;
    if (write && m->role == SIM_REDIS_REPLICA) {
        m->st.rejected++;
        r->status = -EROFS;
        return false;
    }
    struct rkey **p = lookup(m, e, r->key, now_ms);
    struct rkey *k = p ? *p : NULL;
    int64_t ttl = r->arg;
    r->status = 0;
    r->arg = 0;
    switch (r->op) {
    case SIM_REDIS_SET:
        if ((r->flags & REDIS_NX) && k)
            return false;
        if (put(m, r->key, r->val, ttl > 0 ? now_ms + ttl : -1) < 0) {
            r->status = -ENOMEM;
            return false;
        }
        propagate(m, e, SIM_REDIS_PUT, *slot(m, r->key), r->key);
        r->status = 1;
        if ((r->flags & REDIS_NX) && m->armed && !strcmp(r->key, m->armed_key))
            fire_armed(m, e);
        return true;
    case SIM_REDIS_GET:
        if (!k) {
            r->status = -ENOENT;
            return false;
        }
        snprintf(r->val, sizeof(r->val), "%s", k->val);
        r->status = (int32_t)strlen(k->val);
        return false;
    case SIM_REDIS_DEL:
        if (!k)
            return false;
        propagate(m, e, SIM_REDIS_UNLINK, NULL, r->key);
        unlink_key(m, p);
        r->status = 1;
        return true;
    case SIM_REDIS_INCR: {
        int64_t v = 0;
        if (k && (!parse_int(k->val, &v) || v == INT64_MAX)) {
            r->status = -EPROTO;
            return false;
        }
        char num[24];
        snprintf(num, sizeof(num), "%" PRId64, v + 1);
        if (put(m, r->key, num, k ? k->when_ms : -1) < 0) {
            r->status = -ENOMEM;
            return false;
        }
        propagate(m, e, SIM_REDIS_PUT, *slot(m, r->key), r->key);
        r->arg = v + 1;
        return true;
    }
    case SIM_REDIS_CAD:
        if (!k || strcmp(k->val, r->val) != 0)
            return false;
        propagate(m, e, SIM_REDIS_UNLINK, NULL, r->key);
        unlink_key(m, p);
        r->status = 1;
        return true;
    case SIM_REDIS_CAE:
        if (!k || strcmp(k->val, r->val) != 0)
            return false;
        k->when_ms = now_ms + (ttl > 0 ? ttl : 1);
        propagate(m, e, SIM_REDIS_PUT, k, r->key);
        r->status = 1;
        return true;
    default:
        r->status = -EPROTO;
        return false;
    }
}

static void become_replica(struct sim_redis *m, struct env *e)
{
    if (m->cfg.role == SIM_REDIS_MASTER)
        m->st.demotions++;
    m->role = SIM_REDIS_REPLICA;
    m->attached = false;
    flush(m); /* a full sync replaces the dataset */
    m->last_master_mono = env_mono(e);
    struct sim_redis_msg s = {.magic = SIM_REDIS_MAGIC, .op = SIM_REDIS_SYNC};
    sim_send(e, peer_addr(m), &s, sizeof(s));
}

/* Handle one message of any kind. Returns false for a role answer (the caller waits for
 * it at start), true otherwise. */
static bool handle(struct sim_redis *m, struct env *e, struct sim_redis_msg *r,
                   struct sim_addr from)
{
    bool from_peer = m->cfg.peer >= 0 && from.node == m->cfg.peer;
    switch (r->op) {
    case SIM_REDIS_SET: case SIM_REDIS_GET: case SIM_REDIS_DEL: case SIM_REDIS_INCR:
    case SIM_REDIS_CAD: case SIM_REDIS_CAE: {
        if (m->cfg.service_ns > 0)
            env_work(e, m->cfg.service_ns);
        m->st.commands++;
        bool wrote = execute(m, e, r);
        if (wrote && m->cfg.persist && save(m, e) < 0)
            r->status = -EIO;
        r->op = SIM_REDIS_REPLY;
        sim_send(e, from, r, sizeof(*r));
        return true;
    }
    case SIM_REDIS_PUT: case SIM_REDIS_UNLINK: case SIM_REDIS_PING:
        if (!from_peer || m->role != SIM_REDIS_REPLICA)
            return true; /* the stream of a master we no longer follow */
        m->last_master_mono = env_mono(e);
        r->key[REDIS_KEY_MAX] = r->val[REDIS_VAL_MAX] = 0;
        if (r->op == SIM_REDIS_PUT) {
            put(m, r->key, r->val, r->arg);
        } else if (r->op == SIM_REDIS_UNLINK) {
            struct rkey **p = slot(m, r->key);
            if (*p)
                unlink_key(m, p);
        }
        if (r->op != SIM_REDIS_PING) {
            m->st.repl_applied++;
            if (m->cfg.persist)
                save(m, e);
        }
        return true;
    case SIM_REDIS_ROLE_Q: {
        struct sim_redis_msg a = {.magic = SIM_REDIS_MAGIC, .op = SIM_REDIS_ROLE_A,
                                  .arg = m->role};
        sim_send(e, from, &a, sizeof(a));
        return true;
    }
    case SIM_REDIS_SYNC:
        if (from_peer && m->role == SIM_REDIS_MASTER)
            full_sync(m, e);
        return true;
    case SIM_REDIS_ROLE_A:
        return !from_peer;
    default:
        return true;
    }
}

/* Ask the peer its role; meanwhile serve whatever arrives. A peer that is master makes
 * this node its replica; no answer or a replica leaves the configured role. */
static void discover_role(struct sim_redis *m, struct env *e)
{
    struct sim_redis_msg q = {.magic = SIM_REDIS_MAGIC, .op = SIM_REDIS_ROLE_Q};
    sim_send(e, peer_addr(m), &q, sizeof(q));
    int64_t deadline = env_mono(e) + m->cfg.role_timeout_ns;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        if (left <= 0)
            return;
        struct sim_redis_msg r;
        struct sim_addr from;
        ssize_t n = sim_recv(e, &r, sizeof(r), &from, left);
        if (n == -ETIMEDOUT)
            return;
        if (n != (ssize_t)sizeof(r) || r.magic != SIM_REDIS_MAGIC)
            continue;
        if (!handle(m, e, &r, from)) {
            if (r.arg == SIM_REDIS_MASTER)
                become_replica(m, e);
            return;
        }
    }
}

static void promote(struct sim_redis *m, struct env *e)
{
    m->role = SIM_REDIS_MASTER;
    m->attached = false;
    m->st.promotions++;
    m->st.promoted_at = sim_env_true_now(e);
}

static void server_main(struct env *e, void *arg)
{
    struct sim_redis *m = arg;
    flush(m); /* a (re)start: whatever was in memory is gone */
    m->st.starts++;
    m->role = m->cfg.role;
    m->attached = false;
    m->last_master_mono = env_mono(e);
    if (m->cfg.persist)
        load(m, e);
    if (sim_listen(e, m->cfg.port) < 0)
        return;
    if (m->cfg.peer >= 0) {
        uint64_t h;
        if (env_spawn(e, "redis-repl", sender_main, m, &h) < 0)
            return;
        discover_role(m, e);
    }
    for (;;) {
        int64_t timeout = -1;
        if (m->role == SIM_REDIS_REPLICA && m->cfg.failover_after_ns > 0) {
            timeout = m->last_master_mono + m->cfg.failover_after_ns - env_mono(e);
            if (timeout <= 0) {
                promote(m, e);
                continue;
            }
        }
        struct sim_redis_msg r;
        struct sim_addr from;
        ssize_t n = sim_recv(e, &r, sizeof(r), &from, timeout);
        if (n == -ETIMEDOUT || n != (ssize_t)sizeof(r) || r.magic != SIM_REDIS_MAGIC)
            continue;
        handle(m, e, &r, from);
    }
}

/* ---- Creation and inspection ---------------------------------------------------------- */

struct sim_redis *sim_redis_create(struct sim *sim, int node, const struct sim_redis_cfg *cfg)
{
    if (!sim || node < 0 || node >= sim_node_count(sim) || !cfg || cfg->peer == node ||
        cfg->peer >= sim_node_count(sim) || cfg->port >= SIM_PORT_EPHEMERAL - 1)
        return NULL;
    struct sim_redis *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->sim = sim;
    m->node = node;
    m->cfg = *cfg;
    if (!m->cfg.port)
        m->cfg.port = SIM_REDIS_PORT;
    if (m->cfg.heartbeat_ns <= 0)
        m->cfg.heartbeat_ns = 100 * SIM_MS;
    if (m->cfg.role_timeout_ns <= 0)
        m->cfg.role_timeout_ns = SIM_S;
    if (m->cfg.peer < 0)
        m->cfg.peer = -1;
    m->role = m->cfg.role;
    m->st.promoted_at = -1;
    m->st.armed_grant = -1;
    m->nbucket = 16;
    m->bucket = calloc(m->nbucket, sizeof(*m->bucket));
    if (!m->bucket || sim_node_main(sim, node, "redis", server_main, m) < 0) {
        free(m->bucket);
        free(m);
        return NULL;
    }
    return m;
}

void sim_redis_destroy(struct sim_redis *m)
{
    if (!m)
        return;
    flush(m);
    free(m->bucket);
    free(m);
}

int sim_redis_crash_after_grant(struct sim_redis *m, const char *key, int64_t from,
                                int64_t delay, int64_t down_for)
{
    if (!key || strlen(key) > REDIS_KEY_MAX || delay < 0)
        return -EINVAL;
    snprintf(m->armed_key, sizeof(m->armed_key), "%s", key);
    m->armed_from = from;
    m->armed_delay = delay;
    m->armed_down = down_for;
    m->armed = true;
    return 0;
}

struct sim_addr sim_redis_addr(const struct sim_redis *m)
{
    return (struct sim_addr){m->node, m->cfg.port};
}

enum sim_redis_role sim_redis_role(const struct sim_redis *m)
{
    return m->role;
}

void sim_redis_stats(const struct sim_redis *m, struct sim_redis_stats *out)
{
    *out = m->st;
}

int sim_redis_peek(const struct sim_redis *m, const char *key, char *val, size_t cap,
                   int64_t *when_ms)
{
    if (!sim_node_up(m->sim, m->node))
        return -ENOENT;
    struct rkey *const *p = slot(m, key);
    if (!*p)
        return -ENOENT;
    if (val && cap)
        snprintf(val, cap, "%s", (*p)->val);
    if (when_ms)
        *when_ms = (*p)->when_ms;
    return (int)strlen((*p)->val);
}

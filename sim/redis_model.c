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

/* A sorted set's member. */
struct zmem {
    int64_t score;
    char member[REDIS_VAL_MAX + 1];
};

struct rkey {
    struct rkey *next;
    int64_t when_ms; /* absolute ms of the server clock; -1: no expiry */
    char key[REDIS_KEY_MAX + 1];
    char val[REDIS_VAL_MAX + 1];
    bool zset;      /* a sorted set: its members are z[0..zn), in (score, member) order */
    struct zmem *z; /* an array kept sorted: O(n) per insert or delete, for the small sets
                     * a delayed-task queue keeps per node */
    size_t zn, zcap;
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

static void free_key(struct rkey *k)
{
    free(k->z);
    free(k);
}

static void flush(struct sim_redis *m)
{
    for (size_t i = 0; i < m->nbucket; i++) {
        while (m->bucket[i]) {
            struct rkey *k = m->bucket[i];
            m->bucket[i] = k->next;
            free_key(k);
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

/* The entry for key, created (a string, no expiry) if needed. NULL on -ENOMEM. */
static struct rkey *get_or_create(struct sim_redis *m, const char *key)
{
    struct rkey **p = slot(m, key);
    if (!*p) {
        if (m->count >= 2 * m->nbucket && grow(m) == 0)
            p = slot(m, key);
        struct rkey *k = calloc(1, sizeof(*k));
        if (!k)
            return NULL;
        snprintf(k->key, sizeof(k->key), "%s", key);
        k->when_ms = -1;
        *p = k;
        m->count++;
    }
    return *p;
}

/* Set key to val with expiry when_ms, creating it if needed (a sorted set of that name is
 * replaced, as SET does). Returns 0 or -ENOMEM. */
static int put(struct sim_redis *m, const char *key, const char *val, int64_t when_ms)
{
    struct rkey *k = get_or_create(m, key);
    if (!k)
        return -ENOMEM;
    if (k->zset) {
        free(k->z);
        k->z = NULL;
        k->zn = k->zcap = 0;
        k->zset = false;
    }
    snprintf(k->val, sizeof(k->val), "%s", val);
    k->when_ms = when_ms;
    return 0;
}

static void unlink_key(struct sim_redis *m, struct rkey **p)
{
    struct rkey *k = *p;
    *p = k->next;
    free_key(k);
    m->count--;
}

/* ---- Sorted sets ---------------------------------------------------------------------- */

static int zcmp(int64_t sa, const char *ma, int64_t sb, const char *mb)
{
    return sa < sb ? -1 : sa > sb ? 1 : strcmp(ma, mb);
}

static ssize_t zfind(const struct rkey *k, const char *member)
{
    for (size_t i = 0; i < k->zn; i++)
        if (!strcmp(k->z[i].member, member))
            return (ssize_t)i;
    return -1;
}

static void zdelete_at(struct rkey *k, size_t i)
{
    memmove(&k->z[i], &k->z[i + 1], (k->zn - i - 1) * sizeof(k->z[0]));
    k->zn--;
}

/* Add or re-score member. Returns 1 (new), 0 (updated) or -ENOMEM. */
static int zinsert(struct rkey *k, const char *member, int64_t score)
{
    ssize_t at = zfind(k, member);
    int added = at < 0;
    if (at >= 0)
        zdelete_at(k, (size_t)at);
    if (k->zn == k->zcap) {
        size_t cap = k->zcap ? 2 * k->zcap : 4;
        struct zmem *z = realloc(k->z, cap * sizeof(*z));
        if (!z)
            return -ENOMEM;
        k->z = z;
        k->zcap = cap;
    }
    size_t i = k->zn;
    while (i > 0 && zcmp(k->z[i - 1].score, k->z[i - 1].member, score, member) > 0)
        i--;
    memmove(&k->z[i + 1], &k->z[i], (k->zn - i) * sizeof(k->z[0]));
    k->z[i].score = score;
    snprintf(k->z[i].member, sizeof(k->z[i].member), "%s", member);
    k->zn++;
    return added;
}

/* The sorted set 'key', created (empty) if missing. NULL with *rc = -EPROTO when a string
 * holds the name (WRONGTYPE), or -ENOMEM. */
static struct rkey *zkey(struct sim_redis *m, const char *key, int *rc)
{
    bool existed = *slot(m, key) != NULL;
    struct rkey *k = get_or_create(m, key);
    if (!k) {
        *rc = -ENOMEM;
        return NULL;
    }
    if (existed && !k->zset) {
        *rc = -EPROTO;
        return NULL;
    }
    k->zset = true;
    return k;
}

/* Add member to sorted set key; a set left empty by a failure is removed. Returns 1 (new),
 * 0 (re-scored), -EPROTO or -ENOMEM. */
static int zput(struct sim_redis *m, const char *key, const char *member, int64_t score)
{
    int rc = 0;
    struct rkey *k = zkey(m, key, &rc);
    if (!k)
        return rc;
    rc = zinsert(k, member, score);
    if (rc < 0 && k->zn == 0)
        unlink_key(m, slot(m, key));
    return rc;
}

/* Remove member from the sorted set key (deleting the key with its last member). */
static bool zremove(struct sim_redis *m, const char *key, const char *member)
{
    struct rkey **p = slot(m, key);
    if (!*p || !(*p)->zset)
        return false;
    ssize_t at = zfind(*p, member);
    if (at < 0)
        return false;
    zdelete_at(*p, (size_t)at);
    if ((*p)->zn == 0)
        unlink_key(m, p);
    return true;
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
            if (k->zset ? k->zn == 0 || k->zn > k->zcap : k->zn != 0)
                return false; /* an empty sorted set is deleted */
            for (size_t j = 0; k->zset && j < k->zn; j++) {
                if (memchr(k->z[j].member, 0, sizeof(k->z[j].member)) == NULL)
                    return false;
                if (j &&
                    zcmp(k->z[j - 1].score, k->z[j - 1].member, k->z[j].score, k->z[j].member) >= 0)
                    return false;
                if (zfind(k, k->z[j].member) != (ssize_t)j)
                    return false; /* one score per member */
            }
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

/* Records: 'S' key NUL val NUL when_ms (8 bytes), or 'Z' key NUL member NUL score (8
 * bytes) for each member of a sorted set. */
static int save(struct sim_redis *m, struct env *e)
{
    size_t cap = 1, len = 0;
    for (size_t i = 0; i < m->nbucket; i++)
        for (const struct rkey *k = m->bucket[i]; k; k = k->next)
            cap += (k->zset ? k->zn : 1) * (1 + sizeof(k->key) + sizeof(k->val) + 8);
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < m->nbucket; i++) {
        for (const struct rkey *k = m->bucket[i]; k; k = k->next) {
            for (size_t j = 0; j < (k->zset ? k->zn : 1); j++) {
                const char *val = k->zset ? k->z[j].member : k->val;
                int64_t num = k->zset ? k->z[j].score : k->when_ms;
                size_t kl = strlen(k->key) + 1, vl = strlen(val) + 1;
                buf[len++] = k->zset ? 'Z' : 'S';
                memcpy(buf + len, k->key, kl);
                memcpy(buf + len + kl, val, vl);
                memcpy(buf + len + kl + vl, &num, sizeof(num));
                len += kl + vl + sizeof(num);
            }
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
    while (off + 1 < len) {
        char type = buf[off++];
        const char *key = buf + off;
        size_t kl = strnlen(key, len - off) + 1;
        const char *val = key + kl;
        if (off + kl >= len)
            break;
        size_t vl = strnlen(val, len - off - kl) + 1;
        int64_t num;
        if (off + kl + vl + sizeof(num) > len)
            break;
        memcpy(&num, val + vl, sizeof(num));
        if (type == 'Z')
            zput(m, key, val, num);
        else
            put(m, key, val, num);
        off += kl + vl + sizeof(num);
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

/* The same for a sorted set's member (ZPUT: added or re-scored; ZUNLINK: removed). */
static void propagate_z(struct sim_redis *m, struct env *e, enum sim_redis_op op, const char *key,
                        const char *member, int64_t score)
{
    if (m->role != SIM_REDIS_MASTER || !m->attached)
        return;
    struct sim_redis_msg r = {.magic = SIM_REDIS_MAGIC, .op = (uint16_t)op, .arg = score};
    r.at_mono = env_mono(e);
    snprintf(r.key, sizeof(r.key), "%s", key);
    snprintf(r.val, sizeof(r.val), "%s", member);
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
        for (const struct rkey *k = m->bucket[i]; k; k = k->next) {
            if (!k->zset)
                propagate(m, e, SIM_REDIS_PUT, k, k->key);
            for (size_t j = 0; k->zset && j < k->zn; j++)
                propagate_z(m, e, SIM_REDIS_ZPUT, k->key, k->z[j].member, k->z[j].score);
        }
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

/* ZPOPMOVE and ZMOVE (scripts on a real server: atomic here too, as every command is):
 * move one member of r->key (src, k) to r->key2, keeping its score or giving it arg2. */
static bool execute_move(struct sim_redis *m, struct env *e, struct sim_redis_msg *r,
                         struct rkey *k, int64_t now_ms, int64_t max_score, int64_t arg2)
{
    struct rkey **dp = lookup(m, e, r->key2, now_ms);
    if (dp && *dp && !(*dp)->zset) {
        r->status = -EPROTO;
        return false;
    }
    k = *slot(m, r->key); /* the lookup of the destination may have moved entries */
    struct zmem top;
    if (r->op == SIM_REDIS_ZPOPMOVE) {
        if (!k || k->z[0].score > max_score)
            return false;
        top = k->z[0];
    } else {
        ssize_t at = k ? zfind(k, r->val) : -1;
        if (at < 0)
            return false;
        top = k->z[at];
        arg2 = -1;
    }
    int64_t score = arg2 < 0 ? top.score : arg2;
    char name[REDIS_VAL_MAX + 32];
    snprintf(name, sizeof(name), "%s", top.member);
    char *at = strchr(name, '@');
    if (r->op == SIM_REDIS_ZPOPMOVE && (r->flags & REDIS_ZTAG)) {
        snprintf(name, sizeof(name), "%s@%" PRId64, top.member, top.score);
        if (strlen(name) > REDIS_VAL_MAX) {
            r->status = -E2BIG; /* the tagged name would not fit: nothing moves */
            return false;
        }
    } else if (r->op == SIM_REDIS_ZPOPMOVE && (r->flags & REDIS_ZUNTAG) && at) {
        *at = 0;
        score = strtoll(at + 1, NULL, 10);
    }
    zremove(m, r->key, top.member);
    propagate_z(m, e, SIM_REDIS_ZUNLINK, r->key, top.member, 0);
    int rc = zput(m, r->key2, name, score);
    if (rc < 0) {
        r->status = rc;
        return true;
    }
    propagate_z(m, e, SIM_REDIS_ZPUT, r->key2, name, score);
    snprintf(r->val, sizeof(r->val), "%s", top.member);
    r->arg = top.score;
    r->status = 1;
    return true;
}

/* ZADD (score), ZREM and ZFIRST on the sorted set r->key (k, NULL when missing). */
static bool execute_z(struct sim_redis *m, struct env *e, struct sim_redis_msg *r,
                      struct rkey *k, int64_t score)
{
    switch (r->op) {
    case SIM_REDIS_ZADD: {
        int rc = zput(m, r->key, r->val, score);
        r->status = rc;
        if (rc < 0)
            return false;
        propagate_z(m, e, SIM_REDIS_ZPUT, r->key, r->val, score);
        return true;
    }
    case SIM_REDIS_ZREM:
        if (!zremove(m, r->key, r->val))
            return false;
        propagate_z(m, e, SIM_REDIS_ZUNLINK, r->key, r->val, 0);
        r->status = 1;
        return true;
    default: /* SIM_REDIS_ZFIRST */
        if (!k)
            return false;
        snprintf(r->val, sizeof(r->val), "%s", k->z[0].member);
        r->arg = k->z[0].score;
        r->status = 1;
        return false;
    }
}

/* Execute one client command; fills the reply fields of r. Returns true if it wrote. */
static bool execute(struct sim_redis *m, struct env *e, struct sim_redis_msg *r)
{
    int64_t now_ms = env_now(e) / 1000000;
    r->key[REDIS_KEY_MAX] = r->val[REDIS_VAL_MAX] = r->key2[REDIS_KEY_MAX] = 0;
    bool write = r->op != SIM_REDIS_GET && r->op != SIM_REDIS_ZFIRST;
    if (write && m->role == SIM_REDIS_REPLICA) {
        m->st.rejected++;
        r->status = -EROFS;
        return false;
    }
    struct rkey **p = lookup(m, e, r->key, now_ms);
    struct rkey *k = p ? *p : NULL;
    int64_t ttl = r->arg, arg2 = r->arg2;
    r->status = 0;
    r->arg = 0;
    bool is_z = r->op >= SIM_REDIS_ZADD && r->op <= SIM_REDIS_ZMOVE;
    if (k && k->zset != is_z && r->op != SIM_REDIS_SET && r->op != SIM_REDIS_DEL) {
        r->status = -EPROTO; /* WRONGTYPE */
        return false;
    }
    if (is_z && r->op >= SIM_REDIS_ZPOPMOVE)
        return execute_move(m, e, r, k, now_ms, ttl, arg2);
    if (is_z)
        return execute_z(m, e, r, k, ttl);
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
    case SIM_REDIS_SET:
    case SIM_REDIS_GET:
    case SIM_REDIS_DEL:
    case SIM_REDIS_INCR:
    case SIM_REDIS_CAD:
    case SIM_REDIS_CAE:
    case SIM_REDIS_ZADD:
    case SIM_REDIS_ZREM:
    case SIM_REDIS_ZFIRST:
    case SIM_REDIS_ZPOPMOVE:
    case SIM_REDIS_ZMOVE: {
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
    case SIM_REDIS_PUT:
    case SIM_REDIS_UNLINK:
    case SIM_REDIS_PING:
    case SIM_REDIS_ZPUT:
    case SIM_REDIS_ZUNLINK:
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
        } else if (r->op == SIM_REDIS_ZPUT) {
            zput(m, r->key, r->val, r->arg);
        } else if (r->op == SIM_REDIS_ZUNLINK) {
            zremove(m, r->key, r->val);
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
    if (!*p || (*p)->zset)
        return -ENOENT;
    if (val && cap)
        snprintf(val, cap, "%s", (*p)->val);
    if (when_ms)
        *when_ms = (*p)->when_ms;
    return (int)strlen((*p)->val);
}

int sim_redis_zpeek(const struct sim_redis *m, const char *key, char (*members)[REDIS_VAL_MAX + 1],
                    int64_t *scores, size_t cap)
{
    if (!sim_node_up(m->sim, m->node))
        return -ENOENT;
    struct rkey *const *p = slot(m, key);
    if (!*p || !(*p)->zset)
        return -ENOENT;
    for (size_t i = 0; i < (*p)->zn && i < cap; i++) {
        if (members)
            snprintf(members[i], sizeof(members[i]), "%s", (*p)->z[i].member);
        if (scores)
            scores[i] = (*p)->z[i].score;
    }
    return (int)(*p)->zn;
}

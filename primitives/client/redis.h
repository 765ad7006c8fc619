/* redis.h - the Redis commands a primitive may use, as an ops table that each world fills:
 * sim/redis_client.c (messages to the simulated Redis model) and live/redis_hiredis.c
 * (hiredis to a real redis-server). A primitive includes this and nothing of either world.
 *
 * A 'struct redis' is one connection, owned by one actor (sim) or one thread (live); it is
 * never shared. Every call is bounded by the connection's timeout (redis_set_timeout): a
 * call that gets no answer in time returns -ETIMEDOUT, and the command may or may not have
 * been executed (as with a real network). Keys and values are NUL-terminated strings of at
 * most REDIS_KEY_MAX and REDIS_VAL_MAX bytes (longer ones: -E2BIG, nothing sent).
 *
 * Errors are negative errnos: -ETIMEDOUT (no answer in time), -ECONNREFUSED / -ECONNRESET
 * / -ENOTCONN (the server cannot be reached; the next call tries to reconnect), -EROFS
 * (the server is a replica and refuses writes: the client moves on to the next address it
 * knows, like a Sentinel-aware client), -EPROTO (an unexpected reply, e.g. INCR on a value
 * that is not an integer). */
#ifndef DISTLAB_CLIENT_REDIS_H
#define DISTLAB_CLIENT_REDIS_H

#include <stddef.h>
#include <stdint.h>

#define REDIS_KEY_MAX 127
#define REDIS_VAL_MAX 127

/* SET flags. */
#define REDIS_NX 1u /* only if the key does not exist */

struct redis;

struct redis_ops {
    int (*set)(struct redis *r, const char *key, const char *val, unsigned flags,
               int64_t ttl_ns);
    int (*get)(struct redis *r, const char *key, char *buf, size_t cap);
    int (*del)(struct redis *r, const char *key);
    int (*incr)(struct redis *r, const char *key, int64_t *out);
    int (*cad)(struct redis *r, const char *key, const char *val);
    int (*cae)(struct redis *r, const char *key, const char *val, int64_t ttl_ns);
    int (*zadd)(struct redis *r, const char *key, const char *member, int64_t score);
    int (*zrem)(struct redis *r, const char *key, const char *member);
    int (*zfirst)(struct redis *r, const char *key, char *member, size_t cap, int64_t *score);
    int (*zpopmove)(struct redis *r, const char *src, const char *dst, int64_t max_score,
                    int64_t dst_score, unsigned flags, char *member, size_t cap,
                    int64_t *score);
    int (*zmove)(struct redis *r, const char *src, const char *dst, const char *member);
    void (*close)(struct redis *r);
};

/* Every world's connection starts with this header. */
struct redis {
    const struct redis_ops *ops;
    int64_t timeout_ns; /* bound on each call, > 0 */
};

/* SET key val [NX] [PX ttl]: ttl_ns > 0 sets an expiry, rounded up to whole milliseconds
 * as Redis keeps it (PX); ttl_ns <= 0 means none. Expiry follows the *server's* wall
 * clock. Returns 1 when the key was set, 0 when NX found the key present, or an error. */
static inline int redis_set(struct redis *r, const char *key, const char *val, unsigned flags,
                            int64_t ttl_ns)
{
    return r->ops->set(r, key, val, flags, ttl_ns);
}

/* GET key into buf (cap bytes, NUL-terminated, truncated to fit). Returns the value's
 * length (>= 0), -ENOENT when the key does not exist (or has expired), or an error. */
static inline int redis_get(struct redis *r, const char *key, char *buf, size_t cap)
{
    return r->ops->get(r, key, buf, cap);
}

/* DEL key, whoever set it. Returns the number of keys removed (0 or 1), or an error. */
static inline int redis_del(struct redis *r, const char *key)
{
    return r->ops->del(r, key);
}

/* INCR key (a missing key counts as 0). Sets *out to the new value. Returns 0, -EPROTO
 * when the value is not an integer, or an error. */
static inline int redis_incr(struct redis *r, const char *key, int64_t *out)
{
    return r->ops->incr(r, key, out);
}

/* Compare-and-delete, atomically on the server: DEL key only if its value is val (a Lua
 * script on a real server). Returns 1 when deleted, 0 when the key was missing or held
 * another value, or an error. */
static inline int redis_cad(struct redis *r, const char *key, const char *val)
{
    return r->ops->cad(r, key, val);
}

/* Compare-and-extend, atomically: PEXPIRE key ttl only if its value is val. Returns 1 when
 * extended, 0 when the key was missing or held another value, or an error. */
static inline int redis_cae(struct redis *r, const char *key, const char *val, int64_t ttl_ns)
{
    return r->ops->cae(r, key, val, ttl_ns);
}

/* ---- Sorted sets ------------------------------------------------------------------------
 * Members are strings of at most REDIS_VAL_MAX bytes, scores integers (ms, by the callers
 * here: Redis keeps doubles, exact for integers below 2^53); ties order by member, as in
 * Redis. A sorted-set call on a key that holds a string, or the reverse, is -EPROTO
 * (WRONGTYPE). A set whose last member goes is deleted, as Redis does. */

/* ZADD key score member. Returns 1 when the member is new, 0 when its score was updated. */
static inline int redis_zadd(struct redis *r, const char *key, const char *member, int64_t score)
{
    return r->ops->zadd(r, key, member, score);
}

/* ZREM key member. Returns 1 when removed, 0 when it was not there. */
static inline int redis_zrem(struct redis *r, const char *key, const char *member)
{
    return r->ops->zrem(r, key, member);
}

/* The lowest-scored member (ZRANGE key 0 0 WITHSCORES) into member (cap bytes) and *score.
 * Returns 1, or 0 when the set is empty or missing. */
static inline int redis_zfirst(struct redis *r, const char *key, char *member, size_t cap,
                               int64_t *score)
{
    return r->ops->zfirst(r, key, member, cap, score);
}

/* zpopmove flags: how the member is named in dst. */
#define REDIS_ZTAG 1u   /* "<member>@<its score in src>" (the score as an integer) */
#define REDIS_ZUNTAG 2u /* a member "<m>@<s>" goes in as "<m>" with score s (dst_score is
                         * ignored); a member without '@' goes in as it is */

/* Atomically (a Lua script on a real server): if the lowest-scored member of src has a
 * score <= max_score, remove it from src and add it to dst with score dst_score (< 0: its
 * own score), named as flags say. Copies it (as it was in src) into member and its score
 * in src into *score. Returns 1 when one moved, 0 when none was due. A delayed-task
 * queue's claim (due tasks by fire time -> claimed ones by the time the claim runs out,
 * tagged with their fire time) and its redelivery (expired claims back, untagged). A
 * tagged member must still fit REDIS_VAL_MAX. */
static inline int redis_zpopmove(struct redis *r, const char *src, const char *dst,
                                 int64_t max_score, int64_t dst_score, unsigned flags,
                                 char *member, size_t cap, int64_t *score)
{
    return r->ops->zpopmove(r, src, dst, max_score, dst_score, flags, member, cap, score);
}

/* Atomically move 'member' from src to dst keeping its score (a Lua script on a real
 * server). Returns 1 when moved, 0 when src does not hold it. */
static inline int redis_zmove(struct redis *r, const char *src, const char *dst, const char *member)
{
    return r->ops->zmove(r, src, dst, member);
}

/* Bound every later call on r to timeout_ns (> 0). */
static inline void redis_set_timeout(struct redis *r, int64_t timeout_ns)
{
    if (timeout_ns > 0)
        r->timeout_ns = timeout_ns;
}

/* Close the connection and free r (NULL is allowed). */
static inline void redis_close(struct redis *r)
{
    if (r)
        r->ops->close(r);
}

/* Milliseconds for a PX argument: ttl_ns rounded up, at least 1. */
static inline int64_t redis_ttl_ms(int64_t ttl_ns)
{
    int64_t ms = (ttl_ns + 999999) / 1000000;
    return ms < 1 ? 1 : ms;
}

#endif

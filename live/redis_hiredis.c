/* redis_hiredis.c - client/redis.h over hiredis (see redis_hiredis.h). A call that fails
 * or times out drops the connection: a late reply must not be taken for the next call's,
 * so the next call reconnects. */
#include "live/redis_hiredis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const char cad_script[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";
static const char cae_script[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
/* KEYS: src, dst; ARGV: max score, destination score (< 0: keep), flags (1: tag, 2:
 * untag). Returns {member, score} or nil. The destination's type is checked first: a script that fails half-way keeps
 * what it did, and a member must not vanish from src because dst holds a string. */
#define ZSET_DST_CHECK                                                                       \
    "local ty = redis.call('type', KEYS[2]).ok "                                             \
    "if ty ~= 'zset' and ty ~= 'none' then "                                                 \
    "return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind "   \
    "of value') end "
static const char zpopmove_script[] =
    ZSET_DST_CHECK
    "local t = redis.call('zrange', KEYS[1], 0, 0, 'withscores') "
    "if #t == 0 or tonumber(t[2]) > tonumber(ARGV[1]) then return false end "
    "redis.call('zrem', KEYS[1], t[1]) "
    "local m, s = t[1], tonumber(ARGV[2]) "
    "if s < 0 then s = t[2] end "
    "if ARGV[3] == '1' then m = t[1] .. '@' .. t[2] "
    "elseif ARGV[3] == '2' then "
    "local at = string.find(t[1], '@', 1, true) "
    "if at then m = string.sub(t[1], 1, at - 1) s = string.sub(t[1], at + 1) end "
    "end "
    "redis.call('zadd', KEYS[2], s, m) "
    "return {t[1], t[2]}";
/* KEYS: src, dst; ARGV: member. Returns 1 moved, 0 absent. */
static const char zmove_script[] =
    ZSET_DST_CHECK
    "local s = redis.call('zscore', KEYS[1], ARGV[1]) "
    "if not s then return 0 end "
    "redis.call('zrem', KEYS[1], ARGV[1]) "
    "redis.call('zadd', KEYS[2], s, ARGV[1]) "
    "return 1";

enum { S_CAD, S_CAE, S_ZPOPMOVE, S_ZMOVE, NSCRIPTS };
static const char *const scripts[NSCRIPTS] = {cad_script, cae_script, zpopmove_script,
                                              zmove_script};

struct lr {
    struct redis base;
    bool unix_sock;
    bool sentinel;   /* path:port is a Sentinel; the master is asked for at each connect */
    char master[64]; /* the master's name Sentinel knows */
    char path[256];  /* socket path, or host */
    int port;
    redisContext *c;
    int64_t timeout_set;    /* the timeout the context has */
    char sha[NSCRIPTS][48]; /* loaded script ids ("" until loaded) */
};

static struct lr *conn(struct redis *r)
{
    return (struct lr *)(void *)r;
}

static struct timeval tv_of(int64_t ns)
{
    return (struct timeval){(time_t)(ns / 1000000000LL), (suseconds_t)(ns % 1000000000LL / 1000)};
}

/* hiredis reports errors as a code and a message from strerror; map them to errnos. */
static int map_err(const redisContext *c)
{
    if (!c)
        return -ENOMEM;
    if (c->err == REDIS_ERR_EOF)
        return -ECONNRESET;
    if (c->err != REDIS_ERR_IO)
        return -EPROTO;
    const char *m = c->errstr;
    if (strstr(m, "temporarily unavailable") || strstr(m, "timed out") || strstr(m, "Timeout"))
        return -ETIMEDOUT;
    if (strstr(m, "refused") || strstr(m, "No such file"))
        return -ECONNREFUSED;
    if (strstr(m, "reset") || strstr(m, "Broken pipe"))
        return -ECONNRESET;
    return -EIO;
}

static void drop(struct lr *c)
{
    if (c->c)
        redisFree(c->c);
    c->c = NULL;
}

/* Ask the Sentinel at c->path:c->port where the master is: 0 and host/port, or a
 * negative errno (-EAGAIN: it knows no master by that name yet). */
static int ask_sentinel(struct lr *c, struct timeval tv, char *host, size_t cap, int *port)
{
    redisContext *s = redisConnectWithTimeout(c->path, c->port, tv);
    if (!s || s->err) {
        int rc = map_err(s);
        if (s)
            redisFree(s);
        return rc;
    }
    redisSetTimeout(s, tv);
    redisReply *r = redisCommand(s, "SENTINEL get-master-addr-by-name %s", c->master);
    int rc = r ? 0 : map_err(s);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        snprintf(host, cap, "%s", r->element[0]->str);
        *port = atoi(r->element[1]->str);
    } else if (r) {
        rc = -EAGAIN;
    }
    if (r)
        freeReplyObject(r);
    redisFree(s);
    return rc;
}

static int ensure(struct lr *c)
{
    struct timeval tv = tv_of(c->base.timeout_ns);
    if (!c->c && c->sentinel) {
        char host[256];
        int port = 0, rc = ask_sentinel(c, tv, host, sizeof(host), &port);
        if (rc < 0)
            return rc;
        c->c = redisConnectWithTimeout(host, port, tv);
        if (!c->c || c->c->err) {
            rc = map_err(c->c);
            drop(c);
            return rc;
        }
        c->timeout_set = -1;
    }
    if (!c->c) {
        c->c = c->unix_sock ? redisConnectUnixWithTimeout(c->path, tv)
                            : redisConnectWithTimeout(c->path, c->port, tv);
        if (!c->c || c->c->err) {
            int rc = map_err(c->c);
            drop(c);
            return rc;
        }
        c->timeout_set = -1;
    }
    if (c->timeout_set != c->base.timeout_ns) {
        if (redisSetTimeout(c->c, tv) != REDIS_OK) {
            drop(c);
            return -EIO;
        }
        c->timeout_set = c->base.timeout_ns;
    }
    return 0;
}

/* Run one command. Returns the reply (caller frees), or NULL with *rc set. */
static redisReply *command(struct lr *c, int *rc, int argc, const char **argv)
{
    size_t len[8];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    if ((*rc = ensure(c)) < 0)
        return NULL;
    redisReply *r = redisCommandArgv(c->c, argc, argv, len);
    if (!r) {
        *rc = map_err(c->c);
        drop(c);
    } else if (c->sentinel && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "READONLY", 8)) {
        drop(c); /* a replica now: ask Sentinel again at the next call */
    }
    return r;
}

static int reply_err(const redisReply *r)
{
    if (!strncmp(r->str, "READONLY", 8))
        return -EROFS;
    if (!strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "BUSY", 4))
        return -EAGAIN;
    return -EPROTO;
}

static int check_args(const char *key, const char *val)
{
    return strlen(key) > REDIS_KEY_MAX || (val && strlen(val) > REDIS_VAL_MAX) ? -E2BIG : 0;
}

static int l_set(struct redis *r, const char *key, const char *val, unsigned flags, int64_t ttl_ns)
{
    int rc = check_args(key, val);
    if (rc < 0)
        return rc;
    const char *argv[6] = {"SET", key, val};
    int argc = 3;
    char ms[24];
    if (flags & REDIS_NX)
        argv[argc++] = "NX";
    if (ttl_ns > 0) {
        snprintf(ms, sizeof(ms), "%lld", (long long)redis_ttl_ms(ttl_ns));
        argv[argc++] = "PX";
        argv[argc++] = ms;
    }
    redisReply *rep = command(conn(r), &rc, argc, argv);
    if (!rep)
        return rc;
    rc = rep->type == REDIS_REPLY_STATUS  ? 1
         : rep->type == REDIS_REPLY_NIL   ? 0
         : rep->type == REDIS_REPLY_ERROR ? reply_err(rep)
                                          : -EPROTO;
    freeReplyObject(rep);
    return rc;
}

static int l_get(struct redis *r, const char *key, char *buf, size_t cap)
{
    int rc = check_args(key, NULL);
    if (rc < 0)
        return rc;
    const char *argv[] = {"GET", key};
    redisReply *rep = command(conn(r), &rc, 2, argv);
    if (!rep)
        return rc;
    if (rep->type == REDIS_REPLY_STRING) {
        if (buf && cap)
            snprintf(buf, cap, "%.*s", (int)rep->len, rep->str);
        rc = rep->len > (size_t)REDIS_VAL_MAX ? REDIS_VAL_MAX : (int)rep->len;
    } else {
        rc = rep->type == REDIS_REPLY_NIL     ? -ENOENT
             : rep->type == REDIS_REPLY_ERROR ? reply_err(rep)
                                              : -EPROTO;
    }
    freeReplyObject(rep);
    return rc;
}

/* An integer reply (DEL, INCR, scripts) into *out; errors as errnos. */
static int int_reply(redisReply *rep, int64_t *out)
{
    int rc = rep->type == REDIS_REPLY_INTEGER ? 0
             : rep->type == REDIS_REPLY_ERROR ? reply_err(rep)
                                              : -EPROTO;
    if (rc == 0)
        *out = rep->integer;
    freeReplyObject(rep);
    return rc;
}

static int l_del(struct redis *r, const char *key)
{
    int rc = check_args(key, NULL);
    if (rc < 0)
        return rc;
    const char *argv[] = {"DEL", key};
    redisReply *rep = command(conn(r), &rc, 2, argv);
    int64_t n = 0;
    if (!rep || (rc = int_reply(rep, &n)) < 0)
        return rc;
    return (int)n;
}

static int l_incr(struct redis *r, const char *key, int64_t *out)
{
    int rc = check_args(key, NULL);
    if (rc < 0)
        return rc;
    const char *argv[] = {"INCR", key};
    redisReply *rep = command(conn(r), &rc, 2, argv);
    int64_t v = 0;
    if (!rep || (rc = int_reply(rep, &v)) < 0)
        return rc;
    if (out)
        *out = v;
    return 0;
}

/* EVALSHA script 'which' with 'nkeys' keys then the arguments (argv: keys and arguments,
 * argc of them, at most 5); loads the script first when its id is unknown or the server
 * forgot it (it restarted). Returns the reply (caller frees), or NULL with *rc set. */
static redisReply *eval(struct lr *c, int which, int nkeys, int argc, const char **argv, int *rc)
{
    for (int round = 0; round < 2; round++) {
        if (!c->sha[which][0]) {
            const char *load[] = {"SCRIPT", "LOAD", scripts[which]};
            redisReply *rep = command(c, rc, 3, load);
            if (!rep)
                return NULL;
            *rc = 0;
            if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof(c->sha[which]))
                snprintf(c->sha[which], sizeof(c->sha[which]), "%s", rep->str);
            else
                *rc = rep->type == REDIS_REPLY_ERROR ? reply_err(rep) : -EPROTO;
            freeReplyObject(rep);
            if (*rc < 0)
                return NULL;
        }
        char nk[8];
        snprintf(nk, sizeof(nk), "%d", nkeys);
        const char *av[8] = {"EVALSHA", c->sha[which], nk};
        for (int i = 0; i < argc && i < 5; i++)
            av[3 + i] = argv[i];
        redisReply *rep = command(c, rc, 3 + argc, av);
        if (!rep)
            return NULL;
        if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
            freeReplyObject(rep);
            c->sha[which][0] = 0;
            continue;
        }
        return rep;
    }
    *rc = -EPROTO;
    return NULL;
}

/* A script whose reply is an integer: 1 when it is positive, else 0; or an error. */
static int eval_int(struct lr *c, int which, int nkeys, int argc, const char **argv)
{
    int rc;
    redisReply *rep = eval(c, which, nkeys, argc, argv, &rc);
    int64_t n = 0;
    if (!rep || (rc = int_reply(rep, &n)) < 0)
        return rc;
    return n > 0 ? 1 : 0;
}

static int l_cad(struct redis *r, const char *key, const char *val)
{
    int rc = check_args(key, val);
    const char *argv[] = {key, val};
    return rc < 0 ? rc : eval_int(conn(r), S_CAD, 1, 2, argv);
}

static int l_cae(struct redis *r, const char *key, const char *val, int64_t ttl_ns)
{
    int rc = check_args(key, val);
    char ms[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)redis_ttl_ms(ttl_ns));
    const char *argv[] = {key, val, ms};
    return rc < 0 ? rc : eval_int(conn(r), S_CAE, 1, 3, argv);
}

/* ---- Sorted sets ---------------------------------------------------------------------- */

/* A score as Redis prints it (integers below 2^53 print exactly) into *out. */
static bool parse_score(const char *s, size_t len, int64_t *out)
{
    char buf[48];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end || d != d)
        return false;
    *out = (int64_t)d;
    return true;
}

/* A {member, score} array reply: 1 (member and score copied out), 0 for nil or an empty
 * array, or an error. Frees the reply. */
static int member_reply(redisReply *rep, char *member, size_t cap, int64_t *score)
{
    int rc;
    if (rep->type == REDIS_REPLY_NIL || (rep->type == REDIS_REPLY_ARRAY && rep->elements == 0)) {
        rc = 0;
    } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
               rep->element[0]->type == REDIS_REPLY_STRING &&
               rep->element[1]->type == REDIS_REPLY_STRING) {
        int64_t sc;
        rc = parse_score(rep->element[1]->str, rep->element[1]->len, &sc) ? 1 : -EPROTO;
        if (rc == 1 && member && cap)
            snprintf(member, cap, "%.*s", (int)rep->element[0]->len, rep->element[0]->str);
        if (rc == 1 && score)
            *score = sc;
    } else {
        rc = rep->type == REDIS_REPLY_ERROR ? reply_err(rep) : -EPROTO;
    }
    freeReplyObject(rep);
    return rc;
}

static int l_zadd(struct redis *r, const char *key, const char *member, int64_t score)
{
    int rc = check_args(key, member);
    if (rc < 0)
        return rc;
    char sc[24];
    snprintf(sc, sizeof(sc), "%lld", (long long)score);
    const char *argv[] = {"ZADD", key, sc, member};
    redisReply *rep = command(conn(r), &rc, 4, argv);
    int64_t n = 0;
    if (!rep || (rc = int_reply(rep, &n)) < 0)
        return rc;
    return (int)n;
}

static int l_zrem(struct redis *r, const char *key, const char *member)
{
    int rc = check_args(key, member);
    if (rc < 0)
        return rc;
    const char *argv[] = {"ZREM", key, member};
    redisReply *rep = command(conn(r), &rc, 3, argv);
    int64_t n = 0;
    if (!rep || (rc = int_reply(rep, &n)) < 0)
        return rc;
    return (int)n;
}

static int l_zfirst(struct redis *r, const char *key, char *member, size_t cap, int64_t *score)
{
    int rc = check_args(key, NULL);
    if (rc < 0)
        return rc;
    const char *argv[] = {"ZRANGE", key, "0", "0", "WITHSCORES"};
    redisReply *rep = command(conn(r), &rc, 5, argv);
    return rep ? member_reply(rep, member, cap, score) : rc;
}

static int l_zpopmove(struct redis *r, const char *src, const char *dst, int64_t max_score,
                      int64_t dst_score, unsigned flags, char *member, size_t cap,
                      int64_t *score)
{
    int rc = check_args(src, NULL);
    if (rc < 0 || (rc = check_args(dst, NULL)) < 0)
        return rc;
    char mx[24], ds[24];
    snprintf(mx, sizeof(mx), "%lld", (long long)max_score);
    snprintf(ds, sizeof(ds), "%lld", (long long)dst_score);
    const char *fl = flags & REDIS_ZTAG ? "1" : flags & REDIS_ZUNTAG ? "2" : "0";
    const char *argv[] = {src, dst, mx, ds, fl};
    redisReply *rep = eval(conn(r), S_ZPOPMOVE, 2, 5, argv, &rc);
    return rep ? member_reply(rep, member, cap, score) : rc;
}

static int l_zmove(struct redis *r, const char *src, const char *dst, const char *member)
{
    int rc = check_args(src, member);
    if (rc < 0 || (rc = check_args(dst, NULL)) < 0)
        return rc;
    const char *argv[] = {src, dst, member};
    return eval_int(conn(r), S_ZMOVE, 2, 3, argv);
}

static void l_close(struct redis *r)
{
    drop(conn(r));
    free(conn(r));
}

static const struct redis_ops live_redis_ops = {
    .set = l_set,
    .get = l_get,
    .del = l_del,
    .incr = l_incr,
    .cad = l_cad,
    .cae = l_cae,
    .zadd = l_zadd,
    .zrem = l_zrem,
    .zfirst = l_zfirst,
    .zpopmove = l_zpopmove,
    .zmove = l_zmove,
    .close = l_close,
};

/* A write to a server that died raises SIGPIPE, which would kill the process: hiredis
 * writes with write(2), so the signal is ignored, once, unless someone handles it. */
static void ignore_sigpipe(void)
{
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
        !(old.sa_flags & SA_SIGINFO)) {
        struct sigaction ign;
        memset(&ign, 0, sizeof(ign));
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, NULL);
    }
}

struct redis *live_redis_connect(const char *addr, int64_t timeout_ns)
{
    if (!addr || !*addr || timeout_ns <= 0)
        return NULL;
    ignore_sigpipe();
    struct lr *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->base.ops = &live_redis_ops;
    c->base.timeout_ns = timeout_ns;
    const char *p = addr;
    if (!strncmp(p, "unix:", 5) || p[0] == '/') {
        c->unix_sock = true;
        p += p[0] == '/' ? 0 : 5;
        if (strlen(p) >= sizeof(c->path))
            goto err;
        snprintf(c->path, sizeof(c->path), "%s", p);
        return &c->base;
    }
    if (!strncmp(p, "sentinel://", 11)) {
        p += 11;
        const char *slash = strchr(p, '/');
        if (!slash || !slash[1] || strlen(slash + 1) >= sizeof(c->master))
            goto err;
        snprintf(c->master, sizeof(c->master), "%s", slash + 1);
        c->sentinel = true;
    } else if (!strncmp(p, "redis://", 8)) {
        p += 8;
    }
    const char *colon = strrchr(p, ':');
    size_t hl = colon ? (size_t)(colon - p) : strcspn(p, "/");
    if (hl == 0 || hl >= sizeof(c->path))
        goto err;
    memcpy(c->path, p, hl);
    c->path[hl] = 0;
    c->port = 6379;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (port <= 0 || port > 65535 || (*end && *end != '/'))
            goto err;
        c->port = (int)port;
    }
    return &c->base;
err:
    free(c);
    return NULL;
}

int live_redis_ping(const char *addr, int64_t timeout_ns)
{
    struct redis *r = live_redis_connect(addr, timeout_ns);
    if (!r)
        return -EINVAL;
    struct lr *c = conn(r);
    const char *argv[] = {"PING"};
    int rc;
    redisReply *rep = command(c, &rc, 1, argv);
    if (rep) {
        rc = rep->type == REDIS_REPLY_STATUS ? 0 : -EPROTO;
        freeReplyObject(rep);
    }
    redis_close(r);
    return rc;
}

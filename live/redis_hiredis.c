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
static const char cae_script[] = "if redis.call('get', KEYS[1]) == ARGV[1] then "
                                 "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

struct lr {
    struct redis base;
    bool unix_sock;
    bool sentinel;   /* path:port is a Sentinel; the master is asked for at each connect */
    char master[64]; /* the master's name Sentinel knows */
    char path[256];  /* socket path, or host */
    int port;
    redisContext *c;
    int64_t timeout_set; /* the timeout the context has */
    char sha[2][48];     /* cad, cae: loaded script ids ("" until loaded) */
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

/* EVALSHA script 'which' (0: cad, 1: cae) with KEYS[1] = key and ARGV = val [, ms];
 * loads the script first when its id is unknown or the server forgot it. */
static int eval(struct lr *c, int which, const char *key, const char *val, const char *ms)
{
    int rc = check_args(key, val);
    if (rc < 0)
        return rc;
    for (int round = 0; round < 2; round++) {
        if (!c->sha[which][0]) {
            const char *load[] = {"SCRIPT", "LOAD", which ? cae_script : cad_script};
            redisReply *rep = command(c, &rc, 3, load);
            if (!rep)
                return rc;
            if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof(c->sha[which]))
                snprintf(c->sha[which], sizeof(c->sha[which]), "%s", rep->str);
            else
                rc = rep->type == REDIS_REPLY_ERROR ? reply_err(rep) : -EPROTO;
            freeReplyObject(rep);
            if (rc < 0)
                return rc;
        }
        const char *argv[] = {"EVALSHA", c->sha[which], "1", key, val, ms};
        redisReply *rep = command(c, &rc, ms ? 6 : 5, argv);
        if (!rep)
            return rc;
        if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "NOSCRIPT", 8)) {
            freeReplyObject(rep);
            c->sha[which][0] = 0; /* the server restarted: load it again */
            continue;
        }
        int64_t n = 0;
        if ((rc = int_reply(rep, &n)) < 0)
            return rc;
        return n > 0 ? 1 : 0;
    }
    return -EPROTO;
}

static int l_cad(struct redis *r, const char *key, const char *val)
{
    return eval(conn(r), 0, key, val, NULL);
}

static int l_cae(struct redis *r, const char *key, const char *val, int64_t ttl_ns)
{
    char ms[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)redis_ttl_ms(ttl_ns));
    return eval(conn(r), 1, key, val, ms);
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

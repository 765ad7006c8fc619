/* server_redis.c - the redis-server and redis-sentinel recipes (servers.h): argv, the
 * sentinel's config file, and the ready probes, which talk to the servers with hiredis. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/servers_internal.h"

#define PROBE_TIMEOUT_US 300000

static redisContext *probe_connect(const struct live__member *m)
{
    struct timeval tv = {0, PROBE_TIMEOUT_US};
    redisContext *r = strncmp(m->addr, "unix:", 5) == 0
                          ? redisConnectUnixWithTimeout(m->addr + 5, tv)
                          : redisConnectWithTimeout("127.0.0.1", m->port[0], tv);
    if (r && r->err) {
        redisFree(r);
        return NULL;
    }
    if (r)
        redisSetTimeout(r, tv);
    return r;
}

static redisReply *probe_command(const struct live__member *m, const char *cmd)
{
    redisContext *r = probe_connect(m);
    if (!r)
        return NULL;
    redisReply *reply = redisCommand(r, cmd);
    redisFree(r);
    return reply;
}

/* Ready: PING answers PONG. */
static int ping_probe(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    redisReply *r = probe_command(arg, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r)
        freeReplyObject(r);
    return ok;
}

/* A replica's first start: its link to the primary is up (the full sync is done).
 * A restart asks only for PING: Sentinel may have promoted another server since. */
static int replica_probe(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    struct live__member *m = arg;
    if (m->restarted)
        return ping_probe(p, arg, err, errlen);
    redisReply *r = probe_command(m, "INFO replication");
    int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "master_link_status:up");
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Sentinel: it knows the master and every replica, none of them down or disconnected
 * (otherwise a failover right after the start would find no replica to promote). */
static int sentinel_probe(struct live_proc *p, void *arg, char *err, size_t errlen)
{
    struct live__member *m = arg;
    redisReply *r = probe_command(m, "SENTINEL replicas " LIVE_SENTINEL_MASTER);
    int good = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        for (size_t k = 0; e->type == REDIS_REPLY_ARRAY && k + 1 < e->elements; k += 2) {
            redisReply *key = e->element[k], *val = e->element[k + 1];
            if (key->type == REDIS_REPLY_STRING && strcmp(key->str, "flags") == 0 &&
                val->type == REDIS_REPLY_STRING && strcmp(val->str, "slave") == 0)
                good++;
        }
    }
    if (r)
        freeReplyObject(r);
    return m->restarted ? good > 0 || m->c->nreplicas == 0 : good >= m->c->nreplicas;
}

/* Common redis-server arguments: loopback only, persistence off, log to stdout (the
 * launcher's log file), its data dir for a replica's sync files. */
static int server_argv(struct live__member *m, const char *exe, bool tcp, const char **argv,
                       char *port, size_t portcap)
{
    int n = 0;
    snprintf(port, portcap, "%d", tcp ? m->port[0] : 0);
    argv[n++] = exe;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--protected-mode";
    argv[n++] = "no";
    if (!tcp) {
        argv[n++] = "--unixsocket";
        argv[n++] = m->addr + 5;
        argv[n++] = "--unixsocketperm";
        argv[n++] = "700";
    }
    /* clang-format off */
    static const char *const rest[] = {"--save", "", "--appendonly", "no",
                                       "--daemonize", "no", "--databases", "1",
                                       "--logfile", "", "--repl-diskless-sync", "yes",
                                       "--repl-diskless-sync-delay", "0", NULL};
    /* clang-format on */
    for (int i = 0; rest[i]; i++)
        argv[n++] = rest[i];
    argv[n++] = "--dir";
    argv[n++] = m->dir;
    argv[n] = NULL;
    return n;
}

int live__redis_prepare(struct live_cluster *c, int n, char *err, size_t errlen)
{
    char exe[512];
    int rc = live__need_exe("redis-server", "redis-server", exe, sizeof(exe), err, errlen);
    for (int i = 0; rc == 0 && i < n; i++) {
        char name[32], port[16];
        snprintf(name, sizeof(name), "redis-%d", i);
        if ((rc = live__member_init(c, i, name, c->opts.tcp ? 1 : 0, err, errlen)) < 0)
            break;
        c->n = i + 1;
        struct live__member *m = &c->m[i];
        if (c->opts.tcp)
            snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%d", m->port[0]);
        else
            snprintf(m->addr, sizeof(m->addr), "unix:%s/redis.sock", m->dir);
        const char *argv[40];
        server_argv(m, exe, c->opts.tcp, argv, port, sizeof(port));
        rc = live__member_proc(m, argv, ping_probe, err, errlen);
    }
    if (rc == 0)
        live__join_addrs(c, 0, c->n);
    return rc;
}

int live__sentinel_prepare(struct live_cluster *c, int n, char *err, size_t errlen)
{
    char exe[512], sexe[512];
    int rc = live__need_exe("redis-server", "redis-server", exe, sizeof(exe), err, errlen);
    if (rc == 0)
        rc = live__need_exe("redis-sentinel", "redis-sentinel", sexe, sizeof(sexe), err, errlen);
    c->nreplicas = n;
    for (int i = 0; rc == 0 && i < n + 2; i++) {
        char name[32], port[16], primary_port[16];
        if (i == 0)
            snprintf(name, sizeof(name), "redis-0");
        else if (i <= n)
            snprintf(name, sizeof(name), "replica-%d", i - 1);
        else
            snprintf(name, sizeof(name), "sentinel-0");
        if ((rc = live__member_init(c, i, name, 1, err, errlen)) < 0)
            break;
        c->n = i + 1;
        struct live__member *m = &c->m[i];
        snprintf(m->addr, sizeof(m->addr), "127.0.0.1:%d", m->port[0]);
        const char *argv[40];
        if (i <= n) {
            int k = server_argv(m, exe, true, argv, port, sizeof(port));
            if (i > 0) {
                int port0 = c->m[0].port[0];
                if (c->opts.repl_lag_ns > 0) {
                    if ((rc = live_lagrelay_start(port0, c->opts.repl_lag_ns, &c->relay[i])) < 0) {
                        snprintf(err, errlen, "cannot start the replication relay: %s",
                                 strerror(-rc));
                        break;
                    }
                    port0 = live_lagrelay_port(c->relay[i]);
                }
                snprintf(primary_port, sizeof(primary_port), "%d", port0);
                argv[k++] = "--replicaof";
                argv[k++] = "127.0.0.1";
                argv[k++] = primary_port;
                argv[k] = NULL;
            }
            rc = live__member_proc(m, argv, i == 0 ? ping_probe : replica_probe, err, errlen);
            continue;
        }
        /* Sentinel rewrites this file (what it learned, its own id): it stays in the
         * member's directory, so a restart finds what the sentinel knew. */
        int64_t down = c->opts.down_after_ns > 0 ? c->opts.down_after_ns : 1000000000LL;
        int64_t fo = c->opts.failover_timeout_ns > 0 ? c->opts.failover_timeout_ns : 3000000000LL;
        char conf[1024], path[256];
        snprintf(conf, sizeof(conf),
                 "port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\nlogfile \"\"\n"
                 "dir \"%s\"\n"
                 "sentinel monitor " LIVE_SENTINEL_MASTER " 127.0.0.1 %d 1\n"
                 "sentinel down-after-milliseconds " LIVE_SENTINEL_MASTER " %lld\n"
                 "sentinel failover-timeout " LIVE_SENTINEL_MASTER " %lld\n"
                 "sentinel parallel-syncs " LIVE_SENTINEL_MASTER " 1\n",
                 m->port[0], m->dir, c->m[0].port[0], (long long)(down / 1000000),
                 (long long)(fo / 1000000));
        snprintf(path, sizeof(path), "%s/sentinel.conf", m->dir);
        if ((rc = live__write_file(path, conf, err, errlen)) < 0)
            break;
        const char *sargv[] = {sexe, path, NULL};
        m->late = true;
        rc = live__member_proc(m, sargv, sentinel_probe, err, errlen);
    }
    if (rc == 0)
        live__join_addrs(c, n + 1, n + 2);
    return rc;
}

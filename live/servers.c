/* servers.c - clusters of real servers (servers.h): what every recipe shares (members,
 * start with retries on a taken port, faults by member, the health check). The recipes
 * themselves are server_redis.c, server_etcd.c and server_zk.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "live/servers_internal.h"
#if HAVE_HIREDIS
#include "live/redis_hiredis.h"
#endif

#define START_TRIES 3

const char *live_kind_name(enum live_kind kind)
{
    switch (kind) {
    case LIVE_REDIS:
        return "redis";
    case LIVE_SENTINEL:
        return "sentinel";
    case LIVE_ETCD:
        return "etcd";
    case LIVE_ZOOKEEPER:
        return "zookeeper";
    }
    return "?";
}

static int64_t default_timeout(enum live_kind kind)
{
    switch (kind) {
    case LIVE_REDIS:
        return 10000000000LL;
    case LIVE_ZOOKEEPER:
        return 60000000000LL;
    default:
        return 30000000000LL;
    }
}

int live__need_exe(const char *prog, const char *package, char *out, size_t cap, char *err,
                   size_t errlen)
{
    if (live_find_exe(prog, out, cap) == 0)
        return 0;
    snprintf(err, errlen,
             "%s is not installed (not on PATH); install it with: apt-get install -y %s", prog,
             package);
    return -ENOENT;
}

void live__join_addrs(struct live_cluster *c, int from, int to)
{
    size_t off = 0;
    c->addrs[0] = 0;
    for (int i = from; i < to && off < sizeof(c->addrs); i++) {
        int k = snprintf(c->addrs + off, sizeof(c->addrs) - off, "%s%s", i > from ? "," : "",
                         c->m[i].addr);
        off += k > 0 ? (size_t)k : 0;
    }
}

int live__write_file(const char *path, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        int e = errno ? errno : EIO;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

int live__member_init(struct live_cluster *c, int i, const char *name, int nports, char *err,
                      size_t errlen)
{
    struct live__member *m = &c->m[i];
    m->c = c;
    m->index = i;
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->dir, sizeof(m->dir), "%s/%s", live_dir_path(c->dir), name);
    if (mkdir(m->dir, 0700) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create %s: %s", m->dir, strerror(e));
        return -e;
    }
    for (int k = 0; k < nports; k++) {
        int port = live_free_port();
        if (port < 0) {
            snprintf(err, errlen, "no free port on 127.0.0.1: %s", strerror(-port));
            return port;
        }
        m->port[k] = port;
    }
    return 0;
}

int live__member_proc(struct live__member *m, const char *const *argv, live_probe_fn probe,
                      char *err, size_t errlen)
{
    struct live_proc_cfg cfg = {
        .name = m->name,
        .argv = argv,
        .probe = probe,
        .probe_arg = m,
        .ready_timeout_ns = m->c->opts.ready_timeout_ns,
    };
    m->proc = live_proc_new(m->c->dir, &cfg);
    if (!m->proc) {
        snprintf(err, errlen, "cannot register %s: out of memory or too many servers", m->name);
        return -ENOMEM;
    }
    return 0;
}

/* Free every member's process (stopping it) and the directory. */
static void teardown(struct live_cluster *c)
{
    for (int i = 0; i < LIVE_CLUSTER_MAX; i++) {
        if (c->m[i].proc) {
            live_proc_stop(c->m[i].proc, 0);
            live_proc_free(c->m[i].proc);
        }
    }
    memset(c->m, 0, sizeof(c->m));
    for (int i = 0; i < LIVE_CLUSTER_MAX; i++) {
        live_lagrelay_stop(c->relay[i]);
        c->relay[i] = NULL;
    }
    live_dir_remove(c->dir);
    c->dir = NULL;
    c->n = 0;
}

static int prepare(struct live_cluster *c, int n, char *err, size_t errlen)
{
    switch (c->kind) {
#if HAVE_HIREDIS
    case LIVE_REDIS:
        return live__redis_prepare(c, n, err, errlen);
    case LIVE_SENTINEL:
        return live__sentinel_prepare(c, n, err, errlen);
#endif
#if HAVE_CURL
    case LIVE_ETCD:
        return live__etcd_prepare(c, n, err, errlen);
#endif
#if HAVE_ZOOKEEPER
    case LIVE_ZOOKEEPER:
        return live__zk_prepare(c, n, err, errlen);
#endif
    default:
        snprintf(err, errlen,
                 "distlab was built without the %s client library, which the "
                 "%s recipe needs to see that a server is ready",
                 c->kind == LIVE_ETCD        ? "libcurl"
                 : c->kind == LIVE_ZOOKEEPER ? "zookeeper_mt"
                                             : "hiredis",
                 live_kind_name(c->kind));
        return -ENOTSUP;
    }
}

/* Spawn every member, then wait for each (one deadline per member, counted from when
 * the wait for it begins, so members that start together are not charged twice); then
 * the same for the late ones: a sentinel that meets a primary whose replicas are not yet
 * attached learns of them only at its next INFO, 10 s later. */
static int start_once(struct live_cluster *c, int n, char *err, size_t errlen)
{
    int rc = live_dir_create(live_kind_name(c->kind), &c->dir, err, errlen);
    if (rc < 0)
        return rc;
    if ((rc = prepare(c, n, err, errlen)) < 0)
        return rc;
    for (int late = 0; late < 2; late++) {
        for (int i = 0; i < c->n; i++)
            if (c->m[i].late == late && (rc = live_proc_spawn(c->m[i].proc, err, errlen)) < 0)
                return rc;
        for (int i = 0; i < c->n; i++)
            if (c->m[i].late == late &&
                (rc = live_proc_wait_ready(c->m[i].proc, -1, err, errlen)) < 0)
                return rc;
    }
    for (int i = 0; i < c->n; i++)
        c->m[i].restarted = true;
    return 0;
}

int live_cluster_start(enum live_kind kind, int n, const struct live_cluster_opts *opts,
                       struct live_cluster **out, char *err, size_t errlen)
{
    static _Thread_local char sink[8];
    if (!err) {
        err = sink;
        errlen = sizeof(sink);
    }
    err[0] = 0;
    *out = NULL;
    int most = kind == LIVE_SENTINEL ? LIVE_CLUSTER_MAX - 2 : LIVE_CLUSTER_MAX;
    if (n < 1 || n > most) {
        snprintf(err, errlen, "a %s cluster has 1 to %d %s, not %d", live_kind_name(kind), most,
                 kind == LIVE_SENTINEL ? "replicas" : "members", n);
        return -EINVAL;
    }
    struct live_cluster *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->kind = kind;
    if (opts)
        c->opts = *opts;
    const char *env = getenv("DISTLAB_READY_TIMEOUT");
    double env_s = env ? atof(env) : 0;
    if (c->opts.ready_timeout_ns <= 0 && env_s > 0)
        c->opts.ready_timeout_ns = (int64_t)(env_s * 1e9);
    if (c->opts.ready_timeout_ns <= 0)
        c->opts.ready_timeout_ns = default_timeout(kind);
    int rc = -EADDRINUSE;
    for (int t = 0; t < START_TRIES && rc == -EADDRINUSE; t++) {
        if ((rc = start_once(c, n, err, errlen)) < 0)
            teardown(c);
    }
    if (rc < 0) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void live_cluster_stop(struct live_cluster *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) /* all at once: members that wait for peers go faster */
        if (live_proc_pid(c->m[i].proc) > 0)
            live_proc_resume(c->m[i].proc);
    for (int i = 0; i < c->n; i++)
        live_proc_stop(c->m[i].proc, 2000000000LL);
    teardown(c);
    free(c);
}

const char *live_cluster_addrs(const struct live_cluster *c)
{
    return c->addrs;
}

enum live_kind live_cluster_kind(const struct live_cluster *c)
{
    return c->kind;
}

const char *live_cluster_dir(const struct live_cluster *c)
{
    return live_dir_path(c->dir);
}

int live_cluster_size(const struct live_cluster *c)
{
    return c->n;
}

static const struct live__member *member(const struct live_cluster *c, int i)
{
    return i >= 0 && i < c->n ? &c->m[i] : NULL;
}

const char *live_cluster_name(const struct live_cluster *c, int i)
{
    const struct live__member *m = member(c, i);
    return m ? m->name : NULL;
}

const char *live_cluster_addr(const struct live_cluster *c, int i)
{
    const struct live__member *m = member(c, i);
    return m ? m->addr : NULL;
}

int live_cluster_find(const struct live_cluster *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->m[i].name, name) == 0)
            return i;
    return -ENOENT;
}

pid_t live_cluster_pid(const struct live_cluster *c, int i)
{
    const struct live__member *m = member(c, i);
    return m ? live_proc_pid(m->proc) : 0;
}

int live_cluster_pause(struct live_cluster *c, int i)
{
    return member(c, i) ? live_proc_pause(c->m[i].proc) : -EINVAL;
}

int live_cluster_resume(struct live_cluster *c, int i)
{
    return member(c, i) ? live_proc_resume(c->m[i].proc) : -EINVAL;
}

int live_cluster_kill(struct live_cluster *c, int i)
{
    return member(c, i) ? live_proc_kill(c->m[i].proc) : -EINVAL;
}

int live_cluster_restart(struct live_cluster *c, int i, bool wait, char *err, size_t errlen)
{
    if (!member(c, i)) {
        if (err)
            snprintf(err, errlen, "no member %d in this %s cluster", i, live_kind_name(c->kind));
        return -EINVAL;
    }
    int rc = live_proc_spawn(c->m[i].proc, err, errlen);
    if (rc == 0 && wait)
        rc = live_proc_wait_ready(c->m[i].proc, -1, err, errlen);
    return rc;
}

int live_server_ping(enum live_kind kind, const char *addr, int64_t timeout_ns)
{
    switch (kind) {
#if HAVE_HIREDIS
    case LIVE_REDIS:
    case LIVE_SENTINEL:
        return live_redis_ping(addr, timeout_ns);
#endif
#if HAVE_CURL
    case LIVE_ETCD:
        return live__etcd_ping(addr, timeout_ns);
#endif
#if HAVE_ZOOKEEPER
    case LIVE_ZOOKEEPER:
        return live__zk_ping(addr, timeout_ns);
#endif
    default:
        return -ENOTSUP;
    }
}

int live_cluster_cut_replication(struct live_cluster *c, const void *pattern, size_t len)
{
    int n = 0;
    for (int i = 0; i < LIVE_CLUSTER_MAX; i++) {
        if (c->relay[i]) {
            int rc = live_lagrelay_cut(c->relay[i], pattern, len);
            if (rc < 0)
                return rc;
            n++;
        }
    }
    return n ? 0 : -ENOENT;
}

int live_cluster_cut_landed(struct live_cluster *c)
{
    int landed = 0;
    for (int i = 0; i < LIVE_CLUSTER_MAX; i++) {
        if (c->relay[i]) {
            uint64_t d, x, l;
            live_lagrelay_stats(c->relay[i], &d, &x, &l);
            landed += (int)l;
        }
    }
    return landed;
}

int live_cluster_check(struct live_cluster *c, char *why, size_t cap)
{
    for (int i = 0; i < c->n; i++) {
        int rc = live_proc_check(c->m[i].proc, why, cap);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* zk_client.c - client/zk.h over libzookeeper-mt (see zk_client.h). The library's
 * completion thread calls our watcher; everything it reports goes into the handle's
 * queue under a mutex, where the owner's zk_wait finds it. */
#define THREADED /* the synchronous API (see NOTES.md) */
#include "live/zk_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

struct lzk {
    struct zk base;
    zhandle_t *zh;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    enum zk_state state;
    uint64_t disconnects; /* connections lost: CONNECTED, then CONNECTING */
    struct zk_event *q;   /* a ring */
    size_t head, n, cap;
};

static struct lzk *handle(struct zk *z)
{
    return (struct lzk *)(void *)z;
}

static void quiet_log(void)
{
    const char *v = getenv("DISTLAB_ZK_LOG");
    int level = v ? atoi(v) : 0;
    zoo_set_debug_level(level >= 1 && level <= 4 ? (ZooLogLevel)level : (ZooLogLevel)0);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static enum zk_state map_state(int state)
{
    if (state == ZOO_CONNECTED_STATE)
        return ZK_STATE_CONNECTED;
    if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
        return ZK_STATE_EXPIRED;
    return ZK_STATE_CONNECTING;
}

static void push(struct lzk *c, enum zk_event_type t, const char *path)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        struct zk_event *v = malloc(cap * sizeof(*v));
        if (!v)
            return;
        for (size_t i = 0; i < c->n; i++)
            v[i] = c->q[(c->head + i) % c->cap];
        free(c->q);
        c->q = v;
        c->head = 0;
        c->cap = cap;
    }
    struct zk_event *ev = &c->q[(c->head + c->n++) % c->cap];
    ev->type = t;
    ev->state = c->state;
    snprintf(ev->path, sizeof(ev->path), "%s", path ? path : "");
}

/* The library's completion thread calls this for every notification (a session event,
 * or a watch firing: one call per path even when two of our watches fire there). */
static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    struct lzk *c = ctx;
    pthread_mutex_lock(&c->mu);
    if (type == ZOO_SESSION_EVENT) {
        enum zk_state s = map_state(state);
        if (c->state != ZK_STATE_EXPIRED && c->state != ZK_STATE_CLOSED && s != c->state) {
            c->disconnects += c->state == ZK_STATE_CONNECTED && s == ZK_STATE_CONNECTING;
            c->state = s;
            push(c, ZK_EV_SESSION, NULL);
        }
    } else if (type == ZOO_CREATED_EVENT || type == ZOO_DELETED_EVENT ||
               type == ZOO_CHANGED_EVENT || type == ZOO_CHILD_EVENT) {
        push(c, (enum zk_event_type)type, path);
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- Calls ------------------------------------------------------------------------------- */

static int finish(struct lzk *c, int rc)
{
    c->base.rc = rc;
    return zk_rc_errno(rc);
}

static int check_path(struct lzk *c, const char *path, bool sequential)
{
    if (!path)
        return finish(c, ZK_BADARGUMENTS);
    if (strlen(path) > ZK_PATH_MAX) {
        c->base.rc = ZK_BADARGUMENTS;
        return -E2BIG;
    }
    return zk_path_check(path, sequential) ? finish(c, ZK_BADARGUMENTS) : 0;
}

static void stat_of(const struct Stat *s, struct zk_stat *out)
{
    if (!out)
        return;
    *out = (struct zk_stat){.czxid = s->czxid,
                            .mzxid = s->mzxid,
                            .pzxid = s->pzxid,
                            .ctime_ms = s->ctime,
                            .mtime_ms = s->mtime,
                            .version = s->version,
                            .cversion = s->cversion,
                            .ephemeral_owner = s->ephemeralOwner,
                            .data_length = s->dataLength,
                            .num_children = s->numChildren};
}

static int l_create(struct zk *z, const char *path, const void *data, size_t len, unsigned flags,
                    char *out, size_t cap, struct zk_stat *st)
{
    struct lzk *c = handle(z);
    int rc = zk_create_check(path, data, len, flags);
    if (rc < 0) {
        c->base.rc = ZK_BADARGUMENTS;
        return rc;
    }
    int mode =
        (flags & ZK_EPHEMERAL ? ZOO_EPHEMERAL : 0) | (flags & ZK_SEQUENCE ? ZOO_SEQUENCE : 0);
    char name[ZK_PATH_MAX + 1];
    struct Stat s;
    memset(&s, 0, sizeof(s));
    rc = zoo_create2(c->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE, mode, name,
                     sizeof(name), &s);
    if (rc == ZOK) {
        if (out && cap)
            snprintf(out, cap, "%s", name);
        stat_of(&s, st);
    }
    return finish(c, rc);
}

static int l_delete(struct zk *z, const char *path, int32_t version)
{
    struct lzk *c = handle(z);
    int rc = check_path(c, path, false);
    return rc < 0 ? rc : finish(c, zoo_delete(c->zh, path, version));
}

static int l_exists(struct zk *z, const char *path, bool watch, struct zk_stat *st)
{
    struct lzk *c = handle(z);
    int rc = check_path(c, path, false);
    if (rc < 0)
        return rc;
    struct Stat s;
    rc = zoo_exists(c->zh, path, watch, &s);
    if (rc == ZOK)
        stat_of(&s, st);
    return finish(c, rc);
}

static int l_get(struct zk *z, const char *path, bool watch, void *buf, size_t cap,
                 struct zk_stat *st)
{
    struct lzk *c = handle(z);
    int rc = check_path(c, path, false);
    if (rc < 0)
        return rc;
    char one;
    int len = cap > 0x7fffffff ? 0x7fffffff : (int)cap;
    struct Stat s;
    rc = zoo_get(c->zh, path, watch, cap ? buf : &one, &len, &s);
    if (rc != ZOK)
        return finish(c, rc);
    stat_of(&s, st);
    finish(c, rc);
    return len < 0 ? 0 : len; /* -1: a node created without data */
}

/* Copies the names out of the library's vector (one allocation, zk_children_alloc). */
static int copy_children(const struct String_vector *v, struct zk_children *out)
{
    size_t bytes = 0;
    for (int i = 0; i < v->count; i++)
        bytes += strlen(v->data[i]) + 1;
    char *p = zk_children_alloc(out, (size_t)v->count, bytes);
    for (int i = 0; p && i < v->count; i++) {
        size_t l = strlen(v->data[i]) + 1;
        memcpy(p, v->data[i], l);
        out->names[out->n++] = p;
        p += l;
    }
    return p ? 0 : -ENOMEM;
}

static int l_children(struct zk *z, const char *path, bool watch, struct zk_children *out)
{
    struct lzk *c = handle(z);
    out->n = 0;
    out->names = NULL;
    int rc = check_path(c, path, false);
    if (rc < 0)
        return rc;
    struct String_vector v = {0, NULL};
    rc = zoo_get_children(c->zh, path, watch, &v);
    if (rc != ZOK)
        return finish(c, rc);
    finish(c, rc);
    rc = copy_children(&v, out);
    deallocate_String_vector(&v);
    return rc;
}

/* Create, then list the parent without waiting (zk_create_list): the C client's
 * asynchronous calls queue both requests on the session's one connection, in the order
 * made, and ZooKeeper's FIFO client order answers them in that order; the library's
 * completion thread reports each reply here, and the owner waits for both. */
struct pipelined {
    struct lzk *c;
    int pending;
    int create_rc, list_rc;
    char name[ZK_PATH_MAX + 1];
    struct Stat st;
    struct zk_children *kids;
};

static void created(int rc, const char *name, const struct Stat *st, const void *data)
{
    struct pipelined *p = (void *)(uintptr_t)data;
    pthread_mutex_lock(&p->c->mu);
    p->create_rc = rc;
    if (rc == ZOK) {
        snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
        if (st)
            p->st = *st;
    }
    p->pending--;
    pthread_cond_broadcast(&p->c->cv);
    pthread_mutex_unlock(&p->c->mu);
}

static void listed(int rc, const struct String_vector *v, const void *data)
{
    struct pipelined *p = (void *)(uintptr_t)data;
    pthread_mutex_lock(&p->c->mu);
    p->list_rc = rc;
    if (rc == ZOK && v && copy_children(v, p->kids) < 0)
        p->list_rc = ZSYSTEMERROR;
    p->pending--;
    pthread_cond_broadcast(&p->c->cv);
    pthread_mutex_unlock(&p->c->mu);
}

static int l_create_list(struct zk *z, const char *path, const void *data, size_t len,
                         unsigned flags, char *out, size_t cap, struct zk_stat *st, bool watch,
                         struct zk_children *kids, int *list_rc)
{
    struct lzk *c = handle(z);
    kids->n = 0;
    kids->names = NULL;
    char parent[ZK_PATH_MAX + 1];
    int rc = zk_create_check(path, data, len, flags);
    if (rc == 0 && zk_parent(path, parent, sizeof(parent)) < 0)
        rc = -EINVAL;
    if (rc < 0) {
        c->base.rc = ZK_BADARGUMENTS;
        *list_rc = rc;
        return rc;
    }
    int mode =
        (flags & ZK_EPHEMERAL ? ZOO_EPHEMERAL : 0) | (flags & ZK_SEQUENCE ? ZOO_SEQUENCE : 0);
    struct pipelined p = {.c = c, .pending = 0, .list_rc = ZSYSTEMERROR, .kids = kids};
    pthread_mutex_lock(&c->mu); /* the completions wait until both are queued */
    p.create_rc = zoo_acreate2(c->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE, mode,
                               created, &p);
    if (p.create_rc == ZOK) {
        p.pending++;
        int lr = zoo_aget_children(c->zh, parent, watch, listed, &p);
        if (lr == ZOK)
            p.pending++;
        else
            p.list_rc = lr;
    }
    while (p.pending > 0)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (p.create_rc != ZOK || p.list_rc != ZOK)
        zk_children_free(kids); /* a listing behind a failed create is discarded */
    if (p.create_rc != ZOK) {
        rc = finish(c, p.create_rc);
        *list_rc = rc;
        return rc;
    }
    if (out && cap)
        snprintf(out, cap, "%s", p.name);
    stat_of(&p.st, st);
    *list_rc = finish(c, p.list_rc);
    return 0;
}

/* ---- Waiting ------------------------------------------------------------------------------ */

static struct timespec deadline_of(int64_t timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + timeout_ns % 1000000000LL;
    ts.tv_sec += (time_t)(timeout_ns / 1000000000LL + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static int l_wait(struct zk *z, struct zk_event *ev, int64_t timeout_ns)
{
    struct lzk *c = handle(z);
    struct timespec until = deadline_of(timeout_ns > 0 ? timeout_ns : 0);
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (!c->n && rc == 0 && timeout_ns != 0) {
        if (c->state == ZK_STATE_EXPIRED || c->state == ZK_STATE_CLOSED)
            break;
        rc = timeout_ns < 0 ? pthread_cond_wait(&c->cv, &c->mu)
                            : pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    int got = c->n > 0;
    if (got) {
        *ev = c->q[c->head];
        c->head = (c->head + 1) % c->cap;
        c->n--;
    }
    pthread_mutex_unlock(&c->mu);
    return got;
}

static int l_await(struct zk *z, int64_t timeout_ns)
{
    struct lzk *c = handle(z);
    struct timespec until = deadline_of(timeout_ns > 0 ? timeout_ns : 0);
    pthread_mutex_lock(&c->mu);
    int rc = 0;
    while (c->state == ZK_STATE_CONNECTING && rc == 0 && timeout_ns != 0)
        rc = timeout_ns < 0 ? pthread_cond_wait(&c->cv, &c->mu)
                            : pthread_cond_timedwait(&c->cv, &c->mu, &until);
    enum zk_state s = c->state;
    pthread_mutex_unlock(&c->mu);
    return s == ZK_STATE_CONNECTED ? 0
           : s == ZK_STATE_EXPIRED ? -EKEYEXPIRED
           : s == ZK_STATE_CLOSED  ? -EBADFD
                                   : -ETIMEDOUT;
}

static void l_session(struct zk *z, struct zk_session *out)
{
    struct lzk *c = handle(z);
    pthread_mutex_lock(&c->mu);
    out->state = c->state;
    out->disconnects = c->disconnects;
    pthread_mutex_unlock(&c->mu);
    const clientid_t *id = zoo_client_id(c->zh);
    out->id = id ? id->client_id : 0;
    out->timeout_ns = (int64_t)zoo_recv_timeout(c->zh) * 1000000;
}

static void l_close(struct zk *z)
{
    struct lzk *c = handle(z);
    zookeeper_close(c->zh); /* closes the session if connected; joins the library's threads */
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->q);
    free(c);
}

static const struct zk_ops live_zk_ops = {
    .create = l_create,
    .remove = l_delete,
    .exists = l_exists,
    .get = l_get,
    .children = l_children,
    .create_list = l_create_list,
    .wait = l_wait,
    .await_connected = l_await,
    .session = l_session,
    .close = l_close,
};

struct zk *live_zk_connect(const char *hosts, int64_t session_timeout_ns)
{
    if (!hosts || !*hosts || session_timeout_ns <= 0 || session_timeout_ns / 1000000 > 0x7fffffff) {
        errno = EINVAL;
        return NULL;
    }
    pthread_once(&log_once, quiet_log);
    struct lzk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->base.ops = &live_zk_ops;
    c->state = ZK_STATE_CONNECTING;
    int ms = (int)(session_timeout_ns / 1000000);
    c->zh = zookeeper_init(hosts, watcher, ms > 0 ? ms : 1, NULL, c, 0);
    if (!c->zh) {
        int err = errno ? errno : EINVAL;
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        errno = err;
        return NULL;
    }
    return &c->base;
}

int live_zk_mode(const char *addr, int64_t timeout_ns, char *mode, size_t cap)
{
    unsigned port;
    if (!addr || sscanf(addr, "127.0.0.1:%u", &port) != 1 || port == 0 || port > 65535)
        return -EINVAL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct timeval tv = {(time_t)(timeout_ns / 1000000000LL),
                         (suseconds_t)(timeout_ns % 1000000000LL / 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[2048];
    size_t len = 0;
    int rc = 0;
    if (connect(fd, (void *)&a, sizeof(a)) < 0 || write(fd, "srvr", 4) != 4) {
        rc = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
    } else {
        ssize_t n;
        while (len + 1 < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
            len += (size_t)n;
        if (len == 0)
            rc = errno == EAGAIN ? -ETIMEDOUT : -EPROTO;
    }
    close(fd);
    buf[len] = 0;
    const char *m = rc == 0 ? strstr(buf, "Mode: ") : NULL;
    if (rc == 0 && !m)
        rc = -EPROTO;
    if (rc == 0)
        snprintf(mode, cap, "%.*s", (int)strcspn(m + 6, "\r\n"), m + 6);
    return rc;
}

int live_zk_ping(const char *hosts, int64_t timeout_ns)
{
    struct zk *z = live_zk_connect(hosts, timeout_ns > 0 ? timeout_ns : 1000000000LL);
    if (!z)
        return -EINVAL;
    int rc = zk_await_connected(z, timeout_ns);
    zk_close(z);
    return rc == 0 ? 0 : -ETIMEDOUT;
}

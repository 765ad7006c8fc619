/* zk_client.c - client/zk.h over simulated messages to sim/zk_model.c: the real client's
 * split between the caller, which sends its request and waits, and an I/O actor that
 * owns the connection (connects, pings, notices a dead connection, moves to the next
 * server, re-registers watches) and hands replies and notifications over. One call at a
 * time per handle, as the synchronous API the lock uses; a call is one request, or two
 * sent back to back (zk_create_list: a create and a read behind it), whose replies come
 * in the order sent (the server keeps the session's FIFO order, zk_model.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"
#include "sim/zk_internal.h"

enum phase { CALL_IDLE, CALL_QUEUED, CALL_SENT, CALL_DONE };

#define PIPE_MAX 2 /* requests of one call */

struct cwatch {
    uint8_t kind; /* enum sim__zk_wkind */
    char path[ZK_PATH_MAX + 1];
};

struct sim__zkc {
    struct zk base;
    struct sim_zk *ens;
    struct sim__zkc *next, **pprev; /* the ensemble's list of handles */
    struct env *owner;
    struct env_mutex mu;
    struct env_cond cv;

    /* the session */
    enum zk_state state;
    int64_t session, timeout_req, timeout; /* timeout: negotiated, 0 until then */
    int64_t last_zxid;

    /* the connection, kept by the I/O actor */
    int order[SIM_ZK_MAX_SERVERS];
    int nserv, cur, tried;
    uint32_t conn;
    struct sim_addr server, io;
    int64_t last_send, last_recv;
    uint64_t disconnects; /* connections lost */
    uint64_t io_handle;
    bool io_running, io_known, quit;

    /* the call in flight: nreq requests, the first nrep of them answered */
    enum phase phase;
    struct sim__zk_msg req[PIPE_MAX];
    int nreq, nrep;
    int call_rc; /* why the replies from nrep on did not come (when the call is done) */
    unsigned char *rep[PIPE_MAX];
    int64_t next_xid;

    /* notifications, a ring */
    struct zk_event *evq;
    size_t evh, evn, evcap;

    /* watches to set again on the next server */
    struct cwatch *w;
    size_t nw, capw;

    unsigned char *rbuf; /* the I/O actor's receive buffer */
};

static struct sim__zkc *handle(struct zk *z)
{
    return (struct sim__zkc *)(void *)z;
}

static int64_t cur_timeout(const struct sim__zkc *c)
{
    return c->timeout ? c->timeout : c->timeout_req;
}

/* ---- Under the handle's mutex ---------------------------------------------------------- */

static void push_event(struct sim__zkc *c, enum zk_event_type t, const char *path)
{
    if (c->evn == c->evcap) {
        size_t cap = c->evcap ? 2 * c->evcap : 16;
        struct zk_event *v = malloc(cap * sizeof(*v));
        if (!v)
            return;
        for (size_t i = 0; i < c->evn; i++)
            v[i] = c->evq[(c->evh + i) % c->evcap];
        free(c->evq);
        c->evq = v;
        c->evh = 0;
        c->evcap = cap;
    }
    struct zk_event *ev = &c->evq[(c->evh + c->evn++) % c->evcap];
    ev->type = t;
    ev->state = c->state;
    snprintf(ev->path, sizeof(ev->path), "%s", path ? path : "");
}

static void watch_keep(struct sim__zkc *c, uint8_t kind, const char *path)
{
    for (size_t i = 0; i < c->nw; i++)
        if (c->w[i].kind == kind && !strcmp(c->w[i].path, path))
            return;
    if (sim__zk_reserve((void **)&c->w, &c->capw, c->nw, sizeof(*c->w)) < 0)
        return;
    c->w[c->nw].kind = kind;
    snprintf(c->w[c->nw].path, sizeof(c->w[c->nw].path), "%s", path);
    c->nw++;
}

/* A notification consumes the watches it answers. */
static void watch_forget(struct sim__zkc *c, enum zk_event_type t, const char *path)
{
    size_t keep = 0;
    for (size_t i = 0; i < c->nw; i++) {
        bool child = c->w[i].kind == SIM__ZK_W_CHILD;
        bool gone =
            !strcmp(c->w[i].path, path) && (t == ZK_EV_DELETED || (t == ZK_EV_CHILD) == child);
        if (!gone)
            c->w[keep++] = c->w[i];
    }
    c->nw = keep;
}

/* The call in flight ends without its missing replies (rc: why). */
static void fail_call(struct sim__zkc *c, int rc)
{
    if (c->phase == CALL_QUEUED || c->phase == CALL_SENT) {
        c->phase = CALL_DONE;
        c->call_rc = rc;
    }
}

/* Send the call's requests back to back, without waiting for a reply in between. */
static void send_req(struct sim__zkc *c, struct env *e)
{
    for (int i = 0; i < c->nreq; i++) {
        c->req[i].session = c->session;
        c->req[i].conn = c->conn;
        c->req[i].port = c->io.port;
        sim_send(e, c->server, &c->req[i], sizeof(c->req[i]) + c->req[i].plen);
    }
    c->last_send = env_mono(e);
    c->phase = CALL_SENT;
}

/* ---- The I/O actor ------------------------------------------------------------------- */

static void io_send(struct sim__zkc *c, struct env *e, struct sim__zk_msg *m, size_t plen)
{
    m->magic = SIM__ZK_MAGIC;
    m->session = c->session;
    m->conn = c->conn;
    m->port = c->io.port;
    m->plen = (uint32_t)plen;
    sim_send(e, c->server, m, sizeof(*m) + plen);
    c->last_send = env_mono(e);
}

static void send_setwatches(struct sim__zkc *c, struct env *e)
{
    size_t plen = 0;
    for (size_t i = 0; i < c->nw; i++)
        plen += 2 + strlen(c->w[i].path);
    struct sim__zk_msg *m = calloc(1, sizeof(*m) + plen);
    if (!m)
        return;
    m->op = SIM__ZK_SETWATCHES;
    m->zxid = c->last_zxid;
    size_t off = 0;
    for (size_t i = 0; i < c->nw; i++) {
        size_t l = strlen(c->w[i].path) + 1;
        sim__zk_payload(m)[off++] = c->w[i].kind;
        memcpy(sim__zk_payload(m) + off, c->w[i].path, l);
        off += l;
    }
    io_send(c, e, m, plen);
    free(m);
}

/* A message for this connection from its server (or the owner's wake-up), or NULL. */
static const struct sim__zk_msg *accept_msg(struct sim__zkc *c, ssize_t n, struct sim_addr from)
{
    const struct sim__zk_msg *m = (const void *)c->rbuf;
    if (n < (ssize_t)sizeof(*m) || n > (ssize_t)SIM__ZK_MSG_MAX || m->magic != SIM__ZK_MAGIC ||
        m->plen != (size_t)n - sizeof(*m))
        return NULL;
    if (m->op == SIM__ZK_WAKE)
        return from.node == c->io.node ? m : NULL;
    return from.node == c->server.node && m->conn == c->conn ? m : NULL;
}

/* One connection attempt to the next server. Returns 1 connected, 0 failed, -1 the
 * session expired or the owner closed the handle. */
static int attempt(struct sim__zkc *c, struct env *e)
{
    if (c->tried >= c->nserv) {
        c->tried = 0; /* a whole round failed: wait a little before the next */
        env_sleep(e, cur_timeout(c) / 60);
    }
    env_mutex_lock(e, &c->mu);
    if (c->quit) {
        env_mutex_unlock(e, &c->mu);
        return -1;
    }
    c->server = sim_zk_addr(c->ens, c->order[c->cur]);
    c->cur = (c->cur + 1) % c->nserv;
    c->tried++;
    c->conn++;
    struct sim__zk_msg q;
    memset(&q, 0, sizeof(q));
    q.op = SIM__ZK_CONNECT;
    q.arg = c->timeout_req;
    q.zxid = c->last_zxid;
    io_send(c, e, &q, 0);
    env_mutex_unlock(e, &c->mu);

    int64_t deadline = env_mono(e) + cur_timeout(c) * 2 / 3;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        struct sim_addr from;
        ssize_t n = left > 0 ? sim_recv(e, c->rbuf, SIM__ZK_MSG_MAX, &from, left) : -ETIMEDOUT;
        if (n == -ETIMEDOUT)
            break;
        const struct sim__zk_msg *m = accept_msg(c, n, from);
        if (!m)
            continue;
        env_mutex_lock(e, &c->mu);
        if (c->quit) {
            env_mutex_unlock(e, &c->mu);
            return -1;
        }
        if (m->op == SIM__ZK_CONNECTED) {
            c->state = ZK_STATE_CONNECTED;
            c->session = m->session;
            c->timeout = m->arg; /* (a connect's answer carries no zxid: the watches sent
                                  * next are relative to the last reply's) */
            c->tried = 0;
            c->last_recv = env_mono(e);
            if (c->nw)
                send_setwatches(c, e);
            if (c->phase == CALL_QUEUED)
                send_req(c, e);
            push_event(c, ZK_EV_SESSION, NULL);
            env_cond_broadcast(e, &c->cv);
            env_mutex_unlock(e, &c->mu);
            return 1;
        }
        if (m->op == SIM__ZK_EXPIRED) {
            c->state = ZK_STATE_EXPIRED;
            fail_call(c, ZK_SESSIONEXPIRED);
            c->nw = 0;
            push_event(c, ZK_EV_SESSION, NULL);
            env_cond_broadcast(e, &c->cv);
            env_mutex_unlock(e, &c->mu);
            return -1;
        }
        env_mutex_unlock(e, &c->mu);
        if (m->op == SIM__ZK_CLOSED)
            break;
    }
    env_mutex_lock(e, &c->mu);
    fail_call(c, ZK_CONNECTIONLOSS); /* a queued call fails with the attempt */
    env_cond_broadcast(e, &c->cv);
    env_mutex_unlock(e, &c->mu);
    return 0;
}

/* Handle one message of the live connection. Returns false when it was closed. */
static bool on_msg(struct sim__zkc *c, struct env *e, const struct sim__zk_msg *m)
{
    c->last_recv = env_mono(e);
    if (m->zxid > c->last_zxid && m->op != SIM__ZK_EVENT)
        c->last_zxid = m->zxid;
    switch (m->op) {
    case SIM__ZK_REPLY: {
        /* replies come in the order the requests went: the next one answers req[nrep] */
        if (c->phase != CALL_SENT || c->nrep >= c->nreq || m->xid != c->req[c->nrep].xid)
            break;
        const struct sim__zk_msg *q = &c->req[c->nrep];
        unsigned char *t = c->rep[c->nrep]; /* the reply stays where it came: swap buffers */
        c->rep[c->nrep++] = c->rbuf;
        c->rbuf = t;
        if (q->watch && (m->rc == ZK_OK || (m->rc == ZK_NONODE && q->op == SIM__ZK_EXISTS)))
            watch_keep(c,
                       q->op == SIM__ZK_CHILDREN ? SIM__ZK_W_CHILD
                       : m->rc == ZK_NONODE      ? SIM__ZK_W_EXIST
                                                 : SIM__ZK_W_DATA,
                       q->path);
        if (c->nrep == c->nreq) {
            c->phase = CALL_DONE;
            env_cond_broadcast(e, &c->cv);
        }
        break;
    }
    case SIM__ZK_EVENT:
        watch_forget(c, (enum zk_event_type)m->arg, m->path);
        push_event(c, (enum zk_event_type)m->arg, m->path);
        env_cond_broadcast(e, &c->cv);
        break;
    case SIM__ZK_CLOSED:
        return false;
    default:
        break; /* PONG */
    }
    return true;
}

/* Keep the connection until it is lost (or the owner closes the handle). */
static void serve(struct sim__zkc *c, struct env *e)
{
    for (;;) {
        env_mutex_lock(e, &c->mu);
        if (c->quit) {
            env_mutex_unlock(e, &c->mu);
            return;
        }
        int64_t now = env_mono(e), t = cur_timeout(c);
        int64_t lost_at = c->last_recv + t * 2 / 3;
        int64_t ping_at = c->phase == CALL_SENT ? INT64_MAX : c->last_send + t / 3;
        if (now >= lost_at)
            break;
        if (now >= ping_at) {
            struct sim__zk_msg p;
            memset(&p, 0, sizeof(p));
            p.op = SIM__ZK_PING;
            io_send(c, e, &p, 0);
            env_mutex_unlock(e, &c->mu);
            continue;
        }
        env_mutex_unlock(e, &c->mu);
        int64_t wake = lost_at < ping_at ? lost_at : ping_at;
        struct sim_addr from;
        ssize_t n = sim_recv(e, c->rbuf, SIM__ZK_MSG_MAX, &from, wake - now);
        if (n == -ETIMEDOUT)
            continue;
        const struct sim__zk_msg *m = accept_msg(c, n, from);
        if (!m || m->op == SIM__ZK_WAKE)
            continue;
        env_mutex_lock(e, &c->mu);
        bool open = on_msg(c, e, m);
        env_mutex_unlock(e, &c->mu);
        if (!open) {
            env_mutex_lock(e, &c->mu);
            break;
        }
    }
    /* Lost (mutex held): tell the old server, if it can hear, and the owner. */
    struct sim__zk_msg d;
    memset(&d, 0, sizeof(d));
    d.op = SIM__ZK_DISCONNECT;
    io_send(c, e, &d, 0);
    c->state = ZK_STATE_CONNECTING;
    c->disconnects++;
    fail_call(c, ZK_CONNECTIONLOSS);
    push_event(c, ZK_EV_SESSION, NULL);
    env_cond_broadcast(e, &c->cv);
    env_mutex_unlock(e, &c->mu);
}

static void io_main(struct env *e, void *arg)
{
    struct sim__zkc *c = arg;
    env_mutex_lock(e, &c->mu);
    c->io = sim_env_addr(e);
    c->io_known = true;
    env_mutex_unlock(e, &c->mu);
    for (;;) {
        int rc = attempt(c, e);
        if (rc < 0)
            break;
        if (rc > 0)
            serve(c, e);
    }
    env_mutex_lock(e, &c->mu);
    c->io_running = false;
    env_cond_broadcast(e, &c->cv);
    env_mutex_unlock(e, &c->mu);
}

/* ---- The owner's calls ------------------------------------------------------------------ */

/* Send q[0..n) (no payloads) back to back and wait for their replies (in c->rep[0..n)),
 * or the reason the rest will not come. rc[i] gets the ZooKeeper code of request i: its
 * reply's, or CONNECTIONLOSS / SESSIONEXPIRED / INVALIDSTATE. */
static void call_n(struct sim__zkc *c, const struct sim__zk_msg *q, int n, int *rc)
{
    struct env *e = c->owner;
    env_mutex_lock(e, &c->mu);
    if (c->state == ZK_STATE_EXPIRED || c->state == ZK_STATE_CLOSED || !c->io_running) {
        env_mutex_unlock(e, &c->mu);
        for (int i = 0; i < n; i++)
            rc[i] = ZK_INVALIDSTATE;
        return;
    }
    for (int i = 0; i < n; i++) {
        c->req[i] = q[i];
        c->req[i].magic = SIM__ZK_MAGIC;
        c->req[i].xid = ++c->next_xid;
        c->req[i].plen = 0;
    }
    c->nreq = n;
    c->nrep = 0;
    c->call_rc = ZK_OK;
    c->phase = CALL_QUEUED;
    if (c->state == ZK_STATE_CONNECTED)
        send_req(c, e);
    while (c->phase != CALL_DONE)
        env_cond_wait(e, &c->cv, &c->mu, -1);
    c->phase = CALL_IDLE;
    for (int i = 0; i < n; i++)
        rc[i] =
            i < c->nrep ? ((const struct sim__zk_msg *)(const void *)c->rep[i])->rc : c->call_rc;
    env_mutex_unlock(e, &c->mu);
}

/* One request: the ZooKeeper code of its reply, or why none came. */
static int call(struct sim__zkc *c, const struct sim__zk_msg *q)
{
    int rc;
    call_n(c, q, 1, &rc);
    return rc;
}

static int finish(struct sim__zkc *c, int rc)
{
    c->base.rc = rc;
    return zk_rc_errno(rc);
}

static int check_path(struct sim__zkc *c, const char *path, bool sequential)
{
    if (!path)
        return finish(c, ZK_BADARGUMENTS);
    if (strlen(path) > ZK_PATH_MAX) {
        c->base.rc = ZK_BADARGUMENTS;
        return -E2BIG;
    }
    return zk_path_check(path, sequential) ? finish(c, ZK_BADARGUMENTS) : 0;
}

static const struct sim__zk_msg *reply(const struct sim__zkc *c, int i)
{
    return (const struct sim__zk_msg *)(const void *)c->rep[i];
}

/* A create's request into q, after checking its arguments: 0 or the error to return. */
static int create_req(struct sim__zkc *c, struct sim__zk_msg *q, const char *path, const void *data,
                      size_t len, unsigned flags)
{
    int rc = zk_create_check(path, data, len, flags);
    if (rc < 0) {
        c->base.rc = ZK_BADARGUMENTS;
        return rc;
    }
    memset(q, 0, sizeof(*q));
    q->op = SIM__ZK_CREATE;
    q->flags = flags;
    snprintf(q->path, sizeof(q->path), "%s", path);
    q->dlen = (uint32_t)len;
    if (len)
        memcpy(q->data, data, len);
    return 0;
}

/* The created node's name and Stat from reply i. */
static void created(const struct sim__zkc *c, int i, char *out, size_t cap, struct zk_stat *st)
{
    if (out && cap)
        snprintf(out, cap, "%s", reply(c, i)->path);
    if (st)
        *st = reply(c, i)->st;
}

static int c_create(struct zk *z, const char *path, const void *data, size_t len, unsigned flags,
                    char *out, size_t cap, struct zk_stat *st)
{
    struct sim__zkc *c = handle(z);
    struct sim__zk_msg q;
    int rc = create_req(c, &q, path, data, len, flags);
    if (rc < 0)
        return rc;
    rc = call(c, &q);
    if (rc == ZK_OK)
        created(c, 0, out, cap, st);
    return finish(c, rc);
}

static int c_delete(struct zk *z, const char *path, int32_t version)
{
    struct sim__zkc *c = handle(z);
    int rc = check_path(c, path, false);
    if (rc < 0)
        return rc;
    struct sim__zk_msg q;
    memset(&q, 0, sizeof(q));
    q.op = SIM__ZK_DELETE;
    q.version = version;
    snprintf(q.path, sizeof(q.path), "%s", path);
    return finish(c, call(c, &q));
}

/* A read: exists, get or children. */
static int read_call(struct sim__zkc *c, enum sim__zk_op op, const char *path, bool watch,
                     struct zk_stat *st)
{
    int rc = check_path(c, path, false);
    if (rc < 0)
        return rc;
    struct sim__zk_msg q;
    memset(&q, 0, sizeof(q));
    q.op = (uint16_t)op;
    q.watch = watch;
    snprintf(q.path, sizeof(q.path), "%s", path);
    rc = call(c, &q);
    if (rc == ZK_OK && st)
        *st = reply(c, 0)->st;
    return finish(c, rc);
}

static int c_exists(struct zk *z, const char *path, bool watch, struct zk_stat *st)
{
    return read_call(handle(z), SIM__ZK_EXISTS, path, watch, st);
}

static int c_get(struct zk *z, const char *path, bool watch, void *buf, size_t cap,
                 struct zk_stat *st)
{
    struct sim__zkc *c = handle(z);
    int rc = read_call(c, SIM__ZK_GET, path, watch, st);
    if (rc < 0)
        return rc;
    size_t n = reply(c, 0)->plen < cap ? reply(c, 0)->plen : cap;
    if (n)
        memcpy(buf, sim__zk_payload(reply(c, 0)), n);
    return (int)n;
}

/* The names of a children reply into out: 0 or -ENOMEM. */
static int names_of(const struct sim__zk_msg *m, struct zk_children *out)
{
    const unsigned char *p = sim__zk_payload(m);
    size_t k = 0;
    for (const unsigned char *q = p; (q = memchr(q, 0, m->plen - (size_t)(q - p))); q++)
        k++;
    char *names = zk_children_alloc(out, k, m->plen);
    if (!names)
        return -ENOMEM;
    memcpy(names, p, m->plen); /* NUL-separated already: point into the copy */
    for (size_t off = 0; off < m->plen && out->n < k; off += strlen(names + off) + 1)
        out->names[out->n++] = names + off;
    return 0;
}

static int c_children(struct zk *z, const char *path, bool watch, struct zk_children *out)
{
    struct sim__zkc *c = handle(z);
    out->n = 0;
    out->names = NULL;
    int rc = read_call(c, SIM__ZK_CHILDREN, path, watch, NULL);
    return rc < 0 ? rc : names_of(reply(c, 0), out);
}

/* The create and the listing of its parent go out back to back (call_n): the server
 * answers the listing after the create (the session's FIFO order, zk_model.c), so it
 * sees the new node, and both replies arrive after one round trip. A listing behind a
 * failed create is answered too, and discarded here. */
static int c_create_list(struct zk *z, const char *path, const void *data, size_t len,
                         unsigned flags, char *out, size_t cap, struct zk_stat *st, bool watch,
                         struct zk_children *kids, int *list_rc)
{
    struct sim__zkc *c = handle(z);
    kids->n = 0;
    kids->names = NULL;
    struct sim__zk_msg q[2];
    int rc = create_req(c, &q[0], path, data, len, flags);
    memset(&q[1], 0, sizeof(q[1]));
    if (rc == 0 && zk_parent(path, q[1].path, sizeof(q[1].path)) < 0)
        rc = finish(c, ZK_BADARGUMENTS); /* (a path zk_create_check passed has a parent) */
    if (rc < 0) {
        *list_rc = rc;
        return rc;
    }
    q[1].op = SIM__ZK_CHILDREN;
    q[1].watch = watch;
    int r[2];
    call_n(c, q, 2, r);
    if (r[0] != ZK_OK) {
        *list_rc = finish(c, r[0]);
        return *list_rc;
    }
    created(c, 0, out, cap, st);
    *list_rc = finish(c, r[1]);
    if (*list_rc == 0)
        *list_rc = names_of(reply(c, 1), kids);
    return 0;
}

static int c_wait(struct zk *z, struct zk_event *ev, int64_t timeout_ns)
{
    struct sim__zkc *c = handle(z);
    struct env *e = c->owner;
    int64_t deadline = env_mono(e) + timeout_ns;
    env_mutex_lock(e, &c->mu);
    while (!c->evn) {
        bool dead = c->state == ZK_STATE_EXPIRED || c->state == ZK_STATE_CLOSED;
        int64_t left = deadline - env_mono(e);
        if (dead || timeout_ns == 0 || (timeout_ns > 0 && left <= 0)) {
            env_mutex_unlock(e, &c->mu);
            return 0;
        }
        env_cond_wait(e, &c->cv, &c->mu, timeout_ns < 0 ? -1 : left);
    }
    *ev = c->evq[c->evh];
    c->evh = (c->evh + 1) % c->evcap;
    c->evn--;
    env_mutex_unlock(e, &c->mu);
    return 1;
}

static int c_await(struct zk *z, int64_t timeout_ns)
{
    struct sim__zkc *c = handle(z);
    struct env *e = c->owner;
    int64_t deadline = env_mono(e) + timeout_ns;
    env_mutex_lock(e, &c->mu);
    int rc;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        if (c->state == ZK_STATE_CONNECTED)
            rc = 0;
        else if (c->state == ZK_STATE_EXPIRED)
            rc = -EKEYEXPIRED;
        else if (c->state == ZK_STATE_CLOSED)
            rc = -EBADFD;
        else if (timeout_ns >= 0 && left <= 0)
            rc = -ETIMEDOUT;
        else {
            env_cond_wait(e, &c->cv, &c->mu, timeout_ns < 0 ? -1 : left);
            continue;
        }
        break;
    }
    env_mutex_unlock(e, &c->mu);
    return rc;
}

static void c_session(struct zk *z, struct zk_session *out)
{
    struct sim__zkc *c = handle(z);
    env_mutex_lock(c->owner, &c->mu);
    *out = (struct zk_session){c->state, c->session, cur_timeout(c), c->disconnects};
    env_mutex_unlock(c->owner, &c->mu);
}

void sim__zk_client_free(struct sim__zkc *c)
{
    if (c->next)
        c->next->pprev = c->pprev;
    *c->pprev = c->next;
    sim__sync_forget(&c->mu, &c->cv); /* actors the sim will destroy may still wait here */
    for (int i = 0; i < PIPE_MAX; i++)
        free(c->rep[i]);
    free(c->rbuf);
    free(c->evq);
    free(c->w);
    free(c);
}

/* Close the session if connected (its ephemeral nodes go at once), stop the I/O actor,
 * free the handle. */
static void c_close(struct zk *z)
{
    struct sim__zkc *c = handle(z);
    struct env *e = c->owner;
    env_mutex_lock(e, &c->mu);
    bool connected = c->state == ZK_STATE_CONNECTED;
    env_mutex_unlock(e, &c->mu);
    if (connected) {
        struct sim__zk_msg q;
        memset(&q, 0, sizeof(q));
        q.op = SIM__ZK_CLOSE;
        call(c, &q);
    }
    env_mutex_lock(e, &c->mu);
    c->state = ZK_STATE_CLOSED;
    c->quit = true;
    bool running = c->io_running, wake = c->io_known;
    struct sim_addr io = c->io;
    env_mutex_unlock(e, &c->mu);
    if (running && wake) { /* an I/O actor that has not run yet sees quit when it does */
        struct sim__zk_msg w;
        memset(&w, 0, sizeof(w));
        w.magic = SIM__ZK_MAGIC;
        w.op = SIM__ZK_WAKE;
        sim_send(e, io, &w, sizeof(w));
    }
    if (running)
        env_join(e, c->io_handle);
    env_mutex_destroy(e, &c->mu);
    env_cond_destroy(e, &c->cv);
    sim__zk_client_free(c);
}

static const struct zk_ops sim_zk_client_ops = {
    .create = c_create,
    .remove = c_delete,
    .exists = c_exists,
    .get = c_get,
    .children = c_children,
    .create_list = c_create_list,
    .wait = c_wait,
    .await_connected = c_await,
    .session = c_session,
    .close = c_close,
};

struct zk *sim_zk_connect(struct env *e, struct sim_zk *z, int64_t session_timeout_ns)
{
    if (!e || !z || session_timeout_ns <= 0)
        return NULL;
    struct sim__zkc *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    bool ok = (c->rbuf = malloc(SIM__ZK_MSG_MAX)) != NULL;
    for (int i = 0; i < PIPE_MAX; i++) /* (pages that no reply touches stay unmapped) */
        ok = (c->rep[i] = malloc(SIM__ZK_MSG_MAX)) != NULL && ok;
    bool mu = ok && env_mutex_init(e, &c->mu) == 0;
    if (!mu || env_cond_init(e, &c->cv) < 0) {
        if (mu)
            env_mutex_destroy(e, &c->mu);
        for (int i = 0; i < PIPE_MAX; i++)
            free(c->rep[i]);
        free(c->rbuf);
        free(c);
        return NULL;
    }
    c->base.ops = &sim_zk_client_ops;
    c->ens = z;
    c->owner = e;
    c->state = ZK_STATE_CONNECTING;
    c->timeout_req = session_timeout_ns;
    c->nserv = sim_zk_servers(z);
    for (int i = 0; i < c->nserv; i++)
        c->order[i] = i;
    for (int i = c->nserv - 1; i > 0; i--) { /* the real client shuffles its hosts */
        int j = (int)env_rand_below(e, (uint64_t)i + 1), t = c->order[i];
        c->order[i] = c->order[j];
        c->order[j] = t;
    }
    struct sim__zkc **head = sim__zk_registry(z);
    c->next = *head;
    if (c->next)
        c->next->pprev = &c->next;
    c->pprev = head;
    *head = c;
    char name[96];
    snprintf(name, sizeof(name), "%s/zk-io", env_name(e));
    c->io_running = true;
    if (env_spawn(e, name, io_main, c, &c->io_handle) < 0) {
        env_mutex_destroy(e, &c->mu);
        env_cond_destroy(e, &c->cv);
        sim__zk_client_free(c);
        return NULL;
    }
    return &c->base;
}

/* zk_model.c - the simulated ZooKeeper servers (see zk_model.h and sim/README.md): one
 * main actor per server node runs the election, the leader's ordered broadcast, the
 * follower's side of it, sessions and watches. Never reads a real clock; every time is
 * the node's monotonic clock, except the leader's wall clock in a node's ctime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/internal.h"
#include "sim/zk_internal.h"

#define PEER_MAX (16u << 20) /* a server's receive buffer: snapshots are the largest */
#define WBUCKETS 256u

enum role { LOOKING, FOLLOWING, LEADING };

/* A client's connection to this server. */
struct conn {
    int64_t session;
    uint32_t conn;
    struct sim_addr addr; /* the client's I/O actor */
    bool touched;         /* since the last report to the leader */
    int64_t xid;          /* a write waiting for its commit here; 0: none */
    /* Reads that came behind that write, held until it is answered: ZooKeeper answers a
     * session's requests in the order they came (its FIFO client order; the real
     * server's CommitProcessor holds a session's reads behind its pending write), so a
     * read pipelined behind a write sees it. (The client model pipelines a read behind
     * a write, never two writes.) */
    struct sim__zk_msg *held;
    size_t nheld, capheld;
};

/* A connect waiting for the leader: a new session, or the revalidation of an old one. */
struct pconnect {
    int64_t cookie;
    struct sim_addr addr;
    uint32_t conn;
};

struct prop {
    struct sim__zk_txn txn;
    uint32_t acks; /* servers (bits) that have logged it */
};

struct track {
    int64_t last, timeout;
    bool closing;
};

/* The sessions watching one path, in one of the two tables (data+exist, child). */
struct watch {
    struct watch *next;
    uint8_t child;
    int64_t *sess;
    size_t n, cap;
    char path[];
};

struct vote {
    int64_t epoch, zxid;
    int id;
};

struct peervote {
    bool have;
    int64_t round;
    struct vote v;
    int state; /* enum role of the sender */
};

struct server {
    struct sim_zk *ens;
    int id, node;
    struct env *e; /* the main actor's, while it runs */

    /* Durable: the log (as the state it leads to) and the accepted epoch. */
    struct sim__zk_tree *disk;
    int64_t accepted_epoch;

    /* Volatile: rebuilt at each start. */
    enum role role;
    bool serving;
    int leader;
    int64_t epoch;
    struct sim__zk_tree *tree; /* what was committed and applied */
    struct sim__zk_tree *prep; /* leader: the state every proposal leads to */
    struct prop *props;        /* proposed, not yet committed, in zxid order */
    size_t nprops, capprops;
    struct sim__zk_txn *logq; /* waiting for the log, logq[0..batch) being written */
    size_t nlogq, caplogq, batch;
    bool busy;
    int64_t batch_done;
    int64_t next_tick;

    struct sim__map conns; /* session -> struct conn */
    struct pconnect *pc;
    size_t npc, cappc;
    int64_t next_cookie;
    struct watch *wb[WBUCKETS];

    /* election */
    int64_t round;
    struct vote vote;
    struct peervote votes[SIM_ZK_MAX_SERVERS];
    int64_t finalize_at; /* 0: not armed */

    /* following / leading */
    int64_t heard, since;
    bool synced;
    bool active;
    int64_t next_zxid, next_session;
    struct {
        bool attached, synced;
        int64_t heard, nonce;
    } fol[SIM_ZK_MAX_SERVERS];
    int64_t follow_seq;    /* FOLLOWINFOs are numbered, so a repeated one is seen as such */
    struct sim__map track; /* session -> struct track */

    unsigned char *buf, *obuf; /* receive and send buffers, PEER_MAX each */
};

struct sim_zk {
    struct sim *sim;
    struct sim_zk_cfg cfg;
    int n;
    struct server srv[SIM_ZK_MAX_SERVERS];
    struct sim_zk_stats st;
    struct sim__map history; /* zxid -> (running hash | 1) once some server applied it */
    struct sim__map epochs;  /* epoch -> leader id + 1 */
    const char *broken;      /* the first invariant that broke */
    struct sim__zkc *clients;
};

struct sim__zkc **sim__zk_registry(struct sim_zk *z)
{
    return &z->clients;
}

/* ---- Small helpers ------------------------------------------------------------------ */

static void broke(struct sim_zk *z, const char *why)
{
    if (!z->broken)
        z->broken = why;
}

static int quorum(const struct sim_zk *z)
{
    return z->n / 2 + 1;
}

static int64_t tick(const struct server *s)
{
    return s->ens->cfg.tick_ns;
}

static struct sim_addr peer_addr(const struct sim_zk *z, int id)
{
    return (struct sim_addr){z->srv[id].node, z->cfg.port + 1};
}

static void msg_init(struct sim__zk_msg *m, enum sim__zk_op op)
{
    memset(m, 0, sizeof(*m));
    m->magic = SIM__ZK_MAGIC;
    m->op = (uint16_t)op;
}

static void send_peer(struct server *s, int to, struct sim__zk_msg *m, size_t plen)
{
    m->magic = SIM__ZK_MAGIC;
    m->from_id = (uint8_t)s->id;
    m->plen = (uint32_t)plen;
    sim_send(s->e, peer_addr(s->ens, to), m, sizeof(*m) + plen);
}

static void send_client(struct server *s, struct sim_addr to, uint32_t conn, struct sim__zk_msg *m,
                        size_t plen)
{
    m->magic = SIM__ZK_MAGIC;
    m->from_id = (uint8_t)s->id;
    m->conn = conn;
    m->plen = (uint32_t)plen;
    s->ens->st.client_msgs_out++;
    sim_send(s->e, to, m, sizeof(*m) + plen);
}

static void send_op(struct server *s, struct sim_addr to, uint32_t conn, enum sim__zk_op op)
{
    struct sim__zk_msg m;
    msg_init(&m, op);
    if (s->tree)
        m.zxid = s->tree->zxid;
    send_client(s, to, conn, &m, 0);
}

/* The checker's record: the running hash after 'zxid' on one server. Two servers that
 * applied different transactions up to one zxid disagree here. */
static void record(struct sim_zk *z, int64_t zxid, uint64_t hash)
{
    if (zxid <= 0)
        return;
    uintptr_t h = (uintptr_t)(hash | 1);
    void *v = sim__map_get(&z->history, (uint64_t)zxid);
    if (!v)
        sim__map_put(&z->history, (uint64_t)zxid, (void *)h);
    else if ((uintptr_t)v != h)
        broke(z, "two servers hold different histories at one zxid");
}

/* ---- Watches ------------------------------------------------------------------------ */

static size_t wslot(const char *path, int child)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)child;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h & (WBUCKETS - 1);
}

static struct watch **wfind(struct server *s, const char *path, int child)
{
    struct watch **w = &s->wb[wslot(path, child)];
    while (*w && ((*w)->child != child || strcmp((*w)->path, path) != 0))
        w = &(*w)->next;
    return w;
}

static void watch_add(struct server *s, const char *path, int child, int64_t session)
{
    struct watch **p = wfind(s, path, child);
    if (!*p) {
        size_t len = strlen(path);
        struct watch *w = calloc(1, sizeof(*w) + len + 1);
        if (!w)
            return;
        memcpy(w->path, path, len + 1);
        w->child = (uint8_t)child;
        *p = w;
    }
    struct watch *w = *p;
    for (size_t i = 0; i < w->n; i++)
        if (w->sess[i] == session)
            return; /* one watch per session and path, as ZooKeeper's sets */
    if (sim__zk_reserve((void **)&w->sess, &w->cap, w->n, sizeof(*w->sess)) < 0)
        return;
    w->sess[w->n++] = session;
}

static void event_to(struct server *s, int64_t session, const char *path, enum zk_event_type t)
{
    struct conn *c = sim__map_get(&s->conns, (uint64_t)session);
    if (!c)
        return;
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_EVENT);
    m.arg = t;
    snprintf(m.path, sizeof(m.path), "%s", path);
    s->ens->st.watch_events++;
    send_client(s, c->addr, c->conn, &m, 0);
}

/* Fire (and remove) the watches on path in one table; sessions in skip[0..nskip) were
 * already told. Returns the watch's session list for the caller to free (and to skip). */
static int64_t *watch_fire(struct server *s, const char *path, int child, enum zk_event_type t,
                           const int64_t *skip, size_t nskip, size_t *n)
{
    *n = 0;
    struct watch **p = wfind(s, path, child);
    struct watch *w = *p;
    if (!w)
        return NULL;
    *p = w->next;
    for (size_t i = 0; i < w->n; i++) {
        bool told = false;
        for (size_t j = 0; j < nskip && !told; j++)
            told = skip[j] == w->sess[i];
        if (!told)
            event_to(s, w->sess[i], path, t);
    }
    int64_t *v = w->sess;
    *n = w->n;
    free(w);
    return v;
}

static void on_trig(void *ctx, const char *path, enum sim__zk_trig what)
{
    struct server *s = ctx;
    size_t n = 0, m = 0;
    int64_t *told;
    switch (what) {
    case SIM__ZK_TRIG_CREATED:
        free(watch_fire(s, path, 0, ZK_EV_CREATED, NULL, 0, &n));
        break;
    case SIM__ZK_TRIG_DELETED:
        told = watch_fire(s, path, 0, ZK_EV_DELETED, NULL, 0, &n);
        free(watch_fire(s, path, 1, ZK_EV_DELETED, told, n, &m));
        free(told);
        break;
    case SIM__ZK_TRIG_CHILD:
        free(watch_fire(s, path, 1, ZK_EV_CHILD, NULL, 0, &n));
        break;
    }
}

static void watch_drop_session(struct server *s, int64_t session)
{
    for (size_t b = 0; b < WBUCKETS; b++) {
        struct watch **p = &s->wb[b];
        while (*p) {
            struct watch *w = *p;
            size_t keep = 0;
            for (size_t i = 0; i < w->n; i++)
                if (w->sess[i] != session)
                    w->sess[keep++] = w->sess[i];
            w->n = keep;
            if (!keep) {
                *p = w->next;
                free(w->sess);
                free(w);
            } else {
                p = &w->next;
            }
        }
    }
}

static void watch_clear(struct server *s)
{
    for (size_t b = 0; b < WBUCKETS; b++) {
        while (s->wb[b]) {
            struct watch *w = s->wb[b];
            s->wb[b] = w->next;
            free(w->sess);
            free(w);
        }
    }
}

/* ---- Connections --------------------------------------------------------------------- */

static void drop_conn(struct server *s, struct conn *c, bool tell)
{
    if (tell)
        send_op(s, c->addr, c->conn, SIM__ZK_CLOSED);
    watch_drop_session(s, c->session);
    sim__map_del(&s->conns, (uint64_t)c->session);
    free(c->held);
    free(c);
}

static void drop_all_conns(struct server *s, bool tell)
{
    size_t n = s->conns.n, k = 0;
    struct conn **all = n ? malloc(n * sizeof(*all)) : NULL;
    for (size_t i = 0; all && i < s->conns.cap; i++)
        if (s->conns.keys[i])
            all[k++] = s->conns.vals[i];
    for (size_t i = 0; i < k; i++)
        drop_conn(s, all[i], tell);
    free(all);
    sim__map_free(&s->conns);
    watch_clear(s);
    free(s->pc);
    s->pc = NULL;
    s->npc = s->cappc = 0;
}

/* Register a connection for a session (replacing an older one here, whose watches go:
 * the client sends them again) and tell the client. */
static void accept_conn(struct server *s, int64_t session, struct sim_addr addr, uint32_t cid)
{
    struct conn *old = sim__map_get(&s->conns, (uint64_t)session);
    if (old)
        drop_conn(s, old, old->conn != cid || old->addr.node != addr.node);
    struct conn *c = calloc(1, sizeof(*c));
    const struct sim__zk_sess *ss = sim__zk_sess_find(s->tree, session);
    if (!c || !ss || sim__map_put(&s->conns, (uint64_t)session, c) < 0) {
        free(c);
        send_op(s, addr, cid, SIM__ZK_CLOSED);
        return;
    }
    *c = (struct conn){.session = session, .conn = cid, .addr = addr, .touched = true};
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_CONNECTED);
    m.session = session;
    m.arg = ss->timeout_ns;
    m.zxid = s->tree->zxid;
    send_client(s, addr, cid, &m, 0);
}

static int64_t pconnect_add(struct server *s, struct sim_addr addr, uint32_t cid)
{
    if (sim__zk_reserve((void **)&s->pc, &s->cappc, s->npc, sizeof(*s->pc)) < 0)
        return 0;
    int64_t cookie = ++s->next_cookie;
    s->pc[s->npc++] = (struct pconnect){cookie, addr, cid};
    return cookie;
}

static bool pconnect_take(struct server *s, int64_t cookie, struct pconnect *out)
{
    for (size_t i = 0; i < s->npc; i++) {
        if (s->pc[i].cookie == cookie) {
            *out = s->pc[i];
            s->pc[i] = s->pc[--s->npc];
            return true;
        }
    }
    return false;
}

/* ---- The leader's session tracker ------------------------------------------------------ */

static void track_touch(struct server *s, int64_t session)
{
    struct track *t = sim__map_get(&s->track, (uint64_t)session);
    if (t && !t->closing)
        t->last = env_mono(s->e);
}

static void track_add(struct server *s, int64_t session, int64_t timeout)
{
    struct track *t = sim__map_get(&s->track, (uint64_t)session);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || sim__map_put(&s->track, (uint64_t)session, t) < 0) {
            free(t);
            return;
        }
    }
    *t = (struct track){env_mono(s->e), timeout, false};
}

static void track_clear(struct server *s)
{
    for (size_t i = 0; i < s->track.cap; i++)
        if (s->track.keys[i])
            free(s->track.vals[i]);
    sim__map_free(&s->track);
}

/* The session's end as ZooKeeper's expiry queue computes it: last touch plus timeout,
 * rounded up to the next tick boundary. */
static int64_t expire_at(const struct server *s, const struct track *t)
{
    return ((t->last + t->timeout) / tick(s) + 1) * tick(s);
}

/* ---- The log ---------------------------------------------------------------------- */

static void try_commit(struct server *s);

static void log_clear(struct server *s)
{
    s->nlogq = s->batch = 0;
    s->busy = false;
}

static void log_start(struct server *s);

/* The batch is on disk: the durable state takes it, the leader counts its own ack, a
 * follower acks to its leader. */
static void log_done(struct server *s)
{
    int64_t last = 0;
    for (size_t i = 0; i < s->batch; i++) {
        if (sim__zk_apply(s->disk, &s->logq[i], NULL, NULL) == -EPROTO)
            broke(s->ens, "a logged transaction does not apply to the server's log");
        last = s->logq[i].zxid;
    }
    memmove(s->logq, s->logq + s->batch, (s->nlogq - s->batch) * sizeof(*s->logq));
    s->nlogq -= s->batch;
    s->batch = 0;
    s->busy = false;
    if (last && s->role == LEADING) {
        for (size_t i = 0; i < s->nprops && s->props[i].txn.zxid <= last; i++)
            s->props[i].acks |= 1u << s->id;
        try_commit(s);
    } else if (last && s->role == FOLLOWING && s->synced) {
        struct sim__zk_msg m;
        msg_init(&m, SIM__ZK_ACK);
        m.zxid = last;
        m.arg2 = s->epoch;
        send_peer(s, s->leader, &m, 0);
    }
    log_start(s);
}

static void log_start(struct server *s)
{
    if (s->busy || !s->nlogq)
        return;
    s->batch = s->nlogq;
    s->busy = true;
    s->batch_done = env_mono(s->e) + s->ens->cfg.fsync_ns;
    if (s->ens->cfg.fsync_ns <= 0)
        log_done(s);
}

static void log_append(struct server *s, const struct sim__zk_txn *x)
{
    if (sim__zk_reserve((void **)&s->logq, &s->caplogq, s->nlogq, sizeof(*s->logq)) < 0)
        return;
    s->logq[s->nlogq++] = *x;
    log_start(s);
}

static void props_push(struct server *s, const struct sim__zk_txn *x)
{
    if (sim__zk_reserve((void **)&s->props, &s->capprops, s->nprops, sizeof(*s->props)) < 0)
        return;
    s->props[s->nprops++] = (struct prop){*x, 0};
}

static void props_pop(struct server *s, size_t k)
{
    memmove(s->props, s->props + k, (s->nprops - k) * sizeof(*s->props));
    s->nprops -= k;
}

/* ---- Applying a committed transaction ------------------------------------------------ */

static void do_read(struct server *s, const struct sim__zk_msg *q, struct conn *c);

static void reply_write(struct server *s, const struct sim__zk_txn *x)
{
    struct conn *c = sim__map_get(&s->conns, (uint64_t)x->session);
    if (!c || c->xid != x->xid)
        return;
    c->xid = 0;
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_REPLY);
    m.xid = x->xid;
    m.zxid = s->tree->zxid;
    m.rc = x->type == SIM__ZK_TXN_ERROR ? x->rc : ZK_OK;
    if (x->type == SIM__ZK_TXN_CREATE) {
        const struct sim__zk_node *n = sim__zk_find(s->tree, x->path);
        snprintf(m.path, sizeof(m.path), "%s", x->path);
        if (n)
            m.st = n->st;
    }
    send_client(s, c->addr, c->conn, &m, 0);
    /* then the reads that waited behind it, in the order they came, on the tree that
     * now holds the write (their CPU was spent when they arrived) */
    for (size_t i = 0; i < c->nheld; i++)
        do_read(s, &c->held[i], c);
    c->nheld = 0;
}

static void apply_committed(struct server *s, const struct sim__zk_txn *x)
{
    if (x->zxid <= s->tree->zxid) {
        broke(s->ens, "a server applied a zxid not above its last one");
        return;
    }
    int rc = sim__zk_apply(s->tree, x, on_trig, s);
    if (rc == -EPROTO)
        broke(s->ens, "a committed transaction does not apply (the servers diverged)");
    record(s->ens, x->zxid, s->tree->hash);
    bool mine = x->origin == s->id;
    if (s->role == LEADING && x->type == SIM__ZK_TXN_CREATE_SESSION)
        s->ens->st.sessions_created++;
    if (s->role == LEADING && x->type == SIM__ZK_TXN_CLOSE_SESSION && x->xid)
        s->ens->st.sessions_closed++;
    switch (x->type) {
    case SIM__ZK_TXN_CREATE_SESSION: {
        struct pconnect pc;
        if (mine && pconnect_take(s, x->xid, &pc))
            accept_conn(s, x->session, pc.addr, pc.conn);
        break;
    }
    case SIM__ZK_TXN_CLOSE_SESSION: {
        struct conn *c = sim__map_get(&s->conns, (uint64_t)x->session);
        if (c && mine && x->xid && c->xid == x->xid)
            reply_write(s, x);
        if (c)
            drop_conn(s, c, !(mine && x->xid)); /* an expiry closes the connection */
        if (s->role == LEADING) {
            struct track *t = sim__map_get(&s->track, (uint64_t)x->session);
            sim__map_del(&s->track, (uint64_t)x->session);
            free(t);
        }
        break;
    }
    default:
        if (mine)
            reply_write(s, x);
        break;
    }
}

/* ---- The leader --------------------------------------------------------------------- */

static void try_commit(struct server *s)
{
    size_t k = 0;
    while (k < s->nprops && __builtin_popcount(s->props[k].acks) >= quorum(s->ens)) {
        struct sim__zk_txn x = s->props[k].txn;
        k++;
        apply_committed(s, &x);
        s->ens->st.txns++;
        struct sim__zk_msg m;
        msg_init(&m, SIM__ZK_COMMIT);
        m.zxid = x.zxid;
        m.arg2 = s->epoch;
        for (int f = 0; f < s->ens->n; f++)
            if (f != s->id && s->fol[f].attached)
                send_peer(s, f, &m, 0);
    }
    props_pop(s, k);
}

/* Order a client's write (or the leader's own session close) and propose it. */
static void propose(struct server *s, struct sim__zk_txn *x)
{
    if (s->role != LEADING || !s->active)
        return;
    if (x->type == SIM__ZK_TXN_CREATE_SESSION && x->session == 0)
        x->session =
            ((int64_t)(s->id + 1) << 56) | ((s->epoch & 0xffffff) << 32) | ++s->next_session;
    x->zxid = s->next_zxid++;
    x->time_ms = env_now(s->e) / 1000000;
    sim__zk_prep(s->prep, x);
    if (sim__zk_apply(s->prep, x, NULL, NULL) == -EPROTO)
        broke(s->ens, "the leader's own proposal does not apply to its prepared state");
    if (x->type == SIM__ZK_TXN_CREATE_SESSION)
        track_add(s, x->session, x->timeout_ns);
    if (x->type == SIM__ZK_TXN_CLOSE_SESSION) {
        struct track *t = sim__map_get(&s->track, (uint64_t)x->session);
        if (t)
            t->closing = true;
    }
    props_push(s, x);
    struct sim__zk_msg *m = (struct sim__zk_msg *)(void *)s->obuf;
    msg_init(m, SIM__ZK_PROPOSE);
    m->arg2 = s->epoch;
    memcpy(sim__zk_payload(m), x, sizeof(*x));
    for (int f = 0; f < s->ens->n; f++)
        if (f != s->id && s->fol[f].attached)
            send_peer(s, f, m, sizeof(*x));
    log_append(s, x);
}

static void go_looking(struct server *s);

static void activate(struct server *s)
{
    struct sim_zk *z = s->ens;
    s->active = s->serving = true;
    for (size_t i = 0; i < s->tree->nsess; i++)
        track_add(s, s->tree->sess[i].id, s->tree->sess[i].timeout_ns);
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_UPTODATE);
    m.arg2 = s->epoch;
    for (int f = 0; f < z->n; f++)
        if (f != s->id && s->fol[f].attached && s->fol[f].synced)
            send_peer(s, f, &m, 0);
    z->st.elections++;
    z->st.leader_since = sim_env_true_now(s->e);
    void *who = sim__map_get(&z->epochs, (uint64_t)s->epoch);
    if (who && (intptr_t)who != s->id + 1)
        broke(z, "two leaders were active in one epoch");
    sim__map_put(&z->epochs, (uint64_t)s->epoch, (void *)(intptr_t)(s->id + 1));
}

/* Bring follower f to the leader's state: the snapshot of what is committed, then the
 * proposals still open; from now on it gets every proposal and commit. */
static void attach(struct server *s, int f, int64_t nonce)
{
    struct sim__zk_msg *m = (struct sim__zk_msg *)(void *)s->obuf;
    msg_init(m, SIM__ZK_SNAP);
    m->arg2 = s->epoch;
    m->zxid = s->tree->zxid;
    long len = sim__zk_tree_serialize(s->tree, sim__zk_payload(m), PEER_MAX - sizeof(*m));
    if (len < 0) {
        broke(s->ens, "a snapshot does not fit in a message");
        return;
    }
    send_peer(s, f, m, (size_t)len);
    s->fol[f].attached = true;
    s->fol[f].synced = false;
    s->fol[f].heard = env_mono(s->e);
    s->fol[f].nonce = nonce;
    for (size_t i = 0; i < s->nprops; i++) {
        msg_init(m, SIM__ZK_PROPOSE);
        m->arg2 = s->epoch;
        memcpy(sim__zk_payload(m), &s->props[i].txn, sizeof(s->props[i].txn));
        send_peer(s, f, m, sizeof(s->props[i].txn));
    }
}

static void start_leading(struct server *s)
{
    struct sim_zk *z = s->ens;
    int64_t max = s->accepted_epoch;
    for (int i = 0; i < z->n; i++)
        if (s->votes[i].have && s->votes[i].v.epoch > max)
            max = s->votes[i].v.epoch;
    s->role = LEADING;
    s->leader = s->id;
    s->epoch = s->accepted_epoch = max + 1;
    s->active = s->serving = false;
    s->since = env_mono(s->e);
    s->finalize_at = 0;
    /* Commit what was logged: a majority's best log holds everything committed. */
    struct sim__zk_tree *t = sim__zk_tree_clone(s->disk);
    struct sim__zk_tree *p = t ? sim__zk_tree_clone(t) : NULL;
    if (!t || !p) {
        sim__zk_tree_destroy(t);
        broke(z, "out of memory taking over as leader");
        return;
    }
    sim__zk_tree_destroy(s->tree);
    sim__zk_tree_destroy(s->prep);
    s->tree = t;
    s->prep = p;
    void *h = sim__map_get(&z->history, (uint64_t)t->zxid);
    if (h && (uintptr_t)h != (uintptr_t)(t->hash | 1))
        broke(z, "a new leader's log disagrees with what was committed");
    s->nprops = 0;
    log_clear(s);
    s->next_zxid = (s->epoch << 32) | 1;
    memset(s->fol, 0, sizeof(s->fol));
    track_clear(s);
    if (quorum(z) == 1)
        activate(s);
}

/* ---- The follower ------------------------------------------------------------------- */

/* Ask the leader to bring us up to date; repeated every half tick until it does (the
 * leader may not lead yet: its election may end a little after ours). */
static void send_followinfo(struct server *s)
{
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_FOLLOWINFO);
    m.arg2 = s->accepted_epoch;
    m.zxid = s->disk->zxid;
    m.xid = s->follow_seq;
    send_peer(s, s->leader, &m, 0);
}

static void start_following(struct server *s, int leader)
{
    s->role = FOLLOWING;
    s->leader = leader;
    s->epoch = 0;
    s->synced = s->serving = false;
    s->since = s->heard = env_mono(s->e);
    s->finalize_at = 0;
    s->follow_seq++;
    send_followinfo(s);
}

static void on_snap(struct server *s, const struct sim__zk_msg *m, size_t len)
{
    struct sim__zk_tree *t = sim__zk_tree_load(sim__zk_payload(m), len - sizeof(*m));
    struct sim__zk_tree *d = t ? sim__zk_tree_clone(t) : NULL;
    if (!d) {
        sim__zk_tree_destroy(t);
        go_looking(s);
        return;
    }
    void *h = sim__map_get(&s->ens->history, (uint64_t)t->zxid);
    if (h && (uintptr_t)h != (uintptr_t)(t->hash | 1))
        broke(s->ens, "a snapshot disagrees with what was committed at its zxid");
    sim__zk_tree_destroy(s->tree);
    sim__zk_tree_destroy(s->disk);
    s->tree = t;
    s->disk = d;
    s->epoch = s->accepted_epoch = m->arg2;
    s->nprops = 0;
    log_clear(s);
    s->synced = true;
    struct sim__zk_msg a;
    msg_init(&a, SIM__ZK_ACKNEW);
    a.arg2 = s->epoch;
    send_peer(s, s->leader, &a, 0);
}

static void on_commit(struct server *s, int64_t zxid)
{
    size_t k = 0;
    while (k < s->nprops && s->props[k].txn.zxid <= zxid) {
        struct sim__zk_txn x = s->props[k].txn;
        k++;
        apply_committed(s, &x);
    }
    props_pop(s, k);
}

/* ---- Elections ------------------------------------------------------------------------ */

static struct vote self_vote(const struct server *s)
{
    return (struct vote){s->accepted_epoch, s->disk->zxid, s->id};
}

static bool better(struct vote a, struct vote b)
{
    if (a.epoch != b.epoch)
        return a.epoch > b.epoch;
    if (a.zxid != b.zxid)
        return a.zxid > b.zxid;
    return a.id > b.id;
}

static bool same(struct vote a, struct vote b)
{
    return a.epoch == b.epoch && a.zxid == b.zxid && a.id == b.id;
}

static void send_vote(struct server *s, int to)
{
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_VOTE);
    m.arg = s->round;
    m.rc = s->role;
    struct vote v = s->vote;
    if (s->role != LOOKING) /* who leads (a follower not yet in sync: its old epoch) */
        v = (struct vote){s->epoch ? s->epoch : s->accepted_epoch, s->tree->zxid, s->leader};
    m.arg2 = v.epoch;
    m.zxid = v.zxid;
    m.version = v.id;
    send_peer(s, to, &m, 0);
}

static void broadcast_vote(struct server *s)
{
    s->votes[s->id] = (struct peervote){true, s->round, s->vote, LOOKING};
    for (int i = 0; i < s->ens->n; i++)
        if (i != s->id)
            send_vote(s, i);
}

/* Arm the finalize wait when a majority of this round holds our vote; disarm otherwise. */
static void check_votes(struct server *s)
{
    int agree = 0;
    for (int i = 0; i < s->ens->n; i++)
        agree += s->votes[i].have && s->votes[i].state == LOOKING &&
                 s->votes[i].round == s->round && same(s->votes[i].v, s->vote);
    if (agree < quorum(s->ens))
        s->finalize_at = 0;
    else if (!s->finalize_at)
        s->finalize_at = env_mono(s->e) + s->ens->cfg.finalize_ns;
}

static void finalize(struct server *s)
{
    s->finalize_at = 0;
    if (s->role != LOOKING)
        return;
    check_votes(s);
    if (!s->finalize_at)
        return;
    if (s->vote.id == s->id)
        start_leading(s);
    else
        start_following(s, s->vote.id);
}

static void go_looking(struct server *s)
{
    struct sim_zk *z = s->ens;
    drop_all_conns(s, true);
    s->role = LOOKING;
    s->serving = s->active = s->synced = false;
    s->nprops = 0;
    log_clear(s);
    sim__zk_tree_destroy(s->prep);
    s->prep = NULL;
    track_clear(s);
    memset(s->fol, 0, sizeof(s->fol));
    memset(s->votes, 0, sizeof(s->votes));
    s->round++;
    s->vote = self_vote(s);
    s->finalize_at = 0;
    if (quorum(z) == 1) {
        start_leading(s);
        return;
    }
    broadcast_vote(s);
    check_votes(s);
}

static void on_vote(struct server *s, const struct sim__zk_msg *m)
{
    int p = m->from_id;
    struct vote v = {m->arg2, m->zxid, m->version};
    if (s->role != LOOKING) {
        if (m->rc == LOOKING)
            send_vote(s, p); /* tell it who leads */
        return;
    }
    if (m->rc == LOOKING) {
        if (m->arg > s->round) {
            s->round = m->arg;
            memset(s->votes, 0, sizeof(s->votes));
            struct vote mine = self_vote(s);
            s->vote = better(v, mine) ? v : mine;
            broadcast_vote(s);
            s->finalize_at = 0;
        } else if (m->arg < s->round) {
            send_vote(s, p); /* let it catch up */
            return;
        } else if (better(v, s->vote)) {
            s->vote = v;
            broadcast_vote(s);
            s->finalize_at = 0;
        }
        s->votes[p] = (struct peervote){true, m->arg, v, LOOKING};
        check_votes(s);
        return;
    }
    /* p is out of the election: it follows or leads v.id. One that decided, in this
     * round, for the one we vote for counts as a vote for it (it may have decided
     * before us: its finalize wait ended first). */
    if (m->arg == s->round && v.id == s->vote.id) {
        s->votes[p] = (struct peervote){true, m->arg, s->vote, LOOKING};
        check_votes(s);
        return;
    }
    s->votes[p] = (struct peervote){true, m->arg, v, m->rc};
    int l = v.id;
    if (l < 0 || l >= s->ens->n || l == s->id || !s->votes[l].have ||
        s->votes[l].state != LEADING || s->votes[l].v.id != l)
        return;
    int n = 1; /* this server */
    for (int i = 0; i < s->ens->n; i++)
        n +=
            i != s->id && s->votes[i].have && s->votes[i].state != LOOKING && s->votes[i].v.id == l;
    if (n >= quorum(s->ens))
        start_following(s, l);
}

/* ---- Client requests ---------------------------------------------------------------- */

static void submit_write(struct server *s, struct sim__zk_txn *x)
{
    if (s->role == LEADING) {
        propose(s, x);
        return;
    }
    struct sim__zk_msg *m = (struct sim__zk_msg *)(void *)s->obuf;
    msg_init(m, SIM__ZK_FORWARD);
    m->arg2 = s->epoch;
    memcpy(sim__zk_payload(m), x, sizeof(*x));
    send_peer(s, s->leader, m, sizeof(*x));
}

static void service(struct server *s)
{
    if (s->ens->cfg.service_ns > 0)
        env_work(s->e, s->ens->cfg.service_ns);
}

static void on_connect(struct server *s, const struct sim__zk_msg *q, struct sim_addr from)
{
    if (!s->serving || q->zxid > s->tree->zxid) {
        s->ens->st.refused++; /* not serving, or behind what the client has seen */
        send_op(s, from, q->conn, SIM__ZK_CLOSED);
        return;
    }
    service(s);
    if (!s->serving)
        return;
    if (q->session == 0) {
        struct sim__zk_txn x = {.type = SIM__ZK_TXN_CREATE_SESSION,
                                .origin = s->id,
                                .timeout_ns = zk_negotiate_timeout(q->arg, tick(s))};
        x.xid = pconnect_add(s, from, q->conn);
        if (x.xid)
            submit_write(s, &x);
        return;
    }
    if (s->role == LEADING) {
        struct track *t = sim__map_get(&s->track, (uint64_t)q->session);
        if (t && !t->closing) {
            track_touch(s, q->session);
            accept_conn(s, q->session, from, q->conn);
        } else {
            send_op(s, from, q->conn, SIM__ZK_EXPIRED);
        }
        return;
    }
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_REVALIDATE);
    m.session = q->session;
    m.xid = pconnect_add(s, from, q->conn);
    m.arg2 = s->epoch;
    if (m.xid)
        send_peer(s, s->leader, &m, 0);
}

static void do_read(struct server *s, const struct sim__zk_msg *q, struct conn *c)
{
    struct sim__zk_msg *r = (struct sim__zk_msg *)(void *)s->obuf;
    msg_init(r, SIM__ZK_REPLY);
    r->xid = q->xid;
    r->zxid = s->tree->zxid;
    const struct sim__zk_node *n = sim__zk_find(s->tree, q->path);
    size_t plen = 0;
    r->rc = n ? ZK_OK : ZK_NONODE;
    if (n)
        r->st = n->st;
    switch (q->op) {
    case SIM__ZK_EXISTS:
        if (q->watch)
            watch_add(s, q->path, 0, c->session); /* an exist watch when missing */
        break;
    case SIM__ZK_GET:
        if (n) {
            memcpy(sim__zk_payload(r), n->data, n->dlen);
            plen = n->dlen;
            if (q->watch)
                watch_add(s, q->path, 0, c->session);
        }
        break;
    case SIM__ZK_CHILDREN:
        if (!n)
            break;
        for (uint32_t i = 0; i < n->nkids; i++) {
            const char *name = strrchr(n->kids[i]->path, '/') + 1;
            size_t l = strlen(name) + 1;
            if (plen + l > SIM__ZK_MSG_MAX - sizeof(*r)) {
                r->rc = ZK_MARSHALLINGERROR; /* more than the client could read */
                plen = 0;
                break;
            }
            memcpy(sim__zk_payload(r) + plen, name, l);
            plen += l;
        }
        if (r->rc == ZK_OK && q->watch)
            watch_add(s, q->path, 1, c->session);
        break;
    default:
        break;
    }
    send_client(s, c->addr, c->conn, r, plen);
}

/* Re-register a reconnected client's watches, firing at once those whose node changed
 * after the last zxid the client saw (ZooKeeper's setWatches). */
static void do_setwatches(struct server *s, const struct sim__zk_msg *q, size_t plen,
                          struct conn *c)
{
    const unsigned char *p = sim__zk_payload(q), *end = p + plen;
    while (p < end) {
        int kind = *p++;
        const char *path = (const char *)p;
        size_t l = strnlen(path, (size_t)(end - p));
        if (l == (size_t)(end - p))
            break;
        p += l + 1;
        const struct sim__zk_node *n = sim__zk_find(s->tree, path);
        if (kind == SIM__ZK_W_DATA) {
            if (!n)
                event_to(s, c->session, path, ZK_EV_DELETED);
            else if (n->st.mzxid > q->zxid)
                event_to(s, c->session, path, ZK_EV_CHANGED);
            else
                watch_add(s, path, 0, c->session);
        } else if (kind == SIM__ZK_W_EXIST) {
            if (n)
                event_to(s, c->session, path, ZK_EV_CREATED);
            else
                watch_add(s, path, 0, c->session);
        } else if (kind == SIM__ZK_W_CHILD) {
            if (!n)
                event_to(s, c->session, path, ZK_EV_DELETED);
            else if (n->st.pzxid > q->zxid)
                event_to(s, c->session, path, ZK_EV_CHILD);
            else
                watch_add(s, path, 1, c->session);
        }
    }
}

static void on_client(struct server *s, struct sim__zk_msg *q, size_t len, struct sim_addr from)
{
    s->ens->st.client_msgs_in++;
    q->path[ZK_PATH_MAX] = 0;
    if (q->op == SIM__ZK_CONNECT) {
        on_connect(s, q, from);
        return;
    }
    struct conn *c = sim__map_get(&s->conns, (uint64_t)q->session);
    if (!c || c->conn != q->conn || c->addr.node != from.node || !s->serving) {
        if (q->op != SIM__ZK_DISCONNECT) /* a connection we do not know */
            send_op(s, (struct sim_addr){from.node, q->port}, q->conn, SIM__ZK_CLOSED);
        return;
    }
    if (q->op == SIM__ZK_DISCONNECT) {
        drop_conn(s, c, false);
        return;
    }
    c->touched = true;
    if (s->role == LEADING)
        track_touch(s, q->session);
    if (q->op == SIM__ZK_PING) {
        s->ens->st.pings++;
        send_op(s, c->addr, c->conn, SIM__ZK_PONG);
        return;
    }
    service(s);
    if (!sim__map_get(&s->conns, (uint64_t)q->session))
        return; /* the server stepped down while it worked */
    switch (q->op) {
    case SIM__ZK_EXISTS:
    case SIM__ZK_GET:
    case SIM__ZK_CHILDREN:
        s->ens->st.requests++;
        if (!c->xid) {
            do_read(s, q, c);
        } else if (sim__zk_reserve((void **)&c->held, &c->capheld, c->nheld, sizeof(*q)) == 0) {
            c->held[c->nheld] = *q;
            c->held[c->nheld++].plen = 0; /* a read carries no payload */
        }
        break;
    case SIM__ZK_CREATE:
    case SIM__ZK_DELETE:
    case SIM__ZK_CLOSE: {
        s->ens->st.requests++;
        struct sim__zk_txn x = {.session = q->session,
                                .xid = q->xid,
                                .origin = s->id,
                                .flags = q->flags,
                                .version = q->version};
        x.type = q->op == SIM__ZK_CREATE   ? SIM__ZK_TXN_CREATE
                 : q->op == SIM__ZK_DELETE ? SIM__ZK_TXN_DELETE
                                           : SIM__ZK_TXN_CLOSE_SESSION;
        memcpy(x.path, q->path, sizeof(x.path));
        x.dlen = q->dlen <= ZK_DATA_MAX ? q->dlen : ZK_DATA_MAX;
        memcpy(x.data, q->data, x.dlen);
        c->xid = q->xid;
        submit_write(s, &x);
        break;
    }
    case SIM__ZK_SETWATCHES:
        do_setwatches(s, q, len - sizeof(*q), c);
        break;
    default:
        break;
    }
}

/* ---- Messages between servers ------------------------------------------------------- */

static void on_leader_msg(struct server *s, struct sim__zk_msg *m, size_t len)
{
    struct sim_zk *z = s->ens;
    int f = m->from_id;
    if (m->op == SIM__ZK_FOLLOWINFO) {
        if (m->arg2 >= s->epoch)
            go_looking(s); /* it has seen a newer epoch than ours: we are stale */
        else if (!s->fol[f].attached || s->fol[f].nonce != m->xid)
            attach(s, f, m->xid);
        return;
    }
    if (!s->fol[f].attached || m->arg2 != s->epoch)
        return;
    s->fol[f].heard = env_mono(s->e);
    switch (m->op) {
    case SIM__ZK_ACKNEW:
        s->fol[f].synced = true;
        if (s->active) {
            struct sim__zk_msg u;
            msg_init(&u, SIM__ZK_UPTODATE);
            u.arg2 = s->epoch;
            send_peer(s, f, &u, 0);
        } else {
            int n = 1;
            for (int i = 0; i < z->n; i++)
                n += i != s->id && s->fol[i].synced;
            if (n >= quorum(z))
                activate(s);
        }
        break;
    case SIM__ZK_ACK:
        for (size_t i = 0; i < s->nprops && s->props[i].txn.zxid <= m->zxid; i++)
            s->props[i].acks |= 1u << f;
        try_commit(s);
        break;
    case SIM__ZK_FPING: {
        size_t n = (len - sizeof(*m)) / sizeof(int64_t);
        for (size_t i = 0; i < n; i++) {
            int64_t id;
            memcpy(&id, sim__zk_payload(m) + i * sizeof(id), sizeof(id));
            track_touch(s, id);
        }
        break;
    }
    case SIM__ZK_FORWARD:
        if (len >= sizeof(*m) + sizeof(struct sim__zk_txn)) {
            struct sim__zk_txn x;
            memcpy(&x, sim__zk_payload(m), sizeof(x));
            x.path[ZK_PATH_MAX] = 0;
            propose(s, &x);
        }
        break;
    case SIM__ZK_REVALIDATE: {
        struct track *t = sim__map_get(&s->track, (uint64_t)m->session);
        bool ok = s->active && t && !t->closing;
        if (ok)
            track_touch(s, m->session);
        struct sim__zk_msg r;
        msg_init(&r, SIM__ZK_REVALIDATED);
        r.session = m->session;
        r.xid = m->xid;
        r.rc = ok ? ZK_OK : ZK_SESSIONEXPIRED;
        r.arg2 = s->epoch;
        send_peer(s, f, &r, 0);
        break;
    }
    default:
        break;
    }
}

static void on_follower_msg(struct server *s, struct sim__zk_msg *m, size_t len)
{
    if (m->from_id != s->leader)
        return;
    if (m->op == SIM__ZK_SNAP) {
        if (!s->synced) {
            s->heard = env_mono(s->e);
            on_snap(s, m, len);
        }
        return;
    }
    if (!s->synced || m->arg2 != s->epoch)
        return;
    s->heard = env_mono(s->e);
    switch (m->op) {
    case SIM__ZK_UPTODATE:
        s->serving = true;
        break;
    case SIM__ZK_PROPOSE:
        if (len >= sizeof(*m) + sizeof(struct sim__zk_txn)) {
            struct sim__zk_txn x;
            memcpy(&x, sim__zk_payload(m), sizeof(x));
            props_push(s, &x);
            log_append(s, &x);
        }
        break;
    case SIM__ZK_COMMIT:
        on_commit(s, m->zxid);
        break;
    case SIM__ZK_REVALIDATED: {
        struct pconnect pc;
        if (!pconnect_take(s, m->xid, &pc) || !s->serving)
            break;
        if (m->rc == ZK_OK && sim__zk_sess_find(s->tree, m->session))
            accept_conn(s, m->session, pc.addr, pc.conn);
        else
            send_op(s, pc.addr, pc.conn, SIM__ZK_EXPIRED);
        break;
    }
    default:
        break; /* LPING: heard */
    }
}

static void on_peer(struct server *s, struct sim__zk_msg *m, size_t len)
{
    if (m->from_id >= s->ens->n || m->from_id == s->id)
        return;
    if (m->op == SIM__ZK_VOTE)
        on_vote(s, m);
    else if (s->role == LEADING)
        on_leader_msg(s, m, len);
    else if (s->role == FOLLOWING)
        on_follower_msg(s, m, len);
}

/* ---- Time ------------------------------------------------------------------------------ */

static void leader_tick(struct server *s, int64_t now)
{
    struct sim_zk *z = s->ens;
    int64_t sync = z->cfg.sync_limit * tick(s), init = z->cfg.init_limit * tick(s);
    struct sim__zk_msg m;
    msg_init(&m, SIM__ZK_LPING);
    m.arg2 = s->epoch;
    int alive = 1;
    for (int f = 0; f < z->n; f++) {
        if (f == s->id || !s->fol[f].attached)
            continue;
        if (now - s->fol[f].heard > sync) {
            s->fol[f].attached = s->fol[f].synced = false; /* it will rejoin */
            continue;
        }
        send_peer(s, f, &m, 0);
        alive += s->fol[f].synced;
    }
    if (!s->active) {
        if (now - s->since > init)
            go_looking(s); /* no majority came to follow */
        return;
    }
    if (alive < quorum(z)) {
        go_looking(s); /* lost the majority */
        return;
    }
    /* Expire sessions, in id order so that one seed gives one history. */
    size_t n = 0;
    int64_t *due = s->track.n ? malloc(s->track.n * sizeof(*due)) : NULL;
    for (size_t i = 0; due && i < s->track.cap; i++) {
        const struct track *t = s->track.vals[i];
        if (s->track.keys[i] && !t->closing && now >= expire_at(s, t))
            due[n++] = (int64_t)s->track.keys[i];
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && due[j - 1] > due[j]; j--) {
            int64_t t = due[j];
            due[j] = due[j - 1];
            due[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        struct sim__zk_txn x = {.type = SIM__ZK_TXN_CLOSE_SESSION, .session = due[i], .origin = -1};
        z->st.sessions_expired++;
        z->st.last_expiry = sim_env_true_now(s->e);
        propose(s, &x);
    }
    free(due);
}

static void follower_tick(struct server *s, int64_t now)
{
    struct sim_zk *z = s->ens;
    int64_t limit = (s->synced ? z->cfg.sync_limit : z->cfg.init_limit) * tick(s);
    if (now - s->heard > limit) {
        go_looking(s);
        return;
    }
    if (!s->synced) {
        send_followinfo(s);
        return;
    }
    struct sim__zk_msg *m = (struct sim__zk_msg *)(void *)s->obuf;
    msg_init(m, SIM__ZK_FPING);
    m->arg2 = s->epoch;
    size_t n = 0;
    for (size_t i = 0; i < s->conns.cap; i++) {
        struct conn *c = s->conns.vals[i];
        if (!s->conns.keys[i] || !c->touched)
            continue;
        c->touched = false;
        if ((n + 1) * sizeof(int64_t) <= PEER_MAX - sizeof(*m))
            memcpy(sim__zk_payload(m) + n++ * sizeof(int64_t), &c->session, sizeof(int64_t));
    }
    send_peer(s, s->leader, m, n * sizeof(int64_t));
}

static void on_tick(struct server *s, int64_t now)
{
    if (s->role == LEADING)
        leader_tick(s, now);
    else if (s->role == FOLLOWING)
        follower_tick(s, now);
    else
        broadcast_vote(s);
}

/* ---- The server's main actor ------------------------------------------------------------ */

static void reset_volatile(struct server *s)
{
    drop_all_conns(s, false);
    track_clear(s);
    sim__zk_tree_destroy(s->tree);
    sim__zk_tree_destroy(s->prep);
    s->tree = s->prep = NULL;
    free(s->props);
    free(s->logq);
    s->props = NULL;
    s->logq = NULL;
    s->nprops = s->capprops = s->nlogq = s->caplogq = s->batch = 0;
    s->busy = s->serving = s->active = s->synced = false;
    s->finalize_at = 0;
    memset(s->votes, 0, sizeof(s->votes));
    memset(s->fol, 0, sizeof(s->fol));
}

static void server_main(struct env *e, void *arg)
{
    struct server *s = arg;
    struct sim_zk *z = s->ens;
    s->e = e;
    reset_volatile(s); /* what a crash left in memory is gone */
    s->tree = sim__zk_tree_clone(s->disk);
    if (!s->tree || sim_listen(e, z->cfg.port) < 0 || sim_listen(e, z->cfg.port + 1) < 0)
        return;
    int64_t half = tick(s) / 2;
    s->next_tick = (env_mono(e) / half + 1) * half;
    go_looking(s);
    for (;;) {
        int64_t now = env_mono(e);
        int64_t next = s->next_tick;
        if (s->busy && s->batch_done < next)
            next = s->batch_done;
        if (s->finalize_at && s->finalize_at < next)
            next = s->finalize_at;
        struct sim_addr from;
        ssize_t n = next > now ? sim_recv(e, s->buf, PEER_MAX, &from, next - now) : -ETIMEDOUT;
        if (n >= (ssize_t)sizeof(struct sim__zk_msg) && n <= (ssize_t)PEER_MAX) {
            struct sim__zk_msg *m = (struct sim__zk_msg *)(void *)s->buf;
            if (m->magic == SIM__ZK_MAGIC && m->plen == (size_t)n - sizeof(*m)) {
                if (m->op >= SIM__ZK_VOTE)
                    on_peer(s, m, (size_t)n);
                else if (m->op <= SIM__ZK_DISCONNECT)
                    on_client(s, m, (size_t)n, from);
            }
        }
        now = env_mono(e);
        if (s->busy && now >= s->batch_done)
            log_done(s);
        if (s->finalize_at && now >= s->finalize_at)
            finalize(s);
        if (now >= s->next_tick) {
            s->next_tick = (now / half + 1) * half;
            on_tick(s, now);
        }
    }
}

/* ---- Creation and inspection ---------------------------------------------------------- */

struct sim_zk *sim_zk_create(struct sim *sim, const int *nodes, int n, const struct sim_zk_cfg *cfg)
{
    if (!sim || !nodes || n < 1 || n > SIM_ZK_MAX_SERVERS || !cfg ||
        cfg->port >= SIM_PORT_EPHEMERAL - 1)
        return NULL;
    for (int i = 0; i < n; i++) {
        if (nodes[i] < 0 || nodes[i] >= sim_node_count(sim))
            return NULL;
        for (int j = 0; j < i; j++)
            if (nodes[j] == nodes[i])
                return NULL;
    }
    struct sim_zk *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->sim = sim;
    z->n = n;
    z->cfg = *cfg;
    if (!z->cfg.port)
        z->cfg.port = SIM_ZK_PORT;
    if (z->cfg.tick_ns <= 0)
        z->cfg.tick_ns = 200 * SIM_MS;
    if (z->cfg.tick_ns < 2 * SIM_MS)
        z->cfg.tick_ns = 2 * SIM_MS; /* whole milliseconds, and a half tick of at least 1 */
    z->cfg.tick_ns -= z->cfg.tick_ns % (2 * SIM_MS);
    if (z->cfg.init_limit <= 0)
        z->cfg.init_limit = 50; /* the live launcher's zoo.cfg (live/README.md) */
    if (z->cfg.sync_limit <= 0)
        z->cfg.sync_limit = 10;
    if (z->cfg.finalize_ns <= 0)
        z->cfg.finalize_ns = 200 * SIM_MS;
    z->st.leader_since = z->st.last_expiry = -1;
    for (int i = 0; i < n; i++) {
        struct server *s = &z->srv[i];
        s->ens = z;
        s->id = i;
        s->node = nodes[i];
        s->disk = sim__zk_tree_create();
        s->buf = malloc(PEER_MAX);
        s->obuf = malloc(PEER_MAX);
        if (!s->disk || !s->buf || !s->obuf ||
            sim_node_main(sim, nodes[i], "zookeeper", server_main, s) < 0) {
            sim_zk_destroy(z);
            return NULL;
        }
    }
    return z;
}

void sim_zk_destroy(struct sim_zk *z)
{
    if (!z)
        return;
    while (z->clients)
        sim__zk_client_free(z->clients); /* unlinks itself */
    for (int i = 0; i < z->n; i++) {
        struct server *s = &z->srv[i];
        reset_volatile(s);
        sim__zk_tree_destroy(s->disk);
        free(s->buf);
        free(s->obuf);
    }
    sim__map_free(&z->history);
    sim__map_free(&z->epochs);
    free(z);
}

int sim_zk_servers(const struct sim_zk *z)
{
    return z->n;
}

int sim_zk_node(const struct sim_zk *z, int server)
{
    return server >= 0 && server < z->n ? z->srv[server].node : -1;
}

struct sim_addr sim_zk_addr(const struct sim_zk *z, int server)
{
    return (struct sim_addr){sim_zk_node(z, server), z->cfg.port};
}

int64_t sim_zk_tick(const struct sim_zk *z)
{
    return z->cfg.tick_ns;
}

int sim_zk_leader(const struct sim_zk *z)
{
    for (int i = 0; i < z->n; i++)
        if (z->srv[i].role == LEADING && z->srv[i].active && sim_node_up(z->sim, z->srv[i].node))
            return i;
    return -1;
}

void sim_zk_stats(const struct sim_zk *z, struct sim_zk_stats *out)
{
    *out = z->st;
}

static const struct sim__zk_tree *peek_tree(const struct sim_zk *z, int server)
{
    if (server < 0 || server >= z->n || !sim_node_up(z->sim, z->srv[server].node))
        return NULL;
    return z->srv[server].tree;
}

int sim_zk_peek(const struct sim_zk *z, int server, const char *path, struct zk_stat *st)
{
    const struct sim__zk_tree *t = peek_tree(z, server);
    const struct sim__zk_node *n = t && path ? sim__zk_find(t, path) : NULL;
    if (!n)
        return -ENOENT;
    if (st)
        *st = n->st;
    return 0;
}

int sim_zk_peek_children(const struct sim_zk *z, int server, const char *path,
                         struct zk_children *out)
{
    out->n = 0;
    out->names = NULL;
    const struct sim__zk_tree *t = peek_tree(z, server);
    const struct sim__zk_node *n = t && path ? sim__zk_find(t, path) : NULL;
    if (!n)
        return -ENOENT;
    size_t bytes = 0;
    for (uint32_t i = 0; i < n->nkids; i++)
        bytes += strlen(strrchr(n->kids[i]->path, '/') + 1) + 1;
    char *p = zk_children_alloc(out, n->nkids, bytes);
    if (!p)
        return -ENOMEM;
    for (uint32_t i = 0; i < n->nkids; i++) {
        const char *name = strrchr(n->kids[i]->path, '/') + 1;
        size_t l = strlen(name) + 1;
        memcpy(p, name, l);
        out->names[out->n++] = p;
        p += l;
    }
    return 0;
}

bool sim_zk_peek_session(const struct sim_zk *z, int server, int64_t id)
{
    const struct sim__zk_tree *t = peek_tree(z, server);
    return t && sim__zk_sess_find(t, id);
}

bool sim_zk_check(const struct sim_zk *z, const char **why)
{
    const char *w = z->broken;
    for (int i = 0; i < z->n && !w; i++) {
        const struct server *s = &z->srv[i];
        if (!sim_node_up(z->sim, s->node))
            continue;
        if (s->tree)
            w = sim__zk_tree_check(s->tree);
        if (!w)
            w = sim__zk_tree_check(s->disk);
    }
    if (why)
        *why = w;
    return w == NULL;
}

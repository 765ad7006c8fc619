/* etcd_model.c - the simulated etcd cluster of etcd_model.h: one actor per member runs
 * Raft (elections, log replication with an fsync'd WAL, commit by majority, ReadIndex
 * reads, check-quorum), applies committed entries to its MVCC store (etcd_store.c), runs
 * the leader's lease expiry, serves watches, and answers clients. Never reads a real clock:
 * every timer is the member node's monotonic clock.
 *
 * A member's durable state (term, vote, log up to the last fsync, the applied store and
 * index) sits in struct member and survives crashes; everything else is reset when the
 * member's main actor starts. Raft messages and client messages share the member's port. */
#include "sim/etcd_model.h"
#include "sim/etcd_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEER_MSG 2u                  /* sim_etcd__hdr.kind of a Raft message */
#define RECV_CAP (8u << 20)          /* a member's receive buffer: the largest snapshot */
#define BATCH_ENTRIES 256            /* entries in one append message */
#define BATCH_BYTES (256u << 10)     /* ... and their bytes */
#define REVOKE_RETRY_NS 3000000000LL /* etcd re-proposes an expired lease's revoke after 3 s */

enum role { FOLLOWER, CANDIDATE, LEADER };
enum ent_type { ENT_NOOP = 1, ENT_REQ };
enum rtype {
    R_APPEND = 1,  /* index/log_term: prev entry; commit; ctx: read round; nent entries */
    R_APPEND_RESP, /* ok; index: match (ok) or hint (reject); ctx echoed */
    R_VOTE,        /* index/log_term: the candidate's last entry */
    R_VOTE_RESP,   /* ok: granted */
    R_PROP,        /* a follower forwards a client's write: one entry blob follows */
    R_READ,        /* a follower asks for a read index: ctx = its request id */
    R_READ_RESP,   /* ctx; arg: the read index; status */
    R_KA,          /* a follower forwards a keep-alive: ctx; arg: lease */
    R_KA_RESP,     /* ctx; arg: ttl; status */
    R_SNAP,        /* index/log_term: the snapshot's; the saved store follows */
};

struct rmsg {
    uint32_t magic, kind; /* SIM_ETCD__MAGIC, PEER_MSG */
    uint8_t type, from, ok;
    int32_t status;
    uint64_t term, index, log_term, commit, ctx;
    int64_t arg;
    uint32_t nent;
};

/* An entry's blob: this header, then the encoded request (ENT_REQ). */
struct ent_hdr {
    uint8_t type, origin; /* origin: the member that answers the client (0xff: none) */
    uint32_t incarnation; /* ... in this incarnation only */
    uint64_t pid;         /* its proposal id there */
};

struct entry {
    uint64_t term;
    uint32_t len;
    uint8_t *data;
};

enum pkind { P_WRITE, P_READ, P_KA };

/* A client request waiting at the member that received it. */
struct pend {
    uint8_t kind;
    bool ready;   /* READ: the read index is known */
    uint64_t key; /* WRITE: proposal id; READ, KA: request id */
    struct sim_addr client;
    uint64_t cid; /* the client's request id */
    int64_t deadline;
    uint64_t index;            /* READ: serve once applied >= index */
    struct sim_etcd__req *req; /* READ: the request */
};

/* A read waiting for a leader's heartbeat round. */
struct rread {
    int origin; /* member */
    uint64_t rid;
};

struct watcher {
    struct sim_addr client;
    int64_t wid;
    bool prefix;
    int64_t next_rev;
    char key[ETCD_KEY_MAX + 1];
};

struct member {
    struct sim_etcd *m;
    int idx, node;
    bool running;
    struct env *e;
    struct life *life; /* the running actor's, NULL when there is none */

    /* durable */
    uint64_t term;
    int vote;
    struct entry *log; /* indexes log_start .. log_start + nlog - 1 */
    size_t nlog, caplog;
    uint64_t log_start, prev_term; /* prev_term: the term of entry log_start - 1 */
    uint64_t synced;               /* last index on disk */
    struct sim_etcd__store st;     /* the applied state: etcd's backend, durable */
    uint64_t applied;
    uint32_t incarnation;

    /* volatile */
    enum role role;
    int leader;
    uint64_t commit;
    int64_t election_at, heard_at, heartbeat_at, quorum_at, lease_check_at, tick_at;
    uint32_t votes, active;
    uint64_t next[SIM_ETCD_MAX_MEMBERS], match[SIM_ETCD_MAX_MEMBERS];
    uint64_t term_start;
    uint64_t verified; /* follower: the last index known to match the leader's log */
    bool syncing, dirty;
    int64_t sync_done_at;
    uint64_t sync_upto;
    uint64_t next_pid, next_rid, next_lease;
    /* leader's ReadIndex rounds */
    struct rread *rq;
    size_t nrq, caprq, nround; /* rq[0..nround) are in the round in flight */
    uint64_t read_seq, round_ctx, round_index;
    uint32_t round_acks;

    struct pend *pend;
    size_t npend, cappend;
    struct watcher *w;
    size_t nw, capw;
    uint64_t *clients; /* sorted (node << 32 | port) of every client that talked to it */
    size_t nclients, capclients;

    uint8_t *rbuf, *sbuf;
    size_t sbufcap;
    struct sim_etcd__res res;
    struct etcd_event ev[SIM_ETCD__EVENTS_MAX]; /* a watch batch, off the actor's stack */
};

struct sim_etcd {
    struct sim *sim;
    struct sim_etcd_cfg cfg;
    int64_t min_ttl_s;
    size_t n;
    struct member mem[SIM_ETCD_MAX_MEMBERS];
    struct sim_etcd_stats st;
    struct sim_etcd_change *changes;
    size_t nchanges, capchanges;
};

static void fail(struct member *x, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "etcd member %d: %s", x->idx, what);
    sim_stop(x->m->sim, msg);
}

static int majority(const struct member *x)
{
    return (int)x->m->n / 2 + 1;
}

static int popcount(uint32_t v)
{
    return __builtin_popcount(v);
}

static int64_t now(const struct member *x)
{
    return env_mono(x->e);
}

static void record(struct sim_etcd *m, int member, uint64_t term)
{
    if (sim_etcd__grow((void **)&m->changes, &m->capchanges, m->nchanges + 1, sizeof(*m->changes)) <
        0)
        return;
    m->changes[m->nchanges++] = (struct sim_etcd_change){sim_now(m->sim), member, term};
}

/* ---- The log --------------------------------------------------------------------------- */

static uint64_t last_index(const struct member *x)
{
    return x->log_start + x->nlog - 1;
}

static const struct entry *entry_at(const struct member *x, uint64_t i)
{
    return i >= x->log_start && i <= last_index(x) ? &x->log[i - x->log_start] : NULL;
}

/* The term of entry i; 0 for index 0; UINT64_MAX when it is no longer (or not yet) here. */
static uint64_t term_at(const struct member *x, uint64_t i)
{
    if (i == 0)
        return 0;
    if (i == x->log_start - 1)
        return x->prev_term;
    const struct entry *en = entry_at(x, i);
    return en ? en->term : UINT64_MAX;
}

static uint64_t last_term(const struct member *x)
{
    return term_at(x, last_index(x));
}

static int append(struct member *x, uint64_t term, const uint8_t *data, uint32_t len)
{
    if (sim_etcd__grow((void **)&x->log, &x->caplog, x->nlog + 1, sizeof(*x->log)) < 0)
        return -ENOMEM;
    uint8_t *d = malloc(len ? len : 1);
    if (!d)
        return -ENOMEM;
    memcpy(d, data, len);
    x->log[x->nlog++] = (struct entry){term, len, d};
    return 0;
}

/* Drop entries from index i on (a conflicting suffix). */
static void truncate_from(struct member *x, uint64_t i)
{
    while (x->nlog > 0 && last_index(x) >= i)
        free(x->log[--x->nlog].data);
    if (x->synced >= i)
        x->synced = i - 1;
    if (x->sync_upto >= i)
        x->sync_upto = i - 1;
}

/* Forget entries before index i (kept: everything from i on). */
static void forget_before(struct member *x, uint64_t i)
{
    if (i <= x->log_start)
        return;
    size_t k = (size_t)(i - x->log_start);
    if (k > x->nlog)
        k = x->nlog;
    x->prev_term = term_at(x, x->log_start + k - 1);
    for (size_t j = 0; j < k; j++)
        free(x->log[j].data);
    memmove(x->log, x->log + k, (x->nlog - k) * sizeof(*x->log));
    x->nlog -= k;
    x->log_start += k;
}

/* Keep the log to 'catchup_entries' behind what is applied (amortised: trims by half). */
static void compact_log(struct member *x)
{
    uint64_t keep = x->m->cfg.catchup_entries;
    if (x->applied > x->log_start + 2 * keep)
        forget_before(x, x->applied - keep + 1);
}

/* ---- Sending ----------------------------------------------------------------------------- */

static uint8_t *sbuf(struct member *x, size_t need)
{
    if (sim_etcd__grow((void **)&x->sbuf, &x->sbufcap, need, 1) < 0) {
        fail(x, "out of memory");
        return NULL;
    }
    return x->sbuf;
}

static struct sim_addr member_addr(const struct sim_etcd *m, int i)
{
    return (struct sim_addr){m->mem[i].node, m->cfg.port};
}

static void send_peer(struct member *x, int to, struct rmsg *h, const void *extra, size_t len)
{
    h->magic = SIM_ETCD__MAGIC;
    h->kind = PEER_MSG;
    h->from = (uint8_t)x->idx;
    h->term = x->term;
    uint8_t *b = sbuf(x, sizeof(*h) + len);
    if (!b)
        return;
    memcpy(b, h, sizeof(*h));
    if (len)
        memcpy(b + sizeof(*h), extra, len);
    sim_send(x->e, member_addr(x->m, to), b, sizeof(*h) + len);
}

/* Answer a client: the result's header and its kvs. */
static void reply(struct member *x, struct sim_addr to, uint64_t cid, const struct sim_etcd__res *r)
{
    struct sim_etcd__rep h;
    memset(&h, 0, sizeof(h));
    h.magic = SIM_ETCD__MAGIC;
    h.kind = SIM_ETCD__REPLY;
    h.id = cid;
    h.status = r->status;
    h.succeeded = r->succeeded;
    h.nops = r->nops;
    h.rev = r->rev;
    h.arg = r->arg;
    h.arg2 = r->arg2;
    memcpy(h.res, r->op, sizeof(h.res));
    h.nkv = (uint32_t)(r->status == 0 ? r->nkv : 0);
    size_t len = sizeof(h) + h.nkv * sizeof(struct etcd_kv);
    uint8_t *b = sbuf(x, len);
    if (!b)
        return;
    memcpy(b, &h, sizeof(h));
    if (h.nkv)
        memcpy(b + sizeof(h), r->kvs, h.nkv * sizeof(struct etcd_kv));
    sim_send(x->e, to, b, len);
}

static void reply_status(struct member *x, struct sim_addr to, uint64_t cid, int status)
{
    struct sim_etcd__res r = {.status = status, .rev = x->st.rev};
    reply(x, to, cid, &r);
}

/* ---- Pending requests -------------------------------------------------------------------- */

static struct pend *pend_add(struct member *x, uint8_t kind, uint64_t key, struct sim_addr client,
                             uint64_t cid)
{
    if (sim_etcd__grow((void **)&x->pend, &x->cappend, x->npend + 1, sizeof(*x->pend)) < 0) {
        fail(x, "out of memory");
        return NULL;
    }
    struct pend *p = &x->pend[x->npend++];
    *p = (struct pend){.kind = kind,
                       .key = key,
                       .client = client,
                       .cid = cid,
                       .deadline = now(x) + x->m->cfg.request_timeout_ns};
    return p;
}

static struct pend *pend_find(struct member *x, uint8_t kind, uint64_t key)
{
    for (size_t i = 0; i < x->npend; i++)
        if (x->pend[i].kind == kind && x->pend[i].key == key)
            return &x->pend[i];
    return NULL;
}

static void pend_remove(struct member *x, struct pend *p)
{
    free(p->req);
    *p = x->pend[--x->npend];
}

/* Fail every read and keep-alive waiting here (a leader change: etcd's ErrLeaderChanged). */
static void fail_reads(struct member *x)
{
    for (size_t i = 0; i < x->npend;) {
        struct pend *p = &x->pend[i];
        if (p->kind == P_WRITE) {
            i++;
            continue;
        }
        reply_status(x, p->client, p->cid, -EAGAIN);
        pend_remove(x, p);
    }
    x->nrq = x->nround = 0;
    x->round_ctx = 0;
}

/* ---- Roles ------------------------------------------------------------------------------- */

static int64_t election_timeout(struct member *x)
{
    int64_t e = x->m->cfg.election_ns;
    return e + (int64_t)env_rand_below(x->e, (uint64_t)e);
}

static void set_leader(struct member *x, int leader)
{
    if (leader == x->leader)
        return;
    if (x->leader == x->idx)
        record(x->m, -1, x->term);
    x->leader = leader;
    x->verified = 0;
    fail_reads(x);
}

static void become_follower(struct member *x, uint64_t term, int leader)
{
    if (term > x->term) {
        x->term = term;
        x->vote = -1;
        x->verified = 0;
    }
    x->role = FOLLOWER;
    set_leader(x, leader);
    x->election_at = now(x) + election_timeout(x);
    if (leader >= 0)
        x->heard_at = now(x);
}

static void send_append(struct member *x, int f, uint64_t ctx);

static int propose(struct member *x, const uint8_t *blob, uint32_t len)
{
    if (append(x, x->term, blob, len) < 0) {
        fail(x, "out of memory");
        return -ENOMEM;
    }
    x->m->st.entries++;
    x->dirty = true;
    return 0;
}

static void start_sync(struct member *x);
static void maybe_commit(struct member *x);

static void become_leader(struct member *x)
{
    x->role = LEADER;
    set_leader(x, x->idx);
    x->m->st.elections++;
    record(x->m, x->idx, x->term);
    for (size_t i = 0; i < x->m->n; i++) {
        x->next[i] = last_index(x) + 1;
        x->match[i] = 0;
    }
    x->active = 0;
    x->term_start = last_index(x) + 1;
    /* etcd's lessor Promote: every lease lives at least TTL + E from now */
    int64_t t = now(x);
    for (size_t i = 0; i < x->st.nlease; i++) {
        struct sim_etcd__lease *l = &x->st.lease[i];
        l->expiry_mono = t + l->ttl_s * SIM_S + x->m->cfg.election_ns;
        l->revoke_sent_mono = -1;
    }
    struct ent_hdr h = {.type = ENT_NOOP, .origin = 0xff};
    propose(x, (const uint8_t *)&h, sizeof(h));
    x->heartbeat_at = t + x->m->cfg.heartbeat_ns;
    x->quorum_at = t + x->m->cfg.election_ns;
    x->lease_check_at = t + x->m->cfg.lease_check_ns;
    x->heard_at = t;
    start_sync(x);
    maybe_commit(x);
}

static void campaign(struct member *x)
{
    x->term++;
    x->vote = x->idx;
    x->role = CANDIDATE;
    set_leader(x, -1);
    x->votes = 1u << x->idx;
    x->election_at = now(x) + election_timeout(x);
    if (popcount(x->votes) >= majority(x)) {
        become_leader(x);
        return;
    }
    for (size_t i = 0; i < x->m->n; i++) {
        if ((int)i == x->idx)
            continue;
        struct rmsg r = {.type = R_VOTE, .index = last_index(x), .log_term = last_term(x)};
        send_peer(x, (int)i, &r, NULL, 0);
    }
}

/* ---- Applying ---------------------------------------------------------------------------- */

static void send_watch(struct member *x, struct watcher *w, uint32_t kind, int64_t arg2,
                       const struct etcd_event *ev, uint32_t nev)
{
    struct sim_etcd__rep h;
    memset(&h, 0, sizeof(h));
    h.magic = SIM_ETCD__MAGIC;
    h.kind = kind;
    h.arg = w->wid;
    h.arg2 = arg2;
    h.rev = x->st.rev;
    h.nkv = nev;
    size_t len = sizeof(h) + nev * sizeof(*ev);
    uint8_t *b = sbuf(x, len);
    if (!b)
        return;
    memcpy(b, &h, sizeof(h));
    if (nev)
        memcpy(b + sizeof(h), ev, nev * sizeof(*ev));
    sim_send(x->e, w->client, b, len);
}

/* Send w every change from w->next_rev to the store's revision, in order, in batches.
 * Returns false when w had to be cancelled (its revision is compacted). */
static bool deliver(struct member *x, struct watcher *w)
{
    const struct sim_etcd__store *s = &x->st;
    if (w->next_rev > s->rev)
        return true;
    if (w->next_rev <= s->compact_rev) {
        send_watch(x, w, SIM_ETCD__CANCELED, s->compact_rev, NULL, 0);
        return false;
    }
    size_t lo = 0, hi = s->nhist;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->hist[mid].kv.mod_rev < w->next_rev)
            lo = mid + 1;
        else
            hi = mid;
    }
    struct etcd_event *ev = x->ev;
    uint32_t n = 0;
    for (size_t i = lo; i < s->nhist; i++) {
        const struct sim_etcd__hev *h = &s->hist[i];
        if (!sim_etcd__watch_match(w->key, w->prefix, h->kv.key))
            continue;
        if (n == SIM_ETCD__EVENTS_MAX) {
            send_watch(x, w, SIM_ETCD__EVENTS, 0, ev, n);
            x->m->st.events += n;
            n = 0;
        }
        ev[n].type = (enum etcd_event_type)h->type;
        ev[n].kv = h->kv;
        n++;
    }
    if (n) {
        send_watch(x, w, SIM_ETCD__EVENTS, 0, ev, n);
        x->m->st.events += n;
    }
    w->next_rev = s->rev + 1;
    return true;
}

static void deliver_all(struct member *x)
{
    for (size_t i = 0; i < x->nw;) {
        if (deliver(x, &x->w[i]))
            i++;
        else
            x->w[i] = x->w[--x->nw];
    }
}

static void serve_reads(struct member *x);
static void start_round(struct member *x);

static void apply_one(struct member *x, const struct entry *en)
{
    struct ent_hdr h;
    if (en->len < sizeof(h)) {
        fail(x, "malformed log entry");
        return;
    }
    memcpy(&h, en->data, sizeof(h));
    if (h.type != ENT_REQ)
        return;
    struct sim_etcd__req q;
    if (sim_etcd__req_decode(&q, en->data + sizeof(h), en->len - sizeof(h)) < 0) {
        fail(x, "malformed log entry");
        return;
    }
    int64_t rev = x->st.rev;
    if (sim_etcd__store_apply(&x->st, &q, x->m->min_ttl_s, x->role == LEADER, now(x), &x->res) <
        0) {
        fail(x, "out of memory");
        return;
    }
    bool mine = h.origin == x->idx && h.incarnation == x->incarnation;
    if (mine && q.op == SIM_ETCD__EXPIRE && x->res.status == 0)
        x->m->st.expired++;
    if (mine) {
        struct pend *p = pend_find(x, P_WRITE, h.pid);
        if (p) {
            reply(x, p->client, p->cid, &x->res);
            pend_remove(x, p);
        }
    }
    if (x->st.rev != rev)
        deliver_all(x);
}

/* Apply what is committed and on disk here. */
static void apply_ready(struct member *x)
{
    uint64_t limit = x->commit < x->synced ? x->commit : x->synced;
    bool any = false;
    while (x->applied < limit && x->running) {
        const struct entry *en = entry_at(x, x->applied + 1);
        if (!en) {
            fail(x, "a committed entry is missing");
            return;
        }
        apply_one(x, en);
        x->applied++;
        any = true;
    }
    if (any) {
        compact_log(x);
        serve_reads(x);
    }
}

static void maybe_commit(struct member *x)
{
    if (x->role != LEADER)
        return;
    x->match[x->idx] = x->synced;
    uint64_t m[SIM_ETCD_MAX_MEMBERS];
    size_t n = x->m->n;
    memcpy(m, x->match, n * sizeof(*m));
    for (size_t i = 1; i < n; i++) /* descending insertion sort */
        for (size_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
            uint64_t t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    uint64_t c = m[majority(x) - 1];
    if (c > x->commit && term_at(x, c) == x->term) {
        x->commit = c;
        x->dirty = true; /* followers learn the commit index */
        apply_ready(x);
        start_round(x); /* reads that waited for a commit in this term */
    }
}

/* ---- The disk ------------------------------------------------------------------------------ */

static void finish_sync(struct member *x)
{
    x->syncing = false;
    x->m->st.fsyncs++;
    if (x->sync_upto > x->synced)
        x->synced = x->sync_upto;
    if (x->synced > last_index(x))
        x->synced = last_index(x);
    if (x->role == LEADER) {
        maybe_commit(x);
    } else if (x->leader >= 0 && x->verified > 0) {
        /* what is on disk and known to be the leader's entries */
        struct rmsg r = {.type = R_APPEND_RESP,
                         .ok = 1,
                         .index = x->synced < x->verified ? x->synced : x->verified};
        send_peer(x, x->leader, &r, NULL, 0);
    }
    apply_ready(x);
    if (last_index(x) > x->synced)
        start_sync(x);
}

static void start_sync(struct member *x)
{
    if (x->syncing || last_index(x) <= x->synced)
        return;
    x->syncing = true;
    x->sync_upto = last_index(x);
    if (x->m->cfg.fsync_ns <= 0) {
        finish_sync(x);
        return;
    }
    x->sync_done_at = now(x) + x->m->cfg.fsync_ns;
}

/* ---- Replication --------------------------------------------------------------------------- */

static void send_snapshot(struct member *x, int f)
{
    size_t len;
    uint8_t *buf = sim_etcd__store_save(&x->st, &len);
    if (!buf) {
        fail(x, "out of memory");
        return;
    }
    if (len + sizeof(struct rmsg) > RECV_CAP) {
        free(buf);
        fail(x, "snapshot larger than a member's receive buffer");
        return;
    }
    struct rmsg r = {.type = R_SNAP,
                     .index = x->applied,
                     .log_term = term_at(x, x->applied),
                     .commit = x->commit};
    send_peer(x, f, &r, buf, len);
    free(buf);
    x->m->st.snapshots++;
    x->next[f] = x->applied + 1;
}

/* Send follower f the entries from next[f] (a heartbeat when there are none), with the
 * read round ctx; pipelined: next[f] moves past what was sent. */
static void send_append(struct member *x, int f, uint64_t ctx)
{
    uint64_t next = x->next[f];
    if (next < x->log_start) {
        send_snapshot(x, f);
        return;
    }
    uint64_t last = last_index(x);
    size_t bytes = 0;
    uint32_t n = 0;
    for (uint64_t i = next; i <= last && n < BATCH_ENTRIES; i++, n++) {
        size_t b = entry_at(x, i)->len + sizeof(uint64_t) + sizeof(uint32_t);
        if (n > 0 && bytes + b > BATCH_BYTES)
            break;
        bytes += b;
    }
    uint8_t *payload = NULL;
    if (n) {
        payload = malloc(bytes);
        if (!payload) {
            fail(x, "out of memory");
            return;
        }
        size_t off = 0;
        for (uint32_t k = 0; k < n; k++) {
            const struct entry *en = entry_at(x, next + k);
            memcpy(payload + off, &en->term, sizeof(en->term));
            memcpy(payload + off + sizeof(en->term), &en->len, sizeof(en->len));
            memcpy(payload + off + sizeof(en->term) + sizeof(en->len), en->data, en->len);
            off += sizeof(en->term) + sizeof(en->len) + en->len;
        }
    }
    struct rmsg r = {.type = R_APPEND,
                     .index = next - 1,
                     .log_term = term_at(x, next - 1),
                     .commit = x->commit,
                     .ctx = ctx,
                     .nent = n};
    send_peer(x, f, &r, payload, bytes);
    free(payload);
    x->next[f] = next + n;
}

static void broadcast(struct member *x, uint64_t ctx)
{
    for (size_t i = 0; i < x->m->n; i++)
        if ((int)i != x->idx)
            send_append(x, (int)i, ctx);
}

static void handle_append(struct member *x, const struct rmsg *r, const uint8_t *p, size_t len)
{
    struct rmsg a = {.type = R_APPEND_RESP, .ctx = r->ctx};
    if (r->term < x->term) {
        a.index = last_index(x);
        send_peer(x, r->from, &a, NULL, 0);
        return;
    }
    become_follower(x, r->term, r->from);
    uint64_t prev = r->index;
    bool known = prev <= x->applied || term_at(x, prev) == r->log_term;
    if (prev > last_index(x) || !known) {
        a.index = prev - 1 < last_index(x) ? prev - 1 : last_index(x);
        send_peer(x, r->from, &a, NULL, 0);
        return;
    }
    size_t off = 0;
    bool added = false;
    for (uint32_t k = 0; k < r->nent; k++) {
        uint64_t term;
        uint32_t elen;
        if (off + sizeof(term) + sizeof(elen) > len)
            return;
        memcpy(&term, p + off, sizeof(term));
        memcpy(&elen, p + off + sizeof(term), sizeof(elen));
        const uint8_t *data = p + off + sizeof(term) + sizeof(elen);
        off += sizeof(term) + sizeof(elen) + elen;
        if (off > len)
            return;
        uint64_t i = prev + 1 + k;
        if (i <= x->applied)
            continue; /* applied here, hence committed: the same entry */
        if (i <= last_index(x)) {
            if (term_at(x, i) == term)
                continue;
            if (i <= x->commit) {
                fail(x, "a committed entry conflicts with the leader's");
                return;
            }
            truncate_from(x, i);
        }
        if (append(x, term, data, elen) < 0) {
            fail(x, "out of memory");
            return;
        }
        added = true;
    }
    uint64_t new_last = prev + r->nent;
    if (new_last > x->verified)
        x->verified = new_last;
    if (r->commit > x->commit)
        x->commit = r->commit < new_last ? r->commit : new_last;
    a.ok = 1;
    a.index = new_last < x->synced ? new_last : x->synced;
    send_peer(x, r->from, &a, NULL, 0);
    if (added)
        start_sync(x);
    apply_ready(x);
}

static void complete_round(struct member *x);

static void handle_append_resp(struct member *x, const struct rmsg *r)
{
    if (r->term > x->term) {
        become_follower(x, r->term, -1);
        return;
    }
    if (x->role != LEADER || r->term != x->term)
        return;
    int f = r->from;
    x->active |= 1u << f;
    if (x->round_ctx && r->ctx >= x->round_ctx) {
        x->round_acks |= 1u << f;
        if (popcount(x->round_acks) >= majority(x))
            complete_round(x);
    }
    if (r->ok) {
        if (r->index > x->match[f])
            x->match[f] = r->index;
        if (x->next[f] < x->match[f] + 1)
            x->next[f] = x->match[f] + 1;
        maybe_commit(x);
    } else {
        uint64_t hint = r->index + 1;
        uint64_t back = x->next[f] > 1 ? x->next[f] - 1 : 1;
        x->next[f] = hint < back ? hint : back;
        if (x->next[f] < 1)
            x->next[f] = 1;
        send_append(x, f, 0);
    }
}

static void handle_snapshot(struct member *x, const struct rmsg *r, const uint8_t *p, size_t len)
{
    struct rmsg a = {.type = R_APPEND_RESP};
    if (r->term < x->term) {
        a.index = last_index(x);
        send_peer(x, r->from, &a, NULL, 0);
        return;
    }
    become_follower(x, r->term, r->from);
    if (r->index <= x->applied) {
        a.ok = 1;
        a.index = r->index < x->synced ? r->index : x->synced;
        send_peer(x, r->from, &a, NULL, 0);
        return;
    }
    if (sim_etcd__store_load(&x->st, p, len) < 0) {
        fail(x, "cannot load a snapshot");
        return;
    }
    for (size_t i = 0; i < x->st.nlease; i++)
        x->st.lease[i].expiry_mono = INT64_MAX;
    if (term_at(x, r->index) == r->log_term) {
        forget_before(x, r->index + 1);
    } else {
        truncate_from(x, x->log_start);
        x->log_start = r->index + 1;
        x->prev_term = r->log_term;
    }
    if (x->synced < r->index)
        x->synced = r->index;
    if (x->verified < r->index)
        x->verified = r->index;
    x->applied = r->index;
    if (x->commit < r->index)
        x->commit = r->index;
    deliver_all(x);
    serve_reads(x);
    a.ok = 1;
    a.index = x->synced < last_index(x) ? x->synced : last_index(x);
    send_peer(x, r->from, &a, NULL, 0);
}

/* ---- Votes ------------------------------------------------------------------------------- */

static bool in_lease(const struct member *x)
{
    return x->leader >= 0 && env_mono(x->e) - x->heard_at < x->m->cfg.election_ns;
}

static void handle_vote(struct member *x, const struct rmsg *r)
{
    if (r->term > x->term) {
        if (in_lease(x))
            return; /* check-quorum: a live leader's followers ignore the candidate */
        become_follower(x, r->term, -1);
    }
    struct rmsg a = {.type = R_VOTE_RESP};
    bool up_to_date =
        r->log_term > last_term(x) || (r->log_term == last_term(x) && r->index >= last_index(x));
    if (r->term == x->term && (x->vote < 0 || x->vote == r->from) && up_to_date) {
        x->vote = r->from;
        x->election_at = now(x) + election_timeout(x);
        a.ok = 1;
    }
    send_peer(x, r->from, &a, NULL, 0);
}

static void handle_vote_resp(struct member *x, const struct rmsg *r)
{
    if (r->term > x->term) {
        become_follower(x, r->term, -1);
        return;
    }
    if (x->role != CANDIDATE || r->term != x->term || !r->ok)
        return;
    x->votes |= 1u << r->from;
    if (popcount(x->votes) >= majority(x))
        become_leader(x);
}

/* ---- Reads (ReadIndex) ------------------------------------------------------------------- */

static void start_round(struct member *x)
{
    if (x->role != LEADER || x->round_ctx || x->nrq == 0 || x->commit < x->term_start)
        return;
    x->round_ctx = ++x->read_seq;
    x->round_index = x->commit;
    x->round_acks = 1u << x->idx;
    x->nround = x->nrq;
    x->m->st.read_rounds++;
    if (popcount(x->round_acks) >= majority(x)) {
        complete_round(x);
        return;
    }
    broadcast(x, x->round_ctx);
}

static void complete_round(struct member *x)
{
    for (size_t i = 0; i < x->nround; i++) {
        const struct rread *rr = &x->rq[i];
        if (rr->origin == x->idx) {
            struct pend *p = pend_find(x, P_READ, rr->rid);
            if (p) {
                p->ready = true;
                p->index = x->round_index;
            }
        } else {
            struct rmsg a = {.type = R_READ_RESP, .ctx = rr->rid, .arg = (int64_t)x->round_index};
            send_peer(x, rr->origin, &a, NULL, 0);
        }
    }
    if (x->nrq > x->nround)
        memmove(x->rq, x->rq + x->nround, (x->nrq - x->nround) * sizeof(*x->rq));
    x->nrq -= x->nround;
    x->nround = 0;
    x->round_ctx = 0;
    serve_reads(x);
    start_round(x);
}

static void queue_read(struct member *x, int origin, uint64_t rid)
{
    if (sim_etcd__grow((void **)&x->rq, &x->caprq, x->nrq + 1, sizeof(*x->rq)) < 0) {
        fail(x, "out of memory");
        return;
    }
    x->rq[x->nrq++] = (struct rread){origin, rid};
    start_round(x);
}

static void serve_reads(struct member *x)
{
    for (size_t i = 0; i < x->npend;) {
        struct pend *p = &x->pend[i];
        if (p->kind != P_READ || !p->ready || p->index > x->applied) {
            i++;
            continue;
        }
        if (sim_etcd__store_read(&x->st, p->req, &x->res) < 0) {
            fail(x, "out of memory");
            return;
        }
        x->m->st.reads++;
        reply(x, p->client, p->cid, &x->res);
        pend_remove(x, p);
    }
}

/* ---- Leases ------------------------------------------------------------------------------ */

/* The leader renews a lease: its TTL again from now. Returns the TTL or -ENOENT. */
static int64_t renew(struct member *x, int64_t id)
{
    struct sim_etcd__lease *l = sim_etcd__lease_find(&x->st, id);
    int64_t t = now(x);
    if (!l || l->expiry_mono <= t)
        return -ENOENT; /* gone, or expired and waiting for its revoke: not revivable */
    l->expiry_mono = t + l->ttl_s * SIM_S;
    return l->ttl_s;
}

static void check_leases(struct member *x)
{
    int64_t t = now(x);
    for (size_t i = 0; i < x->st.nlease; i++) {
        struct sim_etcd__lease *l = &x->st.lease[i];
        if (l->expiry_mono > t ||
            (l->revoke_sent_mono >= 0 && t - l->revoke_sent_mono < REVOKE_RETRY_NS))
            continue;
        l->revoke_sent_mono = t;
        uint8_t blob[sizeof(struct ent_hdr) + 64];
        struct ent_hdr h = {
            .type = ENT_REQ, .origin = (uint8_t)x->idx, .incarnation = x->incarnation};
        struct sim_etcd__req q = {.op = SIM_ETCD__EXPIRE, .lease = l->id};
        memcpy(blob, &h, sizeof(h));
        size_t n = sim_etcd__req_encode(&q, blob + sizeof(h));
        propose(x, blob, (uint32_t)(sizeof(h) + n));
    }
    start_sync(x);
}

/* ---- Client requests --------------------------------------------------------------------- */

static void note_client(struct member *x, struct sim_addr a)
{
    uint64_t k = (uint64_t)(uint32_t)a.node << 32 | a.port;
    size_t lo = 0, hi = x->nclients;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->clients[mid] == k)
            return;
        if (x->clients[mid] < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (sim_etcd__grow((void **)&x->clients, &x->capclients, x->nclients + 1, sizeof(*x->clients)) <
        0)
        return;
    memmove(&x->clients[lo + 1], &x->clients[lo], (x->nclients - lo) * sizeof(*x->clients));
    x->clients[lo] = k;
    x->nclients++;
}

static void client_write(struct member *x, struct sim_addr from, uint64_t cid,
                         const struct sim_etcd__req *q)
{
    if (x->leader < 0) {
        x->m->st.dropped++;
        reply_status(x, from, cid, -EAGAIN); /* no leader: the proposal is dropped */
        return;
    }
    uint8_t blob[sizeof(struct ent_hdr) + SIM_ETCD__REQ_MAX];
    struct ent_hdr h = {.type = ENT_REQ,
                        .origin = (uint8_t)x->idx,
                        .incarnation = x->incarnation,
                        .pid = ++x->next_pid};
    memcpy(blob, &h, sizeof(h));
    size_t n = sizeof(h) + sim_etcd__req_encode(q, blob + sizeof(h));
    if (!pend_add(x, P_WRITE, h.pid, from, cid))
        return;
    x->m->st.writes++;
    if (x->role == LEADER) {
        propose(x, blob, (uint32_t)n);
        start_sync(x);
    } else {
        struct rmsg r = {.type = R_PROP};
        send_peer(x, x->leader, &r, blob, n);
    }
}

static void client_read(struct member *x, struct sim_addr from, uint64_t cid,
                        const struct sim_etcd__req *q)
{
    if (x->leader < 0) {
        reply_status(x, from, cid, -EAGAIN);
        return;
    }
    struct sim_etcd__req *copy = malloc(sizeof(*copy));
    struct pend *p = copy ? pend_add(x, P_READ, ++x->next_rid, from, cid) : NULL;
    if (!p) {
        free(copy);
        fail(x, "out of memory");
        return;
    }
    *copy = *q;
    p->req = copy;
    if (x->role == LEADER) {
        queue_read(x, x->idx, p->key);
    } else {
        struct rmsg r = {.type = R_READ, .ctx = p->key};
        send_peer(x, x->leader, &r, NULL, 0);
    }
}

static void client_keepalive(struct member *x, struct sim_addr from, uint64_t cid, int64_t id)
{
    if (x->role == LEADER) {
        int64_t ttl = renew(x, id);
        struct sim_etcd__res r = {.status = ttl < 0 ? (int)ttl : 0,
                                  .rev = x->st.rev,
                                  .arg = id,
                                  .arg2 = ttl < 0 ? 0 : ttl};
        reply(x, from, cid, &r);
        return;
    }
    if (x->leader < 0) {
        reply_status(x, from, cid, -EAGAIN);
        return;
    }
    struct pend *p = pend_add(x, P_KA, ++x->next_rid, from, cid);
    if (!p)
        return;
    struct rmsg r = {.type = R_KA, .ctx = p->key, .arg = id};
    send_peer(x, x->leader, &r, NULL, 0);
}

static void client_watch(struct member *x, struct sim_addr from, uint64_t cid,
                         const struct sim_etcd__req *q)
{
    if (sim_etcd__grow((void **)&x->w, &x->capw, x->nw + 1, sizeof(*x->w)) < 0) {
        fail(x, "out of memory");
        return;
    }
    struct watcher *w = &x->w[x->nw];
    *w = (struct watcher){.client = from, .wid = q->lease, .prefix = q->ops[0].prefix};
    snprintf(w->key, sizeof(w->key), "%s", q->ops[0].key);
    w->next_rev = q->arg > 0 ? q->arg : x->st.rev + 1;
    struct sim_etcd__res r = {.rev = x->st.rev, .arg = w->wid};
    reply(x, from, cid, &r); /* created */
    if (q->arg > 0 && q->arg <= x->st.compact_rev) {
        send_watch(x, w, SIM_ETCD__CANCELED, x->st.compact_rev, NULL, 0);
        return;
    }
    x->nw++;
    deliver(x, w);
}

static void client_cancel(struct member *x, struct sim_addr from, int64_t wid)
{
    for (size_t i = 0; i < x->nw; i++) {
        if (x->w[i].wid == wid && x->w[i].client.node == from.node &&
            x->w[i].client.port == from.port) {
            x->w[i] = x->w[--x->nw];
            return;
        }
    }
}

static void handle_client(struct member *x, struct sim_addr from, const uint8_t *buf, size_t len)
{
    struct sim_etcd__hdr h;
    memcpy(&h, buf, sizeof(h));
    note_client(x, from);
    x->m->st.requests++;
    if (x->m->cfg.service_ns > 0)
        env_work(x->e, x->m->cfg.service_ns);
    struct sim_etcd__req q;
    if (sim_etcd__req_decode(&q, buf + sizeof(h), len - sizeof(h)) < 0) {
        reply_status(x, from, h.id, -EPROTO);
        return;
    }
    switch (q.op) {
    case SIM_ETCD__TXN:
        if (sim_etcd__req_readonly(&q))
            client_read(x, from, h.id, &q);
        else
            client_write(x, from, h.id, &q);
        break;
    case SIM_ETCD__GRANT:
        if (q.arg > ETCD_MAX_LEASE_TTL_S) {
            reply_status(x, from, h.id, -EINVAL); /* etcd: "too large lease TTL" */
            break;
        }
        /* the member that receives a grant picks the id (etcd: member id + a counter) */
        q.lease = (int64_t)(((uint64_t)(x->idx + 1) << 54) |
                            ((uint64_t)(x->incarnation & 0x3fff) << 40) | ++x->next_lease);
        client_write(x, from, h.id, &q);
        break;
    case SIM_ETCD__REVOKE:
    case SIM_ETCD__COMPACT:
        client_write(x, from, h.id, &q);
        break;
    case SIM_ETCD__KEEPALIVE:
        client_keepalive(x, from, h.id, q.lease);
        break;
    case SIM_ETCD__WATCH:
        client_watch(x, from, h.id, &q);
        break;
    case SIM_ETCD__WATCH_CANCEL:
        client_cancel(x, from, q.lease);
        break;
    default:
        reply_status(x, from, h.id, -EPROTO);
    }
}

/* ---- Raft messages ------------------------------------------------------------------------ */

static void handle_peer(struct member *x, const uint8_t *buf, size_t len)
{
    struct rmsg r;
    memcpy(&r, buf, sizeof(r));
    if (r.from >= x->m->n || r.from == x->idx)
        return;
    const uint8_t *p = buf + sizeof(r);
    size_t plen = len - sizeof(r);
    switch (r.type) {
    case R_APPEND:
        handle_append(x, &r, p, plen);
        break;
    case R_APPEND_RESP:
        handle_append_resp(x, &r);
        break;
    case R_VOTE:
        handle_vote(x, &r);
        break;
    case R_VOTE_RESP:
        handle_vote_resp(x, &r);
        break;
    case R_SNAP:
        handle_snapshot(x, &r, p, plen);
        break;
    case R_PROP:
        if (x->role == LEADER) {
            propose(x, p, (uint32_t)plen);
            start_sync(x);
        } else if (x->leader >= 0 && x->leader != r.from) {
            struct rmsg f = {.type = R_PROP};
            send_peer(x, x->leader, &f, p, plen);
        }
        break;
    case R_READ:
        if (x->role == LEADER) {
            queue_read(x, r.from, r.ctx);
        } else {
            struct rmsg a = {.type = R_READ_RESP, .ctx = r.ctx, .status = -EAGAIN};
            send_peer(x, r.from, &a, NULL, 0);
        }
        break;
    case R_READ_RESP: {
        struct pend *q = pend_find(x, P_READ, r.ctx);
        if (!q)
            break;
        if (r.status < 0) {
            reply_status(x, q->client, q->cid, r.status);
            pend_remove(x, q);
            break;
        }
        q->ready = true;
        q->index = (uint64_t)r.arg;
        serve_reads(x);
        break;
    }
    case R_KA: {
        struct rmsg a = {.type = R_KA_RESP, .ctx = r.ctx, .status = -EAGAIN};
        if (x->role == LEADER) {
            int64_t ttl = renew(x, r.arg);
            a.status = ttl < 0 ? (int)ttl : 0;
            a.arg = ttl < 0 ? 0 : ttl;
        }
        send_peer(x, r.from, &a, NULL, 0);
        break;
    }
    case R_KA_RESP: {
        struct pend *q = pend_find(x, P_KA, r.ctx);
        if (!q)
            break;
        struct sim_etcd__res res = {.status = r.status, .rev = x->st.rev, .arg2 = r.arg};
        reply(x, q->client, q->cid, &res);
        pend_remove(x, q);
        break;
    }
    default:
        break;
    }
}

/* ---- Timers ------------------------------------------------------------------------------- */

static void expire_pending(struct member *x)
{
    int64_t t = now(x);
    for (size_t i = 0; i < x->npend;) {
        struct pend *p = &x->pend[i];
        if (p->deadline > t) {
            i++;
            continue;
        }
        x->m->st.timed_out++;
        reply_status(x, p->client, p->cid, -EAGAIN); /* etcd: "request timed out" */
        pend_remove(x, p);
    }
}

static void run_timers(struct member *x)
{
    int64_t t = now(x);
    if (x->syncing && x->sync_done_at <= t)
        finish_sync(x);
    if (x->role == LEADER) {
        if (x->heartbeat_at <= t) {
            x->heartbeat_at = t + x->m->cfg.heartbeat_ns;
            broadcast(x, x->round_ctx);
            x->dirty = false;
        }
        if (x->quorum_at <= t && x->role == LEADER) {
            x->quorum_at = t + x->m->cfg.election_ns;
            if (popcount(x->active | 1u << x->idx) < majority(x)) {
                become_follower(x, x->term, -1); /* check-quorum: step down */
            } else {
                x->heard_at = t;
                x->active = 0;
            }
        }
        if (x->role == LEADER && x->lease_check_at <= t) {
            x->lease_check_at = t + x->m->cfg.lease_check_ns;
            check_leases(x);
        }
    } else if (x->election_at <= t) {
        campaign(x);
    }
    if (x->tick_at <= t) {
        x->tick_at = t + x->m->cfg.heartbeat_ns;
        expire_pending(x);
    }
}

static int64_t next_timer(const struct member *x)
{
    int64_t t = x->tick_at;
    if (x->syncing && x->sync_done_at < t)
        t = x->sync_done_at;
    if (x->role == LEADER) {
        if (x->heartbeat_at < t)
            t = x->heartbeat_at;
        if (x->quorum_at < t)
            t = x->quorum_at;
        if (x->lease_check_at < t)
            t = x->lease_check_at;
    } else if (x->election_at < t) {
        t = x->election_at;
    }
    return t;
}

/* ---- The member's life ------------------------------------------------------------------- */

/* What a member's actor leaves for its exit handler: the member, or NULL once the model
 * is gone (the model may be destroyed before the sim, whose teardown runs the handler). */
struct life {
    struct member *x;
};

/* The member died (crash, or the world's end): reset every client connection to it, as
 * its kernel would, and free its life. */
static void member_exit(void *arg)
{
    struct life *life = arg;
    struct member *x = life->x;
    free(life);
    if (!x)
        return;
    x->life = NULL;
    struct sim_etcd *m = x->m;
    if (x->role == LEADER)
        record(m, -1, x->term);
    x->running = false;
    struct sim_etcd__rep h;
    memset(&h, 0, sizeof(h));
    h.magic = SIM_ETCD__MAGIC;
    h.kind = SIM_ETCD__RESET;
    for (size_t i = 0; i < x->nclients; i++) {
        struct sim_addr to = {(int)(x->clients[i] >> 32), (uint32_t)x->clients[i]};
        if (sim_post(m->sim, member_addr(m, x->idx), to, &h, sizeof(h)) == 0)
            m->st.resets++;
    }
    x->nclients = 0;
}

/* Forget the volatile state (a start or restart); the log keeps what was fsync'd. */
static void reset_volatile(struct member *x)
{
    if (last_index(x) > x->synced)
        truncate_from(x, x->synced + 1);
    x->role = FOLLOWER;
    x->leader = -1;
    x->commit = x->applied;
    x->votes = x->active = 0;
    x->syncing = x->dirty = false;
    x->sync_upto = x->synced;
    x->nrq = x->nround = 0;
    x->round_ctx = 0;
    while (x->npend)
        pend_remove(x, &x->pend[x->npend - 1]);
    x->nw = 0;
    x->nclients = 0;
    for (size_t i = 0; i < x->st.nlease; i++)
        x->st.lease[i].expiry_mono = INT64_MAX;
}

static void member_main(struct env *e, void *arg)
{
    struct member *x = arg;
    x->e = e;
    x->incarnation++;
    reset_volatile(x);
    struct life *life = malloc(sizeof(*life));
    if (!life || sim_env_atexit(e, member_exit, life) < 0) {
        free(life);
        fail(x, "out of memory");
        return;
    }
    life->x = x;
    x->life = life;
    if (sim_listen(e, x->m->cfg.port) < 0) {
        fail(x, "cannot listen");
        return;
    }
    x->running = true;
    int64_t t = now(x);
    x->election_at = t + election_timeout(x);
    x->tick_at = t + x->m->cfg.heartbeat_ns;
    x->heard_at = t - x->m->cfg.election_ns; /* no leader heard of yet */
    if (x->m->n == 1)
        x->election_at = t; /* alone: leader at once, as a one-member etcd is */
    else if (x->idx == 0 && x->incarnation == 1 && x->m->cfg.prefer_first)
        x->election_at = t + x->m->cfg.election_ns / 2 + /* campaigns before the others */
                         (int64_t)env_rand_below(e, (uint64_t)x->m->cfg.election_ns / 2);
    for (;;) {
        int64_t wait = next_timer(x) - now(x);
        struct sim_addr from;
        /* Drain what has arrived before sending the appends it produced: proposals that
         * arrive together go out together, as in etcd's Ready batches. */
        ssize_t n = sim_recv(e, x->rbuf, RECV_CAP, &from, 0);
        if (n == -ETIMEDOUT) {
            if (x->dirty && x->role == LEADER) {
                x->dirty = false;
                broadcast(x, x->round_ctx);
            }
            n = sim_recv(e, x->rbuf, RECV_CAP, &from, wait > 0 ? wait : 0);
        }
        if (n > (ssize_t)RECV_CAP) {
            fail(x, "a message larger than the receive buffer");
            return;
        }
        if (n >= (ssize_t)sizeof(struct sim_etcd__hdr)) {
            struct sim_etcd__hdr h;
            memcpy(&h, x->rbuf, sizeof(h));
            if (h.magic == SIM_ETCD__MAGIC && h.kind == SIM_ETCD__CLIENT_REQ)
                handle_client(x, from, x->rbuf, (size_t)n);
            else if (h.magic == SIM_ETCD__MAGIC && h.kind == PEER_MSG &&
                     n >= (ssize_t)sizeof(struct rmsg))
                handle_peer(x, x->rbuf, (size_t)n);
        }
        run_timers(x);
    }
}

/* ---- Creation and inspection -------------------------------------------------------------- */

struct sim_etcd *sim_etcd_create(struct sim *sim, const int *nodes, size_t n,
                                 const struct sim_etcd_cfg *cfg)
{
    if (!sim || !nodes || n < 1 || n > SIM_ETCD_MAX_MEMBERS || !cfg ||
        cfg->port >= SIM_PORT_EPHEMERAL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i] < 0 || nodes[i] >= sim_node_count(sim))
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (nodes[j] == nodes[i])
                return NULL;
    }
    struct sim_etcd *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->sim = sim;
    m->cfg = *cfg;
    struct sim_etcd_cfg *c = &m->cfg;
    if (!c->port)
        c->port = SIM_ETCD_PORT;
    if (c->heartbeat_ns <= 0)
        c->heartbeat_ns = 100 * SIM_MS;
    if (c->election_ns <= 0)
        c->election_ns = SIM_S;
    if (c->request_timeout_ns <= 0)
        c->request_timeout_ns = 5 * SIM_S + 2 * c->election_ns;
    if (c->lease_check_ns <= 0)
        c->lease_check_ns = 500 * SIM_MS;
    if (c->catchup_entries == 0)
        c->catchup_entries = 5000;
    /* etcd's minTTL: ceil(1.5 election timeouts) in seconds */
    m->min_ttl_s = (3 * c->election_ns / 2 + SIM_S - 1) / SIM_S;
    m->n = n;
    for (size_t i = 0; i < n; i++) {
        struct member *x = &m->mem[i];
        x->m = m;
        x->idx = (int)i;
        x->node = nodes[i];
        x->vote = -1;
        x->log_start = 1;
        x->leader = -1;
        sim_etcd__store_init(&x->st);
        x->rbuf = malloc(RECV_CAP);
        if (!x->rbuf || sim_node_main(sim, nodes[i], "etcd", member_main, x) < 0) {
            sim_etcd_destroy(m);
            return NULL;
        }
    }
    return m;
}

void sim_etcd_destroy(struct sim_etcd *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        struct member *x = &m->mem[i];
        if (x->life)
            x->life->x = NULL; /* its actor outlives the model: its exit handler only frees */
        for (size_t j = 0; j < x->nlog; j++)
            free(x->log[j].data);
        free(x->log);
        sim_etcd__store_free(&x->st);
        free(x->rq);
        while (x->npend)
            pend_remove(x, &x->pend[x->npend - 1]);
        free(x->pend);
        free(x->w);
        free(x->clients);
        free(x->rbuf);
        free(x->sbuf);
        free(x->res.kvs);
    }
    free(m->changes);
    free(m);
}

size_t sim_etcd_members(const struct sim_etcd *m)
{
    return m->n;
}

struct sim_addr sim_etcd_addr(const struct sim_etcd *m, size_t member)
{
    return member_addr(m, (int)(member % m->n));
}

int sim_etcd_node(const struct sim_etcd *m, size_t member)
{
    return m->mem[member % m->n].node;
}

int sim_etcd_leader(const struct sim_etcd *m)
{
    int best = -1;
    for (size_t i = 0; i < m->n; i++) {
        const struct member *x = &m->mem[i];
        if (x->running && x->role == LEADER && sim_node_up(m->sim, x->node) &&
            (best < 0 || x->term > m->mem[best].term))
            best = (int)i;
    }
    return best;
}

int64_t sim_etcd_min_ttl_s(const struct sim_etcd *m)
{
    return m->min_ttl_s;
}

void sim_etcd_stats(const struct sim_etcd *m, struct sim_etcd_stats *out)
{
    *out = m->st;
}

const struct sim_etcd_change *sim_etcd_changes(const struct sim_etcd *m, size_t *n)
{
    *n = m->nchanges;
    return m->changes;
}

int sim_etcd_peek(const struct sim_etcd *m, size_t member, const char *key, struct etcd_kv *kv,
                  int64_t *rev)
{
    if (member >= m->n || !m->mem[member].running)
        return -ENOENT;
    const struct sim_etcd__store *s = &m->mem[member].st;
    if (rev)
        *rev = s->rev;
    const struct etcd_kv *k = sim_etcd__kv_find(s, key);
    if (k && kv)
        *kv = *k;
    return k != NULL;
}

size_t sim_etcd_leases(const struct sim_etcd *m, size_t member)
{
    return member < m->n ? m->mem[member].st.nlease : 0;
}

/* ---- The checker --------------------------------------------------------------------------- */

static bool member_ok(const struct member *x)
{
    if (!sim_etcd__store_check(&x->st))
        return false;
    if (x->log_start < 1 || x->synced > last_index(x) || x->applied > x->synced ||
        x->applied + 1 < x->log_start)
        return false;
    if (x->running && (x->applied > x->commit || x->commit > last_index(x)))
        return false;
    uint64_t prev = x->prev_term;
    for (size_t i = 0; i < x->nlog; i++) {
        if (x->log[i].term < prev || x->log[i].term > x->term)
            return false;
        prev = x->log[i].term;
    }
    return true;
}

bool sim_etcd_check(const struct sim_etcd *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (!member_ok(&m->mem[i]))
            return false;
    for (size_t i = 0; i < m->n; i++) {
        const struct member *a = &m->mem[i];
        for (size_t j = i + 1; j < m->n; j++) {
            const struct member *b = &m->mem[j];
            /* election safety: one leader per term */
            if (a->running && b->running && a->role == LEADER && b->role == LEADER &&
                a->term == b->term)
                return false;
            /* state machine safety: what both applied is the same entries */
            uint64_t upto = a->applied < b->applied ? a->applied : b->applied;
            uint64_t from = a->log_start > b->log_start ? a->log_start : b->log_start;
            for (uint64_t k = from; k <= upto; k++) {
                const struct entry *x = entry_at(a, k), *y = entry_at(b, k);
                if (!x || !y)
                    continue;
                if (x->term != y->term || x->len != y->len || memcmp(x->data, y->data, x->len))
                    return false;
            }
            /* log matching: equal terms at an index mean equal prefixes (checked back to
             * where both logs still hold entries) */
            uint64_t top = last_index(a) < last_index(b) ? last_index(a) : last_index(b);
            bool same = false;
            for (uint64_t k = top; k >= from && k > 0; k--) {
                const struct entry *x = entry_at(a, k), *y = entry_at(b, k);
                if (!same && x && y && x->term == y->term)
                    same = true;
                if (same && x && y &&
                    (x->term != y->term || x->len != y->len || memcmp(x->data, y->data, x->len)))
                    return false;
            }
            if (a->applied == b->applied && !sim_etcd__store_equal(&a->st, &b->st))
                return false;
        }
    }
    return true;
}

/* cluster.c - a node of the delayed-task cluster and its executor (see cluster.h). A node
 * is one actor and one loop: fire what is due, resend what is unacknowledged, heartbeat,
 * coordinate if it is its turn, then wait for a message until the next of those is due.
 * No locks: only the node's own actor touches its state. */
#include "delay/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delay/detector.h"
#include "timer/tq.h"

#define DC_MAGIC 0x44434c31u /* "DCL1" */
#define NONE INT64_MIN

enum { M_HB = 1, M_MAP, M_COPY, M_MARK, M_PULL, M_FIRE, M_ACK, M_PROPOSE, M_PROMISE };

/* Every message starts with this; epoch is the sender's map's. */
struct hdr {
    uint32_t magic;
    uint16_t kind;
    int16_t coord; /* M_MAP: who made it */
    uint64_t epoch;
};

/* M_COPY, M_MARK, M_PULL, M_FIRE, M_ACK: one task. M_PROPOSE: the proposed epoch in
 * token; M_PROMISE: that epoch in token, verdict 1 (promised) or 0 (the sender has a map
 * or promise at least as new: that epoch in sched). */
struct task_msg {
    struct hdr h;
    uint32_t task;
    int32_t verdict; /* M_ACK, M_PROMISE */
    int64_t sched;   /* M_FIRE, M_ACK: the firing; M_COPY, M_MARK: the last known done */
    uint64_t token;  /* M_FIRE, M_ACK */
};

/* M_MAP: the header, then this, then the encoded map (pl_encode), then nmoves moves. */
struct map_msg {
    struct hdr h;
    uint64_t prev_live; /* the live set of the map it was made from */
    uint32_t map_len, nmoves;
};

struct slot {
    struct tq_timer timer; /* first: a fired timer is its slot */
    int64_t last;          /* scheduled time of the latest firing known done, or NONE */
    int64_t infl;          /* the firing in flight, or NONE */
    int64_t infl_sent;     /* monotonic ns it was last sent */
    uint64_t infl_token;   /* the token it was sent with */
    int64_t drain_until;   /* no longer the primary: wait this long (monotonic) for the
                            * ack of the firing in flight before handing the task on */
    uint64_t copy_to;      /* copies to send once that firing is settled */
    uint64_t await;        /* a map that made this node a copy's target: its data (if
                            * any) may be behind until a COPY arrives */
    uint64_t fenced;       /* a token the executor refused (0: none) */
    bool have;             /* this node has the task's data (kept until it crashes, held or
                            * not: the last copy may be one a new holder still waits for) */
};

struct dc_node {
    const struct dc_config *cfg;
    int self;
    struct pl_map *map, *work;
    struct pl_move *moves; /* the moves that made 'map' (sent along with it) */
    size_t nmoves, cap_moves;
    /* A proposal of this node's as coordinator: the map it would commit, waiting for a
     * majority's promises. */
    struct pl_map *prop;
    struct pl_move *pmoves;
    size_t npmoves;
    struct pl_moves pmv;
    bool proposing;
    uint64_t prop_acks, prop_suspects, prop_live;
    int64_t prop_started;
    uint64_t promised; /* the highest epoch this node promised (it accepts no lower map) */
    uint64_t prev_live;
    int coord;       /* who made 'map' */
    uint64_t newest; /* the highest epoch any node has shown this one */
    int64_t started; /* monotonic ns this run began */
    bool joined;     /* has a map to act on */
    struct tq *q;
    struct slot *slot;
    struct fd fd;
    unsigned char *buf; /* one message */
    size_t buf_cap;
    int64_t now, mono; /* at the top of the loop */
    struct dc_node_stats st;
    struct msg *net;
    struct env *e;
};

static uint64_t bit(int n)
{
    return (uint64_t)1 << n;
}

static size_t max_moves(const struct dc_config *cfg)
{
    return (size_t)cfg->ntasks * (size_t)(cfg->nodes + 2);
}

struct dc_node *dc_node_create(const struct dc_config *cfg, int self)
{
    if (cfg->nodes < 1 || cfg->nodes > PL_MAX_NODES || self < 0 || self >= cfg->nodes ||
        !cfg->initial || pl_nodes(cfg->initial) != cfg->nodes ||
        pl_ntasks(cfg->initial) != cfg->ntasks || (cfg->ntasks && !cfg->tasks) ||
        cfg->hb_interval_ns <= 0 || cfg->hb_timeout_ns <= cfg->hb_interval_ns ||
        cfg->ack_timeout_ns <= 0) {
        errno = EINVAL;
        return NULL;
    }
    struct dc_node *n = calloc(1, sizeof(*n));
    if (!n)
        goto err;
    n->cfg = cfg;
    n->self = self;
    n->map = pl_clone(cfg->initial);
    n->work = pl_clone(cfg->initial);
    n->prop = pl_clone(cfg->initial);
    n->cap_moves = max_moves(cfg);
    n->moves = malloc((n->cap_moves ? n->cap_moves : 1) * sizeof(*n->moves));
    n->pmoves = malloc((n->cap_moves ? n->cap_moves : 1) * sizeof(*n->pmoves));
    n->slot = calloc(cfg->ntasks ? cfg->ntasks : 1, sizeof(*n->slot));
    n->buf_cap = sizeof(struct map_msg) + pl_encode(cfg->initial, NULL, 0) +
                 n->cap_moves * sizeof(struct pl_move);
    n->buf = malloc(n->buf_cap);
    struct tq_config tc = {.kind = TQ_HEAP4, .hint = cfg->ntasks};
    n->q = tq_create(&tc);
    if (!n->map || !n->work || !n->prop || !n->moves || !n->pmoves || !n->slot || !n->buf || !n->q)
        goto err_free;
    return n;
err_free:
    dc_node_destroy(n);
err:
    errno = ENOMEM;
    return NULL;
}

void dc_node_destroy(struct dc_node *n)
{
    if (!n)
        return;
    tq_destroy(n->q);
    pl_destroy(n->map);
    pl_destroy(n->work);
    pl_destroy(n->prop);
    free(n->moves);
    free(n->pmoves);
    free(n->slot);
    free(n->buf);
    free(n);
}

const struct pl_map *dc_node_map(const struct dc_node *n)
{
    return n->map;
}

void dc_node_stats(const struct dc_node *n, struct dc_node_stats *out)
{
    *out = n->st;
}

/* ---- Sending ------------------------------------------------------------------------ */

static struct hdr head(const struct dc_node *n, int kind)
{
    return (struct hdr){.magic = DC_MAGIC,
                        .kind = (uint16_t)kind,
                        .coord = (int16_t)n->coord,
                        .epoch = n->joined ? pl_epoch(n->map) : 0};
}

static void send_task(struct dc_node *n, int to, int kind, uint32_t t, int64_t sched,
                      uint64_t token)
{
    struct task_msg m;
    memset(&m, 0, sizeof(m));
    m.h = head(n, kind);
    m.task = t;
    m.sched = sched;
    m.token = token;
    msg_send(n->net, to, &m, sizeof(m));
}

/* The current map and the moves that made it, to member 'to'. */
static void send_map(struct dc_node *n, int to)
{
    struct map_msg mm;
    memset(&mm, 0, sizeof(mm));
    mm.h = head(n, M_MAP);
    mm.prev_live = n->prev_live;
    size_t len = pl_encode(n->map, NULL, 0);
    mm.map_len = (uint32_t)len;
    mm.nmoves = (uint32_t)n->nmoves;
    size_t total = sizeof(mm) + len + n->nmoves * sizeof(struct pl_move);
    if (total > n->buf_cap)
        return; /* cannot happen: the buffer is sized for the most moves */
    memcpy(n->buf, &mm, sizeof(mm));
    pl_encode(n->map, n->buf + sizeof(mm), len);
    memcpy(n->buf + sizeof(mm) + len, n->moves, n->nmoves * sizeof(struct pl_move));
    msg_send(n->net, to, n->buf, total);
}

/* ---- Firing ------------------------------------------------------------------------- */

static uint32_t task_of(const struct dc_node *n, const struct slot *s)
{
    return (uint32_t)(s - n->slot);
}

static bool is_primary(const struct dc_node *n, uint32_t t)
{
    return n->joined && pl_primary(n->map, t) == n->self && n->slot[t].have && !n->slot[t].await;
}

/* The next firing of t after its last known one, or NONE when a one-shot task is done. */
static int64_t next_sched(const struct dc_node *n, uint32_t t)
{
    const struct dc_task *k = &n->cfg->tasks[t];
    int64_t last = n->slot[t].last;
    if (last == NONE)
        return k->first;
    return k->period > 0 ? last + k->period : NONE;
}

/* Arm t's timer if this node should fire it and nothing is armed or in flight. */
static void schedule(struct dc_node *n, uint32_t t)
{
    struct slot *s = &n->slot[t];
    if (!is_primary(n, t) || s->infl != NONE || tq_timer_queued(&s->timer) ||
        (s->fenced && pl_epoch(n->map) <= s->fenced))
        return;
    int64_t at = next_sched(n, t);
    if (at != NONE)
        tq_add(n->q, &s->timer, at);
}

/* Send t's data to each node in 'to'. */
static void send_copies(struct dc_node *n, uint32_t t, uint64_t to)
{
    for (int r = 0; to && r < n->cfg->nodes; r++)
        if (to & bit(r)) {
            send_task(n, r, M_COPY, t, n->slot[t].last, 0);
            n->st.copies_sent++;
        }
}

/* The firing in flight is settled (acknowledged, or given up): forget it and send the
 * copies that waited for it, which now carry its outcome. */
static void settle(struct dc_node *n, uint32_t t)
{
    struct slot *s = &n->slot[t];
    s->infl = NONE;
    s->drain_until = 0;
    send_copies(n, t, s->copy_to);
    s->copy_to = 0;
    schedule(n, t);
}

/* This node no longer fires t. A firing in flight is not abandoned: its ack (or its
 * ack_timeout) still decides what the copies it hands on say was fired last, so the next
 * primary does not fire it again. */
static void unschedule(struct dc_node *n, uint32_t t)
{
    struct slot *s = &n->slot[t];
    tq_cancel(n->q, &s->timer);
    if (s->infl != NONE && !s->drain_until)
        s->drain_until = n->mono + n->cfg->ack_timeout_ns;
}

static void send_fire(struct dc_node *n, uint32_t t, bool resend)
{
    struct slot *s = &n->slot[t];
    if (!resend)
        s->infl_token = pl_epoch(n->map);
    uint64_t token = s->infl_token;
    s->infl_sent = n->mono;
    send_task(n, n->cfg->nodes, M_FIRE, t, s->infl, token);
    if (resend)
        n->st.resends++;
    else
        n->st.fires++;
    if (n->cfg->hooks.fire)
        n->cfg->hooks.fire(n->cfg->hooks.arg, n->self, t, s->infl, token, resend);
}

static void on_due(struct tq_timer *tm, void *arg)
{
    struct dc_node *n = arg;
    struct slot *s = (struct slot *)tm;
    uint32_t t = task_of(n, s);
    if (!is_primary(n, t))
        return;
    s->infl = tm->node.when;
    send_fire(n, t, false);
}

/* Resend every firing unacknowledged for ack_timeout, settle those a former primary has
 * drained long enough; return when the next of either is due. */
static int64_t resend_due(struct dc_node *n)
{
    int64_t next = INT64_MAX;
    for (uint32_t t = 0; t < n->cfg->ntasks; t++) {
        struct slot *s = &n->slot[t];
        if (s->infl == NONE)
            continue;
        if (s->drain_until && n->mono >= s->drain_until) {
            settle(n, t);
            continue;
        }
        if (n->mono - s->infl_sent >= n->cfg->ack_timeout_ns)
            send_fire(n, t, true);
        int64_t at = s->infl_sent + n->cfg->ack_timeout_ns;
        if (s->drain_until && s->drain_until < at)
            at = s->drain_until;
        if (at < next)
            next = at;
    }
    return next;
}

static void on_ack(struct dc_node *n, const struct task_msg *m)
{
    if (m->task >= n->cfg->ntasks)
        return;
    struct slot *s = &n->slot[m->task];
    if (s->infl != m->sched)
        return; /* an ack for an earlier send that was answered already */
    n->st.acks++;
    if (m->verdict == DX_FENCED) {
        s->fenced = m->token;
        n->st.fenced++;
        settle(n, m->task);
        return;
    }
    if (s->last == NONE || m->sched > s->last)
        s->last = m->sched;
    settle(n, m->task);
    uint64_t reps = pl_holders(n->map, m->task) & ~bit(n->self);
    for (int r = 0; r < n->cfg->nodes; r++)
        if (reps & bit(r)) {
            send_task(n, r, M_MARK, m->task, s->last, 0);
            n->st.marks_sent++;
        }
    schedule(n, m->task);
}

/* ---- Maps --------------------------------------------------------------------------- */

/* Make 'next' (with its moves, made from a map whose live set was prev_live by 'coord') this
 * node's map, and act on it: stop firing what it no longer holds the primary of, send the
 * copies it is the source of, wait for those it is the target of, arm the primaries it
 * can fire. */
static void adopt(struct dc_node *n, const struct pl_map *next, const struct pl_move *moves,
                  size_t nmoves, uint64_t prev_live, int coord)
{
    uint64_t epoch = pl_epoch(next);
    if (next != n->map)
        pl_copy(n->map, next);
    if (moves != n->moves && nmoves) {
        nmoves = nmoves < n->cap_moves ? nmoves : n->cap_moves;
        memcpy(n->moves, moves, nmoves * sizeof(*moves));
    }
    n->nmoves = nmoves;
    n->prev_live = prev_live;
    n->coord = coord;
    n->joined = true;
    n->st.maps_adopted++;
    if (epoch > n->promised)
        n->promised = epoch;
    if (n->proposing && pl_epoch(n->prop) <= epoch)
        n->proposing = false; /* overtaken */
    for (size_t i = 0; i < n->nmoves; i++) {
        const struct pl_move *mv = &n->moves[i];
        if ((mv->kind != PL_COPY_PRIMARY && mv->kind != PL_COPY_REPLICA) ||
            mv->task >= n->cfg->ntasks)
            continue;
        struct slot *s = &n->slot[mv->task];
        if (mv->to == n->self)
            s->await = epoch; /* whatever it has may be stale: the coordinator counts none */
        if (mv->from == n->self && s->have) {
            if (s->infl != NONE && pl_primary(n->map, mv->task) != n->self)
                s->copy_to |= bit(mv->to); /* after the firing in flight is settled */
            else
                send_copies(n, mv->task, bit(mv->to));
        }
    }
    for (uint32_t t = 0; t < n->cfg->ntasks; t++) {
        if (pl_primary(n->map, t) != n->self)
            unschedule(n, t);
        else if (n->slot[t].drain_until && !n->slot[t].copy_to)
            n->slot[t].drain_until = 0; /* its own again: the firing in flight goes on */
        schedule(n, t);
    }
    if (n->cfg->hooks.adopt)
        n->cfg->hooks.adopt(n->cfg->hooks.arg, n->self, n->map, coord);
}

static void on_map(struct dc_node *n, const unsigned char *buf, size_t len)
{
    struct map_msg mm;
    if (len < sizeof(mm))
        return;
    memcpy(&mm, buf, sizeof(mm));
    if (n->joined && mm.h.epoch <= pl_epoch(n->map))
        return;
    size_t need = sizeof(mm) + (size_t)mm.map_len + (size_t)mm.nmoves * sizeof(struct pl_move);
    if (len < need || mm.nmoves > n->cap_moves ||
        pl_decode(n->work, buf + sizeof(mm), mm.map_len) < 0)
        return;
    /* moves are copied out: the buffer is reused while adopting */
    memcpy(n->moves, buf + sizeof(mm) + mm.map_len, mm.nmoves * sizeof(struct pl_move));
    adopt(n, n->work, n->moves, mm.nmoves, mm.prev_live, mm.h.coord);
}

static void on_copy(struct dc_node *n, const struct task_msg *m)
{
    if (m->task >= n->cfg->ntasks)
        return;
    struct slot *s = &n->slot[m->task];
    s->have = true;
    if (m->sched != NONE && (s->last == NONE || m->sched > s->last))
        s->last = m->sched;
    s->await = 0; /* a copy from a node that had it: as fresh as anyone's (last merges) */
    n->st.copies_received++;
    schedule(n, m->task);
}

static void on_mark(struct dc_node *n, const struct task_msg *m)
{
    if (m->task >= n->cfg->ntasks)
        return;
    struct slot *s = &n->slot[m->task];
    if (m->sched != NONE && (s->last == NONE || m->sched > s->last))
        s->last = m->sched;
}

/* Ask every other node for each copy this node should hold and has not (or waits to
 * bring up to date): whoever has the data answers. O(missing x nodes) messages. */
static void pull_missing(struct dc_node *n)
{
    if (!n->joined)
        return;
    for (uint32_t t = 0; t < n->cfg->ntasks; t++) {
        const struct slot *s = &n->slot[t];
        if (!(pl_holders(n->map, t) & bit(n->self)) || (s->have && !s->await))
            continue;
        for (int r = 0; r < n->cfg->nodes; r++)
            if (r != n->self)
                send_task(n, r, M_PULL, t, 0, 0);
        n->st.pulls++;
    }
}

static void on_pull(struct dc_node *n, int from, const struct task_msg *m)
{
    if (m->task < n->cfg->ntasks && n->slot[m->task].have) {
        send_task(n, from, M_COPY, m->task, n->slot[m->task].last, 0);
        n->st.copies_sent++;
    }
}

/* ---- Coordinating ------------------------------------------------------------------- */

static void collect(void *arg, const struct pl_move *mv)
{
    struct dc_node *n = arg;
    if (n->npmoves < n->cap_moves)
        n->pmoves[n->npmoves++] = *mv;
}

static int majority(const struct dc_node *n, uint64_t set)
{
    return 2 * __builtin_popcountll(set) > n->cfg->nodes;
}

/* The proposal has a majority's promises: make it the map and tell every node. */
static void commit(struct dc_node *n)
{
    n->proposing = false;
    n->st.rebalances++;
    if (n->cfg->hooks.rebalance)
        n->cfg->hooks.rebalance(n->cfg->hooks.arg, n->self, n->prop, &n->pmv, n->prop_suspects);
    adopt(n, n->prop, n->pmoves, n->npmoves, n->prop_live, n->self);
    for (int r = 0; r < n->cfg->nodes; r++)
        if (r != n->self)
            send_map(n, r);
}

/* If this node is the coordinator in its own view and the nodes it hears from differ from
 * the placement's, propose a map for them: it takes effect when a majority of all the
 * nodes has promised to accept nothing older (so a node that only believes it sees a
 * majority, like a cut-off node that heard a peer just before the cut, cannot act). */
static void coordinate(struct dc_node *n)
{
    if (n->proposing) {
        if (n->mono - n->prop_started <= n->cfg->hb_timeout_ns)
            return;
        n->proposing = false; /* no majority in time: think again */
    }
    if (!n->joined || n->newest > pl_epoch(n->map))
        return; /* a newer map exists: rebalancing this one would undo it */
    if (n->mono - n->started <= n->cfg->hb_timeout_ns)
        return; /* its detector has not had a timeout's worth of heartbeats yet */
    int N = n->cfg->nodes;
    uint64_t all = N >= 64 ? ~0ull : bit(N) - 1;
    uint64_t sus = fd_suspects(&n->fd, n->mono) & ~bit(n->self);
    uint64_t alive = all & ~sus;
    uint64_t live = pl_live(n->map);
    uint64_t cand = live & alive;
    if (!cand || __builtin_ctzll(cand) != n->self || alive == live || !majority(n, alive))
        return;
    pl_copy(n->prop, n->map);
    uint64_t base = pl_epoch(n->map) > n->promised ? pl_epoch(n->map) : n->promised;
    uint64_t epoch = ((base >> 6) + 1) << 6 | (uint64_t)n->self;
    pl_set_next_epoch(n->prop, epoch);
    n->npmoves = 0;
    pl_rebalance(n->prop, alive, collect, n, &n->pmv);
    n->proposing = true;
    n->prop_started = n->mono;
    n->prop_acks = bit(n->self);
    n->prop_suspects = sus & live;
    n->prop_live = live;
    n->promised = epoch;
    env_store_put(n->e, "dc-promised", &n->promised, sizeof(n->promised));
    for (int r = 0; r < N; r++)
        if (r != n->self)
            send_task(n, r, M_PROPOSE, 0, 0, epoch);
    if (majority(n, n->prop_acks))
        commit(n); /* a cluster of one */
}

static void on_propose(struct dc_node *n, int from, const struct task_msg *m)
{
    uint64_t have = n->joined && pl_epoch(n->map) > n->promised ? pl_epoch(n->map) : n->promised;
    bool ok = m->token > have;
    if (ok) {
        n->promised = m->token;
        env_store_put(n->e, "dc-promised", &n->promised, sizeof(n->promised));
        if (n->proposing && m->token > pl_epoch(n->prop))
            n->proposing = false; /* a newer proposal: this node's own is dropped */
    }
    struct task_msg r;
    memset(&r, 0, sizeof(r));
    r.h = head(n, M_PROMISE);
    r.token = m->token;
    r.sched = (int64_t)have; /* a refusal says how high the next proposal must go */
    r.verdict = ok;
    msg_send(n->net, from, &r, sizeof(r));
}

static void on_promise(struct dc_node *n, int from, const struct task_msg *m)
{
    if (!n->proposing || m->token != pl_epoch(n->prop))
        return;
    if (!m->verdict) {
        n->proposing = false; /* someone has a newer map or promise */
        if ((uint64_t)m->sched > n->promised)
            n->promised = (uint64_t)m->sched;
        return;
    }
    n->prop_acks |= bit(from);
    if (majority(n, n->prop_acks))
        commit(n);
}

static void on_hb(struct dc_node *n, int from, const struct hdr *h)
{
    if (!n->joined || h->epoch >= pl_epoch(n->map))
        return;
    /* The sender is behind: the lowest live node of this node's map, other than the
     * sender (it may be the map's coordinator without knowing the map), brings it up to
     * date. */
    uint64_t alive = pl_live(n->map) & ~(fd_suspects(&n->fd, n->mono) & ~bit(n->self)) & ~bit(from);
    if (alive && __builtin_ctzll(alive) == n->self)
        send_map(n, from);
}

/* ---- The loop ----------------------------------------------------------------------- */

static void reset(struct dc_node *n, struct env *e, struct msg *net)
{
    n->e = e;
    n->net = net;
    for (uint32_t t = 0; t < n->cfg->ntasks; t++) {
        tq_cancel(n->q, &n->slot[t].timer);
        n->slot[t] = (struct slot){.last = NONE, .infl = NONE};
        tq_timer_init(&n->slot[t].timer);
    }
    n->nmoves = 0;
    n->joined = false;
    n->coord = -1;
    n->newest = 0;
    n->proposing = false;
    n->promised = 0;
}

/* One message of 'len' bytes from member 'from', in n->buf. */
static void dispatch(struct dc_node *n, int from, size_t len)
{
    struct hdr h;
    memcpy(&h, n->buf, sizeof(h));
    if (h.magic != DC_MAGIC)
        return;
    bool peer = from < n->cfg->nodes; /* not the executor */
    n->mono = env_mono(n->e);
    if (peer) {
        fd_heard(&n->fd, from, n->mono);
        if (h.epoch > n->newest)
            n->newest = h.epoch;
    }
    if (h.kind == M_MAP) {
        on_map(n, n->buf, len);
        return;
    }
    if (h.kind == M_HB) {
        on_hb(n, from, &h);
        return;
    }
    if (len < sizeof(struct task_msg))
        return;
    struct task_msg m;
    memcpy(&m, n->buf, sizeof(m));
    switch (h.kind) {
    case M_COPY:
        on_copy(n, &m);
        break;
    case M_MARK:
        on_mark(n, &m);
        break;
    case M_PULL:
        on_pull(n, from, &m);
        break;
    case M_ACK:
        on_ack(n, &m);
        break;
    case M_PROPOSE:
        if (peer)
            on_propose(n, from, &m);
        break;
    case M_PROMISE:
        if (peer)
            on_promise(n, from, &m);
        break;
    default:
        break;
    }
}

int dc_node_run(struct env *e, struct dc_node *n, struct msg *net)
{
    const struct dc_config *cfg = n->cfg;
    reset(n, e, net);
    char was[2];
    size_t len;
    bool restarted = env_store_get(e, "dc-node-ran", was, sizeof(was), &len) == 0;
    env_store_put(e, "dc-node-ran", "1", 1);
    uint64_t promised;
    if (env_store_get(e, "dc-promised", &promised, sizeof(promised), &len) == 0 &&
        len == sizeof(promised))
        n->promised = promised; /* a promise outlives a crash, or two maps could commit */
    n->mono = env_mono(e);
    n->now = env_now(e);
    fd_init(&n->fd, cfg->nodes, cfg->hb_timeout_ns, n->mono);
    n->started = n->mono;
    if (restarted) {
        n->st.restarts++;
    } else {
        for (uint32_t t = 0; t < cfg->ntasks; t++)
            n->slot[t].have = pl_holders(cfg->initial, t) & bit(n->self);
        adopt(n, cfg->initial, NULL, 0, pl_live(cfg->initial), -1);
    }
    int64_t next_hb = n->mono;
    for (;;) {
        if (cfg->stop && atomic_load(cfg->stop))
            return 0;
        n->mono = env_mono(e);
        n->now = env_now(e);
        tq_expire(n->q, n->now, on_due, n);
        int64_t resend_at = resend_due(n);
        if (n->mono >= next_hb) {
            struct hdr h = head(n, M_HB);
            for (int r = 0; r < cfg->nodes; r++)
                if (r != n->self)
                    msg_send(net, r, &h, sizeof(h));
            pull_missing(n);
            next_hb += cfg->hb_interval_ns;
            if (next_hb <= n->mono)
                next_hb = n->mono + cfg->hb_interval_ns;
        }
        coordinate(n);
        int64_t wait = next_hb - n->mono;
        int64_t due = tq_next(n->q);
        if (due != INT64_MAX && due - n->now < wait)
            wait = due - n->now;
        if (resend_at != INT64_MAX && resend_at - n->mono < wait)
            wait = resend_at - n->mono;
        int64_t fdc = fd_next_change(&n->fd, n->mono);
        if (fdc != INT64_MAX && fdc - n->mono < wait)
            wait = fdc - n->mono;
        if (wait <= 0)
            continue; /* a task became due while coordinating: fire it first */
        int from;
        ssize_t got = msg_recv(net, n->buf, n->buf_cap, &from, wait);
        if (got >= (ssize_t)sizeof(struct hdr) && from >= 0 && from <= cfg->nodes)
            dispatch(n, from, (size_t)got);
    }
}

bool dc_node_check(const struct dc_node *n)
{
    if (!tq_check(n->q))
        return false;
    for (uint32_t t = 0; t < n->cfg->ntasks; t++) {
        const struct slot *s = &n->slot[t];
        bool armed = tq_timer_queued(&s->timer);
        if (armed && !is_primary(n, t))
            return false; /* firing what it is not the primary of, or has no data for */
        if (s->infl != NONE && !is_primary(n, t) && !s->drain_until)
            return false; /* a former primary's firing in flight is being drained */
        if (s->copy_to && s->infl == NONE)
            return false; /* copies wait only for a firing in flight */
        if (armed && s->infl != NONE)
            return false; /* one firing of a task at a time */
        if (s->await && !(pl_holders(n->map, t) & bit(n->self)) && s->await == pl_epoch(n->map))
            return false; /* waits for a copy of a task this map does not give it */
    }
    return true;
}

/* ---- The executor ------------------------------------------------------------------- */

void dc_exec_run(struct env *e, const struct dc_config *cfg, struct dx *x, struct msg *net)
{
    (void)e;
    for (;;) {
        if (cfg->stop && atomic_load(cfg->stop))
            return;
        struct task_msg m;
        int from;
        ssize_t got = msg_recv(net, &m, sizeof(m), &from, cfg->hb_interval_ns);
        if (got != (ssize_t)sizeof(m) || m.h.magic != DC_MAGIC || m.h.kind != M_FIRE || from < 0 ||
            from >= cfg->nodes)
            continue;
        int v = dx_fire(x, m.task, m.sched, m.token);
        if (v < 0)
            continue; /* not acknowledged: the node sends it again */
        if (cfg->hooks.verdict)
            cfg->hooks.verdict(cfg->hooks.arg, from, m.task, m.sched, m.token, v);
        m.h.kind = M_ACK;
        m.verdict = v;
        msg_send(net, from, &m, sizeof(m));
    }
}

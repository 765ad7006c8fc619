/* placement.c - the placement map, its three policies and rebalancing (see placement.h).
 * One change is always counted the same way (diff_task), whether the new placement came
 * from a policy, a repair or a table someone wrote. */
#include "delay/placement.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "rng/rng.h"

struct pl_map {
    uint32_t ntasks;
    int nodes, replicas;
    enum pl_policy policy;
    uint64_t salt;
    uint64_t epoch;
    uint64_t next_epoch; /* what the next change carries, if above epoch + 1 */
    uint64_t live;
    bool derived;      /* every task placed by the policy for 'live' (no pl_set since) */
    int8_t *primary;   /* per task, -1: none */
    uint64_t *holders; /* per task, primary included */
    uint32_t *bytes;   /* per task */
};

static uint64_t bit(int n)
{
    return (uint64_t)1 << n;
}

static uint64_t all_nodes(int nodes)
{
    return nodes >= 64 ? ~(uint64_t)0 : bit(nodes) - 1;
}

static int popcount(uint64_t x)
{
    return __builtin_popcountll(x);
}

static int lowest(uint64_t x)
{
    return x ? __builtin_ctzll(x) : -1;
}

static void say(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

struct pl_map *pl_create(uint32_t ntasks, int nodes, int replicas, enum pl_policy policy,
                         uint64_t salt, uint32_t task_bytes)
{
    if (nodes < 1 || nodes > PL_MAX_NODES || replicas < 0 || replicas >= nodes ||
        (policy != PL_TABLE && policy != PL_HASH && policy != PL_RENDEZVOUS)) {
        errno = EINVAL;
        return NULL;
    }
    struct pl_map *m = calloc(1, sizeof(*m));
    if (!m)
        goto err;
    *m = (struct pl_map){.ntasks = ntasks,
                         .nodes = nodes,
                         .replicas = replicas,
                         .policy = policy,
                         .salt = salt,
                         .live = all_nodes(nodes)};
    size_t n = ntasks ? ntasks : 1;
    m->primary = malloc(n * sizeof(*m->primary));
    m->holders = calloc(n, sizeof(*m->holders));
    m->bytes = malloc(n * sizeof(*m->bytes));
    if (!m->primary || !m->holders || !m->bytes)
        goto err_arrays;
    memset(m->primary, -1, n * sizeof(*m->primary));
    for (uint32_t t = 0; t < ntasks; t++)
        m->bytes[t] = task_bytes;
    return m;
err_arrays:
    pl_destroy(m);
err:
    errno = ENOMEM;
    return NULL;
}

struct pl_map *pl_clone(const struct pl_map *m)
{
    struct pl_map *c = pl_create(m->ntasks, m->nodes, m->replicas, m->policy, m->salt, 0);
    if (c)
        pl_copy(c, m);
    return c;
}

int pl_copy(struct pl_map *dst, const struct pl_map *src)
{
    if (dst->ntasks != src->ntasks || dst->nodes != src->nodes)
        return -EINVAL;
    size_t n = src->ntasks;
    int8_t *p = dst->primary;
    uint64_t *h = dst->holders;
    uint32_t *b = dst->bytes;
    *dst = *src;
    dst->primary = p;
    dst->holders = h;
    dst->bytes = b;
    if (n) {
        memcpy(p, src->primary, n * sizeof(*p));
        memcpy(h, src->holders, n * sizeof(*h));
        memcpy(b, src->bytes, n * sizeof(*b));
    }
    return 0;
}

void pl_destroy(struct pl_map *m)
{
    if (!m)
        return;
    free(m->primary);
    free(m->holders);
    free(m->bytes);
    free(m);
}

uint32_t pl_ntasks(const struct pl_map *m)
{
    return m->ntasks;
}
int pl_nodes(const struct pl_map *m)
{
    return m->nodes;
}
int pl_replicas(const struct pl_map *m)
{
    return m->replicas;
}
enum pl_policy pl_policy(const struct pl_map *m)
{
    return m->policy;
}
uint64_t pl_epoch(const struct pl_map *m)
{
    return m->epoch;
}
uint64_t pl_live(const struct pl_map *m)
{
    return m->live;
}
int pl_primary(const struct pl_map *m, uint32_t t)
{
    return t < m->ntasks ? m->primary[t] : -1;
}
uint64_t pl_holders(const struct pl_map *m, uint32_t t)
{
    return t < m->ntasks ? m->holders[t] : 0;
}
uint32_t pl_task_bytes(const struct pl_map *m, uint32_t t)
{
    return t < m->ntasks ? m->bytes[t] : 0;
}
int pl_set_next_epoch(struct pl_map *m, uint64_t next)
{
    if (next <= m->epoch)
        return -EINVAL;
    m->next_epoch = next;
    return 0;
}

/* The epoch the change being made will carry. */
static uint64_t next_epoch(const struct pl_map *m)
{
    return m->next_epoch > m->epoch ? m->next_epoch : m->epoch + 1;
}

uint32_t pl_node_primaries(const struct pl_map *m, int node)
{
    uint32_t c = 0;
    for (uint32_t t = 0; t < m->ntasks; t++)
        c += m->primary[t] == node;
    return c;
}

uint32_t pl_node_copies(const struct pl_map *m, int node)
{
    uint32_t c = 0;
    if (node < 0 || node >= m->nodes)
        return 0;
    for (uint32_t t = 0; t < m->ntasks; t++)
        c += (m->holders[t] >> node) & 1;
    return c;
}

bool pl_equal(const struct pl_map *a, const struct pl_map *b)
{
    if (a->ntasks != b->ntasks || a->nodes != b->nodes)
        return false;
    for (uint32_t t = 0; t < a->ntasks; t++)
        if (a->primary[t] != b->primary[t] || a->holders[t] != b->holders[t])
            return false;
    return true;
}

int pl_set(struct pl_map *m, uint32_t t, int primary, uint64_t replicas)
{
    if (t >= m->ntasks || primary < -1 || primary >= m->nodes ||
        (replicas & ~all_nodes(m->nodes)) || (primary >= 0 && (replicas & bit(primary))))
        return -EINVAL;
    m->primary[t] = (int8_t)primary;
    m->holders[t] = replicas | (primary >= 0 ? bit(primary) : 0);
    m->derived = false;
    m->epoch = next_epoch(m);
    return 0;
}

int pl_set_live(struct pl_map *m, uint64_t live)
{
    if (live & ~all_nodes(m->nodes))
        return -EINVAL;
    if (live != m->live) {
        m->live = live;
        m->epoch = next_epoch(m);
    }
    return 0;
}

void pl_set_task_bytes(struct pl_map *m, uint32_t t, uint32_t bytes)
{
    if (t < m->ntasks)
        m->bytes[t] = bytes;
}

/* ---- Encoding ------------------------------------------------------------------------ */

struct enc_head {
    uint64_t epoch, live;
    uint32_t ntasks;
    uint8_t nodes, replicas, policy, derived;
};

size_t pl_encode(const struct pl_map *m, void *buf, size_t cap)
{
    size_t n = m->ntasks;
    size_t need = sizeof(struct enc_head) + n * (1 + 8);
    if (cap < need)
        return need;
    struct enc_head h = {.epoch = m->epoch,
                         .live = m->live,
                         .ntasks = m->ntasks,
                         .nodes = (uint8_t)m->nodes,
                         .replicas = (uint8_t)m->replicas,
                         .policy = (uint8_t)m->policy,
                         .derived = m->derived};
    unsigned char *p = buf;
    memcpy(p, &h, sizeof(h));
    p += sizeof(h);
    if (n) {
        memcpy(p, m->primary, n);
        memcpy(p + n, m->holders, n * 8);
    }
    return need;
}

int pl_decode(struct pl_map *m, const void *buf, size_t len)
{
    struct enc_head h;
    size_t n = m->ntasks;
    if (len < sizeof(h))
        return -EINVAL;
    memcpy(&h, buf, sizeof(h));
    if (h.ntasks != m->ntasks || h.nodes != m->nodes || len < sizeof(h) + n * 9 ||
        (h.live & ~all_nodes(m->nodes)))
        return -EINVAL;
    const unsigned char *p = (const unsigned char *)buf + sizeof(h);
    m->epoch = h.epoch;
    m->live = h.live;
    m->derived = h.derived && h.policy == m->policy;
    if (n) {
        memcpy(m->primary, p, n);
        memcpy(m->holders, p + n, n * 8);
    }
    return 0;
}

/* ---- Policies ------------------------------------------------------------------------ */

/* The live nodes in id order. Returns how many. */
static int live_list(uint64_t live, int nodes, int8_t *out)
{
    int k = 0;
    for (int n = 0; n < nodes; n++)
        if (live & bit(n))
            out[k++] = (int8_t)n;
    return k;
}

/* Hashing onto nodes: live[h mod k], then the next R live nodes around. */
static void place_hash(const struct pl_map *m, uint32_t t, const int8_t *list, int k, int *p,
                       uint64_t *h)
{
    int want = m->replicas + 1 < k ? m->replicas + 1 : k;
    int i = (int)(rng_mix(m->salt ^ t) % (uint64_t)k);
    *p = list[i];
    *h = 0;
    for (int j = 0; j < want; j++)
        *h |= bit(list[(i + j) % k]);
}

/* The rendezvous score of (task, node): independent 64-bit hashes per pair. */
static uint64_t score(uint64_t task_hash, int node)
{
    return rng_mix(task_hash ^ ((uint64_t)(node + 1) * 0xd6e8feb86659fd93ULL));
}

/* Highest random weight: the R + 1 best-scoring live nodes, best first (ties: lower id).
 * An insertion into a sorted array of R + 1, so O(k x R). */
static void place_rendezvous(const struct pl_map *m, uint32_t t, const int8_t *list, int k, int *p,
                             uint64_t *h)
{
    int want = m->replicas + 1 < k ? m->replicas + 1 : k;
    uint64_t th = rng_mix(m->salt ^ t);
    uint64_t best_s[PL_MAX_NODES];
    int8_t best_n[PL_MAX_NODES];
    int have = 0;
    for (int i = 0; i < k; i++) {
        uint64_t s = score(th, list[i]);
        if (have == want && s <= best_s[have - 1])
            continue; /* list is in id order: an equal score loses to the earlier node */
        int j = have < want ? have++ : have - 1;
        while (j > 0 && best_s[j - 1] < s) {
            best_s[j] = best_s[j - 1];
            best_n[j] = best_n[j - 1];
            j--;
        }
        best_s[j] = s;
        best_n[j] = list[i];
    }
    *p = have ? best_n[0] : -1;
    *h = 0;
    for (int j = 0; j < have; j++)
        *h |= bit(best_n[j]);
}

/* The policy's placement of t on the k live nodes in list (the chain table for PL_TABLE). */
static void place_one(const struct pl_map *m, uint32_t t, const int8_t *list, int k, int *p,
                      uint64_t *h)
{
    if (m->policy == PL_HASH) {
        place_hash(m, t, list, k, p, h);
    } else if (m->policy == PL_RENDEZVOUS) {
        place_rendezvous(m, t, list, k, p, h);
    } else { /* the chain table: t mod nodes, then the next R */
        int i = (int)(t % (uint32_t)k);
        int want = m->replicas + 1 < k ? m->replicas + 1 : k;
        *p = list[i];
        *h = 0;
        for (int j = 0; j < want; j++)
            *h |= bit(list[(i + j) % k]);
    }
}

int pl_place(const struct pl_map *m, uint32_t t, uint64_t live, int *primary, uint64_t *holders)
{
    int8_t list[PL_MAX_NODES];
    int k = live_list(live & all_nodes(m->nodes), m->nodes, list);
    if (t >= m->ntasks || !k)
        return -EINVAL;
    place_one(m, t, list, k, primary, holders);
    return 0;
}

int pl_place_all(struct pl_map *m)
{
    int8_t list[PL_MAX_NODES];
    int k = live_list(m->live, m->nodes, list);
    if (k < m->replicas + 1)
        return -EINVAL;
    for (uint32_t t = 0; t < m->ntasks; t++) {
        int p;
        uint64_t h;
        place_one(m, t, list, k, &p, &h);
        m->primary[t] = (int8_t)p;
        m->holders[t] = h;
    }
    m->derived = m->policy != PL_TABLE;
    m->epoch = next_epoch(m);
    return 0;
}

/* ---- Counting a change ----------------------------------------------------------------- */

static void emit(pl_move_fn fn, void *arg, uint32_t t, int from, int to, enum pl_move_kind k)
{
    if (!fn)
        return;
    struct pl_move mv = {.task = t, .from = (int8_t)from, .to = (int8_t)to, .kind = (uint8_t)k};
    fn(arg, &mv);
}

/* Count (and report) how task t goes from (p, h) to (p2, h2) on live nodes 'live'.
 * Returns false when no live node holds a copy of a placed task: it is unrecoverable
 * (counted; nothing reported), whatever the new placement says. */
static bool diff_task(uint32_t t, int p, uint64_t h, int p2, uint64_t h2, uint64_t live,
                      uint32_t bytes, pl_move_fn fn, void *arg, struct pl_moves *o)
{
    uint64_t surv = h & live;
    bool p_live = p >= 0 && (live & bit(p));
    if (p >= 0 && !p_live)
        o->lost_primaries++;
    int lost = popcount(h & ~live);
    o->lost_copies += (uint64_t)lost;
    o->lost_bytes += (uint64_t)lost * bytes;
    if (h && !surv) { /* no copy left on a live node: nothing to promote or copy from */
        o->unrecoverable++;
        return false;
    }
    if (p == p2 && h == h2)
        return true;
    o->tasks_changed++;
    uint64_t need = h2 & ~surv; /* nodes that must receive a copy */
    int src = p_live && (surv & bit(p)) ? p : lowest(surv);
    if (p2 >= 0 && p2 != p) {
        if (surv & bit(p2)) {
            o->promoted++;
            emit(fn, arg, t, p2, p2, PL_PROMOTE);
        } else {
            o->primaries_copied++;
            o->bytes_copied += bytes;
            emit(fn, arg, t, src, p2, PL_COPY_PRIMARY);
        }
    }
    uint64_t reps = need & ~(p2 >= 0 ? bit(p2) : 0);
    for (uint64_t r = reps; r; r &= r - 1) {
        o->replicas_copied++;
        o->bytes_copied += bytes;
        emit(fn, arg, t, src, lowest(r), PL_COPY_REPLICA);
    }
    if (p_live && p != p2 && (h2 & bit(p))) {
        o->demoted++;
        emit(fn, arg, t, p, p, PL_DEMOTE);
    }
    for (uint64_t d = surv & ~h2; d; d &= d - 1) {
        o->dropped++;
        emit(fn, arg, t, lowest(d), lowest(d), PL_DROP);
    }
    return true;
}

int pl_diff(const struct pl_map *a, const struct pl_map *b, uint64_t live, pl_move_fn fn, void *arg,
            struct pl_moves *out)
{
    memset(out, 0, sizeof(*out));
    if (a->ntasks != b->ntasks || a->nodes != b->nodes || (live & ~all_nodes(a->nodes)))
        return -EINVAL;
    for (uint32_t t = 0; t < a->ntasks; t++)
        diff_task(t, a->primary[t], a->holders[t], b->primary[t], b->holders[t], live, a->bytes[t],
                  fn, arg, out);
    return 0;
}

/* ---- Rebalancing ----------------------------------------------------------------------- */

/* The repair's running loads: primaries and copies per live node, as the new placement
 * takes shape. */
struct loads {
    uint32_t prim[PL_MAX_NODES], copies[PL_MAX_NODES];
};

/* The node of 'cand' with the least load (ties: the lowest id), or the most (ties: the
 * highest id). O(nodes). */
static int pick(uint64_t cand, const uint32_t *load, bool most)
{
    int best = -1;
    for (uint64_t c = cand; c; c &= c - 1) {
        int n = lowest(c);
        if (best < 0 || (most ? load[n] >= load[best] : load[n] < load[best]))
            best = n;
    }
    return best;
}

/* Repair task t in place on 'live' (PL_TABLE). */
static void repair_task(const struct pl_map *m, uint32_t t, uint64_t live, struct loads *L, int *p2,
                        uint64_t *h2)
{
    int p = m->primary[t];
    uint64_t surv = m->holders[t] & live;
    if (!surv) {
        *p2 = p; /* unrecoverable for now: kept, as pl_rebalance keeps it */
        *h2 = m->holders[t];
        return;
    }
    int np = p >= 0 && (surv & bit(p)) ? p : pick(surv, L->prim, false);
    if (np != p)
        L->prim[np]++;
    uint64_t reps = surv & ~bit(np);
    while (popcount(reps) > m->replicas) {
        int d = pick(reps, L->copies, true);
        reps &= ~bit(d);
        L->copies[d]--;
    }
    uint64_t free_nodes = live & ~surv;
    while (popcount(reps) < m->replicas && free_nodes) {
        int a = pick(free_nodes, L->copies, false);
        reps |= bit(a);
        free_nodes &= ~bit(a);
        L->copies[a]++;
    }
    *p2 = np;
    *h2 = reps | bit(np);
}

/* Does task t need the repair? Its copies all live, its primary live, R replicas. */
static bool needs_repair(const struct pl_map *m, uint32_t t, uint64_t live)
{
    uint64_t h = m->holders[t];
    int p = m->primary[t];
    if (!h)
        return false; /* never placed */
    return (h & ~live) || p < 0 || !(live & bit(p)) || popcount(h) != m->replicas + 1;
}

int pl_rebalance(struct pl_map *m, uint64_t live, pl_move_fn fn, void *arg, struct pl_moves *out)
{
    memset(out, 0, sizeof(*out));
    if (live & ~all_nodes(m->nodes))
        return -EINVAL;
    int8_t list[PL_MAX_NODES];
    int k = live_list(live, m->nodes, list);
    struct loads L = {{0}, {0}};
    if (m->policy == PL_TABLE)
        for (uint32_t t = 0; t < m->ntasks; t++) {
            int p = m->primary[t];
            if (p >= 0 && (live & bit(p)))
                L.prim[p]++;
            for (uint64_t h = m->holders[t] & live; h; h &= h - 1)
                L.copies[lowest(h)]++;
        }
    /* Rendezvous after nodes only left: a task none of whose holders left keeps the top
     * R + 1 scores among the survivors, so only the departed nodes' tasks are recomputed
     * (when the map is the policy's own: a hand-set task would otherwise stay as set). */
    bool only_left = m->policy == PL_RENDEZVOUS && m->derived && !(live & ~m->live);
    for (uint32_t t = 0; t < m->ntasks; t++) {
        int p = m->primary[t], p2;
        uint64_t h = m->holders[t], h2;
        if (!h)
            continue; /* never placed: nothing to move */
        if (only_left && !(h & ~live))
            continue; /* every holder still live: its top scores are unchanged */
        if (m->policy == PL_TABLE) {
            if (!needs_repair(m, t, live))
                continue;
            repair_task(m, t, live, &L, &p2, &h2);
        } else if (!k) {
            p2 = -1;
            h2 = 0;
        } else if (m->policy == PL_HASH) {
            place_hash(m, t, list, k, &p2, &h2);
        } else {
            place_rendezvous(m, t, list, k, &p2, &h2);
        }
        if (!diff_task(t, p, h, p2, h2, live, m->bytes[t], fn, arg, out)) {
            p2 = p; /* kept where it was: its nodes may come back */
            h2 = h;
        }
        m->primary[t] = (int8_t)p2;
        m->holders[t] = h2;
    }
    if (out->tasks_changed || live != m->live)
        m->epoch = next_epoch(m);
    m->live = live;
    m->derived = m->policy != PL_TABLE; /* every placed task is the policy's now */
    return 0;
}

/* ---- The seed's notation ------------------------------------------------------------ */

int pl_parse_rows(struct pl_map *m, const char *const *rows, int nrows, char *why, size_t cap)
{
    if (nrows > m->nodes) {
        say(why, cap, "%d rows for %d nodes", nrows, m->nodes);
        return -EINVAL;
    }
    memset(m->primary, -1, m->ntasks * sizeof(*m->primary));
    memset(m->holders, 0, m->ntasks * sizeof(*m->holders));
    m->derived = false;
    for (int n = 0; n < nrows; n++) {
        for (const char *s = rows[n]; *s; s++) {
            if (*s == ' ' || *s == '\t')
                continue;
            char c = *s;
            bool upper = c >= 'A' && c <= 'Z';
            uint32_t t = (uint32_t)(upper ? c - 'A' : c - 'a');
            if (!(upper || (c >= 'a' && c <= 'z')) || t >= m->ntasks ||
                (s[1] && s[1] != ' ' && s[1] != '\t')) {
                say(why, cap, "row %d: '%c' is not a task letter A..%c (a..%c)", n + 1, c,
                    'A' + (int)(m->ntasks < 26 ? m->ntasks : 26) - 1,
                    'a' + (int)(m->ntasks < 26 ? m->ntasks : 26) - 1);
                return -EINVAL;
            }
            if (m->holders[t] & bit(n)) {
                say(why, cap, "row %d lists task %c twice", n + 1, 'A' + (int)t);
                return -EINVAL;
            }
            if (upper && m->primary[t] >= 0) {
                say(why, cap, "task %c has two primaries (rows %d and %d)", 'A' + (int)t,
                    m->primary[t] + 1, n + 1);
                return -EINVAL;
            }
            if (upper)
                m->primary[t] = (int8_t)n;
            m->holders[t] |= bit(n);
        }
    }
    m->epoch = next_epoch(m);
    return 0;
}

size_t pl_format_row(const struct pl_map *m, int node, char *buf, size_t cap)
{
    size_t len = 0;
    char tok[16];
    for (uint32_t t = 0; node >= 0 && node < m->nodes && t < m->ntasks; t++) {
        if (!(m->holders[t] & bit(node)))
            continue;
        bool prim = m->primary[t] == node;
        if (m->ntasks <= 26)
            snprintf(tok, sizeof(tok), "%c", (prim ? 'A' : 'a') + (int)t);
        else
            snprintf(tok, sizeof(tok), "%u%s", t, prim ? "*" : "");
        size_t tl = strlen(tok) + (len ? 1 : 0);
        if (cap && len + tl < cap)
            snprintf(buf + len, cap - len, "%s%s", len ? " " : "", tok);
        len += tl;
    }
    if (cap)
        buf[len < cap ? len : cap - 1] = 0;
    return len;
}

/* ---- Invariants ------------------------------------------------------------------------ */

static void task_name(const struct pl_map *m, uint32_t t, char *buf, size_t cap)
{
    if (m->ntasks <= 26)
        snprintf(buf, cap, "%c", 'A' + (int)t);
    else
        snprintf(buf, cap, "%u", t);
}

bool pl_task_ok(const struct pl_map *m, uint32_t t, char *why, size_t cap)
{
    char name[16];
    task_name(m, t, name, sizeof(name));
    int p = m->primary[t];
    uint64_t h = m->holders[t];
    if (h & ~all_nodes(m->nodes)) {
        say(why, cap, "task %s is held by a node beyond the %d", name, m->nodes);
        return false;
    }
    if (p < 0) {
        say(why, cap, "task %s has no primary", name);
        return false;
    }
    if (!(h & bit(p))) {
        say(why, cap, "task %s: its primary (node %d) is not among its holders", name, p);
        return false;
    }
    if (h & ~m->live) {
        say(why, cap, "task %s has a copy on node %d, which is not live", name,
            lowest(h & ~m->live));
        return false;
    }
    int reps = popcount(h) - 1;
    if (reps != m->replicas) {
        say(why, cap, "task %s has %d replica%s, want %d", name, reps, reps == 1 ? "" : "s",
            m->replicas);
        return false;
    }
    return true;
}

bool pl_check(const struct pl_map *m, char *why, size_t cap)
{
    if (m->live & ~all_nodes(m->nodes)) {
        say(why, cap, "the live set names nodes beyond the %d", m->nodes);
        return false;
    }
    uint64_t bad = 0;
    char first[160] = "";
    for (uint32_t t = 0; t < m->ntasks; t++)
        if (!pl_task_ok(m, t, bad ? NULL : first, sizeof(first)))
            bad++;
    if (bad)
        say(why, cap, "%llu of %u tasks misplaced; first: %s", (unsigned long long)bad, m->ntasks,
            first);
    return bad == 0;
}

const char *const pl_policy_names[] = {PL_POLICY_NAMES, NULL};

int pl_policy_parse(const char *name)
{
    return names_value(pl_policy_names, name);
}

const char *pl_policy_name(enum pl_policy p)
{
    return names_name(pl_policy_names, (int)p);
}

/* evq.c - the window heap and the radix wheel behind evq.h.
 *
 * The window [cur, end) is either one nanosecond (end = cur + 1: a FIFO, taken from head)
 * or the span of one wheel slot at level l >= 1 (end = cur + 64^l, cur aligned to it: a
 * 4-ary heap on (when, sequence)). A push earlier than end goes to the window; a later one
 * to the wheel slot dest(when, cur), which is then at level >= the window's.
 *
 * When the window is empty, the lowest occupied slot ahead of cur is taken (the lowest
 * level wins: every tick of a higher level's slot lies beyond the current block of the
 * lower one) and cur moves to its first tick. A level-0 slot, or one of at most
 * EVQ_HEAP_MAX entries, becomes the window by swapping arrays (a heap is then built in
 * place); a bigger one is moved down a level (its entries at cur itself start a
 * one-nanosecond window), and the search goes on.
 *
 * Why equal times come out in push order in a FIFO window: an entry's wheel slot depends
 * only on its time and cur, so all wheel entries of one time sit in one slot at any
 * moment; a slot is appended to in push order, a move down keeps that order, and the
 * entries of a time all reach the window before any later push of that time (which goes
 * straight to the window). */
#include "timer/evq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MASK (EVQ_SLOTS - 1)

static inline unsigned digit(uint64_t x, unsigned level)
{
    return (unsigned)(x >> (EVQ_BITS * level)) & MASK;
}

/* The wheel slot of time w (>= end). */
static inline uint32_t dest(uint64_t w, uint64_t cur)
{
    unsigned level = (unsigned)(63 - __builtin_clzll((w ^ cur) | 1)) / EVQ_BITS;
    return level * EVQ_SLOTS + digit(w, level);
}

static inline bool is_fifo(const struct evq *q)
{
    return q->end - q->cur == 1;
}

static inline bool less(const struct evq_ent *a, const struct evq_ent *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

void evq_init(struct evq *q)
{
    memset(q, 0, sizeof(*q));
    q->end = 1;
}

void evq_cleanup(struct evq *q)
{
    for (size_t i = 0; i < EVQ_LEVELS * EVQ_SLOTS; i++)
        free(q->slot[i].v);
    free(q->win.v);
    memset(q, 0, sizeof(*q));
}

/* Room for one more entry in s. */
static int grow(struct evq_slot *s)
{
    uint64_t cap = s->cap ? (uint64_t)s->cap * 2 : 8;
    if (cap > UINT32_MAX)
        return -ENOMEM;
    struct evq_ent *v = realloc(s->v, sizeof(*v) * cap);
    if (!v)
        return -ENOMEM;
    s->v = v;
    s->cap = (uint32_t)cap;
    return 0;
}

/* Append e to s, growing it if need be. */
static inline int add(struct evq_slot *s, struct evq_ent e)
{
    if (__builtin_expect(s->len == s->cap, 0) && grow(s) < 0)
        return -ENOMEM;
    s->v[s->len++] = e;
    return 0;
}

static inline int append(struct evq *q, uint32_t id, struct evq_ent e)
{
    if (add(&q->slot[id], e) < 0)
        return -ENOMEM;
    q->occ[id / EVQ_SLOTS] |= 1ULL << (id & MASK);
    return 0;
}

/* ---- the window's heap: children of i are 4i+1 .. 4i+4 ---- */

static void sift_up(struct evq_ent *h, uint32_t i, struct evq_ent e)
{
    while (i > 0) {
        uint32_t p = (i - 1) / 4;
        if (!less(&e, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

/* The lesser of two entries (by index). Times rarely tie, so the tie branch is
 * predictable and the common comparison compiles to a conditional move. */
static inline uint32_t lesser(const struct evq_ent *h, uint32_t x, uint32_t y)
{
    if (__builtin_expect(h[x].when == h[y].when, 0))
        return h[y].seq < h[x].seq ? y : x;
    return h[y].when < h[x].when ? y : x;
}

static void sift_down(struct evq_ent *h, uint32_t n, uint32_t i, struct evq_ent e)
{
    for (;;) {
        uint32_t c = 4 * i + 1, best;
        if (c + 4 <= n) {
            best = lesser(h, lesser(h, c, c + 1), lesser(h, c + 2, c + 3));
        } else if (c < n) {
            best = c;
            for (uint32_t k = c + 1; k < n; k++)
                best = lesser(h, best, k);
        } else {
            break;
        }
        if (!less(&h[best], &e))
            break;
        h[i] = h[best];
        i = best;
    }
    h[i] = e;
}

static void heapify(struct evq_ent *h, uint32_t n)
{
    for (uint32_t i = n > 1 ? (n - 2) / 4 + 1 : 0; i-- > 0;)
        sift_down(h, n, i, h[i]);
}

/* ---- push, cancel ---- */

int evq_push(struct evq *q, struct evq_node *n, int64_t when)
{
    if (n->seq || when < evq_floor(q))
        return -EINVAL;
    struct evq_ent e = {when, q->next_seq + 1, n};
    uint64_t w = (uint64_t)when;
    if (w >= q->end) {
        if (append(q, dest(w, q->cur), e) < 0)
            return -ENOMEM;
    } else if (is_fifo(q)) {
        if (add(&q->win, e) < 0)
            return -ENOMEM;
    } else {
        if (__builtin_expect(q->win.len == q->win.cap, 0) && grow(&q->win) < 0)
            return -ENOMEM;
        sift_up(q->win.v, q->win.len++, e);
    }
    n->when = when;
    n->seq = ++q->next_seq;
    q->live++;
    return 0;
}

/* Keep the live entries of s[from, len) at its front, in order; returns how many. */
static uint32_t keep_live(struct evq_slot *s, uint32_t from)
{
    uint32_t j = 0;
    for (uint32_t i = from; i < s->len; i++)
        if (s->v[i].node->seq == s->v[i].seq)
            s->v[j++] = s->v[i];
    return s->len = j;
}

/* Drop every stale entry. */
static void compact(struct evq *q)
{
    for (uint32_t id = 0; id < EVQ_LEVELS * EVQ_SLOTS; id++)
        if (q->slot[id].len && !keep_live(&q->slot[id], 0))
            q->occ[id / EVQ_SLOTS] &= ~(1ULL << (id & MASK));
    bool fifo = is_fifo(q);
    keep_live(&q->win, fifo ? q->head : 0);
    q->head = 0;
    if (!fifo)
        heapify(q->win.v, q->win.len);
    q->stale = 0;
}

void evq_cancel(struct evq *q, struct evq_node *n)
{
    if (!n->seq)
        return;
    n->seq = 0;
    if (!q->live)
        return; /* cleaned up */
    q->live--;
    q->stale++;
    if (q->stale > 1024 && q->stale > q->live)
        compact(q);
}

/* ---- pop ---- */

/* Move every entry of slot id (level >= 1; cur now at its first tick, an empty FIFO
 * window there) down, in order. Every slot below its level is empty, so if one cannot
 * grow, emptying them all again undoes the move (the source is cleared only at the end). */
static int cascade(struct evq *q, uint32_t id)
{
    struct evq_slot *s = &q->slot[id];
    for (uint32_t i = 0; i < s->len; i++) {
        uint64_t w = (uint64_t)s->v[i].when;
        if (w < q->end ? add(&q->win, s->v[i]) : append(q, dest(w, q->cur), s->v[i])) {
            for (uint32_t d = 0; d < id / EVQ_SLOTS * EVQ_SLOTS; d++)
                q->slot[d].len = 0;
            memset(q->occ, 0, sizeof(q->occ[0]) * (id / EVQ_SLOTS));
            q->win.len = 0;
            return -ENOMEM;
        }
    }
    q->moved += s->len;
    s->len = 0;
    q->occ[id / EVQ_SLOTS] &= ~(1ULL << (id & MASK));
    return 0;
}

/* The window is empty: make the lowest occupied slot ahead of cur the next one, if it
 * starts at or before limit. Returns false when there is none (or memory ran out while
 * moving entries down: then nothing changed). */
static bool advance(struct evq *q, int64_t limit)
{
    for (unsigned l = 0; l < EVQ_LEVELS;) {
        unsigned d = digit(q->cur, l);
        uint64_t m = d == MASK ? 0 : q->occ[l] & (~0ULL << (d + 1));
        if (!m) {
            l++;
            continue;
        }
        unsigned nd = (unsigned)__builtin_ctzll(m), sh = EVQ_BITS * l;
        uint64_t start = sh + EVQ_BITS >= 64 ? 0 : q->cur >> (sh + EVQ_BITS) << (sh + EVQ_BITS);
        start |= (uint64_t)nd << sh;
        if (start > (uint64_t)limit)
            return false;
        uint32_t id = l * EVQ_SLOTS + nd;
        struct evq_slot *s = &q->slot[id];
        uint64_t was_cur = q->cur, was_end = q->end;
        q->cur = start;
        q->head = 0;
        if (l == 0 || s->len <= EVQ_HEAP_MAX) {
            struct evq_slot w = q->win; /* empty */
            q->win = *s;
            *s = w;
            q->occ[l] &= ~(1ULL << nd);
            q->end = start + (1ULL << sh);
            if (l)
                heapify(q->win.v, q->win.len);
            return true;
        }
        q->end = start + 1;
        if (cascade(q, id) < 0) {
            q->cur = was_cur;
            q->end = was_end;
            return false;
        }
        if (q->win.len)
            return true;
        l = 0; /* the entries are below now */
    }
    return false;
}

struct evq_node *evq_pop(struct evq *q, int64_t limit)
{
    if (limit < 0 || (uint64_t)limit < q->cur)
        return NULL;
    for (;;) {
        struct evq_slot *s = &q->win;
        if (is_fifo(q)) {
            while (q->head < s->len) {
                struct evq_ent *e = &s->v[q->head++];
                if (e->node->seq == e->seq) {
                    e->node->seq = 0;
                    q->live--;
                    q->last = q->cur;
                    return e->node;
                }
                q->stale--;
            }
            s->len = q->head = 0;
        } else {
            while (s->len) {
                struct evq_ent top = s->v[0];
                if (top.when > limit)
                    return NULL;
                if (--s->len)
                    sift_down(s->v, s->len, 0, s->v[s->len]);
                if (top.node->seq == top.seq) {
                    top.node->seq = 0;
                    q->live--;
                    q->last = (uint64_t)top.when;
                    return top.node;
                }
                q->stale--;
            }
        }
        if (!advance(q, limit))
            return NULL;
    }
}

/* ---- the checker ---- */

static bool count(const struct evq_ent *e, size_t *live, size_t *stale)
{
    if (e->node->seq != e->seq) {
        (*stale)++;
        return true;
    }
    (*live)++;
    return e->node->when == e->when;
}

bool evq_check(const struct evq *q)
{
    size_t live = 0, stale = 0;
    uint64_t span = q->end - q->cur;
    /* the window: one nanosecond, or one aligned slot span of a level >= 1 */
    if (q->end <= q->cur ||
        (span != 1 && ((span & (span - 1)) || __builtin_ctzll(span) % EVQ_BITS || q->cur % span)))
        return false;
    const struct evq_slot *w = &q->win;
    uint32_t from = span == 1 ? q->head : 0;
    if (w->len > w->cap || from > w->len)
        return false;
    for (uint32_t i = from; i < w->len; i++) {
        const struct evq_ent *e = &w->v[i];
        if ((uint64_t)e->when < q->cur || (uint64_t)e->when >= q->end || !count(e, &live, &stale))
            return false;
        if (span == 1 ? i > from && e->seq <= w->v[i - 1].seq
                      : i > 0 && less(e, &w->v[(i - 1) / 4]))
            return false;
    }
    /* the wheel */
    for (uint32_t id = 0; id < EVQ_LEVELS * EVQ_SLOTS; id++) {
        const struct evq_slot *s = &q->slot[id];
        if (s->len > s->cap || (s->len != 0) != (q->occ[id / EVQ_SLOTS] >> (id & MASK) & 1))
            return false;
        for (uint32_t i = 0; i < s->len; i++) {
            const struct evq_ent *e = &s->v[i];
            if ((uint64_t)e->when < q->end || dest((uint64_t)e->when, q->cur) != id)
                return false;
            if ((i && e->seq <= s->v[i - 1].seq) || e->seq > q->next_seq)
                return false;
            if (!count(e, &live, &stale))
                return false;
        }
    }
    return live == q->live && stale == q->stale;
}

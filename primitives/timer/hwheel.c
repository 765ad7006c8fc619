/* hwheel.c - hierarchical timing wheel: 11 levels of 64 slots, cascading. Level l holds
 * the timers whose tick first differs from the current tick in base-64 digit l, in the
 * slot named by that digit; level 0 slots therefore hold exactly one tick each. 11 levels
 * span every 64-bit tick, so there is no overflow list.
 *
 * A slot is an array of timer pointers, not a chain: cascading and firing walk it with
 * prefetching, so a million scattered timers cost memory bandwidth, not a cache miss
 * each in turn. A cancel leaves a hole (NULL) that walks skip; a full array that is at
 * least half holes is compacted instead of grown, so holes never make an array larger
 * than twice its peak of live timers, and a cancel itself stays O(1).
 *
 * Invariant (hw_check): a timer with tick e > cur sits in slot[level(e, cur)][digit],
 * each slot in insertion order. A level-l slot is cascaded exactly when cur reaches the
 * first tick of its range, so all timers of one tick always share a slot: that is why
 * equal ticks fire in insertion order. Cost: add and cancel O(1) amortised; a timer is
 * moved at most once per level on its way down, in practice once or twice. */
#include <errno.h>
#include <stdlib.h>

#include "timer/tq_impl.h"

#define HW_BITS 6
#define HW_SLOTS 64
#define HW_LEVELS 11                  /* 66 bits >= any 64-bit tick */
#define HW_DUE (HW_LEVELS * HW_SLOTS) /* id of the due array */
#define HW_NONE UINT32_MAX            /* no slot is being drained */

struct slotv {
    struct tq_timer **v; /* timers in insertion order; NULL where one was cancelled */
    uint32_t len, cap;
    uint32_t live; /* non-NULL entries */
};

struct hwheel {
    struct tq base;
    struct tq__ticks k;
    uint64_t cur; /* the last tick expired: timers in slots have a later tick */
    uint64_t seq; /* next insertion number */
    size_t n;
    uint32_t draining;           /* slot being fired: never compacted under the walk */
    uint64_t occ[HW_LEVELS];     /* bit s set when slot s may hold timers (cleared lazily) */
    struct slotv sv[HW_DUE + 1]; /* [level * 64 + slot], then the due array */
};

static inline unsigned level_of(uint64_t e, uint64_t cur)
{
    return (unsigned)(63 - __builtin_clzll(e ^ cur)) / HW_BITS;
}

static inline unsigned digit(uint64_t x, unsigned lvl)
{
    return (unsigned)(x >> (HW_BITS * lvl)) & (HW_SLOTS - 1);
}

/* Where a timer of tick e belongs now. */
static inline uint32_t dest(const struct hwheel *w, uint64_t e)
{
    if (e <= w->cur)
        return HW_DUE;
    unsigned l = level_of(e, w->cur);
    return l * HW_SLOTS + digit(e, l);
}

static void compact(struct slotv *s);

/* Room for 'more' appends: squeeze out holes if they are at least half the array (so a
 * cancel itself never walks anything), else grow it. */
static int reserve(struct hwheel *w, uint32_t id, uint32_t more)
{
    struct slotv *s = &w->sv[id];
    if (s->cap - s->len >= more)
        return 0;
    if (s->len - s->live >= s->len / 2 && s->cap - s->live >= more && id != w->draining) {
        compact(s);
        return 0;
    }
    uint64_t cap = s->cap ? s->cap : 8;
    while (cap - s->len < more)
        cap *= 2;
    if (cap > UINT32_MAX)
        return -ENOMEM;
    struct tq_timer **v = realloc(s->v, sizeof(*v) * cap);
    if (!v)
        return -ENOMEM;
    s->v = v;
    s->cap = (uint32_t)cap;
    return 0;
}

/* Append t to slot id; room must be reserved. */
static inline void put(struct hwheel *w, uint32_t id, struct tq_timer *t)
{
    struct slotv *s = &w->sv[id];
    t->vec.slot = id;
    t->vec.idx = s->len;
    s->v[s->len++] = t;
    s->live++;
    if (id != HW_DUE)
        w->occ[id / HW_SLOTS] |= 1ULL << (id % HW_SLOTS);
}

static int hw_add(struct tq *q, struct tq_timer *t, int64_t when)
{
    struct hwheel *w = (struct hwheel *)q;
    if (t->node.pos)
        return -EINVAL;
    uint32_t id = dest(w, tq__tick_ceil(&w->k, when));
    if (reserve(w, id, 1) < 0)
        return -ENOMEM;
    t->node.when = when;
    t->node.seq = w->seq++;
    t->node.pos = 1;
    put(w, id, t);
    w->n++;
    return 0;
}

/* Squeeze the holes out of a slot, keeping order. O(len). */
static void compact(struct slotv *s)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < s->len; i++)
        if (s->v[i]) {
            s->v[i]->vec.idx = j;
            s->v[j++] = s->v[i];
        }
    s->len = j;
}

static void hw_cancel(struct tq *q, struct tq_timer *t)
{
    struct hwheel *w = (struct hwheel *)q;
    if (!t->node.pos)
        return;
    uint32_t id = t->vec.slot;
    struct slotv *s = &w->sv[id];
    s->v[t->vec.idx] = NULL;
    t->node.pos = 0;
    w->n--;
    if (--s->live == 0 && id != w->draining)
        s->len = 0; /* an emptied slot's bit is cleared when next looked at */
}

/* The lowest occupied slot ahead of cur: sets *id and returns the slot's first tick, or
 * UINT64_MAX when all are empty. The lowest level wins: every tick of a higher level's
 * slot lies beyond the current block of the lower one. O(levels). */
static uint64_t next_slot(struct hwheel *w, uint32_t *id)
{
    for (unsigned l = 0; l < HW_LEVELS; l++) {
        unsigned d = digit(w->cur, l);
        uint64_t m = d == HW_SLOTS - 1 ? 0 : w->occ[l] & (~0ULL << (d + 1));
        while (m) {
            unsigned i = (unsigned)__builtin_ctzll(m);
            if (w->sv[l * HW_SLOTS + i].live) {
                unsigned sh = HW_BITS * l;
                uint64_t base = 0;
                if (l + 1 < HW_LEVELS)
                    base = w->cur >> (sh + HW_BITS) << (sh + HW_BITS);
                *id = l * HW_SLOTS + i;
                return base | (uint64_t)i << sh;
            }
            w->sv[l * HW_SLOTS + i].len = 0;
            w->occ[l] &= ~(1ULL << i);
            m &= m - 1;
        }
    }
    return UINT64_MAX;
}

static int64_t hw_next(struct tq *q)
{
    struct hwheel *w = (struct hwheel *)q;
    if (w->sv[HW_DUE].live)
        return tq__tick_time(&w->k, w->cur);
    uint32_t id;
    uint64_t at = w->n ? next_slot(w, &id) : UINT64_MAX;
    return at == UINT64_MAX ? INT64_MAX : tq__tick_time(&w->k, at);
}

/* Fire every timer in slot id, in order. Callbacks may cancel entries ahead (holes) or
 * append to the due array (so its storage may move: reread it each step). */
static size_t drain(struct hwheel *w, uint32_t id, tq_fire_fn fn, void *arg)
{
    struct slotv *s = &w->sv[id];
    size_t fired = 0;
    w->draining = id;
    for (uint32_t i = 0; i < s->len; i++) {
        if (i + 8 < s->len && s->v[i + 8])
            __builtin_prefetch(s->v[i + 8], 1);
        struct tq_timer *t = s->v[i];
        if (!t)
            continue;
        s->v[i] = NULL;
        s->live--;
        t->node.pos = 0;
        w->n--;
        fired++;
        fn(t, arg);
    }
    s->len = 0;
    w->draining = HW_NONE;
    return fired;
}

/* Move every timer of a level > 0 slot down (or to due). Returns 0, or -ENOMEM with
 * nothing moved. Two passes: the first notes each timer's destination in the timer and
 * reserves room in every destination, so the second cannot fail half-way. */
static int cascade(struct hwheel *w, uint32_t id)
{
    struct slotv *s = &w->sv[id];
    uint32_t count[HW_DUE + 1] = {0};
    for (uint32_t i = 0; i < s->len; i++) {
        if (i + 16 < s->len && s->v[i + 16])
            __builtin_prefetch(s->v[i + 16], 1);
        struct tq_timer *t = s->v[i];
        if (t)
            count[t->vec.slot = dest(w, tq__tick_ceil(&w->k, t->node.when))]++;
    }
    unsigned top = id / HW_SLOTS; /* destinations are below this level, or due */
    for (uint32_t d = 0; d <= HW_DUE; d++) {
        if (d == top * HW_SLOTS)
            d = HW_DUE;
        if (count[d] && reserve(w, d, count[d]) < 0) {
            for (uint32_t i = 0; i < s->len; i++)
                if (s->v[i])
                    s->v[i]->vec.slot = id;
            return -ENOMEM;
        }
    }
    for (uint32_t i = 0; i < s->len; i++) {
        struct tq_timer *t = s->v[i];
        if (t)
            put(w, t->vec.slot, t);
    }
    w->base.stats.cascaded += s->live;
    s->len = s->live = 0;
    return 0;
}

static size_t hw_expire(struct tq *q, int64_t now, tq_fire_fn fn, void *arg)
{
    struct hwheel *w = (struct hwheel *)q;
    int64_t to = tq__tick_floor(&w->k, now);
    size_t fired = 0;
    for (;;) {
        if (w->sv[HW_DUE].len)
            fired += drain(w, HW_DUE, fn, arg);
        if (to < 0 || (uint64_t)to <= w->cur)
            break;
        uint32_t id;
        uint64_t at = next_slot(w, &id);
        if (at > (uint64_t)to) {
            w->cur = (uint64_t)to;
            break;
        }
        uint64_t was = w->cur;
        w->cur = at;
        if (id < HW_SLOTS) {
            q->stats.slot_visits++;
            w->occ[0] &= ~(1ULL << id);
            fired += drain(w, id, fn, arg);
            continue;
        }
        if (cascade(w, id) < 0) {
            w->cur = was; /* out of memory: leave the rest pending, retry next call */
            break;
        }
        q->stats.slot_visits++;
        w->occ[id / HW_SLOTS] &= ~(1ULL << (id % HW_SLOTS));
    }
    return fired;
}

static size_t hw_size(const struct tq *q)
{
    return ((const struct hwheel *)q)->n;
}

static size_t hw_bytes(const struct tq *q)
{
    const struct hwheel *w = (const struct hwheel *)q;
    size_t b = sizeof(*w);
    for (uint32_t id = 0; id <= HW_DUE; id++)
        b += (size_t)w->sv[id].cap * sizeof(struct tq_timer *);
    return b;
}

/* One slot: back-indices, live count, insertion order, and each timer's tick against
 * where it sits. Adds the slot's timers to *count. */
static bool slot_ok(const struct hwheel *w, uint32_t id, size_t *count)
{
    const struct slotv *s = &w->sv[id];
    uint64_t last_seq = 0;
    uint32_t live = 0;
    if (s->len > s->cap || (s->cap && !s->v))
        return false;
    for (uint32_t i = 0; i < s->len; i++) {
        const struct tq_timer *t = s->v[i];
        if (!t)
            continue;
        if (t->vec.slot != id || t->vec.idx != i || t->node.pos != 1)
            return false;
        if (t->node.seq >= w->seq || (live && t->node.seq <= last_seq))
            return false;
        if (dest(w, tq__tick_ceil(&w->k, t->node.when)) != id)
            return false;
        last_seq = t->node.seq;
        live++;
    }
    if (live != s->live)
        return false;
    if (id != HW_DUE && live && !(w->occ[id / HW_SLOTS] >> (id % HW_SLOTS) & 1))
        return false;
    *count += live;
    return true;
}

static bool hw_check(const struct tq *q)
{
    const struct hwheel *w = (const struct hwheel *)q;
    size_t count = 0;
    if (w->draining != HW_NONE)
        return false;
    for (uint32_t id = 0; id <= HW_DUE; id++)
        if (!slot_ok(w, id, &count))
            return false;
    return count == w->n;
}

static void hw_destroy(struct tq *q)
{
    struct hwheel *w = (struct hwheel *)q;
    for (uint32_t id = 0; id <= HW_DUE; id++) {
        struct slotv *s = &w->sv[id];
        for (uint32_t i = 0; i < s->len; i++)
            if (s->v[i])
                s->v[i]->node.pos = 0;
        free(s->v);
    }
    free(w);
}

static const struct tq_ops hwheel_ops = {
    .name = "hwheel",
    .add = hw_add,
    .cancel = hw_cancel,
    .next = hw_next,
    .expire = hw_expire,
    .size = hw_size,
    .bytes = hw_bytes,
    .check = hw_check,
    .destroy = hw_destroy,
};

struct tq *tq__hwheel_create(const struct tq_config *cfg)
{
    if (cfg->tick_ns <= 0) {
        errno = EINVAL;
        return NULL;
    }
    struct hwheel *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->base.ops = &hwheel_ops;
    w->draining = HW_NONE;
    tq__ticks_init(&w->k, cfg->start_ns, cfg->tick_ns);
    return &w->base;
}

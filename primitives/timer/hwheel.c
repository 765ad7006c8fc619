/* hwheel.c - hierarchical timing wheel: 11 levels of 64 slots, cascading. Level l holds
 * the timers whose tick first differs from the current tick in base-64 digit l, in the
 * slot named by that digit; level 0 slots therefore hold exactly one tick each. 11 levels
 * span every 64-bit tick, so there is no overflow list.
 *
 * A slot is an array of timer pointers, not a chain: cascading and firing walk it with
 * prefetching, so a million scattered timers cost memory bandwidth, not a cache miss
 * each in turn. Beside the array, a bitmap with one bit per entry marks the cancelled
 * ones: a hole whose pointer is left behind, skipped by walks and never dereferenced,
 * so the caller may free the timer at once. A full array that is at least half holes is
 * compacted instead of grown, so holes never make an array larger than twice its peak
 * of live timers.
 *
 * A cancel writes only the timer and the wheel's header: it marks the timer not queued
 * and appends the timer's (slot, index) to a short log; the slots' bits and counts are
 * brought up to date from the log when it is full and before anything reads them (an
 * add growing an array, next, expire, destroy; during a firing walk at once). Why: at a
 * million timers the timer is a cache miss, and a store whose address comes out of that
 * miss (its slot's bit or count) holds back the later loads of the caller's loop until
 * the miss returns, so cancels in a row stop overlapping their misses; stores to
 * addresses known up front do not. The log holds positions, never timer pointers. The
 * bitmaps are 1/64 of the arrays (125 KiB at a million timers): applying the log hits
 * the cache where clearing the pointers would miss.
 *
 * Invariant (hw_check): a timer with tick e > cur sits in slot[level(e, cur)][digit],
 * each slot in insertion order. A level-l slot is cascaded exactly when cur reaches the
 * first tick of its range, so all timers of one tick always share a slot: that is why
 * equal ticks fire in insertion order. Cost: add and cancel O(1) amortised; a timer is
 * moved at most once per level on its way down, in practice once or twice. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timer/tq_impl.h"

#define HW_BITS 6
#define HW_SLOTS 64
#define HW_LEVELS 11                  /* 66 bits >= any 64-bit tick */
#define HW_DUE (HW_LEVELS * HW_SLOTS) /* id of the due array */
#define HW_NONE UINT32_MAX            /* no slot is being drained */
#define HW_LOG 256                    /* cancels whose bookkeeping is deferred (2 KiB) */

struct slotv {
    struct tq_timer **v; /* timers in insertion order; v[i] is queued iff bit i is clear */
    uint64_t *dead;      /* words(cap), after v[cap] in v's block: bit i set when v[i] was
                          * cancelled; none >= len */
    uint32_t len, cap;   /* cap is 0 or a power of two >= 8 */
    uint32_t live;       /* entries below len whose bit is clear (less those fired so far
                          * while the slot is being drained) */
};

struct hwheel {
    struct tq base;
    struct tq__ticks k;
    uint64_t cur;            /* the last tick expired: timers in slots have a later tick */
    uint64_t seq;            /* next insertion number */
    size_t n;                /* queued timers, plus the cancels in the log */
    uint32_t draining;       /* slot being fired: never compacted under the walk */
    uint64_t occ[HW_LEVELS]; /* bit s set when slot s may hold timers (cleared lazily) */
    uint32_t nlog;           /* entries in log */
    uint32_t log_max;        /* flush when nlog reaches it: HW_LOG, or 1 while draining */
    bool stirred;            /* a flush since a firing walk last read its word */
    struct {
        uint32_t slot, idx;
    } log[HW_LOG];               /* cancelled entries whose bits are not set yet */
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

/* Words of a bitmap of n bits. */
static inline uint64_t words(uint64_t n)
{
    return (n + 63) / 64;
}

/* The entries of word j of slot s that are below len and not cancelled. */
static inline uint64_t live_word(const struct slotv *s, uint32_t j)
{
    uint64_t m = ~s->dead[j];
    return s->len - j * 64 >= 64 ? m : m & ((1ULL << (s->len % 64)) - 1);
}

static inline bool queued_at(const struct slotv *s, uint32_t i)
{
    return i < s->len && !(s->dead[i / 64] >> (i % 64) & 1);
}

/* Forget every entry: the slot is empty or every timer in it was moved or fired. */
static void empty(struct slotv *s)
{
    if (s->len)
        memset(s->dead, 0, sizeof(*s->dead) * words(s->len));
    s->len = 0;
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

/* Apply the logged cancels: set their bits, count them out of their slots, and forget
 * the entries of a slot left empty (its bit in occ is cleared when next looked at). */
static void flush(struct hwheel *w)
{
    for (uint32_t k = 0; k < w->nlog; k++) {
        uint32_t id = w->log[k].slot, i = w->log[k].idx;
        struct slotv *s = &w->sv[id];
        s->dead[i / 64] |= 1ULL << (i % 64);
        if (--s->live == 0 && id != w->draining)
            empty(s);
    }
    w->n -= w->nlog;
    w->nlog = 0;
    w->stirred = true;
}

/* Room for 'more' appends when the array is full: squeeze out holes if they are at least
 * half the array (so a cancel itself never walks anything), else grow it. */
static int make_room(struct hwheel *w, uint32_t id, uint32_t more)
{
    struct slotv *s = &w->sv[id];
    flush(w); /* true counts before choosing between compacting and growing */
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
    /* one block, as if the bitmap were not there: a second allocation beside each array
     * would keep the arrays from growing in place */
    uint64_t ow = words(s->cap), nw = words(cap);
    struct tq_timer **v = realloc(s->v, sizeof(*v) * cap + sizeof(uint64_t) * nw);
    if (!v)
        return -ENOMEM;
    uint64_t *dead = (uint64_t *)(v + cap);
    memmove(dead, v + s->cap, sizeof(*dead) * ow);
    memset(dead + ow, 0, sizeof(*dead) * (nw - ow));
    s->v = v;
    s->dead = dead;
    s->cap = (uint32_t)cap;
    return 0;
}

/* Room for 'more' appends to slot id. */
static inline int reserve(struct hwheel *w, uint32_t id, uint32_t more)
{
    const struct slotv *s = &w->sv[id];
    return s->cap - s->len >= more ? 0 : make_room(w, id, more);
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
        if (queued_at(s, i)) {
            s->v[i]->vec.idx = j;
            s->v[j++] = s->v[i];
        }
    empty(s);
    s->len = j;
}

/* The timer is out at once (not queued, not counted by tq_size, never read again); its
 * slot's bit and count follow at the next flush, at once while a slot is being fired
 * (the walk must not reach it). */
static void hw_cancel(struct tq *q, struct tq_timer *t)
{
    struct hwheel *w = (struct hwheel *)q;
    if (!t->node.pos)
        return;
    t->node.pos = 0;
    w->log[w->nlog].slot = t->vec.slot;
    w->log[w->nlog].idx = t->vec.idx;
    if (++w->nlog >= w->log_max)
        flush(w);
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
            empty(&w->sv[l * HW_SLOTS + i]);
            w->occ[l] &= ~(1ULL << i);
            m &= m - 1;
        }
    }
    return UINT64_MAX;
}

static int64_t hw_next(struct tq *q)
{
    struct hwheel *w = (struct hwheel *)q;
    flush(w);
    if (w->sv[HW_DUE].live)
        return tq__tick_time(&w->k, w->cur);
    uint32_t id;
    uint64_t at = w->n ? next_slot(w, &id) : UINT64_MAX;
    return at == UINT64_MAX ? INT64_MAX : tq__tick_time(&w->k, at);
}

/* Fire every timer in slot id, in order: the live entries of each word in turn, from a
 * copy in a register, so one step does not wait on the last one's store. Callbacks may
 * cancel entries ahead (their bits are set at once) or append to the due array (so its
 * storage may move and its length grow): after either, the rest of the word is read
 * again. The prefetch may touch a cancelled timer's memory: harmless, a prefetch never
 * faults. */
static size_t drain(struct hwheel *w, uint32_t id, tq_fire_fn fn, void *arg)
{
    struct slotv *s = &w->sv[id];
    size_t fired = 0;
    w->draining = id;
    w->log_max = 1; /* a callback's cancel must reach the bits before the walk does */
    for (uint32_t j = 0; j * 64 < s->len; j++) {
        uint64_t m = live_word(s, j);
        while (m) {
            uint32_t b = (uint32_t)__builtin_ctzll(m), i = j * 64 + b, len = s->len;
            if (i + 8 < len)
                __builtin_prefetch(s->v[i + 8], 1);
            struct tq_timer *t = s->v[i];
            m &= m - 1;
            s->live--;
            t->node.pos = 0;
            w->n--;
            fired++;
            w->stirred = false;
            fn(t, arg);
            if (w->stirred || s->len != len)
                m = live_word(s, j) & (~0ULL << b << 1); /* the entries after i */
        }
    }
    empty(s);
    w->draining = HW_NONE;
    w->log_max = HW_LOG;
    return fired;
}

/* Move every timer of a level > 0 slot down (or to due). Returns 0, or -ENOMEM with
 * nothing moved. Two passes: the first notes each timer's destination in the timer and
 * reserves room in every destination, so the second cannot fail half-way. */
static int cascade(struct hwheel *w, uint32_t id)
{
    struct slotv *s = &w->sv[id];
    uint32_t count[HW_DUE + 1] = {0};
    for (uint32_t j = 0; j * 64 < s->len; j++)
        for (uint64_t m = live_word(s, j); m; m &= m - 1) {
            uint32_t i = j * 64 + (uint32_t)__builtin_ctzll(m);
            if (i + 16 < s->len)
                __builtin_prefetch(s->v[i + 16], 1);
            struct tq_timer *t = s->v[i];
            count[t->vec.slot = dest(w, tq__tick_ceil(&w->k, t->node.when))]++;
        }
    unsigned top = id / HW_SLOTS; /* destinations are below this level, or due */
    for (uint32_t d = 0; d <= HW_DUE; d++) {
        if (d == top * HW_SLOTS)
            d = HW_DUE;
        if (count[d] && reserve(w, d, count[d]) < 0) {
            for (uint32_t i = 0; i < s->len; i++)
                if (queued_at(s, i))
                    s->v[i]->vec.slot = id;
            return -ENOMEM;
        }
    }
    for (uint32_t j = 0; j * 64 < s->len; j++) /* the timers again: prefetch again */
        for (uint64_t m = live_word(s, j); m; m &= m - 1) {
            uint32_t i = j * 64 + (uint32_t)__builtin_ctzll(m);
            if (i + 16 < s->len)
                __builtin_prefetch(s->v[i + 16], 1);
            put(w, s->v[i]->vec.slot, s->v[i]);
        }
    w->base.stats.cascaded += s->live;
    empty(s);
    s->live = 0;
    return 0;
}

static size_t hw_expire(struct tq *q, int64_t now, tq_fire_fn fn, void *arg)
{
    struct hwheel *w = (struct hwheel *)q;
    int64_t to = tq__tick_floor(&w->k, now);
    size_t fired = 0;
    flush(w); /* and every cancel made by a callback flushes at once */
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
    const struct hwheel *w = (const struct hwheel *)q;
    return w->n - w->nlog;
}

static size_t hw_bytes(const struct tq *q)
{
    const struct hwheel *w = (const struct hwheel *)q;
    size_t b = sizeof(*w);
    for (uint32_t id = 0; id <= HW_DUE; id++)
        b += (size_t)w->sv[id].cap * sizeof(struct tq_timer *) + words(w->sv[id].cap) * 8;
    return b;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The logged cancels, sorted by (slot, index), for the checker's walk. */
struct logged {
    uint64_t pos[HW_LOG]; /* slot << 32 | index */
    uint32_t n, next;     /* next: the first not yet passed by the walk */
};

/* One slot: back-indices, live count, insertion order, each timer's tick against where
 * it sits, no bit set past len. A logged entry's bit is not set yet, and its timer may be
 * freed already: it is counted in the slot's live count, never read. Adds the slot's
 * queued timers to *count. */
static bool slot_ok(const struct hwheel *w, uint32_t id, struct logged *lg, size_t *count)
{
    const struct slotv *s = &w->sv[id];
    uint64_t last_seq = 0;
    uint32_t live = 0, queued = 0;
    if (s->len > s->cap || (s->cap && (!s->v || !s->dead)))
        return false;
    for (uint32_t i = s->len; i < words(s->cap) * 64; i++)
        if (s->dead[i / 64] >> (i % 64) & 1)
            return false;
    for (uint32_t i = 0; i < s->len; i++) {
        if (!queued_at(s, i))
            continue;
        live++;
        if (lg->next < lg->n && lg->pos[lg->next] == ((uint64_t)id << 32 | i)) {
            lg->next++;
            continue;
        }
        const struct tq_timer *t = s->v[i];
        if (t->vec.slot != id || t->vec.idx != i || t->node.pos != 1)
            return false;
        if (t->node.seq >= w->seq || (queued && t->node.seq <= last_seq))
            return false;
        if (dest(w, tq__tick_ceil(&w->k, t->node.when)) != id)
            return false;
        last_seq = t->node.seq;
        queued++;
    }
    if (live != s->live)
        return false;
    if (id != HW_DUE && live && !(w->occ[id / HW_SLOTS] >> (id % HW_SLOTS) & 1))
        return false;
    *count += queued;
    return true;
}

static bool hw_check(const struct tq *q)
{
    const struct hwheel *w = (const struct hwheel *)q;
    size_t count = 0;
    if (w->draining != HW_NONE || w->log_max != HW_LOG || w->nlog >= HW_LOG)
        return false;
    struct logged lg = {.n = w->nlog};
    for (uint32_t k = 0; k < w->nlog; k++)
        lg.pos[k] = (uint64_t)w->log[k].slot << 32 | w->log[k].idx;
    qsort(lg.pos, lg.n, sizeof(lg.pos[0]), cmp_u64);
    for (uint32_t k = 0; k < lg.n; k++) /* each a distinct live entry of a slot */
        if ((lg.pos[k] >> 32) > HW_DUE || (k && lg.pos[k] == lg.pos[k - 1]))
            return false;
    for (uint32_t id = 0; id <= HW_DUE; id++)
        if (!slot_ok(w, id, &lg, &count))
            return false;
    /* every logged entry met in a walk, and counted in n until flushed */
    return lg.next == lg.n && count + w->nlog == w->n;
}

static void hw_destroy(struct tq *q)
{
    struct hwheel *w = (struct hwheel *)q;
    flush(w);
    for (uint32_t id = 0; id <= HW_DUE; id++) {
        struct slotv *s = &w->sv[id];
        for (uint32_t i = 0; i < s->len; i++)
            if (queued_at(s, i))
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
    w->log_max = HW_LOG;
    tq__ticks_init(&w->k, cfg->start_ns, cfg->tick_ns);
    return &w->base;
}

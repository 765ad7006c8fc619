/* wheel.c - hashed timing wheel: a timer with tick e hangs in the chain of slot
 * e mod slots, beside timers of later rounds (the seed's wheel: a hash table on the
 * deadline, with chaining). Each tick that comes round walks its slot's chain, firing
 * the timers of this round and stepping over the rest. Never allocates per timer.
 *
 * Costs, candidly: add and cancel O(1); expiring walks every non-empty slot it passes,
 * whole chains included, so timers many rounds ahead are walked once per round (the
 * price of a wheel too small for its deadlines; see chain_skips in the stats). A full
 * round that fires nothing costs one O(n + slots) scan to jump ahead. */
#include <errno.h>
#include <stdlib.h>

#include "timer/tq_impl.h"

struct wheel {
    struct tq base;
    struct tq__ticks k;
    uint64_t cur;  /* the last tick expired: timers in slots have a later tick */
    uint64_t seq;  /* next insertion number */
    uint64_t mask; /* slots - 1 */
    size_t n;
    size_t words;       /* of occ */
    uint64_t *occ;      /* bit s set when slot s may be non-empty (cleared lazily) */
    struct tq_link due; /* tick already reached: fire at the next expire, in order */
    struct tq_link *slot;
};

static inline void place(struct wheel *w, struct tq_timer *t, uint64_t e)
{
    if (e <= w->cur) {
        tq__list_append(&w->due, &t->link);
        return;
    }
    uint64_t s = e & w->mask;
    tq__list_append(&w->slot[s], &t->link);
    w->occ[s >> 6] |= 1ULL << (s & 63);
}

static int wh_add(struct tq *q, struct tq_timer *t, int64_t when)
{
    struct wheel *w = (struct wheel *)q;
    if (t->node.pos)
        return -EINVAL;
    t->node.when = when;
    t->node.seq = w->seq++;
    t->node.pos = 1;
    place(w, t, tq__tick_ceil(&w->k, when));
    w->n++;
    return 0;
}

static void wh_cancel(struct tq *q, struct tq_timer *t)
{
    struct wheel *w = (struct wheel *)q;
    if (!t->node.pos)
        return;
    tq__list_unlink(&t->link);
    t->node.pos = 0;
    w->n--;
}

/* The first occupied slot at or after index i, scanning to the end of the table only;
 * clears the bits of slots found empty. Returns the index or UINT64_MAX. */
static uint64_t scan_from(struct wheel *w, uint64_t i)
{
    size_t wi = i >> 6;
    uint64_t m = w->occ[wi] & (~0ULL << (i & 63));
    for (;;) {
        while (m) {
            uint64_t s = (uint64_t)wi << 6 | (uint64_t)__builtin_ctzll(m);
            if (s > w->mask)
                return UINT64_MAX;
            if (!tq__list_empty(&w->slot[s]))
                return s;
            w->occ[wi] &= ~(1ULL << (s & 63));
            m &= m - 1;
        }
        if (++wi >= w->words)
            return UINT64_MAX;
        m = w->occ[wi];
    }
}

/* The first tick after cur whose slot is non-empty (within one round), or UINT64_MAX. */
static uint64_t next_tick(struct wheel *w)
{
    uint64_t i0 = (w->cur + 1) & w->mask;
    uint64_t s = scan_from(w, i0);
    if (s == UINT64_MAX && i0 > 0)
        s = scan_from(w, 0);
    if (s == UINT64_MAX)
        return UINT64_MAX;
    return w->cur + 1 + ((s - i0) & w->mask);
}

/* The earliest tick of any queued timer: O(n + slots), for jumping over empty rounds. */
static uint64_t min_tick(const struct wheel *w)
{
    uint64_t best = UINT64_MAX;
    for (uint64_t s = 0; s <= w->mask; s++)
        for (struct tq_link *l = w->slot[s].next; l != &w->slot[s]; l = l->next) {
            uint64_t e = tq__tick_ceil(&w->k, tq__of(l)->node.when);
            if (e < best)
                best = e;
        }
    return best;
}

static int64_t wh_next(struct tq *q)
{
    struct wheel *w = (struct wheel *)q;
    if (!tq__list_empty(&w->due))
        return tq__tick_time(&w->k, w->cur);
    uint64_t at = w->n ? next_tick(w) : UINT64_MAX;
    return at == UINT64_MAX ? INT64_MAX : tq__tick_time(&w->k, at);
}

static size_t wh_expire(struct tq *q, int64_t now, tq_fire_fn fn, void *arg)
{
    struct wheel *w = (struct wheel *)q;
    int64_t to = tq__tick_floor(&w->k, now);
    size_t fired = 0;
    uint64_t progress = w->cur; /* tick of the last visit that found a due timer */
    for (;;) {
        while (!tq__list_empty(&w->due)) {
            struct tq_link *l = w->due.next;
            struct tq_timer *t = tq__of(l);
            tq__list_unlink(l);
            t->node.pos = 0;
            w->n--;
            fired++;
            fn(t, arg);
        }
        if (to < 0 || (uint64_t)to <= w->cur)
            break;
        uint64_t at = next_tick(w);
        if (at != UINT64_MAX && at - progress > w->mask + 1) {
            /* A whole round found nothing due: jump to just before the earliest tick. */
            uint64_t e = min_tick(w);
            w->cur = e - 1 < (uint64_t)to ? e - 1 : (uint64_t)to;
            progress = w->cur;
            continue;
        }
        if (at > (uint64_t)to) {
            w->cur = (uint64_t)to;
            break;
        }
        w->cur = at;
        q->stats.slot_visits++;
        struct tq_link *head = &w->slot[at & w->mask];
        for (struct tq_link *l = head->next, *nx; l != head; l = nx) {
            nx = l->next;
            __builtin_prefetch(nx);
            struct tq_timer *t = tq__of(l);
            if (tq__tick_ceil(&w->k, t->node.when) == at) {
                tq__list_unlink(l);
                tq__list_append(&w->due, l);
                progress = at;
            } else {
                q->stats.chain_skips++;
            }
        }
    }
    return fired;
}

static size_t wh_size(const struct tq *q)
{
    return ((const struct wheel *)q)->n;
}

static size_t wh_bytes(const struct tq *q)
{
    const struct wheel *w = (const struct wheel *)q;
    return sizeof(*w) + (w->mask + 1) * sizeof(*w->slot) + w->words * sizeof(*w->occ);
}

/* One chain: back-links, insertion order, each timer in its tick's slot (s > mask: the
 * due chain). Adds the chain's length to *count. */
static bool chain_ok(const struct wheel *w, const struct tq_link *head, uint64_t s, size_t *count)
{
    uint64_t last_seq = 0;
    bool first = true;
    for (const struct tq_link *l = head->next; l != head; l = l->next) {
        const struct tq_timer *t = tq__of(l);
        if (l->next->prev != l || l->prev->next != l || t->node.pos != 1)
            return false;
        if (t->node.seq >= w->seq || (!first && t->node.seq <= last_seq))
            return false;
        uint64_t e = tq__tick_ceil(&w->k, t->node.when);
        if (s > w->mask ? e > w->cur : (e <= w->cur || (e & w->mask) != s))
            return false;
        if (++*count > w->n)
            return false;
        last_seq = t->node.seq;
        first = false;
    }
    return true;
}

static bool wh_check(const struct tq *q)
{
    const struct wheel *w = (const struct wheel *)q;
    size_t count = 0;
    if (!chain_ok(w, &w->due, UINT64_MAX, &count))
        return false;
    for (uint64_t s = 0; s <= w->mask; s++) {
        if (!tq__list_empty(&w->slot[s]) && !(w->occ[s >> 6] >> (s & 63) & 1))
            return false;
        if (!chain_ok(w, &w->slot[s], s, &count))
            return false;
    }
    return count == w->n;
}

static void wh_destroy(struct tq *q)
{
    struct wheel *w = (struct wheel *)q;
    for (uint64_t s = 0; s <= w->mask + 1; s++) {
        struct tq_link *h = s <= w->mask ? &w->slot[s] : &w->due;
        for (struct tq_link *l = h->next; l != h; l = l->next)
            tq__of(l)->node.pos = 0;
    }
    free(w->slot);
    free(w->occ);
    free(w);
}

static const struct tq_ops wheel_ops = {
    .name = "wheel",
    .add = wh_add,
    .cancel = wh_cancel,
    .next = wh_next,
    .expire = wh_expire,
    .size = wh_size,
    .bytes = wh_bytes,
    .check = wh_check,
    .destroy = wh_destroy,
};

struct tq *tq__wheel_create(const struct tq_config *cfg)
{
    uint32_t slots = cfg->slots;
    if (cfg->tick_ns <= 0 || slots == 0 || (slots & (slots - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    struct wheel *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->base.ops = &wheel_ops;
    tq__ticks_init(&w->k, cfg->start_ns, cfg->tick_ns);
    w->mask = slots - 1;
    w->words = (slots + 63) / 64;
    w->occ = calloc(w->words, sizeof(*w->occ));
    w->slot = malloc(sizeof(*w->slot) * slots);
    if (!w->occ || !w->slot)
        goto err_free;
    tq__list_init(&w->due);
    for (uint32_t s = 0; s < slots; s++)
        tq__list_init(&w->slot[s]);
    return &w->base;
err_free:
    free(w->occ);
    free(w->slot);
    free(w);
    errno = ENOMEM;
    return NULL;
}

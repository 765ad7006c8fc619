/* tq.h - one interface over four timer structures: binary heap, 4-ary heap, hashed timing
 * wheel, hierarchical timing wheel. Pure data structures: time is an argument, nothing
 * here reads a clock, draws a random number or allocates per timer.
 *
 * Timers are intrusive: the caller embeds a struct tq_timer in whatever it schedules and
 * keeps it alive while it is queued. Memory per pending timer, all structures:
 *
 *   kind         node (caller's)  held by the structure
 *   TQ_HEAP2     40 B             24 B array slot per timer (x2 slack after doubling)
 *   TQ_HEAP4     40 B             an array slot per timer, sizeof(struct tq4_slot) (x2 slack)
 *   TQ_WHEEL     40 B             none per timer; fixed 16 B x slots + slots / 8 B bitmap
 *   TQ_HWHEEL    40 B             8 B pointer and 1 bit per timer in its slot's arrays (x2
 *                                 slack, and arrays keep their peak size); fixed 705 x 32 B
 *                                 plus a 2 KiB log of recent cancels, about 25 KiB
 *
 * (The heaps use the first 24 B of the node; the wheels all 40: the hashed wheel's chain
 * links, the hierarchical wheel's slot and index. Chains cost nothing to grow but a walk
 * of one is a cache miss per timer; the hierarchical wheel's arrays are walked with
 * prefetching, which is what makes its firing cheap at a million timers.)
 * tq_bytes() reports what the structure holds, so a caller can print the exact figure.
 *
 * Firing time and the order of equal deadlines:
 *   heaps   fire a timer at the first tq_expire(now) with now >= when, in (when, insertion)
 *           order: equal deadlines fire in insertion order.
 *   wheels  round a deadline up to the next tick boundary: a timer fires at the first
 *           tq_expire(now) with now >= ceil(when / tick) * tick, so it is never early and
 *           at most one tick late (plus however late the caller calls tq_expire). Timers
 *           fire in tick order; within one tick in insertion order, whatever their exact
 *           deadlines (so two equal deadlines fire in insertion order, but a later
 *           deadline in the same tick may fire before an earlier one inserted after it).
 *           A timer added already due (its tick <= the last expired tick) fires in the
 *           next tq_expire, in insertion order among such timers.
 */
#ifndef DISTLAB_TQ_H
#define DISTLAB_TQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer/heap4.h"

/* A wheel's doubly linked chain; slot heads are sentinels of the same type. */
struct tq_link {
    struct tq_link *next, *prev;
};

/* Embedded by the caller; zero it (or call tq_timer_init) once before first use.
 * 'node.when' is the deadline last given to tq_add; the rest is the structure's. */
struct tq_timer {
    struct tq_node node; /* when, seq; pos != 0 while queued */
    union {
        struct tq_link link; /* hashed wheel: its slot's chain */
        struct {
            uint32_t slot, idx; /* hierarchical wheel: where its pointer sits */
        } vec;
    };
};

static inline void tq_timer_init(struct tq_timer *t)
{
    tq_node_init(&t->node);
    t->link.next = t->link.prev = NULL;
}

static inline bool tq_timer_queued(const struct tq_timer *t)
{
    return t->node.pos != 0;
}

enum tq_kind { TQ_HEAP2, TQ_HEAP4, TQ_WHEEL, TQ_HWHEEL };

struct tq_config {
    enum tq_kind kind;
    size_t hint;      /* heaps: initial capacity */
    int64_t tick_ns;  /* wheels: tick length, > 0 */
    uint32_t slots;   /* hashed wheel: number of slots, a power of two */
    int64_t start_ns; /* wheels: the time of the first tick; no timer fires before it */
};

/* Operation counts that a caller cannot see from outside, for showing costs: a heap's
 * sift levels grow as log n, a wheel's slot visits with the ticks that pass. (Adds,
 * cancels and fires the caller counts itself: a counter here would cost every cancel a
 * store, which at a million timers is a tenth of its price.) */
struct tq_stats {
    uint64_t nexts;       /* tq_next calls: the top check */
    uint64_t expires;     /* tq_expire calls */
    uint64_t sift_levels; /* heaps: levels a node moved up or down while sifting */
    uint64_t slot_visits; /* wheels: non-empty slots emptied or walked */
    uint64_t cascaded;    /* hierarchical wheel: timers moved to a lower level */
    uint64_t chain_skips; /* hashed wheel: timers walked past because a later round is theirs */
};

typedef void (*tq_fire_fn)(struct tq_timer *t, void *arg);

struct tq;

/* Each structure implements these; see the tq_* wrappers below for the contracts. */
struct tq_ops {
    const char *name;
    int (*add)(struct tq *q, struct tq_timer *t, int64_t when);
    void (*cancel)(struct tq *q, struct tq_timer *t);
    int64_t (*next)(struct tq *q);
    size_t (*expire)(struct tq *q, int64_t now, tq_fire_fn fn, void *arg);
    size_t (*size)(const struct tq *q);
    size_t (*bytes)(const struct tq *q);
    bool (*check)(const struct tq *q);
    void (*destroy)(struct tq *q);
};

/* Every structure's state starts with this header (callers never embed it). */
struct tq {
    const struct tq_ops *ops;
    struct tq_stats stats;
};

/* A new, empty structure of cfg->kind. Returns NULL with errno EINVAL (tick_ns <= 0 for a
 * wheel, slots not a power of two for the hashed wheel, unknown kind) or ENOMEM. */
struct tq *tq_create(const struct tq_config *cfg);

/* Frees the structure; timers still queued are marked not queued (memory stays the
 * caller's). */
static inline void tq_destroy(struct tq *q)
{
    if (q)
        q->ops->destroy(q);
}

/* Queue 't' to fire at 'when' (ns). Returns 0, -EINVAL if 't' is already queued, or
 * -ENOMEM (an array growing). Heaps O(log n); wheels O(1) (amortised: arrays double). */
static inline int tq_add(struct tq *q, struct tq_timer *t, int64_t when)
{
    return q->ops->add(q, t, when);
}

/* Dequeue 't' if it is queued here; a timer that is not queued is left alone. 't' must not
 * be queued in another structure. Heaps O(log n); wheels O(1). */
static inline void tq_cancel(struct tq *q, struct tq_timer *t)
{
    q->ops->cancel(q, t);
}

/* The earliest time at which tq_expire may fire a timer, INT64_MAX when empty. Heaps:
 * exactly the earliest deadline, O(1) (the top check). Wheels: a lower bound, never later
 * than the earliest rounded deadline: exact when that is within the next 64 ticks (the
 * hierarchical wheel's level 0) or in the first non-empty slot's round (hashed wheel);
 * otherwise the tick at which a slot must be cascaded or walked. A driver that sleeps
 * until tq_next and then calls tq_expire is never late because of the wheel beyond its
 * rounding. Wheels O(levels) or O(slots / 64). */
static inline int64_t tq_next(struct tq *q)
{
    q->stats.nexts++;
    return q->ops->next(q);
}

/* Fire every timer due at 'now': each is dequeued, then fn(t, arg) is called (fn may add
 * or cancel timers, including 't'; one added already due fires in this same call; fn must
 * not call tq_expire on the same structure). Returns how many fired. Heaps O(k log n) for
 * k fired; wheels O(k + slots visited). The hierarchical wheel stops early, leaving the
 * rest pending for the next call, if it cannot grow a slot's array while cascading. */
static inline size_t tq_expire(struct tq *q, int64_t now, tq_fire_fn fn, void *arg)
{
    q->stats.expires++;
    return q->ops->expire(q, now, fn, arg);
}

static inline size_t tq_size(const struct tq *q)
{
    return q->ops->size(q);
}

/* Bytes the structure holds itself (arrays, slot tables), not counting the nodes. */
static inline size_t tq_bytes(const struct tq *q)
{
    return q->ops->bytes(q);
}

/* Walks every invariant of the structure (see each implementation). O(n); for tests. */
static inline bool tq_check(const struct tq *q)
{
    return q->ops->check(q);
}

static inline const char *tq_name(const struct tq *q)
{
    return q->ops->name;
}

static inline const struct tq_stats *tq_stats(const struct tq *q)
{
    return &q->stats;
}

/* The kinds' names in enum order (names.h). parse gives -EINVAL for another name; name
 * gives NULL for an out-of-range value. */
#define TQ_KIND_NAMES "heap2", "heap4", "wheel", "hwheel"
extern const char *const tq_kind_names[];
int tq_kind_parse(const char *name);
const char *tq_kind_name(enum tq_kind kind);

#endif

/* tq_impl.h - internals shared by the tq_ implementations (tq.c, wheel.c, hwheel.c):
 * chain helpers and tick arithmetic. Not for callers. */
#ifndef DISTLAB_TQ_IMPL_H
#define DISTLAB_TQ_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "timer/tq.h"

#define tq__of(l) ((struct tq_timer *)((char *)(l)-offsetof(struct tq_timer, link)))

static inline void tq__list_init(struct tq_link *h)
{
    h->next = h->prev = h;
}

static inline int tq__list_empty(const struct tq_link *h)
{
    return h->next == h;
}

static inline void tq__list_append(struct tq_link *h, struct tq_link *l)
{
    struct tq_link *p = h->prev;
    l->prev = p;
    l->next = h;
    p->next = l;
    h->prev = l;
}

static inline void tq__list_unlink(struct tq_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
}

/* Move every element of 'from' to the tail of 'to', in order; 'from' ends empty. */
static inline void tq__list_splice(struct tq_link *to, struct tq_link *from)
{
    if (tq__list_empty(from))
        return;
    struct tq_link *first = from->next, *last = from->prev, *tail = to->prev;
    tail->next = first;
    first->prev = tail;
    last->next = to;
    to->prev = last;
    tq__list_init(from);
}

/* Ticks of a wheel: tick k is the instant origin + k * tick_ns. Division by the tick
 * goes through a precomputed reciprocal: a hardware 64-bit divide would cost a third of
 * an insert. */
struct tq__ticks {
    int64_t origin; /* ns at tick 0 */
    uint64_t tick;  /* ns per tick */
    uint64_t inv;   /* UINT64_MAX / tick */
};

__extension__ typedef unsigned __int128 tq__u128;
__extension__ typedef __int128 tq__i128;

static inline void tq__ticks_init(struct tq__ticks *k, int64_t origin, int64_t tick)
{
    k->origin = origin;
    k->tick = (uint64_t)tick;
    k->inv = UINT64_MAX / (uint64_t)tick;
}

/* floor(x / tick) for x >= 0: the estimate is low by at most 2. */
static inline uint64_t tq__div(const struct tq__ticks *k, uint64_t x)
{
    uint64_t q = (uint64_t)(((tq__u128)x * k->inv) >> 64);
    uint64_t r = x - q * k->tick;
    while (r >= k->tick) {
        q++;
        r -= k->tick;
    }
    return q;
}

/* The first tick at or after 'when' (0 for anything at or before the origin). */
static inline uint64_t tq__tick_ceil(const struct tq__ticks *k, int64_t when)
{
    if (when <= k->origin)
        return 0;
    return tq__div(k, (uint64_t)(when - k->origin) - 1) + 1;
}

/* The last tick at or before 'now'; -1 when now is before the origin. */
static inline int64_t tq__tick_floor(const struct tq__ticks *k, int64_t now)
{
    if (now < k->origin)
        return -1;
    return (int64_t)tq__div(k, (uint64_t)(now - k->origin));
}

/* The instant of tick 'tk', saturating at INT64_MAX. */
static inline int64_t tq__tick_time(const struct tq__ticks *k, uint64_t tk)
{
    tq__i128 ns = (tq__i128)tk * (tq__i128)k->tick + k->origin;
    return ns > INT64_MAX ? INT64_MAX : (int64_t)ns;
}

/* Constructors of the implementations, called by tq_create. */
struct tq *tq__heap_create(const struct tq_config *cfg);
struct tq *tq__wheel_create(const struct tq_config *cfg);
struct tq *tq__hwheel_create(const struct tq_config *cfg);

#endif

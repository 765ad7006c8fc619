/* lb_internal.h - what lb.c and lb_theory.c share: the picker's state and the pieces
 * of the p2c rule that the theory enumerates. Not for callers of lb.h. */
#ifndef DISTLAB_LB_INTERNAL_H
#define DISTLAB_LB_INTERNAL_H

#include "lb/lb.h"

struct lb {
    enum lb_policy policy;
    size_t n;
    size_t cursor;         /* rr: the next request's first endpoint */
    int64_t total;         /* sum of the weights (n when unweighted) */
    int64_t *weight;       /* swrr: n weights */
    int64_t *current;      /* swrr: n current weights, summing to 0 between picks */
    int64_t *scratch_w;    /* swrr: current weights while ordering the retries */
    uint32_t *scratch;     /* shuffles: lb_pick's array */
    uint64_t *outstanding; /* n attempts in flight (lb_start minus lb_done) */
};

/* order = start, start+1, ..., start+n-1 (mod n). */
void lb__ring_from(uint32_t *order, size_t n, size_t start);
/* p2c's two distinct uniform draws: a in [0, n), b in [0, n) \ {a}. n >= 2. */
void lb__p2c_draw(size_t n, struct rng *rng, size_t *a, size_t *b);
/* p2c's order for draws a, b given the outstanding counts (see lb.h). n >= 2. */
void lb__p2c_order(const uint64_t *outstanding, size_t n, size_t a, size_t b,
                   uint32_t *order);

#endif

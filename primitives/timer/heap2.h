/* heap2.h - a binary min-heap of intrusive timer nodes keyed by (deadline, sequence):
 * the textbook timer heap, beside the 4-ary one (heap4.h) for comparison. Same node and the
 * same tie rule: equal deadlines pop in insertion order. Never
 * allocates except to grow its array. */
#ifndef DISTLAB_HEAP2_H
#define DISTLAB_HEAP2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer/heap4.h"

/* One heap slot: the whole key beside the pointer, so sifting never touches the nodes
 * (24 bytes per pending timer in the array, plus the node). */
struct tq2_slot {
    int64_t when;
    uint64_t seq;
    struct tq_node *node;
};

struct tq2 {
    struct tq2_slot *slot;
    uint32_t n, cap;
    uint64_t next_seq;
};

/* Prepare an empty heap with room for 'hint' timers. Returns 0 or -ENOMEM. */
int tq2_init(struct tq2 *h, size_t hint);
void tq2_cleanup(struct tq2 *h);

/* Queue 't' to fire at 'when'. Returns 0, -EINVAL if 't' is already queued, or -ENOMEM.
 * O(log2 n). */
int tq2_push(struct tq2 *h, struct tq_node *t, int64_t when);

/* Remove a queued node; a node that is not queued here is left alone. O(log2 n). */
void tq2_cancel(struct tq2 *h, struct tq_node *t);

/* Earliest node, or NULL when empty. O(1). */
static inline struct tq_node *tq2_peek(const struct tq2 *h)
{
    return h->n ? h->slot[0].node : NULL;
}

/* Remove and return the earliest node, or NULL. O(log2 n). */
struct tq_node *tq2_pop(struct tq2 *h);

static inline size_t tq2_size(const struct tq2 *h)
{
    return h->n;
}

/* Heap order on (when, seq), back-pointers, keys mirrored in the nodes. O(n); for tests. */
bool tq2_check(const struct tq2 *h);

#endif

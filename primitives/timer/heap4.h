/* heap4.h - a 4-ary min-heap of intrusive timer nodes keyed by (deadline, sequence).
 * The simulator's event queue, and one of the timer structures under study.
 * Equal deadlines fire in insertion order: the sequence number breaks ties, so a
 * run replays exactly. Never allocates except to grow its array. */
#ifndef DISTLAB_HEAP4_H
#define DISTLAB_HEAP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded by the caller in whatever it schedules. 'pos' is 0 while the node is not
 * queued, else its index + 1. Callers must zero a node (or use tq_node_init) once. */
struct tq_node {
    int64_t when;
    uint64_t seq;
    uint32_t pos;
};

/* One heap slot: the deadline is kept beside the pointer so sifting compares without
 * touching the nodes (16 bytes per pending timer in the array, plus the node); the
 * sequence is read from the node only to break a tie. */
struct tq4_slot {
    int64_t when;
    struct tq_node *node;
};

struct tq4 {
    struct tq4_slot *slot;
    uint32_t n, cap;
    uint64_t next_seq;
};

static inline void tq_node_init(struct tq_node *t)
{
    t->when = 0;
    t->seq = 0;
    t->pos = 0;
}

static inline bool tq_node_queued(const struct tq_node *t)
{
    return t->pos != 0;
}

/* Prepare an empty heap with room for 'hint' timers. Returns 0 or -ENOMEM. */
int tq4_init(struct tq4 *h, size_t hint);
void tq4_cleanup(struct tq4 *h);

/* Queue 't' to fire at 'when'. Returns 0, -EINVAL if 't' is already queued,
 * or -ENOMEM. O(log4 n). */
int tq4_push(struct tq4 *h, struct tq_node *t, int64_t when);

/* Remove a queued node; a node that is not queued is left alone. O(log4 n). */
void tq4_cancel(struct tq4 *h, struct tq_node *t);

/* Earliest node, or NULL when empty. O(1): the top check the seed describes. */
/* The array keeps three unused slots in front (see heap4.c): logical slot i is here. */
#define TQ4__PAD 3

static inline struct tq_node *tq4_peek(const struct tq4 *h)
{
    return h->n ? h->slot[TQ4__PAD].node : NULL;
}

/* The node at position i (0 = the root, n - 1 = the last, which a pop or a cancel moves
 * into the hole). For adaptors that count sift levels; i must be < tq4_size(h). */
static inline struct tq_node *tq4_node_at(const struct tq4 *h, uint32_t i)
{
    return h->slot[i + TQ4__PAD].node;
}

/* Whether 't' is queued in this heap (not merely in some heap). O(1). */
static inline bool tq4_holds(const struct tq4 *h, const struct tq_node *t)
{
    return t->pos != 0 && t->pos <= h->n && h->slot[t->pos - 1 + TQ4__PAD].node == t;
}

/* Remove and return the earliest node, or NULL. O(log4 n). */
struct tq_node *tq4_pop(struct tq4 *h);

static inline size_t tq4_size(const struct tq4 *h)
{
    return h->n;
}

/* Walks every slot: heap order on (when, seq), back-pointers, keys mirrored in
 * the nodes. Returns true when all hold. O(n); for tests. */
bool tq4_check(const struct tq4 *h);

#endif

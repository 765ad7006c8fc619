/* evq.h - the simulator's event queue: a small heap for the current window of time, under
 * a monotone radix wheel of 1 ns ticks for everything later, with lazy cancellation.
 *
 * Order: nodes come out by (when, insertion sequence), exactly as from a heap keyed on
 * both. The window is a block of time [cur, end) whose entries sit in a 4-ary heap on
 * (when, sequence), or, when the block is one nanosecond, in a plain FIFO (equal times in
 * push order). Later entries sit in the wheel: level l, slot d holds those whose time
 * first differs from cur in base-64 digit l, that digit being d. When the window runs
 * out, the lowest occupied slot ahead becomes the next window if it is one nanosecond or
 * holds few entries (EVQ_HEAP_MAX); otherwise its entries move down a level first. So a
 * dense stretch of time is taken apart by the wheel, and a sparse one costs a heap of a
 * few entries.
 *
 * Monotone: a push may not be earlier than evq_floor(q), which is never later than the
 * time of the last node popped or the limit of the last pop. (A simulator never schedules
 * into its past, so this costs it nothing.)
 *
 * Lazy cancellation: a node holds no position, only the sequence of its live entry (0
 * when it is not queued), so nothing in the queue writes into a node while entries move.
 * evq_cancel clears that sequence and leaves the entry where it is; the entry is dropped
 * when it comes up, or when stale entries outnumber live ones (a compaction). Either way
 * the queue then reads the node's sequence: a node that was ever cancelled must stay
 * readable until evq_cleanup (memory that is reused as another node is fine: sequences
 * are never reused). Nodes that are only pushed and popped may be freed once popped.
 *
 * Cost: push O(1) into the wheel, O(log k) into a window of k entries; pop O(log k)
 * amortised, plus the moves: an entry moves down at most once per level (levels = the
 * base-64 digits of how far ahead it was pushed), reading and writing the slot arrays in
 * order, which the prefetcher streams. Memory: 24 bytes per entry (live or stale); arrays
 * keep their peak size. */
#ifndef DISTLAB_EVQ_H
#define DISTLAB_EVQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVQ_BITS 6
#define EVQ_SLOTS (1 << EVQ_BITS)
#define EVQ_LEVELS 11 /* 66 bits: every 64-bit time */

/* Embedded by the caller in whatever it schedules; zero it once before first use. */
struct evq_node {
    int64_t when; /* the time it was last pushed for */
    uint64_t seq; /* the sequence of its live entry; 0: not queued */
};

struct evq_ent {
    int64_t when;
    uint64_t seq;
    struct evq_node *node;
};

struct evq_slot {
    struct evq_ent *v;
    uint32_t len, cap;
};

/* A wheel slot of at most this many entries becomes the window as it is (a heap); a
 * bigger one is moved down a level first. A first choice: no sweep of it is recorded. */
#define EVQ_HEAP_MAX 16

struct evq {
    uint64_t cur, end;   /* the window [cur, end): no live entry is earlier than cur */
    uint64_t last;       /* time of the last node popped */
    struct evq_slot win; /* the window: a heap, or a FIFO from head when end - cur == 1 */
    uint32_t head;
    uint64_t next_seq;
    size_t live, stale;
    uint64_t moved;           /* entries moved down a level, ever (for benchmarks) */
    uint64_t occ[EVQ_LEVELS]; /* bit d: slot d of that level holds entries */
    struct evq_slot slot[EVQ_LEVELS * EVQ_SLOTS]; /* [level * 64 + digit] */
};

static inline bool evq_queued(const struct evq_node *n)
{
    return n->seq != 0;
}

/* An empty queue at time 0. */
void evq_init(struct evq *q);
/* Frees the slot arrays; touches no node (nodes keep their sequence: do not ask them
 * evq_queued afterwards). The queue may be initialised again. */
void evq_cleanup(struct evq *q);

/* Queue 'n' at 'when'. Returns 0, -EINVAL if n is queued or when < evq_floor(q), or
 * -ENOMEM (a slot array could not grow; nothing changed). */
int evq_push(struct evq *q, struct evq_node *n, int64_t when);

/* Dequeue 'n' if it is queued (in q: a node queued elsewhere must not be passed). */
void evq_cancel(struct evq *q, struct evq_node *n);

/* The earliest node due at or before 'limit', dequeued; NULL when there is none (the
 * queue is empty, or everything in it is later than limit). */
struct evq_node *evq_pop(struct evq *q, int64_t limit);

/* A node that is likely to come out next, or NULL: for prefetching only (it may have
 * been cancelled, and an earlier one may still be pushed). O(1). */
static inline struct evq_node *evq_hint(const struct evq *q)
{
    if (q->end - q->cur == 1)
        return q->head < q->win.len ? q->win.v[q->head].node : NULL;
    return q->win.len ? q->win.v[0].node : NULL;
}

static inline size_t evq_size(const struct evq *q)
{
    return q->live;
}

/* No push may be earlier than this. */
static inline int64_t evq_floor(const struct evq *q)
{
    return (int64_t)(q->last > q->cur ? q->last : q->cur);
}

/* Walks every entry: the window's are in [cur, end) and in heap order (or in push order
 * when it is one nanosecond), the wheel's each sit in the slot their time names, in push
 * order; live entries are counted in live and stale ones in stale; occupancy bits name
 * exactly the non-empty slots. O(n); for tests. */
bool evq_check(const struct evq *q);

#endif

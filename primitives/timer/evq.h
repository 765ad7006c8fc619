/* evq.h - the simulator's event queue: a small sorted run (or heap) for the current window
 * of time, under a monotone radix wheel of 1 ns ticks for everything later, with lazy cancellation.
 *
 * Order: nodes come out by (when, insertion sequence), exactly as from a heap keyed on
 * both. The window is a block of time [cur, end) whose entries sit in an array sorted on
 * (when, sequence), popped from its head (when the block is one nanosecond, a plain FIFO:
 * equal times in push order), or, once a push finds that run long, in a 4-ary heap.
 * Later entries sit in the wheel: level l, slot d holds those whose time first differs
 * from cur in base-64 digit l, that digit being d. When the window runs out, the lowest
 * occupied slot ahead becomes the next window if it is one nanosecond or holds few
 * entries (EVQ_HEAP_MAX); otherwise its entries move down a level first. So a dense
 * stretch of time is taken apart by the wheel, and a sparse one costs a sort of a few
 * entries.
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
 * Cost: push O(1) into the wheel; into a window of k entries O(k) moves while it is a
 * sorted run (k < EVQ_SORTED_MAX; pushes land near its end), O(log k) once a heap; pop
 * O(1) from a run, O(log k) from a heap, amortised, plus the moves: an entry moves down
 * at most once per level (levels = the base-64 digits of how far ahead it was pushed),
 * reading and writing the slot arrays in order, which the prefetcher streams. Memory: 24
 * bytes per entry (live or stale); arrays keep their peak size. */
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

/* A wheel slot of at most this many entries becomes the window as it is (sorted); a
 * bigger one is moved down a level first. Swept with bench-engine (4, 16, 64; three
 * interleaved rounds, CPU-time rates, load 13-18): 16 ran sleep at 10,000 actors at
 * 3.6-4.2 M events/s against 2.6-2.8 M (4) and 2.6-3.2 M (64); callbacks at 64 and 1,000
 * pending were within the noise of each other, except 4 at 1,000 (19-22 M, 16: 23-26 M).
 * (Measured with the window a heap, before the sorted run.) */
#define EVQ_HEAP_MAX 16

/* The window is a sorted run, popped from its head, until a push finds it this long: then
 * it becomes a 4-ary heap (a sorted array is one) until it is empty. A window taken from
 * a slot starts sorted (at most EVQ_HEAP_MAX entries, or one time in push order). Against
 * the heap it replaced: 29 % fewer instructions in evq per event of bench-engine's
 * callbacks at 64 pending (callgrind, 175 against 246), 5 % more events per CPU second
 * there (medians of six interleaved runs, load 12-15), the same at 1,000. A first choice
 * of length: no sweep of it is recorded. */
#define EVQ_SORTED_MAX 64

struct evq {
    uint64_t cur, end;   /* the window [cur, end): no live entry is earlier than cur */
    uint64_t last;       /* time of the last node popped */
    struct evq_slot win; /* the window: a sorted run win.v[head, len), or a heap */
    uint32_t head;
    bool heap;
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
    if (!q->heap)
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

/* Walks every entry: the window's are in [cur, end) and sorted from head (or in heap
 * order, and never one nanosecond, when a heap), the wheel's each sit in the slot their
 * time names, in push order; live entries are counted in live and stale ones in stale;
 * occupancy bits name exactly the non-empty slots. O(n); for tests. */
bool evq_check(const struct evq *q);

#endif

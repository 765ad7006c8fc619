/* The simulator's event queue (evq) against a sorted reference, with its invariant
 * checker along the way: the same nodes, in the same (time, insertion) order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"
#include "timer/evq.h"

struct ref {
    int64_t when;
    uint64_t seq;
    int id;
};

static int ref_cmp(const void *a, const void *b)
{
    const struct ref *x = a, *y = b;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* How far ahead of the floor a push goes: often zero (ties at the current time), often
 * within one level, sometimes many levels up, now and then near the end of time. */
static int64_t ahead_raw(struct rng *r, int64_t floor)
{
    uint64_t k = rng_below(r, 16);
    if (k < 3)
        return 0;
    if (k < 8)
        return (int64_t)rng_below(r, 70);
    if (k < 14)
        return (int64_t)rng_below(r, 1ULL << rng_below(r, 40));
    if (k < 15)
        return (int64_t)rng_below(r, 4); /* clusters of ties */
    return (INT64_MAX - floor) / 2 + (int64_t)rng_below(r, 1000);
}

static int64_t ahead(struct rng *r, int64_t floor)
{
    int64_t a = ahead_raw(r, floor);
    return a > INT64_MAX - floor ? INT64_MAX - floor : a;
}

static void random_ops(uint64_t seed, int nodes_n, int steps, int cancel_weight)
{
    struct evq q;
    evq_init(&q);
    struct evq_node *nodes = calloc((size_t)nodes_n, sizeof(*nodes));
    struct ref *ref = calloc((size_t)nodes_n, sizeof(*ref));
    size_t nref = 0;
    struct rng r;
    rng_seed(&r, seed);
    for (int step = 0; step < steps; step++) {
        int id = (int)rng_below(&r, (uint64_t)nodes_n);
        uint64_t op = rng_below(&r, 10 + (uint64_t)cancel_weight);
        if (op < 5 && !evq_queued(&nodes[id])) {
            int64_t when = evq_floor(&q) + ahead(&r, evq_floor(&q));
            cr_assert_eq(evq_push(&q, &nodes[id], when), 0);
            ref[nref++] = (struct ref){when, nodes[id].seq, id};
        } else if ((op < 7 || op >= 10) && evq_queued(&nodes[id])) {
            evq_cancel(&q, &nodes[id]);
            cr_assert_not(evq_queued(&nodes[id]));
            for (size_t i = 0; i < nref; i++)
                if (ref[i].id == id) {
                    ref[i] = ref[--nref];
                    break;
                }
        } else {
            qsort(ref, nref, sizeof(*ref), ref_cmp);
            /* a limit before, at or after the earliest time */
            int64_t limit = evq_floor(&q) + ahead(&r, evq_floor(&q));
            if (rng_below(&r, 4) == 0 && nref)
                limit = ref[0].when;
            struct evq_node *n = evq_pop(&q, limit);
            if (nref && ref[0].when <= limit) {
                cr_assert_eq(n, &nodes[ref[0].id], "step %d: popped the wrong node", step);
                cr_assert_not(evq_queued(n));
                cr_assert_leq(evq_floor(&q), n->when);
                memmove(ref, ref + 1, sizeof(*ref) * --nref);
            } else {
                cr_assert_null(n, "step %d: popped a node later than the limit", step);
                cr_assert_leq(evq_floor(&q), limit);
            }
        }
        cr_assert_eq(evq_size(&q), nref);
        if (step % 97 == 0)
            cr_assert(evq_check(&q), "invariants broken at step %d", step);
    }
    cr_assert(evq_check(&q));
    /* drain: everything comes out in reference order */
    qsort(ref, nref, sizeof(*ref), ref_cmp);
    for (size_t i = 0; i < nref; i++)
        cr_assert_eq(evq_pop(&q, INT64_MAX), &nodes[ref[i].id]);
    cr_assert_null(evq_pop(&q, INT64_MAX));
    cr_assert(evq_check(&q));
    evq_cleanup(&q);
    free(nodes);
    free(ref);
}

Test(evq, random_ops_match_sorted_reference)
{
    random_ops(42, 4000, 200000, 0);
}

Test(evq, many_cancels_compact_and_still_match)
{
    /* cancels outweigh pushes: stale entries pile up past the compaction threshold */
    random_ops(7, 20000, 300000, 30);
}

Test(evq, stale_entries_are_compacted_away)
{
    enum { N = 5000 };
    struct evq q;
    struct evq_node *n = calloc(N, sizeof(*n));
    struct rng r;
    rng_seed(&r, 3);
    evq_init(&q);
    for (int i = 0; i < N; i++)
        cr_assert_eq(evq_push(&q, &n[i], (int64_t)rng_below(&r, 1ULL << 30)), 0);
    size_t most = 0;
    for (int i = 0; i < N; i++)
        if (i % 5) {
            evq_cancel(&q, &n[i]);
            most = q.stale > most ? q.stale : most;
        }
    cr_assert_gt(most, 1024);
    cr_assert_lt(q.stale, most, "no compaction");
    cr_assert(evq_check(&q));
    int64_t last = -1;
    for (int i = 0; i < N / 5; i++) {
        struct evq_node *x = evq_pop(&q, INT64_MAX);
        cr_assert_not_null(x);
        cr_assert_eq((x - n) % 5, 0);
        cr_assert_geq(x->when, last);
        last = x->when;
    }
    cr_assert_null(evq_pop(&q, INT64_MAX));
    evq_cleanup(&q);
    free(n);
}

Test(evq, equal_times_pop_in_push_order_across_levels)
{
    /* The same time pushed from far away (high level) and again after the queue moved
     * closer (lower level): still push order. */
    struct evq q;
    struct evq_node n[300] = {0};
    evq_init(&q);
    struct evq_node first = {0};
    cr_assert_eq(evq_push(&q, &first, 10), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(evq_push(&q, &n[i], 1000000), 0);
    cr_assert_eq(evq_pop(&q, INT64_MAX), &first);
    for (int i = 100; i < 200; i++)
        cr_assert_eq(evq_push(&q, &n[i], 1000000), 0);
    struct evq_node mid = {0};
    cr_assert_eq(evq_push(&q, &mid, 999999), 0);
    cr_assert_eq(evq_pop(&q, INT64_MAX), &mid);
    for (int i = 200; i < 300; i++)
        cr_assert_eq(evq_push(&q, &n[i], 1000000), 0);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(evq_pop(&q, INT64_MAX), &n[i], "node %d out of order", i);
    cr_assert_null(evq_pop(&q, INT64_MAX));
    evq_cleanup(&q);
}

Test(evq, pushes_at_the_current_time_come_after_those_already_there)
{
    struct evq q;
    struct evq_node a = {0}, b = {0}, c = {0};
    evq_init(&q);
    evq_push(&q, &a, 5);
    evq_push(&q, &b, 5);
    cr_assert_eq(evq_pop(&q, 5), &a);
    cr_assert_eq(evq_push(&q, &c, 5), 0); /* pushed while b waits at the same time */
    cr_assert_eq(evq_pop(&q, 5), &b);
    cr_assert_eq(evq_pop(&q, 5), &c);
    cr_assert_null(evq_pop(&q, 100));
    evq_cleanup(&q);
}

Test(evq, bad_pushes_are_rejected_and_cancel_is_idempotent)
{
    struct evq q;
    struct evq_node n = {0}, m = {0};
    evq_init(&q);
    cr_assert_eq(evq_push(&q, &n, 50), 0);
    cr_assert_eq(evq_push(&q, &n, 60), -EINVAL); /* queued */
    cr_assert_eq(evq_push(&q, &m, -1), -EINVAL); /* negative */
    cr_assert_null(evq_pop(&q, 49));
    cr_assert_eq(evq_pop(&q, 50), &n);
    cr_assert_eq(evq_push(&q, &m, 49), -EINVAL); /* before the floor */
    cr_assert_eq(evq_push(&q, &m, 50), 0);
    evq_cancel(&q, &m);
    evq_cancel(&q, &m); /* twice is harmless */
    cr_assert_eq(evq_size(&q), 0);
    cr_assert_null(evq_pop(&q, INT64_MAX));
    cr_assert(evq_check(&q));
    evq_cleanup(&q);
}

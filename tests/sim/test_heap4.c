/* The 4-ary heap against a sorted reference, with its invariant checker after each step. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"
#include "timer/heap4.h"

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

Test(heap4, random_ops_match_sorted_reference)
{
    enum { N = 4000 };
    struct tq4 h;
    cr_assert_eq(tq4_init(&h, 4), 0);
    struct tq_node *nodes = calloc(N, sizeof(*nodes));
    struct ref *ref = calloc(N, sizeof(*ref));
    size_t nref = 0;
    struct rng r;
    rng_seed(&r, 42);
    for (int step = 0; step < 200000; step++) {
        int id = (int)rng_below(&r, N);
        uint64_t op = rng_below(&r, 10);
        if (op < 5 && !tq_node_queued(&nodes[id])) {
            int64_t when = (int64_t)rng_below(&r, 1000); /* many ties */
            cr_assert_eq(tq4_push(&h, &nodes[id], when), 0);
            ref[nref++] = (struct ref){when, nodes[id].seq, id};
        } else if (op < 8 && tq_node_queued(&nodes[id])) {
            tq4_cancel(&h, &nodes[id]);
            for (size_t i = 0; i < nref; i++)
                if (ref[i].id == id) {
                    ref[i] = ref[--nref];
                    break;
                }
        } else if (nref) {
            qsort(ref, nref, sizeof(*ref), ref_cmp);
            struct tq_node *top = tq4_pop(&h);
            cr_assert_not_null(top);
            cr_assert_eq(top, &nodes[ref[0].id], "step %d: popped the wrong timer", step);
            cr_assert_not(tq_node_queued(top));
            memmove(ref, ref + 1, sizeof(*ref) * --nref);
        }
        cr_assert_eq(tq4_size(&h), nref);
        if (step % 97 == 0)
            cr_assert(tq4_check(&h), "invariants broken at step %d", step);
    }
    cr_assert(tq4_check(&h));
    tq4_cleanup(&h);
    free(nodes);
    free(ref);
}

Test(heap4, equal_deadlines_pop_in_insertion_order)
{
    struct tq4 h;
    struct tq_node n[100] = {0};
    tq4_init(&h, 1);
    for (int i = 0; i < 100; i++)
        tq4_push(&h, &n[i], 7);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tq4_pop(&h), &n[i]);
    cr_assert_null(tq4_pop(&h));
    tq4_cleanup(&h);
}

Test(heap4, push_of_queued_node_is_rejected)
{
    struct tq4 h;
    struct tq_node n = {0};
    tq4_init(&h, 1);
    cr_assert_eq(tq4_push(&h, &n, 5), 0);
    cr_assert_eq(tq4_push(&h, &n, 6), -EINVAL);
    tq4_cancel(&h, &n);
    tq4_cancel(&h, &n); /* twice is harmless */
    cr_assert_eq(tq4_size(&h), 0);
    tq4_cleanup(&h);
}

Test(rng, bounded_draws_are_unbiased_and_in_range)
{
    struct rng r;
    rng_seed(&r, 7);
    uint64_t counts[3] = {0};
    for (int i = 0; i < 300000; i++) {
        uint64_t v = rng_below(&r, 3);
        cr_assert_lt(v, 3);
        counts[v]++;
    }
    for (int i = 0; i < 3; i++) /* 100000 +- 5 sigma (sigma ~ 258) */
        cr_assert(counts[i] > 98700 && counts[i] < 101300, "count[%d]=%lu", i,
                  (unsigned long)counts[i]);
    /* a bound near 2^64 exercises the rejection path */
    uint64_t big = (UINT64_MAX / 3) * 2;
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(rng_below(&r, big), big);
}

Test(rng, streams_differ_and_replay)
{
    struct rng a, b, c;
    rng_seed_stream(&a, 1, 1);
    rng_seed_stream(&b, 1, 2);
    rng_seed_stream(&c, 1, 1);
    uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
    cr_assert_neq(x, y);
    cr_assert_eq(x, z);
}

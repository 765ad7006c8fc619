/* test_idcheck.c - the lab's ID checkers against slow, obvious references: qsort and a
 * scan for uniqueness (with budgets small enough to force spills and multi-pass
 * merges), and an O(n^2) double loop for inversions and the widest inverted pair. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>

#include "idgen/idcheck.h"
#include "rng/rng.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Reference: sort a copy, count equal neighbours. */
static uint64_t slow_duplicates(const uint64_t *v, size_t n, uint64_t *first_dup)
{
    uint64_t *c = malloc(n * sizeof(*c) + 1);
    memcpy(c, v, n * sizeof(*c));
    qsort(c, n, sizeof(*c), cmp_u64);
    uint64_t d = 0;
    *first_dup = 0;
    for (size_t i = 1; i < n; i++)
        if (c[i] == c[i - 1]) {
            if (d == 0)
                *first_dup = c[i];
            d++;
        }
    free(c);
    return d;
}

static void check_idset(const uint64_t *v, size_t n, size_t budget, bool expect_spill)
{
    struct idset *s = idset_create(budget, NULL);
    cr_assert_not_null(s);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(idset_add(s, v[i]), 0);
    struct idset_result r;
    cr_assert_eq(idset_finish(s, &r), 0);
    uint64_t first;
    uint64_t d = slow_duplicates(v, n, &first);
    cr_assert_eq(r.ids, n);
    cr_assert_eq(r.duplicates, d, "n %zu budget %zu: %llu vs %llu", n, budget,
                 (unsigned long long)r.duplicates, (unsigned long long)d);
    cr_assert_eq(r.distinct + r.duplicates, n);
    if (d) {
        cr_assert_gt(r.nexamples, 0);
        cr_assert_eq(r.examples[0], first, "the smallest duplicated value");
    } else {
        cr_assert_eq(r.nexamples, 0);
    }
    if (expect_spill)
        cr_assert_gt(r.runs, 1);
    idset_destroy(s);
}

Test(idcheck, counts_duplicates_in_memory)
{
    uint64_t v[] = {5, 3, 5, 9, 3, 3, UINT64_MAX, 0, 0, UINT64_MAX};
    check_idset(v, 10, 1 << 20, false);
    check_idset(v, 0, 1 << 20, false);
    check_idset(v, 1, 1 << 20, false);
}

/* IDs shaped like a run's: mostly increasing from several workers, with repeats. */
static uint64_t *id_stream(size_t n, uint64_t seed, uint64_t dup_every)
{
    struct rng r;
    rng_seed(&r, seed);
    uint64_t *v = malloc(n * sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        v[i] = ((uint64_t)(i / 37) << 22) | (rng_below(&r, 32) << 12) | rng_below(&r, 4096);
        if (dup_every && i && rng_below(&r, dup_every) == 0)
            v[i] = v[rng_below(&r, i)];
    }
    return v;
}

Test(idcheck, spills_and_merges_under_a_small_budget)
{
    size_t n = 300000;
    uint64_t *v = id_stream(n, 1, 50);
    check_idset(v, n, 64 * 1024, true);  /* 4096 IDs a run: 74 runs, 2-way passes */
    check_idset(v, n, 256 * 1024, true); /* fewer, wider merges */
    check_idset(v, n, 16 << 20, false);
    free(v);
    v = id_stream(n, 2, 0);
    check_idset(v, n, 64 * 1024, true);
    for (size_t i = 0; i < n; i++) /* every value twice, far apart */
        v[i] = (uint64_t)(i % (n / 2)) * 2654435761u;
    check_idset(v, n, 64 * 1024, true);
    free(v);
}

/* Ten million IDs in 8 MB: the shape of the 1e8 case at a tenth of the size. */
Test(idcheck, ten_million_ids_in_eight_megabytes, .timeout = 300)
{
    size_t n = 10000000;
    uint64_t *v = id_stream(n, 3, 1000000);
    check_idset(v, n, 8 << 20, true);
    free(v);
}

/* Reference: every pair. */
static void slow_order(const uint64_t *id, const int64_t *t, size_t n, uint64_t *inv, int64_t *gap)
{
    *inv = 0;
    *gap = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (id[i] > id[j]) {
                (*inv)++;
                if (t[j] - t[i] > *gap)
                    *gap = t[j] - t[i];
            }
}

Test(idcheck, order_matches_every_pair)
{
    struct rng r;
    rng_seed(&r, 9);
    for (int iter = 0; iter < 400; iter++) {
        size_t n = rng_below(&r, 300);
        uint64_t *id = malloc((n + 1) * sizeof(*id));
        int64_t *t = malloc((n + 1) * sizeof(*t));
        int64_t now = 0;
        uint64_t range = 1 + rng_below(&r, 1000);
        for (size_t i = 0; i < n; i++) {
            now += (int64_t)rng_below(&r, 3); /* ties in time too */
            t[i] = now;
            id[i] = iter % 3 == 0 ? i + rng_below(&r, 20) : rng_below(&r, range);
        }
        struct idorder *o = idorder_create();
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(idorder_add(o, t[i], id[i]), 0);
        struct idorder_result res;
        cr_assert_eq(idorder_finish(o, &res), 0);
        uint64_t inv;
        int64_t gap;
        slow_order(id, t, n, &inv, &gap);
        cr_assert_eq(res.ids, n);
        cr_assert_eq(res.pairs, n > 1 ? n * (n - 1) / 2 : 0);
        cr_assert_eq(res.inverted_pairs, inv, "n %zu: %llu vs %llu", n,
                     (unsigned long long)res.inverted_pairs, (unsigned long long)inv);
        cr_assert_eq(res.max_gap_ns, gap);
        if (res.pairs)
            cr_assert_float_eq(res.inversions, (double)inv / (double)res.pairs, 1e-12);
        idorder_destroy(o);
        free(id);
        free(t);
    }
}

Test(idcheck, order_extremes)
{
    enum { N = 100000 };
    struct idorder *o = idorder_create();
    for (uint64_t i = 0; i < N; i++) /* issued in reverse ID order: every pair inverted */
        cr_assert_eq(idorder_add(o, (int64_t)i * 10, N - i), 0);
    struct idorder_result res;
    cr_assert_eq(idorder_finish(o, &res), 0);
    cr_assert_eq(res.inverted_pairs, (uint64_t)N * (N - 1) / 2);
    cr_assert_float_eq(res.inversions, 1.0, 1e-12);
    cr_assert_eq(res.max_gap_ns, (int64_t)(N - 1) * 10);
    idorder_destroy(o);

    o = idorder_create();
    for (uint64_t i = 0; i < N; i++) /* in order, with equal neighbours: none */
        cr_assert_eq(idorder_add(o, (int64_t)i, i / 2), 0);
    cr_assert_eq(idorder_add(o, N - 2, 0), -EINVAL, "time went back");
    cr_assert_eq(idorder_finish(o, &res), 0);
    cr_assert_eq(res.inverted_pairs, 0);
    cr_assert_eq(res.max_gap_ns, 0);
    idorder_destroy(o);
}

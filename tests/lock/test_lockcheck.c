/* The lock checker on constructed histories: it finds every overlap it is given (against
 * an O(n^2) pair count and a per-instant holder count), and its stale-access and
 * foreign-delete rules match their definitions checked by brute force. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "lab/lock/lockcheck.h"
#include "rng/rng.h"

static struct lockcheck_result result(struct lockcheck *c, int64_t end, int64_t final)
{
    struct lockcheck_result r;
    cr_assert_eq(lockcheck_result(c, end, final, &r), 0);
    cr_assert(lockcheck_check(c));
    return r;
}

Test(lockcheck, two_holders_at_once_is_one_overlap)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 0, 0), b = lockcheck_acquired(c, 1, 5);
    int64_t d = lockcheck_acquired(c, 2, 20);
    lockcheck_released(c, a, 10, true);
    lockcheck_released(c, b, 15, true);
    lockcheck_released(c, d, 30, true);
    struct lockcheck_result r = result(c, 100, 0);
    cr_assert_eq(r.leases, 3);
    cr_assert_eq(r.overlaps, 1);
    cr_assert_eq(r.overlap_ns, 5);
    cr_assert_eq(r.max_holders, 2);
    lockcheck_destroy(c);
}

Test(lockcheck, back_to_back_leases_do_not_overlap)
{
    struct lockcheck *c = lockcheck_create();
    for (int i = 0; i < 10; i++) { /* [10i, 10i + 10): the next begins as this one ends */
        int64_t l = lockcheck_acquired(c, i % 3, 10 * i);
        lockcheck_released(c, l, 10 * i + 10, false);
    }
    int64_t empty = lockcheck_acquired(c, 5, 50); /* held for no time at all */
    lockcheck_released(c, empty, 50, true);
    struct lockcheck_result r = result(c, 1000, 0);
    cr_assert_eq(r.overlaps, 0);
    cr_assert_eq(r.overlap_ns, 0);
    cr_assert_eq(r.max_holders, 1);
    lockcheck_destroy(c);
}

Test(lockcheck, a_delete_counts_as_foreign_once_a_later_lease_has_begun)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 0, 0), b = lockcheck_acquired(c, 1, 10);
    int64_t d = lockcheck_acquired(c, 2, 30);
    lockcheck_released(c, a, 9, true);   /* before B: its own key */
    lockcheck_released(c, b, 30, true);  /* as D began: D's key (the DEL arrives after) */
    lockcheck_released(c, d, 40, false); /* deleted nothing */
    cr_assert_eq(result(c, 100, 0).foreign_deletes, 1);
    lockcheck_destroy(c);
}

Test(lockcheck, a_lease_still_held_ends_at_the_end_of_the_run)
{
    struct lockcheck *c = lockcheck_create();
    lockcheck_acquired(c, 0, 0); /* never released: the holder paused to the end */
    int64_t b = lockcheck_acquired(c, 1, 50);
    lockcheck_released(c, b, 60, false);
    lockcheck_acquired(c, 2, 90);
    struct lockcheck_result r = result(c, 100, 0);
    cr_assert_eq(r.overlaps, 2);
    cr_assert_eq(r.overlap_ns, 20);
    lockcheck_destroy(c);
}

Test(lockcheck, refuses_unknown_and_double_releases)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 0, 10);
    cr_assert_eq(lockcheck_released(c, a + 1, 20, false), -EINVAL);
    cr_assert_eq(lockcheck_released(c, a, 5, false), -EINVAL); /* before it began */
    cr_assert_eq(lockcheck_released(c, a, 20, false), 0);
    cr_assert_eq(lockcheck_released(c, a, 30, false), -EINVAL);
    cr_assert_eq(lockcheck_access(c, 7, true, true, 30), -EINVAL);
    lockcheck_destroy(c);
}

Test(lockcheck, a_write_after_a_later_lease_touched_the_resource_is_stale)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 0, 0);
    lockcheck_access(c, a, false, true, 1);  /* A reads 0 */
    int64_t b = lockcheck_acquired(c, 1, 5); /* A's lease ran out: B takes it */
    lockcheck_access(c, b, false, true, 6);  /* B reads 0 */
    lockcheck_access(c, b, true, true, 7);   /* B writes 1 */
    lockcheck_released(c, b, 8, true);
    lockcheck_access(c, a, true, true, 9); /* A wakes up and writes 1 */
    lockcheck_released(c, a, 10, true);    /* and deletes... nothing of B's: B released */
    struct lockcheck_result r = result(c, 100, 1);
    cr_assert_eq(r.stale_writes, 1);
    cr_assert_eq(r.stale_reads, 0);
    cr_assert_eq(r.writes, 2);
    cr_assert_eq(r.lost_updates, 1);
    cr_assert_eq(r.overlaps, 1);
    cr_assert_eq(r.foreign_deletes, 1, "A's DEL came after B's lease began");
    lockcheck_destroy(c);
}

Test(lockcheck, a_rejected_write_is_neither_stale_nor_lost)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 0, 0);
    lockcheck_access(c, a, false, true, 1);
    int64_t b = lockcheck_acquired(c, 1, 5);
    lockcheck_access(c, b, false, true, 6);
    lockcheck_access(c, b, true, true, 7);
    lockcheck_access(c, a, true, false, 9); /* fenced off */
    lockcheck_released(c, a, 10, false);
    lockcheck_released(c, b, 11, true);
    struct lockcheck_result r = result(c, 100, 1);
    cr_assert_eq(r.stale_writes, 0);
    cr_assert_eq(r.rejected_writes, 1);
    cr_assert_eq(r.lost_updates, 0);
    cr_assert_eq(r.foreign_deletes, 0);
    lockcheck_destroy(c);
}

/* ---- random histories against brute force ---- */

struct iv {
    int client;
    int64_t a, r;
};

Test(lockcheck, finds_every_overlap_of_random_histories)
{
    struct rng g;
    rng_seed(&g, 42);
    for (int round = 0; round < 50; round++) {
        int n = 1 + (int)rng_below(&g, 300);
        int64_t span = 2000;
        struct iv *v = calloc((size_t)n, sizeof(*v));
        struct lockcheck *c = lockcheck_create();
        for (int i = 0; i < n; i++) {
            v[i].client = (int)rng_below(&g, 12);
            v[i].a = (int64_t)rng_below(&g, (uint64_t)span);
            v[i].r = v[i].a + (int64_t)rng_below(&g, 40);
            int64_t id = lockcheck_acquired(c, v[i].client, v[i].a);
            cr_assert_eq(id, i);
            if (v[i].r < span)
                lockcheck_released(c, id, v[i].r, false);
            else
                v[i].r = span; /* still held at the end */
        }
        uint64_t pairs = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                int64_t lo = v[i].a > v[j].a ? v[i].a : v[j].a;
                int64_t hi = v[i].r < v[j].r ? v[i].r : v[j].r;
                pairs += v[i].client != v[j].client && lo < hi;
            }
        int64_t both = 0;
        int most = 0;
        for (int64_t t = 0; t < span; t++) {
            int h = 0;
            for (int i = 0; i < n; i++)
                h += v[i].a <= t && t < v[i].r;
            both += h >= 2;
            most = h > most ? h : most;
        }
        struct lockcheck_result r = result(c, span, 0);
        cr_assert_eq(r.overlaps, pairs, "round %d: %lu pairs, expected %lu", round,
                     (unsigned long)r.overlaps, (unsigned long)pairs);
        cr_assert_eq(r.overlap_ns, both, "round %d", round);
        cr_assert_eq(r.max_holders, most, "round %d", round);
        lockcheck_destroy(c);
        free(v);
    }
}

Test(lockcheck, stale_accesses_of_random_histories_match_the_definition)
{
    struct rng g;
    rng_seed(&g, 7);
    for (int round = 0; round < 50; round++) {
        int n = 1 + (int)rng_below(&g, 40), m = (int)rng_below(&g, 200);
        struct lockcheck *c = lockcheck_create();
        int64_t *start = calloc((size_t)n, sizeof(*start));
        for (int i = 0; i < n; i++) {
            start[i] = (int64_t)rng_below(&g, 1000); /* distinct enough; ties broken by id */
            lockcheck_acquired(c, i, start[i]);
        }
        struct {
            int64_t lease, t;
            bool write, ok;
        } *a = calloc((size_t)m + 1, sizeof(*a));
        for (int k = 0; k < m; k++) {
            a[k].lease = (int64_t)rng_below(&g, (uint64_t)n);
            a[k].t = start[a[k].lease] + (int64_t)rng_below(&g, 300);
            a[k].write = rng_chance(&g, 0.5);
            a[k].ok = rng_chance(&g, 0.8);
            lockcheck_access(c, a[k].lease, a[k].write, a[k].ok, a[k].t);
        }
        /* later(x, y): lease x began after lease y (ties: the higher id is later) */
        uint64_t stale_w = 0, stale_r = 0;
        for (int k = 0; k < m; k++) {
            if (!a[k].ok)
                continue;
            bool stale = false;
            for (int j = 0; j < m && !stale; j++) {
                bool before = a[j].t < a[k].t || (a[j].t == a[k].t && j < k);
                int64_t x = a[j].lease, y = a[k].lease;
                bool later = start[x] > start[y] || (start[x] == start[y] && x > y);
                stale = a[j].ok && before && later;
            }
            *(a[k].write ? &stale_w : &stale_r) += stale;
        }
        struct lockcheck_result r = result(c, 2000, 0);
        cr_assert_eq(r.stale_writes, stale_w, "round %d", round);
        cr_assert_eq(r.stale_reads, stale_r, "round %d", round);
        lockcheck_destroy(c);
        free(a);
        free(start);
    }
}

Test(lockcheck, reports_each_lease_interval)
{
    struct lockcheck *c = lockcheck_create();
    int64_t a = lockcheck_acquired(c, 4, 10);
    lockcheck_acquired(c, 5, 20);
    lockcheck_released(c, a, 15, true);
    cr_assert_eq(lockcheck_leases(c), 2);
    int client;
    int64_t from, to;
    cr_assert(lockcheck_lease(c, 0, 100, &client, &from, &to));
    cr_assert(client == 4 && from == 10 && to == 15);
    cr_assert(lockcheck_lease(c, 1, 100, &client, &from, &to));
    cr_assert(client == 5 && from == 20 && to == 100, "a lease still held ends at 'end'");
    cr_assert_not(lockcheck_lease(c, 2, 100, &client, &from, &to));
    lockcheck_destroy(c);
}

Test(lockcheck, grant_rate_counts_intervals_between_the_grants_in_its_window)
{
    struct lockcheck *c = lockcheck_create();
    cr_assert_eq(lockcheck_grant_rate(c, 0, 100), 0); /* no grant */
    /* grants at 1 s (before 'from'), 2, 2.5, 4 and 6 s (after 'end'), not in time order */
    int64_t s = 1000000000;
    lockcheck_acquired(c, 0, 4 * s);
    lockcheck_acquired(c, 1, 2 * s);
    lockcheck_acquired(c, 2, s);
    lockcheck_acquired(c, 3, 6 * s);
    lockcheck_acquired(c, 0, 5 * s / 2);
    /* 2, 2.5 and 4 s: two intervals over 2 s */
    cr_assert_float_eq(lockcheck_grant_rate(c, 3 * s / 2, 5 * s), 1.0, 1e-12);
    /* the whole run: four intervals over 5 s */
    cr_assert_float_eq(lockcheck_grant_rate(c, 0, 10 * s), 0.8, 1e-12);
    /* the edges are inclusive; a window with one grant has no interval */
    cr_assert_float_eq(lockcheck_grant_rate(c, 2 * s, 4 * s), 1.0, 1e-12);
    cr_assert_eq(lockcheck_grant_rate(c, 5 * s, 6 * s - 1), 0);
    /* against the obvious count: n grants every 3 ms make (n - 1) / (3 ms (n - 1)) */
    struct lockcheck *d = lockcheck_create();
    for (int i = 0; i < 1000; i++)
        lockcheck_acquired(d, i % 4, 7 * s + 3000000LL * i);
    cr_assert_float_eq(lockcheck_grant_rate(d, 0, 20 * s), 1000.0 / 3, 1e-9);
    lockcheck_destroy(d);
    lockcheck_destroy(c);
}

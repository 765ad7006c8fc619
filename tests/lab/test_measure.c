/* test_measure.c - histogram quantiles against exact quantiles of known data, the
 * series, and the chi-squared test against hand-computed cases. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "lab/hist.h"
#include "lab/series.h"
#include "lab/stats.h"
#include "rng/rng.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The exact q-quantile by hist.h's definition: the ceil(q n)-th smallest value. */
static int64_t exact_quantile(const int64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

static void check_quantiles(int64_t *v, size_t n, const char *what)
{
    struct hist *h = hist_create();
    cr_assert_not_null(h);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        hist_add(h, v[i]);
        sum += (double)v[i];
    }
    cr_assert(hist_check(h));
    qsort(v, n, sizeof(*v), cmp_i64);
    cr_expect_eq(hist_count(h), n);
    cr_expect_eq(hist_min(h), v[0], "%s: min", what);
    cr_expect_eq(hist_max(h), v[n - 1], "%s: max", what);
    cr_expect(fabs(hist_mean(h) - sum / (double)n) <= 1e-9 * fabs(sum / (double)n) + 1e-9,
              "%s: mean %f vs %f", what, hist_mean(h), sum / (double)n);
    const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        int64_t want = exact_quantile(v, n, qs[i]), got = hist_quantile(h, qs[i]);
        double tol = want < 128 ? 0 : 0.01 * (double)want;
        cr_expect(fabs((double)(got - want)) <= tol, "%s: q=%g: got %lld, exact %lld", what,
                  qs[i], (long long)got, (long long)want);
    }
    hist_destroy(h);
}

#define N 200000

Test(hist, quantiles_of_uniform_data_within_1_percent)
{
    struct rng r;
    rng_seed(&r, 1);
    int64_t *v = malloc(N * sizeof(*v));
    for (size_t i = 0; i < N; i++)
        v[i] = (int64_t)rng_below(&r, 1000000000);
    check_quantiles(v, N, "uniform");
    free(v);
}

Test(hist, quantiles_of_lognormal_data_within_1_percent)
{
    struct rng r;
    rng_seed(&r, 2);
    int64_t *v = malloc(N * sizeof(*v));
    for (size_t i = 0; i < N; i++) {
        double u1 = 1 - rng_double(&r), u2 = rng_double(&r);
        double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        v[i] = (int64_t)exp(13 + 1.5 * z);
    }
    check_quantiles(v, N, "lognormal");
    free(v);
}

Test(hist, quantiles_of_constant_data_are_exact)
{
    int64_t *v = malloc(1000 * sizeof(*v));
    for (size_t i = 0; i < 1000; i++)
        v[i] = 123456789;
    check_quantiles(v, 1000, "constant");
    struct hist *h = hist_create();
    hist_add_n(h, 123456789, 1000);
    cr_expect_eq(hist_quantile(h, 0.5), 123456789);
    cr_expect_eq(hist_quantile(h, 0.999), 123456789);
    hist_destroy(h);
    free(v);
}

Test(hist, quantiles_of_bimodal_data_within_1_percent)
{
    struct rng r;
    rng_seed(&r, 3);
    int64_t *v = malloc(N * sizeof(*v));
    for (size_t i = 0; i < N; i++)
        v[i] = rng_chance(&r, 0.7) ? 1000 + (int64_t)rng_below(&r, 200)
                                   : 100000000 + (int64_t)rng_below(&r, 50000000);
    check_quantiles(v, N, "bimodal");
    free(v);
}

Test(hist, small_values_have_exact_buckets)
{
    int64_t v[128];
    for (int i = 0; i < 128; i++)
        v[i] = i;
    check_quantiles(v, 128, "0..127");
    struct hist *h = hist_create();
    hist_add(h, -5); /* negative: recorded as 0 */
    cr_expect_eq(hist_min(h), 0);
    cr_expect_eq(hist_count(h), 1);
    hist_destroy(h);
}

Test(hist, empty_histogram_reports_zeros)
{
    struct hist *h = hist_create();
    cr_expect_eq(hist_count(h), 0);
    cr_expect_eq(hist_quantile(h, 0.5), 0);
    cr_expect_eq(hist_mean(h), 0);
    cr_expect_eq(hist_min(h), 0);
    cr_expect_eq(hist_max(h), 0);
    size_t cur = 0;
    int64_t lo, hi;
    uint64_t c;
    cr_expect_not(hist_next_bucket(h, &cur, &lo, &hi, &c));
    cr_expect(hist_check(h));
    hist_destroy(h);
}

Test(hist, buckets_cover_each_value_and_are_ordered)
{
    struct rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < 2000; i++) {
        int64_t v = (int64_t)(rng_next(&r) >> (rng_below(&r, 63) + 1));
        struct hist *h = hist_create();
        hist_add(h, v);
        size_t cur = 0;
        int64_t lo, hi;
        uint64_t c;
        cr_assert(hist_next_bucket(h, &cur, &lo, &hi, &c));
        cr_expect(lo <= v && v <= hi, "value %lld outside [%lld, %lld]", (long long)v,
                  (long long)lo, (long long)hi);
        cr_expect((double)(hi - lo) <= (double)lo / 128.0 + 1e-9, "bucket too wide at %lld",
                  (long long)v);
        cr_expect_eq(c, 1);
        cr_expect_not(hist_next_bucket(h, &cur, &lo, &hi, &c));
        hist_destroy(h);
    }
    struct hist *h = hist_create();
    for (int i = 0; i < 5000; i++)
        hist_add(h, (int64_t)rng_below(&r, 1u << 30));
    size_t cur = 0;
    int64_t lo, hi, prev_hi = -1;
    uint64_t c, total = 0;
    while (hist_next_bucket(h, &cur, &lo, &hi, &c)) {
        cr_expect_gt(lo, prev_hi);
        cr_expect_leq(lo, hi);
        prev_hi = hi;
        total += c;
    }
    cr_expect_eq(total, 5000);
    hist_destroy(h);
}

Test(hist, invariants_hold_after_random_operations)
{
    struct rng r;
    rng_seed(&r, 5);
    struct hist *a = hist_create(), *b = hist_create();
    uint64_t ca = 0, cb = 0;
    for (int step = 0; step < 20000; step++) {
        unsigned op = (unsigned)rng_below(&r, 100);
        int64_t v = (int64_t)(rng_next(&r) >> (rng_below(&r, 64) | 1));
        if (op < 60) {
            hist_add(a, v);
            ca++;
        } else if (op < 85) {
            uint64_t n = rng_below(&r, 10);
            hist_add_n(b, v, n);
            cb += n;
        } else if (op < 98) {
            hist_merge(a, b);
            ca += cb;
        } else {
            hist_reset(b);
            cb = 0;
        }
        cr_assert(hist_check(a), "a broken at step %d", step);
        cr_assert(hist_check(b), "b broken at step %d", step);
        cr_assert_eq(hist_count(a), ca);
        cr_assert_eq(hist_count(b), cb);
    }
    hist_destroy(a);
    hist_destroy(b);
}

Test(hist, merge_equals_adding_everything_to_one)
{
    struct rng r;
    rng_seed(&r, 6);
    struct hist *a = hist_create(), *b = hist_create(), *all = hist_create();
    for (int i = 0; i < 10000; i++) {
        int64_t v = (int64_t)rng_below(&r, 1000000);
        hist_add(i % 3 ? a : b, v);
        hist_add(all, v);
    }
    hist_merge(a, b);
    for (double q = 0; q <= 1; q += 0.05)
        cr_expect_eq(hist_quantile(a, q), hist_quantile(all, q));
    cr_expect_eq(hist_mean(a), hist_mean(all));
    cr_expect_eq(hist_min(a), hist_min(all));
    cr_expect_eq(hist_max(a), hist_max(all));
    hist_destroy(a);
    hist_destroy(b);
    hist_destroy(all);
}

/* A shard's partial result carries a histogram as its buckets and exact totals. */
Test(hist, rebuilt_from_buckets_and_totals_is_the_same)
{
    struct rng r;
    rng_seed(&r, 7);
    struct hist *h = hist_create(), *g = hist_create();
    for (int i = 0; i < 20000; i++)
        hist_add(h, (int64_t)(rng_below(&r, 1u << 30) * (i % 7 + 1)));
    size_t cur = 0;
    int64_t lo, hi, min, max;
    uint64_t cnt, sh, sl;
    while (hist_next_bucket(h, &cur, &lo, &hi, &cnt))
        hist_add_n(g, lo, cnt);
    hist_totals(h, &min, &max, &sh, &sl);
    cr_expect_neq(hist_mean(g), hist_mean(h), "the buckets alone lose the exact sum");
    cr_assert(hist_set_totals(g, min, max, sh, sl));
    cr_expect(hist_check(g));
    for (double q = 0; q <= 1; q += 0.01)
        cr_expect_eq(hist_quantile(g, q), hist_quantile(h, q));
    cr_expect_eq(hist_mean(g), hist_mean(h));
    cr_expect_eq(hist_min(g), hist_min(h));
    cr_expect_eq(hist_max(g), hist_max(h));
    cr_expect_eq(hist_count(g), hist_count(h));
    /* Totals that the buckets contradict are refused, and change nothing. */
    cr_expect_not(hist_set_totals(g, max + 1000000, max, sh, sl));
    cr_expect_not(hist_set_totals(g, min, max, 0, 0));
    cr_expect_eq(hist_mean(g), hist_mean(h));
    cr_expect(hist_check(g));
    hist_destroy(h);
    hist_destroy(g);
}

Test(series, add_n_is_n_adds_in_one)
{
    struct series *s = series_create(1000), *t = series_create(1000);
    cr_assert(s && t);
    cr_expect_eq(series_add(s, 1500, 2.25), 0);
    cr_expect_eq(series_add(s, 1999, 0.5), 0);
    cr_expect_eq(series_add_n(t, 1000, 2.75, 2), 0);
    cr_expect_eq(series_add_n(t, -5, 1, 1), -EINVAL);
    cr_expect_eq(series_len(t), series_len(s));
    cr_expect_eq(series_sum(t, 1), series_sum(s, 1));
    cr_expect_eq(series_count(t, 1), series_count(s, 1));
    series_destroy(s);
    series_destroy(t);
}

Test(series, bins_sum_and_count_by_time)
{
    cr_expect_null(series_create(0));
    cr_expect_null(series_create(-1));
    struct series *s = series_create(1000);
    cr_assert_not_null(s);
    cr_expect_eq(series_len(s), 0);
    cr_expect_eq(series_add(s, 0, 1.5), 0);
    cr_expect_eq(series_add(s, 999, 2.5), 0);
    cr_expect_eq(series_add(s, 1000, 7), 0);
    cr_expect_eq(series_add(s, 5000000, 1), 0); /* grows across a gap */
    cr_expect_eq(series_add(s, -1, 1), -EINVAL);
    cr_expect_eq(series_bin_ns(s), 1000);
    cr_expect_eq(series_len(s), 5001);
    cr_expect_eq(series_sum(s, 0), 4.0);
    cr_expect_eq(series_count(s, 0), 2);
    cr_expect_eq(series_sum(s, 1), 7.0);
    cr_expect_eq(series_count(s, 1), 1);
    cr_expect_eq(series_count(s, 2), 0);
    cr_expect_eq(series_sum(s, 5000), 1.0);
    cr_expect_eq(series_count(s, 99999), 0); /* past the end: empty */
    series_destroy(s);
}

Test(stats, chi2_of_perfect_fit_is_zero)
{
    double obs[] = {10, 10}, prob[] = {0.5, 0.5}, chi2, p;
    cr_assert_eq(lab_chi2_gof(obs, prob, 2, &chi2, &p), 0);
    cr_expect_float_eq(chi2, 0, 1e-12);
    cr_expect_float_eq(p, 1, 1e-12);
}

Test(stats, chi2_matches_hand_computed_cases)
{
    /* 60/40 against a fair coin: chi2 = (10^2 + 10^2) / 50 = 4, one degree of freedom,
     * p = erfc(sqrt(4 / 2)). */
    double o1[] = {60, 40}, p1[] = {0.5, 0.5}, chi2, p;
    cr_assert_eq(lab_chi2_gof(o1, p1, 2, &chi2, &p), 0);
    cr_expect_float_eq(chi2, 4, 1e-12);
    cr_expect_float_eq(p, erfc(sqrt(2.0)), 1e-9);
    /* 5/10/15 against uniform thirds: chi2 = (25 + 0 + 25) / 10 = 5; with two degrees of
     * freedom the tail is exp(-chi2 / 2). */
    double o2[] = {5, 10, 15}, p2[] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    cr_assert_eq(lab_chi2_gof(o2, p2, 3, &chi2, &p), 0);
    cr_expect_float_eq(chi2, 5, 1e-9);
    cr_expect_float_eq(p, exp(-2.5), 1e-9);
    /* Unequal probabilities: e = 20, 30, 50; chi2 = 25/20 + 25/30 + 0 = 2.0833...; */
    double o3[] = {25, 25, 50}, p3[] = {0.2, 0.3, 0.5};
    cr_assert_eq(lab_chi2_gof(o3, p3, 3, &chi2, &p), 0);
    cr_expect_float_eq(chi2, 25.0 / 20 + 25.0 / 30, 1e-9);
    cr_expect_float_eq(p, exp(-chi2 / 2), 1e-9);
}

Test(stats, chi2_zero_probability_categories)
{
    double chi2, p;
    /* Not counted as a degree of freedom when empty... */
    double o1[] = {30, 0, 70}, p1[] = {0.3, 0, 0.7};
    cr_assert_eq(lab_chi2_gof(o1, p1, 3, &chi2, &p), 0);
    cr_expect_float_eq(chi2, 0, 1e-12);
    cr_expect_float_eq(p, 1, 1e-12);
    /* ...and impossible when not. */
    double o2[] = {30, 1, 70}, p2[] = {0.3, 0, 0.7};
    cr_assert_eq(lab_chi2_gof(o2, p2, 3, &chi2, &p), 0);
    cr_expect_eq(p, 0);
}

Test(stats, chi2_rejects_bad_input)
{
    double chi2, p;
    double o[] = {1, 2}, pr[] = {0.5, 0.5}, zero[] = {0, 0}, neg[] = {-0.5, 1.5},
           bad[] = {0.5, 0.6};
    cr_expect_eq(lab_chi2_gof(o, pr, 1, &chi2, &p), -EINVAL);
    cr_expect_eq(lab_chi2_gof(zero, pr, 2, &chi2, &p), -EINVAL);
    cr_expect_eq(lab_chi2_gof(o, neg, 2, &chi2, &p), -EINVAL);
    cr_expect_eq(lab_chi2_gof(o, bad, 2, &chi2, &p), -EINVAL);
}

Test(stats, chi2_p_values_are_uniform_under_the_model)
{
    /* Multinomial samples drawn from the model itself: about 5% of p-values fall below
     * 0.05 (binomial(400, 0.05) has sd 4.4: 6..34 is beyond 3 sd either side). */
    struct rng r;
    rng_seed(&r, 7);
    const double prob[] = {0.1, 0.2, 0.3, 0.4};
    int below = 0;
    for (int t = 0; t < 400; t++) {
        double obs[4] = {0};
        for (int i = 0; i < 1000; i++) {
            double u = rng_double(&r), c = 0;
            int k = 0;
            while (k < 3 && u >= c + prob[k])
                c += prob[k++];
            obs[k]++;
        }
        double chi2, p;
        cr_assert_eq(lab_chi2_gof(obs, prob, 4, &chi2, &p), 0);
        below += p < 0.05;
    }
    cr_expect(below >= 6 && below <= 34, "%d of 400 p-values below 0.05", below);
}

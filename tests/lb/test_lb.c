/* test_lb.c - the pickers against their invariants, NGINX's documented sequence, slow
 * enumerations of the seed's shuffles, and chi-squared tests at fixed seeds. */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/stats.h"
#include "lb/lb.h"
#include "lb/lb_internal.h"

#define ALL_POLICIES(p) for (enum lb_policy p = 0; p < LB_POLICY_COUNT; p++)

Test(lb, policy_names_round_trip)
{
    ALL_POLICIES(p)
    {
        enum lb_policy q = LB_POLICY_COUNT;
        cr_assert_eq(lb_policy_parse(lb_policy_name(p), &q), 0);
        cr_assert_eq(q, p);
        cr_assert_not_null(strstr(lb_policy_choices(), lb_policy_name(p)));
    }
    enum lb_policy q = LB_RR;
    cr_assert_eq(lb_policy_parse("fisher_yates", &q), -EINVAL);
    cr_assert_eq(q, LB_RR);
    cr_assert_null(lb_policy_name(LB_POLICY_COUNT));
}

Test(lb, refuses_bad_arguments)
{
    int64_t w[3] = {1, 0, 2};
    cr_assert_null(lb_create(LB_RR, 0, NULL));
    cr_assert_null(lb_create(LB_POLICY_COUNT, 3, NULL));
    cr_assert_null(lb_create(LB_SWRR, 3, w));
    struct lb *lb = lb_create(LB_P2C, 3, NULL);
    cr_assert_eq(lb_done(lb, 1), -EINVAL);
    cr_assert_eq(lb_start(lb, 3), -EINVAL);
    cr_assert_eq(lb_start(lb, 1), 0);
    cr_assert_eq(lb_outstanding(lb, 1), 1);
    cr_assert_eq(lb_done(lb, 1), 0);
    cr_assert_eq(lb_outstanding(lb, 1), 0);
    lb_destroy(lb);
    double P[4];
    cr_assert_eq(lb_theory_position(LB_BIASED, 0, NULL, P), -EINVAL);
    cr_assert_eq(lb_theory_position(LB_BIASED, LB_THEORY_MAX_N + 1, NULL, P), -EINVAL);
    cr_assert_eq(lb_theory_share(P, 2, 0, 0.5, P), -EINVAL);
    cr_assert_eq(lb_theory_share(P, 2, 1, 1.5, P), -EINVAL);
}

Test(lb, permutation_checker_catches_repeats_and_range)
{
    uint32_t a[5] = {4, 2, 0, 1, 3};
    cr_assert(lb_is_permutation(a, 5));
    a[1] = 4;
    cr_assert_not(lb_is_permutation(a, 5));
    a[1] = 5;
    cr_assert_not(lb_is_permutation(a, 5));
    cr_assert(lb_is_permutation(a, 0));
}

Test(lb, shuffles_output_permutations)
{
    static const size_t ns[] = {1, 2, 3, 7, 64, 65, 1000};
    struct rng r;
    rng_seed(&r, 11);
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k];
        uint32_t *a = malloc(n * sizeof *a);
        for (int t = 0; t < 200; t++) {
            lb_identity(a, n);
            lb_shuffle_biased(a, n, &r);
            cr_assert(lb_is_permutation(a, n), "biased n=%zu", n);
            lb_identity(a, n);
            lb_shuffle_fisher_yates(a, n, &r);
            cr_assert(lb_is_permutation(a, n), "fisher-yates n=%zu", n);
            memset(a, 0xff, n * sizeof *a); /* inside-out must not read its input */
            lb_perm_inside_out(a, n, &r);
            cr_assert(lb_is_permutation(a, n), "inside-out n=%zu", n);
        }
        free(a);
    }
}

/* Long shuffles draw ahead to prefetch; the result must be the plain loop's, draw for
 * draw, on both sides of the length where the prefetching starts. */
Test(lb, long_fisher_yates_equals_the_plain_loop)
{
    static const size_t ns[] = {4095, 4096, 4097, 100000};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k];
        uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        struct rng ra, rb;
        rng_seed(&ra, 99 + n);
        rb = ra;
        lb_identity(a, n);
        lb_identity(b, n);
        lb_shuffle_fisher_yates(a, n, &ra);
        for (size_t i = n; i > 0; i--) {
            size_t j = rng_below(&rb, i);
            uint32_t t = b[i - 1];
            b[i - 1] = b[j];
            b[j] = t;
        }
        cr_assert(memcmp(a, b, n * sizeof *a) == 0, "n=%zu", n);
        cr_assert(memcmp(&ra, &rb, sizeof ra) == 0, "n=%zu: same number of draws", n);
        free(a);
        free(b);
    }
}

/* Every picker: each order is a permutation, the state stays valid, and lb_pick gives
 * the order's first endpoint with the same draws and the same state change. */
Test(lb, every_order_is_a_permutation_and_pick_matches_order)
{
    static const size_t ns[] = {1, 2, 3, 7, 64, 100};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        size_t n = ns[k];
        int64_t *w = malloc(n * sizeof *w);
        for (size_t i = 0; i < n; i++)
            w[i] = 1 + (int64_t)((i * 7) % 5);
        uint32_t *order = malloc(n * sizeof *order);
        ALL_POLICIES(p)
        {
            struct lb *a = lb_create(p, n, w), *b = lb_create(p, n, w);
            cr_assert_not_null(a);
            struct rng ra, rb;
            rng_seed(&ra, 5 + n);
            rng_seed(&rb, 5 + n);
            for (int t = 0; t < 300; t++) {
                if (t % 3 == 0) { /* some load, the same on both, for p2c */
                    uint32_t e = (uint32_t)((t * 13) % n);
                    lb_start(a, e);
                    lb_start(b, e);
                }
                lb_order(a, &ra, order);
                uint32_t first = lb_pick(b, &rb);
                cr_assert(lb_is_permutation(order, n), "%s n=%zu", lb_policy_name(p), n);
                cr_assert_eq(order[0], first, "%s n=%zu t=%d", lb_policy_name(p), n, t);
                cr_assert(lb_check(a) && lb_check(b), "%s n=%zu", lb_policy_name(p), n);
                cr_assert_eq(ra.s[0], rb.s[0], "%s: different draws", lb_policy_name(p));
            }
            lb_destroy(a);
            lb_destroy(b);
        }
        free(order);
        free(w);
    }
}

Test(lb, rr_walks_the_ring_from_the_cursor)
{
    struct lb *lb = lb_create(LB_RR, 4, NULL);
    uint32_t o[4];
    for (uint32_t c = 0; c < 9; c++) {
        lb_order(lb, NULL, o);
        for (uint32_t j = 0; j < 4; j++)
            cr_assert_eq(o[j], (c + j) % 4);
    }
    lb_destroy(lb);
}

/* NGINX's comment on ngx_http_upstream_get_peer: weights {5, 1, 1} for a, b, c give
 * the sequence a a b a c a a. */
Test(lb, swrr_matches_nginx_documented_sequence)
{
    int64_t w[3] = {5, 1, 1};
    struct lb *lb = lb_create(LB_SWRR, 3, w);
    const char *want = "aabacaa";
    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < 7; k++) {
            uint32_t o[3];
            lb_order(lb, NULL, o);
            cr_assert_eq("abc"[o[0]], want[k], "round %d pick %zu", round, k);
            cr_assert(lb_check(lb), "current weights must sum to 0 after each pick");
        }
    }
    lb_destroy(lb);
}

Test(lb, swrr_period_gives_each_endpoint_its_weight)
{
    int64_t w[6] = {7, 3, 1, 1, 9, 2};
    int64_t total = 23;
    struct lb *lb = lb_create(LB_SWRR, 6, w);
    int64_t count[6] = {0};
    uint32_t first[23];
    for (int64_t k = 0; k < 3 * total; k++) {
        uint32_t x = lb_pick(lb, NULL);
        cr_assert(lb_check(lb));
        if (k < total) {
            count[x]++;
            first[k] = x;
        } else {
            cr_assert_eq(x, first[k % total], "the sequence repeats with period W");
        }
    }
    for (int i = 0; i < 6; i++)
        cr_assert_eq(count[i], w[i]);
    lb_destroy(lb);
}

Test(lb, swrr_retries_skip_tried_and_leave_state_alone)
{
    int64_t w[3] = {5, 1, 1};
    struct lb *a = lb_create(LB_SWRR, 3, w), *b = lb_create(LB_SWRR, 3, w);
    uint32_t o[3];
    for (int k = 0; k < 50; k++) {
        lb_order(a, NULL, o);
        cr_assert_eq(o[0], lb_pick(b, NULL));
        cr_assert(lb_is_permutation(o, 3));
    }
    /* From the zero state: a wins (5 vs 1, 1); retry among b, c with currents -2, 1, 1
     * after adding: b (1+1=2) ties c (2) -> the lower index, b. */
    struct lb *c = lb_create(LB_SWRR, 3, w);
    lb_order(c, NULL, o);
    cr_assert_eq(o[0], 0);
    cr_assert_eq(o[1], 1);
    cr_assert_eq(o[2], 2);
    lb_destroy(a);
    lb_destroy(b);
    lb_destroy(c);
}

Test(lb, p2c_prefers_the_less_loaded)
{
    size_t n = 7;
    struct lb *lb = lb_create(LB_P2C, n, NULL);
    struct rng r;
    rng_seed(&r, 3);
    for (int k = 0; k < 5; k++)
        lb_start(lb, 3);
    lb_start(lb, 5);
    uint32_t o[7];
    size_t first[7] = {0};
    for (int t = 0; t < 70000; t++) {
        struct rng copy = r;
        size_t a, b;
        lb__p2c_draw(n, &copy, &a, &b);
        lb_order(lb, &r, o);
        first[o[0]]++;
        if (a == 3 || b == 3)
            cr_assert_eq(o[1], 3, "the loaded endpoint goes second when drawn");
        if ((a == 5 && b != 3) || (b == 5 && a != 3))
            cr_assert_neq(o[0], 5);
        if (a != 3 && a != 5 && b != 3 && b != 5)
            cr_assert_eq(o[0], a, "ties go to the first drawn");
    }
    cr_assert_eq(first[3], 0);
    /* Endpoint 5 wins only against 3: P = 2 / (n (n-1)) = 1/21. */
    cr_assert(first[5] > 70000 / 21 * 0.9 && first[5] < 70000 / 21 * 1.1, "%zu", first[5]);
    lb_destroy(lb);

    /* Two endpoints: the less loaded one always goes first. */
    lb = lb_create(LB_P2C, 2, NULL);
    lb_start(lb, 0);
    for (int t = 0; t < 100; t++)
        cr_assert_eq(lb_pick(lb, &r), 1);
    lb_destroy(lb);
}

/* ---- Exact theory against slow enumerations of the seed's Go code -------------------- */

/* All draw sequences of a shuffle with 'steps' draws, step s drawing in [0, range(s)),
 * each sequence equally likely; 'apply' runs the algorithm on a with the draws. */
struct shuffle_ref {
    size_t n, steps;
    size_t (*range)(size_t n, size_t s);
    void (*apply)(int *a, size_t n, const size_t *draws);
};

static size_t biased_range(size_t n, size_t s)
{
    (void)s;
    return n;
}
static void biased_apply(int *a, size_t n, const size_t *d)
{
    /* for i := 0; i < len(slice)/2; i++ { a := rand.Intn(n); b := rand.Intn(n); swap } */
    for (size_t i = 0; i < n / 2; i++) {
        size_t x = d[2 * i], y = d[2 * i + 1];
        int t = a[x];
        a[x] = a[y];
        a[y] = t;
    }
}
static size_t fy_range(size_t n, size_t s)
{
    return n - s; /* step s is i = n - s, drawing rand.Intn(i) */
}
static void fy_apply(int *a, size_t n, const size_t *d)
{
    for (size_t i = n, s = 0; i > 0; i--, s++) {
        size_t last = i - 1, idx = d[s];
        int t = a[last];
        a[last] = a[idx];
        a[idx] = t;
    }
}
static size_t io_range(size_t n, size_t s)
{
    (void)n;
    return s + 1; /* j := r.Intn(i + 1) */
}
static void io_apply(int *m, size_t n, const size_t *d)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = d[i];
        m[i] = m[j];
        m[j] = (int)i;
    }
}

/* P[i][j] by counting every draw sequence. */
static void enumerate(const struct shuffle_ref *ref, double *P)
{
    size_t n = ref->n, steps = ref->steps;
    size_t d[32] = {0};
    int a[16];
    double count = 0;
    memset(P, 0, n * n * sizeof *P);
    for (;;) {
        for (size_t i = 0; i < n; i++)
            a[i] = (int)i;
        ref->apply(a, n, d);
        for (size_t j = 0; j < n; j++)
            P[(size_t)a[j] * n + j] += 1;
        count += 1;
        size_t s = 0; /* odometer */
        while (s < steps && ++d[s] == ref->range(n, s))
            d[s++] = 0;
        if (s == steps)
            break;
    }
    for (size_t k = 0; k < n * n; k++)
        P[k] /= count;
}

static void assert_matrix_near(const double *A, const double *B, size_t n, double tol,
                               const char *what)
{
    for (size_t k = 0; k < n * n; k++)
        cr_assert(fabs(A[k] - B[k]) <= tol, "%s n=%zu cell (%zu,%zu): %.15g vs %.15g", what,
                  n, k / n, k % n, A[k], B[k]);
}

Test(lb, shuffle_theory_equals_enumeration_of_every_draw_sequence)
{
    double P[49], E[49];
    for (size_t n = 1; n <= 7; n++) {
        struct shuffle_ref biased = {n, 2 * (n / 2), biased_range, biased_apply};
        struct shuffle_ref fy = {n, n, fy_range, fy_apply};
        struct shuffle_ref io = {n, n, io_range, io_apply};

        cr_assert_eq(lb_theory_position(LB_BIASED, n, NULL, P), 0);
        enumerate(&biased, E);
        assert_matrix_near(P, E, n, 1e-12, "biased");

        cr_assert_eq(lb_theory_position(LB_FISHER_YATES, n, NULL, P), 0);
        enumerate(&fy, E);
        assert_matrix_near(P, E, n, 1e-12, "fisher-yates");

        cr_assert_eq(lb_theory_position(LB_INSIDE_OUT, n, NULL, P), 0);
        enumerate(&io, E);
        assert_matrix_near(P, E, n, 1e-12, "inside-out");
    }
}

/* The enumerations are slow references for n <= 7; beyond, the biased matrix has a
 * closed form: one swap keeps a position with probability 1 - 2(n-1)/n^2 and sends it
 * to each other position with 2/n^2, i.e. M = (1 - 2/n) I + (2/n) J/n, so
 * M^k = a^k I + (1 - a^k) J/n with a = 1 - 2/n. */
Test(lb, biased_theory_matches_closed_form_up_to_64)
{
    double *P = malloc(64 * 64 * sizeof *P);
    for (size_t n = 1; n <= 64; n++) {
        cr_assert_eq(lb_theory_position(LB_BIASED, n, NULL, P), 0);
        double ak = pow(1.0 - 2.0 / (double)n, (double)(n / 2));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double want = (i == j ? ak : 0) + (1 - ak) / (double)n;
                cr_assert(fabs(P[i * n + j] - want) < 1e-12, "n=%zu (%zu,%zu)", n, i, j);
            }
    }
    free(P);
}

Test(lb, uniform_pickers_have_uniform_theory)
{
    static const enum lb_policy uni[] = {LB_RR,           LB_RANDOM, LB_FISHER_YATES,
                                         LB_INSIDE_OUT,   LB_P2C,    LB_SWRR};
    double *P = malloc(64 * 64 * sizeof *P);
    for (size_t n = 1; n <= 64; n += 9) {
        for (size_t k = 0; k < sizeof uni / sizeof uni[0]; k++) {
            cr_assert_eq(lb_theory_position(uni[k], n, NULL, P), 0);
            for (size_t c = 0; c < n * n; c++)
                cr_assert(fabs(P[c] - 1.0 / (double)n) < 1e-12, "%s n=%zu",
                          lb_policy_name(uni[k]), n);
        }
    }
    free(P);
}

Test(lb, swrr_theory_first_position_is_the_weights)
{
    int64_t w[4] = {5, 1, 3, 1};
    double P[16], share[4];
    cr_assert_eq(lb_theory_position(LB_SWRR, 4, w, P), 0);
    for (size_t i = 0; i < 4; i++) {
        double row = 0, col = 0;
        for (size_t j = 0; j < 4; j++) {
            row += P[i * 4 + j];
            col += P[j * 4 + i];
        }
        cr_assert(fabs(row - 1) < 1e-12 && fabs(col - 1) < 1e-12, "doubly stochastic");
        cr_assert(fabs(P[i * 4] - (double)w[i] / 10) < 1e-12);
    }
    cr_assert_eq(lb_theory_share(P, 4, 3, 0.0, share), 0);
    for (size_t i = 0; i < 4; i++)
        cr_assert(fabs(share[i] - (double)w[i] / 10) < 1e-12);
}

Test(lb, theory_share_follows_attempts_and_failures)
{
    double P[49], s[7];
    cr_assert_eq(lb_theory_position(LB_BIASED, 7, NULL, P), 0);
    /* f = 0: only first attempts; the seed's setting: n = 7, 3 swaps. */
    cr_assert_eq(lb_theory_share(P, 7, 3, 0.0, s), 0);
    double a3 = pow(5.0 / 7.0, 3);
    cr_assert(fabs(s[0] - (a3 + (1 - a3) / 7)) < 1e-12);
    cr_assert(fabs(s[1] - (1 - a3) / 7) < 1e-12);
    /* f = 1 with every endpoint tried: each endpoint once per request. */
    cr_assert_eq(lb_theory_share(P, 7, 7, 1.0, s), 0);
    for (int i = 0; i < 7; i++)
        cr_assert(fabs(s[i] - 1.0 / 7) < 1e-12);
    /* attempts above n are capped at n. */
    double t[7];
    cr_assert_eq(lb_theory_share(P, 7, 100, 1.0, t), 0);
    cr_assert(memcmp(s, t, sizeof s) == 0);
    /* f = 0.5, 3 attempts: by hand from the closed form. */
    cr_assert_eq(lb_theory_share(P, 7, 3, 0.5, s), 0);
    double on = a3 + (1 - a3) / 7, off = (1 - a3) / 7;
    double e0 = on + 0.5 * off + 0.25 * off, e1 = off + 0.5 * on + 0.25 * off;
    double e2 = off + 0.5 * off + 0.25 * on, e3 = 1.75 * off;
    double tot = e0 + e1 + e2 + 4 * e3;
    cr_assert(fabs(s[0] - e0 / tot) < 1e-12 && fabs(s[1] - e1 / tot) < 1e-12);
    cr_assert(fabs(s[2] - e2 / tot) < 1e-12 && fabs(s[6] - e3 / tot) < 1e-12);
    cr_assert(fabs(lb_max_min_ratio(s, 7) - e0 / e3) < 1e-12);
}

/* ---- Chi-squared at fixed seeds -------------------------------------------------- */

#define CHI_N 7
#define CHI_REQUESTS 200000

/* First-position counts of CHI_REQUESTS orders. */
static void first_counts(enum lb_policy p, uint64_t seed, double *count)
{
    struct lb *lb = lb_create(p, CHI_N, NULL);
    struct rng r;
    rng_seed(&r, seed);
    uint32_t o[CHI_N];
    memset(count, 0, CHI_N * sizeof *count);
    for (int t = 0; t < CHI_REQUESTS; t++) {
        lb_order(lb, &r, o);
        count[o[0]] += 1;
    }
    lb_destroy(lb);
}

Test(lb, chi2_rejects_biased_shuffle_and_accepts_fisher_yates)
{
    double uniform[CHI_N], count[CHI_N], chi2, p;
    for (int i = 0; i < CHI_N; i++)
        uniform[i] = 1.0 / CHI_N;

    first_counts(LB_BIASED, 42, count);
    cr_assert_eq(lab_chi2_gof(count, uniform, CHI_N, &chi2, &p), 0);
    cr_assert(p < 1e-6, "biased shuffle vs uniform: chi2 %g p %g", chi2, p);

    first_counts(LB_FISHER_YATES, 42, count);
    cr_assert_eq(lab_chi2_gof(count, uniform, CHI_N, &chi2, &p), 0);
    cr_assert(p > 0.001, "fisher-yates vs uniform: chi2 %g p %g", chi2, p);

    first_counts(LB_INSIDE_OUT, 42, count);
    cr_assert_eq(lab_chi2_gof(count, uniform, CHI_N, &chi2, &p), 0);
    cr_assert(p > 0.001, "inside-out vs uniform: chi2 %g p %g", chi2, p);
}

/* The measured position matrix of every shuffle against its exact theory, column by
 * column (each column is one categorical draw per request). */
Test(lb, chi2_every_position_matches_exact_theory)
{
    static const enum lb_policy ps[] = {LB_BIASED, LB_FISHER_YATES, LB_INSIDE_OUT, LB_RANDOM};
    double P[CHI_N * CHI_N], count[CHI_N * CHI_N], col[CHI_N], prob[CHI_N];
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        cr_assert_eq(lb_theory_position(ps[k], CHI_N, NULL, P), 0);
        struct lb *lb = lb_create(ps[k], CHI_N, NULL);
        struct rng r;
        rng_seed(&r, 7);
        uint32_t o[CHI_N];
        memset(count, 0, sizeof count);
        for (int t = 0; t < CHI_REQUESTS; t++) {
            lb_order(lb, &r, o);
            for (int j = 0; j < CHI_N; j++)
                count[o[j] * CHI_N + j] += 1;
        }
        lb_destroy(lb);
        for (int j = 0; j < CHI_N; j++) {
            double chi2, p;
            for (int i = 0; i < CHI_N; i++) {
                col[i] = count[i * CHI_N + j];
                prob[i] = P[i * CHI_N + j];
            }
            cr_assert_eq(lab_chi2_gof(col, prob, CHI_N, &chi2, &p), 0);
            /* 7 columns x 4 pickers: a false alarm at 1e-4 each has odds below 0.3 %. */
            cr_assert(p > 1e-4, "%s position %d: chi2 %g p %g", lb_policy_name(ps[k]), j,
                      chi2, p);
        }
    }
}

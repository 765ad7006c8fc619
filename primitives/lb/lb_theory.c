/* lb_theory.c - exact P(endpoint i at position j) for each picker, computed from the
 * algorithm (its steps and draws), never typed in. Pure arithmetic: no rng, no I/O. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb.h"
#include "lb/lb_internal.h"

/* Largest sum of swrr weights (one period of requests) and work (period * n^2). */
#define SWRR_MAX_PERIOD 10000000
#define SWRR_MAX_WORK 1000000000.0

/* One shuffle step: the position pair (x, y) it swaps is drawn from a distribution
 * that does not look at the array's contents. */
struct swap_draw {
    size_t x, y;
    double prob;
};

/* P <- P * T, where T[p][q] = P(this step moves whatever is at position p to q),
 * built by enumerating the step's draws d[0..nd). 'tmp' holds 2 n^2 doubles. */
static void apply_step(double *P, size_t n, const struct swap_draw *d, size_t nd, double *tmp)
{
    double *T = tmp, *R = tmp + n * n;
    memset(T, 0, n * n * sizeof *T);
    for (size_t k = 0; k < nd; k++) {
        for (size_t p = 0; p < n; p++) {
            size_t q = p == d[k].x ? d[k].y : p == d[k].y ? d[k].x : p;
            T[p * n + q] += d[k].prob;
        }
    }
    memset(R, 0, n * n * sizeof *R);
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < n; p++) {
            double v = P[i * n + p];
            if (v == 0)
                continue;
            for (size_t q = 0; q < n; q++)
                R[i * n + q] += v * T[p * n + q];
        }
    memcpy(P, R, n * n * sizeof *P);
}

/* The three shuffles as sequences of swap steps, starting from the identity. */
static int shuffle_theory(enum lb_policy policy, size_t n, double *P)
{
    struct swap_draw *d = malloc(n * n * sizeof *d);
    double *tmp = malloc(2 * n * n * sizeof *tmp);
    if (!d || !tmp) {
        free(d);
        free(tmp);
        return -ENOMEM;
    }
    memset(P, 0, n * n * sizeof *P);
    for (size_t i = 0; i < n; i++)
        P[i * n + i] = 1;

    if (policy == LB_BIASED) {
        /* n/2 steps, each: x, y independent and uniform in [0, n). */
        size_t nd = 0;
        for (size_t x = 0; x < n; x++)
            for (size_t y = 0; y < n; y++)
                d[nd++] = (struct swap_draw){x, y, 1.0 / (double)(n * n)};
        for (size_t k = 0; k < n / 2; k++)
            apply_step(P, n, d, nd, tmp);
    } else if (policy == LB_FISHER_YATES) {
        /* for i = n down to 1: swap i-1 with j uniform in [0, i). */
        for (size_t i = n; i > 0; i--) {
            for (size_t j = 0; j < i; j++)
                d[j] = (struct swap_draw){i - 1, j, 1.0 / (double)i};
            apply_step(P, n, d, i, tmp);
        }
    } else {
        /* Inside-out (m[i] = m[j]; m[j] = i) is, on an array that starts as the identity
         * (m[i] == i until step i touches it), for i = 0..n-1: swap i with j uniform in
         * [0, i]. */
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j <= i; j++)
                d[j] = (struct swap_draw){i, j, 1.0 / (double)(i + 1)};
            apply_step(P, n, d, i + 1, tmp);
        }
    }
    free(d);
    free(tmp);
    return 0;
}

/* Add w to P[order[j]][j] for every position j. */
static void add_order(double *P, size_t n, const uint32_t *order, double w)
{
    for (size_t j = 0; j < n; j++)
        P[(size_t)order[j] * n + j] += w;
}

int lb_theory_position(enum lb_policy policy, size_t n, const int64_t *weights, double *P)
{
    if (n < 1 || n > LB_THEORY_MAX_N || (unsigned)policy >= LB_POLICY_COUNT)
        return -EINVAL;
    if (policy == LB_BIASED || policy == LB_FISHER_YATES || policy == LB_INSIDE_OUT)
        return shuffle_theory(policy, n, P);

    uint32_t *order = malloc(n * sizeof *order);
    if (!order)
        return -ENOMEM;
    memset(P, 0, n * n * sizeof *P);
    int rc = 0;
    switch (policy) {
    case LB_RANDOM:
        for (size_t s = 0; s < n; s++) { /* the one draw: the start */
            lb__ring_from(order, n, s);
            add_order(P, n, order, 1.0 / (double)n);
        }
        break;
    case LB_P2C:
        if (n == 1) {
            P[0] = 1;
            break;
        }
        {
            uint64_t *zero = calloc(n, sizeof *zero);
            if (!zero) {
                rc = -ENOMEM;
                break;
            }
            double w = 1.0 / (double)(n * (n - 1));
            for (size_t a = 0; a < n; a++)
                for (size_t b = 0; b < n; b++)
                    if (a != b) {
                        lb__p2c_order(zero, n, a, b, order);
                        add_order(P, n, order, w);
                    }
            free(zero);
        }
        break;
    case LB_RR:
    case LB_SWRR: {
        /* Deterministic: average a fresh picker's orders over one period. rr's period
         * is n; swrr's is the sum of the weights W (after W picks each endpoint has won
         * its weight's worth and every current weight is back to 0). */
        int64_t period = (int64_t)n;
        if (policy == LB_SWRR && weights) {
            period = 0;
            for (size_t i = 0; i < n; i++) {
                if (weights[i] < 1 || weights[i] > SWRR_MAX_PERIOD) {
                    rc = -EINVAL;
                    break;
                }
                period += weights[i];
            }
            if (rc == 0 && (period > SWRR_MAX_PERIOD ||
                            (double)period * (double)n * (double)n > SWRR_MAX_WORK))
                rc = -EINVAL;
        }
        if (rc < 0)
            break;
        struct lb *lb = lb_create(policy, n, weights);
        if (!lb) {
            rc = -ENOMEM;
            break;
        }
        for (int64_t k = 0; k < period; k++) {
            lb_order(lb, NULL, order);
            add_order(P, n, order, 1.0 / (double)period);
        }
        lb_destroy(lb);
        break;
    }
    default:
        rc = -EINVAL;
        break;
    }
    free(order);
    return rc;
}

int lb_theory_share(const double *P, size_t n, int attempts, double f, double *share)
{
    if (n < 1 || attempts < 1 || !(f >= 0 && f <= 1))
        return -EINVAL;
    size_t a = (size_t)attempts < n ? (size_t)attempts : n;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double s = 0, fj = 1; /* f^j, with f^0 = 1 also for f = 0 */
        for (size_t j = 0; j < a; j++) {
            s += P[i * n + j] * fj;
            fj *= f;
        }
        share[i] = s;
        total += s;
    }
    for (size_t i = 0; i < n; i++)
        share[i] /= total;
    return 0;
}

double lb_max_min_ratio(const double *share, size_t n)
{
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (share[i] < lo)
            lo = share[i];
        if (share[i] > hi)
            hi = share[i];
    }
    return lo > 0 ? hi / lo : INFINITY;
}

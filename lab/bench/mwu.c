/* mwu.c - the statistics of `--compare`: the Mann-Whitney U test (two-sided, the normal
 * approximation with the tie and continuity corrections, as scipy's mannwhitneyu
 * 'asymptotic' and Google Benchmark's compare.py use it), the ratio of two builds as the
 * median of all pairwise ratios (Hodges-Lehmann on the logarithms) with Moses' distribution-
 * free confidence interval, and Holm's step-down adjustment for many figures at once.
 * The normal distribution and the sorting come from GSL. */
#include "lab/bench/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

/* Ranks (1-based, ties averaged) of x[0..n-1]; the tie term sum(t^3 - t) in *ties. */
static void ranks(const double *x, size_t n, double *rank, double *ties)
{
    size_t *order = lab_xmalloc(n * sizeof(*order));
    gsl_sort_index(order, x, 1, n);
    *ties = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && x[order[j]] == x[order[i]])
            j++;
        double r = (double)(i + 1 + j) / 2; /* the mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            rank[order[k]] = r;
        double t = (double)(j - i);
        *ties += t * t * t - t;
        i = j;
    }
    free(order);
}

static double median_of(const double *x, size_t n)
{
    double *s = lab_xmalloc(n * sizeof(*s));
    memcpy(s, x, n * sizeof(*s));
    gsl_sort(s, 1, n);
    double m = gsl_stats_median_from_sorted_data(s, 1, n);
    free(s);
    return m;
}

/* The ratio b/a as exp(median of log b_j - log a_i) and Moses' interval: with K = na nb
 * pairwise differences sorted, the bounds are the C-th smallest and largest, where
 * C = floor(K/2 - z sqrt(na nb (na + nb + 1) / 12)), the same normal quantile as the
 * test's. */
static void hodges_lehmann(const double *a, size_t na, const double *b, size_t nb, double conf,
                           struct bench_mwu *o)
{
    for (size_t i = 0; i < na; i++)
        if (!(a[i] > 0))
            goto no_logs;
    for (size_t j = 0; j < nb; j++)
        if (!(b[j] > 0))
            goto no_logs;
    size_t k = na * nb;
    double *d = lab_xmalloc(k * sizeof(*d));
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            d[i * nb + j] = log(b[j]) - log(a[i]);
    gsl_sort(d, 1, k);
    o->ratio = exp(gsl_stats_median_from_sorted_data(d, 1, k));
    double z = gsl_cdf_ugaussian_Pinv(1 - (1 - conf) / 2);
    double c = floor((double)k / 2 - z * sqrt((double)na * nb * (na + nb + 1) / 12.0));
    if (c >= 1) {
        o->lo = exp(d[(size_t)c - 1]);
        o->hi = exp(d[k - (size_t)c]);
    }
    free(d);
    return;
no_logs:;
    double ma = median_of(a, na);
    o->ratio = ma != 0 ? median_of(b, nb) / ma : NAN;
}

void bench_mwu(const double *a, size_t na, const double *b, size_t nb, double conf,
               struct bench_mwu *out)
{
    size_t n = na + nb;
    double *x = lab_xmalloc(n * sizeof(*x)), *r = lab_xmalloc(n * sizeof(*r));
    memcpy(x, a, na * sizeof(*x));
    memcpy(x + na, b, nb * sizeof(*x));
    double ties;
    ranks(x, n, r, &ties);
    double ra = 0;
    for (size_t i = 0; i < na; i++)
        ra += r[i];
    *out = (struct bench_mwu){.na = na, .nb = nb, .lo = NAN, .hi = NAN};
    out->u = ra - (double)na * (na + 1) / 2;
    double mu = (double)na * nb / 2;
    double var = (double)na * nb / 12.0 * ((double)(n + 1) - ties / ((double)n * (n - 1)));
    if (n > 1 && var > 0) {
        double dev = fabs(out->u - mu) - 0.5;
        out->z = (dev > 0 ? dev : 0) / sqrt(var);
        out->p = 2 * gsl_cdf_ugaussian_Q(out->z);
        if (out->p > 1)
            out->p = 1;
    } else { /* every value equal: nothing tells the samples apart */
        out->z = 0;
        out->p = 1;
    }
    hodges_lehmann(a, na, b, nb, conf, out);
    free(x);
    free(r);
}

double bench_mwu_min_p(size_t na, size_t nb)
{
    /* Complete separation: U = 0, as far from its mean as it gets. */
    double mu = (double)na * nb / 2, var = (double)na * nb * (double)(na + nb + 1) / 12;
    double p = var > 0 ? 2 * gsl_cdf_ugaussian_Q((mu - 0.5) / sqrt(var)) : 1;
    return p < 1 ? p : 1;
}

struct pidx {
    double p;
    size_t i;
};

static int cmp_pidx(const void *x, const void *y)
{
    double a = ((const struct pidx *)x)->p, b = ((const struct pidx *)y)->p;
    return (a > b) - (a < b);
}

void bench_holm(const double *p, size_t n, double *adj)
{
    struct pidx *s = lab_xmalloc((n + 1) * sizeof(*s));
    for (size_t i = 0; i < n; i++)
        s[i] = (struct pidx){p[i], i};
    qsort(s, n, sizeof(*s), cmp_pidx);
    double run = 0;
    for (size_t k = 0; k < n; k++) {
        double v = (double)(n - k) * s[k].p;
        run = v > run ? v : run; /* adjusted p never decreases along the order */
        adj[s[k].i] = run < 1 ? run : 1;
    }
    free(s);
}

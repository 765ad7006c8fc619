/* stats.h - statistical tests over measured counts, with GSL doing the distributions. */
#ifndef DISTLAB_STATS_H
#define DISTLAB_STATS_H

#include <stddef.h>

/* Pearson's chi-squared goodness of fit of 'observed' counts (n categories) against
 * the expected probabilities 'prob' (summing to 1 within 1e-6). Categories with prob 0
 * must have no observations (else *p = 0; *chi2 covers the others). Degrees of
 * freedom: categories with prob > 0, minus 1 (with one such category, *p = 1).
 * Sets *chi2 and *p (the probability of a chi2 at least this large under the model).
 * Returns 0, or -EINVAL (n < 2, no observations, a negative or non-finite count or
 * prob, probabilities that do not sum to 1). O(n). */
int lab_chi2_gof(const double *observed, const double *prob, size_t n, double *chi2,
                 double *p);

#endif

/* stats.c - statistical tests (stats.h); GSL supplies the distribution tails. */
#include "lab/stats.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>

#include <gsl/gsl_cdf.h>

int lab_chi2_gof(const double *observed, const double *prob, size_t n, double *chi2,
                 double *p)
{
    if (n < 2)
        return -EINVAL;
    double total = 0, psum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(prob[i] >= 0) || !(observed[i] >= 0) || !isfinite(prob[i]) ||
            !isfinite(observed[i]))
            return -EINVAL;
        total += observed[i];
        psum += prob[i];
    }
    if (!(total > 0) || fabs(psum - 1.0) > 1e-6)
        return -EINVAL;
    double x = 0;
    size_t cats = 0;
    bool impossible = false;
    for (size_t i = 0; i < n; i++) {
        if (prob[i] == 0) {
            if (observed[i] > 0)
                impossible = true;
            continue;
        }
        double e = total * prob[i];
        x += (observed[i] - e) * (observed[i] - e) / e;
        cats++;
    }
    *chi2 = x;
    if (impossible)
        *p = 0;
    else if (cats < 2)
        *p = 1; /* one possible category holds everything: nothing to test */
    else
        *p = gsl_cdf_chisq_Q(x, (double)(cats - 1));
    return 0;
}

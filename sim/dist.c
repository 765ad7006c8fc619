/* dist.c - drawing durations from distributions, with GSL's samplers running on our
 * seeded xoshiro stream (wrapped as a gsl_rng type), so draws replay from the seed. */
#include "sim/sim.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>

static void xo_set(void *state, unsigned long seed)
{
    rng_seed(state, seed);
}

static unsigned long xo_get(void *state)
{
    return (unsigned long)(rng_next(state) >> 32);
}

static double xo_get_double(void *state)
{
    return rng_double(state);
}

static const gsl_rng_type xoshiro_type = {
    "xoshiro256**", 0xffffffffUL, 0, sizeof(struct rng), xo_set, xo_get, xo_get_double,
};

/* Borrow a struct rng as a gsl_rng without copying its state. */
static gsl_rng as_gsl(struct rng *r)
{
    gsl_rng g = {&xoshiro_type, r};
    return g;
}

double sim_dist_lognormal_sigma(const struct sim_dist *d)
{
    if (d->a <= 0 || d->b <= d->a)
        return 0;
    return log((double)d->b / (double)d->a) / gsl_cdf_ugaussian_Pinv(0.99);
}

static int64_t clamp(double x)
{
    return x > 9e18 ? INT64_MAX : (int64_t)llround(x);
}

int64_t sim_dist_draw(const struct sim_dist *d, struct rng *r)
{
    switch (d->kind) {
    case SIM_DIST_CONST:
        return d->a;
    case SIM_DIST_UNIFORM:
        if (d->b <= d->a)
            return d->a;
        return d->a + (int64_t)rng_below(r, (uint64_t)(d->b - d->a) + 1);
    case SIM_DIST_LOGNORMAL: {
        if (d->a <= 0)
            return 0;
        double sigma = sim_dist_lognormal_sigma(d);
        gsl_rng g = as_gsl(r);
        return clamp(sigma > 0 ? gsl_ran_lognormal(&g, log((double)d->a), sigma) : (double)d->a);
    }
    case SIM_DIST_PARETO: {
        if (d->a <= 0 || !(d->shape > 0))
            return d->a > 0 ? d->a : 0;
        gsl_rng g = as_gsl(r);
        return clamp(gsl_ran_pareto(&g, d->shape, (double)d->a));
    }
    }
    return 0;
}

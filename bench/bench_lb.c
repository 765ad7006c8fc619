/* bench_lb.c - cost of the load-balancing pickers and of Fisher-Yates beside the bare
 * random-number loop. Prints one JSON object per line on stdout; reads the system clock,
 * which only benchmarks may do. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lb/lb.h"

static volatile uint64_t sink; /* keeps results alive so loops are not optimised away */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Best of 'reps' timings of 'iters' calls, in ns per call: the least disturbed run. */
#define BEST_OF(reps, iters, out_ns, body)                                                \
    do {                                                                                  \
        double best_ = 1e300;                                                             \
        for (int rep_ = 0; rep_ < (reps); rep_++) {                                       \
            double t0_ = now_s();                                                         \
            for (uint64_t it_ = 0; it_ < (iters); it_++) {                                \
                body;                                                                     \
            }                                                                             \
            double dt_ = (now_s() - t0_) * 1e9 / (double)(iters);                         \
            if (dt_ < best_)                                                              \
                best_ = dt_;                                                              \
        }                                                                                 \
        (out_ns) = best_;                                                                 \
    } while (0)

/* Calls that take about 20 ms at one_ns each (at least 1, at most 2e6). */
static uint64_t iters_for(double one_ns)
{
    double k = 2e7 / (one_ns > 1 ? one_ns : 1);
    return k < 1 ? 1 : k > 2e6 ? 2000000 : (uint64_t)k;
}

static void bench_picker(enum lb_policy p, size_t n)
{
    struct lb *lb = lb_create(p, n, NULL);
    uint32_t *order = malloc(n * sizeof *order);
    if (!lb || !order) {
        fprintf(stderr, "bench-lb: out of memory\n");
        exit(1);
    }
    struct rng r;
    rng_seed(&r, 1);
    /* About 20 ms of work per repetition whatever the per-call cost: one call is timed
     * first to size the loops (swrr's whole order at n = 1000 takes about 1 ms). */
    double one_ns;
    uint64_t acc = 0;
    BEST_OF(1, 1, one_ns, lb_order(lb, &r, order));
    uint64_t oiters = iters_for(one_ns);
    BEST_OF(1, 1, one_ns, acc += lb_pick(lb, &r));
    uint64_t iters = iters_for(one_ns);
    double pick_ns, order_ns;
    BEST_OF(5, iters, pick_ns, acc += lb_pick(lb, &r));
    BEST_OF(5, oiters, order_ns, {
        lb_order(lb, &r, order);
        acc += order[0];
    });
    sink += acc;
    printf("{\"bench\":\"lb_pick\",\"picker\":\"%s\",\"n\":%zu,\"ns_per_pick\":%.2f,"
           "\"ns_per_order\":%.2f}\n",
           lb_policy_name(p), n, pick_ns, order_ns);
    free(order);
    lb_destroy(lb);
}

static void bench_fisher_yates(size_t n)
{
    uint32_t *a = malloc(n * sizeof *a);
    if (!a) {
        fprintf(stderr, "bench-lb: out of memory\n");
        exit(1);
    }
    lb_identity(a, n);
    struct rng r;
    rng_seed(&r, 2);
    double fy_ns = 1e300, rng_ns = 1e300;
    uint64_t acc = 0;
    /* The shuffle works on the array it left last time: a permutation is as good a
     * start as the identity, and re-initialising would add a pass to the timing. The two
     * loops alternate, best of 15 each, so that a busy machine disturbs both alike. */
    for (int rep = 0; rep < 15; rep++) {
        double t, dt;
        BEST_OF(1, 1, dt, lb_shuffle_fisher_yates(a, n, &r));
        fy_ns = dt < fy_ns ? dt : fy_ns;
        BEST_OF(1, 1, t, {
            for (size_t i = n; i > 0; i--)
                acc += rng_below(&r, i);
        });
        rng_ns = t < rng_ns ? t : rng_ns;
    }
    sink += acc + a[n / 2];
    fy_ns /= (double)n;
    rng_ns /= (double)n;
    printf("{\"bench\":\"lb_fisher_yates\",\"vs\":\"rng_below\",\"n\":%zu,"
           "\"ns_per_element\":%.3f,\"rng_ns_per_element\":%.3f,\"ratio\":%.3f,"
           "\"goal_ratio\":1.5}\n",
           n, fy_ns, rng_ns, fy_ns / rng_ns);
    free(a);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: bench-lb\n"
               "Prints JSON lines: ns per pick and per whole order for each picker at n = 7\n"
               "and n = 1000; Fisher-Yates at n = 1e6 beside the bare rng_below loop.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "bench-lb: unexpected argument '%s' (try --help)\n", argv[1]);
        return 2;
    }
    static const size_t ns[] = {7, 1000};
    for (size_t k = 0; k < 2; k++)
        for (int p = 0; p < LB_POLICY_COUNT; p++)
            bench_picker((enum lb_policy)p, ns[k]);
    bench_fisher_yates(1000000);
    return 0;
}

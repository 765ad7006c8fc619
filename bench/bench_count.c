/* bench_count.c - hot loops for counting instructions (`distlab bench`'s counted gate runs
 * this under valgrind's cachegrind). Each loop is deterministic (seeded, no clock), so
 * its instruction count is a property of the code and the compiler, not of the machine's
 * load. With --setup-only it does everything but the loop, and the gate subtracts that
 * run's count: what remains is the loop alone. Prints the same one JSON line either way:
 *   {"bench":"count","loop":"timer-fire","impl":"heap4","n":100000,"ops":100000}
 *
 * usage: bench-count LOOP ARGS... [--setup-only]
 *   timer-insert|timer-cancel|timer-fire KIND N   a tq_ structure (heap2 heap4 wheel
 *                          hwheel), N timers with deadlines uniform in [1 ms, 1 s)
 *   lb-pick POLICY N OPS   OPS picks over N endpoints
 *   fisher-yates N         one shuffle of N elements
 *   sf-next SYNC OPS       OPS snowflake IDs (sync none, cas or mutex), the clock moving
 *                          1 us per ID
 *   sim-events OPS         OPS events of the simulator's loop (callbacks, no actors)
 *   sim-sleep ACTORS SLEEPS   actors each sleeping SLEEPS times (coroutine switches) */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idgen/snowflake.h"
#include "lb/lb.h"
#include "rng/rng.h"
#include "sim/sim.h"
#include "timer/tq.h"

#define MS 1000000LL

static volatile uint64_t sink;
static bool setup_only;
/* What the timer loops leave allocated: reachable, so a leak checker stays quiet. */
static struct tq *kept_q;
static void *kept_t, *kept_when;

static void usage(void)
{
    fprintf(stderr, "usage: bench-count LOOP ARGS... [--setup-only] (see bench_count.c)\n");
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench-count: out of memory\n");
        exit(1);
    }
    return p;
}

static long count_arg(const char *s, long max)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < 1 || v > max)
        usage();
    return v;
}

/* ---- Timers ----------------------------------------------------------------------- */

static void count_fired(struct tq_timer *t, void *arg)
{
    (void)t;
    (*(uint64_t *)arg)++;
}

static long timers(const char *op, const char *kind_name, long n)
{
    int kind = tq_kind_parse(kind_name);
    if (kind < 0)
        usage();
    struct rng r;
    rng_seed(&r, 42);
    struct tq_timer *t = xcalloc((size_t)n, sizeof(*t));
    int64_t *when = xcalloc((size_t)n, sizeof(*when)), max = 0;
    for (long i = 0; i < n; i++) {
        when[i] = 1 * MS + (int64_t)rng_below(&r, 999 * MS);
        max = when[i] > max ? when[i] : max;
    }
    struct tq_config cfg = {.kind = (enum tq_kind)kind, .tick_ns = MS, .slots = 1024};
    struct tq *q = kept_q = tq_create(&cfg);
    kept_t = t;
    kept_when = when;
    if (!q)
        exit(1);
    bool insert = !strcmp(op, "timer-insert");
    if (!insert) /* the set-up of cancel and fire: every timer queued */
        for (long i = 0; i < n; i++)
            tq_add(q, &t[i], when[i]);
    if (setup_only) {
        /* nothing more; and nothing freed, in either mode, so that tearing down a full
         * structure here and an empty one after the loop does not count against it */
    } else if (insert) {
        for (long i = 0; i < n; i++)
            tq_add(q, &t[i], when[i]);
    } else if (!strcmp(op, "timer-cancel")) {
        for (long i = n - 1; i >= 0; i--) /* the reverse of insertion */
            tq_cancel(q, &t[i]);
    } else if (!strcmp(op, "timer-fire")) {
        uint64_t fired = 0;
        tq_expire(q, max + MS, count_fired, &fired);
        sink += fired;
    } else {
        usage();
    }
    return n;
}

/* ---- Load balancing, shuffles, snowflake IDs -------------------------------------- */

static long lb_picks(const char *policy, long n, long ops)
{
    enum lb_policy p;
    if (lb_policy_parse(policy, &p) < 0)
        usage();
    struct lb *lb = lb_create(p, (size_t)n, NULL);
    if (!lb)
        exit(1);
    struct rng r;
    rng_seed(&r, 1);
    uint64_t acc = 0;
    for (long i = 0; i < ops && !setup_only; i++)
        acc += lb_pick(lb, &r);
    sink += acc;
    lb_destroy(lb);
    return ops;
}

static long fisher_yates(long n)
{
    uint32_t *a = xcalloc((size_t)n, sizeof(*a));
    lb_identity(a, (size_t)n);
    struct rng r;
    rng_seed(&r, 2);
    if (!setup_only)
        lb_shuffle_fisher_yates(a, (size_t)n, &r);
    sink += a[n / 2];
    free(a);
    return n;
}

static long sf_ids(const char *sync_name, long ops)
{
    static const char *const names[] = {SF_SYNC_NAMES, NULL};
    int sync = 0;
    while (names[sync] && strcmp(names[sync], sync_name))
        sync++;
    if (!names[sync])
        usage();
    struct sf_config c = {.layout = sf_layout_default,
                          .policy = SF_WAIT,
                          .on_full = SF_FULL_WAIT,
                          .wait_max_ns = 1000000000};
    c.layout.dc_bits = c.layout.worker_bits = 0;
    c.layout.seq_bits = 22; /* 4 M IDs per ms: the sequence never runs out here */
    struct sf_gen *g = sf_gen_create(&c, (enum sf_sync)sync);
    if (!g)
        exit(1);
    int64_t now = 1700000000LL * 1000000000LL;
    uint64_t id, acc = 0;
    for (long i = 0; i < ops && !setup_only; i++, now += 1000)
        if (sf_next(g, now, &id, NULL) == 0)
            acc ^= id;
    sink += acc;
    sf_gen_destroy(g);
    return ops;
}

/* ---- The simulator ---------------------------------------------------------------- */

static long events_left;

static void chain(struct sim *sim, void *arg)
{
    struct rng *r = arg;
    if (--events_left > 0)
        sim_at(sim, sim_now(sim) + 1 + (int64_t)rng_below(r, 1000), chain, arg);
}

static long sim_events(long ops)
{
    struct sim *sim = sim_create(&(struct sim_config){.seed = 1});
    struct rng rngs[64];
    events_left = ops;
    for (int i = 0; i < 64; i++) {
        sim_rng(sim, (uint64_t)i, &rngs[i]);
        sim_at(sim, i, chain, &rngs[i]);
    }
    if (!setup_only)
        sim_run(sim, INT64_MAX);
    sim_destroy(sim);
    return ops;
}

static long sleeps;

static void sleeper(struct env *e, void *arg)
{
    for (long i = 0; i < sleeps; i++)
        env_sleep(e, 1000 + (int64_t)env_rand_below(e, 999000));
}

static long sim_sleep(long actors, long n)
{
    struct sim *sim = sim_create(&(struct sim_config){.seed = 1, .stack_size = 16 * 1024});
    int node = sim_node_add(sim, "n", 1 << 20);
    sleeps = setup_only ? 0 : n;
    for (long i = 0; i < actors; i++)
        if (sim_spawn(sim, node, "s", sleeper, NULL) < 0)
            exit(1);
    sim_run(sim, INT64_MAX); /* with --setup-only the actors start and end at once */
    sim_destroy(sim);
    return actors * n;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[argc - 1], "--setup-only")) {
        setup_only = true;
        argc--;
    }
    if (argc < 2)
        usage();
    const char *loop = argv[1];
    long ops;
    if (!strncmp(loop, "timer-", 6) && argc == 4) {
        ops = timers(loop, argv[2], count_arg(argv[3], 100000000));
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"impl\":\"%s\",\"n\":%ld,\"ops\":%ld}\n",
               loop, argv[2], ops, ops);
    } else if (!strcmp(loop, "lb-pick") && argc == 5) {
        long n = count_arg(argv[3], 1000000);
        ops = lb_picks(argv[2], n, count_arg(argv[4], 1000000000));
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"picker\":\"%s\",\"n\":%ld,\"ops\":%ld}\n",
               loop, argv[2], n, ops);
    } else if (!strcmp(loop, "fisher-yates") && argc == 3) {
        ops = fisher_yates(count_arg(argv[2], 100000000));
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"n\":%ld,\"ops\":%ld}\n", loop, ops, ops);
    } else if (!strcmp(loop, "sf-next") && argc == 4) {
        ops = sf_ids(argv[2], count_arg(argv[3], 1000000000));
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"sync\":\"%s\",\"ops\":%ld}\n", loop, argv[2],
               ops);
    } else if (!strcmp(loop, "sim-events") && argc == 3) {
        ops = sim_events(count_arg(argv[2], 1000000000));
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"ops\":%ld}\n", loop, ops);
    } else if (!strcmp(loop, "sim-sleep") && argc == 4) {
        long actors = count_arg(argv[2], 100000), n = count_arg(argv[3], 1000000);
        sim_sleep(actors, n);
        printf("{\"bench\":\"count\",\"loop\":\"%s\",\"actors\":%ld,\"ops\":%ld}\n", loop, actors,
               actors * n);
    } else {
        usage();
    }
    return 0;
}

/* The four timer structures driven by the same seeded random operations: each against a
 * sorted-array reference of what it must fire (exactly, in order), all four against each
 * other (the wheels within a tick), with every invariant checker after every step. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rng/rng.h"
#include "timer/heap2.h"
#include "timer/tq.h"
#include "timer/tq_impl.h"

enum { KINDS = 4 };

/* One pending timer as the reference sees it. */
struct ref {
    int id;
    int64_t when;
    uint64_t seq;
    int64_t key;      /* heaps: when; wheels: the tick it fires at (max(ceil tick, cur at add)) */
    bool done[KINDS]; /* fired by that structure */
};

struct world {
    struct tq *q[KINDS];
    struct tq_timer *t[KINDS]; /* ids 0..nids-1 per structure */
    int nids;
    int64_t tick;
    struct ref *ref;
    size_t nref;
    uint64_t seq;
    int64_t cur;              /* the wheels' last expired tick */
    int64_t *fired_at[KINDS]; /* per id: index of the expire call that fired it, or -1 */
    int *order;               /* scratch: ids fired by one structure in one call */
    size_t norder;
    int kind; /* whose callback is running */
};

static int64_t ref_tick(int64_t when, int64_t tick)
{
    return when <= 0 ? 0 : (when + tick - 1) / tick; /* independent of tq__tick_ceil */
}

static bool wheel_kind(int k)
{
    return k == TQ_WHEEL || k == TQ_HWHEEL;
}

static void record(struct tq_timer *t, void *arg)
{
    struct world *w = arg;
    int id = (int)(t - w->t[w->kind]);
    cr_assert(id >= 0 && id < w->nids);
    cr_assert_not(tq_timer_queued(t), "fired timer still marked queued");
    w->order[w->norder++] = id;
}

static void world_init(struct world *w, int nids, int64_t tick, uint32_t slots)
{
    memset(w, 0, sizeof(*w));
    w->nids = nids;
    w->tick = tick;
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {
            .kind = (enum tq_kind)k, .hint = 4, .tick_ns = tick, .slots = slots, .start_ns = 0};
        w->q[k] = tq_create(&cfg);
        cr_assert_not_null(w->q[k]);
        w->t[k] = calloc((size_t)nids, sizeof(struct tq_timer));
        w->fired_at[k] = malloc(sizeof(int64_t) * (size_t)nids);
        for (int i = 0; i < nids; i++)
            w->fired_at[k][i] = -1;
    }
    w->ref = calloc((size_t)nids, sizeof(*w->ref));
    w->order = calloc((size_t)nids, sizeof(int));
}

static void world_free(struct world *w)
{
    for (int k = 0; k < KINDS; k++) {
        tq_destroy(w->q[k]);
        free(w->t[k]);
        free(w->fired_at[k]);
    }
    free(w->ref);
    free(w->order);
}

static int ref_find(const struct world *w, int id)
{
    for (size_t i = 0; i < w->nref; i++)
        if (w->ref[i].id == id)
            return (int)i;
    return -1;
}

static void op_add(struct world *w, int id, int64_t when)
{
    for (int k = 0; k < KINDS; k++)
        cr_assert_eq(tq_add(w->q[k], &w->t[k][id], when), 0);
    int64_t tk = ref_tick(when, w->tick);
    w->ref[w->nref++] = (struct ref){id, when, w->seq++, tk > w->cur ? tk : w->cur, {0}};
    for (int k = 0; k < KINDS; k++)
        cr_assert_eq(w->t[k][id].node.seq, w->ref[w->nref - 1].seq);
}

static void op_cancel(struct world *w, int id)
{
    for (int k = 0; k < KINDS; k++)
        tq_cancel(w->q[k], &w->t[k][id]);
    int i = ref_find(w, id);
    if (i >= 0)
        w->ref[i] = w->ref[--w->nref];
}

/* The reference's firing list for structure kind k at 'now', in order. */
static size_t ref_due(const struct world *w, int k, int64_t now, int64_t to, struct ref *out)
{
    size_t m = 0;
    for (size_t i = 0; i < w->nref; i++) {
        const struct ref *r = &w->ref[i];
        if (r->done[k])
            continue;
        if (wheel_kind(k) ? r->key <= to : r->when <= now)
            out[m++] = *r;
    }
    /* insertion sort by (when or key, seq): m is small */
    for (size_t i = 1; i < m; i++) {
        struct ref x = out[i];
        int64_t kx = wheel_kind(k) ? x.key : x.when;
        size_t j = i;
        while (j > 0) {
            int64_t kj = wheel_kind(k) ? out[j - 1].key : out[j - 1].when;
            if (kj < kx || (kj == kx && out[j - 1].seq < x.seq))
                break;
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    return m;
}

static void op_expire(struct world *w, int64_t now, int64_t call, struct ref *scratch)
{
    int64_t to = now < 0 ? -1 : now / w->tick;
    for (int k = 0; k < KINDS; k++) {
        size_t m = ref_due(w, k, now, to > w->cur ? to : w->cur, scratch);
        w->kind = k;
        w->norder = 0;
        size_t got = tq_expire(w->q[k], now, record, w);
        cr_assert_eq(got, w->norder);
        cr_assert_eq(got, m, "%s at %lld fired %zu, reference %zu", tq_name(w->q[k]),
                     (long long)now, got, m);
        for (size_t i = 0; i < m; i++) {
            cr_assert_eq(w->order[i], scratch[i].id, "%s fired out of order at %lld",
                         tq_name(w->q[k]), (long long)now);
            w->fired_at[k][scratch[i].id] = call;
            w->ref[ref_find(w, scratch[i].id)].done[k] = true;
        }
    }
    if (to > w->cur)
        w->cur = to;
    /* an id stays in the reference until the last structure (a wheel) has fired it */
    for (size_t i = 0; i < w->nref;) {
        bool all = true;
        for (int k = 0; k < KINDS; k++)
            all = all && w->ref[i].done[k];
        if (all)
            w->ref[i] = w->ref[--w->nref];
        else
            i++;
    }
}

/* Deadlines at every scale: ties, late adds, the next few ticks, and far levels. */
static int64_t draw_when(struct rng *r, int64_t now, int64_t tick)
{
    switch (rng_below(r, 10)) {
    case 0:
        return now - (int64_t)rng_below(r, (uint64_t)(3 * tick)); /* already due */
    case 1:
        return (now / 50 + 1) * 50; /* many equal deadlines */
    case 2:
    case 3:
    case 4:
        return now + (int64_t)rng_below(r, (uint64_t)(4 * tick));
    case 5:
    case 6:
        return now + (int64_t)rng_below(r, (uint64_t)(64 * tick));
    case 7:
    case 8:
        return now + (int64_t)rng_below(r, (uint64_t)(64 * 64 * tick));
    default:
        return now + (int64_t)rng_below(r, (uint64_t)(64 * 64 * 64 * 8 * tick));
    }
}

static void run_random(uint64_t seed, int64_t tick, uint32_t slots, int steps)
{
    enum { NIDS = 300 };
    struct world w;
    world_init(&w, NIDS, tick, slots);
    struct ref *scratch = calloc(NIDS, sizeof(*scratch));
    int64_t *when_of = calloc(NIDS, sizeof(*when_of));
    int64_t *add_call = calloc(NIDS, sizeof(*add_call));
    int64_t *now_of_call = calloc((size_t)steps + 1, sizeof(int64_t));
    struct rng r;
    rng_seed(&r, seed);
    int64_t now = 0, calls = 0;
    for (int step = 0; step < steps; step++) {
        int id = (int)rng_below(&r, NIDS);
        bool queued = tq_timer_queued(&w.t[TQ_HEAP4][id]) || ref_find(&w, id) >= 0;
        uint64_t op = rng_below(&r, 100);
        if (op < 45 && !queued) {
            int64_t when = draw_when(&r, now, tick);
            when_of[id] = when;
            add_call[id] = calls;
            for (int k = 0; k < KINDS; k++)
                w.fired_at[k][id] = -1;
            op_add(&w, id, when);
        } else if (op < 60 && queued) {
            op_cancel(&w, id);
        } else if (op < 97) {
            now += (int64_t)rng_below(&r, (uint64_t)(2 * tick));
            now_of_call[calls] = now;
            op_expire(&w, now, calls++, scratch);
        } else {
            now += (int64_t)rng_below(&r, (uint64_t)(64 * 64 * 64 * tick)); /* a jump */
            now_of_call[calls] = now;
            op_expire(&w, now, calls++, scratch);
        }
        for (int k = 0; k < KINDS; k++) {
            cr_assert(tq_check(w.q[k]), "%s invariants broken at step %d", tq_name(w.q[k]), step);
            /* next: exact for heaps, a lower bound for wheels */
            int64_t nx = tq_next(w.q[k]);
            int64_t best = INT64_MAX;
            for (size_t i = 0; i < w.nref; i++) {
                if (w.ref[i].done[k])
                    continue;
                int64_t v = wheel_kind(k) ? w.ref[i].key * tick : w.ref[i].when;
                best = v < best ? v : best;
            }
            if (wheel_kind(k))
                cr_assert_leq(nx, best, "%s: next %lld after due %lld", tq_name(w.q[k]),
                              (long long)nx, (long long)best);
            else
                cr_assert_eq(nx, best, "%s: next %lld, earliest %lld", tq_name(w.q[k]),
                             (long long)nx, (long long)best);
        }
        /* All four fire the same timers; a wheel never before a heap, and never in a call
         * whose previous call was already a tick past the deadline. */
        for (int i = 0; i < NIDS; i++) {
            int64_t h = w.fired_at[TQ_HEAP4][i];
            cr_assert_eq(w.fired_at[TQ_HEAP2][i], h, "heaps disagree on timer %d", i);
            for (int k = TQ_WHEEL; k <= TQ_HWHEEL; k++) {
                int64_t c = w.fired_at[k][i];
                if (c < 0)
                    continue;
                cr_assert(h >= 0 && c >= h, "%s fired timer %d before a heap did", tq_name(w.q[k]),
                          i);
                if (c > add_call[i])
                    cr_assert_lt(now_of_call[c - 1], when_of[i] + tick,
                                 "%s held timer %d more than a tick", tq_name(w.q[k]), i);
            }
        }
    }
    free(scratch);
    free(when_of);
    free(add_call);
    free(now_of_call);
    world_free(&w);
}

Test(tq, same_random_ops_fire_same_timers_small_tick)
{
    for (uint64_t seed = 1; seed <= 3; seed++)
        run_random(seed, 7, 16, 20000);
}

Test(tq, same_random_ops_fire_same_timers_large_odd_tick)
{
    for (uint64_t seed = 10; seed <= 12; seed++)
        run_random(seed, 999983, 64, 20000);
}

Test(tq, same_random_ops_fire_same_timers_wide_wheel)
{
    run_random(77, 1000, 4096, 20000);
}

static void count_fire(struct tq_timer *t, void *arg)
{
    (void)t;
    (*(int *)arg)++;
}

struct seqcheck {
    struct tq_timer *base;
    int next;
};

static void in_order(struct tq_timer *t, void *arg)
{
    struct seqcheck *s = arg;
    cr_assert_eq(t - s->base, s->next, "fired %d, expected %d", (int)(t - s->base), s->next);
    s->next++;
}

Test(tq, equal_deadlines_fire_in_insertion_order)
{
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .tick_ns = 1000, .slots = 8};
        struct tq *q = tq_create(&cfg);
        struct tq_timer t[500] = {0};
        for (int i = 0; i < 500; i++)
            cr_assert_eq(tq_add(q, &t[i], 123456789), 0);
        struct seqcheck s = {t, 0};
        cr_assert_eq(tq_expire(q, 123456789 + 1000, in_order, &s), 500);
        cr_assert_eq(s.next, 500);
        tq_destroy(q);
    }
}

Test(tq, adding_a_queued_timer_is_rejected)
{
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .tick_ns = 10, .slots = 8};
        struct tq *q = tq_create(&cfg);
        struct tq_timer t = {0};
        cr_assert_eq(tq_add(q, &t, 5), 0);
        cr_assert_eq(tq_add(q, &t, 6), -EINVAL);
        cr_assert_eq(tq_size(q), 1);
        tq_cancel(q, &t);
        tq_cancel(q, &t); /* not queued: left alone */
        cr_assert_eq(tq_size(q), 0);
        cr_assert(tq_check(q));
        tq_destroy(q);
    }
}

Test(tq, bad_configs_are_refused)
{
    struct tq_config bad[] = {
        {.kind = TQ_WHEEL, .tick_ns = 0, .slots = 8},
        {.kind = TQ_WHEEL, .tick_ns = 10, .slots = 12},
        {.kind = TQ_WHEEL, .tick_ns = 10, .slots = 0},
        {.kind = TQ_HWHEEL, .tick_ns = -1},
        {.kind = (enum tq_kind)9},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        cr_assert_null(tq_create(&bad[i]), "config %zu accepted", i);
        cr_assert_eq(errno, EINVAL);
    }
    cr_assert_eq(tq_kind_parse("hwheel"), TQ_HWHEEL);
    cr_assert_eq(tq_kind_parse("wheel"), TQ_WHEEL);
    cr_assert_lt(tq_kind_parse("fibheap"), 0);
}

/* A callback that cancels a timer due in the same call, and re-arms itself once. */
struct reentry {
    struct tq *q;
    struct tq_timer *t;
    int fired[3];
};

static void reenter(struct tq_timer *t, void *arg)
{
    struct reentry *r = arg;
    int id = (int)(t - r->t);
    r->fired[id]++;
    if (id == 0) {
        tq_cancel(r->q, &r->t[1]);
        if (r->fired[0] == 1)
            cr_assert_eq(tq_add(r->q, t, 0), 0); /* already due: fires in this call */
    }
}

Test(tq, callbacks_may_cancel_and_rearm)
{
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .tick_ns = 10, .slots = 8};
        struct reentry r = {.q = tq_create(&cfg)};
        struct tq_timer t[3] = {0};
        r.t = t;
        tq_add(r.q, &t[0], 100);
        tq_add(r.q, &t[1], 100);
        tq_add(r.q, &t[2], 100);
        cr_assert_eq(tq_expire(r.q, 200, reenter, &r), 3, "%s", tq_name(r.q));
        cr_assert_eq(r.fired[0], 2);
        cr_assert_eq(r.fired[1], 0, "%s fired a timer cancelled by a callback", tq_name(r.q));
        cr_assert_eq(r.fired[2], 1);
        cr_assert_eq(tq_size(r.q), 0);
        cr_assert(tq_check(r.q));
        tq_destroy(r.q);
    }
}

/* The contract a cancel keeps: the caller may free a timer the moment tq_cancel returns,
 * also from a callback. Each timer is its own allocation; a cancelled one is scribbled
 * over and freed at once, so a structure that touched it again (firing, cascading,
 * compacting, destroying) would fire garbage, fail its checker, or be caught by ASan. */
struct freeing {
    struct tq *q;
    struct tq_timer **t; /* NULL once freed */
    int n, fired, freed;
    struct rng r;
};

static void cancel_and_free(struct freeing *f, int i)
{
    if (!f->t[i])
        return;
    tq_cancel(f->q, f->t[i]);
    memset(f->t[i], 0xa5, sizeof(*f->t[i]));
    free(f->t[i]);
    f->t[i] = NULL;
    f->freed++;
}

static void fire_and_free_some(struct tq_timer *t, void *arg)
{
    struct freeing *f = arg;
    cr_assert_not(tq_timer_queued(t));
    f->fired++;
    for (int k = 0; k < 2; k++) /* cancel two others, maybe ahead in this very slot */
        cancel_and_free(f, (int)rng_below(&f->r, (uint64_t)f->n));
}

Test(tq, a_cancelled_timer_may_be_freed_at_once)
{
    enum { N = 3000 };
    const int64_t tick = 1000;
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .tick_ns = tick, .slots = 64};
        struct freeing f = {.q = tq_create(&cfg), .t = calloc(N, sizeof(*f.t)), .n = N};
        rng_seed(&f.r, 11);
        for (int round = 0; round < 3; round++) { /* cancels between adds: compaction */
            for (int i = 0; i < N; i++)
                if (!f.t[i] || !tq_timer_queued(f.t[i])) {
                    if (!f.t[i])
                        f.t[i] = calloc(1, sizeof(*f.t[i]));
                    int64_t span = (int64_t)(1 + rng_below(&f.r, 4)) * 6; /* levels 0-3 */
                    tq_add(f.q, f.t[i], (int64_t)rng_below(&f.r, (1ULL << span) * tick));
                }
            for (int i = 0; i < N * 3 / 4; i++)
                cancel_and_free(&f, (int)rng_below(&f.r, N));
            cr_assert(tq_check(f.q), "%s", tq_name(f.q));
        }
        for (int step = 0; tq_size(f.q) > N / 10; step++) { /* fire most of the rest */
            tq_expire(f.q, tq_next(f.q), fire_and_free_some, &f);
            if (step % 16 == 0)
                cr_assert(tq_check(f.q), "%s", tq_name(f.q));
        }
        cr_assert_gt(f.fired, 0);
        cr_assert_gt(f.freed, N);
        tq_destroy(f.q); /* with timers still queued and freed ones in its arrays */
        for (int i = 0; i < N; i++)
            free(f.t[i]);
        free(f.t);
    }
}

/* A driver that sleeps until tq_next and expires there fires every timer at its deadline
 * (heaps) or exactly at its deadline rounded up to a tick (wheels): lateness in [0, tick). */
struct stamp {
    int64_t now;
    int64_t *at;
    struct tq_timer *base;
    int fired;
};

static void stamp_fire(struct tq_timer *t, void *arg)
{
    struct stamp *s = arg;
    s->at[t - s->base] = s->now;
    s->fired++;
}

Test(tq, driver_on_next_fires_within_a_tick)
{
    enum { N = 3000 };
    const int64_t tick = 1000;
    for (int k = 0; k < KINDS; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .tick_ns = tick, .slots = 64};
        struct tq *q = tq_create(&cfg);
        struct tq_timer *t = calloc(N, sizeof(*t));
        struct stamp s = {0, calloc(N, sizeof(int64_t)), t, 0};
        struct rng r;
        rng_seed(&r, 5);
        for (int i = 0; i < N; i++)
            tq_add(q, &t[i], (int64_t)rng_below(&r, 64ULL * 64 * 64 * tick));
        int wakeups = 0;
        while (tq_size(q)) {
            int64_t nx = tq_next(q);
            cr_assert_geq(nx, s.now, "%s: next went back", tq_name(q));
            s.now = nx;
            tq_expire(q, s.now, stamp_fire, &s);
            wakeups++;
        }
        cr_assert_eq(s.fired, N);
        for (int i = 0; i < N; i++) {
            int64_t w = t[i].node.when;
            int64_t due = wheel_kind(k) ? ref_tick(w, tick) * tick : w;
            cr_assert_eq(s.at[i], due, "%s fired timer %d (at %lld) at %lld", tq_name(q), i,
                         (long long)w, (long long)s.at[i]);
        }
        /* a hashed wheel wakes for each occupied slot each round (4096 rounds of 64 slots
         * here): the cost of deadlines far beyond its span; the others about once a timer */
        int bound = k == TQ_WHEEL ? N + 64 * 64 * 64 : 2 * N;
        cr_assert_leq(wakeups, bound, "%s woke %d times for %d timers", tq_name(q), wakeups, N);
        tq_destroy(q);
        free(t);
        free(s.at);
    }
}

/* Sift levels per pop of a full heap: the last leaf sinks from the root to near the
 * bottom, so the count is close to the depth, log_d n. */
Test(tq, heap_pops_sift_about_log_d_n_levels)
{
    enum { N = 1 << 16 };
    for (int k = TQ_HEAP2; k <= TQ_HEAP4; k++) {
        struct tq_config cfg = {.kind = (enum tq_kind)k, .hint = N};
        struct tq *q = tq_create(&cfg);
        struct tq_timer *t = calloc(N, sizeof(*t));
        struct rng r;
        rng_seed(&r, 9);
        for (int i = 0; i < N; i++)
            tq_add(q, &t[i], (int64_t)rng_below(&r, 1ULL << 40));
        uint64_t before = tq_stats(q)->sift_levels;
        int fired = 0;
        /* fire the earliest 1000 */
        for (int i = 0; i < 1000; i++)
            tq_expire(q, tq_next(q), count_fire, &fired);
        double per = (double)(tq_stats(q)->sift_levels - before) / fired;
        double depth = k == TQ_HEAP2 ? 16.0 : 8.0; /* log2(2^16), log4(2^16) */
        cr_assert(per > depth - 2.5 && per <= depth + 0.01, "%s: %.2f levels per pop", tq_name(q),
                  per);
        /* inserting random keys moves few levels: expected O(1) */
        before = tq_stats(q)->sift_levels;
        for (int i = 0; i < fired; i++)
            tq_add(q, &t[i], (int64_t)rng_below(&r, 1ULL << 40) + (1LL << 40));
        cr_assert_lt(tq_stats(q)->sift_levels - before, (uint64_t)fired * 3);
        cr_assert(tq_check(q));
        tq_destroy(q);
        free(t);
    }
}

Test(tq, reciprocal_division_is_exact)
{
    struct rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < 200000; i++) {
        int64_t tick = (int64_t)(rng_next(&r) >> (1 + rng_below(&r, 63)));
        if (tick <= 0)
            tick = 1;
        struct tq__ticks k;
        tq__ticks_init(&k, 0, tick);
        uint64_t x = rng_next(&r) >> rng_below(&r, 64);
        cr_assert_eq(tq__div(&k, x), x / (uint64_t)tick, "%llu / %lld", (unsigned long long)x,
                     (long long)tick);
    }
}

Test(heap2, pops_in_key_order_and_checks)
{
    struct tq2 h;
    cr_assert_eq(tq2_init(&h, 1), 0);
    struct tq_node n[1000] = {0};
    struct rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(tq2_push(&h, &n[i], (int64_t)rng_below(&r, 100)), 0);
        cr_assert(tq2_check(&h));
    }
    for (int i = 0; i < 1000; i += 3)
        tq2_cancel(&h, &n[i]);
    cr_assert(tq2_check(&h));
    struct tq_node *prev = NULL;
    while (tq2_size(&h)) {
        struct tq_node *t = tq2_pop(&h);
        if (prev)
            cr_assert(prev->when < t->when || (prev->when == t->when && prev->seq < t->seq));
        prev = t;
    }
    cr_assert_null(tq2_pop(&h));
    tq2_cleanup(&h);
}

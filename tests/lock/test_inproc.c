/* test_inproc.c - the in-process locks of primitives/lock (counter.h, tokchan.h,
 * trylock.h) in both worlds: the mutex counter is exact under live threads, a try-lock
 * has exactly one winner among simultaneous attempts (live threads and simulated
 * actors), spinning locks exclude, and the simulated CPU model charges spin attempts to
 * the holder's core. Live assertions depend on no timing, only on exclusion. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "live/live.h"
#include "lock/counter.h"
#include "lock/tokchan.h"
#include "lock/trylock.h"
#include "sim/sim.h"

/* ---- Single-threaded contracts --------------------------------------------------- */

Test(lock_tokchan, model_user_and_pipe_hold_one_token)
{
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    struct lock_tokchan *c[3] = {lock_tokchan_model(0, 0), live_tokchan_user(),
                                 live_tokchan_pipe()};
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(c[i]);
        cr_assert(lock_tokchan_check(c[i]));
        cr_assert_eq(lock_tokchan_tokens(c[i]), 1);
        cr_assert_eq(lock_tokchan_put(c[i], e), -EBUSY, "%s: a double put must be refused",
                     lock_tokchan_kind(c[i]));
        cr_assert(lock_tokchan_check(c[i]), "%s: a refused put changes nothing",
                  lock_tokchan_kind(c[i]));
        cr_assert(lock_tokchan_take(c[i], e));
        cr_assert(lock_tokchan_check(c[i]));
        cr_assert_not(lock_tokchan_take(c[i], e), "%s: empty, fails at once",
                      lock_tokchan_kind(c[i]));
        cr_assert_eq(lock_tokchan_tokens(c[i]), 0);
        cr_assert_eq(lock_tokchan_put(c[i], e), 0);
        cr_assert(lock_tokchan_check(c[i]));
        cr_assert(lock_tokchan_take(c[i], e));
        cr_assert_eq(lock_tokchan_put(c[i], e), 0);
        lock_tokchan_destroy(c[i]);
    }
    live_world_destroy(w);
}

Test(lock_try, acquire_fails_while_held_and_succeeds_after_release)
{
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    struct lock_try *l[3] = {lock_try_cas(0), lock_try_chan(live_tokchan_user()),
                             lock_try_chan(live_tokchan_pipe())};
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(l[i]);
        cr_assert_not(lock_try_held(l[i]));
        cr_assert(lock_try_acquire(l[i], e));
        cr_assert(lock_try_held(l[i]));
        cr_assert(lock_try_check(l[i]));
        for (int k = 0; k < 3; k++)
            cr_assert_not(lock_try_acquire(l[i], e), "%s", lock_try_kind(l[i]));
        struct lock_spin p = {LOCK_SPIN_NONE, 1, 1};
        struct lock_spin_stats st;
        int64_t deadline = env_mono(e) + 1000000; /* 1 ms */
        cr_assert_not(lock_spin_acquire(l[i], e, &p, deadline, &st),
                      "a held lock: the spin gives up at the deadline");
        cr_assert_geq(env_mono(e), deadline);
        cr_assert_geq(st.attempts, 16);
        lock_try_release(l[i], e);
        cr_assert_not(lock_try_held(l[i]));
        cr_assert(lock_spin_acquire(l[i], e, &p, deadline, &st));
        cr_assert_eq(st.attempts, 1);
        lock_try_release(l[i], e);
        cr_assert(lock_try_check(l[i]));
        lock_try_destroy(l[i]);
    }
    live_world_destroy(w);
}

Test(lock_names, parse_what_they_print)
{
    for (int g = 0; g < 2; g++) {
        enum lock_guard out;
        cr_assert_eq(lock_guard_parse(lock_guard_name((enum lock_guard)g), &out), 0);
        cr_assert_eq((int)out, g);
    }
    for (int k = 0; k < 3; k++) {
        enum lock_spin_kind out;
        cr_assert_eq(lock_spin_parse(lock_spin_name((enum lock_spin_kind)k), &out), 0);
        cr_assert_eq((int)out, k);
    }
    enum lock_guard g = LOCK_GUARD_MUTEX;
    cr_assert_eq(lock_guard_parse("spinlock", &g), -EINVAL);
    cr_assert_eq(g, LOCK_GUARD_MUTEX, "untouched on error");
    cr_assert_null(lock_guard_name((enum lock_guard)7));
    cr_assert_null(lock_spin_name((enum lock_spin_kind)7));
}

/* ---- Live threads ---------------------------------------------------------------- */

struct live_count {
    struct lock_counter *c;
    int per;
};

static void live_incr(struct env *e, void *arg)
{
    struct live_count *lc = arg;
    for (int i = 0; i < lc->per; i++)
        lock_counter_incr(lc->c, e, 0);
}

Test(lock_counter, mutex_counts_exactly_under_live_threads)
{
    struct live_world *w = live_world_create(1);
    struct lock_counter *c = lock_counter_create(live_world_env(w), LOCK_GUARD_MUTEX);
    cr_assert_not_null(c);
    struct live_count lc = {c, 20000};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(live_spawn(w, "incr", live_incr, &lc, NULL), 0);
    live_join_all(w);
    cr_assert_eq(lock_counter_value(c), 8 * 20000);
    cr_assert(lock_counter_check(c));
    lock_counter_destroy(c, live_world_env(w));
    live_world_destroy(w);
}

/* Rounds of n threads: each round every thread tries once; the winner keeps the lock
 * until all n have tried, so exactly one may win. A start gate per round makes the
 * attempts as simultaneous as threads can be. */
struct round_ctx {
    struct lock_try *l;
    int n, rounds;
    struct env_mutex m;
    struct env_cond c;
    int gen, tried, done;
    int winners[200];
    atomic_int inside, overlap;
};

static void round_worker(struct env *e, void *arg)
{
    struct round_ctx *r = arg;
    for (int round = 1; round <= r->rounds; round++) {
        env_mutex_lock(e, &r->m);
        while (r->gen < round)
            env_cond_wait(e, &r->c, &r->m, -1);
        env_mutex_unlock(e, &r->m);
        bool won = lock_try_acquire(r->l, e);
        if (won && atomic_fetch_add(&r->inside, 1) != 0)
            atomic_fetch_add(&r->overlap, 1);
        env_mutex_lock(e, &r->m);
        r->tried++;
        r->winners[round - 1] += won;
        env_cond_broadcast(e, &r->c);
        if (won) {
            while (r->tried < r->n)
                env_cond_wait(e, &r->c, &r->m, -1);
            atomic_fetch_sub(&r->inside, 1);
            lock_try_release(r->l, e);
        }
        r->done++;
        env_cond_broadcast(e, &r->c);
        env_mutex_unlock(e, &r->m);
    }
}

/* The round driver: opens each round and waits until all n are done with it. */
static void round_main(struct env *e, struct round_ctx *r)
{
    for (int round = 1; round <= r->rounds; round++) {
        env_mutex_lock(e, &r->m);
        r->tried = r->done = 0;
        r->gen = round;
        env_cond_broadcast(e, &r->c);
        while (r->done < r->n)
            env_cond_wait(e, &r->c, &r->m, -1);
        env_mutex_unlock(e, &r->m);
    }
}

static void check_rounds(const struct round_ctx *r, const char *what)
{
    cr_assert_eq(atomic_load(&r->overlap), 0, "%s: two holders at once", what);
    for (int i = 0; i < r->rounds; i++)
        cr_assert_eq(r->winners[i], 1, "%s: round %d had %d winners", what, i, r->winners[i]);
}

Test(lock_try, exactly_one_winner_per_round_under_live_threads)
{
    for (int chan = 0; chan < 3; chan++) {
        struct live_world *w = live_world_create(2);
        struct env *e = live_world_env(w);
        static struct round_ctx r;
        memset(&r, 0, sizeof(r));
        r.l = chan == 2 ? lock_try_chan(live_tokchan_pipe())
              : chan    ? lock_try_chan(live_tokchan_user())
                        : lock_try_cas(0);
        cr_assert_not_null(r.l);
        r.n = 10;
        r.rounds = 200;
        env_mutex_init(e, &r.m);
        env_cond_init(e, &r.c);
        for (int i = 0; i < r.n; i++)
            cr_assert_eq(live_spawn(w, "try", round_worker, &r, NULL), 0);
        round_main(e, &r);
        live_join_all(w);
        check_rounds(&r, chan == 2 ? "pipe" : chan ? "user chan" : "cas");
        cr_assert(lock_try_check(r.l));
        cr_assert_not(lock_try_held(r.l));
        lock_try_destroy(r.l);
        env_cond_destroy(e, &r.c);
        env_mutex_destroy(e, &r.m);
        live_world_destroy(w);
    }
}

/* Spinners (every policy) incrementing a plain counter under the try-lock. */
struct spin_ctx {
    struct lock_try *l;
    struct lock_spin p;
    int per;
    long plain; /* protected only by the try-lock */
    atomic_int inside, overlap;
    int64_t work_ns;
};

static void spin_worker(struct env *e, void *arg)
{
    struct spin_ctx *s = arg;
    for (int i = 0; i < s->per; i++) {
        cr_assert(lock_spin_acquire(s->l, e, &s->p, -1, NULL));
        if (atomic_fetch_add(&s->inside, 1) != 0)
            atomic_fetch_add(&s->overlap, 1);
        long v = s->plain;
        if (s->work_ns)
            env_work(e, s->work_ns);
        s->plain = v + 1;
        atomic_fetch_sub(&s->inside, 1);
        lock_try_release(s->l, e);
    }
}

Test(lock_try, spinning_locks_exclude_under_live_threads)
{
    for (int chan = 0; chan < 3; chan++) {
        for (int k = 0; k < 3; k++) {
            struct live_world *w = live_world_create(3);
            struct spin_ctx s = {.p = {(enum lock_spin_kind)k, 100, 10000},
                                 .per = chan == 2 ? 2000 : 20000};
            s.l = chan == 2 ? lock_try_chan(live_tokchan_pipe())
                  : chan    ? lock_try_chan(live_tokchan_user())
                            : lock_try_cas(0);
            cr_assert_not_null(s.l);
            for (int i = 0; i < 4; i++)
                cr_assert_eq(live_spawn(w, "spin", spin_worker, &s, NULL), 0);
            live_join_all(w);
            cr_assert_eq(s.plain, 4L * s.per, "%s/%s: %ld", lock_try_kind(s.l),
                         lock_spin_name(s.p.kind), s.plain);
            cr_assert_eq(atomic_load(&s.overlap), 0);
            lock_try_destroy(s.l);
            live_world_destroy(w);
        }
    }
}

/* ---- Simulated actors ------------------------------------------------------------ */

static struct sim *mk(uint64_t seed)
{
    struct sim_config cfg = {.seed = seed};
    struct sim *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    return sim;
}

static void sim_round_main(struct env *e, void *arg)
{
    struct round_ctx *r = arg;
    env_mutex_init(e, &r->m);
    env_cond_init(e, &r->c);
    for (int i = 0; i < r->n; i++) {
        uint64_t h;
        cr_assert_eq(env_spawn(e, "try", round_worker, r, &h), 0);
    }
    round_main(e, r);
}

Test(lock_try, exactly_one_winner_per_round_in_the_simulation)
{
    for (int chan = 0; chan < 2; chan++) {
        for (int cores = 1; cores <= 4; cores *= 2) {
            struct sim *sim = mk(4);
            int n = sim_node_add(sim, "n", cores);
            static struct round_ctx r;
            memset(&r, 0, sizeof(r));
            r.l = chan ? lock_try_chan(lock_tokchan_model(1000, 1000)) : lock_try_cas(100);
            r.n = 10;
            r.rounds = 50;
            sim_spawn(sim, n, "main", sim_round_main, &r);
            cr_assert_eq(sim_run(sim, 10 * SIM_S), SIM_STOP_IDLE, "%s", sim_error(sim));
            check_rounds(&r, chan == 2 ? "pipe" : chan ? "user chan" : "cas");
            cr_assert(lock_try_check(r.l));
            lock_try_destroy(r.l);
            sim_destroy(sim);
        }
    }
}

static void sim_spin_main(struct env *e, void *arg)
{
    struct spin_ctx *s = arg;
    uint64_t h[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(env_spawn(e, "spin", spin_worker, s, &h[i]), 0);
    for (int i = 0; i < 8; i++)
        env_join(e, h[i]);
}

Test(lock_try, spinning_locks_exclude_in_the_simulation)
{
    for (int k = 0; k < 3; k++) {
        struct sim *sim = mk(5);
        int n = sim_node_add(sim, "n", 2);
        struct spin_ctx s = {
            .p = {(enum lock_spin_kind)k, 100, 100000}, .per = 200, .work_ns = 3000};
        s.l = lock_try_cas(100);
        sim_spawn(sim, n, "main", sim_spin_main, &s);
        cr_assert_eq(sim_run(sim, 100 * SIM_S), SIM_STOP_IDLE, "%s", sim_error(sim));
        cr_assert_eq(s.plain, 8 * 200, "%s: %ld", lock_spin_name(s.p.kind), s.plain);
        cr_assert_eq(atomic_load(&s.overlap), 0);
        lock_try_destroy(s.l);
        sim_destroy(sim);
    }
}

/* A node's main actor: makes the counter with its env, runs 10 one-increment workers
 * that start together (they are spawned in one instant), reads the count. */
struct sim_count {
    enum lock_guard guard;
    int64_t work_ns;
    int64_t final;
};

struct sim_count_worker {
    struct lock_counter *c;
    int64_t work_ns;
};

static void sim_count_one(struct env *e, void *arg)
{
    struct sim_count_worker *w = arg;
    lock_counter_incr(w->c, e, w->work_ns);
}

static void sim_count_main(struct env *e, void *arg)
{
    struct sim_count *sc = arg;
    struct sim_count_worker w = {lock_counter_create(e, sc->guard), sc->work_ns};
    cr_assert_not_null(w.c);
    uint64_t h[10];
    for (int i = 0; i < 10; i++)
        cr_assert_eq(env_spawn(e, "incr", sim_count_one, &w, &h[i]), 0);
    for (int i = 0; i < 10; i++)
        env_join(e, h[i]);
    sc->final = lock_counter_value(w.c);
    cr_assert(lock_counter_check(w.c));
    lock_counter_destroy(w.c, e);
}

static int64_t sim_count(enum lock_guard g, int cores, int64_t work_ns)
{
    struct sim *sim = mk(6);
    int n = sim_node_add(sim, "n", cores);
    struct sim_count sc = {g, work_ns, -1};
    sim_spawn(sim, n, "main", sim_count_main, &sc);
    cr_assert_eq(sim_run(sim, SIM_S), SIM_STOP_IDLE, "%s", sim_error(sim));
    sim_destroy(sim);
    return sc.final;
}

Test(lock_counter, simulated_race_loses_the_derived_count)
{
    /* Without a lock, waves of C workers read the same value before any writes:
     * ceil(10 / C) increments survive. (The main actor spawns them all at time 0 and
     * blocks in env_join at once, so its core joins the first wave.) */
    cr_assert_eq(sim_count(LOCK_GUARD_NONE, 1, 1000), 10, "one core: no overlap");
    cr_assert_eq(sim_count(LOCK_GUARD_NONE, 2, 1000), 5);
    cr_assert_eq(sim_count(LOCK_GUARD_NONE, 4, 1000), 3);
    cr_assert_eq(sim_count(LOCK_GUARD_NONE, 2, 0), 10, "no work between read and write");
    for (int cores = 1; cores <= 4; cores *= 2)
        cr_assert_eq(sim_count(LOCK_GUARD_MUTEX, cores, 1000), 10);
}

/* The holder of a CAS lock needs 40 ms of CPU inside its critical section; k spinners
 * on the same single core try the lock (100 ns per attempt) meanwhile. Round robin gives
 * the holder 1/(k+1) of the core, so it ends near 40 ms x (k + 1); spinners that back
 * off sleep instead and cost it almost nothing. */
struct hold_ctx {
    struct lock_try *l;
    struct lock_spin p;
    int64_t done;
    uint64_t attempts;
};

static void holder(struct env *e, void *arg)
{
    struct hold_ctx *h = arg;
    cr_assert(lock_try_acquire(h->l, e));
    env_work(e, 40 * SIM_MS);
    h->done = sim_env_true_now(e);
    lock_try_release(h->l, e);
}

static void spinner(struct env *e, void *arg)
{
    struct hold_ctx *h = arg;
    struct lock_spin_stats st;
    cr_assert(lock_spin_acquire(h->l, e, &h->p, -1, &st));
    h->attempts += st.attempts;
    lock_try_release(h->l, e);
}

static int64_t holder_done(enum lock_spin_kind kind, int k, uint64_t *attempts)
{
    struct sim *sim = mk(7);
    int n = sim_node_add(sim, "n", 1);
    struct hold_ctx h = {.l = lock_try_cas(100), .p = {kind, 1000, 1000000}};
    sim_spawn(sim, n, "holder", holder, &h);
    for (int i = 0; i < k; i++)
        sim_spawn(sim, n, "spinner", spinner, &h);
    cr_assert_eq(sim_run(sim, 10 * SIM_S), SIM_STOP_IDLE, "%s", sim_error(sim));
    lock_try_destroy(h.l);
    sim_destroy(sim);
    if (attempts)
        *attempts = h.attempts;
    return h.done;
}

Test(lock_spin, simulated_spinners_slow_the_holder)
{
    for (int k = 0; k <= 2; k++) {
        int64_t done = holder_done(LOCK_SPIN_NONE, k, NULL);
        int64_t fluid = 40 * SIM_MS * (k + 1);
        /* within one 4 ms slice per spinner of the fluid share (plus the holder's own
         * 100 ns attempt) */
        cr_assert(done >= fluid - 4 * SIM_MS * k && done <= fluid + 100,
                  "k=%d: holder done at %ld ns, fluid share %ld", k, (long)done, (long)fluid);
    }
    /* Two spinners: the holder gets a third of the core, against all of it alone. */
    int64_t alone = holder_done(LOCK_SPIN_NONE, 0, NULL);
    int64_t two = holder_done(LOCK_SPIN_NONE, 2, NULL);
    cr_assert(two >= 2 * alone, "two spinners at least halve the holder's progress");
}

Test(lock_spin, backoff_and_yield_give_the_core_back)
{
    uint64_t att;
    int64_t b = holder_done(LOCK_SPIN_BACKOFF, 2, &att);
    /* A backoff spinner costs the holder one attempt (100 ns) per sleep; the sleeps grow
     * to the 1 ms cap, so 2 spinners make at most ~2 x (10 + 40) attempts in 40 ms. */
    cr_assert(b >= 40 * SIM_MS && b <= 40 * SIM_MS + 200 * 100, "backoff: done at %ld", (long)b);
    cr_assert(att < 2 * 60, "backoff attempts %lu", (unsigned long)att);
    int64_t y = holder_done(LOCK_SPIN_YIELD, 2, &att);
    /* A yielding spinner runs one attempt and hands the core back: the holder loses
     * 2 x 100 ns per slice of 4 ms. */
    cr_assert(y >= 40 * SIM_MS && y <= 41 * SIM_MS, "yield: done at %ld", (long)y);
}

/* The live world's env: real clocks, real threads, injected faults. No assertion here
 * depends on how fast the machine is, only on lower bounds that sleeping guarantees. */
#include <criterion/criterion.h>
#include <errno.h>
#include <time.h>

#include "live/live.h"

static int64_t thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

Test(live, clocks_sleep_and_work_are_real)
{
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    int64_t t0 = env_mono(e), real0 = live_true_now();
    cr_assert(llabs(env_now(e) - real0) < 1000000000LL);
    env_sleep(e, 20000000); /* 20 ms */
    cr_assert_geq(env_mono(e) - t0, 20000000);
    int64_t c0 = thread_cpu();
    env_work(e, 5000000); /* 5 ms of CPU */
    cr_assert_geq(thread_cpu() - c0, 5000000);
    live_world_destroy(w);
}

Test(live, clock_step_moves_env_now_only)
{
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    live_clock_step(w, -3600LL * 1000000000LL);
    int64_t skew = live_true_now() - env_now(e);
    cr_assert(skew > 3599LL * 1000000000LL && skew < 3601LL * 1000000000LL);
    live_world_destroy(w);
}

struct counter {
    struct env_mutex m;
    long count;
};

static void incr(struct env *e, void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < 100000; i++) {
        env_mutex_lock(e, &c->m);
        c->count++;
        env_mutex_unlock(e, &c->m);
    }
}

Test(live, mutex_counts_exactly_under_threads)
{
    struct live_world *w = live_world_create(1);
    struct counter c = {.count = 0};
    env_mutex_init(live_world_env(w), &c.m);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(live_spawn(w, "incr", incr, &c, NULL), 0);
    live_join_all(w);
    cr_assert_eq(c.count, 800000);
    live_world_destroy(w);
}

struct paused {
    int64_t elapsed;
    int started;
};

static void napper(struct env *e, void *arg)
{
    struct paused *p = arg;
    __atomic_store_n(&p->started, 1, __ATOMIC_SEQ_CST);
    env_sleep(e, 30000000); /* the pause is injected while this sleeps */
    int64_t t0 = live_true_now();
    (void)env_mono(e); /* the next env call blocks for the pause */
    p->elapsed = live_true_now() - t0;
}

Test(live, injected_pause_blocks_the_next_env_call)
{
    struct live_world *w = live_world_create(1);
    struct paused p = {0};
    uint64_t h;
    cr_assert_eq(live_spawn(w, "client-1", napper, &p, &h), 0);
    while (!__atomic_load_n(&p.started, __ATOMIC_SEQ_CST))
        ;
    cr_assert_eq(live_pause(w, "client-", 50000000), 1);
    cr_assert_eq(live_pause(w, "server-", 50000000), 0);
    live_join(w, h);
    cr_assert_geq(p.elapsed, 50000000);
    live_world_destroy(w);
}

Test(live, store_keeps_values_and_condition_times_out)
{
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    int64_t v = 42, out = 0;
    size_t len = 0;
    cr_assert_eq(env_store_get(e, "hwm", &out, sizeof(out), &len), -ENOENT);
    cr_assert_eq(env_store_put(e, "hwm", &v, sizeof(v)), 0);
    v = 43;
    cr_assert_eq(env_store_put(e, "hwm", &v, sizeof(v)), 0);
    cr_assert_eq(env_store_get(e, "hwm", &out, sizeof(out), &len), 0);
    cr_assert_eq(out, 43);
    cr_assert_eq(len, sizeof(out));
    struct env_mutex m;
    struct env_cond c;
    env_mutex_init(e, &m);
    env_cond_init(e, &c);
    env_mutex_lock(e, &m);
    int64_t t0 = env_mono(e);
    cr_assert_eq(env_cond_wait(e, &c, &m, 10000000), -ETIMEDOUT);
    cr_assert_geq(env_mono(e) - t0, 10000000);
    env_mutex_unlock(e, &m);
    env_cond_destroy(e, &c);
    env_mutex_destroy(e, &m);
    live_world_destroy(w);
}

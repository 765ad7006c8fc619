/* The live world's env: real clocks, real threads, injected faults. No assertion here
 * depends on how fast the machine is, only on lower bounds that sleeping guarantees. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
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

/* Two joiners of one thread: an actor joins its child while the workload's thread joins
 * the same child (as a lock client joins its keepalive thread while the world joins every
 * thread). Each join returns only after the child has ended: a second pthread_join of one
 * thread would return EINVAL at once, and the second joiner would free what the child
 * still uses, or (seen here) both hang (TSan saw the race in the live etcd lock runs). */
struct joiners {
    _Atomic int child_done, parent_joining;
    uint64_t child;
    int parent_saw_done;
};

static void slow_child(struct env *e, void *arg)
{
    struct joiners *j = arg;
    env_sleep(e, 200000000);
    atomic_store(&j->child_done, 1);
}

static void joining_parent(struct env *e, void *arg)
{
    struct joiners *j = arg;
    if (env_spawn(e, "child", slow_child, j, &j->child) < 0)
        return;
    atomic_store(&j->parent_joining, 1);
    env_join(e, j->child);
    j->parent_saw_done = atomic_load(&j->child_done);
}

Test(live, two_joiners_of_one_thread_both_wait_for_its_end, .timeout = 60)
{
    for (int round = 0; round < 3; round++) {
        struct live_world *w = live_world_create(1);
        struct joiners j = {0};
        uint64_t parent;
        cr_assert_eq(live_spawn(w, "parent", joining_parent, &j, &parent), 0);
        while (!atomic_load(&j.parent_joining))
            sched_yield();
        struct timespec ts = {0, 20000000}; /* the parent is in its join by now */
        nanosleep(&ts, NULL);
        live_join(w, j.child);
        cr_assert_eq(atomic_load(&j.child_done), 1, "live_join returned before the child ended");
        live_join(w, parent);
        cr_assert_eq(j.parent_saw_done, 1, "env_join returned before the child ended");
        live_world_destroy(w);
    }
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

/* ---- Nodes ------------------------------------------------------------------------ */

struct node_probe {
    _Atomic int starts, exits, child_exits, loops;
    _Atomic int64_t skew;      /* env_now - true now, last seen */
    _Atomic int64_t mono_gain; /* env_mono - CLOCK_MONOTONIC, last seen */
    atomic_bool stop;
};

static void count_exit(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static int64_t real_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void node_child(struct env *e, void *arg)
{
    struct node_probe *p = arg;
    live_env_atexit(e, count_exit, &p->child_exits);
    while (!atomic_load(&p->stop))
        env_sleep(e, 1000000);
}

static void node_main(struct env *e, void *arg)
{
    struct node_probe *p = arg;
    atomic_fetch_add(&p->starts, 1);
    live_env_atexit(e, count_exit, &p->exits);
    env_spawn(e, "child", node_child, p, NULL);
    while (!atomic_load(&p->stop)) {
        atomic_store(&p->skew, env_now(e) - live_true_now());
        atomic_store(&p->mono_gain, env_mono(e) - real_mono());
        atomic_fetch_add(&p->loops, 1);
        env_sleep(e, 1000000);
    }
}

static void wait_loops(struct node_probe *p, int more)
{
    int target = atomic_load(&p->loops) + more;
    while (atomic_load(&p->loops) < target)
        sched_yield();
}

Test(live, node_clocks_step_and_drift_alone)
{
    struct live_world *w = live_world_create(1);
    struct node_probe a = {0}, b = {0};
    cr_assert_eq(live_node_main(w, "client-0", "main", node_main, &a), 0);
    cr_assert_eq(live_node_main(w, "client-1", "main", node_main, &b), 0);
    cr_assert_eq(live_node_main(w, "client-1", "main", node_main, &b), -EINVAL, "twice");
    cr_assert(live_node_exists(w, "client-1") && !live_node_exists(w, "client-2"));
    cr_assert_eq(live_node_clock_step(w, "client-9", 1), -EINVAL);
    cr_assert_eq(live_node_clock_step(w, "client-0", -3600LL * 1000000000LL), 0);
    wait_loops(&a, 2);
    wait_loops(&b, 2);
    cr_assert(atomic_load(&a.skew) < -3599LL * 1000000000LL, "the step did not reach client-0");
    cr_assert(llabs(atomic_load(&b.skew)) < 1000000000LL, "the step reached client-1");
    cr_assert(llabs(atomic_load(&a.mono_gain)) < 1000000000LL, "a step moved env_mono");
    cr_assert_eq(live_node_drift(w, "client-1", 50000), 0); /* 5 % fast */
    struct timespec ts = {0, 200000000};
    nanosleep(&ts, NULL);
    wait_loops(&b, 2);
    cr_assert_geq(atomic_load(&b.skew), 10000000LL, "200 ms at 5 %% gain 10 ms");
    cr_assert_geq(atomic_load(&b.mono_gain), 10000000LL, "env_mono drifts too");
    atomic_store(&a.stop, true);
    atomic_store(&b.stop, true);
    live_world_destroy(w);
    cr_assert_eq(atomic_load(&a.exits), 1, "exit handlers run on a normal return");
}

Test(live, a_node_crash_stops_its_actors_and_a_restart_runs_main_again)
{
    struct live_world *w = live_world_create(1);
    struct node_probe a = {0}, b = {0};
    cr_assert_eq(live_node_main(w, "client-0", "main", node_main, &a), 0);
    cr_assert_eq(live_node_main(w, "client-1", "main", node_main, &b), 0);
    wait_loops(&a, 2);
    cr_assert_eq(live_node_crash(w, "client-0"), 0);
    while (atomic_load(&a.exits) < 1 || atomic_load(&a.child_exits) < 1)
        sched_yield(); /* both stop at their next env call, handlers run */
    int loops = atomic_load(&a.loops);
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    cr_assert_eq(atomic_load(&a.loops), loops, "a crashed actor went on");
    wait_loops(&b, 2); /* the other node was not touched */
    cr_assert_eq(atomic_load(&b.exits), 0);
    cr_assert_eq(live_node_crash(w, "client-0"), 0, "a crashed node stays down");
    cr_assert_eq(live_node_restart(w, "client-1"), 0, "a running node is left alone");
    cr_assert_eq(atomic_load(&b.starts), 1);
    cr_assert_eq(live_node_restart(w, "client-0"), 0);
    wait_loops(&a, 2);
    cr_assert_eq(atomic_load(&a.starts), 2);
    /* A pause reaches the node's actors only. */
    cr_assert_eq(live_node_pause(w, "client-0", 100000000), 0);
    int64_t t0 = real_mono();
    wait_loops(&a, 2);
    cr_assert_geq(real_mono() - t0, 100000000, "the pause did not hold client-0");
    atomic_store(&a.stop, true);
    atomic_store(&b.stop, true);
    live_world_destroy(w);
    cr_assert_eq(atomic_load(&a.exits), 2);
    cr_assert_eq(atomic_load(&a.child_exits), 2);
}

struct waiter {
    struct env_mutex m;
    struct env_cond c;
    _Atomic int exits, waiting;
};

static void count_waiter_exit(void *arg)
{
    atomic_fetch_add(&((struct waiter *)arg)->exits, 1);
}

static void cond_waiter(struct env *e, void *arg)
{
    struct waiter *w = arg;
    live_env_atexit(e, count_waiter_exit, w);
    env_mutex_lock(e, &w->m);
    atomic_fetch_add(&w->waiting, 1);
    for (;;) /* nobody signals: only a crash ends this */
        env_cond_wait(e, &w->c, &w->m, -1);
}

static void long_sleeper(struct env *e, void *arg)
{
    struct waiter *w = arg;
    live_env_atexit(e, count_waiter_exit, w);
    env_spawn(e, "waiter", cond_waiter, w, NULL);
    atomic_fetch_add(&w->waiting, 1);
    env_sleep(e, 600LL * 1000000000LL);
}

Test(live, a_crash_ends_actors_that_sleep_or_wait)
{
    struct live_world *w = live_world_create(1);
    struct waiter x = {0};
    env_mutex_init(live_world_env(w), &x.m);
    env_cond_init(live_world_env(w), &x.c);
    cr_assert_eq(live_node_main(w, "client-0", "main", long_sleeper, &x), 0);
    while (atomic_load(&x.waiting) < 2)
        sched_yield();
    int64_t t0 = real_mono();
    cr_assert_eq(live_node_crash(w, "client-0"), 0);
    while (atomic_load(&x.exits) < 2 && real_mono() - t0 < 60LL * 1000000000LL)
        sched_yield();
    cr_assert_eq(atomic_load(&x.exits), 2, "a sleeping or waiting actor outlived the crash");
    live_world_destroy(w); /* joins both: neither is left blocked */
    env_mutex_lock(live_world_env(w = live_world_create(1)), &x.m); /* given back */
    env_mutex_unlock(live_world_env(w), &x.m);
    live_world_destroy(w);
}

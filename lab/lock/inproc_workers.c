/* inproc_workers.c - the in-process lock workloads' main and workers (inproc_wl.h), the
 * same code in both worlds: the gate that starts workers together, the counter, try-lock
 * and contention workers, the live calibration and CPU measurement. */
#include "lab/lock/inproc_wl.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "live/live.h"

/* ---- Live-only measurement (never called in the simulated world) ------------------ */

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* This thread's CPU clock live; 0 in the simulation, where CPU is computed from counts. */
static int64_t meter(const struct lkw *w)
{
    return w->live ? thread_cpu_ns() : 0;
}

/* Live: keep the calling thread on the world's first `cores` CPUs, so that a 2-core
 * node is 2 cores on a bigger machine too. */
static void pin(const struct lkw *w)
{
    if (w->live && w->ncpus > 0)
        pthread_setaffinity_np(pthread_self(), sizeof(w->cpus), &w->cpus);
}

void lkw_choose_cpus(struct lkw *w)
{
    cpu_set_t all;
    CPU_ZERO(&w->cpus);
    w->ncpus = 0;
    if (sched_getaffinity(0, sizeof(all), &all) < 0)
        return;
    for (int c = 0; c < CPU_SETSIZE && w->ncpus < w->cores; c++) {
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &w->cpus);
            w->ncpus++;
        }
    }
}

/* ---- The gate: workers start together ------------------------------------------------ */

static void gate_wait(struct lkw *w, struct env *e)
{
    env_mutex_lock(e, &w->gm);
    while (w->gen == 0)
        env_cond_wait(e, &w->gc, &w->gm, -1);
    env_mutex_unlock(e, &w->gm);
}

/* Simulated spinners never block, so every core's slices start together at the gate
 * and end together every LKW_SLICE_NS: at each such boundary, count whether the slice
 * that ends made progress (an increment) and, if so, whether the lock is held, which
 * preempts its holder with it. That fraction is the q of the contention theory. */
static void sample_slice(struct sim *sim, void *arg)
{
    struct lkw *w = arg;
    uint64_t succ = 0;
    for (int i = 0; i < w->n; i++)
        succ += w->wk[i].successes;
    if (succ > w->last_succ) {
        w->productive++;
        w->held_productive += lock_try_held(w->lock);
    }
    w->last_succ = succ;
    w->boundaries++;
    int64_t next = sim_now(sim) + LKW_SLICE_NS;
    if (next <= w->sample_end)
        sim_at(sim, next, sample_slice, w);
}

static void gate_open(struct lkw *w, struct env *e)
{
    env_mutex_lock(e, &w->gm);
    w->start = env_mono(e);
    w->deadline = w->start + w->run_ns;
    w->gen = 1;
    if (w->sim && w->kind == LKW_CONTENTION && w->lock_kind == LKW_SPIN) {
        w->sample_end = sim_now(w->sim) + w->run_ns;
        sim_at(w->sim, sim_now(w->sim) + LKW_SLICE_NS, sample_slice, w);
    }
    env_cond_broadcast(e, &w->gc);
    env_mutex_unlock(e, &w->gm);
}

/* ---- Workers ----------------------------------------------------------------------- */

/* The seed's counter: every worker increments `increments` times. */
static void counter_worker(struct env *e, void *arg)
{
    struct lkw_worker *k = arg;
    struct lkw *w = k->w;
    pin(w);
    if (w->gate)
        gate_wait(w, e);
    int64_t cpu0 = meter(w);
    for (int64_t i = 0; i < w->increments; i++) {
        int64_t a0 = meter(w);
        int64_t waited = lock_counter_incr(w->counter, e, w->work_ns);
        k->acquire_cpu_ns += meter(w) - a0;
        hist_add(k->wait, waited);
        k->attempts++;
        k->successes++;
        k->iterations++;
    }
    k->finish = env_mono(e);
    k->cpu_ns = meter(w) - cpu0;
}

/* One contention iteration of worker k: acquire (giving up at 'deadline' if it spins),
 * the counter's read-work-write, release, think. Returns false if it gave up. */
static bool contention_step(struct lkw *w, struct lkw_worker *k, struct env *e, int64_t deadline)
{
    int64_t t0 = env_mono(e);
    uint64_t att = 1;
    bool ok = true;
    if (w->lock_kind == LKW_MUTEX) {
        env_mutex_lock(e, &w->mutex);
    } else {
        struct lock_spin_stats st;
        ok = lock_spin_acquire(w->lock, e, &w->spin, deadline, &st);
        att = st.attempts;
    }
    int64_t t1 = env_mono(e);
    k->iterations++;
    k->attempts += att;
    if (!ok) {
        k->failures += att;
        k->gave_up = true;
        return false;
    }
    k->failures += att - 1;
    hist_add(k->wait, t1 - t0);
    lock_counter_rmw(w->counter, e, w->cs_ns);
    if (w->lock_kind == LKW_MUTEX)
        env_mutex_unlock(e, &w->mutex);
    else
        lock_try_release(w->lock, e);
    hist_add(k->hold, env_mono(e) - t1);
    k->successes++;
    int64_t think = w->think_ns;
    if (w->think_jitter > 0 && think > 0) {
        double u = (double)(env_rand(e) >> 11) * 0x1p-53; /* [0, 1) */
        think = (int64_t)((double)think * (1 + w->think_jitter * (2 * u - 1)));
    }
    if (think > 0)
        env_work(e, think);
    k->think_ns += think;
    return true;
}

/* Contention: steps until the deadline. A spinner gives up at the deadline; a mutex
 * waiter cannot, and finishes its increment after it (that time is in the throughput's
 * denominator). Live, its CPU is read only at its start and end: the hot loop makes no
 * system call of its own. */
static void contention_worker(struct env *e, void *arg)
{
    struct lkw_worker *k = arg;
    struct lkw *w = k->w;
    pin(w);
    gate_wait(w, e);
    int64_t cpu0 = meter(w);
    while (env_mono(e) < w->deadline && contention_step(w, k, e, w->deadline))
        ;
    k->finish = env_mono(e);
    k->cpu_ns = meter(w) - cpu0;
}

/* The seed's single executor: in every round each worker tries once; a winner runs the
 * task (one increment of the counter, taking `task` of CPU) and releases the lock after
 * it (release: task, as the seed does) or when every worker has tried (release: round). */
static void trylock_worker(struct env *e, void *arg)
{
    struct lkw_worker *k = arg;
    struct lkw *w = k->w;
    pin(w);
    int gen = 0;
    int64_t cpu0 = meter(w);
    for (;;) {
        env_mutex_lock(e, &w->gm);
        while (w->gen == gen)
            env_cond_wait(e, &w->gc, &w->gm, -1);
        gen = w->gen;
        bool stop = w->stop;
        env_mutex_unlock(e, &w->gm);
        if (stop)
            break;
        int64_t a0 = meter(w), t0 = env_mono(e); /* the CPU clock is a system call: */
        bool ok = lock_try_acquire(w->lock, e);  /* keep it out of the timed attempt */
        int64_t t1 = env_mono(e), a1 = meter(w);
        k->acquire_cpu_ns += a1 - a0;
        k->attempts++;
        k->iterations++;
        env_mutex_lock(e, &w->gm);
        w->attempted++;
        w->winners += ok;
        env_cond_broadcast(e, &w->gc);
        env_mutex_unlock(e, &w->gm);
        if (ok) {
            hist_add(k->wait, t1 - t0);
            k->successes++;
            lock_counter_rmw(w->counter, e, w->task_ns);
            if (w->release_round) {
                env_mutex_lock(e, &w->gm);
                while (w->attempted < w->n)
                    env_cond_wait(e, &w->gc, &w->gm, -1);
                env_mutex_unlock(e, &w->gm);
            }
            lock_try_release(w->lock, e);
        } else {
            k->failures++;
            k->failed_cpu_ns += a1 - a0;
            hist_add(k->fail, t1 - t0);
        }
        env_mutex_lock(e, &w->gm);
        w->done++;
        env_cond_broadcast(e, &w->gc);
        env_mutex_unlock(e, &w->gm);
    }
    k->finish = env_mono(e);
    k->cpu_ns = meter(w) - cpu0;
}

/* ---- Main (same code in both worlds) -------------------------------------------------- */

static struct lock_try *make_trylock(struct lkw *w)
{
    if (!w->chan)
        return lock_try_cas(w->live ? 0 : w->attempt_ns);
    struct lock_tokchan *ch = w->live   ? (w->pipe ? live_tokchan_pipe() : live_tokchan_user())
                              : w->pipe ? lock_tokchan_model(w->pipe_op_ns, w->pipe_op_ns)
                                        : lock_tokchan_model(w->chan_op_ns, w->chan_empty_ns);
    return ch ? lock_try_chan(ch) : NULL;
}

/* Live: the CPU of one uncontended acquisition (counter: increment; trylock: attempt;
 * contention: whole iteration) through the very code the workers run, meter reads
 * included, averaged on this thread, pinned like the workers for the while. The run's
 * lock must be idle. Returns 0 or -ENOMEM. */
static int calibrate(struct lkw *w, struct env *e)
{
    if (!w->live)
        return 0;
    cpu_set_t mine;
    bool restore = sched_getaffinity(0, sizeof(mine), &mine) == 0;
    pin(w);
    int64_t sum = 0;
    int rc = 0, count = LKW_CALIB;
    if (w->kind == LKW_COUNTER) {
        struct lock_counter *c = lock_counter_create(e, w->guard);
        for (int i = 0; c && i < LKW_CALIB; i++) {
            int64_t a0 = meter(w);
            lock_counter_incr(c, e, w->work_ns);
            sum += meter(w) - a0;
        }
        rc = c ? 0 : -ENOMEM;
        lock_counter_destroy(c, e);
    } else if (w->kind == LKW_CONTENTION) {
        /* Whole iterations on the run's own (still idle) lock and a scratch counter. */
        struct lock_counter *real = w->counter;
        struct lkw_worker k = {.w = w, .wait = hist_create(), .hold = hist_create()};
        w->counter = lock_counter_create(e, LOCK_GUARD_NONE);
        rc = w->counter && k.wait && k.hold ? 0 : -ENOMEM;
        int64_t a0 = meter(w);
        for (int i = 0; rc == 0 && i < LKW_CALIB_STEPS; i++)
            contention_step(w, &k, e, -1);
        sum = meter(w) - a0;
        count = LKW_CALIB_STEPS;
        lock_counter_destroy(w->counter, e);
        w->counter = real;
        hist_destroy(k.wait);
        hist_destroy(k.hold);
    } else {
        struct lock_try *l = make_trylock(w);
        for (int i = 0; l && i < LKW_CALIB; i++) {
            int64_t a0 = meter(w);
            lock_try_acquire(l, e);
            sum += meter(w) - a0;
            lock_try_release(l, e);
        }
        rc = l ? 0 : -ENOMEM;
        lock_try_destroy(l);
    }
    w->calib_ns = sum / count;
    if (restore) /* this thread outlives the run */
        sched_setaffinity(0, sizeof(mine), &mine);
    return rc;
}

void lkw_main(struct env *e, void *arg)
{
    struct lkw *w = arg;
    int rc;
    uint64_t *h;
    if ((rc = env_mutex_init(e, &w->gm)) < 0)
        goto out;
    if ((rc = env_cond_init(e, &w->gc)) < 0) {
        env_mutex_destroy(e, &w->gm);
        goto out;
    }
    if (w->kind == LKW_CONTENTION && w->lock_kind == LKW_MUTEX &&
        (rc = env_mutex_init(e, &w->mutex)) < 0) {
        env_cond_destroy(e, &w->gc);
        env_mutex_destroy(e, &w->gm);
        goto out;
    }
    w->made_sync = true;
    w->counter = lock_counter_create(e, w->kind == LKW_COUNTER ? w->guard : LOCK_GUARD_NONE);
    if (!w->counter) {
        rc = -ENOMEM;
        goto out;
    }
    bool need_try =
        w->kind == LKW_TRYLOCK || (w->kind == LKW_CONTENTION && w->lock_kind != LKW_MUTEX);
    if (need_try && !(w->lock = make_trylock(w))) {
        rc = errno ? -errno : -ENOMEM;
        goto out;
    }
    if ((rc = calibrate(w, e)) < 0)
        goto out;
    h = w->handles = calloc((size_t)w->n, sizeof(*h));
    if (!h) {
        rc = -ENOMEM;
        goto out;
    }
    env_fn fn = w->kind == LKW_COUNTER   ? counter_worker
                : w->kind == LKW_TRYLOCK ? trylock_worker
                                         : contention_worker;
    for (int i = 0; i < w->n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%d", i);
        if ((rc = env_spawn(e, name, fn, &w->wk[i], &h[i])) < 0) {
            /* Let the ones already started finish, then report. */
            env_mutex_lock(e, &w->gm);
            w->stop = true;
            w->gen = w->gen + 1;
            w->deadline = env_mono(e);
            env_cond_broadcast(e, &w->gc);
            env_mutex_unlock(e, &w->gm);
            for (int j = 0; j < i; j++)
                env_join(e, h[j]);
            goto out;
        }
    }
    if (w->kind == LKW_TRYLOCK) {
        env_mutex_lock(e, &w->gm);
        w->start = env_mono(e);
        for (int r = 0; r < w->rounds; r++) {
            w->done = w->attempted = w->winners = 0;
            w->gen++;
            env_cond_broadcast(e, &w->gc);
            while (w->done < w->n)
                env_cond_wait(e, &w->gc, &w->gm, -1);
            w->round_winners[r] = w->winners;
        }
        w->stop = true;
        w->gen++;
        env_cond_broadcast(e, &w->gc);
        env_mutex_unlock(e, &w->gm);
    } else if (w->gate || w->kind == LKW_CONTENTION) {
        gate_open(w, e);
    } else {
        w->start = env_mono(e);
    }
    for (int i = 0; i < w->n; i++)
        env_join(e, h[i]);
    w->final_count = lock_counter_value(w->counter);
    w->finished = true;
    rc = 0;
out:
    w->err = rc;
}


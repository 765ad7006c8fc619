/* lock.c - the in-process lock workloads (issue 5): the seed's mutex counter, its
 * single-executor try-lock, and contention (livelock) with a blocking mutex against
 * spinning try-locks. Never writes files or exits.
 *
 * Same code, two worlds. Each run has a main function and worker functions written
 * against env only; the world driver at the bottom runs them either on one simulated
 * node (main is the node's main actor, workers are actors it spawns with env_spawn) or
 * on live threads (main is the workload's own thread, workers are live_spawn threads
 * pinned to the first world.cores CPUs). Two things differ by world, and only in the
 * measurement, never in the lock code:
 *   - CPU accounting. The simulation's CPU is exactly what env_work charged, so a
 *     worker's CPU is computed from its counts (attempts x attempt cost, ...). Live, a
 *     worker reads its thread CPU clock (CLOCK_THREAD_CPUTIME_ID, a system call) at its
 *     start and end, and around each acquisition in the counter and try-lock workloads
 *     (not in the contention loop, which must make no system call of its own); main
 *     first measures an uncontended acquisition, or a whole uncontended contention
 *     iteration, the same way (the calibration), so that only contention counts as
 *     waste.
 *   - Attempt costs. Simulated attempts cost `attempt` (CAS), `chan_op` and
 *     `chan_empty` (Go's kind of channel, lock/tokchan.h's model) or `pipe_op` of
 *     virtual CPU: inputs, which bench-locks measures on the real ones; live, a CAS
 *     costs what it costs, `chan` is a user-space channel built as Go's
 *     (live/chan.h) and `pipe` a non-blocking kernel pipe.
 *
 * Metrics (every workload): final_count (the shared counter at the end), lost_updates
 * (increments done minus final_count), throughput (increments, or tasks, per second from
 * the gate opening to the last worker's end), attempts_per_success, wasted_cpu_share
 * (CPU spent on failed attempts over all the workers' CPU), fairness (Jain's index over
 * per-worker successes: 1 when even, 1/n when one worker has them all), and the
 * hold_wait histogram (ns from starting to acquire to holding the lock). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/lab.h"
#include "live/live.h"
#include "lock/counter.h"
#include "lock/trylock.h"
#include "names.h"
#include "sim/sim.h"

/* The engine's default CPU time slice. lab.h has no accessor for world.slice, so the
 * theory below assumes the default; the scenarios leave world.slice unset. */
#define LKW_SLICE_NS (4 * SIM_MS)
/* Uncontended acquisitions timed by the live calibration; whole contention iterations. */
#define LKW_CALIB 2000
#define LKW_CALIB_STEPS 500

enum lkw_kind { LKW_COUNTER, LKW_TRYLOCK, LKW_CONTENTION };
enum lkw_lock { LKW_MUTEX, LKW_SPIN, LKW_YIELD, LKW_BACKOFF };
#define LKW_LOCK_NAMES "mutex", "spin", "yield", "backoff"
enum lkw_try { LKW_CAS, LKW_CHAN, LKW_PIPE };
#define LKW_TRY_NAMES "cas", "chan", "pipe"
enum lkw_release { LKW_AFTER_TASK, LKW_AFTER_ROUND };
#define LKW_RELEASE_NAMES "task", "round"

struct lkw;

struct lkw_worker {
    struct lkw *w;
    int index;
    uint64_t attempts, failures, successes, iterations;
    int64_t acquire_cpu_ns; /* live: thread CPU inside acquisitions */
    int64_t failed_cpu_ns;  /* live, trylock: thread CPU inside failed attempts */
    int64_t cpu_ns;         /* live: thread CPU from the gate to the end */
    int64_t think_ns;       /* contention: think CPU asked for, in all */
    int64_t finish;         /* env_mono when it ended */
    bool gave_up;           /* contention: the deadline came while it tried */
    struct hist *wait;      /* hold_wait */
    struct hist *hold;      /* contention: time holding the lock */
    struct hist *fail;      /* trylock: how long a failed attempt took */
};

struct lkw {
    struct lab_run *run;
    enum lkw_kind kind;
    bool live;
    int cores;
    int n; /* workers */
    /* Parameters. */
    enum lock_guard guard;
    int64_t work_ns, increments;
    bool gate;
    enum lkw_lock lock_kind;
    bool chan;          /* a channel try-lock: try chan (Go's kind) or pipe */
    bool pipe;          /* ... over a kernel pipe */
    struct lock_spin spin;
    double think_jitter;
    int64_t cs_ns, think_ns, attempt_ns, chan_op_ns, chan_empty_ns, pipe_op_ns, task_ns, run_ns;
    int rounds;
    bool release_round;
    /* The world's objects, made by main. */
    struct lock_counter *counter;
    struct lock_try *lock;
    /* Simulated spinners: the lock at every slice boundary (see sample_slice). */
    struct sim *sim;
    uint64_t boundaries, productive, held_productive, last_succ;
    int64_t sample_end;
    struct env_mutex mutex; /* contention with lock: mutex */
    struct env_mutex gm;    /* the gate and round bookkeeping */
    struct env_cond gc;
    int gen, done, attempted, winners;
    bool stop;
    int64_t start, deadline;
    struct lkw_worker *wk;
    double *round_winners;
    int64_t final_count; /* the counter when every worker had ended */
    int64_t calib_ns;    /* live: CPU of one uncontended acquisition (iteration) */
    cpu_set_t cpus;      /* live: where workers run */
    int ncpus;
    bool made_sync; /* gm, gc (and mutex) were initialised */
    bool finished;
    int err; /* a negative errno from main */
};

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

static void choose_cpus(struct lkw *w)
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
 * preempts its holder with it. That fraction is the q of theory_contention. */
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

/* Simulated CPU of an attempt that finds the lock free, of one that finds it held, and
 * of a release. */
static int64_t take_ns(const struct lkw *w)
{
    return w->pipe ? w->pipe_op_ns : w->chan ? w->chan_op_ns : w->attempt_ns;
}

static int64_t empty_ns(const struct lkw *w)
{
    return w->pipe ? w->pipe_op_ns : w->chan ? w->chan_empty_ns : w->attempt_ns;
}

static int64_t put_ns(const struct lkw *w)
{
    return w->chan ? take_ns(w) : 0;
}

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

static void lkw_main(struct env *e, void *arg)
{
    struct lkw *w = arg;
    int rc;
    uint64_t *h = NULL;
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
    h = calloc((size_t)w->n, sizeof(*h));
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
    free(h);
    w->err = rc;
}

/* ---- Theory ------------------------------------------------------------------------ */

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The unguarded counter in the simulation: identical workers released together on C
 * cores run in waves of C; a wave's workers all read the value before any of them
 * writes (the read is instantaneous, the work between read and write takes work_ns),
 * so a wave adds one. That holds while a worker's increments fit in one time slice
 * (increments x work <= slice: nobody is preempted in the middle) and the work is > 0.
 * Then final_count = increments x ceil(N / C). Returns -1 when it does not apply. */
static int64_t theory_unguarded(const struct lkw *w)
{
    if (w->work_ns <= 0 || w->increments * w->work_ns > LKW_SLICE_NS || !w->gate)
        return -1;
    return w->increments * ceil_div(w->n, w->cores);
}

/* Winners per round in the simulation, when it can be derived: *lo = *hi. Otherwise
 * [1, N] (at least one wins: nobody holds the lock when a round starts).
 * - release: round: exactly one, by mutual exclusion alone.
 * - release: task, C >= 2 cores: the first C attempts find the lock free and end
 *   together after one attempt time a (take_ns); the first processed wins, the winner
 *   keeps its core for the task, and the other N - C attempts, which find it held (e,
 *   empty_ns), are served C - 1 at a time, the last one ending at
 *   a + e * ceil((N - C) / (C - 1)). The winner releases at a + task (CAS) or
 *   a + task + a (the channel's put costs an operation). Exactly one when the release
 *   is strictly later than the last attempt and the task fits in a slice.
 * - release: task, CAS, task = 0: a winner releases in the instant it won, so every
 *   attempt finds the lock free: N winners.
 * - release: task, one core: the winner keeps the only core through its task (if the
 *   attempt, task and release fit in a slice), so every attempt comes after the last
 *   winner released: N winners. */
static void theory_winners(const struct lkw *w, double *lo, double *hi)
{
    *lo = 1;
    *hi = w->n;
    if (w->release_round) {
        *hi = 1;
        return;
    }
    if (w->live)
        return;
    int64_t a = take_ns(w), rel = a + w->task_ns + put_ns(w);
    if (w->cores == 1 && rel <= LKW_SLICE_NS) {
        *lo = w->n; /* one core: each attempt runs after the previous winner released */
        return;
    }
    if (w->cores >= 2 && w->task_ns <= LKW_SLICE_NS) {
        int64_t last =
            a + empty_ns(w) * ceil_div(w->n > w->cores ? w->n - w->cores : 0, w->cores - 1);
        if (rel > last) {
            *hi = 1;
            return;
        }
    }
    if (!w->chan && w->task_ns == 0)
        *lo = w->n;
}

/* Contention throughput (increments per second), by the model of the scenario's
 * `about` (lock_livelock.yaml). Let iter be the CPU of one uncontended iteration
 * (simulated: attempt + cs + put + think, the mutex's attempt and put being free;
 * live: the calibrated iteration), hold the time the lock is held (cs + put), and
 * X0(j) = min(j / iter, 1 / hold) the rate of j workers that never wait for each other
 * beyond the lock's own capacity.
 *   mutex:          X0'(min(k, C)) with iter = cs + think (a blocked waiter costs no CPU).
 *   yield, backoff: X0(min(k, C)): a failed attempt gives the core away at once.
 *   spin:           X0(k) for k <= C. For k > C, round robin gives the k always-runnable
 *                   spinners C slices at a time, all ending together. When the slices
 *                   that end made progress, the lock is held at that instant with
 *                   probability q, and then its holder is preempted with it: every
 *                   slice until the holder comes back, m = ceil(k / C) - 1 slice times,
 *                   spins on a lock nobody can release. Productive slices come in runs
 *                   of mean 1/q, each followed by m wasted ones:
 *                   X = X0(C) / (1 + q m). q is the lock's busy share while it makes
 *                   progress, predicted as X0(C) x hold (0.952 in the scenario) and
 *                   measured at every slice boundary (held_at_slice_end); with q = 1 this
 *                   is the X0 / ceil(k / C) of a lock that is always held.
 * *lo and *hi: the band this world's throughput must fall in (see the scenario's why).
 * *q_pred: the predicted q (spin, k > C; else NAN). */
static double theory_contention(const struct lkw *w, double *lo, double *hi, double *q_pred)
{
    int c = w->live ? (w->ncpus > 0 ? w->ncpus : w->cores) : w->cores;
    int k = w->n;
    int j = k < c ? k : c;
    bool mutex = w->lock_kind == LKW_MUTEX;
    double a = mutex ? 0 : (double)take_ns(w);
    double put = mutex ? 0 : (double)put_ns(w);
    double iter = w->live ? (double)w->calib_ns : a + (double)w->cs_ns + put + (double)w->think_ns;
    double hold = (double)w->cs_ns + put;
    double x = iter > 0 ? (double)j / iter * 1e9 : 0;
    if (hold > 0 && 1e9 / hold < x)
        x = 1e9 / hold;
    double x0 = x;
    *q_pred = NAN;
    if (w->lock_kind == LKW_SPIN && k > c) {
        *q_pred = x0 * hold / 1e9 < 1 ? x0 * hold / 1e9 : 1;
        double q = w->productive ? (double)w->held_productive / (double)w->productive : 1;
        x = x0 / (1 + q * (double)(ceil_div(k, c) - 1));
    }
    if (w->live) {
        /* Nothing beats every core doing uncontended iterations (10% for noise). */
        *lo = 0;
        *hi = 1.1 * x0;
    } else if (w->lock_kind == LKW_SPIN && k > c) {
        /* A run holds a whole number of stall cycles only by chance: its throughput can
         * differ from the cycles' average by one cycle (1/q productive slices and m
         * stalled ones) over the run. */
        double q = w->productive ? (double)w->held_productive / (double)w->productive : 1;
        double cycle = (1 / (q > 0 ? q : 1) + (double)(ceil_div(k, c) - 1)) * LKW_SLICE_NS;
        double edge = cycle / (double)w->run_ns;
        *lo = (1 - edge) * x;
        *hi = (1 + edge) * x;
    } else if (mutex || k <= c) {
        *lo = 0.99 * x;
        *hi = 1.01 * x;
    } else {
        /* Yield and backoff lose an attempt (1 of the 21 us of an iteration) only when
         * two workers want the lock at once: measured 0.2-0.4% below X0. */
        *lo = 0.99 * x;
        *hi = 1.001 * x;
    }
    return x;
}

/* ---- Recording ---------------------------------------------------------------------- */

static double jain(const struct lkw *w)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < w->n; i++) {
        double x = (double)w->wk[i].successes;
        s += x;
        s2 += x * x;
    }
    return s2 > 0 ? s * s / ((double)w->n * s2) : 0;
}

/* CPU in all, and on failed attempts, of worker k. Simulated: what env_work charged. */
static void cpu_of(const struct lkw *w, const struct lkw_worker *k, double *total, double *wasted)
{
    if (w->live) {
        *total = (double)k->cpu_ns;
        if (w->kind == LKW_TRYLOCK)
            *wasted = (double)k->failed_cpu_ns;
        else if (w->kind == LKW_CONTENTION) /* all CPU beyond uncontended iterations */
            *wasted = (double)k->cpu_ns - (double)k->successes * (double)w->calib_ns;
        else
            *wasted = (double)k->acquire_cpu_ns - (double)k->successes * (double)w->calib_ns;
        if (*wasted < 0)
            *wasted = 0;
        return;
    }
    double useful, attempt = 0, put = 0;
    if (w->kind == LKW_COUNTER) {
        useful = (double)k->successes * (double)w->work_ns;
    } else {
        if (w->kind == LKW_TRYLOCK || w->lock_kind != LKW_MUTEX) {
            attempt = (double)w->attempt_ns; /* CAS: whatever it finds; channels: below */
            put = (double)put_ns(w);
        }
        useful = w->kind == LKW_TRYLOCK
                     ? (double)k->successes * (double)w->task_ns
                     : (double)k->successes * (double)w->cs_ns + (double)k->think_ns;
    }
    *wasted = (double)k->failures * attempt;
    *total = useful + (double)k->attempts * attempt + (double)k->successes * put;
}

static void record(struct lkw *w, struct lab_run *run)
{
    struct hist *wait = lab_hist(run, "hold_wait", "ns");
    struct hist *hold = w->kind == LKW_CONTENTION ? lab_hist(run, "hold_time", "ns") : NULL;
    struct hist *fail = w->kind == LKW_TRYLOCK ? lab_hist(run, "fail_latency", "ns") : NULL;
    uint64_t succ = 0, att = 0, gave_up = 0;
    int64_t end = w->start;
    double cpu = 0, wasted = 0;
    double *per = calloc((size_t)w->n, sizeof(*per));
    for (int i = 0; i < w->n; i++) {
        struct lkw_worker *k = &w->wk[i];
        succ += k->successes;
        att += k->attempts;
        gave_up += k->gave_up;
        if (k->finish > end)
            end = k->finish;
        double t, x;
        cpu_of(w, k, &t, &x);
        cpu += t;
        wasted += x;
        if (wait)
            hist_merge(wait, k->wait);
        if (hold)
            hist_merge(hold, k->hold);
        if (fail)
            hist_merge(fail, k->fail);
        if (per)
            per[i] = (double)k->successes;
    }
    /* A simulated channel's attempts cost what they found (lock_tokchan_model): its own
     * count of the CPU it charged replaces attempts x cost. */
    int64_t ch_failed, ch_all;
    const struct lock_tokchan *ch = w->lock ? lock_try_channel(w->lock) : NULL;
    if (!w->live && ch && lock_tokchan_model_cpu(ch, &ch_failed, &ch_all)) {
        cpu = (double)ch_all;
        for (int i = 0; i < w->n; i++)
            cpu += w->kind == LKW_TRYLOCK
                       ? (double)w->wk[i].successes * (double)w->task_ns
                       : (double)w->wk[i].successes * (double)w->cs_ns +
                             (double)w->wk[i].think_ns;
        wasted = (double)ch_failed;
    }
    double elapsed = (double)(end - w->start) / 1e9;
    int64_t count = w->final_count;
    lab_metric(run, "final_count", (double)count);
    lab_metric(run, "successes", (double)succ);
    lab_metric(run, "lost_updates", (double)succ - (double)count);
    lab_metric(run, "elapsed_s", elapsed);
    lab_metric(run, "throughput", elapsed > 0 ? (double)succ / elapsed : 0);
    lab_metric(run, "attempts_per_success", succ ? (double)att / (double)succ : 0);
    lab_metric(run, "wasted_cpu_share", cpu > 0 ? wasted / cpu : 0);
    lab_metric(run, "cpu_s", cpu / 1e9);
    lab_metric(run, "fairness", jain(w));
    if (per && w->n <= 4096)
        lab_metric_array(run, "successes_per_worker", per, (size_t)w->n);
    if (w->live) {
        lab_metric(run, "live_cpus", w->ncpus);
        lab_metric(run,
                   w->kind == LKW_CONTENTION ? "calibrated_iteration_ns" : "calibrated_acquire_ns",
                   (double)w->calib_ns);
    }
    if (w->kind == LKW_COUNTER) {
        double expect = (double)w->n * (double)w->increments;
        lab_metric(run, "expected_count", expect);
        /* What theory guarantees for final_count in this world: exact with the mutex;
         * without it, the derived wave count in the simulation and [1, N x I] live. */
        double lo = w->increments > 0 ? 1 : 0, hi = expect;
        if (w->guard == LOCK_GUARD_MUTEX)
            lo = hi = expect;
        else if (!w->live && theory_unguarded(w) >= 0)
            lo = hi = (double)theory_unguarded(w);
        lab_metric(run, "final_count_lo", lo);
        lab_metric(run, "final_count_hi", hi);
        if (!w->live && w->guard == LOCK_GUARD_MUTEX)
            lab_metric(run, "theory_throughput", w->work_ns > 0 ? 1e9 / (double)w->work_ns : 0);
    } else if (w->kind == LKW_TRYLOCK) {
        double mn = w->n, mx = 0, one = 0;
        for (int r = 0; r < w->rounds; r++) {
            mn = w->round_winners[r] < mn ? w->round_winners[r] : mn;
            mx = w->round_winners[r] > mx ? w->round_winners[r] : mx;
            one += w->round_winners[r] == 1;
        }
        lab_metric_array(run, "winners_per_round", w->round_winners, (size_t)w->rounds);
        lab_metric(run, "winners_min", mn);
        lab_metric(run, "winners_max", mx);
        lab_metric(run, "rounds_with_one_winner", one);
        lab_metric(run, "winners_mean", (double)succ / (double)w->rounds);
        lab_metric(run, "rounds", w->rounds);
        double lo, hi;
        theory_winners(w, &lo, &hi);
        lab_metric(run, "winners_lo", lo);
        lab_metric(run, "winners_hi", hi);
    } else {
        lab_metric(run, "gave_up", (double)gave_up);
        double lo, hi, q_pred, x = theory_contention(w, &lo, &hi, &q_pred);
        lab_metric(run, "theory_throughput", x);
        if (!isnan(q_pred)) {
            int m = ceil_div(w->n, w->cores) - 1;
            double x0 = x * (1 + (w->productive ? (double)w->held_productive /
                                                      (double)w->productive : 1) * m);
            lab_metric(run, "theory_held_at_slice_end", q_pred);
            lab_metric(run, "theory_throughput_predicted", x0 / (1 + q_pred * m));
            lab_metric(run, "theory_throughput_always_held", x0 / (m + 1));
            lab_metric(run, "theory_wasted_cpu_share", 1 - x / x0);
        }
        if (w->productive) {
            /* Its binomial sd under the prediction (the measured share may be 0 or 1). */
            double q = (double)w->held_productive / (double)w->productive;
            double p = isnan(q_pred) ? q : q_pred;
            lab_metric(run, "held_at_slice_end", q);
            lab_metric(run, "held_at_slice_end_sd", sqrt(p * (1 - p) / (double)w->productive));
            lab_metric(run, "productive_slice_ends", (double)w->productive);
            lab_metric(run, "slice_ends", (double)w->boundaries);
        }
        lab_metric(run, "throughput_lo", lo);
        lab_metric(run, "throughput_hi", hi);
    }
    free(per);
}

/* ---- Parameters ----------------------------------------------------------------------- */

static const struct lab_param counter_params[] = {
    {"workers", LAB_INT, "1000", 1, 100000, NULL, "incrementing workers (the seed's 1000)"},
    {"increments", LAB_INT, "1", 1, 1e9, NULL, "increments per worker (the seed's 1)"},
    {"guard", LAB_ENUM, "mutex", 1, 0, NAMES_CHOICES(LOCK_GUARD_NAMES),
     "a blocking mutex around the increment, or nothing"},
    {"work", LAB_DURATION, "1us", 0, 1e9, NULL,
     "CPU between reading the counter and writing it back (counter++ made visible)"},
    {"gate", LAB_BOOL, "true", 1, 0, NULL, "workers wait until all are started, then go together"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* The simulated costs of the try-locks: inputs, measured by bench-locks on the real
 * ones (lock_failed_attempt, lock_uncontended); live, each costs what it costs. */
#define LKW_COST_PARAMS(cas)                                                               \
    {"attempt", LAB_DURATION, cas, 1, 1e9, NULL,                                           \
     "simulated CPU of one CAS attempt (live: the real cost)"},                            \
    {"chan_op", LAB_DURATION, "35ns", 1, 1e9, NULL,                                        \
     "simulated CPU of a channel take that finds the token, or of a put (live: Go's kind " \
     "of channel in user space)"},                                                         \
    {"chan_empty", LAB_DURATION, "12ns", 1, 1e9, NULL,                                     \
     "simulated CPU of a channel take that finds it empty (Go reads one atomic)"},         \
    {"pipe_op", LAB_DURATION, "1us", 1, 1e9, NULL,                                         \
     "simulated CPU of a pipe read or write, a system call (live: a real pipe)"}

static const struct lab_param trylock_params[] = {
    {"workers", LAB_INT, "10", 1, 10000, NULL, "workers trying once per round (the seed's 10)"},
    {"rounds", LAB_INT, "100", 1, 1e6, NULL, "rounds; every worker tries once in each"},
    {"try", LAB_ENUM, "chan", 1, 0, NAMES_CHOICES(LKW_TRY_NAMES),
     "the seed's channel of one (Go's kind, in user space), the same over a kernel pipe, "
     "or a CAS flag"},
    {"task", LAB_DURATION, "1ms", 0, 1e10, NULL, "the winner's task: CPU while it holds the lock"},
    {"release", LAB_ENUM, "task", 1, 0, NAMES_CHOICES(LKW_RELEASE_NAMES),
     "the winner releases after its task (the seed) or when all have tried"},
    LKW_COST_PARAMS("8ns"),
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const struct lab_param contention_params[] = {
    {"contenders", LAB_INT, "4", 1, 4096, NULL, "workers competing for one lock"},
    {"lock", LAB_ENUM, "mutex", 1, 0, NAMES_CHOICES(LKW_LOCK_NAMES),
     "blocking mutex; try-lock retried at once, after a yield, or after a backoff"},
    {"try", LAB_ENUM, "cas", 1, 0, NAMES_CHOICES(LKW_TRY_NAMES),
     "the try-lock under spin, yield and backoff"},
    {"cs", LAB_DURATION, "10us", 0, 1e9, NULL, "critical section: CPU between read and write"},
    {"think", LAB_DURATION, "10us", 0, 1e9, NULL, "CPU outside the lock between increments"},
    {"think_jitter", LAB_FLOAT, "0", 0, 1, NULL,
     "each think drawn uniformly in think x (1 +- this): a machine's timing noise, which "
     "keeps simulated workers from running in lockstep; 0: every think alike"},
    LKW_COST_PARAMS("1us"),
    {"backoff_base", LAB_DURATION, "1us", 1, 1e9, NULL, "backoff: first sleep ceiling"},
    {"backoff_cap", LAB_DURATION, "1ms", 1, 1e10, NULL, "backoff: largest sleep ceiling"},
    {"run_for", LAB_DURATION, "2s", 1, 3600e9, NULL, "simulated run length (virtual time)"},
    {"live_run_for", LAB_DURATION, "200ms", 1, 3600e9, NULL, "live run length (real time)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int read_params(struct lkw *w, struct lab_run *run)
{
    if (w->kind == LKW_COUNTER) {
        w->n = (int)lab_int(run, "workers");
        w->increments = lab_int(run, "increments");
        w->work_ns = lab_duration(run, "work");
        w->gate = lab_bool(run, "gate");
        w->guard = (enum lock_guard)lab_enum(run, "guard");
        return 0;
    }
    int t = lab_enum(run, "try");
    w->chan = t == LKW_CHAN || t == LKW_PIPE;
    w->pipe = t == LKW_PIPE;
    w->attempt_ns = lab_duration(run, "attempt");
    w->chan_op_ns = lab_duration(run, "chan_op");
    w->chan_empty_ns = lab_duration(run, "chan_empty");
    w->pipe_op_ns = lab_duration(run, "pipe_op");
    if (w->kind == LKW_TRYLOCK) {
        w->n = (int)lab_int(run, "workers");
        w->rounds = (int)lab_int(run, "rounds");
        w->task_ns = lab_duration(run, "task");
        w->release_round = lab_enum(run, "release") == LKW_AFTER_ROUND;
        return 0;
    }
    w->n = (int)lab_int(run, "contenders");
    w->cs_ns = lab_duration(run, "cs");
    w->think_ns = lab_duration(run, "think");
    w->think_jitter = lab_float(run, "think_jitter");
    w->run_ns = w->live ? lab_duration(run, "live_run_for") : lab_duration(run, "run_for");
    w->lock_kind = (enum lkw_lock)lab_enum(run, "lock");
    w->spin.kind = w->lock_kind == LKW_YIELD     ? LOCK_SPIN_YIELD
                   : w->lock_kind == LKW_BACKOFF ? LOCK_SPIN_BACKOFF
                                                 : LOCK_SPIN_NONE;
    w->spin.base_ns = lab_duration(run, "backoff_base");
    w->spin.cap_ns = lab_duration(run, "backoff_cap");
    if (w->spin.cap_ns < w->spin.base_ns) {
        lab_fail(run, "backoff_cap (%lld ns) is below backoff_base (%lld ns)",
                 (long long)w->spin.cap_ns, (long long)w->spin.base_ns);
        return -EINVAL;
    }
    return 0;
}

/* ---- The world driver ---------------------------------------------------------------- */

static int alloc_workers(struct lkw *w)
{
    w->wk = calloc((size_t)w->n, sizeof(*w->wk));
    if (!w->wk)
        return -ENOMEM;
    if (w->kind == LKW_TRYLOCK && !(w->round_winners = calloc((size_t)w->rounds, sizeof(double))))
        return -ENOMEM;
    for (int i = 0; i < w->n; i++) {
        struct lkw_worker *k = &w->wk[i];
        k->w = w;
        k->index = i;
        if (!(k->wait = hist_create()))
            return -ENOMEM;
        if (w->kind == LKW_CONTENTION && !(k->hold = hist_create()))
            return -ENOMEM;
        if (w->kind == LKW_TRYLOCK && !(k->fail = hist_create()))
            return -ENOMEM;
    }
    return 0;
}

/* Frees what the run made. e: the live world's env, or NULL for the simulation, whose
 * mutexes and conditions need no teardown (and whose actors are gone by now). */
static void lkw_free(struct lkw *w, struct env *e)
{
    for (int i = 0; w->wk && i < w->n; i++) {
        hist_destroy(w->wk[i].wait);
        hist_destroy(w->wk[i].hold);
        hist_destroy(w->wk[i].fail);
    }
    free(w->wk);
    free(w->round_winners);
    lock_counter_destroy(w->counter, e);
    lock_try_destroy(w->lock);
    if (e && w->made_sync) {
        env_cond_destroy(e, &w->gc);
        env_mutex_destroy(e, &w->gm);
        if (w->kind == LKW_CONTENTION && w->lock_kind == LKW_MUTEX)
            env_mutex_destroy(e, &w->mutex);
    }
}

static int lkw_run(struct lab_run *run, enum lkw_kind kind)
{
    struct lkw w = {.run = run, .kind = kind, .live = lab_world(run) == LAB_WORLD_LIVE};
    w.cores = lab_world_cores(run);
    w.gate = true;
    int rc = read_params(&w, run);
    if (rc < 0)
        return rc;
    if ((rc = alloc_workers(&w)) < 0) {
        lab_fail(run, "out of memory for %d workers", w.n);
        lkw_free(&w, NULL);
        return rc;
    }
    if (w.live) {
        struct live_world *lw = live_world_create(lab_seed(run));
        if (!lw) {
            lab_fail(run, "cannot create the live world: out of memory");
            lkw_free(&w, NULL);
            return -ENOMEM;
        }
        choose_cpus(&w);
        struct env *e = live_world_env(lw);
        lkw_main(e, &w);
        live_join_all(lw);
        if (w.finished)
            record(&w, run);
        lkw_free(&w, e);
        live_world_destroy(lw);
    } else {
        struct sim *sim = lab_sim_begin(run);
        if (!sim) {
            lkw_free(&w, NULL);
            return -EINVAL;
        }
        w.sim = sim;
        int node = sim_node_add(sim, "node", w.cores);
        if (node < 0 || sim_node_main(sim, node, "main", lkw_main, &w) < 0) {
            lab_fail(run, "cannot build the simulated node");
            lkw_free(&w, NULL);
            return -EINVAL;
        }
        if ((rc = lab_sim_go(run, 0)) < 0) {
            lkw_free(&w, NULL);
            return rc;
        }
        if (w.finished)
            record(&w, run);
        lkw_free(&w, NULL);
    }
    if (w.err < 0) {
        lab_fail(run, "the workload could not run: %s", strerror(-w.err));
        return -w.err == ENOMEM ? -ENOMEM : -EINVAL;
    }
    if (!w.finished) {
        lab_fail(run,
                 "the run did not finish within the scenario's duration (%.3g s): raise "
                 "`duration:`",
                 (double)lab_duration_total(run) / 1e9);
        return -EINVAL;
    }
    return 0;
}

static int counter_run(struct lab_run *run)
{
    return lkw_run(run, LKW_COUNTER);
}
static int trylock_run(struct lab_run *run)
{
    return lkw_run(run, LKW_TRYLOCK);
}
static int contention_run(struct lab_run *run)
{
    return lkw_run(run, LKW_CONTENTION);
}

extern const struct lab_workload lab_wl_lock_counter, lab_wl_lock_trylock, lab_wl_lock_contention;
const struct lab_workload lab_wl_lock_counter = {
    .name = "lock/counter",
    .about = "the seed's counter: N workers increment a shared count, with a mutex or none",
    .params = counter_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = counter_run,
};
const struct lab_workload lab_wl_lock_trylock = {
    .name = "lock/trylock",
    .about = "the seed's single executor: N workers try a try-lock once per round",
    .params = trylock_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = trylock_run,
};
const struct lab_workload lab_wl_lock_contention = {
    .name = "lock/contention",
    .about = "k contenders on one lock: blocking mutex vs spinning try-locks (livelock)",
    .params = contention_params,
    .worlds = LAB_WORLD_SIM | LAB_WORLD_LIVE,
    .run = contention_run,
};

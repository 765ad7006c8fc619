/* inproc.c - the in-process lock workloads: the seed's mutex counter (lock/counter), its
 * single-executor try-lock (lock/trylock), and contention (lock/contention: livelock)
 * with a blocking mutex against spinning try-locks. Never writes files or exits.
 *
 * Same code, two worlds. Each run has a main function and worker functions written
 * against env only (inproc_workers.c); the world driver (below) runs them on one
 * simulated node (main is the node's main actor, workers are actors it spawns with env_spawn) or
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
 *   - Attempt costs. Simulated attempts cost `attempt` (CAS) or `chan_op` (the channel
 *     model, lock/tokchan.h) of virtual CPU; live, a CAS costs what it costs and the
 *     channel is a real non-blocking pipe.
 *
 * Metrics (every workload): final_count (the shared counter at the end), lost_updates
 * (increments done minus final_count), throughput (increments, or tasks, per second from
 * the gate opening to the last worker's end), attempts_per_success, wasted_cpu_share
 * (CPU spent on failed attempts over all the workers' CPU), fairness (Jain's index over
 * per-worker successes: 1 when even, 1/n when one worker has them all), and the
 * hold_wait histogram (ns from starting to acquire to holding the lock). */
#include "lab/lock/inproc_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "names.h"

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

static const struct lab_param trylock_params[] = {
    {"workers", LAB_INT, "10", 1, 10000, NULL, "workers trying once per round (the seed's 10)"},
    {"rounds", LAB_INT, "100", 1, 1e6, NULL, "rounds; every worker tries once in each"},
    {"try", LAB_ENUM, "chan", 1, 0, NAMES_CHOICES(LKW_TRY_NAMES),
     "the seed's channel of one, or a CAS flag"},
    {"task", LAB_DURATION, "1ms", 0, 1e10, NULL, "the winner's task: CPU while it holds the lock"},
    {"release", LAB_ENUM, "task", 1, 0, NAMES_CHOICES(LKW_RELEASE_NAMES),
     "the winner releases after its task (the seed) or when all have tried"},
    {"attempt", LAB_DURATION, "100ns", 1, 1e9, NULL,
     "simulated CPU of one CAS attempt (live: the real cost)"},
    {"chan_op", LAB_DURATION, "1us", 1, 1e9, NULL,
     "simulated CPU of one channel operation (live: a real pipe read or write)"},
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
    {"attempt", LAB_DURATION, "1us", 1, 1e9, NULL,
     "simulated CPU of one CAS attempt and its pause (live: the real cost)"},
    {"chan_op", LAB_DURATION, "1us", 1, 1e9, NULL,
     "simulated CPU of one channel operation (live: a real pipe read or write)"},
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
    w->chan = lab_enum(run, "try") == LKW_CHAN;
    w->attempt_ns = lab_duration(run, "attempt");
    w->chan_op_ns = lab_duration(run, "chan_op");
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
    w->run_ns = w->live ? lab_duration(run, "live_run_for") : lab_duration(run, "run_for");
    w->lock_kind = (enum lkw_lock)lab_enum(run, "lock");
    w->spin.kind = w->lock_kind == LKW_YIELD     ? LOCK_SPIN_YIELD
                   : w->lock_kind == LKW_BACKOFF ? LOCK_SPIN_BACKOFF
                                                 : LOCK_SPIN_NONE;
    w->spin.base_ns = lab_duration(run, "backoff_base");
    w->spin.cap_ns = lab_duration(run, "backoff_cap");
    if (w->spin.cap_ns < w->spin.base_ns) {
        return lab_fail_param(run, "backoff_cap", "backoff_cap (%lld ns) is below backoff_base "
                          "(%lld ns)", (long long)w->spin.cap_ns, (long long)w->spin.base_ns);
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

/* The simulated world: one node whose main actor runs the workload. */
static int sim_build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct lkw *w = arg;
    int node = sim_node_add(sim, "node", w->cores);
    if (node < 0 || sim_node_main(sim, node, "main", lkw_main, w) < 0) {
        lab_fail(run, "cannot build the simulated node");
        return -EINVAL;
    }
    return 0;
}

static int sim_record(struct lab_run *run, void *arg)
{
    struct lkw *w = arg;
    if (w->finished)
        lkw_record(w, run);
    return 0;
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
        lkw_choose_cpus(&w);
        struct env *e = live_world_env(lw);
        lkw_main(e, &w);
        live_join_all(lw);
        if (w.finished)
            lkw_record(&w, run);
        lkw_free(&w, e);
        live_world_destroy(lw);
    } else {
        /* The world ends inside lab_sim_run, so no worker still waits on the counter's
         * mutex when lkw_free frees it. */
        rc = lab_sim_run(run, &w, sim_build, sim_record);
        lkw_free(&w, NULL);
        if (rc < 0)
            return rc;
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


/* inproc_wl.h - the in-process lock workloads' internals (lock/counter, lock/trylock,
 * lock/contention), shared by their files (prefix lkw_):
 *   inproc.c          parameters, the world driver (simulated node or live threads), the
 *                     workloads
 *   inproc_workers.c  main and the workers, written against env only (both worlds)
 *   inproc_theory.c   the theory and the metrics of a finished run
 * The workloads are described at the top of inproc.c. */
#ifndef DISTLAB_LAB_LOCK_INPROC_WL_H
#define DISTLAB_LAB_LOCK_INPROC_WL_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "lab/lab.h"
#include "lock/counter.h"
#include "lock/trylock.h"
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
    /* Simulated spinners: the lock at every slice boundary (lkw_sample_slice). */
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
    uint64_t *handles; /* main's: the workers' handles (lkw_free frees them: a simulated
                        * run cut short ends main where it waits) */
    double *round_winners;
    int64_t final_count; /* the counter when every worker had ended */
    int64_t calib_ns;    /* live: CPU of one uncontended acquisition (iteration) */
    cpu_set_t cpus;      /* live: where workers run */
    int ncpus;
    bool made_sync; /* gm, gc (and mutex) were initialised */
    bool finished;
    int err; /* a negative errno from main */
};


/* live: the CPUs workers are pinned to (the first world.cores). */
void lkw_choose_cpus(struct lkw *w);
/* The run's main function, in both worlds: calibrate (live), start the workers, wait for
 * them, read the counter. Sets w->finished, or w->err. */
void lkw_main(struct env *e, void *arg);
/* The metrics of a finished run, with the theory they are compared to. */
void lkw_record(struct lkw *w, struct lab_run *run);

#endif

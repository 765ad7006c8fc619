/* inproc_theory.c - the in-process lock workloads' metrics (inproc_wl.h) and the theory
 * they are compared to: lost updates of an unguarded counter, winners per round of the
 * try-lock, the contention workload's throughput bounds, fairness and wasted CPU. */
#include "lab/lock/inproc_wl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Theory ------------------------------------------------------------------------ */

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

/* The contention workload's own metrics: the throughput band, and for simulated spinners
 * the lock at the slice ends (q) with the models it feeds. */
static void record_contention(struct lkw *w, struct lab_run *run, uint64_t gave_up)
{
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

void lkw_record(struct lkw *w, struct lab_run *run)
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
        record_contention(w, run, gave_up);
    }
    free(per);
}


/* delay.c - the delayed-task workloads. Never writes files or exits.
 *
 * "delay/timers": one node keeps `pending` timers in one tq_ structure (timer/tq.h). Its
 * actor sleeps until tq_next, expires, and re-arms each fired timer at now + U(0,
 * horizon], so the structure always holds `pending` timers; with probability
 * `reschedule` a fire also cancels a random pending timer and re-adds it. Measures the
 * virtual firing lateness (a heap fires on time; a wheel rounds up to its tick) and the
 * structure's own operation counts: a heap's pop sifts about log_d n levels while the
 * top check costs none; a wheel's cost is slot visits and cascades, whatever n is.
 *
 * "delay/dispatch": a delayed-task service (primitives/delay) on node `timer` runs
 * `tasks` tasks due uniformly over `spread`, dispatched either through a simulated
 * broker (node `broker-0`, sim/broker.h) to a consumer (node `consumer`), or to W workers
 * running a callback whose duration is heavy-tailed (lognormal or Pareto) with a
 * timeout. Measures lateness (callback start, or delivery, minus due), timeouts against
 * their exact binomial expectation from the distribution's tail (GSL), and lost tasks.
 * A broker outage is an ordinary fault of the scenario: `crash: broker-0, for: 3s`.
 *
 * Every random draw comes from an actor's seeded stream (env_rand), so a run replays
 * from its seed. */
#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay/delay.h"
#include "lab/lab.h"
#include "names.h"
#include "sim/broker.h"
#include "sim/sim.h"
#include "timer/tq.h"

/* ==== delay/timers ==================================================================== */

struct tw {
    struct lab_run *run;
    enum tq_kind kind;
    int64_t pending, horizon, tick;
    uint32_t slots;
    double resched;
    struct tq *q;
    struct tq_timer *t;
    struct rng r;
    struct hist *lateness;
    int64_t now;
    uint64_t fires, wakeups, adds, cancels;
    uint64_t push_levels, cancel_levels; /* sift levels spent by adds and cancels */
};

static const struct lab_param tw_params[] = {
    {"structure", LAB_ENUM, "hwheel", 1, 0, NAMES_CHOICES(TQ_KIND_NAMES),
     "the timer structure (primitives/timer/tq.h)"},
    {"pending", LAB_INT, "10000", 1, 1e7, NULL, "timers kept pending at all times"},
    {"horizon", LAB_DURATION, "10s", 1e3, 3600e9, NULL,
     "a (re-)armed timer is due uniformly within this much of now"},
    {"tick", LAB_DURATION, "1ms", 1, 60e9, NULL, "wheels: tick length"},
    {"slots", LAB_INT, "1024", 1, 1 << 24, NULL, "hashed wheel: slots, a power of two"},
    {"reschedule", LAB_FLOAT, "0.1", 0, 1, NULL,
     "probability that a fire also cancels and re-adds a random pending timer"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int64_t tw_deadline(struct tw *w)
{
    return w->now + 1 + (int64_t)rng_below(&w->r, (uint64_t)w->horizon);
}

static void tw_add(struct tw *w, struct tq_timer *t)
{
    uint64_t before = tq_stats(w->q)->sift_levels;
    tq_add(w->q, t, tw_deadline(w));
    w->push_levels += tq_stats(w->q)->sift_levels - before;
    w->adds++;
}

static void tw_fire(struct tq_timer *t, void *arg)
{
    struct tw *w = arg;
    hist_add(w->lateness, w->now - t->node.when);
    w->fires++;
    tw_add(w, t);
    if (w->resched > 0 && rng_chance(&w->r, w->resched)) {
        struct tq_timer *o = &w->t[rng_below(&w->r, (uint64_t)w->pending)];
        if (tq_timer_queued(o)) {
            uint64_t before = tq_stats(w->q)->sift_levels;
            tq_cancel(w->q, o);
            w->cancel_levels += tq_stats(w->q)->sift_levels - before;
            w->cancels++;
            tw_add(w, o);
        }
    }
}

static void tw_main(struct env *e, void *arg)
{
    struct tw *w = arg;
    rng_seed(&w->r, env_rand(e));
    w->now = env_mono(e);
    struct tq_config cfg = {.kind = w->kind,
                            .hint = (size_t)w->pending,
                            .tick_ns = w->tick,
                            .slots = w->slots,
                            .start_ns = w->now};
    if (!(w->q = tq_create(&cfg)))
        return;
    for (int64_t i = 0; i < w->pending; i++)
        tw_add(w, &w->t[i]);
    for (;;) {
        int64_t next = tq_next(w->q);
        if (next > w->now)
            env_sleep(e, next - w->now);
        w->now = env_mono(e);
        w->wakeups++;
        tq_expire(w->q, w->now, tw_fire, w);
    }
}

/* floor(log_d((d - 1) n + 1)): the depth of the last level of a d-ary heap of n. */
static double heap_depth(int d, int64_t n)
{
    double depth = 0;
    for (double level = 1, total = 1; total < (double)n; depth++) {
        level *= d;
        total += level;
    }
    return depth;
}

static int tw_build(struct lab_run *run, struct sim *sim, void *w)
{
    int node = sim_node_add(sim, "timers", 1);
    return node < 0 ? node : sim_node_main(sim, node, "timers", tw_main, w);
}

/* The structure's operation counts and the lateness of its timers, against the theory. */
static int tw_record(struct lab_run *run, void *arg)
{
    struct tw *w = arg;
    if (!w->q) {
        lab_fail(run, "cannot create the %s structure", lab_str(run, "structure"));
        return -EINVAL;
    }
    const struct tq_stats *st = tq_stats(w->q);
    double fires = w->fires ? (double)w->fires : 1;
    lab_metric(run, "fires", (double)w->fires);
    lab_metric(run, "wakeups", (double)w->wakeups);
    lab_metric(run, "top_checks", (double)st->nexts);
    lab_metric(run, "top_checks_per_fire", (double)st->nexts / fires);
    lab_metric(run, "bytes_per_timer",
               (double)sizeof(struct tq_timer) + (double)tq_bytes(w->q) / (double)w->pending);
    bool heap = w->kind == TQ_HEAP2 || w->kind == TQ_HEAP4;
    bool wheel = !heap;
    if (heap) {
        double pop = (double)(st->sift_levels - w->push_levels - w->cancel_levels);
        double depth = heap_depth(w->kind == TQ_HEAP4 ? 4 : 2, w->pending);
        lab_metric(run, "pop_levels_per_fire", pop / fires);
        lab_metric(run, "push_levels_per_add", (double)w->push_levels / (double)w->adds);
        lab_metric(run, "theory_depth", depth);
        lab_metric(run, "pop_levels_gap", depth - pop / fires);
    } else {
        lab_metric(run, "slot_visits_per_fire", (double)st->slot_visits / fires);
        lab_metric(run, "cascaded_per_fire", (double)st->cascaded / fires);
        lab_metric(run, "chain_skips_per_fire", (double)st->chain_skips / fires);
        if (w->kind == TQ_WHEEL) {
            /* Each round a hashed wheel visits every slot and walks its whole chain: every
             * pending timer is looked at once per round, fired or stepped over. */
            double rounds = (double)lab_duration_total(run) / ((double)w->slots * (double)w->tick);
            lab_metric(run, "walked_per_timer_round",
                       ((double)st->chain_skips + (double)w->fires) /
                           ((double)w->pending * rounds));
        }
    }
    /* Theory of lateness: a heap fires on time; a wheel fires at the next tick boundary.
     * Every deadline is a tick boundary (when the driver woke) plus a uniform integer
     * number of ns, so its lateness is uniform on {0, ..., tick - 1}: mean (tick - 1)/2,
     * variance (tick^2 - 1)/12. */
    double m = (double)hist_count(w->lateness);
    double tmean = wheel ? (double)(w->tick - 1) / 2 : 0;
    double tsd = wheel ? sqrt(((double)w->tick * (double)w->tick - 1) / 12 / (m ? m : 1)) : 0;
    lab_metric(run, "theory_lateness_mean", tmean);
    lab_metric(run, "theory_lateness_max", wheel ? (double)(w->tick - 1) : 0);
    lab_metric(run, "lateness_mean_absz", tsd > 0 ? fabs(hist_mean(w->lateness) - tmean) / tsd : 0);
    return 0;
}

static int tw_run(struct lab_run *run)
{
    struct tw w = {.run = run};
    w.kind = (enum tq_kind)lab_enum(run, "structure");
    w.pending = lab_int(run, "pending");
    w.horizon = lab_duration(run, "horizon");
    w.tick = lab_duration(run, "tick");
    w.slots = (uint32_t)lab_int(run, "slots");
    w.resched = lab_float(run, "reschedule");
    if (w.slots & (w.slots - 1)) {
        return lab_fail_param(run, "slots", "slots must be a power of two, not %u", w.slots);
    }
    w.lateness = lab_hist(run, "lateness", "ns");
    if (!(w.t = calloc((size_t)w.pending, sizeof(*w.t)))) {
        lab_fail(run, "no memory for %lld timers", (long long)w.pending);
        return -ENOMEM;
    }
    int rc = lab_sim_run(run, &w, tw_build, tw_record);
    tq_destroy(w.q);
    free(w.t);
    return rc;
}

/* ==== delay/dispatch ================================================================== */

#define BROKER_PORT 7000u
#define CONSUMER_PORT 7001u

enum cb_dist { CB_LOGNORMAL, CB_PARETO };
#define CB_DIST_NAMES "lognormal", "pareto"
enum cb_cost { CB_SLEEP, CB_CPU }; /* a callback waits, or occupies a core */
#define CB_COST_NAMES "sleep", "cpu"

struct dw_task {
    struct dq_task t;
    int64_t due_true; /* true time it is due */
    bool delivered;
};

struct dw {
    struct lab_run *run;
    struct sim *sim;
    enum dq_mode mode;
    enum tq_kind kind;
    int64_t tick, spread, timeout, publish_timeout;
    int64_t tasks;
    int workers, retries;
    enum cb_dist dist;
    int64_t cb_median, cb_p99, pareto_min;
    double pareto_alpha;
    bool cpu;
    struct sim_broker broker;
    struct dw_task *task;
    struct dq *dq;
    struct hist *lateness;
    uint64_t delivered, duplicates, ran;
    int64_t last_due_true;
};

static const struct lab_param dw_params[] = {
    {"mode", LAB_ENUM, "callback", 1, 0, NAMES_CHOICES(DQ_MODE_NAMES),
     "publish fired tasks to a broker, or run a callback on a worker pool"},
    {"structure", LAB_ENUM, "hwheel", 1, 0, NAMES_CHOICES(TQ_KIND_NAMES), "the timer structure"},
    {"tick", LAB_DURATION, "1ms", 1, 60e9, NULL, "wheels: tick length"},
    {"tasks", LAB_INT, "20000", 1, 1e7, NULL, "tasks in all"},
    {"spread", LAB_DURATION, "20s", 1e6, 3600e9, NULL,
     "tasks are due uniformly over this much time from the start"},
    {"workers", LAB_INT, "16", 1, 4096, NULL, "callback workers, or publishers in queue mode"},
    {"timeout", LAB_DURATION, "0", 0, 3600e9, NULL, "callback budget; 0: none"},
    {"cb_dist", LAB_ENUM, "lognormal", 1, 0, NAMES_CHOICES(CB_DIST_NAMES),
     "distribution of a callback's duration"},
    {"cb_median", LAB_DURATION, "2ms", 1, 3600e9, NULL, "lognormal: median duration"},
    {"cb_p99", LAB_DURATION, "100ms", 1, 3600e9, NULL, "lognormal: 99th percentile"},
    {"pareto_min", LAB_DURATION, "1ms", 1, 3600e9, NULL, "Pareto: scale (the least duration)"},
    {"pareto_alpha", LAB_FLOAT, "1.5", 0.1, 100, NULL, "Pareto: tail index"},
    {"cb_cost", LAB_ENUM, "sleep", 1, 0, NAMES_CHOICES(CB_COST_NAMES),
     "a callback waits (I/O) or occupies a core of the timer node"},
    {"publish_timeout", LAB_DURATION, "50ms", 1, 3600e9, NULL,
     "queue: how long a publisher waits for the broker's ack"},
    {"retries", LAB_INT, "3", 0, 1000, NULL,
     "queue: publishes after the first before a task is lost"},
    {"broker_service", LAB_DURATION, "50us", 0, 3600e9, NULL, "queue: broker time per message"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* The callback duration's distribution, as the simulator draws it. */
static struct sim_dist cb_dist_of(const struct dw *w)
{
    if (w->dist == CB_PARETO)
        return (struct sim_dist){SIM_DIST_PARETO, w->pareto_min, 0, w->pareto_alpha};
    return (struct sim_dist){SIM_DIST_LOGNORMAL, w->cb_median, w->cb_p99, 0};
}

static double lognormal_sigma(const struct dw *w)
{
    struct sim_dist d = cb_dist_of(w);
    return sim_dist_lognormal_sigma(&d);
}

/* A callback duration, from the worker's stream. */
static int64_t cb_draw(const struct dw *w, struct rng *r)
{
    struct sim_dist d = cb_dist_of(w);
    return sim_dist_draw(&d, r);
}

/* P(duration > t) exactly, from the distribution's tail. */
static double cb_tail(const struct dw *w, double t)
{
    if (w->dist == CB_PARETO)
        return gsl_cdf_pareto_Q(t, w->pareto_alpha, (double)w->pareto_min);
    return gsl_cdf_lognormal_Q(t, log((double)w->cb_median), lognormal_sigma(w));
}

/* E[min(D, t)] in ns (t <= 0: no cap, E[D]), in closed form. Lognormal:
 * E[D; D < t] = e^(mu + s^2/2) Phi((ln t - mu - s^2) / s), plus t P(D > t). Pareto:
 * xm + integral from xm to t of (xm / x)^alpha dx. */
static double cb_mean_capped(const struct dw *w, int64_t cap)
{
    double t = cap > 0 ? (double)cap : INFINITY;
    if (w->dist == CB_PARETO) {
        double a = w->pareto_alpha, xm = (double)w->pareto_min;
        if (t <= xm)
            return t;
        if (isinf(t))
            return a > 1 ? a * xm / (a - 1) : INFINITY;
        if (a == 1)
            return xm + xm * log(t / xm);
        return xm + pow(xm, a) * (pow(t, 1 - a) - pow(xm, 1 - a)) / (1 - a);
    }
    double mu = log((double)w->cb_median), s = lognormal_sigma(w);
    double mean = exp(mu + s * s / 2);
    if (isinf(t))
        return mean;
    return mean * gsl_cdf_ugaussian_P((log(t) - mu - s * s) / s) + t * cb_tail(w, t);
}

/* The user's callback: runs for its drawn duration or until the budget, whichever is
 * shorter, and says whether it gave up. */
static int dw_callback(struct env *e, struct dq_task *t, int64_t budget, void *arg)
{
    struct dw *w = arg;
    struct rng r;
    rng_seed(&r, env_rand(e)); /* one draw from this worker's stream per task */
    int64_t d = cb_draw(w, &r);
    int64_t run_for = d < budget ? d : budget;
    if (w->cpu)
        env_work(e, run_for);
    else
        env_sleep(e, run_for);
    return d > budget ? -ETIMEDOUT : 0;
}

static void dw_started(void *arg, struct dq_task *t)
{
    struct dw *w = arg;
    if (w->mode == DQ_CALLBACK) {
        struct dw_task *x = (struct dw_task *)t;
        hist_add(w->lateness, sim_now(w->sim) - x->due_true);
        w->ran++;
    }
}

static int dw_publish(struct env *e, void *ctx, const struct dq_task *t, int attempt)
{
    struct dw *w = ctx;
    struct sim_addr to = {sim_node_find(w->sim, "broker-0"), BROKER_PORT};
    uint64_t id = t->id;
    return sim_broker_publish(e, to, id << 16 | (uint64_t)attempt, &id, sizeof(id),
                              w->publish_timeout);
}

static void dw_consumer(struct env *e, void *arg)
{
    struct dw *w = arg;
    if (sim_listen(e, CONSUMER_PORT) < 0)
        return;
    for (;;) {
        uint64_t id, tag;
        if (sim_broker_receive(e, &id, sizeof(id), &tag, -1) != (ssize_t)sizeof(id))
            continue;
        if (id >= (uint64_t)w->tasks)
            continue;
        struct dw_task *x = &w->task[id];
        if (x->delivered) {
            w->duplicates++;
            continue;
        }
        x->delivered = true;
        w->delivered++;
        hist_add(w->lateness, sim_env_true_now(e) - x->due_true);
    }
}

/* The timer node's main actor: start the service, then submit every task now, each
 * due at a uniform time within `spread`. */
static void dw_timer_main(struct env *e, void *arg)
{
    struct dw *w = arg;
    struct rng r;
    rng_seed(&r, env_rand(e));
    struct dq_config cfg = {
        .timers = {.kind = w->kind,
                   .hint = (size_t)w->tasks,
                   .tick_ns = w->tick,
                   .slots = 1024,
                   .start_ns = env_mono(e)},
        .mode = w->mode,
        .workers = w->workers,
        .timeout_ns = w->timeout,
        .retries = w->retries,
        .broker = {dw_publish, w},
        .callback = dw_callback,
        .callback_arg = w,
        .hooks = {.started = dw_started, .arg = w},
    };
    if (!(w->dq = dq_create(e, &cfg)) || dq_start(e, w->dq) < 0)
        return;
    int64_t mono = env_mono(e), now = sim_env_true_now(e);
    for (int64_t i = 0; i < w->tasks; i++) {
        struct dw_task *x = &w->task[i];
        int64_t delay = (int64_t)rng_below(&r, (uint64_t)w->spread);
        x->t.id = (uint64_t)i;
        x->due_true = now + delay;
        if (x->due_true > w->last_due_true)
            w->last_due_true = x->due_true;
        dq_submit(e, w->dq, &x->t, mono + delay);
    }
}

static int dw_read(struct dw *w, struct lab_run *run)
{
    w->mode = (enum dq_mode)lab_enum(run, "mode");
    w->kind = (enum tq_kind)lab_enum(run, "structure");
    w->tick = lab_duration(run, "tick");
    w->tasks = lab_int(run, "tasks");
    w->spread = lab_duration(run, "spread");
    w->workers = (int)lab_int(run, "workers");
    w->timeout = lab_duration(run, "timeout");
    w->dist = (enum cb_dist)lab_enum(run, "cb_dist");
    w->cb_median = lab_duration(run, "cb_median");
    w->cb_p99 = lab_duration(run, "cb_p99");
    w->pareto_min = lab_duration(run, "pareto_min");
    w->pareto_alpha = lab_float(run, "pareto_alpha");
    w->cpu = lab_enum(run, "cb_cost") == CB_CPU;
    w->publish_timeout = lab_duration(run, "publish_timeout");
    w->retries = (int)lab_int(run, "retries");
    if (w->dist == CB_LOGNORMAL && w->cb_p99 <= w->cb_median)
        return lab_fail_param(run, "cb_p99", "cb_p99 (%lld ns) must exceed cb_median (%lld ns)",
                          (long long)w->cb_p99, (long long)w->cb_median);
    return 0;
}

static int dw_build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct dw *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    int tn = sim_node_add(sim, "timer", cores);
    if (tn < 0)
        return tn;
    int rc = sim_node_main(sim, tn, "timer", dw_timer_main, w);
    if (rc < 0 || w->mode == DQ_CALLBACK)
        return rc;
    int bn = sim_node_add(sim, "broker-0", 1), cn = sim_node_add(sim, "consumer", 1);
    if (bn < 0 || cn < 0)
        return bn < 0 ? bn : cn;
    w->broker.port = BROKER_PORT;
    w->broker.service =
        (struct sim_dist){SIM_DIST_CONST, lab_duration(run, "broker_service"), 0, 0};
    w->broker.deliver_to = (struct sim_addr){cn, CONSUMER_PORT};
    if ((rc = sim_broker_install(sim, bn, &w->broker)) < 0)
        return rc;
    return sim_node_main(sim, cn, "consumer", dw_consumer, w);
}

/* How long the scenario's faults keep broker-0 down (crashes with a `for:`; one without
 * counts until the end of the run), ns. */
static int64_t broker_down(struct lab_run *run)
{
    int64_t down = 0;
    for (size_t i = 0; i < lab_fault_count(run); i++) {
        const struct lab_fault *f = lab_fault_get(run, i);
        if (f->kind == LAB_FAULT_CRASH && f->node && !strcmp(f->node, "broker-0"))
            down += f->dur > 0 ? f->dur : lab_duration_total(run) - f->at;
    }
    return down;
}

/* What a dispatch run measured, against the theory where there is one. */
static int dw_record(struct lab_run *run, void *arg)
{
    struct dw *w = arg;
    if (!w->dq) {
        lab_fail(run, "the delayed-task service did not start");
        return -EINVAL;
    }
    struct dq_stats st;
    dq_get_stats(w->dq, &st);
    if ((int64_t)st.submitted != w->tasks || w->last_due_true >= sim_now(w->sim)) {
        lab_fail(run, "the run ended before every task was due: make `duration` longer "
                      "than `spread`");
        return -EINVAL;
    }
    lab_metric(run, "tasks", (double)w->tasks);
    lab_metric(run, "fired", (double)st.fired);
    lab_metric(run, "dispatched", (double)st.done);
    lab_metric(run, "timeouts", (double)st.timeouts);
    lab_metric(run, "retries", (double)st.retries);
    lab_metric(run, "gave_up", (double)st.lost);
    lab_metric(run, "timer_wakeups", (double)st.wakeups);
    /* lost: never delivered (queue) or never run (callback) by the end of the run */
    uint64_t reached = w->mode == DQ_QUEUE ? w->delivered : w->ran;
    lab_metric(run, "lost", (double)((uint64_t)w->tasks - reached));
    lab_metric(run, "delivered", (double)w->delivered);
    lab_metric(run, "duplicates", (double)w->duplicates);
    lab_metric(run, "broker_received", (double)w->broker.received);
    /* Timeouts against the exact tail: each task that ran drew its duration
     * independently, so timeouts ~ Binomial(ran, p) with p = P(D > timeout). */
    double p = w->mode == DQ_CALLBACK && w->timeout > 0 ? cb_tail(w, (double)w->timeout) : 0;
    double n = (double)st.done;
    lab_metric(run, "theory_timeout_p", p);
    lab_metric(run, "theory_timeouts", n * p);
    double sd = sqrt(n * p * (1 - p));
    lab_metric(run, "timeouts_absz", sd > 0 ? fabs((double)st.timeouts - n * p) / sd : 0);
    /* Queue mode, broker down for D (the faults): every attempt fails after publish_timeout, so while
     * fired tasks wait (arrivals outpace W publishers), each publisher gives up on one task
     * per (retries + 1) timeouts: W D / ((retries + 1) tau) tasks lost, none when a task's
     * attempts outlast the outage. Valid while the dispatch queue stays non-empty. */
    if (w->mode == DQ_QUEUE) {
        double down = (double)broker_down(run);
        double window = (double)(w->retries + 1) * (double)w->publish_timeout;
        lab_metric(run, "theory_lost", down > window ? w->workers * down / window : 0);
    }
    /* Workers' load: the mean time a task holds a worker, E[min(D, timeout)], times the
     * arrival rate, over W. Above 1 the fired tasks pile up for the whole spread. */
    if (w->mode == DQ_CALLBACK) {
        double rate = (double)w->tasks / ((double)w->spread / 1e9);
        lab_metric(run, "theory_load", rate * cb_mean_capped(w, w->timeout) / 1e9 / w->workers);
    }
    return 0;
}

static int dw_run(struct lab_run *run)
{
    struct dw w = {.run = run};
    int rc = dw_read(&w, run);
    if (rc < 0)
        return rc;
    w.lateness = lab_hist(run, "lateness", "ns");
    if (!(w.task = calloc((size_t)w.tasks, sizeof(*w.task)))) {
        lab_fail(run, "no memory for %lld tasks", (long long)w.tasks);
        return -ENOMEM;
    }
    /* The service's actors waited on conditions inside it; the world, and they with it,
     * ended inside lab_sim_run. */
    rc = lab_sim_run(run, &w, dw_build, dw_record);
    dq_destroy(w.dq);
    free(w.task);
    return rc;
}

extern const struct lab_workload lab_wl_delay_timers, lab_wl_delay_dispatch;

const struct lab_workload lab_wl_delay_timers = {
    .name = "delay/timers",
    .about = "N pending timers in a heap or a timing wheel: firing lateness and the "
             "structure's operation counts",
    .params = tw_params,
    .worlds = LAB_WORLD_SIM,
    .run = tw_run,
};

const struct lab_workload lab_wl_delay_dispatch = {
    .name = "delay/dispatch",
    .about = "fired tasks published to a broker or run as callbacks with a timeout: "
             "lateness, timeouts, lost tasks",
    .params = dw_params,
    .worlds = LAB_WORLD_SIM,
    .run = dw_run,
};

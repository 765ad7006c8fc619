/* The delayed-task service in the simulated world: tasks fire at their due time (a heap)
 * or the next tick (a wheel), callbacks past their budget are counted, a broker that is
 * down loses exactly the tasks whose every publish fell in its outage, and a run replays
 * from its seed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "delay/delay.h"
#include "sim/broker.h"
#include "sim/sim.h"

enum { TASKS = 200 };

struct fixture {
    struct sim *sim;
    struct dq_config cfg;
    struct dq *dq;
    struct dq_task task[TASKS];
    int64_t due_true[TASKS], start_true[TASKS];
    int64_t cb_ns[TASKS]; /* each task's callback duration */
    int delivered[TASKS];
    struct sim_broker broker;
    int broker_node;
};

static void on_started(void *arg, struct dq_task *t)
{
    struct fixture *f = arg;
    f->start_true[t->id] = sim_now(f->sim);
}

static int callback(struct env *e, struct dq_task *t, int64_t budget, void *arg)
{
    struct fixture *f = arg;
    int64_t d = f->cb_ns[t->id];
    env_sleep(e, d < budget ? d : budget);
    return d > budget ? -ETIMEDOUT : 0;
}

static int publish(struct env *e, void *ctx, const struct dq_task *t, int attempt)
{
    struct fixture *f = ctx;
    struct sim_addr to = {f->broker_node, 9};
    uint64_t id = t->id;
    return sim_broker_publish(e, to, id << 8 | (uint64_t)attempt, &id, sizeof(id), 10 * SIM_MS);
}

static void consumer(struct env *e, void *arg)
{
    struct fixture *f = arg;
    sim_listen(e, 10);
    for (;;) {
        uint64_t id, tag;
        if (sim_broker_receive(e, &id, sizeof(id), &tag, -1) == sizeof(id) && id < TASKS)
            f->delivered[id]++;
    }
}

/* Task i is due at (i + 1) ms plus i us, so some fall between ticks. */
static void timer_main(struct env *e, void *arg)
{
    struct fixture *f = arg;
    f->cfg.timers.start_ns = env_mono(e);
    f->dq = dq_create(e, &f->cfg);
    cr_assert_not_null(f->dq);
    cr_assert_eq(dq_start(e, f->dq), 0);
    int64_t mono = env_mono(e), now = sim_env_true_now(e);
    for (int i = 0; i < TASKS; i++) {
        int64_t delay = (i + 1) * SIM_MS + i * SIM_US;
        f->task[i].id = (uint64_t)i;
        f->due_true[i] = now + delay;
        cr_assert_eq(dq_submit(e, f->dq, &f->task[i], mono + delay), 0);
    }
    cr_assert_eq(dq_submit(e, f->dq, &f->task[0], mono), -EINVAL);
}

static struct fixture *setup(enum dq_mode mode, enum tq_kind kind, int workers, uint64_t seed)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sim_config sc = {.seed = seed, .network = {{SIM_DIST_CONST, 500 * SIM_US, 0}, 0}};
    f->sim = sim_create(&sc);
    f->cfg = (struct dq_config){
        .timers = {.kind = kind, .hint = TASKS, .tick_ns = SIM_MS, .slots = 64},
        .mode = mode,
        .workers = workers,
        .retries = 2,
        .broker = {publish, f},
        .callback = callback,
        .callback_arg = f,
        .hooks = {.started = on_started, .arg = f},
    };
    int tn = sim_node_add(f->sim, "timer", 2);
    sim_node_main(f->sim, tn, "timer", timer_main, f);
    if (mode == DQ_QUEUE) {
        f->broker_node = sim_node_add(f->sim, "broker", 1);
        int cn = sim_node_add(f->sim, "consumer", 1);
        f->broker = (struct sim_broker){
            .port = 9, .service = {SIM_DIST_CONST, 0, 0}, .deliver_to = {cn, 10}};
        sim_broker_install(f->sim, f->broker_node, &f->broker);
        sim_node_main(f->sim, cn, "consumer", consumer, f);
    }
    return f;
}

static void teardown(struct fixture *f)
{
    sim_destroy(f->sim);
    dq_destroy(f->dq);
    free(f);
}

Test(delay, heap_dispatches_callbacks_at_their_due_time)
{
    struct fixture *f = setup(DQ_CALLBACK, TQ_HEAP4, 4, 1);
    sim_run(f->sim, SIM_S);
    struct dq_stats st;
    dq_get_stats(f->dq, &st);
    cr_assert_eq(st.fired, TASKS);
    cr_assert_eq(st.done, TASKS);
    for (int i = 0; i < TASKS; i++)
        cr_assert_eq(f->start_true[i], f->due_true[i], "task %d started %lld ns late", i,
                     (long long)(f->start_true[i] - f->due_true[i]));
    cr_assert_eq(st.timeouts, 0);
    teardown(f);
}

Test(delay, wheel_dispatches_within_a_tick)
{
    struct fixture *f = setup(DQ_CALLBACK, TQ_HWHEEL, 4, 1);
    sim_run(f->sim, SIM_S);
    for (int i = 0; i < TASKS; i++) {
        int64_t late = f->start_true[i] - f->due_true[i];
        int64_t want = (SIM_MS - (i * SIM_US) % SIM_MS) % SIM_MS; /* to the next tick */
        cr_assert_eq(late, want, "task %d: %lld ns late, expected %lld", i, (long long)late,
                     (long long)want);
    }
    teardown(f);
}

Test(delay, callbacks_past_their_budget_are_abandoned_and_counted)
{
    struct fixture *f = setup(DQ_CALLBACK, TQ_HEAP2, 2, 1);
    f->cfg.timeout_ns = 5 * SIM_MS;
    int expect = 0;
    for (int i = 0; i < TASKS; i++) {
        f->cb_ns[i] = (i % 7 == 0) ? 50 * SIM_MS : SIM_US; /* every 7th is slow */
        expect += f->cb_ns[i] > f->cfg.timeout_ns;
    }
    sim_run(f->sim, 10 * SIM_S);
    struct dq_stats st;
    dq_get_stats(f->dq, &st);
    cr_assert_eq(st.done, TASKS);
    cr_assert_eq(st.timeouts, (uint64_t)expect);
    /* two workers and 5 ms budgets: no task waits longer than one budget */
    for (int i = 0; i < TASKS; i++)
        cr_assert_leq(f->start_true[i] - f->due_true[i], 5 * SIM_MS);
    teardown(f);
}

Test(delay, slow_callbacks_without_timeout_delay_later_tasks)
{
    struct fixture *f = setup(DQ_CALLBACK, TQ_HEAP4, 1, 1);
    for (int i = 0; i < TASKS; i++)
        f->cb_ns[i] = i == 0 ? 100 * SIM_MS : SIM_US;
    sim_run(f->sim, 10 * SIM_S);
    /* one worker, held 100 ms by task 0: tasks due before then start when it frees */
    cr_assert_eq(f->start_true[1], f->due_true[0] + 100 * SIM_MS);
    cr_assert_gt(f->start_true[50] - f->due_true[50], 40 * SIM_MS);
    teardown(f);
}

Test(delay, queue_delivers_everything_while_the_broker_is_up)
{
    struct fixture *f = setup(DQ_QUEUE, TQ_HWHEEL, 4, 1);
    sim_run(f->sim, SIM_S);
    struct dq_stats st;
    dq_get_stats(f->dq, &st);
    cr_assert_eq(st.lost, 0);
    cr_assert_eq(st.retries, 0);
    for (int i = 0; i < TASKS; i++)
        cr_assert_eq(f->delivered[i], 1, "task %d delivered %d times", i, f->delivered[i]);
    cr_assert_eq(f->broker.received, TASKS);
    teardown(f);
}

Test(delay, queue_loses_tasks_whose_every_publish_meets_a_dead_broker)
{
    struct fixture *f = setup(DQ_QUEUE, TQ_HEAP4, 1, 1);
    /* down from before the first task until long after: 1 publisher, 3 attempts of
     * 10 ms each, so every task is given up */
    sim_fault_crash(f->sim, 0, f->broker_node);
    sim_run(f->sim, 20 * SIM_S);
    struct dq_stats st;
    dq_get_stats(f->dq, &st);
    cr_assert_eq(st.lost, TASKS);
    cr_assert_eq(st.retries, 2 * TASKS);
    for (int i = 0; i < TASKS; i++)
        cr_assert_eq(f->delivered[i], 0);
    teardown(f);
}

Test(delay, a_run_replays_from_its_seed)
{
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        struct fixture *f = setup(DQ_QUEUE, TQ_WHEEL, 3, 77);
        sim_fault_crash(f->sim, 50 * SIM_MS, f->broker_node);
        sim_fault_restart(f->sim, 80 * SIM_MS, f->broker_node);
        sim_run(f->sim, SIM_S);
        h[k] = sim_hash(f->sim);
        teardown(f);
    }
    cr_assert_eq(h[0], h[1]);
}

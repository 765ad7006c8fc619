/* The simulator's promises: exact virtual times, ties in order, the network, faults, the
 * CPU model, hang detection and determinism. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <alloca.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/sim.h"

static struct sim *mk(uint64_t seed)
{
    struct sim_config cfg = {.seed = seed};
    struct sim *sim = sim_create(&cfg);
    cr_assert_not_null(sim);
    return sim;
}

/* ---- ordering and sleeping ---- */

static int order[16], norder;
static void record(struct sim *sim, void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

Test(sim, ties_fire_in_insertion_order)
{
    struct sim *sim = mk(1);
    norder = 0;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(sim_at(sim, 5 * SIM_MS, record, (void *)(intptr_t)i), 0);
    sim_at(sim, 1 * SIM_MS, record, (void *)(intptr_t)100);
    cr_assert_eq(sim_run(sim, SIM_S), SIM_STOP_IDLE);
    cr_assert_eq(norder, 11);
    cr_assert_eq(order[0], 100);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(order[i + 1], i);
    sim_destroy(sim);
}

struct times {
    int64_t t[8];
    int n;
};

static void sleeper(struct env *e, void *arg)
{
    struct times *tm = arg;
    int64_t d[] = {3 * SIM_MS, 1, 250 * SIM_US, 2 * SIM_S};
    for (int i = 0; i < 4; i++) {
        env_sleep(e, d[i]);
        tm->t[tm->n++] = sim_env_true_now(e);
    }
}

Test(sim, sleep_wakes_at_exact_virtual_times)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "a", 1);
    struct times tm = {0};
    cr_assert_gt(sim_spawn(sim, n, "sleeper", sleeper, &tm), 0);
    cr_assert_eq(sim_run(sim, 10 * SIM_S), SIM_STOP_IDLE);
    cr_assert_eq(tm.n, 4);
    cr_assert_eq(tm.t[0], 3 * SIM_MS);
    cr_assert_eq(tm.t[1], 3 * SIM_MS + 1);
    cr_assert_eq(tm.t[2], 3 * SIM_MS + 1 + 250 * SIM_US);
    cr_assert_eq(tm.t[3], 3 * SIM_MS + 1 + 250 * SIM_US + 2 * SIM_S);
    sim_destroy(sim);
}

Test(sim, run_stops_at_until_and_continues)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "a", 1);
    struct times tm = {0};
    sim_spawn(sim, n, "sleeper", sleeper, &tm);
    cr_assert_eq(sim_run(sim, 2 * SIM_MS), SIM_STOP_TIME);
    cr_assert_eq(sim_now(sim), 2 * SIM_MS);
    cr_assert_eq(tm.n, 0);
    cr_assert_eq(sim_run(sim, 4 * SIM_MS), SIM_STOP_TIME);
    cr_assert_eq(tm.n, 3);
    sim_destroy(sim);
}

/* ---- network ---- */

struct pp {
    int server;
    int got;
    int64_t arrival[64];
    int lost_sent;
};

static void echo_server(struct env *e, void *arg)
{
    cr_assert_eq(sim_listen(e, 80), 0);
    char buf[64];
    struct sim_addr from;
    for (;;) {
        ssize_t n = sim_recv(e, buf, sizeof(buf), &from, -1);
        sim_send(e, from, buf, (size_t)n);
    }
}

static void pinger(struct env *e, void *arg)
{
    struct pp *p = arg;
    struct sim_addr to = {p->server, 80};
    for (int i = 0; i < 10; i++) {
        int64_t t0 = sim_env_true_now(e);
        sim_send(e, to, "ping", 4);
        char buf[8];
        ssize_t n = sim_recv(e, buf, sizeof(buf), NULL, 50 * SIM_MS);
        if (n == 4)
            p->arrival[p->got++] = sim_env_true_now(e) - t0;
        env_sleep(e, 100 * SIM_MS);
    }
}

Test(sim, message_latency_is_the_link_latency)
{
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, 700 * SIM_US, 0, 0};
    struct sim *sim = sim_create(&cfg);
    int a = sim_node_add(sim, "client", 1), b = sim_node_add(sim, "server", 1);
    struct pp p = {.server = b};
    sim_spawn(sim, b, "echo", echo_server, NULL);
    sim_spawn(sim, a, "ping", pinger, &p);
    sim_run(sim, 5 * SIM_S);
    cr_assert_eq(p.got, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(p.arrival[i], 1400 * SIM_US); /* there and back */
    sim_destroy(sim);
}

Test(sim, link_override_and_uniform_latency_stay_in_bounds)
{
    struct sim *sim = mk(5);
    int a = sim_node_add(sim, "client", 1), b = sim_node_add(sim, "server", 1);
    struct sim_link slow = {{SIM_DIST_UNIFORM, 1 * SIM_MS, 3 * SIM_MS, 0}, 0};
    cr_assert_eq(sim_link_set(sim, a, b, &slow), 0);
    struct pp p = {.server = b};
    sim_spawn(sim, b, "echo", echo_server, NULL);
    sim_spawn(sim, a, "ping", pinger, &p);
    sim_run(sim, 5 * SIM_S);
    cr_assert_eq(p.got, 10);
    for (int i = 0; i < 10; i++) /* reply path has the default 0 latency */
        cr_assert(p.arrival[i] >= 1 * SIM_MS && p.arrival[i] <= 3 * SIM_MS);
    sim_destroy(sim);
}

struct counter {
    int got;
};
static void sink(struct env *e, void *arg)
{
    struct counter *c = arg;
    sim_listen(e, 9);
    char b[4];
    while (sim_recv(e, b, sizeof(b), NULL, -1) >= 0)
        c->got++;
}
struct blast {
    int dst, n;
    int64_t every;
};
static void blaster(struct env *e, void *arg)
{
    struct blast *b = arg;
    for (int i = 0; i < b->n; i++) {
        sim_send(e, (struct sim_addr){b->dst, 9}, "x", 1);
        env_sleep(e, b->every);
    }
}

Test(sim, loss_drops_the_expected_fraction)
{
    struct sim_config cfg = {.seed = 11};
    cfg.network.loss = 0.2;
    struct sim *sim = sim_create(&cfg);
    int a = sim_node_add(sim, "a", 1), b = sim_node_add(sim, "b", 1);
    struct counter c = {0};
    struct blast bl = {b, 20000, SIM_MS};
    sim_spawn(sim, b, "sink", sink, &c);
    sim_spawn(sim, a, "blast", blaster, &bl);
    sim_run(sim, 100 * SIM_S);
    /* Binomial(20000, 0.8): mean 16000, sd 56.6; allow 5 sd. */
    cr_assert(c.got > 16000 - 283 && c.got < 16000 + 283, "delivered %d", c.got);
    sim_destroy(sim);
}

Test(sim, partition_cuts_then_heals)
{
    struct sim *sim = mk(1);
    int a = sim_node_add(sim, "a", 1), b = sim_node_add(sim, "b", 1);
    struct counter c = {0};
    struct blast bl = {b, 100, 10 * SIM_MS}; /* sends at 0, 10, ..., 990 ms */
    sim_spawn(sim, b, "sink", sink, &c);
    sim_spawn(sim, a, "blast", blaster, &bl);
    int sa[] = {a}, sb[] = {b};
    /* cut from 200 ms (inclusive) to 500 ms: sends at 200..490 are lost: 30 of them */
    cr_assert_eq(sim_fault_partition(sim, 200 * SIM_MS - 1, 500 * SIM_MS - 1, sa, 1, sb, 1,
                                     false), 0);
    sim_run(sim, 2 * SIM_S);
    cr_assert_eq(c.got, 70);
    sim_destroy(sim);
}

Test(sim, oneway_partition_cuts_one_direction)
{
    struct sim *sim = mk(1);
    int a = sim_node_add(sim, "a", 1), b = sim_node_add(sim, "b", 1);
    struct counter ca = {0}, cb = {0};
    struct blast ab = {b, 10, 10 * SIM_MS}, ba = {a, 10, 10 * SIM_MS};
    sim_spawn(sim, b, "sink", sink, &cb);
    sim_spawn(sim, a, "sink", sink, &ca);
    sim_spawn(sim, a, "blast", blaster, &ab);
    sim_spawn(sim, b, "blast", blaster, &ba);
    int sa[] = {a}, sb[] = {b};
    sim_fault_partition(sim, 0, -1, sa, 1, sb, 1, true);
    sim_run(sim, 2 * SIM_S);
    cr_assert_eq(cb.got, 0);
    cr_assert_eq(ca.got, 10);
    sim_destroy(sim);
}

/* ---- faults ---- */

struct life {
    int starts;
    int ticks;
    int64_t stored_at_start[4];
};

static void node_main(struct env *e, void *arg)
{
    struct life *l = arg;
    int64_t v = -1;
    size_t len;
    if (env_store_get(e, "k", &v, sizeof(v), &len) < 0)
        v = -1;
    l->stored_at_start[l->starts++] = v;
    int64_t mine = l->starts * 100;
    env_store_put(e, "k", &mine, sizeof(mine));
    for (;;) {
        env_sleep(e, 10 * SIM_MS);
        l->ticks++;
    }
}

Test(sim, crash_kills_and_restart_reruns_with_store_intact)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    struct life l = {0};
    cr_assert_eq(sim_node_main(sim, n, "main", node_main, &l), 0);
    sim_fault_crash(sim, 105 * SIM_MS, n);
    sim_fault_restart(sim, 300 * SIM_MS, n);
    sim_run(sim, 200 * SIM_MS);
    cr_assert_eq(l.ticks, 10);
    cr_assert_not(sim_node_up(sim, n));
    struct sim_stats st;
    sim_stats(sim, &st);
    cr_assert_eq(st.live, 0);
    sim_run(sim, 405 * SIM_MS);
    cr_assert(sim_node_up(sim, n));
    cr_assert_eq(l.starts, 2);
    cr_assert_eq(l.stored_at_start[0], -1);
    cr_assert_eq(l.stored_at_start[1], 100); /* the durable store survived */
    cr_assert_eq(l.ticks, 20);
    sim_destroy(sim);
}

static void ticker(struct env *e, void *arg)
{
    int64_t *last = arg;
    for (;;) {
        env_sleep(e, 10 * SIM_MS);
        *last = sim_env_true_now(e);
    }
}

Test(sim, pause_delays_every_actor_on_the_node)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 2), m = sim_node_add(sim, "other", 1);
    int64_t t1 = 0, t2 = 0, t3 = 0;
    sim_spawn(sim, n, "t1", ticker, &t1);
    sim_spawn(sim, n, "t2", ticker, &t2);
    sim_spawn(sim, m, "t3", ticker, &t3);
    sim_fault_pause(sim, 55 * SIM_MS, n, 100 * SIM_MS);
    sim_run(sim, 154 * SIM_MS);
    cr_assert_eq(t1, 50 * SIM_MS);
    cr_assert_eq(t2, 50 * SIM_MS);
    cr_assert_eq(t3, 150 * SIM_MS); /* the other node is not paused */
    sim_run(sim, 155 * SIM_MS);
    cr_assert_eq(t1, 155 * SIM_MS); /* fired late, at the end of the pause */
    cr_assert_eq(t2, 155 * SIM_MS);
    sim_destroy(sim);
}

static void worker_ns(struct env *e, void *arg)
{
    int64_t *done = arg;
    env_work(e, 100 * SIM_MS);
    *done = sim_env_true_now(e);
}

Test(sim, pause_freezes_cpu_work_in_progress)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    int64_t done = 0;
    sim_spawn(sim, n, "w", worker_ns, &done);
    sim_fault_pause(sim, 30 * SIM_MS, n, 50 * SIM_MS);
    sim_run(sim, SIM_S);
    cr_assert_eq(done, 150 * SIM_MS);
    sim_destroy(sim);
}

struct clocks {
    int64_t wall[3], mono[3], truth[3];
};
static void clock_reader(struct env *e, void *arg)
{
    struct clocks *c = arg;
    for (int i = 0; i < 3; i++) {
        c->wall[i] = env_now(e);
        c->mono[i] = env_mono(e);
        c->truth[i] = sim_env_true_now(e);
        env_sleep(e, SIM_S);
    }
}

Test(sim, clock_step_and_drift_show_in_env_now_not_true_time)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    cr_assert_eq(sim_clock_set(sim, n, 5 * SIM_MS, 100.0), 0); /* +5 ms, 100 ppm fast */
    struct clocks c;
    sim_spawn(sim, n, "r", clock_reader, &c);
    sim_fault_clock_step(sim, SIM_S + SIM_MS, n, -50 * SIM_MS);
    sim_run(sim, 10 * SIM_S);
    /* sleeping 1 s of this node's monotonic time takes 1 s / (1 + 1e-4) of true time */
    int64_t d = c.truth[1] - c.truth[0];
    cr_assert(d == 999900010 || d == 999900009 || d == 999900011, "true sleep %ld", (long)d);
    cr_assert_eq(c.mono[1] - c.mono[0], SIM_S);
    int64_t w0 = c.wall[0] - c.truth[0];
    cr_assert_eq(c.wall[1] - c.wall[0], SIM_S);
    cr_assert_eq(c.wall[2] - c.wall[1], SIM_S - 50 * SIM_MS); /* the step went back */
    cr_assert_eq(c.mono[2] - c.mono[1], SIM_S);               /* monotonic did not */
    cr_assert_eq(w0 % SIM_S, 5 * SIM_MS);
    sim_destroy(sim);
}

Test(sim, drift_change_at_a_scheduled_time)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    sim_fault_drift(sim, 0, n, 1000.0); /* 1 ms per second fast */
    sim_run(sim, 10 * SIM_S);
    cr_assert_eq(sim_node_mono(sim, n) - 1000 * SIM_S, 10 * SIM_S + 10 * SIM_MS);
    sim_destroy(sim);
}

/* ---- the CPU model ---- */

Test(sim, work_serialises_on_one_core_and_shares_two)
{
    for (int cores = 1; cores <= 2; cores++) {
        struct sim *sim = mk(1);
        int n = sim_node_add(sim, "n", cores);
        int64_t done[2] = {0};
        sim_spawn(sim, n, "w0", worker_ns, &done[0]);
        sim_spawn(sim, n, "w1", worker_ns, &done[1]);
        sim_run(sim, SIM_S);
        if (cores == 1) {
            /* round robin in 4 ms slices: both finish near 200 ms, one slice apart */
            cr_assert_eq(done[0], 196 * SIM_MS);
            cr_assert_eq(done[1], 200 * SIM_MS);
        } else {
            cr_assert_eq(done[0], 100 * SIM_MS);
            cr_assert_eq(done[1], 100 * SIM_MS);
        }
        sim_destroy(sim);
    }
}

struct spin {
    int *flag;
    uint64_t attempts;
};
static void spinner(struct env *e, void *arg)
{
    struct spin *s = arg;
    while (!*s->flag) {
        s->attempts++;
        env_work(e, 100); /* one failed try-lock attempt */
    }
}

struct holder {
    int flag;
    int64_t done;
};
static void holder(struct env *e, void *arg)
{
    struct holder *h = arg;
    env_work(e, 40 * SIM_MS);
    h->done = sim_env_true_now(e);
    h->flag = 1;
}

Test(sim, spinners_slow_the_holder)
{
    /* k spinners on one core with the holder: the holder gets 1/(k+1) of the core. */
    for (int k = 0; k <= 2; k++) {
        struct sim *sim = mk(1);
        int n = sim_node_add(sim, "n", 1);
        struct holder h = {0};
        struct spin s[2] = {{&h.flag, 0}, {&h.flag, 0}};
        sim_spawn(sim, n, "holder", holder, &h);
        for (int i = 0; i < k; i++)
            sim_spawn(sim, n, "spinner", spinner, &s[i]);
        sim_run(sim, SIM_S);
        int64_t want = 40 * SIM_MS * (k + 1);
        /* within one slice per spinner of the fluid share */
        cr_assert(h.done >= want - 4 * SIM_MS * k && h.done <= want,
                  "k=%d holder done at %ld, fluid %ld", k, (long)h.done, (long)want);
        sim_destroy(sim);
    }
}

static void yielder(struct env *e, void *arg)
{
    for (;;)
        env_yield(e);
}

Test(sim, hang_detector_names_the_actor)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    sim_spawn(sim, n, "busy-wait", yielder, NULL);
    cr_assert_eq(sim_run(sim, SIM_S), SIM_STOP_HANG);
    cr_assert(strstr(sim_error(sim), "busy-wait"), "%s", sim_error(sim));
    cr_assert(strstr(sim_error(sim), "'n'"), "%s", sim_error(sim));
    sim_destroy(sim);
}

/* ---- locks, conditions, spawn/join ---- */

struct shared {
    struct env_mutex m;
    struct env_cond c;
    int inited;
    int count;
    int inside, max_inside;
    int ready;
};

static void incr(struct env *e, void *arg)
{
    struct shared *s = arg;
    if (!s->inited) {
        env_mutex_init(e, &s->m);
        env_cond_init(e, &s->c);
        s->inited = 1;
    }
    for (int i = 0; i < 100; i++) {
        env_mutex_lock(e, &s->m);
        s->inside++;
        if (s->inside > s->max_inside)
            s->max_inside = s->inside;
        int v = s->count;
        env_work(e, 1000); /* a long critical section: others must wait */
        s->count = v + 1;
        s->inside--;
        env_mutex_unlock(e, &s->m);
    }
}

Test(sim, mutex_excludes_and_counts_exactly)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 2);
    struct shared s = {0};
    for (int i = 0; i < 10; i++)
        sim_spawn(sim, n, "incr", incr, &s);
    cr_assert_eq(sim_run(sim, 10 * SIM_S), SIM_STOP_IDLE);
    cr_assert_eq(s.count, 1000);
    cr_assert_eq(s.max_inside, 1);
    sim_destroy(sim);
}

static void waiter(struct env *e, void *arg)
{
    struct shared *s = arg;
    env_mutex_lock(e, &s->m);
    while (!s->ready)
        env_cond_wait(e, &s->c, &s->m, -1);
    s->count = (int)(sim_env_true_now(e) / SIM_MS);
    env_mutex_unlock(e, &s->m);
    int rc = 0;
    env_mutex_lock(e, &s->m);
    rc = env_cond_wait(e, &s->c, &s->m, 30 * SIM_MS);
    env_mutex_unlock(e, &s->m);
    s->inside = rc == -ETIMEDOUT ? (int)(sim_env_true_now(e) / SIM_MS) : -1;
}

static void child(struct env *e, void *arg)
{
    env_sleep(e, 20 * SIM_MS);
    *(int *)arg = 1;
}

static void signaller(struct env *e, void *arg)
{
    struct shared *s = arg;
    env_mutex_init(e, &s->m);
    env_cond_init(e, &s->c);
    uint64_t h;
    int flag = 0;
    cr_assert_eq(env_spawn(e, "waiter", waiter, s, &h), 0);
    uint64_t hc;
    env_spawn(e, "child", child, &flag, &hc);
    env_join(e, hc);
    cr_assert_eq(flag, 1);
    cr_assert_eq(sim_env_true_now(e), 20 * SIM_MS);
    env_mutex_lock(e, &s->m);
    s->ready = 1;
    env_cond_signal(e, &s->c);
    env_mutex_unlock(e, &s->m);
    env_join(e, h);
    s->max_inside = (int)(sim_env_true_now(e) / SIM_MS);
}

Test(sim, condition_signal_timeout_spawn_and_join)
{
    struct sim *sim = mk(1);
    int n = sim_node_add(sim, "n", 1);
    struct shared s = {0};
    sim_spawn(sim, n, "sig", signaller, &s);
    cr_assert_eq(sim_run(sim, SIM_S), SIM_STOP_IDLE);
    cr_assert_eq(s.count, 20);      /* woken by the signal at 20 ms */
    cr_assert_eq(s.inside, 50);     /* then timed out 30 ms later */
    cr_assert_eq(s.max_inside, 50); /* join returned when it ended */
    sim_destroy(sim);
}

/* ---- determinism ---- */

struct chatter {
    int peers[4];
};
static void chatty(struct env *e, void *arg)
{
    struct chatter *c = arg;
    sim_listen(e, 7);
    for (int i = 0; i < 200; i++) {
        int to = c->peers[env_rand_below(e, 4)];
        sim_send(e, (struct sim_addr){to, 7}, "m", 1);
        char b[2];
        while (sim_recv(e, b, sizeof(b), NULL, 0) >= 0)
            ;
        env_work(e, (int64_t)env_rand_below(e, 1000));
        env_sleep(e, (int64_t)env_rand_below(e, 5 * SIM_MS));
    }
}

static uint64_t chat_hash(uint64_t seed)
{
    struct sim_config cfg = {.seed = seed};
    cfg.network.latency = (struct sim_dist){SIM_DIST_LOGNORMAL, 500 * SIM_US, 5 * SIM_MS, 0};
    cfg.network.loss = 0.01;
    struct sim *sim = sim_create(&cfg);
    struct chatter c;
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof(name), "n%d", i);
        c.peers[i] = sim_node_add(sim, name, 1);
    }
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 3; k++)
            sim_spawn(sim, c.peers[i], "chat", chatty, &c);
    sim_fault_pause(sim, 100 * SIM_MS, c.peers[1], 50 * SIM_MS);
    sim_run(sim, 10 * SIM_S);
    uint64_t h = sim_hash(sim);
    struct sim_stats st;
    sim_stats(sim, &st);
    cr_assert_gt(st.events, 1000);
    sim_destroy(sim);
    return h;
}

Test(sim, same_seed_same_hash_other_seed_other_hash)
{
    uint64_t a = chat_hash(1), b = chat_hash(1), c = chat_hash(2);
    cr_assert_eq(a, b);
    cr_assert_neq(a, c);
}

static void noop(struct sim *sim, void *arg)
{
}

Test(sim, destroy_with_events_still_queued)
{
    /* Messages in flight, a fault and a callback still pending, actors asleep: freeing
     * the world must not touch any of them after it freed them (ASan checks this). */
    struct sim_config cfg = {.seed = 1};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, SIM_S, 0, 0};
    struct sim *sim = sim_create(&cfg);
    int a = sim_node_add(sim, "a", 1), b = sim_node_add(sim, "b", 1);
    struct counter c = {0};
    struct blast bl = {b, 100, SIM_MS};
    sim_spawn(sim, b, "sink", sink, &c);
    sim_spawn(sim, a, "blast", blaster, &bl);
    sim_fault_crash(sim, 10 * SIM_S, a);
    sim_at(sim, 20 * SIM_S, noop, NULL);
    cr_assert_eq(sim_run(sim, 50 * SIM_MS), SIM_STOP_TIME);
    cr_assert_eq(c.got, 0);
    sim_destroy(sim);
}

Test(sim, pareto_draws_follow_their_tail)
{
    /* Scale 1 ms, tail index 1.5: P(X > 4 ms) = (1/4)^1.5 = 0.125 exactly. */
    struct sim_dist d = {SIM_DIST_PARETO, SIM_MS, 0, 1.5};
    struct rng r;
    rng_seed(&r, 9);
    int over = 0, n = 100000;
    for (int i = 0; i < n; i++) {
        int64_t x = sim_dist_draw(&d, &r);
        cr_assert_geq(x, SIM_MS);
        over += x > 4 * SIM_MS;
    }
    /* Binomial(1e5, 0.125): sd 104.6; allow 5 sd. */
    cr_assert(over > 12500 - 523 && over < 12500 + 523, "over %d", over);
    struct sim_dist ln = {SIM_DIST_LOGNORMAL, SIM_MS, 10 * SIM_MS, 0};
    cr_assert_float_eq(sim_dist_lognormal_sigma(&ln), log(10.0) / 2.3263478740408408, 1e-9);
}

/* ---- the event order, pinned ---- */

/* A world that leans on the event queue: many actors sleeping random lengths (some equal,
 * some zero, a few far in the future), timed receives cut short by messages (a cancelled
 * timer), condition waits with timeouts, callbacks at equal times. */
struct churn {
    int nodes[3];
    struct env_mutex m;
    struct env_cond c;
    bool init;
    int signals;
};

static void churn_actor(struct env *e, void *arg)
{
    struct churn *ch = arg;
    if (!ch->init) {
        env_mutex_init(e, &ch->m);
        env_cond_init(e, &ch->c);
        ch->init = true;
    }
    sim_listen(e, 100 + (uint32_t)sim_env_actor(e));
    for (int i = 0; i < 100; i++) {
        uint64_t op = env_rand_below(e, 8);
        int64_t id = 1 + (int64_t)env_rand_below(e, 240);
        struct sim_addr to = {ch->nodes[env_rand_below(e, 3)], 100 + (uint32_t)id};
        char b[4];
        if (op == 0)
            env_sleep(e, (int64_t)env_rand_below(e, 4) * SIM_MS); /* ties and zero */
        else if (op == 1)
            env_sleep(e, (int64_t)env_rand_below(e, 1000000) * 1000); /* up to 1000 s */
        else if (op == 2)
            sim_send(e, to, "x", 1);
        else if (op == 3)
            sim_recv(e, b, sizeof(b), NULL, (int64_t)env_rand_below(e, 50) * SIM_MS);
        else if (op == 4) {
            env_mutex_lock(e, &ch->m);
            env_cond_wait(e, &ch->c, &ch->m, (int64_t)env_rand_below(e, 20) * SIM_MS);
            env_mutex_unlock(e, &ch->m);
        } else if (op == 5) {
            env_mutex_lock(e, &ch->m);
            env_cond_signal(e, &ch->c);
            ch->signals++;
            env_mutex_unlock(e, &ch->m);
        } else if (op == 6) {
            env_work(e, (int64_t)env_rand_below(e, 6) * SIM_MS);
        } else {
            env_sleep(e, 1 + (int64_t)env_rand_below(e, 999));
        }
    }
}

static int churn_calls;
static void churn_call(struct sim *sim, void *arg)
{
    churn_calls++;
    if (churn_calls < 500)
        sim_at(sim, sim_now(sim) + (int64_t)(churn_calls % 3) * SIM_MS, churn_call, arg);
}

static uint64_t churn_hash_on(uint64_t seed, size_t stack, uint64_t *events, struct sim_stats *out)
{
    struct sim_config cfg = {.seed = seed, .stack_size = stack, .stack_watermark = out != NULL};
    cfg.network.latency = (struct sim_dist){SIM_DIST_UNIFORM, 100 * SIM_US, 3 * SIM_MS, 0};
    struct sim *sim = sim_create(&cfg);
    struct churn ch = {0};
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof(name), "c%d", i);
        ch.nodes[i] = sim_node_add(sim, name, 2);
    }
    for (int k = 0; k < 240; k++)
        sim_spawn(sim, ch.nodes[k % 3], "churn", churn_actor, &ch);
    churn_calls = 0;
    for (int k = 0; k < 4; k++)
        sim_at(sim, 7 * SIM_MS, churn_call, NULL);
    sim_fault_pause(sim, 30 * SIM_MS, ch.nodes[2], 40 * SIM_MS);
    if (out) { /* the pool in the middle of the run, every actor alive */
        cr_assert_eq(sim_run(sim, 20 * SIM_MS), SIM_STOP_TIME);
        const char *why = sim_stacks_check(sim);
        cr_assert_null(why, "stack pool: %s", why);
    }
    cr_assert_eq(sim_run(sim, 5000 * SIM_S), SIM_STOP_IDLE);
    struct sim_stats st;
    sim_stats(sim, &st);
    *events = st.events;
    if (out) {
        *out = st;
        const char *why = sim_stacks_check(sim);
        cr_assert_null(why, "stack pool: %s", why);
    }
    uint64_t h = sim_hash(sim);
    sim_destroy(sim);
    return h;
}

static uint64_t churn_hash(uint64_t seed, uint64_t *events)
{
    return churn_hash_on(seed, 32 * 1024, events, NULL);
}

Test(sim, event_order_is_pinned)
{
    /* The values an engine with a (time, insertion sequence) order produced when they were
     * written down: a faster queue must reproduce them exactly. */
    uint64_t ev, h = churn_hash(1, &ev);
    cr_expect_eq(h, 0xd1d09c583f8f33bcULL, "churn hash %#llx (%llu events)", (unsigned long long)h,
                 (unsigned long long)ev);
    cr_expect_eq(ev, 18147);
    uint64_t c = chat_hash(1);
    cr_expect_eq(c, 0xa25345d82cdefcf2ULL, "chat hash %#llx", (unsigned long long)c);
}

/* ---- packed stacks (smaller than a page) ---- */

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif
#ifndef ASAN
#define ASAN 0
#endif

Test(sim, packed_stacks_run_the_same_events_and_keep_the_pool_whole)
{
    /* The pinned world on 3 KiB stacks, packed: the same events in the same order, the
     * pool's invariants hold mid-run and after, and the deepest frames (the watermark)
     * stayed inside the room the stacks give them (its actors, which send, receive, lock
     * and work, went 1,768 bytes deep when this was written: 2 KiB stacks abort). */
    struct sim_stats st;
    uint64_t ev, h = churn_hash_on(1, 3072, &ev, &st);
    cr_expect_eq(h, 0xd1d09c583f8f33bcULL, "churn hash %#llx", (unsigned long long)h);
    cr_expect_eq(ev, 18147);
    if (ASAN) { /* too small for AddressSanitizer's frames: the page layout instead */
        cr_expect_eq(st.packed_stacks, 0);
        cr_expect_eq(st.stack_bytes, 16 * 1024);
    } else {
        cr_expect_geq(st.packed_stacks, 240);
        cr_expect_eq(st.guarded_stacks + st.unguarded_stacks, 0);
        cr_expect_eq(st.stack_bytes, 3072);
    }
    cr_expect_gt(st.stack_used_max, 100, "used %zu", st.stack_used_max);
    cr_expect_lt(st.stack_used_max, st.stack_frame_bytes, "used %zu of %zu", st.stack_used_max,
                 st.stack_frame_bytes);
}

/* The watermark against a frame of known size: an actor that writes a 1000-byte buffer
 * used at least that much. */
static void deep_writer(struct env *e, void *arg)
{
    volatile char buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)i;
    env_sleep(e, SIM_MS);
    *(int *)arg = buf[7];
}

Test(sim, stack_watermark_sees_a_frame_of_known_size)
{
    struct sim_config cfg = {.seed = 1, .stack_size = 3072, .stack_watermark = true};
    struct sim *sim = sim_create(&cfg);
    int n = sim_node_add(sim, "a", 1), out = 0;
    sim_spawn(sim, n, "w", deep_writer, &out);
    cr_assert_eq(sim_run(sim, SIM_S), SIM_STOP_IDLE);
    struct sim_stats st;
    sim_stats(sim, &st);
    cr_expect_eq(out, 7);
    cr_expect_geq(st.stack_used_max, 1000, "used %zu", st.stack_used_max);
    cr_expect_lt(st.stack_used_max, ASAN ? 8000 : 1600, "used %zu", st.stack_used_max);
    sim_destroy(sim);
}

/* The checker finds a damaged canary: an actor tells where its stack's lowest bytes are
 * (packed: right below the room for frames, under the actor's struct), the test breaks
 * one word there while it sleeps and mends it again. */
static unsigned char *canary_at;
static void canary_reporter(struct env *e, void *arg)
{
    struct sim_stats *st = arg;
    canary_at = (unsigned char *)e - st->stack_frame_bytes - 64;
    env_sleep(e, SIM_S);
}

Test(sim, stack_pool_check_finds_a_damaged_canary)
{
    if (ASAN)
        cr_skip_test("AddressSanitizer builds do not pack stacks");
    struct sim *sim = sim_create(&(struct sim_config){.seed = 1, .stack_size = 1536});
    struct sim_stats st;
    sim_stats(sim, &st);
    int n = sim_node_add(sim, "a", 1);
    for (int i = 0; i < 5; i++)
        sim_spawn(sim, n, "r", canary_reporter, &st);
    cr_assert_eq(sim_run(sim, SIM_MS), SIM_STOP_TIME);
    cr_assert_null(sim_stacks_check(sim));
    unsigned char saved = canary_at[17];
    canary_at[17] ^= 0x40;
    const char *why = sim_stacks_check(sim);
    cr_assert_not_null(why);
    cr_expect(strstr(why, "canary"), "%s", why);
    canary_at[17] = saved;
    cr_assert_null(sim_stacks_check(sim));
    cr_assert_eq(sim_run(sim, 2 * SIM_S), SIM_STOP_IDLE);
    cr_assert_null(sim_stacks_check(sim));
    sim_destroy(sim);
}

/* Overflows of a packed stack, each in a child process: the run must stop with the
 * message, by abort, at the switch back to the loop. Sleepers spawned first take the
 * lowest slots of the slab, so the overflow runs into one of them (as it would in a big
 * world), not off the slab. */
static int recurse(int depth)
{
    volatile char buf[48];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (char)depth;
    return depth ? recurse(depth - 1) + buf[3] : buf[5];
}
static void overflower(struct env *e, void *arg)
{
    (void)e;
    *(int *)arg = recurse(12); /* about 1 KiB of frames in a 448-byte room */
}
/* A frame that steps over the canary words without writing them: the stack pointer it
 * suspends with is below them. */
static void stepper(struct env *e, void *arg)
{
    volatile char *p = alloca(*(size_t *)arg);
    p[0] = 1; /* the lowest byte, below the canary words */
    env_sleep(e, SIM_MS);
    *(size_t *)arg = (size_t)p[0];
}
static void filler(struct env *e, void *arg)
{
    (void)arg;
    env_sleep(e, SIM_S);
}

static void die_in_child(env_fn fn, void *arg, const char *name)
{
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        struct sim *sim = sim_create(&(struct sim_config){.seed = 1, .stack_size = 1024});
        int n = sim_node_add(sim, "a", 1);
        for (int i = 0; i < 3; i++)
            sim_spawn(sim, n, "filler", filler, NULL);
        sim_spawn(sim, n, name, fn, arg);
        sim_run(sim, 10 * SIM_S);
        _exit(0); /* not reached when the overflow is caught */
    }
    close(fd[1]);
    char msg[1024] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(msg) - 1 && (r = read(fd[0], msg + got, sizeof(msg) - 1 - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x, stderr: %s", status,
              msg);
    char want[64];
    snprintf(want, sizeof(want), "stack overflow in actor '%s'", name);
    cr_expect(strstr(msg, want), "stderr: %s", msg);
}

Test(sim, packed_stack_overflow_stops_the_process)
{
    if (ASAN)
        cr_skip_test("AddressSanitizer builds do not pack stacks");
    int out = 0;
    die_in_child(overflower, &out, "deep");
    size_t len = 600; /* the actor's frames, then 600 bytes: past the 448-byte room */
    die_in_child(stepper, &len, "stepper");
}

/* The Redis-backed delayed-task cluster (rqueue.h) against the simulated Redis model: every
 * firing on time when nothing fails; a worker killed in the middle of a task has that
 * firing redelivered when its claim runs out, its tasks re-homed, nothing missed, and the
 * key keeps the second execution from taking effect; a worker paused past its claim comes
 * back to find the firing taken over; a restarted worker is given tasks again; the queue's
 * invariant (each task in exactly one set) holds at the end. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay/rqueue.h"
#include "sim/redis_model.h"
#include "sim/sim.h"

#define MAXN 8
#define MAXT 32
#define MAXK 100

struct fixture;

struct worker {
    struct fixture *f;
    int self;
};

struct fixture {
    struct sim *sim;
    struct sim_redis *redis;
    int nodes, sim_node[MAXN];
    struct worker w[MAXN];
    struct rq_config cfg;
    struct dc_task task[MAXT];
    struct pl_map *policy;
    struct rq_stats st[MAXN];
    int64_t wall0;
    uint8_t times[MAXT][MAXK]; /* effects per firing */
    int64_t late_max[MAXT];
    /* a crash armed by the first claim of node 'arm_node' at or after 'arm_after' */
    int arm_node;
    int64_t arm_after, arm_delay, arm_down;
    bool arm_pause;
    uint32_t armed_task;
    int64_t armed_due, armed_at, redelivered_at;
};

static int firing(const struct fixture *f, uint32_t t, int64_t due_ms)
{
    int64_t first_ms = (f->task[t].first + SIM_MS - 1) / SIM_MS;
    int64_t i = (due_ms - first_ms) / (f->task[t].period / SIM_MS);
    cr_assert(i >= 0 && i < MAXK);
    return (int)i;
}

static void on_claimed(void *arg, int node, uint32_t task, int64_t due_ms)
{
    struct fixture *f = arg;
    int64_t now = sim_now(f->sim);
    if (f->arm_node < 0 && f->armed_due && task == f->armed_task && due_ms == f->armed_due)
        f->redelivered_at = now;
    if (node == f->arm_node && now >= f->arm_after) {
        f->arm_node = -1; /* once */
        f->armed_task = task;
        f->armed_due = due_ms;
        f->armed_at = now;
        if (f->arm_pause) {
            sim_fault_pause(f->sim, now + f->arm_delay, f->sim_node[node], f->arm_down);
        } else {
            sim_fault_crash(f->sim, now + f->arm_delay, f->sim_node[node]);
            if (f->arm_down > 0)
                sim_fault_restart(f->sim, now + f->arm_delay + f->arm_down, f->sim_node[node]);
        }
    }
}

static void on_executed(void *arg, int node, uint32_t task, int64_t due_ms, int verdict)
{
    struct fixture *f = arg;
    if (verdict != DX_EXECUTED)
        return;
    int i = firing(f, task, due_ms);
    f->times[task][i]++;
    int64_t late = sim_now(f->sim) - (due_ms * SIM_MS - f->wall0);
    if (late > f->late_max[task])
        f->late_max[task] = late;
}

static void worker_main(struct env *e, void *arg)
{
    struct worker *w = arg;
    struct fixture *f = w->f;
    struct sim_addr a = sim_redis_addr(f->redis);
    struct redis *r = sim_redis_connect(e, &a, 1, 50 * SIM_MS);
    cr_assert_not_null(r);
    sim_env_atexit(e, (void (*)(void *))redis_close, r);
    env_sleep(e, SIM_MS); /* the server starts listening at time 0 */
    rq_seed(e, &f->cfg, r);
    rq_node_run(e, &f->cfg, w->self, r, &f->st[w->self]);
}

/* 'nodes' workers and a Redis node, 0.5 ms apart; 'ntasks' tasks every 200 ms from 50 ms +
 * t x 15 ms, owned by rendezvous hashing. A firing costs its worker 10 ms of work and four
 * round trips (claim, key, ack, next): 14 ms, less than the 15 ms between two tasks, so
 * no firing waits for another. */
static struct fixture *setup(int nodes, uint32_t ntasks, bool idempotent, uint64_t seed)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sim_config sc = {.seed = seed, .network = {{SIM_DIST_CONST, SIM_MS / 2, 0, 0}, 0}};
    f->sim = sim_create(&sc);
    f->nodes = nodes;
    int rn = sim_node_add(f->sim, "redis", 1);
    struct sim_redis_cfg rc = {.peer = -1};
    f->redis = sim_redis_create(f->sim, rn, &rc);
    char name[16];
    for (int i = 0; i < nodes; i++) {
        snprintf(name, sizeof(name), "node-%d", i + 1);
        f->sim_node[i] = sim_node_add(f->sim, name, 1);
    }
    f->wall0 = sim_node_wall(f->sim, 0);
    for (uint32_t t = 0; t < ntasks; t++)
        f->task[t] =
            (struct dc_task){f->wall0 + 50 * SIM_MS + (int64_t)t * 15 * SIM_MS, 200 * SIM_MS};
    f->policy = pl_create(ntasks, nodes, 0, PL_RENDEZVOUS, seed, 0);
    f->cfg = (struct rq_config){
        .prefix = "dq",
        .nodes = nodes,
        .ntasks = ntasks,
        .tasks = f->task,
        .policy = f->policy,
        .hb_interval_ns = 100 * SIM_MS,
        .hb_timeout_ns = 300 * SIM_MS,
        .visibility_ns = 500 * SIM_MS,
        .work_ns = 10 * SIM_MS,
        .done_ttl_ns = 60 * SIM_S,
        .idempotent = idempotent,
        .hooks = {.claimed = on_claimed, .executed = on_executed, .arg = f},
    };
    cr_assert_eq(rq_config_check(&f->cfg), 0);
    f->arm_node = -1;
    for (int i = 0; i < nodes; i++) {
        f->w[i] = (struct worker){f, i};
        snprintf(name, sizeof(name), "worker-%d", i + 1);
        sim_node_main(f->sim, f->sim_node[i], name, worker_main, &f->w[i]);
    }
    return f;
}

/* Node 'node''s first claim at or after 1 s is followed 4 ms later (after the firing's
 * effect, in its work) by a crash, restarted 'down' later (0: never), or a pause of 'down'. */
static void arm(struct fixture *f, int node, int64_t down, bool pause)
{
    f->arm_node = node;
    f->arm_after = SIM_S;
    f->arm_delay = 4 * SIM_MS;
    f->arm_down = down;
    f->arm_pause = pause;
}

static void teardown(struct fixture *f)
{
    sim_destroy(f->sim);
    sim_redis_destroy(f->redis);
    pl_destroy(f->policy);
    free(f);
}

static int missed(const struct fixture *f, int64_t until)
{
    int m = 0;
    for (uint32_t t = 0; t < f->cfg.ntasks; t++)
        for (int i = 0; i < MAXK; i++)
            if (f->task[t].first - f->wall0 + i * f->task[t].period <= until && !f->times[t][i])
                m++;
    return m;
}

static int duplicates(const struct fixture *f)
{
    int d = 0;
    for (uint32_t t = 0; t < f->cfg.ntasks; t++)
        for (int i = 0; i < MAXK; i++)
            d += f->times[t][i] > 1 ? f->times[t][i] - 1 : 0;
    return d;
}

/* Every task is in exactly one set: some node's due set, or some node's run set. */
static void check_sets(const struct fixture *f)
{
    int seen[MAXT] = {0};
    char members[64][REDIS_VAL_MAX + 1], k[32];
    for (int n = 0; n < f->nodes; n++)
        for (int run = 0; run < 2; run++) {
            snprintf(k, sizeof(k), "dq:%s:%d", run ? "run" : "due", n);
            int c = sim_redis_zpeek(f->redis, k, members, NULL, 64);
            for (int i = 0; i < c; i++)
                seen[strtoul(members[i], NULL, 10)]++;
        }
    for (uint32_t t = 0; t < f->cfg.ntasks; t++)
        cr_assert_eq(seen[t], 1, "task %u is in %d sets", t, seen[t]);
    cr_assert(sim_redis_check(f->redis));
}

Test(rqueue, every_firing_on_time_when_nothing_fails)
{
    struct fixture *f = setup(3, 12, true, 1);
    sim_run(f->sim, 3 * SIM_S);
    cr_assert_eq(missed(f, 2900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    /* The worker wakes on the due ms; the claim and the key are a round trip each (2 ms).
     * A heartbeat just before can hold it up to 7 more: its own key, the live set, its
     * run-out claims, and for the coordinator every node's heartbeat and the stored live
     * set (3 + 3 + 1 round trips). */
    for (uint32_t t = 0; t < 12; t++)
        cr_assert(f->late_max[t] >= 2 * SIM_MS && f->late_max[t] <= 9 * SIM_MS, "task %u: %lld", t,
                  (long long)f->late_max[t]);
    check_sets(f);
    teardown(f);
}

/* Node 2 is killed 4 ms after a claim: after the effect (one round trip for the key), in
 * the firing's 10 ms of work: the claim stays
 * in its run set until it runs out (500 ms), then the coordinator hands it to the task's new
 * owner, which executes it again. */
static struct fixture *killed_mid_task(bool idempotent)
{
    struct fixture *f = setup(3, 12, idempotent, 2);
    arm(f, 1, 0, false);
    sim_run(f->sim, 4 * SIM_S);
    cr_assert_eq(missed(f, 3900 * SIM_MS), 0);
    uint32_t t = f->armed_task;
    int i = firing(f, t, f->armed_due);
    cr_assert_eq(f->times[t][i], idempotent ? 1 : 2);
    /* claimed again once the claim ran out (500 ms after it was made, by the server's
     * clock in whole ms), at the coordinator's first heartbeat after that (every 100 ms) */
    int64_t wait = f->redelivered_at - f->armed_at;
    cr_assert(wait >= 500 * SIM_MS && wait <= 602 * SIM_MS, "claimed again after %lld ns",
              (long long)wait);
    check_sets(f);
    return f;
}

Test(rqueue, a_worker_killed_mid_task_is_redelivered_and_the_key_makes_it_harmless)
{
    struct fixture *f = killed_mid_task(true);
    cr_assert_eq(duplicates(f), 0);
    uint64_t reclaimed = 0;
    for (int n = 0; n < 3; n++)
        reclaimed += f->st[n].reclaimed;
    cr_assert_eq(reclaimed, 1);
    teardown(f);
    f = killed_mid_task(false);
    cr_assert_eq(duplicates(f), 1);
    teardown(f);
}

/* Node 2 stops (a GC pause) 4 ms into a firing for 1 s: its heartbeat runs out and its claim
 * too, so the firing is executed elsewhere; when it resumes it finishes its work, finds the
 * claim gone and does not schedule the next firing a second time. */
Test(rqueue, a_worker_paused_past_its_claim_finds_it_taken_over)
{
    struct fixture *f = setup(3, 12, true, 3);
    arm(f, 1, SIM_S, true);
    sim_run(f->sim, 4 * SIM_S);
    cr_assert_eq(missed(f, 3900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    cr_assert_eq(f->st[1].lost_claims, 1);
    check_sets(f);
    teardown(f);
}

Test(rqueue, a_restarted_worker_is_given_tasks_again)
{
    struct fixture *f = setup(3, 12, true, 4);
    arm(f, 2, SIM_S, false);
    sim_run(f->sim, 5 * SIM_S);
    cr_assert_eq(missed(f, 4900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    uint64_t rebalances = 0;
    for (int n = 0; n < 3; n++)
        rebalances += f->st[n].rebalances;
    cr_assert_eq(rebalances, 2); /* out, then back in */
    char k[32];
    snprintf(k, sizeof(k), "dq:due:%d", 2);
    cr_assert_gt(sim_redis_zpeek(f->redis, k, NULL, NULL, 0), 0);
    check_sets(f);
    teardown(f);
}

Test(rqueue, a_run_replays_from_its_seed)
{
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        struct fixture *f = setup(3, 12, false, 9);
        arm(f, 0, 0, false);
        sim_run(f->sim, 3 * SIM_S);
        h[k] = sim_hash(f->sim);
        teardown(f);
    }
    cr_assert_eq(h[0], h[1]);
}

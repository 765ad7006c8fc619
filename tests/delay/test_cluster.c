/* The delayed-task cluster in the simulated world: the seed's five tasks on three nodes lose
 * node 1 and come out as a correct rebalancing says, with nothing missed; a partitioned
 * primary keeps firing and only fencing stops it, only the key makes its doubles harmless;
 * a node that restarts is taken back; a run replays from its seed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay/cluster.h"
#include "sim/msg.h"
#include "seed_table.h"
#include "sim/sim.h"

#define PORT 77
#define MAXN 8
#define MAXT 64
#define MAXK 200 /* firings per task recorded */

struct fixture;

struct member {
    struct fixture *f;
    int self;
};

struct fixture {
    struct sim *sim;
    int nodes;
    int sim_node[MAXN + 1];
    struct member mem[MAXN + 1];
    struct dc_config cfg;
    struct dc_task task[MAXT];
    struct pl_map *initial;
    struct dc_node *node[MAXN];
    struct dx *x;
    uint32_t ntasks;
    int64_t wall0; /* the nodes' wall clock at time 0 (no offsets here) */
    /* what the executor saw, by (task, firing number) */
    uint8_t times[MAXT][MAXK];
    int64_t late_max[MAXT];
    int64_t exec_at[MAXT][MAXK];
    int rebalances;
    struct pl_moves first_moves;
    int64_t first_rebalance_at;
};

static void on_verdict(void *arg, int from, uint32_t task, int64_t sched, uint64_t token,
                       int verdict)
{
    struct fixture *f = arg;
    const struct dc_task *k = &f->task[task];
    int64_t i = k->period ? (sched - k->first) / k->period : 0;
    cr_assert(i >= 0 && i < MAXK);
    if (verdict != DX_EXECUTED)
        return;
    int64_t late = sim_now(f->sim) - (sched - f->wall0);
    if (!f->times[task][i])
        f->exec_at[task][i] = sim_now(f->sim);
    f->times[task][i]++;
    if (late > f->late_max[task])
        f->late_max[task] = late;
}

static void on_rebalance(void *arg, int coord, const struct pl_map *map, const struct pl_moves *mv,
                         uint64_t suspects)
{
    struct fixture *f = arg;
    if (!f->rebalances++) {
        f->first_moves = *mv;
        f->first_rebalance_at = sim_now(f->sim);
    }
}

static void node_main(struct env *e, void *arg)
{
    struct member *m = arg;
    struct fixture *f = m->f;
    struct msg *net = sim_msg_open(e, f->sim_node, f->nodes + 1, m->self, PORT);
    cr_assert_not_null(net);
    dc_node_run(e, f->node[m->self], net);
}

static void exec_main(struct env *e, void *arg)
{
    struct member *m = arg;
    struct fixture *f = m->f;
    struct msg *net = sim_msg_open(e, f->sim_node, f->nodes + 1, m->self, PORT);
    cr_assert_not_null(net);
    dc_exec_run(e, &f->cfg, f->x, net);
}

/* 'nodes' nodes and the executor, 1 ms apart; the initial placement is 'initial' (owned by
 * the fixture from here); task t fires every 'period' from 50 ms + t x 7 ms. */
static struct fixture *setup(int nodes, struct pl_map *initial, int64_t period, bool fencing,
                             bool idempotent, uint64_t seed)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct sim_config sc = {.seed = seed, .network = {{SIM_DIST_CONST, SIM_MS, 0, 0}, 0}};
    f->sim = sim_create(&sc);
    f->nodes = nodes;
    f->initial = initial;
    f->ntasks = pl_ntasks(initial);
    char name[16];
    for (int i = 0; i <= nodes; i++) {
        snprintf(name, sizeof(name), i < nodes ? "node-%d" : "exec", i + 1);
        f->sim_node[i] = sim_node_add(f->sim, name, 1);
    }
    f->wall0 = sim_node_wall(f->sim, 0);
    for (uint32_t t = 0; t < f->ntasks; t++)
        f->task[t] = (struct dc_task){.first = f->wall0 + 50 * SIM_MS + (int64_t)t * 7 * SIM_MS,
                                      .period = period};
    f->cfg = (struct dc_config){
        .nodes = nodes,
        .ntasks = f->ntasks,
        .tasks = f->task,
        .initial = initial,
        .hb_interval_ns = 50 * SIM_MS,
        .hb_timeout_ns = 200 * SIM_MS,
        .ack_timeout_ns = 20 * SIM_MS,
        .hooks = {.verdict = on_verdict, .rebalance = on_rebalance, .arg = f},
    };
    struct dx_config xc = {.ntasks = f->ntasks, .fencing = fencing, .idempotent = idempotent};
    f->x = dx_create(&xc);
    for (int i = 0; i <= nodes; i++) {
        snprintf(name, sizeof(name), i < nodes ? "node-%d" : "exec", i + 1);
        f->mem[i] = (struct member){f, i};
        if (i < nodes) {
            f->node[i] = dc_node_create(&f->cfg, i);
            cr_assert_not_null(f->node[i]);
        }
        sim_node_main(f->sim, f->sim_node[i], name, i < nodes ? node_main : exec_main, &f->mem[i]);
    }
    return f;
}

static void teardown(struct fixture *f)
{
    sim_destroy(f->sim);
    for (int i = 0; i < f->nodes; i++)
        dc_node_destroy(f->node[i]);
    dx_destroy(f->x);
    pl_destroy(f->initial);
    free(f);
}

/* Firings due by 'until' that never took effect. */
static int missed(const struct fixture *f, int64_t until)
{
    int m = 0;
    for (uint32_t t = 0; t < f->ntasks; t++)
        for (int i = 0; i < MAXK; i++) {
            int64_t sched = f->task[t].first - f->wall0 + i * f->task[t].period;
            if (sched <= until && !f->times[t][i])
                m++;
        }
    return m;
}

static int duplicates(const struct fixture *f)
{
    int d = 0;
    for (uint32_t t = 0; t < f->ntasks; t++)
        for (int i = 0; i < MAXK; i++)
            d += f->times[t][i] > 1 ? f->times[t][i] - 1 : 0;
    return d;
}

Test(cluster, the_seeds_node_1_crashes_and_its_tasks_move_as_a_correct_rebalancing_says)
{
    struct fixture *f = setup(3, seed_map(seed_before), 100 * SIM_MS, true, true, 1);
    sim_fault_crash(f->sim, 1025 * SIM_MS, f->sim_node[0]);
    sim_run(f->sim, 5 * SIM_S);
    for (int n = 1; n < 3; n++) {
        const struct pl_map *m = dc_node_map(f->node[n]);
        assert_rows(m, correct_after);
        char why[160];
        cr_assert(pl_check(m, why, sizeof(why)), "node %d: %s", n + 1, why);
        cr_assert(dc_node_check(f->node[n]));
    }
    cr_assert_eq(f->rebalances, 1);
    cr_assert_eq(f->first_moves.promoted, 2);
    cr_assert_eq(f->first_moves.replicas_copied, 4);
    cr_assert_eq(f->first_moves.primaries_copied, 0);
    /* Heartbeats leave every node at multiples of 50 ms: the last from node 1 left at
     * 1000 ms and arrived 1 ms later, so node 2 suspects it 200 ms (+1 ns: past the
     * timeout) after that, proposes the new map, and commits it when node 3's promise
     * comes back, a round trip later. */
    cr_assert_eq(f->first_rebalance_at, 1203 * SIM_MS + 1);
    cr_assert_eq(missed(f, 4900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    /* B, C, D never moved: on time (one 1 ms hop to the executor). A, promoted on node 2
     * (the coordinator), fires its 1050 ms firing at the commit, 1 ms from the executor;
     * E, promoted on node 3, 1 ms later, when the new map reaches it. */
    for (uint32_t t = 1; t <= 3; t++)
        cr_assert_eq(f->late_max[t], SIM_MS, "task %c: %lld", 'A' + t, (long long)f->late_max[t]);
    cr_assert_eq(f->late_max[0], 1204 * SIM_MS + 1 - 1050 * SIM_MS);
    cr_assert_eq(f->late_max[4], 1205 * SIM_MS + 1 - (50 + 4 * 7 + 1000) * SIM_MS);
    teardown(f);
}

struct partition_result {
    int duplicates;
    struct dx_stats st;
    int missed;
    uint64_t epoch[3];
};

/* Node 1 (the seed's numbering) is cut off from nodes 2 and 3, not from the executor, from
 * 1.025 s to 3 s. */
static struct partition_result partition_run(bool fencing, bool idempotent)
{
    struct fixture *f = setup(3, seed_map(seed_before), 100 * SIM_MS, fencing, idempotent, 1);
    int a[] = {f->sim_node[0]}, b[] = {f->sim_node[1], f->sim_node[2]};
    sim_fault_partition(f->sim, 1025 * SIM_MS, 3 * SIM_S, a, 1, b, 2, false);
    sim_run(f->sim, 5 * SIM_S);
    struct partition_result r = {.duplicates = duplicates(f), .missed = missed(f, 4900 * SIM_MS)};
    dx_get_stats(f->x, &r.st);
    for (int n = 0; n < 3; n++) {
        r.epoch[n] = pl_epoch(dc_node_map(f->node[n]));
        cr_assert(dc_node_check(f->node[n]));
    }
    cr_assert(dx_check(f->x));
    teardown(f);
    return r;
}

Test(cluster, a_partitioned_primary_is_stopped_by_fencing_and_made_harmless_by_the_key)
{
    struct partition_result r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = partition_run(i & 1, i & 2);
        cr_log_info("fencing %d key %d: dup fires %llu dup effects %llu stale %llu fenced %llu "
                    "missed %d",
                    i & 1, !!(i & 2), (unsigned long long)r[i].st.duplicate_fires,
                    (unsigned long long)r[i].st.duplicate_effects,
                    (unsigned long long)r[i].st.stale_executed, (unsigned long long)r[i].st.fenced,
                    r[i].missed);
        cr_assert_eq(r[i].missed, 0);
        /* after the heal every node is on the same, newest map */
        cr_assert(r[i].epoch[0] == r[i].epoch[1] && r[i].epoch[1] == r[i].epoch[2]);
        cr_assert_gt(r[i].epoch[0], 64);
    }
    /* The cut-off node keeps firing A (50 ms + k x 100 ms) and E (78 ms + k x 100 ms). Its
     * last MARKs reached its peers for A@950 and E@978; nodes 2 and 3 suspect it at
     * 1201 ms (as in the crash), commit the new map at 1203 ms, and the promoted replicas
     * fire again A@1050, A@1150,
     * E@1078, E@1178, which it had fired: 4 doubles in the detection window, whatever the
     * executor does. After the failover it fires A@1250..2950 and E@1278..2978 (18 each)
     * until the heal at 3 s: without fencing all 36 take effect (stale), with fencing its
     * first attempt for each task is refused and it stops (2 fenced). */
    for (int i = 0; i < 4; i++) {
        bool fencing = i & 1;
        cr_assert_eq(r[i].st.duplicate_fires, fencing ? 4 : 40, "config %d", i);
        cr_assert_eq(r[i].st.stale_executed, fencing ? 0 : 36, "config %d", i);
        cr_assert_eq(r[i].st.fenced, fencing ? 2 : 0, "config %d", i);
        /* the key: no duplicate effect either way */
        cr_assert_eq(r[i].st.duplicate_effects, i & 2 ? 0 : r[i].st.duplicate_fires);
    }
}

Test(cluster, a_restarted_node_is_taken_back_and_receives_copies)
{
    struct pl_map *m = pl_create(40, 5, 1, PL_RENDEZVOUS, 9, 64);
    pl_place_all(m);
    struct fixture *f = setup(5, m, 100 * SIM_MS, true, true, 3);
    sim_fault_crash(f->sim, 1013 * SIM_MS, f->sim_node[3]);
    sim_fault_restart(f->sim, 2500 * SIM_MS, f->sim_node[3]);
    sim_run(f->sim, 5 * SIM_S);
    cr_assert_eq(f->rebalances, 2); /* out, then back in */
    const struct pl_map *ref = dc_node_map(f->node[0]);
    char why[160];
    cr_assert(pl_check(ref, why, sizeof(why)), "%s", why);
    cr_assert_eq(pl_live(ref), 0x1f);
    for (int n = 0; n < 5; n++) {
        cr_assert(pl_equal(dc_node_map(f->node[n]), ref), "node %d", n + 1);
        cr_assert(dc_node_check(f->node[n]));
    }
    cr_assert_gt(pl_node_primaries(ref, 3), 0);
    struct dc_node_stats st;
    dc_node_stats(f->node[3], &st);
    cr_assert_eq(st.restarts, 1);
    cr_assert_gt(st.copies_received, 0);
    cr_assert_eq(missed(f, 4900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    teardown(f);
}

/* Node 4 is cut off from everyone, the executor included, for a second: it is taken out,
 * its tasks fired by their promoted replicas, and at the heal it is taken back and
 * rendezvous gives it its tasks again. Its own data stopped at the cut, so it waits for
 * the copies the new map sends it before firing: no firing reaches the executor twice. */
Test(cluster, a_node_back_from_a_partition_waits_for_fresh_copies)
{
    struct pl_map *m = pl_create(40, 5, 1, PL_RENDEZVOUS, 9, 64);
    pl_place_all(m);
    struct fixture *f = setup(5, m, 100 * SIM_MS, true, false, 3);
    int a[] = {f->sim_node[3]},
        b[] = {f->sim_node[0], f->sim_node[1], f->sim_node[2], f->sim_node[4], f->sim_node[5]};
    sim_fault_partition(f->sim, 1013 * SIM_MS, 2013 * SIM_MS, a, 1, b, 5, false);
    sim_run(f->sim, 4 * SIM_S);
    cr_assert_eq(f->rebalances, 2); /* out, then back in */
    const struct pl_map *ref = dc_node_map(f->node[0]);
    cr_assert_eq(pl_live(ref), 0x1f);
    cr_assert_gt(pl_node_primaries(ref, 3), 0);
    struct dx_stats st;
    dx_get_stats(f->x, &st);
    cr_assert_eq(st.duplicate_fires, 0);
    cr_assert_eq(missed(f, 3900 * SIM_MS), 0);
    teardown(f);
}

/* 5 % of all messages lost (heartbeats, maps, copies, marks, firings and acks): firings
 * are resent until acknowledged, missing copies pulled, stale nodes sent the map again, so
 * a crash still ends with one agreed, correct placement and nothing missed; the key absorbs
 * the doubles that lost acks and marks cause. */
Test(cluster, a_crash_under_message_loss_still_misses_nothing)
{
    struct pl_map *m = pl_create(40, 5, 2, PL_RENDEZVOUS, 17, 64);
    pl_place_all(m);
    struct fixture *f = setup(5, m, 100 * SIM_MS, true, true, 5);
    struct sim_link lossy = {{SIM_DIST_CONST, SIM_MS, 0, 0}, 0.05};
    for (int a = 0; a <= 5; a++)
        for (int b = 0; b <= 5; b++)
            if (a != b)
                sim_link_set(f->sim, f->sim_node[a], f->sim_node[b], &lossy);
    sim_fault_crash(f->sim, 1013 * SIM_MS, f->sim_node[0]);
    sim_run(f->sim, 6 * SIM_S);
    const struct pl_map *ref = dc_node_map(f->node[1]);
    char why[160];
    cr_assert(pl_check(ref, why, sizeof(why)), "%s", why);
    cr_assert_eq(pl_live(ref), 0x1e);
    for (int n = 1; n < 5; n++) {
        cr_assert(pl_equal(dc_node_map(f->node[n]), ref), "node %d", n + 1);
        cr_assert_eq(pl_epoch(dc_node_map(f->node[n])), pl_epoch(ref));
        cr_assert(dc_node_check(f->node[n]));
    }
    cr_assert_eq(missed(f, 5900 * SIM_MS), 0);
    cr_assert_eq(duplicates(f), 0);
    struct dx_stats st;
    dx_get_stats(f->x, &st);
    cr_assert_gt(st.duplicate_fires, 0); /* lost acks: the same firing sent again */
    struct dc_node_stats ns;
    dc_node_stats(f->node[1], &ns);
    cr_assert_gt(ns.resends, 0);
    teardown(f);
}

static void clear_links(struct sim *sim, void *arg)
{
    struct fixture *f = arg;
    struct sim_link clean = {{SIM_DIST_CONST, SIM_MS, 0, 0}, 0};
    for (int a = 0; a <= f->nodes; a++)
        for (int b = 0; b <= f->nodes; b++)
            if (a != b)
                sim_link_set(sim, f->sim_node[a], f->sim_node[b], &clean);
}

/* Random faults on five nodes under each policy (24 seeds; DISTLAB_CLUSTER_SEEDS=N for
 * more): up to 20 % loss with 0.5-8 ms latency (so false suspicions too), a crash, and for
 * some seeds a second node cut off for a second or crashed and restarted, 1.5 s or more
 * after the first (with R = 1 two crashes closer than the re-replication lose the tasks
 * both nodes held: no protocol can fire those); the network turns clean for the last
 * second. However maps and copies race, every surviving node ends on one correct
 * placement without the dead node, and no firing due in the first 5.5 s is missed (or,
 * with the key, doubled). */
static void random_faults(uint64_t seed, enum pl_policy pol)
{
    struct pl_map *m = pl_create(40, 5, 1 + (int)(seed % 2), pol, seed, 64);
    pl_place_all(m);
    struct fixture *f = setup(5, m, 100 * SIM_MS, true, true, seed);
    struct sim_link link = {{SIM_DIST_UNIFORM, SIM_MS / 2, 8 * SIM_MS, 0},
                            0.1 * (double)(seed % 3)};
    for (int a = 0; a <= 5; a++)
        for (int b = 0; b <= 5; b++)
            if (a != b)
                sim_link_set(f->sim, f->sim_node[a], f->sim_node[b], &link);
    int dead = (int)(seed % 5), other = (int)((seed + 2) % 5);
    sim_fault_crash(f->sim, (1013 + (int64_t)(seed * 37 % 500)) * SIM_MS, f->sim_node[dead]);
    if (seed % 4 == 1) {
        int a[] = {f->sim_node[other]}, b[4], k = 0;
        for (int q = 0; q < 5; q++)
            if (q != other)
                b[k++] = f->sim_node[q];
        sim_fault_partition(f->sim, 3 * SIM_S, 4 * SIM_S, a, 1, b, 4, false);
    } else if (seed % 4 == 2) {
        sim_fault_crash(f->sim, 3 * SIM_S, f->sim_node[other]);
        sim_fault_restart(f->sim, 3600 * SIM_MS, f->sim_node[other]);
    }
    sim_at(f->sim, 5 * SIM_S, clear_links, f); /* a quiet last second to settle in */
    sim_run(f->sim, 6 * SIM_S);
    const struct pl_map *ref = dc_node_map(f->node[(dead + 1) % 5]);
    char why[160];
    cr_assert(pl_check(ref, why, sizeof(why)), "seed %llu %s: %s", (unsigned long long)seed,
              pl_policy_name(pol), why);
    cr_assert_eq(pl_live(ref), 0x1fu & ~(1u << dead), "seed %llu %s: live %llx",
                 (unsigned long long)seed, pl_policy_name(pol), (unsigned long long)pl_live(ref));
    for (int n = 0; n < 5; n++) {
        if (n == dead)
            continue;
        cr_assert(pl_equal(dc_node_map(f->node[n]), ref), "seed %llu node %d",
                  (unsigned long long)seed, n + 1);
        cr_assert_eq(pl_epoch(dc_node_map(f->node[n])), pl_epoch(ref));
        cr_assert(dc_node_check(f->node[n]));
    }
    cr_assert_eq(missed(f, 5500 * SIM_MS), 0, "seed %llu %s", (unsigned long long)seed,
                 pl_policy_name(pol));
    cr_assert_eq(duplicates(f), 0);
    cr_assert(dx_check(f->x));
    teardown(f);
}

Test(cluster, random_faults_and_loss_miss_nothing_under_any_policy)
{
    const char *env = getenv("DISTLAB_CLUSTER_SEEDS"); /* the long form: e.g. 1000 */
    uint64_t seeds = env ? strtoull(env, NULL, 10) : 24;
    for (uint64_t seed = 1; seed <= seeds; seed++)
        for (int pol = PL_TABLE; pol <= PL_RENDEZVOUS; pol++)
            random_faults(seed, (enum pl_policy)pol);
}

Test(cluster, a_run_replays_from_its_seed)
{
    uint64_t h[2];
    for (int k = 0; k < 2; k++) {
        struct fixture *f = setup(3, seed_map(seed_before), 100 * SIM_MS, true, false, 42);
        sim_fault_crash(f->sim, 700 * SIM_MS, f->sim_node[0]);
        sim_run(f->sim, 2 * SIM_S);
        h[k] = sim_hash(f->sim);
        teardown(f);
    }
    cr_assert_eq(h[0], h[1]);
}

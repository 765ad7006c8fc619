/* rebalance.c - the delay/rebalance workload: one rebalancing of a large placement,
 * arithmetic only. `tasks` tasks on `nodes` nodes under a policy lose node `lose`; what
 * the planner (pl_rebalance, what the cluster's coordinator runs) moves against the least
 * any rebalancing must (the copies the lost node held), how evenly the survivors inherit
 * its primaries, and how long the copies take if each node sends and receives at
 * `bandwidth` bytes/s (an input, not a measurement; the planner's own time is measured by
 * bench-placement, which a simulated run cannot report and stay deterministic). Never
 * writes files and never exits. */
#include <errno.h>
#include <stdint.h>

#include "delay/placement.h"
#include "lab/lab.h"
#include "names.h"

static const struct lab_param rb_params[] = {
    {"tasks", LAB_INT, "1000000", 1, 4e9, NULL, "tasks in the placement"},
    {"nodes", LAB_INT, "16", 2, PL_MAX_NODES, NULL, "nodes"},
    {"replicas", LAB_INT, "1", 0, PL_MAX_NODES - 2, NULL, "replicas of each task (R)"},
    {"policy", LAB_ENUM, "rendezvous", 1, 0, NAMES_CHOICES(PL_POLICY_NAMES),
     "placement (table: the chain table, task t on node t mod N, replicas on the next)"},
    {"task_bytes", LAB_INT, "256", 1, 1e9, NULL, "the data of one task"},
    {"lose", LAB_INT, "6", 1, PL_MAX_NODES, NULL, "the node lost (1..nodes)"},
    {"bandwidth", LAB_FLOAT, "1e8", 1, 1e15, NULL,
     "bytes/s each node sends and receives copies at (an input)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct rb_load {
    uint64_t out[PL_MAX_NODES], in[PL_MAX_NODES]; /* bytes each node sends, receives */
    const struct pl_map *m;
};

static void rb_move(void *arg, const struct pl_move *mv)
{
    struct rb_load *l = arg;
    if (mv->kind != PL_COPY_PRIMARY && mv->kind != PL_COPY_REPLICA)
        return;
    l->out[mv->from] += pl_task_bytes(l->m, mv->task);
    l->in[mv->to] += pl_task_bytes(l->m, mv->task);
}

static int rb_run(struct lab_run *run)
{
    uint32_t T = (uint32_t)lab_int(run, "tasks");
    int N = (int)lab_int(run, "nodes"), R = (int)lab_int(run, "replicas");
    int lose = (int)lab_int(run, "lose") - 1;
    enum pl_policy pol = (enum pl_policy)lab_enum(run, "policy");
    double bw = lab_float(run, "bandwidth");
    if (R >= N - 1)
        return lab_fail_param(run, "replicas", "replicas must be below nodes - 1 (%d nodes)", N);
    if (lose >= N)
        return lab_fail_param(run, "lose", "lose names a node, 1..nodes (%d nodes)", N);
    if (lab_checking(run))
        return LAB_CHECKED; /* the parameters hold: the placement is the run's to compute */
    struct pl_map *m = pl_create(T, N, R, pol, lab_seed(run), (uint32_t)lab_int(run, "task_bytes"));
    if (!m || pl_place_all(m) < 0) {
        pl_destroy(m);
        lab_fail(run, "no memory for %u tasks", T);
        return -ENOMEM;
    }
    struct rb_load load = {.m = m};
    struct pl_moves mv;
    uint64_t all = N >= 64 ? ~0ull : (1ull << N) - 1;
    pl_rebalance(m, all & ~(1ull << lose), rb_move, &load, &mv);
    char why[200];
    bool ok = pl_check(m, why, sizeof(why));
    if (!ok)
        lab_note(run, "after the rebalancing: %s", why);
    uint64_t copies = mv.primaries_copied + mv.replicas_copied;
    double per_node = (double)T / N;
    lab_metric(run, "placement_ok", ok);
    lab_metric(run, "copies", (double)copies);
    lab_metric(run, "min_copies", (double)mv.lost_copies);
    lab_metric(run, "copies_over_min", (double)copies / (double)mv.lost_copies);
    lab_metric(run, "bytes_copied", (double)mv.bytes_copied);
    lab_metric(run, "min_bytes", (double)mv.lost_bytes);
    lab_metric(run, "promoted", (double)mv.promoted);
    lab_metric(run, "lost_primaries", (double)mv.lost_primaries);
    lab_metric(run, "primaries_copied", (double)mv.primaries_copied);
    lab_metric(run, "tasks_changed", (double)mv.tasks_changed);
    lab_metric(run, "tasks_per_node", per_node);
    lab_metric(run, "changed_over_tasks_per_node", (double)mv.tasks_changed / per_node);
    /* The busiest survivor's primaries over the mean: who inherits the lost node's firing. */
    uint32_t most = 0;
    for (int n = 0; n < N; n++)
        if (n != lose && pl_node_primaries(m, n) > most)
            most = pl_node_primaries(m, n);
    lab_metric(run, "max_primaries_ratio", most / ((double)T / (N - 1)));
    /* Copies move in parallel, each node sending and receiving at the bandwidth: the busiest
     * node's bytes decide; at best the lost bytes spread evenly over the N - 1 survivors. */
    uint64_t busiest = 0;
    for (int n = 0; n < N; n++) {
        if (load.out[n] > busiest)
            busiest = load.out[n];
        if (load.in[n] > busiest)
            busiest = load.in[n];
    }
    double tr[2] = {(double)busiest / bw, (double)mv.lost_bytes / (N - 1) / bw};
    lab_metric(run, "transfer_s", tr[0]);
    lab_metric(run, "min_transfer_s", tr[1]);
    lab_metric_array(run, "transfer_and_min", tr, 2);
    double cm[2] = {(double)copies, (double)mv.lost_copies};
    lab_metric_array(run, "copies_and_min", cm, 2);
    /* Theory: a lost node holds (R + 1) T / N copies (exactly, for the chain table; in
     * expectation for the hashes). Hashing onto N - 1 nodes instead of N is independent of
     * where a task was: each of its R + 1 new holders held it before with probability
     * (R + 1) / N, so it copies (R + 1) T (1 - (R + 1) / N). */
    double lost = (double)(R + 1) * T / N;
    lab_metric(run, "theory_min_copies", lost);
    lab_metric(run, "theory_copies",
               pol == PL_HASH ? (double)(R + 1) * T * (1 - (double)(R + 1) / N) : lost);
    pl_destroy(m);
    return 0;
}

extern const struct lab_workload lab_wl_delay_rebalance;

const struct lab_workload lab_wl_delay_rebalance = {
    .name = "delay/rebalance",
    .about = "one node lost from a large placement: copies against the minimum, balance, "
             "transfer time at a given bandwidth, per policy",
    .params = rb_params,
    .worlds = LAB_WORLD_SIM,
    .run = rb_run,
};

/* cluster.c - the delay/cluster workload: the seed's cluster (primitives/delay/cluster.h)
 * on nodes node-1..node-N with an executor on node exec, in the simulated world. Never
 * writes files (but through lab_text) and never exits.
 *
 * Tasks fire every `period`, task t first at first + t x period / tasks; the initial
 * placement is the seed's notation (`table`) or the policy's. The scenario's faults
 * (crash, partition, ...) hit the nodes by name. Every firing due before the last `settle`
 * of the run is judged by what the executor saw: on time (its first effect within
 * `late_after` of its due time), late, or missed (no effect); doubles are counted by the
 * executor, with the key on or off. With a table, the run writes placement.md: the table
 * before and after the rebalancing, the checker's verdict on each, and (with
 * `seed_after`) how the seed's own after-table differs and what reaching it would move. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delay/cluster.h"
#include "delay/exec.h"
#include "delay/placement.h"
#include "lab/delay/firings_wl.h"
#include "lab/lab.h"
#include "names.h"
#include "sim/msg.h"
#include "sim/sim.h"

#define CLUSTER_PORT 7100u

struct cw;

struct cw_member {
    struct cw *w;
    int self;
};

struct cw {
    struct lab_run *run;
    struct sim *sim;
    int nodes;
    int sim_node[PL_MAX_NODES + 1]; /* the cluster's nodes, then the executor */
    struct cw_member mem[PL_MAX_NODES + 1];
    uint32_t ntasks;
    struct firings book;
    struct pl_map *initial, *seed_after;
    struct dc_config cfg;
    struct dc_node *node[PL_MAX_NODES];
    struct dx *x;
    int rebalances, false_failovers;
    struct pl_moves moved;     /* summed over every rebalancing */
    int64_t rebalance_at[256]; /* when each rebalancing took effect ... */
    uint64_t removed[256];     /* ... and the nodes it took out */
    int nrebalance_at;
};

static const struct lab_param cw_params[] = {
    {"nodes", LAB_INT, "3", 2, PL_MAX_NODES, NULL, "cluster nodes, named node-1, node-2, ..."},
    {"replicas", LAB_INT, "1", 0, PL_MAX_NODES - 1, NULL, "replicas of each task (R)"},
    {"policy", LAB_ENUM, "rendezvous", 1, 0, NAMES_CHOICES(PL_POLICY_NAMES),
     "placement: the explicit table (repaired on a loss), hashing onto nodes, rendezvous"},
    {"table", LAB_LIST, "[]", 1, 0, NULL,
     "the initial placement in the seed's notation, node 1 first (\"A b d E\": upper case "
     "primary, lower case replica); sets the tasks"},
    {"seed_after", LAB_LIST, "[]", 1, 0, NULL,
     "a table to set beside the rebalanced one in placement.md (the seed's after-table)"},
    {"tasks", LAB_INT, "20", 1, 100000, NULL, "tasks, when no table is given"},
    {"task_bytes", LAB_INT, "256", 0, 1e9, NULL, "the data of one task, for bytes moved"},
    {"hb_interval", LAB_DURATION, "50ms", 1e5, 60e9, NULL, "heartbeat period"},
    {"hb_timeout", LAB_DURATION, "200ms", 1e5, 600e9, NULL, "a node silent this long is suspected"},
    {"ack_timeout", LAB_DURATION, "20ms", 1e5, 60e9, NULL,
     "a firing the executor has not acknowledged is sent again after this"},
    {"fencing", LAB_BOOL, "true", 1, 0, NULL,
     "the executor refuses a firing under an older epoch than one it has seen for the task"},
    {"idempotent", LAB_BOOL, "true", 1, 0, NULL,
     "the executor ignores a second firing of a (task, scheduled time)"},
    DELAY_FIRING_PARAMS,
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* The executor's verdict on a firing: what every metric is made of. */
static void cw_verdict(void *arg, int from, uint32_t task, int64_t sched, uint64_t token,
                       int verdict)
{
    struct cw *w = arg;
    if (verdict != DX_FENCED)
        firings_note(&w->book, task, sched, verdict == DX_EXECUTED, sim_now(w->sim));
}

/* A coordinator's new map: what it moved, and whether it took out a node still running. */
static void cw_rebalance(void *arg, int coord, const struct pl_map *map, const struct pl_moves *mv,
                         uint64_t suspects)
{
    struct cw *w = arg;
    w->rebalances++;
    if (w->nrebalance_at < 256) {
        w->removed[w->nrebalance_at] = suspects;
        w->rebalance_at[w->nrebalance_at++] = sim_now(w->sim);
    }
    for (int n = 0; n < w->nodes; n++)
        if ((suspects >> n & 1) && sim_node_up(w->sim, w->sim_node[n]))
            w->false_failovers++;
    struct pl_moves *s = &w->moved;
    s->lost_primaries += mv->lost_primaries;
    s->lost_copies += mv->lost_copies;
    s->lost_bytes += mv->lost_bytes;
    s->promoted += mv->promoted;
    s->primaries_copied += mv->primaries_copied;
    s->replicas_copied += mv->replicas_copied;
    s->demoted += mv->demoted;
    s->dropped += mv->dropped;
    s->bytes_copied += mv->bytes_copied;
    s->tasks_changed += mv->tasks_changed;
    s->unrecoverable += mv->unrecoverable;
}

static void cw_node_main(struct env *e, void *arg)
{
    struct cw_member *m = arg;
    struct msg *net = sim_msg_open(e, m->w->sim_node, m->w->nodes + 1, m->self, CLUSTER_PORT);
    if (net)
        dc_node_run(e, m->w->node[m->self], net);
}

static void cw_exec_main(struct env *e, void *arg)
{
    struct cw_member *m = arg;
    struct msg *net = sim_msg_open(e, m->w->sim_node, m->w->nodes + 1, m->self, CLUSTER_PORT);
    if (net)
        dc_exec_run(e, &m->w->cfg, m->w->x, net);
}

/* A table given as a list of rows, into m (its shape already set). */
static int cw_parse_table(struct lab_run *run, const char *param, struct pl_map *m)
{
    size_t n = lab_list_len(run, param);
    const char *rows[PL_MAX_NODES];
    for (size_t i = 0; i < n && i < PL_MAX_NODES; i++)
        rows[i] = lab_list_str(run, param, i);
    char why[160];
    if (pl_parse_rows(m, rows, (int)n, why, sizeof(why)) < 0) {
        lab_fail(run, "workload.%s: %s", param, why);
        return -EINVAL;
    }
    return 0;
}

/* The number of tasks a table names: one past its highest letter. */
static uint32_t cw_table_tasks(struct lab_run *run)
{
    uint32_t t = 0;
    for (size_t i = 0; i < lab_list_len(run, "table"); i++)
        for (const char *s = lab_list_str(run, "table", i); *s; s++) {
            char c = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;
            if (c >= 'A' && c <= 'Z' && (uint32_t)(c - 'A' + 1) > t)
                t = (uint32_t)(c - 'A' + 1);
        }
    return t;
}

static int cw_read(struct cw *w, struct lab_run *run)
{
    w->nodes = (int)lab_int(run, "nodes");
    int R = (int)lab_int(run, "replicas");
    enum pl_policy pol = (enum pl_policy)lab_enum(run, "policy");
    bool table = lab_list_len(run, "table") > 0;
    if (R >= w->nodes) {
        lab_fail(run, "workload.replicas (%d) must be below workload.nodes (%d)", R, w->nodes);
        return -EINVAL;
    }
    if (lab_list_len(run, "table") > (size_t)w->nodes) {
        lab_fail(run, "workload.table has %zu rows for %d nodes", lab_list_len(run, "table"),
                 w->nodes);
        return -EINVAL;
    }
    w->ntasks = table ? cw_table_tasks(run) : (uint32_t)lab_int(run, "tasks");
    if (!w->ntasks) {
        lab_fail(run, "workload.table names no task");
        return -EINVAL;
    }
    uint32_t bytes = (uint32_t)lab_int(run, "task_bytes");
    w->initial = pl_create(w->ntasks, w->nodes, R, pol, lab_seed(run), bytes);
    if (!w->initial)
        return -ENOMEM;
    int rc = table ? cw_parse_table(run, "table", w->initial) : pl_place_all(w->initial);
    if (rc < 0)
        return rc;
    if (lab_list_len(run, "seed_after")) {
        if (!table) {
            lab_fail(run, "workload.seed_after needs workload.table");
            return -EINVAL;
        }
        w->seed_after = pl_create(w->ntasks, w->nodes, R, pol, lab_seed(run), bytes);
        if (!w->seed_after || (rc = cw_parse_table(run, "seed_after", w->seed_after)) < 0)
            return w->seed_after ? rc : -ENOMEM;
    }
    int64_t hb = lab_duration(run, "hb_interval"), timeout = lab_duration(run, "hb_timeout");
    if (timeout <= hb) {
        lab_fail(run, "workload.hb_timeout (%lld ns) must exceed workload.hb_interval (%lld ns)",
                 (long long)timeout, (long long)hb);
        return -EINVAL;
    }
    if ((rc = firings_init(&w->book, run, w->ntasks, false)) < 0)
        return rc;
    w->cfg = (struct dc_config){
        .nodes = w->nodes,
        .ntasks = w->ntasks,
        .tasks = w->book.task,
        .initial = w->initial,
        .hb_interval_ns = hb,
        .hb_timeout_ns = timeout,
        .ack_timeout_ns = lab_duration(run, "ack_timeout"),
        .hooks = {.verdict = cw_verdict, .rebalance = cw_rebalance, .arg = w},
    };
    struct dx_config xc = {.ntasks = w->ntasks,
                           .fencing = lab_bool(run, "fencing"),
                           .idempotent = lab_bool(run, "idempotent")};
    if (!(w->x = dx_create(&xc)))
        return -ENOMEM;
    return 0;
}

static int cw_build(struct lab_run *run, struct sim *sim, void *arg)
{
    struct cw *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    char name[24];
    for (int i = 0; i <= w->nodes; i++) {
        if (i < w->nodes)
            snprintf(name, sizeof(name), "node-%d", i + 1);
        else
            snprintf(name, sizeof(name), "exec");
        if ((w->sim_node[i] = sim_node_add(sim, name, cores)) < 0)
            return w->sim_node[i];
    }
    firings_start(&w->book, run, sim_node_wall(sim, w->sim_node[0]), false);
    for (int i = 0; i <= w->nodes; i++) {
        w->mem[i] = (struct cw_member){w, i};
        if (i < w->nodes && !(w->node[i] = dc_node_create(&w->cfg, i)))
            return -ENOMEM;
        int rc = sim_node_main(sim, w->sim_node[i], i < w->nodes ? "cluster" : "executor",
                               i < w->nodes ? cw_node_main : cw_exec_main, &w->mem[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The lowest-numbered node that is up: whose map the run reports. */
static int cw_reference(const struct cw *w)
{
    for (int n = 0; n < w->nodes; n++)
        if (sim_node_up(w->sim, w->sim_node[n]))
            return n;
    return -1;
}

/* Every node that is up holds the reference map, and the map passes the checker. */
static void cw_record_placement(struct cw *w, struct lab_run *run, int ref)
{
    const struct pl_map *m = dc_node_map(w->node[ref]);
    bool agree = true, nodes_ok = true;
    for (int n = 0; n < w->nodes; n++) {
        if (!sim_node_up(w->sim, w->sim_node[n]))
            continue;
        const struct pl_map *o = dc_node_map(w->node[n]);
        agree = agree && pl_equal(o, m) && pl_epoch(o) == pl_epoch(m);
        nodes_ok = nodes_ok && dc_node_check(w->node[n]);
    }
    char why[200];
    bool ok = pl_check(m, why, sizeof(why));
    lab_metric(run, "placement_ok", ok);
    lab_metric(run, "maps_agree", agree);
    lab_metric(run, "node_check", nodes_ok);
    lab_metric(run, "epoch", (double)pl_epoch(m));
    if (!ok)
        lab_note(run, "the final placement: %s", why);
}

/* The table of node n's row, or "-" when it holds nothing. */
static const char *cw_row(const struct pl_map *m, int n, char *buf, size_t cap)
{
    pl_format_row(m, n, buf, cap);
    return *buf ? buf : "-";
}

static void cw_table_md(struct lab_run *run, const char *title, const struct pl_map *m)
{
    char row[256], why[200];
    lab_text(run, "placement.md", "%s\n\n| node | tasks |\n|---|---|\n", title);
    for (int n = 0; n < pl_nodes(m); n++)
        lab_text(run, "placement.md", "| %d%s | %s |\n", n + 1,
                 pl_live(m) >> n & 1 ? "" : " (lost)", cw_row(m, n, row, sizeof(row)));
    lab_text(run, "placement.md",
             "\nThe checker (exactly one primary and %d replica%s on distinct live nodes): ",
             pl_replicas(m), pl_replicas(m) == 1 ? "" : "s");
    int bad = 0;
    for (uint32_t t = 0; t < pl_ntasks(m); t++)
        if (!pl_task_ok(m, t, why, sizeof(why)))
            lab_text(run, "placement.md", "%s%s", bad++ ? "; " : "", why);
    lab_text(run, "placement.md", "%s.\n\n", bad ? "" : "every task passes");
}

static void cw_moves_md(struct lab_run *run, const char *who, const struct pl_moves *mv)
{
    lab_text(run, "placement.md",
             "%s: %llu promoted in place, %llu primaries copied to nodes that held no copy, "
             "%llu replicas copied, %llu copies dropped; %llu bytes copied (the lost node "
             "held %llu copies, %llu bytes).\n\n",
             who, (unsigned long long)mv->promoted, (unsigned long long)mv->primaries_copied,
             (unsigned long long)mv->replicas_copied, (unsigned long long)mv->dropped,
             (unsigned long long)mv->bytes_copied, (unsigned long long)mv->lost_copies,
             (unsigned long long)mv->lost_bytes);
}

/* What node n held of task t in m: "primary", "a replica" or "no copy". */
static const char *cw_role(const struct pl_map *m, uint32_t t, int n)
{
    return pl_primary(m, t) == n       ? "the primary"
           : pl_holders(m, t) >> n & 1 ? "a replica"
                                       : "no copy";
}

/* placement.md: the table before, after the run's rebalancing, and the seed's after-table
 * with where it differs and what reaching it from the table before would move. */
static void cw_placement_md(struct cw *w, struct lab_run *run, int ref)
{
    const struct pl_map *after = dc_node_map(w->node[ref]);
    lab_text(run, "placement.md", "# Placement (upper case: primary, lower case: replica)\n\n");
    cw_table_md(run, "## Before", w->initial);
    cw_table_md(run, "## After the rebalancing (this run)", after);
    cw_moves_md(run, "What the rebalancing moved", &w->moved);
    if (!w->seed_after)
        return;
    struct pl_map *seed = pl_clone(w->seed_after);
    if (!seed)
        return;
    pl_set_live(seed, pl_live(after));
    cw_table_md(run, "## The seed's after-table", seed);
    struct pl_moves mv;
    pl_diff(w->initial, seed, pl_live(after), NULL, NULL, &mv);
    cw_moves_md(run, "Reaching the seed's after-table from the table before", &mv);
    lab_text(run, "placement.md", "Where the seed's after-table differs from this run's:\n\n");
    char lost[64] = "";
    uint64_t gone = pl_live(w->initial) & ~pl_live(after);
    for (int n = 0; n < w->nodes; n++)
        if (gone >> n & 1)
            snprintf(lost + strlen(lost), sizeof(lost) - strlen(lost), "%s%d", *lost ? ", " : "",
                     n + 1);
    int differ = 0;
    for (uint32_t t = 0; t < w->ntasks; t++) {
        int ps = pl_primary(seed, t), pa = pl_primary(after, t);
        if (ps == pa && pl_holders(seed, t) == pl_holders(after, t))
            continue;
        differ++;
        char name = t < 26 ? (char)('A' + t) : '?';
        lab_text(run, "placement.md",
                 "- task %c: the seed makes node %d the primary, which held %s of %c before "
                 "the loss of node %s, and leaves node %d %s; this run makes node %d the "
                 "primary (it held %s).\n",
                 name, ps + 1, cw_role(w->initial, t, ps), name, lost, pa + 1, cw_role(seed, t, pa),
                 pa + 1, cw_role(w->initial, t, pa));
    }
    if (!differ)
        lab_text(run, "placement.md", "- nowhere: the two tables are the same.\n");
    lab_text(run, "placement.md", "\n");
    pl_destroy(seed);
}

static int cw_record(struct lab_run *run, void *arg)
{
    struct cw *w = arg;
    int ref = cw_reference(w);
    if (ref < 0) {
        lab_fail(run, "every node of the cluster is down at the end of the run");
        return -EINVAL;
    }
    firings_record(&w->book, run);
    cw_record_placement(w, run, ref);
    struct dx_stats st;
    dx_get_stats(w->x, &st);
    lab_metric(run, "effects", (double)st.executed);
    lab_metric(run, "duplicate_fires", (double)st.duplicate_fires);
    lab_metric(run, "duplicate_effects", (double)st.duplicate_effects);
    lab_metric(run, "stale_executed", (double)st.stale_executed);
    lab_metric(run, "fenced", (double)st.fenced);
    /* duplicate firings under the task's newest epoch (a failover's own: the new primary
     * fires again what the old one fired unreported) and under an older one (a deposed
     * primary still firing) */
    double causes[2] = {(double)(st.duplicate_fires - st.stale_executed),
                        (double)st.stale_executed};
    lab_metric_array(run, "duplicates_by_cause", causes, 2);
    lab_metric(run, "rebalances", w->rebalances);
    lab_metric(run, "false_failovers", w->false_failovers);
    lab_metric(run, "lost_primaries", (double)w->moved.lost_primaries);
    lab_metric(run, "lost_copies", (double)w->moved.lost_copies);
    lab_metric(run, "promoted", (double)w->moved.promoted);
    lab_metric(run, "primaries_copied", (double)w->moved.primaries_copied);
    lab_metric(run, "replicas_copied", (double)w->moved.replicas_copied);
    lab_metric(run, "bytes_copied", (double)w->moved.bytes_copied);
    lab_metric(run, "unrecoverable", (double)w->moved.unrecoverable);
    /* From the first crash or partition in `faults:` to the first rebalancing after it that
     * takes out a node the fault names. */
    for (size_t i = 0; i < lab_fault_count(run); i++) {
        const struct lab_fault *f = lab_fault_get(run, i);
        if (f->kind != LAB_FAULT_CRASH && f->kind != LAB_FAULT_PARTITION)
            continue;
        uint64_t hit = 0;
        for (int n = 0; n < w->nodes; n++) {
            const char *name = sim_node_name(w->sim, w->sim_node[n]);
            bool named = f->node && !strcmp(f->node, name);
            for (const char *const *s = f->side_a; s && *s && !named; s++)
                named = !strcmp(*s, name);
            for (const char *const *s = f->side_b; s && *s && !named; s++)
                named = !strcmp(*s, name);
            if (named)
                hit |= (uint64_t)1 << n;
        }
        for (int r = 0; r < w->nrebalance_at; r++)
            if (w->rebalance_at[r] >= f->at && (w->removed[r] & hit)) {
                int64_t took = w->rebalance_at[r] - f->at;
                lab_metric(run, "detect_ns", (double)took);
                lab_metric(run, "failover_lateness",
                           (double)firings_worst_in(&w->book, f->at, f->at + took));
                break;
            }
        /* Heartbeats leave at multiples of hb_interval: the last before the fault left
         * (fault time mod interval) before it, and the timeout runs from its arrival. */
        int64_t hb = w->cfg.hb_interval_ns;
        lab_metric(run, "theory_detect_ns", (double)(w->cfg.hb_timeout_ns - f->at % hb));
        break;
    }
    if (lab_list_len(run, "table"))
        cw_placement_md(w, run, ref);
    return 0;
}

static int cw_run(struct lab_run *run)
{
    struct cw w = {.run = run};
    int rc = cw_read(&w, run);
    if (rc == 0)
        rc = lab_sim_run(run, &w, cw_build, cw_record);
    else if (rc == -ENOMEM)
        lab_fail(run, "out of memory");
    /* the world ended inside lab_sim_run: no actor runs on the nodes' state below */
    for (int i = 0; i < w.nodes; i++)
        dc_node_destroy(w.node[i]);
    dx_destroy(w.x);
    pl_destroy(w.initial);
    pl_destroy(w.seed_after);
    firings_free(&w.book);
    return rc;
}

extern const struct lab_workload lab_wl_delay_cluster;

const struct lab_workload lab_wl_delay_cluster = {
    .name = "delay/cluster",
    .about = "the seed's cluster: tasks with replicas on nodes, heartbeats, a coordinator "
             "that rebalances, firing fenced by epoch and made idempotent by the executor",
    .params = cw_params,
    .worlds = LAB_WORLD_SIM,
    .run = cw_run,
};

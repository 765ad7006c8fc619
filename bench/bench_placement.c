/* bench_placement.c - rebalancing a delayed-task cluster after one node's loss, per placement
 * policy (delay/placement.h): how long the planner takes and how much it moves, each beside
 * its limit in the same run. Prints one JSON object per line on stdout; reads the system
 * clock, which only benchmarks may do.
 *
 * For each policy: --tasks tasks (default 1e6) of --bytes bytes on --nodes nodes (16) with
 * --replicas replicas (1) are placed by the policy (the table policy: the chain table, task t
 * on node t mod N and its replicas on the next nodes), node --lose (5) is lost, and
 * pl_rebalance computes the new placement. Reported:
 *   rebalance_ms    the planner's time, best of --reps (each on a fresh copy of the map)
 *   scan_ms         one pass that reads every task's primary and holders and counts the
 *                   lost node's copies: the least any planner that visits every task pays
 *                   (the repair could skip the scan with a per-node index; none does here)
 *   copies / min_copies, bytes_copied / min_bytes
 *                   what was copied against the copies the lost node held, which any
 *                   rebalancing must re-create (a lost primary is re-made by promoting a
 *                   replica and copying one new replica)
 *   promoted / lost_primaries, tasks_changed against tasks_per_node (1/N of the tasks)
 *   max_primaries_ratio   the busiest survivor's primaries over the mean: who inherits
 *                   the lost node's firing load */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delay/placement.h"

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile uint64_t sink;

/* The floor: read each task's placement once and count the copies on 'lost'. */
static double scan_ms(const struct pl_map *m, int lost)
{
    int64_t t0 = now_ns();
    uint64_t c = 0;
    uint32_t T = pl_ntasks(m);
    for (uint32_t t = 0; t < T; t++)
        c += (pl_holders(m, t) >> lost & 1) + (pl_primary(m, t) == lost);
    sink = c;
    return (double)(now_ns() - t0) / 1e6;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-placement [--tasks N] [--nodes N] [--replicas R] "
                    "[--bytes B] [--lose NODE] [--reps N] [--salt S]\n");
    return 2;
}

int main(int argc, char **argv)
{
    long tasks = 1000000, nodes = 16, replicas = 1, bytes = 256, lose = 5, reps = 3, salt = 1;
    for (int i = 1; i < argc; i++) {
        long *slot = !strcmp(argv[i], "--tasks")      ? &tasks
                     : !strcmp(argv[i], "--nodes")    ? &nodes
                     : !strcmp(argv[i], "--replicas") ? &replicas
                     : !strcmp(argv[i], "--bytes")    ? &bytes
                     : !strcmp(argv[i], "--lose")     ? &lose
                     : !strcmp(argv[i], "--reps")     ? &reps
                     : !strcmp(argv[i], "--salt")     ? &salt
                                                      : NULL;
        char *end;
        if (!slot || i + 1 >= argc)
            return usage();
        *slot = strtol(argv[++i], &end, 10);
        if (*end || *slot < 0)
            return usage();
    }
    if (tasks < 1 || tasks > UINT32_MAX || nodes < 2 || nodes > PL_MAX_NODES ||
        replicas >= nodes - 1 || lose >= nodes || reps < 1 || bytes > UINT32_MAX)
        return usage();
    uint64_t live = (nodes == 64 ? ~0ull : (1ull << nodes) - 1) & ~(1ull << lose);
    for (int pol = PL_TABLE; pol <= PL_RENDEZVOUS; pol++) {
        struct pl_map *orig = pl_create((uint32_t)tasks, (int)nodes, (int)replicas,
                                        (enum pl_policy)pol, (uint64_t)salt, (uint32_t)bytes);
        if (!orig || pl_place_all(orig) < 0) {
            fprintf(stderr, "bench-placement: out of memory\n");
            return 1;
        }
        struct pl_map *m = pl_clone(orig);
        if (!m) {
            fprintf(stderr, "bench-placement: out of memory\n");
            return 1;
        }
        double best = 1e300, best_scan = 1e300;
        struct pl_moves mv;
        for (long r = 0; r < reps; r++) {
            pl_copy(m, orig);
            double s = scan_ms(m, (int)lose);
            best_scan = s < best_scan ? s : best_scan;
            int64_t t0 = now_ns();
            pl_rebalance(m, live, NULL, NULL, &mv);
            double ms = (double)(now_ns() - t0) / 1e6;
            best = ms < best ? ms : best;
        }
        char why[200];
        bool ok = pl_check(m, why, sizeof(why));
        uint32_t most = 0;
        for (int n = 0; n < nodes; n++)
            if (n != lose && pl_node_primaries(m, n) > most)
                most = pl_node_primaries(m, n);
        uint64_t copies = mv.primaries_copied + mv.replicas_copied;
        printf("{\"bench\":\"placement\",\"policy\":\"%s\",\"tasks\":%ld,\"nodes\":%ld,"
               "\"replicas\":%ld,\"task_bytes\":%ld,\"rebalance_ms\":%.3f,\"scan_ms\":%.3f,"
               "\"rebalance_over_scan\":%.2f,\"copies\":%" PRIu64 ",\"min_copies\":%" PRIu64
               ",\"copies_over_min\":%.3f,\"bytes_copied\":%" PRIu64 ",\"min_bytes\":%" PRIu64
               ",\"promoted\":%" PRIu64 ",\"primaries_copied\":%" PRIu64
               ",\"lost_primaries\":%" PRIu64 ",\"tasks_changed\":%" PRIu64
               ",\"tasks_per_node\":%.0f,\"changed_over_tasks_per_node\":%.3f,"
               "\"max_primaries_ratio\":%.3f,\"check\":%s}\n",
               pl_policy_name((enum pl_policy)pol), tasks, nodes, replicas, bytes, best, best_scan,
               best / best_scan, copies, mv.lost_copies, (double)copies / (double)mv.lost_copies,
               mv.bytes_copied, mv.lost_bytes, mv.promoted, mv.primaries_copied, mv.lost_primaries,
               mv.tasks_changed, (double)tasks / (double)nodes,
               (double)mv.tasks_changed / ((double)tasks / (double)nodes),
               (double)most / ((double)tasks / (double)(nodes - 1)), ok ? "true" : "false");
        if (!ok)
            fprintf(stderr, "bench-placement: %s: %s\n", pl_policy_name((enum pl_policy)pol), why);
        fflush(stdout);
        pl_destroy(m);
        pl_destroy(orig);
    }
    return 0;
}

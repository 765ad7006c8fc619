/* placement.h - where each delayed task lives in a cluster: one primary copy (the only
 * node that fires it) and R replicas, on distinct nodes, kept in a map with an epoch that
 * every change increments; and the rebalancing that follows a node's loss.
 *
 * A pure data structure: nothing here reads a clock, draws a random number or sends a
 * message. Hash policies take their salt as an argument; the cluster (cluster.h) carries
 * out the moves a rebalancing lists. Nodes are numbered 0..nodes-1 (at most PL_MAX_NODES:
 * a task's holders are one 64-bit mask); tasks 0..ntasks-1.
 *
 * Policies (how a placement is chosen for a set of live nodes):
 *   PL_TABLE       an explicit table (the seed's: pl_parse_rows, or pl_set per task).
 *                  It says nothing about other node sets, so rebalancing *repairs*:
 *                  every surviving copy stays; a task whose primary was lost promotes a
 *                  surviving replica (on the node with the fewest primaries); a task with
 *                  too few replicas gets new ones on the live nodes with the fewest copies;
 *                  one with too many drops them from the nodes with the most. Moves only
 *                  what was lost, but where the lost node's replicas sat decides who
 *                  inherits its load.
 *   PL_HASH        hashing onto nodes: the primary is live[h(task) mod k] among the k live
 *                  nodes in id order, the replicas the next R live nodes after it. A
 *                  function of the live set, so any node can compute it; but when k
 *                  changes almost every task maps elsewhere, and rebalancing moves them.
 *   PL_RENDEZVOUS  highest random weight: every (task, node) pair gets a hash score; the
 *                  R + 1 live nodes with the highest scores hold the task, the highest is
 *                  its primary. Losing a node changes only the tasks it held: its primaries
 *                  pass to their second-ranked node (which already holds a replica, so it
 *                  is a promotion) and each lost copy is re-made on the next-ranked node,
 *                  spread over all survivors. The minimum movement, computable anywhere.
 *
 * Memory: 13 bytes per task (primary 1, holder mask 8, size 4); the seed's five tasks or a
 * million alike. */
#ifndef DISTLAB_DELAY_PLACEMENT_H
#define DISTLAB_DELAY_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_MAX_NODES 64

enum pl_policy { PL_TABLE, PL_HASH, PL_RENDEZVOUS };

struct pl_map;

/* An empty map (no task placed, epoch 0, every node live) for 'ntasks' tasks on 'nodes'
 * nodes (1..PL_MAX_NODES) with 'replicas' replicas each (0..nodes-1); 'salt' seeds the hash
 * policies. Every task's size starts at 'task_bytes'. NULL with errno EINVAL or ENOMEM. */
struct pl_map *pl_create(uint32_t ntasks, int nodes, int replicas, enum pl_policy policy,
                         uint64_t salt, uint32_t task_bytes);

/* A deep copy (the same epoch). NULL with errno ENOMEM. */
struct pl_map *pl_clone(const struct pl_map *m);

/* Make dst equal to src (the same shape: -EINVAL otherwise). Returns 0. */
int pl_copy(struct pl_map *dst, const struct pl_map *src);

void pl_destroy(struct pl_map *m);

/* ---- Reading ------------------------------------------------------------------------ */

uint32_t pl_ntasks(const struct pl_map *m);
int pl_nodes(const struct pl_map *m);
int pl_replicas(const struct pl_map *m);
enum pl_policy pl_policy(const struct pl_map *m);
uint64_t pl_epoch(const struct pl_map *m);
uint64_t pl_live(const struct pl_map *m); /* the nodes the placement may use */

/* Task t's primary node, or -1 when it has none (never placed, or every copy lost). */
int pl_primary(const struct pl_map *m, uint32_t t);
/* The nodes holding a copy of t, primary included, as a mask (bit n: node n). */
uint64_t pl_holders(const struct pl_map *m, uint32_t t);
uint32_t pl_task_bytes(const struct pl_map *m, uint32_t t);

/* How many primaries / copies (primary or replica) node n holds. O(ntasks). */
uint32_t pl_node_primaries(const struct pl_map *m, int node);
uint32_t pl_node_copies(const struct pl_map *m, int node);

/* True when a and b place every task alike (epochs and sizes not compared). */
bool pl_equal(const struct pl_map *a, const struct pl_map *b);

/* ---- Changing ------------------------------------------------------------------------ */

/* Every change below increments the epoch by one, unless this asked for a larger next
 * epoch (> the current: -EINVAL otherwise). How two coordinators keep their epochs apart:
 * each takes the next multiple of 64 plus its node number. Returns 0. */
int pl_set_next_epoch(struct pl_map *m, uint64_t next);

/* Place task t: primary on 'primary', replicas on the nodes in 'replicas' (a mask that
 * must not include the primary). No checks beyond node numbers: a table may be wrong, and
 * pl_check says how. The epoch increments. Returns 0 or -EINVAL. */
int pl_set(struct pl_map *m, uint32_t t, int primary, uint64_t replicas);

void pl_set_task_bytes(struct pl_map *m, uint32_t t, uint32_t bytes);

/* Declare the live nodes without moving anything (pl_check then judges copies on the
 * others as misplaced). The epoch increments if the set changes. Returns 0 or -EINVAL. */
int pl_set_live(struct pl_map *m, uint64_t live);

/* Place every task by the map's policy on its live nodes (PL_HASH, PL_RENDEZVOUS), or
 * (PL_TABLE) as a round-robin table: task t's primary on node t mod nodes, its replicas on
 * the R nodes after it, the chain layout an operator writes by hand. The epoch increments
 * once. Returns 0, or -EINVAL when fewer than R + 1 nodes are live. O(ntasks x nodes). */
int pl_place_all(struct pl_map *m);

/* Where the map's policy puts task t among the nodes in 'live' (PL_TABLE: the chain table
 * over them), leaving the map alone: its primary and holders (fewer than R + 1 when fewer
 * nodes are live). For a store that keeps the tasks itself and asks only who owns each
 * one. Returns 0, or -EINVAL (t out of range, no live node). O(nodes x R). */
int pl_place(const struct pl_map *m, uint32_t t, uint64_t live, int *primary, uint64_t *holders);

/* The seed's notation: rows[i] lists node i's tasks as letters separated by spaces, an
 * upper-case letter for a primary, lower case for a replica ("A b d E"); task k is the
 * letter 'A' + k (so at most 26 tasks). The map is cleared first and every row applied;
 * the epoch increments once. Returns 0, or -EINVAL with a message in why (a letter out of
 * range, two primaries for one task, a node listing a task twice, more rows than nodes).
 * A table may break the invariants (a task with no replica, or two): pl_check says so. */
int pl_parse_rows(struct pl_map *m, const char *const *rows, int nrows, char *why, size_t cap);

/* Write node n's row in the same notation into buf (NUL-terminated, truncated to cap).
 * Returns the length it needed. Tasks beyond 'Z' are written as numbers. */
size_t pl_format_row(const struct pl_map *m, int node, char *buf, size_t cap);

/* The map as bytes, for sending to other nodes: epoch, live set and every task's primary
 * and holders (9 bytes per task plus 24; task sizes are not included: every node knows its
 * tasks' sizes). Writes at most cap bytes and returns the size needed. */
size_t pl_encode(const struct pl_map *m, void *buf, size_t cap);

/* Replace m's placement, epoch and live set with those encoded in buf. Returns 0, or
 * -EINVAL when len is short or the encoding is of another shape (task or node count). */
int pl_decode(struct pl_map *m, const void *buf, size_t len);

/* ---- Rebalancing ----------------------------------------------------------------------- */

/* What one change of placement moves. "Copies" are whole tasks sent from a node that holds
 * one to a node that does not; promotion, demotion and dropping move no data. */
struct pl_moves {
    uint64_t lost_primaries;   /* tasks whose primary sat on a node no longer live */
    uint64_t lost_copies;      /* copies (primary or replica) on nodes no longer live */
    uint64_t lost_bytes;       /* their size: the least any rebalancing re-creates */
    uint64_t promoted;         /* a replica became the primary in place */
    uint64_t primaries_copied; /* a primary moved to a node that held no copy of it */
    uint64_t replicas_copied;  /* a replica made on a node that held no copy */
    uint64_t demoted;          /* a live primary became a replica */
    uint64_t dropped;          /* copies on live nodes that are no longer wanted */
    uint64_t bytes_copied;     /* size of every primary and replica copied */
    uint64_t tasks_changed;    /* tasks whose primary or holders changed */
    uint64_t unrecoverable;    /* tasks with no copy on a live node (lost unless one of
                                * their nodes comes back) */
};

enum pl_move_kind { PL_PROMOTE, PL_COPY_PRIMARY, PL_COPY_REPLICA, PL_DEMOTE, PL_DROP };

/* One action of a change: for copies, 'from' is a node that held the task before and is
 * still live (the old primary when it is, else the lowest such node); for the others
 * from == to, the node concerned. */
struct pl_move {
    uint32_t task;
    int8_t from, to;
    uint8_t kind; /* enum pl_move_kind */
};

typedef void (*pl_move_fn)(void *arg, const struct pl_move *mv);

/* Re-place every task for the live set 'live' by the map's policy (recomputed for
 * PL_HASH and PL_RENDEZVOUS, repaired for PL_TABLE; see the top of this file), set the map's
 * live set to it and count what moved into *out (zeroed first). A task with no copy on a
 * live node is unrecoverable: it keeps its placement on nodes no longer live (the checker
 * flags it), to be placed again if one of them comes back. Each move is
 * reported to fn (may be NULL) in task order. The epoch increments once if anything
 * changed. Returns 0, or -EINVAL (a node in 'live' beyond the map). Costs: PL_HASH
 * O(ntasks x nodes); PL_RENDEZVOUS the same, except that when nodes only left a map the
 * policy made (no pl_set since), only the tasks they held are recomputed, O(ntasks +
 * touched x nodes x R); the repair (PL_TABLE) O(ntasks + touched x nodes). */
int pl_rebalance(struct pl_map *m, uint64_t live, pl_move_fn fn, void *arg, struct pl_moves *out);

/* What moving from placement a to placement b (same shape) on the live set 'live' moves,
 * counted and reported exactly as pl_rebalance does, without changing either. How the
 * seed's own after-table is costed. Returns 0 or -EINVAL. */
int pl_diff(const struct pl_map *a, const struct pl_map *b, uint64_t live, pl_move_fn fn, void *arg,
            struct pl_moves *out);

/* ---- Invariants ------------------------------------------------------------------------ */

/* Task t is placed correctly: exactly one primary and exactly R replicas, all on distinct
 * live nodes. When not, writes why into buf (if cap > 0). */
bool pl_task_ok(const struct pl_map *m, uint32_t t, char *why, size_t cap);

/* Every task is placed correctly (pl_task_ok) and the map's own fields agree (each primary
 * among its task's holders, nodes in range). On failure writes how many tasks fail and the
 * first one's reason into why. O(ntasks). */
bool pl_check(const struct pl_map *m, char *why, size_t cap);

/* The policies' names in enum order (names.h). parse gives -EINVAL for another name; name
 * gives NULL for an out-of-range value. */
#define PL_POLICY_NAMES "table", "hash", "rendezvous"
extern const char *const pl_policy_names[];
int pl_policy_parse(const char *name);
const char *pl_policy_name(enum pl_policy p);

#endif

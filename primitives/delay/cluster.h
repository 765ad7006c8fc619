/* cluster.h - the seed's delayed-task cluster: tasks stored as a primary and R replicas on
 * different nodes (placement.h); only the node holding a task's primary fires it; nodes
 * watch each other by heartbeats (detector.h), and when one falls silent its tasks are
 * rebalanced to the survivors; every firing goes to an executor (exec.h) that can fence a
 * deposed primary and ignore a second firing of the same (task, scheduled time).
 *
 * Blocking code over struct env and client/msg.h: the same code runs in the simulated and
 * the live world. Members 0..nodes-1 of the message group are the cluster's nodes, member
 * 'nodes' is the executor. Each node is one actor running dc_node_run; the executor is one
 * actor running dc_exec_run.
 *
 * The protocol, as built:
 *   - Heartbeats: every node sends HB (its map's epoch) to every other node each
 *     hb_interval; anything heard from a node counts. A node suspects another after
 *     hb_timeout of silence on its own monotonic clock.
 *   - Coordinator: the lowest-numbered node of the current placement that a node does not
 *     suspect; each node works this out for itself, so there is no election and no extra
 *     machine, and when the coordinator dies the next one takes over after one timeout.
 *     Views can differ (a partition, slow heartbeats), so two nodes may both believe they
 *     are it: a cut-off node that heard a peer just before the cut still counts it alive
 *     and sees a majority. So a new map takes effect only once a majority of all the
 *     nodes has promised to accept nothing older (PROPOSE / PROMISE, the promise kept in
 *     the node's durable store): two majorities share a node, and the cut-off side never
 *     gathers one. A coordinator also stays still while some node has shown it a newer
 *     epoch than its map's (a node back from a partition does not rebalance its stale
 *     map). Epochs are distinct per coordinator (the next multiple of 64 above any it has
 *     seen, plus its number: pl_set_next_epoch), and every node ends on the highest.
 *   - Rebalancing: when the nodes a coordinator hears from differ from the placement's live
 *     set (one fell silent, or a silent one came back), it rebalances for the nodes it
 *     hears (pl_rebalance: promote a surviving replica of each lost primary, re-create
 *     replicas), proposes it, and once a majority promised sends the new map with its
 *     moves to every node. A node adopts a map
 *     with a higher epoch than its own; each copy source sends COPY (the task and the last
 *     firing it knows of) to its target; a holder without its copy asks the others
 *     (PULL) every heartbeat. A node that hears a heartbeat with an older epoch while it
 *     is the coordinator sends that node its map.
 *   - Firing: a node fires the tasks whose primary it holds under its current map, one
 *     firing per task at a time: FIRE (task, scheduled time, and its map's epoch as the
 *     fencing token: whoever fires a task under a newer map is its newer primary) to the
 *     executor, again after ack_timeout until acknowledged. On the
 *     ack it tells the replicas (MARK) so a promoted replica resumes after the last known
 *     firing; firings due while no node could fire are fired late, each one (nothing is
 *     skipped). A firing refused as fenced is not retried until the node adopts a map
 *     that gives it the task with a newer token.
 *   - A restarted node (its durable store says it ran before) starts empty and outside
 *     the placement: it heartbeats, the coordinator adds it back, and it receives copies.
 * What it does not do: a primary does not wait for its replicas before firing, so around a
 * failover a promoted replica may fire again what the old primary fired after its last MARK
 * arrived (the executor's key absorbs it); a partitioned primary keeps firing until it hears
 * of a newer map (the executor's fencing refuses it once its successor has fired). */
#ifndef DISTLAB_DELAY_CLUSTER_H
#define DISTLAB_DELAY_CLUSTER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/msg.h"
#include "delay/exec.h"
#include "delay/placement.h"
#include "env.h"

/* A task of the catalog every node knows: fired at first, first + period, ... (period 0:
 * once). Times are the cluster's wall clock (env_now), ns. */
struct dc_task {
    int64_t first;
    int64_t period;
};

/* What the cluster tells its observer (all optional). Called on the actor concerned; must
 * not block. */
struct dc_hooks {
    /* node sends (or resends) a firing */
    void (*fire)(void *arg, int node, uint32_t task, int64_t sched, uint64_t token, bool resend);
    /* node adopted map (from coordinator 'coord'; a node's first map at start: coord -1) */
    void (*adopt)(void *arg, int node, const struct pl_map *map, int coord);
    /* coordinator made a new map for the nodes it hears from */
    void (*rebalance)(void *arg, int coord, const struct pl_map *map, const struct pl_moves *moves,
                      uint64_t suspects);
    /* the executor's verdict on a firing from member 'from' (enum dx_verdict) */
    void (*verdict)(void *arg, int from, uint32_t task, int64_t sched, uint64_t token, int verdict);
    void *arg;
};

struct dc_config {
    int nodes;                    /* 1..PL_MAX_NODES; the executor is member 'nodes' */
    uint32_t ntasks;              /* as the placement's */
    const struct dc_task *tasks;  /* ntasks of them, read-only while nodes run */
    const struct pl_map *initial; /* every node's map at its first start */
    int64_t hb_interval_ns;       /* > 0 */
    int64_t hb_timeout_ns;        /* > hb_interval_ns */
    int64_t ack_timeout_ns;       /* > 0 */
    const atomic_bool *stop;      /* the actors return soon after it becomes true; NULL:
                                   * they run until their world ends them */
    struct dc_hooks hooks;
};

/* What one node did (kept across its restarts; read when its actor is not running, or
 * racily). */
struct dc_node_stats {
    uint64_t fires, resends, acks, fenced;
    uint64_t maps_adopted, rebalances, copies_sent, copies_received, pulls, marks_sent;
    uint64_t restarts;
};

struct dc_node;

/* Node 'self' of the cluster cfg describes (cfg and what it points to must outlive it).
 * Allocates its map, timers and per-task records (about 90 bytes a task). NULL with errno
 * EINVAL (a bad config) or ENOMEM. */
struct dc_node *dc_node_create(const struct dc_config *cfg, int self);

/* Run the node on the calling actor, member cfg->nodes-group number 'self' of 'net'. Starts
 * from the initial map with the copies it places here, or empty after a restart (the env's
 * durable store tells); runs until cfg->stop, or until the world ends the actor (a crash:
 * the next run starts afresh). Returns 0, or -ENOMEM. */
int dc_node_run(struct env *e, struct dc_node *n, struct msg *net);

/* The node's current map (NULL before its first run). For observers and tests. */
const struct pl_map *dc_node_map(const struct dc_node *n);
void dc_node_stats(const struct dc_node *n, struct dc_node_stats *out);

/* Invariants of the node's own records against its map: a task scheduled or in flight only
 * where the node is its primary and holds its copy; no copy of a task it does not hold. */
bool dc_node_check(const struct dc_node *n);

void dc_node_destroy(struct dc_node *n);

/* Run the executor on the calling actor (member cfg->nodes of 'net'): each FIRE goes
 * through x (fencing and idempotency as x was made) and is answered with its verdict.
 * Returns when cfg->stop becomes true. */
void dc_exec_run(struct env *e, const struct dc_config *cfg, struct dx *x, struct msg *net);

#endif

/* rqueue.h - the delayed-task cluster with its tasks kept in Redis: the store is Redis (its
 * own persistence and replication stand where cluster.h keeps replicas on the nodes), the
 * nodes are workers that each own the tasks a placement policy gives them.
 *
 * Blocking code over struct env and client/redis.h: the same code runs against the
 * simulated Redis model and a real redis-server. Keys (under a prefix p):
 *   p:due:N    sorted set: the tasks node N owns, member the task number, score the time
 *              its next firing is due (ms of the cluster's wall clock)
 *   p:run:N    sorted set: node N's claimed firings, member "task@due-time", score the
 *              time the claim runs out (the visibility timeout)
 *   p:hb:N     node N's heartbeat, SET with PX hb_timeout: N is live while it exists (by
 *              the Redis server's clock)
 *   p:done:T:S the idempotency record of task T's firing due at S, SET NX with PX
 *   p:live, p:epoch  the live set (a decimal mask) the placement was last made for, and a
 *              counter of those changes
 *   p:seeded   set once by rq_seed
 *
 * A node, every hb_interval: renews its heartbeat; takes back its own claims that ran out
 * (redelivery); and, if it is the lowest-numbered live node (the coordinator: no election,
 * each node reads the heartbeats), re-homes tasks when the live set changed (every task to
 * its owner under the policy, pl_place) and empties the sets of dead nodes (their run-out
 * claims first, into their due set, then every due task to its owner). In between it claims
 * its due firings one at a time with one atomic script (redis_zpopmove: due -> run, tagged
 * with the due time, scored with the claim's deadline) and executes each: the effect is
 * recorded with its key (SET NX, when idempotent: a second firing of the key is ignored),
 * then the worker spends work_ns on the rest of the task, then acknowledges (ZREM of the
 * claim; when it still held it, the next firing of a periodic task goes to its owner's due
 * set). A worker that dies between claim and acknowledgement leaves the claim to run out:
 * its firing is redelivered, and executed again unless the key was recorded. Each task is
 * always in exactly one of the sets (every move is one atomic call). */
#ifndef DISTLAB_DELAY_RQUEUE_H
#define DISTLAB_DELAY_RQUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/redis.h"
#include "delay/cluster.h"
#include "delay/placement.h"
#include "env.h"

/* What the queue tells its observer (all optional; called on the node's actor, must not
 * block). Times are the firing's due time in ms. */
struct rq_hooks {
    void (*claimed)(void *arg, int node, uint32_t task, int64_t due_ms);
    /* the firing's effect: verdict DX_EXECUTED, or DX_IGNORED (its key was recorded) */
    void (*executed)(void *arg, int node, uint32_t task, int64_t due_ms, int verdict);
    /* acknowledged: held is false when the claim had run out and was taken back */
    void (*finished)(void *arg, int node, uint32_t task, int64_t due_ms, bool held);
    /* the coordinator re-homed tasks for a new live set */
    void (*rebalanced)(void *arg, int coord, uint64_t live, uint32_t moved);
    void *arg;
};

struct rq_config {
    const char *prefix;          /* at most 16 characters */
    int nodes;                   /* 1..PL_MAX_NODES */
    uint32_t ntasks;             /* as the policy map's */
    const struct dc_task *tasks; /* ntasks of them (ns; fired at ms resolution) */
    const struct pl_map *policy; /* its policy and salt say who owns a task (pl_place);
                                  * its own placement is not used */
    int64_t hb_interval_ns;      /* > 0 */
    int64_t hb_timeout_ns;       /* the heartbeat's PX, > hb_interval_ns */
    int64_t visibility_ns;       /* how long a claim lasts, > work_ns */
    int64_t work_ns;             /* a firing's work after its effect, >= 0 */
    int64_t done_ttl_ns;         /* how long an idempotency record lasts, > 0 */
    bool idempotent;             /* record each firing's key, ignore a second */
    const atomic_bool *stop;     /* nodes return soon after it becomes true (NULL: never) */
    bool (*stopping)(void *arg); /* the same, asked at every turn (NULL: never) */
    void *stopping_arg;
    struct rq_hooks hooks;
};

/* What one node did (kept by the caller across the node's restarts). */
struct rq_stats {
    uint64_t claims, executed, ignored, acks, lost_claims, reclaimed, rebalances, moved;
    uint64_t errors; /* Redis calls that failed (unreachable, timed out) */
};

/* Check cfg. Returns 0 or -EINVAL. */
int rq_config_check(const struct rq_config *cfg);

/* Put every task in its owner's due set for the full live set, due at its first firing,
 * unless that was done before (p:seeded). Any one actor calls it before the nodes start.
 * Returns 0, or a Redis error. */
int rq_seed(struct env *e, const struct rq_config *cfg, struct redis *r);

/* Run node 'self' on the calling actor over connection r until cfg->stop or stopping says
 * so (or the world ends the actor); st (may be NULL) is updated as it goes (by this actor
 * alone). Returns 0 when stopped, or
 * -EINVAL (a bad config). Redis errors are counted and retried at the next heartbeat. */
int rq_node_run(struct env *e, const struct rq_config *cfg, int self, struct redis *r,
                struct rq_stats *st);

#endif

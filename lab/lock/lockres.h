/* lockres.h - what every distributed-lock workload (Redis, etcd, ZooKeeper) keeps around
 * the lock checker (lockcheck.h): the protected resource, the seed's counter, with an
 * optional fencing check; the true time of grants, releases and accesses; and the
 * checker's result as the run's metrics and time lines. It knows nothing of how a lock
 * works: a workload tells it when a client believes it holds and what the client sends.
 *
 * The resource: a read returns the counter, a write sets it; with fencing, an access whose
 * token is older than the newest one the resource has seen is refused (reads included,
 * so a stale holder cannot write back what it read before), and the newest token moves
 * up. In the simulation it lives on a node of its own (an actor answering messages, so a
 * partition or a paused client delays accesses like real ones); live it is an object of
 * this process, called directly.
 *
 * Thread-safe: live clients are threads. */
#ifndef DISTLAB_LAB_LOCK_LOCKRES_H
#define DISTLAB_LAB_LOCK_LOCKRES_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

struct lab_run;
struct sim;
struct lockres;

/* A resource for one run. NULL on -ENOMEM. */
struct lockres *lockres_create(bool fencing);
void lockres_destroy(struct lockres *r);

/* The simulated world: 'node' is the resource's node (this installs its main actor); an
 * access waits at most call_timeout for the answer. Returns 0 or a negative errno. */
int lockres_sim(struct lockres *r, struct sim *sim, int node, int64_t call_timeout);
/* The live world: accesses are calls; true time is the lab's (lab_live_now) given the
 * run, or counts from now given NULL. */
void lockres_live(struct lockres *r, struct lab_run *run);

/* True time since the run started (sim_now in the simulation), ns; live, e may be NULL. */
int64_t lockres_now(struct lockres *r, struct env *e);

/* 'client' holds the lock from now: returns the checker's lease id (>= 0) or -ENOMEM. */
int64_t lockres_acquired(struct lockres *r, int client, struct env *e);
/* The lease's release began at true time t (lockres_now before the release call);
 * 'deleted': it removed a key from the lock service. */
void lockres_released(struct lockres *r, int64_t lease, int64_t t, bool deleted);

/* An access by 'lease' carrying token 'fence' (ignored without fencing): a read (*value
 * out) or a write of *value. *id is the caller's own request counter (sim). Returns 0,
 * -ESTALE (the resource refused an old token) or -ETIMEDOUT (sim: no answer in time). */
int lockres_access(struct lockres *r, struct env *e, uint64_t *id, bool write, int64_t lease,
                   int64_t fence, int64_t *value);

/* The critical section of the seed's cycle, for 'lease' with token 'fence': read the
 * counter, call after_read(arg, e) (NULL: nothing), hold for 'hold', write the value read
 * plus one (unless the read failed). The hold is CPU work in the simulation (a node pause
 * stops it, where a sleep would run on) and a sleep live (an injected pause blocks that
 * call first; a spinning hold would stretch with the machine's load). Returns 0, or the
 * first failed access's -ESTALE or -ETIMEDOUT. */
int lockres_critical(struct lockres *r, struct env *e, uint64_t *id, int64_t lease, int64_t fence,
                     int64_t hold, void (*after_read)(void *arg, struct env *e), void *arg);

/* The checker's result at true time 'end' (the counter's final value included), for a
 * workload that reports a second resource under names of its own: lockres_report's are
 * one resource's. Returns 0 or -ENOMEM. */
struct lockcheck_result;
int lockres_result(struct lockres *r, int64_t end, struct lockcheck_result *out);

/* grants_per_s (below) counts the grants from true time 'from' on (a workload's warmup). */
void lockres_rate_from(struct lockres *r, int64_t from);

/* The checker's result at true time 'end' as the run's metrics: overlaps, overlap_time,
 * max_holders, lost_updates, stale_writes, stale_reads, rejected_writes, rejected_reads,
 * foreign_deletes, acquisitions, writes, counter, throughput (acquisitions over the whole
 * run), grants_per_s (lockcheck_grant_rate from lockres_rate_from's time, default 0); the
 * time lines (100 ms bins) acquisitions_ts and holders_ts (the mean number of clients
 * that believed they held the lock: 1 while it works, 2 while two hold at once); and a
 * note that begins with 'what'.
 * Returns 0, or -ENOMEM after lab_fail. */
int lockres_report(struct lockres *r, struct lab_run *run, int64_t end, const char *what);

#endif

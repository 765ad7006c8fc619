/* lockres.h - what the distributed-lock workloads share beside the checker (lockcheck.h):
 * the resource a lock protects, a counter with an optional fencing check that records
 * every access into the checker, reachable by a call (live) or as a service of a
 * simulated node (a message to its actor); and the holders_ts series drawn from the
 * checker's leases. It knows nothing of how a lock works.
 *
 * Thread-safe (live clients call it concurrently). */
#ifndef DISTLAB_LOCKRES_H
#define DISTLAB_LOCKRES_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "lab/lab.h"
#include "lab/lock/lockcheck.h"
#include "sim/sim.h"

struct lockres;

/* The true time of an access, as the workload knows it (sim_env_true_now, or the live
 * world's real clock since the run's start). */
typedef int64_t (*lockres_clock_fn)(void *arg, struct env *e);

/* A counter at 0 whose accesses go to chk (not owned). With fencing, an access whose token
 * is older than the newest the counter has seen is refused. NULL on -ENOMEM. */
struct lockres *lockres_create(struct lockcheck *chk, bool fencing, lockres_clock_fn clock,
                               void *clock_arg);
void lockres_destroy(struct lockres *r);

/* Serve the counter to simulated clients on 'port' of the calling actor's node, forever
 * (the actor's body; returns only if the port is taken). */
void lockres_serve(struct lockres *r, struct env *e, uint32_t port);

/* A read (*value out) or a write (*value in) by lease 'lease' with token 'fence': a call
 * (at NULL: live, or the resource's own node) or a message to the simulated service at
 * *at, waiting at most timeout_ns; *next_id numbers the caller's requests. Returns 0,
 * -ESTALE (fenced off) or -ETIMEDOUT. */
int lockres_access(struct lockres *r, struct env *e, const struct sim_addr *at, uint64_t *next_id,
                   int64_t timeout_ns, bool write, int64_t lease, int64_t fence, int64_t *value);

/* The counter's value now. */
int64_t lockres_value(struct lockres *r);

/* holders_ts (metric 'name', bins of bin_ns up to end): in each bin, the mean number of
 * clients that believed they held the lock, from chk's leases: 1 while it works, 2 while
 * two clients hold it at once. */
void lockres_holders_series(struct lab_run *run, const char *name, struct lockcheck *chk,
                            int64_t end, int64_t bin_ns);

#endif

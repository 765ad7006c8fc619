/* lockcheck.h - the checker of a lock workload: it knows true time (sim_now, or the live
 * world's real clock), records when each client believed it held the lock and what the
 * protected resource accepted, and reports what went wrong. Shared by every distributed
 * lock (Redis, ZooKeeper, etcd): it knows nothing of how the lock works.
 *
 * Definitions (all in true time):
 * - A lease is one successful acquisition: from the instant acquire returned to the
 *   instant the holder began its release (or the end of the run). Leases are ordered by
 *   the instant they began: "a later lease".
 * - overlaps: pairs of leases of different clients whose holding intervals intersect;
 *   overlap_ns: how long two or more clients held at once; max_holders: most at once.
 * - stale_writes (stale_reads): writes (reads) the resource accepted from a lease after it
 *   had accepted an access from a later lease: the order the lock promised was broken at
 *   the resource. A fencing resource that rejects older tokens makes this 0, unless the
 *   tokens themselves go backwards (a lost fencing counter).
 * - lost_updates: increments the resource accepted minus the counter's final value (each
 *   accepted write stores what its lease read, plus one).
 * - foreign_deletes: releases that deleted a key although a later lease had begun before
 *   the release: the seed's unconditional DEL removing the next holder's lock.
 *
 * Thread-safe (live clients record concurrently); recording is O(1) amortised, the result
 * O(n log n + overlapping pairs). */
#ifndef DISTLAB_LAB_LOCK_LOCKCHECK_H
#define DISTLAB_LAB_LOCK_LOCKCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lockcheck;

struct lockcheck_result {
    uint64_t leases;
    uint64_t overlaps;
    int64_t overlap_ns;
    int max_holders;
    uint64_t reads, writes;                   /* accepted */
    uint64_t rejected_reads, rejected_writes; /* refused by the resource (fencing) */
    uint64_t stale_reads, stale_writes;
    uint64_t foreign_deletes;
    int64_t lost_updates;
};

struct lockcheck *lockcheck_create(void); /* NULL on -ENOMEM */
void lockcheck_destroy(struct lockcheck *c);

/* Client 'client' holds the lock from true time t. Returns the lease's id (>= 0), or
 * -ENOMEM. */
int64_t lockcheck_acquired(struct lockcheck *c, int client, int64_t t);

/* The lease stopped holding at true time t (its release began); 'deleted': the release
 * removed a key from the lock service. Unknown or already released leases: -EINVAL. */
int lockcheck_released(struct lockcheck *c, int64_t lease, int64_t t, bool deleted);

/* The resource handled an access by 'lease' at true time t. Returns 0, -EINVAL, -ENOMEM. */
int lockcheck_access(struct lockcheck *c, int64_t lease, bool write, bool accepted, int64_t t);

/* Compute the result; leases still held end at true time 'end'. 'final_counter' is the
 * resource's value at the end (the counter starts at 0). Returns 0 or -ENOMEM. */
int lockcheck_result(struct lockcheck *c, int64_t end, int64_t final_counter,
                     struct lockcheck_result *out);

/* Lease i (0 <= i < lockcheck_leases), for plots: its client and holding interval, a
 * lease still held ending at 'end'. Returns false when i is out of range. */
size_t lockcheck_leases(struct lockcheck *c);
bool lockcheck_lease(struct lockcheck *c, size_t i, int64_t end, int *client, int64_t *from,
                     int64_t *to);

/* The grants' rate between the first and the last of the n grants at true times in
 * [from, end]: (n - 1) / (t_n - t_1) per second, 0 with fewer than two (or all at one
 * instant). Counting intervals rather than grants in a window, it does not move by a
 * whole grant with where the window's edges fall, and the wait before the first grant
 * (a cluster's first election) is not in it. */
double lockcheck_grant_rate(struct lockcheck *c, int64_t from, int64_t end);

/* Invariants: every lease and access refers to a known lease, releases do not precede
 * acquisitions. */
bool lockcheck_check(struct lockcheck *c);

#endif

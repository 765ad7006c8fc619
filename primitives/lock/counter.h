/* counter.h - the seed's shared counter: read it, compute, write it back; with a blocking
 * mutex around that critical section (exact) or with none (updates get lost).
 *
 * Talks to its world only through env: env_work is the computation between the read
 * and the write (where another worker can read the same value), env_mutex_* the lock.
 * The same code counts on simulated actors and on live threads. */
#ifndef DISTLAB_LOCK_COUNTER_H
#define DISTLAB_LOCK_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

enum lock_guard {
    LOCK_GUARD_NONE,  /* no lock: concurrent increments read the same value */
    LOCK_GUARD_MUTEX, /* env_mutex around read-work-write: the count is exact */
};

/* The guards' names in enum order (names.h). */
#define LOCK_GUARD_NAMES "none", "mutex"
extern const char *const lock_guard_names[];
/* A guard's name; NULL for an out-of-range value. */
const char *lock_guard_name(enum lock_guard g);
/* Parse a name. Returns 0, or -EINVAL (*out untouched). */
int lock_guard_parse(const char *name, enum lock_guard *out);

struct lock_counter; /* opaque, defined in counter.c */

/* A counter at 0 guarded by g, its mutex initialised through e (any env of the world
 * that will use it). NULL on -ENOMEM or when the world cannot make a mutex. */
struct lock_counter *lock_counter_create(struct env *e, enum lock_guard g);

/* Frees the counter; nobody may be using it. e: an env of the world that made it, or
 * NULL once that world is gone (its mutex is then not torn down: the simulation's need
 * none). NULL c is a no-op. */
void lock_counter_destroy(struct lock_counter *c, struct env *e);

/* One increment: [lock], read the value, env_work(work_ns), write value + 1, [unlock].
 * Without a guard, another increment that reads during the work is lost.
 * Returns the time this call waited for the mutex (env_mono ns; 0 without a guard). */
int64_t lock_counter_incr(struct lock_counter *c, struct env *e, int64_t work_ns);

/* The critical section alone: read, env_work(work_ns), write value + 1. The caller
 * must hold whatever lock it uses to protect the counter (a try-lock, say). */
void lock_counter_rmw(struct lock_counter *c, struct env *e, int64_t work_ns);

/* The current value. Exact once every incrementer has finished. */
int64_t lock_counter_value(const struct lock_counter *c);

/* Invariants: a known guard, a non-negative value. For tests. */
bool lock_counter_check(const struct lock_counter *c);

#endif

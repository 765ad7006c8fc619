/* counter.c - the shared counter of counter.h. Never reads a clock except through env,
 * never sleeps: the only time it takes is the work the caller asks for.
 *
 * The value is an atomic read and an atomic write, separately and relaxed: the
 * read-modify-write as a whole is not atomic (that is the race under study), but no
 * single access is a C data race, so the unguarded counter is defined behaviour and
 * sanitizers stay quiet about what is the point of the exercise. */
#include "lock/counter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

struct lock_counter {
    _Atomic int64_t value;
    enum lock_guard guard;
    struct env_mutex mutex; /* initialised only with LOCK_GUARD_MUTEX */
};

const char *const lock_guard_names[] = {LOCK_GUARD_NAMES, NULL};

const char *lock_guard_name(enum lock_guard g)
{
    return names_name(lock_guard_names, (int)g);
}

int lock_guard_parse(const char *name, enum lock_guard *out)
{
    int v = names_value(lock_guard_names, name);
    if (v < 0)
        return v;
    *out = (enum lock_guard)v;
    return 0;
}

struct lock_counter *lock_counter_create(struct env *e, enum lock_guard g)
{
    if (!lock_guard_name(g))
        return NULL;
    struct lock_counter *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    atomic_init(&c->value, 0);
    c->guard = g;
    if (g == LOCK_GUARD_MUTEX && env_mutex_init(e, &c->mutex) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

void lock_counter_destroy(struct lock_counter *c, struct env *e)
{
    if (!c)
        return;
    if (c->guard == LOCK_GUARD_MUTEX && e)
        env_mutex_destroy(e, &c->mutex);
    free(c);
}

void lock_counter_rmw(struct lock_counter *c, struct env *e, int64_t work_ns)
{
    int64_t v = atomic_load_explicit(&c->value, memory_order_relaxed);
    if (work_ns > 0)
        env_work(e, work_ns);
    atomic_store_explicit(&c->value, v + 1, memory_order_relaxed);
}

int64_t lock_counter_incr(struct lock_counter *c, struct env *e, int64_t work_ns)
{
    if (c->guard == LOCK_GUARD_NONE) {
        lock_counter_rmw(c, e, work_ns);
        return 0;
    }
    int64_t t0 = env_mono(e);
    env_mutex_lock(e, &c->mutex);
    int64_t waited = env_mono(e) - t0;
    lock_counter_rmw(c, e, work_ns);
    env_mutex_unlock(e, &c->mutex);
    return waited;
}

int64_t lock_counter_value(const struct lock_counter *c)
{
    return atomic_load_explicit(&c->value, memory_order_relaxed);
}

bool lock_counter_check(const struct lock_counter *c)
{
    return c && lock_guard_name(c->guard) && lock_counter_value(c) >= 0;
}

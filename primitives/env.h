/* env.h - how blocking code reaches its world: clocks, sleep, randomness, CPU, locks.
 *
 * A primitive never calls clock_gettime, nanosleep, rand or pthread directly: it calls
 * these, and one of two worlds answers. sim/ answers with virtual time, coroutine actors
 * and a CPU model; live/ answers with the system clock, threads and real cores. So the
 * code a student reads in primitives/ is the code that ran in both worlds.
 *
 * A 'struct env' belongs to one actor (sim) or one thread (live) and must only be used
 * by it. Plain data structures (snowflake, timer heaps, shuffles) do not take an env:
 * they take the time and the random source as arguments. */
#ifndef DISTLAB_ENV_H
#define DISTLAB_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng/rng.h"

struct env;
struct env_mutex;
struct env_cond;
typedef void (*env_fn)(struct env *e, void *arg);

/* Storage for a world's mutex or condition, embedded by the caller so that a lock
 * needs no allocation; each world casts it to its own representation. */
struct env_mutex {
    _Alignas(16) unsigned char opaque[64];
};
struct env_cond {
    _Alignas(16) unsigned char opaque[64];
};

struct env_ops {
    int64_t (*now)(struct env *e);
    int64_t (*mono)(struct env *e);
    void (*sleep)(struct env *e, int64_t ns);
    uint64_t (*rand)(struct env *e);
    void (*work)(struct env *e, int64_t ns);
    void (*yield)(struct env *e);
    const char *(*name)(struct env *e);
    int (*mutex_init)(struct env *e, struct env_mutex *m);
    void (*mutex_lock)(struct env *e, struct env_mutex *m);
    bool (*mutex_trylock)(struct env *e, struct env_mutex *m);
    void (*mutex_unlock)(struct env *e, struct env_mutex *m);
    void (*mutex_destroy)(struct env *e, struct env_mutex *m);
    int (*cond_init)(struct env *e, struct env_cond *c);
    int (*cond_wait)(struct env *e, struct env_cond *c, struct env_mutex *m, int64_t timeout_ns);
    void (*cond_signal)(struct env *e, struct env_cond *c, bool all);
    void (*cond_destroy)(struct env *e, struct env_cond *c);
    int (*spawn)(struct env *e, const char *name, env_fn fn, void *arg, uint64_t *handle);
    void (*join)(struct env *e, uint64_t handle);
    int (*store_get)(struct env *e, const char *key, void *buf, size_t cap, size_t *len);
    int (*store_put)(struct env *e, const char *key, const void *buf, size_t len);
};

/* Every world's env starts with this header. */
struct env {
    const struct env_ops *ops;
};

/* This node's wall clock in ns since the Unix epoch. May be skewed, drift, and step
 * backwards or forwards (NTP); never use it to measure an interval. */
static inline int64_t env_now(struct env *e)
{
    return e->ops->now(e);
}

/* This node's monotonic clock in ns: never steps, but drifts with the node's oscillator. */
static inline int64_t env_mono(struct env *e)
{
    return e->ops->mono(e);
}

/* Block for ns of this node's monotonic time (ns <= 0 yields the CPU). A sleeping
 * actor holds no CPU core. Wakes late if its node is paused or its cores are busy. */
static inline void env_sleep(struct env *e, int64_t ns)
{
    e->ops->sleep(e, ns);
}

/* 64 random bits from this actor's own seeded stream (sim) or thread's stream (live). */
static inline uint64_t env_rand(struct env *e)
{
    return e->ops->rand(e);
}

/* Occupy a CPU core of this node for ns of CPU time: in the simulation this takes at
 * least ns of virtual time, more when other actors compete for the node's cores; live,
 * it spins on a real core. This is how computation, and spinning, costs time. */
static inline void env_work(struct env *e, int64_t ns)
{
    e->ops->work(e, ns);
}

/* Give the CPU core to another runnable actor of this node, if one waits. A loop that
 * only yields never advances virtual time: the simulator reports it as a hang. */
static inline void env_yield(struct env *e)
{
    e->ops->yield(e);
}

/* The actor's (or thread's) name, for messages. Owned by the world. */
static inline const char *env_name(struct env *e)
{
    return e->ops->name(e);
}

/* A blocking mutex shared by the actors of one node (threads of one process live).
 * Init returns 0 or a negative errno. Unlock must come from the holder. */
static inline int env_mutex_init(struct env *e, struct env_mutex *m)
{
    return e->ops->mutex_init(e, m);
}
static inline void env_mutex_lock(struct env *e, struct env_mutex *m)
{
    e->ops->mutex_lock(e, m);
}
static inline bool env_mutex_trylock(struct env *e, struct env_mutex *m)
{
    return e->ops->mutex_trylock(e, m);
}
static inline void env_mutex_unlock(struct env *e, struct env_mutex *m)
{
    e->ops->mutex_unlock(e, m);
}
static inline void env_mutex_destroy(struct env *e, struct env_mutex *m)
{
    e->ops->mutex_destroy(e, m);
}

/* A condition variable. Wait releases m, blocks until signalled or timeout_ns of
 * monotonic time (< 0: no timeout), retakes m. Returns 0, or -ETIMEDOUT. */
static inline int env_cond_init(struct env *e, struct env_cond *c)
{
    return e->ops->cond_init(e, c);
}
static inline int env_cond_wait(struct env *e, struct env_cond *c, struct env_mutex *m,
                                int64_t timeout_ns)
{
    return e->ops->cond_wait(e, c, m, timeout_ns);
}
static inline void env_cond_signal(struct env *e, struct env_cond *c)
{
    e->ops->cond_signal(e, c, false);
}
static inline void env_cond_broadcast(struct env *e, struct env_cond *c)
{
    e->ops->cond_signal(e, c, true);
}
static inline void env_cond_destroy(struct env *e, struct env_cond *c)
{
    e->ops->cond_destroy(e, c);
}

/* Start fn(env', arg) as a new actor on this node (a thread, live). *handle names it
 * for env_join. Returns 0 or a negative errno. The new actor dies with its node. */
static inline int env_spawn(struct env *e, const char *name, env_fn fn, void *arg,
                            uint64_t *handle)
{
    return e->ops->spawn(e, name, fn, arg, handle);
}

/* Block until the actor 'handle' has returned (or died with its node). */
static inline void env_join(struct env *e, uint64_t handle)
{
    e->ops->join(e, handle);
}

/* The node's durable store: survives a crash and restart, unlike everything else.
 * get copies at most cap bytes into buf and sets *len to the value's full length;
 * returns 0 or -ENOENT. put returns 0 or a negative errno and may cost time (fsync). */
static inline int env_store_get(struct env *e, const char *key, void *buf, size_t cap,
                                size_t *len)
{
    return e->ops->store_get(e, key, buf, cap, len);
}
static inline int env_store_put(struct env *e, const char *key, const void *buf, size_t len)
{
    return e->ops->store_put(e, key, buf, len);
}

/* Uniform integer in [0, n) from env_rand, unbiased (Lemire's method). */
static inline uint64_t env_rand_below(struct env *e, uint64_t n)
{
    uint64_t v = 0;
    if (n)
        while (!rng_lemire(env_rand(e), n, &v))
            ;
    return v;
}

#endif

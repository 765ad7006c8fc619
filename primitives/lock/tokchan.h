/* tokchan.h - a channel that carries one token: the seed's `make(chan struct{}, 1)`.
 * Taking the token is a non-blocking receive (Go's select with a default case), putting
 * it back is a send into the empty channel.
 *
 * One interface, one implementation per world, so the try-lock built on it (trylock.h)
 * is the same code in both:
 *   - model (here): the token is an atomic flag and every operation costs op_ns of CPU
 *     through env_work. For the simulated world, where CPU cost exists only where
 *     env_work says; op_ns is an input, which bench-locks measures for the two below.
 *   - user (live/chan.c, live_tokchan_user()): a real channel as Go builds one, in user
 *     space: a lock, a ring buffer of one, wait queues. A failed take reads one atomic;
 *     a take or put that succeeds takes the lock once. What the seed's channel costs.
 *   - pipe (live/tokchan_pipe.c, live_tokchan_pipe()): a kernel channel, a non-blocking
 *     pipe that holds one byte; take is read(2), put is write(2): a system call per
 *     operation.
 * The workload chooses; the primitive above does not know which it has. */
#ifndef DISTLAB_LOCK_TOKCHAN_H
#define DISTLAB_LOCK_TOKCHAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "env.h"

struct lock_tokchan;

/* What an implementation provides (see the functions below for the contracts). */
struct lock_tokchan_ops {
    const char *kind; /* "model", "user", "pipe" */
    bool (*take)(struct lock_tokchan *c, struct env *e);
    int (*put)(struct lock_tokchan *c, struct env *e);
    bool (*check)(const struct lock_tokchan *c);
    void (*destroy)(struct lock_tokchan *c);
};

/* Every implementation starts with this header. 'tokens' is 0 or 1: the token itself for
 * the model, bookkeeping beside the kernel's byte for the pipe. */
struct lock_tokchan {
    const struct lock_tokchan_ops *ops;
    _Atomic int tokens;
};

/* A modelled channel holding its token. A take that finds the channel empty costs
 * empty_ns of CPU (Go reads one atomic and takes no lock); a take that finds the token,
 * and a put, cost op_ns (the channel's lock, the buffer). A take that finds the token
 * but loses it to another taker meanwhile fails after op_ns. Both >= 0; a pipe is
 * modelled with empty_ns = op_ns. NULL on -ENOMEM. */
struct lock_tokchan *lock_tokchan_model(int64_t op_ns, int64_t empty_ns);

/* The CPU a modelled channel charged so far: to takes that failed, and in all. False
 * (and nothing written) for a channel that is not the model. */
bool lock_tokchan_model_cpu(const struct lock_tokchan *c, int64_t *failed_ns, int64_t *all_ns);

/* Take the token if it is there: true when taken, false at once when it is not
 * (never blocks, never waits for the token). */
static inline bool lock_tokchan_take(struct lock_tokchan *c, struct env *e)
{
    return c->ops->take(c, e);
}

/* Put the token back. Only its taker may: the channel then has room, so this never
 * blocks. Returns 0, or -EBUSY when the token was already there (a double put, which
 * in Go would block forever) and nothing is changed. */
static inline int lock_tokchan_put(struct lock_tokchan *c, struct env *e)
{
    return c->ops->put(c, e);
}

/* Frees it (closing what it holds). Nobody may be using it. NULL is a no-op. */
static inline void lock_tokchan_destroy(struct lock_tokchan *c)
{
    if (c)
        c->ops->destroy(c);
}

/* Tokens in the channel now, 0 or 1 (a racy snapshot, for checkers). */
static inline int lock_tokchan_tokens(const struct lock_tokchan *c)
{
    return atomic_load_explicit(&c->tokens, memory_order_relaxed);
}

/* "model" or "pipe". */
static inline const char *lock_tokchan_kind(const struct lock_tokchan *c)
{
    return c->ops->kind;
}

/* Invariant: the channel holds 0 or 1 token (and the pipe's byte count matches). Only
 * meaningful when no operation is in flight. For tests. */
static inline bool lock_tokchan_check(const struct lock_tokchan *c)
{
    int t = lock_tokchan_tokens(c);
    return (t == 0 || t == 1) && c->ops->check(c);
}

#endif

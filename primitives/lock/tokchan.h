/* tokchan.h - a channel that carries one token: the seed's `make(chan struct{}, 1)`.
 * Taking the token is a non-blocking receive (Go's select with a default case), putting
 * it back is a send into the empty channel.
 *
 * Two implementations behind one interface, so the try-lock built on it (trylock.h) is
 * the same code in both worlds:
 *   - model: the token is an atomic flag and every operation costs op_ns of CPU through
 *     env_work. For the simulated world, where CPU cost exists only where env_work says.
 *   - pipe:  a real channel, a non-blocking pipe that holds one byte; take is read(2),
 *     put is write(2). Its cost is the real cost of a kernel channel (a system call per
 *     operation), so it is for the live world: in the simulation it would cost nothing.
 * The workload chooses; the primitive above does not know which it has. */
#ifndef DISTLAB_LOCK_TOKCHAN_H
#define DISTLAB_LOCK_TOKCHAN_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"

struct lock_tokchan; /* opaque, defined in tokchan.c */

/* A modelled channel holding its token; each take or put costs op_ns (>= 0) of CPU.
 * NULL on -ENOMEM. */
struct lock_tokchan *lock_tokchan_model(int64_t op_ns);

/* A pipe holding its token (one byte), both ends non-blocking and close-on-exec.
 * NULL with errno set when the pipe cannot be made (EMFILE, ENFILE, ENOMEM). */
struct lock_tokchan *lock_tokchan_pipe(void);

/* Closes and frees. Nobody may be using it. NULL is a no-op. */
void lock_tokchan_destroy(struct lock_tokchan *c);

/* Take the token if it is there: true when taken, false at once when it is not
 * (never blocks, never waits for the token). */
bool lock_tokchan_take(struct lock_tokchan *c, struct env *e);

/* Put the token back. Only its taker may: the channel then has room, so this never
 * blocks. Returns 0, or -EBUSY when the token was already there (a double put, which
 * in Go would block forever) and nothing is changed. */
int lock_tokchan_put(struct lock_tokchan *c, struct env *e);

/* Tokens in the channel now, 0 or 1 (a racy snapshot, for checkers). */
int lock_tokchan_tokens(const struct lock_tokchan *c);

/* "model" or "pipe". */
const char *lock_tokchan_kind(const struct lock_tokchan *c);

/* Invariant: the channel holds 0 or 1 token, and (pipe) the byte count matches.
 * Only meaningful when no operation is in flight. For tests. */
bool lock_tokchan_check(const struct lock_tokchan *c);

#endif

/* live.h - the real world behind struct env: threads, the system clock, real cores.
 *
 * A live world is a set of threads ("actors") started by live_spawn, each with its own
 * env. env_now is the system's CLOCK_REALTIME plus an offset the world may inject,
 * env_mono is CLOCK_MONOTONIC, env_sleep sleeps, env_work spins on a real core for that
 * much thread CPU time, env_rand draws from a per-thread stream of the run seed. Faults
 * that a thread can suffer are injected at its next env call: a pause makes that call
 * block for the pause (a GC stop seen from the inside); documented per workload. */
#ifndef DISTLAB_LIVE_H
#define DISTLAB_LIVE_H

#include <stdint.h>

#include "env.h"

struct live_world;

/* A world whose random streams derive from 'seed'. NULL on -ENOMEM. */
struct live_world *live_world_create(uint64_t seed);

/* Waits for every thread still running, then frees the world and its store. */
void live_world_destroy(struct live_world *w);

/* Start fn(env, arg) on a new thread. *handle (if given) names it for live_join.
 * Returns 0 or a negative errno. */
int live_spawn(struct live_world *w, const char *name, env_fn fn, void *arg,
               uint64_t *handle);

/* Wait for one thread, or for every thread started so far. */
void live_join(struct live_world *w, uint64_t handle);
void live_join_all(struct live_world *w);

/* Make the next env call of every actor whose name starts with 'prefix' block for
 * dur ns (a pause injected from outside). Returns how many actors it reached. */
int live_pause(struct live_world *w, const char *prefix, int64_t dur);

/* Shift every actor's env_now by offset ns from now on (a clock step). */
void live_clock_step(struct live_world *w, int64_t step);

/* The real time, without injected offsets: what checkers compare against. */
int64_t live_true_now(void);

/* The live world's one-token channels (lock/tokchan.h). user: Go's kind of channel, in
 * user space (live/chan.h: a lock, a ring buffer of one, wait queues), holding its
 * token; NULL with errno ENOMEM. pipe: a non-blocking kernel pipe holding one byte, both
 * ends close-on-exec, a system call per operation; NULL with errno set (EMFILE, ENFILE,
 * ENOMEM). */
struct lock_tokchan;
struct lock_tokchan *live_tokchan_user(void);
struct lock_tokchan *live_tokchan_pipe(void);

/* An env for the calling thread when it is not an actor (the workload's own thread):
 * valid until live_world_destroy. */
struct env *live_world_env(struct live_world *w);

#endif

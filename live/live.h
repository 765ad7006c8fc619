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
int live_spawn(struct live_world *w, const char *name, env_fn fn, void *arg, uint64_t *handle);

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

/* The live world's one-token channel (lock/tokchan.h): a non-blocking pipe holding one
 * byte, both ends close-on-exec. NULL with errno set (EMFILE, ENFILE, ENOMEM). */
struct lock_tokchan;
struct lock_tokchan *live_tokchan_pipe(void);

/* ---- Nodes: what the scenario's faults name ------------------------------------------
 * A node is a name ("client-3") with a main actor, its own clock (the system's plus an
 * offset and a drift) and the actors its threads spawn. Faults on a node take effect at
 * each of its actors' next env call, since a thread cannot be stopped from outside
 * where it stands: an actor blocked in a server call notices when that call returns
 * (every client call has a timeout). Functions return 0, or -EINVAL for an unknown node
 * or a bad argument. */

/* Create node 'node' whose main actor is fn(env, arg), a thread named "NODE/NAME", and
 * start it. -EINVAL if the node exists, -ENOMEM. */
int live_node_main(struct live_world *w, const char *node, const char *name, env_fn fn, void *arg);
/* The same without starting it: the node is down until live_node_restart (so that its
 * clock can be set before its first actor reads it). */
int live_node_create(struct live_world *w, const char *node, const char *name, env_fn fn,
                     void *arg);
bool live_node_exists(struct live_world *w, const char *node);

/* Every actor of the node blocks for dur ns at its next env call (a GC stop). */
int live_node_pause(struct live_world *w, const char *node, int64_t dur);

/* The node's env_now jumps by step ns (its env_mono does not). */
int live_node_clock_step(struct live_world *w, const char *node, int64_t step);

/* From now on the node's env_now and env_mono run ppm parts per million fast (< 0: slow);
 * what they gained so far stays. Sleeps stay real time. */
int live_node_drift(struct live_world *w, const char *node, double ppm);

/* Crash: every actor of the node ends at its next env call, or within 10 ms when it waits
 * in env_sleep, env_mutex_lock or env_cond_wait (an actor of a node waits in slices and
 * looks between them); its exit handlers run (live_env_atexit), its thread exits. One that
 * waited on a condition gives its mutex back; one that ends holding an env mutex leaves
 * it held, as a dead process leaves a lock in shared memory (the node's other actors
 * waiting on it end too). Actors spawned after the crash (a restart) are not affected. A
 * node already down stays down. */
int live_node_crash(struct live_world *w, const char *node);

/* Start the node's main actor if the node is down (crashed, or created and not started);
 * a running node is left alone. */
int live_node_restart(struct live_world *w, const char *node);

/* Run fn(arg) when this actor ends, however it ends (return or crash), last registered
 * first; at most 8 per actor. -EINVAL when full or not called on an actor's env. */
int live_env_atexit(struct env *e, void (*fn)(void *arg), void *arg);

/* An env for the calling thread when it is not an actor (the workload's own thread):
 * valid until live_world_destroy. */
struct env *live_world_env(struct live_world *w);

#endif

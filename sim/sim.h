/* sim.h - the deterministic simulated world: virtual time, nodes with their own clocks
 * and CPU cores, coroutine actors, a lossy network with partitions, scheduled faults.
 *
 * One seed gives the same run, event for event: every random draw comes from streams
 * derived from the seed, ties in time fire in scheduling order, and nothing here reads
 * the wall clock. Actors are written in blocking style against struct env (env.h);
 * sim_env_*() below are the extra calls that only simulated code (server models and
 * their clients, checkers) may make.
 *
 * Errors: API misuse returns -EINVAL, out of memory -ENOMEM; nothing here exits. */
#ifndef DISTLAB_SIM_H
#define DISTLAB_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "env.h"

struct sim;

#define SIM_NS 1LL
#define SIM_US 1000LL
#define SIM_MS 1000000LL
#define SIM_S 1000000000LL

/* A latency distribution for a network link (or anything else that takes time). */
enum sim_dist_kind {
    SIM_DIST_CONST,     /* always a */
    SIM_DIST_UNIFORM,   /* uniform in [a, b] */
    SIM_DIST_LOGNORMAL, /* median a, 99th percentile b (b >= a) */
    SIM_DIST_PARETO,    /* scale a (the least value), tail index 'shape' (heavy tails) */
};
struct sim_dist {
    enum sim_dist_kind kind;
    int64_t a, b;
    double shape;
};

/* How a link (or the default for every link) behaves. Messages on one directed link
 * are delivered in the order sent (as on one TCP connection). */
struct sim_link {
    struct sim_dist latency;
    double loss; /* probability that a message is dropped, 0..1 */
};

struct sim_config {
    uint64_t seed;
    size_t stack_size;       /* per actor, bytes; 0: 128 KiB. Committed lazily, rounded up
                              * to the page and at least 16 KiB, with a guard page while
                              * the mapping budget lasts. Below the page: packed stacks
                              * (actor.c), several per page, no guard, a multiple of 64
                              * and at least 832 bytes; an overflow aborts the process.
                              * The actor's struct (512 bytes with its header) lives in
                              * it. AddressSanitizer builds raise packed sizes to 16 KiB. */
    bool stack_watermark;    /* fill stacks with a pattern to measure their depth (costs
                              * writing each stack whole): sim_stats' stack_used_max */
    int64_t slice_ns;        /* CPU time slice; 0: 4 ms */
    uint64_t hang_yields;    /* resumptions at one instant that count as a hang; 0: 1e6 */
    uint64_t max_events;     /* events a run may execute before it stops with
                              * SIM_STOP_ERROR (a bound on its cost); 0: no bound */
    struct sim_link network; /* default for every link between distinct nodes */
    struct sim_link local;   /* between actors of one node; default 0 latency */
};

/* A fresh world with no nodes. NULL on -ENOMEM. */
struct sim *sim_create(const struct sim_config *cfg);

/* Kills every actor (their atexit handlers run) and frees everything. */
void sim_destroy(struct sim *sim);

/* ---- Nodes ------------------------------------------------------------------------ */

/* Add a node with 'cores' CPU cores (>= 1). 'name' is copied and must be unique.
 * Returns the node id (0, 1, ...) or -EINVAL / -EEXIST / -ENOMEM. */
int sim_node_add(struct sim *sim, const char *name, int cores);
int sim_node_find(const struct sim *sim, const char *name); /* id or -ENOENT */
int sim_node_count(const struct sim *sim);
const char *sim_node_name(const struct sim *sim, int node);
bool sim_node_up(const struct sim *sim, int node);

/* The node's clock at virtual time 0: wall = true time + offset, running fast by
 * drift_ppm parts per million (the monotonic clock drifts alike, without offset). */
int sim_clock_set(struct sim *sim, int node, int64_t offset_ns, double drift_ppm);

/* The node's wall and monotonic clocks at the current virtual (true) time. */
int64_t sim_node_wall(const struct sim *sim, int node);
int64_t sim_node_mono(const struct sim *sim, int node);

/* The node's main actor: started when the run starts and run again on each restart. */
int sim_node_main(struct sim *sim, int node, const char *name, env_fn fn, void *arg);

/* Time each durable-store put takes (an fsync); default 0. */
int sim_node_store_latency(struct sim *sim, int node, int64_t ns);

/* Override the link model from node 'from' to node 'to' (one direction). */
int sim_link_set(struct sim *sim, int from, int to, const struct sim_link *link);

/* ---- Faults, scheduled at virtual times ------------------------------------------- */

/* Crash: every actor of the node dies where it stands (atexit handlers run), its
 * volatile state is lost, messages to it are dropped; its durable store survives. */
int sim_fault_crash(struct sim *sim, int64_t at, int node);
/* Restart a crashed node: its main actor runs again. No effect on a node that is up. */
int sim_fault_restart(struct sim *sim, int64_t at, int node);
/* Pause (a GC stop, SIGSTOP): no actor of the node runs for 'dur'; its timers and
 * messages are handled when the pause ends, late. */
int sim_fault_pause(struct sim *sim, int64_t at, int node, int64_t dur);
/* Step the node's wall clock by 'step' (negative: backwards). Monotonic is unaffected. */
int sim_fault_clock_step(struct sim *sim, int64_t at, int node, int64_t step);
/* Change the node's clock drift from 'at' on. */
int sim_fault_drift(struct sim *sim, int64_t at, int node, double drift_ppm);
/* Cut the network between node sets a and b (both directions, or only a -> b when
 * oneway) from 'at' until 'heal_at' (< 0: never). Messages in flight across the cut
 * are lost. The sets are copied. */
int sim_fault_partition(struct sim *sim, int64_t at, int64_t heal_at, const int *a, int na,
                        const int *b, int nb, bool oneway);

/* ---- Actors and events ------------------------------------------------------------- */

/* Start fn(env, arg) as an actor on 'node' at the current virtual time. Returns the
 * actor's id (> 0, never reused) or a negative errno (-EHOSTDOWN if the node is down). */
int64_t sim_spawn(struct sim *sim, int node, const char *name, env_fn fn, void *arg);

/* Call fn(sim, arg) at virtual time 'at' (>= now), outside any actor. */
int sim_at(struct sim *sim, int64_t at, void (*fn)(struct sim *sim, void *arg), void *arg);

/* Called when the actor ends, by return or by crash; runs outside any actor, so it
 * must not block. Use it to free what the actor allocated. At most 8 per actor. */
int sim_env_atexit(struct env *e, void (*fn)(void *arg), void *arg);

/* ---- Running --------------------------------------------------------------------- */

enum sim_stop {
    SIM_STOP_TIME,  /* reached 'until' */
    SIM_STOP_IDLE,  /* nothing left to do: every actor ended or blocks forever */
    SIM_STOP_HANG,  /* an actor resumed hang_yields times without time advancing */
    SIM_STOP_ERROR, /* out of memory, a stack overflow, or sim_stop() */
};

/* Run events until virtual time 'until' (inclusive), or the world goes idle or hangs.
 * May be called again to continue. */
enum sim_stop sim_run(struct sim *sim, int64_t until);

/* Ask the running loop to stop after the current event (from a checker, say). */
void sim_stop(struct sim *sim, const char *why);

/* A human-readable reason after SIM_STOP_HANG or SIM_STOP_ERROR: names the actor. */
const char *sim_error(const struct sim *sim);

/* True (virtual) time in ns: what no node's clock shows exactly. For checkers. */
int64_t sim_now(const struct sim *sim);

/* Running hash of every event executed (time, actor, kind): equal seeds, equal hash. */
uint64_t sim_hash(const struct sim *sim);

struct sim_stats {
    uint64_t events;    /* events executed */
    uint64_t switches;  /* coroutine switches into actors */
    uint64_t spawned;   /* actors started */
    uint64_t live;      /* actors alive now */
    uint64_t msgs_sent, msgs_delivered, msgs_lost;
    uint64_t guarded_stacks, unguarded_stacks, packed_stacks; /* made, by kind (actor.c) */
    size_t stack_bytes;       /* each stack's size as laid out (cfg.stack_size rounded) */
    size_t stack_frame_bytes; /* of which frames may use (less the actor, the canaries) */
    size_t stack_used_max;    /* with cfg.stack_watermark: the deepest frames of any actor
                               * that ended, in bytes below its struct; else 0 */
};
void sim_stats(const struct sim *sim, struct sim_stats *out);

/* The stack pool's invariants: NULL when they hold, else what is wrong. For tests (slow
 * with many actors). */
const char *sim_stacks_check(const struct sim *sim);

/* A fresh random stream derived from the run seed and 'stream' (for the lab's own
 * draws outside actors). */
void sim_rng(const struct sim *sim, uint64_t stream, struct rng *out);

/* ---- What simulated code (models, clients, checkers) may ask of its env ---------- */

/* The world, node and actor of an env handed to an actor. */
struct sim *sim_env_sim(struct env *e);
int sim_env_node(struct env *e);
int64_t sim_env_actor(struct env *e);

/* True time, for checkers running inside an actor. */
int64_t sim_env_true_now(struct env *e);

/* ---- Messages -------------------------------------------------------------------- */

/* An address: a node and a port on it. Every actor owns port SIM_PORT_ACTOR(id);
 * services bind well-known ports below SIM_PORT_EPHEMERAL. */
struct sim_addr {
    int node;
    uint32_t port;
};
#define SIM_PORT_EPHEMERAL (1u << 20)

/* This actor's own address (replies come here). */
struct sim_addr sim_env_addr(struct env *e);

/* Make this actor the receiver for messages to 'port' on its node, until it dies.
 * Returns 0, -EADDRINUSE if a live actor holds it, -EINVAL for an ephemeral port. */
int sim_listen(struct env *e, uint32_t port);

/* Send len bytes (copied) to 'to'. Latency, loss and partitions apply; the sender
 * never learns of a loss. Returns 0 or -ENOMEM. Never blocks. */
int sim_send(struct env *e, struct sim_addr to, const void *buf, size_t len);

/* Send as if from 'from', outside any actor: what the kernel of a node does for a process
 * that died there (it resets the process's connections, so their peers learn at once).
 * For a model's sim_env_atexit handler; latency, loss and partitions apply as for
 * sim_send. Once sim_destroy has begun it sends nothing (returns 0). Returns 0, -EINVAL or
 * -ENOMEM. */
int sim_post(struct sim *sim, struct sim_addr from, struct sim_addr to, const void *buf,
             size_t len);

/* Receive the next message addressed to any port this actor owns, blocking at most
 * timeout_ns of monotonic time (< 0: forever). Copies at most cap bytes into buf.
 * Returns the message's full length, or -ETIMEDOUT. */
ssize_t sim_recv(struct env *e, void *buf, size_t cap, struct sim_addr *from,
                 int64_t timeout_ns);

/* ---- Distributions --------------------------------------------------------------- */

/* Draw from d with r. Uses GSL's samplers over our xoshiro stream. */
int64_t sim_dist_draw(const struct sim_dist *d, struct rng *r);

/* The sigma of a SIM_DIST_LOGNORMAL given by its median and 99th percentile (0 when they
 * are equal); with mu = ln(median), what GSL's lognormal functions take. */
double sim_dist_lognormal_sigma(const struct sim_dist *d);

#endif

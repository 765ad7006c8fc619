/* internal.h - structures shared by the files of sim/ (prefix sim__). Nothing outside
 * sim/ may include this: the public contract is sim.h. */
#ifndef DISTLAB_SIM_INTERNAL_H
#define DISTLAB_SIM_INTERNAL_H

#include "sim/sim.h"
#include "timer/evq.h"

/* ---- Events: everything the loop executes is one of these, queued in an evq --------- */

enum sim__ev_kind {
    SIM__EV_WAKE,  /* an actor's sleep or timeout ended */
    SIM__EV_WORK,  /* an actor's slice of CPU work ended */
    SIM__EV_MSG,   /* a message arrives */
    SIM__EV_FAULT, /* a scheduled fault */
    SIM__EV_CALL,  /* sim_at() */
};

struct sim__event {
    struct evq_node q;
    uint8_t kind;
};

/* ---- Queues of actors (run queue, ready list, a mutex's or condition's waiters) ------ */

struct sim_actor;
struct sim__aq {
    struct sim_actor *head, *tail;
};

enum sim__astate {
    SIM__RUNNING,  /* holds a core: executing, in the ready list, or doing work */
    SIM__QUEUED,   /* runnable, waiting in its node's run queue for a core */
    SIM__BLOCKED,  /* sleeping, receiving, waiting on a mutex/condition/join */
    SIM__HELD,     /* runnable, but its node is paused */
    SIM__DEAD,
};

struct sim__stack;

#define SIM__MAX_ATEXIT 8
#define SIM__MAX_PORTS 4

/* The fields every resumption reads or writes come first, in the struct's first three
 * cache lines (the struct is 64-byte aligned, at the top of the actor's own stack, whose
 * frames lie just below it): a wake-up then touches those lines and the top of the stack,
 * which sim__prefetch fetches one event ahead. */
struct sim_actor {
    struct env env; /* first: an env pointer is an actor pointer */
    struct sim *sim;
    int64_t id;
    int node;
    enum sim__astate state;
    struct rng rng;

    /* coroutine */
    void *sp;
    struct sim__stack *stack;

    /* CPU model */
    struct sim__event timer; /* EV_WAKE (sleep, timeout) or EV_WORK (slice end) */
    int64_t work_left;       /* CPU ns still to do in the current env_work */
    int64_t chunk_start, chunk_len;
    int64_t slice_used;
    bool has_core;
    bool resume_after_pause; /* held a core when its node was paused */
    bool in_recv;
    int wake_status;         /* 0, or -ETIMEDOUT when the timer woke it */

    /* the one actor queue it is on (run queue, ready list, waiters), if any */
    struct sim__aq *q;
    struct sim_actor *q_next, *q_prev;

    /* hang detection: resumptions at one virtual instant */
    int64_t spin_time;
    uint64_t spins;

    /* messages */
    struct sim__msg *mb_head, *mb_tail;
    uint32_t ports[SIM__MAX_PORTS];
    int nports;

    char *name;
    env_fn fn;
    void *arg;
    void *asan_fake;

    struct sim__aq joiners;
    struct {
        void (*fn)(void *);
        void *arg;
    } atexit[SIM__MAX_ATEXIT];
    int natexit;

    struct sim_actor *node_next, *node_prev; /* the node's actors */
};

/* ---- Nodes ------------------------------------------------------------------------ */

struct sim__clock {
    int64_t base_true, base_wall, base_mono;
    double ppm;
};

struct sim__kv {
    struct sim__kv *next;
    char *key;
    size_t len;
    unsigned char *val;
};

struct sim__node {
    char *name;
    int cores, busy;
    bool up, paused;
    int64_t pause_end;
    struct sim__clock clock;
    struct sim__aq runq;   /* waiting for a core, FIFO */
    struct sim__aq held;   /* became runnable while paused, FIFO */
    struct sim_actor *actors;
    char *main_name;
    env_fn main_fn;
    void *main_arg;
    int64_t store_latency;
    struct sim__kv *store;
};

/* ---- Messages and the network ----------------------------------------------------- */

struct sim__msg {
    struct sim__event ev;
    struct sim__msg *next; /* in a mailbox, or the in-flight list */
    struct sim__msg *prev;
    struct sim_addr from, to;
    size_t len;
    unsigned char data[];
};

struct sim__partition {
    struct sim__partition *next;
    int *a, *b;
    int na, nb;
    bool oneway, active;
};

/* ---- A small open-addressing map from 64-bit keys to pointers ---------------------- */

struct sim__map {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap, n;
};
int sim__map_put(struct sim__map *m, uint64_t key, void *val);
void *sim__map_get(const struct sim__map *m, uint64_t key);
void sim__map_del(struct sim__map *m, uint64_t key);
void sim__map_free(struct sim__map *m);

/* ---- The world ---------------------------------------------------------------------- */

struct sim__stackpool;

struct sim {
    struct sim_config cfg;
    int64_t now;
    struct evq events;
    uint64_t hash;
    struct sim_stats stats;
    int64_t next_actor_id;

    struct sim__node *nodes;
    int nnodes, cap_nodes;

    struct sim__aq ready; /* actors holding a core that should execute now */
    struct sim_actor *current;

    /* scheduler context */
    void *sched_sp;
    const void *sched_stack_bottom;
    size_t sched_stack_size;

    struct sim__stackpool *stacks;

    struct sim__map ports; /* (node, port) -> actor; actor id -> actor */
    struct sim__map links; /* (from, to) -> struct sim__linkstate */
    struct sim__partition *partitions;
    struct sim__msg *inflight; /* doubly linked, to free at destroy */
    struct rng net_rng;

    struct sim__fault *faults; /* owned, freed at destroy */
    struct sim__call_block *call_blocks; /* sim_at's events: owned, freed at destroy */
    struct sim__call *free_calls;

    enum sim_stop stop;
    bool stopping;
    bool destroying; /* sim_destroy has begun: sim_post drops what atexit handlers send */
    char error[256];
};

/* engine.c */
void sim__aq_push(struct sim__aq *q, struct sim_actor *a);
struct sim_actor *sim__aq_pop(struct sim__aq *q);
void sim__aq_remove(struct sim_actor *a);
/* Take every actor off a simulated mutex's and condition's queues without waking it, so
 * that their memory can be freed while the sim still holds those actors (a model freeing
 * a client handle before sim_destroy). Only once no actor runs again. */
void sim__sync_forget(struct env_mutex *m, struct env_cond *c);
void sim__make_runnable(struct sim *sim, struct sim_actor *a);
void sim__block(struct sim_actor *a, int64_t timeout_true_ns);
void sim__note_resume(struct sim_actor *a);
int64_t sim__mono_to_true(const struct sim__node *n, int64_t mono_ns);
void sim__event_hash(struct sim *sim, int64_t when, int64_t actor, int kind);
void sim__fail(struct sim *sim, enum sim_stop why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim__timer_set(struct sim *sim, struct sim_actor *a, int kind, int64_t at);
void sim__timer_cancel(struct sim *sim, struct sim_actor *a);
int sim__event_push(struct sim *sim, struct sim__event *ev, int64_t at); /* at >= now */
struct sim__node *sim__node_get(const struct sim *sim, int node); /* NULL if no such node */
void sim__actor_destroy(struct sim *sim, struct sim_actor *a);
void sim__clock_rebase(struct sim__clock *c, int64_t t);
void sim__dispatch(struct sim *sim, struct sim_actor *a);
void sim__fill_cores(struct sim *sim, struct sim__node *n);

/* fault.c: faults are events of kind SIM__EV_FAULT */
void sim__fault_run(struct sim *sim, struct sim__event *ev);
void sim__faults_free(struct sim *sim);

/* actor.c: coroutines and their stacks */
struct sim__stackpool *sim__stackpool_create(size_t stack_size, bool watermark);
void sim__stackpool_destroy(struct sim__stackpool *p);
/* The pool's invariants (every stack free or in use, once; each header where the layout
 * puts it; canaries of stacks in use intact): NULL, or what is wrong. Linear in the free
 * stacks times the slabs: for tests. */
const char *sim__stackpool_check(const struct sim__stackpool *p);
void sim__stackpool_stats(const struct sim__stackpool *p, struct sim_stats *out);
/* A zeroed actor living at the top of a fresh stack (NULL on -ENOMEM); prime its stack
 * to enter the actor's function; give both back (the actor is gone after this). */
struct sim_actor *sim__actor_new(struct sim *sim);
int sim__actor_prime(struct sim_actor *a);
void sim__actor_free(struct sim *sim, struct sim_actor *a);
/* Fetch into the cache what resuming the actor whose timer is 'n' will touch (its hot
 * fields, the top of its stack, its canary). For speed only: 'n' may be another kind of
 * event, whose neighbourhood is then fetched for nothing (prefetches never fault). */
void sim__prefetch(const struct sim *sim, const struct evq_node *n);
/* The loop prefetches from this many live actors on (bench-engine's sleep rows: 1,000
 * actors gained a few per cent, 10,000 and 100,000 about 45 %). */
#define SIM__PREFETCH_LIVE 256
void sim__resume(struct sim *sim, struct sim_actor *a);   /* scheduler -> actor */
void sim__suspend(struct sim_actor *a);                   /* actor -> scheduler */
_Noreturn void sim__exit_current(struct sim_actor *a);    /* actor ends */

/* net.c */
void sim__msg_deliver(struct sim *sim, struct sim__msg *m);
void sim__mailbox_free(struct sim_actor *a);
void sim__net_cleanup(struct sim *sim);
void sim__ports_release(struct sim *sim, struct sim_actor *a);
int sim__ports_bind_actor(struct sim *sim, struct sim_actor *a);
void sim__partition_set(struct sim *sim, struct sim__partition *p, bool active);

static inline uint64_t sim__port_key(int node, uint32_t port)
{
    return (1ULL << 63) | ((uint64_t)(uint32_t)node << 32) | port;
}
static inline uint64_t sim__id_key(int64_t id)
{
    return (uint64_t)id; /* ids start at 1, below 2^62 */
}

#define sim__container_of(ptr, type, member)                                              \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif

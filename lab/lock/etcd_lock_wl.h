/* etcd_lock_wl.h - the lock/etcd workload's internals, shared by its files (prefix el_):
 *   etcd_lock.c          parameters, the run, the report (what the workload measures)
 *   etcd_lock_clients.c  a client's cycle in both worlds, the holder fault, the compactor,
 *                        and the simulated world
 *   etcd_lock_conn.c     a connection that counts every call by its outcome
 * The workload itself is described at the top of etcd_lock.c. */
#ifndef DISTLAB_LAB_LOCK_ETCD_LOCK_WL_H
#define DISTLAB_LAB_LOCK_ETCD_LOCK_WL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/lock/lockres.h"
#include "lock/etcd_lock.h"
#include "sim/etcd_model.h"

#define MAX_CLIENTS 512
#define MAX_MEMBERS 7
#define RATE_BIN (500 * SIM_MS) /* grant_rate_ts: grants per second in half-second bins */

enum hfault { HF_NONE, HF_PAUSE };
#define HF_NAMES "none", "pause"

struct el;

/* Calls by outcome, through a connection that counts (etcd_lock_conn.c). */
struct call_counts {
    _Atomic uint64_t calls, resets, timeouts, no_leader, refused, other;
    _Atomic uint64_t watch_events, watch_resets, watch_cancels;
};

struct el_client {
    struct el *w;
    int index;
    int node;
    char name[32]; /* "client-K": its node */
    struct elock *lock;
    struct hist *latency;
    uint64_t failed, fatal_rc, cancels, stale_releases, res_errors, next_id;
    bool snapped;
    struct elock_stats snap, st; /* at the window's start; at the end */
    bool done;
};

struct el {
    struct lab_run *run;
    bool live;
    enum elock_algo algo;
    bool fencing, leader0;
    int clients, members;
    const char *key;
    int64_t ttl_s, hold, think, acquire_timeout, call_timeout, retry_delay, cycles;
    int64_t fsync, service, election, heartbeat, warmup, compact_every;
    enum hfault hfault;
    int64_t fault_at, fault_for;
    int64_t duration;

    struct lockres *res;
    struct call_counts calls;
    atomic_bool fault_fired;
    int64_t fault_fired_at;
    int fault_client;
    _Atomic uint64_t compactions, compact_errors;
    _Atomic int64_t last_grant; /* true time of the latest grant, any client */
    _Atomic int64_t longest_gap;
    _Atomic uint64_t window_acq; /* grants at or after warmup */
    pthread_mutex_t mu;          /* rate (live clients are threads) */
    struct series *rate;
    /* sim: the clients' summed counters at the first grant after warmup and at the last */
    bool win_open;
    uint64_t win_req[2], win_wk[2], win_grants[2];

    struct sim *sim;
    int member_node[MAX_MEMBERS], res_node, compactor_node;
    struct sim_etcd *model;
    const char *endpoints;  /* live: the cluster's client URLs */
    struct live_world *lw;  /* live: the lab's */
    _Atomic int64_t *lease; /* per client: the lease it holds now, for an interrupt */

    struct el_client *client;
};

/* A connection that forwards every call to 'inner' (which it owns) and counts each
 * outcome into k; its watches count how they end. The latest lease granted through it
 * (and not revoked since) goes to *lease when lease is not NULL: what an interrupted run
 * revokes. NULL (inner closed) on -ENOMEM. */
struct etcd *el_counting(struct etcd *inner, struct call_counts *k, _Atomic int64_t *lease);

/* A client's lock, connected to this world's cluster. NULL on failure. */
struct elock *el_make_lock(struct el_client *c, struct env *e);
/* A client's cycles until the run stops or its `cycles` are done. */
void el_client_loop(struct env *e, struct el_client *c);
/* The compactor node's main actor (compact_every). */
void el_compactor_main(struct env *e, void *arg);
/* Whether a live run is ending, and how long an acquire may still block (left may be
 * NULL); never in the simulation, which stops the actors where they stand. */
bool el_stopping(struct el *w, struct env *e, int64_t *left);
/* An exit handler on the actor of e, in this run's world. */
int el_atexit(struct el *w, struct env *e, void (*fn)(void *arg), void *arg);
/* True time since the run started. */
int64_t el_now(struct el *w, struct env *e);
/* The simulated world's nodes and actors (lab_sim_run's build) and its record. */
int el_build_sim(struct lab_run *run, struct sim *sim, void *arg);
int el_record_sim(struct lab_run *run, void *arg);
/* Metrics and notes of the run that ended at true time 'end'. */
int el_report(struct el *w, int64_t end);
/* The live world's run (etcd_lock_live.c). */
int el_run_live(struct el *w);

#endif

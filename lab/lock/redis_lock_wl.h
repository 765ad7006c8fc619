/* redis_lock_wl.h - the lock/redis workload's internals, shared by its files (prefix rl_):
 *   redis_lock.c          parameters, the run, the report (what the workload measures)
 *   redis_lock_clients.c  a client's cycle in both worlds, the resource it protects, the
 *                         holder fault, and the simulated world
 *   redis_lock_live.c     the live world: servers and client nodes asked of the lab's live
 *                         world (lab.h), the live holder fault, the Sentinel watch
 * The workload itself is described at the top of redis_lock.c. */
#ifndef DISTLAB_LAB_LOCK_REDIS_LOCK_WL_H
#define DISTLAB_LAB_LOCK_REDIS_LOCK_WL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "lab/lab.h"
#include "lab/lock/lockres.h"
#include "lock/redis_lock.h"
#include "sim/redis_model.h"
#if HAVE_HIREDIS
#include "live/live.h"
#include "live/servers.h"
#endif

#define MAX_CLIENTS 256
#define MAX_SERVERS RLOCK_MAX_SERVERS
#define RL_LOCK_KEY "counter_lock" /* the lock's key (rlock's default, the seed's) */

enum hfault { HF_NONE, HF_PAUSE, HF_CRASH, HF_CLOCK };

struct rl;

struct rl_client {
    struct rl *w;
    int index;
    int node;          /* sim */
    struct rlock *lock;
    struct hist *latency, *attempts;
    uint64_t failed, errors, stale_releases, res_errors;
    struct rlock_stats st;
    uint64_t next_id;
    bool done;
};

struct rl {
    struct lab_run *run;
    bool live;
    enum rlock_algo algo;
    bool fencing;
    int clients, servers, fault_servers;
    int64_t ttl, hold, think, acquire_timeout, retry_delay, retry_jitter, call_timeout;
    int64_t service, repl_lag, failover_after, cycles;
    bool replica, persist;
    enum hfault hfault;
    int64_t fault_at, fault_for, fault_step;
    int64_t duration;

    struct lockres *res; /* the counter and the checker */
    pthread_mutex_t mu;  /* live: the clients' counters and the graveyard */
    atomic_bool fault_fired;
    int64_t fault_fired_at;
    int fault_client;

    struct sim *sim;
    int redis_node[MAX_SERVERS], replica_node, res_node;
    struct sim_redis *model[MAX_SERVERS], *replica_model;

#if HAVE_HIREDIS
    struct live_world *lw;
    struct rlock *grave[MAX_CLIENTS * 4]; /* crashed clients' locks, freed after the run */
    int ngrave;
    _Atomic int promotions;    /* live, replica: masters Sentinel named after the first */
    _Atomic int64_t promoted_at; /* ns of true time of the first, or -1 */
#endif
    char addr[MAX_SERVERS][256];
    char key[64]; /* the lock's key: RL_LOCK_KEY, or one of this run's on a user's server */
    struct rl_client *client;
};

/* True time since the run started. */
int64_t rl_true_now(struct rl *w, struct env *e);
/* A client's lock, connected to the servers of this world. NULL on failure. */
struct rlock *rl_make_lock(struct rl *w, struct env *e);
/* A client's cycles until the run stops or its `cycles` are done. */
void rl_client_loop(struct env *e, struct rl_client *c);
/* Adds every count of 'from' to 'to'. */
void rl_stats_add(struct rlock_stats *to, const struct rlock_stats *from);
/* Metrics and notes of the run that ended at true time 'end'. */
int rl_report(struct rl *w, int64_t end);
/* The run in each world. */
int rl_run_sim(struct rl *w);
#if HAVE_HIREDIS
int rl_run_live(struct rl *w);
/* The holder fault in the live world, from the holder's thread. */
void rl_holder_fault_live(struct rl_client *c);
#endif

#endif

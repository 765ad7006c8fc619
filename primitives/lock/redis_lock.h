/* redis_lock.h - distributed locks on Redis, written once against client/redis.h and env.h
 * so that the same code runs against the simulated Redis and a real redis-server.
 *
 * Algorithms (enum rlock_algo):
 *   seed      the seed's: SET key 1 NX PX ttl; on failure give up (or retry, see
 *             rlock_acquire); unlock is an unconditional DEL, which also deletes the lock
 *             of whoever took it over after this holder's lease expired.
 *   safe      a unique random token as the value; unlock is compare-and-delete, so a
 *             holder can only remove its own lock.
 *   fenced    safe, plus INCR <key>:fence after acquiring: a fencing token, increasing
 *             with each grant, that the protected resource can check (rlock_fence).
 *   renewing  safe, plus a watchdog actor that extends the lease (compare-and-extend)
 *             every ttl/3 while held; it stops when the lease is found gone (rlock_lost).
 *   redlock   the Redlock algorithm over N independent servers: SET NX PX on each in
 *             turn; held if a majority agreed and the validity, ttl - elapsed - drift
 *             (drift = ttl * drift_factor + drift_min), is still positive; otherwise
 *             compare-and-delete everywhere. Unlock is compare-and-delete everywhere.
 * None of these survives a holder that stops longer than its lease (a GC pause) without
 * fencing, nor a server that forgets the key (crash without persistence, failover to a
 * lagging replica, a forward clock step on the server): that is what the scenarios show.
 *
 * A struct rlock is one client's handle on one lock: it belongs to the actor (thread) that
 * created it, which alone may call these functions (the renewing watchdog is an actor of
 * its own with its own connection). Errors are negative errnos. */
#ifndef DISTLAB_LOCK_REDIS_LOCK_H
#define DISTLAB_LOCK_REDIS_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/redis.h"
#include "env.h"

#define RLOCK_MAX_SERVERS 8
#define RLOCK_TOKEN_LEN 32 /* hex characters of a safe token */

enum rlock_algo { RLOCK_SEED, RLOCK_SAFE, RLOCK_FENCED, RLOCK_RENEWING, RLOCK_REDLOCK };

/* Open a connection to server 'server' (0..nservers-1) for the actor whose env is e,
 * with a timeout on every call. NULL only when out of memory: a server that cannot be
 * reached shows as errors from the calls. */
typedef struct redis *(*rlock_connect_fn)(struct env *e, size_t server, void *arg);

struct rlock_config {
    enum rlock_algo algo;
    const char *key;         /* the lock key; NULL: "counter_lock", the seed's */
    int64_t ttl_ns;          /* the lease; 0: 5 s, the seed's */
    size_t nservers;         /* redlock: N (odd is usual); the others use server 0 only */
    rlock_connect_fn connect;
    void *connect_arg;
    int64_t retry_delay_ns;  /* rlock_acquire: wait between attempts; 0: 10 ms */
    int64_t retry_jitter_ns; /* ... plus a uniform draw in [0, jitter) */
    double drift_factor;     /* redlock: 0: 0.01, as in the reference implementation */
    int64_t drift_min_ns;    /* redlock: 0: 2 ms, ditto */
    int64_t renew_every_ns;  /* renewing: 0: ttl / 3 */
};

struct rlock_stats {
    uint64_t acquired;        /* grants */
    uint64_t attempts;        /* rlock_try calls, including those inside rlock_acquire */
    uint64_t busy;            /* attempts that found the lock held */
    uint64_t errors;          /* attempts that failed with an error (timeout, refused...) */
    uint64_t released;        /* releases that deleted (seed: something; others: ours) */
    uint64_t stale_releases;  /* releases that found the lock not ours / gone */
    uint64_t extends;         /* renewing: successful extensions */
    uint64_t extend_errors;   /* renewing: extensions that got no answer */
    uint64_t lost;            /* renewing: leases the watchdog found gone */
};

struct rlock;

/* A handle for the calling actor (e). Opens its connections through cfg->connect. NULL on
 * -ENOMEM or a bad config (unknown algorithm, nservers outside 1..8, missing connect). */
struct rlock *rlock_create(struct env *e, const struct rlock_config *cfg);

/* Stops the watchdog (waits for it), closes the connections, frees l. Does not release a
 * held lock: its lease runs out. Call from the owning actor. */
void rlock_destroy(struct rlock *l);

/* One attempt. Returns 0 when this client now holds the lock, -EBUSY when another holds
 * it (redlock: no majority or no validity left), -EALREADY if l already holds it, or an
 * error from the server calls (-ETIMEDOUT, -ECONNREFUSED, ...; nothing is held then,
 * though a timed-out SET may have set the key, which then expires with its ttl). Costs
 * one round trip (fenced: two; redlock: N, plus N on failure). */
int rlock_try(struct rlock *l);

/* Blocking acquire: rlock_try until it succeeds, waiting retry_delay + jitter between
 * attempts, for at most timeout_ns of monotonic time (< 0: forever; 0: exactly one
 * attempt, the seed's "give up"). Returns 0, -EALREADY, or the last attempt's result
 * (-EBUSY, an error) when time is up. -EINVAL/-ENOMEM/-E2BIG end it at once. */
int rlock_acquire(struct rlock *l, int64_t timeout_ns);

/* Give the lock up. Returns 0 when the release deleted the lock (seed: deleted *a* key,
 * possibly another holder's), -ESTALE when there was nothing of ours to delete (the lease
 * had expired or was taken over), -ENOLCK when l does not hold it, or a server error (the
 * handle no longer holds the lock either way). */
int rlock_release(struct rlock *l);

bool rlock_held(const struct rlock *l);
/* renewing: the watchdog found the lease gone while held (the holder still believes it
 * holds until it releases: this is how it could find out). */
bool rlock_lost(struct rlock *l);
/* fenced: the current lease's fencing token (> 0); 0 otherwise. */
int64_t rlock_fence(const struct rlock *l);
/* The value of the current lease's key ("1" for seed). */
const char *rlock_token(const struct rlock *l);
/* redlock: the validity left at acquisition, ns; others: the ttl. */
int64_t rlock_validity(const struct rlock *l);
/* Attempts made by the last rlock_acquire (or 1 after rlock_try). */
uint64_t rlock_last_attempts(const struct rlock *l);
/* Counters so far. The owner may call it at any time; anyone may once the owner and its
 * watchdog are stopped (the end of a simulated run). */
void rlock_get_stats(const struct rlock *l, struct rlock_stats *out);

/* Free l and close its connections (the watchdog's too) without any env call and without
 * waiting: only for when its owner and watchdog are dead (their node crashed, or the world
 * is being torn down; e.g. from a sim_env_atexit handler). rlock_destroy otherwise. */
void rlock_abandon(struct rlock *l);

/* The algorithms' names in enum order (names.h). parse returns 0 or -EINVAL; name returns
 * NULL for an out-of-range value. */
#define RLOCK_ALGO_NAMES "seed", "safe", "fenced", "renewing", "redlock"
extern const char *const rlock_algo_names[];
int rlock_algo_parse(const char *s, enum rlock_algo *out);
const char *rlock_algo_name(enum rlock_algo a);

#endif

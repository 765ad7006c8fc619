/* etcd_lock.h - distributed locks on etcd, written once against client/etcd.h and env.h so
 * that the same code runs against the simulated cluster and a real etcd.
 *
 * Algorithms (enum elock_algo):
 *   etcdsync  the seed's (github.com/zieckey/etcdsync, on the v3 API): (1) read the lock
 *             key; if it has a value, someone holds the lock: go to (3); (2) grant a lease
 *             of the TTL and write your own value only if the key is still absent (a txn
 *             comparing its create_revision with 0); success holds the lock, failure
 *             revokes the unused lease and goes to (3); (3) watch the key from the
 *             revision just read and block; (4) on a delete (a release, or the lease
 *             expiring) go back to (1). Every waiter watches the one key, so every release
 *             wakes every waiter (the herd). Release deletes the key whatever it holds,
 *             as the seed does, then revokes its lease. No keep-alive: a holder that keeps
 *             the lock past the TTL loses it.
 *   mutex     etcd's own recipe (clientv3 concurrency.Mutex): a session lease kept alive
 *             every TTL/3 by an actor of its own; a key of your own, prefix/<lease in hex>,
 *             created in a txn (if absent: put it and read the prefix's first-created key;
 *             else read it back: an earlier attempt that lost its answer may have written
 *             it). Hold when yours has the smallest create_revision; otherwise watch the
 *             deletion of the key created just before yours (each waiter wakes once per
 *             acquisition), then check that your own key is still there (etcd 3.5).
 *             Release deletes your key.
 * Fencing: elock_fence is the lock key's create_revision (the revision that granted the
 * lock), larger for each later grant, for a resource to check.
 *
 * Cost at one uncontended client: etcdsync is a range, a grant, a txn, then a delete and
 * a revoke; mutex is a txn, then a delete (its grant is once per session).
 *
 * A struct elock belongs to the actor (thread) that created it, which alone may call these
 * functions (the mutex's keep-alive is an actor of its own with its own connection).
 * Errors are negative errnos. */
#ifndef DISTLAB_LOCK_ETCD_LOCK_H
#define DISTLAB_LOCK_ETCD_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/etcd.h"
#include "env.h"

enum elock_algo { ELOCK_ETCDSYNC, ELOCK_MUTEX };

/* A connection for the actor whose env is e. NULL only when out of memory: a cluster that
 * cannot be reached shows as errors from the calls. */
typedef struct etcd *(*elock_connect_fn)(struct env *e, void *arg);

/* The longest lock key (etcdsync) or prefix (mutex): room for "/" and 16 hex digits. */
#define ELOCK_KEY_MAX (ETCD_KEY_MAX - 17)

struct elock_config {
    enum elock_algo algo;
    const char *key; /* etcdsync: the key; mutex: the prefix. NULL: "/lock" */
    int64_t ttl_s;   /* lease TTL, whole seconds; 0: 10, the seed's */
    elock_connect_fn connect;
    void *connect_arg;
    int64_t keepalive_every_ns; /* mutex: 0: TTL / 3, as clientv3 */
    int64_t retry_delay_ns;     /* elock_acquire: wait after a failed call; 0: 100 ms */
};

struct elock_stats {
    uint64_t acquired;         /* grants */
    uint64_t released;         /* releases that deleted (etcdsync: *a* key; mutex: ours) */
    uint64_t stale_releases;   /* releases that found nothing to delete */
    uint64_t requests;         /* etcd calls made by acquire and release (watch opens too) */
    uint64_t wakeups;          /* watch events received while waiting */
    uint64_t watches;          /* watches opened */
    uint64_t errors;           /* calls that failed (timeouts, resets, no leader...) */
    uint64_t leases;           /* leases granted */
    uint64_t resumed;          /* mutex: a txn found our own key already written */
    uint64_t session_lost;     /* mutex: the session lease was found gone */
    uint64_t keepalives;       /* mutex: keep-alives answered */
    uint64_t keepalive_errors; /* mutex: keep-alives that got no answer */
};

struct elock;

/* Check a lock key or prefix: non-empty, starts with '/', printable ASCII without spaces,
 * at most ELOCK_KEY_MAX bytes. 0 or -EINVAL; *why (if given) says what is wrong. */
int elock_key_check(const char *key, const char **why);

/* A handle for the calling actor (e): opens its connection through cfg->connect. NULL on
 * -ENOMEM or a bad config (unknown algorithm, a key elock_key_check refuses, ttl_s < 0
 * or above ETCD_MAX_LEASE_TTL_S, no connect). */
struct elock *elock_create(struct env *e, const struct elock_config *cfg);

/* Block until this client holds the lock, for at most timeout_ns of monotonic time (< 0:
 * no bound). A failed call (timeout, reset, no leader) is retried after retry_delay_ns
 * while time is left. Returns 0, -EALREADY, -ETIMEDOUT (time is up; nothing is held: a
 * mutex waiter deleted its key, as clientv3 does), or a call's error that retrying cannot
 * cure (-EINVAL: the TTL or key refused; -E2BIG; -ENOMEM). */
int elock_acquire(struct elock *l, int64_t timeout_ns);

/* Give the lock up. Returns 0 when the release deleted the lock key (etcdsync: deleted a
 * key, possibly a successor's), -ESTALE when there was nothing to delete (the lease had
 * expired), -ENOLCK when l does not hold it, or a call's error (l no longer holds it
 * either way). */
int elock_release(struct elock *l);

bool elock_held(const struct elock *l);
/* The fencing token of the current grant: the lock key's create_revision (> 0); 0 when
 * not held. */
int64_t elock_fence(const struct elock *l);
/* The lease of the current grant (etcdsync) or session (mutex); 0: none. */
int64_t elock_lease(const struct elock *l);
/* mutex: the keep-alive found the session lease gone since the last grant. */
bool elock_lost(struct elock *l);
/* The lock key of the current grant (etcdsync: the key; mutex: prefix/<lease>). */
const char *elock_key(const struct elock *l);
void elock_get_stats(const struct elock *l, struct elock_stats *out);

/* Stop the keep-alive (waits for it), revoke the lease it holds (so the lock, if held, is
 * released at once: what an interrupted run does), close the connection, free l. */
void elock_destroy(struct elock *l);

/* Free l without any env or etcd call and without waiting: only when its owner and its
 * keep-alive are dead (their node crashed, or the world is torn down). The lease then
 * expires on its own. */
void elock_abandon(struct elock *l);

/* The algorithms' names in enum order (names.h). parse returns 0 or -EINVAL; name returns
 * NULL for an out-of-range value. */
#define ELOCK_ALGO_NAMES "etcdsync", "mutex"
extern const char *const elock_algo_names[];
int elock_algo_parse(const char *s, enum elock_algo *out);
const char *elock_algo_name(enum elock_algo a);

#endif

/* zk_lock.h - the ZooKeeper lock, written once against client/zk.h and env.h so that the
 * same code runs against the simulated ensemble and a real one.
 *
 * Every contender creates an ephemeral sequential node "<path>/_c_<guid>-lock-NNNNNNNNNN"
 * (the guid, fresh per node, lets it find its node again when a create's reply is lost
 * with the connection, as Curator's protected mode does); the lowest sequence number
 * holds the lock; a holder whose session ends loses its node, and so the lock. The two
 * algorithms differ in how a waiter learns that its turn may have come:
 *   recipe  it watches only the node just below its own (exists with a watch), and looks
 *           again when that one goes: each release wakes one waiter. Curator's
 *           InterProcessMutex; also what the seed's Go library (go-zookeeper's zk.Lock)
 *           does.
 *   herd    it watches the lock node's children (get children with a watch) and looks
 *           again on any change: each release, and each new contender, wakes every
 *           waiter. What the seed's text describes.
 * The fencing token of a lease is its node's czxid: every later lease's node was created
 * later, so its czxid is larger (unlike the sequence number, it never restarts, even if
 * the lock node is deleted and made again).
 *
 * A struct zklock is one client's handle on one lock, with its own session (opened
 * through cfg->connect, again after an expiry): it belongs to the actor (thread) that
 * created it, which alone may call these functions. Errors are negative errnos. */
#ifndef DISTLAB_LOCK_ZK_LOCK_H
#define DISTLAB_LOCK_ZK_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "client/zk.h"
#include "env.h"

enum zklock_algo { ZKLOCK_RECIPE, ZKLOCK_HERD };

/* Open a session with the requested timeout for the actor whose env is e. NULL only
 * when out of memory: an ensemble that cannot be reached shows as errors from the calls
 * (or as a session that never connects). */
typedef struct zk *(*zklock_connect_fn)(struct env *e, int64_t session_timeout_ns, void *arg);

/* What the lock tells an observer, as it happens (the counters of struct zklock_stats,
 * one at a time, so that a driver can place them in time). */
enum zklock_note {
    ZKLOCK_NOTE_CALL,   /* a request got its answer (or failed) */
    ZKLOCK_NOTE_EVENT,  /* a watch notification was taken off the session */
    ZKLOCK_NOTE_WAKEUP, /* ... and it made a waiting acquire look again */
};
typedef void (*zklock_note_fn)(void *arg, enum zklock_note what);

struct zklock_config {
    enum zklock_algo algo;
    const char *path;           /* the lock's node; NULL: "/lock", the seed's */
    int64_t session_timeout_ns; /* 0: 1 s, the seed's */
    zklock_connect_fn connect;
    void *connect_arg;
    zklock_note_fn note; /* optional; called in the owner's actor (thread), must not block */
    void *note_arg;
    int64_t release_timeout_ns; /* how long a release retries across connection losses
                                 * before it closes the session instead; 0: 30 s */
};

struct zklock_stats {
    uint64_t acquired;    /* grants */
    uint64_t released;    /* releases that deleted our node */
    uint64_t calls;       /* requests sent to ZooKeeper (each is answered by one reply) */
    uint64_t events;      /* watch notifications received (session events aside) */
    uint64_t wakeups;     /* notifications that made a waiting acquire look again */
    uint64_t checks;      /* looks at the children (the first one of an acquire included) */
    uint64_t sessions;    /* sessions opened */
    uint64_t expired;     /* sessions found expired */
    uint64_t conn_losses; /* connections lost (connected, then not), over all the sessions:
                           * zk_session's disconnects; one per break, however many calls
                           * fail with it or wait it out */
    uint64_t calls_lost;  /* calls that failed because no reply came: the connection broke
                           * (or was still being made) or the client timed the call out;
                           * each is retried. A call made while the client has no connection
                           * waits for one attempt to connect, and fails with that attempt */
    uint64_t lost;        /* leases whose node was gone when released */
    uint64_t gave_up;     /* acquires that ran out of time (-ETIMEDOUT, -EBUSY) */
};

struct zklock;

/* A handle for the calling actor (e). Opens its session at once (connecting in the
 * background). NULL on -ENOMEM or a bad config: unknown algorithm, missing connect, a
 * path ZooKeeper refuses or longer than leaves room for the node names. */
struct zklock *zklock_create(struct env *e, const struct zklock_config *cfg);

/* Closes the session (a node of ours goes with it: a held lock is released) and frees l.
 * Call from the owning actor. */
void zklock_destroy(struct zklock *l);

/* Take the lock, waiting at most timeout_ns of monotonic time (< 0: no limit; 0: one
 * look, a try-lock). Creates the lock's node and its parents when missing. Returns 0
 * when held; -EALREADY if l holds it; -ETIMEDOUT (timeout > 0) or -EBUSY (timeout 0)
 * when another holder stayed, our node then deleted; or an error of the calls that
 * retrying cannot cure (-EINVAL, -ENOMEM, ...). Connection losses are waited out; an
 * expired session costs our place in the queue: a new session and node, and a new
 * wait. Costs, without contention, two requests in one round trip: a create (a write,
 * which the leader commits after a majority has logged it) and a get children (a read)
 * sent right behind it (zk_create_list), which ZooKeeper answers once the create is
 * applied, so that it lists our node. */
int zklock_acquire(struct zklock *l, int64_t timeout_ns);

/* Give the lock up: delete our node. A delete whose connection broke is tried again on the
 * next connection, as long as the session may live: only its server knows, and a session
 * survives an election of any length if its client reconnects within the timeout after
 * it, so the release waits up to release_timeout for an answer (Curator's guaranteed
 * delete keeps trying in the background). Returns 0; -ESTALE when the node was already
 * gone (the session expired while we believed we held: someone else may have held it
 * meanwhile); -ENOLCK when l does not hold the lock; or an error (after release_timeout:
 * the session is then closed, so that the node goes with it once a server hears). */
int zklock_release(struct zklock *l);

bool zklock_held(const struct zklock *l);

/* Has the session that holds our node expired (as far as this client knows yet)? A
 * holder that checks this before acting narrows the window, but cannot close it: the
 * fencing token does. */
bool zklock_lost(struct zklock *l);

/* The current (or last) lease's fencing token: its node's czxid; 0 before any. */
int64_t zklock_fence(const struct zklock *l);

/* The current (or last) lease's sequence number; our node's full path ("" when we have
 * none: not waiting, not holding). */
int64_t zklock_seq(const struct zklock *l);
const char *zklock_node(const struct zklock *l);

/* The current session (NULL before the first is opened). */
struct zk *zklock_session(struct zklock *l);

void zklock_get_stats(const struct zklock *l, struct zklock_stats *out);

/* Free l without any env call and without closing its session: for when its owner is
 * dead (its node crashed; the world frees the session: sim, the ensemble model). */
void zklock_abandon(struct zklock *l);

/* The algorithms' names in enum order (names.h). parse returns 0 or -EINVAL; name returns
 * NULL for an out-of-range value. */
#define ZKLOCK_ALGO_NAMES "recipe", "herd"
extern const char *const zklock_algo_names[];
int zklock_algo_parse(const char *s, enum zklock_algo *out);
const char *zklock_algo_name(enum zklock_algo a);

#endif

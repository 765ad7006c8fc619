/* trylock.h - try-locks that never block (a CAS on an atomic flag; the seed's channel of
 * capacity one) and the spin loops people build around them: retry at once, retry after
 * yielding the CPU, or retry after an exponential backoff with jitter.
 *
 * Talks to its world only through env and C11 atomics, so one build runs on simulated
 * actors and on live threads. In the simulation an attempt costs virtual CPU
 * (attempt_ns through env_work for the CAS; the channel model's op_ns), so spinners
 * occupy cores and slow the lock holder as they do on a real machine; live, attempts
 * cost what they cost and attempt_ns is normally 0.
 *
 * An attempt takes its time first and is decided at its end: a spinner that is in the
 * middle of an attempt when the holder releases wins over a holder that comes straight
 * back for the lock. */
#ifndef DISTLAB_LOCK_TRYLOCK_H
#define DISTLAB_LOCK_TRYLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "env.h"
#include "lock/tokchan.h"

struct lock_try; /* opaque, defined in trylock.c */

/* A CAS try-lock: an atomic flag, false when free. Each attempt first costs attempt_ns
 * (>= 0) of CPU through env_work. NULL on -ENOMEM. */
struct lock_try *lock_try_cas(int64_t attempt_ns);

/* The seed's channel try-lock over ch, which must hold its token; the lock owns ch from
 * now on (also when this fails). Holding the lock = holding the token. NULL on -ENOMEM. */
struct lock_try *lock_try_chan(struct lock_tokchan *ch);

/* Frees the lock (and its channel). Nobody may hold or try it. NULL is a no-op. */
void lock_try_destroy(struct lock_try *l);

/* "cas" or "chan". */
const char *lock_try_kind(const struct lock_try *l);

/* One attempt: true if the caller now holds the lock, false at once if someone else
 * does. Never blocks; costs one attempt (see above). */
bool lock_try_acquire(struct lock_try *l, struct env *e);

/* Release a lock the caller holds (a channel put costs op_ns in the model). */
void lock_try_release(struct lock_try *l, struct env *e);

/* The channel of a channel try-lock, NULL for a CAS. */
const struct lock_tokchan *lock_try_channel(const struct lock_try *l);

/* True if someone holds it now (a racy snapshot, for checkers). */
bool lock_try_held(const struct lock_try *l);

/* Invariants: the flag or channel holds 0 or 1 token. Only meaningful when no
 * operation is in flight. For tests. */
bool lock_try_check(const struct lock_try *l);

/* ---- Spinning until acquired -------------------------------------------------------- */

enum lock_spin_kind {
    LOCK_SPIN_NONE,    /* retry at once: keeps the core until the scheduler takes it */
    LOCK_SPIN_YIELD,   /* env_yield after each failure (Go's runtime.Gosched) */
    LOCK_SPIN_BACKOFF, /* env_sleep a jittered, exponentially growing time after each */
};

/* The kinds' names in enum order (names.h). */
#define LOCK_SPIN_NAMES "spin", "yield", "backoff"
extern const char *const lock_spin_names[];
/* A kind's name; NULL for an out-of-range value. */
const char *lock_spin_name(enum lock_spin_kind k);
/* Parse a name. Returns 0, or -EINVAL (*out untouched). */
int lock_spin_parse(const char *name, enum lock_spin_kind *out);

struct lock_spin {
    enum lock_spin_kind kind;
    /* Backoff only: after the n-th consecutive failure (n = 1, 2, ...) sleep a uniform
     * time in [1, min(cap_ns, base_ns * 2^(n-1))] ns ("full jitter"), drawn from
     * env_rand. base_ns >= 1, cap_ns >= base_ns. */
    int64_t base_ns, cap_ns;
};

/* What one acquisition did. */
struct lock_spin_stats {
    uint64_t attempts; /* lock_try_acquire calls, the successful one included */
    int64_t slept_ns;  /* backoff sleep asked for */
};

/* Try l until it is acquired or env_mono(e) reaches 'deadline' (< 0: no deadline; the
 * clock is read after failures only, every attempt with backoff and every 16th without).
 * Returns true holding the lock, false after the deadline without it. *st (if given) is
 * overwritten. Never sleeps or yields with LOCK_SPIN_NONE, so in the simulation its
 * attempts must cost time (attempt_ns > 0), or the hang detector stops the run. */
bool lock_spin_acquire(struct lock_try *l, struct env *e, const struct lock_spin *p,
                       int64_t deadline, struct lock_spin_stats *st);

#endif

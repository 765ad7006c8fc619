/* snowflake.h - 64-bit time-ordered IDs: bit layout, clock-rollback policies, and
 * thread-safe generators (plain, lock-free CAS, mutex) over one pure decision function.
 * Never reads a clock: the caller passes the time, so tests script it and the same call
 * serves the simulated and the real world. Blocking (sleeping out a wait, keeping a
 * high-water mark durable) is sf_node.h's business, not this file's.
 *
 * An ID is, from the top: a zero sign bit, then the time (units since the epoch), the
 * datacenter, the worker and the sequence, each field exactly as wide as the layout says:
 *
 *     0 | time (41) | dc (5) | worker (5) | seq (12)        the seed's layout (default)
 *
 * Return codes of the generators (0 or a negative errno, as everywhere in distlab):
 *     0           *id_out holds a fresh ID.
 *     -EAGAIN     not now: call again once the clock reads why->retry_at (Unix ns on the
 *                 same clock as 'now'): the first later clock time at which this call
 *                 would succeed, if no other caller takes an ID meanwhile. A pure
 *                 function cannot sleep, so "wait" means this.
 *     -ERANGE     refused: the clock is behind the last ID's time unit (it stepped back)
 *                 by why->behind_ns, and the policy will not wait that long.
 *     -EOVERFLOW  the time does not fit the layout: before the epoch, or past the last
 *                 unit the time field can hold.
 * In every error case *id_out is untouched and no state changed. */
#ifndef DISTLAB_SNOWFLAKE_H
#define DISTLAB_SNOWFLAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Twitter's epoch, 2010-11-04T01:42:54.657Z, the default: decodes the IDs most people
 * find in logs. With 41 bits of ms it lasts until 2080. */
#define SF_TWITTER_EPOCH_NS 1288834974657000000LL

/* The bit layout. time + dc + worker + seq must be exactly 63 (the sign bit stays 0, so
 * IDs are positive as signed 64-bit integers too); every field may be 0 bits wide except
 * time (>= 1) and seq (>= 1). */
struct sf_layout {
    int time_bits, dc_bits, worker_bits, seq_bits;
    int64_t unit_ns;  /* length of one time unit, > 0 (1 ms in the seed) */
    int64_t epoch_ns; /* Unix ns at which the time field is 0 */
};

/* The seed's layout: 41 bits of ms since Twitter's epoch, 5 + 5 + 12. */
extern const struct sf_layout sf_layout_default;

/* The fields of an ID. time_ns is the start of its time unit in Unix ns. */
struct sf_fields {
    uint64_t ts; /* time units since the epoch */
    int64_t time_ns;
    uint64_t dc, worker, seq;
};

/* Check a layout: widths summing to 63, unit > 0, and an epoch not after now_ns (an
 * epoch in the future would make every current time unrepresentable). On failure
 * returns -EINVAL and writes a one-line reason to err (if errlen > 0). O(1). */
int sf_layout_check(const struct sf_layout *l, int64_t now_ns, char *err, size_t errlen);

/* The widths of "T/D/W/S" ("41/5/5/12": time, datacenter, worker, sequence bits) into
 * l, the rest of l untouched. Each is a decimal integer from 0 to 63 (a wider one could
 * never sum to 63): more digits are refused, never truncated. Returns 0 or -EINVAL. The
 * sum is sf_layout_check's to judge. */
int sf_layout_parse_bits(const char *s, struct sf_layout *l);

/* The largest value each field can hold (2^bits - 1; 0 for a 0-bit field). */
uint64_t sf_layout_max_ts(const struct sf_layout *l);
uint64_t sf_layout_max_dc(const struct sf_layout *l);
uint64_t sf_layout_max_worker(const struct sf_layout *l);
uint64_t sf_layout_max_seq(const struct sf_layout *l);

/* The time unit that Unix time t_ns falls in. Returns 0, or -EOVERFLOW if t is before
 * the epoch or past the time field. */
int sf_layout_unit(const struct sf_layout *l, int64_t t_ns, uint64_t *ts);

/* Build an ID from its fields. A field too wide for its bits is refused with -ERANGE,
 * never masked or shifted into a neighbour. l must have passed sf_layout_check. */
int sf_compose(const struct sf_layout *l, uint64_t ts, uint64_t dc, uint64_t worker, uint64_t seq,
               uint64_t *id_out);

/* Split an ID into its fields. Returns 0; -ERANGE if the sign bit is set (not an ID of
 * any valid layout); -EOVERFLOW if its time is before 1677 or after 2262, where Unix ns
 * in an int64 end (the fields are set, time_ns clamped to that range). */
int sf_decompose(const struct sf_layout *l, uint64_t id, struct sf_fields *out);

/* ---- Generators ------------------------------------------------------------------ */

/* What to do when the clock reads a time unit before the last ID's (it stepped back, or
 * a concurrent caller read it a moment earlier). */
enum sf_policy {
    SF_NONE,   /* unsafe, the naive generator: forget the last ID and restart the sequence
                  at the clock's unit, re-issuing IDs already issued. For comparison. */
    SF_REFUSE, /* -ERANGE, with how far the clock is behind. */
    SF_WAIT,   /* -EAGAIN until the clock is back in the last ID's unit (or within the
                  loan, see SF_FULL_BORROW), if that is at most wait_max_ns away; else
                  -ERANGE. */
    SF_HOLD,   /* keep the last ID's unit and go on with its sequence; when the sequence
                  is used up take the next unit at once: a logical clock that never goes
                  back and runs ahead of the clock without bound (but only by one unit
                  per 2^seq_bits IDs while the clock is behind). A step back never
                  makes it wait or fail; a full unit the clock is in follows on_full,
                  and so does one it is behind only by its own loans. */
    SF_BORROW, /* as hold while the last ID's unit starts at most borrow_max_ns after the
                  clock; beyond that, wait until it is (-EAGAIN), if at most wait_max_ns;
                  else -ERANGE. */
};

/* What to do when a unit's 2^seq_bits IDs are used up and the clock is still in it. */
enum sf_full {
    SF_FULL_WAIT,   /* -EAGAIN until the clock reaches the next unit */
    SF_FULL_BORROW, /* take the next unit at once if it starts at most borrow_max_ns after
                       the clock; else -EAGAIN until it does. The generator's own loans
                       then put the clock behind its last ID by up to borrow_max_ns, so
                       under every policy a clock that far behind is treated as a loan
                       (as SF_BORROW treats it), and the policy acts on what lies beyond. */
};

struct sf_config {
    struct sf_layout layout;
    uint64_t dc, worker;
    enum sf_policy policy;
    enum sf_full on_full;
    int64_t wait_max_ns;   /* SF_WAIT, SF_BORROW: the longest wait for a clock that went back */
    int64_t borrow_max_ns; /* SF_BORROW, SF_FULL_BORROW: how far an ID's unit may start
                              after the clock reading it was issued at */
};

/* Check a configuration: its layout (as sf_layout_check), dc and worker within their
 * fields (a worker id of 40 in 5 bits is an error, not worker 8 of datacenter dc+1),
 * known policies and non-negative bounds. -EINVAL with a reason in err. */
int sf_config_check(const struct sf_config *c, int64_t now_ns, char *err, size_t errlen);

/* How a generator may be shared. */
enum sf_sync {
    SF_SYNC_NONE,  /* one thread (or one simulated actor) only */
    SF_SYNC_CAS,   /* any threads: state (unit, seq) in one 64-bit atomic, CAS loop */
    SF_SYNC_MUTEX, /* any threads: the same state under a mutex, for comparison */
};

struct sf_gen;

/* A generator for configuration c (copied; it must pass sf_config_check). NULL on
 * -EINVAL (a bad config) or -ENOMEM. */
struct sf_gen *sf_gen_create(const struct sf_config *c, enum sf_sync sync);
void sf_gen_destroy(struct sf_gen *g);
const struct sf_config *sf_gen_config(const struct sf_gen *g);

/* Why a call did not return an ID (see the return codes at the top). */
struct sf_why {
    int64_t retry_at;  /* -EAGAIN: call again when the clock reads this (Unix ns) */
    int64_t behind_ns; /* -ERANGE (and -EAGAIN after a step back): how far the start of
                          the last ID's unit is ahead of 'now'; 0 otherwise */
};

/* The next ID at clock time now (Unix ns). Within one unit IDs take sequence 0, 1, ...;
 * a later unit starts again at 0; an earlier unit or a full one is the policy's business.
 * Returns 0 or a code above; 'why' may be NULL.
 * Every ID returned is greater than every ID this generator returned before, in any
 * thread, except under SF_NONE after the clock went back. Under concurrency one caller's
 * 'now' may be older than another's: treat -EAGAIN by reading the clock again.
 * Costs: SF_SYNC_NONE a few ns; CAS one compare-exchange per attempt (retries under
 * contention); mutex one lock/unlock. Never blocks, except on the mutex. */
int sf_next(struct sf_gen *g, int64_t now, uint64_t *id_out, struct sf_why *why);

/* After a restart: never issue an ID in unit ts or before (as if the generator had just
 * used up unit ts). Raises the state only; a floor below it changes nothing. Returns 0,
 * or -EOVERFLOW if ts does not fit the time field. Under SF_NONE a later step back
 * still goes below the floor: that policy ignores every safeguard. */
int sf_gen_floor(struct sf_gen *g, uint64_t ts);

/* The unit and sequence of the last ID issued; false if none yet. */
bool sf_gen_last(const struct sf_gen *g, uint64_t *ts, uint64_t *seq);

/* Invariants: config valid, state's unit within the time field. For tests. */
bool sf_gen_check(const struct sf_gen *g);

/* Names for messages and scenario files, in enum order (names.h). parse returns 0 or
 * -EINVAL; name returns NULL for an out-of-range value. */
#define SF_POLICY_NAMES "none", "refuse", "wait", "hold", "borrow"
#define SF_FULL_NAMES "wait", "borrow"
#define SF_SYNC_NAMES "none", "cas", "mutex"
extern const char *const sf_policy_names[], *const sf_full_names[], *const sf_sync_names[];
const char *sf_policy_name(enum sf_policy p);
int sf_policy_parse(const char *s, enum sf_policy *out);
const char *sf_full_name(enum sf_full f);
int sf_full_parse(const char *s, enum sf_full *out);
const char *sf_sync_name(enum sf_sync s);

#endif

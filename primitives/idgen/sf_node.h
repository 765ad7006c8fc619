/* sf_node.h - a snowflake generator as a node runs it: reads the node's clock through
 * env, sleeps out the generator's waits, and keeps a high-water mark in the node's
 * durable store so that a restarted node never re-issues an ID.
 *
 * The mark is a time unit M written under 'store_key'. Invariant: every ID this node
 * ever returned lies in a unit <= the mark in the store, because the mark is raised
 * (written and, in the simulation, fsync'd) before an ID beyond it is returned. On open
 * the generator is floored at M, so its first ID is in unit M + 1 or later. The mark is
 * reserved 'reserve_ns' ahead of the IDs it covers, so it is written about once per
 * reserve_ns of issuing; the price is that a node restarted at once may be up to
 * reserve_ns "behind" its own mark, which the clock policy then handles (wait, hold...).
 *
 * One sf_node belongs to one actor (thread); it is not thread-safe. */
#ifndef DISTLAB_SF_NODE_H
#define DISTLAB_SF_NODE_H

#include <stdint.h>

#include "env.h"
#include "idgen/snowflake.h"

struct sf_node_config {
    struct sf_config gen;
    const char *store_key; /* NULL: no mark (unsafe across restarts); copied */
    int64_t reserve_ns;    /* how far ahead the mark is set, >= 0 */
};

/* What a node's generator has done so far. */
struct sf_node_stats {
    uint64_t ids;      /* IDs returned */
    uint64_t waits;    /* sleeps for the clock (-EAGAIN from the generator) */
    int64_t slept_ns;  /* total monotonic ns slept for them */
    uint64_t refused;  /* -ERANGE returned */
    uint64_t puts;     /* mark writes */
    uint64_t floor_ts; /* the mark read at open, or 0 (none found) */
};

struct sf_node;

/* Open a generator on this node: check c (with the epoch against env_now), read the
 * mark if c->store_key is set and floor the generator at it. Returns NULL and sets
 * *rc_out to -EINVAL (bad config; 'err' says why), -EIO (a corrupt mark), or -ENOMEM. */
struct sf_node *sf_node_open(struct env *e, const struct sf_node_config *c, int *rc_out,
                             char *err, size_t errlen);
void sf_node_close(struct sf_node *n);

/* The next ID. Reads env_now, and while the generator says -EAGAIN sleeps until its
 * retry time (on the monotonic clock, then reads the wall clock again: it may have
 * stepped meanwhile). Before returning an ID in a unit past the mark, writes the mark
 * (that unit + reserve). Returns 0; -ERANGE (the policy refused: the clock went back
 * further than it will wait; *slept_ns says how long this call slept before); -EOVERFLOW
 * (the clock is outside the layout); or the store's error (the ID is then discarded, so
 * the mark's invariant holds). slept_ns may be NULL. Blocks for at most the sum of the
 * waits the policy allows plus the store's latency. */
int sf_node_next(struct sf_node *n, struct env *e, uint64_t *id_out, int64_t *slept_ns);

void sf_node_stats(const struct sf_node *n, struct sf_node_stats *out);
const struct sf_gen *sf_node_gen(const struct sf_node *n);

#endif

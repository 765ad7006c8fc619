/* exec.h - the executing end of a delayed-task cluster: what happens when a node fires a
 * task. Each firing names the task, the time it was scheduled for (one periodic task has
 * one firing per period: the pair is the firing's idempotency key) and the firing node's
 * fencing token for the task (its primary epoch, placement.h).
 *
 *   fencing     the executor remembers the highest token it has seen per task and refuses
 *               a firing with a lower one: a deposed primary that comes back, or was only
 *               cut off from its peers, cannot act once its successor has.
 *   idempotent  the executor records every key it has executed and ignores a second
 *               firing of it, whoever sends it: a task fired twice around a failover
 *               takes effect once.
 *
 * Either can be off, so a run can show what each one buys; the records are kept anyway,
 * to count duplicates. A pure structure: no clock, no I/O. O(1) expected per firing (an
 * open-addressing table of 24-byte entries that doubles at 1/2 full; 8 bytes per task for
 * the tokens). */
#ifndef DISTLAB_DELAY_EXEC_H
#define DISTLAB_DELAY_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dx_config {
    uint32_t ntasks; /* tasks are 0..ntasks-1 */
    bool fencing;
    bool idempotent;
};

enum dx_verdict {
    DX_EXECUTED, /* it took effect (perhaps again, when not idempotent) */
    DX_IGNORED,  /* idempotent: this key had taken effect already */
    DX_FENCED,   /* fencing: a newer primary of this task has fired */
};

struct dx_stats {
    uint64_t fires;             /* firings received */
    uint64_t executed;          /* took effect */
    uint64_t ignored;           /* DX_IGNORED */
    uint64_t fenced;            /* DX_FENCED */
    uint64_t duplicate_fires;   /* not fenced, for a key that had taken effect already */
    uint64_t duplicate_effects; /* ... and took effect again (idempotence off) */
    uint64_t stale_executed;    /* took effect with a token below the task's highest seen */
};

struct dx;

/* NULL with errno ENOMEM. */
struct dx *dx_create(const struct dx_config *cfg);
void dx_destroy(struct dx *x);

/* One firing of 'task' scheduled for 'sched' by a node holding token 'token'. Returns the
 * verdict (>= 0), -EINVAL (task out of range) or -ENOMEM (the record could not grow; the
 * firing is not counted). */
int dx_fire(struct dx *x, uint32_t task, int64_t sched, uint64_t token);

/* How many times (task, sched) has taken effect. */
uint32_t dx_times(const struct dx *x, uint32_t task, int64_t sched);

/* The highest token seen for task. */
uint64_t dx_token(const struct dx *x, uint32_t task);

void dx_get_stats(const struct dx *x, struct dx_stats *out);

/* Invariants: every recorded key is found by lookup, the counters agree with the records
 * (executed = the sum of times, duplicate effects = the sum of times beyond the first,
 * fires = executed + ignored + fenced). O(table). */
bool dx_check(const struct dx *x);

#endif

/* delay.h - a delayed-task service: tasks wait in a timer structure (timer/tq.h) until
 * their due time, then are dispatched in one of the seed's two ways:
 *
 *   DQ_QUEUE     each fired task is published to a message broker through a client
 *                interface (struct dq_broker); a publish that is not acknowledged is
 *                retried, and a task whose every attempt failed is lost (counted).
 *                More latency (a round trip per task), and the broker can fail.
 *   DQ_CALLBACK  each fired task runs a user callback on one of W worker actors. A slow
 *                callback holds its worker, so later tasks wait: each callback gets a
 *                time budget (the timeout) and a callback that runs out of it is
 *                abandoned and counted.
 *
 * Blocking code over struct env: the same code runs in the simulated and the live
 * world. Never reads a clock or draws a random number except through env; time is the
 * node's monotonic clock. All the service's actors run on the node that started it. */
#ifndef DISTLAB_DELAY_H
#define DISTLAB_DELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "env.h"
#include "timer/tq.h"

/* Embedded by the caller, who keeps it alive until it is done (hooks.done). */
struct dq_task {
    struct tq_timer timer;
    uint64_t id;
    int64_t due;          /* node monotonic ns */
    int64_t fired;        /* monotonic ns when its timer fired */
    int attempts;         /* publishes tried */
    struct dq_task *next; /* the dispatch queue */
    void *data;           /* the caller's */
};

enum dq_mode { DQ_QUEUE, DQ_CALLBACK };
#define DQ_MODE_NAMES "queue", "callback" /* in enum order (names.h) */

/* A broker client: publish one task and block until the broker acknowledges it.
 * Returns 0, or a negative errno (-ETIMEDOUT: no acknowledgement in time). 'attempt'
 * numbers the tries of one task from 0, so a client can tell stale acks apart. */
struct dq_broker {
    int (*publish)(struct env *e, void *ctx, const struct dq_task *t, int attempt);
    void *ctx;
};

/* The user's callback: do the task's work within budget_ns of monotonic time (INT64_MAX:
 * no limit), as a callback honouring a context deadline does. Returns 0 when done, or
 * -ETIMEDOUT when it gave up at the budget. */
typedef int (*dq_callback_fn)(struct env *e, struct dq_task *t, int64_t budget_ns, void *arg);

/* What the service tells its observer (all optional; called on the service's actors,
 * must not block). done's result: 0 delivered or ran, -ETIMEDOUT the callback was
 * abandoned at its timeout, -EIO lost (every publish failed). */
struct dq_hooks {
    void (*fired)(void *arg, struct dq_task *t);
    void (*started)(void *arg, struct dq_task *t); /* a worker or publisher took it */
    void (*done)(void *arg, struct dq_task *t, int result);
    void *arg;
};

struct dq_config {
    struct tq_config timers;
    enum dq_mode mode;
    int workers;        /* callback workers, or publishers in queue mode; >= 1 */
    int64_t timeout_ns; /* callback budget; 0: none */
    int retries;        /* queue mode: publishes after the first before a task is lost */
    struct dq_broker broker;
    dq_callback_fn callback;
    void *callback_arg;
    struct dq_hooks hooks;
};

struct dq_stats {
    uint64_t submitted, fired, done, timeouts, lost, retries;
    uint64_t wakeups; /* times the timer actor woke */
};

struct dq;

/* A service on the caller's node, from cfg (copied). NULL with errno EINVAL (bad mode,
 * workers < 1, no callback or broker for the mode, bad timer config) or ENOMEM. */
struct dq *dq_create(struct env *e, const struct dq_config *cfg);

/* Start the timer actor and the workers on this node. Returns 0 or a negative errno. */
int dq_start(struct env *e, struct dq *d);

/* Schedule t for node monotonic time 'due' (may be past: it fires at once). Any actor of
 * the node may call it. Returns 0, -EINVAL (t already scheduled), or -ENOMEM. */
int dq_submit(struct env *e, struct dq *d, struct dq_task *t, int64_t due);

/* Ask the actors to finish: the timer actor returns at once, workers when the dispatch
 * queue is empty. Tasks still scheduled stay so. */
void dq_stop(struct env *e, struct dq *d);

void dq_get_stats(const struct dq *d, struct dq_stats *out);

/* The timer structure, for its operation counts (tq_stats). */
const struct tq *dq_timers(const struct dq *d);

/* Free the service; its actors must have ended (or died with their node). */
void dq_destroy(struct dq *d);

#endif

/* delay.c - the delayed-task service: one timer actor that sleeps until the earliest
 * deadline and moves fired tasks to a FIFO, and W workers that dispatch them (publish,
 * or run the callback within its budget). One mutex guards the timers and the FIFO. */
#include "delay/delay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

struct dq {
    struct dq_config cfg;
    struct tq *q;
    struct env_mutex m;
    struct env_cond wake; /* the timer actor: an earlier task, or stop */
    struct env_cond work; /* workers: the FIFO is not empty, or stop */
    struct dq_task *head, *tail;
    bool stopping;
    struct dq_stats st;
};

struct dq *dq_create(struct env *e, const struct dq_config *cfg)
{
    bool ok = cfg->workers >= 1 && cfg->retries >= 0 && cfg->timeout_ns >= 0;
    if (cfg->mode == DQ_QUEUE)
        ok = ok && cfg->broker.publish;
    else if (cfg->mode == DQ_CALLBACK)
        ok = ok && cfg->callback;
    else
        ok = false;
    if (!ok) {
        errno = EINVAL;
        return NULL;
    }
    struct dq *d = calloc(1, sizeof(*d));
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->cfg = *cfg;
    if (!(d->q = tq_create(&cfg->timers)))
        goto err_free;
    if (env_mutex_init(e, &d->m) < 0)
        goto err_tq;
    if (env_cond_init(e, &d->wake) < 0)
        goto err_mutex;
    if (env_cond_init(e, &d->work) < 0)
        goto err_wake;
    return d;
err_wake:
    env_cond_destroy(e, &d->wake);
err_mutex:
    env_mutex_destroy(e, &d->m);
err_tq:
    tq_destroy(d->q);
err_free:
    free(d);
    errno = ENOMEM;
    return NULL;
}

/* Fired under the mutex: append to the dispatch FIFO. */
static void on_fire(struct tq_timer *tm, void *arg)
{
    struct dq *d = arg;
    struct dq_task *t = (struct dq_task *)tm;
    t->next = NULL;
    if (d->tail)
        d->tail->next = t;
    else
        d->head = t;
    d->tail = t;
    d->st.fired++;
    if (d->cfg.hooks.fired)
        d->cfg.hooks.fired(d->cfg.hooks.arg, t);
}

/* The timer actor: the seed's loop. Checking the earliest deadline is O(1) for a heap;
 * only when it has come does it pop and adjust. */
static void timer_actor(struct env *e, void *arg)
{
    struct dq *d = arg;
    env_mutex_lock(e, &d->m);
    while (!d->stopping) {
        int64_t now = env_mono(e);
        uint64_t before = d->st.fired;
        tq_expire(d->q, now, on_fire, d);
        if (d->st.fired != before)
            env_cond_broadcast(e, &d->work);
        int64_t next = tq_next(d->q);
        /* < 0 waits for a submit; a lower bound already passed (never, for these
         * structures) still sleeps 1 ns rather than spin at one instant */
        int64_t wait = next == INT64_MAX ? -1 : next - now > 0 ? next - now : 1;
        env_cond_wait(e, &d->wake, &d->m, wait);
        d->st.wakeups++;
    }
    env_mutex_unlock(e, &d->m);
}

static int publish(struct env *e, struct dq *d, struct dq_task *t)
{
    int rc = -EIO;
    for (int a = 0; a <= d->cfg.retries; a++) {
        t->attempts = a + 1;
        rc = d->cfg.broker.publish(e, d->cfg.broker.ctx, t, a);
        if (rc == 0)
            return 0;
        if (a < d->cfg.retries) {
            env_mutex_lock(e, &d->m);
            d->st.retries++;
            env_mutex_unlock(e, &d->m);
        }
    }
    return -EIO;
}

static void worker_actor(struct env *e, void *arg)
{
    struct dq *d = arg;
    env_mutex_lock(e, &d->m);
    for (;;) {
        while (!d->head && !d->stopping)
            env_cond_wait(e, &d->work, &d->m, -1);
        if (!d->head)
            break;
        struct dq_task *t = d->head;
        if (!(d->head = t->next))
            d->tail = NULL;
        if (d->cfg.hooks.started)
            d->cfg.hooks.started(d->cfg.hooks.arg, t);
        env_mutex_unlock(e, &d->m);
        int rc;
        if (d->cfg.mode == DQ_QUEUE) {
            rc = publish(e, d, t);
        } else {
            int64_t budget = d->cfg.timeout_ns > 0 ? d->cfg.timeout_ns : INT64_MAX;
            rc = d->cfg.callback(e, t, budget, d->cfg.callback_arg) == -ETIMEDOUT ? -ETIMEDOUT : 0;
        }
        env_mutex_lock(e, &d->m);
        d->st.done++;
        d->st.timeouts += rc == -ETIMEDOUT;
        d->st.lost += rc == -EIO;
        if (d->cfg.hooks.done)
            d->cfg.hooks.done(d->cfg.hooks.arg, t, rc);
    }
    env_mutex_unlock(e, &d->m);
}

int dq_start(struct env *e, struct dq *d)
{
    uint64_t h;
    int rc = env_spawn(e, "dq-timer", timer_actor, d, &h);
    char name[32];
    for (int i = 0; rc == 0 && i < d->cfg.workers; i++) {
        snprintf(name, sizeof(name), "dq-%s-%d", d->cfg.mode == DQ_QUEUE ? "pub" : "worker", i);
        rc = env_spawn(e, name, worker_actor, d, &h);
    }
    return rc;
}

int dq_submit(struct env *e, struct dq *d, struct dq_task *t, int64_t due)
{
    env_mutex_lock(e, &d->m);
    int64_t was = tq_next(d->q); /* INT64_MAX when empty */
    t->due = due;
    t->attempts = 0;
    int rc = tq_add(d->q, &t->timer, due);
    if (rc == 0) {
        d->st.submitted++;
        if (due < was) /* a new earliest: the timer actor must sleep less */
            env_cond_signal(e, &d->wake);
    }
    env_mutex_unlock(e, &d->m);
    return rc;
}

void dq_stop(struct env *e, struct dq *d)
{
    env_mutex_lock(e, &d->m);
    d->stopping = true;
    env_cond_broadcast(e, &d->wake);
    env_cond_broadcast(e, &d->work);
    env_mutex_unlock(e, &d->m);
}

void dq_get_stats(const struct dq *d, struct dq_stats *out)
{
    *out = d->st;
}

const struct tq *dq_timers(const struct dq *d)
{
    return d->q;
}

void dq_destroy(struct dq *d)
{
    if (!d)
        return;
    tq_destroy(d->q);
    free(d);
}

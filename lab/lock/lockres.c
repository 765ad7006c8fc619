/* lockres.c - the protected resource of lockres.h. Never reads a clock: the workload's
 * clock function says when an access happened. */
#include "lab/lock/lockres.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define MAGIC 0x52455332u /* "RES2" */

struct lockres {
    pthread_mutex_t mu;
    struct lockcheck *chk;
    bool fencing;
    lockres_clock_fn clock;
    void *clock_arg;
    int64_t value, max_fence;
};

struct res_msg {
    uint32_t magic, write;
    uint64_t id;
    int64_t lease, fence, value;
    int32_t status;
};

struct lockres *lockres_create(struct lockcheck *chk, bool fencing, lockres_clock_fn clock,
                               void *clock_arg)
{
    struct lockres *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->chk = chk;
    r->fencing = fencing;
    r->clock = clock;
    r->clock_arg = clock_arg;
    return r;
}

void lockres_destroy(struct lockres *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Apply a read or a write, checking the token when fencing is on. 0 or -ESTALE. */
static int apply(struct lockres *r, struct env *e, bool write, int64_t lease, int64_t fence,
                 int64_t *value)
{
    pthread_mutex_lock(&r->mu);
    bool ok = !r->fencing || fence >= r->max_fence;
    if (ok) {
        if (r->fencing)
            r->max_fence = fence;
        if (write)
            r->value = *value;
        else
            *value = r->value;
    }
    lockcheck_access(r->chk, lease, write, ok, r->clock(r->clock_arg, e));
    pthread_mutex_unlock(&r->mu);
    return ok ? 0 : -ESTALE;
}

void lockres_serve(struct lockres *r, struct env *e, uint32_t port)
{
    if (sim_listen(e, port) < 0)
        return;
    for (;;) {
        struct res_msg m;
        struct sim_addr from;
        if (sim_recv(e, &m, sizeof(m), &from, -1) != (ssize_t)sizeof(m) || m.magic != MAGIC)
            continue;
        m.status = apply(r, e, m.write != 0, m.lease, m.fence, &m.value);
        sim_send(e, from, &m, sizeof(m));
    }
}

int lockres_access(struct lockres *r, struct env *e, const struct sim_addr *at, uint64_t *next_id,
                   int64_t timeout_ns, bool write, int64_t lease, int64_t fence, int64_t *value)
{
    if (!at)
        return apply(r, e, write, lease, fence, value);
    struct res_msg m = {MAGIC, write, ++*next_id, lease, fence, *value, 0};
    sim_send(e, *at, &m, sizeof(m));
    int64_t deadline = env_mono(e) + timeout_ns;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        struct res_msg a;
        ssize_t n = left > 0 ? sim_recv(e, &a, sizeof(a), NULL, left) : -ETIMEDOUT;
        if (n == -ETIMEDOUT)
            return -ETIMEDOUT;
        if (n == (ssize_t)sizeof(a) && a.magic == MAGIC && a.id == m.id) {
            *value = a.value;
            return a.status;
        }
    }
}

int64_t lockres_value(struct lockres *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t v = r->value;
    pthread_mutex_unlock(&r->mu);
    return v;
}

void lockres_holders_series(struct lab_run *run, const char *name, struct lockcheck *chk,
                            int64_t end, int64_t bin_ns)
{
    struct series *h = lab_series(run, name, bin_ns, "holders");
    for (int64_t b = 0; b * bin_ns < end; b++)
        series_add(h, b * bin_ns, 0); /* every bin, even where nobody holds */
    size_t n = lockcheck_leases(chk);
    for (size_t i = 0; i < n; i++) {
        int client;
        int64_t from, to;
        if (!lockcheck_lease(chk, i, end, &client, &from, &to))
            break;
        for (int64_t b = from / bin_ns; b * bin_ns < to && b * bin_ns < end; b++) {
            int64_t lo = from > b * bin_ns ? from : b * bin_ns;
            int64_t hi = to < (b + 1) * bin_ns ? to : (b + 1) * bin_ns;
            if (hi > lo)
                series_add(h, b * bin_ns, (double)(hi - lo) / (double)bin_ns);
        }
    }
}

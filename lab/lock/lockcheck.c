/* lockcheck.c - the lock checker of lockcheck.h. Records under a mutex, computes at the
 * end; never reads a clock (times come from the caller, who knows true time). */
#include "lab/lock/lockcheck.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct lc_lease {
    int client;
    int64_t t_acq, t_rel;
    bool released, deleted;
};

struct lc_access {
    int64_t lease, t;
    uint64_t seq; /* recording order: ties in time keep it */
    bool write, accepted;
};

struct lockcheck {
    pthread_mutex_t mu;
    struct lc_lease *lease;
    size_t nlease, caplease;
    struct lc_access *acc;
    size_t nacc, capacc;
};

struct lockcheck *lockcheck_create(void)
{
    struct lockcheck *c = calloc(1, sizeof(*c));
    if (c && pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        c = NULL;
    }
    return c;
}

void lockcheck_destroy(struct lockcheck *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->lease);
    free(c->acc);
    free(c);
}

static int reserve(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

int64_t lockcheck_acquired(struct lockcheck *c, int client, int64_t t)
{
    pthread_mutex_lock(&c->mu);
    int64_t id = -ENOMEM;
    if (reserve((void **)&c->lease, &c->caplease, c->nlease, sizeof(*c->lease)) == 0) {
        id = (int64_t)c->nlease++;
        c->lease[id] = (struct lc_lease){.client = client, .t_acq = t, .t_rel = t};
    }
    pthread_mutex_unlock(&c->mu);
    return id;
}

int lockcheck_released(struct lockcheck *c, int64_t lease, int64_t t, bool deleted)
{
    pthread_mutex_lock(&c->mu);
    int rc = -EINVAL;
    if (lease >= 0 && (size_t)lease < c->nlease && !c->lease[lease].released &&
        t >= c->lease[lease].t_acq) {
        c->lease[lease].released = true;
        c->lease[lease].deleted = deleted;
        c->lease[lease].t_rel = t;
        rc = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int lockcheck_access(struct lockcheck *c, int64_t lease, bool write, bool accepted, int64_t t)
{
    pthread_mutex_lock(&c->mu);
    int rc = -EINVAL;
    if (lease >= 0 && (size_t)lease < c->nlease) {
        rc = reserve((void **)&c->acc, &c->capacc, c->nacc, sizeof(*c->acc));
        if (rc == 0) {
            c->acc[c->nacc] = (struct lc_access){lease, t, c->nacc, write, accepted};
            c->nacc++;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

size_t lockcheck_leases(struct lockcheck *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->nlease;
    pthread_mutex_unlock(&c->mu);
    return n;
}

bool lockcheck_lease(struct lockcheck *c, size_t i, int64_t end, int *client, int64_t *from,
                     int64_t *to)
{
    pthread_mutex_lock(&c->mu);
    bool ok = i < c->nlease;
    if (ok) {
        const struct lc_lease *l = &c->lease[i];
        *client = l->client;
        *from = l->t_acq;
        *to = l->released ? l->t_rel : end > l->t_acq ? end : l->t_acq;
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

double lockcheck_grant_rate(struct lockcheck *c, int64_t from, int64_t end)
{
    size_t n = 0;
    int64_t first = 0, last = 0;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nlease; i++) {
        int64_t t = c->lease[i].t_acq;
        if (t < from || t > end)
            continue;
        if (n == 0 || t < first)
            first = t;
        if (n == 0 || t > last)
            last = t;
        n++;
    }
    pthread_mutex_unlock(&c->mu);
    return n >= 2 && last > first ? (double)(n - 1) / ((double)(last - first) / 1e9) : 0;
}

bool lockcheck_check(struct lockcheck *c)
{
    pthread_mutex_lock(&c->mu);
    bool ok = true;
    for (size_t i = 0; i < c->nlease && ok; i++)
        ok = !c->lease[i].released || c->lease[i].t_rel >= c->lease[i].t_acq;
    for (size_t i = 0; i < c->nacc && ok; i++)
        ok = c->acc[i].lease >= 0 && (size_t)c->acc[i].lease < c->nlease && c->acc[i].seq == i;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* ---- The result ------------------------------------------------------------------- */

static int by_start(const void *a, const void *b, void *ctx)
{
    const struct lc_lease *l = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int64_t ti = l[i].t_acq, tj = l[j].t_acq;
    return ti < tj ? -1 : ti > tj ? 1 : (i > j) - (i < j);
}

struct edge {
    int64_t t;
    int d; /* +1 start, -1 end; ends first at equal times (half-open intervals) */
};

static int by_edge(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t ? 1 : x->d - y->d;
}

static int by_time(const void *a, const void *b)
{
    const struct lc_access *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Pairs of different clients' leases that intersect, sweeping by start with the set of
 * leases still open: O(n log n + pairs + n * open). */
static uint64_t count_overlaps(const struct lc_lease *l, const int64_t *end, const size_t *order,
                               size_t n, size_t *active)
{
    uint64_t pairs = 0;
    size_t nact = 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        size_t keep = 0;
        for (size_t a = 0; a < nact; a++)
            if (end[active[a]] > l[i].t_acq)
                active[keep++] = active[a];
        nact = keep;
        if (end[i] <= l[i].t_acq)
            continue; /* an empty interval holds at no instant */
        for (size_t a = 0; a < nact; a++)
            pairs += l[active[a]].client != l[i].client;
        active[nact++] = i;
    }
    return pairs;
}

int lockcheck_result(struct lockcheck *c, int64_t end_t, int64_t final_counter,
                     struct lockcheck_result *out)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->nlease;
    memset(out, 0, sizeof(*out));
    out->leases = n;
    size_t *order = malloc((n + 1) * sizeof(*order));
    size_t *rank = malloc((n + 1) * sizeof(*rank));
    size_t *active = malloc((n + 1) * sizeof(*active));
    int64_t *end = malloc((n + 1) * sizeof(*end));
    struct edge *ev = malloc((2 * n + 1) * sizeof(*ev));
    struct lc_access *acc = malloc((c->nacc + 1) * sizeof(*acc));
    int rc = -ENOMEM;
    if (!order || !rank || !active || !end || !ev || !acc)
        goto out;
    const struct lc_lease *l = c->lease;
    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        end[i] = l[i].released ? l[i].t_rel : (end_t > l[i].t_acq ? end_t : l[i].t_acq);
    }
    qsort_r(order, n, sizeof(*order), by_start, (void *)l);
    for (size_t k = 0; k < n; k++)
        rank[order[k]] = k;

    out->overlaps = count_overlaps(l, end, order, n, active);

    size_t ne = 0;
    for (size_t i = 0; i < n; i++) {
        if (end[i] > l[i].t_acq) {
            ev[ne++] = (struct edge){l[i].t_acq, +1};
            ev[ne++] = (struct edge){end[i], -1};
        }
    }
    qsort(ev, ne, sizeof(*ev), by_edge);
    int holders = 0;
    for (size_t k = 0; k < ne; k++) {
        if (k > 0 && holders >= 2)
            out->overlap_ns += ev[k].t - ev[k - 1].t;
        holders += ev[k].d;
        if (holders > out->max_holders)
            out->max_holders = holders;
    }

    if (c->nacc)
        memcpy(acc, c->acc, c->nacc * sizeof(*acc));
    qsort(acc, c->nacc, sizeof(*acc), by_time);
    size_t maxrank = 0;
    bool any = false;
    for (size_t k = 0; k < c->nacc; k++) {
        const struct lc_access *a = &acc[k];
        if (!a->accepted) {
            *(a->write ? &out->rejected_writes : &out->rejected_reads) += 1;
            continue;
        }
        *(a->write ? &out->writes : &out->reads) += 1;
        size_t r = rank[a->lease];
        if (any && r < maxrank)
            *(a->write ? &out->stale_writes : &out->stale_reads) += 1;
        else
            maxrank = r;
        any = true;
    }

    for (size_t i = 0; i < n; i++) {
        if (!l[i].released || !l[i].deleted || rank[i] + 1 >= n)
            continue;
        const struct lc_lease *next = &l[order[rank[i] + 1]];
        out->foreign_deletes += next->t_acq <= l[i].t_rel && next->client != l[i].client;
    }
    out->lost_updates = (int64_t)out->writes - final_counter;
    rc = 0;
out:
    pthread_mutex_unlock(&c->mu);
    free(order);
    free(rank);
    free(active);
    free(end);
    free(ev);
    free(acc);
    return rc;
}

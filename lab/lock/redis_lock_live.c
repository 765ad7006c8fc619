/* redis_lock_live.c - the lock/redis workload's live world (redis_lock_wl.h): redis-servers
 * started on unix sockets (or the addresses in world.redis), client threads, and the
 * scenario's faults applied from the run's thread. Built only with hiredis. */
#include "lab/lock/redis_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "live/redis_hiredis.h"

enum act_kind { ACT_PAUSE_CLIENT, ACT_STOP, ACT_CONT, ACT_KILL, ACT_RESTART, ACT_STEP };

struct act {
    int64_t at;
    enum act_kind kind;
    int target; /* client or server index */
    int64_t arg;
};

struct acts {
    struct act *v;
    size_t n, cap;
};

static void act_add(struct acts *a, int64_t at, enum act_kind kind, int target, int64_t arg)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        struct act *v = realloc(a->v, cap * sizeof(*v));
        if (!v)
            return;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (struct act){at, kind, target, arg};
}

/* "client-3" -> 3 (below limit), "redis-1" -> 1; -1 otherwise. */
static int node_index(const char *name, const char *prefix, int limit)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0 || !name[pl])
        return -1;
    char *end;
    long v = strtol(name + pl, &end, 10);
    return *end || v < 0 || v >= limit ? -1 : (int)v;
}

/* The scenario's faults as actions of the run's thread; errors name the fault's place. */
static int live_faults(struct rl *w, struct acts *a, bool own_servers)
{
    struct lab_run *run = w->run;
    for (size_t i = 0; i < lab_fault_count(run); i++) {
        const struct lab_fault *f = lab_fault_get(run, i);
        const char *node = f->node ? f->node : "";
        int cl = node_index(node, "client-", w->clients);
        int sv = node_index(node, "redis-", w->servers);
        const char *why = NULL;
        switch (f->kind) {
        case LAB_FAULT_PAUSE:
            if (cl >= 0)
                act_add(a, f->at, ACT_PAUSE_CLIENT, cl, f->dur);
            else if (sv >= 0 && own_servers) {
                act_add(a, f->at, ACT_STOP, sv, 0);
                act_add(a, f->at + f->dur, ACT_CONT, sv, 0);
            } else
                why = sv >= 0 ? "a server given in world.redis cannot be paused"
                              : "pause needs client-K or redis-I";
            break;
        case LAB_FAULT_CRASH:
        case LAB_FAULT_RESTART:
            if (sv < 0 || !own_servers) {
                why = sv < 0 ? "only redis-I can crash or restart in the live world"
                             : "a server given in world.redis cannot be crashed";
                break;
            }
            act_add(a, f->at, f->kind == LAB_FAULT_CRASH ? ACT_KILL : ACT_RESTART, sv, 0);
            if (f->kind == LAB_FAULT_CRASH && f->dur > 0)
                act_add(a, f->at + f->dur, ACT_RESTART, sv, 0);
            break;
        case LAB_FAULT_CLOCK_STEP:
            if (strncmp(node, "client-", 7) != 0)
                why = "the live world can only step the clients' clock (all at once)";
            else
                act_add(a, f->at, ACT_STEP, 0, f->step);
            break;
        default:
            why = "drift and partitions need the simulated world";
            break;
        }
        if (why) {
            lab_fail(run, "%d:%d: %s ('%s')", f->line, f->col, why, node);
            return -EINVAL;
        }
    }
    if (w->hfault == HF_CRASH && !own_servers) {
        lab_fail(run, "holder_fault: crash-master needs servers distlab starts itself (no "
                      "world.redis)");
        return -EINVAL;
    }
    return 0;
}

static int by_at(const void *x, const void *y)
{
    const struct act *a = x, *b = y;
    return a->at < b->at ? -1 : a->at > b->at;
}

static void do_act(struct rl *w, const struct act *a)
{
    switch (a->kind) {
    case ACT_PAUSE_CLIENT:
        live_pause(w->lw, w->client[a->target].prefix, a->arg);
        break;
    case ACT_STOP:
        live_cluster_pause(w->srv, a->target);
        break;
    case ACT_CONT:
        live_cluster_resume(w->srv, a->target);
        break;
    case ACT_KILL:
        live_cluster_kill(w->srv, a->target);
        break;
    case ACT_RESTART:
        live_cluster_restart(w->srv, a->target, true, NULL, 0);
        break;
    case ACT_STEP:
        live_clock_step(w->lw, a->arg);
        break;
    }
}

static void client_main_live(struct env *e, void *arg)
{
    struct rl_client *c = arg;
    c->lock = rl_make_lock(c->w, e);
    if (!c->lock) {
        c->done = true;
        return;
    }
    rl_client_loop(e, c);
    rlock_destroy(c->lock);
    c->lock = NULL;
}

static void nap_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Start (or find) the servers, run the clients for the duration while applying faults
 * from this thread (which also starts and restarts servers: they die with it), stop. */
int rl_run_live(struct rl *w)
{
    struct lab_run *run = w->run;
    const char *given = lab_world_str(run, "redis");
    struct acts acts = {0};
    int rc = live_faults(w, &acts, given == NULL);
    if (rc < 0)
        goto out;
    if (given) {
        const char *p = given;
        for (int i = 0; i < w->servers; i++) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof(w->addr[i])) {
                lab_fail(run, "world.redis: %d address(es) needed (comma-separated), got '%s'",
                         w->servers, given);
                rc = -EINVAL;
                goto out;
            }
            memcpy(w->addr[i], p, len);
            w->addr[i][len] = 0;
            p += len + (p[len] == ',');
        }
    } else {
        char err[2048];
        rc = live_cluster_start(LIVE_REDIS, w->servers, NULL, &w->srv, err, sizeof(err));
        if (rc < 0) {
            lab_fail(run, "cannot start redis-server: %s", err);
            rc = -ECONNREFUSED;
            goto out;
        }
        for (int i = 0; i < w->servers; i++)
            snprintf(w->addr[i], sizeof(w->addr[i]), "%s", live_cluster_addr(w->srv, i));
    }
    for (int i = 0; i < w->servers; i++) {
        struct redis *r = live_redis_connect(w->addr[i], w->call_timeout);
        rc = r ? redis_del(r, "counter_lock") : -EINVAL; /* leftovers on a given server */
        if (rc >= 0)
            rc = redis_del(r, "counter_lock:fence");
        redis_close(r);
        if (rc < 0) {
            lab_fail(run, "cannot reach Redis at %s: %s", w->addr[i], strerror(-rc));
            rc = rc == -EINVAL ? -EINVAL : -ECONNREFUSED;
            goto out;
        }
    }
    w->lw = live_world_create(lab_seed(run));
    if (!w->lw) {
        rc = -ENOMEM;
        lab_fail(run, "out of memory");
        goto out;
    }
    lockres_live(w->res);
    for (int k = 0; k < w->clients; k++) {
        char name[48];
        snprintf(name, sizeof(name), "client-%d/main", k);
        if ((rc = live_spawn(w->lw, name, client_main_live, &w->client[k], NULL)) < 0) {
            atomic_store(&w->stop, true);
            lab_fail(run, "cannot start a client thread: %s", strerror(-rc));
            goto out;
        }
    }
    if (acts.n)
        qsort(acts.v, acts.n, sizeof(*acts.v), by_at);
    size_t next = 0;
    int64_t now;
    while ((now = rl_true_now(w, NULL)) < w->duration) {
        while (next < acts.n && acts.v[next].at <= now)
            do_act(w, &acts.v[next++]);
        if (atomic_exchange(&w->crash_req, 0)) {
            for (int i = 0; i < w->fault_servers; i++) {
                live_cluster_kill(w->srv, i);
                if (w->fault_for > 0) {
                    act_add(&acts, now + w->fault_for, ACT_RESTART, i, 0);
                    if (acts.n > next)
                        qsort(acts.v + next, acts.n - next, sizeof(*acts.v), by_at);
                }
            }
        }
        lab_progress(run, (double)now / (double)w->duration);
        nap_ms(1);
    }
    atomic_store(&w->stop, true);
    for (int i = 0; w->srv && i < w->servers; i++) /* paused servers answer the last calls */
        live_cluster_resume(w->srv, i);
    live_join_all(w->lw);
    rc = rl_report(w, rl_true_now(w, NULL));
out:
    atomic_store(&w->stop, true);
    if (w->lw) {
        live_world_destroy(w->lw);
        w->lw = NULL;
    }
    live_cluster_stop(w->srv);
    free(acts.v);
    return rc;
}

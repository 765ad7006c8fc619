/* env_live.c - struct env on threads and the system clock. Nothing here is simulated:
 * env_work spins a real core, env_sleep really sleeps. Thread-safe where env.h says a
 * world is shared (mutexes, conditions, the store, spawning); each env is its thread's. */
#include "live/live.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ATEXIT 8

/* A node: what the world's faults reach (live.h). Its clock is the system's plus an
 * offset and a drift; a crash bumps 'gen', and every actor spawned under an older
 * generation stops at its next env call. */
struct live_node {
    struct live_node *next;
    char *name;
    pthread_mutex_t clock_mu; /* offset, ppm, since */
    int64_t offset;           /* ns added to the real clock at 'since' */
    int64_t mono_drift;       /* ns the monotonic clock gained by drift before 'since' */
    double ppm;               /* drift from 'since' on */
    int64_t since;            /* real CLOCK_REALTIME when the drift last changed */
    _Atomic int gen;          /* crash generation */
    atomic_bool up;
    char *main_name;
    env_fn main_fn;
    void *main_arg;
};

struct live_actor {
    struct env env;
    struct live_world *w;
    struct live_actor *next;
    struct live_node *node; /* NULL: not on a node */
    int gen;                /* node->gen at spawn */
    char *name;
    env_fn fn;
    void *arg;
    struct rng rng;
    pthread_t thread;
    bool started;
    enum { NOT_JOINED, JOINING, JOINED } join; /* under the world's lock */
    uint64_t id;
    _Atomic int64_t pause_ns; /* injected: the next env call sleeps this long first */
    int natexit;
    struct {
        void (*fn)(void *);
        void *arg;
    } atexit[MAX_ATEXIT];
};

struct kv {
    struct kv *next;
    char *key;
    size_t len;
    unsigned char *val;
};

struct live_world {
    uint64_t seed;
    pthread_mutex_t lock;  /* actors list, nodes list, store */
    pthread_cond_t joined; /* an actor's join is done */
    struct live_actor *actors;
    struct live_node *nodes;
    uint64_t next_id;
    _Atomic int64_t offset;
    struct kv *store;
    struct live_actor self; /* the workload's own thread */
};

static const struct env_ops live_env_ops;

static int64_t ts_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t live_true_now(void)
{
    return ts_ns(CLOCK_REALTIME);
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
        ;
}

static struct live_actor *act(struct env *e)
{
    return (struct live_actor *)(void *)e;
}

/* Run the actor's exit handlers, last registered first, once. */
static void run_atexit(struct live_actor *a)
{
    while (a->natexit > 0) {
        a->natexit--;
        a->atexit[a->natexit].fn(a->atexit[a->natexit].arg);
    }
}

/* Every env call passes here first: an injected pause takes effect now, and an actor
 * whose node crashed since it was spawned ends here, its exit handlers run. */
static void checkpoint(struct live_actor *a)
{
    int64_t p = atomic_exchange(&a->pause_ns, 0);
    if (p > 0)
        sleep_ns(p);
    if (a->node && atomic_load(&a->node->gen) != a->gen) {
        run_atexit(a);
        pthread_exit(NULL);
    }
}

/* The node's clock offset at real time 'real' (0 without a node). */
static int64_t node_offset(struct live_node *n, int64_t real)
{
    if (!n)
        return 0;
    pthread_mutex_lock(&n->clock_mu);
    int64_t off = n->offset + (int64_t)((double)(real - n->since) * n->ppm * 1e-6);
    pthread_mutex_unlock(&n->clock_mu);
    return off;
}

static int64_t l_now(struct env *e)
{
    struct live_actor *a = act(e);
    checkpoint(a);
    int64_t real = ts_ns(CLOCK_REALTIME);
    return real + atomic_load(&a->w->offset) + node_offset(a->node, real);
}

/* The monotonic clock drifts with the node's clock (a fast oscillator runs both fast);
 * steps move the wall clock only. */
static int64_t l_mono(struct env *e)
{
    struct live_actor *a = act(e);
    checkpoint(a);
    int64_t mono = ts_ns(CLOCK_MONOTONIC);
    if (!a->node)
        return mono;
    struct live_node *n = a->node;
    pthread_mutex_lock(&n->clock_mu);
    double ppm = n->ppm;
    int64_t since = n->since, drifted = n->mono_drift;
    pthread_mutex_unlock(&n->clock_mu);
    return mono + drifted + (int64_t)((double)(ts_ns(CLOCK_REALTIME) - since) * ppm * 1e-6);
}

/* A crash must stop an actor that waits, not only one that calls: an actor on a node
 * waits in slices of CRASH_SLICE_NS and looks between them. */
#define CRASH_SLICE_NS 10000000LL

static bool crashed(const struct live_actor *a)
{
    return a->node && atomic_load(&a->node->gen) != a->gen;
}

/* End the calling actor where it stands: its exit handlers run, its thread exits. If it
 * waited on a condition, it gives the mutex back first ('held', or NULL). */
static void die(struct live_actor *a, pthread_mutex_t *held)
{
    if (held)
        pthread_mutex_unlock(held);
    run_atexit(a);
    pthread_exit(NULL);
}

static void l_sleep(struct env *e, int64_t ns)
{
    struct live_actor *a = act(e);
    checkpoint(a);
    if (ns <= 0) {
        sched_yield();
        return;
    }
    if (!a->node) {
        sleep_ns(ns);
        return;
    }
    int64_t end = ts_ns(CLOCK_MONOTONIC) + ns, left;
    while ((left = end - ts_ns(CLOCK_MONOTONIC)) > 0) {
        sleep_ns(left < CRASH_SLICE_NS ? left : CRASH_SLICE_NS);
        if (crashed(a))
            die(a, NULL);
    }
}

static uint64_t l_rand(struct env *e)
{
    return rng_next(&act(e)->rng);
}

static void l_work(struct env *e, int64_t ns)
{
    checkpoint(act(e));
    int64_t end = ts_ns(CLOCK_THREAD_CPUTIME_ID) + ns;
    while (ts_ns(CLOCK_THREAD_CPUTIME_ID) < end)
        ;
}

static void l_yield(struct env *e)
{
    checkpoint(act(e));
    sched_yield();
}

static const char *l_name(struct env *e)
{
    return act(e)->name;
}

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(struct env_mutex), "env_mutex too small");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(struct env_cond), "env_cond too small");

static pthread_mutex_t *pm(struct env_mutex *m)
{
    return (pthread_mutex_t *)(void *)m->opaque;
}
static pthread_cond_t *pc(struct env_cond *c)
{
    return (pthread_cond_t *)(void *)c->opaque;
}

static int l_mutex_init(struct env *e, struct env_mutex *m)
{
    return -pthread_mutex_init(pm(m), NULL);
}
static void l_mutex_lock(struct env *e, struct env_mutex *m)
{
    struct live_actor *a = act(e);
    checkpoint(a);
    if (!a->node) {
        pthread_mutex_lock(pm(m));
        return;
    }
    /* Its holder may be an actor of this node that a crash ended with the mutex held. */
    for (;;) {
        int64_t end = ts_ns(CLOCK_REALTIME) + CRASH_SLICE_NS;
        struct timespec ts = {(time_t)(end / 1000000000LL), (long)(end % 1000000000LL)};
        if (pthread_mutex_timedlock(pm(m), &ts) == 0)
            return;
        if (crashed(a))
            die(a, NULL);
    }
}
static bool l_mutex_trylock(struct env *e, struct env_mutex *m)
{
    checkpoint(act(e));
    return pthread_mutex_trylock(pm(m)) == 0;
}
static void l_mutex_unlock(struct env *e, struct env_mutex *m)
{
    pthread_mutex_unlock(pm(m));
}
static void l_mutex_destroy(struct env *e, struct env_mutex *m)
{
    pthread_mutex_destroy(pm(m));
}

static int l_cond_init(struct env *e, struct env_cond *c)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(pc(c), &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

static int l_cond_wait(struct env *e, struct env_cond *c, struct env_mutex *m, int64_t timeout_ns)
{
    struct live_actor *a = act(e);
    if (crashed(a))
        die(a, pm(m));
    checkpoint(a);
    if (timeout_ns < 0 && !a->node)
        return -pthread_cond_wait(pc(c), pm(m));
    int64_t now = ts_ns(CLOCK_MONOTONIC);
    int64_t end = timeout_ns < 0 ? INT64_MAX : now + timeout_ns;
    for (;;) {
        int64_t until = end;
        if (a->node && end - now > CRASH_SLICE_NS)
            until = now + CRASH_SLICE_NS;
        struct timespec ts = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
        int rc = pthread_cond_timedwait(pc(c), pm(m), &ts);
        if (crashed(a))
            die(a, pm(m));
        if (rc != ETIMEDOUT)
            return -rc; /* signalled (or spuriously woken: callers loop) */
        now = ts_ns(CLOCK_MONOTONIC);
        if (now >= end)
            return -ETIMEDOUT;
    }
}

static void l_cond_signal(struct env *e, struct env_cond *c, bool all)
{
    if (all)
        pthread_cond_broadcast(pc(c));
    else
        pthread_cond_signal(pc(c));
}

static void l_cond_destroy(struct env *e, struct env_cond *c)
{
    pthread_cond_destroy(pc(c));
}

static void *trampoline(void *p)
{
    struct live_actor *a = p;
    a->fn(&a->env, a->arg);
    run_atexit(a);
    return NULL;
}

/* Spawn an actor on 'node' (NULL: none) under the node's current generation. */
static int spawn_on(struct live_world *w, struct live_node *node, const char *name, env_fn fn,
                    void *arg, uint64_t *handle)
{
    struct live_actor *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->env.ops = &live_env_ops;
    a->w = w;
    a->node = node;
    a->gen = node ? atomic_load(&node->gen) : 0;
    a->fn = fn;
    a->arg = arg;
    a->name = strdup(name ? name : "thread");
    if (!a->name) {
        free(a);
        return -ENOMEM;
    }
    pthread_mutex_lock(&w->lock);
    a->id = ++w->next_id;
    rng_seed_stream(&a->rng, w->seed, a->id);
    a->next = w->actors;
    w->actors = a;
    int rc = pthread_create(&a->thread, NULL, trampoline, a);
    a->started = rc == 0;
    pthread_mutex_unlock(&w->lock);
    if (rc)
        return -rc;
    if (handle)
        *handle = a->id;
    return 0;
}

int live_spawn(struct live_world *w, const char *name, env_fn fn, void *arg, uint64_t *handle)
{
    return spawn_on(w, NULL, name, fn, arg, handle);
}

/* Join a's thread once, with w->lock held (released while joining). Two threads may join
 * one actor at once (a client joins its keepalive thread while the world joins every
 * thread): the first claims the join, the second waits until it is done, as two
 * pthread_join of one thread would be undefined. */
static void join_locked(struct live_world *w, struct live_actor *a)
{
    if (!a->started)
        return;
    if (a->join == NOT_JOINED) {
        a->join = JOINING;
        pthread_mutex_unlock(&w->lock);
        pthread_join(a->thread, NULL);
        pthread_mutex_lock(&w->lock);
        a->join = JOINED;
        pthread_cond_broadcast(&w->joined);
    }
    while (a->join != JOINED)
        pthread_cond_wait(&w->joined, &w->lock);
}

void live_join(struct live_world *w, uint64_t handle)
{
    pthread_mutex_lock(&w->lock);
    struct live_actor *a = w->actors;
    while (a && a->id != handle)
        a = a->next;
    if (a)
        join_locked(w, a);
    pthread_mutex_unlock(&w->lock);
}

void live_join_all(struct live_world *w)
{
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct live_actor *todo = NULL;
        for (struct live_actor *a = w->actors; a && !todo; a = a->next)
            if (a->started && a->join != JOINED)
                todo = a;
        if (!todo)
            break;
        join_locked(w, todo);
    }
    pthread_mutex_unlock(&w->lock);
}

/* A child belongs to its parent's node: a node's faults reach the threads it started. */
static int l_spawn(struct env *e, const char *name, env_fn fn, void *arg, uint64_t *handle)
{
    struct live_actor *a = act(e);
    checkpoint(a);
    return spawn_on(a->w, a->node, name, fn, arg, handle);
}

static void l_join(struct env *e, uint64_t handle)
{
    checkpoint(act(e));
    live_join(act(e)->w, handle);
}

static int l_store_get(struct env *e, const char *key, void *buf, size_t cap, size_t *len)
{
    struct live_world *w = act(e)->w;
    int rc = -ENOENT;
    pthread_mutex_lock(&w->lock);
    for (struct kv *kv = w->store; kv; kv = kv->next) {
        if (strcmp(kv->key, key) == 0) {
            memcpy(buf, kv->val, kv->len < cap ? kv->len : cap);
            if (len)
                *len = kv->len;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return rc;
}

static int l_store_put(struct env *e, const char *key, const void *buf, size_t len)
{
    struct live_world *w = act(e)->w;
    unsigned char *val = malloc(len ? len : 1);
    if (!val)
        return -ENOMEM;
    memcpy(val, buf, len);
    pthread_mutex_lock(&w->lock);
    struct kv *kv = w->store;
    while (kv && strcmp(kv->key, key) != 0)
        kv = kv->next;
    if (!kv && (kv = calloc(1, sizeof(*kv))) && !(kv->key = strdup(key))) {
        free(kv);
        kv = NULL;
    }
    if (!kv) {
        pthread_mutex_unlock(&w->lock);
        free(val);
        return -ENOMEM;
    }
    if (!kv->val) {
        kv->next = w->store;
        w->store = kv;
    }
    free(kv->val);
    kv->val = val;
    kv->len = len;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

static const struct env_ops live_env_ops = {
    .now = l_now,
    .mono = l_mono,
    .sleep = l_sleep,
    .rand = l_rand,
    .work = l_work,
    .yield = l_yield,
    .name = l_name,
    .mutex_init = l_mutex_init,
    .mutex_lock = l_mutex_lock,
    .mutex_trylock = l_mutex_trylock,
    .mutex_unlock = l_mutex_unlock,
    .mutex_destroy = l_mutex_destroy,
    .cond_init = l_cond_init,
    .cond_wait = l_cond_wait,
    .cond_signal = l_cond_signal,
    .cond_destroy = l_cond_destroy,
    .spawn = l_spawn,
    .join = l_join,
    .store_get = l_store_get,
    .store_put = l_store_put,
};

struct live_world *live_world_create(uint64_t seed)
{
    struct live_world *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->seed = seed;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->joined, NULL);
    w->self.env.ops = &live_env_ops;
    w->self.w = w;
    w->self.name = "main";
    rng_seed_stream(&w->self.rng, seed, 0);
    return w;
}

struct env *live_world_env(struct live_world *w)
{
    return &w->self.env;
}

int live_pause(struct live_world *w, const char *prefix, int64_t dur)
{
    int n = 0;
    pthread_mutex_lock(&w->lock);
    for (struct live_actor *a = w->actors; a; a = a->next) {
        if (strncmp(a->name, prefix, strlen(prefix)) == 0) {
            atomic_fetch_add(&a->pause_ns, dur);
            n++;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return n;
}

void live_clock_step(struct live_world *w, int64_t step)
{
    atomic_fetch_add(&w->offset, step);
}

void live_world_destroy(struct live_world *w)
{
    if (!w)
        return;
    live_join_all(w);
    for (struct live_actor *a = w->actors, *next; a; a = next) {
        next = a->next;
        free(a->name);
        free(a);
    }
    for (struct live_node *n = w->nodes, *next; n; n = next) {
        next = n->next;
        pthread_mutex_destroy(&n->clock_mu);
        free(n->name);
        free(n->main_name);
        free(n);
    }
    for (struct kv *kv = w->store, *next; kv; kv = next) {
        next = kv->next;
        free(kv->key);
        free(kv->val);
        free(kv);
    }
    pthread_cond_destroy(&w->joined);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

/* ---- Nodes ---------------------------------------------------------------------- */

static struct live_node *node_find(struct live_world *w, const char *name)
{
    pthread_mutex_lock(&w->lock);
    struct live_node *n = w->nodes;
    while (n && strcmp(n->name, name) != 0)
        n = n->next;
    pthread_mutex_unlock(&w->lock);
    return n;
}

int live_node_create(struct live_world *w, const char *node, const char *name, env_fn fn, void *arg)
{
    if (!node || !fn || node_find(w, node))
        return -EINVAL;
    struct live_node *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->name = strdup(node);
    if (asprintf(&n->main_name, "%s/%s", node, name ? name : "main") < 0)
        n->main_name = NULL;
    if (!n->name || !n->main_name) {
        free(n->name);
        free(n->main_name);
        free(n);
        return -ENOMEM;
    }
    pthread_mutex_init(&n->clock_mu, NULL);
    n->since = ts_ns(CLOCK_REALTIME);
    n->main_fn = fn;
    n->main_arg = arg;
    pthread_mutex_lock(&w->lock);
    n->next = w->nodes;
    w->nodes = n;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

int live_node_main(struct live_world *w, const char *node, const char *name, env_fn fn, void *arg)
{
    int rc = live_node_create(w, node, name, fn, arg);
    return rc < 0 ? rc : live_node_restart(w, node);
}

bool live_node_exists(struct live_world *w, const char *node)
{
    return node_find(w, node) != NULL;
}

int live_node_pause(struct live_world *w, const char *node, int64_t dur)
{
    struct live_node *n = node_find(w, node);
    if (!n || dur <= 0)
        return -EINVAL;
    pthread_mutex_lock(&w->lock);
    for (struct live_actor *a = w->actors; a; a = a->next)
        if (a->node == n)
            atomic_fetch_add(&a->pause_ns, dur);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

/* Fold the drift so far into the offsets, then apply a step and a new drift. */
static void clock_change(struct live_node *n, int64_t step, bool set_ppm, double ppm)
{
    pthread_mutex_lock(&n->clock_mu);
    int64_t real = ts_ns(CLOCK_REALTIME);
    int64_t gained = (int64_t)((double)(real - n->since) * n->ppm * 1e-6);
    n->offset += gained + step;
    n->mono_drift += gained;
    n->since = real;
    if (set_ppm)
        n->ppm = ppm;
    pthread_mutex_unlock(&n->clock_mu);
}

int live_node_clock_step(struct live_world *w, const char *node, int64_t step)
{
    struct live_node *n = node_find(w, node);
    if (!n)
        return -EINVAL;
    clock_change(n, step, false, 0);
    return 0;
}

int live_node_drift(struct live_world *w, const char *node, double ppm)
{
    struct live_node *n = node_find(w, node);
    if (!n || !(ppm > -1e5 && ppm < 1e5))
        return -EINVAL;
    clock_change(n, 0, true, ppm);
    return 0;
}

int live_node_crash(struct live_world *w, const char *node)
{
    struct live_node *n = node_find(w, node);
    if (!n)
        return -EINVAL;
    if (atomic_exchange(&n->up, false))
        atomic_fetch_add(&n->gen, 1);
    return 0;
}

int live_node_restart(struct live_world *w, const char *node)
{
    struct live_node *n = node_find(w, node);
    if (!n)
        return -EINVAL;
    if (atomic_exchange(&n->up, true))
        return 0; /* running: nothing to do, as in the simulated world */
    return spawn_on(w, n, n->main_name, n->main_fn, n->main_arg, NULL);
}

int live_env_atexit(struct env *e, void (*fn)(void *arg), void *arg)
{
    struct live_actor *a = act(e);
    if (!fn || a->natexit == MAX_ATEXIT || a == &a->w->self)
        return -EINVAL;
    a->atexit[a->natexit].fn = fn;
    a->atexit[a->natexit].arg = arg;
    a->natexit++;
    return 0;
}

/* engine.c - the event loop, nodes and their clocks, the CPU model, and the env that
 * simulated actors see (the faults it runs are in fault.c). Single-threaded per world;
 * several worlds may run on several threads at once (nothing here is global but the
 * current world per thread).
 *
 * The CPU model: an actor executes code in zero virtual time, except env_work(ns),
 * which needs one of its node's cores for ns. An actor holds a core from the moment it
 * becomes runnable until it blocks (sleep, receive, lock, condition, join) or its slice
 * runs out while others wait; runnable actors beyond the cores wait in the node's run
 * queue in FIFO order. So spinners steal time from a lock holder exactly as on a real
 * machine with a round-robin scheduler. */
#include "sim/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Virtual time 0 is 2026-01-01T00:00:00Z on every node's wall clock (before offsets),
 * and every monotonic clock starts at 1000 s of uptime. */
#define SIM_EPOCH_WALL (1767225600LL * SIM_S)
#define SIM_MONO_START (1000LL * SIM_S)

static const struct env_ops sim_env_ops;

/* ---- Actor queues --------------------------------------------------------------------- */

void sim__aq_push(struct sim__aq *q, struct sim_actor *a)
{
    a->q = q;
    a->q_next = NULL;
    a->q_prev = q->tail;
    if (q->tail)
        q->tail->q_next = a;
    else
        q->head = a;
    q->tail = a;
}

void sim__aq_remove(struct sim_actor *a)
{
    struct sim__aq *q = a->q;
    if (!q)
        return;
    if (a->q_prev)
        a->q_prev->q_next = a->q_next;
    else
        q->head = a->q_next;
    if (a->q_next)
        a->q_next->q_prev = a->q_prev;
    else
        q->tail = a->q_prev;
    a->q = NULL;
    a->q_next = a->q_prev = NULL;
}

struct sim_actor *sim__aq_pop(struct sim__aq *q)
{
    struct sim_actor *a = q->head;
    if (a)
        sim__aq_remove(a);
    return a;
}

/* ---- Errors and the event hash ----------------------------------------------------- */

void sim__fail(struct sim *sim, enum sim_stop why, const char *fmt, ...)
{
    if (sim->stopping && sim->stop != SIM_STOP_TIME)
        return; /* keep the first reason */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->error, sizeof(sim->error), fmt, ap);
    va_end(ap);
    sim->stop = why;
    sim->stopping = true;
}

void sim_stop(struct sim *sim, const char *why)
{
    sim__fail(sim, SIM_STOP_ERROR, "%s", why ? why : "stopped");
}

const char *sim_error(const struct sim *sim)
{
    return sim->error;
}

void sim__event_hash(struct sim *sim, int64_t when, int64_t actor, int kind)
{
    uint64_t h = sim->hash;
    h = (h ^ (uint64_t)when) * 0x100000001b3ULL;
    h = (h ^ ((uint64_t)actor << 8 | (uint64_t)kind)) * 0x9e3779b97f4a7c15ULL;
    sim->hash = h ^ (h >> 29);
}

/* ---- Creation ---------------------------------------------------------------------- */

struct sim *sim_create(const struct sim_config *cfg)
{
    struct sim *sim = calloc(1, sizeof(*sim));
    if (!sim)
        return NULL;
    if (cfg)
        sim->cfg = *cfg;
    if (sim->cfg.stack_size == 0)
        sim->cfg.stack_size = 128 * 1024;
    if (sim->cfg.slice_ns <= 0)
        sim->cfg.slice_ns = 4 * SIM_MS;
    if (sim->cfg.hang_yields == 0)
        sim->cfg.hang_yields = 1000000;
    sim->next_actor_id = 1;
    sim->hash = 0xcbf29ce484222325ULL ^ rng_mix(sim->cfg.seed);
    rng_seed_stream(&sim->net_rng, sim->cfg.seed, UINT64_MAX);
    evq_init(&sim->events);
    sim->stacks = sim__stackpool_create(sim->cfg.stack_size, sim->cfg.stack_watermark);
    if (!sim->stacks) {
        free(sim);
        return NULL;
    }
    return sim;
}

/* sim_at's events come from blocks of CALLS_PER_BLOCK, kept on a free list when they
 * have run (calls are never cancelled, so a reused one has no entry left in the queue);
 * the blocks go when the world does. */
struct sim__call {
    struct sim__event ev;
    struct sim__call *next_free;
    void (*fn)(struct sim *, void *);
    void *arg;
};
#define CALLS_PER_BLOCK 256
struct sim__call_block {
    struct sim__call_block *next;
    struct sim__call call[CALLS_PER_BLOCK];
};

void sim_destroy(struct sim *sim)
{
    if (!sim)
        return;
    sim->destroying = true;
    /* The queue first: its cleanup touches no node, and cancels after it are no-ops. */
    evq_cleanup(&sim->events);
    for (int i = 0; i < sim->nnodes; i++) {
        struct sim__node *n = &sim->nodes[i];
        while (n->actors)
            sim__actor_destroy(sim, n->actors);
        for (struct sim__kv *kv = n->store, *next; kv; kv = next) {
            next = kv->next;
            free(kv->key);
            free(kv->val);
            free(kv);
        }
        free(n->name);
        free(n->main_name);
    }
    free(sim->nodes);
    sim__faults_free(sim);
    for (struct sim__call_block *b = sim->call_blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    sim__net_cleanup(sim);
    sim__map_free(&sim->ports);
    sim__stackpool_destroy(sim->stacks);
    free(sim);
}

/* ---- Nodes and clocks -------------------------------------------------------------- */

struct sim__node *sim__node_get(const struct sim *sim, int node)
{
    return node >= 0 && node < sim->nnodes ? &sim->nodes[node] : NULL;
}

int sim_node_add(struct sim *sim, const char *name, int cores)
{
    if (!name || !*name || cores < 1)
        return -EINVAL;
    if (sim_node_find(sim, name) >= 0)
        return -EEXIST;
    if (sim->nnodes == sim->cap_nodes) {
        int cap = sim->cap_nodes ? sim->cap_nodes * 2 : 8;
        struct sim__node *nodes = realloc(sim->nodes, sizeof(*nodes) * (size_t)cap);
        if (!nodes)
            return -ENOMEM;
        sim->nodes = nodes;
        sim->cap_nodes = cap;
    }
    struct sim__node *n = &sim->nodes[sim->nnodes];
    memset(n, 0, sizeof(*n));
    n->name = strdup(name);
    if (!n->name)
        return -ENOMEM;
    n->cores = cores;
    n->up = true;
    n->clock.base_true = sim->now;
    n->clock.base_wall = SIM_EPOCH_WALL + sim->now;
    n->clock.base_mono = SIM_MONO_START + sim->now;
    return sim->nnodes++;
}

int sim_node_find(const struct sim *sim, const char *name)
{
    for (int i = 0; i < sim->nnodes; i++)
        if (strcmp(sim->nodes[i].name, name) == 0)
            return i;
    return -ENOENT;
}

int sim_node_count(const struct sim *sim)
{
    return sim->nnodes;
}

const char *sim_node_name(const struct sim *sim, int node)
{
    const struct sim__node *n = sim__node_get(sim, node);
    return n ? n->name : NULL;
}

bool sim_node_up(const struct sim *sim, int node)
{
    const struct sim__node *n = sim__node_get(sim, node);
    return n && n->up;
}

static int64_t clock_read(const struct sim__clock *c, int64_t base, int64_t t)
{
    int64_t d = t - c->base_true;
    return base + d + (int64_t)llround((double)d * c->ppm * 1e-6);
}

/* Start a new linear piece of the clock at the current time (before a step or a drift
 * change), so that what was shown so far does not move. */
void sim__clock_rebase(struct sim__clock *c, int64_t t)
{
    c->base_wall = clock_read(c, c->base_wall, t);
    c->base_mono = clock_read(c, c->base_mono, t);
    c->base_true = t;
}

int64_t sim_node_wall(const struct sim *sim, int node)
{
    const struct sim__node *n = sim__node_get(sim, node);
    return n ? clock_read(&n->clock, n->clock.base_wall, sim->now) : 0;
}

int64_t sim_node_mono(const struct sim *sim, int node)
{
    const struct sim__node *n = sim__node_get(sim, node);
    return n ? clock_read(&n->clock, n->clock.base_mono, sim->now) : 0;
}

int sim_clock_set(struct sim *sim, int node, int64_t offset_ns, double drift_ppm)
{
    struct sim__node *n = sim__node_get(sim, node);
    if (!n || !(drift_ppm > -1e5 && drift_ppm < 1e5))
        return -EINVAL;
    sim__clock_rebase(&n->clock, sim->now);
    n->clock.base_wall = SIM_EPOCH_WALL + sim->now + offset_ns;
    n->clock.ppm = drift_ppm;
    return 0;
}

/* True duration of mono_ns on this node's monotonic clock, rounded up. */
int64_t sim__mono_to_true(const struct sim__node *n, int64_t mono_ns)
{
    if (n->clock.ppm == 0)
        return mono_ns;
    double t = ceil((double)mono_ns / (1.0 + n->clock.ppm * 1e-6));
    return t < 1 ? 1 : (int64_t)t;
}

int sim_node_store_latency(struct sim *sim, int node, int64_t ns)
{
    struct sim__node *n = sim__node_get(sim, node);
    if (!n || ns < 0)
        return -EINVAL;
    n->store_latency = ns;
    return 0;
}

/* ---- Timers of actors ------------------------------------------------------------- */

int sim__event_push(struct sim *sim, struct sim__event *ev, int64_t at)
{
    return evq_push(&sim->events, &ev->q, at);
}

void sim__timer_set(struct sim *sim, struct sim_actor *a, int kind, int64_t at)
{
    evq_cancel(&sim->events, &a->timer.q);
    a->timer.kind = (uint8_t)kind;
    if (evq_push(&sim->events, &a->timer.q, at < sim->now ? sim->now : at) < 0)
        sim__fail(sim, SIM_STOP_ERROR, "out of memory scheduling actor '%s'", a->name);
}

void sim__timer_cancel(struct sim *sim, struct sim_actor *a)
{
    evq_cancel(&sim->events, &a->timer.q);
}

/* ---- The CPU model ----------------------------------------------------------------- */

/* Run the actor's current CPU work for at most what is left of its slice. */
static void work_chunk(struct sim *sim, struct sim_actor *a)
{
    int64_t chunk = a->work_left;
    int64_t slice_left = sim->cfg.slice_ns - a->slice_used;
    if (chunk > slice_left)
        chunk = slice_left > 0 ? slice_left : 1;
    a->chunk_start = sim->now;
    a->chunk_len = chunk;
    sim__timer_set(sim, a, SIM__EV_WORK, sim->now + chunk);
}


/* Continue the actor's CPU work; if its slice has run out and another actor waits for
 * a core, it goes to the back of the run queue with the work it has left. */
static void start_work(struct sim *sim, struct sim_actor *a)
{
    if (a->slice_used >= sim->cfg.slice_ns) {
        struct sim__node *n = &sim->nodes[a->node];
        a->slice_used = 0;
        if (n->runq.head) {
            a->state = SIM__QUEUED;
            sim__aq_push(&n->runq, a);
            a->has_core = false;
            n->busy--;
            sim__fill_cores(sim, n);
            return;
        }
    }
    work_chunk(sim, a);
}

/* 'a' has just been given a core: carry on with its work, or let it execute. */
void sim__dispatch(struct sim *sim, struct sim_actor *a)
{
    a->state = SIM__RUNNING;
    a->has_core = true;
    if (a->work_left > 0)
        work_chunk(sim, a);
    else
        sim__aq_push(&sim->ready, a);
}

/* Hand free cores of a running node to actors waiting in its run queue. */
void sim__fill_cores(struct sim *sim, struct sim__node *n)
{
    while (!n->paused && n->busy < n->cores && n->runq.head) {
        struct sim_actor *b = sim__aq_pop(&n->runq);
        n->busy++;
        b->slice_used = 0;
        sim__dispatch(sim, b);
    }
}

static void release_core(struct sim *sim, struct sim_actor *a)
{
    if (!a->has_core)
        return;
    struct sim__node *n = &sim->nodes[a->node];
    a->has_core = false;
    n->busy--;
    sim__fill_cores(sim, n);
}

void sim__make_runnable(struct sim *sim, struct sim_actor *a)
{
    struct sim__node *n = &sim->nodes[a->node];
    if (a->state == SIM__DEAD || a->state == SIM__RUNNING || a->state == SIM__QUEUED ||
        a->state == SIM__HELD)
        return;
    sim__timer_cancel(sim, a);
    if (n->paused) {
        a->state = SIM__HELD;
        sim__aq_push(&n->held, a);
    } else if (n->busy < n->cores) {
        n->busy++;
        a->slice_used = 0;
        sim__dispatch(sim, a);
    } else {
        a->state = SIM__QUEUED;
        sim__aq_push(&n->runq, a);
    }
}

/* Counts resumptions at one instant: a loop that never lets time pass is a hang. */
void sim__note_resume(struct sim_actor *a)
{
    struct sim *sim = a->sim;
    if (a->spin_time != sim->now) {
        a->spin_time = sim->now;
        a->spins = 0;
        return;
    }
    if (++a->spins >= sim->cfg.hang_yields) {
        sim__fail(sim, SIM_STOP_HANG,
                  "hang: actor '%s' on node '%s' resumed %llu times at t=%.9fs without "
                  "virtual time advancing (a loop that never sleeps or works?)",
                  a->name, sim->nodes[a->node].name, (unsigned long long)a->spins,
                  (double)sim->now / 1e9);
        a->spins = 0;
        /* Park it for good: the loop stops and will never pick it again. */
        a->state = SIM__BLOCKED;
        release_core(sim, a);
        sim__suspend(a);
    }
}

/* The actor gives up its core and waits to be made runnable (by a message, a signal,
 * or its timer at timeout_true, when >= 0, which then sets wake_status -ETIMEDOUT). */
void sim__block(struct sim_actor *a, int64_t timeout_true)
{
    struct sim *sim = a->sim;
    a->state = SIM__BLOCKED;
    a->wake_status = 0;
    if (timeout_true >= 0)
        sim__timer_set(sim, a, SIM__EV_WAKE, sim->now + timeout_true);
    release_core(sim, a);
    sim__suspend(a);
    sim__note_resume(a);
}

/* ---- Actors ------------------------------------------------------------------------ */

static struct sim_actor *env_actor(struct env *e)
{
    return (struct sim_actor *)(void *)e;
}

int64_t sim_spawn(struct sim *sim, int node, const char *name, env_fn fn, void *arg)
{
    struct sim__node *n = sim__node_get(sim, node);
    if (!n || !fn)
        return -EINVAL;
    if (!n->up)
        return -EHOSTDOWN;
    struct sim_actor *a = sim__actor_new(sim);
    if (!a)
        return -ENOMEM;
    a->env.ops = &sim_env_ops;
    a->sim = sim;
    a->id = sim->next_actor_id++;
    a->node = node;
    a->fn = fn;
    a->arg = arg;
    a->state = SIM__BLOCKED;
    a->spin_time = -1;
    a->name = strdup(name ? name : "actor");
    rng_seed_stream(&a->rng, sim->cfg.seed, (uint64_t)a->id);
    if (!a->name || sim__actor_prime(a) < 0)
        goto err_free;
    if (sim__ports_bind_actor(sim, a) < 0)
        goto err_free;
    a->node_next = n->actors;
    if (n->actors)
        n->actors->node_prev = a;
    n->actors = a;
    sim->stats.spawned++;
    sim->stats.live++;
    sim__make_runnable(sim, a);
    return a->id;
err_free:
    free(a->name);
    sim__actor_free(sim, a);
    return -ENOMEM;
}

/* Free an actor that is not executing: it ended, its node crashed, or the world ends. */
void sim__actor_destroy(struct sim *sim, struct sim_actor *a)
{
    struct sim__node *n = &sim->nodes[a->node];
    a->state = SIM__DEAD;
    sim__timer_cancel(sim, a);
    sim__aq_remove(a);
    release_core(sim, a);
    for (int i = a->natexit - 1; i >= 0; i--)
        a->atexit[i].fn(a->atexit[i].arg);
    sim__ports_release(sim, a);
    sim__mailbox_free(a);
    while (a->joiners.head)
        sim__make_runnable(sim, sim__aq_pop(&a->joiners));
    if (a->node_prev)
        a->node_prev->node_next = a->node_next;
    else
        n->actors = a->node_next;
    if (a->node_next)
        a->node_next->node_prev = a->node_prev;
    sim->stats.live--;
    free(a->name);
    sim__actor_free(sim, a); /* last: the actor lives on its stack */
}

int sim_env_atexit(struct env *e, void (*fn)(void *), void *arg)
{
    struct sim_actor *a = env_actor(e);
    if (!fn || a->natexit == SIM__MAX_ATEXIT)
        return -EINVAL;
    a->atexit[a->natexit].fn = fn;
    a->atexit[a->natexit].arg = arg;
    a->natexit++;
    return 0;
}

int sim_node_main(struct sim *sim, int node, const char *name, env_fn fn, void *arg)
{
    struct sim__node *n = sim__node_get(sim, node);
    if (!n || !fn)
        return -EINVAL;
    free(n->main_name);
    n->main_name = strdup(name ? name : "main");
    if (!n->main_name)
        return -ENOMEM;
    n->main_fn = fn;
    n->main_arg = arg;
    int64_t id = sim_spawn(sim, node, n->main_name, fn, arg);
    return id < 0 ? (int)id : 0;
}

/* ---- sim_at ------------------------------------------------------------------------- */

int sim_at(struct sim *sim, int64_t at, void (*fn)(struct sim *, void *), void *arg)
{
    if (!fn || at < sim->now)
        return -EINVAL;
    if (!sim->free_calls) {
        struct sim__call_block *b = calloc(1, sizeof(*b));
        if (!b)
            return -ENOMEM;
        b->next = sim->call_blocks;
        sim->call_blocks = b;
        for (int i = CALLS_PER_BLOCK - 1; i >= 0; i--) {
            b->call[i].ev.kind = SIM__EV_CALL;
            b->call[i].next_free = sim->free_calls;
            sim->free_calls = &b->call[i];
        }
    }
    struct sim__call *c = sim->free_calls;
    if (sim__event_push(sim, &c->ev, at) < 0)
        return -ENOMEM;
    sim->free_calls = c->next_free;
    c->fn = fn;
    c->arg = arg;
    return 0;
}

static void run_call(struct sim *sim, struct sim__call *c)
{
    void (*fn)(struct sim *, void *) = c->fn;
    void *arg = c->arg;
    c->next_free = sim->free_calls;
    sim->free_calls = c;
    fn(sim, arg);
}

/* ---- The loop ----------------------------------------------------------------------- */

static void run_event(struct sim *sim, struct sim__event *ev)
{
    switch (ev->kind) {
    case SIM__EV_WAKE: {
        struct sim_actor *a = sim__container_of(ev, struct sim_actor, timer);
        sim__event_hash(sim, sim->now, a->id, ev->kind);
        if (a->state == SIM__BLOCKED) {
            sim__aq_remove(a); /* a timed wait on a condition */
            a->in_recv = false;
            sim__make_runnable(sim, a);
            a->wake_status = -ETIMEDOUT;
        }
        break;
    }
    case SIM__EV_WORK: {
        struct sim_actor *a = sim__container_of(ev, struct sim_actor, timer);
        sim__event_hash(sim, sim->now, a->id, ev->kind);
        a->work_left -= a->chunk_len;
        a->slice_used += a->chunk_len;
        if (a->work_left > 0)
            start_work(sim, a);
        else
            sim__aq_push(&sim->ready, a); /* done: execute on, even if the slice is out */
        break;
    }
    case SIM__EV_MSG: {
        struct sim__msg *m = sim__container_of(ev, struct sim__msg, ev);
        sim__event_hash(sim, sim->now, m->to.port, ev->kind);
        sim__msg_deliver(sim, m);
        break;
    }
    case SIM__EV_FAULT:
        sim__fault_run(sim, ev);
        break;
    case SIM__EV_CALL:
        sim__event_hash(sim, sim->now, 0, ev->kind);
        run_call(sim, sim__container_of(ev, struct sim__call, ev));
        break;
    }
}

static void run_ready(struct sim *sim)
{
    struct sim_actor *a;
    while (!sim->stopping && (a = sim__aq_pop(&sim->ready))) {
        sim__resume(sim, a);
        if (a->state == SIM__DEAD)
            sim__actor_destroy(sim, a);
    }
}

enum sim_stop sim_run(struct sim *sim, int64_t until)
{
    if (sim->stopping && sim->stop != SIM_STOP_TIME)
        return sim->stop;
    sim->stopping = false;
    sim->stop = SIM_STOP_TIME;
    for (;;) {
        if (sim->ready.head)
            run_ready(sim);
        if (sim->stopping)
            return sim->stop;
        struct evq_node *t = evq_pop(&sim->events, until);
        if (!t) {
            if (until > sim->now)
                sim->now = until;
            return evq_size(&sim->events) ? SIM_STOP_TIME : SIM_STOP_IDLE;
        }
        if (sim->cfg.max_events && sim->stats.events >= sim->cfg.max_events) {
            evq_push(&sim->events, t, t->when);    /* still owned by the queue */
            sim__fail(sim, SIM_STOP_ERROR, "it executed its limit of %llu events",
                      (unsigned long long)sim->cfg.max_events);
            return sim->stop;
        }
        sim->now = t->when;
        sim->stats.events++;
        /* With many actors, the next wake-up's actor is far out of the cache: fetch it
         * while this event runs (with few, it is cached, and the guess that the next
         * event is an actor's timer would only cost the prefetches: sim_at's callbacks
         * ran 6-10 % slower with it). */
        struct evq_node *next;
        if (sim->stats.live >= SIM__PREFETCH_LIVE && (next = evq_hint(&sim->events)))
            sim__prefetch(sim, next);
        run_event(sim, sim__container_of(t, struct sim__event, q));
    }
}

int64_t sim_now(const struct sim *sim)
{
    return sim->now;
}

uint64_t sim_hash(const struct sim *sim)
{
    return sim->hash;
}

void sim_stats(const struct sim *sim, struct sim_stats *out)
{
    *out = sim->stats;
    sim__stackpool_stats(sim->stacks, out);
}

const char *sim_stacks_check(const struct sim *sim)
{
    return sim__stackpool_check(sim->stacks);
}

void sim_rng(const struct sim *sim, uint64_t stream, struct rng *out)
{
    rng_seed_stream(out, sim->cfg.seed, stream ^ 0x6c6162ULL << 40);
}

/* ---- What actors may ask ----------------------------------------------------------- */

struct sim *sim_env_sim(struct env *e)
{
    return env_actor(e)->sim;
}

int sim_env_node(struct env *e)
{
    return env_actor(e)->node;
}

int64_t sim_env_actor(struct env *e)
{
    return env_actor(e)->id;
}

int64_t sim_env_true_now(struct env *e)
{
    return env_actor(e)->sim->now;
}

/* ---- The env of a simulated actor --------------------------------------------------- */

static int64_t s_now(struct env *e)
{
    struct sim_actor *a = env_actor(e);
    return sim_node_wall(a->sim, a->node);
}

static int64_t s_mono(struct env *e)
{
    struct sim_actor *a = env_actor(e);
    return sim_node_mono(a->sim, a->node);
}

static void s_yield(struct env *e)
{
    struct sim_actor *a = env_actor(e);
    struct sim *sim = a->sim;
    struct sim__node *n = &sim->nodes[a->node];
    if (n->runq.head) {
        a->state = SIM__QUEUED;
        a->has_core = false;
        n->busy--;
        a->slice_used = 0;
        sim__aq_push(&n->runq, a);
        sim__fill_cores(sim, n);
        sim__suspend(a);
    }
    sim__note_resume(a);
}

static void s_sleep(struct env *e, int64_t ns)
{
    struct sim_actor *a = env_actor(e);
    if (ns <= 0) {
        s_yield(e);
        return;
    }
    sim__block(a, sim__mono_to_true(&a->sim->nodes[a->node], ns));
}

static uint64_t s_rand(struct env *e)
{
    return rng_next(&env_actor(e)->rng);
}

static void s_work(struct env *e, int64_t ns)
{
    struct sim_actor *a = env_actor(e);
    if (ns <= 0) {
        sim__note_resume(a);
        return;
    }
    a->work_left = ns;
    start_work(a->sim, a);
    sim__suspend(a);
    sim__note_resume(a);
}

static const char *s_name(struct env *e)
{
    return env_actor(e)->name;
}

/* A simulated mutex: an owner and a FIFO of waiters; unlock hands over directly. */
struct smutex {
    struct sim_actor *owner;
    struct sim__aq waiters;
};
struct scond {
    struct sim__aq waiters;
};
_Static_assert(sizeof(struct smutex) <= sizeof(struct env_mutex), "env_mutex too small");
_Static_assert(sizeof(struct scond) <= sizeof(struct env_cond), "env_cond too small");

static int s_mutex_init(struct env *e, struct env_mutex *m)
{
    memset(m, 0, sizeof(*m));
    return 0;
}

static void s_mutex_lock(struct env *e, struct env_mutex *m)
{
    struct sim_actor *a = env_actor(e);
    struct smutex *sm = (struct smutex *)(void *)m->opaque;
    if (!sm->owner) {
        sm->owner = a;
        return;
    }
    sim__aq_push(&sm->waiters, a);
    sim__block(a, -1);
    /* the unlocker made us the owner */
}

static bool s_mutex_trylock(struct env *e, struct env_mutex *m)
{
    struct smutex *sm = (struct smutex *)(void *)m->opaque;
    if (sm->owner)
        return false;
    sm->owner = env_actor(e);
    return true;
}

static void s_mutex_unlock(struct env *e, struct env_mutex *m)
{
    struct sim_actor *a = env_actor(e);
    struct smutex *sm = (struct smutex *)(void *)m->opaque;
    struct sim_actor *next = sim__aq_pop(&sm->waiters);
    sm->owner = next;
    if (next)
        sim__make_runnable(a->sim, next);
}

static void s_mutex_destroy(struct env *e, struct env_mutex *m)
{
}

static int s_cond_init(struct env *e, struct env_cond *c)
{
    memset(c, 0, sizeof(*c));
    return 0;
}

static int s_cond_wait(struct env *e, struct env_cond *c, struct env_mutex *m,
                       int64_t timeout_ns)
{
    struct sim_actor *a = env_actor(e);
    struct scond *sc = (struct scond *)(void *)c->opaque;
    sim__aq_push(&sc->waiters, a);
    s_mutex_unlock(e, m);
    int64_t t = timeout_ns < 0 ? -1 : sim__mono_to_true(&a->sim->nodes[a->node], timeout_ns);
    sim__block(a, t);
    int rc = a->wake_status;
    s_mutex_lock(e, m);
    return rc;
}

static void s_cond_signal(struct env *e, struct env_cond *c, bool all)
{
    struct sim_actor *a = env_actor(e);
    struct scond *sc = (struct scond *)(void *)c->opaque;
    struct sim_actor *w;
    while ((w = sim__aq_pop(&sc->waiters))) {
        sim__make_runnable(a->sim, w);
        if (!all)
            break;
    }
}

static void s_cond_destroy(struct env *e, struct env_cond *c)
{
}

void sim__sync_forget(struct env_mutex *m, struct env_cond *c)
{
    struct smutex *sm = (struct smutex *)(void *)m->opaque;
    struct scond *sc = (struct scond *)(void *)c->opaque;
    while (sim__aq_pop(&sm->waiters))
        ;
    while (sim__aq_pop(&sc->waiters))
        ;
    sm->owner = NULL;
}

static int s_spawn(struct env *e, const char *name, env_fn fn, void *arg, uint64_t *handle)
{
    struct sim_actor *a = env_actor(e);
    int64_t id = sim_spawn(a->sim, a->node, name, fn, arg);
    if (id < 0)
        return (int)id;
    if (handle)
        *handle = (uint64_t)id;
    return 0;
}

static void s_join(struct env *e, uint64_t handle)
{
    struct sim_actor *a = env_actor(e);
    struct sim_actor *t = sim__map_get(&a->sim->ports, sim__id_key((int64_t)handle));
    if (!t || t == a || t->state == SIM__DEAD)
        return;
    sim__aq_push(&t->joiners, a);
    sim__block(a, -1);
}

static int s_store_get(struct env *e, const char *key, void *buf, size_t cap, size_t *len)
{
    struct sim_actor *a = env_actor(e);
    for (struct sim__kv *kv = a->sim->nodes[a->node].store; kv; kv = kv->next) {
        if (strcmp(kv->key, key) == 0) {
            memcpy(buf, kv->val, kv->len < cap ? kv->len : cap);
            if (len)
                *len = kv->len;
            return 0;
        }
    }
    return -ENOENT;
}

static int s_store_put(struct env *e, const char *key, const void *buf, size_t len)
{
    struct sim_actor *a = env_actor(e);
    struct sim__node *n = &a->sim->nodes[a->node];
    struct sim__kv *kv;
    for (kv = n->store; kv; kv = kv->next)
        if (strcmp(kv->key, key) == 0)
            break;
    unsigned char *val = malloc(len ? len : 1);
    if (!val)
        return -ENOMEM;
    memcpy(val, buf, len);
    if (!kv) {
        kv = calloc(1, sizeof(*kv));
        if (!kv || !(kv->key = strdup(key))) {
            free(kv);
            free(val);
            return -ENOMEM;
        }
        kv->next = n->store;
        n->store = kv;
    }
    free(kv->val);
    kv->val = val;
    kv->len = len;
    /* The write is durable once put returns; the fsync costs time, not CPU. */
    if (n->store_latency > 0)
        sim__block(a, n->store_latency);
    return 0;
}

static const struct env_ops sim_env_ops = {
    .now = s_now,
    .mono = s_mono,
    .sleep = s_sleep,
    .rand = s_rand,
    .work = s_work,
    .yield = s_yield,
    .name = s_name,
    .mutex_init = s_mutex_init,
    .mutex_lock = s_mutex_lock,
    .mutex_trylock = s_mutex_trylock,
    .mutex_unlock = s_mutex_unlock,
    .mutex_destroy = s_mutex_destroy,
    .cond_init = s_cond_init,
    .cond_wait = s_cond_wait,
    .cond_signal = s_cond_signal,
    .cond_destroy = s_cond_destroy,
    .spawn = s_spawn,
    .join = s_join,
    .store_get = s_store_get,
    .store_put = s_store_put,
};

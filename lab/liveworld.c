/* liveworld.c - a run's live world (lab.h): real servers started by kind (live/servers.h)
 * or given by the user, client nodes as threads (live/live.h), the scenario's faults
 * applied by node name from the run's thread, and a watch on every server the lab
 * started, so that a loss nobody scheduled fails the run instead of skewing it. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/run.h"
#include "live/live.h"
#include "live/servers.h"

#define NKINDS 4
#define MAX_USER_ADDRS LIVE_CLUSTER_MAX
#define TICK_NS 1000000LL            /* the loop's longest sleep between looks at the servers */
#define PING_TIMEOUT_NS 2000000000LL /* a user's server must answer within this */

/* The servers of one kind. */
struct srv {
    bool asked;
    struct live_cluster *c; /* NULL: the user's own (addr, name below) */
    int n;
    char addrs[LIVE_CLUSTER_MAX * 160];
    char addr[MAX_USER_ADDRS][160];
    char name[MAX_USER_ADDRS][32];
};

struct node {
    char *name;
    env_fn fn;
    void *arg;
    void (*on_pause)(void *arg, int64_t dur); /* lab_live_on_pause */
    void *pause_arg;
};

enum act_kind {
    A_NODE_PAUSE,
    A_NODE_CRASH,
    A_NODE_RESTART,
    A_NODE_STEP,
    A_NODE_DRIFT,
    A_SRV_STOP,
    A_SRV_CONT,
    A_SRV_KILL,
    A_SRV_RESTART,
};

/* One thing the run's thread does at 'at' (ns of true time from the start). */
struct act {
    int64_t at;
    enum act_kind kind;
    const char *node;       /* client node name */
    struct live_cluster *c; /* server: its cluster and member */
    int member;
    int64_t arg;
    double ppm;
};

struct acts {
    struct act *v;
    size_t n, cap, next;
};

struct lab_live {
    struct lab_run *run;
    struct live_world *w;
    struct srv srv[NKINDS];
    struct node *nodes;
    size_t nnodes;
    struct acts acts;
    pthread_mutex_t mu; /* requests */
    pthread_cond_t cv;
    struct acts req;
    _Atomic int64_t t0; /* CLOCK_REALTIME at go; 0 before */
    atomic_bool stopping;
};

static const char *world_key(enum live_kind kind)
{
    return kind == LIVE_ETCD ? "etcd" : kind == LIVE_ZOOKEEPER ? "zookeeper" : "redis";
}

/* The node of world.KEY in the scenario, for error locations (NULL: --set or absent). */
static const struct lab_node *key_node(struct lab_run *run, const char *key)
{
    const struct lab_node *w = lab_node_get(run->sc->root, "world", NULL);
    return w ? lab_node_get(w, key, NULL) : NULL;
}

/* A failure for exit status 3: a server that cannot be started, reached or kept. */
static int unreachable(struct lab_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int unreachable(struct lab_run *run, const char *fmt, ...)
{
    char msg[LAB_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bool first = !run->fail;
    lab_fail(run, "%s", msg);
    if (first)
        run->status = LAB_EXIT_UNREACH;
    return -EHOSTUNREACH;
}

static void act_push(struct acts *a, const struct act *x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 16;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        if (!a->v)
            abort();
    }
    a->v[a->n++] = *x;
}

static struct lab_live *get(struct lab_run *run, const char *fn)
{
    if (!run->live)
        lab_fail(run, "%s before lab_live_begin", fn);
    return run->live;
}

struct live_world *lab_live_begin(struct lab_run *run)
{
    if (run->world != LAB_WORLD_LIVE) {
        lab_fail(run, "workload '%s' asked for the live world in a simulated run",
                 run->spec->cfg->wl->name);
        return NULL;
    }
    if (run->live) {
        lab_fail(run, "lab_live_begin called twice in one run");
        return NULL;
    }
    struct lab_live *L = calloc(1, sizeof(*L));
    if (!L || !(L->w = live_world_create(run->spec->seed))) {
        free(L);
        lab_fail(run, "cannot create the live world: out of memory");
        return NULL;
    }
    L->run = run;
    pthread_mutex_init(&L->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&L->cv, &ca);
    pthread_condattr_destroy(&ca);
    run->live = L;
    return L->w;
}

void lab__live_end(struct lab_run *run)
{
    struct lab_live *L = run->live;
    if (!L)
        return;
    atomic_store(&L->stopping, true);
    for (int k = 0; k < NKINDS; k++) /* paused servers answer the last calls */
        for (int i = 0; L->srv[k].c && i < live_cluster_size(L->srv[k].c); i++)
            live_cluster_resume(L->srv[k].c, i);
    live_world_destroy(L->w);
    for (int k = 0; k < NKINDS; k++)
        live_cluster_stop(L->srv[k].c);
    for (size_t i = 0; i < L->nnodes; i++)
        free(L->nodes[i].name);
    free(L->nodes);
    free(L->acts.v);
    free(L->req.v);
    pthread_cond_destroy(&L->cv);
    pthread_mutex_destroy(&L->mu);
    free(L);
    run->live = NULL;
}

/* ---- Servers -------------------------------------------------------------------------- */

/* world.KEY: -1 unset, else a count (*addrs NULL) or the user's addresses (*addrs set). */
static int offered(struct lab_run *run, enum live_kind kind, const char **addrs)
{
    const char *v = lab_world_str(run, world_key(kind));
    *addrs = NULL;
    if (!v || !*v)
        return -1;
    if (strspn(v, "0123456789") == strlen(v))
        return atoi(v);
    *addrs = v;
    int n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    return n;
}

int lab_live_offered(struct lab_run *run, enum live_kind kind)
{
    const char *addrs;
    return offered(run, kind, &addrs);
}

static int user_servers(struct lab_run *run, struct srv *s, enum live_kind kind, const char *given,
                        int n)
{
    const char *key = world_key(kind);
    const struct lab_node *at = key_node(run, key);
    if (kind == LIVE_SENTINEL)
        return lab__fail_at(run, at,
                            "world.%s: this run needs a primary, a replica and "
                            "Sentinel that distlab starts itself (give a count, or "
                            "leave world.%s out)",
                            key, key);
    const char *p = given;
    for (s->n = 0; *p && s->n < MAX_USER_ADDRS; s->n++) {
        size_t len = strcspn(p, ",");
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        if (len == 0 || len >= sizeof(s->addr[0]))
            return lab__fail_at(run, at, "world.%s: an empty or too long address in '%s'", key,
                                given);
        memcpy(s->addr[s->n], p, len);
        s->addr[s->n][len] = 0;
        snprintf(s->name[s->n], sizeof(s->name[0]), "%s-%d",
                 kind == LIVE_ETCD        ? "etcd"
                 : kind == LIVE_ZOOKEEPER ? "zk"
                                          : "redis",
                 s->n);
        p += len + (p[len] == ',');
    }
    if (s->n < n)
        return lab__fail_at(run, at, "world.%s gives %d address(es), but this run needs %d", key,
                            s->n, n);
    for (int i = 0; i < s->n; i++) {
        int rc = live_server_ping(kind, s->addr[i], PING_TIMEOUT_NS);
        if (rc < 0)
            return unreachable(run, "world.%s: %s does not answer as %s: %s", key, s->addr[i],
                               live_kind_name(kind), strerror(-rc));
    }
    /* Etcd and ZooKeeper clients take every member; a Redis workload picks its own. */
    snprintf(s->addrs, sizeof(s->addrs), "%s", given);
    return 0;
}

const char *lab_live_servers(struct lab_run *run, enum live_kind kind, int n)
{
    return lab_live_servers_opts(run, kind, n, NULL);
}

const char *lab_live_servers_opts(struct lab_run *run, enum live_kind kind, int n,
                                  const struct live_cluster_opts *opts)
{
    struct lab_live *L = get(run, "lab_live_servers");
    if (!L || kind < 0 || kind >= NKINDS)
        return NULL;
    struct srv *s = &L->srv[kind];
    if (s->asked || (kind == LIVE_REDIS && L->srv[LIVE_SENTINEL].asked) ||
        (kind == LIVE_SENTINEL && L->srv[LIVE_REDIS].asked)) {
        lab_fail(run, "lab_live_servers: %s servers asked for twice", world_key(kind));
        return NULL;
    }
    s->asked = true;
    const char *given;
    int count = offered(run, kind, &given);
    if (given)
        return user_servers(run, s, kind, given, n) < 0 ? NULL : s->addrs;
    if (count >= 0 && count < n) {
        lab__fail_at(run, key_node(run, world_key(kind)),
                     "world.%s: %d server(s), but this run needs %d", world_key(kind), count, n);
        return NULL;
    }
    if (count > 0)
        n = count;
    char err[LAB_ERR_MAX - 200];
    int rc = live_cluster_start(kind, n, opts, &s->c, err, sizeof(err));
    if (rc == -EINVAL) {
        lab__fail_at(run, key_node(run, world_key(kind)), "%s", err);
        return NULL;
    }
    if (rc < 0) {
        unreachable(run, "cannot start %s x%d: %s", live_kind_name(kind), n, err);
        return NULL;
    }
    s->n = live_cluster_size(s->c);
    snprintf(s->addrs, sizeof(s->addrs), "%s", live_cluster_addrs(s->c));
    return s->addrs;
}

static struct srv *srv_of(struct lab_run *run, enum live_kind kind, int i)
{
    struct lab_live *L = run->live;
    if (!L || kind < 0 || kind >= NKINDS || i < 0 || i >= L->srv[kind].n)
        return NULL;
    return &L->srv[kind];
}

const char *lab_live_server_addr(struct lab_run *run, enum live_kind kind, int i)
{
    struct srv *s = srv_of(run, kind, i);
    return !s ? NULL : s->c ? live_cluster_addr(s->c, i) : s->addr[i];
}

const char *lab_live_server_name(struct lab_run *run, enum live_kind kind, int i)
{
    struct srv *s = srv_of(run, kind, i);
    return !s ? NULL : s->c ? live_cluster_name(s->c, i) : s->name[i];
}

int lab_live_server_count(struct lab_run *run, enum live_kind kind)
{
    struct lab_live *L = run->live;
    return L && kind >= 0 && kind < NKINDS ? L->srv[kind].n : 0;
}

struct live_cluster *lab_live_cluster(struct lab_run *run, enum live_kind kind)
{
    struct lab_live *L = run->live;
    return L && kind >= 0 && kind < NKINDS ? L->srv[kind].c : NULL;
}

/* ---- Nodes ---------------------------------------------------------------------------- */

int lab_live_node(struct lab_run *run, const char *name, env_fn fn, void *arg)
{
    struct lab_live *L = get(run, "lab_live_node");
    if (!L)
        return -EINVAL;
    for (size_t i = 0; i < L->nnodes; i++)
        if (!strcmp(L->nodes[i].name, name))
            return -EINVAL;
    struct node *v = realloc(L->nodes, (L->nnodes + 1) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    L->nodes = v;
    v[L->nnodes] = (struct node){strdup(name), fn, arg, NULL, NULL};
    if (!v[L->nnodes].name)
        return -ENOMEM;
    L->nnodes++;
    return 0;
}

int lab_live_on_pause(struct lab_run *run, const char *name, void (*fn)(void *arg, int64_t dur),
                      void *arg)
{
    struct lab_live *L = get(run, "lab_live_on_pause");
    if (!L)
        return -EINVAL;
    for (size_t i = 0; i < L->nnodes; i++) {
        if (!strcmp(L->nodes[i].name, name)) {
            L->nodes[i].on_pause = fn;
            L->nodes[i].pause_arg = arg;
            return 0;
        }
    }
    return -ENOENT;
}

static bool is_client(struct lab_live *L, const char *name)
{
    for (size_t i = 0; i < L->nnodes; i++)
        if (!strcmp(L->nodes[i].name, name))
            return true;
    return false;
}

/* A server node by name: its kind's srv and member index, or NULL. */
static struct srv *find_server(struct lab_live *L, const char *name, int *member)
{
    for (int k = 0; k < NKINDS; k++) {
        struct srv *s = &L->srv[k];
        for (int i = 0; i < s->n; i++) {
            const char *nm = s->c ? live_cluster_name(s->c, i) : s->name[i];
            if (!strcmp(nm, name)) {
                *member = i;
                return s;
            }
        }
    }
    return NULL;
}

/* "a, b, c" of every node, for messages. */
static const char *node_list(struct lab_live *L, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = 0;
#define ADD(nm)                                                                                    \
    do {                                                                                           \
        int k_ = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", (nm));                    \
        if (k_ > 0)                                                                                \
            off += (size_t)k_ < cap - off ? (size_t)k_ : cap - off - 1;                            \
    } while (0)
    for (int k = 0; k < NKINDS; k++)
        for (int i = 0; i < L->srv[k].n; i++)
            ADD(L->srv[k].c ? live_cluster_name(L->srv[k].c, i) : L->srv[k].name[i]);
    for (size_t i = 0; i < L->nnodes; i++)
        ADD(L->nodes[i].name);
#undef ADD
    return off ? buf : "none";
}

static const char *const fault_word[] = {"crash", "restart", "pause",
                                         "clock", "drift",   "partition"};

/* Turn one fault into actions, or explain (into why) what the live world cannot do. */
static int plan(struct lab_live *L, const struct lab_fault *f, int64_t at, struct acts *out,
                char *why, size_t cap)
{
    if (f->kind == LAB_FAULT_PARTITION) {
        snprintf(why, cap,
                 "a partition needs the simulated world: the live world's "
                 "processes talk over loopback, which it cannot cut");
        return -EINVAL;
    }
    int member = -1;
    struct srv *s = find_server(L, f->node, &member);
    if (s) {
        if (!s->c) {
            snprintf(why, cap,
                     "%s is one of your own servers (world.%s): the live world "
                     "faults only the servers distlab starts",
                     f->node,
                     s == &L->srv[LIVE_ETCD]        ? "etcd"
                     : s == &L->srv[LIVE_ZOOKEEPER] ? "zookeeper"
                                                    : "redis");
            return -EINVAL;
        }
        struct act a = {.at = at, .c = s->c, .member = member};
        switch (f->kind) {
        case LAB_FAULT_PAUSE:
            a.kind = A_SRV_STOP;
            act_push(out, &a);
            a.at = at + f->dur;
            a.kind = A_SRV_CONT;
            act_push(out, &a);
            return 0;
        case LAB_FAULT_CRASH:
            a.kind = A_SRV_KILL;
            act_push(out, &a);
            if (f->dur > 0) {
                a.at = at + f->dur;
                a.kind = A_SRV_RESTART;
                act_push(out, &a);
            }
            return 0;
        case LAB_FAULT_RESTART:
            a.kind = A_SRV_RESTART;
            act_push(out, &a);
            return 0;
        default:
            snprintf(why, cap,
                     "the live world cannot %s %s: a real server keeps this "
                     "machine's clock (that needs the simulated world)",
                     f->kind == LAB_FAULT_DRIFT ? "drift the clock of" : "step the clock of",
                     f->node);
            return -EINVAL;
        }
    }
    if (!is_client(L, f->node)) {
        char buf[1024];
        snprintf(why, cap, "unknown node '%s' in this fault (nodes: %s)", f->node,
                 node_list(L, buf, sizeof(buf)));
        return -EINVAL;
    }
    struct act a = {.at = at, .node = f->node};
    switch (f->kind) {
    case LAB_FAULT_PAUSE:
        a.kind = A_NODE_PAUSE;
        a.arg = f->dur;
        break;
    case LAB_FAULT_CRASH:
        a.kind = A_NODE_CRASH;
        if (f->dur > 0) {
            act_push(out, &a);
            a.at = at + f->dur;
            a.kind = A_NODE_RESTART;
        }
        break;
    case LAB_FAULT_RESTART:
        a.kind = A_NODE_RESTART;
        break;
    case LAB_FAULT_CLOCK_STEP:
        a.kind = A_NODE_STEP;
        a.arg = f->step;
        break;
    case LAB_FAULT_DRIFT:
        a.kind = A_NODE_DRIFT;
        a.ppm = f->ppm;
        break;
    default:
        snprintf(why, cap, "the live world cannot do a '%s' fault", fault_word[f->kind]);
        return -EINVAL;
    }
    act_push(out, &a);
    return 0;
}

/* world.clocks: a client node's clock starts offset and drifting; a server's cannot. */
static int set_clocks(struct lab_live *L)
{
    struct lab_run *run = L->run;
    const struct lab_world_cfg *w = &run->spec->cfg->world;
    for (size_t i = 0; i < w->nclocks; i++) {
        const struct lab_clock_cfg *k = &w->clocks[i];
        int matched = 0;
        for (int s = 0; s < NKINDS; s++) {
            for (int m = 0; m < L->srv[s].n; m++) {
                const char *nm =
                    L->srv[s].c ? live_cluster_name(L->srv[s].c, m) : L->srv[s].name[m];
                if (!fnmatch(k->pattern, nm, 0))
                    return lab__fail_at(run, k->node,
                                        "the live world cannot set the clock of "
                                        "%s: a real server keeps this machine's "
                                        "clock (that needs the simulated world)",
                                        nm);
            }
        }
        for (size_t n = 0; n < L->nnodes; n++) {
            if (fnmatch(k->pattern, L->nodes[n].name, 0))
                continue;
            matched++;
            if ((k->offset && live_node_clock_step(L->w, L->nodes[n].name, k->offset) < 0) ||
                (k->ppm != 0 && live_node_drift(L->w, L->nodes[n].name, k->ppm) < 0))
                return lab__fail_at(run, k->node, "cannot set this clock");
        }
        if (!matched) {
            char buf[1024];
            return lab__fail_at(run, k->node, "no node matches '%s' (nodes: %s)", k->pattern,
                                node_list(L, buf, sizeof(buf)));
        }
    }
    return 0;
}

static int by_at(const void *x, const void *y)
{
    const struct act *a = x, *b = y;
    return a->at < b->at ? -1 : a->at > b->at;
}

/* Apply one action. Returns 0, or -EHOSTUNREACH after failing the run (a restart that
 * could not even fork). */
static int apply(struct lab_live *L, const struct act *a)
{
    char err[LAB_ERR_MAX - 200];
    switch (a->kind) {
    case A_NODE_PAUSE:
        live_node_pause(L->w, a->node, a->arg);
        for (size_t i = 0; i < L->nnodes; i++)
            if (!strcmp(L->nodes[i].name, a->node) && L->nodes[i].on_pause)
                L->nodes[i].on_pause(L->nodes[i].pause_arg, a->arg);
        break;
    case A_NODE_CRASH:
        live_node_crash(L->w, a->node);
        break;
    case A_NODE_RESTART:
        live_node_restart(L->w, a->node);
        break;
    case A_NODE_STEP:
        live_node_clock_step(L->w, a->node, a->arg);
        break;
    case A_NODE_DRIFT:
        live_node_drift(L->w, a->node, a->ppm);
        break;
    case A_SRV_STOP:
        live_cluster_pause(a->c, a->member);
        break;
    case A_SRV_CONT:
        live_cluster_resume(a->c, a->member);
        break;
    case A_SRV_KILL:
        live_cluster_kill(a->c, a->member);
        break;
    case A_SRV_RESTART:
        /* Not waited for: the run goes on while it comes back (as a real restart would);
         * one that dies at start shows in the watch as a loss. */
        if (live_cluster_pid(a->c, a->member) == 0 &&
            live_cluster_restart(a->c, a->member, false, err, sizeof(err)) < 0)
            return unreachable(L->run, "cannot restart %s: %s", live_cluster_name(a->c, a->member),
                               err);
        break;
    }
    return 0;
}

int64_t lab_live_now(struct lab_run *run)
{
    int64_t t0 = run->live ? atomic_load(&run->live->t0) : 0;
    return t0 ? live_true_now() - t0 : 0;
}

bool lab_live_stopping(struct lab_run *run)
{
    return !run->live || atomic_load(&run->live->stopping);
}

int lab_live_fault(struct lab_run *run, const struct lab_fault *f)
{
    struct lab_live *L = run->live;
    if (!L || !atomic_load(&L->t0))
        return -EAGAIN;
    char why[512];
    struct acts now = {0};
    int64_t t = lab_live_now(run);
    pthread_mutex_lock(&L->mu); /* plan reads the servers, which the run's thread owns */
    int rc = plan(L, f, t, &now, why, sizeof(why));
    pthread_mutex_unlock(&L->mu);
    /* A client node's fault takes effect now, from this thread (live.h's node calls are
     * thread-safe): a holder that pauses itself must block at its very next env call.
     * A server's waits for the run's thread, within about a millisecond. */
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; rc == 0 && i < now.n; i++) {
        if (now.v[i].node && now.v[i].at <= t)
            apply(L, &now.v[i]);
        else
            act_push(&L->req, &now.v[i]);
    }
    pthread_cond_signal(&L->cv);
    pthread_mutex_unlock(&L->mu);
    free(now.v);
    return rc;
}

/* Sleep until the next action or a request, TICK_NS at most. */
static void wait_a_little(struct lab_live *L, int64_t next_at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t wait = TICK_NS, left = next_at - lab_live_now(L->run);
    if (left < wait)
        wait = left > 0 ? left : 0;
    int64_t end = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec + wait;
    struct timespec ts = {(time_t)(end / 1000000000LL), (long)(end % 1000000000LL)};
    pthread_mutex_lock(&L->mu);
    if (L->req.next == L->req.n && wait > 0)
        pthread_cond_timedwait(&L->cv, &L->mu, &ts);
    pthread_mutex_unlock(&L->mu);
}

/* Apply the requests that came in, oldest first. */
static int serve_requests(struct lab_live *L)
{
    for (;;) {
        pthread_mutex_lock(&L->mu);
        if (L->req.next == L->req.n) {
            pthread_mutex_unlock(&L->mu);
            return 0;
        }
        struct act a = L->req.v[L->req.next++];
        pthread_mutex_unlock(&L->mu);
        if (a.at > lab_live_now(L->run)) { /* the second half of a pause or a crash */
            act_push(&L->acts, &a);
            qsort(L->acts.v + L->acts.next, L->acts.n - L->acts.next, sizeof(*L->acts.v), by_at);
            continue;
        }
        int rc = apply(L, &a);
        if (rc < 0)
            return rc;
    }
}

/* Every server the lab started is where it left it; else fail the run. */
static int watch(struct lab_live *L)
{
    for (int k = 0; k < NKINDS; k++) {
        char why[LAB_ERR_MAX - 300];
        if (L->srv[k].c && live_cluster_check(L->srv[k].c, why, sizeof(why)) < 0)
            return unreachable(L->run,
                               "a server was lost at %.3f s of the run, not by a "
                               "scheduled fault, so its numbers cannot be trusted: %s",
                               (double)lab_live_now(L->run) / 1e9, why);
    }
    return 0;
}

int lab_live_go(struct lab_run *run, int64_t until)
{
    struct lab_live *L = get(run, "lab_live_go");
    if (!L)
        return -EINVAL;
    if (atomic_load(&L->t0)) {
        lab_fail(run, "lab_live_go called twice in one run");
        return -EINVAL;
    }
    const struct lab_config *c = run->spec->cfg;
    for (size_t i = 0; i < c->nfaults; i++) {
        char why[1024];
        if (plan(L, &c->faults[i], c->faults[i].at, &L->acts, why, sizeof(why)) < 0)
            return lab__fail_at(run, c->fault_nodes[i], "%s (world: live)", why);
    }
    if (L->acts.n)
        qsort(L->acts.v, L->acts.n, sizeof(*L->acts.v), by_at);
    int rc = 0;
    for (size_t i = 0; i < L->nnodes && rc == 0; i++)
        rc = live_node_create(L->w, L->nodes[i].name, "main", L->nodes[i].fn, L->nodes[i].arg);
    if (rc < 0) {
        lab_fail(run, "cannot create the client nodes: %s", strerror(-rc));
        return rc;
    }
    if ((rc = set_clocks(L)) < 0)
        return rc;
    atomic_store(&L->t0, live_true_now());
    for (size_t i = 0; i < L->nnodes; i++) {
        if ((rc = live_node_restart(L->w, L->nodes[i].name)) < 0) {
            atomic_store(&L->stopping, true);
            lab_fail(run, "cannot start node %s: %s", L->nodes[i].name, strerror(-rc));
            return rc;
        }
    }
    int64_t end = until > 0 ? until : c->duration, now;
    while (rc == 0 && (now = lab_live_now(run)) < end) {
        while (rc == 0 && L->acts.next < L->acts.n && L->acts.v[L->acts.next].at <= now)
            rc = apply(L, &L->acts.v[L->acts.next++]);
        if (rc == 0)
            rc = serve_requests(L);
        if (rc == 0)
            rc = watch(L);
        lab_progress(run, (double)now / (double)end);
        if (rc == 0)
            wait_a_little(L, L->acts.next < L->acts.n ? L->acts.v[L->acts.next].at : end);
    }
    atomic_store(&L->stopping, true);
    for (int k = 0; k < NKINDS; k++) /* paused servers answer the last calls */
        for (int i = 0; L->srv[k].c && i < live_cluster_size(L->srv[k].c); i++)
            if (live_cluster_pid(L->srv[k].c, i) > 0)
                live_cluster_resume(L->srv[k].c, i);
    live_join_all(L->w);
    return rc;
}

/* net.c - messages between actors: ports, links with latency and loss, partitions.
 * Messages on one directed link between two nodes arrive in the order sent, as on one
 * TCP connection; a message is lost if its link drops it, if a partition cuts its path
 * when it is sent or when it arrives, or if nobody listens at its port on arrival. */
#include "sim/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- The map: linear probing, backward-shift deletion ------------------------------- */

static size_t slot_of(uint64_t key, size_t cap)
{
    return (size_t)(rng_mix(key) & (cap - 1));
}

static int map_grow(struct sim__map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    void **vals = calloc(cap, sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = slot_of(m->keys[i], cap);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return 0;
}

int sim__map_put(struct sim__map *m, uint64_t key, void *val)
{
    if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m) < 0)
        return -ENOMEM;
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

void *sim__map_get(const struct sim__map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->keys[i]) {
        if (m->keys[i] == key)
            return m->vals[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

void sim__map_del(struct sim__map *m, uint64_t key)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    if (!m->keys[i])
        return;
    m->n--;
    /* Shift later members of the probe run back so lookups need no tombstones. */
    for (size_t j = i;;) {
        m->keys[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->keys[j])
                return;
            size_t home = slot_of(m->keys[j], m->cap);
            /* move j to i unless home lies cyclically in (i, j] */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        m->keys[i] = m->keys[j];
        m->vals[i] = m->vals[j];
        i = j;
    }
}

void sim__map_free(struct sim__map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- Ports ------------------------------------------------------------------------ */

static struct sim_actor *env_actor(struct env *e)
{
    return (struct sim_actor *)(void *)e;
}

static uint32_t actor_port(const struct sim_actor *a)
{
    return SIM_PORT_EPHEMERAL + (uint32_t)a->id;
}

int sim__ports_bind_actor(struct sim *sim, struct sim_actor *a)
{
    if (sim__map_put(&sim->ports, sim__id_key(a->id), a) < 0)
        return -ENOMEM;
    if (sim__map_put(&sim->ports, sim__port_key(a->node, actor_port(a)), a) < 0) {
        sim__map_del(&sim->ports, sim__id_key(a->id));
        return -ENOMEM;
    }
    return 0;
}

void sim__ports_release(struct sim *sim, struct sim_actor *a)
{
    sim__map_del(&sim->ports, sim__id_key(a->id));
    sim__map_del(&sim->ports, sim__port_key(a->node, actor_port(a)));
    for (int i = 0; i < a->nports; i++)
        sim__map_del(&sim->ports, sim__port_key(a->node, a->ports[i]));
    a->nports = 0;
}

int sim_listen(struct env *e, uint32_t port)
{
    struct sim_actor *a = env_actor(e);
    struct sim *sim = a->sim;
    if (port == 0 || port >= SIM_PORT_EPHEMERAL || a->nports == SIM__MAX_PORTS)
        return -EINVAL;
    uint64_t key = sim__port_key(a->node, port);
    struct sim_actor *holder = sim__map_get(&sim->ports, key);
    if (holder == a)
        return 0;
    if (holder)
        return -EADDRINUSE;
    if (sim__map_put(&sim->ports, key, a) < 0)
        return -ENOMEM;
    a->ports[a->nports++] = port;
    return 0;
}

struct sim_addr sim_env_addr(struct env *e)
{
    struct sim_actor *a = env_actor(e);
    return (struct sim_addr){a->node, actor_port(a)};
}

/* ---- Links and partitions --------------------------------------------------------- */

struct sim__linkstate {
    struct sim_link model;
    bool has_model;
    int64_t last; /* latest arrival scheduled on this link: keeps it FIFO */
};

static uint64_t link_key(int from, int to)
{
    return (2ULL << 61) | ((uint64_t)(uint32_t)from << 30) | (uint32_t)to;
}

static struct sim__linkstate *link_state(struct sim *sim, int from, int to)
{
    uint64_t key = link_key(from, to);
    struct sim__linkstate *ls = sim__map_get(&sim->links, key);
    if (ls)
        return ls;
    ls = calloc(1, sizeof(*ls));
    if (!ls)
        return NULL;
    if (sim__map_put(&sim->links, key, ls) < 0) {
        free(ls);
        return NULL;
    }
    return ls;
}

int sim_link_set(struct sim *sim, int from, int to, const struct sim_link *link)
{
    if (from < 0 || from >= sim->nnodes || to < 0 || to >= sim->nnodes || !link ||
        link->loss < 0 || link->loss > 1)
        return -EINVAL;
    struct sim__linkstate *ls = link_state(sim, from, to);
    if (!ls)
        return -ENOMEM;
    ls->model = *link;
    ls->has_model = true;
    return 0;
}

static bool in_set(const int *set, int n, int node)
{
    for (int i = 0; i < n; i++)
        if (set[i] == node)
            return true;
    return false;
}

static bool cut(const struct sim *sim, int from, int to)
{
    for (const struct sim__partition *p = sim->partitions; p; p = p->next) {
        if (!p->active)
            continue;
        if (in_set(p->a, p->na, from) && in_set(p->b, p->nb, to))
            return true;
        if (!p->oneway && in_set(p->b, p->nb, from) && in_set(p->a, p->na, to))
            return true;
    }
    return false;
}

void sim__partition_set(struct sim *sim, struct sim__partition *p, bool active)
{
    p->active = active;
}

/* ---- Sending and receiving --------------------------------------------------------- */

static void inflight_unlink(struct sim *sim, struct sim__msg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        sim->inflight = m->next;
    if (m->next)
        m->next->prev = m->prev;
    m->next = m->prev = NULL;
}

/* Queue a message from 'from' (its node and port) to 'to' on their link's model. */
static int send_from(struct sim *sim, struct sim_addr from, struct sim_addr to, const void *buf,
                     size_t len)
{
    if (to.node < 0 || to.node >= sim->nnodes || from.node < 0 || from.node >= sim->nnodes ||
        (len && !buf))
        return -EINVAL;
    sim->stats.msgs_sent++;
    const struct sim_link *model = to.node == from.node ? &sim->cfg.local : &sim->cfg.network;
    struct sim__linkstate *ls = link_state(sim, from.node, to.node);
    if (!ls)
        return -ENOMEM;
    if (ls->has_model)
        model = &ls->model;
    /* Draw the loss and the latency whatever happens next, so that one message more or
     * less on some other path never shifts this path's draws. */
    bool lost = model->loss > 0 && rng_chance(&sim->net_rng, model->loss);
    int64_t lat = sim_dist_draw(&model->latency, &sim->net_rng);
    if (lost || cut(sim, from.node, to.node)) {
        sim->stats.msgs_lost++;
        return 0;
    }
    struct sim__msg *m = malloc(sizeof(*m) + len);
    if (!m)
        return -ENOMEM;
    memset(m, 0, sizeof(*m));
    m->ev.kind = SIM__EV_MSG;
    m->from = from;
    m->to = to;
    m->len = len;
    if (len)
        memcpy(m->data, buf, len);
    int64_t at = sim->now + (lat > 0 ? lat : 0);
    if (at < ls->last)
        at = ls->last;
    ls->last = at;
    if (sim__event_push(sim, &m->ev, at) < 0) {
        free(m);
        return -ENOMEM;
    }
    m->next = sim->inflight;
    if (sim->inflight)
        sim->inflight->prev = m;
    sim->inflight = m;
    return 0;
}

int sim_send(struct env *e, struct sim_addr to, const void *buf, size_t len)
{
    struct sim_actor *a = env_actor(e);
    return send_from(a->sim, sim_env_addr(e), to, buf, len);
}

int sim_post(struct sim *sim, struct sim_addr from, struct sim_addr to, const void *buf,
             size_t len)
{
    if (sim->destroying)
        return 0; /* the world is ending: nobody will read it */
    return send_from(sim, from, to, buf, len);
}

void sim__msg_deliver(struct sim *sim, struct sim__msg *m)
{
    inflight_unlink(sim, m);
    struct sim_actor *a = NULL;
    if (m->to.node >= 0 && m->to.node < sim->nnodes && sim->nodes[m->to.node].up &&
        !cut(sim, m->from.node, m->to.node))
        a = sim__map_get(&sim->ports, sim__port_key(m->to.node, m->to.port));
    if (!a || a->state == SIM__DEAD) {
        sim->stats.msgs_lost++;
        free(m);
        return;
    }
    sim->stats.msgs_delivered++;
    m->next = NULL;
    if (a->mb_tail)
        a->mb_tail->next = m;
    else
        a->mb_head = m;
    a->mb_tail = m;
    if (a->in_recv) {
        a->in_recv = false;
        sim__make_runnable(sim, a);
    }
}

ssize_t sim_recv(struct env *e, void *buf, size_t cap, struct sim_addr *from,
                 int64_t timeout_ns)
{
    struct sim_actor *a = env_actor(e);
    struct sim *sim = a->sim;
    bool waited = false;
    while (!a->mb_head) {
        if (timeout_ns == 0 || (waited && a->wake_status == -ETIMEDOUT)) {
            sim__note_resume(a);
            return -ETIMEDOUT;
        }
        a->in_recv = true;
        int64_t t = timeout_ns < 0 ? -1 : sim__mono_to_true(&sim->nodes[a->node], timeout_ns);
        sim__block(a, t);
        a->in_recv = false;
        waited = true;
    }
    struct sim__msg *m = a->mb_head;
    a->mb_head = m->next;
    if (!a->mb_head)
        a->mb_tail = NULL;
    if (from)
        *from = m->from;
    size_t len = m->len;
    if (buf && cap)
        memcpy(buf, m->data, len < cap ? len : cap);
    free(m);
    if (!waited)
        sim__note_resume(a);
    return (ssize_t)len;
}

void sim__mailbox_free(struct sim_actor *a)
{
    for (struct sim__msg *m = a->mb_head, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    a->mb_head = a->mb_tail = NULL;
}

void sim__net_cleanup(struct sim *sim)
{
    for (struct sim__msg *m = sim->inflight, *next; m; m = next) {
        next = m->next;
        free(m);
    }
    sim->inflight = NULL;
    for (size_t i = 0; i < sim->links.cap; i++)
        if (sim->links.keys[i])
            free(sim->links.vals[i]);
    sim__map_free(&sim->links);
    for (struct sim__partition *p = sim->partitions, *next; p; p = next) {
        next = p->next;
        free(p->a);
        free(p->b);
        free(p);
    }
    sim->partitions = NULL;
}

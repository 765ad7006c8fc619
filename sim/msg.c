/* msg.c - group datagrams over sim_send/sim_recv (see msg.h). */
#include "sim/msg.h"

#include <errno.h>
#include <stdlib.h>

#define SIM_MSG_MAX_MEMBERS 72

struct simm {
    struct msg base;
    struct env *e;
    uint32_t port;
    int nodes[SIM_MSG_MAX_MEMBERS];
};

static struct simm *ep(struct msg *m)
{
    return (struct simm *)(void *)m;
}

static int s_send(struct msg *m, int to, const void *buf, size_t len)
{
    struct simm *s = ep(m);
    if (to < 0 || to >= m->members)
        return -EINVAL;
    return sim_send(s->e, (struct sim_addr){s->nodes[to], s->port}, buf, len);
}

static ssize_t s_recv(struct msg *m, void *buf, size_t cap, int *from, int64_t timeout_ns)
{
    struct simm *s = ep(m);
    struct sim_addr a;
    ssize_t n = sim_recv(s->e, buf, cap, &a, timeout_ns);
    if (n < 0)
        return n;
    int who = -1;
    for (int i = 0; i < m->members && who < 0; i++) /* one member per node */
        if (s->nodes[i] == a.node)
            who = i;
    if (from)
        *from = who;
    return n;
}

static void s_close(struct msg *m)
{
    (void)m; /* freed when the actor ends */
}

static const struct msg_ops sim_msg_ops = {.send = s_send, .recv = s_recv, .close = s_close};

struct msg *sim_msg_open(struct env *e, const int *nodes, int members, int self, uint32_t port)
{
    if (!e || !nodes || members < 1 || members > SIM_MSG_MAX_MEMBERS || self < 0 ||
        self >= members || port >= SIM_PORT_EPHEMERAL || nodes[self] != sim_env_node(e))
        return NULL;
    struct simm *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = (struct msg){.ops = &sim_msg_ops, .self = self, .members = members};
    s->e = e;
    s->port = port;
    for (int i = 0; i < members; i++)
        s->nodes[i] = nodes[i];
    if (sim_listen(e, port) < 0 || sim_env_atexit(e, free, s) < 0) {
        free(s);
        return NULL;
    }
    return &s->base;
}

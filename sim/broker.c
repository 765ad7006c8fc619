/* broker.c - the simulated broker and its client calls (see broker.h). */
#include "sim/broker.h"

#include <errno.h>
#include <string.h>

enum { MSG_PUB = 1, MSG_ACK = 2, MSG_DELIVER = 3 };

struct wire {
    uint32_t kind;
    uint32_t len;
    uint64_t tag;
    unsigned char payload[SIM_BROKER_PAYLOAD];
};

static void broker_main(struct env *e, void *arg)
{
    struct sim_broker *b = arg;
    struct rng r;
    rng_seed(&r, env_rand(e));
    if (sim_listen(e, b->port) < 0)
        return;
    for (;;) {
        struct wire m;
        struct sim_addr from;
        ssize_t n = sim_recv(e, &m, sizeof(m), &from, -1);
        if (n != (ssize_t)sizeof(m) || m.kind != MSG_PUB)
            continue;
        b->received++;
        int64_t s = sim_dist_draw(&b->service, &r);
        if (s > 0)
            env_sleep(e, s);
        m.kind = MSG_DELIVER;
        sim_send(e, b->deliver_to, &m, sizeof(m));
        b->delivered++;
        m.kind = MSG_ACK;
        sim_send(e, from, &m, sizeof(m));
    }
}

int sim_broker_install(struct sim *sim, int node, struct sim_broker *b)
{
    return sim_node_main(sim, node, "broker", broker_main, b);
}

int sim_broker_publish(struct env *e, struct sim_addr to, uint64_t tag, const void *payload,
                       size_t len, int64_t timeout_ns)
{
    if (len > SIM_BROKER_PAYLOAD)
        return -EINVAL;
    struct wire m = {.kind = MSG_PUB, .len = (uint32_t)len, .tag = tag};
    memcpy(m.payload, payload, len);
    int rc = sim_send(e, to, &m, sizeof(m));
    if (rc < 0)
        return rc;
    int64_t deadline = env_mono(e) + timeout_ns;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        if (left <= 0)
            return -ETIMEDOUT;
        struct sim_addr from;
        ssize_t n = sim_recv(e, &m, sizeof(m), &from, left);
        if (n < 0)
            return -ETIMEDOUT;
        if (n == (ssize_t)sizeof(m) && m.kind == MSG_ACK && m.tag == tag)
            return 0;
    }
}

ssize_t sim_broker_receive(struct env *e, void *buf, size_t cap, uint64_t *tag, int64_t timeout_ns)
{
    for (;;) {
        struct wire m;
        struct sim_addr from;
        ssize_t n = sim_recv(e, &m, sizeof(m), &from, timeout_ns);
        if (n < 0)
            return n;
        if (n != (ssize_t)sizeof(m) || m.kind != MSG_DELIVER)
            continue;
        memcpy(buf, m.payload, m.len < cap ? m.len : cap);
        *tag = m.tag;
        return m.len;
    }
}

/* msg.h - datagrams between the members of a group numbered 0..members-1 (a cluster's
 * nodes and whoever they talk to), as an ops table that each world fills: sim/msg.c
 * (simulated messages: latency, loss, partitions, crashes). A live transport is planned;
 * a primitive includes this and nothing of either world.
 *
 * A 'struct msg' is one member's endpoint, owned by one actor (sim) or thread (live) and
 * never shared. A message is delivered whole or not at all: it may be lost (loss, a
 * partition, a crashed receiver) and the sender never learns of it; it is never
 * corrupted or duplicated, and between two members messages arrive in the order sent.
 *
 * Errors are negative errnos: -EINVAL (no such member), -EMSGSIZE (over the world's
 * limit), -ENOMEM, -ETIMEDOUT (nothing arrived in time). */
#ifndef DISTLAB_CLIENT_MSG_H
#define DISTLAB_CLIENT_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct msg;

struct msg_ops {
    int (*send)(struct msg *m, int to, const void *buf, size_t len);
    ssize_t (*recv)(struct msg *m, void *buf, size_t cap, int *from, int64_t timeout_ns);
    void (*close)(struct msg *m);
};

/* Every world's endpoint starts with this header. */
struct msg {
    const struct msg_ops *ops;
    int self, members;
};

/* Send len bytes (copied) to member 'to' (itself included). Never blocks. Returns 0 (which
 * says nothing of delivery) or an error. */
static inline int msg_send(struct msg *m, int to, const void *buf, size_t len)
{
    return m->ops->send(m, to, buf, len);
}

/* The next message for this member, waiting at most timeout_ns of the node's monotonic
 * time (0: do not wait, < 0: forever). Copies at most cap bytes into buf and sets *from to
 * the sender's member number (-1: not a member). Returns the message's full length, or
 * -ETIMEDOUT. */
static inline ssize_t msg_recv(struct msg *m, void *buf, size_t cap, int *from, int64_t timeout_ns)
{
    return m->ops->recv(m, buf, cap, from, timeout_ns);
}

/* Done with the endpoint (NULL is allowed). */
static inline void msg_close(struct msg *m)
{
    if (m)
        m->ops->close(m);
}

#endif

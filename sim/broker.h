/* broker.h - a message broker modelled in the simulated world: an actor on its own node
 * that accepts publishes, takes a service time for each (one at a time, in arrival
 * order), forwards the payload to one consumer address and then acknowledges the
 * publisher. Its state is volatile: a crash loses what it was holding and what waited
 * in its mailbox; the publisher, seeing no ack, may retry (so a consumer can see a
 * payload twice, when the crash fell between forward and ack: at-least-once).
 * Used by the delayed-task service's queue dispatch (primitives/delay). */
#ifndef DISTLAB_SIM_BROKER_H
#define DISTLAB_SIM_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim/sim.h"

#define SIM_BROKER_PAYLOAD 64 /* bytes a message carries at most */

/* Caller-owned, valid for the world's life. Counters are the broker's own, kept across
 * crashes (they are the lab's view, not the broker's memory). */
struct sim_broker {
    uint32_t port;           /* where it listens on its node */
    struct sim_dist service; /* per message */
    struct sim_addr deliver_to;
    uint64_t received, delivered; /* publishes taken in, payloads forwarded */
};

/* Make the broker the main actor of 'node' (run at start and after each restart).
 * Returns 0 or a negative errno from sim_node_main. */
int sim_broker_install(struct sim *sim, int node, struct sim_broker *b);

/* Publish len bytes (at most SIM_BROKER_PAYLOAD) under 'tag' and block until the broker
 * at 'to' acknowledges that tag, at most timeout_ns of monotonic time. Acks for other
 * tags (late answers to earlier attempts) are discarded. Call from an actor that
 * receives nothing else. Returns 0, -ETIMEDOUT, or -EINVAL (len too large). */
int sim_broker_publish(struct env *e, struct sim_addr to, uint64_t tag, const void *payload,
                       size_t len, int64_t timeout_ns);

/* Consumer side: receive the next payload delivered to this actor, blocking at most
 * timeout_ns (< 0: forever). Copies at most cap bytes, sets *tag. Returns the payload's
 * length or -ETIMEDOUT. */
ssize_t sim_broker_receive(struct env *e, void *buf, size_t cap, uint64_t *tag, int64_t timeout_ns);

#endif

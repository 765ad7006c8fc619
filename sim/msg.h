/* msg.h - client/msg.h over simulated messages: member i of a group is the actor that
 * listens on 'port' on node nodes[i]. Latency, loss, partitions and crashes are the
 * network's (net.c); the simulated network has no bandwidth, so a message's size does not
 * change its latency. */
#ifndef DISTLAB_SIM_MSG_H
#define DISTLAB_SIM_MSG_H

#include <stdint.h>

#include "client/msg.h"
#include "sim/sim.h"

/* Make the calling actor member 'self' of the group nodes[0..members) (members <=
 * PL_MAX_NODES + 8 = 72, one member per node) on 'port' (a well-known port: below
 * SIM_PORT_EPHEMERAL), listening on it. The endpoint lives until the actor ends (a crash
 * included); msg_close before then is allowed and does nothing more. NULL on bad
 * arguments, a port another live actor holds, or -ENOMEM. */
struct msg *sim_msg_open(struct env *e, const int *nodes, int members, int self, uint32_t port);

#endif

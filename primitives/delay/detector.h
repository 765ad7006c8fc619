/* detector.h - heartbeat failure detection: a node is suspected once nothing has been heard
 * from it for longer than a timeout of the observer's own monotonic clock.
 *
 * A pure structure: time is an argument, nothing here reads a clock or sends a message.
 * The trade-off is the timeout's alone: a short one notices a crash soon (a crashed node's
 * tasks wait about that long, plus a heartbeat interval), a long one survives slow or lost
 * heartbeats without suspecting a node that is alive (a false failover moves its tasks for
 * nothing). What a suspicion leads to is the cluster's business (cluster.h). */
#ifndef DISTLAB_DELAY_DETECTOR_H
#define DISTLAB_DELAY_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "delay/placement.h"

/* Embedded by its owner (one per observing node); 528 bytes. */
struct fd {
    int nodes;
    int64_t timeout_ns;
    int64_t last[PL_MAX_NODES]; /* when each node was last heard, observer's monotonic ns */
};

/* Watch 'nodes' nodes (1..PL_MAX_NODES) with 'timeout_ns' (> 0), each counted as heard at
 * 'now': a node is given one timeout to show itself. Returns 0 or -EINVAL. */
int fd_init(struct fd *d, int nodes, int64_t timeout_ns, int64_t now);

/* Something arrived from 'node' at 'now' (a heartbeat, or any message). Out-of-range nodes
 * and times earlier than the last heard are ignored. */
void fd_heard(struct fd *d, int node, int64_t now);

/* The nodes not heard from for more than the timeout at 'now', as a mask. O(nodes). */
uint64_t fd_suspects(const struct fd *d, int64_t now);

/* The earliest time after 'now' at which a node not suspected at 'now' becomes suspected
 * if nothing more is heard: when the observer must look again. INT64_MAX if none. */
int64_t fd_next_change(const struct fd *d, int64_t now);

/* Invariants: nodes and timeout in range, no node heard after 'now'. */
bool fd_check(const struct fd *d, int64_t now);

#endif

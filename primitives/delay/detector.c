/* detector.c - heartbeat timeouts (see detector.h). */
#include "delay/detector.h"

#include <errno.h>

int fd_init(struct fd *d, int nodes, int64_t timeout_ns, int64_t now)
{
    if (nodes < 1 || nodes > PL_MAX_NODES || timeout_ns <= 0)
        return -EINVAL;
    d->nodes = nodes;
    d->timeout_ns = timeout_ns;
    for (int n = 0; n < PL_MAX_NODES; n++)
        d->last[n] = now;
    return 0;
}

void fd_heard(struct fd *d, int node, int64_t now)
{
    if (node >= 0 && node < d->nodes && now > d->last[node])
        d->last[node] = now;
}

uint64_t fd_suspects(const struct fd *d, int64_t now)
{
    uint64_t s = 0;
    for (int n = 0; n < d->nodes; n++)
        if (now - d->last[n] > d->timeout_ns)
            s |= (uint64_t)1 << n;
    return s;
}

int64_t fd_next_change(const struct fd *d, int64_t now)
{
    int64_t next = INT64_MAX;
    for (int n = 0; n < d->nodes; n++) {
        int64_t at = d->last[n] + d->timeout_ns + 1; /* the first instant past the timeout */
        if (at > now && at < next)
            next = at;
    }
    return next;
}

bool fd_check(const struct fd *d, int64_t now)
{
    if (d->nodes < 1 || d->nodes > PL_MAX_NODES || d->timeout_ns <= 0)
        return false;
    for (int n = 0; n < d->nodes; n++)
        if (d->last[n] > now)
            return false;
    return true;
}

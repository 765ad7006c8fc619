/* lagrelay.c - the replication relay of lagrelay.h: one lagged group of a live_relay
 * (relay.c does the relaying). */
#include "live/lagrelay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "live/relay.h"

struct live_lagrelay {
    struct live_relay *relay;
    int group, port;
};

int live_lagrelay_start(int target_port, int64_t lag_ns, struct live_lagrelay **out)
{
    *out = NULL;
    struct live_lagrelay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (!(r->relay = live_relay_create())) {
        int e = errno ? errno : ENOMEM;
        free(r);
        return -e;
    }
    char up[32], via[32];
    snprintf(up, sizeof(up), "127.0.0.1:%d", target_port);
    r->group = live_relay_add_lagged(r->relay, up, lag_ns, via, sizeof(via));
    if (r->group < 0 || sscanf(via, "127.0.0.1:%d", &r->port) != 1) {
        int rc = r->group < 0 ? r->group : -EIO;
        live_lagrelay_stop(r);
        return rc;
    }
    *out = r;
    return 0;
}

int live_lagrelay_port(const struct live_lagrelay *r)
{
    return r->port;
}

int live_lagrelay_cut(struct live_lagrelay *r, const void *pattern, size_t len)
{
    return live_relay_cut(r->relay, r->group, pattern, len);
}

void live_lagrelay_stats(struct live_lagrelay *r, uint64_t *delivered, uint64_t *dropped,
                         uint64_t *landed)
{
    struct live_relay_stats s = {0};
    live_relay_stats(r->relay, r->group, &s);
    *delivered = s.delivered;
    *dropped = s.dropped;
    *landed = s.landed;
}

void live_lagrelay_stop(struct live_lagrelay *r)
{
    if (!r)
        return;
    live_relay_destroy(r->relay);
    free(r);
}

/* redis_hiredis.h - client/redis.h over hiredis, to a real Redis: one blocking connection
 * per client thread, a timeout on every call, compare-and-delete/extend and the sorted-set
 * moves as Lua scripts (EVALSHA, loaded again after NOSCRIPT, e.g. when the server
 * restarted).
 * The first connect sets SIGPIPE to SIG_IGN if it was SIG_DFL: a write to a server that
 * died must be an error (-ECONNRESET), not the end of the process. */
#ifndef DISTLAB_LIVE_REDIS_HIREDIS_H
#define DISTLAB_LIVE_REDIS_HIREDIS_H

#include <stdint.h>

#include "client/redis.h"

/* A connection to 'addr': "unix:/path/to.sock", "/path/to.sock", "redis://host:port",
 * "host:port" or "host" (port 6379), or "sentinel://host:port/NAME": the master Sentinel
 * names NAME (SENTINEL get-master-addr-by-name), asked again at every connect, so after
 * an error or a READONLY refusal the client follows a failover. Connects lazily, on the first call, and again after
 * any error, so a server that is down shows as -ECONNREFUSED from the calls (and a server
 * that restarted is found again). NULL on -ENOMEM or an address it cannot parse. */
struct redis *live_redis_connect(const char *addr, int64_t timeout_ns);

/* Connect to addr and PING it: 0, or a negative errno (-ECONNREFUSED, -ETIMEDOUT...). */
int live_redis_ping(const char *addr, int64_t timeout_ns);

#endif

/* zk_client.h - client/zk.h over libzookeeper-mt, to a real ZooKeeper ensemble: its
 * synchronous calls (THREADED), its own I/O and completion threads keeping the session,
 * and one watcher per handle that queues every notification and session event for
 * zk_wait. The library's log goes nowhere unless DISTLAB_ZK_LOG is set in the
 * environment (1..4: error, warn, info, debug). */
#ifndef DISTLAB_LIVE_ZK_CLIENT_H
#define DISTLAB_LIVE_ZK_CLIENT_H

#include <stdint.h>

#include "client/zk.h"

/* Open a session to 'hosts' ("127.0.0.1:2181,127.0.0.1:2182,...", a chroot suffix
 * allowed) with the requested timeout. Returns at once (state: connecting), as
 * zookeeper_init does. NULL with errno set on a host string the library refuses
 * (EINVAL), or out of memory. */
struct zk *live_zk_connect(const char *hosts, int64_t session_timeout_ns);

/* Connect to 'hosts' and wait up to timeout_ns for the session: 0 when it connected (the
 * session is then closed), -ETIMEDOUT, or -EINVAL (the host string). For "is the
 * ensemble there". */
int live_zk_ping(const char *hosts, int64_t timeout_ns);

/* Ask the server at "127.0.0.1:PORT" its mode with the four-letter word srvr (the live
 * launcher whitelists it): "leader", "follower", "standalone" into mode (cap bytes).
 * Returns 0, or a negative errno (-ECONNREFUSED, -ETIMEDOUT after timeout_ns, -EPROTO:
 * no Mode line, e.g. a server that does not serve yet or refuses the word). */
int live_zk_mode(const char *addr, int64_t timeout_ns, char *mode, size_t cap);

#endif

/* etcd_curl.h - client/etcd.h over libcurl and jansson, to a real etcd's v3 JSON gateway
 * (etcd 3.4: POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/kv/txn,
 * /v3/kv/compaction, /v3/lease/grant, /v3/lease/revoke, /v3/lease/keepalive, and
 * /v3/watch as a long-lived chunked response of one JSON object per line). Keys and values
 * travel base64-encoded (OpenSSL's EVP_EncodeBlock), 64-bit numbers as JSON strings.
 *
 * One connection is one libcurl easy handle kept alive between calls (one TCP connection,
 * reused), owned by one thread; each watch has an easy handle of its own (a watch is an
 * HTTP response that never ends), driven by a multi handle so that etcd_watch_next can
 * wait with a timeout. gRPC errors in the gateway's answers map to errnos: InvalidArgument
 * and OutOfRange -EINVAL (an empty key, a TTL above the maximum, a compacted or future
 * revision), NotFound -ENOENT (a lease), Unavailable -EAGAIN (no leader, request timed
 * out inside the cluster); transport failures: -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT
 * (the connection then moves to the next endpoint). */
#ifndef DISTLAB_LIVE_ETCD_CURL_H
#define DISTLAB_LIVE_ETCD_CURL_H

#include <stdint.h>

#include "client/etcd.h"

/* A connection to the cluster at 'endpoints': comma-separated "http://host:port" or
 * "host:port" (at most 8), the first one used first. Connects lazily, on the first call.
 * NULL on -ENOMEM or endpoints it cannot parse. Thread-safe to call (libcurl's global
 * init runs once). */
struct etcd *live_etcd_connect(const char *endpoints, int64_t timeout_ns);

/* The same, talking first to endpoint 'first' (mod their number): spreads clients over a
 * cluster's members, as the simulated client k starts at member k. */
struct etcd *live_etcd_connect_from(const char *endpoints, size_t first, int64_t timeout_ns);

/* Is some endpoint answering? GET /version on each until one answers: 0, or the last
 * error (-ECONNREFUSED, -ETIMEDOUT, -EINVAL for endpoints it cannot parse). */
int live_etcd_ping(const char *endpoints, int64_t timeout_ns);

/* Which endpoint (0-based index in 'endpoints') is the leader, asking each member's
 * /v3/maintenance/status: the index, -ENOENT when no member reachable claims to lead, or
 * the last call's error when none answered. */
int live_etcd_leader(const char *endpoints, int64_t timeout_ns);

/* Make endpoint 'target' the leader (etcd's transfer-leadership, asked of the current
 * leader, as `etcdctl move-leader` does) and wait until it leads: 0, -ETIMEDOUT after
 * timeout_ns, -EINVAL for a bad target, or -ECONNREFUSED when the target does not answer.
 * So a scenario can name the leader ("crash: etcd-0") before its faults. */
int live_etcd_make_leader(const char *endpoints, size_t target, int64_t timeout_ns);

/* One GET /version on c's connection: an HTTP round trip through the gateway that
 * involves no Raft (what a call costs before etcd does anything). 0 or an errno; a
 * failure moves c to the next endpoint. */
int live_etcd_version(struct etcd *c);

/* The endpoint ("http://host:port") the connection talks to now. */
const char *live_etcd_endpoint(const struct etcd *c);

#endif

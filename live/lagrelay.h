/* lagrelay.h - a TCP relay on 127.0.0.1 that delays one direction of a link: the live
 * world's replication lag. On loopback a primary's write reaches its replica within
 * microseconds, so a crash right after a grant would almost never lose it; real links
 * and busy primaries lag. A replica pointed at the relay instead of its primary sees
 * every byte the primary sends 'lag' later; what the relay still holds when the primary
 * dies is lost with it, as bytes still queued in a dead machine are. The other direction
 * (the replica's acknowledgements) passes at once.
 *
 * One relay.h relay set (and its thread) per lagrelay; thread-safe calls. */
#ifndef DISTLAB_LIVE_LAGRELAY_H
#define DISTLAB_LIVE_LAGRELAY_H

#include <stddef.h>
#include <stdint.h>

struct live_lagrelay;

/* Listen on a free 127.0.0.1 port and relay each connection to 127.0.0.1:target_port,
 * delaying target-to-client bytes by lag_ns. Returns 0 and *out, or a negative errno. */
int live_lagrelay_start(int target_port, int64_t lag_ns, struct live_lagrelay **out);

int live_lagrelay_port(const struct live_lagrelay *r); /* where clients connect */

/* Cut the stream at the first occurrence of 'pattern' among the bytes not yet delivered
 * (or, if none holds it yet, at its next occurrence): that byte and every later one the
 * target writes are dropped; the bytes before it still arrive at their time, even if the
 * target dies meanwhile. The cut ends when the connection it covered closes (after the
 * target died and what preceded the cut was delivered). For a crash right after a grant
 * that loses the grant and nothing older: cut at the grant's command, then kill the
 * target. Without a cut, a target's death loses whatever the relay still held.
 * Returns 0, or -EINVAL for an empty pattern (-ENOMEM). */
int live_lagrelay_cut(struct live_lagrelay *r, const void *pattern, size_t len);

/* Bytes delivered to clients and dropped, and how many cuts found their pattern. */
void live_lagrelay_stats(struct live_lagrelay *r, uint64_t *delivered, uint64_t *dropped,
                         uint64_t *landed);

/* Close every connection, stop the thread, free r. NULL is allowed. */
void live_lagrelay_stop(struct live_lagrelay *r);

#endif

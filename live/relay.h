/* relay.h - loopback TCP relays between a live client and its servers, which can be
 * frozen: while a client's relays are frozen nothing passes either way (bytes wait in the
 * kernel's buffers, new connections in the listen backlog), so the servers hear nothing
 * from it, as from a process stopped by SIGSTOP or a long GC pause, while the process
 * itself goes on. This is how a live run pauses one client among threads of one process:
 * a ZooKeeper client's own I/O thread would otherwise keep its session alive through any
 * pause of the thread that holds the lock.
 *
 * A group can also delay what its upstreams send to the client by a lag, and cut that
 * stream at a pattern (the replication relay of lagrelay.h is one such group).
 *
 * One thread serves every relay of a struct live_relay; everything is 127.0.0.1. A relay
 * adds a hop of user space to each message (tens of microseconds): use it only where a
 * run pauses clients or lags a link. */
#ifndef DISTLAB_LIVE_RELAY_H
#define DISTLAB_LIVE_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct live_relay;

/* A relay set and its thread. NULL with errno set. */
struct live_relay *live_relay_create(void);

/* A group of relays for one client: for each "127.0.0.1:PORT" in 'upstreams'
 * (comma-separated, at most 16), a listener on a fresh loopback port that relays each
 * connection it accepts to that upstream. Writes the client's address string (the
 * listeners, in the same order) into out. Returns the group's number (>= 0), or
 * -EINVAL (a host other than 127.0.0.1, too many), -ENOSPC (out too small), or another
 * negative errno. */
int live_relay_add(struct live_relay *r, const char *upstreams, char *out, size_t cap);

/* As live_relay_add, and every byte an upstream sends reaches the client lag_ns after
 * the relay read it (the client's bytes pass at once). -EINVAL also for lag_ns < 0. */
int live_relay_add_lagged(struct live_relay *r, const char *upstreams, int64_t lag_ns, char *out,
                          size_t cap);

/* Cut group g's upstream-to-client stream at the first occurrence of 'pattern' among the
 * bytes not yet delivered (or, if none holds it yet, at its next occurrence): that byte
 * and every later one the upstream writes are dropped; the bytes before it still arrive
 * at their time, even if the upstream closes meanwhile. The cut ends when the connection
 * it covered closes (after the upstream closed and what preceded the cut was delivered).
 * Returns 0, -EINVAL (an empty pattern, no group g) or -ENOMEM. */
int live_relay_cut(struct live_relay *r, int g, const void *pattern, size_t len);

struct live_relay_stats {
    uint64_t delivered; /* upstream-to-client bytes written to clients */
    uint64_t dropped;   /* ... lost: past a cut, or held when a connection closed */
    uint64_t landed;    /* cuts that found their pattern */
};

/* Group g's counts so far. Returns 0 or -EINVAL. */
int live_relay_stats(struct live_relay *r, int g, struct live_relay_stats *out);

/* Stop everything through group g for dur_ns from now (a later call extends or ends it).
 * Returns 0 or -EINVAL. */
int live_relay_freeze(struct live_relay *r, int g, int64_t dur_ns);

/* Stop the thread, close every socket, free r. NULL is allowed. */
void live_relay_destroy(struct live_relay *r);

#endif

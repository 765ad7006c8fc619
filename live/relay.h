/* relay.h - loopback TCP relays between a live client and its servers, which can be
 * frozen: while a client's relays are frozen nothing passes either way (bytes wait in the
 * kernel's buffers, new connections in the listen backlog), so the servers hear nothing
 * from it, as from a process stopped by SIGSTOP or a long GC pause, while the process
 * itself goes on. This is how a live run pauses one client among threads of one process:
 * a ZooKeeper client's own I/O thread would otherwise keep its session alive through any
 * pause of the thread that holds the lock.
 *
 * One thread serves every relay of a struct live_relay; everything is 127.0.0.1. A relay
 * adds a hop of user space to each message (tens of microseconds): use it only where a
 * run pauses clients. */
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

/* Stop everything through group g for dur_ns from now (a later call extends or ends it).
 * Returns 0 or -EINVAL. */
int live_relay_freeze(struct live_relay *r, int g, int64_t dur_ns);

/* Stop the thread, close every socket, free r. NULL is allowed. */
void live_relay_destroy(struct live_relay *r);

#endif

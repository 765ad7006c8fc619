/* chan.h - a channel in user space, built as Go's runtime builds one (runtime/chan.go's
 * hchan): a lock, a ring buffer of `cap` elements, and two wait queues, of receivers
 * and of senders, whose waiting threads the other side hands a value to directly.
 * The seed's `make(chan struct{}, 1)` is one of these with cap 1; the live world's
 * channel try-lock (lock/tokchan.h, live_tokchan_user) runs on it, beside the kernel
 * pipe (live_tokchan_pipe), so bench-locks can put a CAS, Go's kind of channel and a
 * system call side by side.
 *
 * Costs, as in Go: a non-blocking receive on an empty channel (select with a default
 * case) or send on a full one reads one atomic and takes no lock; every other
 * operation takes the lock once. A blocked thread waits on its own condition variable
 * under the channel's lock (Go parks the goroutine instead). The lock is a pthread
 * mutex: futex-based, like Go's runtime mutex, without its spinning phase.
 *
 * Threads only; no env, no clock. Closing a channel is not provided. */
#ifndef DISTLAB_LIVE_CHAN_H
#define DISTLAB_LIVE_CHAN_H

#include <stdbool.h>
#include <stddef.h>

struct live_chan; /* opaque, defined in chan.c */

/* A channel of elements of elemsize bytes (>= 1) with room for cap of them (0: an
 * unbuffered channel, where a send waits for its receiver). NULL on ENOMEM. */
struct live_chan *live_chan_create(size_t cap, size_t elemsize);

/* Frees the channel. Nobody may be using or waiting on it. NULL is a no-op. */
void live_chan_destroy(struct live_chan *c);

/* Send *elem: to a waiting receiver if there is one, else into the buffer if it has
 * room, else (block) wait until a receiver takes it, or (!block) return false at once.
 * Returns true when sent. */
bool live_chan_send(struct live_chan *c, const void *elem, bool block);

/* Receive into *elem (may be NULL to drop it): from the buffer if it holds any (and a
 * waiting sender's value then moves into the buffer), else from a waiting sender
 * (unbuffered), else (block) wait for a sender, or (!block) return false at once.
 * Returns true when received. */
bool live_chan_recv(struct live_chan *c, void *elem, bool block);

/* Elements in the buffer now (a racy snapshot unless nobody is using the channel). */
size_t live_chan_len(const struct live_chan *c);

/* Invariants, under the lock: 0 <= len <= cap, the ring's indices agree with len,
 * nobody waits to receive while the buffer holds elements, nobody waits to send while
 * it has room. For tests. */
bool live_chan_check(struct live_chan *c);

#endif

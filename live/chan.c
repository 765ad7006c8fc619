/* chan.c - the user-space channel of chan.h (Go's hchan in C), and the live world's
 * one-token channel built on it (live_tokchan_user). Never does I/O. */
#include "live/chan.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "lock/tokchan.h"

/* A thread waiting on the channel (Go's sudog): the other side copies the value to or
 * from 'elem', sets 'done' and signals. */
struct waiter {
    struct waiter *next;
    void *elem;
    bool done;
    pthread_cond_t cv;
};

struct waitq {
    struct waiter *first, *last;
};

struct live_chan {
    pthread_mutex_t lock;
    size_t cap, elemsize;
    unsigned char *buf;     /* cap * elemsize: the ring */
    size_t sendx, recvx;    /* next slot to fill, next slot to empty */
    _Atomic size_t qcount;  /* elements in the ring; read without the lock by the fast paths */
    _Atomic int nrecvq;     /* waiters in recvq: the unbuffered fast path reads it */
    struct waitq recvq, sendq;
};

static void enqueue(struct waitq *q, struct waiter *w)
{
    w->next = NULL;
    if (q->last)
        q->last->next = w;
    else
        q->first = w;
    q->last = w;
}

static struct waiter *dequeue(struct waitq *q)
{
    struct waiter *w = q->first;
    if (w) {
        q->first = w->next;
        if (!q->first)
            q->last = NULL;
    }
    return w;
}

struct live_chan *live_chan_create(size_t cap, size_t elemsize)
{
    if (elemsize == 0 || (cap && elemsize > SIZE_MAX / cap)) {
        errno = EINVAL;
        return NULL;
    }
    struct live_chan *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->buf = cap ? calloc(cap, elemsize) : NULL;
    if (cap && !c->buf) {
        free(c);
        return NULL;
    }
    c->cap = cap;
    c->elemsize = elemsize;
    atomic_init(&c->qcount, 0);
    atomic_init(&c->nrecvq, 0);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void live_chan_destroy(struct live_chan *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->buf);
    free(c);
}

/* Wait under the lock until the other side has handed over (Go: gopark). */
static void wait_done(struct live_chan *c, struct waitq *q, struct waiter *w)
{
    pthread_cond_init(&w->cv, NULL);
    w->done = false;
    enqueue(q, w);
    if (q == &c->recvq)
        atomic_fetch_add_explicit(&c->nrecvq, 1, memory_order_relaxed);
    while (!w->done)
        pthread_cond_wait(&w->cv, &c->lock);
    pthread_cond_destroy(&w->cv);
}

/* Hand over to waiter w, dequeued under the lock (Go: goready). */
static void wake(struct waiter *w)
{
    w->done = true;
    pthread_cond_signal(&w->cv);
}

bool live_chan_send(struct live_chan *c, const void *elem, bool block)
{
    /* Go's fast path: a non-blocking send that finds no room fails without the lock. */
    if (!block && (c->cap ? atomic_load_explicit(&c->qcount, memory_order_acquire) == c->cap
                          : atomic_load_explicit(&c->nrecvq, memory_order_acquire) == 0))
        return false;
    pthread_mutex_lock(&c->lock);
    struct waiter *r = dequeue(&c->recvq);
    if (r) { /* a receiver waits: the buffer is empty, hand it over directly */
        atomic_fetch_sub_explicit(&c->nrecvq, 1, memory_order_relaxed);
        if (r->elem)
            memcpy(r->elem, elem, c->elemsize);
        wake(r);
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    size_t n = atomic_load_explicit(&c->qcount, memory_order_relaxed);
    if (n < c->cap) {
        memcpy(c->buf + c->sendx * c->elemsize, elem, c->elemsize);
        c->sendx = (c->sendx + 1) % c->cap;
        atomic_store_explicit(&c->qcount, n + 1, memory_order_release);
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    if (!block) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    struct waiter me = {.elem = (void *)elem};
    wait_done(c, &c->sendq, &me);
    pthread_mutex_unlock(&c->lock);
    return true;
}

bool live_chan_recv(struct live_chan *c, void *elem, bool block)
{
    /* Go's fast path: a non-blocking receive from an empty channel fails without the
     * lock (for an unbuffered channel Go reads sendq.first; the lock decides here). */
    if (!block && c->cap && atomic_load_explicit(&c->qcount, memory_order_acquire) == 0)
        return false;
    pthread_mutex_lock(&c->lock);
    size_t n = atomic_load_explicit(&c->qcount, memory_order_relaxed);
    struct waiter *s;
    if (n > 0) {
        unsigned char *slot = c->buf + c->recvx * c->elemsize;
        if (elem)
            memcpy(elem, slot, c->elemsize);
        c->recvx = (c->recvx + 1) % c->cap;
        s = dequeue(&c->sendq);
        if (s) { /* the buffer was full: the first waiting sender's value takes the slot */
            memcpy(c->buf + c->sendx * c->elemsize, s->elem, c->elemsize);
            c->sendx = (c->sendx + 1) % c->cap;
            wake(s);
        } else {
            atomic_store_explicit(&c->qcount, n - 1, memory_order_release);
        }
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    if ((s = dequeue(&c->sendq))) { /* unbuffered: take it from the sender */
        if (elem)
            memcpy(elem, s->elem, c->elemsize);
        wake(s);
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    if (!block) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    struct waiter me = {.elem = elem};
    wait_done(c, &c->recvq, &me);
    pthread_mutex_unlock(&c->lock);
    return true;
}

size_t live_chan_len(const struct live_chan *c)
{
    return atomic_load_explicit(&c->qcount, memory_order_acquire);
}

bool live_chan_check(struct live_chan *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = atomic_load_explicit(&c->qcount, memory_order_relaxed);
    int nr = 0;
    for (struct waiter *w = c->recvq.first; w; w = w->next)
        nr++;
    bool ok = n <= c->cap && nr == atomic_load_explicit(&c->nrecvq, memory_order_relaxed) &&
              (c->cap == 0 || (c->recvx + n) % c->cap == c->sendx) &&
              (n == 0 || !c->recvq.first) && (n == c->cap || !c->sendq.first) &&
              (c->cap || !(c->recvq.first && c->sendq.first));
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* ---- The one-token channel of lock/tokchan.h on it ---------------------------------- */

struct userchan {
    struct lock_tokchan base;
    struct live_chan *ch; /* cap 1, elements of one byte */
};

static bool user_take(struct lock_tokchan *c, struct env *e)
{
    (void)e;
    struct userchan *u = (struct userchan *)c;
    if (!live_chan_recv(u->ch, NULL, false))
        return false;
    atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
    return true;
}

static int user_put(struct lock_tokchan *c, struct env *e)
{
    (void)e;
    struct userchan *u = (struct userchan *)c;
    /* As for the pipe: only the taker puts, so the flag is set before the token goes in
     * and the next taker clears it after taking. */
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_relaxed,
                                                 memory_order_relaxed))
        return -EBUSY;
    char b = 1;
    if (!live_chan_send(u->ch, &b, false)) {
        atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
        return -EBUSY;
    }
    return 0;
}

static bool user_check(const struct lock_tokchan *c)
{
    const struct userchan *u = (const struct userchan *)c;
    return live_chan_check(u->ch) && (int)live_chan_len(u->ch) == lock_tokchan_tokens(c);
}

static void user_destroy(struct lock_tokchan *c)
{
    struct userchan *u = (struct userchan *)c;
    live_chan_destroy(u->ch);
    free(u);
}

static const struct lock_tokchan_ops user_ops = {
    .kind = "user",
    .take = user_take,
    .put = user_put,
    .check = user_check,
    .destroy = user_destroy,
};

struct lock_tokchan *live_tokchan_user(void)
{
    struct userchan *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->base.ops = &user_ops;
    char b = 1;
    if (!(u->ch = live_chan_create(1, 1)) || !live_chan_send(u->ch, &b, false)) {
        live_chan_destroy(u->ch);
        free(u);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&u->base.tokens, 1);
    return &u->base;
}

/* tokchan.c - the one-token channel of tokchan.h: an atomic model with a CPU cost, and a
 * non-blocking pipe. The pipe is the only I/O in primitives/lock: a channel is a kernel
 * object in the live world, and the point of the seed's channel try-lock is its cost. */
#include "lock/tokchan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

enum tokchan_kind { TOKCHAN_MODEL, TOKCHAN_PIPE };

struct lock_tokchan {
    enum tokchan_kind kind;
    _Atomic int tokens; /* model: the token itself; pipe: bookkeeping for put and check */
    int64_t op_ns;      /* model: CPU per operation */
    int fd[2];          /* pipe: read end, write end */
};

struct lock_tokchan *lock_tokchan_model(int64_t op_ns)
{
    struct lock_tokchan *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = TOKCHAN_MODEL;
    c->op_ns = op_ns > 0 ? op_ns : 0;
    c->fd[0] = c->fd[1] = -1;
    atomic_init(&c->tokens, 1);
    return c;
}

struct lock_tokchan *lock_tokchan_pipe(void)
{
    struct lock_tokchan *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->kind = TOKCHAN_PIPE;
    if (pipe2(c->fd, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        free(c);
        errno = err;
        return NULL;
    }
    char b = 1;
    if (write(c->fd[1], &b, 1) != 1) {
        int err = errno ? errno : EIO;
        lock_tokchan_destroy(c);
        errno = err;
        return NULL;
    }
    atomic_init(&c->tokens, 1);
    return c;
}

void lock_tokchan_destroy(struct lock_tokchan *c)
{
    if (!c)
        return;
    if (c->kind == TOKCHAN_PIPE) {
        close(c->fd[0]);
        close(c->fd[1]);
    }
    free(c);
}

bool lock_tokchan_take(struct lock_tokchan *c, struct env *e)
{
    if (c->kind == TOKCHAN_MODEL) {
        if (c->op_ns)
            env_work(e, c->op_ns);
        return atomic_exchange_explicit(&c->tokens, 0, memory_order_acquire) == 1;
    }
    char b;
    ssize_t n;
    while ((n = read(c->fd[0], &b, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        return false; /* EAGAIN: empty */
    atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
    return true;
}

int lock_tokchan_put(struct lock_tokchan *c, struct env *e)
{
    if (c->kind == TOKCHAN_MODEL) {
        if (c->op_ns)
            env_work(e, c->op_ns);
        int empty = 0;
        if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_release,
                                                     memory_order_relaxed))
            return -EBUSY;
        return 0;
    }
    /* Only the taker puts, so the bookkeeping flag is ours to flip; set it before the
     * byte goes in, since the next taker clears it after reading the byte. */
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_relaxed,
                                                 memory_order_relaxed))
        return -EBUSY;
    char b = 1;
    ssize_t n;
    while ((n = write(c->fd[1], &b, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1) {
        int err = n < 0 ? errno : EIO;
        atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
        return -err;
    }
    return 0;
}

int lock_tokchan_tokens(const struct lock_tokchan *c)
{
    return atomic_load_explicit(&c->tokens, memory_order_relaxed);
}

const char *lock_tokchan_kind(const struct lock_tokchan *c)
{
    return c->kind == TOKCHAN_MODEL ? "model" : "pipe";
}

bool lock_tokchan_check(const struct lock_tokchan *c)
{
    int t = atomic_load_explicit(&c->tokens, memory_order_relaxed);
    if (t != 0 && t != 1)
        return false;
    if (c->kind == TOKCHAN_MODEL)
        return c->op_ns >= 0;
    int bytes = -1;
    if (ioctl(c->fd[0], FIONREAD, &bytes) < 0)
        return false;
    return bytes == t;
}

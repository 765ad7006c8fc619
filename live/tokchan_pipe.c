/* tokchan_pipe.c - the live world's one-token channel (lock/tokchan.h): a non-blocking
 * pipe holding one byte. Take is read(2), put is write(2): the real cost of a kernel
 * channel, a system call per operation, which is the point of the seed's channel
 * try-lock. */
#include "live/live.h"
#include "lock/tokchan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct pipechan {
    struct lock_tokchan base;
    int fd[2]; /* read end, write end */
};

static bool pipe_take(struct lock_tokchan *c, struct env *e)
{
    struct pipechan *p = (struct pipechan *)c;
    char b;
    ssize_t n;
    while ((n = read(p->fd[0], &b, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1)
        return false; /* EAGAIN: empty */
    atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
    return true;
}

static int pipe_put(struct lock_tokchan *c, struct env *e)
{
    struct pipechan *p = (struct pipechan *)c;
    /* Only the taker puts, so the bookkeeping flag is ours to flip; set it before the
     * byte goes in, since the next taker clears it after reading the byte. */
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_relaxed,
                                                 memory_order_relaxed))
        return -EBUSY;
    char b = 1;
    ssize_t n;
    while ((n = write(p->fd[1], &b, 1)) < 0 && errno == EINTR)
        ;
    if (n != 1) {
        int err = n < 0 ? errno : EIO;
        atomic_store_explicit(&c->tokens, 0, memory_order_relaxed);
        return -err;
    }
    return 0;
}

static bool pipe_check(const struct lock_tokchan *c)
{
    const struct pipechan *p = (const struct pipechan *)c;
    int bytes = -1;
    if (ioctl(p->fd[0], FIONREAD, &bytes) < 0)
        return false;
    return bytes == lock_tokchan_tokens(c);
}

static void pipe_destroy(struct lock_tokchan *c)
{
    struct pipechan *p = (struct pipechan *)c;
    if (p->fd[0] >= 0)
        close(p->fd[0]);
    if (p->fd[1] >= 0)
        close(p->fd[1]);
    free(p);
}

static const struct lock_tokchan_ops pipe_ops = {
    .kind = "pipe",
    .take = pipe_take,
    .put = pipe_put,
    .check = pipe_check,
    .destroy = pipe_destroy,
};

struct lock_tokchan *live_tokchan_pipe(void)
{
    struct pipechan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->base.ops = &pipe_ops;
    p->fd[0] = p->fd[1] = -1;
    if (pipe2(p->fd, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        free(p);
        errno = err;
        return NULL;
    }
    char b = 1;
    if (write(p->fd[1], &b, 1) != 1) {
        int err = errno ? errno : EIO;
        pipe_destroy(&p->base);
        errno = err;
        return NULL;
    }
    atomic_init(&p->base.tokens, 1);
    return &p->base;
}

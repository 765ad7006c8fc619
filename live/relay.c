/* relay.c - the loopback relays of relay.h: one thread, poll(2) over listeners and
 * connection pairs, a 64 KiB buffer each way per pair; a frozen group's sockets are left
 * out of the poll until its freeze ends. */
#include "live/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define MAX_UP 16

struct listener {
    int fd, group;
    struct sockaddr_in up;
};

struct pair {
    int fd[2]; /* 0: the client's side, 1: the server's side */
    int group;
    size_t len[2]; /* bytes waiting to go from side i to the other */
    unsigned char buf[2][BUF];
};

struct live_relay {
    pthread_mutex_t mu;
    pthread_t thread;
    int wake[2]; /* a pipe: wakes the thread after a change */
    bool quit;
    struct listener *ls;
    size_t nls, capls;
    struct pair **ps;
    size_t nps, capps;
    int64_t *until; /* per group: frozen until this monotonic time */
    size_t ngroups;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 16;
    void *p = realloc(*v, c * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = c;
    return 0;
}

static void nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void wake(struct live_relay *r)
{
    char c = 1;
    if (write(r->wake[1], &c, 1) < 0 && errno != EAGAIN)
        return;
}

static void close_pair(struct live_relay *r, size_t i)
{
    struct pair *p = r->ps[i];
    close(p->fd[0]);
    close(p->fd[1]);
    free(p);
    r->ps[i] = r->ps[--r->nps];
}

/* A client connected to listener l: connect to its upstream and pair them. */
static void accept_one(struct live_relay *r, const struct listener *l)
{
    int down = accept(l->fd, NULL, NULL);
    if (down < 0)
        return;
    int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct pair *p = calloc(1, sizeof(*p));
    if (up < 0 || !p || connect(up, (const void *)&l->up, sizeof(l->up)) < 0 ||
        grow((void **)&r->ps, &r->capps, r->nps, sizeof(*r->ps)) < 0) {
        close(down); /* the client sees its connection closed, as if refused */
        if (up >= 0)
            close(up);
        free(p);
        return;
    }
    nonblock(down);
    nonblock(up);
    p->fd[0] = down;
    p->fd[1] = up;
    p->group = l->group;
    r->ps[r->nps++] = p;
}

/* Move what can be moved for pair p. Returns false when it is done (a side closed). */
static bool pump(struct pair *p, const short *revents)
{
    for (int s = 0; s < 2; s++) {
        if ((revents[s] & (POLLIN | POLLHUP | POLLERR)) && p->len[s] < BUF) {
            ssize_t n = read(p->fd[s], p->buf[s] + p->len[s], BUF - p->len[s]);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                return false;
            if (n > 0)
                p->len[s] += (size_t)n;
        }
    }
    for (int s = 0; s < 2; s++) {
        if (p->len[s]) {
            ssize_t n = write(p->fd[1 - s], p->buf[s], p->len[s]);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return false;
            if (n > 0) {
                memmove(p->buf[s], p->buf[s] + n, p->len[s] - (size_t)n);
                p->len[s] -= (size_t)n;
            }
        }
    }
    return true;
}

static void *loop(void *arg)
{
    struct live_relay *r = arg;
    struct pollfd *fds = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        if (r->quit) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        int64_t now = mono_ns(), next = -1;
        for (size_t g = 0; g < r->ngroups; g++)
            if (r->until[g] > now && (next < 0 || r->until[g] < next))
                next = r->until[g];
        size_t nls = r->nls; /* listeners added while we poll wait for the next round */
        size_t want = 1 + nls + 2 * r->nps;
        if (want > cap) {
            struct pollfd *f = realloc(fds, want * sizeof(*f));
            if (!f) {
                pthread_mutex_unlock(&r->mu);
                break;
            }
            fds = f;
            cap = want;
        }
        size_t n = 0;
        fds[n++] = (struct pollfd){r->wake[0], POLLIN, 0};
        for (size_t i = 0; i < nls; i++) {
            bool frozen = r->until[r->ls[i].group] > now;
            fds[n++] = (struct pollfd){frozen ? -1 : r->ls[i].fd, POLLIN, 0};
        }
        for (size_t i = 0; i < r->nps; i++) {
            const struct pair *p = r->ps[i];
            bool frozen = r->until[p->group] > now;
            for (int s = 0; s < 2; s++) {
                short ev = (short)((p->len[s] < BUF ? POLLIN : 0) | (p->len[1 - s] ? POLLOUT : 0));
                fds[n++] = (struct pollfd){frozen ? -1 : p->fd[s], ev, 0};
            }
        }
        pthread_mutex_unlock(&r->mu);
        int timeout = next < 0 ? -1 : (int)((next - now) / 1000000 + 1);
        if (poll(fds, n, timeout) < 0 && errno != EINTR)
            break;
        pthread_mutex_lock(&r->mu);
        if (fds[0].revents & POLLIN) {
            char buf[64];
            while (read(r->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        /* Pairs first (their slots in fds are known), then new connections. */
        size_t base = 1 + nls;
        size_t nps = r->nps;
        for (size_t i = nps; i-- > 0;) {
            short rev[2] = {fds[base + 2 * i].revents, fds[base + 2 * i + 1].revents};
            if (fds[base + 2 * i].fd >= 0 && !pump(r->ps[i], rev))
                close_pair(r, i);
        }
        for (size_t i = 0; i < nls; i++)
            if (fds[1 + i].revents & POLLIN)
                accept_one(r, &r->ls[i]);
        pthread_mutex_unlock(&r->mu);
    }
    free(fds);
    return NULL;
}

struct live_relay *live_relay_create(void)
{
    struct live_relay *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (pipe2(r->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(r);
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    int rc = pthread_create(&r->thread, NULL, loop, r);
    if (rc) {
        close(r->wake[0]);
        close(r->wake[1]);
        pthread_mutex_destroy(&r->mu);
        free(r);
        errno = rc;
        return NULL;
    }
    return r;
}

/* A listener on a fresh 127.0.0.1 port. Returns the fd, its port in *port, or -errno. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (void *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (void *)&a, &len) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int live_relay_add(struct live_relay *r, const char *upstreams, char *out, size_t cap)
{
    struct sockaddr_in up[MAX_UP];
    int n = 0;
    for (const char *p = upstreams; p && *p && n < MAX_UP + 1;) {
        unsigned port;
        int used = 0;
        if (sscanf(p, "127.0.0.1:%u%n", &port, &used) != 1 || port == 0 || port > 65535 ||
            n == MAX_UP)
            return -EINVAL;
        up[n++] = (struct sockaddr_in){.sin_family = AF_INET,
                                       .sin_port = htons((uint16_t)port),
                                       .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        p += used;
        if (*p == ',')
            p++;
        else if (*p)
            return -EINVAL;
    }
    if (n == 0)
        return -EINVAL;
    pthread_mutex_lock(&r->mu);
    int g = (int)r->ngroups, rc = 0;
    int64_t *u = realloc(r->until, (r->ngroups + 1) * sizeof(*u));
    if (!u) {
        pthread_mutex_unlock(&r->mu);
        return -ENOMEM;
    }
    r->until = u;
    r->until[g] = 0;
    size_t off = 0, first = r->nls;
    for (int i = 0; i < n && rc == 0; i++) {
        int port = 0, fd = listen_any(&port);
        if (fd < 0) {
            rc = fd;
            break;
        }
        if ((rc = grow((void **)&r->ls, &r->capls, r->nls, sizeof(*r->ls))) < 0) {
            close(fd);
            break;
        }
        r->ls[r->nls++] = (struct listener){fd, g, up[i]};
        int k = snprintf(out + off, cap - off, "%s127.0.0.1:%d", i ? "," : "", port);
        if (k < 0 || (size_t)k >= cap - off)
            rc = -ENOSPC;
        else
            off += (size_t)k;
    }
    if (rc < 0) { /* undo this group's listeners */
        while (r->nls > first)
            close(r->ls[--r->nls].fd);
    } else {
        r->ngroups++;
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc < 0 ? rc : g;
}

int live_relay_freeze(struct live_relay *r, int g, int64_t dur_ns)
{
    pthread_mutex_lock(&r->mu);
    int rc = g >= 0 && (size_t)g < r->ngroups ? 0 : -EINVAL;
    if (rc == 0)
        r->until[g] = dur_ns > 0 ? mono_ns() + dur_ns : 0;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc;
}

void live_relay_destroy(struct live_relay *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->quit = true;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->nls; i++)
        close(r->ls[i].fd);
    while (r->nps)
        close_pair(r, r->nps - 1);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r->ls);
    free(r->ps);
    free(r->until);
    free(r);
}

/* relay.c - the loopback relays of relay.h: one thread, poll(2) over listeners and
 * connection pairs. Each direction of a pair is a queue of chunks stamped with the time
 * they may go (now, or now + the group's lag for upstream-to-client bytes); a queue stops
 * reading at QUEUE_MAX, so a slow side slows its peer instead of growing memory. A frozen
 * group's sockets are left out of the poll, and its queues wait, until the freeze ends.
 * Memory: per pair, what is in flight (at most 2 x QUEUE_MAX; a lagged replication
 * stream holds 'lag' worth of it). */
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

#define CHUNK 16384
#define QUEUE_MAX (256 * 1024)
#define MAX_UP 16

struct listener {
    int fd, group;
    struct sockaddr_in up;
};

struct chunk {
    struct chunk *next;
    int64_t due; /* monotonic time from which it may be written */
    size_t len, off;
    unsigned char data[];
};

struct queue {
    struct chunk *head, *tail;
    size_t bytes; /* not yet written */
};

struct pair {
    int fd[2]; /* 0: the client's side, 1: the upstream's side (-1 once it closed) */
    int group;
    bool up_gone;      /* under a cut: the upstream closed; deliver what precedes the cut */
    bool blocked[2];   /* fd[s] refused a write (EAGAIN): poll it for POLLOUT */
    struct queue q[2]; /* q[s]: read from side s, waiting to go to the other side */
};

enum cut_state { CUT_NONE, CUT_PENDING, CUT_LANDED };

struct group {
    int64_t until; /* frozen until this monotonic time */
    int64_t lag;   /* upstream-to-client bytes wait this long */
    enum cut_state cut;
    unsigned char *cut_pat;
    size_t cut_len;
    struct live_relay_stats stats;
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
    struct group *gs;
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

/* Free what q holds; returns the bytes it had not written. */
static size_t queue_clear(struct queue *q)
{
    size_t lost = q->bytes;
    while (q->head) {
        struct chunk *c = q->head;
        q->head = c->next;
        free(c);
    }
    q->tail = NULL;
    q->bytes = 0;
    return lost;
}

/* Close pair i; what it still held for the client counts as dropped. */
static void close_pair(struct live_relay *r, size_t i)
{
    struct pair *p = r->ps[i];
    r->gs[p->group].stats.dropped += queue_clear(&p->q[1]);
    queue_clear(&p->q[0]);
    for (int s = 0; s < 2; s++)
        if (p->fd[s] >= 0)
            close(p->fd[s]);
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

/* The byte at position k from (c, off) on, or -1 past the queue's end. */
static int byte_at(const struct chunk *c, size_t off, size_t k)
{
    for (; c; c = c->next, off = 0) {
        size_t from = off > c->off ? off : c->off;
        if (k < c->len - from)
            return c->data[from + k];
        k -= c->len - from;
    }
    return -1;
}

/* A pending cut: find the first occurrence of the pattern in what q holds for the client,
 * and truncate q there (dropping it and all after). O(queue x pattern), once per pass
 * while pending: the queue holds 'lag' worth of stream. */
static void try_cut(struct group *g, struct queue *q)
{
    for (struct chunk *c = q->head; c && g->cut == CUT_PENDING; c = c->next) {
        for (size_t o = c->off; o < c->len; o++) {
            size_t k = 0;
            while (k < g->cut_len && byte_at(c, o, k) == g->cut_pat[k])
                k++;
            if (k < g->cut_len)
                continue;
            size_t gone = c->len - o;
            for (struct chunk *d = c->next, *next; d; d = next) {
                next = d->next;
                gone += d->len;
                free(d);
            }
            c->len = o;
            c->next = NULL;
            q->tail = c;
            q->bytes -= gone;
            g->stats.dropped += gone;
            g->stats.landed++;
            g->cut = CUT_LANDED;
            return;
        }
    }
}

/* Write what is due of q to fd. Returns the time the next chunk is due (-1: none
 * waiting; 0: fd is full, poll it), or -2 when fd broke. Counts 'delivered' bytes. */
static int64_t flush(struct queue *q, int fd, int64_t now, uint64_t *delivered)
{
    while (q->head) {
        struct chunk *c = q->head;
        if (c->due > now)
            return c->due;
        if (c->off < c->len) {
            ssize_t n = fd >= 0 ? write(fd, c->data + c->off, c->len - c->off)
                                : (ssize_t)(c->len - c->off); /* nobody to write to */
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
            if (n <= 0)
                return -2;
            c->off += (size_t)n;
            q->bytes -= (size_t)n;
            if (delivered && fd >= 0)
                *delivered += (uint64_t)n;
            if (c->off < c->len)
                continue;
        }
        q->head = c->next;
        if (!q->head)
            q->tail = NULL;
        free(c);
    }
    return -1;
}

/* Read what side s of p has into its queue. Returns false when that side closed. */
static bool take_in(struct live_relay *r, struct pair *p, int s, int64_t now)
{
    struct group *g = &r->gs[p->group];
    struct chunk *c = malloc(sizeof(*c) + CHUNK);
    if (!c)
        return true; /* try again on the next pass */
    ssize_t n = read(p->fd[s], c->data, CHUNK);
    if (n <= 0 || (s == 0 && p->up_gone) || (s == 1 && g->cut == CUT_LANDED)) {
        free(c);
        if (n > 0 && s == 1)
            g->stats.dropped += (uint64_t)n; /* past the cut: the client never sees it */
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
    }
    *c = (struct chunk){.due = now + (s == 1 ? g->lag : 0), .len = (size_t)n};
    if (p->q[s].tail)
        p->q[s].tail->next = c;
    else
        p->q[s].head = c;
    p->q[s].tail = c;
    p->q[s].bytes += (size_t)n;
    return true;
}

/* Side s of pair i closed. Under a cut the upstream's end only stops the reading: what
 * it wrote before the cut still arrives, then the pair ends and so does the cut. Returns
 * whether the pair was closed. */
static bool side_closed(struct live_relay *r, size_t i, int s)
{
    struct pair *p = r->ps[i];
    if (s == 1 && r->gs[p->group].cut != CUT_NONE) {
        close(p->fd[1]);
        p->fd[1] = -1;
        p->up_gone = true;
        queue_clear(&p->q[0]);
        return false;
    }
    close_pair(r, i);
    return true;
}

/* Move what is due on every unfrozen pair. Returns the next time something is due
 * (-1: nothing). Closes the pairs that broke or that a cut has finished. */
static int64_t flush_all(struct live_relay *r, int64_t now)
{
    int64_t next = -1;
    for (size_t i = r->nps; i-- > 0;) {
        struct pair *p = r->ps[i];
        struct group *g = &r->gs[p->group];
        if (g->until > now)
            continue;
        if (g->cut == CUT_PENDING)
            try_cut(g, &p->q[1]);
        int64_t due[2];
        due[0] = flush(&p->q[0], p->fd[1], now, NULL);
        due[1] = flush(&p->q[1], p->fd[0], now, &g->stats.delivered);
        if (due[0] == -2 || due[1] == -2 || (p->up_gone && !p->q[1].head)) {
            if (p->up_gone) /* the cut covered this connection: it ends */
                g->cut = CUT_NONE;
            close_pair(r, i);
            continue;
        }
        for (int s = 0; s < 2; s++) {
            p->blocked[1 - s] = due[s] == 0;
            if (due[s] > 0 && (next < 0 || due[s] < next))
                next = due[s];
        }
    }
    return next;
}

/* The poll set: the wake pipe, then the listeners, then two slots per pair (in the
 * order of r->ps; fd -1 where frozen or closed). Returns how many, or 0 on -ENOMEM. */
static size_t poll_set(struct live_relay *r, int64_t now, struct pollfd **fds, size_t *cap)
{
    size_t want = 1 + r->nls + 2 * r->nps;
    if (want > *cap) {
        struct pollfd *f = realloc(*fds, want * sizeof(*f));
        if (!f)
            return 0;
        *fds = f;
        *cap = want;
    }
    struct pollfd *f = *fds;
    size_t n = 0;
    f[n++] = (struct pollfd){r->wake[0], POLLIN, 0};
    for (size_t i = 0; i < r->nls; i++) {
        bool frozen = r->gs[r->ls[i].group].until > now;
        f[n++] = (struct pollfd){frozen ? -1 : r->ls[i].fd, POLLIN, 0};
    }
    for (size_t i = 0; i < r->nps; i++) {
        const struct pair *p = r->ps[i];
        bool frozen = r->gs[p->group].until > now;
        for (int s = 0; s < 2; s++) {
            short ev =
                (short)((p->q[s].bytes < QUEUE_MAX ? POLLIN : 0) | (p->blocked[s] ? POLLOUT : 0));
            f[n++] = (struct pollfd){frozen ? -1 : p->fd[s], ev, 0};
        }
    }
    return n;
}

static void *loop(void *arg)
{
    struct live_relay *r = arg;
    struct pollfd *fds = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&r->mu);
    while (!r->quit) {
        int64_t now = mono_ns(), next = flush_all(r, now);
        for (size_t g = 0; g < r->ngroups; g++)
            if (r->gs[g].until > now && (next < 0 || r->gs[g].until < next))
                next = r->gs[g].until;
        size_t nls = r->nls, nps = r->nps; /* what is added while we poll waits a round */
        size_t n = poll_set(r, now, &fds, &cap);
        if (n == 0)
            break;
        pthread_mutex_unlock(&r->mu);
        int timeout = next < 0 ? -1 : (int)((next - now + 999999) / 1000000);
        int rc = poll(fds, n, timeout);
        pthread_mutex_lock(&r->mu);
        if (rc < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            char buf[64];
            while (read(r->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        /* Pairs first, from the last (closing one moves the last into its slot). */
        now = mono_ns();
        struct pollfd *pf = fds + 1 + nls;
        for (size_t i = nps; i-- > 0;) {
            for (int s = 0; s < 2; s++) {
                short ev = pf[2 * i + s].revents;
                if (pf[2 * i + s].fd < 0 || !(ev & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                if (!take_in(r, r->ps[i], s, now) && side_closed(r, i, s))
                    break; /* slot i now holds another pair, already seen */
            }
        }
        for (size_t i = 0; i < nls; i++)
            if (fds[1 + i].revents & POLLIN)
                accept_one(r, &r->ls[i]);
    }
    pthread_mutex_unlock(&r->mu);
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

/* "127.0.0.1:PORT,..." into up[]; returns how many, or -EINVAL. */
static int parse_upstreams(const char *upstreams, struct sockaddr_in *up)
{
    int n = 0;
    for (const char *p = upstreams; p && *p;) {
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
    return n ? n : -EINVAL;
}

int live_relay_add_lagged(struct live_relay *r, const char *upstreams, int64_t lag_ns, char *out,
                          size_t cap)
{
    struct sockaddr_in up[MAX_UP];
    int n = parse_upstreams(upstreams, up);
    if (n < 0 || lag_ns < 0)
        return -EINVAL;
    pthread_mutex_lock(&r->mu);
    int g = (int)r->ngroups, rc = 0;
    struct group *gs = realloc(r->gs, (r->ngroups + 1) * sizeof(*gs));
    if (!gs) {
        pthread_mutex_unlock(&r->mu);
        return -ENOMEM;
    }
    r->gs = gs;
    r->gs[g] = (struct group){.lag = lag_ns};
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

int live_relay_add(struct live_relay *r, const char *upstreams, char *out, size_t cap)
{
    return live_relay_add_lagged(r, upstreams, 0, out, cap);
}

int live_relay_freeze(struct live_relay *r, int g, int64_t dur_ns)
{
    pthread_mutex_lock(&r->mu);
    int rc = g >= 0 && (size_t)g < r->ngroups ? 0 : -EINVAL;
    if (rc == 0)
        r->gs[g].until = dur_ns > 0 ? mono_ns() + dur_ns : 0;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc;
}

int live_relay_cut(struct live_relay *r, int g, const void *pattern, size_t len)
{
    unsigned char *pat = len ? malloc(len) : NULL;
    if (!pat)
        return len ? -ENOMEM : -EINVAL;
    memcpy(pat, pattern, len);
    pthread_mutex_lock(&r->mu);
    int rc = g >= 0 && (size_t)g < r->ngroups ? 0 : -EINVAL;
    if (rc == 0) {
        free(r->gs[g].cut_pat);
        r->gs[g].cut_pat = pat;
        r->gs[g].cut_len = len;
        r->gs[g].cut = CUT_PENDING;
    } else {
        free(pat);
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return rc;
}

int live_relay_stats(struct live_relay *r, int g, struct live_relay_stats *out)
{
    pthread_mutex_lock(&r->mu);
    int rc = g >= 0 && (size_t)g < r->ngroups ? 0 : -EINVAL;
    if (rc == 0)
        *out = r->gs[g].stats;
    pthread_mutex_unlock(&r->mu);
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
    for (size_t g = 0; g < r->ngroups; g++)
        free(r->gs[g].cut_pat);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r->ls);
    free(r->ps);
    free(r->gs);
    free(r);
}

/* lagrelay.c - a delaying TCP relay on loopback (see lagrelay.h). One thread polls the
 * listening socket, a wake-up pipe and every connection pair; target-to-client bytes wait
 * in a queue of timestamped chunks until their time comes. Memory: what the target sends
 * in 'lag' (a replication stream: kilobytes). */
#include "live/lagrelay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAIRS 8
#define CHUNK 16384

struct chunk {
    struct chunk *next;
    int64_t t_read; /* CLOCK_REALTIME when the relay read it */
    size_t len, off;
    char data[];
};

struct pair {
    int client, target;        /* -1: free */
    bool target_gone;          /* under a cut: the target closed; deliver what precedes the cut */
    struct chunk *head, *tail; /* target -> client, waiting */
};

struct live_lagrelay {
    int listen_fd, target_port, port;
    int wake[2];
    int64_t lag;
    pthread_t thread;
    pthread_mutex_t mu; /* the cut, stats, stop */
    enum { CUT_NONE, CUT_PENDING, CUT_LANDED } cut;
    char *cut_pat;
    size_t cut_len;
    uint64_t delivered, dropped, landed;
    bool stop;
    struct pair pairs[MAX_PAIRS];
};

static int64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void close_pair(struct live_lagrelay *r, struct pair *p, bool count_dropped)
{
    while (p->head) {
        struct chunk *c = p->head;
        p->head = c->next;
        if (count_dropped) {
            pthread_mutex_lock(&r->mu);
            r->dropped += c->len - c->off;
            pthread_mutex_unlock(&r->mu);
        }
        free(c);
    }
    p->tail = NULL;
    if (p->client >= 0)
        close(p->client);
    if (p->target >= 0)
        close(p->target);
    p->client = p->target = -1;
    p->target_gone = false;
}

static void accept_one(struct live_lagrelay *r)
{
    int c = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    struct pair *p = NULL;
    for (int i = 0; i < MAX_PAIRS && !p; i++)
        if (r->pairs[i].client < 0)
            p = &r->pairs[i];
    int t = p ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->target_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (t < 0 || connect(t, (struct sockaddr *)&a, sizeof(a)) < 0) {
        if (t >= 0)
            close(t);
        close(c); /* the client sees the target as down */
        return;
    }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
    p->client = c;
    p->target = t;
}

/* Read what the target sent into the queue; false when the target's side closed. */
static bool from_target(struct live_lagrelay *r, struct pair *p)
{
    struct chunk *c = malloc(sizeof(*c) + CHUNK);
    if (!c)
        return true;
    ssize_t n = read(p->target, c->data, CHUNK);
    if (n <= 0) {
        free(c);
        return n < 0 && (errno == EINTR || errno == EAGAIN);
    }
    pthread_mutex_lock(&r->mu);
    bool landed = r->cut == CUT_LANDED;
    if (landed)
        r->dropped += (uint64_t)n;
    pthread_mutex_unlock(&r->mu);
    if (landed) { /* past the cut: the client never sees it */
        free(c);
        return true;
    }
    c->next = NULL;
    c->t_read = real_ns();
    c->len = (size_t)n;
    c->off = 0;
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    return true;
}

/* Pass what the client sent straight on; false when the client's side closed. */
static bool from_client(struct pair *p)
{
    char buf[CHUNK];
    ssize_t n = read(p->client, buf, sizeof(buf));
    if (n <= 0)
        return n < 0 && (errno == EINTR || errno == EAGAIN);
    if (p->target_gone)
        return true; /* the client's acknowledgements go nowhere now */
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(p->target, buf + off, (size_t)(n - off));
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

/* The byte of the queue at virtual position k from (c, off), or -1 past its end. */
static int byte_at(const struct chunk *c, size_t off, size_t k)
{
    for (; c; c = c->next, off = 0) {
        size_t here = c->len - (off > c->off ? off : c->off);
        if (k < here)
            return (unsigned char)c->data[(off > c->off ? off : c->off) + k];
        k -= here;
    }
    return -1;
}

/* A pending cut: find the first occurrence of the pattern in what the queue holds, and
 * truncate the queue there (dropping it and all after). O(queue x pattern), once per
 * pass while pending: the queue holds 'lag' worth of stream. */
static void try_cut(struct live_lagrelay *r, struct pair *p)
{
    pthread_mutex_lock(&r->mu);
    if (r->cut != CUT_PENDING) {
        pthread_mutex_unlock(&r->mu);
        return;
    }
    for (struct chunk *c = p->head; c; c = c->next) {
        for (size_t o = c == p->head ? c->off : 0; o < c->len; o++) {
            size_t k = 0;
            while (k < r->cut_len && byte_at(c, o, k) == (unsigned char)r->cut_pat[k])
                k++;
            if (k < r->cut_len)
                continue;
            r->dropped += c->len - o;
            c->len = o;
            for (struct chunk *d = c->next, *next; d; d = next) {
                next = d->next;
                r->dropped += d->len;
                free(d);
            }
            c->next = NULL;
            p->tail = c;
            r->cut = CUT_LANDED;
            r->landed++;
            pthread_mutex_unlock(&r->mu);
            return;
        }
    }
    pthread_mutex_unlock(&r->mu);
}

/* Deliver the chunks whose time has come. Returns the ns until the next one is due (-1:
 * none waiting), or -2 when the client's side broke. */
static int64_t deliver(struct live_lagrelay *r, struct pair *p)
{
    try_cut(r, p);
    while (p->head) {
        struct chunk *c = p->head;
        if (c->off < c->len) {
            int64_t due = c->t_read + r->lag - real_ns();
            if (due > 0)
                return due;
            ssize_t w = write(p->client, c->data + c->off, c->len - c->off);
            if (w < 0 && errno == EAGAIN)
                return 1000000; /* the client's buffer is full: try again in 1 ms */
            if (w <= 0)
                return -2;
            c->off += (size_t)w;
            pthread_mutex_lock(&r->mu);
            r->delivered += (uint64_t)w;
            pthread_mutex_unlock(&r->mu);
            if (c->off < c->len)
                continue;
        }
        p->head = c->next;
        if (!p->head)
            p->tail = NULL;
        free(c);
    }
    return -1;
}

static void *relay_main(void *arg)
{
    struct live_lagrelay *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        int64_t next = 100000000; /* 100 ms at most without a look */
        struct pollfd fds[2 + 2 * MAX_PAIRS];
        int who[2 + 2 * MAX_PAIRS], n = 0;
        fds[n] = (struct pollfd){.fd = r->listen_fd, .events = POLLIN};
        who[n++] = -1;
        fds[n] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
        who[n++] = -2;
        for (int i = 0; i < MAX_PAIRS; i++) {
            struct pair *p = &r->pairs[i];
            if (p->client < 0)
                continue;
            int64_t due = deliver(r, p);
            if (due == -2 || (due == -1 && p->target_gone)) {
                if (p->target_gone) { /* the cut covered this connection: it ends */
                    pthread_mutex_lock(&r->mu);
                    r->cut = CUT_NONE;
                    pthread_mutex_unlock(&r->mu);
                }
                close_pair(r, p, true);
                continue;
            }
            if (due >= 0 && due < next)
                next = due;
            if (!p->target_gone) {
                fds[n] = (struct pollfd){.fd = p->target, .events = POLLIN};
                who[n++] = 2 * i;
            }
            fds[n] = (struct pollfd){.fd = p->client, .events = POLLIN};
            who[n++] = 2 * i + 1;
        }
        int ms = (int)((next + 999999) / 1000000);
        if (poll(fds, (nfds_t)n, ms) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!fds[k].revents)
                continue;
            if (who[k] == -1) {
                accept_one(r);
            } else if (who[k] == -2) {
                char b[64];
                if (read(r->wake[0], b, sizeof(b)) < 0)
                    continue;
            } else {
                struct pair *p = &r->pairs[who[k] / 2];
                if (p->client < 0)
                    continue;
                bool target = who[k] % 2 == 0;
                if (target ? from_target(r, p) : from_client(p))
                    continue;
                /* The target died (or the client left). Under a cut, what it wrote before
                 * the cut still arrives, then the client's side closes and the cut ends;
                 * otherwise what is still queued is lost with it. */
                pthread_mutex_lock(&r->mu);
                bool cut = r->cut != CUT_NONE;
                pthread_mutex_unlock(&r->mu);
                if (target && cut) {
                    close(p->target);
                    p->target = -1;
                    p->target_gone = true;
                } else {
                    close_pair(r, p, true);
                }
            }
        }
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        close_pair(r, &r->pairs[i], false);
    return NULL;
}

int live_lagrelay_start(int target_port, int64_t lag_ns, struct live_lagrelay **out)
{
    *out = NULL;
    struct live_lagrelay *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->target_port = target_port;
    r->lag = lag_ns;
    for (int i = 0; i < MAX_PAIRS; i++)
        r->pairs[i].client = r->pairs[i].target = -1;
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int rc = 0;
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(r->listen_fd, 8) < 0 || getsockname(r->listen_fd, (struct sockaddr *)&a, &len) < 0 ||
        pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0)
        rc = -errno;
    if (rc == 0) {
        r->port = ntohs(a.sin_port);
        pthread_mutex_init(&r->mu, NULL);
        rc = -pthread_create(&r->thread, NULL, relay_main, r);
        if (rc < 0) {
            pthread_mutex_destroy(&r->mu);
            close(r->wake[0]);
            close(r->wake[1]);
        }
    }
    if (rc < 0) {
        if (r->listen_fd >= 0)
            close(r->listen_fd);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int live_lagrelay_port(const struct live_lagrelay *r)
{
    return r->port;
}

static void wake(struct live_lagrelay *r)
{
    if (write(r->wake[1], "x", 1) < 0) {
        /* full: the thread is awake anyway */
    }
}

int live_lagrelay_cut(struct live_lagrelay *r, const void *pattern, size_t len)
{
    char *pat = len ? malloc(len) : NULL;
    if (!pat)
        return -EINVAL;
    memcpy(pat, pattern, len);
    pthread_mutex_lock(&r->mu);
    free(r->cut_pat);
    r->cut_pat = pat;
    r->cut_len = len;
    r->cut = CUT_PENDING;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return 0;
}

void live_lagrelay_stats(struct live_lagrelay *r, uint64_t *delivered, uint64_t *dropped,
                         uint64_t *landed)
{
    pthread_mutex_lock(&r->mu);
    *delivered = r->delivered;
    *dropped = r->dropped;
    *landed = r->landed;
    pthread_mutex_unlock(&r->mu);
}

void live_lagrelay_stop(struct live_lagrelay *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    wake(r);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
    close(r->wake[0]);
    close(r->wake[1]);
    pthread_mutex_destroy(&r->mu);
    free(r->cut_pat);
    free(r);
}

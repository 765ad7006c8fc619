/* bench_locks.c - what the in-process locks cost on this machine: ns per uncontended
 * acquire + release (blocking mutex, CAS try-lock, the seed's channel try-lock over a
 * pipe) with their ratios, and increments per second under 1, 2, 4 and 16 threads.
 * Prints one JSON object per line on stdout; reads the system clock, which only
 * benchmarks may do. The locks run through the same primitives and live env as the
 * live world's workloads (lock/trylock.h, env_mutex), so env's own call cost is in the
 * numbers; a bare pthread mutex is printed beside them to show what that costs.
 *
 * Usage: bench-locks [SECONDS_PER_THROUGHPUT_POINT]   (default 0.2) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live/live.h"
#include "lock/trylock.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-locks: %s: %s\n", what, strerror(errno ? errno : ENOMEM));
    exit(1);
}

enum kind { K_MUTEX, K_CAS, K_CHAN, K_CAS_BACKOFF, K_PTHREAD };
static const char *const kind_names[] = {"mutex", "cas", "chan", "cas-backoff", "pthread_mutex"};

struct lockset {
    enum kind kind;
    struct env_mutex m; /* K_MUTEX */
    pthread_mutex_t pm; /* K_PTHREAD */
    struct lock_try *l; /* the try-locks */
    struct lock_spin spin;
};

static void lockset_init(struct lockset *s, enum kind k, struct env *e)
{
    memset(s, 0, sizeof(*s));
    s->kind = k;
    s->spin =
        (struct lock_spin){k == K_CAS_BACKOFF ? LOCK_SPIN_BACKOFF : LOCK_SPIN_NONE, 1000, 1000000};
    if (k == K_MUTEX && env_mutex_init(e, &s->m) < 0)
        die("env_mutex_init");
    if (k == K_PTHREAD)
        pthread_mutex_init(&s->pm, NULL);
    if (k == K_CAS || k == K_CAS_BACKOFF)
        s->l = lock_try_cas(0);
    if (k == K_CHAN) {
        struct lock_tokchan *ch = live_tokchan_pipe();
        if (!ch)
            die("pipe");
        s->l = lock_try_chan(ch);
    }
    if ((k == K_CAS || k == K_CAS_BACKOFF || k == K_CHAN) && !s->l)
        die("lock_try");
}

static void lockset_destroy(struct lockset *s, struct env *e)
{
    if (s->kind == K_MUTEX)
        env_mutex_destroy(e, &s->m);
    if (s->kind == K_PTHREAD)
        pthread_mutex_destroy(&s->pm);
    lock_try_destroy(s->l);
}

/* Acquire (spinning for the try-locks, until 'deadline' of env_mono if >= 0). */
static bool acquire(struct lockset *s, struct env *e, int64_t deadline)
{
    switch (s->kind) {
    case K_MUTEX:
        env_mutex_lock(e, &s->m);
        return true;
    case K_PTHREAD:
        pthread_mutex_lock(&s->pm);
        return true;
    default:
        return lock_spin_acquire(s->l, e, &s->spin, deadline, NULL);
    }
}

static void release(struct lockset *s, struct env *e)
{
    switch (s->kind) {
    case K_MUTEX:
        env_mutex_unlock(e, &s->m);
        break;
    case K_PTHREAD:
        pthread_mutex_unlock(&s->pm);
        break;
    default:
        lock_try_release(s->l, e);
    }
}

/* ---- Uncontended ------------------------------------------------------------------- */

/* Best of 5 timings of 'iters' acquire + release pairs, ns per pair. */
static double uncontended(enum kind k, struct env *e, uint64_t iters)
{
    struct lockset s;
    lockset_init(&s, k, e);
    double best = 1e300;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        for (uint64_t i = 0; i < iters; i++) {
            if (s.l) /* one attempt: the try-lock itself, without a spin loop around it */
                lock_try_acquire(s.l, e);
            else
                acquire(&s, e, -1);
            release(&s, e);
        }
        double ns = (now_s() - t0) * 1e9 / (double)iters;
        if (ns < best)
            best = ns;
    }
    lockset_destroy(&s, e);
    printf("{\"bench\":\"lock_uncontended\",\"lock\":\"%s\",\"iters\":%llu,"
           "\"ns_per_acquire_release\":%.2f}\n",
           kind_names[k], (unsigned long long)iters, best);
    fflush(stdout);
    return best;
}

/* ---- Contended throughput ---------------------------------------------------------- */

struct shared {
    struct lockset s;
    int64_t deadline; /* env_mono */
    uint64_t counter; /* protected by the lock */
};

struct thr {
    struct shared *sh;
    uint64_t successes;
};

static void worker(struct env *e, void *arg)
{
    struct thr *t = arg;
    struct shared *sh = t->sh;
    while (env_mono(e) < sh->deadline) {
        if (!acquire(&sh->s, e, sh->deadline))
            break;
        sh->counter++;
        release(&sh->s, e);
        t->successes++;
    }
}

static void contended(enum kind k, int nthreads, double secs, uint64_t seed)
{
    struct live_world *w = live_world_create(seed);
    if (!w)
        die("live_world_create");
    struct env *e = live_world_env(w);
    struct shared sh = {0};
    lockset_init(&sh.s, k, e);
    struct thr t[16];
    memset(t, 0, sizeof(t));
    double t0 = now_s();
    sh.deadline = env_mono(e) + (int64_t)(secs * 1e9);
    for (int i = 0; i < nthreads; i++) {
        t[i].sh = &sh;
        if (live_spawn(w, "locker", worker, &t[i], NULL) < 0)
            die("live_spawn");
    }
    live_join_all(w);
    double el = now_s() - t0;
    uint64_t sum = 0;
    double s2 = 0;
    for (int i = 0; i < nthreads; i++) {
        sum += t[i].successes;
        s2 += (double)t[i].successes * (double)t[i].successes;
    }
    double jain = s2 > 0 ? (double)sum * (double)sum / (nthreads * s2) : 0;
    printf("{\"bench\":\"lock_throughput\",\"lock\":\"%s\",\"threads\":%d,\"cpus\":%ld,"
           "\"seconds\":%.3f,\"increments_per_s\":%.0f,\"fairness\":%.3f,\"exact\":%s}\n",
           kind_names[k], nthreads, sysconf(_SC_NPROCESSORS_ONLN), el, (double)sum / el, jain,
           sum == sh.counter ? "true" : "false");
    fflush(stdout);
    lockset_destroy(&sh.s, e);
    live_world_destroy(w);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.2;
    if (!(secs > 0 && secs < 3600)) {
        fprintf(stderr, "usage: bench-locks [SECONDS_PER_THROUGHPUT_POINT]\n");
        return 2;
    }
    struct live_world *w = live_world_create(1);
    if (!w)
        die("live_world_create");
    struct env *e = live_world_env(w);
    double mutex = uncontended(K_MUTEX, e, 2000000);
    double pth = uncontended(K_PTHREAD, e, 2000000);
    double cas = uncontended(K_CAS, e, 2000000);
    double chan = uncontended(K_CHAN, e, 200000);
    live_world_destroy(w);
    /* Ours over the other's ns per acquire + release: lower is cheaper. */
    const struct {
        const char *lock, *vs;
        double ratio;
    } ratios[] = {{"mutex", "cas", mutex / cas},
                  {"chan", "cas", chan / cas},
                  {"chan", "mutex", chan / mutex},
                  {"mutex", "pthread_mutex", mutex / pth}};
    for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++)
        printf("{\"bench\":\"lock_ratio\",\"lock\":\"%s\",\"vs\":\"%s\",\"ratio\":%.2f}\n",
               ratios[i].lock, ratios[i].vs, ratios[i].ratio);
    fflush(stdout);
    const enum kind kinds[] = {K_MUTEX, K_CAS, K_CAS_BACKOFF, K_CHAN};
    const int threads[] = {1, 2, 4, 16};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        for (size_t j = 0; j < sizeof(threads) / sizeof(threads[0]); j++)
            contended(kinds[i], threads[j], secs, 1 + i * 16 + j);
    return 0;
}

/* etcd_lock_live.c - the lock/etcd workload's live world (etcd_lock_wl.h): an etcd cluster
 * the lab starts (or the user's, world.etcd), client nodes client-0.. as threads, the
 * scenario's faults applied by the lab by node name, and the leases revoked when the
 * process is interrupted. Built only with the etcd client (libcurl, libcrypto).
 *
 * With `leader0` and a cluster the lab started, etcd-0 is made the leader before the
 * clients start (etcd's leadership transfer), so `crash: etcd-0` kills the leader.
 *
 * An interrupted run (SIGINT, SIGTERM) revokes the leases its clients hold before the
 * process dies: a signal handler cannot call libcurl, so it wakes a thread of its own
 * (through a pipe) that revokes every lease in the ledger, waits for it (2 s at most),
 * then hands the signal on to the handler that was there before (the launcher's, which
 * stops the servers it started, or the default). On a cluster the lab started, the
 * servers go anyway; on the user's own cluster, this keeps a lock from outliving the run
 * by a TTL. */
#include "lab/lock/etcd_lock_wl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "live/etcd_curl.h"
#include "live/live.h"

/* ---- The ledger of leases, revoked on an interrupt ----------------------------------- */

#define LEDGER_RUNS 16

struct ledger {
    bool used;
    char endpoints[1024];
    _Atomic int64_t *lease; /* per client; 0: none */
    int n;
};

static pthread_mutex_t ledger_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ledger ledger[LEDGER_RUNS];
static int sig_pipe[2] = {-1, -1};
static atomic_int revoked; /* the revoker finished its round */
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    int saved = errno;
    char b = 1;
    atomic_store(&revoked, 0);
    if (write(sig_pipe[1], &b, 1) == 1) {
        struct timespec tick = {0, 10000000L};
        for (int i = 0; i < 200 && !atomic_load(&revoked); i++)
            nanosleep(&tick, NULL);
    }
    sigaction(sig, sig == SIGINT ? &old_int : &old_term, NULL);
    errno = saved;
    raise(sig); /* blocked while this handler runs: the previous handler takes it next */
}

/* Revoke every lease of every run in the ledger. */
static void revoke_all(void)
{
    pthread_mutex_lock(&ledger_mu);
    for (int r = 0; r < LEDGER_RUNS; r++) {
        struct ledger *l = &ledger[r];
        if (!l->used)
            continue;
        struct etcd *c = live_etcd_connect(l->endpoints, 500000000LL);
        for (int k = 0; c && k < l->n; k++) {
            int64_t id = atomic_exchange(&l->lease[k], 0);
            if (id)
                etcd_lease_revoke(c, id, NULL);
        }
        etcd_close(c);
    }
    pthread_mutex_unlock(&ledger_mu);
}

static void *revoker(void *arg)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* the handler never runs on this thread */
    for (;;) {
        char b;
        ssize_t n = read(sig_pipe[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        revoke_all();
        atomic_store(&revoked, 1);
    }
}

/* Start the revoker and install the handlers, chained to the ones there now. */
static void arm(void)
{
    pthread_t t;
    if (pipe2(sig_pipe, O_CLOEXEC) < 0)
        return;
    if (pthread_create(&t, NULL, revoker, NULL) != 0) {
        close(sig_pipe[0]);
        close(sig_pipe[1]);
        sig_pipe[0] = sig_pipe[1] = -1;
        return;
    }
    pthread_detach(t);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
}

/* A run's place in the ledger, or NULL (no room: its leases expire by themselves). */
static struct ledger *ledger_open(const char *endpoints, _Atomic int64_t *lease, int n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, arm);
    struct ledger *l = NULL;
    pthread_mutex_lock(&ledger_mu);
    for (int r = 0; r < LEDGER_RUNS && !l; r++) {
        if (ledger[r].used)
            continue;
        l = &ledger[r];
        l->used = true;
        snprintf(l->endpoints, sizeof(l->endpoints), "%s", endpoints);
        l->lease = lease;
        l->n = n;
    }
    pthread_mutex_unlock(&ledger_mu);
    return l;
}

static void ledger_close(struct ledger *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&ledger_mu);
    l->used = false;
    pthread_mutex_unlock(&ledger_mu);
}

/* ---- Clients ------------------------------------------------------------------------- */

/* A crashed client (`crash: client-K`) dies like a process: its lease is not revoked. */
static void client_exit(void *arg)
{
    struct el_client *c = arg;
    if (c->lock) {
        atomic_store(&c->w->lease[c->index], 0);
        elock_abandon(c->lock);
        c->lock = NULL;
    }
}

static void client_main_live(struct env *e, void *arg)
{
    struct el_client *c = arg;
    c->lock = el_make_lock(c, e);
    if (!c->lock || live_env_atexit(e, client_exit, c) < 0) {
        elock_abandon(c->lock);
        c->lock = NULL;
        c->done = true;
        return;
    }
    el_client_loop(e, c);
    struct elock *l = c->lock;
    c->lock = NULL;
    elock_destroy(l); /* revokes its lease (which clears its ledger slot): the lock goes now */
}

/* ---- The run ----------------------------------------------------------------------------- */

/* Leftovers of an earlier run on the user's cluster would hold the lock: delete them. */
static int clean(struct el *w)
{
    struct etcd *c = live_etcd_connect(w->endpoints, w->call_timeout);
    int rc = c ? etcd_delete(c, w->key, true, NULL) : -ENOMEM;
    etcd_close(c);
    return rc < 0 ? rc : 0;
}

int el_run_live(struct el *w)
{
    struct lab_run *run = w->run;
    if (!(w->lw = lab_live_begin(run)))
        return -EINVAL;
    w->endpoints = lab_live_servers(run, LIVE_ETCD, w->members);
    if (!w->endpoints)
        return -ECONNREFUSED;
    int rc;
    if (w->leader0 && lab_live_server_count(run, LIVE_ETCD) > 1 &&
        lab_live_cluster(run, LIVE_ETCD) &&
        (rc = live_etcd_make_leader(w->endpoints, 0, 30000000000LL)) < 0) {
        lab_fail(run, "etcd-0 did not take the leadership: %s", strerror(-rc));
        return -ECONNREFUSED;
    }
    if ((rc = clean(w)) < 0) {
        lab_fail(run, "cannot reach etcd at %s: %s", w->endpoints, strerror(-rc));
        return rc == -EINVAL || rc == -E2BIG ? -EINVAL : -ECONNREFUSED;
    }
    lockres_live(w->res, run);
    struct ledger *mine = ledger_open(w->endpoints, w->lease, w->clients);
    for (int k = 0; k < w->clients && rc == 0; k++)
        rc = lab_live_node(run, w->client[k].name, client_main_live, &w->client[k]);
    if (rc == 0 && w->compact_every > 0)
        rc = lab_live_node(run, "compactor", el_compactor_main, w);
    if (rc < 0) {
        ledger_close(mine);
        lab_fail(run, "cannot start the client nodes: %s", strerror(-rc));
        return rc;
    }
    rc = lab_live_go(run, 0);
    ledger_close(mine);
    return rc < 0 ? rc : el_report(w, lab_live_now(run));
}

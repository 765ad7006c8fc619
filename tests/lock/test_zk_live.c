/* Against a real ZooKeeper 3.8 that each test starts on loopback (live/servers.h): the
 * libzookeeper-mt client behind client/zk.h passes the same semantic checks as the
 * simulated ensemble (zk_semantics.h); the server expires a silent session (a client
 * process stopped with SIGSTOP) and not a briefly paused one; the locks exclude across
 * threads and leave no node; an ensemble that cannot be reached times out instead of
 * hanging. Times only bound from below what the protocol guarantees, with generous
 * upper margins for a loaded machine. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "live/live.h"
#include "live/relay.h"
#include "live/servers.h"
#include "live/zk_client.h"
#include "lock/zk_lock.h"
#include "zk_semantics.h"

#define MS 1000000LL

static struct live_cluster *start(int n)
{
    struct live_cluster *c = NULL;
    char err[2048] = "";
    int rc = live_cluster_start(LIVE_ZOOKEEPER, n, NULL, &c, err, sizeof(err));
    cr_assert_eq(rc, 0, "cannot start ZooKeeper: %s", err);
    return c;
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static struct zk *session(struct live_cluster *c, int64_t timeout)
{
    struct zk *z = live_zk_connect(live_cluster_addrs(c), timeout);
    cr_assert_not_null(z);
    return z;
}

Test(zk_live, the_semantics_the_model_is_held_to, .timeout = 300)
{
    struct live_cluster *c = start(1);
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    struct zk_sem r;
    struct zk *z;

    memset(&r, 0, sizeof(r));
    sem_sequence(e, z = session(c, 1000 * MS), &r);
    zk_close(z);
    sem_sequence_check(&r);

    memset(&r, 0, sizeof(r));
    sem_error_zxid(e, z = session(c, 1000 * MS), &r);
    zk_close(z);
    sem_error_zxid_check(&r);

    memset(&r, 0, sizeof(r));
    sem_oneshot(e, z = session(c, 1000 * MS), &r);
    zk_close(z);
    sem_oneshot_check(&r);

    memset(&r, 0, sizeof(r));
    sem_pipeline(e, z = session(c, 1000 * MS), &r);
    zk_close(z);
    sem_pipeline_check(&r);

    memset(&r, 0, sizeof(r));
    struct zk *other = session(c, 1000 * MS);
    sem_close(e, session(c, 1000 * MS), other, &r);
    zk_close(other);
    sem_close_check(&r);

    int64_t asked[] = {1000 * MS, 100 * MS, 10000 * MS},
            granted[] = {1000 * MS, 400 * MS, 4000 * MS};
    for (int i = 0; i < 3; i++) {
        memset(&r, 0, sizeof(r));
        sem_timeout(e, z = session(c, asked[i]), &r);
        zk_close(z);
        cr_assert_eq(r.rc[0], 0);
        cr_assert_eq(r.v[0], granted[i], "asked %lld ms, granted %lld ms",
                     (long long)(asked[i] / MS), (long long)(r.v[0] / MS));
    }
    char mode[32] = "";
    cr_assert_eq(live_zk_mode(live_cluster_addr(c, 0), 5000 * MS, mode, sizeof(mode)), 0);
    cr_assert_str_eq(mode, "standalone");
    cr_assert_eq(live_zk_mode("127.0.0.1:1", 500 * MS, mode, sizeof(mode)), -ECONNREFUSED);
    live_world_destroy(w);
    live_cluster_stop(c);
}

/* ---- Sessions end on the server --------------------------------------------------------- */

/* A child process holds an ephemeral node; the parent stops it (SIGSTOP: nothing of it
 * runs, its pings stop) for 'pause' and watches the node. Returns when the node went
 * (ns after the stop), or -1 if it outlived the pause; the child's session events after
 * SIGCONT go to *states (up to 4), their count to *nstates. */
static int64_t stop_holder(struct live_cluster *c, int64_t timeout, int64_t pause, int *states,
                           int *nstates)
{
    int up[2], down[2];
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        struct zk *z = live_zk_connect(live_cluster_addrs(c), timeout);
        char ok = z && zk_await_connected(z, 30000 * MS) == 0 &&
                  zk_create(z, "/held", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL) == 0;
        if (write(up[1], &ok, 1) != 1)
            _exit(1);
        char go;
        if (read(down[0], &go, 1) != 1) /* after SIGCONT */
            _exit(1);
        struct zk_event ev;
        char st[4];
        int n = 0;
        while (n < 4 && zk_wait(z, &ev, 5000 * MS) == 1) {
            if (ev.type != ZK_EV_SESSION)
                continue;
            st[n++] = (char)(ev.state == ZK_STATE_EXPIRED     ? 'E'
                             : ev.state == ZK_STATE_CONNECTED ? 'C'
                                                              : 'L');
            if (ev.state == ZK_STATE_EXPIRED)
                break;
        }
        if (write(up[1], st, (size_t)n) < 0)
            _exit(1);
        _exit(0); /* a session not closed: an expired one, or one that expires later */
    }
    char ok = 0;
    cr_assert_eq(read(up[0], &ok, 1), 1);
    cr_assert(ok, "the child could not create its node");
    struct zk *w = session(c, 4000 * MS);
    cr_assert_eq(zk_await_connected(w, 30000 * MS), 0);
    cr_assert_eq(zk_exists(w, "/held", true, NULL), 0);
    kill(child, SIGSTOP);
    int64_t t0 = mono(), gone = -1;
    struct zk_event ev;
    while (mono() - t0 < pause) {
        if (zk_wait(w, &ev, t0 + pause - mono()) == 1 && ev.type == ZK_EV_DELETED) {
            gone = mono() - t0;
            break;
        }
    }
    if (gone < 0)
        nap(t0 + pause - mono());
    kill(child, SIGCONT);
    char go = 1;
    cr_assert_eq(write(down[1], &go, 1), 1);
    char st[4];
    ssize_t n = read(up[0], st, sizeof(st));
    *nstates = n > 0 ? (int)n : 0;
    for (int i = 0; i < *nstates; i++)
        states[i] = st[i];
    int status;
    waitpid(child, &status, 0);
    zk_close(w);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    return gone;
}

Test(zk_live, the_server_expires_a_stopped_client_and_deletes_its_node, .timeout = 300)
{
    struct live_cluster *c = start(1);
    int states[4], n = 0;
    int64_t gone = stop_holder(c, 1000 * MS, 6000 * MS, states, &n);
    cr_assert_geq(gone, 0, "the node outlived 6 s of a 1 s session's silence");
    /* its last ping came at most a third of the timeout before the stop */
    cr_assert_geq(gone, 600 * MS, "deleted %lld ms after the stop", (long long)(gone / MS));
    cr_assert_leq(gone, 4000 * MS, "deleted %lld ms after the stop", (long long)(gone / MS));
    /* woken up, the client finds out: connection lost, then expired */
    cr_assert_geq(n, 1);
    cr_assert_eq(states[n - 1], 'E', "the client never heard of the expiry");
    live_cluster_stop(c);
}

Test(zk_live, a_pause_well_under_the_timeout_keeps_the_session, .timeout = 300)
{
    struct live_cluster *c = start(1);
    int states[4], n = 0;
    /* a 4 s session, stopped 1 s: its last ping is under 2.4 s old when it runs again */
    int64_t gone = stop_holder(c, 4000 * MS, 1000 * MS, states, &n);
    cr_assert_eq(gone, -1, "the node went after %lld ms", (long long)(gone / MS));
    for (int i = 0; i < n; i++)
        cr_assert_neq(states[i], 'E');
    live_cluster_stop(c);
}

/* A client whose relay is frozen is a stopped client to the server: its session expires
 * and its node goes, while the client's own process runs on; thawed, it learns the
 * session is gone. A shorter freeze changes nothing. */
Test(zk_live, a_frozen_relay_looks_like_a_stopped_client, .timeout = 300)
{
    struct live_cluster *c = start(1);
    struct live_relay *r = live_relay_create();
    cr_assert_not_null(r);
    char via[256];
    int g = live_relay_add(r, live_cluster_addrs(c), via, sizeof(via));
    cr_assert_geq(g, 0, "%s", strerror(-g));
    struct zk *z = live_zk_connect(via, 1000 * MS), *w = session(c, 4000 * MS);
    cr_assert_eq(zk_await_connected(z, 30000 * MS), 0);
    cr_assert_eq(zk_await_connected(w, 30000 * MS), 0);
    cr_assert_eq(zk_create(z, "/held", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL), 0);
    cr_assert_eq(zk_exists(w, "/held", true, NULL), 0);
    /* 300 ms: well under the 1 s session */
    cr_assert_eq(live_relay_freeze(r, g, 300 * MS), 0);
    nap(600 * MS);
    cr_assert_eq(zk_exists(z, "/held", false, NULL), 0, "the session did not survive 300 ms");
    /* 4 s: past it */
    int64_t t0 = mono();
    cr_assert_eq(live_relay_freeze(r, g, 4000 * MS), 0);
    struct zk_event ev;
    int64_t gone = -1;
    while (mono() - t0 < 4000 * MS && gone < 0)
        if (zk_wait(w, &ev, 4000 * MS - (mono() - t0)) == 1 && ev.type == ZK_EV_DELETED)
            gone = mono() - t0;
    cr_assert_geq(gone, 600 * MS, "deleted %lld ms into the freeze", (long long)(gone / MS));
    nap(t0 + 4500 * MS - mono()); /* thawed */
    int rc = zk_exists(z, "/held", false, NULL);
    for (int i = 0; i < 50 && rc == -ECONNRESET; i++)
        rc = zk_exists(z, "/held", false, NULL);
    cr_assert(rc == -EKEYEXPIRED || rc == -EBADFD, "rc %d", rc);
    zk_close(z);
    zk_close(w);
    live_relay_destroy(r);
    live_cluster_stop(c);
}

/* ---- The locks ------------------------------------------------------------------------------ */

struct shared {
    const char *addrs;
    enum zklock_algo algo;
    pthread_mutex_t mu;
    int holders, max_holders, acquired, errors;
    int64_t last_fence, backwards;
};

static struct zk *connect_live(struct env *e, int64_t timeout, void *arg)
{
    return live_zk_connect(arg, timeout);
}

static void locker(struct env *e, void *arg)
{
    struct shared *s = arg;
    struct zklock_config cfg = {.algo = s->algo,
                                .path = "/locks/a",
                                .connect = connect_live,
                                .connect_arg = (void *)s->addrs};
    struct zklock *l = zklock_create(e, &cfg);
    cr_assert_not_null(l);
    for (int i = 0; i < 10; i++) {
        int rc = zklock_acquire(l, 30000 * MS);
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            s->holders++;
            s->acquired++;
            if (s->holders > s->max_holders)
                s->max_holders = s->holders;
            s->backwards += zklock_fence(l) <= s->last_fence;
            s->last_fence = zklock_fence(l);
        } else {
            s->errors++;
        }
        pthread_mutex_unlock(&s->mu);
        if (rc != 0)
            continue;
        env_sleep(e, 2 * MS);
        pthread_mutex_lock(&s->mu);
        s->holders--;
        pthread_mutex_unlock(&s->mu);
        if (zklock_release(l) != 0) {
            pthread_mutex_lock(&s->mu);
            s->errors++;
            pthread_mutex_unlock(&s->mu);
        }
    }
    zklock_destroy(l);
}

static void exclusion(enum zklock_algo algo)
{
    struct live_cluster *c = start(1);
    struct shared s = {.addrs = live_cluster_addrs(c), .algo = algo};
    pthread_mutex_init(&s.mu, NULL);
    struct live_world *w = live_world_create(3);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(live_spawn(w, "locker", locker, &s, NULL), 0);
    live_join_all(w);
    live_world_destroy(w);
    cr_assert_eq(s.errors, 0);
    cr_assert_eq(s.acquired, 60);
    cr_assert_eq(s.max_holders, 1);
    cr_assert_eq(s.backwards, 0, "a later lease had a smaller czxid");
    struct zk *z = session(c, 1000 * MS);
    struct zk_children ch;
    cr_assert_eq(zk_get_children(z, "/locks/a", false, &ch), 0);
    cr_assert_eq(ch.n, 0, "a node was left behind");
    zk_children_free(&ch);
    zk_close(z);
    live_cluster_stop(c);
}

Test(zk_live, the_recipe_excludes, .timeout = 300)
{
    exclusion(ZKLOCK_RECIPE);
}

Test(zk_live, the_herd_excludes, .timeout = 300)
{
    exclusion(ZKLOCK_HERD);
}

/* ---- Nobody there ----------------------------------------------------------------------- */

static void unreachable(struct env *e, void *arg)
{
    int *rc = arg;
    struct zklock_config cfg = {.connect = connect_live, .connect_arg = "127.0.0.1:1"};
    struct zklock *l = zklock_create(e, &cfg);
    rc[0] = zklock_acquire(l, 1500 * MS);
    zklock_destroy(l);
}

Test(zk_live, an_ensemble_nobody_runs_times_out)
{
    cr_assert_eq(live_zk_ping("127.0.0.1:1", 500 * MS), -ETIMEDOUT);
    cr_assert_null(live_zk_connect("", 1000 * MS));
    int rc[1] = {1};
    struct live_world *w = live_world_create(1);
    int64_t t0 = mono();
    cr_assert_eq(live_spawn(w, "lock", unreachable, rc, NULL), 0);
    live_join_all(w);
    live_world_destroy(w);
    cr_assert_eq(rc[0], -ETIMEDOUT);
    cr_assert_lt(mono() - t0, 30000 * MS);
}

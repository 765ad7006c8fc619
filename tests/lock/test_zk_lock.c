/* The ZooKeeper locks (primitives/lock/zk_lock.c) against the simulated ensemble: mutual
 * exclusion in true time, FIFO order, how many waiters a release wakes (one for the
 * recipe, all of them for the herd), a holder whose session the server expires (the
 * next one gets in; the fencing token tells them apart), try-lock and timeouts, and a
 * leader's crash under contention. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lock/zk_lock.h"
#include "sim/zk_model.h"

#define MS SIM_MS
#define MAXC 32

struct world;

struct client {
    struct world *w;
    int index, node;
    int cycles;
    int64_t start, hold, think;
    struct zklock_stats st;
    int acquired, stale, errors;
    uint64_t notes[3]; /* what the lock told the observer: calls, events, wakeups */
    int64_t fence[64];
    bool done;
};

struct world {
    struct sim *sim;
    int server[3], nservers;
    struct sim_zk *zk;
    enum zklock_algo algo;
    int64_t session_timeout;
    struct client c[MAXC];
    int nclients;
    /* the lock as the checker sees it, in true time */
    int holders, max_holders;
    int order[1024], norder; /* clients in the order they got the lock */
    int64_t last_fence;
    int fence_backwards;
};

static struct zk *connect_sim(struct env *e, int64_t timeout, void *arg)
{
    return sim_zk_connect(e, arg, timeout);
}

static void count_note(void *arg, enum zklock_note what)
{
    ((struct client *)arg)->notes[what]++;
}

static void client_main(struct env *e, void *arg)
{
    struct client *c = arg;
    struct world *w = c->w;
    env_sleep(e, c->start);
    struct zklock_config cfg = {.algo = w->algo,
                                .session_timeout_ns = w->session_timeout,
                                .connect = connect_sim,
                                .connect_arg = w->zk,
                                .note = count_note,
                                .note_arg = c};
    struct zklock *l = zklock_create(e, &cfg);
    cr_assert_not_null(l);
    for (int i = 0; i < c->cycles; i++) {
        int rc = zklock_acquire(l, 60 * SIM_S);
        if (rc != 0) {
            c->errors++;
            continue;
        }
        w->holders++;
        if (w->holders > w->max_holders)
            w->max_holders = w->holders;
        if (w->norder < 1024)
            w->order[w->norder++] = c->index;
        int64_t f = zklock_fence(l);
        if (f <= w->last_fence)
            w->fence_backwards++;
        w->last_fence = f;
        if (c->acquired < 64)
            c->fence[c->acquired] = f;
        c->acquired++;
        env_work(e, c->hold); /* work: a pause of the node stretches it */
        w->holders--;
        rc = zklock_release(l);
        c->stale += rc == -ESTALE;
        c->errors += rc < 0 && rc != -ESTALE;
        if (c->think)
            env_sleep(e, c->think);
    }
    zklock_get_stats(l, &c->st);
    zklock_destroy(l);
    c->done = true;
}

static void mk(struct world *w, int nservers, int nclients, enum zklock_algo algo)
{
    memset(w, 0, sizeof(*w));
    struct sim_config cfg = {.seed = 5};
    cfg.network.latency = (struct sim_dist){SIM_DIST_UNIFORM, 200 * SIM_US, 600 * SIM_US, 0};
    w->sim = sim_create(&cfg);
    cr_assert_not_null(w->sim);
    char name[32];
    for (int i = 0; i < nservers; i++) {
        snprintf(name, sizeof(name), "zk-%d", i);
        w->server[i] = sim_node_add(w->sim, name, 2);
    }
    w->nservers = nservers;
    struct sim_zk_cfg zc = {.service_ns = 20 * SIM_US, .fsync_ns = 500 * SIM_US};
    w->zk = sim_zk_create(w->sim, w->server, nservers, &zc);
    cr_assert_not_null(w->zk);
    w->algo = algo;
    w->session_timeout = SIM_S;
    w->nclients = nclients;
    for (int k = 0; k < nclients; k++) {
        struct client *c = &w->c[k];
        c->w = w;
        c->index = k;
        snprintf(name, sizeof(name), "client-%d", k);
        c->node = sim_node_add(w->sim, name, 1);
        c->cycles = 10;
        c->hold = 5 * MS;
        c->start = 1 + k * SIM_US;
    }
}

static void go(struct world *w, int64_t until)
{
    for (int k = 0; k < w->nclients; k++)
        cr_assert_gt(sim_spawn(w->sim, w->c[k].node, "client", client_main, &w->c[k]), 0);
    sim_run(w->sim, until);
}

static void done(struct world *w)
{
    const char *why = NULL;
    cr_assert(sim_zk_check(w->zk, &why), "the model's invariants broke: %s", why);
    sim_destroy(w->sim);
    sim_zk_destroy(w->zk);
}

static void exclusion(enum zklock_algo algo, int nservers)
{
    struct world w;
    mk(&w, nservers, 8, algo);
    go(&w, 60 * SIM_S);
    int total = 0;
    for (int k = 0; k < w.nclients; k++) {
        cr_assert(w.c[k].done, "client %d did not finish", k);
        cr_assert_eq(w.c[k].errors, 0);
        cr_assert_eq(w.c[k].stale, 0);
        total += w.c[k].acquired;
    }
    cr_assert_eq(total, 80);
    cr_assert_eq(w.max_holders, 1);
    cr_assert_eq(w.fence_backwards, 0, "a later lease had a smaller fencing token");
    struct zk_children ch;
    cr_assert_eq(sim_zk_peek_children(w.zk, 0, "/lock", &ch), 0);
    cr_assert_eq(ch.n, 0, "a node was left behind");
    zk_children_free(&ch);
    done(&w);
}

Test(zk_lock, recipe_excludes)
{
    exclusion(ZKLOCK_RECIPE, 1);
}

Test(zk_lock, herd_excludes)
{
    exclusion(ZKLOCK_HERD, 1);
}

Test(zk_lock, recipe_excludes_on_three_servers)
{
    exclusion(ZKLOCK_RECIPE, 3);
}

/* Waiters that all queue up before the first release get the lock in the order they
 * queued, and each release wakes: one waiter (recipe), every waiter (herd). */
static void queue_up(struct world *w, enum zklock_algo algo, int n)
{
    mk(w, 1, n, algo);
    for (int k = 0; k < n; k++) {
        w->c[k].cycles = 1;
        w->c[k].start = 1 + k * 10 * MS; /* each queued before the next comes */
        w->c[k].hold = k == 0 ? n * 10 * MS + 50 * MS : 10 * MS;
    }
    go(w, 60 * SIM_S);
    for (int k = 0; k < n; k++)
        cr_assert(w->c[k].done && w->c[k].acquired == 1);
    cr_assert_eq(w->norder, n);
    for (int k = 0; k < n; k++)
        cr_assert_eq(w->order[k], k, "FIFO broken at %d", k);
}

Test(zk_lock, recipe_wakes_one_waiter_per_release)
{
    struct world w;
    queue_up(&w, ZKLOCK_RECIPE, 12);
    uint64_t wakeups = 0;
    for (int k = 0; k < w.nclients; k++)
        wakeups += w.c[k].st.wakeups;
    cr_assert_eq(wakeups, 11, "wakeups %llu", (unsigned long long)wakeups);
    done(&w);
}

Test(zk_lock, herd_wakes_every_waiter)
{
    struct world w;
    int n = 12;
    queue_up(&w, ZKLOCK_HERD, n);
    uint64_t wakeups = 0;
    for (int k = 0; k < w.nclients; k++)
        wakeups += w.c[k].st.wakeups;
    /* Arrival k wakes the k-1 waiters before it (k = 2..n), release j the n-j still
     * waiting (j = 1..n-1): (n-1)(n-2)/2 + n(n-1)/2 = (n-1)^2. */
    cr_assert_eq(wakeups, (uint64_t)(n - 1) * (n - 1), "wakeups %llu", (unsigned long long)wakeups);
    for (int k = 0; k < w.nclients; k++) { /* the observer heard each one as it happened */
        cr_assert_eq(w.c[k].notes[ZKLOCK_NOTE_CALL], w.c[k].st.calls);
        cr_assert_eq(w.c[k].notes[ZKLOCK_NOTE_EVENT], w.c[k].st.events);
        cr_assert_eq(w.c[k].notes[ZKLOCK_NOTE_WAKEUP], w.c[k].st.wakeups);
    }
    done(&w);
}

/* The holder's node pauses past the session timeout: the server expires its session, the
 * next client gets the lock while the first still works under it; its release finds its
 * node gone, and its fencing token is older than the new holder's. */
Test(zk_lock, a_paused_holder_loses_the_lock_to_the_next_and_its_token_is_older)
{
    struct world w;
    mk(&w, 1, 2, ZKLOCK_RECIPE);
    w.c[0].cycles = 1;
    w.c[0].hold = 500 * MS;
    w.c[1].cycles = 1;
    w.c[1].start = 100 * MS;
    w.c[1].hold = 10 * MS;
    cr_assert_eq(sim_fault_pause(w.sim, 200 * MS, w.c[0].node, 3 * SIM_S), 0);
    go(&w, 10 * SIM_S);
    cr_assert(w.c[0].done && w.c[1].done);
    cr_assert_eq(w.max_holders, 2, "the second client did not get in while the first held");
    cr_assert_eq(w.c[0].stale, 1, "the paused holder's release found its node");
    cr_assert_gt(w.c[1].fence[0], w.c[0].fence[0]);
    cr_assert_eq(w.c[0].st.lost, 1);
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_expired, 1);
    done(&w);
}

struct trier {
    struct sim_zk *zk;
    int rc[4];
    int64_t took;
    bool done;
};

static void trier_main(struct env *e, void *arg)
{
    struct trier *t = arg;
    struct zklock_config cfg = {.connect = connect_sim, .connect_arg = t->zk};
    struct zklock *a = zklock_create(e, &cfg), *b = zklock_create(e, &cfg);
    t->rc[0] = zklock_acquire(a, -1);
    t->rc[1] = zklock_acquire(b, 0);
    int64_t t0 = env_mono(e);
    t->rc[2] = zklock_acquire(b, 300 * MS);
    t->took = env_mono(e) - t0;
    t->rc[3] = zklock_acquire(a, -1);
    zklock_destroy(a); /* releases by closing the session */
    zklock_destroy(b);
    t->done = true;
}

Test(zk_lock, try_and_timeout_leave_no_node)
{
    struct world w;
    mk(&w, 1, 1, ZKLOCK_RECIPE);
    struct trier t = {.zk = w.zk};
    cr_assert_gt(sim_spawn(w.sim, w.c[0].node, "trier", trier_main, &t), 0);
    sim_run(w.sim, 5 * SIM_S);
    cr_assert(t.done);
    cr_assert_eq(t.rc[0], 0);
    cr_assert_eq(t.rc[1], -EBUSY);
    cr_assert_eq(t.rc[2], -ETIMEDOUT);
    cr_assert(t.took >= 300 * MS && t.took < 400 * MS);
    cr_assert_eq(t.rc[3], -EALREADY);
    struct zk_children ch;
    cr_assert_eq(sim_zk_peek_children(w.zk, 0, "/lock", &ch), 0);
    cr_assert_eq(ch.n, 0);
    zk_children_free(&ch);
    done(&w);
}

/* The leader crashes while eight clients contend: the lock stays exclusive, every client
 * finishes its cycles, no session is lost. */
Test(zk_lock, a_leader_crash_under_contention_keeps_the_lock_exclusive)
{
    struct world w;
    mk(&w, 3, 8, ZKLOCK_RECIPE);
    w.session_timeout = 4 * SIM_S;
    for (int k = 0; k < w.nclients; k++)
        w.c[k].cycles = 40;
    go(&w, 2 * SIM_S);
    int leader = sim_zk_leader(w.zk);
    cr_assert_geq(leader, 0);
    cr_assert_eq(sim_fault_crash(w.sim, 2500 * MS, w.server[leader]), 0);
    sim_run(w.sim, 60 * SIM_S);
    for (int k = 0; k < w.nclients; k++) {
        cr_assert(w.c[k].done, "client %d did not finish", k);
        cr_assert_eq(w.c[k].acquired, 40);
        cr_assert_eq(w.c[k].errors, 0);
    }
    cr_assert_eq(w.max_holders, 1);
    cr_assert_eq(w.fence_backwards, 0);
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.elections, 2);
    cr_assert_eq(st.sessions_expired, 0);
    done(&w);
}

/* A session whose lost replies come back as the live client's ZOPERATIONTIMEOUT
 * (-ETIMEDOUT) rather than a connection loss: the outcome is as unknown either way. */
struct tzk {
    struct zk base;
    struct zk *in;
};

static struct zk *in_of(struct zk *z)
{
    return ((struct tzk *)z)->in;
}

static int timed_out(struct zk *z, int rc)
{
    z->rc = in_of(z)->rc == ZK_CONNECTIONLOSS ? ZK_OPERATIONTIMEOUT : in_of(z)->rc;
    return rc == -ECONNRESET ? -ETIMEDOUT : rc;
}

static int t_create(struct zk *z, const char *path, const void *data, size_t len, unsigned flags,
                    char *out, size_t cap, struct zk_stat *st)
{
    return timed_out(z, zk_create(in_of(z), path, data, len, flags, out, cap, st));
}

static int t_remove(struct zk *z, const char *path, int32_t version)
{
    return timed_out(z, zk_delete(in_of(z), path, version));
}

static int t_exists(struct zk *z, const char *path, bool watch, struct zk_stat *st)
{
    return timed_out(z, zk_exists(in_of(z), path, watch, st));
}

static int t_get(struct zk *z, const char *path, bool watch, void *buf, size_t cap,
                 struct zk_stat *st)
{
    return timed_out(z, zk_get(in_of(z), path, watch, buf, cap, st));
}

static int t_children(struct zk *z, const char *path, bool watch, struct zk_children *out)
{
    return timed_out(z, zk_get_children(in_of(z), path, watch, out));
}

static int t_create_list(struct zk *z, const char *path, const void *data, size_t len,
                         unsigned flags, char *out, size_t cap, struct zk_stat *st, bool watch,
                         struct zk_children *kids, int *list_rc)
{
    int rc = zk_create_list(in_of(z), path, data, len, flags, out, cap, st, watch, kids, list_rc);
    *list_rc = timed_out(z, *list_rc);
    return timed_out(z, rc);
}

static int t_wait(struct zk *z, struct zk_event *ev, int64_t timeout_ns)
{
    return zk_wait(in_of(z), ev, timeout_ns);
}

static int t_await(struct zk *z, int64_t timeout_ns)
{
    return zk_await_connected(in_of(z), timeout_ns);
}

static void t_session(struct zk *z, struct zk_session *out)
{
    zk_session(in_of(z), out);
}

static void t_close(struct zk *z)
{
    zk_close(in_of(z));
    free(z);
}

static const struct zk_ops timing_out_ops = {t_create,   t_remove,      t_exists, t_get,
                                             t_children, t_create_list, t_wait,   t_await,
                                             t_session,  t_close};

static struct zk *connect_timing_out(struct env *e, int64_t timeout, void *arg)
{
    struct tzk *t = calloc(1, sizeof(*t));
    if (t && !(t->in = sim_zk_connect(e, arg, timeout))) {
        free(t);
        t = NULL;
    }
    if (t)
        t->base.ops = &timing_out_ops;
    return t ? &t->base : NULL;
}

struct lossy {
    struct sim_zk *zk;
    bool timeouts; /* the session reports a lost reply as -ETIMEDOUT (connect_timing_out) */
    int rc[4];
    struct zklock_stats st;
    int64_t fence;
    bool done;
};

static void lossy_main(struct env *e, void *arg)
{
    struct lossy *t = arg;
    struct zklock_config cfg = {.connect = t->timeouts ? connect_timing_out : connect_sim,
                                .connect_arg = t->zk,
                                .session_timeout_ns = 4 * SIM_S};
    struct zklock *l = zklock_create(e, &cfg);
    t->rc[0] = zklock_acquire(l, -1); /* makes /lock */
    t->rc[1] = zklock_release(l);
    env_sleep(e, SIM_S - sim_env_true_now(e)); /* the create below leaves at 1 s exactly */
    t->rc[2] = zklock_acquire(l, -1);
    t->fence = zklock_fence(l);
    t->rc[3] = zklock_release(l);
    zklock_get_stats(l, &t->st);
    zklock_destroy(l);
    t->done = true;
}

/* The create's reply is lost with the connection (the cut begins after the request
 * reached the server): the lock finds the node it made by its guid instead of making a
 * second one, which would wait behind the first forever. The same when the client says
 * the call timed out (live: ZOPERATIONTIMEOUT) instead of that the connection broke. */
static void lost_create_reply(bool timeouts)
{
    struct world w;
    memset(&w, 0, sizeof(w));
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, 5 * MS, 0, 0};
    w.sim = sim_create(&cfg);
    w.server[0] = sim_node_add(w.sim, "zk-0", 1);
    int cn = sim_node_add(w.sim, "client-0", 1);
    w.zk = sim_zk_create(w.sim, w.server, 1, &(struct sim_zk_cfg){0});
    cr_assert_not_null(w.zk);
    struct lossy t = {.zk = w.zk, .timeouts = timeouts};
    cr_assert_gt(sim_spawn(w.sim, cn, "lossy", lossy_main, &t), 0);
    /* the request arrives at 1.005 s, the reply would at 1.010 s */
    cr_assert_eq(sim_fault_partition(w.sim, 1007 * MS, 1500 * MS, &cn, 1, w.server, 1, false), 0);
    sim_run(w.sim, 20 * SIM_S);
    cr_assert(t.done);
    cr_assert_eq(t.rc[0], 0);
    cr_assert_eq(t.rc[2], 0);
    cr_assert_eq(t.rc[3], 0, "the release did not find the node");
    cr_assert_eq(t.st.conn_losses, 1, "%llu connections lost",
                 (unsigned long long)t.st.conn_losses);
    cr_assert_geq(t.st.calls_lost, 1);
    cr_assert_eq(t.st.acquired, 2);
    cr_assert_gt(t.fence, 0);
    struct zk_children ch;
    cr_assert_eq(sim_zk_peek_children(w.zk, 0, "/lock", &ch), 0);
    cr_assert_eq(ch.n, 0, "%zu nodes left", ch.n);
    zk_children_free(&ch);
    done(&w);
}

Test(zk_lock, a_create_whose_reply_was_lost_is_found_by_its_guid)
{
    lost_create_reply(false);
}

Test(zk_lock, a_create_that_timed_out_in_the_client_is_found_by_its_guid)
{
    lost_create_reply(true);
}

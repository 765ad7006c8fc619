/* Both etcd locks against the simulated cluster: mutual exclusion and increasing fencing
 * tokens, the herd (every etcdsync waiter wakes at each release, one mutex waiter does),
 * a holder paused past its lease (the next waiter gets in; etcdsync's release then deletes
 * the successor's key, the mutex's finds nothing), etcdsync's TTL without keep-alive and
 * the mutex's keep-alive, an acquire that times out, a watch cancelled by compaction, a
 * write whose answer is lost (the mutex finds its own key; etcdsync waits out its TTL),
 * and a leader crash under contention. Latency 1 ms each way unless a test says otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lock/etcd_lock.h"
#include "sim/etcd_model.h"

#define MAXC 16

struct world {
    struct sim *sim;
    int enode[3], cnode[MAXC];
    size_t nmembers;
    struct sim_etcd *m;
    int64_t timeout;
    /* the lock's users, seen from outside: how many hold at once */
    int holders, max_holders;
    int64_t acquisitions;
};

struct client {
    struct world *w;
    int index;
    enum elock_algo algo;
    int64_t ttl_s;
    size_t member;
    void (*fn)(struct env *e, struct elock *l, struct client *c);
    int rc[16];
    int64_t v[16];
    int64_t t[16];
    struct elock_stats st;
    bool finished;
};

static struct etcd *connect_sim(struct env *e, void *arg)
{
    struct client *c = arg;
    return sim_etcd_connect(e, c->w->m, c->member, c->w->timeout);
}

static void mk(struct world *w, size_t members, int nclients)
{
    memset(w, 0, sizeof(*w));
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, SIM_MS, 0, 0};
    w->sim = sim_create(&cfg);
    w->nmembers = members;
    w->timeout = SIM_S;
    for (size_t i = 0; i < members; i++) {
        char name[16];
        snprintf(name, sizeof(name), "etcd-%zu", i);
        w->enode[i] = sim_node_add(w->sim, name, 1);
    }
    for (int i = 0; i < nclients; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        w->cnode[i] = sim_node_add(w->sim, name, 1);
    }
    struct sim_etcd_cfg ec = {.fsync_ns = SIM_MS};
    w->m = sim_etcd_create(w->sim, w->enode, members, &ec);
    cr_assert_not_null(w->m);
}

static void done(struct world *w)
{
    cr_assert(sim_etcd_check(w->m));
    sim_destroy(w->sim);
    sim_etcd_destroy(w->m);
}

static void client_actor(struct env *e, void *arg)
{
    struct client *c = arg;
    while (sim_etcd_leader(c->w->m) < 0)
        env_sleep(e, 10 * SIM_MS);
    struct elock_config cfg = {.algo = c->algo,
                               .key = "/lock",
                               .ttl_s = c->ttl_s,
                               .connect = connect_sim,
                               .connect_arg = c,
                               .retry_delay_ns = 20 * SIM_MS};
    struct elock *l = elock_create(e, &cfg);
    cr_assert_not_null(l);
    c->fn(e, l, c);
    elock_get_stats(l, &c->st);
    elock_destroy(l);
    c->finished = true;
}

static void spawn(struct world *w, struct client *c, int index, enum elock_algo algo)
{
    c->w = w;
    c->index = index;
    c->algo = algo;
    c->member = (size_t)index % w->nmembers;
    char name[16];
    snprintf(name, sizeof(name), "c%d", index);
    cr_assert_gt(sim_spawn(w->sim, w->cnode[index], name, client_actor, c), 0);
}

static void run(struct world *w, int64_t until)
{
    enum sim_stop stop = sim_run(w->sim, until);
    cr_assert(stop == SIM_STOP_IDLE || stop == SIM_STOP_TIME, "%s", sim_error(w->sim));
}

static void at(struct env *e, int64_t t)
{
    int64_t now = sim_env_true_now(e);
    if (t > now)
        env_sleep(e, t - now);
}

static void enter(struct world *w)
{
    if (++w->holders > w->max_holders)
        w->max_holders = w->holders;
    w->acquisitions++;
}

/* ---- exclusion and fencing ---- */

static void cycles(struct env *e, struct elock *l, struct client *c)
{
    int64_t last = 0;
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        if (elock_acquire(l, 10 * SIM_S) != 0) {
            bad++;
            continue;
        }
        enter(c->w);
        bad += elock_fence(l) <= last; /* a later grant of ours: a larger token */
        last = elock_fence(l);
        env_sleep(e, 5 * SIM_MS);
        c->w->holders--;
        bad += elock_release(l) != 0;
    }
    c->v[0] = bad;
}

static void exclusion(enum elock_algo algo)
{
    struct world w;
    mk(&w, 1, 4);
    struct client c[4] = {{.fn = cycles}, {.fn = cycles}, {.fn = cycles}, {.fn = cycles}};
    for (int i = 0; i < 4; i++)
        spawn(&w, &c[i], i, algo);
    run(&w, 60 * SIM_S);
    for (int i = 0; i < 4; i++) {
        cr_assert(c[i].finished);
        cr_assert_eq(c[i].v[0], 0, "client %d", i);
        cr_assert_eq(c[i].st.acquired, 20);
    }
    cr_assert_eq(w.max_holders, 1);
    done(&w);
}

Test(etcd_lock, etcdsync_excludes_and_fences)
{
    exclusion(ELOCK_ETCDSYNC);
}

Test(etcd_lock, mutex_excludes_and_fences)
{
    exclusion(ELOCK_MUTEX);
}

static void one_cycle(struct env *e, struct elock *l, struct client *c)
{
    c->rc[0] = elock_acquire(l, SIM_S);
    c->v[0] = elock_fence(l);
    c->rc[1] = elock_acquire(l, SIM_S);
    c->rc[2] = elock_release(l);
    c->rc[3] = elock_release(l);
}

Test(etcd_lock, an_uncontended_cycle_costs_what_the_header_says)
{
    for (int a = 0; a < 2; a++) {
        struct world w;
        mk(&w, 1, 1);
        struct client c = {.fn = one_cycle};
        spawn(&w, &c, 0, (enum elock_algo)a);
        run(&w, 10 * SIM_S);
        cr_assert(c.finished);
        cr_assert_eq(c.rc[0], 0);
        cr_assert_gt(c.v[0], 1);
        cr_assert_eq(c.rc[1], -EALREADY);
        cr_assert_eq(c.rc[2], 0);
        cr_assert_eq(c.rc[3], -ENOLCK);
        /* etcdsync: range, grant, txn; delete, revoke. mutex: grant (the session), txn;
         * delete. */
        cr_assert_eq(c.st.requests, a == ELOCK_ETCDSYNC ? 5 : 3, "%s made %llu requests",
                     elock_algo_name((enum elock_algo)a), (unsigned long long)c.st.requests);
        cr_assert_eq(c.st.wakeups, 0);
        done(&w);
    }
}

/* ---- the herd ---- */

static void herd_member(struct env *e, struct elock *l, struct client *c)
{
    at(e, SIM_S + c->index * 10 * SIM_MS); /* the holder first, then the waiters in turn */
    c->rc[0] = elock_acquire(l, 60 * SIM_S);
    enter(c->w);
    env_sleep(e, c->index == 0 ? SIM_S : 20 * SIM_MS);
    c->w->holders--;
    c->rc[1] = elock_release(l);
}

static void herd(enum elock_algo algo, int n, uint64_t *wakeups, uint64_t *requests)
{
    struct world w;
    mk(&w, 1, n);
    struct client c[MAXC];
    memset(c, 0, sizeof(c));
    for (int i = 0; i < n; i++) {
        c[i].fn = herd_member;
        spawn(&w, &c[i], i, algo);
    }
    run(&w, 120 * SIM_S);
    *wakeups = *requests = 0;
    for (int i = 0; i < n; i++) {
        cr_assert(c[i].finished);
        cr_assert_eq(c[i].rc[0], 0);
        cr_assert_eq(c[i].rc[1], 0);
        *wakeups += c[i].st.wakeups;
        *requests += c[i].st.requests;
    }
    cr_assert_eq(w.max_holders, 1);
    done(&w);
}

Test(etcd_lock, every_etcdsync_waiter_wakes_at_each_release)
{
    uint64_t wk, rq;
    herd(ELOCK_ETCDSYNC, 9, &wk, &rq);
    /* 8 waiters queue behind the holder; each release wakes all that still wait: 8 + 7 +
     * ... + 1 = 36 wake-ups for 9 acquisitions */
    cr_assert_eq(wk, 36, "wake-ups %llu", (unsigned long long)wk);
    uint64_t wk2, rq2;
    herd(ELOCK_ETCDSYNC, 5, &wk2, &rq2);
    cr_assert_eq(wk2, 10);
    cr_assert_gt(rq * 5, rq2 * 9 * 3 / 2, "requests per acquisition grow with the waiters");
}

Test(etcd_lock, one_mutex_waiter_wakes_per_release)
{
    uint64_t wk, rq;
    herd(ELOCK_MUTEX, 9, &wk, &rq);
    cr_assert_eq(wk, 8, "wake-ups %llu", (unsigned long long)wk);
    uint64_t wk2, rq2;
    herd(ELOCK_MUTEX, 5, &wk2, &rq2);
    cr_assert_eq(wk2, 4);
    /* the first holder: grant, txn, delete; each waiter: grant, txn, range, watch, range
     * (nothing older left), get (its key is still there), delete: 7, whatever the queue */
    cr_assert_eq(rq, 3 + 7 * 8, "requests %llu", (unsigned long long)rq);
    cr_assert_eq(rq2, 3 + 7 * 4, "requests %llu", (unsigned long long)rq2);
}

/* ---- a holder paused past its lease ---- */

static void paused_holder(struct env *e, struct elock *l, struct client *c)
{
    c->rc[0] = elock_acquire(l, SIM_S);
    c->v[0] = elock_fence(l);
    at(e, 2 * SIM_S); /* paused from 1 s to 10 s: the lease (3 s) runs out on the leader */
    c->t[1] = sim_env_true_now(e);
    c->rc[1] = elock_release(l);
    env_sleep(e, 100 * SIM_MS); /* the keep-alive, late as well, tries the lease */
    c->v[1] = elock_lost(l);
}

static void next_waiter(struct env *e, struct elock *l, struct client *c)
{
    at(e, 500 * SIM_MS);
    c->rc[0] = elock_acquire(l, 30 * SIM_S);
    c->t[0] = sim_env_true_now(e);
    c->v[0] = elock_fence(l);
    at(e, 12 * SIM_S);
    struct etcd_kv kv;
    c->v[1] = sim_etcd_peek(c->w->m, 0, elock_key(l), &kv, NULL);
    c->rc[1] = elock_release(l);
}

static void lease_pause(enum elock_algo algo, struct client *a, struct client *b)
{
    struct world w;
    mk(&w, 1, 2);
    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    a->fn = paused_holder;
    b->fn = next_waiter;
    a->ttl_s = 3;
    b->ttl_s = 30; /* the successor's own lease outlives the test (etcdsync has no keep-alive) */
    spawn(&w, a, 0, algo);
    spawn(&w, b, 1, algo);
    sim_fault_pause(w.sim, SIM_S, w.cnode[0], 9 * SIM_S);
    run(&w, 40 * SIM_S);
    cr_assert(a->finished && b->finished);
    cr_assert_eq(a->rc[0], 0);
    cr_assert_eq(b->rc[0], 0);
    /* the lease expired 3 s after its last renewal (by 1 s), found within 500 ms */
    cr_assert(b->t[0] >= 3 * SIM_S && b->t[0] <= 5 * SIM_S, "next grant at %lld",
              (long long)b->t[0]);
    cr_assert_gt(b->v[0], a->v[0], "the later grant has the larger token");
    cr_assert_geq(a->t[1], 10 * SIM_S, "the holder woke after the grant");
    done(&w);
}

Test(etcd_lock, etcdsync_release_after_expiry_deletes_the_successors_key)
{
    struct client a, b;
    lease_pause(ELOCK_ETCDSYNC, &a, &b);
    cr_assert_eq(a.rc[1], 0, "the seed's DEL deleted a key: the successor's");
    cr_assert_eq(b.v[1], 0, "so the successor's key was gone while it held the lock");
    cr_assert_eq(b.rc[1], -ESTALE);
}

Test(etcd_lock, mutex_release_after_expiry_finds_nothing_of_its_own)
{
    struct client a, b;
    lease_pause(ELOCK_MUTEX, &a, &b);
    cr_assert_eq(a.v[1], 1, "the keep-alive found the session gone");
    cr_assert_eq(a.rc[1], -ESTALE);
    cr_assert_eq(b.v[1], 1, "the successor's key survived");
    cr_assert_eq(b.rc[1], 0);
}

static void long_holder(struct env *e, struct elock *l, struct client *c)
{
    c->rc[0] = elock_acquire(l, SIM_S);
    at(e, 8 * SIM_S); /* holds 8 s on a 3 s TTL */
    c->rc[1] = elock_release(l);
}

static void contender(struct env *e, struct elock *l, struct client *c)
{
    at(e, 500 * SIM_MS);
    c->rc[0] = elock_acquire(l, 20 * SIM_S);
    c->t[0] = sim_env_true_now(e);
    elock_release(l);
}

Test(etcd_lock, etcdsync_has_no_keepalive_and_the_mutex_has)
{
    for (int a = 0; a < 2; a++) {
        struct world w;
        mk(&w, 1, 2);
        struct client h = {.fn = long_holder, .ttl_s = 3}, o = {.fn = contender, .ttl_s = 3};
        spawn(&w, &h, 0, (enum elock_algo)a);
        spawn(&w, &o, 1, (enum elock_algo)a);
        run(&w, 40 * SIM_S);
        cr_assert(h.finished && o.finished);
        if (a == ELOCK_ETCDSYNC) {
            cr_assert_lt(o.t[0], 5 * SIM_S, "the TTL ran out under the holder");
            cr_assert_eq(h.rc[1], -ESTALE);
        } else {
            cr_assert_geq(o.t[0], 8 * SIM_S, "the keep-alive held the lease");
            cr_assert_eq(h.rc[1], 0);
        }
        done(&w);
    }
}

/* ---- giving up ---- */

static void holder_forever(struct env *e, struct elock *l, struct client *c)
{
    c->rc[0] = elock_acquire(l, SIM_S);
    at(e, 5 * SIM_S);
    elock_release(l);
}

static void impatient(struct env *e, struct elock *l, struct client *c)
{
    at(e, 500 * SIM_MS);
    int64_t t0 = env_mono(e);
    c->rc[0] = elock_acquire(l, SIM_S);
    c->t[0] = env_mono(e) - t0;
    c->v[0] = elock_held(l);
    c->v[1] = sim_etcd_peek(c->w->m, 0, elock_key(l), NULL, NULL);
}

Test(etcd_lock, an_acquire_gives_up_at_its_deadline)
{
    for (int a = 0; a < 2; a++) {
        struct world w;
        mk(&w, 1, 2);
        struct client h = {.fn = holder_forever}, o = {.fn = impatient};
        spawn(&w, &h, 0, (enum elock_algo)a);
        spawn(&w, &o, 1, (enum elock_algo)a);
        run(&w, 20 * SIM_S);
        cr_assert(o.finished);
        cr_assert_eq(o.rc[0], -ETIMEDOUT);
        cr_assert(o.t[0] >= SIM_S && o.t[0] < SIM_S + 20 * SIM_MS, "gave up after %lld",
                  (long long)o.t[0]);
        cr_assert_eq(o.v[0], 0);
        if (a == ELOCK_MUTEX)
            cr_assert_eq(o.v[1], 0, "the waiter left the queue: its key is gone");
        done(&w);
    }
}

/* ---- a watch cancelled by compaction ---- */

static void compacting(struct env *e, void *arg)
{
    struct client *c = arg;
    /* revisions: the holder's put is 2. At 100.2 ms a put makes 3, at 100.3 ms a compaction
     * to 3 is sent: both reach the member (1 ms away) after the waiter's read (sent at
     * 100 ms, read revision 2) and before its watch from 3 (sent when the read returns) */
    struct etcd *k = sim_etcd_connect(e, c->w->m, 0, SIM_S);
    at(e, 100 * SIM_MS + 200 * SIM_US);
    c->rc[0] = etcd_put(k, "/other", "x", 0, NULL);
    etcd_close(k);
}

static void compactor(struct env *e, void *arg)
{
    struct client *c = arg;
    struct etcd *k = sim_etcd_connect(e, c->w->m, 0, SIM_S);
    at(e, 100 * SIM_MS + 300 * SIM_US);
    c->rc[1] = etcd_compact(k, 3);
    etcd_close(k);
}

static void early_holder(struct env *e, struct elock *l, struct client *c)
{
    c->rc[0] = elock_acquire(l, SIM_S);
    at(e, 2 * SIM_S);
    elock_release(l);
}

static void cancelled_waiter(struct env *e, struct elock *l, struct client *c)
{
    at(e, 100 * SIM_MS);
    c->rc[0] = elock_acquire(l, 5 * SIM_S);
}

Test(etcd_lock, a_watch_cancelled_by_compaction_is_an_error_not_a_hang)
{
    struct world w;
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, SIM_MS, 0, 0};
    memset(&w, 0, sizeof(w));
    w.sim = sim_create(&cfg);
    w.nmembers = 1;
    w.timeout = SIM_S;
    w.enode[0] = sim_node_add(w.sim, "etcd-0", 1);
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof(name), "c%d", i);
        w.cnode[i] = sim_node_add(w.sim, name, 1);
    }
    struct sim_etcd_cfg ec = {0}; /* no fsync: the timeline above is exact */
    w.m = sim_etcd_create(w.sim, w.enode, 1, &ec);
    struct client h = {.fn = early_holder}, o = {.fn = cancelled_waiter}, x = {.w = &w};
    spawn(&w, &h, 0, ELOCK_ETCDSYNC);
    spawn(&w, &o, 1, ELOCK_ETCDSYNC);
    sim_spawn(w.sim, w.cnode[2], "put", compacting, &x);
    sim_spawn(w.sim, w.cnode[2], "compact", compactor, &x);
    run(&w, 20 * SIM_S);
    cr_assert_eq(h.rc[0], 0);
    cr_assert_eq(x.rc[0], 0);
    cr_assert_eq(x.rc[1], 0);
    cr_assert(o.finished);
    cr_assert_eq(o.rc[0], -ECANCELED, "acquire returned %d", o.rc[0]);
    done(&w);
}

/* ---- a write whose answer is lost ---- */

static void lost_answer(struct env *e, struct elock *l, struct client *c)
{
    at(e, SIM_S);
    c->rc[0] = elock_acquire(l, 30 * SIM_S);
    c->t[0] = sim_env_true_now(e);
    elock_release(l);
}

Test(etcd_lock, a_lost_answer_costs_etcdsync_its_ttl_and_the_mutex_a_retry)
{
    for (int a = 0; a < 2; a++) {
        struct world w;
        mk(&w, 1, 1);
        struct client c = {.fn = lost_answer, .ttl_s = 3};
        spawn(&w, &c, 0, (enum elock_algo)a);
        /* the member's answers to the client are cut while the txn's answer travels: at
         * 1 ms a hop and 1 ms an fsync, mutex: grant 1.000-1.003 s, txn sent at 1.003,
         * answered at 1.005; etcdsync: read, grant, then the txn sent at 1.005, answered
         * at 1.007 */
        int cut_a[] = {w.enode[0]}, cut_b[] = {w.cnode[0]};
        int64_t from = (a == ELOCK_MUTEX ? 1004500 : 1006500) * SIM_US;
        cr_assert_eq(sim_fault_partition(w.sim, from, 1500 * SIM_MS, cut_a, 1, cut_b, 1, true), 0);
        run(&w, 40 * SIM_S);
        cr_assert(c.finished);
        cr_assert_eq(c.rc[0], 0);
        cr_assert_geq(c.st.errors, 1, "the txn timed out");
        if (a == ELOCK_MUTEX) {
            cr_assert_eq(c.st.resumed, 1, "the retry found its own key");
            cr_assert_lt(c.t[0], 2100 * SIM_MS, "held at %lld", (long long)c.t[0]);
        } else {
            /* its own key, unknown to it, blocks it until the 3 s lease runs out */
            cr_assert_geq(c.t[0], 4 * SIM_S, "held at %lld", (long long)c.t[0]);
            cr_assert_geq(c.st.wakeups, 1);
        }
        done(&w);
    }
}

/* ---- a leader crash under contention ---- */

static void busy(struct env *e, struct elock *l, struct client *c)
{
    while (sim_env_true_now(e) < 20 * SIM_S) {
        if (elock_acquire(l, 15 * SIM_S) != 0)
            continue;
        enter(c->w);
        c->v[0]++;
        if (sim_env_true_now(e) > 6 * SIM_S)
            c->v[1]++; /* after the crash and the election */
        env_sleep(e, 5 * SIM_MS);
        c->w->holders--;
        elock_release(l);
    }
}

Test(etcd_lock, a_leader_crash_under_contention_keeps_one_holder_at_a_time)
{
    for (int a = 0; a < 2; a++) {
        struct world w;
        mk(&w, 3, 4);
        w.timeout = 300 * SIM_MS;
        struct client c[4];
        memset(c, 0, sizeof(c));
        for (int i = 0; i < 4; i++) {
            c[i].fn = busy;
            c[i].ttl_s = 3;
            spawn(&w, &c[i], i, (enum elock_algo)a);
        }
        run(&w, 2 * SIM_S);
        int leader = sim_etcd_leader(w.m);
        cr_assert_geq(leader, 0);
        sim_fault_crash(w.sim, 3 * SIM_S, w.enode[leader]);
        sim_fault_restart(w.sim, 8 * SIM_S, w.enode[leader]);
        run(&w, 60 * SIM_S);
        int64_t after = 0;
        for (int i = 0; i < 4; i++) {
            cr_assert(c[i].finished, "client %d", i);
            after += c[i].v[1];
        }
        cr_assert_eq(w.max_holders, 1, "%s: two holders at once",
                     elock_algo_name((enum elock_algo)a));
        cr_assert_gt(after, 100, "the lock kept working after the election (%lld)",
                     (long long)after);
        done(&w);
    }
}

/* ---- members crash, pause and are cut off at random ---- */

static void hammer(struct env *e, struct elock *l, struct client *c)
{
    while (sim_env_true_now(e) < 45 * SIM_S) {
        if (elock_acquire(l, 5 * SIM_S) != 0)
            continue;
        enter(c->w);
        /* after the last fault (21 s at most), the last leader change and the TTL that a
         * new leader grants every lease again (10 s + E): what an orphaned key, written by
         * a txn whose answer was lost, blocks etcdsync for */
        if (sim_env_true_now(e) > 35 * SIM_S)
            c->v[1]++;
        env_sleep(e, 2 * SIM_MS);
        c->w->holders--;
        elock_release(l);
    }
}

/* Faults on the members only, from a seeded stream: each second from 2 s to 18 s, one of
 * crash (restart 1-3 s later), pause (0.5-2 s) or cut from the other members (1-3 s). */
static void random_faults(struct world *w, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int64_t t = 2 * SIM_S; t < 18 * SIM_S; t += SIM_S) {
        int m = (int)rng_below(&r, 3);
        int64_t len = SIM_S / 2 + (int64_t)rng_below(&r, 2500) * SIM_MS;
        switch (rng_below(&r, 3)) {
        case 0:
            sim_fault_crash(w->sim, t, w->enode[m]);
            sim_fault_restart(w->sim, t + len, w->enode[m]);
            break;
        case 1:
            sim_fault_pause(w->sim, t, w->enode[m], len);
            break;
        default: {
            int a[] = {w->enode[m]}, b[] = {w->enode[(m + 1) % 3], w->enode[(m + 2) % 3]};
            sim_fault_partition(w->sim, t, t + len, a, 1, b, 2, false);
        }
        }
    }
}

Test(etcd_lock, random_member_faults_never_let_two_hold_and_the_lock_recovers)
{
    for (int a = 0; a < 2; a++) {
        for (uint64_t seed = 1; seed <= 4; seed++) {
            struct world w;
            mk(&w, 3, 4);
            w.timeout = 300 * SIM_MS;
            struct client c[4];
            memset(c, 0, sizeof(c));
            for (int i = 0; i < 4; i++) {
                c[i].fn = hammer;
                spawn(&w, &c[i], i, (enum elock_algo)a);
            }
            random_faults(&w, seed);
            run(&w, 80 * SIM_S);
            int64_t after = 0;
            for (int i = 0; i < 4; i++) {
                cr_assert(c[i].finished, "%s seed %llu: client %d did not finish",
                          elock_algo_name((enum elock_algo)a), (unsigned long long)seed, i);
                after += c[i].v[1];
            }
            cr_assert_eq(w.max_holders, 1, "%s seed %llu: two holders at once",
                         elock_algo_name((enum elock_algo)a), (unsigned long long)seed);
            cr_assert_gt(after, 50, "%s seed %llu: %lld grants after the faults",
                         elock_algo_name((enum elock_algo)a), (unsigned long long)seed,
                         (long long)after);
            done(&w);
        }
    }
}

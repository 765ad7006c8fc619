/* Against real etcd members that each test starts on loopback (live/servers.h): the
 * gateway client's semantics (revisions, create-if-absent, sorted prefix ranges, leases and
 * their refusals, ordered watches, a watch cancelled by compaction), both locks with
 * threads (one holder at a time, increasing tokens), a holder whose lease runs out, an
 * interrupted holder's lease revoked at once, a member killed under a client and under a
 * watch, and an unreachable cluster. Times only bound from below what sleeping guarantees,
 * or allow generous margins, so a slow machine does not fail them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "live/etcd_curl.h"
#include "live/live.h"
#include "live/servers.h"
#include "lock/etcd_lock.h"

#define MS 1000000LL
#define S 1000000000LL

static struct live_cluster *start(int n)
{
    struct live_cluster *c = NULL;
    char err[2048] = "";
    int rc = live_cluster_start(LIVE_ETCD, n, NULL, &c, err, sizeof(err));
    cr_assert_eq(rc, 0, "cannot start etcd: %s", err);
    return c;
}

static struct etcd *client(struct live_cluster *c)
{
    struct etcd *e = live_etcd_connect(live_cluster_addrs(c), 2 * S);
    cr_assert_not_null(e);
    return e;
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * S + ts.tv_nsec;
}

static void nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / S), (long)(ns % S)};
    nanosleep(&ts, NULL);
}

Test(etcd_live, kv_and_transactions_keep_etcds_semantics)
{
    struct live_cluster *cl = start(1);
    struct etcd *c = client(cl);
    int64_t r1 = 0, r2 = 0, rev = 0;
    cr_assert_eq(etcd_put(c, "/t/a", "1", 0, &r1), 0);
    cr_assert_eq(etcd_put(c, "/t/a", "2", 0, &r2), 0);
    cr_assert_eq(r2, r1 + 1, "one revision per write");
    struct etcd_kv kv;
    cr_assert_eq(etcd_get(c, "/t/a", &kv, &rev), 1);
    cr_assert_str_eq(kv.val, "2");
    cr_assert_eq(kv.create_rev, r1);
    cr_assert_eq(kv.mod_rev, r2);
    cr_assert_eq(kv.version, 2);
    cr_assert_eq(rev, r2);
    cr_assert_eq(etcd_get(c, "/t/missing", NULL, NULL), 0);
    cr_assert_eq(etcd_put(c, "", "x", 0, NULL), -EINVAL);
    /* create-if-absent, twice */
    struct etcd_cmp cmp = {.key = "/t/lock", .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = "/t/lock", .val = "me"};
    struct etcd_kv got;
    struct etcd_op get = {.kind = ETCD_OP_RANGE, .key = "/t/lock", .kvs = &got, .cap = 1};
    bool ok = false;
    cr_assert_eq(etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &ok, &rev), 0);
    cr_assert(ok);
    int64_t created = rev;
    cr_assert_eq(etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &ok, &rev), 0);
    cr_assert(!ok);
    cr_assert_eq(rev, created, "a failed compare writes nothing");
    cr_assert_eq(get.n, 1);
    cr_assert_str_eq(got.val, "me");
    cr_assert_eq(got.create_rev, created);
    /* a prefix, sorted by creation, filtered, limited */
    etcd_put(c, "/t/p/c", "", 0, NULL);
    etcd_put(c, "/t/p/a", "", 0, &rev);
    etcd_put(c, "/t/p/b", "", 0, NULL);
    struct etcd_kv first;
    struct etcd_op r = {.kind = ETCD_OP_RANGE,
                        .key = "/t/p/",
                        .prefix = true,
                        .limit = 1,
                        .sort_target = ETCD_SORT_CREATE,
                        .sort_order = ETCD_SORT_DESCEND,
                        .max_create_rev = rev,
                        .kvs = &first,
                        .cap = 1};
    cr_assert_eq(etcd_do(c, &r, NULL), 0);
    cr_assert_eq(r.n, 1);
    cr_assert_str_eq(first.key, "/t/p/a");
    cr_assert_eq(etcd_delete(c, "/t/p/", true, NULL), 3);
    etcd_close(c);
    live_cluster_stop(cl);
}

Test(etcd_live, leases_are_granted_refused_renewed_and_expire)
{
    struct live_cluster *cl = start(1);
    struct etcd *c = client(cl);
    int64_t id = 0, ttl = 0;
    cr_assert_eq(etcd_lease_grant(c, 1, &id, &ttl, NULL), 0);
    cr_assert_geq(ttl, 1, "etcd raises a short TTL to its minimum (2 s by default)");
    cr_assert_eq(etcd_lease_grant(c, ETCD_MAX_LEASE_TTL_S + 1, NULL, NULL, NULL), -EINVAL);
    cr_assert_eq(etcd_put(c, "/t/x", "v", 123456789, NULL), -ENOENT, "no such lease");
    cr_assert_eq(etcd_put(c, "/t/k", "v", id, NULL), 0);
    cr_assert_eq(etcd_lease_keepalive(c, id, &ttl, NULL), 0);
    int64_t t0 = mono();
    while (etcd_get(c, "/t/k", NULL, NULL) == 1 && mono() - t0 < 20 * S)
        nap(50 * MS);
    int64_t lived = mono() - t0;
    cr_assert(lived >= (ttl - 1) * S && lived < 20 * S, "the key lived %lld ns on a %lld s lease",
              (long long)lived, (long long)ttl);
    cr_assert_eq(etcd_lease_keepalive(c, id, &ttl, NULL), -ENOENT);
    cr_assert_eq(etcd_lease_revoke(c, id, NULL), -ENOENT);
    etcd_close(c);
    live_cluster_stop(cl);
}

Test(etcd_live, watches_deliver_every_event_in_order_and_compaction_cancels_them)
{
    struct live_cluster *cl = start(1);
    struct etcd *c = client(cl);
    int64_t r0 = 0, rev = 0;
    etcd_put(c, "/w/a", "1", 0, &r0);
    etcd_put(c, "/w/b", "1", 0, NULL);
    etcd_put(c, "/x", "1", 0, NULL);
    etcd_delete(c, "/w/a", false, NULL);
    struct etcd_watch *w = NULL;
    cr_assert_eq(etcd_watch_open(c, "/w/", true, r0, &w, &rev), 0);
    cr_assert_eq(rev, r0 + 3);
    etcd_put(c, "/w/c", "1", 0, NULL);
    int64_t want[] = {r0, r0 + 1, r0 + 3, r0 + 4};
    int types[] = {ETCD_EV_PUT, ETCD_EV_PUT, ETCD_EV_DELETE, ETCD_EV_PUT};
    for (int i = 0; i < 4; i++) {
        struct etcd_event ev;
        cr_assert_eq(etcd_watch_next(w, &ev, 5 * S), 0, "event %d", i);
        cr_assert_eq(ev.kv.mod_rev, want[i], "event %d", i);
        cr_assert_eq(ev.type, types[i], "event %d", i);
    }
    struct etcd_event ev;
    cr_assert_eq(etcd_watch_next(w, &ev, 200 * MS), -ETIMEDOUT);
    etcd_watch_close(w);
    cr_assert_eq(etcd_compact(c, r0 + 3), 0);
    cr_assert_eq(etcd_compact(c, r0 + 3), -EINVAL, "compacted already");
    cr_assert_eq(etcd_compact(c, r0 + 1000), -EINVAL, "a future revision");
    cr_assert_eq(etcd_watch_open(c, "/w/", true, r0, &w, NULL), 0);
    cr_assert_eq(etcd_watch_next(w, &ev, 5 * S), -ECANCELED, "a clear error, not a hang");
    cr_assert_eq(w->compact_rev, r0 + 3);
    etcd_watch_close(w);
    etcd_close(c);
    live_cluster_stop(cl);
}

/* ---- the locks, with threads ---- */

struct shared {
    const char *addrs;
    enum elock_algo algo;
    int64_t ttl_s;
    atomic_int holders, max_holders, bad;
};

struct worker {
    struct shared *sh;
    int cycles;
    struct elock_stats st;
};

static struct etcd *connect_live(struct env *e, void *arg)
{
    return live_etcd_connect(((struct shared *)arg)->addrs, 2 * S);
}

static void cycles(struct env *e, void *arg)
{
    struct worker *w = arg;
    struct shared *sh = w->sh;
    struct elock_config cfg = {.algo = sh->algo,
                               .key = "/lock",
                               .ttl_s = sh->ttl_s,
                               .connect = connect_live,
                               .connect_arg = sh};
    struct elock *l = elock_create(e, &cfg);
    if (!l) {
        atomic_fetch_add(&sh->bad, 1);
        return;
    }
    int64_t last = 0;
    for (int i = 0; i < w->cycles; i++) {
        if (elock_acquire(l, 30 * S) != 0) {
            atomic_fetch_add(&sh->bad, 1);
            continue;
        }
        int h = atomic_fetch_add(&sh->holders, 1) + 1;
        int m = atomic_load(&sh->max_holders);
        while (h > m && !atomic_compare_exchange_weak(&sh->max_holders, &m, h))
            ;
        if (elock_fence(l) <= last)
            atomic_fetch_add(&sh->bad, 1);
        last = elock_fence(l);
        env_sleep(e, MS);
        atomic_fetch_sub(&sh->holders, 1);
        if (elock_release(l) != 0)
            atomic_fetch_add(&sh->bad, 1);
    }
    elock_get_stats(l, &w->st);
    elock_destroy(l);
}

static void exclusion(enum elock_algo algo)
{
    struct live_cluster *cl = start(1);
    struct shared sh = {.addrs = live_cluster_addrs(cl), .algo = algo};
    struct worker w[4];
    struct live_world *world = live_world_create(1);
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.sh = &sh, .cycles = 15};
        cr_assert_eq(live_spawn(world, "worker", cycles, &w[i], NULL), 0);
    }
    live_join_all(world);
    live_world_destroy(world);
    cr_assert_eq(atomic_load(&sh.bad), 0);
    cr_assert_eq(atomic_load(&sh.max_holders), 1);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(w[i].st.acquired, 15);
    live_cluster_stop(cl);
}

Test(etcd_live, etcdsync_excludes_with_threads)
{
    exclusion(ELOCK_ETCDSYNC);
}

Test(etcd_live, mutex_excludes_with_threads)
{
    exclusion(ELOCK_MUTEX);
}

struct expiry {
    struct shared *sh;
    struct live_world *world;
    int rc_holder, rc_waiter;
    int64_t fence_holder, fence_waiter;
    int64_t waited;
};

static void stalled_holder(struct env *e, void *arg)
{
    struct expiry *x = arg;
    struct elock_config cfg = {.algo = ELOCK_MUTEX,
                               .key = "/lock",
                               .ttl_s = 2,
                               .connect = connect_live,
                               .connect_arg = x->sh};
    struct elock *l = elock_create(e, &cfg);
    cr_assert_not_null(l);
    cr_assert_eq(elock_acquire(l, 10 * S), 0);
    x->fence_holder = elock_fence(l);
    /* the holder and its keep-alive stop (a GC pause) for 6 s: the 2 s lease runs out */
    live_pause(x->world, env_name(e), 6 * S);
    env_sleep(e, MS);
    x->rc_holder = elock_release(l);
    elock_destroy(l);
}

static void patient_waiter(struct env *e, void *arg)
{
    struct expiry *x = arg;
    struct elock_config cfg = {.algo = ELOCK_MUTEX,
                               .key = "/lock",
                               .ttl_s = 20,
                               .connect = connect_live,
                               .connect_arg = x->sh};
    struct elock *l = elock_create(e, &cfg);
    cr_assert_not_null(l);
    env_sleep(e, 500 * MS);
    int64_t t0 = env_mono(e);
    x->rc_waiter = elock_acquire(l, 30 * S);
    x->waited = env_mono(e) - t0;
    x->fence_waiter = elock_fence(l);
    elock_release(l);
    elock_destroy(l);
}

Test(etcd_live, a_holder_stopped_past_its_lease_loses_the_lock)
{
    struct live_cluster *cl = start(1);
    struct shared sh = {.addrs = live_cluster_addrs(cl)};
    struct expiry x = {.sh = &sh, .world = live_world_create(1)};
    cr_assert_eq(live_spawn(x.world, "holder", stalled_holder, &x, NULL), 0);
    cr_assert_eq(live_spawn(x.world, "waiter", patient_waiter, &x, NULL), 0);
    live_join_all(x.world);
    live_world_destroy(x.world);
    cr_assert_eq(x.rc_waiter, 0);
    cr_assert_geq(x.waited, S, "the waiter got in only when the lease had run out");
    cr_assert_gt(x.fence_waiter, x.fence_holder);
    cr_assert_eq(x.rc_holder, -ESTALE, "the holder's key was gone when it woke");
    live_cluster_stop(cl);
}

static void interrupted(struct env *e, void *arg)
{
    struct shared *sh = arg;
    struct elock_config cfg = {
        .algo = sh->algo, .key = "/lock", .ttl_s = 60, .connect = connect_live, .connect_arg = sh};
    struct elock *l = elock_create(e, &cfg);
    cr_assert_not_null(l);
    cr_assert_eq(elock_acquire(l, 10 * S), 0);
    elock_destroy(l); /* while holding: the lease is revoked, the key goes at once */
}

Test(etcd_live, an_interrupted_holder_revokes_its_lease)
{
    struct live_cluster *cl = start(1);
    for (int a = 0; a < 2; a++) {
        struct shared sh = {.addrs = live_cluster_addrs(cl), .algo = (enum elock_algo)a};
        struct live_world *world = live_world_create(1);
        cr_assert_eq(live_spawn(world, "holder", interrupted, &sh, NULL), 0);
        live_join_all(world);
        live_world_destroy(world);
        struct etcd *c = client(cl);
        struct etcd_op r = {.kind = ETCD_OP_RANGE, .key = "/lock", .prefix = true};
        cr_assert_eq(etcd_do(c, &r, NULL), 0);
        cr_assert_eq(r.count, 0, "%s left a key behind", elock_algo_name((enum elock_algo)a));
        etcd_close(c);
    }
    live_cluster_stop(cl);
}

/* ---- members that die, a cluster that is not there ---- */

Test(etcd_live, a_killed_member_resets_its_calls_and_watches)
{
    struct live_cluster *cl = start(3);
    const char *addrs = live_cluster_addrs(cl);
    cr_assert_eq(live_etcd_make_leader(addrs, 1, 20 * S), 0);
    cr_assert_eq(live_etcd_leader(addrs, S), 1, "etcd-1 leads after the transfer");
    cr_assert_eq(live_etcd_make_leader(addrs, 0, 20 * S), 0);
    cr_assert_eq(live_etcd_leader(addrs, S), 0);
    struct etcd *c = client(cl);
    cr_assert_eq(etcd_put(c, "/k", "v", 0, NULL), 0);
    struct etcd_watch *w = NULL;
    cr_assert_eq(etcd_watch_open(c, "/k", false, 0, &w, NULL), 0);
    cr_assert_eq(live_cluster_kill(cl, 0), 0); /* the member c talks to */
    struct etcd_event ev;
    int64_t t0 = mono();
    int rc = etcd_watch_next(w, &ev, 10 * S);
    cr_assert_eq(rc, -ECONNRESET, "the watch's stream broke: %d", rc);
    cr_assert_lt(mono() - t0, 5 * S, "and the client learned it promptly");
    etcd_watch_close(w);
    rc = etcd_put(c, "/k", "w", 0, NULL);
    cr_assert(rc == -ECONNREFUSED || rc == -ECONNRESET, "rc %d", rc);
    int tries = 0;
    while ((rc = etcd_put(c, "/k", "w", 0, NULL)) != 0 && tries++ < 50)
        nap(100 * MS);
    cr_assert_eq(rc, 0, "another member answers");
    cr_assert_str_neq(live_etcd_endpoint(c), live_cluster_addr(cl, 0));
    etcd_close(c);
    live_cluster_stop(cl);
}

Test(etcd_live, an_unreachable_cluster_is_refused_not_awaited)
{
    struct live_cluster *cl = start(1);
    char addr[128];
    snprintf(addr, sizeof(addr), "%s", live_cluster_addrs(cl));
    live_cluster_stop(cl); /* nothing listens there any more */
    cr_assert_eq(live_etcd_ping(addr, S), -ECONNREFUSED);
    struct etcd *c = live_etcd_connect(addr, S);
    cr_assert_eq(etcd_put(c, "/k", "v", 0, NULL), -ECONNREFUSED);
    etcd_close(c);
    cr_assert_null(live_etcd_connect("https://127.0.0.1:1", S), "no TLS");
    cr_assert_null(live_etcd_connect("127.0.0.1", S), "host:port");
}

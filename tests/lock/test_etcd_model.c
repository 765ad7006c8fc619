/* The simulated etcd's semantics: revisions and MVCC fields, transactions comparing
 * create_revision, prefix ranges sorted by creation, leases (minimum TTL, expiry on the
 * *leader's* clock, keep-alive, refusal), watches (every event after a revision, in order;
 * a compacted start cancelled), commit by majority (latency, no quorum no commit), leader
 * crash and pause (a new leader after the election timeout), connection resets, follower
 * catch-up by snapshot, determinism. The checker (sim_etcd_check) runs after every test. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim/etcd_model.h"

#define MAXM 5

struct world {
    struct sim *sim;
    int enode[MAXM], cnode[2];
    size_t n;
    struct sim_etcd *m;
};

static void mk_cfg(struct world *w, size_t n, int64_t latency, const struct sim_etcd_cfg *cfg)
{
    memset(w, 0, sizeof(*w));
    struct sim_config sc = {.seed = 11};
    sc.network.latency = (struct sim_dist){SIM_DIST_CONST, latency, 0, 0};
    w->sim = sim_create(&sc);
    cr_assert_not_null(w->sim);
    w->n = n;
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof(name), "etcd-%zu", i);
        w->enode[i] = sim_node_add(w->sim, name, 1);
    }
    w->cnode[0] = sim_node_add(w->sim, "c0", 1);
    w->cnode[1] = sim_node_add(w->sim, "c1", 1);
    w->m = sim_etcd_create(w->sim, w->enode, n, cfg);
    cr_assert_not_null(w->m);
}

static void mk(struct world *w, size_t n, int64_t latency, int64_t fsync)
{
    struct sim_etcd_cfg cfg = {.fsync_ns = fsync};
    mk_cfg(w, n, latency, &cfg);
}

static void done(struct world *w)
{
    cr_assert(sim_etcd_check(w->m), "the cluster's invariants do not hold");
    sim_destroy(w->sim);
    sim_etcd_destroy(w->m);
}

struct script {
    struct world *w;
    void (*fn)(struct env *e, struct etcd *c, struct script *s);
    size_t member;
    int64_t start, timeout;
    int rc[24];
    int64_t v[24];
    int64_t t[24];
    struct etcd_kv kv[8];
    bool finished;
};

static void script_actor(struct env *e, void *arg)
{
    struct script *s = arg;
    env_sleep(e, s->start ? s->start : 1);
    struct etcd *c = sim_etcd_connect(e, s->w->m, s->member, s->timeout ? s->timeout : SIM_S);
    cr_assert_not_null(c);
    s->fn(e, c, s);
    etcd_close(c);
    s->finished = true;
}

static void spawn(struct world *w, struct script *s, int client)
{
    s->w = w;
    cr_assert_gt(sim_spawn(w->sim, w->cnode[client], "script", script_actor, s), 0);
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

/* Wait (true time) until some member leads. */
static void await_leader(struct env *e, struct world *w)
{
    while (sim_etcd_leader(w->m) < 0)
        env_sleep(e, 10 * SIM_MS);
}

/* ---- revisions and transactions ---- */

static void kv_script(struct env *e, struct etcd *c, struct script *s)
{
    int64_t rev = 0;
    s->rc[0] = etcd_put(c, "/a", "1", 0, &rev);
    s->v[0] = rev;
    s->rc[1] = etcd_put(c, "/a", "2", 0, &rev);
    s->v[1] = rev;
    s->rc[2] = etcd_get(c, "/a", &s->kv[0], &rev);
    s->v[2] = rev;
    s->rc[3] = etcd_get(c, "/missing", &s->kv[1], &rev);
    s->rc[4] = etcd_delete(c, "/a", false, &rev);
    s->v[4] = rev;
    s->rc[5] = etcd_delete(c, "/a", false, &rev); /* nothing to delete: no new revision */
    s->v[5] = rev;
    s->rc[6] = etcd_put(c, "", "x", 0, NULL);
    char longkey[ETCD_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    s->rc[7] = etcd_put(c, longkey, "x", 0, NULL);
    /* create-if-absent, the lock's step: compare create_revision with 0 */
    struct etcd_cmp cmp = {.key = "/lock", .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
    struct etcd_op put = {.kind = ETCD_OP_PUT, .key = "/lock", .val = "me"};
    struct etcd_op get = {.kind = ETCD_OP_RANGE, .key = "/lock", .kvs = &s->kv[2], .cap = 1};
    bool ok = false;
    s->rc[8] = etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &ok, &rev);
    s->v[8] = ok;
    s->v[9] = rev;
    struct etcd_op put2 = {.kind = ETCD_OP_PUT, .key = "/lock", .val = "you"};
    s->rc[10] = etcd_txn(c, &cmp, 1, &put2, 1, &get, 1, &ok, &rev);
    s->v[10] = ok;
    s->v[11] = rev;
    s->v[12] = (int64_t)get.n;
}

Test(etcd_model, revisions_versions_and_create_if_absent)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, 0);
    struct script s = {.fn = kv_script};
    spawn(&w, &s, 0);
    run(&w, 10 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_eq(s.v[0], 2, "the first write makes revision 2, got %lld", (long long)s.v[0]);
    cr_assert_eq(s.v[1], 3);
    cr_assert_eq(s.rc[2], 1);
    cr_assert_eq(s.v[2], 3);
    cr_assert_str_eq(s.kv[0].val, "2");
    cr_assert_eq(s.kv[0].create_rev, 2);
    cr_assert_eq(s.kv[0].mod_rev, 3);
    cr_assert_eq(s.kv[0].version, 2);
    cr_assert_eq(s.rc[3], 0);
    cr_assert_eq(s.rc[4], 1);
    cr_assert_eq(s.v[4], 4);
    cr_assert_eq(s.rc[5], 0);
    cr_assert_eq(s.v[5], 4);
    cr_assert_eq(s.rc[6], -EINVAL);
    cr_assert_eq(s.rc[7], -E2BIG);
    cr_assert_eq(s.rc[8], 0);
    cr_assert_eq(s.v[8], 1, "the key was absent");
    cr_assert_eq(s.v[9], 5);
    cr_assert_eq(s.rc[10], 0);
    cr_assert_eq(s.v[10], 0, "the key exists: the else branch ran");
    cr_assert_eq(s.v[11], 5, "a failed compare writes nothing");
    cr_assert_eq(s.v[12], 1);
    cr_assert_str_eq(s.kv[2].val, "me");
    cr_assert_eq(s.kv[2].create_rev, 5);
    done(&w);
}

static void prefix_script(struct env *e, struct etcd *c, struct script *s)
{
    etcd_put(c, "/l/c", "", 0, NULL); /* rev 2 */
    etcd_put(c, "/l/a", "", 0, NULL); /* rev 3 */
    etcd_put(c, "/l/b", "", 0, NULL); /* rev 4 */
    etcd_put(c, "/m", "", 0, NULL);   /* outside the prefix */
    struct etcd_op first = {.kind = ETCD_OP_RANGE,
                            .key = "/l/",
                            .prefix = true,
                            .limit = 1,
                            .sort_target = ETCD_SORT_CREATE,
                            .sort_order = ETCD_SORT_ASCEND,
                            .kvs = &s->kv[0],
                            .cap = 1};
    s->rc[0] = etcd_do(c, &first, NULL);
    s->v[0] = first.count;
    /* the last created before revision 4: what a mutex waiter watches */
    struct etcd_op before = {.kind = ETCD_OP_RANGE,
                             .key = "/l/",
                             .prefix = true,
                             .limit = 1,
                             .sort_target = ETCD_SORT_CREATE,
                             .sort_order = ETCD_SORT_DESCEND,
                             .max_create_rev = 3,
                             .kvs = &s->kv[1],
                             .cap = 1};
    s->rc[1] = etcd_do(c, &before, NULL);
    struct etcd_op all = {
        .kind = ETCD_OP_RANGE, .key = "/l/", .prefix = true, .kvs = &s->kv[2], .cap = 3};
    s->rc[2] = etcd_do(c, &all, NULL);
    s->v[2] = (int64_t)all.n;
    s->rc[3] = etcd_delete(c, "/l/", true, NULL);
}

Test(etcd_model, prefix_ranges_sort_by_creation_and_filter)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, 0);
    struct script s = {.fn = prefix_script};
    spawn(&w, &s, 0);
    run(&w, 10 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_str_eq(s.kv[0].key, "/l/c");
    cr_assert_eq(s.v[0], 3);
    cr_assert_str_eq(s.kv[1].key, "/l/a");
    cr_assert_eq(s.v[2], 3);
    cr_assert_str_eq(s.kv[2].key, "/l/a"); /* by key when no sort is asked */
    cr_assert_str_eq(s.kv[4].key, "/l/c");
    cr_assert_eq(s.rc[3], 3);
    done(&w);
}

/* ---- leases ---- */

static void lease_script(struct env *e, struct etcd *c, struct script *s)
{
    int64_t id = 0, ttl = 0;
    s->rc[0] = etcd_lease_grant(c, 1, &id, &ttl, NULL);
    s->v[0] = ttl;
    s->rc[1] = etcd_put(c, "/k", "v", id, NULL);
    s->t[1] = sim_env_true_now(e);
    struct etcd_kv kv;
    s->rc[2] = etcd_get(c, "/k", &kv, NULL);
    s->v[2] = kv.lease == id;
    /* poll until the key is gone: when did the lease expire? */
    while (etcd_get(c, "/k", NULL, NULL) == 1)
        env_sleep(e, 10 * SIM_MS);
    s->t[3] = sim_env_true_now(e);
    s->rc[4] = etcd_lease_keepalive(c, id, &ttl, NULL);
    s->rc[5] = etcd_put(c, "/k", "v", id, NULL);
    s->rc[6] = etcd_lease_grant(c, ETCD_MAX_LEASE_TTL_S + 1, &id, &ttl, NULL);
    /* keep-alive every second keeps a 2 s lease for 5 s */
    s->rc[7] = etcd_lease_grant(c, 2, &id, &ttl, NULL);
    etcd_put(c, "/kept", "v", id, NULL);
    int bad = 0;
    for (int i = 0; i < 5; i++) {
        env_sleep(e, SIM_S);
        bad += etcd_lease_keepalive(c, id, &ttl, NULL) != 0 || ttl != 2;
    }
    s->v[8] = bad;
    s->rc[9] = etcd_get(c, "/kept", NULL, NULL);
    s->rc[10] = etcd_lease_revoke(c, id, NULL);
    s->rc[11] = etcd_get(c, "/kept", NULL, NULL);
    s->rc[12] = etcd_lease_revoke(c, id, NULL);
}

Test(etcd_model, leases_have_a_minimum_ttl_expire_and_renew)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, 0);
    struct script s = {.fn = lease_script};
    spawn(&w, &s, 0);
    run(&w, 60 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_eq(s.v[0], 2, "E = 1 s: a TTL of 1 s becomes ceil(1.5 s) = 2 s");
    cr_assert_eq(s.rc[1], 0);
    cr_assert_eq(s.v[2], 1);
    int64_t lived = s.t[3] - s.t[1];
    /* expired after its 2 s, found by a scan every 500 ms, revoked by one commit */
    cr_assert(lived >= 2 * SIM_S && lived <= 2600 * SIM_MS, "lived %lld ns", (long long)lived);
    cr_assert_eq(s.rc[4], -ENOENT, "an expired lease cannot be kept alive");
    cr_assert_eq(s.rc[5], -ENOENT, "a put to a revoked lease fails");
    cr_assert_eq(s.rc[6], -EINVAL, "etcd refuses a TTL above its maximum");
    cr_assert_eq(s.rc[7], 0);
    cr_assert_eq(s.v[8], 0);
    cr_assert_eq(s.rc[9], 1, "keep-alives kept the key");
    cr_assert_eq(s.rc[10], 0);
    cr_assert_eq(s.rc[11], 0, "revoking deletes the lease's keys");
    cr_assert_eq(s.rc[12], -ENOENT);
    done(&w);
}

static void clock_script(struct env *e, struct etcd *c, struct script *s)
{
    int64_t id = 0, ttl = 0;
    await_leader(e, s->w);
    s->rc[0] = etcd_lease_grant(c, 10, &id, &ttl, NULL);
    etcd_put(c, "/k", "v", id, NULL);
    s->t[0] = sim_env_true_now(e);
    while (etcd_get(c, "/k", NULL, NULL) == 1)
        env_sleep(e, 10 * SIM_MS);
    s->t[1] = sim_env_true_now(e);
}

Test(etcd_model, leases_expire_on_the_leaders_monotonic_clock)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, 0);
    /* the leader's clock runs 10 % fast and its wall clock steps an hour ahead: the step
     * does nothing (etcd reads Go's monotonic clock), the drift shortens the lease */
    cr_assert_eq(sim_clock_set(w.sim, w.enode[0], 0, 99999), 0);
    cr_assert_eq(sim_fault_clock_step(w.sim, 3 * SIM_S, w.enode[0], 3600 * SIM_S), 0);
    struct script s = {.fn = clock_script};
    spawn(&w, &s, 0);
    run(&w, 60 * SIM_S);
    cr_assert(s.finished);
    int64_t lived = s.t[1] - s.t[0];
    /* 10 s of the leader's clock are 10 / 1.1 = 9.09 s of true time; the scan every
     * 500 ms (of that clock) and a commit come on top */
    cr_assert(lived >= 9090 * SIM_MS && lived <= 9600 * SIM_MS, "lived %lld ns", (long long)lived);
    done(&w);
}

/* ---- watches ---- */

static void watch_script(struct env *e, struct etcd *c, struct script *s)
{
    int64_t rev = 0;
    etcd_put(c, "/w/a", "1", 0, &rev); /* rev 2 */
    s->v[0] = rev;
    etcd_put(c, "/w/b", "1", 0, NULL);   /* 3 */
    etcd_put(c, "/x", "1", 0, NULL);     /* 4, not watched */
    etcd_delete(c, "/w/a", false, NULL); /* 5 */
    struct etcd_watch *wa = NULL;
    s->rc[1] = etcd_watch_open(c, "/w/", true, 2, &wa, &rev);
    s->v[1] = rev;
    etcd_put(c, "/w/c", "1", 0, NULL); /* 6, while the watch is open */
    struct etcd_event ev;
    int64_t revs[8] = {0};
    int types[8] = {0};
    int got = 0;
    while (got < 8 && etcd_watch_next(wa, &ev, 100 * SIM_MS) == 0) {
        revs[got] = ev.kv.mod_rev;
        types[got] = ev.type;
        got++;
    }
    s->v[2] = got;
    for (int i = 0; i < 4; i++) {
        s->t[i] = revs[i];
        s->v[10 + i] = types[i];
    }
    s->rc[3] = etcd_watch_next(wa, &ev, 100 * SIM_MS);
    etcd_watch_close(wa);
    /* compaction cancels a watch from before it */
    s->rc[4] = etcd_compact(c, 5);
    s->rc[5] = etcd_compact(c, 5);
    s->rc[6] = etcd_compact(c, 100);
    struct etcd_watch *wb = NULL;
    s->rc[7] = etcd_watch_open(c, "/w/", true, 3, &wb, NULL);
    s->rc[8] = etcd_watch_next(wb, &ev, 100 * SIM_MS);
    s->v[8] = wb->compact_rev;
    etcd_watch_close(wb);
}

Test(etcd_model, watches_deliver_every_event_after_a_revision_in_order)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, 0);
    struct script s = {.fn = watch_script};
    spawn(&w, &s, 0);
    run(&w, 10 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[1], 0);
    cr_assert_eq(s.v[1], 5);
    cr_assert_eq(s.v[2], 4, "events: put a, put b, delete a, put c; got %lld", (long long)s.v[2]);
    cr_assert_eq(s.t[0], 2);
    cr_assert_eq(s.t[1], 3);
    cr_assert_eq(s.t[2], 5);
    cr_assert_eq(s.t[3], 6);
    cr_assert_eq(s.v[12], ETCD_EV_DELETE);
    cr_assert_eq(s.v[13], ETCD_EV_PUT);
    cr_assert_eq(s.rc[3], -ETIMEDOUT);
    cr_assert_eq(s.rc[4], 0);
    cr_assert_eq(s.rc[5], -EINVAL, "compacted already");
    cr_assert_eq(s.rc[6], -EINVAL, "a future revision");
    cr_assert_eq(s.rc[7], 0);
    cr_assert_eq(s.rc[8], -ECANCELED);
    cr_assert_eq(s.v[8], 5);
    done(&w);
}

/* ---- replication ---- */

static void latency_script(struct env *e, struct etcd *c, struct script *s)
{
    await_leader(e, s->w);
    int leader = sim_etcd_leader(s->w->m);
    s->v[0] = leader;
    /* one connection at a time: c stays idle while these are used */
    struct etcd *l = sim_etcd_connect(e, s->w->m, (size_t)leader, SIM_S);
    etcd_put(l, "/warm", "v", 0, NULL);
    int64_t t0 = env_mono(e);
    s->rc[0] = etcd_put(l, "/k", "v", 0, NULL);
    s->t[0] = env_mono(e) - t0;
    t0 = env_mono(e);
    s->rc[1] = etcd_get(l, "/k", NULL, NULL);
    s->t[1] = env_mono(e) - t0;
    etcd_close(l);
    /* through a follower: the write is forwarded to the leader, the read asks it */
    struct etcd *f = sim_etcd_connect(e, s->w->m, (size_t)(leader + 1) % 3, SIM_S);
    t0 = env_mono(e);
    s->rc[2] = etcd_put(f, "/k2", "v", 0, NULL);
    s->t[2] = env_mono(e) - t0;
    s->rc[3] = etcd_get(f, "/k2", NULL, NULL);
    etcd_close(f);
}

Test(etcd_model, a_write_costs_a_majority_round_trip_and_an_fsync)
{
    struct world w;
    int64_t lat = SIM_MS, fsync = 2 * SIM_MS;
    mk(&w, 3, lat, fsync);
    struct script s = {.fn = latency_script};
    spawn(&w, &s, 0);
    run(&w, 20 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    /* client -> leader (1), leader -> follower (1) || leader fsync (2), follower fsync (2),
     * ack (1), reply (1): 2 + 1 + 2 + 1 = 6 ms at least */
    cr_assert(s.t[0] >= 6 * SIM_MS && s.t[0] <= 7 * SIM_MS, "put took %lld ns", (long long)s.t[0]);
    cr_assert_eq(s.rc[1], 1);
    /* a read: client -> leader, heartbeat round to a follower, reply: 4 ms, no fsync */
    cr_assert(s.t[1] >= 4 * SIM_MS && s.t[1] < 5 * SIM_MS, "get took %lld ns", (long long)s.t[1]);
    cr_assert_eq(s.rc[2], 0);
    cr_assert(s.t[2] >= 8 * SIM_MS, "a forwarded put took %lld ns", (long long)s.t[2]);
    cr_assert_eq(s.rc[3], 1, "the follower's linearizable read sees the write");
    done(&w);
}

static void quorum_script(struct env *e, struct etcd *c, struct script *s)
{
    await_leader(e, s->w);
    s->rc[0] = etcd_put(c, "/k", "v", 0, NULL);
    at(e, 3 * SIM_S); /* two of three members crashed at 2 s */
    int64_t t0 = env_mono(e);
    s->rc[1] = etcd_put(c, "/k", "w", 0, NULL);
    s->t[1] = env_mono(e) - t0;
    at(e, 10 * SIM_S); /* the survivor stepped down (check-quorum): no leader */
    int rc, tries = 0;
    while ((rc = etcd_put(c, "/k", "x", 0, NULL)) == -ECONNREFUSED && tries++ < 3)
        ; /* a dead member refuses at once; the connection moves on */
    s->rc[2] = rc;
    s->v[2] = (int64_t)sim_etcd_conn_member(c);
    tries = 0;
    while ((rc = etcd_get(c, "/k", NULL, NULL)) == -ECONNREFUSED && tries++ < 3)
        ;
    s->rc[3] = rc;
}

Test(etcd_model, no_majority_no_commit)
{
    struct world w;
    struct sim_etcd_cfg cfg = {.request_timeout_ns = 2 * SIM_S};
    mk_cfg(&w, 3, SIM_MS, &cfg);
    struct script s = {.fn = quorum_script, .timeout = 5 * SIM_S};
    /* keep the client on member 0 and crash the others */
    spawn(&w, &s, 0);
    sim_fault_crash(w.sim, 2 * SIM_S, w.enode[1]);
    sim_fault_crash(w.sim, 2 * SIM_S, w.enode[2]);
    run(&w, 30 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    /* member 0 may have been the leader (the put waits, uncommitted, until the request
     * timeout) or a follower whose leader died (the same, or no leader at all) */
    cr_assert(s.rc[1] == -EAGAIN || s.rc[1] == -ECONNRESET, "rc %d", s.rc[1]);
    cr_assert_eq(s.rc[2], -EAGAIN, "no leader: the write is refused at once");
    cr_assert_eq(s.rc[3], -EAGAIN, "no leader: no linearizable read");
    struct etcd_kv kv;
    cr_assert_eq(sim_etcd_peek(w.m, 0, "/k", &kv, NULL), 1);
    cr_assert_str_eq(kv.val, "v", "nothing after the crash committed");
    done(&w);
}

struct crash_run {
    int64_t t_put, t_ok;
    int first_leader, rc_reset;
};

static void crash_script(struct env *e, struct etcd *c, struct script *s)
{
    await_leader(e, s->w);
    int leader = sim_etcd_leader(s->w->m);
    s->v[0] = leader;
    /* a short timeout: a write forwarded to the dead leader waits for it, as in etcd */
    struct etcd *l = sim_etcd_connect(e, s->w->m, (size_t)leader, 300 * SIM_MS);
    s->rc[0] = etcd_put(l, "/k", "before", 0, NULL);
    at(e, 2 * SIM_S); /* the leader crashes at 2 s + 1 ms, during this put */
    int64_t t0 = env_mono(e);
    s->rc[1] = etcd_put(l, "/k", "during", 0, NULL);
    s->t[1] = env_mono(e) - t0;
    s->v[1] = (int64_t)sim_etcd_conn_member(l);
    /* retry until a new leader answers */
    int tries = 0;
    int rc;
    while ((rc = etcd_put(l, "/k", "after", 0, NULL)) != 0 && tries < 100) {
        tries++;
        env_sleep(e, 50 * SIM_MS);
    }
    s->rc[2] = rc;
    s->t[2] = sim_env_true_now(e);
    struct etcd_kv kv;
    s->rc[3] = etcd_get(l, "/k", &kv, NULL);
    s->v[3] = !strcmp(kv.val, "after");
    etcd_close(l);
}

Test(etcd_model, a_crashed_leader_is_replaced_after_the_election_timeout)
{
    struct world w;
    mk(&w, 3, SIM_MS, SIM_MS);
    struct script s = {.fn = crash_script};
    spawn(&w, &s, 0);
    run(&w, 1500 * SIM_MS);
    int leader = sim_etcd_leader(w.m);
    cr_assert_geq(leader, 0);
    sim_fault_crash(w.sim, 2 * SIM_S + SIM_MS, w.enode[leader]);
    run(&w, 20 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_eq(s.rc[1], -ECONNRESET, "the client learns at once that its member died");
    cr_assert_lt(s.t[1], 10 * SIM_MS, "reset after %lld ns", (long long)s.t[1]);
    cr_assert_neq(s.v[1], leader, "and moves to another member");
    cr_assert_eq(s.rc[2], 0);
    /* the followers wait a draw in [E, 2E) from the last heartbeat before campaigning */
    int64_t stall = s.t[2] - (2 * SIM_S + SIM_MS);
    cr_assert(stall >= 900 * SIM_MS && stall <= 2600 * SIM_MS, "stall %lld ns", (long long)stall);
    cr_assert_eq(s.rc[3], 1);
    cr_assert_eq(s.v[3], 1);
    int now_leader = sim_etcd_leader(w.m);
    cr_assert(now_leader >= 0 && now_leader != leader);
    struct sim_etcd_stats st;
    sim_etcd_stats(w.m, &st);
    cr_assert_geq(st.elections, 2);
    cr_assert_geq(st.resets, 1);
    done(&w);
}

static void pause_script(struct env *e, struct etcd *c, struct script *s)
{
    await_leader(e, s->w);
    int leader = sim_etcd_leader(s->w->m);
    struct etcd *l = sim_etcd_connect(e, s->w->m, (size_t)(leader + 1) % 3, 300 * SIM_MS);
    s->rc[0] = etcd_put(l, "/k", "v", 0, NULL);
    at(e, 2 * SIM_S + 10 * SIM_MS); /* the leader is paused from 2 s to 6 s */
    int64_t t0 = sim_env_true_now(e);
    int rc;
    int tries = 0;
    while ((rc = etcd_put(l, "/k", "w", 0, NULL)) != 0 && tries++ < 100)
        env_sleep(e, 20 * SIM_MS);
    s->rc[1] = rc;
    s->t[1] = sim_env_true_now(e) - t0;
    s->v[1] = sim_etcd_leader(s->w->m) != leader;
    at(e, 8 * SIM_S);
    s->v[2] = sim_etcd_leader(s->w->m) != leader;
    etcd_close(l);
}

Test(etcd_model, a_paused_leader_stalls_writes_until_a_new_election)
{
    struct world w;
    mk(&w, 3, SIM_MS, SIM_MS);
    struct script s = {.fn = pause_script};
    spawn(&w, &s, 0);
    run(&w, 1500 * SIM_MS);
    int leader = sim_etcd_leader(w.m);
    cr_assert_geq(leader, 0);
    sim_fault_pause(w.sim, 2 * SIM_S, w.enode[leader], 4 * SIM_S);
    run(&w, 20 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_eq(s.rc[1], 0);
    /* no write commits before the followers time out: at least E after the last
     * heartbeat, and a new leader within about 2E */
    cr_assert(s.t[1] >= 800 * SIM_MS && s.t[1] <= 2600 * SIM_MS, "stall %lld ns",
              (long long)s.t[1]);
    cr_assert_eq(s.v[1], 1);
    cr_assert_eq(s.v[2], 1, "the old leader, back from its pause, steps down");
    done(&w);
}

static void many_writes(struct env *e, struct etcd *c, struct script *s)
{
    await_leader(e, s->w);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof(key), "/k%03d", i % 20);
        bad += etcd_put(c, key, "v", 0, NULL) != 0;
        if (i == 50)
            at(e, 2 * SIM_S); /* a follower is down from 1.5 s to 5 s */
    }
    s->v[0] = bad;
    at(e, 8 * SIM_S);
}

Test(etcd_model, a_follower_far_behind_catches_up_by_snapshot)
{
    struct world w;
    struct sim_etcd_cfg cfg = {.catchup_entries = 10};
    mk_cfg(&w, 3, SIM_MS, &cfg);
    struct script s = {.fn = many_writes, .timeout = 5 * SIM_S};
    spawn(&w, &s, 0);
    run(&w, 1400 * SIM_MS);
    int leader = sim_etcd_leader(w.m);
    cr_assert_geq(leader, 0);
    int down = (leader + 1) % 3;
    sim_fault_crash(w.sim, 1500 * SIM_MS, w.enode[down]);
    sim_fault_restart(w.sim, 5 * SIM_S, w.enode[down]);
    run(&w, 20 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.v[0], 0);
    struct sim_etcd_stats st;
    sim_etcd_stats(w.m, &st);
    cr_assert_geq(st.snapshots, 1);
    int64_t r0, r1;
    cr_assert_eq(sim_etcd_peek(w.m, (size_t)leader, "/k000", NULL, &r0), 1);
    cr_assert_eq(sim_etcd_peek(w.m, (size_t)down, "/k000", NULL, &r1), 1);
    cr_assert_eq(r0, r1, "the restarted member caught up: %lld vs %lld", (long long)r0,
                 (long long)r1);
    done(&w);
}

static void mixed(struct env *e, struct etcd *c, struct script *s)
{
    int64_t id = 0;
    await_leader(e, s->w);
    etcd_lease_grant(c, 2, &id, NULL, NULL);
    for (int i = 0; i < 40; i++) {
        etcd_put(c, i % 2 ? "/a" : "/b", "v", i % 3 ? id : 0, NULL);
        etcd_get(c, "/a", NULL, NULL);
        env_sleep(e, (int64_t)env_rand_below(e, 200) * SIM_MS);
    }
}

static uint64_t hash_of_run(uint64_t seed)
{
    struct sim_config sc = {.seed = seed};
    sc.network.latency = (struct sim_dist){SIM_DIST_UNIFORM, 500 * SIM_US, 2 * SIM_MS, 0};
    struct sim *sim = sim_create(&sc);
    int nodes[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "etcd-%d", i);
        nodes[i] = sim_node_add(sim, name, 1);
    }
    int cn = sim_node_add(sim, "c", 1);
    struct sim_etcd_cfg cfg = {.fsync_ns = SIM_MS};
    struct sim_etcd *m = sim_etcd_create(sim, nodes, 3, &cfg);
    struct world w = {.sim = sim, .n = 3, .m = m};
    struct script a = {.fn = mixed, .w = &w}, b = {.fn = mixed, .w = &w, .member = 1};
    sim_spawn(sim, cn, "a", script_actor, &a);
    sim_spawn(sim, cn, "b", script_actor, &b);
    sim_fault_crash(sim, 3 * SIM_S, nodes[0]);
    sim_fault_restart(sim, 5 * SIM_S, nodes[0]);
    sim_run(sim, 20 * SIM_S);
    cr_assert(sim_etcd_check(m));
    uint64_t h = sim_hash(sim);
    sim_destroy(sim);
    sim_etcd_destroy(m);
    return h;
}

Test(etcd_model, one_seed_one_run)
{
    uint64_t a = hash_of_run(5), b = hash_of_run(5), c = hash_of_run(6);
    cr_assert_eq(a, b);
    cr_assert_neq(a, c);
}

Test(etcd_model, a_preferred_first_member_wins_the_first_election)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim_config sc = {.seed = seed};
        sc.network.latency = (struct sim_dist){SIM_DIST_UNIFORM, 500 * SIM_US, 2 * SIM_MS, 0};
        struct sim *sim = sim_create(&sc);
        int nodes[3];
        for (int i = 0; i < 3; i++) {
            char name[16];
            snprintf(name, sizeof(name), "etcd-%d", i);
            nodes[i] = sim_node_add(sim, name, 1);
        }
        struct sim_etcd_cfg cfg = {.prefer_first = true};
        struct sim_etcd *m = sim_etcd_create(sim, nodes, 3, &cfg);
        sim_run(sim, 3 * SIM_S);
        cr_assert_eq(sim_etcd_leader(m), 0, "seed %llu", (unsigned long long)seed);
        size_t n;
        const struct sim_etcd_change *ch = sim_etcd_changes(m, &n);
        cr_assert(n == 1 && ch[0].at < SIM_S, "member 0 won at once, alone");
        sim_destroy(sim);
        sim_etcd_destroy(m);
    }
}

static void early_read(struct env *e, struct etcd *c, struct script *s)
{
    /* sent before the new leader has committed an entry of its term: answered once it has */
    int64_t t0 = env_mono(e);
    s->rc[0] = etcd_get(c, "/k", NULL, NULL);
    s->t[0] = env_mono(e) - t0;
}

Test(etcd_model, a_read_waits_for_the_leaders_first_commit_not_for_another_read)
{
    struct world w;
    mk(&w, 1, 100 * SIM_US, SIM_MS);
    struct script s = {.fn = early_read, .start = 1, .timeout = 2 * SIM_S};
    spawn(&w, &s, 0);
    run(&w, 5 * SIM_S);
    cr_assert(s.finished);
    cr_assert_eq(s.rc[0], 0);
    cr_assert_lt(s.t[0], 5 * SIM_MS, "the read took %lld ns", (long long)s.t[0]);
    done(&w);
}

/* The sorted-set calls of client/redis.h (what the Redis-backed delayed-task queue uses),
 * one contract checked against both worlds: the simulated Redis model and a real
 * redis-server. Then the model's own duties for sorted sets: replication to a replica that
 * takes over, persistence across a restart, its invariant checker. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "sim/redis_model.h"
#if HAVE_HIREDIS
#include "live/redis_hiredis.h"
#include "live/servers.h"
#endif

#define MS 1000000LL

/* The contract. Scores are ms timestamps (beyond 2^32, below 2^53). */
static void zset_contract(struct redis *r)
{
    const int64_t T = 1700000000000LL;
    char m[REDIS_VAL_MAX + 1];
    int64_t sc = 0;
    redis_del(r, "due");
    redis_del(r, "run");
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 0); /* missing: empty */
    cr_assert_eq(redis_zadd(r, "due", "b", T + 20), 1);
    cr_assert_eq(redis_zadd(r, "due", "a", T + 20), 1); /* a tie: ordered by member */
    cr_assert_eq(redis_zadd(r, "due", "c", T + 10), 1);
    cr_assert_eq(redis_zadd(r, "due", "c", T + 30), 0); /* re-scored */
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "a");
    cr_assert_eq(sc, T + 20);
    /* nothing due before T + 20 */
    cr_assert_eq(redis_zpopmove(r, "due", "run", T + 19, T + 500, 0, m, sizeof(m), &sc), 0);
    cr_assert_eq(redis_zpopmove(r, "due", "run", T + 20, T + 500, 0, m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "a");
    cr_assert_eq(sc, T + 20); /* its score where it was */
    cr_assert_eq(redis_zfirst(r, "run", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "a");
    cr_assert_eq(sc, T + 500); /* its score where it went */
    cr_assert_eq(redis_zpopmove(r, "due", "run", T + 100, -1, 0, m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "b");
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "c");
    /* b kept its own score in run, so it now comes first there */
    cr_assert_eq(redis_zfirst(r, "run", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "b");
    cr_assert_eq(sc, T + 20);
    cr_assert_eq(redis_zmove(r, "run", "due", "a"), 1);
    cr_assert_eq(redis_zmove(r, "run", "due", "a"), 0);
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "c");
    cr_assert_eq(redis_zrem(r, "due", "c"), 1);
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "a");
    cr_assert_eq(sc, T + 500); /* zmove keeps the score */
    /* a claim tags the member with its fire time, a redelivery takes the tag off */
    cr_assert_eq(redis_zadd(r, "due", "17", T + 40), 1);
    cr_assert_eq(redis_zpopmove(r, "due", "run", T + 40, T + 900, REDIS_ZTAG, m, sizeof(m), &sc),
                 1);
    cr_assert_str_eq(m, "17");
    char tagged[64];
    snprintf(tagged, sizeof(tagged), "17@%lld", (long long)(T + 40));
    cr_assert_eq(redis_zmove(r, "run", "run2", tagged), 1); /* it is there by that name */
    cr_assert_eq(redis_zpopmove(r, "run2", "due", T + 900, 5, REDIS_ZUNTAG, m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, tagged);
    cr_assert_eq(sc, T + 900);
    cr_assert_eq(redis_zrem(r, "due", "17"), 1); /* back by its own name... */
    cr_assert_eq(redis_zadd(r, "due", "17", T + 40), 1);
    cr_assert_eq(redis_zpopmove(r, "due", "run2", T + 40, T + 900, REDIS_ZTAG, m, sizeof(m), &sc),
                 1);
    cr_assert_eq(redis_zpopmove(r, "run2", "due", T + 900, 5, REDIS_ZUNTAG, m, sizeof(m), &sc), 1);
    cr_assert_eq(redis_zpopmove(r, "due", "run2", T + 39, -1, 0, m, sizeof(m), &sc), 0);
    cr_assert_eq(redis_zpopmove(r, "due", "run2", T + 40, -1, 0, m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "17"); /* ...and with its fire time as its score */
    cr_assert_eq(redis_zrem(r, "run2", "17"), 1);
    cr_assert_eq(redis_zrem(r, "run", "b"), 1);
    cr_assert_eq(redis_zrem(r, "run", "b"), 0);
    cr_assert_eq(redis_zfirst(r, "run", m, sizeof(m), &sc), 0);
    /* the emptied set is gone: the name can hold a string again, and the types clash */
    cr_assert_eq(redis_set(r, "run", "x", 0, 0), 1);
    cr_assert_eq(redis_zadd(r, "run", "a", 1), -EPROTO);
    cr_assert_eq(redis_zpopmove(r, "due", "run", T + 1000, -1, 0, m, sizeof(m), &sc), -EPROTO);
    cr_assert_eq(redis_get(r, "due", m, sizeof(m)), -EPROTO);
    cr_assert_eq(redis_del(r, "due"), 1);
    cr_assert_eq(redis_zfirst(r, "due", m, sizeof(m), &sc), 0);
    cr_assert_eq(redis_del(r, "run"), 1);
}

/* ---- The simulated model --------------------------------------------------------------- */

struct world {
    struct sim *sim;
    struct sim_redis *m, *rep;
    int cnode;
    void (*fn)(struct env *e, struct redis *r, struct world *w);
    bool finished;
    int64_t until; /* a second phase starts then */
};

static void client(struct env *e, void *arg)
{
    struct world *w = arg;
    env_sleep(e, 1); /* the servers start listening at time 0 */
    struct sim_addr a[2] = {sim_redis_addr(w->m)};
    size_t n = 1;
    if (w->rep)
        a[n++] = sim_redis_addr(w->rep);
    struct redis *r = sim_redis_connect(e, a, n, 100 * MS);
    cr_assert_not_null(r);
    w->fn(e, r, w);
    redis_close(r);
    w->finished = true;
}

static void run(struct world *w, void (*fn)(struct env *, struct redis *, struct world *),
                int64_t until)
{
    w->fn = fn;
    cr_assert_gt(sim_spawn(w->sim, w->cnode, "client", client, w), 0);
    sim_run(w->sim, until);
    cr_assert(w->finished);
    cr_assert(sim_redis_check(w->m));
}

static void mk(struct world *w, bool persist, bool replica)
{
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, 100000, 0, 0};
    w->sim = sim_create(&cfg);
    int rn = sim_node_add(w->sim, "redis", 1);
    int pn = replica ? sim_node_add(w->sim, "replica", 1) : -1;
    w->cnode = sim_node_add(w->sim, "client", 1);
    struct sim_redis_cfg rc = {.persist = persist, .peer = pn, .repl_lag_ns = MS};
    w->m = sim_redis_create(w->sim, rn, &rc);
    if (replica) {
        struct sim_redis_cfg pc = {
            .role = SIM_REDIS_REPLICA, .peer = rn, .failover_after_ns = 300 * MS};
        w->rep = sim_redis_create(w->sim, pn, &pc);
    }
}

static void done(struct world *w)
{
    sim_destroy(w->sim);
    sim_redis_destroy(w->m);
    sim_redis_destroy(w->rep);
}

static void contract(struct env *e, struct redis *r, struct world *w)
{
    zset_contract(r);
}

Test(redis_zset, the_model_keeps_the_contract)
{
    struct world w = {0};
    mk(&w, false, false);
    run(&w, contract, 10 * SIM_S);
    done(&w);
}

static void fill_due(struct env *e, struct redis *r, struct world *w)
{
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        cr_assert_eq(redis_zadd(r, "due", name, 100 - i), 1);
    }
    char m[64];
    int64_t sc;
    cr_assert_eq(redis_zpopmove(r, "due", "run", 1000, 7, 0, m, sizeof(m), &sc), 1);
    cr_assert_str_eq(m, "t4");
}

static void zpeek_is(struct sim_redis *m, const char *key, const char *const *want, int n)
{
    char members[8][REDIS_VAL_MAX + 1];
    int64_t scores[8];
    cr_assert_eq(sim_redis_zpeek(m, key, members, scores, 8), n);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(members[i], want[i]);
}

Test(redis_zset, a_sorted_set_reaches_the_replica_that_takes_over)
{
    struct world w = {0};
    mk(&w, false, true);
    run(&w, fill_due, 100 * MS);
    const char *due[] = {"t3", "t2", "t1", "t0"}, *runs[] = {"t4"};
    zpeek_is(w.rep, "due", due, 4);
    zpeek_is(w.rep, "run", runs, 1);
    cr_assert(sim_redis_check(w.rep));
    done(&w);
}

Test(redis_zset, a_persisted_sorted_set_survives_a_restart)
{
    struct world w = {0};
    mk(&w, true, false);
    run(&w, fill_due, 100 * MS);
    sim_fault_crash(w.sim, 200 * MS, 0);
    sim_fault_restart(w.sim, 300 * MS, 0);
    sim_run(w.sim, 400 * MS);
    const char *due[] = {"t3", "t2", "t1", "t0"};
    zpeek_is(w.m, "due", due, 4);
    cr_assert(sim_redis_check(w.m));
    done(&w);
}

Test(redis_zset, without_persistence_a_crash_loses_them)
{
    struct world w = {0};
    mk(&w, false, false);
    run(&w, fill_due, 100 * MS);
    sim_fault_crash(w.sim, 200 * MS, 0);
    sim_fault_restart(w.sim, 300 * MS, 0);
    sim_run(w.sim, 400 * MS);
    cr_assert_eq(sim_redis_zpeek(w.m, "due", NULL, NULL, 0), -ENOENT);
    done(&w);
}

/* ---- A real redis-server ------------------------------------------------------------ */

#if HAVE_HIREDIS
Test(redis_zset, a_real_redis_server_keeps_the_contract)
{
    struct live_cluster *s = NULL;
    char err[2048] = "";
    cr_assert_eq(live_cluster_start(LIVE_REDIS, 1, NULL, &s, err, sizeof(err)), 0, "%s", err);
    struct redis *r = live_redis_connect(live_cluster_addrs(s), 2000 * MS);
    cr_assert_not_null(r);
    zset_contract(r);
    /* the scripts are loaded again after the server forgot them */
    cr_assert_eq(live_cluster_kill(s, 0), 0);
    cr_assert_eq(live_cluster_restart(s, 0, true, err, sizeof(err)), 0, "%s", err);
    char m[64];
    int64_t sc;
    int rc = -ECONNRESET;
    for (int i = 0; i < 3 && rc < 0; i++)
        rc = redis_zadd(r, "q", "x", 5); /* the first call may meet the old connection */
    cr_assert_eq(rc, 1);
    cr_assert_eq(redis_zpopmove(r, "q", "p", 5, 9, 0, m, sizeof(m), &sc), 1);
    cr_assert_eq(redis_zmove(r, "p", "q", "x"), 1);
    redis_close(r);
    live_cluster_stop(s);
}
#endif

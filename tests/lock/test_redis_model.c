/* The simulated Redis model's semantics: NX, PX expiry by the *server node's* clock (to the
 * millisecond), crash without persistence loses keys, the atomic compare-and-delete and
 * compare-and-extend, timeouts, and the replica: lag, promotion, the old master's return.
 * Network latency and service time are 0 unless a test sets them, so times are exact. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "sim/redis_model.h"

struct world {
    struct sim *sim;
    int rnode, cnode, pnode;
    struct sim_redis *m, *rep;
};

static void mk(struct world *w, int64_t latency, int64_t service)
{
    struct sim_config cfg = {.seed = 7};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, latency, 0, 0};
    w->sim = sim_create(&cfg);
    cr_assert_not_null(w->sim);
    w->rnode = sim_node_add(w->sim, "redis", 1);
    w->cnode = sim_node_add(w->sim, "client", 1);
    struct sim_redis_cfg rc = {.service_ns = service, .peer = -1};
    w->m = sim_redis_create(w->sim, w->rnode, &rc);
    cr_assert_not_null(w->m);
    w->rep = NULL;
}

static void done(struct world *w)
{
    cr_assert(sim_redis_check(w->m));
    sim_destroy(w->sim);
    sim_redis_destroy(w->m);
    sim_redis_destroy(w->rep);
}

/* A client actor runs 'fn' with a connection to the model. */
struct script {
    struct world *w;
    void (*fn)(struct env *e, struct redis *r, struct script *s);
    int64_t timeout;
    int rc[16];
    int64_t v[16];
    int64_t t[16];
    bool finished;
};

static void script_actor(struct env *e, void *arg)
{
    struct script *s = arg;
    env_sleep(e, 1); /* the servers start listening at time 0 */
    struct sim_addr a[2] = {sim_redis_addr(s->w->m)};
    size_t n = 1;
    if (s->w->rep)
        a[n++] = sim_redis_addr(s->w->rep);
    struct redis *r = sim_redis_connect(e, a, n, s->timeout ? s->timeout : 100 * SIM_MS);
    cr_assert_not_null(r);
    s->fn(e, r, s);
    redis_close(r);
    s->finished = true;
}

static void run_script(struct world *w, struct script *s, int64_t until)
{
    s->w = w;
    cr_assert_gt(sim_spawn(w->sim, w->cnode, "script", script_actor, s), 0);
    sim_run(w->sim, until);
    cr_assert(s->finished, "the script did not finish");
}

/* Sleep until true time t (the client's clock is exact unless a test skews it). */
static void until(struct env *e, int64_t t)
{
    int64_t now = sim_env_true_now(e);
    if (t > now)
        env_sleep(e, t - now);
}

static void nx_script(struct env *e, struct redis *r, struct script *s)
{
    s->rc[0] = redis_set(r, "lock", "a", REDIS_NX, 0);
    s->rc[1] = redis_set(r, "lock", "b", REDIS_NX, 0);
    char buf[32];
    s->rc[2] = redis_get(r, "lock", buf, sizeof(buf));
    s->v[0] = strcmp(buf, "a");
    s->rc[3] = redis_set(r, "lock", "c", 0, 0); /* plain SET overwrites */
    s->rc[4] = redis_get(r, "lock", buf, sizeof(buf));
    s->v[1] = strcmp(buf, "c");
    s->rc[5] = redis_get(r, "missing", buf, sizeof(buf));
}

Test(redis_model, nx_sets_only_a_missing_key)
{
    struct world w;
    mk(&w, 0, 0);
    struct script s = {.fn = nx_script};
    run_script(&w, &s, SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.rc[1], 0);
    cr_assert_eq(s.rc[2], 1);
    cr_assert_eq(s.v[0], 0);
    cr_assert_eq(s.rc[3], 1);
    cr_assert_eq(s.v[1], 0);
    cr_assert_eq(s.rc[5], -ENOENT);
    done(&w);
}

static void px_script(struct env *e, struct redis *r, struct script *s)
{
    until(e, 10 * SIM_MS);
    s->rc[0] = redis_set(r, "k", "v", REDIS_NX, 100 * SIM_MS); /* server ms 10 -> when 110 */
    until(e, 110 * SIM_MS + 999999);                         /* still ms 110: present */
    s->rc[1] = redis_get(r, "k", NULL, 0);
    until(e, 111 * SIM_MS); /* ms 111 > 110: expired */
    s->rc[2] = redis_get(r, "k", NULL, 0);
    s->rc[3] = redis_set(r, "k", "w", REDIS_NX, 100 * SIM_MS); /* free again */
    /* a ttl of 1 ns rounds up to 1 ms, as PX can only say whole ms */
    s->rc[4] = redis_set(r, "tiny", "v", 0, 1);
    s->rc[5] = redis_get(r, "tiny", NULL, 0);
    env_sleep(e, 2 * SIM_MS);
    s->rc[6] = redis_get(r, "tiny", NULL, 0);
}

Test(redis_model, px_expires_to_the_millisecond_of_the_server_clock)
{
    struct world w;
    mk(&w, 0, 0);
    struct script s = {.fn = px_script};
    run_script(&w, &s, SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.rc[1], 1);
    cr_assert_eq(s.rc[2], -ENOENT);
    cr_assert_eq(s.rc[3], 1);
    cr_assert_eq(s.rc[4], 1);
    cr_assert_eq(s.rc[5], 1);
    cr_assert_eq(s.rc[6], -ENOENT);
    struct sim_redis_stats st;
    sim_redis_stats(w.m, &st);
    cr_assert_eq(st.expired, 2);
    done(&w);
}

static void step_script(struct env *e, struct redis *r, struct script *s)
{
    s->rc[0] = redis_set(r, "lock", "a", REDIS_NX, 5 * SIM_S);
    s->rc[1] = redis_set(r, "other", "b", REDIS_NX, 5 * SIM_S);
    until(e, 1100 * SIM_MS); /* the server's clock stepped +6 s at 1 s */
    s->rc[2] = redis_get(r, "lock", NULL, 0);
    s->rc[3] = redis_set(r, "lock", "c", REDIS_NX, 5 * SIM_S);
}

Test(redis_model, a_clock_step_on_the_server_node_expires_keys_early)
{
    struct world w;
    mk(&w, 0, 0);
    cr_assert_eq(sim_fault_clock_step(w.sim, SIM_S, w.rnode, 6 * SIM_S), 0);
    struct script s = {.fn = step_script};
    run_script(&w, &s, 2 * SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.rc[2], -ENOENT, "the key outlived a 6 s step past its 5 s ttl");
    cr_assert_eq(s.rc[3], 1, "a second client could not take the expired lock");
    done(&w);
}

Test(redis_model, a_clock_step_on_the_client_node_changes_nothing)
{
    struct world w;
    mk(&w, 0, 0);
    cr_assert_eq(sim_fault_clock_step(w.sim, SIM_S, w.cnode, 6 * SIM_S), 0);
    struct script s = {.fn = step_script};
    run_script(&w, &s, 2 * SIM_S);
    cr_assert_eq(s.rc[2], 1);
    cr_assert_eq(s.rc[3], 0);
    done(&w);
}

static void backstep_script(struct env *e, struct redis *r, struct script *s)
{
    s->rc[0] = redis_set(r, "lock", "a", 0, 500 * SIM_MS);
    until(e, 700 * SIM_MS); /* 700 ms of true time, but the server clock went back 1 s */
    s->rc[1] = redis_get(r, "lock", NULL, 0);
    until(e, 1501 * SIM_MS);
    s->rc[2] = redis_get(r, "lock", NULL, 0);
}

Test(redis_model, a_backward_step_on_the_server_expires_keys_late)
{
    struct world w;
    mk(&w, 0, 0);
    cr_assert_eq(sim_fault_clock_step(w.sim, 100 * SIM_MS, w.rnode, -SIM_S), 0);
    struct script s = {.fn = backstep_script};
    run_script(&w, &s, 2 * SIM_S);
    cr_assert_eq(s.rc[1], 1, "expired at 500 ms of true time despite the backward step");
    cr_assert_eq(s.rc[2], -ENOENT);
    done(&w);
}

static void crash_script(struct env *e, struct redis *r, struct script *s)
{
    s->rc[0] = redis_set(r, "lock", "a", REDIS_NX, 60 * SIM_S);
    s->rc[1] = redis_set(r, "n", "41", 0, 0);
    until(e, 1500 * SIM_MS); /* down from 1 s to 2 s */
    s->rc[2] = redis_get(r, "lock", NULL, 0);
    until(e, 3 * SIM_S);
    s->rc[3] = redis_get(r, "lock", NULL, 0);
    s->rc[4] = redis_incr(r, "n", &s->v[0]);
}

static void crash_world(struct world *w, bool persist)
{
    struct sim_config cfg = {.seed = 7};
    w->sim = sim_create(&cfg);
    w->rnode = sim_node_add(w->sim, "redis", 1);
    w->cnode = sim_node_add(w->sim, "client", 1);
    struct sim_redis_cfg rc = {.peer = -1, .persist = persist};
    w->m = sim_redis_create(w->sim, w->rnode, &rc);
    w->rep = NULL;
    sim_fault_crash(w->sim, SIM_S, w->rnode);
    sim_fault_restart(w->sim, 2 * SIM_S, w->rnode);
}

Test(redis_model, a_crash_without_persistence_loses_every_key)
{
    struct world w;
    crash_world(&w, false);
    struct script s = {.fn = crash_script};
    run_script(&w, &s, 4 * SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.rc[2], -ETIMEDOUT, "a crashed server answered");
    cr_assert_eq(s.rc[3], -ENOENT, "the lock survived a crash without persistence");
    cr_assert_eq(s.rc[4], 0);
    cr_assert_eq(s.v[0], 1, "INCR of a lost counter starts from 0");
    struct sim_redis_stats st;
    sim_redis_stats(w.m, &st);
    cr_assert_eq(st.starts, 2);
    done(&w);
}

Test(redis_model, a_crash_with_persistence_keeps_keys)
{
    struct world w;
    crash_world(&w, true);
    struct script s = {.fn = crash_script};
    run_script(&w, &s, 4 * SIM_S);
    cr_assert_eq(s.rc[3], 1);
    cr_assert_eq(s.v[0], 42);
    done(&w);
}

static void atomics_script(struct env *e, struct redis *r, struct script *s)
{
    s->rc[0] = redis_set(r, "lock", "tok-a", REDIS_NX, 100 * SIM_MS);
    s->rc[1] = redis_cad(r, "lock", "tok-b"); /* not ours: stays */
    s->rc[2] = redis_get(r, "lock", NULL, 0);
    until(e, 80 * SIM_MS);
    s->rc[3] = redis_cae(r, "lock", "tok-b", 100 * SIM_MS); /* not ours: no extension */
    s->rc[4] = redis_cae(r, "lock", "tok-a", 100 * SIM_MS); /* now when = 180 ms */
    until(e, 150 * SIM_MS);
    s->rc[5] = redis_get(r, "lock", NULL, 0);
    s->rc[6] = redis_cad(r, "lock", "tok-a");
    s->rc[7] = redis_cad(r, "lock", "tok-a"); /* already gone */
    s->rc[8] = redis_del(r, "lock");
    s->rc[9] = redis_set(r, "x", "y", 0, 0);
    s->rc[10] = redis_del(r, "x");
    s->rc[11] = redis_incr(r, "x", &s->v[0]);
    s->rc[12] = redis_incr(r, "x", &s->v[1]);
    redis_set(r, "word", "abc", 0, 0);
    s->rc[13] = redis_incr(r, "word", &s->v[2]);
    char longkey[REDIS_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    s->rc[14] = redis_set(r, longkey, "v", 0, 0);
}

Test(redis_model, compare_and_delete_and_extend_only_touch_their_own_value)
{
    struct world w;
    mk(&w, 0, 0);
    struct script s = {.fn = atomics_script};
    run_script(&w, &s, SIM_S);
    int want[] = {1, 0, 5, 0, 1, 5, 1, 0, 0, 1, 1, 0, 0, -EPROTO, -E2BIG};
    for (int i = 0; i < 15; i++)
        cr_assert_eq(s.rc[i], want[i], "step %d: %d, expected %d", i, s.rc[i], want[i]);
    cr_assert_eq(s.v[0], 1);
    cr_assert_eq(s.v[1], 2);
    done(&w);
}

static void timing_script(struct env *e, struct redis *r, struct script *s)
{
    int64_t t0 = sim_env_true_now(e);
    s->rc[0] = redis_set(r, "k", "v", 0, 0);
    s->t[0] = sim_env_true_now(e) - t0;
    until(e, SIM_S + SIM_MS); /* the server is paused from 1 s to 3 s */
    t0 = sim_env_true_now(e);
    s->rc[1] = redis_get(r, "k", NULL, 0);
    s->t[1] = sim_env_true_now(e) - t0;
    s->rc[2] = redis_get(r, "k", NULL, 0); /* sent at 2.5 s, answered after 3 s */
    s->t[2] = sim_env_true_now(e);
}

Test(redis_model, a_call_costs_a_round_trip_and_service_and_times_out_when_paused)
{
    struct world w;
    mk(&w, SIM_MS, 50 * SIM_US);
    sim_fault_pause(w.sim, SIM_S, w.rnode, 2 * SIM_S);
    struct script s = {.fn = timing_script, .timeout = 2 * SIM_S - 500 * SIM_MS};
    run_script(&w, &s, 5 * SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.t[0], 2 * SIM_MS + 50 * SIM_US);
    cr_assert_eq(s.rc[1], -ETIMEDOUT);
    cr_assert_eq(s.t[1], 1500 * SIM_MS);
    cr_assert_eq(s.rc[2], 1);
    /* the pause ends at 3 s; two requests wait, each 50 us of service, reply takes 1 ms */
    cr_assert_eq(s.t[2], 3 * SIM_S + 100 * SIM_US + SIM_MS);
    done(&w);
}

/* ---- the replica ---- */

static void replica_world(struct world *w, int64_t lag, int64_t failover)
{
    struct sim_config cfg = {.seed = 7};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, SIM_MS, 0, 0};
    w->sim = sim_create(&cfg);
    w->rnode = sim_node_add(w->sim, "redis", 1);
    w->pnode = sim_node_add(w->sim, "replica", 1);
    w->cnode = sim_node_add(w->sim, "client", 1);
    struct sim_redis_cfg mc = {.peer = w->pnode, .repl_lag_ns = lag,
                               .failover_after_ns = failover};
    struct sim_redis_cfg pc = mc;
    pc.peer = w->rnode;
    pc.role = SIM_REDIS_REPLICA;
    w->m = sim_redis_create(w->sim, w->rnode, &mc);
    w->rep = sim_redis_create(w->sim, w->pnode, &pc);
    cr_assert(w->m && w->rep);
}

struct probe {
    struct world *w;
    int64_t at[8];
    int got[8];
    int n;
};

static void probe_at(struct sim *sim, void *arg)
{
    struct probe *p = arg;
    p->got[p->n++] = sim_redis_peek(p->w->rep, "lock", NULL, 0, NULL);
}

static void lag_script(struct env *e, struct redis *r, struct script *s)
{
    until(e, 100 * SIM_MS);
    s->rc[0] = redis_set(r, "lock", "a", REDIS_NX, 10 * SIM_S); /* executed at 101 ms */
}

Test(redis_model, the_replica_follows_after_the_lag)
{
    struct world w;
    replica_world(&w, 50 * SIM_MS, 0);
    struct probe p = {.w = &w};
    /* executed at 101 ms, sent at 151 ms, applied at 152 ms */
    sim_at(w.sim, 151 * SIM_MS, probe_at, &p);
    sim_at(w.sim, 153 * SIM_MS, probe_at, &p);
    struct script s = {.fn = lag_script};
    run_script(&w, &s, SIM_S);
    cr_assert_eq(p.got[0], -ENOENT);
    cr_assert_eq(p.got[1], 1);
    cr_assert_eq(sim_redis_role(w.m), SIM_REDIS_MASTER);
    cr_assert_eq(sim_redis_role(w.rep), SIM_REDIS_REPLICA);
    cr_assert(sim_redis_check(w.rep));
    done(&w);
}

static void failover_script(struct env *e, struct redis *r, struct script *s)
{
    until(e, 100 * SIM_MS);
    s->rc[0] = redis_set(r, "old", "x", 0, 0);                    /* replicated long before */
    until(e, 990 * SIM_MS);
    s->rc[1] = redis_set(r, "lock", "a", REDIS_NX, 10 * SIM_S); /* 991 ms: not yet replicated */
    until(e, 1200 * SIM_MS);                                    /* master down since 1 s */
    s->rc[2] = redis_set(r, "lock", "b", REDIS_NX, 10 * SIM_S); /* times out */
    s->rc[3] = redis_set(r, "lock", "b", REDIS_NX, 10 * SIM_S); /* replica: not promoted yet */
    until(e, 1600 * SIM_MS);                                    /* promoted at 1.5 s + */
    /* the refusal sent the client back to the dead master: one more timeout first */
    s->rc[7] = redis_set(r, "lock", "b", REDIS_NX, 10 * SIM_S);
    s->rc[4] = redis_set(r, "lock", "b", REDIS_NX, 10 * SIM_S);
    s->rc[5] = redis_get(r, "old", NULL, 0);
    until(e, 4 * SIM_S); /* the old master restarted at 3 s, as a replica */
    s->rc[6] = redis_get(r, "lock", NULL, 0);
}

Test(redis_model, failover_promotes_a_replica_that_lacks_the_latest_lock)
{
    struct world w;
    replica_world(&w, 50 * SIM_MS, 500 * SIM_MS);
    sim_fault_crash(w.sim, SIM_S, w.rnode);
    sim_fault_restart(w.sim, 3 * SIM_S, w.rnode);
    struct script s = {.fn = failover_script, .timeout = 100 * SIM_MS};
    run_script(&w, &s, 5 * SIM_S);
    cr_assert_eq(s.rc[1], 1);
    cr_assert_eq(s.rc[2], -ETIMEDOUT);
    cr_assert_eq(s.rc[3], -EROFS);
    cr_assert_eq(s.rc[7], -ETIMEDOUT);
    cr_assert_eq(s.rc[4], 1, "the promoted replica still had the lock: %d", s.rc[4]);
    cr_assert_eq(s.rc[5], 1, "the promoted replica lost what it had been sent");
    cr_assert_eq(s.rc[6], 1);
    struct sim_redis_stats mst, rst;
    sim_redis_stats(w.m, &mst);
    sim_redis_stats(w.rep, &rst);
    cr_assert_eq(rst.promotions, 1);
    /* the last word from the master came at most one heartbeat (100 ms) before the crash */
    cr_assert(rst.promoted_at > 1400 * SIM_MS && rst.promoted_at <= 1501 * SIM_MS,
              "promoted at %ld", (long)rst.promoted_at);
    cr_assert_eq(sim_redis_role(w.rep), SIM_REDIS_MASTER);
    cr_assert_eq(sim_redis_role(w.m), SIM_REDIS_REPLICA);
    cr_assert_eq(mst.demotions, 1);
    char val[8];
    cr_assert_eq(sim_redis_peek(w.m, "lock", val, sizeof(val), NULL), 1,
                 "the returning master did not sync from the new one");
    cr_assert_str_eq(val, "b");
    done(&w);
}

static void armed_script(struct env *e, struct redis *r, struct script *s)
{
    until(e, 50 * SIM_MS);
    s->rc[0] = redis_set(r, "lock", "early", REDIS_NX, 10 * SIM_S); /* before 'from' */
    until(e, 150 * SIM_MS);
    s->rc[1] = redis_del(r, "lock");
    s->rc[2] = redis_set(r, "lock", "grant", REDIS_NX, 10 * SIM_S); /* executed at 153 ms */
}

Test(redis_model, an_armed_crash_loses_the_grant_but_not_the_write_before_it)
{
    struct world w;
    replica_world(&w, 50 * SIM_MS, 0);
    cr_assert_eq(sim_redis_crash_after_grant(w.m, "lock", 100 * SIM_MS,
                                             50 * SIM_MS - 10 * SIM_US, 0), 0);
    struct script s = {.fn = armed_script};
    run_script(&w, &s, SIM_S);
    cr_assert_eq(s.rc[0], 1);
    cr_assert_eq(s.rc[1], 1);
    cr_assert_eq(s.rc[2], 1);
    struct sim_redis_stats st;
    sim_redis_stats(w.m, &st);
    cr_assert_eq(st.armed_grant, 153 * SIM_MS); /* DEL at 151 ms, its reply, the SET at 153 */
    cr_assert_not(sim_node_up(w.sim, w.rnode));
    cr_assert_eq(sim_redis_peek(w.rep, "lock", NULL, 0, NULL), -ENOENT,
                 "the replica saw the grant, or missed the delete before it");
    done(&w);
}

/* Each Redis lock algorithm against the simulated Redis: mutual exclusion while the lease
 * lasts, release semantics (the seed's DEL deletes a successor's lock, compare-and-delete
 * does not), fencing tokens, the renewing watchdog, Redlock's majority and validity, and the
 * blocking acquire's retry loop. Latency 1 ms each way unless a test says otherwise. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lock/redis_lock.h"
#include "sim/redis_model.h"

#define MAXS 3

struct world {
    struct sim *sim;
    int rnode[MAXS], cnode[2];
    struct sim_redis *m[MAXS];
    size_t nservers;
    int64_t timeout;
};

static struct redis *connect_sim(struct env *e, size_t i, void *arg)
{
    struct world *w = arg;
    struct sim_addr a = sim_redis_addr(w->m[i]);
    return sim_redis_connect(e, &a, 1, w->timeout);
}

static void mk(struct world *w, size_t nservers, int64_t latency)
{
    memset(w, 0, sizeof(*w));
    struct sim_config cfg = {.seed = 3};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, latency, 0, 0};
    w->sim = sim_create(&cfg);
    w->nservers = nservers;
    w->timeout = 50 * SIM_MS;
    for (size_t i = 0; i < nservers; i++) {
        char name[16];
        snprintf(name, sizeof(name), "redis-%zu", i);
        w->rnode[i] = sim_node_add(w->sim, name, 1);
        struct sim_redis_cfg rc = {.peer = -1};
        w->m[i] = sim_redis_create(w->sim, w->rnode[i], &rc);
        cr_assert_not_null(w->m[i]);
    }
    w->cnode[0] = sim_node_add(w->sim, "c0", 1);
    w->cnode[1] = sim_node_add(w->sim, "c1", 1);
}

static void done(struct world *w)
{
    sim_destroy(w->sim);
    for (size_t i = 0; i < w->nservers; i++) {
        cr_assert(sim_redis_check(w->m[i]));
        sim_redis_destroy(w->m[i]);
    }
}

struct client {
    struct world *w;
    enum rlock_algo algo;
    int64_t ttl;
    void (*fn)(struct env *e, struct rlock *l, struct client *c);
    int rc[16];
    int64_t v[16];
    struct rlock_stats st;
    bool finished;
};

static void client_actor(struct env *e, void *arg)
{
    struct client *c = arg;
    env_sleep(e, 1); /* the servers listen from time 0 */
    struct rlock_config cfg = {.algo = c->algo, .ttl_ns = c->ttl ? c->ttl : SIM_S,
                               .nservers = c->w->nservers, .connect = connect_sim,
                               .connect_arg = c->w};
    struct rlock *l = rlock_create(e, &cfg);
    cr_assert_not_null(l);
    c->fn(e, l, c);
    rlock_get_stats(l, &c->st);
    rlock_destroy(l);
    c->finished = true;
}

static void run(struct world *w, struct client *a, struct client *b, int64_t until)
{
    a->w = w;
    cr_assert_gt(sim_spawn(w->sim, w->cnode[0], "c0", client_actor, a), 0);
    if (b) {
        b->w = w;
        cr_assert_gt(sim_spawn(w->sim, w->cnode[1], "c1", client_actor, b), 0);
    }
    enum sim_stop stop = sim_run(w->sim, until);
    cr_assert(stop == SIM_STOP_IDLE || stop == SIM_STOP_TIME, "%s", sim_error(w->sim));
    cr_assert(a->finished && (!b || b->finished), "a client did not finish");
}

static void at(struct env *e, int64_t t)
{
    int64_t now = sim_env_true_now(e);
    if (t > now)
        env_sleep(e, t - now);
}

/* ---- mutual exclusion and release, every algorithm ---- */

static void holder(struct env *e, struct rlock *l, struct client *c)
{
    c->rc[0] = rlock_try(l);
    c->v[0] = rlock_fence(l);
    c->rc[1] = rlock_try(l); /* already held */
    at(e, 100 * SIM_MS);
    c->rc[2] = rlock_release(l);
    c->rc[3] = rlock_release(l); /* not held */
    at(e, 300 * SIM_MS);
    c->rc[4] = rlock_try(l); /* after the other one released */
    c->v[1] = rlock_fence(l);
    c->rc[5] = rlock_release(l);
}

static void contender(struct env *e, struct rlock *l, struct client *c)
{
    at(e, 50 * SIM_MS);
    c->rc[0] = rlock_try(l); /* while held */
    at(e, 150 * SIM_MS);
    c->rc[1] = rlock_try(l);
    c->v[0] = rlock_fence(l);
    at(e, 200 * SIM_MS);
    c->rc[2] = rlock_release(l);
}

static void exclusion(enum rlock_algo algo, size_t nservers)
{
    struct world w;
    mk(&w, nservers, SIM_MS);
    struct client a = {.algo = algo, .fn = holder}, b = {.algo = algo, .fn = contender};
    run(&w, &a, &b, 2 * SIM_S);
    cr_assert_eq(a.rc[0], 0, "%s: first acquire %d", rlock_algo_name(algo), a.rc[0]);
    cr_assert_eq(a.rc[1], -EALREADY);
    cr_assert_eq(b.rc[0], -EBUSY, "%s: acquired a held lock", rlock_algo_name(algo));
    cr_assert_eq(a.rc[2], 0);
    cr_assert_eq(a.rc[3], -ENOLCK);
    cr_assert_eq(b.rc[1], 0, "%s: could not take a released lock", rlock_algo_name(algo));
    cr_assert_eq(b.rc[2], 0);
    cr_assert_eq(a.rc[4], 0);
    cr_assert_eq(a.rc[5], 0);
    if (algo == RLOCK_FENCED) {
        cr_assert_eq(a.v[0], 1);
        cr_assert_eq(b.v[0], 2);
        cr_assert_eq(a.v[1], 3);
    } else {
        cr_assert_eq(a.v[0], 0);
    }
    cr_assert_eq(a.st.acquired, 2);
    cr_assert_eq(b.st.busy, 1);
    done(&w);
}

Test(redis_lock, seed_excludes_and_releases) { exclusion(RLOCK_SEED, 1); }
Test(redis_lock, safe_excludes_and_releases) { exclusion(RLOCK_SAFE, 1); }
Test(redis_lock, fenced_hands_out_increasing_tokens) { exclusion(RLOCK_FENCED, 1); }
Test(redis_lock, renewing_excludes_and_releases) { exclusion(RLOCK_RENEWING, 1); }
Test(redis_lock, redlock_excludes_and_releases) { exclusion(RLOCK_REDLOCK, 3); }

/* ---- what a release does after the lease expired ---- */

static void slow_holder(struct env *e, struct rlock *l, struct client *c)
{
    c->rc[0] = rlock_try(l);
    at(e, 1500 * SIM_MS); /* ttl 1 s: expired at ~1 s, the other took it at 1.2 s */
    c->rc[1] = rlock_release(l);
}

static void successor(struct env *e, struct rlock *l, struct client *c)
{
    at(e, 1200 * SIM_MS);
    c->rc[0] = rlock_try(l);
    at(e, 1600 * SIM_MS);
    c->v[0] = sim_redis_peek(c->w->m[0], "counter_lock", NULL, 0, NULL);
    c->rc[1] = rlock_release(l);
}

static void late_release(enum rlock_algo algo, struct client *a, struct client *b)
{
    struct world w;
    mk(&w, 1, SIM_MS);
    *a = (struct client){.algo = algo, .fn = slow_holder};
    *b = (struct client){.algo = algo, .fn = successor};
    run(&w, a, b, 3 * SIM_S);
    cr_assert_eq(a->rc[0], 0);
    cr_assert_eq(b->rc[0], 0, "the expired lock was not free");
    done(&w);
}

Test(redis_lock, the_seeds_late_del_deletes_the_successors_lock)
{
    struct client a, b;
    late_release(RLOCK_SEED, &a, &b);
    cr_assert_eq(a.rc[1], 0, "the seed's DEL found nothing to delete");
    cr_assert_eq(b.v[0], -ENOENT, "the successor's lock survived the seed's DEL");
    cr_assert_eq(b.rc[1], -ESTALE);
}

Test(redis_lock, compare_and_delete_leaves_the_successors_lock_alone)
{
    struct client a, b;
    late_release(RLOCK_SAFE, &a, &b);
    cr_assert_eq(a.rc[1], -ESTALE);
    cr_assert_eq(b.v[0], RLOCK_TOKEN_LEN);
    cr_assert_eq(b.rc[1], 0);
}

/* ---- the renewing watchdog ---- */

static void long_holder(struct env *e, struct rlock *l, struct client *c)
{
    c->rc[0] = rlock_try(l);
    at(e, 3500 * SIM_MS); /* 3.5 ttls */
    c->rc[1] = rlock_lost(l);
    c->rc[2] = rlock_release(l);
}

static void waiter(struct env *e, struct rlock *l, struct client *c)
{
    at(e, 2 * SIM_S);
    c->rc[0] = rlock_try(l);
    at(e, 3600 * SIM_MS);
    c->rc[1] = rlock_try(l);
}

Test(redis_lock, renewing_keeps_the_lease_past_its_ttl)
{
    struct world w;
    mk(&w, 1, SIM_MS);
    struct client a = {.algo = RLOCK_RENEWING, .fn = long_holder};
    struct client b = {.algo = RLOCK_RENEWING, .fn = waiter};
    run(&w, &a, &b, 5 * SIM_S);
    cr_assert_eq(a.rc[0], 0);
    cr_assert_eq(b.rc[0], -EBUSY, "the lease ran out despite the watchdog");
    cr_assert_eq(a.rc[1], 0);
    cr_assert_eq(a.rc[2], 0);
    cr_assert_eq(b.rc[1], 0);
    /* extensions at ttl/3 = 333.333 ms after the grant, then every 333.333 ms: 10 by 3.5 s */
    cr_assert_eq(a.st.extends, 10);
    cr_assert_eq(a.st.lost, 0);
    done(&w);
}

Test(redis_lock, renewing_loses_the_lease_when_its_node_pauses_past_the_ttl)
{
    struct world w;
    mk(&w, 1, SIM_MS);
    /* the holder's whole node (watchdog included) stops from 0.5 s to 2.5 s */
    sim_fault_pause(w.sim, 500 * SIM_MS, w.cnode[0], 2 * SIM_S);
    struct client a = {.algo = RLOCK_RENEWING, .fn = long_holder};
    struct client b = {.algo = RLOCK_RENEWING, .fn = waiter};
    run(&w, &a, &b, 5 * SIM_S);
    cr_assert_eq(a.rc[0], 0);
    cr_assert_eq(b.rc[0], 0, "the paused holder's lease did not expire");
    cr_assert_eq(a.rc[1], 1, "the watchdog did not notice the lease was gone");
    cr_assert_eq(a.rc[2], -ESTALE);
    cr_assert_eq(a.st.lost, 1);
    done(&w);
}

/* ---- Redlock ---- */

static void redlock_once(struct env *e, struct rlock *l, struct client *c)
{
    at(e, 100 * SIM_MS);
    c->rc[0] = rlock_try(l);
    c->v[0] = rlock_validity(l);
    if (c->rc[0] == 0)
        c->rc[1] = rlock_release(l);
}

Test(redis_lock, redlock_validity_is_ttl_minus_elapsed_minus_drift)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    struct client a = {.algo = RLOCK_REDLOCK, .ttl = SIM_S, .fn = redlock_once};
    run(&w, &a, NULL, SIM_S);
    cr_assert_eq(a.rc[0], 0);
    /* three sequential round trips of 2 ms; drift = 1 s * 0.01 + 2 ms */
    cr_assert_eq(a.v[0], SIM_S - 6 * SIM_MS - 12 * SIM_MS);
    done(&w);
}

Test(redis_lock, redlock_holds_with_a_majority_and_not_without)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    sim_fault_crash(w.sim, 0, w.rnode[2]);
    struct client a = {.algo = RLOCK_REDLOCK, .fn = redlock_once};
    run(&w, &a, NULL, SIM_S);
    cr_assert_eq(a.rc[0], 0, "2 of 3 is a majority");
    cr_assert_eq(a.rc[1], 0);
    done(&w);

    mk(&w, 3, SIM_MS);
    sim_fault_crash(w.sim, 0, w.rnode[1]);
    sim_fault_crash(w.sim, 0, w.rnode[2]);
    struct client b = {.algo = RLOCK_REDLOCK, .fn = redlock_once};
    run(&w, &b, NULL, SIM_S);
    cr_assert_eq(b.rc[0], -ETIMEDOUT, "1 of 3 held: %d", b.rc[0]);
    cr_assert_eq(sim_redis_peek(w.m[0], "counter_lock", NULL, 0, NULL), -ENOENT,
                 "a failed Redlock left its key behind");
    done(&w);
}

Test(redis_lock, redlock_fails_when_the_ttl_is_spent_acquiring)
{
    struct world w;
    mk(&w, 3, 10 * SIM_MS); /* 3 round trips of 20 ms, drift 2.5 ms: more than 50 ms */
    struct client a = {.algo = RLOCK_REDLOCK, .ttl = 50 * SIM_MS, .fn = redlock_once};
    run(&w, &a, NULL, SIM_S);
    cr_assert_eq(a.rc[0], -EBUSY);
    done(&w);
}

/* ---- blocking acquire ---- */

static void brief_holder(struct env *e, struct rlock *l, struct client *c)
{
    c->rc[0] = rlock_try(l);
    at(e, 100 * SIM_MS);
    c->rc[1] = rlock_release(l);
}

static void blocker(struct env *e, struct rlock *l, struct client *c)
{
    at(e, 5 * SIM_MS);
    int64_t t0 = sim_env_true_now(e);
    c->rc[0] = rlock_acquire(l, 40 * SIM_MS);
    c->v[0] = sim_env_true_now(e) - t0;
    c->v[1] = (int64_t)rlock_last_attempts(l);
    c->rc[1] = rlock_acquire(l, -1);
    c->v[2] = sim_env_true_now(e);
    c->v[3] = (int64_t)rlock_last_attempts(l);
    c->rc[2] = rlock_release(l);
}

Test(redis_lock, blocking_acquire_retries_until_free_or_timeout)
{
    struct world w;
    mk(&w, 1, SIM_MS);
    struct client a = {.algo = RLOCK_SAFE, .fn = brief_holder};
    struct client b = {.algo = RLOCK_SAFE, .fn = blocker};
    run(&w, &a, &b, SIM_S);
    /* from 5 ms, attempts of 2 ms then 10 ms of delay: at 5, 17, 29, 41 ms; after the
     * fourth (done at 43) another delay would pass the 45 ms deadline */
    cr_assert_eq(b.rc[0], -EBUSY);
    cr_assert_eq(b.v[1], 4);
    cr_assert_eq(b.v[0], 38 * SIM_MS);
    /* then from 43 ms on: attempts at 43, 55, 67, 79, 91, 103 ms; the release's delete
     * reached the server at 101 ms, so the attempt sent at 103 wins, answered at 105 */
    cr_assert_eq(b.rc[1], 0);
    cr_assert_eq(b.v[3], 6);
    cr_assert_eq(b.v[2], 105 * SIM_MS);
    done(&w);
}

/* The simulated ZooKeeper against the real one's semantics (each fact below was seen on
 * ZooKeeper 3.8 with its C client, see tests/lock/test_zk_live.c): sequence numbers
 * per parent, error codes, session timeouts negotiated within [2, 20] ticks, sessions
 * expired by the *server* (ephemeral nodes deleted, watches fired), one-shot watches
 * re-registered after a reconnection, a leader's crash and the election after it.
 * Network latency is 0 unless a test sets it, so times are exact. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sim/zk_model.h"
#include "zk_semantics.h"

#define MS SIM_MS

struct world {
    struct sim *sim;
    int server[SIM_ZK_MAX_SERVERS], nservers;
    int client[4];
    struct sim_zk *zk;
};

static void mk_cfg(struct world *w, int nservers, int64_t latency, struct sim_zk_cfg zc)
{
    struct sim_config cfg = {.seed = 11};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, latency, 0, 0};
    w->sim = sim_create(&cfg);
    cr_assert_not_null(w->sim);
    char name[32];
    for (int i = 0; i < nservers; i++) {
        snprintf(name, sizeof(name), "zk-%d", i);
        w->server[i] = sim_node_add(w->sim, name, 1);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "client-%d", i);
        w->client[i] = sim_node_add(w->sim, name, 1);
    }
    w->nservers = nservers;
    w->zk = sim_zk_create(w->sim, w->server, nservers, &zc);
    cr_assert_not_null(w->zk);
}

static void mk(struct world *w, int nservers, int64_t latency)
{
    mk_cfg(w, nservers, latency, (struct sim_zk_cfg){.tick_ns = 200 * MS});
}

static void done(struct world *w)
{
    const char *why = NULL;
    cr_assert(sim_zk_check(w->zk, &why), "the model's invariants broke: %s", why);
    sim_destroy(w->sim);
    sim_zk_destroy(w->zk);
}

/* A script runs fn in an actor on a client node with a session of 'timeout'. */
struct script {
    struct world *w;
    void (*fn)(struct env *e, struct zk *z, struct script *s);
    int64_t timeout;
    int64_t start;
    int rc[32];
    int64_t v[32];
    char s[8][ZK_PATH_MAX + 1];
    bool finished;
};

static void script_actor(struct env *e, void *arg)
{
    struct script *s = arg;
    if (s->start)
        env_sleep(e, s->start);
    struct zk *z = sim_zk_connect(e, s->w->zk, s->timeout ? s->timeout : 1000 * MS);
    cr_assert_not_null(z);
    s->fn(e, z, s);
    zk_close(z);
    s->finished = true;
}

static void spawn(struct world *w, struct script *s, int client)
{
    s->w = w;
    cr_assert_gt(sim_spawn(w->sim, w->client[client], "script", script_actor, s), 0);
}

static int64_t now(struct env *e)
{
    return sim_env_true_now(e);
}

static void until(struct env *e, int64_t t)
{
    if (t > now(e))
        env_sleep(e, t - now(e));
}

static int mkdir_p(struct zk *z, const char *path)
{
    int rc = zk_create(z, path, NULL, 0, 0, NULL, 0, NULL);
    return rc == -EEXIST ? 0 : rc;
}

/* ---- The semantics shared with the live test (zk_semantics.h) ------------------------- */

struct semrun {
    struct world *w;
    void (*one)(struct env *e, struct zk *z, struct zk_sem *r);
    void (*two)(struct env *e, struct zk *z, struct zk *w, struct zk_sem *r);
    int64_t timeout;
    struct zk_sem r;
    bool finished;
};

static void sem_actor(struct env *e, void *arg)
{
    struct semrun *s = arg;
    int64_t t = s->timeout ? s->timeout : 1000 * MS;
    struct zk *z = sim_zk_connect(e, s->w->zk, t);
    cr_assert_not_null(z);
    if (s->one) {
        s->one(e, z, &s->r);
        zk_close(z);
    } else {
        struct zk *w = sim_zk_connect(e, s->w->zk, t);
        s->two(e, z, w, &s->r); /* closes z */
        zk_close(w);
    }
    s->finished = true;
}

static struct zk_sem *sem_run(struct world *w, struct semrun *s)
{
    s->w = w;
    cr_assert_gt(sim_spawn(w->sim, w->client[0], "sem", sem_actor, s), 0);
    sim_run(w->sim, sim_now(w->sim) + 20 * SIM_S);
    cr_assert(s->finished);
    return &s->r;
}

Test(zk_model, sequence_numbers_and_errors_as_zookeeper_gives_them)
{
    struct world w;
    mk(&w, 1, 0);
    sem_sequence_check(sem_run(&w, &(struct semrun){.one = sem_sequence}));
    sem_error_zxid_check(sem_run(&w, &(struct semrun){.one = sem_error_zxid}));
    done(&w);
}

Test(zk_model, a_listing_sent_behind_a_create_sees_it)
{
    struct world w;
    mk(&w, 1, 0);
    sem_pipeline_check(sem_run(&w, &(struct semrun){.one = sem_pipeline}));
    done(&w);
}

/* Time (virtual) of a create alone, a create then a listing, and both sent back to back. */
static void pipe_timing_script(struct env *e, struct zk *z, struct script *s)
{
    struct zk_children ch;
    int list_rc;
    cr_assert_eq(zk_await_connected(z, 30000 * MS), 0);
    cr_assert_eq(zk_create(z, "/t", NULL, 0, 0, NULL, 0, NULL), 0);
    int64_t t0 = now(e);
    s->rc[0] = zk_create(z, "/t/a-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, NULL, 0, NULL);
    int64_t t1 = now(e);
    s->rc[1] = zk_get_children(z, "/t", false, &ch);
    zk_children_free(&ch);
    int64_t t2 = now(e);
    s->rc[2] = zk_create_list(z, "/t/a-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, NULL, 0, NULL, false,
                              &ch, &list_rc);
    int64_t t3 = now(e);
    s->rc[3] = list_rc;
    s->v[3] = (int64_t)ch.n;
    zk_children_free(&ch);
    s->v[0] = t1 - t0;
    s->v[1] = t2 - t1;
    s->v[2] = t3 - t2;
}

/* The two requests go back to back and the server holds the listing behind the create
 * (the session's FIFO order): both answered after the create's one round trip, and the
 * listing still sees the node. The cost of the listing's own round trip is gone; what
 * is left is the server's CPU for it (100 us, spent while the create is logged). */
Test(zk_model, a_listing_sent_behind_a_create_costs_no_second_round_trip)
{
    struct world w;
    mk_cfg(&w, 3, 5 * MS,
           (struct sim_zk_cfg){.tick_ns = 200 * MS, .service_ns = 100000, .fsync_ns = 500000});
    struct script s = {.fn = pipe_timing_script};
    spawn(&w, &s, 0);
    sim_run(w.sim, 20 * SIM_S);
    cr_assert(s.finished);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(s.rc[i], 0, "call %d: %d", i, s.rc[i]);
    cr_assert_eq(s.v[3], 2, "the listing does not hold both nodes");
    cr_assert_eq(s.v[1], 2 * 5 * MS + 100000, "a read: one round trip and the server's CPU");
    cr_assert_leq(s.v[2], s.v[0] + 100000,
                  "create and listing back to back: %lld ns, a create alone %lld ns",
                  (long long)s.v[2], (long long)s.v[0]);
    cr_assert_geq(s.v[2], s.v[0]);
    done(&w);
}

Test(zk_model, watches_fire_once)
{
    struct world w;
    mk(&w, 1, 0);
    sem_oneshot_check(sem_run(&w, &(struct semrun){.one = sem_oneshot}));
    done(&w);
}

Test(zk_model, closing_a_session_deletes_its_ephemerals_at_once)
{
    struct world w;
    mk(&w, 1, 0);
    sem_close_check(sem_run(&w, &(struct semrun){.two = sem_close}));
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_closed, 2);
    cr_assert_eq(st.sessions_expired, 0);
    done(&w);
}

Test(zk_model, the_server_grants_a_timeout_between_2_and_20_ticks)
{
    struct world w;
    mk(&w, 1, 0);
    int64_t asked[] = {1000 * MS, 100 * MS, 10000 * MS},
            granted[] = {1000 * MS, 400 * MS, 4000 * MS};
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        struct zk_sem *r = sem_run(&w, &(struct semrun){.one = sem_timeout, .timeout = asked[i]});
        cr_assert_eq(r->rc[0], 0);
        cr_assert_eq(r->v[0], granted[i]);
        ids[i] = r->v[1];
    }
    cr_assert(ids[0] && ids[0] != ids[1] && ids[1] != ids[2]);
    done(&w);
}

/* ---- Sessions expire on the server ------------------------------------------------------- */

static void holder_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 5000 * MS), 0);
    mkdir_p(z, "/lk");
    s->rc[0] = zk_create(z, "/lk/held", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL);
    struct zk_session ss;
    zk_session(z, &ss);
    s->v[0] = ss.id;
    /* the node is paused from 1 s to 3 s (the test schedules it) */
    until(e, 3500 * MS);
    struct zk_event ev;
    int n = 0;
    while (zk_wait(z, &ev, 2000 * MS) == 1 && n < 8) {
        s->v[1 + n] = ev.type == ZK_EV_SESSION ? ev.state : 100 + ev.type;
        n++;
        if (ev.state == ZK_STATE_EXPIRED)
            break;
    }
    s->v[10] = n;
    s->rc[1] = zk_exists(z, "/lk", false, NULL);
    s->v[11] = zk_rc(z);
}

static void watcher_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 5000 * MS), 0);
    until(e, 500 * MS);
    s->rc[0] = zk_exists(z, "/lk/held", true, NULL);
    struct zk_event ev;
    do
        s->rc[1] = zk_wait(z, &ev, 5000 * MS);
    while (s->rc[1] == 1 && ev.type == ZK_EV_SESSION);
    s->v[0] = now(e);
    s->v[1] = ev.type;
    snprintf(s->s[0], sizeof(s->s[0]), "%s", ev.path);
    s->rc[2] = zk_exists(z, "/lk/held", false, NULL);
}

Test(zk_model, the_server_expires_a_silent_session_and_deletes_its_ephemerals)
{
    struct world w;
    mk(&w, 1, 0);
    struct script h = {.fn = holder_script, .timeout = 1000 * MS};
    struct script o = {.fn = watcher_script, .timeout = 1000 * MS};
    spawn(&w, &h, 0);
    spawn(&w, &o, 1);
    cr_assert_eq(sim_fault_pause(w.sim, SIM_S, w.client[0], 2 * SIM_S), 0);
    sim_run(w.sim, 10 * SIM_S);
    cr_assert(h.finished && o.finished);
    cr_assert_eq(h.rc[0], 0);
    cr_assert_eq(o.rc[0], 0);
    cr_assert_eq(o.rc[1], 1);
    cr_assert_eq(o.v[1], ZK_EV_DELETED);
    cr_assert_str_eq(o.s[0], "/lk/held");
    /* last touch before 1 s, + 1 s timeout, rounded up to the next 200 ms tick */
    cr_assert(o.v[0] > 1900 * MS && o.v[0] <= 2200 * MS, "deleted at %lld ns", (long long)o.v[0]);
    cr_assert_eq(o.rc[2], -ENOENT);
    /* the paused client learns it when it runs again: connection lost, then expired */
    cr_assert_eq(h.v[10], 3);
    cr_assert_eq(h.v[1], ZK_STATE_CONNECTED);
    cr_assert_eq(h.v[2], ZK_STATE_CONNECTING);
    cr_assert_eq(h.v[3], ZK_STATE_EXPIRED);
    cr_assert_eq(h.rc[1], -EBADFD, "a dead handle refuses calls");
    cr_assert(!sim_zk_peek_session(w.zk, 0, h.v[0]));
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_expired, 1);
    done(&w);
}

static void short_pause_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 5000 * MS), 0);
    s->rc[0] = zk_create(z, "/held", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL);
    until(e, 3 * SIM_S);
    s->rc[1] = zk_exists(z, "/held", false, NULL);
    struct zk_session ss;
    zk_session(z, &ss);
    s->v[0] = ss.state;
}

Test(zk_model, a_pause_shorter_than_the_timeout_keeps_the_session)
{
    struct world w;
    mk(&w, 1, 0);
    struct script h = {.fn = short_pause_script, .timeout = 1000 * MS};
    spawn(&w, &h, 0);
    /* the client pinged at most 1/3 s before; 500 ms more stays under the timeout */
    cr_assert_eq(sim_fault_pause(w.sim, SIM_S, w.client[0], 500 * MS), 0);
    sim_run(w.sim, 5 * SIM_S);
    cr_assert(h.finished);
    cr_assert_eq(h.rc[1], 0);
    cr_assert_eq(h.v[0], ZK_STATE_CONNECTED);
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_expired, 0);
    done(&w);
}

/* ---- The ensemble ------------------------------------------------------------------------ */

static void ens_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    struct zk_session ss;
    zk_session(z, &ss);
    s->v[0] = ss.id;
    mkdir_p(z, "/e");
    s->rc[0] = zk_create(z, "/e/mine", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL);
    struct zk_children ch;
    s->rc[1] = zk_get_children(z, "/e", true, &ch);
    zk_children_free(&ch);
    /* the leader crashes at 5 s (the test arranges it); keep the session through it */
    struct zk_event ev;
    int n = 0;
    while (now(e) < 12 * SIM_S && n < 16) {
        if (zk_wait(z, &ev, 12 * SIM_S - now(e)) != 1)
            break;
        s->v[1 + n] = ev.type == ZK_EV_SESSION ? ev.state : 100 + ev.type;
        n++;
    }
    s->v[20] = n;
    s->rc[2] = zk_exists(z, "/e/mine", false, NULL);
    s->rc[3] = zk_create(z, "/e/after", NULL, 0, 0, NULL, 0, NULL);
    zk_session(z, &ss);
    s->v[21] = ss.id;
}

static void other_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    until(e, 2 * SIM_S);
    s->rc[0] = zk_create(z, "/e/other", NULL, 0, 0, NULL, 0, NULL);
}

Test(zk_model, three_servers_elect_a_leader_and_survive_its_crash)
{
    struct world w;
    mk(&w, 3, 500 * SIM_US);
    struct script a = {.fn = ens_script, .timeout = 4000 * MS};
    struct script b = {.fn = other_script, .timeout = 4000 * MS};
    spawn(&w, &a, 0);
    spawn(&w, &b, 1);
    sim_run(w.sim, 4 * SIM_S);
    int leader = sim_zk_leader(w.zk);
    cr_assert_geq(leader, 0, "no leader after 4 s");
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sim_zk_peek(w.zk, i, "/e/other", NULL), 0, "server %d lacks a commit", i);
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.elections, 1);
    cr_assert_eq(sim_fault_crash(w.sim, 5 * SIM_S, w.server[leader]), 0);
    sim_run(w.sim, 14 * SIM_S);
    cr_assert(a.finished && b.finished);
    int next = sim_zk_leader(w.zk);
    cr_assert(next >= 0 && next != leader, "no new leader (%d)", next);
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.elections, 2);
    /* detection (syncLimit, 10 ticks) + an election (200 ms finalize) + sync: 2.2-2.6 s */
    cr_assert(st.leader_since > 7200 * MS && st.leader_since < 7600 * MS, "leader at %lld",
              (long long)st.leader_since);
    cr_assert_eq(a.rc[0], 0);
    cr_assert_eq(a.rc[2], 0, "the session's ephemeral node did not survive the election");
    cr_assert_eq(a.rc[3], 0);
    cr_assert_eq(a.v[21], a.v[0], "the session changed");
    cr_assert_eq(st.sessions_expired, 0);
    for (int i = 0; i < 3; i++)
        if (i != leader)
            cr_assert_eq(sim_zk_peek(w.zk, i, "/e/after", NULL), 0);
    done(&w);
}

static void loop_script(struct env *e, struct zk *z, struct script *s)
{
    zk_await_connected(z, 10 * SIM_S);
    mkdir_p(z, "/d");
    for (int i = 0; i < 20; i++) {
        char p[64];
        zk_create(z, "/d/n-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, p, sizeof(p), NULL);
        env_sleep(e, 50 * MS);
        zk_delete(z, p, -1);
    }
}

static uint64_t run_hash(uint64_t seed)
{
    struct world w;
    mk(&w, 3, 300 * SIM_US);
    struct script a = {.fn = loop_script}, b = {.fn = loop_script};
    spawn(&w, &a, 0);
    spawn(&w, &b, 1);
    sim_run(w.sim, 4 * SIM_S);
    uint64_t h = sim_hash(w.sim);
    done(&w);
    return h;
}

Test(zk_model, one_seed_one_run)
{
    cr_assert_eq(run_hash(1), run_hash(1));
}

/* ---- Partitions and reconnections ------------------------------------------------------ */

static void cut_client(struct world *w, int client, int64_t from, int64_t to)
{
    int c = w->client[client];
    cr_assert_eq(sim_fault_partition(w->sim, from, to, &c, 1, w->server, w->nservers, false), 0);
}

static void rewatch_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    mkdir_p(z, "/r");
    struct zk_children ch;
    s->rc[0] = zk_get_children(z, "/r", true, &ch);
    zk_children_free(&ch);
    struct zk_event ev;
    int n = 0;
    while (n < 8 && zk_wait(z, &ev, 6 * SIM_S - now(e)) == 1) {
        s->v[n] = ev.type == ZK_EV_SESSION ? ev.state : 100 + ev.type;
        s->v[10 + n] = now(e);
        n++;
    }
    s->v[20] = n;
}

static void writer_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    until(e, 1500 * MS);
    s->rc[0] = zk_create(z, "/r/x", NULL, 0, 0, NULL, 0, NULL);
}

/* A client cut off for less than its timeout reconnects with its session, and the child
 * watch it had set fires for the change made while it was away (the watches it sends
 * again carry the last zxid it saw). With a 4 s session it pings every 1.33 s and gives
 * a connection up after 2.67 s of silence: after the cut has healed, so that its first
 * attempt reaches a server (an attempt also waits 2.67 s: a cut that outlasted the
 * detection would cost the session). */
Test(zk_model, a_reconnected_client_hears_what_changed_while_it_was_away)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    struct script a = {.fn = rewatch_script, .timeout = 4 * SIM_S};
    struct script b = {.fn = writer_script, .timeout = 4 * SIM_S, .start = 500 * MS};
    spawn(&w, &a, 0);
    spawn(&w, &b, 1);
    cut_client(&w, 0, SIM_S, 2500 * MS);
    sim_run(w.sim, 8 * SIM_S);
    cr_assert(a.finished && b.finished);
    cr_assert_eq(b.rc[0], 0);
    /* connected, lost (2.67 s after the last reply), connected again, then the event */
    cr_assert_eq(a.v[20], 4, "%lld events", (long long)a.v[20]);
    cr_assert_eq(a.v[0], ZK_STATE_CONNECTED);
    cr_assert_eq(a.v[1], ZK_STATE_CONNECTING);
    cr_assert_eq(a.v[2], ZK_STATE_CONNECTED);
    cr_assert_eq(a.v[3], 100 + ZK_EV_CHILD);
    cr_assert_geq(a.v[13], 2500 * MS, "the event came before the cut healed");
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_expired, 0);
    done(&w);
}

static void cutoff_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    s->rc[0] = zk_create(z, "/mine", NULL, 0, ZK_EPHEMERAL, NULL, 0, NULL);
    struct zk_event ev;
    int n = 0;
    while (n < 8 && zk_wait(z, &ev, 8 * SIM_S - now(e)) == 1)
        s->v[n++] = ev.state;
    s->v[20] = n;
    s->rc[1] = zk_create(z, "/again", NULL, 0, 0, NULL, 0, NULL);
}

/* Cut off for longer than its timeout: the server expires the session while the client
 * cannot hear it; the client learns it once the cut heals. */
Test(zk_model, a_client_cut_off_past_its_timeout_finds_its_session_expired)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    struct script a = {.fn = cutoff_script, .timeout = SIM_S};
    spawn(&w, &a, 0);
    cut_client(&w, 0, SIM_S, 4 * SIM_S);
    sim_run(w.sim, 3 * SIM_S);
    cr_assert_eq(sim_zk_peek(w.zk, 0, "/mine", NULL), -ENOENT, "expired during the cut");
    struct sim_zk_stats st;
    sim_zk_stats(w.zk, &st);
    cr_assert_eq(st.sessions_expired, 1);
    cr_assert(st.last_expiry > 1900 * MS && st.last_expiry < 2300 * MS, "expired at %lld",
              (long long)st.last_expiry);
    sim_run(w.sim, 10 * SIM_S);
    cr_assert(a.finished);
    cr_assert_eq(a.v[20], 3);
    cr_assert_eq(a.v[1], ZK_STATE_CONNECTING);
    cr_assert_eq(a.v[2], ZK_STATE_EXPIRED);
    cr_assert_eq(a.rc[1], -EBADFD);
    done(&w);
}

static void steady_script(struct env *e, struct zk *z, struct script *s)
{
    cr_assert_eq(zk_await_connected(z, 10 * SIM_S), 0);
    mkdir_p(z, "/s");
    int ok = 0, lost = 0;
    while (now(e) < 9 * SIM_S) {
        char p[64];
        int rc = zk_create(z, "/s/n-", NULL, 0, ZK_SEQUENCE, p, sizeof(p), NULL);
        ok += rc == 0;
        lost += rc == -ECONNRESET;
        env_sleep(e, 20 * MS);
    }
    s->v[0] = ok;
    s->v[1] = lost;
}

/* The leader is cut off from everyone: the followers elect another, the old one steps
 * down when it stops hearing a majority, and writes go on (those caught in the cut fail
 * with a connection loss, none is applied twice or lost once committed). */
Test(zk_model, an_isolated_leader_steps_down_and_the_majority_goes_on)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    struct script a = {.fn = steady_script, .timeout = 4 * SIM_S};
    struct script b = {.fn = steady_script, .timeout = 4 * SIM_S};
    spawn(&w, &a, 0);
    spawn(&w, &b, 1);
    sim_run(w.sim, 2 * SIM_S);
    int old = sim_zk_leader(w.zk);
    cr_assert_geq(old, 0);
    int rest[SIM_ZK_MAX_SERVERS + 4], n = 0;
    for (int i = 0; i < w.nservers; i++)
        if (i != old)
            rest[n++] = w.server[i];
    for (int i = 0; i < 4; i++)
        rest[n++] = w.client[i];
    cr_assert_eq(
        sim_fault_partition(w.sim, 3 * SIM_S, 7 * SIM_S, &w.server[old], 1, rest, n, false), 0);
    sim_run(w.sim, 6 * SIM_S);
    int now_leader = sim_zk_leader(w.zk);
    cr_assert(now_leader >= 0 && now_leader != old, "leader %d, was %d", now_leader, old);
    sim_run(w.sim, 12 * SIM_S);
    cr_assert(a.finished && b.finished);
    /* ~450 creates each without the cut, which costs a client at most the followers'
     * detection (2 s), the election and two connect attempts (2 x 2.67 s): 1.5 s left */
    cr_assert_gt(a.v[0], 50);
    cr_assert_gt(b.v[0], 50);
    struct zk_stat st;
    cr_assert_eq(sim_zk_peek(w.zk, now_leader, "/s", &st), 0);
    /* every create that said yes is there (the others may or may not be) */
    cr_assert_geq(st.num_children, a.v[0] + b.v[0]);
    cr_assert_leq(st.num_children, a.v[0] + b.v[0] + a.v[1] + b.v[1]);
    done(&w);
}

/* The quorum rule: a leader commits a write, and says yes to it, only once a majority has
 * logged it. Every client talks to the leader, zk-2 (empty logs: the highest id leads),
 * when it is cut off from its followers (not from its clients): its clients' creates get
 * no answer until it steps down (no majority for syncLimit) and they move to the new
 * leader; every create that said yes is on the new leader. A leader that committed on
 * its own log would say yes for two seconds to writes that the new leader never had. */
Test(zk_model, a_leader_cut_off_from_its_followers_says_yes_to_no_write)
{
    struct world w;
    mk(&w, 3, SIM_MS);
    struct script sc[4];
    for (int i = 0; i < 4; i++) {
        sc[i] = (struct script){.fn = steady_script, .timeout = 2 * SIM_S};
        spawn(&w, &sc[i], i);
    }
    /* the clients reach only zk-2 until 4 s: they connect there (by 2.7 s) and stay */
    cr_assert_eq(sim_fault_partition(w.sim, 0, 4 * SIM_S, w.client, 4, w.server, 2, false), 0);
    cr_assert_eq(
        sim_fault_partition(w.sim, 4500 * MS, 8 * SIM_S, &w.server[2], 1, w.server, 2, false), 0);
    sim_run(w.sim, 4500 * MS);
    cr_assert_eq(sim_zk_leader(w.zk), 2);
    sim_run(w.sim, 14 * SIM_S);
    int leader = sim_zk_leader(w.zk);
    cr_assert(leader == 0 || leader == 1, "leader %d", leader);
    int64_t ok = 0, lost = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert(sc[i].finished);
        cr_assert_gt(sc[i].v[0], 0);
        ok += sc[i].v[0];
        lost += sc[i].v[1];
    }
    struct zk_stat st;
    cr_assert_eq(sim_zk_peek(w.zk, leader, "/s", &st), 0);
    cr_assert_geq(st.num_children, ok, "%d nodes on the new leader, %lld creates said yes",
                  st.num_children, (long long)ok);
    cr_assert_leq(st.num_children, ok + lost);
    cr_assert_geq(lost, 4, "every client had a create caught in the cut");
    cr_log_info("%lld creates said yes, %lld lost, %d nodes", (long long)ok, (long long)lost,
                st.num_children);
    done(&w);
}

/* ---- The data tree and its checker --------------------------------------------------- */

#include "sim/zk_internal.h"

static void txn(struct sim__zk_tree *t, int type, const char *path, int64_t session, unsigned flags)
{
    struct sim__zk_txn x = {
        .type = type, .session = session, .flags = flags, .version = -1, .zxid = t->zxid + 1};
    snprintf(x.path, sizeof(x.path), "%s", path);
    sim__zk_prep(t, &x);
    cr_assert_eq(sim__zk_apply(t, &x, NULL, NULL), 0);
}

Test(zk_model, the_tree_survives_a_snapshot_and_its_checker_sees_damage)
{
    struct sim__zk_tree *t = sim__zk_tree_create();
    cr_assert_not_null(t);
    cr_assert_null(sim__zk_tree_check(t));
    txn(t, SIM__ZK_TXN_CREATE_SESSION, "", 77, 0);
    txn(t, SIM__ZK_TXN_CREATE, "/a", 77, 0);
    for (int i = 0; i < 40; i++)
        txn(t, SIM__ZK_TXN_CREATE, "/a/n-", 77, ZK_EPHEMERAL | ZK_SEQUENCE);
    txn(t, SIM__ZK_TXN_DELETE, "/a/n-0000000007", 77, 0);
    txn(t, SIM__ZK_TXN_CREATE, "/a/n-0000000007", 77, 0); /* a plain one, same name */
    cr_assert_null(sim__zk_tree_check(t));
    struct sim__zk_tree *c = sim__zk_tree_clone(t);
    cr_assert_not_null(c);
    cr_assert_null(sim__zk_tree_check(c));
    cr_assert_eq(c->zxid, t->zxid);
    cr_assert_eq(c->hash, t->hash);
    cr_assert_eq(c->count, t->count);
    const struct sim__zk_node *a = sim__zk_find(t, "/a"), *b = sim__zk_find(c, "/a");
    cr_assert_eq(a->st.cversion, b->st.cversion);
    cr_assert_eq(a->seq_next, 41);
    for (uint32_t i = 0; i < a->nkids; i++) /* the same order of children */
        cr_assert_str_eq(a->kids[i]->path, b->kids[i]->path);
    /* closing the session takes its ephemerals, not the plain node */
    txn(c, SIM__ZK_TXN_CLOSE_SESSION, "", 77, 0);
    cr_assert_null(sim__zk_tree_check(c));
    cr_assert_eq(sim__zk_find(c, "/a")->nkids, 1);
    /* damage: a count that lies, an ephemeral node without its session */
    struct sim__zk_node *n = sim__zk_find(c, "/a");
    n->st.num_children = 5;
    cr_assert_not_null(sim__zk_tree_check(c));
    n->st.num_children = 1;
    n->kids[0]->st.ephemeral_owner = 1234;
    cr_assert_not_null(sim__zk_tree_check(c));
    sim__zk_tree_destroy(c);
    sim__zk_tree_destroy(t);
}

/* A run that ends with clients still waiting on their handles (the lab's runs stop at
 * their duration): the model may be freed before the sim, which then destroys those
 * actors without touching the handles' memory (ASan checks this). */
static void forever_script(struct env *e, struct zk *z, struct script *s)
{
    struct zk_event ev; /* session events only: nothing is watched */
    while (zk_wait(z, &ev, -1) == 1)
        s->rc[0]++;
}

Test(zk_model, the_model_can_be_freed_before_the_sim_while_clients_wait)
{
    struct world w;
    mk(&w, 3, 0);
    struct script a = {.fn = forever_script}, b = {.fn = forever_script};
    spawn(&w, &a, 0);
    spawn(&w, &b, 1);
    sim_run(w.sim, 3 * SIM_S);
    cr_assert(!a.finished && !b.finished);
    const char *why = NULL;
    cr_assert(sim_zk_check(w.zk, &why), "the model's invariants broke: %s", why);
    sim_zk_destroy(w.zk);
    sim_destroy(w.sim);
}

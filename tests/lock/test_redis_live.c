/* Against a real redis-server that each test starts on a unix socket in a temporary
 * directory (live/servers.h; the launcher's own tests are in tests/live): the hiredis
 * client's semantics, every lock algorithm, and the server faults (SIGSTOP pause, SIGKILL
 * crash and restart). Times only bound from below what sleeping
 * guarantees, or allow generous margins, so a slow machine does not fail them. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "live/live.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"
#include "lock/redis_lock.h"

#define MS 1000000LL

static struct live_cluster *start(void)
{
    struct live_cluster *s = NULL;
    char err[2048] = "";
    int rc = live_cluster_start(LIVE_REDIS, 1, NULL, &s, err, sizeof(err));
    cr_assert_eq(rc, 0, "cannot start redis-server: %s", err);
    cr_assert(!strncmp(live_cluster_addrs(s), "unix:/tmp/", 10));
    return s;
}

static struct redis *client(struct live_cluster *s)
{
    struct redis *r = live_redis_connect(live_cluster_addrs(s), 500 * MS);
    cr_assert_not_null(r);
    return r;
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

Test(redis_live, commands_keep_their_redis_semantics)
{
    struct live_cluster *s = start();
    struct redis *r = client(s);
    char buf[64];
    cr_assert_eq(redis_set(r, "lock", "a", REDIS_NX, 0), 1);
    cr_assert_eq(redis_set(r, "lock", "b", REDIS_NX, 0), 0);
    cr_assert_eq(redis_get(r, "lock", buf, sizeof(buf)), 1);
    cr_assert_str_eq(buf, "a");
    cr_assert_eq(redis_get(r, "nothing", buf, sizeof(buf)), -ENOENT);
    cr_assert_eq(redis_cad(r, "lock", "b"), 0);
    cr_assert_eq(redis_cad(r, "lock", "a"), 1);
    cr_assert_eq(redis_del(r, "lock"), 0);
    cr_assert_eq(redis_set(r, "t", "x", 0, 100 * MS), 1);
    cr_assert_eq(redis_cae(r, "t", "y", 400 * MS), 0);
    cr_assert_eq(redis_cae(r, "t", "x", 400 * MS), 1);
    nap(200 * MS);
    cr_assert_eq(redis_get(r, "t", NULL, 0), 1, "the extension did not hold");
    nap(400 * MS);
    cr_assert_eq(redis_get(r, "t", NULL, 0), -ENOENT, "PX did not expire the key");
    int64_t v = 0;
    cr_assert_eq(redis_incr(r, "n", &v), 0);
    cr_assert_eq(redis_incr(r, "n", &v), 0);
    cr_assert_eq(v, 2);
    cr_assert_eq(redis_incr(r, "lockless", &v), 0);
    redis_set(r, "word", "abc", 0, 0);
    cr_assert_eq(redis_incr(r, "word", &v), -EPROTO);
    char longkey[REDIS_KEY_MAX + 2];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    cr_assert_eq(redis_set(r, longkey, "v", 0, 0), -E2BIG);
    redis_close(r);
    live_cluster_stop(s);
}

Test(redis_live, an_unreachable_server_is_refused_not_hung)
{
    cr_assert_eq(live_redis_ping("unix:/tmp/distlab-no-such-dir/redis.sock", 200 * MS),
                 -ECONNREFUSED);
    struct redis *r = live_redis_connect("unix:/tmp/distlab-no-such-dir/redis.sock", 200 * MS);
    cr_assert_eq(redis_set(r, "k", "v", 0, 0), -ECONNREFUSED);
    redis_close(r);
    cr_assert_null(live_redis_connect("redis://:99999", 200 * MS));
}

Test(redis_live, a_paused_server_times_out_and_a_crashed_one_forgets)
{
    struct live_cluster *s = start();
    struct redis *r = client(s);
    redis_set_timeout(r, 200 * MS);
    cr_assert_eq(redis_set(r, "lock", "a", 0, 0), 1);
    cr_assert_eq(redis_cad(r, "nolock", "x"), 0); /* loads the script */
    cr_assert_eq(live_cluster_pause(s, 0), 0);
    int64_t t0 = mono();
    cr_assert_eq(redis_get(r, "lock", NULL, 0), -ETIMEDOUT);
    int64_t waited = mono() - t0;
    cr_assert(waited >= 190 * MS && waited < 5000 * MS, "waited %lld ns", (long long)waited);
    cr_assert_eq(live_cluster_resume(s, 0), 0);
    cr_assert_eq(redis_get(r, "lock", NULL, 0), 1, "no answer after SIGCONT");
    pid_t pid = live_cluster_pid(s, 0);
    cr_assert_eq(live_cluster_kill(s, 0), 0);
    cr_assert_eq(kill(pid, 0), -1);
    int rc = redis_get(r, "lock", NULL, 0); /* the open connection breaks first */
    cr_assert(rc == -ECONNRESET || rc == -ECONNREFUSED, "%d", rc);
    cr_assert_eq(redis_get(r, "lock", NULL, 0), -ECONNREFUSED);
    cr_assert_eq(live_cluster_restart(s, 0, true, NULL, 0), 0);
    cr_assert_eq(redis_get(r, "lock", NULL, 0), -ENOENT, "the key survived SIGKILL");
    cr_assert_eq(redis_set(r, "lock", "b", 0, 0), 1);
    cr_assert_eq(redis_cad(r, "lock", "b"), 1, "the script was not loaded again");
    redis_close(r);
    live_cluster_stop(s);
}

/* ---- the lock algorithms on the real server ---- */

struct servers {
    struct live_cluster *s[3];
    size_t n;
};

static struct redis *connect_live(struct env *e, size_t i, void *arg)
{
    struct servers *sv = arg;
    return live_redis_connect(live_cluster_addrs(sv->s[i]), 500 * MS);
}

static void exclusion(enum rlock_algo algo, size_t n, int64_t ttl, int64_t hold)
{
    struct servers sv = {.n = n};
    for (size_t i = 0; i < n; i++)
        sv.s[i] = start();
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    struct rlock_config cfg = {.algo = algo, .ttl_ns = ttl, .nservers = n,
                               .connect = connect_live, .connect_arg = &sv};
    struct rlock *a = rlock_create(e, &cfg), *b = rlock_create(e, &cfg);
    cr_assert(a && b);
    cr_assert_eq(rlock_try(a), 0, "%s", rlock_algo_name(algo));
    int64_t fence = rlock_fence(a);
    cr_assert_eq(rlock_try(b), -EBUSY);
    nap(hold);
    cr_assert_eq(rlock_try(b), -EBUSY, "%s: the lease ran out", rlock_algo_name(algo));
    cr_assert_eq(rlock_release(a), 0);
    cr_assert_eq(rlock_acquire(b, 1000 * MS), 0);
    if (algo == RLOCK_FENCED)
        cr_assert_eq(rlock_fence(b), fence + 1);
    cr_assert_eq(rlock_release(b), 0);
    struct rlock_stats st;
    rlock_get_stats(a, &st);
    if (algo == RLOCK_RENEWING)
        cr_assert_geq(st.extends, 2, "%lu extensions", (unsigned long)st.extends);
    rlock_destroy(a);
    rlock_destroy(b);
    live_world_destroy(w);
    for (size_t i = 0; i < n; i++)
        live_cluster_stop(sv.s[i]);
}

Test(redis_live, seed_lock) { exclusion(RLOCK_SEED, 1, 5000 * MS, 0); }
Test(redis_live, safe_lock) { exclusion(RLOCK_SAFE, 1, 5000 * MS, 0); }
Test(redis_live, fenced_lock) { exclusion(RLOCK_FENCED, 1, 5000 * MS, 0); }
Test(redis_live, redlock_over_three_servers) { exclusion(RLOCK_REDLOCK, 3, 5000 * MS, 0); }
/* ttl 300 ms held for 1 s: only the watchdog (every 100 ms) keeps it */
Test(redis_live, renewing_lock_outlives_its_ttl)
{
    exclusion(RLOCK_RENEWING, 1, 300 * MS, 1000 * MS);
}

Test(redis_live, the_seeds_del_removes_a_successors_lock)
{
    struct servers sv = {.n = 1};
    sv.s[0] = start();
    struct live_world *w = live_world_create(1);
    struct env *e = live_world_env(w);
    struct rlock_config cfg = {.algo = RLOCK_SEED, .ttl_ns = 100 * MS, .connect = connect_live,
                               .connect_arg = &sv};
    struct rlock *a = rlock_create(e, &cfg), *b = rlock_create(e, &cfg);
    cr_assert_eq(rlock_try(a), 0);
    nap(250 * MS); /* a's lease expires */
    cr_assert_eq(rlock_try(b), 0);
    cr_assert_eq(rlock_release(a), 0, "the seed's DEL found nothing");
    struct redis *r = client(sv.s[0]);
    cr_assert_eq(redis_get(r, "counter_lock", NULL, 0), -ENOENT, "b's lock survived a's DEL");
    redis_close(r);
    cr_assert_eq(rlock_release(b), -ESTALE);
    rlock_destroy(a);
    rlock_destroy(b);
    live_world_destroy(w);
    live_cluster_stop(sv.s[0]);
}

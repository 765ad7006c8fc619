/* redis_lock_live.c - the lock/redis workload's live world (redis_lock_wl.h), on the lab's
 * live world (lab.h): it asks for redis-0.. (or redis-0 with replica-0 and sentinel-0)
 * and for client nodes client-0.., and the lab starts, names, faults and stops them.
 * Built only with hiredis. */
#include "lab/lock/redis_lock_wl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "live/redis_hiredis.h"

/* A client's lock when its node crashes: its counters are kept, the lock itself waits in
 * the graveyard until every thread of the run is gone (its watchdog may still be
 * ending), then it is freed. */
static void client_gone(void *arg)
{
    struct rl_client *c = arg;
    struct rl *w = c->w;
    if (!c->lock)
        return;
    struct rlock_stats st;
    rlock_get_stats(c->lock, &st);
    pthread_mutex_lock(&w->mu);
    rl_stats_add(&c->st, &st);
    if (w->ngrave < MAX_CLIENTS * 4)
        w->grave[w->ngrave++] = c->lock;
    pthread_mutex_unlock(&w->mu);
    c->lock = NULL;
}

/* A client node's main actor: cycles until the run ends; a crash stops it where it
 * stands (client_gone), and a restart runs this again with a fresh lock. */
static void client_main_live(struct env *e, void *arg)
{
    struct rl_client *c = arg;
    c->lock = rl_make_lock(c->w, e);
    if (!c->lock || live_env_atexit(e, client_gone, c) < 0) {
        rlock_destroy(c->lock);
        c->lock = NULL;
        return;
    }
    rl_client_loop(e, c);
    struct rlock_stats st;
    rlock_get_stats(c->lock, &st);
    pthread_mutex_lock(&c->w->mu);
    rl_stats_add(&c->st, &st);
    pthread_mutex_unlock(&c->w->mu);
    rlock_destroy(c->lock);
    c->lock = NULL;
}

/* Where the clients' lock lives: 'need' plain servers, or a primary with a replica and
 * Sentinel (whose client address follows the failover). Returns 1 when this sweep point
 * asks for more servers than the user gave (skipped), 0, or a negative errno. */
static int servers(struct rl *w)
{
    struct lab_run *run = w->run;
    int need = w->algo == RLOCK_REDLOCK ? w->servers : 1;
    if (w->replica) {
        struct live_cluster_opts o = {.repl_lag_ns = w->repl_lag,
                                      .down_after_ns = w->failover_after};
        const char *s = lab_live_servers_opts(run, LIVE_SENTINEL, 1, &o);
        if (!s)
            return -EHOSTUNREACH;
        snprintf(w->addr[0], sizeof(w->addr[0]), "sentinel://%s/" LIVE_SENTINEL_MASTER, s);
        return 0;
    }
    int offered = lab_live_offered(run, LIVE_REDIS);
    if (offered >= 0 && offered < need) {
        lab_skip(run, "algorithm", "%s needs %d Redis servers; world.redis gives %d",
                 rlock_algo_name(w->algo), need, offered);
        return 1;
    }
    if (!lab_live_servers(run, LIVE_REDIS, need))
        return -EHOSTUNREACH;
    for (int i = 0; i < need; i++)
        snprintf(w->addr[i], sizeof(w->addr[i]), "%s", lab_live_server_addr(run, LIVE_REDIS, i));
    /* A user's server is shared: by the runs of this invocation (-j), by other distlab
     * processes, by earlier runs that left a lock behind. Each run takes a key of its own
     * there, empty at the start. */
    if (!lab_live_cluster(run, LIVE_REDIS))
        snprintf(w->key, sizeof(w->key), "%s:%ld-%zu", RL_LOCK_KEY, (long)getpid(),
                 lab_run_index(run));
    char fence[80];
    snprintf(fence, sizeof(fence), "%s:fence", w->key[0] ? w->key : RL_LOCK_KEY);
    for (int i = 0; i < need; i++) {
        struct redis *r = live_redis_connect(w->addr[i], w->call_timeout);
        int rc = r ? redis_del(r, w->key[0] ? w->key : RL_LOCK_KEY) : -EINVAL;
        if (rc >= 0)
            rc = redis_del(r, fence);
        redis_close(r);
        if (rc < 0) {
            lab_fail(run, "cannot reach Redis at %s: %s", w->addr[i], strerror(-rc));
            return rc == -EINVAL ? -EINVAL : -EHOSTUNREACH;
        }
    }
    return 0;
}

/* "HOST:PORT" of the master Sentinel names now into out ("" when it does not answer). */
static void master_now(redisContext **ctx, const char *sentinel, char *out, size_t cap)
{
    out[0] = 0;
    struct timeval tv = {0, 200000};
    if (!*ctx) {
        *ctx = redisConnectWithTimeout("127.0.0.1", atoi(strchr(sentinel, ':') + 1), tv);
        if (!*ctx || (*ctx)->err) {
            if (*ctx)
                redisFree(*ctx);
            *ctx = NULL;
            return;
        }
        redisSetTimeout(*ctx, tv);
    }
    redisReply *r = redisCommand(*ctx, "SENTINEL get-master-addr-by-name %s", LIVE_SENTINEL_MASTER);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        snprintf(out, cap, "%s:%s", r->element[0]->str, r->element[1]->str);
    if (!r) {
        redisFree(*ctx);
        *ctx = NULL;
    } else {
        freeReplyObject(r);
    }
}

/* Ask Sentinel every 10 ms which server is the master: a change is a promotion, at the
 * true time it was first seen (within 10 ms of Sentinel's switch). Ends with the run. */
static void watch_sentinel(struct env *e, void *arg)
{
    struct rl *w = arg;
    const char *sentinel = lab_live_server_addr(w->run, LIVE_SENTINEL,
                                                lab_live_server_count(w->run, LIVE_SENTINEL) - 1);
    redisContext *ctx = NULL;
    char first[64] = "", now[64];
    while (!lab_live_stopping(w->run)) {
        master_now(&ctx, sentinel, now, sizeof(now));
        if (*now && !*first) {
            snprintf(first, sizeof(first), "%s", now);
        } else if (*now && strcmp(first, now) != 0) {
            if (atomic_fetch_add(&w->promotions, 1) == 0)
                atomic_store(&w->promoted_at, lab_live_now(w->run));
            snprintf(first, sizeof(first), "%s", now);
        }
        env_sleep(e, 10000000LL);
    }
    if (ctx)
        redisFree(ctx);
}

int rl_run_live(struct rl *w)
{
    struct lab_run *run = w->run;
    if (!(w->lw = lab_live_begin(run)))
        return -EINVAL;
    int rc = servers(w);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if (w->hfault == HF_CRASH && !lab_live_cluster(run, LIVE_REDIS) &&
        !lab_live_cluster(run, LIVE_SENTINEL)) {
        lab_fail(run, "holder_fault: crash-master needs servers distlab starts itself, not the "
                      "ones world.redis gives");
        return -EINVAL;
    }
    atomic_store(&w->promoted_at, -1);
    if (w->replica && (rc = live_spawn(w->lw, "sentinel-watch", watch_sentinel, w, NULL)) < 0) {
        lab_fail(run, "cannot start the Sentinel watch: %s", strerror(-rc));
        return rc;
    }
    for (int k = 0; k < w->clients; k++) {
        char name[32];
        snprintf(name, sizeof(name), "client-%d", k);
        if ((rc = lab_live_node(run, name, client_main_live, &w->client[k])) < 0) {
            lab_fail(run, "cannot add node %s: %s", name, strerror(-rc));
            return rc;
        }
    }
    lockres_live(w->res, run);
    rc = lab_live_go(run, 0);
    for (int i = 0; i < w->ngrave; i++)
        rlock_abandon(w->grave[i]);
    w->ngrave = 0;
    if (rc < 0)
        return rc;
    return rl_report(w, rl_true_now(w, NULL));
}

/* The holder fault, live: a pause of the holder's node, or the crash of the first
 * fault_servers servers right after the grant. With a replica, the replication stream is
 * cut at the grant's SET first, so the promoted replica has every write before the grant
 * and not the grant (live/lagrelay.h), as in the simulated world. */
void rl_holder_fault_live(struct rl_client *c)
{
    struct rl *w = c->w;
    char node[32];
    if (w->hfault == HF_PAUSE) {
        snprintf(node, sizeof(node), "client-%d", c->index);
        lab_live_fault(w->run, &(struct lab_fault){
                                   .kind = LAB_FAULT_PAUSE, .node = node, .dur = w->fault_for});
        return;
    }
    if (w->replica) {
        char grant[64];
        int n = snprintf(grant, sizeof(grant), "$3\r\nSET\r\n$%zu\r\n%s\r\n", strlen(RL_LOCK_KEY),
                         RL_LOCK_KEY);
        live_cluster_cut_replication(lab_live_cluster(w->run, LIVE_SENTINEL), grant, (size_t)n);
    }
    for (int i = 0; i < w->fault_servers; i++) {
        snprintf(node, sizeof(node), "redis-%d", i);
        lab_live_fault(w->run, &(struct lab_fault){.kind = LAB_FAULT_CRASH,
                                                   .node = node,
                                                   .dur = w->fault_for > 0 ? w->fault_for : -1});
    }
}

/* redis_lock.c - the Redis locks of redis_lock.h. Talks to Redis only through redis.h and
 * to its world only through env.h: never a clock, a thread or a socket of its own. */
#include "lock/redis_lock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

struct rlock {
    struct env *e; /* the owner's */
    struct rlock_config cfg;
    char key[REDIS_KEY_MAX + 1];
    char fence_key[REDIS_KEY_MAX + 1];
    struct redis *conn[RLOCK_MAX_SERVERS];
    size_t nconn;

    /* The current lease (owner only, except what the watchdog reads under mu). */
    bool held;
    char token[RLOCK_TOKEN_LEN + 1];
    int64_t fence;
    int64_t validity;
    uint64_t last_attempts;

    /* Shared with the watchdog, under mu. */
    struct env_mutex mu;
    struct env_cond cv;
    bool wd_started, wd_quit, wd_held;
    uint64_t gen;        /* bumped on every grant and release */
    int64_t next_extend; /* owner's monotonic clock */
    bool lost;
    uint64_t wd_handle;
    struct redis *wd_conn; /* the watchdog's connection, opened in its own actor */
    struct rlock_stats st; /* the owner's counters */
    /* The watchdog's counters: atomic, so the owner reads them without the mutex. */
    _Atomic uint64_t extends, extend_errors, lost_count;
};

const char *const rlock_algo_names[] = {RLOCK_ALGO_NAMES, NULL};

int rlock_algo_parse(const char *s, enum rlock_algo *out)
{
    int v = names_value(rlock_algo_names, s);
    if (v < 0)
        return v;
    *out = (enum rlock_algo)v;
    return 0;
}

const char *rlock_algo_name(enum rlock_algo a)
{
    return names_name(rlock_algo_names, (int)a);
}

struct rlock *rlock_create(struct env *e, const struct rlock_config *cfg)
{
    if (!e || !cfg || !cfg->connect || (unsigned)cfg->algo > RLOCK_REDLOCK)
        return NULL;
    size_t n = cfg->algo == RLOCK_REDLOCK ? cfg->nservers : 1;
    if (n < 1 || n > RLOCK_MAX_SERVERS)
        return NULL;
    struct rlock *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->e = e;
    l->cfg = *cfg;
    const char *key = cfg->key ? cfg->key : "counter_lock";
    if (strlen(key) + 6 > REDIS_KEY_MAX)
        goto err_free;
    snprintf(l->key, sizeof(l->key), "%s", key);
    snprintf(l->fence_key, sizeof(l->fence_key), "%s:fence", key);
    l->cfg.key = l->key;
    if (l->cfg.ttl_ns <= 0)
        l->cfg.ttl_ns = 5000000000LL;
    if (l->cfg.retry_delay_ns <= 0)
        l->cfg.retry_delay_ns = 10000000LL;
    if (l->cfg.retry_jitter_ns < 0)
        l->cfg.retry_jitter_ns = 0;
    if (l->cfg.drift_factor <= 0)
        l->cfg.drift_factor = 0.01;
    if (l->cfg.drift_min_ns <= 0)
        l->cfg.drift_min_ns = 2000000LL;
    if (l->cfg.renew_every_ns <= 0)
        l->cfg.renew_every_ns = l->cfg.ttl_ns / 3;
    if (env_mutex_init(e, &l->mu) < 0)
        goto err_free;
    if (env_cond_init(e, &l->cv) < 0)
        goto err_mutex;
    for (l->nconn = 0; l->nconn < n; l->nconn++) {
        l->conn[l->nconn] = cfg->connect(e, l->nconn, cfg->connect_arg);
        if (!l->conn[l->nconn])
            goto err_conns;
    }
    return l;
err_conns:
    while (l->nconn)
        redis_close(l->conn[--l->nconn]);
    env_cond_destroy(e, &l->cv);
err_mutex:
    env_mutex_destroy(e, &l->mu);
err_free:
    free(l);
    return NULL;
}

void rlock_destroy(struct rlock *l)
{
    if (!l)
        return;
    struct env *e = l->e;
    env_mutex_lock(e, &l->mu);
    l->wd_quit = true;
    env_cond_broadcast(e, &l->cv);
    bool started = l->wd_started;
    env_mutex_unlock(e, &l->mu);
    if (started)
        env_join(e, l->wd_handle);
    for (size_t i = 0; i < l->nconn; i++)
        redis_close(l->conn[i]);
    env_cond_destroy(e, &l->cv);
    env_mutex_destroy(e, &l->mu);
    free(l);
}

/* ---- The renewing watchdog --------------------------------------------------------- */

/* Extends the lease every renew_every while the owner holds it: a CAE at next_extend,
 * then the next one renew_every later. A CAE that finds the key gone or not ours marks
 * the lease lost and stops; one that gets no answer is retried at the next period. A
 * result that comes back after the owner released (gen changed) is ignored. */
static void watchdog(struct env *e, void *arg)
{
    struct rlock *l = arg;
    struct redis *c = l->cfg.connect(e, 0, l->cfg.connect_arg);
    env_mutex_lock(e, &l->mu);
    l->wd_conn = c;
    while (!l->wd_quit) {
        if (!l->wd_held || l->lost || !c) {
            env_cond_wait(e, &l->cv, &l->mu, -1);
            continue;
        }
        int64_t left = l->next_extend - env_mono(e);
        if (left > 0) {
            env_cond_wait(e, &l->cv, &l->mu, left);
            continue;
        }
        uint64_t gen = l->gen;
        char token[RLOCK_TOKEN_LEN + 1];
        memcpy(token, l->token, sizeof(token));
        l->next_extend += l->cfg.renew_every_ns;
        env_mutex_unlock(e, &l->mu);
        int rc = redis_cae(c, l->key, token, l->cfg.ttl_ns);
        env_mutex_lock(e, &l->mu);
        if (gen != l->gen || !l->wd_held)
            continue;
        if (rc == 1) {
            atomic_fetch_add(&l->extends, 1);
        } else if (rc == 0) {
            l->lost = true;
            atomic_fetch_add(&l->lost_count, 1);
        } else {
            atomic_fetch_add(&l->extend_errors, 1);
        }
    }
    l->wd_conn = NULL;
    env_mutex_unlock(e, &l->mu);
    redis_close(c);
}

/* Tell the watchdog (started on first use) about a grant at t0 or a release. */
static int watch(struct rlock *l, bool held, int64_t t0)
{
    struct env *e = l->e;
    env_mutex_lock(e, &l->mu);
    l->gen++;
    l->wd_held = held;
    l->lost = false;
    l->next_extend = t0 + l->cfg.renew_every_ns;
    int rc = 0;
    if (held && !l->wd_started) {
        char name[64];
        snprintf(name, sizeof(name), "%s/watchdog", env_name(e));
        rc = env_spawn(e, name, watchdog, l, &l->wd_handle);
        l->wd_started = rc == 0;
    }
    env_cond_broadcast(e, &l->cv);
    env_mutex_unlock(e, &l->mu);
    return rc;
}

/* ---- Acquire and release ------------------------------------------------------------- */

static void new_token(struct rlock *l)
{
    if (l->cfg.algo == RLOCK_SEED) {
        snprintf(l->token, sizeof(l->token), "1"); /* the seed's SetNX(lockKey, 1, ...) */
        return;
    }
    /* two draws as 32 lowercase hex digits (what "%016" PRIx64 twice would print, for a
     * tenth of snprintf's instructions: this runs once per lock cycle) */
    _Static_assert(RLOCK_TOKEN_LEN == 32, "a token is two 64-bit draws in hex");
    static const char hex[] = "0123456789abcdef";
    uint64_t v[2];
    v[0] = env_rand(l->e); /* in this order: a seeded run replays the same tokens */
    v[1] = env_rand(l->e);
    for (int k = 0; k < 2; k++)
        for (int i = 15; i >= 0; i--, v[k] >>= 4)
            l->token[k * 16 + i] = hex[v[k] & 15];
    l->token[RLOCK_TOKEN_LEN] = 0;
}

static int try_redlock(struct rlock *l, int64_t t0)
{
    size_t ok = 0, busy = 0;
    int err = 0;
    for (size_t i = 0; i < l->nconn; i++) {
        int rc = redis_set(l->conn[i], l->key, l->token, REDIS_NX, l->cfg.ttl_ns);
        if (rc == 1)
            ok++;
        else if (rc == 0)
            busy++;
        else if (!err)
            err = rc;
    }
    int64_t elapsed = env_mono(l->e) - t0;
    int64_t drift = (int64_t)((double)l->cfg.ttl_ns * l->cfg.drift_factor) + l->cfg.drift_min_ns;
    int64_t validity = l->cfg.ttl_ns - elapsed - drift;
    if (ok >= l->nconn / 2 + 1 && validity > 0) {
        l->validity = validity;
        return 0;
    }
    /* Undo: a server that timed out may have set the key too. */
    for (size_t i = 0; i < l->nconn; i++)
        redis_cad(l->conn[i], l->key, l->token);
    return busy || !err ? -EBUSY : err;
}

int rlock_try(struct rlock *l)
{
    if (l->held)
        return -EALREADY;
    struct env *e = l->e;
    l->st.attempts++;
    l->last_attempts = 1;
    new_token(l);
    l->fence = 0;
    l->validity = l->cfg.ttl_ns;
    int64_t t0 = env_mono(e);
    int rc;
    if (l->cfg.algo == RLOCK_REDLOCK) {
        rc = try_redlock(l, t0);
    } else {
        rc = redis_set(l->conn[0], l->key, l->token, REDIS_NX, l->cfg.ttl_ns);
        rc = rc == 1 ? 0 : rc == 0 ? -EBUSY : rc;
    }
    if (rc == 0 && l->cfg.algo == RLOCK_FENCED) {
        rc = redis_incr(l->conn[0], l->fence_key, &l->fence);
        if (rc < 0)
            redis_cad(l->conn[0], l->key, l->token); /* no token, no lock */
    }
    if (rc == 0 && l->cfg.algo == RLOCK_RENEWING && watch(l, true, t0) < 0) {
        redis_cad(l->conn[0], l->key, l->token);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        l->held = true;
        l->st.acquired++;
    } else if (rc == -EBUSY) {
        l->st.busy++;
    } else {
        l->st.errors++;
    }
    return rc;
}

int rlock_acquire(struct rlock *l, int64_t timeout_ns)
{
    struct env *e = l->e;
    int64_t deadline = env_mono(e) + timeout_ns;
    uint64_t attempts = 0;
    for (;;) {
        int rc = rlock_try(l);
        attempts++;
        l->last_attempts = attempts;
        if (rc == 0 || rc == -EALREADY || rc == -EINVAL || rc == -ENOMEM || rc == -E2BIG)
            return rc;
        int64_t wait = l->cfg.retry_delay_ns;
        if (l->cfg.retry_jitter_ns > 0)
            wait += (int64_t)env_rand_below(e, (uint64_t)l->cfg.retry_jitter_ns);
        if (timeout_ns >= 0 && env_mono(e) + wait > deadline)
            return rc;
        env_sleep(e, wait);
    }
}

int rlock_release(struct rlock *l)
{
    if (!l->held)
        return -ENOLCK;
    l->held = false;
    if (l->cfg.algo == RLOCK_RENEWING)
        watch(l, false, 0);
    int rc;
    if (l->cfg.algo == RLOCK_SEED) {
        rc = redis_del(l->conn[0], l->key); /* whoever's it is now */
    } else {
        /* redlock: the lease was still ours if a majority still had it */
        size_t deleted = 0, need = l->nconn / 2 + 1;
        int err = 0;
        for (size_t i = 0; i < l->nconn; i++) {
            int r = redis_cad(l->conn[i], l->key, l->token);
            if (r > 0)
                deleted++;
            else if (r < 0 && !err)
                err = r;
        }
        rc = deleted >= need ? 1 : err ? err : 0;
    }
    if (rc > 0) {
        l->st.released++;
        return 0;
    }
    if (rc == 0) {
        l->st.stale_releases++;
        return -ESTALE;
    }
    return rc;
}

bool rlock_held(const struct rlock *l)
{
    return l->held;
}

bool rlock_lost(struct rlock *l)
{
    env_mutex_lock(l->e, &l->mu);
    bool lost = l->lost;
    env_mutex_unlock(l->e, &l->mu);
    return lost;
}

int64_t rlock_fence(const struct rlock *l)
{
    return l->fence;
}

const char *rlock_token(const struct rlock *l)
{
    return l->token;
}

int64_t rlock_validity(const struct rlock *l)
{
    return l->validity;
}

uint64_t rlock_last_attempts(const struct rlock *l)
{
    return l->last_attempts;
}

void rlock_get_stats(const struct rlock *l, struct rlock_stats *out)
{
    *out = l->st;
    out->extends = atomic_load(&l->extends);
    out->extend_errors = atomic_load(&l->extend_errors);
    out->lost = atomic_load(&l->lost_count);
}

void rlock_abandon(struct rlock *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nconn; i++)
        redis_close(l->conn[i]);
    redis_close(l->wd_conn);
    free(l);
}

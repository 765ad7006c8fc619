/* etcd_lock.c - the etcd locks of etcd_lock.h. Talks to etcd only through client/etcd.h and
 * to its world only through env.h: never a clock, a thread or a socket of its own. */
#include "lock/etcd_lock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* Internal outcomes of one attempt, beside the errnos of the calls. */
#define AGAIN 1           /* start over at once (the lock was released) */
#define DEADLINE (-ETIME) /* the acquire's own time is up */

struct elock {
    struct env *e; /* the owner's */
    struct elock_config cfg;
    char key[ELOCK_KEY_MAX + 2];  /* etcdsync: the lock key; mutex: the prefix + "/" */
    char mykey[ETCD_KEY_MAX + 1]; /* the key of the current grant */
    char token[33];               /* etcdsync: our value */
    struct etcd *c;
    bool held;
    int64_t fence, lease; /* etcdsync: the grant's lease; mutex: the session's */
    struct elock_stats st;

    /* Shared with the keep-alive actor (mutex), under mu. */
    struct env_mutex mu;
    struct env_cond cv;
    bool ka_started, ka_quit, lost;
    int64_t ka_lease; /* the lease it keeps alive; 0: none */
    uint64_t ka_handle;
    struct etcd *ka_conn;
    _Atomic uint64_t keepalives, keepalive_errors;
};

const char *const elock_algo_names[] = {ELOCK_ALGO_NAMES, NULL};

int elock_algo_parse(const char *s, enum elock_algo *out)
{
    int v = names_value(elock_algo_names, s);
    if (v < 0)
        return v;
    *out = (enum elock_algo)v;
    return 0;
}

const char *elock_algo_name(enum elock_algo a)
{
    return names_name(elock_algo_names, (int)a);
}

int elock_key_check(const char *key, const char **why)
{
    const char *w = NULL;
    if (!key || !*key)
        w = "an empty key";
    else if (key[0] != '/')
        w = "a key must start with '/'";
    else if (strlen(key) > ELOCK_KEY_MAX)
        w = "a key longer than 110 bytes (room is kept for '/' and a lease in hex)";
    for (const char *p = key; !w && *p; p++)
        if (*p <= ' ' || *p > '~')
            w = "a key of printable ASCII without spaces";
    if (why)
        *why = w;
    return w ? -EINVAL : 0;
}

struct elock *elock_create(struct env *e, const struct elock_config *cfg)
{
    if (!e || !cfg || !cfg->connect || (unsigned)cfg->algo > ELOCK_MUTEX || cfg->ttl_s < 0 ||
        cfg->ttl_s > ETCD_MAX_LEASE_TTL_S)
        return NULL;
    const char *key = cfg->key ? cfg->key : "/lock";
    if (elock_key_check(key, NULL) < 0)
        return NULL;
    struct elock *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->e = e;
    l->cfg = *cfg;
    snprintf(l->key, sizeof(l->key), cfg->algo == ELOCK_MUTEX ? "%s/" : "%s", key);
    l->cfg.key = key;
    if (l->cfg.ttl_s == 0)
        l->cfg.ttl_s = 10; /* the seed's etcdsync.New("/lock", 10, ...) */
    if (l->cfg.keepalive_every_ns <= 0)
        l->cfg.keepalive_every_ns = l->cfg.ttl_s * 1000000000LL / 3;
    if (l->cfg.retry_delay_ns <= 0)
        l->cfg.retry_delay_ns = 100000000LL;
    if (env_mutex_init(e, &l->mu) < 0)
        goto err_free;
    if (env_cond_init(e, &l->cv) < 0)
        goto err_mutex;
    l->c = cfg->connect(e, cfg->connect_arg);
    if (!l->c)
        goto err_cond;
    return l;
err_cond:
    env_cond_destroy(e, &l->cv);
err_mutex:
    env_mutex_destroy(e, &l->mu);
err_free:
    free(l);
    return NULL;
}

/* ---- The mutex's keep-alive --------------------------------------------------------------- */

/* Keeps ka_lease alive every keepalive_every_ns until told to quit; a lease the cluster no
 * longer has marks the session lost (the owner finds out at its next acquire). */
static void keepalive_main(struct env *e, void *arg)
{
    struct elock *l = arg;
    struct etcd *c = l->cfg.connect(e, l->cfg.connect_arg);
    int64_t every = l->cfg.keepalive_every_ns;
    env_mutex_lock(e, &l->mu);
    l->ka_conn = c;
    int64_t next = env_mono(e) + every;
    while (!l->ka_quit) {
        if (!c || l->ka_lease == 0 || l->lost) {
            env_cond_wait(e, &l->cv, &l->mu, -1);
            next = env_mono(e) + every;
            continue;
        }
        int64_t left = next - env_mono(e);
        if (left > 0) {
            env_cond_wait(e, &l->cv, &l->mu, left);
            continue;
        }
        int64_t id = l->ka_lease;
        env_mutex_unlock(e, &l->mu);
        int64_t ttl = 0;
        int rc = etcd_lease_keepalive(c, id, &ttl, NULL);
        env_mutex_lock(e, &l->mu);
        next = env_mono(e) + every;
        if (id != l->ka_lease)
            continue;
        if (rc == 0)
            atomic_fetch_add(&l->keepalives, 1);
        else if (rc == -ENOENT)
            l->lost = true;
        else
            atomic_fetch_add(&l->keepalive_errors, 1);
    }
    l->ka_conn = NULL;
    env_mutex_unlock(e, &l->mu);
    etcd_close(c);
}

/* Hand the keep-alive a new session lease (0: none), starting it on first use. */
static int keep(struct elock *l, int64_t lease)
{
    struct env *e = l->e;
    int rc = 0;
    env_mutex_lock(e, &l->mu);
    l->ka_lease = lease;
    l->lost = false;
    if (lease && !l->ka_started) {
        char name[64];
        snprintf(name, sizeof(name), "%s/keepalive", env_name(e));
        rc = env_spawn(e, name, keepalive_main, l, &l->ka_handle);
        l->ka_started = rc == 0;
    }
    env_cond_broadcast(e, &l->cv);
    env_mutex_unlock(e, &l->mu);
    return rc;
}

bool elock_lost(struct elock *l)
{
    env_mutex_lock(l->e, &l->mu);
    bool lost = l->lost;
    env_mutex_unlock(l->e, &l->mu);
    return lost;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

/* Count a call's outcome. */
static int counted(struct elock *l, int rc)
{
    l->st.requests++;
    if (rc < 0)
        l->st.errors++;
    return rc;
}

/* Time left before the deadline (< 0: none), or 0 when it has passed. */
static int64_t left(struct elock *l, int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t t = deadline - env_mono(l->e);
    return t > 0 ? t : 0;
}

/* Wait on an open watch until 'key' is deleted (AGAIN), the deadline passes (DEADLINE), or
 * the watch fails: -ECANCELED (compaction: the caller's error) or -ECONNRESET. Closes it. */
static int await_delete(struct elock *l, struct etcd_watch *w, int64_t deadline)
{
    for (;;) {
        int64_t t = left(l, deadline);
        if (t == 0) {
            etcd_watch_close(w);
            return DEADLINE;
        }
        struct etcd_event ev;
        int rc = etcd_watch_next(w, &ev, t);
        if (rc == -ETIMEDOUT) {
            etcd_watch_close(w);
            return DEADLINE;
        }
        if (rc < 0) {
            l->st.errors++;
            etcd_watch_close(w);
            return rc == -ECANCELED ? rc : -ECONNRESET;
        }
        l->st.wakeups++;
        if (ev.type == ETCD_EV_DELETE) {
            etcd_watch_close(w);
            return AGAIN;
        }
    }
}

/* ---- etcdsync ----------------------------------------------------------------------------- */

static int sync_try(struct elock *l, int64_t deadline)
{
    struct etcd_kv kv;
    int64_t rev = 0;
    int rc = counted(l, etcd_get(l->c, l->key, &kv, &rev)); /* (1) */
    if (rc < 0)
        return rc;
    if (rc == 0) { /* (2) absent: write ours if it still is */
        int64_t id = 0;
        if ((rc = counted(l, etcd_lease_grant(l->c, l->cfg.ttl_s, &id, NULL, NULL))) < 0)
            return rc;
        l->st.leases++;
        snprintf(l->token, sizeof(l->token), "%016" PRIx64 "%016" PRIx64, env_rand(l->e),
                 env_rand(l->e));
        struct etcd_cmp cmp = {.key = l->key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
        struct etcd_op put = {.kind = ETCD_OP_PUT, .key = l->key, .val = l->token, .lease = id};
        struct etcd_op get = {.kind = ETCD_OP_RANGE, .key = l->key};
        bool ok = false;
        rc = counted(l, etcd_txn(l->c, &cmp, 1, &put, 1, &get, 1, &ok, &rev));
        if (rc < 0)
            return rc; /* the lease expires by itself; if the put was committed, so does it */
        if (ok) {
            l->lease = id;
            l->fence = rev;
            snprintf(l->mykey, sizeof(l->mykey), "%s", l->key);
            return 0;
        }
        counted(l, etcd_lease_revoke(l->c, id, NULL)); /* unused */
    }
    struct etcd_watch *w; /* (3) block until the key changes after what we read */
    l->st.watches++;
    if ((rc = counted(l, etcd_watch_open(l->c, l->key, false, rev + 1, &w, NULL))) < 0)
        return rc;
    return await_delete(l, w, deadline); /* (4) a delete: back to (1) */
}

/* ---- mutex ------------------------------------------------------------------------------- */

/* A session: a lease kept alive, and our key under the prefix. */
static int session(struct elock *l)
{
    if (l->lease && !elock_lost(l))
        return 0;
    if (l->lease)
        l->st.session_lost++;
    int64_t id = 0;
    int rc = counted(l, etcd_lease_grant(l->c, l->cfg.ttl_s, &id, NULL, NULL));
    if (rc < 0)
        return rc;
    l->st.leases++;
    l->lease = id;
    snprintf(l->mykey, sizeof(l->mykey), "%s%" PRIx64, l->key, (uint64_t)id);
    return keep(l, id);
}

/* Give up our place in the queue (clientv3's Unlock after a failed wait). */
static void leave(struct elock *l)
{
    counted(l, etcd_delete(l->c, l->mykey, false, NULL));
}

static int mutex_try(struct elock *l, int64_t deadline)
{
    int rc = session(l);
    if (rc < 0)
        return rc;
    struct etcd_kv self, owner;
    struct etcd_cmp cmp = {.key = l->mykey, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
    struct etcd_op first = {.kind = ETCD_OP_RANGE,
                            .key = l->key,
                            .prefix = true,
                            .limit = 1,
                            .sort_target = ETCD_SORT_CREATE,
                            .sort_order = ETCD_SORT_ASCEND,
                            .kvs = &owner,
                            .cap = 1};
    struct etcd_op then_ops[2] = {
        {.kind = ETCD_OP_PUT, .key = l->mykey, .val = "", .lease = l->lease}, first};
    struct etcd_op else_ops[2] = {{.kind = ETCD_OP_RANGE, .key = l->mykey, .kvs = &self, .cap = 1},
                                  first};
    bool ok = false;
    int64_t rev = 0;
    if ((rc = counted(l, etcd_txn(l->c, &cmp, 1, then_ops, 2, else_ops, 2, &ok, &rev))) < 0)
        return rc;
    int64_t myrev = rev;
    size_t nowner = ok ? then_ops[1].n : else_ops[1].n;
    if (!ok) { /* our key was there: written by an attempt whose answer was lost */
        l->st.resumed++;
        if (else_ops[0].n == 0)
            return -ENOENT;
        myrev = self.create_rev;
    }
    if (nowner == 1 && owner.create_rev == myrev) {
        l->fence = myrev;
        return 0;
    }
    for (;;) { /* wait for the deletion of every key created before ours */
        struct etcd_kv before;
        struct etcd_op prev = {.kind = ETCD_OP_RANGE,
                               .key = l->key,
                               .prefix = true,
                               .limit = 1,
                               .sort_target = ETCD_SORT_CREATE,
                               .sort_order = ETCD_SORT_DESCEND,
                               .max_create_rev = myrev - 1,
                               .kvs = &before,
                               .cap = 1};
        if ((rc = counted(l, etcd_do(l->c, &prev, &rev))) < 0) {
            leave(l);
            return rc;
        }
        if (prev.n == 0)
            break;
        struct etcd_watch *w;
        l->st.watches++;
        if ((rc = counted(l, etcd_watch_open(l->c, before.key, false, rev + 1, &w, NULL))) < 0) {
            leave(l);
            return rc;
        }
        rc = await_delete(l, w, deadline);
        if (rc != AGAIN) {
            leave(l);
            return rc;
        }
    }
    /* our key must still be there: the session may have expired while we waited */
    if ((rc = counted(l, etcd_get(l->c, l->mykey, NULL, NULL))) <= 0) {
        if (rc == 0) {
            env_mutex_lock(l->e, &l->mu);
            l->lost = true;
            env_mutex_unlock(l->e, &l->mu);
            return -ENOENT;
        }
        leave(l);
        return rc;
    }
    l->fence = myrev;
    return 0;
}

/* ---- Acquire and release ------------------------------------------------------------------ */

/* Errors that another attempt may cure. */
static bool transient(int rc)
{
    return rc == -ETIMEDOUT || rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -EAGAIN ||
           rc == -ENOENT;
}

int elock_acquire(struct elock *l, int64_t timeout_ns)
{
    if (l->held)
        return -EALREADY;
    int64_t deadline = timeout_ns < 0 ? -1 : env_mono(l->e) + timeout_ns;
    for (;;) {
        int rc = l->cfg.algo == ELOCK_ETCDSYNC ? sync_try(l, deadline) : mutex_try(l, deadline);
        if (rc == 0) {
            l->held = true;
            l->st.acquired++;
            return 0;
        }
        if (rc == AGAIN)
            continue;
        if (rc == DEADLINE)
            return -ETIMEDOUT;
        if (!transient(rc))
            return rc;
        if (deadline >= 0 && env_mono(l->e) + l->cfg.retry_delay_ns > deadline)
            return rc;
        env_sleep(l->e, l->cfg.retry_delay_ns);
    }
}

int elock_release(struct elock *l)
{
    if (!l->held)
        return -ENOLCK;
    l->held = false;
    l->fence = 0;
    int rc = counted(l, etcd_delete(l->c, l->mykey, false, NULL)); /* etcdsync: whoever's */
    if (l->cfg.algo == ELOCK_ETCDSYNC && l->lease) {
        counted(l, etcd_lease_revoke(l->c, l->lease, NULL));
        l->lease = 0;
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

bool elock_held(const struct elock *l)
{
    return l->held;
}

int64_t elock_fence(const struct elock *l)
{
    return l->held ? l->fence : 0;
}

int64_t elock_lease(const struct elock *l)
{
    return l->lease;
}

const char *elock_key(const struct elock *l)
{
    return l->mykey;
}

void elock_get_stats(const struct elock *l, struct elock_stats *out)
{
    *out = l->st;
    out->keepalives = atomic_load(&l->keepalives);
    out->keepalive_errors = atomic_load(&l->keepalive_errors);
}

void elock_destroy(struct elock *l)
{
    if (!l)
        return;
    struct env *e = l->e;
    env_mutex_lock(e, &l->mu);
    l->ka_quit = true;
    env_cond_broadcast(e, &l->cv);
    bool started = l->ka_started;
    env_mutex_unlock(e, &l->mu);
    if (started)
        env_join(e, l->ka_handle);
    if (l->lease) /* an interrupted holder lets go at once, not after the TTL */
        etcd_lease_revoke(l->c, l->lease, NULL);
    etcd_close(l->c);
    env_cond_destroy(e, &l->cv);
    env_mutex_destroy(e, &l->mu);
    free(l);
}

void elock_abandon(struct elock *l)
{
    if (!l)
        return;
    etcd_close(l->c);
    etcd_close(l->ka_conn);
    free(l);
}

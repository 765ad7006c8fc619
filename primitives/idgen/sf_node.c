/* sf_node.c - the blocking generator: env's clock and sleep, the durable high-water
 * mark. All decisions stay in snowflake.c's pure step; this file only carries them out. */
#include "idgen/sf_node.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_node {
    struct sf_gen *gen;
    char *key;
    uint64_t reserve_units;
    uint64_t mark; /* the mark in the store; valid when has_mark */
    bool has_mark;
    struct sf_node_stats st;
};

/* The mark is stored as decimal text, so a person can read it in the store. */
static int mark_read(struct env *e, const char *key, uint64_t *ts, bool *found)
{
    char buf[32];
    size_t len = 0;
    int rc = env_store_get(e, key, buf, sizeof(buf) - 1, &len);
    if (rc == -ENOENT) {
        *found = false;
        return 0;
    }
    if (rc < 0)
        return rc;
    if (len == 0 || len >= sizeof(buf))
        return -EIO;
    buf[len] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || *end || buf[0] < '0' || buf[0] > '9')
        return -EIO;
    *ts = v;
    *found = true;
    return 0;
}

static int mark_write(struct env *e, const char *key, uint64_t ts)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%" PRIu64, ts);
    return env_store_put(e, key, buf, (size_t)len);
}

struct sf_node *sf_node_open(struct env *e, const struct sf_node_config *c, int *rc_out, char *err,
                             size_t errlen)
{
    int rc = sf_config_check(&c->gen, env_now(e), err, errlen);
    if (rc == 0 && c->reserve_ns < 0) {
        snprintf(err, errlen, "reserve must not be negative");
        rc = -EINVAL;
    }
    if (rc < 0) {
        *rc_out = rc;
        return NULL;
    }
    struct sf_node *n = calloc(1, sizeof(*n));
    if (!n)
        goto err_nomem;
    n->gen = sf_gen_create(&c->gen, SF_SYNC_NONE);
    if (!n->gen)
        goto err_free;
    /* Round the reservation up to whole units: a mark covers units, not ns. */
    int64_t unit = c->gen.layout.unit_ns;
    n->reserve_units = (uint64_t)((c->reserve_ns + unit - 1) / unit);
    if (c->store_key) {
        n->key = strdup(c->store_key);
        if (!n->key)
            goto err_gen;
        rc = mark_read(e, n->key, &n->mark, &n->has_mark);
        if (rc == 0 && n->has_mark)
            rc = sf_gen_floor(n->gen, n->mark) < 0 ? -EIO : 0;
        if (rc < 0) {
            snprintf(err, errlen, "high-water mark '%s' unreadable or out of range", n->key);
            *rc_out = rc;
            free(n->key);
            sf_gen_destroy(n->gen);
            free(n);
            return NULL;
        }
        if (n->has_mark)
            n->st.floor_ts = n->mark;
    }
    return n;

err_gen:
    sf_gen_destroy(n->gen);
err_free:
    free(n);
err_nomem:
    snprintf(err, errlen, "out of memory");
    *rc_out = -ENOMEM;
    return NULL;
}

void sf_node_close(struct sf_node *n)
{
    if (!n)
        return;
    sf_gen_destroy(n->gen);
    free(n->key);
    free(n);
}

int sf_node_next(struct sf_node *n, struct env *e, uint64_t *id_out, int64_t *slept_ns)
{
    int64_t slept = 0;
    uint64_t id;
    int rc;
    for (;;) {
        int64_t now = env_now(e);
        struct sf_why why;
        rc = sf_next(n->gen, now, &id, &why);
        if (rc != -EAGAIN)
            break;
        /* retry_at > now for a generator only this actor uses: the sleep is never 0,
         * so virtual time always advances. */
        int64_t d = why.retry_at - now;
        int64_t m0 = env_mono(e);
        env_sleep(e, d > 0 ? d : 1);
        slept += env_mono(e) - m0;
        n->st.waits++;
    }
    n->st.slept_ns += slept;
    if (slept_ns)
        *slept_ns = slept;
    if (rc == -ERANGE)
        n->st.refused++;
    if (rc < 0)
        return rc;
    if (n->key) {
        struct sf_fields f;
        sf_decompose(&sf_gen_config(n->gen)->layout, id, &f);
        if (!n->has_mark || f.ts > n->mark) {
            uint64_t m = f.ts + n->reserve_units;
            uint64_t max = sf_layout_max_ts(&sf_gen_config(n->gen)->layout);
            if (m > max || m < f.ts)
                m = max;
            rc = mark_write(e, n->key, m);
            if (rc < 0)
                return rc;
            n->mark = m;
            n->has_mark = true;
            n->st.puts++;
        }
    }
    n->st.ids++;
    *id_out = id;
    return 0;
}

void sf_node_stats(const struct sf_node *n, struct sf_node_stats *out)
{
    *out = n->st;
}

const struct sf_gen *sf_node_gen(const struct sf_node *n)
{
    return n->gen;
}

/* snowflake.c - layouts, compose/decompose, and the three generators over one pure
 * decision function (step). Never reads a clock; never blocks except on the mutex. */
#include "idgen/snowflake.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include "names.h"

__extension__ typedef unsigned __int128 sf_u128;
__extension__ typedef __int128 sf_i128;

const struct sf_layout sf_layout_default = {
    .time_bits = 41,
    .dc_bits = 5,
    .worker_bits = 5,
    .seq_bits = 12,
    .unit_ns = 1000000,
    .epoch_ns = SF_TWITTER_EPOCH_NS,
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static uint64_t field_max(int bits)
{
    return bits <= 0 ? 0 : bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

uint64_t sf_layout_max_ts(const struct sf_layout *l)
{
    return field_max(l->time_bits);
}
uint64_t sf_layout_max_dc(const struct sf_layout *l)
{
    return field_max(l->dc_bits);
}
uint64_t sf_layout_max_worker(const struct sf_layout *l)
{
    return field_max(l->worker_bits);
}
uint64_t sf_layout_max_seq(const struct sf_layout *l)
{
    return field_max(l->seq_bits);
}

int sf_layout_parse_bits(const char *s, struct sf_layout *l)
{
    int v[4];
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v[i] = 0;
        for (int digits = 0; *s >= '0' && *s <= '9'; s++, digits++) {
            v[i] = v[i] * 10 + (*s - '0');
            if (v[i] > 63 || digits > 2) /* also "0000041" */
                return -EINVAL;
        }
        if (*s++ != (i < 3 ? '/' : 0))
            return -EINVAL;
    }
    l->time_bits = v[0];
    l->dc_bits = v[1];
    l->worker_bits = v[2];
    l->seq_bits = v[3];
    return 0;
}

int sf_layout_check(const struct sf_layout *l, int64_t now_ns, char *err, size_t errlen)
{
    if (l->time_bits > 63 || l->seq_bits > 63 || l->dc_bits > 63 || l->worker_bits > 63)
        return fail(err, errlen, "layout %d/%d/%d/%d: a field of more than 63 bits",
                    l->time_bits, l->dc_bits, l->worker_bits, l->seq_bits);
    if (l->time_bits < 1 || l->seq_bits < 1 || l->dc_bits < 0 || l->worker_bits < 0)
        return fail(err, errlen,
                    "layout %d/%d/%d/%d: time and sequence need at least 1 bit, "
                    "datacenter and worker at least 0",
                    l->time_bits, l->dc_bits, l->worker_bits, l->seq_bits);
    int sum = l->time_bits + l->dc_bits + l->worker_bits + l->seq_bits;
    if (sum != 63)
        return fail(err, errlen,
                    "layout %d/%d/%d/%d has %d bits; time + datacenter + worker + sequence "
                    "must be 63 (the sign bit stays 0)",
                    l->time_bits, l->dc_bits, l->worker_bits, l->seq_bits, sum);
    if (l->unit_ns <= 0)
        return fail(err, errlen, "time unit %lld ns: must be positive", (long long)l->unit_ns);
    if (l->epoch_ns > now_ns)
        return fail(err, errlen,
                    "the epoch (Unix %lld ns) is %.3f s in the future: no current time "
                    "could be encoded",
                    (long long)l->epoch_ns, (double)((sf_i128)l->epoch_ns - now_ns) * 1e-9);
    return 0;
}

int sf_layout_unit(const struct sf_layout *l, int64_t t_ns, uint64_t *ts)
{
    if (t_ns < l->epoch_ns)
        return -EOVERFLOW;
    sf_u128 u = (sf_u128)((sf_i128)t_ns - l->epoch_ns) / (uint64_t)l->unit_ns;
    if (u > sf_layout_max_ts(l))
        return -EOVERFLOW;
    *ts = (uint64_t)u;
    return 0;
}

int sf_compose(const struct sf_layout *l, uint64_t ts, uint64_t dc, uint64_t worker, uint64_t seq,
               uint64_t *id_out)
{
    if (ts > sf_layout_max_ts(l) || dc > sf_layout_max_dc(l) || worker > sf_layout_max_worker(l) ||
        seq > sf_layout_max_seq(l))
        return -ERANGE;
    int ws = l->seq_bits, ds = ws + l->worker_bits, ts_shift = ds + l->dc_bits;
    /* A 0-bit field holds only 0, so its shift never matters; guard shifts of 64. */
    uint64_t id = seq;
    if (l->worker_bits)
        id |= worker << ws;
    if (l->dc_bits)
        id |= dc << ds;
    id |= ts << ts_shift;
    *id_out = id;
    return 0;
}

int sf_decompose(const struct sf_layout *l, uint64_t id, struct sf_fields *out)
{
    if (id >> 63)
        return -ERANGE;
    int ws = l->seq_bits, ds = ws + l->worker_bits, ts_shift = ds + l->dc_bits;
    out->seq = id & sf_layout_max_seq(l);
    out->worker = l->worker_bits ? (id >> ws) & sf_layout_max_worker(l) : 0;
    out->dc = l->dc_bits ? (id >> ds) & sf_layout_max_dc(l) : 0;
    out->ts = id >> ts_shift;
    sf_i128 t = (sf_i128)l->epoch_ns + (sf_i128)out->ts * l->unit_ns;
    out->time_ns = t > INT64_MAX ? INT64_MAX : t < INT64_MIN ? INT64_MIN : (int64_t)t;
    return t > INT64_MAX || t < INT64_MIN ? -EOVERFLOW : 0;
}

/* ---- Configuration ---------------------------------------------------------------- */

int sf_config_check(const struct sf_config *c, int64_t now_ns, char *err, size_t errlen)
{
    int rc = sf_layout_check(&c->layout, now_ns, err, errlen);
    if (rc < 0)
        return rc;
    if (c->dc > sf_layout_max_dc(&c->layout))
        return fail(err, errlen, "datacenter id %llu does not fit %d bits (at most %llu)",
                    (unsigned long long)c->dc, c->layout.dc_bits,
                    (unsigned long long)sf_layout_max_dc(&c->layout));
    if (c->worker > sf_layout_max_worker(&c->layout))
        return fail(err, errlen, "worker id %llu does not fit %d bits (at most %llu)",
                    (unsigned long long)c->worker, c->layout.worker_bits,
                    (unsigned long long)sf_layout_max_worker(&c->layout));
    if ((unsigned)c->policy > SF_BORROW)
        return fail(err, errlen, "unknown clock policy %d", (int)c->policy);
    if ((unsigned)c->on_full > SF_FULL_BORROW)
        return fail(err, errlen, "unknown exhaustion policy %d", (int)c->on_full);
    if (c->wait_max_ns < 0 || c->borrow_max_ns < 0)
        return fail(err, errlen, "wait_max and borrow_max must not be negative");
    return 0;
}

/* ---- The generator ---------------------------------------------------------------- */

/* State word: ((unit + 1) << seq_bits) | seq of the last ID. A fresh generator holds
 * (0 << seq_bits) | seq_max: "unit -1, used up", so any unit >= 0 starts at seq 0.
 * (unit + 1) < 2^time_bits + 1 and time_bits + seq_bits <= 63, so it fits. */
struct sf_gen {
    _Alignas(64) _Atomic uint64_t state;
    char pad_state[64 - sizeof(uint64_t)];
    /* Read-only after create: on its own cache lines, shared by every thread. */
    _Alignas(64) int64_t epoch, unit;
    uint64_t magic; /* floor(n / unit) == (n * magic) >> mshift for n < 2^63 */
    int mshift;
    int seq_bits;
    uint64_t seq_max;
    uint64_t ts_lim; /* last usable unit: the field's max, or where int64 ns ends */
    int ts_shift;
    uint64_t node_bits; /* dc and worker, in place */
    int64_t wait_max, borrow_max;
    enum sf_policy policy;
    enum sf_full on_full;
    enum sf_sync sync;
    struct sf_config cfg;
    mtx_t mu;
};

/* Division by the invariant unit as a multiply and a shift (Granlund & Montgomery
 * 1994, thm 4.2): with l = ceil(log2 d), s = 63 + l and m = ceil(2^s / d), m < 2^64 and
 * m*d - 2^s < d <= 2^(s-63), so floor(n*m / 2^s) == floor(n / d) for every n < 2^63.
 * A 64-bit div costs tens of cycles; this costs about four. */
static void magic_for(uint64_t d, uint64_t *m, int *s)
{
    int l = 0;
    while (l < 63 && (UINT64_C(1) << l) < d)
        l++;
    *s = 63 + l;
    *m = (uint64_t)((((sf_u128)1 << *s) + d - 1) / d);
}

static inline uint64_t udiv(const struct sf_gen *g, uint64_t n)
{
    return (uint64_t)(((sf_u128)n * g->magic) >> g->mshift);
}

struct sf_gen *sf_gen_create(const struct sf_config *c, enum sf_sync sync)
{
    if (sf_config_check(c, INT64_MAX, NULL, 0) < 0 || (unsigned)sync > SF_SYNC_MUTEX)
        return NULL;
    struct sf_gen *g = aligned_alloc(64, sizeof(*g));
    if (!g)
        return NULL;
    memset(g, 0, sizeof(*g));
    const struct sf_layout *l = &c->layout;
    g->cfg = *c;
    g->epoch = l->epoch_ns;
    g->unit = l->unit_ns;
    magic_for((uint64_t)l->unit_ns, &g->magic, &g->mshift);
    g->seq_bits = l->seq_bits;
    g->seq_max = sf_layout_max_seq(l);
    /* Units whose start (and the start of the unit after, for retry times) fits int64. */
    sf_i128 lim = ((sf_i128)INT64_MAX - l->epoch_ns) / l->unit_ns - 2;
    sf_i128 lim2 = (sf_i128)INT64_MAX / l->unit_ns - 2;
    if (lim2 < lim)
        lim = lim2;
    g->ts_lim = sf_layout_max_ts(l);
    if (lim < (sf_i128)g->ts_lim)
        g->ts_lim = lim < 0 ? 0 : (uint64_t)lim;
    g->ts_shift = l->seq_bits + l->worker_bits + l->dc_bits;
    uint64_t id0 = 0;
    sf_compose(l, 0, c->dc, c->worker, 0, &id0);
    g->node_bits = id0;
    g->wait_max = c->wait_max_ns;
    g->borrow_max = c->borrow_max_ns;
    g->policy = c->policy;
    g->on_full = c->on_full;
    g->sync = sync;
    atomic_init(&g->state, g->seq_max);
    if (sync == SF_SYNC_MUTEX && mtx_init(&g->mu, mtx_plain) != thrd_success) {
        free(g);
        return NULL;
    }
    return g;
}

void sf_gen_destroy(struct sf_gen *g)
{
    if (!g)
        return;
    if (g->sync == SF_SYNC_MUTEX)
        mtx_destroy(&g->mu);
    free(g);
}

const struct sf_config *sf_gen_config(const struct sf_gen *g)
{
    return &g->cfg;
}

static inline int64_t unit_start(const struct sf_gen *g, int64_t ts)
{
    return g->epoch + ts * g->unit; /* ts <= ts_lim + 1: fits, see create */
}

/* How far ahead of the clock the generator may run on loans: borrow absorbs a clock up
 * to borrow_max behind its last ID, and so does every policy with on_full = borrow,
 * since its own loans put it up to that far ahead already. */
static inline int64_t loan(const struct sf_gen *g)
{
    return g->policy == SF_BORROW || g->on_full == SF_FULL_BORROW ? g->borrow_max : 0;
}

/* How far ahead of the clock the unit after a used-up one may start: while the clock is
 * behind the used-up unit by 'behind' (hold, beyond its loans: no limit; else the loan),
 * and while it is in it. */
static inline int64_t behind_bound(const struct sf_gen *g, int64_t behind)
{
    return g->policy == SF_HOLD && behind > loan(g) ? INT64_MAX : loan(g);
}
static inline int64_t full_bound(const struct sf_gen *g)
{
    return g->on_full == SF_FULL_BORROW ? g->borrow_max : 0;
}

/* Unit 'last' is used up and at clock time 'now' the next one cannot be taken: the
 * first later clock time at which it can. While behind 'last', that is when the next
 * unit's lead falls to the loan, if that comes before the clock reaches 'last' (a loan
 * over one unit); else, in 'last', when its lead falls to full_bound. (Hold waits only
 * within its loans.) */
static inline int64_t next_unit_at(const struct sf_gen *g, int64_t last, int64_t now)
{
    int64_t start = unit_start(g, last), next = unit_start(g, last + 1), bb = loan(g);
    if (bb > g->unit && next - bb > now)
        return next - bb;
    int64_t t = next - full_bound(g);
    return t > start ? t : start;
}

/* The whole algorithm: from state s and clock reading now, the next state and ID, or
 * why not. Pure: the same (s, now) always gives the same answer, so the plain, CAS and
 * mutex generators differ only in how they publish the new state. */
static inline int step(const struct sf_gen *g, uint64_t s, int64_t now, uint64_t *s_out,
                       uint64_t *id_out, struct sf_why *why)
{
    int64_t rel;
    if (__builtin_sub_overflow(now, g->epoch, &rel) || rel < 0)
        return -EOVERFLOW;
    uint64_t t = udiv(g, (uint64_t)rel);
    if (t > g->ts_lim)
        return -EOVERFLOW;
    int64_t last = (int64_t)(s >> g->seq_bits) - 1;
    uint64_t seq = s & g->seq_max;
    int64_t ts, behind = 0, bound, wait_to;

    if ((int64_t)t > last) { /* a new unit: the common case */
        ts = (int64_t)t;
        seq = 0;
        goto issue;
    }
    if ((int64_t)t < last) { /* the clock is behind the last ID */
        behind = unit_start(g, last) - now;
        int64_t over = behind - loan(g); /* beyond what loans may account for */
        if (g->policy != SF_HOLD && over > 0) {
            switch (g->policy) {
            case SF_NONE:
                ts = (int64_t)t;
                seq = 0;
                goto issue;
            case SF_REFUSE:
                goto refuse;
            default: /* wait, borrow: until the lead is down to the loan */
                if (over > g->wait_max)
                    goto refuse;
                wait_to = seq < g->seq_max ? now + over : next_unit_at(g, last, now);
                goto wait;
            }
        }
    }
    /* Go on in unit 'last' (the clock is in it, or behind it under hold or a loan). */
    if (seq < g->seq_max) {
        ts = last;
        seq++;
        goto issue;
    }
    /* Unit 'last' is used up: take the next one if its lead is within the bound. */
    bound = (int64_t)t < last ? behind_bound(g, behind) : full_bound(g);
    if ((uint64_t)last + 1 > g->ts_lim)
        return -EOVERFLOW;
    if (unit_start(g, last + 1) - now <= bound) { /* the lead, > 0: now is in unit <= last */
        ts = last + 1;
        seq = 0;
        goto issue;
    }
    wait_to = next_unit_at(g, last, now);
wait:
    if (why) {
        why->retry_at = wait_to;
        why->behind_ns = behind;
    }
    return -EAGAIN;

refuse:
    if (why) {
        why->retry_at = 0;
        why->behind_ns = behind;
    }
    return -ERANGE;

issue:
    *s_out = ((uint64_t)(ts + 1) << g->seq_bits) | seq;
    *id_out = ((uint64_t)ts << g->ts_shift) | g->node_bits | seq;
    return 0;
}

int sf_next(struct sf_gen *g, int64_t now, uint64_t *id_out, struct sf_why *why)
{
    uint64_t s, n, id;
    int rc;
    switch (g->sync) {
    case SF_SYNC_NONE:
        s = atomic_load_explicit(&g->state, memory_order_relaxed);
        rc = step(g, s, now, &n, &id, why);
        if (rc == 0)
            atomic_store_explicit(&g->state, n, memory_order_relaxed);
        break;
    case SF_SYNC_CAS:
        /* Relaxed suffices: uniqueness needs only the single total order of this one
         * word's modifications, in which every successful CAS moves the state up. */
        s = atomic_load_explicit(&g->state, memory_order_relaxed);
        do {
            rc = step(g, s, now, &n, &id, why);
            if (rc < 0)
                break;
        } while (!atomic_compare_exchange_weak_explicit(&g->state, &s, n, memory_order_relaxed,
                                                        memory_order_relaxed));
        break;
    default:
        mtx_lock(&g->mu);
        s = atomic_load_explicit(&g->state, memory_order_relaxed);
        rc = step(g, s, now, &n, &id, why);
        if (rc == 0)
            atomic_store_explicit(&g->state, n, memory_order_relaxed);
        mtx_unlock(&g->mu);
        break;
    }
    if (rc == 0)
        *id_out = id;
    return rc;
}

int sf_gen_floor(struct sf_gen *g, uint64_t ts)
{
    if (ts > g->ts_lim)
        return -EOVERFLOW;
    uint64_t want = ((ts + 1) << g->seq_bits) | g->seq_max;
    uint64_t s = atomic_load(&g->state);
    while (s < want && !atomic_compare_exchange_weak(&g->state, &s, want))
        ;
    return 0;
}

bool sf_gen_last(const struct sf_gen *g, uint64_t *ts, uint64_t *seq)
{
    uint64_t s = atomic_load_explicit(&((struct sf_gen *)g)->state, memory_order_relaxed);
    if ((s >> g->seq_bits) == 0)
        return false;
    *ts = (s >> g->seq_bits) - 1;
    *seq = s & g->seq_max;
    return true;
}

bool sf_gen_check(const struct sf_gen *g)
{
    if (sf_config_check(&g->cfg, INT64_MAX, NULL, 0) < 0)
        return false;
    uint64_t s = atomic_load(&((struct sf_gen *)g)->state);
    uint64_t u = s >> g->seq_bits;
    if (u > g->ts_lim + 1)
        return false;
    /* The precomputed fields agree with the config. */
    uint64_t id0;
    if (sf_compose(&g->cfg.layout, 0, g->cfg.dc, g->cfg.worker, 0, &id0) < 0 || id0 != g->node_bits)
        return false;
    return g->ts_lim <= sf_layout_max_ts(&g->cfg.layout) && udiv(g, (uint64_t)g->unit) == 1 &&
           udiv(g, (uint64_t)g->unit - 1) == 0;
}

/* ---- Names -------------------------------------------------------------------------- */

const char *const sf_policy_names[] = {SF_POLICY_NAMES, NULL};
const char *const sf_full_names[] = {SF_FULL_NAMES, NULL};
const char *const sf_sync_names[] = {SF_SYNC_NAMES, NULL};

const char *sf_policy_name(enum sf_policy p)
{
    return names_name(sf_policy_names, (int)p);
}

int sf_policy_parse(const char *s, enum sf_policy *out)
{
    int i = names_value(sf_policy_names, s);
    if (i >= 0)
        *out = (enum sf_policy)i;
    return i < 0 ? i : 0;
}

const char *sf_full_name(enum sf_full f)
{
    return names_name(sf_full_names, (int)f);
}

int sf_full_parse(const char *s, enum sf_full *out)
{
    int i = names_value(sf_full_names, s);
    if (i >= 0)
        *out = (enum sf_full)i;
    return i < 0 ? i : 0;
}

const char *sf_sync_name(enum sf_sync s)
{
    return names_name(sf_sync_names, (int)s);
}

/* etcd_store.c - the simulated etcd's replicated state machine: the MVCC key space with its
 * revisions and change history, the lease table, and the encoding of requests. Pure data:
 * no actor, no clock (the caller passes the leader's monotonic time), no message. Every
 * member applies the same committed entries in the same order and reaches the same state,
 * which sim_etcd__store_equal lets the checker verify. Costs: the key space is a sorted
 * array (O(n) insert, O(log n) lookup), fine for the hundreds of keys a lock uses. */
#include "sim/etcd_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Encoding ------------------------------------------------------------------------ */

struct wbuf {
    uint8_t *p;
    size_t n;
};

static void put_bytes(struct wbuf *w, const void *v, size_t len)
{
    memcpy(w->p + w->n, v, len);
    w->n += len;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void put_i64(struct wbuf *w, int64_t v)
{
    put_bytes(w, &v, sizeof(v));
}

static void put_str(struct wbuf *w, const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    put_u8(w, (uint8_t)len);
    put_bytes(w, s, len);
}

struct rbuf {
    const uint8_t *p;
    size_t n, off;
    bool bad;
};

static void get_bytes(struct rbuf *r, void *v, size_t len)
{
    if (r->bad || r->off + len > r->n) {
        r->bad = true;
        memset(v, 0, len);
        return;
    }
    memcpy(v, r->p + r->off, len);
    r->off += len;
}

static uint8_t get_u8(struct rbuf *r)
{
    uint8_t v;
    get_bytes(r, &v, 1);
    return v;
}

static int64_t get_i64(struct rbuf *r)
{
    int64_t v;
    get_bytes(r, &v, sizeof(v));
    return v;
}

static void get_str(struct rbuf *r, char *s, size_t max)
{
    size_t len = get_u8(r);
    if (len > max) {
        r->bad = true;
        len = 0;
    }
    get_bytes(r, s, len);
    s[len] = 0;
}

size_t sim_etcd__req_encode(const struct sim_etcd__req *q, uint8_t *buf)
{
    struct wbuf w = {buf, 0};
    put_u8(&w, q->op);
    put_i64(&w, q->arg);
    put_i64(&w, q->lease);
    put_u8(&w, q->ncmp);
    put_u8(&w, q->nthen);
    put_u8(&w, q->nelse);
    for (int i = 0; i < q->ncmp && i < ETCD_TXN_MAX_CMPS; i++) {
        const struct sim_etcd__cmp *c = &q->cmp[i];
        put_u8(&w, c->target);
        put_u8(&w, c->result);
        put_i64(&w, c->num);
        put_str(&w, c->key, ETCD_KEY_MAX);
        put_str(&w, c->val, ETCD_VAL_MAX);
    }
    for (int i = 0; i < q->nthen + q->nelse && i < SIM_ETCD__NOPS; i++) {
        const struct sim_etcd__wop *o = &q->ops[i];
        put_u8(&w, o->kind);
        put_u8(&w, o->prefix);
        put_u8(&w, o->sort_target);
        put_u8(&w, o->sort_order);
        put_i64(&w, o->lease);
        put_i64(&w, o->limit);
        put_i64(&w, o->max_create_rev);
        put_bytes(&w, &o->cap, sizeof(o->cap));
        put_str(&w, o->key, ETCD_KEY_MAX);
        put_str(&w, o->val, ETCD_VAL_MAX);
    }
    return w.n;
}

ssize_t sim_etcd__req_decode(struct sim_etcd__req *q, const uint8_t *buf, size_t len)
{
    struct rbuf r = {buf, len, 0, false};
    q->op = get_u8(&r);
    q->arg = get_i64(&r);
    q->lease = get_i64(&r);
    q->ncmp = get_u8(&r);
    q->nthen = get_u8(&r);
    q->nelse = get_u8(&r);
    if (q->ncmp > ETCD_TXN_MAX_CMPS || q->nthen > ETCD_TXN_MAX_OPS || q->nelse > ETCD_TXN_MAX_OPS)
        return -EPROTO;
    for (int i = 0; i < q->ncmp; i++) {
        struct sim_etcd__cmp *c = &q->cmp[i];
        c->target = get_u8(&r);
        c->result = get_u8(&r);
        c->num = get_i64(&r);
        get_str(&r, c->key, ETCD_KEY_MAX);
        get_str(&r, c->val, ETCD_VAL_MAX);
    }
    for (int i = 0; i < q->nthen + q->nelse; i++) {
        struct sim_etcd__wop *o = &q->ops[i];
        o->kind = get_u8(&r);
        o->prefix = get_u8(&r);
        o->sort_target = get_u8(&r);
        o->sort_order = get_u8(&r);
        o->lease = get_i64(&r);
        o->limit = get_i64(&r);
        o->max_create_rev = get_i64(&r);
        get_bytes(&r, &o->cap, sizeof(o->cap));
        get_str(&r, o->key, ETCD_KEY_MAX);
        get_str(&r, o->val, ETCD_VAL_MAX);
        if (o->kind < ETCD_OP_RANGE || o->kind > ETCD_OP_DELETE)
            r.bad = true;
    }
    return r.bad ? -EPROTO : (ssize_t)r.off;
}

bool sim_etcd__req_readonly(const struct sim_etcd__req *q)
{
    if (q->op != SIM_ETCD__TXN)
        return false;
    for (int i = 0; i < q->nthen + q->nelse; i++)
        if (q->ops[i].kind != ETCD_OP_RANGE)
            return false;
    return true;
}

/* ---- The store ------------------------------------------------------------------------ */

void sim_etcd__store_init(struct sim_etcd__store *s)
{
    memset(s, 0, sizeof(*s));
    s->rev = 1; /* etcd starts at revision 1 with an empty key space */
}

void sim_etcd__store_free(struct sim_etcd__store *s)
{
    free(s->kv);
    free(s->hist);
    free(s->lease);
    sim_etcd__store_init(s);
}

static void *dup_array(const void *src, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memcpy(p, src, n * size);
    return p;
}

int sim_etcd__grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

/* Index of key, or of where it would go (*found false). */
static size_t kv_pos(const struct sim_etcd__store *s, const char *key, bool *found)
{
    size_t lo = 0, hi = s->nkv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->kv[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct etcd_kv *sim_etcd__kv_find(const struct sim_etcd__store *s, const char *key)
{
    bool found;
    size_t i = kv_pos(s, key, &found);
    return found ? &s->kv[i] : NULL;
}

static size_t lease_pos(const struct sim_etcd__store *s, int64_t id, bool *found)
{
    size_t lo = 0, hi = s->nlease;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->lease[mid].id == id) {
            *found = true;
            return mid;
        }
        if (s->lease[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

struct sim_etcd__lease *sim_etcd__lease_find(const struct sim_etcd__store *s, int64_t id)
{
    bool found;
    size_t i = lease_pos(s, id, &found);
    return found ? &s->lease[i] : NULL;
}

bool sim_etcd__watch_match(const char *wkey, bool prefix, const char *key)
{
    return prefix ? strncmp(key, wkey, strlen(wkey)) == 0 : strcmp(key, wkey) == 0;
}

static int hist_add(struct sim_etcd__store *s, uint8_t type, const struct etcd_kv *kv)
{
    if (sim_etcd__grow((void **)&s->hist, &s->caphist, s->nhist + 1, sizeof(*s->hist)) < 0)
        return -ENOMEM;
    s->hist[s->nhist].type = type;
    s->hist[s->nhist].kv = *kv;
    s->nhist++;
    return 0;
}

void sim_etcd__res_reset(struct sim_etcd__res *r)
{
    r->status = 0;
    r->succeeded = false;
    r->rev = r->arg = r->arg2 = 0;
    r->nops = 0;
    memset(r->op, 0, sizeof(r->op));
    r->nkv = 0;
}

/* ---- Ranges --------------------------------------------------------------------------- */

static int64_t sort_field(const struct etcd_kv *kv, uint8_t target)
{
    switch (target) {
    case ETCD_SORT_CREATE:
        return kv->create_rev;
    case ETCD_SORT_MOD:
        return kv->mod_rev;
    case ETCD_SORT_VERSION:
        return kv->version;
    default:
        return 0;
    }
}

/* etcd's order: by the target (ascending when a target is named without an order), ties by
 * key; descending reverses both. */
static int by_sort(const void *a, const void *b, void *ctx)
{
    const struct sim_etcd__wop *o = ctx;
    const struct etcd_kv *x = a, *y = b;
    int c = 0;
    if (o->sort_target != ETCD_SORT_KEY) {
        int64_t fx = sort_field(x, o->sort_target), fy = sort_field(y, o->sort_target);
        c = (fx > fy) - (fx < fy);
    }
    if (c == 0)
        c = strcmp(x->key, y->key);
    return o->sort_order == ETCD_SORT_DESCEND ? -c : c;
}

/* Append the op's matches to res->kvs and fill res->op[slot]. 0 or -ENOMEM. */
static int do_range(const struct sim_etcd__store *s, const struct sim_etcd__wop *o,
                    struct sim_etcd__res *res, int slot)
{
    size_t first = res->nkv;
    bool found;
    for (size_t i = kv_pos(s, o->key, &found); i < s->nkv; i++) {
        const struct etcd_kv *kv = &s->kv[i];
        if (!sim_etcd__watch_match(o->key, o->prefix, kv->key))
            break; /* sorted: past the prefix (or the one key) */
        if (o->max_create_rev > 0 && kv->create_rev > o->max_create_rev)
            continue;
        if (sim_etcd__grow((void **)&res->kvs, &res->capkv, res->nkv + 1, sizeof(*res->kvs)) < 0)
            return -ENOMEM;
        res->kvs[res->nkv++] = *kv;
    }
    size_t matched = res->nkv - first;
    if (matched > 1 && (o->sort_order != ETCD_SORT_NONE || o->sort_target != ETCD_SORT_KEY))
        qsort_r(res->kvs + first, matched, sizeof(*res->kvs), by_sort, (void *)o);
    size_t keep = matched;
    if (o->limit > 0 && (uint64_t)o->limit < keep)
        keep = (size_t)o->limit;
    if (o->cap < keep)
        keep = o->cap;
    res->nkv = first + keep;
    res->op[slot].n = (uint32_t)keep;
    res->op[slot].count = (int64_t)matched;
    return 0;
}

static bool cmp_int(int64_t have, uint8_t result, int64_t want)
{
    switch (result) {
    case ETCD_CMP_EQ:
        return have == want;
    case ETCD_CMP_NE:
        return have != want;
    case ETCD_CMP_LT:
        return have < want;
    case ETCD_CMP_GT:
        return have > want;
    default:
        return false;
    }
}

/* Every compare of q against the current state (a missing key: 0 for the numbers, and
 * every VALUE compare false, as etcd does). */
static bool compares_hold(const struct sim_etcd__store *s, const struct sim_etcd__req *q)
{
    for (int i = 0; i < q->ncmp; i++) {
        const struct sim_etcd__cmp *c = &q->cmp[i];
        const struct etcd_kv *kv = sim_etcd__kv_find(s, c->key);
        bool ok;
        switch (c->target) {
        case ETCD_CMP_VERSION:
            ok = cmp_int(kv ? kv->version : 0, c->result, c->num);
            break;
        case ETCD_CMP_CREATE:
            ok = cmp_int(kv ? kv->create_rev : 0, c->result, c->num);
            break;
        case ETCD_CMP_MOD:
            ok = cmp_int(kv ? kv->mod_rev : 0, c->result, c->num);
            break;
        case ETCD_CMP_VALUE: {
            int d = kv ? strcmp(kv->val, c->val) : 0;
            ok = kv && cmp_int(d, c->result, 0);
            break;
        }
        default:
            ok = false;
        }
        if (!ok)
            return false;
    }
    return true;
}

int sim_etcd__store_read(const struct sim_etcd__store *s, const struct sim_etcd__req *q,
                         struct sim_etcd__res *res)
{
    sim_etcd__res_reset(res);
    res->succeeded = compares_hold(s, q);
    int first = res->succeeded ? 0 : q->nthen;
    int n = res->succeeded ? q->nthen : q->nelse;
    res->nops = (uint8_t)n;
    for (int i = 0; i < n; i++)
        if (do_range(s, &q->ops[first + i], res, i) < 0)
            return -ENOMEM;
    res->rev = s->rev;
    return 0;
}

/* ---- Writes --------------------------------------------------------------------------- */

static int do_put(struct sim_etcd__store *s, const struct sim_etcd__wop *o, int64_t rev)
{
    bool found;
    size_t i = kv_pos(s, o->key, &found);
    if (!found) {
        if (sim_etcd__grow((void **)&s->kv, &s->capkv, s->nkv + 1, sizeof(*s->kv)) < 0)
            return -ENOMEM;
        memmove(&s->kv[i + 1], &s->kv[i], (s->nkv - i) * sizeof(*s->kv));
        s->nkv++;
        memset(&s->kv[i], 0, sizeof(s->kv[i]));
        snprintf(s->kv[i].key, sizeof(s->kv[i].key), "%s", o->key);
        s->kv[i].create_rev = rev;
    }
    struct etcd_kv *kv = &s->kv[i];
    snprintf(kv->val, sizeof(kv->val), "%s", o->val);
    kv->mod_rev = rev;
    kv->version++;
    kv->lease = o->lease; /* a put without a lease detaches the key, as in etcd */
    return hist_add(s, ETCD_EV_PUT, kv);
}

/* Delete the key at i, recording the event at rev. */
static int delete_at(struct sim_etcd__store *s, size_t i, int64_t rev)
{
    struct etcd_kv ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.key, sizeof(ev.key), "%s", s->kv[i].key);
    ev.mod_rev = rev;
    if (hist_add(s, ETCD_EV_DELETE, &ev) < 0)
        return -ENOMEM;
    memmove(&s->kv[i], &s->kv[i + 1], (s->nkv - i - 1) * sizeof(*s->kv));
    s->nkv--;
    return 0;
}

static int do_delete(struct sim_etcd__store *s, const struct sim_etcd__wop *o, int64_t rev,
                     int64_t *deleted)
{
    bool found;
    size_t i = kv_pos(s, o->key, &found);
    *deleted = 0;
    while (i < s->nkv && sim_etcd__watch_match(o->key, o->prefix, s->kv[i].key)) {
        if (delete_at(s, i, rev) < 0)
            return -ENOMEM;
        (*deleted)++;
    }
    return 0;
}

static int apply_txn(struct sim_etcd__store *s, const struct sim_etcd__req *q,
                     struct sim_etcd__res *res)
{
    res->succeeded = compares_hold(s, q);
    int first = res->succeeded ? 0 : q->nthen;
    int n = res->succeeded ? q->nthen : q->nelse;
    for (int i = 0; i < n; i++) {
        const struct sim_etcd__wop *o = &q->ops[first + i];
        if (o->kind == ETCD_OP_PUT && o->lease != 0 && !sim_etcd__lease_find(s, o->lease)) {
            res->status = -ENOENT; /* etcd checks every put's lease before it writes */
            res->rev = s->rev;
            return 0;
        }
    }
    res->nops = (uint8_t)n;
    int64_t rev = s->rev + 1;
    bool changed = false;
    for (int i = 0; i < n; i++) {
        const struct sim_etcd__wop *o = &q->ops[first + i];
        int rc = 0;
        if (o->kind == ETCD_OP_RANGE) {
            rc = do_range(s, o, res, i);
        } else if (o->kind == ETCD_OP_PUT) {
            rc = do_put(s, o, rev);
            changed = true;
        } else {
            rc = do_delete(s, o, rev, &res->op[i].deleted);
            changed |= res->op[i].deleted > 0;
        }
        if (rc < 0)
            return rc;
    }
    if (changed)
        s->rev = rev;
    res->rev = s->rev;
    return 0;
}

/* Remove lease id and every key attached to it (one revision if there were any). */
static int revoke(struct sim_etcd__store *s, int64_t id, struct sim_etcd__res *res)
{
    bool found;
    size_t li = lease_pos(s, id, &found);
    if (!found) {
        res->status = -ENOENT;
        return 0;
    }
    int64_t rev = s->rev + 1;
    bool changed = false;
    for (size_t i = 0; i < s->nkv;) {
        if (s->kv[i].lease == id) {
            if (delete_at(s, i, rev) < 0)
                return -ENOMEM;
            changed = true;
        } else {
            i++;
        }
    }
    if (changed)
        s->rev = rev;
    memmove(&s->lease[li], &s->lease[li + 1], (s->nlease - li - 1) * sizeof(*s->lease));
    s->nlease--;
    return 0;
}

int sim_etcd__store_apply(struct sim_etcd__store *s, const struct sim_etcd__req *q,
                          int64_t min_ttl_s, bool leader, int64_t now_mono,
                          struct sim_etcd__res *res)
{
    sim_etcd__res_reset(res);
    int rc = 0;
    switch (q->op) {
    case SIM_ETCD__TXN:
        rc = apply_txn(s, q, res);
        break;
    case SIM_ETCD__GRANT: {
        bool found;
        size_t i = lease_pos(s, q->lease, &found);
        if (found || q->lease <= 0) {
            res->status = -EEXIST;
            break;
        }
        if (sim_etcd__grow((void **)&s->lease, &s->caplease, s->nlease + 1, sizeof(*s->lease)) < 0)
            return -ENOMEM;
        memmove(&s->lease[i + 1], &s->lease[i], (s->nlease - i) * sizeof(*s->lease));
        s->nlease++;
        int64_t ttl = q->arg < min_ttl_s ? min_ttl_s : q->arg;
        s->lease[i] = (struct sim_etcd__lease){.id = q->lease,
                                               .ttl_s = ttl,
                                               .expiry_mono = leader ? now_mono + ttl * 1000000000LL
                                                                     : INT64_MAX,
                                               .revoke_sent_mono = -1};
        res->arg = q->lease;
        res->arg2 = ttl;
        break;
    }
    case SIM_ETCD__REVOKE:
    case SIM_ETCD__EXPIRE:
        rc = revoke(s, q->lease, res);
        break;
    case SIM_ETCD__COMPACT: {
        if (q->arg <= s->compact_rev || q->arg > s->rev) {
            res->status = -EINVAL; /* compacted already, or a future revision */
            break;
        }
        size_t drop = 0;
        while (drop < s->nhist && s->hist[drop].kv.mod_rev <= q->arg)
            drop++;
        if (drop)
            memmove(s->hist, s->hist + drop, (s->nhist - drop) * sizeof(*s->hist));
        s->nhist -= drop;
        s->compact_rev = q->arg;
        break;
    }
    default:
        res->status = -EPROTO;
    }
    res->rev = s->rev;
    return rc;
}

/* ---- Snapshots ------------------------------------------------------------------------ */

struct save_hdr {
    uint32_t magic;
    int64_t rev, compact_rev;
    uint64_t nkv, nhist, nlease;
};

uint8_t *sim_etcd__store_save(const struct sim_etcd__store *s, size_t *len)
{
    struct save_hdr h = {SIM_ETCD__MAGIC, s->rev, s->compact_rev, s->nkv, s->nhist, s->nlease};
    size_t n = sizeof(h) + s->nkv * sizeof(*s->kv) + s->nhist * sizeof(*s->hist) +
               s->nlease * sizeof(*s->lease);
    uint8_t *buf = malloc(n);
    if (!buf)
        return NULL;
    struct wbuf w = {buf, 0};
    put_bytes(&w, &h, sizeof(h));
    if (s->nkv)
        put_bytes(&w, s->kv, s->nkv * sizeof(*s->kv));
    if (s->nhist)
        put_bytes(&w, s->hist, s->nhist * sizeof(*s->hist));
    if (s->nlease)
        put_bytes(&w, s->lease, s->nlease * sizeof(*s->lease));
    *len = n;
    return buf;
}

int sim_etcd__store_load(struct sim_etcd__store *s, const uint8_t *buf, size_t len)
{
    struct save_hdr h;
    if (len < sizeof(h))
        return -EPROTO;
    memcpy(&h, buf, sizeof(h));
    if (h.magic != SIM_ETCD__MAGIC || h.nkv > len || h.nhist > len || h.nlease > len ||
        len != sizeof(h) + h.nkv * sizeof(*s->kv) + h.nhist * sizeof(*s->hist) +
                   h.nlease * sizeof(*s->lease))
        return -EPROTO;
    struct sim_etcd__store t = {.rev = h.rev,
                                .compact_rev = h.compact_rev,
                                .nkv = h.nkv,
                                .nhist = h.nhist,
                                .nlease = h.nlease};
    const uint8_t *p = buf + sizeof(h);
    t.kv = dup_array(p, t.nkv, sizeof(*t.kv));
    p += t.nkv * sizeof(*t.kv);
    t.hist = dup_array(p, t.nhist, sizeof(*t.hist));
    p += t.nhist * sizeof(*t.hist);
    t.lease = dup_array(p, t.nlease, sizeof(*t.lease));
    if ((t.nkv && !t.kv) || (t.nhist && !t.hist) || (t.nlease && !t.lease)) {
        free(t.kv);
        free(t.hist);
        free(t.lease);
        return -ENOMEM;
    }
    t.capkv = t.nkv;
    t.caphist = t.nhist;
    t.caplease = t.nlease;
    sim_etcd__store_free(s);
    *s = t;
    return 0;
}

/* ---- Invariants ------------------------------------------------------------------------ */

static bool kv_sane(const struct etcd_kv *kv)
{
    return memchr(kv->key, 0, sizeof(kv->key)) && memchr(kv->val, 0, sizeof(kv->val));
}

bool sim_etcd__store_check(const struct sim_etcd__store *s)
{
    if (s->rev < 1 || s->compact_rev < 0 || s->compact_rev > s->rev)
        return false;
    for (size_t i = 0; i < s->nkv; i++) {
        const struct etcd_kv *kv = &s->kv[i];
        if (!kv_sane(kv) || !kv->key[0] || (i > 0 && strcmp(s->kv[i - 1].key, kv->key) >= 0))
            return false;
        if (kv->create_rev < 1 || kv->create_rev > kv->mod_rev || kv->mod_rev > s->rev ||
            kv->version < 1 || kv->version > kv->mod_rev - kv->create_rev + 1)
            return false;
        if (kv->lease != 0 && !sim_etcd__lease_find(s, kv->lease))
            return false;
    }
    for (size_t i = 0; i < s->nhist; i++) {
        const struct sim_etcd__hev *h = &s->hist[i];
        if (!kv_sane(&h->kv) || h->kv.mod_rev <= s->compact_rev || h->kv.mod_rev > s->rev ||
            (i > 0 && h->kv.mod_rev < s->hist[i - 1].kv.mod_rev) ||
            (h->type != ETCD_EV_PUT && h->type != ETCD_EV_DELETE))
            return false;
    }
    for (size_t i = 0; i < s->nlease; i++)
        if (s->lease[i].id <= 0 || s->lease[i].ttl_s < 1 ||
            (i > 0 && s->lease[i - 1].id >= s->lease[i].id))
            return false;
    return true;
}

static bool kv_equal(const struct etcd_kv *a, const struct etcd_kv *b)
{
    return !strcmp(a->key, b->key) && !strcmp(a->val, b->val) && a->create_rev == b->create_rev &&
           a->mod_rev == b->mod_rev && a->version == b->version && a->lease == b->lease;
}

bool sim_etcd__store_equal(const struct sim_etcd__store *a, const struct sim_etcd__store *b)
{
    if (a->rev != b->rev || a->compact_rev != b->compact_rev || a->nkv != b->nkv ||
        a->nhist != b->nhist || a->nlease != b->nlease)
        return false;
    for (size_t i = 0; i < a->nkv; i++)
        if (!kv_equal(&a->kv[i], &b->kv[i]))
            return false;
    for (size_t i = 0; i < a->nhist; i++)
        if (a->hist[i].type != b->hist[i].type || !kv_equal(&a->hist[i].kv, &b->hist[i].kv))
            return false;
    for (size_t i = 0; i < a->nlease; i++)
        if (a->lease[i].id != b->lease[i].id || a->lease[i].ttl_s != b->lease[i].ttl_s)
            return false;
    return true;
}

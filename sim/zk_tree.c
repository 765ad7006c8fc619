/* zk_tree.c - the data tree of the ZooKeeper model: nodes by path in a chained hash
 * table, children kept unordered (as the server's HashSet), sessions, and the
 * transactions that change them. Pure data: no actor, no message, no clock. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/zk_internal.h"

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

int sim__zk_reserve(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? 2 * *cap : 8;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

static uint64_t path_hash(const char *path)
{
    return fnv(path, strlen(path), 1469598103934665603ULL);
}

struct sim__zk_node *sim__zk_find(const struct sim__zk_tree *t, const char *path)
{
    struct sim__zk_node *n = t->bucket[path_hash(path) & (t->nbucket - 1)];
    while (n && strcmp(n->path, path) != 0)
        n = n->hnext;
    return n;
}

static int grow(struct sim__zk_tree *t)
{
    size_t nb = t->nbucket * 2;
    struct sim__zk_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < t->nbucket; i++) {
        while (t->bucket[i]) {
            struct sim__zk_node *n = t->bucket[i];
            t->bucket[i] = n->hnext;
            size_t j = path_hash(n->path) & (nb - 1);
            n->hnext = b[j];
            b[j] = n;
        }
    }
    free(t->bucket);
    t->bucket = b;
    t->nbucket = nb;
    return 0;
}

/* A new node at 'path' under 'parent' (NULL for the root), zeroed stat. NULL: -ENOMEM. */
static struct sim__zk_node *node_add(struct sim__zk_tree *t, const char *path,
                                     struct sim__zk_node *parent)
{
    if (t->count >= 2 * t->nbucket && grow(t) < 0)
        return NULL;
    size_t len = strlen(path);
    struct sim__zk_node *n = calloc(1, sizeof(*n) + len + 1);
    if (!n)
        return NULL;
    memcpy(n->path, path, len + 1);
    if (parent) {
        if (parent->nkids == parent->capkids) {
            uint32_t cap = parent->capkids ? 2 * parent->capkids : 4;
            struct sim__zk_node **k = realloc(parent->kids, cap * sizeof(*k));
            if (!k) {
                free(n);
                return NULL;
            }
            parent->kids = k;
            parent->capkids = cap;
        }
        n->slot = parent->nkids;
        parent->kids[parent->nkids++] = n;
        n->parent = parent;
    }
    size_t b = path_hash(path) & (t->nbucket - 1);
    n->hnext = t->bucket[b];
    t->bucket[b] = n;
    t->count++;
    return n;
}

/* Unlink a node without children and free it. */
static void node_remove(struct sim__zk_tree *t, struct sim__zk_node *n)
{
    struct sim__zk_node **p = &t->bucket[path_hash(n->path) & (t->nbucket - 1)];
    while (*p != n)
        p = &(*p)->hnext;
    *p = n->hnext;
    struct sim__zk_node *par = n->parent;
    if (par) {
        struct sim__zk_node *last = par->kids[--par->nkids];
        par->kids[n->slot] = last; /* swap-remove: the order of children is no promise */
        last->slot = n->slot;
    }
    free(n->kids);
    free(n);
    t->count--;
}

static struct sim__zk_tree *tree_empty(size_t nbucket)
{
    struct sim__zk_tree *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->nbucket = nbucket;
    t->bucket = calloc(t->nbucket, sizeof(*t->bucket));
    if (!t->bucket) {
        free(t);
        return NULL;
    }
    return t;
}

struct sim__zk_tree *sim__zk_tree_create(void)
{
    struct sim__zk_tree *t = tree_empty(64);
    if (!t)
        return NULL;
    struct sim__zk_node *root = node_add(t, "/", NULL);
    struct sim__zk_node *zk = root ? node_add(t, "/zookeeper", root) : NULL;
    if (!zk) {
        sim__zk_tree_destroy(t);
        return NULL;
    }
    root->st.num_children = 1;
    return t;
}

void sim__zk_tree_destroy(struct sim__zk_tree *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nbucket; i++) {
        while (t->bucket[i]) {
            struct sim__zk_node *n = t->bucket[i];
            t->bucket[i] = n->hnext;
            free(n->kids);
            free(n);
        }
    }
    free(t->bucket);
    free(t->sess);
    free(t);
}

struct sim__zk_sess *sim__zk_sess_find(const struct sim__zk_tree *t, int64_t id)
{
    for (size_t i = 0; i < t->nsess; i++)
        if (t->sess[i].id == id)
            return &t->sess[i];
    return NULL;
}

static int sess_add(struct sim__zk_tree *t, int64_t id, int64_t timeout_ns)
{
    if (sim__zk_sess_find(t, id))
        return 0;
    if (sim__zk_reserve((void **)&t->sess, &t->capsess, t->nsess, sizeof(*t->sess)) < 0)
        return -ENOMEM;
    t->sess[t->nsess++] = (struct sim__zk_sess){id, timeout_ns};
    return 0;
}

static void sess_remove(struct sim__zk_tree *t, int64_t id)
{
    for (size_t i = 0; i < t->nsess; i++) {
        if (t->sess[i].id == id) {
            memmove(&t->sess[i], &t->sess[i + 1], (t->nsess - i - 1) * sizeof(t->sess[0]));
            t->nsess--;
            return;
        }
    }
}

/* The parent's path of 'path' into buf: "/a/b" -> "/a", "/a" -> "/". */
static void parent_of(const char *path, char *buf)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    memcpy(buf, path, n);
    buf[n] = 0;
}

/* ---- Transactions ---------------------------------------------------------------------- */

void sim__zk_prep(const struct sim__zk_tree *t, struct sim__zk_txn *x)
{
    char parent[ZK_PATH_MAX + 1];
    int rc = ZK_OK;
    x->path[ZK_PATH_MAX] = 0;
    switch (x->type) {
    case SIM__ZK_TXN_CREATE: {
        if (!sim__zk_sess_find(t, x->session)) {
            rc = ZK_SESSIONEXPIRED;
            break;
        }
        parent_of(x->path, parent);
        const struct sim__zk_node *p = sim__zk_find(t, parent);
        if (x->flags & ZK_SEQUENCE) {
            size_t len = strlen(x->path);
            if (len + ZK_SEQ_DIGITS > ZK_PATH_MAX) {
                rc = ZK_BADARGUMENTS;
                break;
            }
            snprintf(x->path + len, sizeof(x->path) - len, "%010" PRId64,
                     (int64_t)(p ? p->seq_next % 10000000000LL : 0));
        }
        if (!p)
            rc = ZK_NONODE;
        else if (p->st.ephemeral_owner)
            rc = ZK_NOCHILDRENFOREPHEMERALS;
        else if (sim__zk_find(t, x->path))
            rc = ZK_NODEEXISTS;
        break;
    }
    case SIM__ZK_TXN_DELETE: {
        const struct sim__zk_node *n = sim__zk_find(t, x->path);
        if (!sim__zk_sess_find(t, x->session))
            rc = ZK_SESSIONEXPIRED;
        else if (!strcmp(x->path, "/"))
            rc = ZK_BADARGUMENTS;
        else if (!n)
            rc = ZK_NONODE;
        else if (x->version != -1 && x->version != n->st.version)
            rc = ZK_BADVERSION;
        else if (n->nkids)
            rc = ZK_NOTEMPTY;
        break;
    }
    case SIM__ZK_TXN_CREATE_SESSION:
        break;
    case SIM__ZK_TXN_CLOSE_SESSION:
        if (!sim__zk_sess_find(t, x->session))
            rc = ZK_SESSIONEXPIRED;
        break;
    default:
        rc = ZK_BADARGUMENTS;
        break;
    }
    if (rc != ZK_OK) {
        x->type = SIM__ZK_TXN_ERROR;
        x->rc = rc;
    }
}

static uint64_t txn_hash(uint64_t h, const struct sim__zk_txn *x)
{
    h = fnv(&x->type, sizeof(x->type), h);
    h = fnv(&x->rc, sizeof(x->rc), h);
    h = fnv(&x->zxid, sizeof(x->zxid), h);
    h = fnv(&x->session, sizeof(x->session), h);
    h = fnv(&x->flags, sizeof(x->flags), h);
    h = fnv(x->path, strlen(x->path), h);
    return fnv(x->data, x->dlen <= ZK_DATA_MAX ? x->dlen : 0, h);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp((*(struct sim__zk_node *const *)a)->path,
                  (*(struct sim__zk_node *const *)b)->path);
}

static void delete_node(struct sim__zk_tree *t, struct sim__zk_node *n, int64_t zxid,
                        sim__zk_trig_fn trig, void *ctx)
{
    struct sim__zk_node *p = n->parent;
    char path[ZK_PATH_MAX + 1];
    snprintf(path, sizeof(path), "%s", n->path);
    p->st.cversion++;
    p->st.pzxid = zxid;
    p->st.num_children--;
    node_remove(t, n);
    if (trig) {
        trig(ctx, path, SIM__ZK_TRIG_DELETED);
        trig(ctx, p->path, SIM__ZK_TRIG_CHILD);
    }
}

int sim__zk_apply(struct sim__zk_tree *t, const struct sim__zk_txn *x, sim__zk_trig_fn trig,
                  void *ctx)
{
    int rc = 0;
    switch (x->type) {
    case SIM__ZK_TXN_CREATE: {
        char parent[ZK_PATH_MAX + 1];
        parent_of(x->path, parent);
        struct sim__zk_node *p = sim__zk_find(t, parent);
        if (!p || sim__zk_find(t, x->path)) {
            rc = -EPROTO; /* the leader's prep said otherwise: a divergence */
            break;
        }
        struct sim__zk_node *n = node_add(t, x->path, p);
        if (!n)
            return -ENOMEM;
        n->st.czxid = n->st.mzxid = n->st.pzxid = x->zxid;
        n->st.ctime_ms = n->st.mtime_ms = x->time_ms;
        n->st.ephemeral_owner = (x->flags & ZK_EPHEMERAL) ? x->session : 0;
        n->dlen = x->dlen <= ZK_DATA_MAX ? x->dlen : ZK_DATA_MAX;
        memcpy(n->data, x->data, n->dlen);
        n->st.data_length = (int32_t)n->dlen;
        p->st.cversion++;
        p->st.pzxid = x->zxid;
        p->st.num_children++;
        p->seq_next++;
        if (trig) {
            trig(ctx, n->path, SIM__ZK_TRIG_CREATED);
            trig(ctx, p->path, SIM__ZK_TRIG_CHILD);
        }
        break;
    }
    case SIM__ZK_TXN_DELETE: {
        struct sim__zk_node *n = sim__zk_find(t, x->path);
        if (!n || n->nkids || !n->parent) {
            rc = -EPROTO;
            break;
        }
        delete_node(t, n, x->zxid, trig, ctx);
        break;
    }
    case SIM__ZK_TXN_CREATE_SESSION:
        if (sess_add(t, x->session, x->timeout_ns) < 0)
            return -ENOMEM;
        break;
    case SIM__ZK_TXN_CLOSE_SESSION: {
        size_t n = 0, cap = 0;
        struct sim__zk_node **eph = NULL;
        for (size_t i = 0; i < t->nbucket; i++) {
            for (struct sim__zk_node *q = t->bucket[i]; q; q = q->hnext) {
                if (q->st.ephemeral_owner != x->session)
                    continue;
                if (sim__zk_reserve((void **)&eph, &cap, n, sizeof(*eph)) < 0) {
                    free(eph);
                    return -ENOMEM;
                }
                eph[n++] = q;
            }
        }
        if (n)
            qsort(eph, n, sizeof(*eph), cmp_path); /* one order on every server */
        for (size_t i = 0; i < n; i++)
            delete_node(t, eph[i], x->zxid, trig, ctx);
        free(eph);
        sess_remove(t, x->session);
        break;
    }
    default:
        break; /* an error transaction changes nothing but the zxid */
    }
    t->zxid = x->zxid;
    t->hash = txn_hash(t->hash, x);
    return rc;
}

/* ---- Snapshots -------------------------------------------------------------------------- */

#define SNAP_MAGIC 0x5a4b534eu /* "ZKSN" */

struct snap_head {
    uint32_t magic;
    uint32_t nsess;
    uint64_t nnodes;
    int64_t zxid;
    uint64_t hash;
};

struct snap_node {
    uint16_t pathlen;
    uint16_t dlen;
    uint32_t pad;
    int64_t seq_next;
    struct zk_stat st;
};

struct writer {
    unsigned char *buf;
    size_t cap, len;
    bool over;
};

static void put(struct writer *w, const void *p, size_t n)
{
    if (!w->buf || w->len + n > w->cap)
        w->over = true;
    else if (n && p)
        memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* Parents before children, children in their kids order (so a load rebuilds the same
 * order and a clone behaves exactly as its original). */
static void put_node(struct writer *w, const struct sim__zk_node *n)
{
    struct snap_node sn = {.pathlen = (uint16_t)strlen(n->path),
                           .dlen = (uint16_t)n->dlen,
                           .seq_next = n->seq_next,
                           .st = n->st};
    put(w, &sn, sizeof(sn));
    put(w, n->path, sn.pathlen);
    put(w, n->data, sn.dlen);
    for (uint32_t i = 0; i < n->nkids; i++)
        put_node(w, n->kids[i]);
}

long sim__zk_tree_serialize(const struct sim__zk_tree *t, void *buf, size_t cap)
{
    struct writer w = {buf, cap, 0, false};
    struct snap_head h = {SNAP_MAGIC, (uint32_t)t->nsess, t->count, t->zxid, t->hash};
    put(&w, &h, sizeof(h));
    if (t->nsess)
        put(&w, t->sess, t->nsess * sizeof(*t->sess));
    const struct sim__zk_node *root = sim__zk_find(t, "/");
    if (root)
        put_node(&w, root);
    return w.over ? -E2BIG : (long)w.len;
}

struct sim__zk_tree *sim__zk_tree_load(const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    struct snap_head h;
    if (len < sizeof(h))
        return NULL;
    memcpy(&h, p, sizeof(h));
    p += sizeof(h);
    if (h.magic != SNAP_MAGIC || (size_t)(end - p) / sizeof(struct sim__zk_sess) < h.nsess)
        return NULL;
    size_t nb = 64;
    while (nb < h.nnodes)
        nb *= 2;
    struct sim__zk_tree *t = tree_empty(nb);
    if (!t)
        return NULL;
    t->zxid = h.zxid;
    t->hash = h.hash;
    if (h.nsess) {
        t->sess = malloc(h.nsess * sizeof(*t->sess));
        if (!t->sess)
            goto err;
        memcpy(t->sess, p, h.nsess * sizeof(*t->sess));
        t->nsess = t->capsess = h.nsess;
        p += h.nsess * sizeof(*t->sess);
    }
    for (uint64_t i = 0; i < h.nnodes; i++) {
        struct snap_node sn;
        char path[ZK_PATH_MAX + 1], parent[ZK_PATH_MAX + 1];
        if ((size_t)(end - p) < sizeof(sn))
            goto err;
        memcpy(&sn, p, sizeof(sn));
        p += sizeof(sn);
        if (sn.pathlen > ZK_PATH_MAX || sn.dlen > ZK_DATA_MAX ||
            (size_t)(end - p) < (size_t)sn.pathlen + sn.dlen)
            goto err;
        memcpy(path, p, sn.pathlen);
        path[sn.pathlen] = 0;
        p += sn.pathlen;
        struct sim__zk_node *par = NULL;
        if (i > 0) {
            parent_of(path, parent);
            if (!(par = sim__zk_find(t, parent)))
                goto err;
        }
        struct sim__zk_node *n = node_add(t, path, par);
        if (!n)
            goto err;
        n->st = sn.st;
        n->seq_next = sn.seq_next;
        n->dlen = sn.dlen;
        memcpy(n->data, p, sn.dlen);
        p += sn.dlen;
    }
    return t;
err:
    sim__zk_tree_destroy(t);
    return NULL;
}

struct sim__zk_tree *sim__zk_tree_clone(const struct sim__zk_tree *t)
{
    struct writer probe = {NULL, 0, 0, false}; /* counts what a snapshot takes */
    struct snap_head h = {0};
    put(&probe, &h, sizeof(h));
    put(&probe, NULL, t->nsess * sizeof(*t->sess));
    const struct sim__zk_node *root = sim__zk_find(t, "/");
    if (root)
        put_node(&probe, root);
    void *buf = malloc(probe.len);
    if (!buf)
        return NULL;
    long n = sim__zk_tree_serialize(t, buf, probe.len);
    struct sim__zk_tree *c = n > 0 ? sim__zk_tree_load(buf, (size_t)n) : NULL;
    free(buf);
    return c;
}

/* ---- Invariants ---------------------------------------------------------------------- */

const char *sim__zk_tree_check(const struct sim__zk_tree *t)
{
    if (!t || !t->bucket || !t->nbucket || (t->nbucket & (t->nbucket - 1)))
        return "the hash table is malformed";
    size_t count = 0;
    for (size_t b = 0; b < t->nbucket; b++) {
        for (const struct sim__zk_node *n = t->bucket[b]; n; n = n->hnext) {
            count++;
            if ((path_hash(n->path) & (t->nbucket - 1)) != b)
                return "a node sits in the wrong hash chain";
            if (!n->parent) {
                if (strcmp(n->path, "/") != 0)
                    return "a node other than the root has no parent";
                continue;
            }
            const struct sim__zk_node *p = n->parent;
            char parent[ZK_PATH_MAX + 1];
            parent_of(n->path, parent);
            if (strcmp(parent, p->path) != 0)
                return "a node's parent link does not match its path";
            if (n->slot >= p->nkids || p->kids[n->slot] != n)
                return "a node is not at its slot among its parent's children";
            if (p->st.ephemeral_owner)
                return "an ephemeral node has a child";
            if (n->st.ephemeral_owner && !sim__zk_sess_find(t, n->st.ephemeral_owner))
                return "an ephemeral node outlived its session";
            if (n->st.czxid > t->zxid || n->st.mzxid < n->st.czxid)
                return "a node's zxids are out of order";
        }
    }
    for (size_t b = 0; b < t->nbucket; b++)
        for (const struct sim__zk_node *n = t->bucket[b]; n; n = n->hnext)
            if ((uint32_t)n->st.num_children != n->nkids)
                return "a node's child count is not its number of children";
    if (count != t->count)
        return "the node count is wrong";
    if (!sim__zk_find(t, "/"))
        return "the root is missing";
    for (size_t i = 0; i < t->nsess; i++)
        for (size_t j = i + 1; j < t->nsess; j++)
            if (t->sess[i].id == t->sess[j].id)
                return "a session is open twice";
    return NULL;
}

/* tq.c - tq_create, and the heaps (heap2.c, heap4.c) behind the tq interface. The
 * adaptor counts sift levels from where nodes end up, so the heaps themselves carry no
 * counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "timer/heap2.h"
#include "timer/tq_impl.h"

struct heapq {
    struct tq base;
    bool four;     /* tq4, else tq2 */
    union {
        struct tq2 h2;
        struct tq4 h4;
    } u;
};

/* Depth of array index i: in a 4-ary heap level k starts at (4^k - 1) / 3. */
static inline uint64_t depth(const struct heapq *h, uint32_t i)
{
    if (h->four)
        return (uint64_t)(63 - __builtin_clzll(3ULL * i + 1)) / 2;
    return (uint64_t)(63 - __builtin_clzll((uint64_t)i + 1));
}

static inline uint64_t levels(const struct heapq *h, uint32_t a, uint32_t b)
{
    uint64_t da = depth(h, a), db = depth(h, b);
    return da > db ? da - db : db - da;
}

static inline uint32_t hq_n(const struct heapq *h)
{
    return h->four ? h->u.h4.n : h->u.h2.n;
}

/* The node at the heap's last position: the one a pop or cancel moves. */
static inline struct tq_node *hq_last(const struct heapq *h)
{
    uint32_t n = hq_n(h);
    if (!h->four)
        return h->u.h2.slot[n - 1].node;
    return tq4_node_at(&h->u.h4, n - 1);
}

static inline struct tq_node *hq_top(const struct heapq *h)
{
    return h->four ? tq4_peek(&h->u.h4) : tq2_peek(&h->u.h2);
}

static int hq_add(struct tq *q, struct tq_timer *t, int64_t when)
{
    struct heapq *h = (struct heapq *)q;
    uint32_t hole = hq_n(h);
    int rc = h->four ? tq4_push(&h->u.h4, &t->node, when) : tq2_push(&h->u.h2, &t->node, when);
    if (rc == 0)
        q->stats.sift_levels += levels(h, hole, t->node.pos - 1);
    return rc;
}

static void hq_cancel(struct tq *q, struct tq_timer *t)
{
    struct heapq *h = (struct heapq *)q;
    uint32_t n = hq_n(h), pos = t->node.pos;
    if (pos == 0 || pos > n)
        return;
    struct tq_node *last = hq_last(h);
    if (h->four)
        tq4_cancel(&h->u.h4, &t->node);
    else
        tq2_cancel(&h->u.h2, &t->node);
    if (hq_n(h) == n)
        return; /* queued elsewhere: left alone */
    if (last != &t->node)
        q->stats.sift_levels += levels(h, pos - 1, last->pos - 1);
}

static int64_t hq_next(struct tq *q)
{
    struct tq_node *top = hq_top((struct heapq *)q);
    return top ? top->when : INT64_MAX;
}

static size_t hq_expire(struct tq *q, int64_t now, tq_fire_fn fn, void *arg)
{
    struct heapq *h = (struct heapq *)q;
    size_t fired = 0;
    struct tq_node *top;
    while ((top = hq_top(h)) != NULL && top->when <= now) {
        struct tq_node *last = hq_last(h);
        if (h->four)
            tq4_pop(&h->u.h4);
        else
            tq2_pop(&h->u.h2);
        if (last != top)
            q->stats.sift_levels += depth(h, last->pos - 1);
        fired++;
        fn((struct tq_timer *)top, arg);
    }
    return fired;
}

static size_t hq_size(const struct tq *q)
{
    return hq_n((const struct heapq *)q);
}

static size_t hq_bytes(const struct tq *q)
{
    const struct heapq *h = (const struct heapq *)q;
    if (h->four)
        return sizeof(*h) + (size_t)h->u.h4.cap * sizeof(struct tq4_slot);
    return sizeof(*h) + (size_t)h->u.h2.cap * sizeof(struct tq2_slot);
}

static bool hq_check(const struct tq *q)
{
    const struct heapq *h = (const struct heapq *)q;
    return h->four ? tq4_check(&h->u.h4) : tq2_check(&h->u.h2);
}

static void hq_destroy(struct tq *q)
{
    struct heapq *h = (struct heapq *)q;
    if (h->four)
        tq4_cleanup(&h->u.h4);
    else
        tq2_cleanup(&h->u.h2);
    free(h);
}

#define HEAP_OPS(kind)                                                                             \
    {                                                                                              \
        .name = kind, .add = hq_add, .cancel = hq_cancel, .next = hq_next, .expire = hq_expire,    \
        .size = hq_size, .bytes = hq_bytes, .check = hq_check, .destroy = hq_destroy,              \
    }
static const struct tq_ops heap2_ops = HEAP_OPS("heap2");
static const struct tq_ops heap4_ops = HEAP_OPS("heap4");

struct tq *tq__heap_create(const struct tq_config *cfg)
{
    struct heapq *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->four = cfg->kind == TQ_HEAP4;
    h->base.ops = h->four ? &heap4_ops : &heap2_ops;
    int rc = h->four ? tq4_init(&h->u.h4, cfg->hint) : tq2_init(&h->u.h2, cfg->hint);
    if (rc < 0) {
        free(h);
        errno = ENOMEM;
        return NULL;
    }
    return &h->base;
}

struct tq *tq_create(const struct tq_config *cfg)
{
    switch (cfg->kind) {
    case TQ_HEAP2:
    case TQ_HEAP4:
        return tq__heap_create(cfg);
    case TQ_WHEEL:
        return tq__wheel_create(cfg);
    case TQ_HWHEEL:
        return tq__hwheel_create(cfg);
    }
    errno = EINVAL;
    return NULL;
}

const char *const tq_kind_names[] = {TQ_KIND_NAMES, NULL};

int tq_kind_parse(const char *name)
{
    return names_value(tq_kind_names, name);
}

const char *tq_kind_name(enum tq_kind kind)
{
    return names_name(tq_kind_names, (int)kind);
}

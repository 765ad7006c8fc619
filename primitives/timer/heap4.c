/* heap4.c - 4-ary min-heap on (when, seq). Children of i are 4i+1 .. 4i+4.
 *
 * Layout: a slot is 16 bytes (deadline and node pointer), and the array is 64-byte
 * aligned with three unused slots in front, so the four children of any slot share one
 * cache line: a sift-down level costs one line fetch. The insertion sequence that breaks
 * ties lives in the node and is read only when two deadlines are equal. */
#include "heap4.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAD TQ4__PAD /* logical slot i lives at h->slot[i + PAD] */

static inline bool slot_less(const struct tq4_slot *a, const struct tq4_slot *b)
{
    return a->when < b->when || (a->when == b->when && a->node->seq < b->node->seq);
}

static struct tq4_slot *slots_alloc(uint32_t cap)
{
    return aligned_alloc(64, ((sizeof(struct tq4_slot) * (cap + PAD)) + 63) / 64 * 64);
}

int tq4_init(struct tq4 *h, size_t hint)
{
    h->n = 0;
    h->next_seq = 0;
    h->cap = hint > 16 ? (uint32_t)hint : 16;
    h->slot = slots_alloc(h->cap);
    return h->slot ? 0 : -ENOMEM;
}

void tq4_cleanup(struct tq4 *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->slot[i + PAD].node->pos = 0;
    free(h->slot);
    h->slot = NULL;
    h->n = h->cap = 0;
}

static inline struct tq4_slot *at(const struct tq4 *h, uint32_t i)
{
    return &h->slot[i + PAD];
}

static inline void place(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    *at(h, i) = s;
    s.node->pos = i + 1;
}

static void sift_up(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!slot_less(&s, at(h, parent)))
            break;
        place(h, i, *at(h, parent));
        i = parent;
    }
    place(h, i, s);
}

/* The lesser of two slots (by index into sl). Deadlines rarely tie, so the tie branch is
 * predictable and the common comparison compiles to a conditional move. */
static inline uint32_t lesser(const struct tq4_slot *sl, uint32_t x, uint32_t y)
{
    if (__builtin_expect(sl[x].when == sl[y].when, 0))
        return sl[y].node->seq < sl[x].node->seq ? y : x;
    return sl[y].when < sl[x].when ? y : x;
}

static void sift_down(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    uint32_t n = h->n;
    const struct tq4_slot *sl = at(h, 0);
    for (;;) {
        uint32_t c = 4 * i + 1, best;
        if (c + 4 <= n) {
            best = lesser(sl, lesser(sl, c, c + 1), lesser(sl, c + 2, c + 3));
        } else if (c < n) {
            best = c;
            for (uint32_t k = c + 1; k < n; k++)
                best = lesser(sl, best, k);
        } else {
            break;
        }
        if (!slot_less(&sl[best], &s))
            break;
        place(h, i, sl[best]);
        i = best;
    }
    place(h, i, s);
}

int tq4_push(struct tq4 *h, struct tq_node *t, int64_t when)
{
    if (t->pos)
        return -EINVAL;
    if (h->n == h->cap) {
        if (h->cap > UINT32_MAX / 2)
            return -ENOMEM;
        uint32_t cap = h->cap * 2;
        struct tq4_slot *s = slots_alloc(cap);
        if (!s)
            return -ENOMEM;
        memcpy(s, h->slot, sizeof(*s) * (h->n + PAD));
        free(h->slot);
        h->slot = s;
        h->cap = cap;
    }
    t->when = when;
    t->seq = h->next_seq++;
    struct tq4_slot s = {when, t};
    sift_up(h, h->n++, s);
    return 0;
}

/* Remove slot i, refilling the hole with the last slot moved up or down. */
static void remove_at(struct tq4 *h, uint32_t i)
{
    at(h, i)->node->pos = 0;
    struct tq4_slot last = *at(h, --h->n);
    if (i == h->n)
        return;
    if (i > 0 && slot_less(&last, at(h, (i - 1) / 4)))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

void tq4_cancel(struct tq4 *h, struct tq_node *t)
{
    if (!tq4_holds(h, t))
        return;
    remove_at(h, t->pos - 1);
}

struct tq_node *tq4_pop(struct tq4 *h)
{
    if (h->n == 0)
        return NULL;
    struct tq_node *top = at(h, 0)->node;
    remove_at(h, 0);
    return top;
}

bool tq4_check(const struct tq4 *h)
{
    if (h->n > h->cap || ((uintptr_t)h->slot & 63) != 0)
        return false;
    for (uint32_t i = 0; i < h->n; i++) {
        const struct tq4_slot *s = at(h, i);
        if (!s->node || s->node->pos != i + 1 || s->node->when != s->when)
            return false;
        if (s->node->seq >= h->next_seq)
            return false;
        if (i > 0 && slot_less(s, at(h, (i - 1) / 4)))
            return false;
    }
    return true;
}

/* heap4.c - 4-ary min-heap on (when, seq). Children of i are 4i+1 .. 4i+4. */
#include "heap4.h"

#include <errno.h>
#include <stdlib.h>

static inline bool slot_less(const struct tq4_slot *a, const struct tq4_slot *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

int tq4_init(struct tq4 *h, size_t hint)
{
    h->n = 0;
    h->next_seq = 0;
    h->cap = hint > 16 ? (uint32_t)hint : 16;
    h->slot = malloc(sizeof(*h->slot) * h->cap);
    return h->slot ? 0 : -ENOMEM;
}

void tq4_cleanup(struct tq4 *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->slot[i].node->pos = 0;
    free(h->slot);
    h->slot = NULL;
    h->n = h->cap = 0;
}

static inline void place(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    h->slot[i] = s;
    s.node->pos = i + 1;
}

static void sift_up(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 4;
        if (!slot_less(&s, &h->slot[parent]))
            break;
        place(h, i, h->slot[parent]);
        i = parent;
    }
    place(h, i, s);
}

static void sift_down(struct tq4 *h, uint32_t i, struct tq4_slot s)
{
    uint32_t n = h->n;
    for (;;) {
        uint32_t c = 4 * i + 1;
        if (c >= n)
            break;
        uint32_t best = c;
        uint32_t end = c + 4 < n ? c + 4 : n;
        for (uint32_t k = c + 1; k < end; k++)
            if (slot_less(&h->slot[k], &h->slot[best]))
                best = k;
        if (!slot_less(&h->slot[best], &s))
            break;
        place(h, i, h->slot[best]);
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
        struct tq4_slot *s = realloc(h->slot, sizeof(*s) * cap);
        if (!s)
            return -ENOMEM;
        h->slot = s;
        h->cap = cap;
    }
    t->when = when;
    t->seq = h->next_seq++;
    struct tq4_slot s = {when, t->seq, t};
    sift_up(h, h->n++, s);
    return 0;
}

/* Remove slot i, refilling the hole with the last slot moved up or down. */
static void remove_at(struct tq4 *h, uint32_t i)
{
    h->slot[i].node->pos = 0;
    struct tq4_slot last = h->slot[--h->n];
    if (i == h->n)
        return;
    if (i > 0 && slot_less(&last, &h->slot[(i - 1) / 4]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

void tq4_cancel(struct tq4 *h, struct tq_node *t)
{
    if (t->pos == 0 || t->pos > h->n || h->slot[t->pos - 1].node != t)
        return;
    remove_at(h, t->pos - 1);
}

struct tq_node *tq4_pop(struct tq4 *h)
{
    if (h->n == 0)
        return NULL;
    struct tq_node *top = h->slot[0].node;
    remove_at(h, 0);
    return top;
}

bool tq4_check(const struct tq4 *h)
{
    if (h->n > h->cap)
        return false;
    for (uint32_t i = 0; i < h->n; i++) {
        const struct tq4_slot *s = &h->slot[i];
        if (!s->node || s->node->pos != i + 1)
            return false;
        if (s->node->when != s->when || s->node->seq != s->seq)
            return false;
        if (s->seq >= h->next_seq)
            return false;
        if (i > 0 && slot_less(s, &h->slot[(i - 1) / 4]))
            return false;
    }
    return true;
}

/* heap2.c - binary min-heap on (when, seq). Children of i are 2i+1 and 2i+2. */
#include "heap2.h"

#include <errno.h>
#include <stdlib.h>

static inline bool key_less(int64_t aw, uint64_t as, int64_t bw, uint64_t bs)
{
    return aw < bw || (aw == bw && as < bs);
}

static inline bool slot_less(const struct tq2_slot *a, const struct tq2_slot *b)
{
    return key_less(a->when, a->seq, b->when, b->seq);
}

int tq2_init(struct tq2 *h, size_t hint)
{
    h->n = 0;
    h->next_seq = 0;
    h->cap = hint > 16 ? (uint32_t)hint : 16;
    h->slot = malloc(sizeof(*h->slot) * h->cap);
    return h->slot ? 0 : -ENOMEM;
}

void tq2_cleanup(struct tq2 *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        h->slot[i].node->pos = 0;
    free(h->slot);
    h->slot = NULL;
    h->n = h->cap = 0;
}

static inline void place(struct tq2_slot *a, uint32_t i, struct tq2_slot s)
{
    a[i] = s;
    s.node->pos = i + 1;
}

/* Move 's' up from hole i until its parent is not greater. */
static void up(struct tq2 *h, uint32_t i, struct tq2_slot s)
{
    struct tq2_slot *a = h->slot;
    while (i > 0) {
        uint32_t p = (i - 1) >> 1;
        if (!slot_less(&s, &a[p]))
            break;
        place(a, i, a[p]);
        i = p;
    }
    place(a, i, s);
}

/* Move 's' down from hole i, promoting the smaller child while it is less than 's'. */
static void down(struct tq2 *h, uint32_t i, struct tq2_slot s)
{
    struct tq2_slot *a = h->slot;
    uint32_t n = h->n;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && slot_less(&a[c + 1], &a[c]))
            c++;
        if (!slot_less(&a[c], &s))
            break;
        place(a, i, a[c]);
        i = c;
    }
    place(a, i, s);
}

int tq2_push(struct tq2 *h, struct tq_node *t, int64_t when)
{
    if (t->pos)
        return -EINVAL;
    if (h->n == h->cap) {
        if (h->cap > UINT32_MAX / 2)
            return -ENOMEM;
        struct tq2_slot *s = realloc(h->slot, sizeof(*s) * h->cap * 2);
        if (!s)
            return -ENOMEM;
        h->slot = s;
        h->cap *= 2;
    }
    t->when = when;
    t->seq = h->next_seq++;
    up(h, h->n++, (struct tq2_slot){when, t->seq, t});
    return 0;
}

/* Fill hole i with the last slot, moved whichever way restores order. */
static void remove_at(struct tq2 *h, uint32_t i)
{
    h->slot[i].node->pos = 0;
    struct tq2_slot last = h->slot[--h->n];
    if (i == h->n)
        return;
    if (i > 0 && slot_less(&last, &h->slot[(i - 1) >> 1]))
        up(h, i, last);
    else
        down(h, i, last);
}

void tq2_cancel(struct tq2 *h, struct tq_node *t)
{
    if (t->pos == 0 || t->pos > h->n || h->slot[t->pos - 1].node != t)
        return;
    remove_at(h, t->pos - 1);
}

struct tq_node *tq2_pop(struct tq2 *h)
{
    if (h->n == 0)
        return NULL;
    struct tq_node *top = h->slot[0].node;
    remove_at(h, 0);
    return top;
}

bool tq2_check(const struct tq2 *h)
{
    if (h->n > h->cap)
        return false;
    for (uint32_t i = 0; i < h->n; i++) {
        const struct tq2_slot *s = &h->slot[i];
        if (!s->node || s->node->pos != i + 1 || s->seq >= h->next_seq)
            return false;
        if (s->node->when != s->when || s->node->seq != s->seq)
            return false;
        if (i > 0 && slot_less(s, &h->slot[(i - 1) >> 1]))
            return false;
    }
    return true;
}

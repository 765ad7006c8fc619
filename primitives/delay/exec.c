/* exec.c - the executor's records: keys in an open-addressing table, tokens per task. */
#include "delay/exec.h"

#include <errno.h>
#include <stdlib.h>

#include "rng/rng.h"

struct slot {
    uint64_t task1; /* task + 1; 0: empty */
    int64_t sched;
    uint32_t times;
};

struct dx {
    struct dx_config cfg;
    uint64_t *token;
    struct slot *tab;
    size_t cap, used; /* cap a power of two */
    struct dx_stats st;
};

struct dx *dx_create(const struct dx_config *cfg)
{
    struct dx *x = calloc(1, sizeof(*x));
    if (!x)
        goto err;
    x->cfg = *cfg;
    x->cap = 64;
    x->token = calloc(cfg->ntasks ? cfg->ntasks : 1, sizeof(*x->token));
    x->tab = calloc(x->cap, sizeof(*x->tab));
    if (!x->token || !x->tab)
        goto err_free;
    return x;
err_free:
    dx_destroy(x);
err:
    errno = ENOMEM;
    return NULL;
}

void dx_destroy(struct dx *x)
{
    if (!x)
        return;
    free(x->token);
    free(x->tab);
    free(x);
}

static size_t home(uint32_t task, int64_t sched, size_t cap)
{
    return (size_t)(rng_mix(((uint64_t)task << 40) ^ rng_mix((uint64_t)sched)) & (cap - 1));
}

/* The slot holding (task, sched), or the empty one where it would go. */
static struct slot *find(struct slot *tab, size_t cap, uint32_t task, int64_t sched)
{
    for (size_t i = home(task, sched, cap);; i = (i + 1) & (cap - 1)) {
        struct slot *s = &tab[i];
        if (!s->task1 || (s->task1 == (uint64_t)task + 1 && s->sched == sched))
            return s;
    }
}

static int grow(struct dx *x)
{
    size_t cap = x->cap * 2;
    struct slot *tab = calloc(cap, sizeof(*tab));
    if (!tab)
        return -ENOMEM;
    for (size_t i = 0; i < x->cap; i++)
        if (x->tab[i].task1)
            *find(tab, cap, (uint32_t)(x->tab[i].task1 - 1), x->tab[i].sched) = x->tab[i];
    free(x->tab);
    x->tab = tab;
    x->cap = cap;
    return 0;
}

int dx_fire(struct dx *x, uint32_t task, int64_t sched, uint64_t token)
{
    if (task >= x->cfg.ntasks)
        return -EINVAL;
    if (2 * (x->used + 1) > x->cap && grow(x) < 0)
        return -ENOMEM;
    x->st.fires++;
    bool stale = token < x->token[task];
    if (stale && x->cfg.fencing) {
        x->st.fenced++;
        return DX_FENCED;
    }
    if (!stale)
        x->token[task] = token;
    struct slot *s = find(x->tab, x->cap, task, sched);
    if (s->times) {
        x->st.duplicate_fires++;
        if (x->cfg.idempotent) {
            x->st.ignored++;
            return DX_IGNORED;
        }
        x->st.duplicate_effects++;
    } else {
        *s = (struct slot){.task1 = (uint64_t)task + 1, .sched = sched};
        x->used++;
    }
    s->times++;
    x->st.executed++;
    x->st.stale_executed += stale;
    return DX_EXECUTED;
}

uint32_t dx_times(const struct dx *x, uint32_t task, int64_t sched)
{
    if (task >= x->cfg.ntasks)
        return 0;
    return find(x->tab, x->cap, task, sched)->times;
}

uint64_t dx_token(const struct dx *x, uint32_t task)
{
    return task < x->cfg.ntasks ? x->token[task] : 0;
}

void dx_get_stats(const struct dx *x, struct dx_stats *out)
{
    *out = x->st;
}

bool dx_check(const struct dx *x)
{
    uint64_t sum = 0, extra = 0, keys = 0;
    for (size_t i = 0; i < x->cap; i++) {
        const struct slot *s = &x->tab[i];
        if (!s->task1)
            continue;
        if (s->task1 > x->cfg.ntasks || !s->times ||
            find(x->tab, x->cap, (uint32_t)(s->task1 - 1), s->sched) != s)
            return false;
        keys++;
        sum += s->times;
        extra += s->times - 1;
    }
    const struct dx_stats *st = &x->st;
    return keys == x->used && 2 * x->used <= x->cap && sum == st->executed &&
           extra == st->duplicate_effects && st->fires == st->executed + st->ignored + st->fenced &&
           st->duplicate_fires == st->duplicate_effects + st->ignored &&
           (!x->cfg.idempotent || !st->duplicate_effects) &&
           (!x->cfg.fencing || !st->stale_executed);
}

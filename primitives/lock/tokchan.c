/* tokchan.c - the modelled one-token channel of tokchan.h: an atomic flag whose every
 * operation costs CPU through env_work. The live world's pipe is live/tokchan_pipe.c. */
#include "lock/tokchan.h"

#include <errno.h>
#include <stdlib.h>

struct model {
    struct lock_tokchan base;
    int64_t op_ns;    /* CPU of a take that finds the token, or of a put */
    int64_t empty_ns; /* CPU of a take that finds the channel empty (Go's fast path) */
    int64_t failed_ns, all_ns; /* CPU charged: to takes that failed, to everything */
};

static void charge(struct model *m, struct env *e, int64_t ns)
{
    if (ns > 0) {
        env_work(e, ns);
        m->all_ns += ns;
    }
}

/* As Go's non-blocking receive: look at the buffer first (empty_ns); only when the token
 * is there, take the channel's lock and take it (the rest of op_ns), which another taker
 * may have done meanwhile. */
static bool model_take(struct lock_tokchan *c, struct env *e)
{
    struct model *m = (struct model *)c;
    int64_t first = m->empty_ns < m->op_ns ? m->empty_ns : m->op_ns;
    charge(m, e, first);
    if (atomic_load_explicit(&c->tokens, memory_order_acquire) == 0) {
        m->failed_ns += first;
        return false;
    }
    charge(m, e, m->op_ns - first);
    if (atomic_exchange_explicit(&c->tokens, 0, memory_order_acquire) == 1)
        return true;
    m->failed_ns += m->op_ns;
    return false;
}

static int model_put(struct lock_tokchan *c, struct env *e)
{
    struct model *m = (struct model *)c;
    charge(m, e, m->op_ns);
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_release,
                                                 memory_order_relaxed))
        return -EBUSY;
    return 0;
}

static bool model_check(const struct lock_tokchan *c)
{
    const struct model *m = (const struct model *)c;
    return m->op_ns >= 0 && m->empty_ns >= 0 && m->failed_ns <= m->all_ns;
}

static void model_destroy(struct lock_tokchan *c)
{
    free(c);
}

static const struct lock_tokchan_ops model_ops = {
    .kind = "model",
    .take = model_take,
    .put = model_put,
    .check = model_check,
    .destroy = model_destroy,
};

struct lock_tokchan *lock_tokchan_model(int64_t op_ns, int64_t empty_ns)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &model_ops;
    m->op_ns = op_ns > 0 ? op_ns : 0;
    m->empty_ns = empty_ns > 0 ? empty_ns : 0;
    atomic_init(&m->base.tokens, 1);
    return &m->base;
}

bool lock_tokchan_model_cpu(const struct lock_tokchan *c, int64_t *failed_ns, int64_t *all_ns)
{
    if (c->ops != &model_ops)
        return false;
    const struct model *m = (const struct model *)c;
    *failed_ns = m->failed_ns;
    *all_ns = m->all_ns;
    return true;
}

/* tokchan.c - the modelled one-token channel of tokchan.h: an atomic flag whose every
 * operation costs CPU through env_work. The live world's pipe is live/tokchan_pipe.c. */
#include "lock/tokchan.h"

#include <errno.h>
#include <stdlib.h>

struct model {
    struct lock_tokchan base;
    int64_t op_ns; /* CPU per operation */
};

static bool model_take(struct lock_tokchan *c, struct env *e)
{
    struct model *m = (struct model *)c;
    if (m->op_ns)
        env_work(e, m->op_ns);
    return atomic_exchange_explicit(&c->tokens, 0, memory_order_acquire) == 1;
}

static int model_put(struct lock_tokchan *c, struct env *e)
{
    struct model *m = (struct model *)c;
    if (m->op_ns)
        env_work(e, m->op_ns);
    int empty = 0;
    if (!atomic_compare_exchange_strong_explicit(&c->tokens, &empty, 1, memory_order_release,
                                                 memory_order_relaxed))
        return -EBUSY;
    return 0;
}

static bool model_check(const struct lock_tokchan *c)
{
    return ((const struct model *)c)->op_ns >= 0;
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

struct lock_tokchan *lock_tokchan_model(int64_t op_ns)
{
    struct model *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.ops = &model_ops;
    m->op_ns = op_ns > 0 ? op_ns : 0;
    atomic_init(&m->base.tokens, 1);
    return &m->base;
}

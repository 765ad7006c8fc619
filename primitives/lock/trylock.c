/* trylock.c - CAS and channel try-locks and the spin loops of trylock.h. Never reads a
 * clock except env_mono for a deadline, never draws a number except env_rand. */
#include "lock/trylock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

enum try_kind { TRY_CAS, TRY_CHAN };

struct lock_try {
    enum try_kind kind;
    _Atomic bool flag;       /* CAS: held */
    int64_t attempt_ns;      /* CAS: CPU per attempt */
    struct lock_tokchan *ch; /* channel: holds the token when free */
};

struct lock_try *lock_try_cas(int64_t attempt_ns)
{
    struct lock_try *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->kind = TRY_CAS;
    l->attempt_ns = attempt_ns > 0 ? attempt_ns : 0;
    atomic_init(&l->flag, false);
    return l;
}

struct lock_try *lock_try_chan(struct lock_tokchan *ch)
{
    struct lock_try *l = calloc(1, sizeof(*l));
    if (!l) {
        lock_tokchan_destroy(ch);
        return NULL;
    }
    l->kind = TRY_CHAN;
    l->ch = ch;
    atomic_init(&l->flag, false);
    return l;
}

void lock_try_destroy(struct lock_try *l)
{
    if (!l)
        return;
    lock_tokchan_destroy(l->ch);
    free(l);
}

const char *lock_try_kind(const struct lock_try *l)
{
    return l->kind == TRY_CAS ? "cas" : "chan";
}

bool lock_try_acquire(struct lock_try *l, struct env *e)
{
    if (l->kind == TRY_CHAN)
        return lock_tokchan_take(l->ch, e);
    if (l->attempt_ns)
        env_work(e, l->attempt_ns);
    bool free_ = false;
    return atomic_compare_exchange_strong_explicit(&l->flag, &free_, true, memory_order_acquire,
                                                   memory_order_relaxed);
}

void lock_try_release(struct lock_try *l, struct env *e)
{
    if (l->kind == TRY_CHAN)
        (void)lock_tokchan_put(l->ch, e); /* the holder's put cannot find a token */
    else
        atomic_store_explicit(&l->flag, false, memory_order_release);
}

const struct lock_tokchan *lock_try_channel(const struct lock_try *l)
{
    return l->ch;
}

bool lock_try_held(const struct lock_try *l)
{
    if (l->kind == TRY_CAS)
        return atomic_load_explicit(&l->flag, memory_order_relaxed);
    return lock_tokchan_tokens(l->ch) == 0; /* held while its token is out */
}

bool lock_try_check(const struct lock_try *l)
{
    if (!l)
        return false;
    if (l->kind == TRY_CHAN)
        return l->ch && lock_tokchan_check(l->ch);
    return l->attempt_ns >= 0;
}

/* ---- Spinning ---------------------------------------------------------------------- */

const char *const lock_spin_names[] = {LOCK_SPIN_NAMES, NULL};

const char *lock_spin_name(enum lock_spin_kind k)
{
    return names_name(lock_spin_names, (int)k);
}

int lock_spin_parse(const char *name, enum lock_spin_kind *out)
{
    int v = names_value(lock_spin_names, name);
    if (v < 0)
        return v;
    *out = (enum lock_spin_kind)v;
    return 0;
}

bool lock_spin_acquire(struct lock_try *l, struct env *e, const struct lock_spin *p,
                       int64_t deadline, struct lock_spin_stats *st)
{
    struct lock_spin_stats s = {0};
    int64_t ceiling = p->base_ns > 0 ? p->base_ns : 1;
    bool ok;
    for (;;) {
        s.attempts++;
        if ((ok = lock_try_acquire(l, e)))
            break;
        bool look = p->kind == LOCK_SPIN_BACKOFF || s.attempts % 16 == 0;
        if (deadline >= 0 && look && env_mono(e) >= deadline)
            break;
        if (p->kind == LOCK_SPIN_YIELD) {
            env_yield(e);
        } else if (p->kind == LOCK_SPIN_BACKOFF) {
            int64_t d = 1 + (int64_t)env_rand_below(e, (uint64_t)ceiling);
            s.slept_ns += d;
            env_sleep(e, d);
            if (ceiling < p->cap_ns)
                ceiling = ceiling > p->cap_ns / 2 ? p->cap_ns : ceiling * 2;
        }
    }
    if (st)
        *st = s;
    return ok;
}

/* actor.c - coroutine actors: their stacks and the switch between them and the loop.
 *
 * Stacks are carved from mmap'd slabs with MAP_NORESERVE, so memory is committed only
 * as a stack is touched (an actor that sleeps in a shallow call chain costs one or two
 * pages). Each stack gets a PROT_NONE guard page below it while the process's budget of
 * memory mappings allows (every guard splits a mapping, and Linux caps a process at
 * vm.max_map_count, 65530 by default); past that, stacks come without a guard and rely on
 * a canary word at their bottom, checked at every switch back to the loop.
 *
 * The switch is sim__ctx_switch (switch_x86_64.S): no system call on the hot path. Other
 * architectures fall back to ucontext, which costs a sigprocmask per switch. */
#include "sim/internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) || defined(SIM_USE_UCONTEXT)
#include <ucontext.h>
#define SIM__UCONTEXT 1
#else
#define SIM__UCONTEXT 0
void sim__ctx_switch(void **save_sp, void *load_sp);
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SIM__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM__ASAN 1
#endif
#endif
#ifndef SIM__ASAN
#define SIM__ASAN 0
#endif

#if SIM__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

#define STACK_CANARY 0x5ca1ab1edeadbeefULL
#define STACKS_PER_SLAB 16

struct sim__stack {
    struct sim__stack *next_free;
    unsigned char *lo; /* lowest usable byte: the canary lives here when unguarded */
    size_t size;       /* usable bytes, from lo up to this struct */
    bool guarded;      /* a PROT_NONE page lies below lo */
    struct sim_actor *actor; /* the actor using this stack lives here, above the frames */
#if SIM__UCONTEXT
    ucontext_t uc;
#endif
};

struct slab {
    struct slab *next;
    void *base;
    size_t len;
    int guards;
};

struct sim__stackpool {
    size_t stack_size, page;
    struct sim__stack *free;
    struct slab *slabs;
    uint64_t guarded, unguarded;
};

/* Guard pages in use by every pool of the process, against the mapping budget. */
static atomic_long guards_in_use;
static long guard_budget = -1;

static long read_guard_budget(void)
{
    long max = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 65530;
        fclose(f);
    }
    /* Each guard costs about two mappings; leave room for everything else. */
    long budget = max / 2 - 4096;
    return budget > 0 ? budget : 0;
}

struct sim__stackpool *sim__stackpool_create(size_t stack_size)
{
    struct sim__stackpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->page = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < 16 * 1024)
        stack_size = 16 * 1024;
    p->stack_size = (stack_size + p->page - 1) / p->page * p->page;
    if (guard_budget < 0)
        guard_budget = read_guard_budget();
    return p;
}

void sim__stackpool_destroy(struct sim__stackpool *p)
{
    if (!p)
        return;
    for (struct slab *s = p->slabs, *next; s; s = next) {
        next = s->next;
        munmap(s->base, s->len);
        atomic_fetch_sub(&guards_in_use, s->guards);
        free(s);
    }
    free(p);
}

uint64_t sim__stackpool_guarded(const struct sim__stackpool *p)
{
    return p->guarded;
}

uint64_t sim__stackpool_unguarded(const struct sim__stackpool *p)
{
    return p->unguarded;
}

static int grow(struct sim__stackpool *p)
{
    size_t each = p->page + p->stack_size; /* guard page, then the stack */
    size_t len = each * STACKS_PER_SLAB;
    struct slab *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        free(s);
        return -ENOMEM;
    }
    s->base = base;
    s->len = len;
    s->next = p->slabs;
    p->slabs = s;
    bool guard = atomic_fetch_add(&guards_in_use, STACKS_PER_SLAB) + STACKS_PER_SLAB <=
                 guard_budget;
    if (!guard)
        atomic_fetch_sub(&guards_in_use, STACKS_PER_SLAB);
    for (int i = STACKS_PER_SLAB - 1; i >= 0; i--) {
        unsigned char *region = (unsigned char *)base + (size_t)i * each;
        bool guarded = guard && mprotect(region, p->page, PROT_NONE) == 0;
        if (guarded) {
            s->guards++;
            p->guarded++;
        } else {
            p->unguarded++;
        }
        unsigned char *top = region + each;
        struct sim__stack *st = (struct sim__stack *)(void *)(top - sizeof(*st));
        st = (struct sim__stack *)(void *)((uintptr_t)st & ~(uintptr_t)63);
        st->guarded = guarded;
        st->lo = region + p->page;
        st->actor = (struct sim_actor *)(void *)(((uintptr_t)st - sizeof(struct sim_actor)) &
                                                 ~(uintptr_t)63);
        st->size = (size_t)((unsigned char *)st->actor - st->lo);
        st->next_free = p->free;
        p->free = st;
    }
    if (guard && s->guards < STACKS_PER_SLAB)
        atomic_fetch_sub(&guards_in_use, STACKS_PER_SLAB - s->guards);
    return 0;
}

void sim__prefetch(const struct sim *sim, const struct evq_node *n)
{
    const struct sim__stackpool *p = sim->stacks;
    const char *a = (const char *)n - offsetof(struct sim_actor, timer.q);
    const char *top = (const char *)(((uintptr_t)a + sizeof(struct sim_actor) + p->page - 1) &
                                     ~(uintptr_t)(p->page - 1));
    for (int k = 0; k < 3; k++)
        __builtin_prefetch(a + 64 * k, 1); /* the fields a resumption uses */
    __builtin_prefetch(top - 64, 0);       /* struct sim__stack */
    for (int k = 1; k <= 6; k++)
        __builtin_prefetch(a - 64 * k, 1); /* the frames it suspended in */
    if (p->unguarded)
        __builtin_prefetch(top - p->stack_size, 0); /* the canary (lo) */
}

static _Thread_local struct sim *tls_sim;

/* A guarded stack faults on overflow; an unguarded one is checked by its canary, which
 * costs the page it lives on (so guarded stacks do not write it at all). */
bool sim__stack_intact(const struct sim_actor *a)
{
    if (a->stack->guarded)
        return true;
    uint64_t c;
    memcpy(&c, a->stack->lo, sizeof(c));
    return c == STACK_CANARY;
}

static void asan_start(void **save, const void *bottom, size_t size)
{
#if SIM__ASAN
    __sanitizer_start_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

static void asan_finish(void *save, const void **bottom, size_t *size)
{
#if SIM__ASAN
    __sanitizer_finish_switch_fiber(save, bottom, size);
#else
    (void)save, (void)bottom, (void)size;
#endif
}

/* First code an actor runs: the primed stack "returns" here. */
static _Noreturn void actor_entry(void)
{
    struct sim *sim = tls_sim;
    struct sim_actor *a = sim->current;
    asan_finish(NULL, &sim->sched_stack_bottom, &sim->sched_stack_size);
    a->fn(&a->env, a->arg);
    sim__exit_current(a);
}

struct sim_actor *sim__actor_new(struct sim *sim)
{
    struct sim__stackpool *p = sim->stacks;
    if (!p->free && grow(p) < 0)
        return NULL;
    struct sim__stack *st = p->free;
    p->free = st->next_free;
#if SIM__ASAN
    /* A reused stack still carries the poisoned redzones of its last owner's frames. */
    __asan_unpoison_memory_region(st->lo, st->size + sizeof(struct sim_actor));
#endif
    struct sim_actor *a = st->actor;
    memset(a, 0, sizeof(*a));
    a->stack = st;
    if (!st->guarded) {
        uint64_t canary = STACK_CANARY;
        memcpy(st->lo, &canary, sizeof(canary));
    }
    return a;
}

int sim__actor_prime(struct sim_actor *a)
{
    struct sim__stack *st = a->stack;
#if SIM__UCONTEXT
    if (getcontext(&st->uc) < 0)
        return -ENOMEM;
    st->uc.uc_stack.ss_sp = st->lo;
    st->uc.uc_stack.ss_size = st->size;
    st->uc.uc_link = NULL;
    makecontext(&st->uc, (void (*)(void))actor_entry, 0);
#else
    uint64_t *top = (uint64_t *)(void *)(st->lo + st->size);
    top = (uint64_t *)(void *)((uintptr_t)top & ~(uintptr_t)15);
    *--top = 0;                          /* actor_entry's (never used) return address */
    *--top = (uint64_t)(uintptr_t)actor_entry;
    for (int i = 0; i < 6; i++)
        *--top = 0;                      /* rbp rbx r12 r13 r14 r15 */
    a->sp = top;
#endif
    return 0;
}

void sim__actor_free(struct sim *sim, struct sim_actor *a)
{
    struct sim__stack *st = a->stack;
    st->next_free = sim->stacks->free;
    sim->stacks->free = st;
}

#if SIM__UCONTEXT
static _Thread_local ucontext_t tls_sched_uc;
#endif

void sim__resume(struct sim *sim, struct sim_actor *a)
{
    tls_sim = sim;
    sim->current = a;
    sim->stats.switches++;
    void *fake = NULL;
    asan_start(&fake, a->stack->lo, a->stack->size);
#if SIM__UCONTEXT
    swapcontext(&tls_sched_uc, &a->stack->uc);
#else
    sim__ctx_switch(&sim->sched_sp, a->sp);
#endif
    asan_finish(fake, NULL, NULL);
    sim->current = NULL;
    if (a->state != SIM__DEAD && !sim__stack_intact(a))
        sim__fail(sim, SIM_STOP_ERROR,
                  "stack overflow in actor '%s' (stack %zu bytes; raise world.stack)",
                  a->name, a->stack->size);
}

void sim__suspend(struct sim_actor *a)
{
    struct sim *sim = a->sim;
    asan_start(&a->asan_fake, sim->sched_stack_bottom, sim->sched_stack_size);
#if SIM__UCONTEXT
    swapcontext(&a->stack->uc, &tls_sched_uc);
#else
    sim__ctx_switch(&a->sp, sim->sched_sp);
#endif
    asan_finish(a->asan_fake, &sim->sched_stack_bottom, &sim->sched_stack_size);
}

_Noreturn void sim__exit_current(struct sim_actor *a)
{
    struct sim *sim = a->sim;
    a->state = SIM__DEAD;
    /* NULL: this fiber is done, ASan may free its fake stack. */
    asan_start(NULL, sim->sched_stack_bottom, sim->sched_stack_size);
#if SIM__UCONTEXT
    setcontext(&tls_sched_uc);
#else
    void *dead_sp;
    sim__ctx_switch(&dead_sp, sim->sched_sp);
#endif
    abort(); /* not reached: the loop never resumes a dead actor */
}

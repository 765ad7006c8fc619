/* actor.c - coroutine actors: their stacks and the switch between them and the loop.
 *
 * Stacks are carved from mmap'd slabs with MAP_NORESERVE, so memory is committed only
 * as a stack is touched (an actor that sleeps in a shallow call chain costs one or two
 * pages). Each stack gets a PROT_NONE guard page below it while the process's budget of
 * memory mappings allows (every guard splits a mapping, and Linux caps a process at
 * vm.max_map_count, 65530 by default); past that, stacks come without a guard and rely on
 * a canary word at their bottom, checked at every switch back to the loop, with the page
 * the guard would have taken left below as a cushion.
 *
 * A stack_size below the page asks for packed stacks instead: slots of that size side by
 * side in 2 MiB slabs, no guard, eight canary words at the bottom of each slot (right above
 * the top of the slot below, where another actor lives). A sleeping actor then costs its
 * slot, not a page: a million of them fit in about 1.5 GiB. An overflow that reaches the
 * canary words, or leaves the actor suspended below them, stops the process at the next
 * switch back to the loop (abort with a message), since the actor below may be damaged.
 * With cfg.stack_watermark every stack is filled with a pattern when it is handed out and
 * read back when its actor ends: sim_stats' stack_used_max is how deep any frames went.
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
#define STACK_UNUSED 0xa5a5a5a5a5a5a5a5ULL /* what a watermarked stack is filled with */
#define STACKS_PER_SLAB 16
/* Packed stacks: their red zone's words, the slab they are carved from. */
#define PACKED_CANARY_WORDS 8
#define PACKED_SLAB_BYTES (2u << 20)
/* The least room a packed stack leaves its frames. */
#define PACKED_MIN_FRAMES 256

struct sim__stack {
    struct sim__stack *next_free;
    unsigned char *lo;          /* lowest byte: the canary words live here when unguarded */
    size_t size;                /* bytes, from lo up to the actor */
    unsigned char canary_words; /* 0 (a guard page lies below lo), 1, or 8 (packed) */
    bool in_use;
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
    size_t stack_size; /* bytes per stack: a multiple of the page, or of 64 when packed */
    size_t page;
    bool packed;              /* stack_size < page: several stacks per page, no guard pages */
    bool watermark;           /* fill each stack with STACK_UNUSED to measure how deep it went */
    ptrdiff_t st_off, lo_off; /* from any actor to its struct sim__stack, to its lo */
    size_t frame_bytes;       /* room for frames, above the canary words */
    size_t used_max;          /* watermark: the deepest an ended actor's frames went */
    struct sim__stack *free;
    struct slab *slabs;
    uint64_t guarded, unguarded, npacked, in_use;
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

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Lay out a stack in [lo, top): its struct sim__stack at the top, the actor below it, the
 * frames below the actor, the canary words (if any) at lo. */
static struct sim__stack *carve(unsigned char *lo, unsigned char *top, int canary_words)
{
    struct sim__stack *st = (struct sim__stack *)(void *)(top - sizeof(*st));
    st = (struct sim__stack *)(void *)((uintptr_t)st & ~(uintptr_t)63);
    st->lo = lo;
    st->canary_words = (unsigned char)canary_words;
    st->in_use = false;
    st->actor =
        (struct sim_actor *)(void *)(((uintptr_t)st - sizeof(struct sim_actor)) & ~(uintptr_t)63);
    st->size = (size_t)((unsigned char *)st->actor - lo);
    return st;
}

struct sim__stackpool *sim__stackpool_create(size_t stack_size, bool watermark)
{
    struct sim__stackpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->page = (size_t)sysconf(_SC_PAGESIZE);
    p->watermark = watermark;
    /* The size of the actor and the struct sim__stack above it, as carve lays them out. */
    size_t header =
        round_up(sizeof(struct sim__stack), 64) + round_up(sizeof(struct sim_actor), 64);
    /* Under AddressSanitizer frames carry redzones and may move to fake stacks: a stack
     * smaller than a page has no room for them, so such builds keep to the page layout. */
    if (stack_size < p->page && !SIM__ASAN) {
        p->packed = true;
        size_t least = header + 8 * PACKED_CANARY_WORDS + PACKED_MIN_FRAMES;
        p->stack_size = round_up(stack_size > least ? stack_size : least, 64);
    } else {
        if (stack_size < 16 * 1024)
            stack_size = 16 * 1024;
        p->stack_size = round_up(stack_size, p->page);
    }
    /* Every stack's top is 64-byte aligned, so carve puts its struct sim__stack and its
     * actor at the same offsets in every one. */
    size_t size = p->stack_size - header;
    p->st_off = (ptrdiff_t)round_up(sizeof(struct sim_actor), 64);
    p->lo_off = -(ptrdiff_t)size;
    p->frame_bytes = size - 8 * (p->packed ? PACKED_CANARY_WORDS : 1);
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

void sim__stackpool_stats(const struct sim__stackpool *p, struct sim_stats *out)
{
    out->guarded_stacks = p->guarded;
    out->unguarded_stacks = p->unguarded;
    out->packed_stacks = p->npacked;
    out->stack_bytes = p->stack_size;
    out->stack_frame_bytes = p->frame_bytes;
    out->stack_used_max = p->used_max;
}

static struct slab *slab_map(struct sim__stackpool *p, size_t len)
{
    struct slab *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    void *base =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) {
        free(s);
        return NULL;
    }
    s->base = base;
    s->len = len;
    s->next = p->slabs;
    p->slabs = s;
    return s;
}

/* Several stacks per page, none guarded: each has PACKED_CANARY_WORDS canary words at
 * its lowest bytes, just above the top of the stack below it (an actor and its struct
 * sim__stack), checked at every switch back to the loop. */
static int grow_packed(struct sim__stackpool *p)
{
    size_t n = PACKED_SLAB_BYTES / p->stack_size;
    struct slab *s = slab_map(p, n * p->stack_size);
    if (!s)
        return -ENOMEM;
    for (size_t i = n; i-- > 0;) {
        unsigned char *lo = (unsigned char *)s->base + i * p->stack_size;
        struct sim__stack *st = carve(lo, lo + p->stack_size, PACKED_CANARY_WORDS);
        st->next_free = p->free;
        p->free = st;
    }
    p->npacked += n;
    return 0;
}

static int grow(struct sim__stackpool *p)
{
    if (p->packed)
        return grow_packed(p);
    size_t each = p->page + p->stack_size; /* guard page, then the stack */
    struct slab *s = slab_map(p, each * STACKS_PER_SLAB);
    if (!s)
        return -ENOMEM;
    bool guard =
        atomic_fetch_add(&guards_in_use, STACKS_PER_SLAB) + STACKS_PER_SLAB <= guard_budget;
    if (!guard)
        atomic_fetch_sub(&guards_in_use, STACKS_PER_SLAB);
    for (int i = STACKS_PER_SLAB - 1; i >= 0; i--) {
        unsigned char *region = (unsigned char *)s->base + (size_t)i * each;
        bool guarded = guard && mprotect(region, p->page, PROT_NONE) == 0;
        if (guarded) {
            s->guards++;
            p->guarded++;
        } else {
            p->unguarded++;
        }
        struct sim__stack *st = carve(region + p->page, region + each, guarded ? 0 : 1);
        st->next_free = p->free;
        p->free = st;
    }
    if (guard && s->guards < STACKS_PER_SLAB)
        atomic_fetch_sub(&guards_in_use, STACKS_PER_SLAB - s->guards);
    return 0;
}

/* A slot's bytes in its slab: the stack, after its guard page unless packed. */
static size_t slot_bytes(const struct sim__stackpool *p)
{
    return p->stack_size + (p->packed ? 0 : p->page);
}

/* The lowest byte (lo) of slot i of slab s. */
static unsigned char *slot_lo(const struct sim__stackpool *p, const struct slab *s, size_t i)
{
    return (unsigned char *)s->base + i * slot_bytes(p) + (p->packed ? 0 : p->page);
}

/* Where carve puts the struct sim__stack of the stack whose lowest byte is lo. */
static const struct sim__stack *header_at(const struct sim__stackpool *p,
                                          const unsigned char *lo)
{
    return (const struct sim__stack *)(const void *)(lo - p->lo_off + p->st_off);
}

/* Where the stack of the actor at 'a' would be carved in its slab, if it is one of the
 * pool's: the struct sim__stack of the slot holding 'st', or NULL. */
static const struct sim__stack *slot_of(const struct sim__stackpool *p, const struct slab *s,
                                        const struct sim__stack *st)
{
    uintptr_t base = (uintptr_t)s->base, at = (uintptr_t)st;
    if (at < base || at >= base + s->len)
        return NULL;
    const struct sim__stack *want = header_at(p, slot_lo(p, s, (at - base) / slot_bytes(p)));
    return want == st ? want : NULL;
}

static bool canary_intact(const struct sim__stack *st)
{
    uint64_t diff = 0, c;
    if (st->canary_words == PACKED_CANARY_WORDS) { /* one cache line, compared at once */
        for (int i = 0; i < PACKED_CANARY_WORDS; i++) {
            memcpy(&c, st->lo + 8 * i, sizeof(c));
            diff |= c ^ STACK_CANARY;
        }
    } else if (st->canary_words) {
        memcpy(&c, st->lo, sizeof(c));
        diff = c ^ STACK_CANARY;
    }
    return diff == 0;
}

const char *sim__stackpool_check(const struct sim__stackpool *p)
{
    uint64_t total = 0, in_use = 0, nfree = 0;
    size_t each = slot_bytes(p);
    for (const struct slab *s = p->slabs; s; s = s->next) {
        if (s->len % each)
            return "a slab is not a whole number of stacks";
        for (size_t i = 0; i < s->len / each; i++) {
            unsigned char *lo = slot_lo(p, s, i);
            const struct sim__stack *st = header_at(p, lo);
            total++;
            if (st->lo != lo || (unsigned char *)st->actor != lo - p->lo_off ||
                st->size != (size_t)(-p->lo_off))
                return "a stack's header disagrees with the pool's layout";
            if (st->size - 8 * (size_t)st->canary_words < p->frame_bytes)
                return "a stack has less room for frames than the pool says";
            if (p->packed != (st->canary_words == PACKED_CANARY_WORDS))
                return "a stack's canary words disagree with the pool's layout";
            if (!st->in_use)
                continue;
            in_use++;
            if (st->actor->stack != st)
                return "a stack in use holds an actor that points to another stack";
            if (!canary_intact(st))
                return "a stack in use has a damaged canary";
        }
    }
    for (const struct sim__stack *st = p->free; st; st = st->next_free) {
        if (++nfree > total)
            return "the free list is longer than the pool (a cycle)";
        if (st->in_use)
            return "a stack in use is on the free list";
        const struct sim__stack *found = NULL;
        for (const struct slab *s = p->slabs; s && !found; s = s->next)
            found = slot_of(p, s, st);
        if (!found)
            return "the free list holds something that is no stack of the pool";
    }
    if (in_use != p->in_use)
        return "the count of stacks in use is wrong";
    if (nfree + in_use != total)
        return "a stack is neither free nor in use (lost)";
    if (total != p->guarded + p->unguarded + p->npacked)
        return "the counts of stacks by kind do not add up";
    return NULL;
}

void sim__prefetch(const struct sim *sim, const struct evq_node *n)
{
    const struct sim__stackpool *p = sim->stacks;
    const char *a = (const char *)n - offsetof(struct sim_actor, timer.q);
    for (int k = 0; k < 3; k++)
        __builtin_prefetch(a + 64 * k, 1); /* the fields a resumption uses */
    __builtin_prefetch(a + p->st_off, 0);  /* struct sim__stack */
    for (int k = 1; k <= 6; k++)
        __builtin_prefetch(a - 64 * k, 1); /* the frames it suspended in */
    if (p->unguarded || p->packed)
        __builtin_prefetch(a + p->lo_off, 0); /* the canary (lo) */
}

static _Thread_local struct sim *tls_sim;

/* A guarded stack faults on overflow; an unguarded one is checked by its canary words
 * (which cost the page they live on, so guarded stacks do not write them at all) and by
 * where it was suspended: an actor whose stack pointer went below the canary words
 * overflowed even when the frame that did it stepped over them without writing them. */
static bool stack_intact(const struct sim_actor *a)
{
    const struct sim__stack *st = a->stack;
    if (!st->canary_words)
        return true;
#if !SIM__UCONTEXT
    if (a->state != SIM__DEAD && (unsigned char *)a->sp < st->lo + 8 * st->canary_words)
        return false;
#endif
    return canary_intact(st);
}

/* A packed stack lies just above another actor's: once its canary words are damaged,
 * that actor (its struct, its frames) may be too, so nothing of the world can be trusted
 * any more, not even to free it. Say what happened and stop the process. */
static _Noreturn void packed_overflow(const struct sim__stackpool *p, const struct sim_actor *a)
{
    fprintf(stderr,
            "sim: stack overflow in actor '%s': its stack of %zu bytes (%zu for frames) is "
            "packed without a guard page, and its frames went below it, into the stack of "
            "another actor; the process stops here (abort). Give the world a larger "
            "stack_size.\n",
            a->name ? a->name : "?", p->stack_size, p->frame_bytes);
    abort();
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
    st->in_use = true;
    p->in_use++;
#if SIM__ASAN
    /* A reused stack still carries the poisoned redzones of its last owner's frames. */
    __asan_unpoison_memory_region(st->lo, st->size + sizeof(struct sim_actor));
#endif
    struct sim_actor *a = st->actor;
    memset(a, 0, sizeof(*a));
    a->stack = st;
    uint64_t word = STACK_CANARY;
    for (int i = 0; i < st->canary_words; i++)
        memcpy(st->lo + 8 * i, &word, sizeof(word));
    if (p->watermark) {
        word = STACK_UNUSED;
        for (unsigned char *w = st->lo + 8 * st->canary_words; w < (unsigned char *)a; w += 8)
            memcpy(w, &word, sizeof(word));
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

/* How deep the frames of a watermarked stack went: from the actor down to the lowest
 * word that no longer holds STACK_UNUSED. */
static size_t stack_used(const struct sim__stack *st)
{
    unsigned char *w = st->lo + 8 * st->canary_words;
#if SIM__ASAN
    __asan_unpoison_memory_region(w, (size_t)((unsigned char *)st->actor - w));
#endif
    for (; w < (unsigned char *)st->actor; w += 8) {
        uint64_t x;
        memcpy(&x, w, sizeof(x));
        if (x != STACK_UNUSED)
            break;
    }
    return (size_t)((unsigned char *)st->actor - w);
}

void sim__actor_free(struct sim *sim, struct sim_actor *a)
{
    struct sim__stackpool *p = sim->stacks;
    struct sim__stack *st = a->stack;
    if (p->watermark) {
        size_t used = stack_used(st);
        if (used > p->used_max)
            p->used_max = used;
    }
    st->in_use = false;
    p->in_use--;
    st->next_free = p->free;
    p->free = st;
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
    if (!stack_intact(a)) {
        if (sim->stacks->packed)
            packed_overflow(sim->stacks, a);
        sim__fail(sim, SIM_STOP_ERROR,
                  "stack overflow in actor '%s' (stack %zu bytes; raise world.stack)",
                  a->name, a->stack->size);
    }
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

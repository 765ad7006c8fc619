/* The pure parts of the delayed-task cluster's firing: heartbeat timeouts, and the
 * executor's fencing and idempotency records against a slow list of every firing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "delay/detector.h"
#include "delay/exec.h"
#include "rng/rng.h"

Test(detector, suspects_a_node_only_past_the_timeout)
{
    struct fd d;
    cr_assert_eq(fd_init(&d, 3, 100, 1000), 0);
    cr_assert_eq(fd_suspects(&d, 1100), 0); /* exactly the timeout: not yet */
    cr_assert_eq(fd_next_change(&d, 1000), 1101);
    cr_assert_eq(fd_suspects(&d, 1101), 0x7);
    fd_heard(&d, 1, 1050);
    fd_heard(&d, 1, 1040); /* out of order: ignored */
    fd_heard(&d, 9, 1050); /* no such node */
    cr_assert_eq(fd_suspects(&d, 1101), 0x5);
    cr_assert_eq(fd_next_change(&d, 1101), 1151);
    cr_assert_eq(fd_suspects(&d, 1151), 0x7);
    cr_assert_eq(fd_next_change(&d, 1151), INT64_MAX);
    cr_assert(fd_check(&d, 1151));
    cr_assert_not(fd_check(&d, 1049));
    cr_assert_eq(fd_init(&d, 0, 100, 0), -EINVAL);
    cr_assert_eq(fd_init(&d, 3, 0, 0), -EINVAL);
}

/* The slow executor: a list of every key with its count, searched from the start. */
struct slow {
    uint32_t task[4000];
    int64_t sched[4000];
    uint32_t times[4000];
    uint64_t token[64];
    int n;
};

static int slow_fire(struct slow *s, const struct dx_config *c, uint32_t task, int64_t sched,
                     uint64_t token)
{
    if (c->fencing && token < s->token[task])
        return DX_FENCED;
    if (token > s->token[task])
        s->token[task] = token;
    int i = 0;
    while (i < s->n && !(s->task[i] == task && s->sched[i] == sched))
        i++;
    if (i == s->n) {
        s->task[i] = task;
        s->sched[i] = sched;
        s->times[i] = 0;
        s->n++;
    }
    if (s->times[i] && c->idempotent)
        return DX_IGNORED;
    s->times[i]++;
    return DX_EXECUTED;
}

Test(exec, verdicts_and_counts_match_a_list_of_every_firing)
{
    struct rng r;
    rng_seed(&r, 5);
    for (int cfgi = 0; cfgi < 4; cfgi++) {
        struct dx_config c = {.ntasks = 64, .fencing = cfgi & 1, .idempotent = cfgi & 2};
        struct dx *x = dx_create(&c);
        struct slow *s = calloc(1, sizeof(*s));
        uint64_t dup = 0, stale = 0;
        for (int i = 0; i < 3000; i++) {
            uint32_t task = (uint32_t)rng_below(&r, 64);
            int64_t sched = (int64_t)rng_below(&r, 40) * 1000;
            uint64_t token = rng_below(&r, 6);
            bool seen = false;
            for (int k = 0; k < s->n; k++)
                seen |= s->task[k] == task && s->sched[k] == sched && s->times[k];
            bool is_stale = token < s->token[task];
            int want = slow_fire(s, &c, task, sched, token);
            int got = dx_fire(x, task, sched, token);
            cr_assert_eq(got, want, "firing %d (config %d)", i, cfgi);
            dup += want != DX_FENCED && seen;
            stale += want == DX_EXECUTED && is_stale;
            if (i % 97 == 0)
                cr_assert(dx_check(x));
        }
        cr_assert(dx_check(x));
        for (int k = 0; k < s->n; k++)
            cr_assert_eq(dx_times(x, s->task[k], s->sched[k]), s->times[k]);
        struct dx_stats st;
        dx_get_stats(x, &st);
        cr_assert_eq(st.fires, 3000);
        cr_assert_eq(st.duplicate_fires, dup);
        cr_assert_eq(st.stale_executed, stale);
        cr_assert_eq(st.duplicate_effects, c.idempotent ? 0 : dup);
        cr_assert(c.fencing ? st.fenced > 0 && !stale : !st.fenced && stale > 0);
        cr_assert_eq(dx_fire(x, 64, 0, 0), -EINVAL);
        dx_destroy(x);
        free(s);
    }
}

/* Around a failover: the old primary (token 1) fired a key before it was deposed; the new
 * one (token 2) fires it again, then the old one fires the next. */
Test(exec, fencing_stops_the_deposed_primary_and_the_key_stops_the_refire)
{
    for (int cfgi = 0; cfgi < 4; cfgi++) {
        struct dx_config c = {.ntasks = 1, .fencing = cfgi & 1, .idempotent = cfgi & 2};
        struct dx *x = dx_create(&c);
        cr_assert_eq(dx_fire(x, 0, 100, 1), DX_EXECUTED);
        cr_assert_eq(dx_fire(x, 0, 100, 2), c.idempotent ? DX_IGNORED : DX_EXECUTED);
        cr_assert_eq(dx_fire(x, 0, 200, 1), c.fencing ? DX_FENCED : DX_EXECUTED);
        cr_assert_eq(dx_fire(x, 0, 200, 2), c.fencing      ? DX_EXECUTED
                                            : c.idempotent ? DX_IGNORED
                                                           : DX_EXECUTED);
        cr_assert_eq(dx_times(x, 0, 100), c.idempotent ? 1 : 2);
        cr_assert_eq(dx_times(x, 0, 200), c.idempotent || c.fencing ? 1 : 2);
        cr_assert_eq(dx_token(x, 0), 2);
        cr_assert(dx_check(x));
        dx_destroy(x);
    }
}

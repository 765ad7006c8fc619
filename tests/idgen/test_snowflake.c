/* test_snowflake.c - the snowflake layout and generators against scripted clocks, a slow
 * reference model written straight from the header's contract, and threads. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "idgen/snowflake.h"
#include "rng/rng.h"

#define MS 1000000LL
/* A clock reading well after the default epoch, on a unit boundary. */
#define T0 (SF_TWITTER_EPOCH_NS + 1000000000LL * MS)

static struct sf_config cfg_with(enum sf_policy p, enum sf_full f)
{
    struct sf_config c = {
        .layout = sf_layout_default,
        .dc = 3,
        .worker = 17,
        .policy = p,
        .on_full = f,
        .wait_max_ns = 10 * MS,
        .borrow_max_ns = 5 * MS,
    };
    return c;
}

static struct sf_gen *gen_with(enum sf_policy p, enum sf_full f)
{
    struct sf_config c = cfg_with(p, f);
    struct sf_gen *g = sf_gen_create(&c, SF_SYNC_NONE);
    cr_assert_not_null(g);
    return g;
}

static struct sf_fields fields(const struct sf_gen *g, uint64_t id)
{
    struct sf_fields f;
    cr_assert_eq(sf_decompose(&sf_gen_config(g)->layout, id, &f), 0);
    return f;
}

/* The unit a clock reading falls in, by plain division. */
static uint64_t unit_of(const struct sf_layout *l, int64_t now)
{
    return (uint64_t)((now - l->epoch_ns) / l->unit_ns);
}

/* ---- Layout ---------------------------------------------------------------------- */

Test(sf, rejects_layouts_not_summing_to_63)
{
    char err[200];
    struct sf_layout l = sf_layout_default;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), 0);
    l.seq_bits = 13; /* 64 bits: the sign bit would be used */
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "64 bits"), "%s", err);
    l.seq_bits = 11;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), -EINVAL);
    l = sf_layout_default;
    l.seq_bits = 0;
    l.time_bits = 53;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), -EINVAL);
    l = sf_layout_default;
    l.unit_ns = 0;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), -EINVAL);
    l = sf_layout_default;
    l.dc_bits = 0;
    l.worker_bits = 10; /* 0-bit fields are fine */
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), 0);
}

Test(sf, rejects_an_epoch_in_the_future)
{
    char err[200];
    struct sf_layout l = sf_layout_default;
    l.epoch_ns = T0 + 1;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "future"), "%s", err);
    l.epoch_ns = T0;
    cr_assert_eq(sf_layout_check(&l, T0, err, sizeof(err)), 0);
}

Test(sf, rejects_ids_too_wide_for_their_field)
{
    char err[200];
    struct sf_config c = cfg_with(SF_REFUSE, SF_FULL_WAIT);
    c.worker = 40; /* would read as worker 8 of datacenter dc + 1 if it spilled */
    cr_assert_eq(sf_config_check(&c, T0, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "worker id 40"), "%s", err);
    cr_assert_null(sf_gen_create(&c, SF_SYNC_NONE));
    c.worker = 31;
    c.dc = 32;
    cr_assert_eq(sf_config_check(&c, T0, err, sizeof(err)), -EINVAL);
    cr_assert_not_null(strstr(err, "datacenter id 32"), "%s", err);
    c.dc = 31;
    cr_assert_eq(sf_config_check(&c, T0, err, sizeof(err)), 0);
    c.wait_max_ns = -1;
    cr_assert_eq(sf_config_check(&c, T0, err, sizeof(err)), -EINVAL);

    const struct sf_layout *l = &sf_layout_default;
    uint64_t id = 7;
    cr_assert_eq(sf_compose(l, 0, 0, 32, 0, &id), -ERANGE);
    cr_assert_eq(sf_compose(l, 0, 32, 0, 0, &id), -ERANGE);
    cr_assert_eq(sf_compose(l, 0, 0, 0, 4096, &id), -ERANGE);
    cr_assert_eq(sf_compose(l, UINT64_C(1) << 41, 0, 0, 0, &id), -ERANGE);
    cr_assert_eq(id, 7, "a refused compose must not write");
    struct sf_fields f;
    cr_assert_eq(sf_decompose(l, UINT64_C(1) << 63, &f), -ERANGE);
}

/* Each field at its maximum with the others zero decodes to exactly that field, and
 * the four masks tile bits 0..62. */
Test(sf, fields_are_isolated)
{
    struct rng r;
    rng_seed(&r, 4);
    for (int iter = 0; iter < 2000; iter++) {
        struct sf_layout l = sf_layout_default;
        l.seq_bits = 1 + (int)rng_below(&r, 30);
        l.dc_bits = (int)rng_below(&r, 10);
        l.worker_bits = (int)rng_below(&r, 10);
        l.time_bits = 63 - l.seq_bits - l.dc_bits - l.worker_bits;
        cr_assert_eq(sf_layout_check(&l, T0, NULL, 0), 0);
        uint64_t max[4] = {sf_layout_max_ts(&l), sf_layout_max_dc(&l), sf_layout_max_worker(&l),
                           sf_layout_max_seq(&l)};
        uint64_t ids[4], all = 0;
        for (int k = 0; k < 4; k++) {
            uint64_t v[4] = {0, 0, 0, 0};
            v[k] = max[k];
            cr_assert_eq(sf_compose(&l, v[0], v[1], v[2], v[3], &ids[k]), 0);
            struct sf_fields f;
            /* A full time field may be past 2262 in Unix ns: the fields are still set. */
            int drc = sf_decompose(&l, ids[k], &f);
            cr_assert(drc == 0 || (k == 0 && drc == -EOVERFLOW && f.time_ns == INT64_MAX),
                      "decompose: %d", drc);
            cr_assert_eq(f.ts, v[0]);
            cr_assert_eq(f.dc, v[1]);
            cr_assert_eq(f.worker, v[2]);
            cr_assert_eq(f.seq, v[3]);
            cr_assert_eq(all & ids[k], 0, "fields overlap");
            all |= ids[k];
        }
        cr_assert_eq(all, (UINT64_C(1) << 63) - 1, "fields leave a gap");
    }
}

Test(sf, compose_decompose_round_trip)
{
    struct rng r;
    rng_seed(&r, 5);
    const struct sf_layout *l = &sf_layout_default;
    for (int i = 0; i < 100000; i++) {
        uint64_t ts = rng_below(&r, UINT64_C(1) << 41), dc = rng_below(&r, 32),
                 w = rng_below(&r, 32), seq = rng_below(&r, 4096), id;
        cr_assert_eq(sf_compose(l, ts, dc, w, seq, &id), 0);
        cr_assert_eq(id >> 63, 0);
        struct sf_fields f;
        cr_assert_eq(sf_decompose(l, id, &f), 0);
        cr_assert(f.ts == ts && f.dc == dc && f.worker == w && f.seq == seq);
        cr_assert_eq(f.time_ns, l->epoch_ns + (int64_t)ts * l->unit_ns);
        /* The seed's layout by hand: 41 | 5 | 5 | 12. */
        cr_assert_eq(id, ts << 22 | dc << 17 | w << 12 | seq);
    }
}

/* The generator divides by the unit with a multiply and a shift; it must agree with
 * plain division for every unit and time, including the edges of each unit. */
Test(sf, unit_division_matches_plain_division)
{
    struct rng r;
    rng_seed(&r, 6);
    for (int iter = 0; iter < 3000; iter++) {
        struct sf_config c = cfg_with(SF_NONE, SF_FULL_WAIT);
        uint64_t pick = rng_below(&r, 4);
        c.layout.unit_ns = pick == 0   ? 1 + (int64_t)rng_below(&r, 16)
                           : pick == 1 ? (int64_t)1 << rng_below(&r, 40)
                           : pick == 2 ? 1000000
                                       : 1 + (int64_t)rng_below(&r, (uint64_t)1 << 40);
        c.layout.epoch_ns = (int64_t)rng_below(&r, (uint64_t)1 << 61);
        c.layout.time_bits = 50;
        c.layout.seq_bits = 3;
        for (int k = 0; k < 20; k++) {
            uint64_t span = (uint64_t)(INT64_MAX - c.layout.epoch_ns);
            int64_t now = c.layout.epoch_ns + (int64_t)rng_below(&r, span / 2);
            int64_t u = c.layout.unit_ns;
            if (k % 3 == 1) /* the last ns of a unit */
                now = c.layout.epoch_ns + ((now - c.layout.epoch_ns) / u + 1) * u - 1;
            if (k % 3 == 2) /* the first ns of a unit */
                now = c.layout.epoch_ns + ((now - c.layout.epoch_ns) / u) * u;
            uint64_t want = unit_of(&c.layout, now);
            struct sf_gen *g = sf_gen_create(&c, SF_SYNC_NONE); /* fresh: no history */
            cr_assert_not_null(g);
            uint64_t id;
            int rc = sf_next(g, now, &id, NULL);
            if (want > sf_layout_max_ts(&c.layout)) {
                cr_assert_eq(rc, -EOVERFLOW);
            } else if (rc != -EOVERFLOW) { /* else: the unit's end would not fit int64 */
                cr_assert_eq(rc, 0);
                cr_assert_eq(fields(g, id).ts, want, "unit %lld now %lld", (long long)u,
                             (long long)now);
                cr_assert(sf_gen_check(g));
            }
            sf_gen_destroy(g);
        }
    }
}

Test(sf, rejects_times_outside_the_layout)
{
    struct sf_gen *g = gen_with(SF_REFUSE, SF_FULL_WAIT);
    uint64_t id = 0;
    cr_assert_eq(sf_next(g, SF_TWITTER_EPOCH_NS - 1, &id, NULL), -EOVERFLOW);
    int64_t end = SF_TWITTER_EPOCH_NS + (int64_t)((UINT64_C(1) << 41) * MS);
    cr_assert_eq(sf_next(g, end, &id, NULL), -EOVERFLOW);
    cr_assert_eq(sf_next(g, end - 1, &id, NULL), 0);
    cr_assert_eq(fields(g, id).ts, (UINT64_C(1) << 41) - 1);
    cr_assert_eq(sf_next(g, SF_TWITTER_EPOCH_NS, &id, NULL), -ERANGE);
    sf_gen_destroy(g);
}

/* ---- Policies against a scripted clock ------------------------------------------- */

Test(sf, sequence_wraps_after_4095_and_waits_for_the_next_unit)
{
    struct sf_gen *g = gen_with(SF_REFUSE, SF_FULL_WAIT);
    uint64_t id, prev = 0;
    int64_t now = T0 + 300000; /* 0.3 ms into a unit */
    for (uint64_t i = 0; i < 4096; i++) {
        cr_assert_eq(sf_next(g, now, &id, NULL), 0);
        struct sf_fields f = fields(g, id);
        cr_assert_eq(f.seq, i);
        cr_assert_eq(f.ts, unit_of(&sf_gen_config(g)->layout, now));
        cr_assert_eq(f.dc, 3);
        cr_assert_eq(f.worker, 17);
        cr_assert_gt(id, prev);
        prev = id;
    }
    struct sf_why why = {0, 0};
    uint64_t keep = 99;
    cr_assert_eq(sf_next(g, now, &keep, &why), -EAGAIN);
    cr_assert_eq(keep, 99);
    cr_assert_eq(why.retry_at, T0 + MS, "retry at the next unit's first ns");
    cr_assert_eq(sf_next(g, T0 + MS - 1, &keep, &why), -EAGAIN);
    cr_assert_eq(why.retry_at, T0 + MS);
    cr_assert_eq(sf_next(g, why.retry_at, &id, NULL), 0);
    cr_assert_eq(fields(g, id).seq, 0);
    cr_assert_eq(fields(g, id).ts, unit_of(&sf_gen_config(g)->layout, T0) + 1);
    cr_assert_gt(id, prev);
    cr_assert(sf_gen_check(g));
    sf_gen_destroy(g);
}

Test(sf, refuses_when_clock_steps_back)
{
    struct sf_gen *g = gen_with(SF_REFUSE, SF_FULL_WAIT);
    uint64_t id, id2;
    cr_assert_eq(sf_next(g, T0 + 50 * MS + 250000, &id, NULL), 0);
    struct sf_why why;
    /* Back 50 ms: behind the start of the last ID's unit by 50 ms - 0.25 ms. */
    cr_assert_eq(sf_next(g, T0 + 250000, &id2, &why), -ERANGE);
    cr_assert_eq(why.behind_ns, 50 * MS - 250000);
    /* Still behind one ns before the unit; fine inside it, seq goes on. */
    cr_assert_eq(sf_next(g, T0 + 50 * MS - 1, &id2, &why), -ERANGE);
    cr_assert_eq(why.behind_ns, 1);
    cr_assert_eq(sf_next(g, T0 + 50 * MS, &id2, &why), 0);
    cr_assert_eq(fields(g, id2).seq, 1);
    cr_assert_gt(id2, id);
    sf_gen_destroy(g);
}

Test(sf, waits_out_a_small_step_back_and_refuses_a_large_one)
{
    struct sf_gen *g = gen_with(SF_WAIT, SF_FULL_WAIT); /* wait_max 10 ms */
    uint64_t id, id2;
    cr_assert_eq(sf_next(g, T0 + 100 * MS + 10, &id, NULL), 0);
    struct sf_why why;
    cr_assert_eq(sf_next(g, T0 + 92 * MS, &id2, &why), -EAGAIN);
    cr_assert_eq(why.retry_at, T0 + 100 * MS);
    cr_assert_eq(why.behind_ns, 8 * MS);
    cr_assert_eq(sf_next(g, why.retry_at, &id2, NULL), 0);
    cr_assert_eq(fields(g, id2).ts, fields(g, id).ts);
    cr_assert_eq(fields(g, id2).seq, 1);
    /* Exactly the threshold still waits; one ns more is refused. */
    cr_assert_eq(sf_next(g, T0 + 90 * MS, &id2, &why), -EAGAIN);
    cr_assert_eq(why.behind_ns, 10 * MS);
    cr_assert_eq(sf_next(g, T0 + 90 * MS - 1, &id2, &why), -ERANGE);
    cr_assert_eq(why.behind_ns, 10 * MS + 1);
    cr_assert_eq(sf_next(g, T0 + 40 * MS, &id2, &why), -ERANGE, "a 60 ms step back");
    cr_assert_eq(why.behind_ns, 60 * MS);
    sf_gen_destroy(g);
}

Test(sf, hold_keeps_the_last_unit_and_ticks_on_exhaustion)
{
    struct sf_gen *g = gen_with(SF_HOLD, SF_FULL_WAIT);
    const struct sf_layout *l = &sf_gen_config(g)->layout;
    uint64_t id, prev;
    cr_assert_eq(sf_next(g, T0 + 50 * MS, &prev, NULL), 0);
    uint64_t u50 = unit_of(l, T0 + 50 * MS);
    /* An hour back: hold never waits and never fails. 3 * 4096 IDs later the logical
     * clock has ticked 3 units ahead of where it was, no more. */
    for (int i = 0; i < 3 * 4096; i++) {
        cr_assert_eq(sf_next(g, T0 - 3600000 * MS + 50 * MS, &id, NULL), 0);
        cr_assert_gt(id, prev);
        prev = id;
    }
    cr_assert_eq(fields(g, prev).ts, u50 + 3);
    cr_assert_eq(fields(g, prev).seq, 0);
    /* Once the clock passes the held unit, IDs follow the clock again. */
    cr_assert_eq(sf_next(g, T0 + 60 * MS, &id, NULL), 0);
    cr_assert_eq(fields(g, id).ts, u50 + 10);
    cr_assert_eq(fields(g, id).seq, 0);
    sf_gen_destroy(g);
}

Test(sf, borrow_runs_ahead_by_at_most_the_bound)
{
    struct sf_gen *g = gen_with(SF_BORROW, SF_FULL_BORROW); /* borrow 5 ms, wait 10 ms */
    const struct sf_layout *l = &sf_gen_config(g)->layout;
    uint64_t id, prev;
    int64_t now = T0 + 100 * MS + 700000;
    cr_assert_eq(sf_next(g, now, &prev, NULL), 0);
    /* Same unit, exhaustion: borrow units 101..105 (their starts are at most 5 ms after
     * now: unit 105 starts 4.3 ms after), then wait. */
    uint64_t n = 1;
    struct sf_why why;
    int rc;
    while ((rc = sf_next(g, now, &id, &why)) == 0) {
        cr_assert_gt(id, prev);
        int64_t lead = fields(g, id).time_ns - now;
        cr_assert_leq(lead, 5 * MS);
        prev = id;
        n++;
    }
    cr_assert_eq(rc, -EAGAIN);
    cr_assert_eq(n, 6 * 4096, "unit 100 and the five borrowed ones");
    cr_assert_eq(fields(g, prev).ts, unit_of(l, now) + 5);
    /* Unit 106 starts 5.3 ms after now: retry when the lead is 5 ms. */
    cr_assert_eq(why.retry_at, T0 + 101 * MS);
    cr_assert_eq(sf_next(g, why.retry_at, &id, NULL), 0);
    cr_assert_eq(fields(g, id).ts, unit_of(l, now) + 6);

    /* A step back of 3 ms (within the bound) goes on at once; of 12 ms, the 7 ms beyond
     * the bound are waited (within wait_max 10 ms); of 20 ms, refused. */
    struct sf_gen *h = gen_with(SF_BORROW, SF_FULL_WAIT);
    cr_assert_eq(sf_next(h, T0 + 100 * MS, &prev, NULL), 0);
    cr_assert_eq(sf_next(h, T0 + 97 * MS, &id, NULL), 0);
    cr_assert_eq(fields(h, id).ts, fields(h, prev).ts);
    cr_assert_eq(sf_next(h, T0 + 88 * MS, &id, &why), -EAGAIN);
    cr_assert_eq(why.retry_at, T0 + 95 * MS);
    cr_assert_eq(why.behind_ns, 12 * MS);
    cr_assert_eq(sf_next(h, T0 + 80 * MS, &id, &why), -ERANGE);
    cr_assert_eq(why.behind_ns, 20 * MS);
    sf_gen_destroy(h);
    sf_gen_destroy(g);
}

/* With on_full = borrow the generator's own loans put the clock behind its last ID; that
 * must not count as a step back, whatever the policy (else wait would undo every loan). */
Test(sf, loans_are_not_mistaken_for_steps)
{
    for (int p = SF_NONE; p <= SF_BORROW; p++) {
        struct sf_config c = cfg_with((enum sf_policy)p, SF_FULL_BORROW); /* loans: 5 ms */
        struct sf_gen *g = sf_gen_create(&c, SF_SYNC_NONE);
        int64_t now = T0 + 200000;
        uint64_t id, prev = 0, n = 0;
        struct sf_why why;
        int rc;
        while ((rc = sf_next(g, now, &id, &why)) == 0 && n <= 6 * 4096) { /* fail, not hang */
            cr_assert_gt(id, prev, "%s", sf_policy_name(c.policy));
            prev = id;
            n++;
        }
        cr_assert_eq(rc, -EAGAIN, "%s", sf_policy_name(c.policy));
        cr_assert_eq(n, 6 * 4096, "%s: this unit and 5 borrowed", sf_policy_name(c.policy));
        cr_assert_eq(why.retry_at, T0 + MS, "when unit +6 starts 5 ms after the clock");
        /* A real step back beyond the loans is the policy's business again. */
        rc = sf_next(g, now - 2 * MS, &id, &why);
        int want[] = {0, -ERANGE, -EAGAIN, 0, -EAGAIN};
        cr_assert_eq(rc, want[p], "%s: %d", sf_policy_name(c.policy), rc);
        sf_gen_destroy(g);
    }
}

Test(sf, none_reissues_ids_after_a_step_back)
{
    struct sf_gen *g = gen_with(SF_NONE, SF_FULL_WAIT);
    uint64_t a[3], b[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sf_next(g, T0 + 10 * MS, &a[i], NULL), 0);
    cr_assert_eq(sf_next(g, T0 + 60 * MS, &b[0], NULL), 0);
    for (int i = 0; i < 3; i++) /* the clock steps back 50 ms: the same IDs again */
        cr_assert_eq(sf_next(g, T0 + 10 * MS, &b[i], NULL), 0);
    cr_assert_arr_eq(a, b, sizeof(a));
    sf_gen_destroy(g);
}

Test(sf, floor_forbids_every_id_at_or_below_it)
{
    struct sf_gen *g = gen_with(SF_WAIT, SF_FULL_WAIT);
    const struct sf_layout *l = &sf_gen_config(g)->layout;
    uint64_t mark = unit_of(l, T0) + 3, id, ts, seq;
    cr_assert_not(sf_gen_last(g, &ts, &seq));
    cr_assert_eq(sf_gen_floor(g, mark), 0);
    cr_assert_eq(sf_gen_floor(g, mark - 2), 0); /* lower: no effect */
    struct sf_why why;
    cr_assert_eq(sf_next(g, T0 + MS / 2, &id, &why), -EAGAIN);
    cr_assert_eq(why.retry_at, T0 + 4 * MS, "the first unit after the mark");
    cr_assert_eq(sf_next(g, T0 + 4 * MS, &id, NULL), 0);
    cr_assert_eq(fields(g, id).ts, mark + 1);
    cr_assert(sf_gen_last(g, &ts, &seq));
    cr_assert_eq(ts, mark + 1);
    cr_assert_eq(sf_gen_floor(g, sf_layout_max_ts(l) + 1), -EOVERFLOW);
    sf_gen_destroy(g);
}

/* ---- The reference model --------------------------------------------------------- */

/* The header's contract, written as plainly as possible: the last unit and sequence as
 * two variables, plain division, one branch per sentence of the contract. */
struct ref {
    struct sf_config c;
    int64_t last; /* -1: none yet */
    int64_t seq;
};

/* Would a call at 'now' issue (0), ask to wait (-EAGAIN), refuse or overflow? Sets *ts
 * and *seq of the ID it would issue. No retry time: see ref_next. */
static int ref_decide(const struct ref *r, int64_t now, int64_t *ts, int64_t *seq,
                      int64_t *behind_ns)
{
    const struct sf_layout *l = &r->c.layout;
    int64_t unit = l->unit_ns, seq_max = ((int64_t)1 << l->seq_bits) - 1;
    int64_t ts_max = ((int64_t)1 << l->time_bits) - 1;
    if (now < l->epoch_ns || (now - l->epoch_ns) / unit > ts_max)
        return -EOVERFLOW;
    int64_t t = (now - l->epoch_ns) / unit;
    int64_t behind = l->epoch_ns + r->last * unit - now; /* > 0 iff t < last */
    bool is_behind = r->last >= 0 && t < r->last;
    *behind_ns = is_behind ? behind : 0;
    if (t > r->last) { /* a new unit */
        *ts = t;
        *seq = 0;
        return 0;
    }
    /* A clock behind by no more than the generator's loans is a loan, not a step. */
    int64_t allow =
        r->c.policy == SF_BORROW || r->c.on_full == SF_FULL_BORROW ? r->c.borrow_max_ns : 0;
    bool stepped = is_behind && r->c.policy != SF_HOLD && behind > allow;
    if (stepped && r->c.policy == SF_NONE) {
        *ts = t;
        *seq = 0;
        return 0;
    }
    if (stepped && r->c.policy == SF_REFUSE)
        return -ERANGE;
    if (stepped) /* wait, borrow */
        return behind - allow > r->c.wait_max_ns ? -ERANGE : -EAGAIN;
    if (r->seq < seq_max) { /* the clock is in unit last, or behind it under hold/borrow */
        *ts = r->last;
        *seq = r->seq + 1;
        return 0;
    }
    int64_t bound;
    if (is_behind) /* hold's logical clock ticks freely only beyond the loans */
        bound = r->c.policy == SF_HOLD && behind > allow ? INT64_MAX : allow;
    else
        bound = r->c.on_full == SF_FULL_BORROW ? r->c.borrow_max_ns : 0;
    if (r->last + 1 > ts_max)
        return -EOVERFLOW;
    if (l->epoch_ns + (r->last + 1) * unit - now > bound)
        return -EAGAIN;
    *ts = r->last + 1;
    *seq = 0;
    return 0;
}

/* The contract, plainly: decide; on -EAGAIN the retry time is the first later clock
 * time at which a call would issue. Every condition above changes only where the clock
 * crosses the start of unit last or last + 1, shifted by 0 or borrow_max, so the first
 * such time is among those candidates (or just after now). */
static int ref_next(struct ref *r, int64_t now, uint64_t *id, struct sf_why *why)
{
    int64_t ts, seq, behind;
    int rc = ref_decide(r, now, &ts, &seq, &behind);
    why->behind_ns = behind;
    if (rc == -EAGAIN) {
        const struct sf_layout *l = &r->c.layout;
        int64_t s0 = l->epoch_ns + r->last * l->unit_ns, s1 = s0 + l->unit_ns;
        int64_t cand[5] = {s0, s1, s0 - r->c.borrow_max_ns, s1 - r->c.borrow_max_ns, now + 1};
        int64_t best = INT64_MAX, b2, t2, q2;
        for (int i = 0; i < 5; i++)
            if (cand[i] > now && cand[i] < best && ref_decide(r, cand[i], &t2, &q2, &b2) == 0)
                best = cand[i];
        cr_assert_neq(best, INT64_MAX, "the reference found no time to retry at");
        why->retry_at = best;
    }
    if (rc < 0)
        return rc;
    r->last = ts;
    r->seq = seq;
    cr_assert_eq(sf_compose(&r->c.layout, (uint64_t)ts, r->c.dc, r->c.worker, (uint64_t)seq, id),
                 0);
    return 0;
}

/* Random scripts of clock readings (forward creep, steps both ways, long stays in one
 * unit to exhaust it) against every policy, exhaustion mode and sync kind, on small
 * sequence fields so exhaustion is common. Every answer must match the reference. */
Test(sf, matches_the_reference_model)
{
    struct rng r;
    rng_seed(&r, 7);
    for (int iter = 0; iter < 600; iter++) {
        struct sf_config c =
            cfg_with((enum sf_policy)rng_below(&r, 5), (enum sf_full)rng_below(&r, 2));
        c.layout.seq_bits = 1 + (int)rng_below(&r, 4);
        c.layout.time_bits = 63 - 10 - c.layout.seq_bits;
        c.layout.unit_ns = 1000 + (int64_t)rng_below(&r, 3 * MS);
        c.wait_max_ns = (int64_t)rng_below(&r, 20 * MS);
        c.borrow_max_ns = (int64_t)rng_below(&r, 20 * MS);
        enum sf_sync sync = (enum sf_sync)rng_below(&r, 3);
        struct sf_gen *g = sf_gen_create(&c, sync);
        cr_assert_not_null(g);
        struct ref ref = {.c = c, .last = -1, .seq = 0};
        int64_t now = T0 + (int64_t)rng_below(&r, 1000 * MS);
        for (int k = 0; k < 3000; k++) {
            uint64_t dice = rng_below(&r, 100);
            if (dice < 60)
                now += (int64_t)rng_below(&r, (uint64_t)c.layout.unit_ns / 4 + 1);
            else if (dice < 90)
                ; /* same reading: exhausts the unit */
            else if (dice < 95)
                now -= (int64_t)rng_below(&r, 30 * MS);
            else
                now += (int64_t)rng_below(&r, 30 * MS);
            uint64_t a = 0, b = 0;
            struct sf_why wa = {0, 0}, wb = {0, 0};
            int ra = sf_next(g, now, &a, &wa);
            int rb = ref_next(&ref, now, &b, &wb);
            cr_assert_eq(ra, rb, "iter %d step %d policy %s: %d vs reference %d", iter, k,
                         sf_policy_name(c.policy), ra, rb);
            if (ra == 0)
                cr_assert_eq(a, b);
            if (ra == -EAGAIN) {
                cr_assert_eq(wa.retry_at, wb.retry_at);
                cr_assert_gt(wa.retry_at, now, "a wait must be for a later time");
            }
            if (ra == -EAGAIN || ra == -ERANGE)
                cr_assert_eq(wa.behind_ns, wb.behind_ns);
            if (ra == -EAGAIN && rng_below(&r, 2)) {
                /* Obey it: at retry_at the call must succeed unless the policy still
                 * has reasons (it will not: nothing moved). */
                now = wa.retry_at;
                ra = sf_next(g, now, &a, &wa);
                rb = ref_next(&ref, now, &b, &wb);
                cr_assert_eq(ra, 0, "policy %s full %s: %d after waiting", sf_policy_name(c.policy),
                             sf_full_name(c.on_full), ra);
                cr_assert_eq(rb, 0);
                cr_assert_eq(a, b);
            }
            cr_assert(sf_gen_check(g));
        }
        sf_gen_destroy(g);
    }
}

/* Properties that hold whatever the script: IDs strictly increase (except under none),
 * refuse and wait never run ahead of the clock's unit, borrow never by more than its
 * bound. */
Test(sf, policies_keep_their_promises)
{
    struct rng r;
    rng_seed(&r, 8);
    for (int iter = 0; iter < 300; iter++) {
        struct sf_config c =
            cfg_with((enum sf_policy)(1 + rng_below(&r, 4)), (enum sf_full)rng_below(&r, 2));
        c.layout.seq_bits = 2;
        c.layout.time_bits = 51;
        struct sf_gen *g = sf_gen_create(&c, SF_SYNC_NONE);
        int64_t now = T0;
        uint64_t prev = 0, id;
        for (int k = 0; k < 5000; k++) {
            now += rng_below(&r, 10) == 0 ? -(int64_t)rng_below(&r, 25 * MS)
                                          : (int64_t)rng_below(&r, MS / 3);
            int rc = sf_next(g, now, &id, NULL);
            if (c.policy == SF_HOLD) /* waits only for a full unit, never refuses */
                cr_assert(rc == 0 || rc == -EAGAIN, "hold never fails: %d", rc);
            if (rc)
                continue;
            cr_assert_gt(id, prev);
            prev = id;
            int64_t lead = fields(g, id).time_ns - now;
            if (c.policy == SF_REFUSE || c.policy == SF_WAIT)
                cr_assert_leq(lead, c.on_full == SF_FULL_BORROW ? c.borrow_max_ns : 0);
            if (c.policy == SF_BORROW)
                cr_assert_leq(lead, c.borrow_max_ns);
        }
        sf_gen_destroy(g);
    }
}

/* ---- Threads --------------------------------------------------------------------- */

/* A shared fake clock that moves 211 ns per reading: threads race on real cores while
 * the clock stays deterministic in distribution. Units are 1 us, so a 4-bit sequence
 * (16 per unit) is exhausted all the time and stale readings are common. */
struct race {
    struct sf_gen *g;
    _Atomic int64_t clock;
    uint64_t *ids;
    size_t per_thread;
    _Atomic int start;
};
struct racer {
    struct race *race;
    size_t index;
    uint64_t eagain, errors, not_increasing;
    int last_error;
};

static void *race_thread(void *arg)
{
    struct racer *me = arg;
    struct race *rc = me->race;
    while (!atomic_load(&rc->start))
        ;
    uint64_t *out = rc->ids + me->index * rc->per_thread, prev = 0;
    for (size_t i = 0; i < rc->per_thread;) {
        int64_t now = atomic_fetch_add(&rc->clock, 211);
        uint64_t id;
        struct sf_why why;
        int r = sf_next(rc->g, now, &id, &why);
        if (r == -EAGAIN || r == -ERANGE) {
            /* A stale reading: another thread issued at a later one meanwhile (-ERANGE
             * when this thread was descheduled for over wait_max). Read again. */
            me->eagain++;
            continue;
        }
        if (r != 0) { /* asserts belong to the main thread: count, check there */
            me->errors++;
            me->last_error = r;
            continue;
        }
        me->not_increasing += id <= prev;
        prev = out[i++] = id;
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void race(enum sf_sync sync, int nthreads, size_t per_thread)
{
    struct sf_config c = cfg_with(SF_WAIT, SF_FULL_WAIT);
    c.layout.unit_ns = 1000;
    c.layout.seq_bits = 4;
    c.layout.time_bits = 63 - 10 - 4;
    struct race rc = {.per_thread = per_thread};
    rc.g = sf_gen_create(&c, sync);
    atomic_init(&rc.clock, T0);
    atomic_init(&rc.start, 0);
    rc.ids = malloc(sizeof(uint64_t) * per_thread * (size_t)nthreads);
    cr_assert_not_null(rc.ids);
    pthread_t th[8];
    struct racer rr[8];
    for (int i = 0; i < nthreads; i++) {
        rr[i] = (struct racer){.race = &rc, .index = (size_t)i};
        cr_assert_eq(pthread_create(&th[i], NULL, race_thread, &rr[i]), 0);
    }
    atomic_store(&rc.start, 1);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(rr[i].errors, 0, "%d", rr[i].last_error);
        cr_assert_eq(rr[i].not_increasing, 0, "one thread's IDs increase");
    }
    size_t n = per_thread * (size_t)nthreads;
    qsort(rc.ids, n, sizeof(uint64_t), cmp_u64);
    for (size_t i = 1; i < n; i++)
        cr_assert_neq(rc.ids[i], rc.ids[i - 1], "duplicate %llu (%s)",
                      (unsigned long long)rc.ids[i], sf_sync_name(sync));
    cr_assert(sf_gen_check(rc.g));
    free(rc.ids);
    sf_gen_destroy(rc.g);
}

Test(sf, cas_generator_with_threads_yields_no_duplicate)
{
    race(SF_SYNC_CAS, 4, 1000000);
}

Test(sf, mutex_generator_with_threads_yields_no_duplicate)
{
    race(SF_SYNC_MUTEX, 4, 500000);
}

Test(sf, names_round_trip)
{
    for (int p = 0; p <= SF_BORROW; p++) {
        enum sf_policy q;
        cr_assert_eq(sf_policy_parse(sf_policy_name((enum sf_policy)p), &q), 0);
        cr_assert_eq((int)q, p);
    }
    for (int f = 0; f <= SF_FULL_BORROW; f++) {
        enum sf_full q;
        cr_assert_eq(sf_full_parse(sf_full_name((enum sf_full)f), &q), 0);
        cr_assert_eq((int)q, f);
    }
    enum sf_policy q;
    cr_assert_eq(sf_policy_parse("ignore", &q), -EINVAL);
}

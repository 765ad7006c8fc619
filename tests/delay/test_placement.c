/* The placement map: the seed's five-task table as data, with its flaws; rebalancing after
 * node 1's loss against the seed's after-table; every policy and the repair against slow,
 * obviously right versions on random maps and random losses; the move counts against a
 * per-(task, node) role table. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "delay/placement.h"
#include "rng/rng.h"
#include "seed_table.h"

Test(placement, seed_table_round_trips_through_its_notation)
{
    struct pl_map *m = seed_map(seed_before);
    assert_rows(m, seed_before);
    cr_assert_eq(pl_primary(m, 0), 0);   /* A on node 1 */
    cr_assert_eq(pl_holders(m, 3), 0x7); /* d, D, d: all three nodes */
    cr_assert_eq(pl_holders(m, 2), 0x2); /* C alone on node 2 */
    cr_assert_eq(pl_epoch(m), 1);
    pl_destroy(m);
}

Test(placement, check_finds_the_seed_tables_unreplicated_and_doubly_replicated_tasks)
{
    struct pl_map *m = seed_map(seed_before);
    char why[160];
    cr_assert_not(pl_check(m, why, sizeof(why)));
    cr_assert(strstr(why, "2 of 5 tasks"), "%s", why);
    for (uint32_t t = 0; t < 5; t++) {
        bool ok = pl_task_ok(m, t, why, sizeof(why));
        if (t == 2)
            cr_assert(!ok && !strcmp(why, "task C has 0 replicas, want 1"), "%s", why);
        else if (t == 3)
            cr_assert(!ok && !strcmp(why, "task D has 2 replicas, want 1"), "%s", why);
        else
            cr_assert(ok, "%c: %s", 'A' + t, why);
    }
    pl_destroy(m);
}

Test(placement, losing_node_1_promotes_the_surviving_replicas_and_re_replicates)
{
    struct pl_map *m = seed_map(seed_before);
    struct pl_moves mv;
    cr_assert_eq(pl_rebalance(m, 0x6, NULL, NULL, &mv), 0);
    char why[160];
    cr_assert(pl_check(m, why, sizeof(why)), "%s", why);
    assert_rows(m, correct_after);
    cr_assert_eq(pl_epoch(m), 2);
    cr_assert_eq(mv.lost_primaries, 2); /* A, E */
    cr_assert_eq(mv.lost_copies, 4);    /* A b d E */
    cr_assert_eq(mv.promoted, 2);       /* a on node 2, e on node 3 */
    cr_assert_eq(mv.primaries_copied, 0);
    cr_assert_eq(mv.replicas_copied, 4); /* a -> 3, b -> 2, c -> 3 (C had none), e -> 2 */
    cr_assert_eq(mv.bytes_copied, 400);
    cr_assert_eq(mv.dropped, 0);
    cr_assert_eq(mv.unrecoverable, 0);
    pl_destroy(m);
}

struct rec {
    struct pl_move mv[64];
    int n;
};

static void record(void *arg, const struct pl_move *mv)
{
    struct rec *r = arg;
    cr_assert_lt(r->n, 64);
    r->mv[r->n++] = *mv;
}

Test(placement, the_seeds_after_table_is_valid_but_copies_primaries_it_could_promote)
{
    struct pl_map *before = seed_map(seed_before), *after = seed_map(seed_after);
    char why[160];
    cr_assert_eq(pl_set_live(after, 0x6), 0);
    cr_assert_eq(pl_epoch(after), 2);
    cr_assert_eq(pl_set_live(after, 0x8), -EINVAL);
    assert_rows(after, seed_after);
    cr_assert(pl_check(after, why, sizeof(why)), "%s", why);
    struct pl_moves mv;
    struct rec r = {.n = 0};
    cr_assert_eq(pl_diff(before, after, 0x6, record, &r, &mv), 0);
    cr_assert_eq(mv.promoted, 0);
    cr_assert_eq(mv.primaries_copied, 2);
    cr_assert_eq(mv.replicas_copied, 2); /* b -> 2, c -> 3 */
    cr_assert_eq(mv.bytes_copied, 400);  /* as many bytes as the correct rebalancing */
    /* A's primary goes to node 3, which held nothing of A, while node 2 keeps its replica;
     * E's to node 2 while node 3 keeps its replica. */
    int copied = 0;
    for (int i = 0; i < r.n; i++)
        if (r.mv[i].kind == PL_COPY_PRIMARY) {
            uint32_t t = r.mv[i].task;
            cr_assert(t == 0 || t == 4);
            cr_assert_eq(r.mv[i].to, t == 0 ? 2 : 1);
            cr_assert_eq(r.mv[i].from, t == 0 ? 1 : 2); /* the surviving replica */
            cr_assert(pl_holders(after, t) & (1u << r.mv[i].from));
            copied++;
        }
    cr_assert_eq(copied, 2);
    pl_destroy(before);
    pl_destroy(after);
}

Test(placement, parse_errors_say_what_is_wrong)
{
    struct pl_map *m = pl_create(5, 3, 1, PL_TABLE, 0, 1);
    char why[128];
    const char *two[] = {"A", "A"};
    cr_assert_eq(pl_parse_rows(m, two, 2, why, sizeof(why)), -EINVAL);
    cr_assert_str_eq(why, "task A has two primaries (rows 1 and 2)");
    const char *range[] = {"A f"};
    cr_assert_eq(pl_parse_rows(m, range, 1, why, sizeof(why)), -EINVAL);
    cr_assert_str_eq(why, "row 1: 'f' is not a task letter A..E (a..e)");
    const char *twice[] = {"A a"};
    cr_assert_eq(pl_parse_rows(m, twice, 1, why, sizeof(why)), -EINVAL);
    cr_assert_str_eq(why, "row 1 lists task A twice");
    const char *glued[] = {"Ab"};
    cr_assert_eq(pl_parse_rows(m, glued, 1, why, sizeof(why)), -EINVAL);
    const char *four[] = {"A", "B", "C", "D"};
    cr_assert_eq(pl_parse_rows(m, four, 4, why, sizeof(why)), -EINVAL);
    pl_destroy(m);
}

Test(placement, every_change_increments_the_epoch_and_none_without_one)
{
    struct pl_map *m = pl_create(100, 8, 2, PL_RENDEZVOUS, 7, 1);
    cr_assert_eq(pl_epoch(m), 0);
    cr_assert_eq(pl_place_all(m), 0);
    cr_assert_eq(pl_epoch(m), 1);
    struct pl_moves mv;
    pl_rebalance(m, pl_live(m), NULL, NULL, &mv);
    cr_assert_eq(pl_epoch(m), 1);
    cr_assert_eq(mv.tasks_changed, 0);
    pl_rebalance(m, pl_live(m) & ~(1u << 3), NULL, NULL, &mv);
    cr_assert_eq(pl_epoch(m), 2);
    cr_assert_eq(pl_set(m, 0, 1, 1u << 2), 0);
    cr_assert_eq(pl_epoch(m), 3);
    cr_assert_eq(pl_set(m, 0, 1, 1u << 1), -EINVAL); /* a replica on the primary's node */
    cr_assert_eq(pl_set(m, 0, 8, 0), -EINVAL);
    /* a coordinator may ask for a larger step, never a smaller one */
    cr_assert_eq(pl_set_next_epoch(m, 3), -EINVAL);
    cr_assert_eq(pl_set_next_epoch(m, 64 + 5), 0);
    pl_rebalance(m, pl_live(m) & ~(1u << 4), NULL, NULL, &mv);
    cr_assert_eq(pl_epoch(m), 69);
    pl_rebalance(m, pl_live(m) & ~(1u << 5), NULL, NULL, &mv);
    cr_assert_eq(pl_epoch(m), 70); /* back to steps of one */
    pl_destroy(m);
}

/* A task whose every copy is on lost nodes is not forgotten: it stays where it was, and
 * is placed again when one of its nodes comes back. */
Test(placement, a_task_with_no_live_copy_waits_for_its_nodes)
{
    for (int pol = PL_TABLE; pol <= PL_RENDEZVOUS; pol++) {
        struct pl_map *m = pl_create(1, 4, 1, (enum pl_policy)pol, 1, 10);
        pl_set(m, 0, 0, 1u << 1); /* on nodes 0 and 1 */
        struct pl_moves mv;
        pl_rebalance(m, 0xc, NULL, NULL, &mv);
        cr_assert_eq(mv.unrecoverable, 1);
        cr_assert_eq(mv.lost_copies, 2);
        cr_assert_eq(pl_primary(m, 0), 0);
        cr_assert_eq(pl_holders(m, 0), 0x3);
        cr_assert_not(pl_check(m, NULL, 0));
        pl_rebalance(m, 0xd, NULL, NULL, &mv); /* node 0 is back */
        cr_assert_eq(mv.unrecoverable, 0);
        char why[160];
        cr_assert(pl_check(m, why, sizeof(why)), "%s: %s", pl_policy_name(pol), why);
        pl_destroy(m);
    }
}

Test(placement, a_map_survives_encoding)
{
    struct pl_map *m = pl_create(300, 9, 2, PL_RENDEZVOUS, 4, 1);
    pl_place_all(m);
    struct pl_moves mv;
    pl_rebalance(m, 0x1ff & ~(1u << 4), NULL, NULL, &mv);
    size_t need = pl_encode(m, NULL, 0);
    cr_assert_eq(need, 24 + 300 * 9);
    unsigned char *buf = malloc(need);
    cr_assert_eq(pl_encode(m, buf, need), need);
    struct pl_map *c = pl_create(300, 9, 2, PL_RENDEZVOUS, 4, 1);
    cr_assert_eq(pl_decode(c, buf, need - 1), -EINVAL);
    cr_assert_eq(pl_decode(c, buf, need), 0);
    cr_assert(pl_equal(m, c));
    cr_assert_eq(pl_epoch(c), pl_epoch(m));
    cr_assert_eq(pl_live(c), pl_live(m));
    struct pl_map *other = pl_create(301, 9, 2, PL_RENDEZVOUS, 4, 1);
    cr_assert_eq(pl_decode(other, buf, need), -EINVAL);
    free(buf);
    pl_destroy(m);
    pl_destroy(c);
    pl_destroy(other);
}

/* Rendezvous recomputes only the departed node's tasks when the map is its own, but a task
 * set by hand is not the policy's: the next rebalancing puts it back where scores say. */
Test(placement, rendezvous_rebalance_replaces_a_hand_set_task)
{
    struct pl_map *m = pl_create(50, 6, 1, PL_RENDEZVOUS, 3, 1),
                  *ref = pl_create(50, 6, 1, PL_RENDEZVOUS, 3, 1);
    pl_place_all(m);
    pl_place_all(ref);
    int p = pl_primary(m, 7);
    uint64_t h = pl_holders(m, 7);
    int other = (p + 1) % 6;
    while (h >> other & 1)
        other = (other + 1) % 6;
    pl_set(m, 7, other, 0); /* no replica, on a node the scores did not choose */
    int lost = 0;
    while ((h >> lost & 1) || lost == other)
        lost++; /* a node that holds nothing of task 7 either way */
    struct pl_moves mv;
    pl_rebalance(m, 0x3f & ~(1u << lost), NULL, NULL, &mv);
    pl_rebalance(ref, 0x3f & ~(1u << lost), NULL, NULL, &mv);
    cr_assert(pl_equal(m, ref));
    pl_destroy(m);
    pl_destroy(ref);
}

/* ---- Slow, obvious versions -------------------------------------------------------- */

static uint64_t slow_task_hash(uint64_t salt, uint32_t t)
{
    return rng_mix(salt ^ t);
}

struct cand {
    uint64_t score;
    int node;
};

static int by_score(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->node - y->node;
}

/* Sort every live node by its score and take the first R + 1. */
static void slow_rendezvous(uint64_t salt, uint32_t t, int nodes, int R, uint64_t live, int *p,
                            uint64_t *h)
{
    struct cand c[PL_MAX_NODES];
    int k = 0;
    for (int n = 0; n < nodes; n++)
        if (live >> n & 1)
            c[k++] = (struct cand){
                rng_mix(slow_task_hash(salt, t) ^ ((uint64_t)(n + 1) * 0xd6e8feb86659fd93ULL)), n};
    qsort(c, (size_t)k, sizeof(c[0]), by_score);
    *p = c[0].node;
    *h = 0;
    for (int i = 0; i <= R && i < k; i++)
        *h |= 1ull << c[i].node;
}

static void slow_hash(uint64_t salt, uint32_t t, int nodes, int R, uint64_t live, int *p,
                      uint64_t *h)
{
    int list[PL_MAX_NODES], k = 0;
    for (int n = 0; n < nodes; n++)
        if (live >> n & 1)
            list[k++] = n;
    int i = (int)(slow_task_hash(salt, t) % (uint64_t)k);
    *p = list[i];
    *h = 0;
    for (int j = 0; j <= R && j < k; j++)
        *h |= 1ull << list[(i + j) % k];
}

/* Roles: 0 none, 1 replica, 2 primary. */
static int role(int p, uint64_t h, int n)
{
    return p == n ? 2 : (h >> n & 1) ? 1 : 0;
}

/* Count the change from (p, h) to (p2, h2) by comparing roles node by node. */
static void slow_count(int nodes, uint64_t live, uint32_t bytes, int p, uint64_t h, int p2,
                       uint64_t h2, struct pl_moves *o)
{
    bool any_live = false;
    for (int n = 0; n < nodes; n++)
        if ((live >> n & 1) && role(p, h, n))
            any_live = true;
    for (int n = 0; n < nodes; n++)
        if (!(live >> n & 1) && role(p, h, n)) {
            o->lost_copies++;
            o->lost_bytes += bytes;
            o->lost_primaries += role(p, h, n) == 2;
        }
    if (h && !any_live) {
        o->unrecoverable++;
        return;
    }
    if (p == p2 && h == h2)
        return;
    o->tasks_changed++;
    for (int n = 0; n < nodes; n++) {
        if (!(live >> n & 1))
            continue;
        int a = role(p, h, n), b = role(p2, h2, n);
        if (a == 1 && b == 2)
            o->promoted++;
        if (a == 0 && b == 2) {
            o->primaries_copied++;
            o->bytes_copied += bytes;
        }
        if (a == 0 && b == 1) {
            o->replicas_copied++;
            o->bytes_copied += bytes;
        }
        if (a == 2 && b == 1)
            o->demoted++;
        if (a && !b)
            o->dropped++;
    }
}

/* The repair with every load recounted from the whole working map at each choice. */
struct work {
    int nodes, R;
    uint32_t T;
    int *p;
    uint64_t *h;
};

static uint32_t count_load(const struct work *w, uint64_t live, int n, bool prim)
{
    uint32_t c = 0;
    if (!(live >> n & 1))
        return 0;
    for (uint32_t t = 0; t < w->T; t++)
        c += prim ? w->p[t] == n : (w->h[t] >> n & 1);
    return c;
}

static int slow_pick(const struct work *w, uint64_t live, uint64_t cand, bool prim, bool most)
{
    int best = -1;
    uint32_t bl = 0;
    for (int n = 0; n < w->nodes; n++) {
        if (!(cand >> n & 1))
            continue;
        uint32_t l = count_load(w, live, n, prim);
        if (best < 0 || (most ? l >= bl : l < bl)) {
            best = n;
            bl = l;
        }
    }
    return best;
}

static void slow_repair(struct work *w, uint64_t live)
{
    for (uint32_t t = 0; t < w->T; t++) {
        int p = w->p[t];
        uint64_t h = w->h[t];
        if (!h)
            continue;
        bool ok = !(h & ~live) && p >= 0 && (live >> p & 1) && __builtin_popcountll(h) == w->R + 1;
        if (ok)
            continue;
        uint64_t surv = h & live;
        if (!surv)
            continue; /* no copy left: kept as it was */
        w->h[t] = surv;
        if (p < 0 || !(surv >> p & 1)) {
            w->p[t] = -1; /* not counted while choosing */
            w->p[t] = slow_pick(w, live, surv, true, false);
        }
        int np = w->p[t];
        while (__builtin_popcountll(w->h[t] & ~(1ull << np)) > w->R) {
            int d = slow_pick(w, live, w->h[t] & ~(1ull << np), false, true);
            w->h[t] &= ~(1ull << d);
        }
        while (__builtin_popcountll(w->h[t] & ~(1ull << np)) < w->R && (live & ~w->h[t])) {
            int a = slow_pick(w, live, live & ~w->h[t], false, false);
            w->h[t] |= 1ull << a;
        }
    }
}

static bool same_moves(const struct pl_moves *a, const struct pl_moves *b)
{
    return !memcmp(a, b, sizeof(*a));
}

static void print_moves(const char *what, const struct pl_moves *m)
{
    cr_log_error("%s: lostP %llu lostC %llu prom %llu pcopy %llu rcopy %llu dem %llu drop %llu "
                 "bytes %llu changed %llu unrec %llu",
                 what, (unsigned long long)m->lost_primaries, (unsigned long long)m->lost_copies,
                 (unsigned long long)m->promoted, (unsigned long long)m->primaries_copied,
                 (unsigned long long)m->replicas_copied, (unsigned long long)m->demoted,
                 (unsigned long long)m->dropped, (unsigned long long)m->bytes_copied,
                 (unsigned long long)m->tasks_changed, (unsigned long long)m->unrecoverable);
}

/* Checks each reported move against the map as it was: a copy comes from a live node
 * that held the task (its primary, when that survives); the rest name a live holder. */
struct move_check {
    const struct pl_map *before;
    uint64_t live;
    uint64_t kinds[5];
};

static void check_move(void *arg, const struct pl_move *mv)
{
    struct move_check *c = arg;
    uint64_t surv = pl_holders(c->before, mv->task) & c->live;
    int p = pl_primary(c->before, mv->task);
    cr_assert(surv >> mv->from & 1, "task %u: move from node %d, which held none", mv->task,
              mv->from);
    cr_assert(c->live >> mv->to & 1);
    if (mv->kind == PL_COPY_PRIMARY || mv->kind == PL_COPY_REPLICA) {
        cr_assert_not(surv >> mv->to & 1);
        if (p >= 0 && (surv >> p & 1))
            cr_assert_eq(mv->from, p);
    } else {
        cr_assert_eq(mv->from, mv->to);
    }
    c->kinds[mv->kind]++;
}

/* A random live set with at least 'least' nodes, drawn as a subset of 'from'. */
static uint64_t random_subset(struct rng *r, uint64_t from, int least)
{
    for (;;) {
        uint64_t s = from & rng_next(r);
        if (__builtin_popcountll(s) >= least)
            return s;
    }
}

static void check_against_slow(enum pl_policy pol, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    for (int round = 0; round < 60; round++) {
        int nodes = 2 + (int)rng_below(&r, 14);
        int R = (int)rng_below(&r, (uint64_t)(nodes < 4 ? nodes : 4));
        uint32_t T = 1 + (uint32_t)rng_below(&r, 120);
        uint64_t salt = rng_next(&r);
        struct pl_map *m = pl_create(T, nodes, R, pol, salt, 0);
        cr_assert_not_null(m);
        for (uint32_t t = 0; t < T; t++)
            pl_set_task_bytes(m, t, 1 + (uint32_t)rng_below(&r, 1000));
        uint64_t all = nodes == 64 ? ~0ull : (1ull << nodes) - 1;
        if (pol == PL_TABLE && rng_chance(&r, 0.5)) { /* a hand-written, sloppy table */
            for (uint32_t t = 0; t < T; t++) {
                int p = (int)rng_below(&r, (uint64_t)nodes);
                pl_set(m, t, p, all & rng_next(&r) & ~(1ull << p));
            }
        } else {
            cr_assert_eq(pl_place_all(m), 0);
        }
        char why[160];
        if (pol != PL_TABLE)
            cr_assert(pl_check(m, why, sizeof(why)), "%s", why);
        /* the slow initial placement agrees, and so does asking for one task on a subset */
        for (uint32_t t = 0; t < T && pol != PL_TABLE; t++) {
            int p, q;
            uint64_t h, g, sub = random_subset(&r, all, 1);
            (pol == PL_HASH ? slow_hash : slow_rendezvous)(salt, t, nodes, R, all, &p, &h);
            cr_assert_eq(pl_primary(m, t), p);
            cr_assert_eq(pl_holders(m, t), h);
            (pol == PL_HASH ? slow_hash : slow_rendezvous)(salt, t, nodes, R, sub, &p, &h);
            cr_assert_eq(pl_place(m, t, sub, &q, &g), 0);
            cr_assert(p == q && h == g);
        }
        uint64_t live = all;
        for (int step = 0; step < 3; step++) {
            live = rng_chance(&r, 0.3) ? random_subset(&r, all, R + 1)
                                       : random_subset(&r, live, R + 1);
            struct work w = {nodes, R, T, malloc(T * sizeof(int)), malloc(T * sizeof(uint64_t))};
            for (uint32_t t = 0; t < T; t++) {
                w.p[t] = pl_primary(m, t);
                w.h[t] = pl_holders(m, t);
            }
            struct pl_moves want = {0}, got;
            if (pol == PL_TABLE) {
                slow_repair(&w, live);
            } else {
                for (uint32_t t = 0; t < T; t++) {
                    bool gone = !(w.h[t] & live);
                    if (!w.h[t] || gone)
                        continue; /* never placed, or no copy left: kept as it was */
                    (pol == PL_HASH ? slow_hash : slow_rendezvous)(salt, t, nodes, R, live, &w.p[t],
                                                                   &w.h[t]);
                }
            }
            for (uint32_t t = 0; t < T; t++)
                slow_count(nodes, live, pl_task_bytes(m, t), pl_primary(m, t), pl_holders(m, t),
                           w.p[t], w.h[t], &want);
            uint64_t e0 = pl_epoch(m), live0 = pl_live(m);
            struct move_check mc = {.before = pl_clone(m), .live = live};
            cr_assert_eq(pl_rebalance(m, live, check_move, &mc, &got), 0);
            cr_assert_eq(mc.kinds[PL_PROMOTE], got.promoted);
            cr_assert_eq(mc.kinds[PL_COPY_PRIMARY], got.primaries_copied);
            cr_assert_eq(mc.kinds[PL_COPY_REPLICA], got.replicas_copied);
            cr_assert_eq(mc.kinds[PL_DEMOTE], got.demoted);
            cr_assert_eq(mc.kinds[PL_DROP], got.dropped);
            pl_destroy((struct pl_map *)mc.before);
            if (!same_moves(&want, &got)) {
                print_moves("slow", &want);
                print_moves("fast", &got);
                cr_assert_fail("%s round %d step %d: move counts differ", pl_policy_name(pol),
                               round, step);
            }
            for (uint32_t t = 0; t < T; t++) {
                cr_assert_eq(pl_primary(m, t), w.p[t], "%s round %d task %u", pl_policy_name(pol),
                             round, t);
                cr_assert_eq(pl_holders(m, t), w.h[t], "%s round %d task %u", pl_policy_name(pol),
                             round, t);
            }
            cr_assert_eq(pl_epoch(m), e0 + (got.tasks_changed || live != live0 ? 1 : 0));
            /* At least R + 1 nodes stay live, so every task that kept a copy is placed
             * correctly again, whatever table it started from. */
            for (uint32_t t = 0; t < T; t++)
                if (pl_holders(m, t) & live)
                    cr_assert(pl_task_ok(m, t, why, sizeof(why)), "%s round %d: %s",
                              pl_policy_name(pol), round, why);
                else /* unrecoverable: kept where it was, and the checker says so */
                    cr_assert_not(pl_task_ok(m, t, NULL, 0));
            free(w.p);
            free(w.h);
        }
        pl_destroy(m);
    }
}

Test(placement, rendezvous_matches_a_full_sort_of_scores)
{
    check_against_slow(PL_RENDEZVOUS, 11);
}

Test(placement, hash_matches_the_modulo_on_the_live_list)
{
    check_against_slow(PL_HASH, 12);
}

Test(placement, repair_matches_a_repair_that_recounts_every_load)
{
    check_against_slow(PL_TABLE, 13);
}

/* Losing one node of 16: rendezvous and the repair move exactly what was lost (every lost
 * primary promoted in place, every lost copy re-made once); hashing onto nodes moves most
 * of everything. */
Test(placement, one_lost_node_rendezvous_and_repair_move_the_minimum_hash_moves_most)
{
    const uint32_t T = 20000;
    for (int pol = PL_TABLE; pol <= PL_RENDEZVOUS; pol++) {
        struct pl_map *m = pl_create(T, 16, 2, (enum pl_policy)pol, 99, 10);
        cr_assert_eq(pl_place_all(m), 0);
        struct pl_moves mv;
        cr_assert_eq(pl_rebalance(m, 0xffff & ~(1u << 5), NULL, NULL, &mv), 0);
        char why[160];
        cr_assert(pl_check(m, why, sizeof(why)), "%s: %s", pl_policy_name(pol), why);
        cr_assert_eq(mv.unrecoverable, 0);
        if (pol == PL_HASH) {
            cr_assert_gt(mv.bytes_copied, 10 * mv.lost_bytes); /* most tasks move */
        } else {
            cr_assert_eq(mv.promoted, mv.lost_primaries);
            cr_assert_eq(mv.primaries_copied, 0);
            cr_assert_eq(mv.replicas_copied, mv.lost_copies);
            cr_assert_eq(mv.bytes_copied, mv.lost_bytes);
            cr_assert_eq(mv.dropped, 0);
            /* each of the 16 nodes held 3/16 of the copies */
            cr_assert_eq(mv.lost_copies, pol == PL_TABLE ? 3 * T / 16 : mv.lost_copies);
        }
        pl_destroy(m);
    }
}

/* The chain table hands a lost node's primaries all to its successor (which held every
 * replica of them); rendezvous spreads them over every survivor. */
Test(placement, the_chain_table_loads_one_successor_rendezvous_spreads)
{
    const uint32_t T = 16000;
    uint32_t most[2];
    for (int i = 0; i < 2; i++) {
        struct pl_map *m = pl_create(T, 16, 1, i ? PL_RENDEZVOUS : PL_TABLE, 5, 1);
        pl_place_all(m);
        struct pl_moves mv;
        pl_rebalance(m, 0xffff & ~1u, NULL, NULL, &mv);
        most[i] = 0;
        for (int n = 1; n < 16; n++)
            if (pl_node_primaries(m, n) > most[i])
                most[i] = pl_node_primaries(m, n);
        pl_destroy(m);
    }
    cr_assert_eq(most[0], 2 * T / 16); /* node 1 took all 1000 of node 0's primaries */
    cr_assert_lt(most[1], 1.2 * T / 15);
}

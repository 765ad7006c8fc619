/* test_sf_node.c - the blocking generator and its high-water mark, in a scripted world:
 * a fake env whose clock the test sets and whose sleep just moves that clock. A restart
 * is closing the sf_node (all memory lost) and opening a new one on the same store. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idgen/sf_node.h"

#define MS 1000000LL
#define T0 (SF_TWITTER_EPOCH_NS + 1000000000LL * MS)

struct fenv {
    struct env env;
    int64_t wall, mono;
    int64_t slept;
    int sleeps;
    char key[8][64];
    char val[8][64];
    size_t len[8];
    int n;
    int puts;
    int fail_puts; /* > 0: the next put fails */
};

static int64_t f_now(struct env *e)
{
    return ((struct fenv *)e)->wall;
}
static int64_t f_mono(struct env *e)
{
    return ((struct fenv *)e)->mono;
}
static void f_sleep(struct env *e, int64_t ns)
{
    struct fenv *f = (struct fenv *)e;
    cr_assert_gt(ns, 0, "a sleep of %lld ns would not advance time", (long long)ns);
    f->wall += ns;
    f->mono += ns;
    f->slept += ns;
    f->sleeps++;
}
static int f_get(struct env *e, const char *key, void *buf, size_t cap, size_t *len)
{
    struct fenv *f = (struct fenv *)e;
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->key[i], key) == 0) {
            memcpy(buf, f->val[i], f->len[i] < cap ? f->len[i] : cap);
            *len = f->len[i];
            return 0;
        }
    return -ENOENT;
}
static int f_put(struct env *e, const char *key, const void *buf, size_t len)
{
    struct fenv *f = (struct fenv *)e;
    if (f->fail_puts > 0) {
        f->fail_puts--;
        return -EIO;
    }
    int i;
    for (i = 0; i < f->n && strcmp(f->key[i], key) != 0; i++)
        ;
    if (i == f->n)
        strcpy(f->key[f->n++], key);
    cr_assert_lt(len, sizeof(f->val[i]));
    memcpy(f->val[i], buf, len);
    f->len[i] = len;
    f->puts++;
    return 0;
}

static const struct env_ops fops = {
    .now = f_now,
    .mono = f_mono,
    .sleep = f_sleep,
    .store_get = f_get,
    .store_put = f_put,
};

static void fenv_init(struct fenv *f, int64_t wall)
{
    memset(f, 0, sizeof(*f));
    f->env.ops = &fops;
    f->wall = wall;
    f->mono = 5 * MS;
}

static struct sf_node_config ncfg(enum sf_policy p, const char *key, int64_t reserve)
{
    struct sf_node_config c = {
        .gen = {.layout = sf_layout_default,
                .dc = 1,
                .worker = 2,
                .policy = p,
                .on_full = SF_FULL_WAIT,
                .wait_max_ns = 1000 * MS,
                .borrow_max_ns = 0},
        .store_key = key,
        .reserve_ns = reserve,
    };
    return c;
}

static struct sf_node *open_ok(struct fenv *f, const struct sf_node_config *c)
{
    int err = 0;
    char msg[200];
    struct sf_node *n = sf_node_open(&f->env, c, &err, msg, sizeof(msg));
    cr_assert_not_null(n, "%d %s", err, msg);
    return n;
}

static uint64_t unit_of_id(uint64_t id)
{
    struct sf_fields fl;
    cr_assert_eq(sf_decompose(&sf_layout_default, id, &fl), 0);
    return fl.ts;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static size_t count_duplicates(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t d = 0;
    for (size_t i = 1; i < n; i++)
        d += v[i] == v[i - 1];
    return d;
}

/* The hazard the mark exists for: a node restarted within the same millisecond starts
 * its sequence at 0 again and re-issues what it issued before the crash. */
Test(sf_node, restart_in_the_same_unit_without_a_mark_duplicates)
{
    struct fenv f;
    fenv_init(&f, T0 + 200000);
    struct sf_node_config c = ncfg(SF_WAIT, NULL, 0);
    uint64_t ids[10];
    struct sf_node *n = open_ok(&f, &c);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
    sf_node_close(n); /* crash */
    f.wall += 300000; /* back up 0.3 ms later, same ms */
    n = open_ok(&f, &c);
    for (int i = 5; i < 10; i++)
        cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
    sf_node_close(n);
    cr_assert_eq(count_duplicates(ids, 10), 5);
    cr_assert_eq(f.puts, 0);
}

Test(sf_node, mark_prevents_duplicates_across_a_restart_in_the_same_unit)
{
    struct fenv f;
    fenv_init(&f, T0 + 200000);
    struct sf_node_config c = ncfg(SF_WAIT, "sf.hwm", 20 * MS);
    uint64_t ids[10];
    struct sf_node *n = open_ok(&f, &c);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
    cr_assert_eq(f.puts, 1, "one put covers the next 20 ms");
    uint64_t mark = unit_of_id(ids[0]) + 20;
    sf_node_close(n);
    f.wall += 300000;
    n = open_ok(&f, &c);
    struct sf_node_stats st;
    sf_node_stats(n, &st);
    cr_assert_eq(st.floor_ts, mark);
    int64_t slept = -1;
    cr_assert_eq(sf_node_next(n, &f.env, &ids[5], &slept), 0);
    /* The restarted node waits out the whole reservation: from 0.5 ms into the unit to
     * the start of the unit after the mark. */
    cr_assert_eq(slept, 21 * MS - 500000);
    cr_assert_eq(f.slept, slept);
    cr_assert_eq(unit_of_id(ids[5]), mark + 1);
    for (int i = 6; i < 10; i++)
        cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
    sf_node_close(n);
    cr_assert_eq(count_duplicates(ids, 10), 0);
    cr_assert_eq(f.puts, 2);
}

/* A step back while the node is down: the in-memory policy cannot see it (the memory
 * is gone); only the mark can. */
Test(sf_node, mark_survives_a_step_back_during_the_restart)
{
    for (int with_mark = 0; with_mark < 2; with_mark++) {
        struct fenv f;
        fenv_init(&f, T0);
        struct sf_node_config c = ncfg(SF_HOLD, with_mark ? "sf.hwm" : NULL, 10 * MS);
        enum { N = 400 };
        uint64_t ids[2 * N];
        struct sf_node *n = open_ok(&f, &c);
        for (int i = 0; i < N; i++) { /* one ID every 0.25 ms for 100 ms */
            cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
            f.wall += MS / 4;
            f.mono += MS / 4;
        }
        sf_node_close(n);
        f.wall -= 60 * MS; /* stepped back 60 ms while down */
        n = open_ok(&f, &c);
        for (int i = N; i < 2 * N; i++) {
            cr_assert_eq(sf_node_next(n, &f.env, &ids[i], NULL), 0);
            f.wall += MS / 4;
            f.mono += MS / 4;
        }
        struct sf_node_stats st;
        sf_node_stats(n, &st);
        sf_node_close(n);
        size_t d = count_duplicates(ids, 2 * N);
        if (with_mark) {
            cr_assert_eq(d, 0);
            cr_assert_eq(f.sleeps, 0, "hold goes on at once, ahead of the clock");
            /* 100 ms of IDs at 10 ms per reservation: about 10 puts before, and the
             * restarted node's logical clock runs ahead, so a few more after. */
            cr_assert_leq(f.puts, 2 * (100 / 10 + 1));
        } else {
            /* 60 ms replayed at 4 IDs per ms, each unit's seq 0..3 again: all 240. */
            cr_assert_eq(d, 240);
        }
    }
}

/* With reserve 0 the mark is written for every new unit: the cost the reservation saves. */
Test(sf_node, reservation_sets_how_often_the_mark_is_written)
{
    int64_t reserves[3] = {0, 10 * MS, 100 * MS};
    int expect[3] = {1000, 91, 10}; /* 1000 units; a put covers 1, 11, 101 of them */
    for (int k = 0; k < 3; k++) {
        struct fenv f;
        fenv_init(&f, T0);
        struct sf_node_config c = ncfg(SF_REFUSE, "m", reserves[k]);
        struct sf_node *n = open_ok(&f, &c);
        for (int i = 0; i < 1000; i++) {
            uint64_t id;
            cr_assert_eq(sf_node_next(n, &f.env, &id, NULL), 0);
            f.wall += MS;
        }
        sf_node_close(n);
        cr_assert_eq(f.puts, expect[k], "reserve %lld ms: %d puts", (long long)(reserves[k] / MS),
                     f.puts);
    }
}

Test(sf_node, a_failed_put_returns_no_id)
{
    struct fenv f;
    fenv_init(&f, T0);
    struct sf_node_config c = ncfg(SF_REFUSE, "m", 0);
    struct sf_node *n = open_ok(&f, &c);
    uint64_t id = 42;
    f.fail_puts = 1;
    cr_assert_eq(sf_node_next(n, &f.env, &id, NULL), -EIO);
    cr_assert_eq(id, 42);
    cr_assert_eq(sf_node_next(n, &f.env, &id, NULL), 0);
    char buf[32];
    size_t len;
    cr_assert_eq(f_get(&f.env, "m", buf, sizeof(buf), &len), 0);
    buf[len] = '\0';
    cr_assert_eq(strtoull(buf, NULL, 10), unit_of_id(id), "the mark covers the ID (reserve 0)");
    sf_node_close(n);
}

Test(sf_node, refuses_bad_configs_and_corrupt_marks)
{
    struct fenv f;
    fenv_init(&f, T0);
    int err = 0;
    char msg[200] = "";
    struct sf_node_config c = ncfg(SF_WAIT, "m", 0);
    c.gen.worker = 32;
    cr_assert_null(sf_node_open(&f.env, &c, &err, msg, sizeof(msg)));
    cr_assert_eq(err, -EINVAL);
    cr_assert_not_null(strstr(msg, "worker id 32"), "%s", msg);
    c = ncfg(SF_WAIT, "m", 0);
    c.gen.layout.epoch_ns = T0 + 1;
    cr_assert_null(sf_node_open(&f.env, &c, &err, msg, sizeof(msg)));
    cr_assert_not_null(strstr(msg, "future"), "%s", msg);
    c = ncfg(SF_WAIT, "m", 0);
    f_put(&f.env, "m", "12x", 3);
    cr_assert_null(sf_node_open(&f.env, &c, &err, msg, sizeof(msg)));
    cr_assert_eq(err, -EIO);
}

/* A wait that the clock makes longer: the node sleeps, reads the clock again, and goes
 * on sleeping if it stepped back meanwhile. */
static int steps_left;
static void f_sleep_stepping(struct env *e, int64_t ns)
{
    f_sleep(e, ns);
    if (steps_left-- > 0)
        ((struct fenv *)e)->wall -= 2 * MS;
}

Test(sf_node, wait_rereads_the_clock_after_each_sleep)
{
    struct fenv f;
    fenv_init(&f, T0 + 10 * MS);
    struct env_ops ops = fops;
    ops.sleep = f_sleep_stepping;
    f.env.ops = &ops;
    struct sf_node_config c = ncfg(SF_WAIT, NULL, 0);
    struct sf_node *n = open_ok(&f, &c);
    uint64_t a, b;
    cr_assert_eq(sf_node_next(n, &f.env, &a, NULL), 0);
    f.wall -= 5 * MS;
    steps_left = 2;
    int64_t slept;
    cr_assert_eq(sf_node_next(n, &f.env, &b, &slept), 0);
    cr_assert_gt(b, a);
    cr_assert_eq(f.sleeps, 3);
    cr_assert_eq(slept, 9 * MS);
    struct sf_node_stats st;
    sf_node_stats(n, &st);
    cr_assert_eq(st.waits, 3);
    cr_assert_eq(st.slept_ns, 9 * MS);
    sf_node_close(n);
}

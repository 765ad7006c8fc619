/* bench_timers.c - insert, cancel and fire costs of the four tq_ structures, and of libuv's
 * and libevent's timers on the same workloads in the same run (when built with the peers),
 * so ratios come from one machine at one moment. Prints one JSON object per line on
 * stdout; reads the system clock, which only benchmarks may do.
 *
 * Workloads: n timers with deadlines uniform in [1 ms, 1 s) ("random") or all at 500 ms
 * ("shared"). insert: n adds into an empty structure, in index order. cancel: n cancels of
 * the pending timers in a random order. fire: every timer fires in one expiry pass (the
 * peers: one loop iteration after their deadlines have passed on the real clock). Each
 * figure is the best of --reps repetitions, in wall time, or with --clock cpu in the
 * thread's CPU time (every line then says "clock":"cpu"). Wheels tick every 1 ms, the
 * resolution libuv offers; the hashed wheel has 1024 slots, one round for these
 * deadlines. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rng/rng.h"
#include "timer/tq.h"

#if HAVE_LIBUV
#include <uv.h>
#endif
#if HAVE_LIBEVENT
#include <event2/event.h>
#endif

#define MS 1000000LL
#define WHEEL_TICK (1 * MS)
#define WHEEL_SLOTS 1024

struct load {
    size_t n;
    const char *kind; /* "random" or "shared" */
    int64_t *when;    /* ns after the start, >= 1 ms */
    uint32_t *perm;   /* cancel order */
    int64_t max_when;
};

/* One implementation under test. 'fire' returns the ns spent firing every pending timer
 * (a peer waits for its deadlines first, outside the measurement). */
struct impl {
    const char *name;
    void *(*open)(const struct load *L, int arg);
    void (*insert)(void *s, const struct load *L);
    void (*cancel)(void *s, const struct load *L);
    double (*fire)(void *s, const struct load *L);
    double (*bytes_per_timer)(void *s, const struct load *L); /* after insert */
    void (*close)(void *s);
    int arg;
};

static volatile uint64_t sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* What the figures are measured with: the monotonic clock (wall time, the default), or
 * with --clock cpu this thread's CPU time, which leaves out the time another process
 * held the core: on a loaded machine it measures the code, not the queue for a CPU.
 * (Every measured loop is single-threaded and busy: nothing in it sleeps.) */
static clockid_t meas_clock = CLOCK_MONOTONIC;
static const char *clock_field = ""; /* ,"clock":"cpu" in every line with --clock cpu */

static int64_t meas_ns(void)
{
    struct timespec ts;
    clock_gettime(meas_clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "bench-timers: out of memory\n");
        exit(1);
    }
    return p;
}

static void sleep_until(int64_t deadline)
{
    struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---- the four tq_ structures --------------------------------------------------------- */

struct ours {
    struct tq_config cfg;
    struct tq *q;
    struct tq_timer *t;
    uint64_t fired;
};

static void *tq_open(const struct load *L, int kind)
{
    struct ours *o = xcalloc(1, sizeof(*o));
    o->cfg = (struct tq_config){
        .kind = (enum tq_kind)kind, .tick_ns = WHEEL_TICK, .slots = WHEEL_SLOTS, .start_ns = 0};
    o->t = xcalloc(L->n, sizeof(*o->t));
    return o;
}

static void tq_insert_all(void *s, const struct load *L)
{
    struct ours *o = s;
    if (!o->q && !(o->q = tq_create(&o->cfg))) {
        fprintf(stderr, "bench-timers: tq_create failed\n");
        exit(1);
    }
    for (size_t i = 0; i < L->n; i++)
        tq_add(o->q, &o->t[i], L->when[i]);
}

static void tq_cancel_all(void *s, const struct load *L)
{
    struct ours *o = s;
    for (size_t i = 0; i < L->n; i++)
        tq_cancel(o->q, &o->t[L->perm[i]]);
}

static void count_one(struct tq_timer *t, void *arg)
{
    (void)t;
    (*(uint64_t *)arg)++;
}

static double tq_fire_all(void *s, const struct load *L)
{
    struct ours *o = s;
    o->fired = 0;
    int64_t t0 = meas_ns();
    tq_expire(o->q, L->max_when + WHEEL_TICK, count_one, &o->fired);
    int64_t t1 = meas_ns();
    if (o->fired != L->n || tq_size(o->q) != 0) {
        fprintf(stderr, "bench-timers: %s fired %" PRIu64 " of %zu\n", tq_name(o->q), o->fired,
                L->n);
        exit(1);
    }
    /* a fresh structure for the next repetition: the heaps' arrays regrow in 'insert' */
    tq_destroy(o->q);
    o->q = NULL;
    return (double)(t1 - t0);
}

static double tq_bytes_per(void *s, const struct load *L)
{
    struct ours *o = s;
    return (double)sizeof(struct tq_timer) + (double)tq_bytes(o->q) / (double)L->n;
}

static void tq_close(void *s)
{
    struct ours *o = s;
    tq_destroy(o->q);
    free(o->t);
    free(o);
}

/* ---- libuv: uv_timer_start / uv_timer_stop, fired by uv_run ---------------------------- */

#if HAVE_LIBUV
struct uvs {
    uv_loop_t loop;
    uv_timer_t *t;
    size_t n;
    uint64_t fired;
};

static void *uv_open(const struct load *L, int arg)
{
    struct uvs *u = xcalloc(1, sizeof(*u));
    if (uv_loop_init(&u->loop) != 0) {
        fprintf(stderr, "bench-timers: uv_loop_init failed\n");
        exit(3);
    }
    u->n = L->n;
    u->t = xcalloc(L->n, sizeof(*u->t));
    for (size_t i = 0; i < L->n; i++) {
        uv_timer_init(&u->loop, &u->t[i]);
        u->t[i].data = u;
    }
    return u;
}

static void uv_fired(uv_timer_t *t)
{
    ((struct uvs *)t->data)->fired++;
}

static void uv_insert_all(void *s, const struct load *L)
{
    struct uvs *u = s;
    uv_update_time(&u->loop);
    for (size_t i = 0; i < L->n; i++)
        uv_timer_start(&u->t[i], uv_fired, (uint64_t)((L->when[i] + MS - 1) / MS), 0);
}

static void uv_cancel_all(void *s, const struct load *L)
{
    struct uvs *u = s;
    for (size_t i = 0; i < L->n; i++)
        uv_timer_stop(&u->t[L->perm[i]]);
}

static double uv_fire_all(void *s, const struct load *L)
{
    struct uvs *u = s;
    /* the loop's clock was read at insert: wait until every deadline has passed */
    int64_t start = (int64_t)uv_now(&u->loop) * MS;
    int64_t mono = now_ns(), hr = (int64_t)uv_hrtime();
    sleep_until(mono + (start - hr) + L->max_when + 3 * MS);
    u->fired = 0;
    int64_t t0 = meas_ns();
    while (u->fired < L->n)
        uv_run(&u->loop, UV_RUN_NOWAIT);
    return (double)(meas_ns() - t0);
}

static double uv_bytes_per(void *s, const struct load *L)
{
    return (double)sizeof(uv_timer_t); /* the heap is intrusive in the handle */
}

static void uv_closed(uv_handle_t *h)
{
    (void)h;
}

static void uv_close_all(void *s)
{
    struct uvs *u = s;
    for (size_t i = 0; i < u->n; i++)
        uv_close((uv_handle_t *)&u->t[i], uv_closed);
    uv_run(&u->loop, UV_RUN_DEFAULT);
    uv_loop_close(&u->loop);
    free(u->t);
    free(u);
}
#endif

/* ---- libevent: evtimer_add / evtimer_del, precise timer, one loop pass ---------------- */

#if HAVE_LIBEVENT
struct evs {
    struct event_base *base;
    unsigned char *ev; /* n events of event_get_struct_event_size() bytes */
    size_t size, n;
    uint64_t fired;
    int64_t added_at; /* when the last add returned */
};

#define EV_AT(e, i) ((struct event *)((e)->ev + (i) * (e)->size))

static void ev_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((struct evs *)arg)->fired++;
}

static void *ev_open(const struct load *L, int arg)
{
    struct evs *e = xcalloc(1, sizeof(*e));
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    e->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!e->base) {
        fprintf(stderr, "bench-timers: event_base_new_with_config failed\n");
        exit(3);
    }
    e->n = L->n;
    e->size = event_get_struct_event_size();
    e->ev = xcalloc(L->n, e->size);
    for (size_t i = 0; i < L->n; i++)
        evtimer_assign(EV_AT(e, i), e->base, ev_fired, e);
    return e;
}

static void ev_insert_all(void *s, const struct load *L)
{
    struct evs *e = s;
    for (size_t i = 0; i < L->n; i++) {
        struct timeval tv = {L->when[i] / 1000000000, (L->when[i] % 1000000000) / 1000};
        evtimer_add(EV_AT(e, i), &tv);
    }
    e->added_at = now_ns();
}

static void ev_cancel_all(void *s, const struct load *L)
{
    struct evs *e = s;
    for (size_t i = 0; i < L->n; i++)
        evtimer_del(EV_AT(e, L->perm[i]));
}

static double ev_fire_all(void *s, const struct load *L)
{
    struct evs *e = s;
    sleep_until(e->added_at + L->max_when + 3 * MS); /* deadlines counted from each add */
    e->fired = 0;
    int64_t t0 = meas_ns();
    while (e->fired < L->n)
        event_base_loop(e->base, EVLOOP_NONBLOCK);
    return (double)(meas_ns() - t0);
}

static double ev_bytes_per(void *s, const struct load *L)
{
    struct evs *e = s;
    return (double)e->size + sizeof(void *); /* plus its min-heap's pointer per event */
}

static void ev_close(void *s)
{
    struct evs *e = s;
    for (size_t i = 0; i < e->n; i++)
        evtimer_del(EV_AT(e, i));
    event_base_free(e->base);
    free(e->ev);
    free(e);
}
#endif

static const struct impl impls[] = {
    {"heap2", tq_open, tq_insert_all, tq_cancel_all, tq_fire_all, tq_bytes_per, tq_close, TQ_HEAP2},
    {"heap4", tq_open, tq_insert_all, tq_cancel_all, tq_fire_all, tq_bytes_per, tq_close, TQ_HEAP4},
    {"wheel", tq_open, tq_insert_all, tq_cancel_all, tq_fire_all, tq_bytes_per, tq_close, TQ_WHEEL},
    {"hwheel", tq_open, tq_insert_all, tq_cancel_all, tq_fire_all, tq_bytes_per, tq_close,
     TQ_HWHEEL},
#if HAVE_LIBUV
    {"libuv", uv_open, uv_insert_all, uv_cancel_all, uv_fire_all, uv_bytes_per, uv_close_all, 0},
#endif
#if HAVE_LIBEVENT
    {"libevent", ev_open, ev_insert_all, ev_cancel_all, ev_fire_all, ev_bytes_per, ev_close, 0},
#endif
};
enum { NIMPL = sizeof(impls) / sizeof(impls[0]), NOPS = 3 };
static const char *const op_names[NOPS] = {"insert", "cancel", "fire"};

static void make_load(struct load *L, size_t n, bool shared, uint64_t seed)
{
    struct rng r;
    rng_seed(&r, seed);
    L->n = n;
    L->kind = shared ? "shared" : "random";
    L->when = xcalloc(n, sizeof(*L->when));
    L->perm = xcalloc(n, sizeof(*L->perm));
    L->max_when = 0;
    for (size_t i = 0; i < n; i++) {
        L->when[i] = shared ? 500 * MS : 1 * MS + (int64_t)rng_below(&r, 999 * MS);
        if (L->when[i] > L->max_when)
            L->max_when = L->when[i];
        L->perm[i] = (uint32_t)i;
    }
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)rng_below(&r, i + 1);
        uint32_t x = L->perm[i];
        L->perm[i] = L->perm[j];
        L->perm[j] = x;
    }
}

/* Best-of-reps ns per op of each op for one implementation on one load. */
static void measure(const struct impl *im, const struct load *L, int reps, double out[NOPS],
                    double *bytes)
{
    void *s = im->open(L, im->arg);
    for (int k = 0; k < NOPS; k++)
        out[k] = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        int64_t t0 = meas_ns();
        im->insert(s, L);
        double ins = (double)(meas_ns() - t0);
        *bytes = im->bytes_per_timer(s, L);
        t0 = meas_ns();
        im->cancel(s, L);
        double can = (double)(meas_ns() - t0);
        im->insert(s, L);
        double fire = im->fire(s, L);
        double v[NOPS] = {ins, can, fire};
        for (int k = 0; k < NOPS; k++)
            if (v[k] / (double)L->n < out[k])
                out[k] = v[k] / (double)L->n;
    }
    im->close(s);
}

static int find_impl(const char *name)
{
    for (int i = 0; i < NIMPL; i++)
        if (strcmp(impls[i].name, name) == 0)
            return i;
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-timers [--reps N] [--n N]... [--impl NAME]... [--no-peers]\n"
                    "                    [--clock wall|cpu]\n"
                    "  --impl NAME  only these (heap2 heap4 wheel hwheel libuv libevent)\n"
                    "  --clock cpu  measure the thread's CPU time instead of wall time\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t ns[8] = {100000, 1000000};
    int nn = 2, reps = 3;
    bool peers = true, user_n = false, only = false;
    static bool chosen[NIMPL];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1)
                usage();
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            if (!user_n)
                nn = 0;
            user_n = true;
            long long v = atoll(argv[++i]);
            if (v < 1 || v > 100000000 || nn == 8)
                usage();
            ns[nn++] = (size_t)v;
        } else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
            int k = find_impl(argv[++i]);
            if (k < 0)
                usage();
            chosen[k] = only = true;
        } else if (strcmp(argv[i], "--clock") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "cpu") == 0)
                meas_clock = CLOCK_THREAD_CPUTIME_ID, clock_field = ",\"clock\":\"cpu\"";
            else if (strcmp(argv[i], "wall") != 0)
                usage();
        } else if (strcmp(argv[i], "--no-peers") == 0) {
            peers = false;
        } else {
            usage();
        }
    }
    for (int i = 0; i < NIMPL && !only; i++)
        chosen[i] = true;
    /* results[n][shared][impl][op] for the ratio lines */
    static double res[8][2][NIMPL][NOPS];
    for (int ni = 0; ni < nn; ni++)
        for (int shared = 0; shared < 2; shared++) {
            struct load L;
            make_load(&L, ns[ni], shared, 42 + (uint64_t)ni);
            /* The memory floor: one write to each timer in the cancel order, what any
             * cancel must at least pay when the timers are too many for the caches. */
            struct tq_timer *tt = xcalloc(L.n, sizeof(*tt));
            double floor_ns = 1e300;
            for (int rep = 0; rep < reps; rep++) {
                int64_t t0 = meas_ns();
                for (size_t i = 0; i < L.n; i++)
                    tt[L.perm[i]].node.pos = (uint32_t)i;
                double v = (double)(meas_ns() - t0) / (double)L.n;
                floor_ns = v < floor_ns ? v : floor_ns;
            }
            free(tt);
            printf("{\"bench\":\"timers_floor\"%s,\"n\":%zu,\"deadlines\":\"%s\","
                   "\"op\":\"touch\",\"ns_per_op\":%.2f}\n",
                   clock_field, L.n, L.kind, floor_ns);
            for (int i = 0; i < NIMPL; i++) {
                bool peer = impls[i].open != tq_open;
                if ((peer && !peers) || !chosen[i]) {
                    for (int k = 0; k < NOPS; k++)
                        res[ni][shared][i][k] = 0;
                    continue;
                }
                double bytes = 0;
                measure(&impls[i], &L, reps, res[ni][shared][i], &bytes);
                for (int k = 0; k < NOPS; k++)
                    printf("{\"bench\":\"timers\"%s,\"impl\":\"%s\",\"n\":%zu,"
                           "\"deadlines\":\"%s\",\"op\":\"%s\",\"ns_per_op\":%.2f,"
                           "\"bytes_per_timer\":%.1f}\n",
                           clock_field, impls[i].name, L.n, L.kind, op_names[k],
                           res[ni][shared][i][k], bytes);
                fflush(stdout);
            }
            free(L.when);
            free(L.perm);
        }
    /* Ratios: how many times faster ours is than each peer, same workload, same run. */
    const char *ours[] = {"hwheel", "heap4"};
    const char *theirs[] = {"libuv", "libevent"};
    for (int ni = 0; ni < nn; ni++)
        for (int shared = 0; shared < 2; shared++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    int ia = find_impl(ours[a]), ib = find_impl(theirs[b]);
                    if (ia < 0 || ib < 0 || !peers || !chosen[ia] || !chosen[ib])
                        continue;
                    for (int k = 0; k < NOPS; k++)
                        printf("{\"bench\":\"timers_ratio\"%s,\"impl\":\"%s\",\"vs\":\"%s\","
                               "\"n\":%zu,\"deadlines\":\"%s\",\"op\":\"%s\","
                               "\"speedup\":%.2f}\n",
                               clock_field, ours[a], theirs[b], ns[ni],
                               shared ? "shared" : "random",
                               op_names[k], res[ni][shared][ib][k] / res[ni][shared][ia][k]);
                }
    /* The goals, at 1e6 pending with random deadlines, when that size was run. */
    for (int ni = 0; ni < nn; ni++) {
        if (ns[ni] != 1000000)
            continue;
        int hw = find_impl("hwheel"), h4 = find_impl("heap4"), uv = find_impl("libuv");
        if (!chosen[hw] || !chosen[h4])
            continue;
        const double lim[NOPS] = {20, 20, 50};
        for (int k = 0; k < NOPS; k++)
            printf("{\"bench\":\"timers_goal\"%s,\"goal\":\"hwheel %s <= %.0f ns at 1e6\","
                   "\"value\":%.2f,\"ok\":%s}\n",
                   clock_field, op_names[k], lim[k], res[ni][0][hw][k],
                   res[ni][0][hw][k] <= lim[k] ? "true" : "false");
        if (uv >= 0 && peers && chosen[uv]) {
            double sp = res[ni][0][uv][2] / res[ni][0][h4][2];
            printf("{\"bench\":\"timers_goal\"%s,\"goal\":\"heap4 fire >= 1.5x faster than libuv "
                   "at 1e6\",\"value\":%.2f,\"ok\":%s}\n",
                   clock_field, sp, sp >= 1.5 ? "true" : "false");
        }
    }
    sink += 1;
    return 0;
}

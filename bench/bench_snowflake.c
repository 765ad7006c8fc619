/* bench_snowflake.c - the live snowflake generators on real cores and the real clock:
 * how much of the 4096-per-ms ceiling they reach, and what an ID costs when the layout
 * does not throttle. Prints one JSON object per line; checks every ID it made for
 * uniqueness and exits 1 on a duplicate. The one place in distlab that reads the real
 * clock for a generator: clock_gettime(CLOCK_REALTIME), here, never in primitives/. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "idgen/snowflake.h"
#include "idgen/idcheck.h"

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-snowflake: %s\n", what);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    memset(p, 0, n); /* touch every page now, not inside a timed loop */
    return p;
}

static struct sf_config config(int seq_bits)
{
    struct sf_config c = {
        .layout = sf_layout_default,
        .dc = 1,
        .worker = 1,
        .policy = SF_WAIT,
        .on_full = SF_FULL_WAIT,
        .wait_max_ns = 1000000000,
    };
    if (seq_bits != 12) { /* widen the sequence with the dc and worker bits */
        c.layout.dc_bits = c.layout.worker_bits = 0;
        c.layout.seq_bits = seq_bits;
        c.dc = c.worker = 0;
    }
    return c;
}

/* Every ID made, exactly: a strictly increasing stream is unique by itself (O(n) scan);
 * anything else goes through the lab's sort-based checker. Returns the duplicates. */
static uint64_t duplicates(uint64_t *const *v, const size_t *n, int parts)
{
    if (parts == 1) {
        bool increasing = true;
        for (size_t i = 1; i < n[0] && increasing; i++)
            increasing = v[0][i] > v[0][i - 1];
        if (increasing)
            return 0;
    }
    struct idset *s = idset_create((size_t)256 << 20, NULL);
    if (!s)
        die("out of memory");
    for (int p = 0; p < parts; p++)
        for (size_t i = 0; i < n[p]; i++)
            if (idset_add(s, v[p][i]) < 0)
                die("cannot write the checker's temporary file");
    struct idset_result r;
    if (idset_finish(s, &r) < 0)
        die("the uniqueness check failed");
    idset_destroy(s);
    return r.duplicates;
}

/* ---- Saturated: as many IDs as the generator will give, for a window of whole ms ---- */

struct sat {
    struct sf_gen *g;
    int64_t start, end; /* wall clock, unit boundaries */
    _Atomic int go;
};
struct sat_thread {
    struct sat *s;
    uint64_t *ids;
    size_t n, cap;
    uint64_t eagain;
    pthread_t th;
};

static void *sat_run(void *arg)
{
    struct sat_thread *t = arg;
    struct sat *s = t->s;
    while (!atomic_load_explicit(&s->go, memory_order_acquire))
        ;
    int64_t now;
    while ((now = wall_ns()) < s->start) /* spin to the first unit's first ns */
        ;
    while (now < s->end) {
        uint64_t id;
        int rc = sf_next(s->g, now, &id, NULL);
        if (rc == 0) {
            if (t->n == t->cap)
                die("more IDs than the ceiling allows: the check is broken");
            t->ids[t->n++] = id;
        } else if (rc == -EAGAIN) {
            t->eagain++; /* spin: the wait is under a ms, a sleep would overshoot it */
        } else {
            die("the generator failed (did the clock step back?)");
        }
        now = wall_ns();
    }
    return NULL;
}

/* 'windows' windows of window_ms whole units, one after the other on one generator.
 * Units are lost, or cut short, only while no generator thread holds a CPU (the OS ran
 * something else), so the best window measures the generator and the others the
 * machine; all three are printed, with the fraction of units filled to 4096. Every ID
 * of every window is checked for uniqueness. */
static int bench_saturated(enum sf_sync sync, int threads, int window_ms, int windows)
{
    struct sf_config c = config(12);
    struct sf_gen *g = sf_gen_create(&c, sync);
    if (!g)
        die("cannot create the generator");
    int64_t unit = c.layout.unit_ns;
    size_t cap = (size_t)window_ms * 4096;
    struct sat_thread t[2];
    uint64_t *all[2];
    size_t lens[2] = {0, 0};
    for (int i = 0; i < threads; i++)
        all[i] = xmalloc((size_t)windows * cap * sizeof(uint64_t));
    double *share = xmalloc((size_t)windows * sizeof(double));
    uint64_t total = 0, eagain = 0, full_units = 0;
    uint32_t *per_unit = xmalloc((size_t)window_ms * sizeof(uint32_t));
    for (int wdw = 0; wdw < windows; wdw++) {
        struct sat s = {.g = g};
        for (int i = 0; i < threads; i++)
            t[i] = (struct sat_thread){.s = &s, .ids = all[i] + lens[i], .cap = cap};
        s.start = (wall_ns() / unit + 20) * unit; /* 20 ms from now, on a unit boundary */
        s.end = s.start + (int64_t)window_ms * unit;
        for (int i = 0; i < threads; i++)
            if (pthread_create(&t[i].th, NULL, sat_run, &t[i]) != 0)
                die("cannot start a thread");
        atomic_store_explicit(&s.go, 1, memory_order_release);
        uint64_t n = 0;
        memset(per_unit, 0, (size_t)window_ms * sizeof(uint32_t));
        uint64_t first;
        sf_layout_unit(&c.layout, s.start, &first);
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i].th, NULL);
            n += t[i].n;
            eagain += t[i].eagain;
            for (size_t k = 0; k < t[i].n; k++) {
                struct sf_fields f;
                sf_decompose(&c.layout, t[i].ids[k], &f);
                if (f.ts >= first && f.ts - first < (uint64_t)window_ms)
                    per_unit[f.ts - first]++;
            }
            lens[i] += t[i].n;
        }
        for (int k = 0; k < window_ms; k++)
            full_units += per_unit[k] == 4096;
        total += n;
        share[wdw] = (double)n / ((double)window_ms * 4096.0);
    }
    uint64_t dup = duplicates(all, lens, threads);
    qsort(share, (size_t)windows, sizeof(double), bench_cmp_double);
    double best = share[windows - 1];
    printf("{\"bench\":\"snowflake\",\"mode\":\"saturated\",\"impl\":\"%s\",\"threads\":%d,"
           "\"window_ms\":%d,\"windows\":%d,\"ids\":%" PRIu64 ",\"ids_per_ms_per_worker\":%.1f,"
           "\"ceiling\":4096,\"share\":%.5f,\"share_median\":%.5f,\"share_worst\":%.5f,"
           "\"full_units\":%.5f,\"eagain\":%" PRIu64 ",\"duplicates\":%" PRIu64 "}\n",
           sf_sync_name(sync), threads, window_ms, windows, total, best * 4096.0, best,
           share[windows / 2], share[0], (double)full_units / ((double)windows * window_ms), eagain,
           dup);
    fflush(stdout);
    for (int i = 0; i < threads; i++)
        free(all[i]);
    free(share);
    free(per_unit);
    sf_gen_destroy(g);
    return dup ? 1 : 0;
}

/* ---- Uncapped: ns per ID, 1 thread, a layout that never runs out ------------------- */

static int bench_uncapped(enum sf_sync sync, int clock_every, size_t nids, int reps)
{
    struct sf_config c = config(22); /* 41/0/0/22: 4 M IDs per ms, far beyond reach */
    uint64_t *ids = xmalloc(nids * sizeof(uint64_t));
    double best = 1e300;
    uint64_t dup_total = 0, eagain = 0;
    for (int rep = 0; rep < reps; rep++) {
        struct sf_gen *g = sf_gen_create(&c, sync);
        if (!g)
            die("cannot create the generator");
        int64_t t0 = mono_ns(), now = 0;
        int left = 0; /* IDs until the next clock read */
        for (size_t i = 0; i < nids;) {
            if (left-- == 0) {
                now = wall_ns();
                left = clock_every - 1;
            }
            int rc = sf_next(g, now, &ids[i], NULL);
            if (rc == 0)
                i++;
            else if (rc == -EAGAIN) /* cannot happen at this layout; counted if it does */
                eagain++, left = 0;
            else
                die("the generator failed (did the clock step back?)");
        }
        double ns = (double)(mono_ns() - t0) / (double)nids;
        if (ns < best)
            best = ns;
        size_t n = nids;
        dup_total += duplicates(&ids, &n, 1);
        sf_gen_destroy(g);
    }
    printf("{\"bench\":\"snowflake\",\"mode\":\"uncapped\",\"impl\":\"%s\",\"threads\":1,"
           "\"layout\":\"41/0/0/22\",\"clock_read_every\":%d,\"ns_per_id\":%.2f,"
           "\"ids\":%zu,\"reps\":%d,\"eagain\":%" PRIu64 ",\"duplicates\":%" PRIu64 "}\n",
           sf_sync_name(sync), clock_every, best, nids, reps, eagain, dup_total);
    fflush(stdout);
    free(ids);
    return dup_total ? 1 : 0;
}

/* What one clock_gettime(CLOCK_REALTIME) costs here: the floor under a clock read per
 * ID. */
static void bench_clock(void)
{
    enum { N = 5000000 };
    int64_t acc = 0, t0 = mono_ns();
    for (int i = 0; i < N; i++)
        acc += wall_ns();
    double ns = (double)(mono_ns() - t0) / N;
    printf("{\"bench\":\"snowflake\",\"mode\":\"clock\",\"clock\":\"CLOCK_REALTIME\","
           "\"ns_per_read\":%.2f,\"sink\":%d}\n",
           ns, (int)(acc & 1));
}

/* The lab's uniqueness checker at the scale the issue names: 1e8 IDs in 64 MB. */
static int bench_idcheck(void)
{
    const uint64_t n = 100000000;
    int64_t t0 = mono_ns();
    struct idset *s = idset_create((size_t)64 << 20, NULL);
    if (!s)
        die("out of memory");
    uint64_t x = 1;
    for (uint64_t i = 0; i < n; i++) { /* increasing-ish, like a run's IDs; 10 repeats */
        x = x * 6364136223846793005u + 1442695040888963407u;
        uint64_t id = (i << 20) ^ (x >> 44);
        if (idset_add(s, id) < 0 || (i % 10000000 == 5 && idset_add(s, id) < 0))
            die("cannot write the checker's temporary file");
    }
    struct idset_result r;
    if (idset_finish(s, &r) < 0)
        die("the uniqueness check failed");
    idset_destroy(s);
    double sec = (double)(mono_ns() - t0) * 1e-9;
    printf("{\"bench\":\"snowflake\",\"mode\":\"idcheck\",\"ids\":%" PRIu64
           ",\"budget_mb\":64,\"runs\":%" PRIu64 ",\"duplicates\":%" PRIu64
           ",\"expected_duplicates\":10,\"seconds\":%.2f}\n",
           r.ids, r.runs, r.duplicates, sec);
    return r.duplicates == 10 ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-snowflake [--window-ms N] [--windows N] [--ids N] [--reps N]\n"
               "                       [--idcheck] [--only clock|saturated|uncapped]\n"
               "  --window-ms N  saturated window, whole ms (default 200)\n"
               "  --windows N    saturated windows; share is the best, share_median and\n"
               "                 share_worst the others (default 5)\n"
               "  --ids N        IDs per uncapped repetition (default 10000000)\n"
               "  --reps N       uncapped repetitions, best kept (default 3)\n"
               "  --idcheck      also time the uniqueness checker on 1e8 IDs in 64 MB\n");
}

static long arg_long(const char *opt, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < min || x > max) {
        fprintf(stderr, "bench-snowflake: %s needs an integer in [%ld, %ld]\n", opt, min, max);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv)
{
    int window_ms = 200, windows = 5, reps = 3;
    size_t nids = 10000000;
    bool idcheck = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--window-ms") == 0)
            window_ms = (int)arg_long(argv[i], argv[i + 1], 1, 600000), i++;
        else if (strcmp(argv[i], "--windows") == 0)
            windows = (int)arg_long(argv[i], argv[i + 1], 1, 1000), i++;
        else if (strcmp(argv[i], "--ids") == 0)
            nids = (size_t)arg_long(argv[i], argv[i + 1], 1, 1000000000), i++;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = (int)arg_long(argv[i], argv[i + 1], 1, 1000), i++;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--idcheck") == 0)
            idcheck = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 0;
        else
            return fprintf(stderr, "bench-snowflake: unknown option '%s'\n", argv[i]),
                   usage(stderr), 2;
    }
    int bad = 0;
#define WANT(m) (!only || strcmp(only, m) == 0)
    if (WANT("clock"))
        bench_clock();
    for (int threads = 1; threads <= 2 && WANT("saturated"); threads++) {
        bad |= bench_saturated(SF_SYNC_CAS, threads, window_ms, windows);
        bad |= bench_saturated(SF_SYNC_MUTEX, threads, window_ms, windows);
    }
    enum sf_sync kinds[3] = {SF_SYNC_NONE, SF_SYNC_CAS, SF_SYNC_MUTEX};
    for (int k = 0; k < 3 && WANT("uncapped"); k++) {
        bad |= bench_uncapped(kinds[k], 1, nids, reps);
        bad |= bench_uncapped(kinds[k], 64, nids, reps);
    }
    if (idcheck)
        bad |= bench_idcheck();
#undef WANT
    if (bad)
        fprintf(stderr, "bench-snowflake: DUPLICATE IDs: see the lines above\n");
    return bad;
}

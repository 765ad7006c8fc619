/* bench_zk_lock.c - ZooKeeper lock cycles (acquire + release) beside the raw pair they
 * are built on (create an ephemeral sequential node, delete it) on the same session,
 * measured by one harness in one run against a ZooKeeper the launcher starts on loopback,
 * at 1 and 16 clients. A lock cycle is the raw pair plus one get-children (a read, which
 * needs no quorum write) sent right behind the create without waiting for its reply
 * (zk_create_list: ZooKeeper answers a session's requests in order, so the listing sees
 * the new node), so it adds a request but no round trip, and its rate should stay close
 * to the pair's: the goal is 80 % at one client. Both algorithms are measured; without
 * contention they make the same calls (the herd's get-children also sets a watch, which
 * costs nothing until a change fires it). Prints one JSON object per line on stdout;
 * reads the system clock, which only benchmarks may do.
 *
 * Each client is a thread of the live world with its own lock node (the cost of the
 * mechanism, not of contention: the scenarios measure that). It runs blocks of BLOCK raw
 * pairs on its recipe lock's session, BLOCK recipe cycles, BLOCK herd cycles (the herd
 * lock has its own session), again and again, timing each block. A block's ratio compares
 * measurements a few milliseconds apart, and the median over all blocks is reported, so
 * load from elsewhere on this shared machine (which comes and goes over seconds) does not
 * decide the result. The rates are each mode's operations over the time spent in it,
 * summed over the clients.
 *
 * First, one client's latency of each call (exists, create, delete), as medians and 99th
 * percentiles over 400 of each: the simulated ensemble's costs are set from these. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_util.h"
#include "live/live.h"
#include "live/servers.h"
#include "live/zk_client.h"
#include "lock/zk_lock.h"

#define MAX_CLIENTS 64
#define BLOCK 8
#define MAX_BLOCKS 4096
#define SESSION_NS 4000000000LL
#define CONNECT_NS 30000000000LL

enum mode { MODE_RAW, MODE_RECIPE, MODE_HERD, NMODES };
static const char *const mode_name[] = {"raw", "recipe", "herd"};

struct client {
    const char *addrs;
    int index;
    int64_t run_ns;
    int nblocks;
    double t[NMODES][MAX_BLOCKS]; /* seconds per block */
    bool failed;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct zk *connect_one(struct env *e, int64_t timeout, void *arg)
{
    return live_zk_connect(arg, timeout);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One raw pair: create an ephemeral sequential node under 'dir', delete it. */
static bool raw_pair(struct zk *z, const char *dir)
{
    char name[ZK_PATH_MAX + 1], node[ZK_PATH_MAX + 1];
    snprintf(name, sizeof(name), "%s/n-", dir);
    return zk_create(z, name, NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, node, sizeof(node), NULL) == 0 &&
           zk_delete(z, node, -1) == 0;
}

static bool lock_cycle(struct zklock *l)
{
    return zklock_acquire(l, -1) == 0 && zklock_release(l) == 0;
}

static void client(struct env *e, void *arg)
{
    struct client *c = arg;
    char dir[NMODES][64];
    struct zklock *l[NMODES] = {NULL};
    for (int m = MODE_RECIPE; m < NMODES; m++) {
        snprintf(dir[m], sizeof(dir[m]), "/bench/%s-%d", mode_name[m], c->index);
        struct zklock_config cfg = {.algo = m == MODE_HERD ? ZKLOCK_HERD : ZKLOCK_RECIPE,
                                    .path = dir[m],
                                    .session_timeout_ns = SESSION_NS,
                                    .connect = connect_one,
                                    .connect_arg = (void *)c->addrs};
        l[m] = zklock_create(e, &cfg);
    }
    snprintf(dir[MODE_RAW], sizeof(dir[MODE_RAW]), "/bench/raw-%d", c->index);
    struct zk *z = l[MODE_RECIPE] ? zklock_session(l[MODE_RECIPE]) : NULL;
    /* warm up: the sessions, the lock nodes and their parents */
    c->failed = !z || !l[MODE_HERD] || zk_await_connected(z, CONNECT_NS) < 0 ||
                !lock_cycle(l[MODE_RECIPE]) || !lock_cycle(l[MODE_HERD]);
    int rc = c->failed ? 0 : zk_create(z, dir[MODE_RAW], NULL, 0, 0, NULL, 0, NULL);
    c->failed = c->failed || (rc < 0 && rc != -EEXIST) || !raw_pair(z, dir[MODE_RAW]);
    int64_t end = mono_ns() + c->run_ns;
    while (!c->failed && mono_ns() < end && c->nblocks < MAX_BLOCKS) {
        for (int m = 0; m < NMODES && !c->failed; m++) {
            int64_t t0 = mono_ns();
            for (int i = 0; i < BLOCK && !c->failed; i++)
                c->failed = m == MODE_RAW ? !raw_pair(z, dir[m]) : !lock_cycle(l[m]);
            c->t[m][c->nblocks] = (double)(mono_ns() - t0) / 1e9;
        }
        c->nblocks++;
    }
    for (int m = MODE_RECIPE; m < NMODES; m++)
        zklock_destroy(l[m]);
}

/* One client's latency of a read (exists), a write (create ephemeral) and a delete. */
static int latencies(const char *addrs, int n)
{
    struct zk *z = live_zk_connect(addrs, SESSION_NS);
    if (!z || zk_await_connected(z, CONNECT_NS) < 0 ||
        zk_create(z, "/lat", NULL, 0, 0, NULL, 0, NULL) < 0) {
        zk_close(z);
        return -1;
    }
    double *t[3];
    for (int k = 0; k < 3; k++)
        t[k] = malloc((size_t)n * sizeof(double));
    int rc = t[0] && t[1] && t[2] ? 0 : -1;
    for (int i = 0; i < n && rc == 0; i++) {
        char node[ZK_PATH_MAX + 1];
        int64_t a = mono_ns();
        rc |= zk_exists(z, "/lat", false, NULL);
        int64_t b = mono_ns();
        rc |=
            zk_create(z, "/lat/n-", NULL, 0, ZK_EPHEMERAL | ZK_SEQUENCE, node, sizeof(node), NULL);
        int64_t c = mono_ns();
        rc |= zk_delete(z, node, -1);
        int64_t d = mono_ns();
        t[0][i] = (double)(b - a) / 1e3;
        t[1][i] = (double)(c - b) / 1e3;
        t[2][i] = (double)(d - c) / 1e3;
    }
    static const char *const op[] = {"exists", "create", "delete"};
    for (int k = 0; k < 3 && rc == 0; k++) {
        qsort(t[k], (size_t)n, sizeof(double), bench_cmp_double);
        printf("{\"bench\":\"zk_op_latency\",\"op\":\"%s\",\"clients\":1,\"n\":%d,"
               "\"p50_us\":%.0f,\"p99_us\":%.0f}\n",
               op[k], n, t[k][n / 2], t[k][n * 99 / 100]);
    }
    for (int k = 0; k < 3; k++)
        free(t[k]);
    zk_close(z);
    return rc == 0 ? 0 : -1;
}

static double loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* n clients for run_ns each; prints the rates and the ratios. Returns 0 or -1. */
static int measure(const char *addrs, int n, int64_t run_ns)
{
    struct client *cl = calloc((size_t)n, sizeof(*cl));
    struct live_world *w = live_world_create(1);
    if (!cl || !w) {
        free(cl);
        live_world_destroy(w);
        return -1;
    }
    bool failed = false;
    for (int i = 0; i < n; i++) {
        cl[i] = (struct client){.addrs = addrs, .index = i, .run_ns = run_ns};
        failed |= live_spawn(w, "bench", client, &cl[i], NULL) < 0;
    }
    live_join_all(w);
    live_world_destroy(w);
    double rate[NMODES] = {0};
    size_t nb = 0;
    for (int i = 0; i < n; i++)
        nb += (size_t)cl[i].nblocks;
    double *ratio[NMODES];
    for (int m = 0; m < NMODES; m++)
        ratio[m] = malloc((nb + 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < n && ratio[0] && ratio[1] && ratio[2]; i++) {
        failed |= cl[i].failed;
        double spent[NMODES] = {0};
        for (int b = 0; b < cl[i].nblocks; b++, k++) {
            for (int m = 0; m < NMODES; m++) {
                spent[m] += cl[i].t[m][b];
                ratio[m][k] = cl[i].t[MODE_RAW][b] / cl[i].t[m][b];
            }
        }
        for (int m = 0; m < NMODES; m++)
            rate[m] += spent[m] > 0 ? BLOCK * cl[i].nblocks / spent[m] : 0;
    }
    int rc = failed || !nb || !ratio[0] || !ratio[1] || !ratio[2] ? -1 : 0;
    if (rc == 0) {
        printf("{\"bench\":\"zk_raw_pair\",\"clients\":%d,\"pairs_per_s\":%.0f,\"blocks\":%zu}\n",
               n, rate[MODE_RAW], nb);
        for (int m = MODE_RECIPE; m < NMODES; m++) {
            double q = median(ratio[m], nb);
            printf("{\"bench\":\"zk_lock_cycle\",\"clients\":%d,\"algorithm\":\"%s\","
                   "\"cycles_per_s\":%.0f,\"ratio_to_raw_pair\":%.3f",
                   n, mode_name[m], rate[m], q);
            if (n == 1) /* the goal is for one client; with 16 the ratio is reported */
                printf(",\"goal\":0.8,\"ok\":%s", q >= 0.8 ? "true" : "false");
            printf("}\n");
        }
        fflush(stdout);
    }
    for (int m = 0; m < NMODES; m++)
        free(ratio[m]);
    free(cl);
    return rc;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 10;
    if (secs <= 0 || argc > 2) {
        fprintf(stderr, "usage: bench-zk-lock [SECONDS_PER_CLIENT_COUNT]\n");
        return 2;
    }
    struct live_cluster *zk;
    char err[2048];
    if (live_cluster_start(LIVE_ZOOKEEPER, 1, NULL, &zk, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-zk-lock: %s\n", err);
        return 3;
    }
    const char *addrs = live_cluster_addrs(zk);
    printf("{\"bench\":\"zk_machine\",\"loadavg_1m_before\":%.2f}\n", loadavg());
    int rc = latencies(addrs, 400);
    const int clients[] = {1, 16};
    for (size_t k = 0; k < sizeof(clients) / sizeof(clients[0]) && rc == 0; k++)
        rc = measure(addrs, clients[k], (int64_t)(secs * 1e9));
    printf("{\"bench\":\"zk_machine\",\"loadavg_1m_after\":%.2f}\n", loadavg());
    live_cluster_stop(zk);
    if (rc < 0) {
        fprintf(stderr, "bench-zk-lock: clients could not use %s\n", addrs);
        return 3;
    }
    return 0;
}

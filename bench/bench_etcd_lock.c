/* bench_etcd_lock.c - etcd lock cycles (acquire + release) per second beside the etcd calls
 * a cycle is made of, issued by hand on the same kind of connection, and beside raw puts,
 * measured by one harness in one run against one etcd, at 1 and 16 clients:
 *
 *   version    GET /version: an HTTP round trip through the gateway, no Raft (the floor)
 *   put        one put: a Raft commit (majority round trip + fsync)
 *   range      one linearizable get (a ReadIndex round, no fsync)
 *   mutex_ops  the mutex's cycle by hand: its txn (create-if-absent + read the owner), then
 *              a delete (two commits)
 *   mutex      elock_acquire + elock_release, ELOCK_MUTEX
 *   sync_ops   etcdsync's cycle by hand: range, grant, txn, delete, revoke
 *   etcdsync   elock_acquire + elock_release, ELOCK_ETCDSYNC
 *
 * A lock cycle cannot beat the calls it is made of; the goal is a cycle at >= 80 % of their
 * rate at one client (what the algorithm adds on the client: bookkeeping, no extra round
 * trip). Each client is a thread of the live world with its own connection and its own
 * key (the cost of the mechanism, not of contention: the scenarios measure that). The
 * modes take turns in short slices; a slice's ratio compares measurements next to each
 * other in time and the medians over the slices are reported, so a burst of load from
 * elsewhere on the machine does not decide the result. Each call's cost (microseconds, one
 * client) is printed too, with the CPU time the etcd processes spent per call when the
 * bench started them (/proc/PID/stat: what the simulated member's `service` time stands
 * for), and the load average before and after, to say whether the machine was busy. Prints one JSON
 * object per line; reads the system clock, which only benchmarks may do.
 *
 *   bench-etcd-lock [--endpoints URL[,URL...]] [--members N] [--slice SECONDS] [--slices N]
 * Without --endpoints it starts its own etcd (N members, 1 by default) on loopback with the
 * live launcher (live/servers.h) and stops it at the end. */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "live/etcd_curl.h"
#include "live/live.h"
#include "live/servers.h"
#include "lock/etcd_lock.h"

#define MAX_CLIENTS 16
#define MAX_SLICES 50
#define TIMEOUT_NS 5000000000LL

enum mode { M_VERSION, M_PUT, M_RANGE, M_MUTEX_OPS, M_MUTEX, M_SYNC_OPS, M_SYNC, M_COUNT };
static const char *const mode_name[] = {"version", "put",      "range",   "mutex_ops",
                                        "mutex",   "sync_ops", "etcdsync"};

struct harness {
    const char *endpoints;
    enum mode mode;
    int64_t slice_ns;
    atomic_int failures;
};

struct client {
    struct harness *h;
    int index;
    uint64_t ops;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct etcd *connect_one(struct env *e, void *arg)
{
    return live_etcd_connect(arg, TIMEOUT_NS);
}

/* The mutex's calls, by hand: the txn elock's mutex sends, then the delete. */
static int mutex_ops(struct etcd *c, const char *prefix, const char *key, int64_t lease)
{
    struct etcd_kv self, owner;
    struct etcd_cmp cmp = {.key = key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
    struct etcd_op first = {.kind = ETCD_OP_RANGE,
                            .key = prefix,
                            .prefix = true,
                            .limit = 1,
                            .sort_target = ETCD_SORT_CREATE,
                            .sort_order = ETCD_SORT_ASCEND,
                            .kvs = &owner,
                            .cap = 1};
    struct etcd_op then_ops[2] = {{.kind = ETCD_OP_PUT, .key = key, .val = "", .lease = lease},
                                  first};
    struct etcd_op else_ops[2] = {{.kind = ETCD_OP_RANGE, .key = key, .kvs = &self, .cap = 1},
                                  first};
    bool ok;
    if (etcd_txn(c, &cmp, 1, then_ops, 2, else_ops, 2, &ok, NULL) < 0 || !ok)
        return -1;
    return etcd_delete(c, key, false, NULL) == 1 ? 0 : -1;
}

/* etcdsync's calls, by hand: range, grant, txn, delete, revoke. */
static int sync_ops(struct etcd *c, const char *key)
{
    int64_t id;
    if (etcd_get(c, key, NULL, NULL) != 0 || etcd_lease_grant(c, 10, &id, NULL, NULL) < 0)
        return -1;
    struct etcd_cmp cmp = {.key = key, .target = ETCD_CMP_CREATE, .result = ETCD_CMP_EQ};
    struct etcd_op put = {
        .kind = ETCD_OP_PUT, .key = key, .val = "0123456789abcdef0123456789abcdef", .lease = id};
    struct etcd_op get = {.kind = ETCD_OP_RANGE, .key = key};
    bool ok;
    if (etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &ok, NULL) < 0 || !ok)
        return -1;
    if (etcd_delete(c, key, false, NULL) != 1)
        return -1;
    return etcd_lease_revoke(c, id, NULL);
}

/* One client: as many operations of its mode as fit in slice_ns, counting successes. */
static void client(struct env *e, void *arg)
{
    struct client *cl = arg;
    struct harness *h = cl->h;
    char key[48], prefix[64], mykey[96];
    snprintf(key, sizeof(key), "/bench/%s/%d", mode_name[h->mode], cl->index);
    snprintf(prefix, sizeof(prefix), "%s/", key);
    struct etcd *c = NULL;
    struct elock *l = NULL;
    int64_t lease = 0;
    if (h->mode == M_MUTEX || h->mode == M_SYNC) {
        struct elock_config cfg = {.algo = h->mode == M_MUTEX ? ELOCK_MUTEX : ELOCK_ETCDSYNC,
                                   .key = key,
                                   .ttl_s = 10,
                                   .connect = connect_one,
                                   .connect_arg = (void *)h->endpoints};
        l = elock_create(e, &cfg);
        /* warm up: connect, and the mutex's session */
        if (l && (elock_acquire(l, TIMEOUT_NS) < 0 || elock_release(l) < 0)) {
            elock_destroy(l);
            l = NULL;
        }
    } else {
        c = live_etcd_connect(h->endpoints, TIMEOUT_NS);
        if (c && h->mode == M_MUTEX_OPS && etcd_lease_grant(c, 10, &lease, NULL, NULL) < 0)
            lease = -1;
        snprintf(mykey, sizeof(mykey), "%s%" PRIx64, prefix, (uint64_t)lease);
        if (c &&
            (lease < 0 || (h->mode != M_VERSION && etcd_put(c, "/bench/warm", "", 0, NULL) < 0))) {
            etcd_close(c);
            c = NULL;
        }
    }
    if (!c && !l) {
        atomic_fetch_add(&h->failures, 1);
        return;
    }
    int64_t end = mono_ns() + h->slice_ns;
    uint64_t ops = 0;
    while (mono_ns() < end) {
        switch (h->mode) {
        case M_VERSION:
            ops += live_etcd_version(c) == 0;
            break;
        case M_PUT:
            ops += etcd_put(c, key, "v", 0, NULL) == 0;
            break;
        case M_RANGE:
            ops += etcd_get(c, "/bench/warm", NULL, NULL) == 1;
            break;
        case M_MUTEX_OPS:
            ops += mutex_ops(c, prefix, mykey, lease) == 0;
            break;
        case M_SYNC_OPS:
            ops += sync_ops(c, key) == 0;
            break;
        default:
            if (elock_acquire(l, TIMEOUT_NS) == 0)
                ops += elock_release(l) == 0;
        }
    }
    cl->ops = ops;
    if (c && lease > 0)
        etcd_lease_revoke(c, lease, NULL);
    etcd_close(c);
    elock_destroy(l);
}

/* The etcd processes the bench started, for their CPU time. */
static pid_t etcd_pids[8];
static int netcd;

/* User + system CPU seconds of the etcd processes so far (0 when none are known). */
static double etcd_cpu_s(void)
{
    double s = 0;
    long tick = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < netcd; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)etcd_pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *p = strrchr(buf, ')'); /* after the command's name */
        unsigned long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            s += (double)(ut + st) / (double)tick;
    }
    return s;
}

static double cpu_s[M_COUNT], cpu_ops[M_COUNT]; /* etcd CPU seconds and calls, per mode */

/* Operations per second of n clients in 'mode' over one slice; -1 when a client failed. */
static double measure(const char *endpoints, enum mode mode, int n, int64_t slice_ns)
{
    double cpu0 = etcd_cpu_s();
    struct harness h = {.endpoints = endpoints, .mode = mode, .slice_ns = slice_ns};
    struct client cl[MAX_CLIENTS];
    struct live_world *w = live_world_create(1);
    if (!w)
        return -1;
    for (int i = 0; i < n; i++) {
        cl[i] = (struct client){.h = &h, .index = i};
        if (live_spawn(w, "bench", client, &cl[i], NULL) < 0)
            atomic_fetch_add(&h.failures, 1);
    }
    live_join_all(w);
    live_world_destroy(w);
    if (atomic_load(&h.failures))
        return -1;
    uint64_t ops = 0;
    for (int i = 0; i < n; i++)
        ops += cl[i].ops;
    cpu_s[mode] += etcd_cpu_s() - cpu0;
    cpu_ops[mode] += (double)ops;
    return (double)ops / ((double)slice_ns / 1e9);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_load(const char *when)
{
    double la[3] = {0, 0, 0};
    if (getloadavg(la, 3) < 0)
        return;
    printf("{\"bench\":\"machine\",\"when\":\"%s\",\"loadavg_1m\":%.2f,\"loadavg_5m\":%.2f,"
           "\"cpus\":%ld}\n",
           when, la[0], la[1], sysconf(_SC_NPROCESSORS_ONLN));
}

static int usage(void)
{
    fprintf(stderr, "usage: bench-etcd-lock [--endpoints URL[,URL...]] [--members N] "
                    "[--slice SECONDS] [--slices N]\n");
    return 2;
}

static int bench(const char *endpoints, double slice, int slices);

int main(int argc, char **argv)
{
    const char *endpoints = NULL;
    double slice = 0.5;
    int slices = 8, members = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--endpoints") && i + 1 < argc)
            endpoints = argv[++i];
        else if (!strcmp(argv[i], "--members") && i + 1 < argc)
            members = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--slice") && i + 1 < argc)
            slice = atof(argv[++i]);
        else if (!strcmp(argv[i], "--slices") && i + 1 < argc)
            slices = atoi(argv[++i]);
        else
            return usage();
    }
    if (slice <= 0 || slices < 1 || slices > MAX_SLICES || members < 1 || members > 7)
        return usage();
    struct live_cluster *cl = NULL;
    if (!endpoints) {
        char err[2048];
        if (live_cluster_start(LIVE_ETCD, members, NULL, &cl, err, sizeof(err)) < 0) {
            fprintf(stderr, "bench-etcd-lock: cannot start etcd: %s\n", err);
            return 3;
        }
        endpoints = live_cluster_addrs(cl);
        for (int i = 0; i < live_cluster_size(cl) && i < 8; i++)
            etcd_pids[netcd++] = live_cluster_pid(cl, i);
    }
    int rc = bench(endpoints, slice, slices);
    live_cluster_stop(cl);
    return rc;
}

static int bench(const char *endpoints, double slice, int slices)
{
    if (live_etcd_ping(endpoints, TIMEOUT_NS) < 0) {
        fprintf(stderr, "bench-etcd-lock: no etcd answers at %s\n", endpoints);
        return 3;
    }
    print_load("start");
    const int clients[] = {1, 16};
    for (size_t k = 0; k < sizeof(clients) / sizeof(clients[0]); k++) {
        int n = clients[k];
        static double rate[M_COUNT][MAX_SLICES], ratio[4][MAX_SLICES];
        memset(cpu_s, 0, sizeof(cpu_s));
        memset(cpu_ops, 0, sizeof(cpu_ops));
        for (int r = 0; r < slices; r++) {
            for (int m = 0; m < M_COUNT; m++) {
                rate[m][r] = measure(endpoints, (enum mode)m, n, (int64_t)(slice * 1e9));
                if (rate[m][r] <= 0) {
                    fprintf(stderr, "bench-etcd-lock: %s clients failed against %s\n", mode_name[m],
                            endpoints);
                    return 3;
                }
            }
            ratio[0][r] = rate[M_MUTEX][r] / rate[M_MUTEX_OPS][r];
            ratio[1][r] = rate[M_SYNC][r] / rate[M_SYNC_OPS][r];
            ratio[2][r] = rate[M_MUTEX][r] / rate[M_PUT][r];
            ratio[3][r] = rate[M_SYNC][r] / rate[M_PUT][r];
        }
        for (int m = M_VERSION; m <= M_RANGE; m++) {
            double q = median(rate[m], slices);
            printf("{\"bench\":\"etcd_call\",\"op\":\"%s\",\"clients\":%d,\"calls_per_s\":%.0f,"
                   "\"us_per_call\":%.0f",
                   mode_name[m], n, q, n * 1e6 / q);
            if (netcd && cpu_ops[m] > 0)
                printf(",\"etcd_cpu_us_per_call\":%.0f", cpu_s[m] * 1e6 / cpu_ops[m]);
            printf("}\n");
        }
        for (int a = 0; a < 2; a++) {
            enum mode lock = a ? M_SYNC : M_MUTEX, ops = a ? M_SYNC_OPS : M_MUTEX_OPS;
            double q = median(ratio[a], slices), p = median(ratio[2 + a], slices);
            bool goal = n > 1 || q >= 0.8;
            printf("{\"bench\":\"etcd_lock_cycle\",\"algorithm\":\"%s\",\"clients\":%d,"
                   "\"cycles_per_s\":%.0f,\"ops_per_s\":%.0f,\"ops\":\"%s\","
                   "\"ratio_to_ops\":%.3f,\"ratio_to_put\":%.3f,\"goal\":0.8,\"ok\":%s}\n",
                   elock_algo_name(a ? ELOCK_ETCDSYNC : ELOCK_MUTEX), n, median(rate[lock], slices),
                   median(rate[ops], slices), a ? "range+grant+txn+delete+revoke" : "txn+delete", q,
                   p, goal ? "true" : "false");
        }
        fflush(stdout);
    }
    print_load("end");
    return 0;
}

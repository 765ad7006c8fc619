/* bench_redis_lock.c - Redis lock cycles (acquire + release) per second beside raw SET
 * commands per second, measured by one harness in one run against a redis-server it
 * starts on a unix socket, at 1 and 16 clients. A cycle is two round trips where a SET is
 * one, so the ratio cannot pass 50 %; the goal is 45 %. Two locks: `safe` (SET NX PX,
 * then an EVALSHA compare-and-delete: a Lua script, dearer on the server than a plain
 * command) and the seed's (SET NX PX, then DEL), which shows what the script costs.
 * Prints one JSON object per line on stdout; reads the system clock, which only
 * benchmarks may do.
 *
 * Each client is a thread of the live world with its own connection and its own key (the
 * cost of the mechanism, not of contention: the scenarios measure that). The three loops
 * take turns in short slices (SLICES of each, 200 ms by default); a slice's ratio compares
 * measurements next to each other in time, and the medians over the slices are reported,
 * so a burst of load from elsewhere on the machine does not decide the result.
 *
 * Where the time goes, per operation (a SET, or a lock cycle), medians over the slices:
 * the client threads' CPU (user and system: hiredis, our code, the socket calls) from
 * their own thread clocks, and the server's main thread's CPU from its INFO (Redis's own
 * getrusage), with its time inside the commands (INFO commandstats). With 16 clients on
 * a small machine the cores are the bottleneck, so these shares set the ratio. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench/bench_util.h"
#include "live/live.h"
#include "live/redis_hiredis.h"
#include "live/servers.h"
#include "lock/redis_lock.h"

#define MAX_CLIENTS 64
#define SLICES 10
#define TIMEOUT_NS 2000000000LL

enum mode { MODE_SET, MODE_SAFE, MODE_SEED };

struct harness {
    const char *addr;
    enum mode mode;
    int64_t secs_ns;
    atomic_int failures;
};

struct client {
    struct harness *h;
    int index;
    uint64_t ops;
    int64_t user_ns, sys_ns; /* this thread's CPU over its loop */
};

/* One measurement: rate and CPU per operation. */
struct sample {
    double ops_per_s;
    double client_user_us, client_sys_us; /* per op, all client threads */
    double server_us, server_cmd_us;      /* per op: main thread CPU, inside commands */
};

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000LL + (int64_t)tv.tv_usec * 1000;
}

/* This thread's user and system CPU time. */
static void thread_cpu(int64_t *user, int64_t *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    *user = tv_ns(ru.ru_utime);
    *sys = tv_ns(ru.ru_stime);
}

/* The server's main thread CPU and time spent inside commands, in microseconds, from its
 * INFO on a connection of its own; -1 when it cannot be read. */
static int server_cpu(redisContext *sc, double *cpu_us, double *cmd_us)
{
    redisReply *r = sc ? redisCommand(sc, "INFO everything") : NULL;
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    double user = -1, sys = -1, cmd = 0;
    for (const char *l = r->str; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        double v;
        const char *u;
        if (sscanf(l, "used_cpu_user_main_thread:%lf", &v) == 1)
            user = v;
        else if (sscanf(l, "used_cpu_sys_main_thread:%lf", &v) == 1)
            sys = v;
        else if (!strncmp(l, "cmdstat_", 8) && (u = strstr(l, "usec=")) && u < strchr(l, '\n'))
            cmd += strtod(u + 5, NULL);
    }
    freeReplyObject(r);
    if (user < 0 || sys < 0)
        return -1;
    *cpu_us = (user + sys) * 1e6;
    *cmd_us = cmd;
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct redis *connect_one(struct env *e, size_t i, void *arg)
{
    return live_redis_connect(arg, TIMEOUT_NS);
}

/* One client: as many operations as fit in secs_ns, counting only successes. */
static void client(struct env *e, void *arg)
{
    struct client *c = arg;
    struct harness *h = c->h;
    char key[64];
    static const char *const prefix[] = {"set", "safe", "seed"};
    snprintf(key, sizeof(key), "bench:%s:%d", prefix[h->mode], c->index);
    struct redis *r = NULL;
    struct rlock *l = NULL;
    if (h->mode == MODE_SET) {
        r = live_redis_connect(h->addr, TIMEOUT_NS);
    } else {
        struct rlock_config cfg = {.algo = h->mode == MODE_SAFE ? RLOCK_SAFE : RLOCK_SEED,
                                   .key = key, .ttl_ns = 10000000000LL,
                                   .connect = connect_one, .connect_arg = (void *)h->addr};
        l = rlock_create(e, &cfg);
    }
    if (!r && !l) {
        atomic_fetch_add(&h->failures, 1);
        return;
    }
    /* warm up: connect, load the script */
    if (r)
        redis_set(r, key, "v", 0, 0);
    else if (rlock_try(l) == 0)
        rlock_release(l);
    int64_t end = mono_ns() + h->secs_ns, u0, s0, u1, s1;
    uint64_t ops = 0;
    thread_cpu(&u0, &s0);
    while (mono_ns() < end) {
        if (r) {
            ops += redis_set(r, key, "v", 0, 0) == 1;
        } else if (rlock_try(l) == 0) {
            ops += rlock_release(l) == 0;
        }
    }
    thread_cpu(&u1, &s1);
    c->ops = ops;
    c->user_ns = u1 - u0;
    c->sys_ns = s1 - s0;
    redis_close(r);
    rlock_destroy(l);
}

/* Operations per second of 'n' clients in 'mode', and the CPU they cost. The server's
 * share is read before the clients connect and after they leave, so it includes their
 * connecting (a few commands, against thousands in the loop). */
static struct sample measure(const char *addr, redisContext *sc, enum mode mode, int n,
                             int64_t secs_ns)
{
    struct harness h = {.addr = addr, .mode = mode, .secs_ns = secs_ns};
    struct client cl[MAX_CLIENTS];
    struct sample out = {.ops_per_s = -1};
    double cpu0 = 0, cmd0 = 0, cpu1 = 0, cmd1 = 0;
    bool srv = server_cpu(sc, &cpu0, &cmd0) == 0;
    struct live_world *w = live_world_create(1);
    if (!w)
        return out;
    for (int i = 0; i < n; i++) {
        cl[i] = (struct client){.h = &h, .index = i};
        if (live_spawn(w, "bench", client, &cl[i], NULL) < 0)
            atomic_fetch_add(&h.failures, 1);
    }
    live_join_all(w);
    live_world_destroy(w);
    srv = srv && server_cpu(sc, &cpu1, &cmd1) == 0;
    if (atomic_load(&h.failures))
        return out;
    uint64_t ops = 0;
    int64_t user = 0, sys = 0;
    for (int i = 0; i < n; i++) {
        ops += cl[i].ops;
        user += cl[i].user_ns;
        sys += cl[i].sys_ns;
    }
    if (!ops)
        return out;
    /* each client ran its loop for secs_ns; spawning and joining are outside it */
    out.ops_per_s = (double)ops / ((double)secs_ns / 1e9);
    out.client_user_us = (double)user / 1e3 / (double)ops;
    out.client_sys_us = (double)sys / 1e3 / (double)ops;
    out.server_us = srv ? (cpu1 - cpu0) / (double)ops : -1;
    out.server_cmd_us = srv ? (cmd1 - cmd0) / (double)ops : -1;
    return out;
}

/* The median of SLICES values (sorts them). */
static double median(double *v)
{
    qsort(v, SLICES, sizeof(*v), bench_cmp_double);
    return SLICES % 2 ? v[SLICES / 2] : (v[SLICES / 2 - 1] + v[SLICES / 2]) / 2;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.2;
    if (secs <= 0 || argc > 2) {
        fprintf(stderr, "usage: bench-redis-lock [SECONDS_PER_SLICE]\n");
        return 2;
    }
    struct live_cluster *srv;
    char err[2048];
    if (live_cluster_start(LIVE_REDIS, 1, NULL, &srv, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench-redis-lock: %s\n", err);
        return 3;
    }
    const char *addr = live_cluster_addrs(srv);
    /* the INFO connection: addr is "unix:PATH" */
    redisContext *sc = strncmp(addr, "unix:", 5) == 0 ? redisConnectUnix(addr + 5) : NULL;
    if (!sc || sc->err)
        fprintf(stderr, "bench-redis-lock: no INFO connection: server CPU not reported\n");
    const int clients[] = {1, 16};
    static const char *const name[] = {"set", "safe", "seed"};
    for (size_t k = 0; k < sizeof(clients) / sizeof(clients[0]); k++) {
        int n = clients[k];
        /* Each slice measures the three back to back; a ratio compares neighbours in
         * time, and the median over the slices ignores the ones a burst of load hit. */
        double rate[3][SLICES], ratio[2][SLICES], cpu[3][4][SLICES];
        for (int r = 0; r < SLICES; r++) {
            for (int m = MODE_SET; m <= MODE_SEED; m++) {
                struct sample x = measure(addr, sc, (enum mode)m, n, (int64_t)(secs * 1e9));
                rate[m][r] = x.ops_per_s;
                if (rate[m][r] <= 0) {
                    fprintf(stderr, "bench-redis-lock: clients could not reach %s\n", addr);
                    redisFree(sc);
                    live_cluster_stop(srv);
                    return 3;
                }
                cpu[m][0][r] = x.client_user_us;
                cpu[m][1][r] = x.client_sys_us;
                cpu[m][2][r] = x.server_us;
                cpu[m][3][r] = x.server_cmd_us;
            }
            ratio[0][r] = rate[MODE_SAFE][r] / rate[MODE_SET][r];
            ratio[1][r] = rate[MODE_SEED][r] / rate[MODE_SET][r];
        }
        printf("{\"bench\":\"redis_set\",\"clients\":%d,\"ops_per_s\":%.0f}\n", n,
               median(rate[MODE_SET]));
        for (int m = MODE_SAFE; m <= MODE_SEED; m++) {
            double q = median(ratio[m - MODE_SAFE]);
            printf("{\"bench\":\"redis_lock_cycle\",\"clients\":%d,\"algorithm\":\"%s\","
                   "\"cycles_per_s\":%.0f,\"ratio_to_set\":%.3f,\"goal\":0.45,\"limit\":0.5,"
                   "\"ok\":%s}\n", n, name[m], median(rate[m]), q, q >= 0.45 ? "true" : "false");
        }
        /* CPU per operation (a SET, or a whole cycle), medians over the slices; the
         * server's figures are -1 when its INFO could not be read */
        for (int m = MODE_SET; m <= MODE_SEED; m++)
            printf("{\"bench\":\"redis_cpu_per_op\",\"clients\":%d,\"loop\":\"%s\","
                   "\"client_user_us\":%.2f,\"client_sys_us\":%.2f,\"server_main_us\":%.2f,"
                   "\"server_cmd_us\":%.2f}\n",
                   n, name[m], median(cpu[m][0]), median(cpu[m][1]), median(cpu[m][2]),
                   median(cpu[m][3]));
        fflush(stdout);
    }
    redisFree(sc);
    live_cluster_stop(srv);
    return 0;
}

/* bench_engine.c - how fast the simulator runs, beside SimGrid doing the same work.
 *
 * Prints one JSON line per workload:
 *   {"bench":"engine","impl":"distlab","workload":"sleep","actors":1000,"events":2000000,
 *    "setup_s":...,"wall_s":...,"events_per_s":...,"rss_kib":...}
 * setup_s is creating the world and its actors; wall_s is running it, and events_per_s
 * divides by wall_s alone, for both engines alike.
 * Workloads: sleep (N actors each doing M sleeps of seeded random length), pingpong (pairs
 * exchanging M messages across a link), callbacks (plain scheduled events, no actors).
 * With the peers feature the sleep and pingpong workloads also run on SimGrid's S4U in
 * the same invocation (impl "simgrid"), followed by a ratio line ("engine_ratio": speedup
 * is our events per second over SimGrid's, rss_ratio our peak RSS over its). Each workload
 * runs in a child process so that rss_kib is that workload's own peak.
 *
 * Usage: bench-engine [--quick] [--no-peers] [--max-actors N]   (N: skip larger worlds) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/peer_simgrid.h"
#include "sim/sim.h"

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* ---- sleep ---- */

static int sleeps_per_actor;
static void sleeper(struct env *e, void *arg)
{
    for (int i = 0; i < sleeps_per_actor; i++)
        env_sleep(e, 1000 + (int64_t)env_rand_below(e, 999000)); /* 1 us .. 1 ms */
}

static int run_sleep(int n, int m, struct bench_result *r)
{
    struct sim_config cfg = {.seed = 1, .stack_size = 16 * 1024};
    struct sim *sim = sim_create(&cfg);
    if (!sim)
        return -ENOMEM;
    sleeps_per_actor = m;
    int node = sim_node_add(sim, "n", 1 << 20); /* cores enough: this measures the loop */
    double t_setup = wall();
    for (int i = 0; i < n; i++)
        if (sim_spawn(sim, node, "s", sleeper, NULL) < 0)
            return -ENOMEM;
    double t0 = wall();
    r->setup_s = t0 - t_setup;
    enum sim_stop stop = sim_run(sim, INT64_MAX);
    r->wall_s = wall() - t0;
    r->events = (uint64_t)n * (uint64_t)m;
    sim_destroy(sim);
    return stop == SIM_STOP_IDLE ? 0 : -EIO;
}

/* ---- pingpong ---- */

static int pp_msgs;
struct pp_peer {
    int other_node;
    uint32_t port; /* the pong actor listens here */
};
static void ping_actor(struct env *e, void *arg)
{
    struct pp_peer *p = arg;
    char buf[16];
    for (int k = 0; k < pp_msgs; k += 2) {
        sim_send(e, (struct sim_addr){p->other_node, p->port}, "ping", 4);
        if (k + 1 < pp_msgs && sim_recv(e, buf, sizeof(buf), NULL, -1) < 0)
            return;
    }
}
static void pong_actor(struct env *e, void *arg)
{
    struct pp_peer *p = arg;
    char buf[16];
    struct sim_addr from;
    sim_listen(e, p->port);
    for (int k = 0; k < pp_msgs; k += 2) {
        if (sim_recv(e, buf, sizeof(buf), &from, -1) < 0)
            return;
        if (k + 1 < pp_msgs)
            sim_send(e, from, "pong", 4);
    }
}

static int run_pingpong(int pairs, int m, struct bench_result *r)
{
    struct sim_config cfg = {.seed = 1, .stack_size = 16 * 1024};
    cfg.network.latency = (struct sim_dist){SIM_DIST_CONST, 10 * SIM_US, 0, 0};
    struct sim *sim = sim_create(&cfg);
    if (!sim)
        return -ENOMEM;
    pp_msgs = m;
    int a = sim_node_add(sim, "a", 1 << 20), b = sim_node_add(sim, "b", 1 << 20);
    struct pp_peer *peers = calloc((size_t)pairs * 2, sizeof(*peers));
    double t_setup = wall();
    for (int i = 0; i < pairs; i++) {
        peers[2 * i] = (struct pp_peer){b, 1 + (uint32_t)i};
        peers[2 * i + 1] = (struct pp_peer){a, 1 + (uint32_t)i};
        sim_spawn(sim, b, "pong", pong_actor, &peers[2 * i + 1]);
        sim_spawn(sim, a, "ping", ping_actor, &peers[2 * i]);
    }
    double t0 = wall();
    r->setup_s = t0 - t_setup;
    enum sim_stop stop = sim_run(sim, INT64_MAX);
    r->wall_s = wall() - t0;
    struct sim_stats st;
    sim_stats(sim, &st);
    r->events = st.msgs_delivered;
    sim_destroy(sim);
    free(peers);
    return stop == SIM_STOP_IDLE && r->events == (uint64_t)pairs * (uint64_t)m ? 0 : -EIO;
}

/* ---- callbacks ---- */

static long cb_left;
static void cb(struct sim *sim, void *arg)
{
    struct rng *r = arg;
    if (--cb_left > 0)
        sim_at(sim, sim_now(sim) + 1 + (int64_t)rng_below(r, 1000), cb, arg);
}

static int run_callbacks(int chains, long total, struct bench_result *r)
{
    struct sim *sim = sim_create(&(struct sim_config){.seed = 1});
    struct rng rngs[64];
    cb_left = total;
    double t0 = wall();
    for (int i = 0; i < chains && i < 64; i++) {
        sim_rng(sim, (uint64_t)i, &rngs[i]);
        sim_at(sim, (int64_t)i, cb, &rngs[i]);
    }
    sim_run(sim, INT64_MAX);
    r->wall_s = wall() - t0;
    struct sim_stats st;
    sim_stats(sim, &st);
    r->events = st.events;
    sim_destroy(sim);
    return 0;
}

/* ---- harness ---- */

static void print(const char *impl, const char *workload, int actors, const struct bench_result *r)
{
    printf("{\"bench\":\"engine\",\"impl\":\"%s\",\"workload\":\"%s\",\"actors\":%d,"
           "\"events\":%llu,\"setup_s\":%.4f,\"wall_s\":%.4f,\"events_per_s\":%.0f,"
           "\"rss_kib\":%ld}\n",
           impl, workload, actors, (unsigned long long)r->events, r->setup_s, r->wall_s,
           r->wall_s > 0 ? (double)r->events / r->wall_s : 0, r->rss_kib);
    fflush(stdout);
}

enum { W_SLEEP, W_PINGPONG, W_CALLBACKS };

/* Run one workload in a child; it writes its result into a pipe. */
static int measure(int simgrid, int w, int n, int m, struct bench_result *out)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -errno;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(fd[0]);
        struct bench_result r = {0};
        int rc;
        if (simgrid)
            rc = w == W_SLEEP ? peer_simgrid_sleep(n, m, &r) : peer_simgrid_pingpong(n, m, &r);
        else if (w == W_SLEEP)
            rc = run_sleep(n, m, &r);
        else if (w == W_PINGPONG)
            rc = run_pingpong(n, m, &r);
        else
            rc = run_callbacks(n, (long)m, &r);
        r.rss_kib = bench_rss_kib();
        r.rc = rc;
        ssize_t wr = write(fd[1], &r, sizeof(r));
        _exit(wr == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], out, sizeof(*out));
    close(fd[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof(*out))
        return -EIO;
    return out->rc;
}

int main(int argc, char **argv)
{
    int quick = 0, peers = 1;
    long max_actors = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--max-actors") == 0 && i + 1 < argc && atol(argv[i + 1]) > 0)
            max_actors = atol(argv[++i]);
        else if (strcmp(argv[i], "--no-peers") == 0)
            peers = 0;
        else {
            fprintf(stderr, "usage: bench-engine [--quick] [--no-peers] [--max-actors N]\n");
            return 2;
        }
    }
    struct {
        int w, n, m;
        const char *name;
    } cases[] = {
        {W_SLEEP, 1000, 2000, "sleep"},      {W_SLEEP, 10000, 200, "sleep"},
        {W_SLEEP, 100000, 20, "sleep"},      {W_PINGPONG, 100, 20000, "pingpong"},
        {W_PINGPONG, 1000, 2000, "pingpong"}, {W_CALLBACKS, 64, 4000000, "callbacks"},
    };
    int ncases = sizeof(cases) / sizeof(cases[0]);
    int status = 0;
    for (int i = 0; i < ncases; i++) {
        int n = cases[i].n, m = quick ? cases[i].m / 20 : cases[i].m;
        struct bench_result ours = {0}, peer = {0};
        int actors = cases[i].w == W_PINGPONG ? 2 * n : cases[i].w == W_CALLBACKS ? 0 : n;
        if (max_actors && actors > max_actors)
            continue;
        if (measure(0, cases[i].w, n, m, &ours) < 0) {
            fprintf(stderr, "bench-engine: %s n=%d failed\n", cases[i].name, n);
            status = 1;
            continue;
        }
        print("distlab", cases[i].name, actors, &ours);
        if (!peers || !peer_simgrid_available() || cases[i].w == W_CALLBACKS)
            continue;
        if (measure(1, cases[i].w, n, m, &peer) < 0) {
            fprintf(stderr, "bench-engine: simgrid %s n=%d failed\n", cases[i].name, n);
            continue;
        }
        print("simgrid", cases[i].name, actors, &peer);
        double a = (double)ours.events / ours.wall_s, b = (double)peer.events / peer.wall_s;
        printf("{\"bench\":\"engine_ratio\",\"vs\":\"simgrid\",\"workload\":\"%s\","
               "\"actors\":%d,\"speedup\":%.2f,\"rss_ratio\":%.3f}\n",
               cases[i].name, actors, a / b, (double)ours.rss_kib / (double)peer.rss_kib);
    }
    return status;
}

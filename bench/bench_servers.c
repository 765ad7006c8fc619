/* bench-servers: what the live recipes cost here. For each recipe (redis, sentinel with
 * one replica, etcd and ZooKeeper with 1 and 3 members): the time from
 * live_cluster_start until every member is ready, the time to kill member 0 and have it
 * ready again on the same address, and the time to stop everything. One JSON line per
 * recipe and repeat; the load average goes with it, since these are start-up times of
 * real processes on a shared machine, not a property of distlab.
 *
 *   bench-servers [REPEATS]     (default 1)
 * Exit 3 when a recipe cannot start (its message on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "live/servers.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double load1(void)
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

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 1;
    if (repeats < 1 || argc > 2) {
        fprintf(stderr, "usage: bench-servers [REPEATS]\n");
        return 2;
    }
    static const struct {
        enum live_kind kind;
        int n;
    } recipes[] = {{LIVE_REDIS, 1}, {LIVE_SENTINEL, 1},  {LIVE_ETCD, 1},
                   {LIVE_ETCD, 3},  {LIVE_ZOOKEEPER, 1}, {LIVE_ZOOKEEPER, 3}};
    for (int r = 0; r < repeats; r++) {
        for (size_t k = 0; k < sizeof(recipes) / sizeof(recipes[0]); k++) {
            char err[2048];
            struct live_cluster *c;
            double load = load1(), t0 = now_s();
            if (live_cluster_start(recipes[k].kind, recipes[k].n, NULL, &c, err, sizeof(err)) < 0) {
                fprintf(stderr, "bench-servers: %s x%d: %s\n", live_kind_name(recipes[k].kind),
                        recipes[k].n, err);
                return 3;
            }
            double t1 = now_s();
            live_cluster_kill(c, 0);
            int rc = live_cluster_restart(c, 0, true, err, sizeof(err));
            double t2 = now_s();
            live_cluster_stop(c);
            double t3 = now_s();
            if (rc < 0) {
                fprintf(stderr, "bench-servers: restart of %s x%d: %s\n",
                        live_kind_name(recipes[k].kind), recipes[k].n, err);
                return 3;
            }
            printf("{\"bench\":\"server_start\",\"kind\":\"%s\",\"members\":%d,\"ready_s\":%.3f,"
                   "\"restart_s\":%.3f,\"stop_s\":%.3f,\"load1\":%.2f}\n",
                   live_kind_name(recipes[k].kind), recipes[k].n, t1 - t0, t2 - t1, t3 - t2, load);
            fflush(stdout);
        }
    }
    return 0;
}

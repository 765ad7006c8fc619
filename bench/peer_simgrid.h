/* peer_simgrid.h - the bench-engine workloads run on SimGrid (S4U), when built with it. */
#ifndef DISTLAB_PEER_SIMGRID_H
#define DISTLAB_PEER_SIMGRID_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bench_result {
    uint64_t events;
    double setup_s; /* creating the world and its actors */
    double wall_s;  /* running it: what events_per_s divides by */
    long rss_kib;
    int rc;
};

int peer_simgrid_available(void);
/* Each may be called once per process (SimGrid's engine is a singleton). */
int peer_simgrid_sleep(int actors, int sleeps, struct bench_result *r);
int peer_simgrid_pingpong(int pairs, int msgs, struct bench_result *r);

#ifdef __cplusplus
}
#endif
#endif

/* engine_peers.h - bench-engine's workloads on other simulators, each built only when
 * found: SimGrid's S4U actors (sleep, pingpong) and ns-3's event scheduler (callbacks).
 * peer_none.c stands in for a peer that is absent. */
#ifndef DISTLAB_ENGINE_PEERS_H
#define DISTLAB_ENGINE_PEERS_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "rng/rng.h"

struct bench_result {
    uint64_t events;
    double setup_s; /* creating the world and its actors */
    double wall_s;  /* running it */
    double cpu_s;   /* running it, in this process's CPU time: what events_per_s divides by */
    long rss_kib;
    uint64_t order_hash; /* callbacks: (time, chain) of every event in the order run */
    uint64_t stack_bytes, stack_frame_bytes, stack_used_max; /* distlab's sleep: sim_stats */
    int rc;
};

/* The callbacks workload's shared parts: chain i's delays come from this stream, and each
 * event folds its time and chain into the order hash. */
static inline void bench_chain_rng(struct rng *r, uint64_t chain)
{
    rng_seed_stream(r, 1, chain + 1);
}

static inline uint64_t bench_order_fold(uint64_t h, int64_t when, uint64_t chain)
{
    return rng_mix(h ^ rng_mix((uint64_t)when * 0x9e3779b97f4a7c15ULL + chain));
}

/* This process's CPU time: on a shared machine it counts only the time this process ran
 * (every peer runs alone in its own child, single-threaded). */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int peer_simgrid_available(void);
/* Each may be called once per process (SimGrid's engine is a singleton). */
int peer_simgrid_sleep(int actors, int sleeps, struct bench_result *r);
int peer_simgrid_pingpong(int pairs, int msgs, struct bench_result *r);

int peer_ns3_available(void);
/* 'chains' events pending at every moment, 'total' events in all; 'scheduler' is an ns-3
 * scheduler type without its namespace (PriorityQueueScheduler, MapScheduler, ...). Once
 * per process. */
int peer_ns3_callbacks(int chains, long total, const char *scheduler, struct bench_result *r);

#ifdef __cplusplus
}
#endif
#endif

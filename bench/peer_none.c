/* peer_none.c - bench-engine without a peer simulator: each absent peer says so. */
#include "bench/engine_peers.h"

#if !HAVE_SIMGRID
int peer_simgrid_available(void)
{
    return 0;
}
int peer_simgrid_sleep(int actors, int sleeps, struct bench_result *r)
{
    return -1;
}
int peer_simgrid_pingpong(int pairs, int msgs, struct bench_result *r)
{
    return -1;
}
#endif

#if !HAVE_NS3
int peer_ns3_available(void)
{
    return 0;
}
int peer_ns3_callbacks(int chains, long total, const char *scheduler, struct bench_result *r)
{
    return -1;
}
#endif

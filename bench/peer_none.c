/* peer_none.c - bench-engine without SimGrid: the peer is absent, say so. */
#include "bench/peer_simgrid.h"

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

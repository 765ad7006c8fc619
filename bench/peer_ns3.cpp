// peer_ns3.cpp - bench-engine's callbacks workload on ns-3's event scheduler, so the two
// raw event queues are compared on one machine in one run. Each chain's delays come from
// the same xoshiro stream as distlab's, and both fold (time, chain) of every event into
// the same hash: equal hashes show the two ran the same events in the same order, ties
// included (ns-3 breaks ties by insertion order too).
#include "bench/engine_peers.h"

#include <chrono>
#include <string>
#include <vector>

#include "ns3/nstime.h"
#include "ns3/object-factory.h"
#include "ns3/simulator.h"

extern "C" {
#include "rng/rng.h"
}

static double now_s()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

namespace {
struct chain {
    struct rng rng;
    uint64_t index;
};
long left;
uint64_t order_hash;
uint64_t events;

void fire(chain *c)
{
    events++;
    order_hash = bench_order_fold(order_hash, ns3::Simulator::Now().GetNanoSeconds(), c->index);
    if (--left > 0)
        ns3::Simulator::Schedule(ns3::NanoSeconds(1 + (int64_t)rng_below(&c->rng, 1000)), &fire,
                                 c);
}
} // namespace

extern "C" int peer_ns3_available(void)
{
    return 1;
}

extern "C" int peer_ns3_callbacks(int chains, long total, const char *scheduler,
                                  struct bench_result *r)
{
    double t_setup = now_s();
    ns3::Time::SetResolution(ns3::Time::NS);
    ns3::ObjectFactory f;
    f.SetTypeId(std::string("ns3::") + scheduler);
    ns3::Simulator::SetScheduler(f);
    std::vector<chain> ch((size_t)chains);
    left = total;
    order_hash = 0;
    events = 0;
    for (int i = 0; i < chains; i++) {
        bench_chain_rng(&ch[(size_t)i].rng, (uint64_t)i);
        ch[(size_t)i].index = (uint64_t)i;
        ns3::Simulator::Schedule(ns3::NanoSeconds(i), &fire, &ch[(size_t)i]);
    }
    double t0 = now_s(), c0 = bench_cpu_s();
    r->setup_s = t0 - t_setup;
    ns3::Simulator::Run();
    r->cpu_s = bench_cpu_s() - c0;
    r->wall_s = now_s() - t0;
    ns3::Simulator::Destroy();
    r->events = events;
    r->order_hash = order_hash;
    return 0;
}

// peer_simgrid.cpp - bench-engine's sleep and pingpong workloads on SimGrid's S4U actors,
// so the two engines are compared on one machine in one run. Durations come from the same
// xoshiro stream as distlab's, per actor.
#include "bench/engine_peers.h"

#include <chrono>
#include <simgrid/s4u.hpp>
#include <string>
#include <vector>

extern "C" {
#include "rng/rng.h"
}

namespace sg4 = simgrid::s4u;

static double now_s()
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

static sg4::Engine *make_engine(int actors)
{
    // SimGrid's fastest switch, small stacks like distlab's, and quiet logs. Past the
    // process's budget of memory mappings (vm.max_map_count) SimGrid cannot give every
    // stack a guard page; drop them then, as distlab does past its own budget.
    static char arg0[] = "bench-engine";
    static char arg1[] = "--cfg=contexts/factory:raw";
    static char arg2[] = "--cfg=contexts/stack-size:64";
    static char arg3[] = "--log=root.thresh:critical";
    static char arg4[] = "--cfg=contexts/guard-size:0";
    static char *argv[] = {arg0, arg1, arg2, arg3, arg4, nullptr};
    static int argc;
    argc = actors > 20000 ? 5 : 4;
    return new sg4::Engine(&argc, argv);
}

extern "C" int peer_simgrid_available(void)
{
    return 1;
}

extern "C" int peer_simgrid_sleep(int actors, int sleeps, struct bench_result *r)
{
    double t_setup = now_s();
    sg4::Engine *e = make_engine(actors);
    auto *zone = sg4::create_full_zone("zone");
    sg4::Host *h = zone->create_host("h", 1e9);
    zone->seal();
    for (int i = 0; i < actors; i++) {
        sg4::Actor::create("s", h, [i, sleeps]() {
            struct rng rg;
            rng_seed_stream(&rg, 1, (uint64_t)i + 1);
            for (int k = 0; k < sleeps; k++)
                sg4::this_actor::sleep_for((1000 + (double)rng_below(&rg, 999000)) * 1e-9);
        });
    }
    double t0 = now_s(), c0 = bench_cpu_s();
    r->setup_s = t0 - t_setup;
    e->run();
    r->cpu_s = bench_cpu_s() - c0;
    r->wall_s = now_s() - t0;
    r->events = (uint64_t)actors * (uint64_t)sleeps;
    return 0;
}

extern "C" int peer_simgrid_pingpong(int pairs, int msgs, struct bench_result *r)
{
    double t_setup = now_s();
    sg4::Engine *e = make_engine(2 * pairs);
    auto *zone = sg4::create_full_zone("zone");
    sg4::Host *a = zone->create_host("a", 1e9);
    sg4::Host *b = zone->create_host("b", 1e9);
    sg4::Link *l = zone->create_link("l", 1e9)->set_latency(10e-6);
    zone->add_route(a->get_netpoint(), b->get_netpoint(), nullptr, nullptr,
                    {sg4::LinkInRoute(l)}, true);
    zone->seal();
    static int payload = 0;
    for (int i = 0; i < pairs; i++) {
        std::string ma = "a" + std::to_string(i), mb = "b" + std::to_string(i);
        sg4::Actor::create("ping", a, [ma, mb, msgs]() {
            sg4::Mailbox *in = sg4::Mailbox::by_name(ma), *out = sg4::Mailbox::by_name(mb);
            for (int k = 0; k < msgs; k += 2) {
                out->put(&payload, 4);
                if (k + 1 < msgs)
                    in->get<int>();
            }
        });
        sg4::Actor::create("pong", b, [ma, mb, msgs]() {
            sg4::Mailbox *in = sg4::Mailbox::by_name(mb), *out = sg4::Mailbox::by_name(ma);
            for (int k = 0; k < msgs; k += 2) {
                in->get<int>();
                if (k + 1 < msgs)
                    out->put(&payload, 4);
            }
        });
    }
    double t0 = now_s(), c0 = bench_cpu_s();
    r->setup_s = t0 - t_setup;
    e->run();
    r->cpu_s = bench_cpu_s() - c0;
    r->wall_s = now_s() - t0;
    r->events = (uint64_t)pairs * (uint64_t)msgs;
    return 0;
}

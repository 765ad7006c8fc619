/* snowflake.c - the "idgen/snowflake" workload: snowflake generators on nodes
 * whose clocks are offset, drift, step, and crash, and what that does to the IDs.
 * Never writes files or exits.
 *
 * The simulated world: nodes worker-0 .. worker-(n-1), one actor each (the node's main
 * actor, so it runs again after a restart). The actor opens a generator (primitives/
 * idgen/sf_node.h: env clock, sleeps for waits, optional high-water mark in the node's
 * durable store) and serves requests that arrive as a Poisson process of `rate` per ms
 * of true time; a request that arrives while the actor is busy (waiting on the clock)
 * queues. Every ID goes to the exact checkers (idgen/idcheck.h): uniqueness over the
 * whole run, and order against the true order of issue.
 *
 * Metrics: ids, duplicates, errors (refused, out of range, store failures), max_stall
 * (the longest one call slept for the clock, ns), max_lead (how far an ID's time unit
 * started after the true time it was issued at, ns; a node whose clock is fast leads by
 * its offset), max_lead_clock (the same against the node's own clock: what the policy
 * chose to borrow), inversions (fraction of ID pairs ordered against their true order),
 * inverted_pairs, max_inverted_gap (ns), ids_per_ms (per worker), store_puts, waits; the
 * histograms latency (a call, waits included, ns) and queue_delay (arrival to ID, ns); the
 * series (bins of `bin`, only within the `watch_*` window and worker) issued (IDs), refused_ts
 * (errors) and lead_clock_ms (lead over the node's clock, ms).
 *
 * Theory metrics (*_theory, max_inverted_gap_bound) come from the scenario's own faults
 * and the clocks as they were: snowflake_theory.c says how.
 *
 * Every random draw comes from an actor's seeded stream or a stream of the run seed, so
 * a run replays from its seed. */
#include "lab/idgen/snowflake_wl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define IDSET_BUDGET ((size_t)64 << 20)

static const struct lab_param sfw_params[] = {
    {"workers", LAB_INT, "4", 1, MAX_WORKERS, NULL, "nodes worker-0 ..., one generator each"},
    {"rate", LAB_FLOAT, "20", 1e-6, 1e7, NULL,
     "requests per ms of true time per worker (Poisson arrivals)"},
    {"policy", LAB_ENUM, "wait", 1, 0, NAMES_CHOICES(SF_POLICY_NAMES),
     "what the generator does when the clock is behind its last ID (idgen/snowflake.h)"},
    {"on_full", LAB_ENUM, "wait", 1, 0, NAMES_CHOICES(SF_FULL_NAMES),
     "what it does when a unit's 2^seq IDs are used up"},
    {"wait_max", LAB_DURATION, "1s", 0, 3600e9, NULL,
     "the longest wait for a clock that went back"},
    {"borrow_max", LAB_DURATION, "10ms", 0, 3600e9, NULL,
     "how far an ID's unit may start ahead of the clock (borrow)"},
    {"layout", LAB_STRING, "41/5/5/12", 1, 0, NULL, "bits of time/datacenter/worker/sequence"},
    {"unit", LAB_DURATION, "1ms", 1, 3600e9, NULL, "length of a time unit"},
    {"dc", LAB_INT, "0", 0, 1e9, NULL, "the datacenter id of every worker"},
    {"worker_ids", LAB_LIST, "[]", 1, 0, NULL,
     "the worker id of each node in order; [] means worker-i gets i (a repeat is a clash)"},
    {"hwm", LAB_BOOL, "false", 1, 0, NULL,
     "keep a high-water mark in the node's durable store (restart safety)"},
    {"reserve", LAB_DURATION, "100ms", 0, 3600e9, NULL,
     "how far ahead of the IDs the mark is written (hwm)"},
    {"store_latency", LAB_DURATION, "0", 0, 3600e9, NULL, "time a durable put takes (fsync)"},
    {"skew", LAB_DURATION, "0", 0, 3600e9, NULL,
     "each node's clock offset drawn uniformly from [-skew, +skew] (world.clocks overrides)"},
    {"drift", LAB_FLOAT, "0", 0, 1e5, NULL,
     "each node's drift drawn uniformly from [-drift, +drift] ppm"},
    {"bin", LAB_DURATION, "5ms", 1000, 3600e9, NULL, "bin width of the time series"},
    {"watch_from", LAB_DURATION, "0", 0, 1e15, NULL,
     "the time series record only from this true time on (a zoom on a fault)"},
    {"watch_for", LAB_DURATION, "0", 0, 1e15, NULL, "... and for this long (0: to the end)"},
    {"watch_worker", LAB_INT, "-1", -1, MAX_WORKERS - 1, NULL,
     "the time series record only this worker's requests (-1: all)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};


/* ---- The worker actor --------------------------------------------------------------- */

static void close_gen(void *arg)
{
    sf_node_close(arg);
}

/* Exponential inter-arrival time in ns with rate r per ns, from 64 random bits. */
static int64_t exp_draw(struct rng *r, double rate_per_ns)
{
    double u = 1.0 - rng_double(r); /* (0, 1] */
    double x = -log(u) / rate_per_ns;
    return x > 1e18 ? (int64_t)1e18 : (int64_t)x + 1;
}

/* Whether the time series record a request of node nd that ended at true time t. */
static bool watched(const struct sfw *w, const struct sfw_node *nd, int64_t t)
{
    return t >= w->watch_from && t < w->watch_to &&
           (w->watch_worker < 0 || w->watch_worker == nd->index);
}

static void worker_main(struct env *e, void *arg)
{
    struct sfw_node *nd = arg;
    struct sfw *w = nd->w;
    char msg[256];
    int err = 0;
    struct sf_node *gen = sf_node_open(e, &nd->cfg, &err, msg, sizeof(msg));
    if (!gen) {
        lab_fail(w->run, "worker-%d: cannot open the generator: %s", nd->index, msg);
        sim_stop(w->sim, "generator failed to open");
        return;
    }
    sim_env_atexit(e, close_gen, gen);
    struct sf_node_stats st;
    sf_node_stats(gen, &st);
    if (nd->nopens < MAX_OPENS) {
        nd->open_t[nd->nopens] = sim_env_true_now(e);
        nd->open_floor[nd->nopens] = st.floor_ts;
    }
    nd->nopens++;
    uint64_t puts0 = st.puts, waits0 = st.waits;
    struct rng r;
    rng_seed(&r, env_rand(e));
    const struct sf_layout *l = &w->gen.layout;
    /* Arrivals on the node's monotonic clock, which env_sleep follows exactly; it runs
     * ppm away from true time at most, which the theory ignores. */
    int64_t next = env_mono(e) + exp_draw(&r, w->rate_per_ns);
    for (;;) {
        int64_t m0 = env_mono(e);
        if (m0 < next) {
            env_sleep(e, next - m0);
            continue;
        }
        int64_t t = sim_env_true_now(e);
        uint64_t id;
        int64_t slept = 0;
        int rc = sf_node_next(gen, e, &id, &slept);
        int64_t t1 = sim_env_true_now(e), clock = env_now(e), m1 = env_mono(e);
        hist_add(w->latency, t1 - t);
        if (slept > w->max_stall)
            w->max_stall = slept;
        sf_node_stats(gen, &st);
        w->puts += st.puts - puts0;
        w->waits += st.waits - waits0;
        puts0 = st.puts;
        waits0 = st.waits;
        if (rc == 0) {
            struct sf_fields f;
            sf_decompose(l, id, &f);
            int64_t lead = f.time_ns - (w->base + t1), lead_clock = f.time_ns - clock;
            if (!w->any_lead || lead > w->max_lead)
                w->max_lead = lead;
            if (!w->any_lead || lead_clock > w->max_lead_clock)
                w->max_lead_clock = lead_clock;
            w->any_lead = true;
            w->nids++;
            hist_add(w->queue, m1 - next);
            if (watched(w, nd, t1)) {
                series_add(w->issued, t1, 1);
                series_add(w->lead_ts, t1, (double)lead_clock / 1e6);
            }
            int c1 = idset_add(w->ids, id), c2 = idorder_add(w->order, t1, id);
            if ((c1 < 0 || c2 < 0) && !w->check_err)
                w->check_err = c1 < 0 ? c1 : c2;
        } else {
            w->errors++;
            w->refused += rc == -ERANGE;
            w->overflow += rc == -EOVERFLOW;
            w->store_errors += rc != -ERANGE && rc != -EOVERFLOW;
            if (watched(w, nd, t1))
                series_add(w->refused_ts, t1, 1);
        }
        next += exp_draw(&r, w->rate_per_ns);
    }
}

/* Every sample_ns of true time: each node's offset, for the theory. */
static void sample_clocks(struct sim *sim, void *arg)
{
    struct sfw *w = arg;
    if (w->nsamples == w->samples_cap)
        return; /* sized for the whole run in build_world */
    int64_t t = sim_now(sim);
    for (int i = 0; i < w->workers; i++)
        w->offsets[w->nsamples * (size_t)w->workers + (size_t)i] =
            sim_node_wall(sim, w->nodes[i].node) - w->base - t;
    w->nsamples++;
    if (t + w->sample_ns <= w->duration)
        sim_at(sim, t + w->sample_ns, sample_clocks, w);
}

/* ---- Parameters and world ------------------------------------------------------------ */

static int read_params(struct sfw *w, struct lab_run *run)
{
    w->workers = (int)lab_int(run, "workers");
    w->rate_per_ns = lab_float(run, "rate") / 1e6;
    w->duration = lab_duration_total(run);
    struct sf_config *g = &w->gen;
    g->layout = sf_layout_default;
    const char *lay = lab_str(run, "layout");
    if (sf_layout_parse_bits(lay, &g->layout) < 0)
        return lab_fail_param(run, "layout",
                          "layout '%s': expected T/D/W/S, each from 0 to 63 bits, e.g. "
                          "41/5/5/12", lay);
    g->layout.unit_ns = lab_duration(run, "unit");
    char why[256];
    if (sf_layout_check(&g->layout, INT64_MAX, why, sizeof(why)) < 0)
        return lab_fail_param(run, "layout", "%s", why);
    g->policy = (enum sf_policy)lab_enum(run, "policy");
    g->on_full = (enum sf_full)lab_enum(run, "on_full");
    g->wait_max_ns = lab_duration(run, "wait_max");
    g->borrow_max_ns = lab_duration(run, "borrow_max");
    g->dc = (uint64_t)lab_int(run, "dc");
    w->hwm = lab_bool(run, "hwm");
    w->reserve = lab_duration(run, "reserve");
    w->store_latency = lab_duration(run, "store_latency");
    w->skew = lab_duration(run, "skew");
    w->drift = lab_float(run, "drift");
    w->watch_from = lab_duration(run, "watch_from");
    int64_t wf = lab_duration(run, "watch_for");
    w->watch_to = wf ? w->watch_from + wf : INT64_MAX;
    w->watch_worker = (int)lab_int(run, "watch_worker");
    size_t nids = lab_list_len(run, "worker_ids");
    if (nids && nids != (size_t)w->workers) {
        return lab_fail_param(run, "worker_ids", "worker_ids has %zu entries for %d workers", nids,
                          w->workers);
    }
    w->nodes = calloc((size_t)w->workers, sizeof(*w->nodes));
    if (!w->nodes)
        return -ENOMEM;
    for (int i = 0; i < w->workers; i++) {
        struct sfw_node *nd = &w->nodes[i];
        nd->w = w;
        nd->index = i;
        nd->cfg.gen = *g;
        if (nids) {
            double v = lab_list_float(run, "worker_ids", (size_t)i);
            if (!(v >= 0) || v != floor(v) || v > 1e18) {
                return lab_fail_param(run, "worker_ids",
                                  "worker_ids[%d] = %g: expected a non-negative integer", i, v);
            }
            nd->cfg.gen.worker = (uint64_t)v;
        } else {
            nd->cfg.gen.worker = (uint64_t)i;
        }
        char err[256];
        /* The epoch is checked against the simulated clocks when a node opens it. */
        if (sf_config_check(&nd->cfg.gen, INT64_MAX, err, sizeof(err)) < 0)
            return lab_fail_param(run, g->dc > sf_layout_max_dc(&g->layout) ? "dc"
                                   : nids                              ? "worker_ids"
                                                                       : "workers",
                              "worker-%d: %s", i, err);
        nd->key = (nd->cfg.gen.dc << g->layout.worker_bits) | nd->cfg.gen.worker;
        snprintf(nd->store_key, sizeof(nd->store_key), "sf.hwm");
        nd->cfg.store_key = w->hwm ? nd->store_key : NULL;
        nd->cfg.reserve_ns = w->reserve;
    }
    return 0;
}

static int build_world(struct lab_run *run, struct sim *sim, void *arg)
{
    struct sfw *w = arg;
    w->sim = sim;
    int cores = lab_world_cores(run);
    struct rng r;
    sim_rng(w->sim, 0x5f5f, &r); /* the clocks' own stream */
    for (int i = 0; i < w->workers; i++) {
        char name[32];
        snprintf(name, sizeof(name), "worker-%d", i);
        int id = sim_node_add(w->sim, name, cores);
        if (id < 0)
            return id;
        w->nodes[i].node = id;
        if (i == 0) /* before any clock is set: true time 0 on the wall clock */
            w->base = sim_node_wall(w->sim, id) - sim_now(w->sim);
        double off = w->skew ? (2 * rng_double(&r) - 1) * (double)w->skew : 0;
        double ppm = w->drift ? (2 * rng_double(&r) - 1) * w->drift : 0;
        if ((w->skew || w->drift) && sim_clock_set(w->sim, id, (int64_t)off, ppm) < 0)
            return -EINVAL;
        if (w->store_latency && sim_node_store_latency(w->sim, id, w->store_latency) < 0)
            return -EINVAL;
        if (sim_node_main(w->sim, id, "generator", worker_main, &w->nodes[i]) < 0)
            return -ENOMEM;
    }
    w->sample_ns = SIM_MS;
    while (w->duration / w->sample_ns > 20000)
        w->sample_ns *= 2;
    w->samples_cap = (size_t)(w->duration / w->sample_ns) + 2;
    w->offsets = malloc(w->samples_cap * (size_t)w->workers * sizeof(*w->offsets));
    if (!w->offsets)
        return -ENOMEM;
    return sim_at(w->sim, 0, sample_clocks, w);
}

/* ---- Run ------------------------------------------------------------------------------ */

static int record(struct lab_run *run, void *arg)
{
    struct sfw *w = arg;
    if (w->check_err) {
        lab_fail(run, "the ID checkers failed: %s", strerror(-w->check_err));
        return -EIO;
    }
    struct idset_result u;
    struct idorder_result o;
    int rc = idset_finish(w->ids, &u);
    if (rc == 0)
        rc = idorder_finish(w->order, &o);
    if (rc < 0) {
        lab_fail(run, "the ID checkers failed: %s", strerror(-rc));
        return -EIO;
    }
    lab_metric(run, "ids", (double)u.ids);
    lab_metric(run, "duplicates", (double)u.duplicates);
    lab_metric(run, "errors", (double)w->errors);
    lab_metric(run, "refused", (double)w->refused);
    lab_metric(run, "store_errors", (double)w->store_errors);
    lab_metric(run, "max_stall", (double)w->max_stall);
    lab_metric(run, "max_lead", (double)w->max_lead);
    lab_metric(run, "max_lead_clock", (double)w->max_lead_clock);
    lab_metric(run, "inversions", o.inversions);
    lab_metric(run, "inverted_pairs", (double)o.inverted_pairs);
    lab_metric(run, "max_inverted_gap", (double)o.max_gap_ns);
    lab_metric(run, "store_puts", (double)w->puts);
    lab_metric(run, "waits", (double)w->waits);
    lab_metric(run, "ids_per_ms", (double)u.ids / ((double)w->duration / 1e6) / (double)w->workers);
    if (u.nexamples) {
        char fb[96];
        struct sf_fields f;
        sf_decompose(&w->gen.layout, u.examples[0], &f);
        snprintf(fb, sizeof(fb), "unit %llu dc %llu worker %llu seq %llu", (unsigned long long)f.ts,
                 (unsigned long long)f.dc, (unsigned long long)f.worker, (unsigned long long)f.seq);
        lab_note(run, "first duplicated ID %llu (%s)", (unsigned long long)u.examples[0], fb);
    }
    sfw_record_exposure_theory(w, run);
    sfw_record_order_theory(w, run);
    return 0;
}

static void sfw_free(struct sfw *w)
{
    idset_destroy(w->ids);
    idorder_destroy(w->order);
    free(w->nodes);
    free(w->offsets);
}

static int sfw_run(struct lab_run *run)
{
    struct sfw w = {.run = run};
    int rc = read_params(&w, run);
    if (rc < 0) {
        if (rc == -ENOMEM)
            lab_fail(run, "out of memory");
        goto out;
    }
    w.ids = idset_create(IDSET_BUDGET, NULL);
    w.order = idorder_create();
    w.latency = lab_hist(run, "latency", "ns");
    w.queue = lab_hist(run, "queue_delay", "ns");
    int64_t bin = lab_duration(run, "bin");
    w.issued = lab_series(run, "issued", bin, "ids");
    w.refused_ts = lab_series(run, "refused_ts", bin, "errors");
    w.lead_ts = lab_series(run, "lead_clock_ms", bin, "ms");
    if (!w.ids || !w.order) {
        lab_fail(run, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    rc = lab_sim_run(run, &w, build_world, record);
out:
    sfw_free(&w);
    return rc;
}

extern const struct lab_workload lab_wl_snowflake;
const struct lab_workload lab_wl_snowflake = {
    .name = "idgen/snowflake",
    .about = "snowflake generators under clock steps, skew, restarts and clashes; "
             "duplicates, errors, stalls, lead and order against an exposure theory",
    .params = sfw_params,
    .worlds = LAB_WORLD_SIM,
    .run = sfw_run,
};


/* snowflake.c - the "idgen/snowflake" workload (issue 4): snowflake generators on nodes
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
 * inverted_pairs, max_inverted_gap (ns), ids_per_ms (per worker), ids_per_unit (IDs whose
 * unit lies wholly inside the run, per such unit and worker: what a unit holds, which
 * borrowed future units do not inflate), store_puts, waits; the
 * histograms latency (a call, waits included, ns) and queue_delay (arrival to ID, ns); the
 * series (bins of `bin`, only within the `watch_*` window and worker) issued (IDs), refused_ts
 * (errors) and lead_clock_ms (lead over the node's clock, ms).
 *
 * Theory, computed from the scenario's own faults and the clocks as they were:
 *   duplicates_theory, errors_theory, ids_theory, max_stall_theory, max_lead_theory,
 *   max_lead_clock_theory: an exposure model. Each node's life is cut into epochs (a
 *   restart without a mark, or a step back under `none`, begins a new one: memory lost);
 *   in an epoch, unit k of key (dc, worker) receives Poisson(rate x the true time the
 *   node spends issuing into k). Units of one key that several epochs issue into hold
 *   duplicates: sum mu_e - E[max_e Poisson(mu_e)] (each epoch numbers a unit from seq 0,
 *   so the distinct IDs of a unit are the largest count), computed exactly with GSL.
 *   While the clock is behind, requests are refused (errors: rate x that time), wait, or
 *   are issued into the held unit, as the policy says; the longest wait is max_stall.
 *   Drift is ignored here (it changes unit lengths by ppm), as is a held unit
 *   overflowing its 2^seq IDs.
 *   inversions_theory, max_inverted_gap_bound: from each node's clock offset sampled
 *   every ms. Two IDs from nodes a (at true time s) and b (at s + g) are inverted when
 *   unit_a > unit_b, or the units are equal and a's (dc, worker) is larger; averaged over
 *   the phase within a unit, with d = (o_a - o_b - g) / unit, that has probability
 *   clamp(d, 0, 1) + [key_a > key_b] max(0, 1 - |d|); integrating over g and s and
 *   summing over node pairs gives the expected inverted pairs, divided by the expected
 *   pairs. No inverted pair can be further apart than o_a - o_b + unit [key_a > key_b]
 *   (or + unit when two nodes share a key: their sequence numbers decide, and the
 *   model then records no inversions_theory).
 *
 * Every random draw comes from an actor's seeded stream or a stream of the run seed, so
 * a run replays from its seed. */
#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idgen/sf_node.h"
#include "idgen/idcheck.h"
#include "lab/lab.h"
#include "names.h"
#include "sim/sim.h"

#define MAX_WORKERS 1024
#define MAX_OPENS 64 /* restarts per node that the theory can follow */
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

struct sfw;

struct sfw_node {
    struct sfw *w;
    int index, node;
    uint64_t key; /* (dc << worker_bits) | worker: how IDs of one unit compare */
    struct sf_node_config cfg;
    char store_key[32];
    /* Each (re)start: when, and the mark it found (for the theory). */
    int nopens;
    int64_t open_t[MAX_OPENS];
    uint64_t open_floor[MAX_OPENS];
};

struct sfw {
    struct lab_run *run;
    struct sim *sim;
    /* Parameters. */
    int workers;
    double rate_per_ns;
    struct sf_config gen;
    bool hwm;
    int64_t reserve, store_latency, skew, duration, watch_from, watch_to;
    int watch_worker;
    double drift;
    int64_t base; /* Unix ns of true time 0 */
    struct sfw_node *nodes;
    /* Measurements. */
    struct idset *ids;
    struct idorder *order;
    int check_err;
    uint64_t nids, errors, refused, overflow, store_errors, waits, puts;
    int64_t first_unit;      /* Unix ns of the first unit that starts inside the run */
    int64_t whole_units;     /* units that start and end inside the run */
    uint64_t in_whole_units; /* IDs whose unit is one of them */
    int64_t max_stall, max_lead, max_lead_clock;
    bool any_lead;
    struct hist *latency, *queue;
    struct series *issued, *refused_ts, *lead_ts;
    /* Clock samples: offsets[s * workers + i] = wall_i - base - t at t = s * sample_ns. */
    int64_t sample_ns;
    size_t nsamples, samples_cap;
    int64_t *offsets;
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
            int64_t since = f.time_ns - w->first_unit;
            w->in_whole_units += since >= 0 && since < w->whole_units * l->unit_ns;
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
    int n = 0;
    if (sscanf(lay, "%d/%d/%d/%d%n", &g->layout.time_bits, &g->layout.dc_bits,
               &g->layout.worker_bits, &g->layout.seq_bits, &n) != 4 ||
        lay[n]) {
        lab_fail(run, "layout '%s': expected T/D/W/S, e.g. 41/5/5/12", lay);
        return -EINVAL;
    }
    g->layout.unit_ns = lab_duration(run, "unit");
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
        lab_fail(run, "worker_ids has %zu entries for %d workers", nids, w->workers);
        return -EINVAL;
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
                lab_fail(run, "worker_ids[%d] = %g: expected a non-negative integer", i, v);
                return -EINVAL;
            }
            nd->cfg.gen.worker = (uint64_t)v;
        } else {
            nd->cfg.gen.worker = (uint64_t)i;
        }
        char err[256];
        /* The epoch is checked against the simulated clocks when a node opens it. */
        if (sf_config_check(&nd->cfg.gen, INT64_MAX, err, sizeof(err)) < 0) {
            lab_fail(run, "worker-%d: %s", i, err);
            return -EINVAL;
        }
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
        if (i == 0) { /* before any clock is set: true time 0 on the wall clock */
            w->base = sim_node_wall(w->sim, id) - sim_now(w->sim);
            /* The units that lie wholly inside the run, from the first boundary on. */
            int64_t u = w->gen.layout.unit_ns, into = (w->base - w->gen.layout.epoch_ns) % u;
            w->first_unit = into ? w->base + (u - into) : w->base;
            w->whole_units = (w->base + w->duration - w->first_unit) / u;
        }
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

/* ---- Theory: the exposure model (see the top of the file) ----------------------------- */

/* One epoch's exposure (true ns) per unit, from unit 'first' on. */
struct epoch {
    uint64_t key;
    int64_t first;
    double *ns;
    size_t n, cap;
};

struct model {
    struct sfw *w;
    struct epoch *ep;
    size_t nep, cap;
    double errors_ns; /* true time during which requests are refused */
    int64_t max_stall;
    int64_t max_lead, max_lead_clock;
    bool any;
    int err;
};

static struct epoch *new_epoch(struct model *m, uint64_t key)
{
    if (m->nep == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        struct epoch *e = realloc(m->ep, cap * sizeof(*e));
        if (!e) {
            m->err = -ENOMEM;
            return NULL;
        }
        m->ep = e;
        m->cap = cap;
    }
    struct epoch *e = &m->ep[m->nep++];
    *e = (struct epoch){.key = key, .first = INT64_MIN};
    return e;
}

static void expose(struct model *m, struct epoch *e, int64_t unit, double ns)
{
    if (!e || ns <= 0)
        return;
    if (e->first == INT64_MIN)
        e->first = unit;
    if (unit < e->first) /* cannot happen: an epoch's units never go back */
        return;
    size_t i = (size_t)(unit - e->first);
    if (i >= e->cap) {
        size_t cap = e->cap ? e->cap : 1024;
        while (cap <= i)
            cap *= 2;
        double *v = realloc(e->ns, cap * sizeof(*v));
        if (!v) {
            m->err = -ENOMEM;
            return;
        }
        memset(v + e->cap, 0, (cap - e->cap) * sizeof(*v));
        e->ns = v;
        e->cap = cap;
    }
    e->ns[i] += ns;
    if (i + 1 > e->n)
        e->n = i + 1;
}

static void note_lead(struct model *m, int64_t lead_clock, int64_t off)
{
    if (!m->any || lead_clock > m->max_lead_clock)
        m->max_lead_clock = lead_clock;
    if (!m->any || lead_clock + off > m->max_lead)
        m->max_lead = lead_clock + off;
    m->any = true;
}

/* A node's timeline, cut at its faults. */
struct cut {
    int64_t at;
    enum { CUT_STEP, CUT_CRASH, CUT_RESTART } kind;
    int64_t step;
};

static int cmp_cut(const void *a, const void *b)
{
    const struct cut *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Walk node i from true time 'a' to 'b' at clock offset 'off' (wall = base + t + off),
 * in epoch e whose last unit is *M (INT64_MIN: none yet). *stall_from is the true time
 * a wait began, or -1. */
static void walk(struct model *m, struct epoch **ep_io, int64_t a, int64_t b, int64_t off,
                 int64_t *M, int64_t *stall_from)
{
    struct epoch *e = *ep_io;
    const struct sfw *w = m->w;
    const struct sf_config *g = &w->gen;
    int64_t u = g->layout.unit_ns, ep = g->layout.epoch_ns;
    int64_t loan = g->policy == SF_BORROW || g->on_full == SF_FULL_BORROW ? g->borrow_max_ns : 0;
    int64_t t = a;
    while (t < b && !m->err) {
        int64_t c = w->base + t + off; /* the node's clock */
        int64_t k = floordiv(c - ep, u);
        if (*M == INT64_MIN || k >= *M) { /* in step with the clock */
            if (*stall_from >= 0) {
                if (t - *stall_from > m->max_stall)
                    m->max_stall = t - *stall_from;
                *stall_from = -1;
                note_lead(m, ep + *M * u - c, off); /* the queue goes out at once */
            }
            int64_t end = ep + (k + 1) * u - w->base - off; /* true time unit k ends */
            int64_t stop = end < b ? end : b;
            expose(m, e, k, (double)(stop - t));
            note_lead(m, ep + k * u - c, off); /* at most 0: an ID at the unit's start */
            *M = k;
            t = stop;
            continue;
        }
        /* Behind: the clock reaches the start of unit M at true time tb. Up to the
         * loan (borrow, or on_full = borrow) and under hold, requests go into unit M
         * at once; beyond it the policy acts on the excess. */
        int64_t behind = ep + *M * u - c, tb = t + behind, stop;
        if (g->policy == SF_HOLD || behind <= loan) {
            stop = tb < b ? tb : b;
            expose(m, e, *M, (double)(stop - t));
            note_lead(m, behind, off);
            t = stop;
            continue;
        }
        int64_t ok = tb - loan;     /* when the excess is gone */
        if (g->policy == SF_NONE) { /* forgets: re-issues from the clock's unit */
            *ep_io = e = new_epoch(m, e->key);
            *M = INT64_MIN;
        } else if (g->policy == SF_REFUSE || behind - loan > g->wait_max_ns) {
            /* refused; wait and borrow refuse until the wait would be short enough */
            int64_t until = g->policy == SF_REFUSE ? ok : ok - g->wait_max_ns;
            stop = until < b ? until : b;
            m->errors_ns += (double)(stop - t);
            t = stop;
        } else { /* wait, borrow: queued, then issued into unit M at a lead of the loan */
            stop = ok < b ? ok : b;
            if (*stall_from < 0)
                *stall_from = t;
            expose(m, e, *M, (double)(stop - t));
            if (stop == ok) {
                if (ok - *stall_from > m->max_stall)
                    m->max_stall = ok - *stall_from;
                *stall_from = -1;
                note_lead(m, loan, off);
            }
            t = stop;
        }
    }
}

static void model_node(struct model *m, int i)
{
    struct sfw *w = m->w;
    struct sfw_node *nd = &w->nodes[i];
    const char *name = sim_node_name(w->sim, nd->node);
    size_t nf = lab_fault_count(w->run), nc = 0;
    struct cut *cuts = calloc(2 * nf + 1, sizeof(*cuts));
    if (!cuts) {
        m->err = -ENOMEM;
        return;
    }
    for (size_t k = 0; k < nf; k++) {
        const struct lab_fault *f = lab_fault_get(w->run, k);
        if (!f->node || strcmp(f->node, name) != 0)
            continue;
        if (f->kind == LAB_FAULT_CLOCK_STEP)
            cuts[nc++] = (struct cut){f->at, CUT_STEP, f->step};
        else if (f->kind == LAB_FAULT_CRASH) {
            cuts[nc++] = (struct cut){f->at, CUT_CRASH, 0};
            if (f->dur > 0)
                cuts[nc++] = (struct cut){f->at + f->dur, CUT_RESTART, 0};
        } else if (f->kind == LAB_FAULT_RESTART)
            cuts[nc++] = (struct cut){f->at, CUT_RESTART, 0};
    }
    qsort(cuts, nc, sizeof(*cuts), cmp_cut); /* stable enough: distinct times in practice */
    int64_t off = w->nsamples ? w->offsets[i] : 0, t = 0, M = INT64_MIN, stall_from = -1;
    bool up = true;
    int opens = 1;
    struct epoch *e = new_epoch(m, nd->key);
    for (size_t k = 0; k <= nc && !m->err; k++) {
        int64_t at = k < nc ? cuts[k].at : w->duration;
        if (at > w->duration)
            at = w->duration;
        if (up && at > t)
            walk(m, &e, t, at, off, &M, &stall_from);
        t = at > t ? at : t;
        if (k == nc)
            break;
        if (cuts[k].kind == CUT_STEP) {
            off += cuts[k].step;
        } else if (cuts[k].kind == CUT_CRASH && up) {
            up = false;
            stall_from = -1; /* a wait cut by the crash ends no call */
        } else if (cuts[k].kind == CUT_RESTART && !up) {
            up = true;
            e = new_epoch(m, nd->key);
            M = INT64_MIN;
            /* With a mark, the restarted generator is floored at the mark it found: its
             * first unit is floor + 1, as if unit floor + 1 were the last one issued. */
            if (w->hwm && opens < nd->nopens && opens < MAX_OPENS && nd->open_floor[opens])
                M = (int64_t)nd->open_floor[opens] + 1;
            opens++;
        }
    }
    free(cuts);
}

/* E[max of independent Poisson(mu[0..n))], exactly: sum over j of P(max > j). */
static double expected_max_poisson(const double *mu, size_t n)
{
    double top = 0;
    for (size_t i = 0; i < n; i++)
        top = mu[i] > top ? mu[i] : top;
    double sum = 0;
    unsigned jmax = (unsigned)(top + 12 * sqrt(top) + 40);
    for (unsigned j = 0; j <= jmax; j++) {
        double all = 1;
        for (size_t i = 0; i < n; i++)
            all *= gsl_cdf_poisson_P(j, mu[i]);
        sum += 1 - all;
    }
    return sum;
}

static void record_exposure_theory(struct sfw *w, struct lab_run *run)
{
    struct model m = {.w = w};
    for (int i = 0; i < w->workers && !m.err; i++)
        model_node(&m, i);
    if (m.err) {
        lab_note(run, "exposure theory skipped: out of memory");
        goto out;
    }
    double cap = (double)sf_layout_max_seq(&w->gen.layout) + 1;
    double ids = 0, dup = 0;
    /* Units of one key issued into by several epochs. Epochs of one key are few. */
    double mu[MAX_OPENS * 4];
    for (size_t a = 0; a < m.nep; a++) {
        struct epoch *ea = &m.ep[a];
        for (size_t k = 0; k < ea->n; k++)
            ids += fmin(ea->ns[k] * w->rate_per_ns, cap);
        bool first_of_key = true;
        for (size_t b = 0; b < a; b++)
            first_of_key &= m.ep[b].key != ea->key;
        if (!first_of_key)
            continue;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t b = a; b < m.nep; b++)
            if (m.ep[b].key == ea->key && m.ep[b].n) {
                lo = m.ep[b].first < lo ? m.ep[b].first : lo;
                int64_t h = m.ep[b].first + (int64_t)m.ep[b].n;
                hi = h > hi ? h : hi;
            }
        for (int64_t k = lo; k < hi; k++) {
            size_t n = 0;
            double sum = 0;
            for (size_t b = a; b < m.nep && n < sizeof(mu) / sizeof(mu[0]); b++) {
                struct epoch *eb = &m.ep[b];
                if (eb->key != ea->key || !eb->n || k < eb->first ||
                    k >= eb->first + (int64_t)eb->n)
                    continue;
                double x = eb->ns[k - eb->first] * w->rate_per_ns;
                if (x > 0) {
                    mu[n++] = x;
                    sum += x;
                }
            }
            if (n >= 2)
                dup += sum - expected_max_poisson(mu, n);
        }
    }
    if (w->gen.on_full == SF_FULL_BORROW && w->rate_per_ns * (double)w->gen.layout.unit_ns > cap)
        ids += cap * (double)(w->gen.borrow_max_ns / w->gen.layout.unit_ns) * w->workers;
    lab_metric(run, "duplicates_theory", dup);
    lab_metric(run, "errors_theory", m.errors_ns * w->rate_per_ns);
    lab_metric(run, "ids_theory", ids);
    lab_metric(run, "ids_per_ms_theory", ids / ((double)w->duration / 1e6) / w->workers);
    lab_metric(run, "max_stall_theory", (double)m.max_stall);
    lab_metric(run, "max_lead_theory", (double)m.max_lead);
    lab_metric(run, "max_lead_clock_theory", (double)m.max_lead_clock);
out:
    for (size_t a = 0; a < m.nep; a++)
        free(m.ep[a].ns);
    free(m.ep);
}

/* ---- Theory: ID order under skew -------------------------------------------------------- */

/* Integral over g > 0 of clamp((delta - g) / u, 0, 1). */
static double fc(double delta, double u)
{
    if (delta <= 0)
        return 0;
    return delta < u ? delta * delta / (2 * u) : delta - u / 2;
}

/* Integral over g > 0 of max(0, 1 - |delta - g| / u): u times the triangular CDF. */
static double ft(double delta, double u)
{
    double x = delta / u;
    if (x <= -1)
        return 0;
    if (x <= 0)
        return u * (1 + x) * (1 + x) / 2;
    if (x < 1)
        return u * (1 - (1 - x) * (1 - x) / 2);
    return u;
}

static void record_order_theory(struct sfw *w, struct lab_run *run)
{
    if (w->nsamples < 2)
        return;
    /* Two nodes with one key order the IDs of a shared unit by their sequence numbers,
     * which the model below does not follow: no inversions_theory then, and the bound
     * gives them the whole unit, as it gives a larger key. */
    bool clash = false;
    for (int a = 0; a < w->workers; a++)
        for (int b = a + 1; b < w->workers; b++)
            clash |= w->nodes[a].key == w->nodes[b].key;
    double u = (double)w->gen.layout.unit_ns, lam = w->rate_per_ns, inv = 0;
    double bound = 0;
    int n = w->workers;
    for (size_t s = 0; s + 1 < w->nsamples; s++) {
        double dt = (double)w->sample_ns;
        const int64_t *o = &w->offsets[s * (size_t)n];
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) {
                double d = (double)(o[a] - o[b]);
                bool ab = w->nodes[a].key > w->nodes[b].key;
                bool ba = w->nodes[b].key > w->nodes[a].key;
                /* a earlier and b later, then b earlier and a later. */
                double x = fc(d, u) + (ab ? ft(d, u) : 0) + fc(-d, u) + (ba ? ft(-d, u) : 0);
                inv += lam * lam * dt * x;
                double g1 = d + (ab || clash ? u : 0), g2 = -d + (ba || clash ? u : 0);
                bound = fmax(bound, fmax(g1, g2));
            }
    }
    double total = lam * (double)w->duration * n;
    if (!clash)
        lab_metric(run, "inversions_theory", total > 1 ? inv / (total * total / 2) : 0);
    lab_metric(run, "max_inverted_gap_bound", bound);
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
    if (w->whole_units > 0) {
        double cap = (double)sf_layout_max_seq(&w->gen.layout) + 1;
        double per_unit = w->rate_per_ns * (double)w->gen.layout.unit_ns;
        lab_metric(run, "ids_per_unit",
                   (double)w->in_whole_units / (double)w->whole_units / (double)w->workers);
        lab_metric(run, "ids_per_unit_theory", per_unit < cap ? per_unit : cap);
        lab_metric(run, "ids_per_unit_cap", cap);
    }
    if (u.nexamples) {
        char fb[96];
        struct sf_fields f;
        sf_decompose(&w->gen.layout, u.examples[0], &f);
        snprintf(fb, sizeof(fb), "unit %llu dc %llu worker %llu seq %llu", (unsigned long long)f.ts,
                 (unsigned long long)f.dc, (unsigned long long)f.worker, (unsigned long long)f.seq);
        lab_note(run, "first duplicated ID %llu (%s)", (unsigned long long)u.examples[0], fb);
    }
    record_exposure_theory(w, run);
    record_order_theory(w, run);
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

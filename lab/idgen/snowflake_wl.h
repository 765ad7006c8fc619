/* snowflake_wl.h - the idgen/snowflake workload's internals, shared by its files:
 *   snowflake.c         parameters, the worker actors, the world, the run, the metrics
 *   snowflake_theory.c  what the scenario's faults and the clocks predict (the theory
 *                       metrics)
 * The workload itself is described at the top of snowflake.c. */
#ifndef DISTLAB_LAB_IDGEN_SNOWFLAKE_WL_H
#define DISTLAB_LAB_IDGEN_SNOWFLAKE_WL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idgen/idcheck.h"
#include "idgen/sf_node.h"
#include "lab/lab.h"
#include "sim/sim.h"

#define MAX_WORKERS 1024
#define MAX_OPENS 64 /* restarts per node that the theory can follow */


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


/* The exposure model's theory metrics (duplicates_theory, errors_theory, ids_theory,
 * max_stall_theory, max_lead_theory, max_lead_clock_theory), and the order theory's
 * (inversions_theory, max_inverted_gap_bound): see snowflake_theory.c. */
void sfw_record_exposure_theory(struct sfw *w, struct lab_run *run);
void sfw_record_order_theory(struct sfw *w, struct lab_run *run);

#endif

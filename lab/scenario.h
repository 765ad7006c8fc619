/* scenario.h - a scenario file loaded, validated and expanded into its runs.
 *
 * Loading checks everything a file can get wrong before anything runs: unknown keys,
 * types, units, ranges, enum choices, sweep values, plot and expectation specs, and
 * expectations whose `where:` matches no run. The format itself is described at the
 * top of scenario.c and in DESIGN.md ("A scenario file"). */
#ifndef DISTLAB_LAB_SCENARIO_H
#define DISTLAB_LAB_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"
#include "lab/node.h"
#include "sim/sim.h"

/* A parameter's value, typed. */
struct lab_value {
    enum lab_type type;
    const struct lab_node *node; /* where it was written (a default: a synthetic node) */
    const char *text;            /* as written; flow text for lists */
    int64_t i;                   /* LAB_INT; LAB_DURATION in ns; LAB_BOOL as 0/1; LAB_ENUM:
                                  * the index of the choice */
    double f;                    /* every numeric type, as a double */
    bool b;
    size_t n; /* LAB_LIST */
    const char **items;
    double *fitems; /* NAN where an item is not a number */
};

struct lab_link_cfg {
    const char *from, *to;
    struct sim_link link;
    bool both;
    const struct lab_node *node;
};

struct lab_clock_cfg {
    const char *pattern; /* a node name or an fnmatch(3) pattern */
    int64_t offset;
    double ppm;
    const struct lab_node *node;
};

struct lab_world_cfg {
    int cores, nodes;
    int64_t slice_ns;
    size_t stack;
    uint64_t max_events; /* a simulated run fails past this many events */
    struct sim_link network;
    struct lab_link_cfg *links;
    size_t nlinks;
    struct lab_clock_cfg *clocks;
    size_t nclocks;
    const char *redis, *etcd, *zookeeper;
};

/* Everything one sweep point runs with. */
struct lab_config {
    uint64_t seed;
    int64_t duration;
    struct lab_world_cfg world;
    const struct lab_workload *wl;
    struct lab_value *params; /* parallel to wl->params */
    struct lab_fault *faults; /* sorted by 'at', stable */
    const struct lab_node **fault_nodes;
    size_t nfaults;
};

struct lab_sweep_key {
    const char *name;         /* as written under sweep: */
    const char **path;        /* resolved: "workload", "clients" */
    size_t npath;
    const struct lab_node *key;
    struct lab_node **values;
    size_t nvalues;
};

/* One run: a sweep point and a repeat. */
struct lab_runspec {
    size_t index;
    size_t point;
    const struct lab_config *cfg;
    struct lab_node **values; /* the sweep value of each sweep key */
    int repeat;
    uint64_t seed;
};

/* A condition on a run: `where: { key: value }`, or a map of tests on the key's value
 * (`{ min: 4 }`, `{ max: 64 }`, `{ not: mutex }`, `{ in: [rr, random] }`). */
struct lab_where {
    const char *key;
    const struct lab_node *keynode, *value;
};

/* A control: the scenario with its mechanism switched off, as overrides of the values
 * each matching run had (`controls: { NAME: { KEY: VALUE, ... } }` or an expectation's
 * inline `control: { KEY: VALUE }`). KEY is a key path as in sweep: and --set. */
struct lab_control {
    const char *name;           /* NULL for an inline control */
    const struct lab_node *node;
    const char ***paths;        /* each override's resolved path */
    size_t *npaths;
    const struct lab_node **keys;
    struct lab_node **values;
    size_t n;
};

/* A run of a control: run 'orig' of the scenario with 'control' applied. When the
 * control only moves swept keys to values of their own sweep, that run is one of the
 * scenario's already ('same_as', its index in sc->runs), and nothing runs twice. */
struct lab_control_run {
    const struct lab_control *control;
    size_t orig;                /* index into sc->runs */
    long same_as;               /* index into sc->runs of the identical run, or -1 */
    struct lab_runspec spec;    /* the original's sweep values and seed, the control's cfg */
};

enum lab_plot_kind { LAB_PLOT_BARS, LAB_PLOT_CDF, LAB_PLOT_TIMESERIES, LAB_PLOT_HEATMAP,
                     LAB_PLOT_SWEEP };
/* The kinds' names in enum order (names.h); plots/<name>.gp draws each. */
#define LAB_PLOT_KIND_NAMES "bars", "cdf", "timeseries", "heatmap", "sweep"
extern const char *const lab_plot_kind_names[];

/* A horizontal line drawn across a plot: a ceiling, a bound (`hlines: [{ y, label }]`). */
struct lab_hline {
    double y; /* in the metric's own unit (ns for a duration) */
    const char *label;
};

struct lab_plot {
    enum lab_plot_kind kind;
    const char *metric, *by, *x, *theory, *name, *title, *stat, *xlabel, *ylabel;
    const char *zlabel; /* a heatmap's colour bar */
    bool unit_ns;       /* `unit: ns`: a scalar or array in ns, drawn in s, ms or us */
    bool xcategories;   /* sweep: x values as evenly spaced labels, even when numbers */
    bool logx, logy;
    struct lab_hline *hlines;
    size_t nhlines;
    bool has_range;            /* `range: [lo, hi]`: the value axis (colour for heatmaps) */
    double range_lo, range_hi;
    struct lab_where *where;
    size_t nwhere;
    const struct lab_node *node;
};

/* `name`, `name[i]`, `name.stat`. */
/* The statistics of name.stat, in enum order (names.h); lab_stat_names is the table. */
enum lab_stat { LAB_STAT_NONE = -1, LAB_STAT_MAX, LAB_STAT_MIN, LAB_STAT_SUM, LAB_STAT_MEAN,
                LAB_STAT_COUNT, LAB_STAT_P50, LAB_STAT_P90, LAB_STAT_P99, LAB_STAT_P999 };
#define LAB_STAT_NAMES "max", "min", "sum", "mean", "count", "p50", "p90", "p99", "p999"
extern const char *const lab_stat_names[];

struct lab_expr {
    const char *text, *metric;
    enum lab_stat stat; /* LAB_STAT_NONE unless name.stat */
    bool indexed;
    size_t index;
};

enum lab_op { LAB_OP_LT, LAB_OP_LE, LAB_OP_GT, LAB_OP_GE, LAB_OP_EQ, LAB_OP_NE, LAB_OP_APPROX };

struct lab_expect {
    struct lab_expr lhs;
    enum lab_op op;
    bool rhs_is_expr;
    struct lab_expr rhs;
    double value;
    double tol;
    bool tol_pct;
    bool tol_is_expr;        /* tol: "K*EXPR" (K defaults to 1): K times a metric of the
                              * run the right side comes from, e.g. 5 standard deviations
                              * the run computed from its own sample size */
    struct lab_expr tol_expr;
    const char *text, *why;
    struct lab_where *where;
    size_t nwhere;
    const struct lab_control *control; /* the mechanism switched off, or NULL */
    const struct lab_node *node;
};

struct lab_scenario {
    struct lab_arena arena;
    const char *file, *name, *about;
    unsigned world; /* LAB_WORLD_SIM or LAB_WORLD_LIVE */
    struct lab_node *root;
    struct lab_sweep_key *sweep;
    size_t nsweep;
    int repeat;
    struct lab_config **points;
    struct lab_node **trees; /* each point's tree: the scenario with its sweep values */
    size_t npoints;
    struct lab_runspec *runs;
    size_t nruns;
    struct lab_plot *plots;
    size_t nplots;
    struct lab_expect *expects;
    size_t nexpects;
    struct lab_control *controls; /* the named ones, from `controls:` */
    size_t ncontrols;
    struct lab_control_run *cruns; /* every (control, run) an expectation asks for */
    size_t ncruns;
};

struct lab_load_opts {
    unsigned world;          /* 0: sim */
    const char *const *sets; /* "key.path=value" overrides, applied before validation */
    size_t nsets;
    const char *seed_text;   /* --seed N as written: the same as --set seed=N */
    bool has_seed;           /* or the seed as a number (without seed_text) */
    uint64_t seed;
    const char *text;        /* the file's text, read elsewhere (a partial result's copy);
                              * NULL: read the file */
};

/* Load, validate and expand 'file'. Returns the scenario, or NULL with err set
 * ("file:line:col: message"). Does not run anything and writes no file. */
struct lab_scenario *lab_scenario_load(const char *file, const struct lab_load_opts *opts,
                                       struct lab_err *err);
void lab_scenario_free(struct lab_scenario *sc);

/* Only the name and the about text, for `distlab list`; no validation beyond YAML.
 * Returns 0, or -EINVAL with err set. *about is "" when absent. Strings live in a. */
int lab_scenario_peek(struct lab_arena *a, const char *file, const char **name,
                      const char **about, struct lab_err *err);

/* The control run of expectation x for run 'orig' (an index into sc->runs), or NULL
 * when x has no control or does not apply to that run. */
const struct lab_control_run *lab_control_run_of(const struct lab_scenario *sc,
                                                 const struct lab_expect *x, size_t orig);

/* Does run r satisfy every condition in w? */
bool lab_where_match(const struct lab_scenario *sc, const struct lab_runspec *r,
                     const struct lab_where *w, size_t nw);

/* The value of 'key' (a sweep key, a workload parameter, seed, duration, world.cores,
 * world.nodes or repeat) in run r as written, for labels: NULL if the run has none. */
const char *lab_run_key_text(const struct lab_scenario *sc, const struct lab_runspec *r,
                             const char *key);

/* A value's text as a number for plotting: integers and floats as themselves,
 * durations in ns, booleans as 0/1; false if it is not a number. */
bool lab_key_number(const struct lab_scenario *sc, const struct lab_runspec *r,
                    const char *key, double *out);

/* A type's word for `distlab list -v` ("int", "duration", ...). */
const char *lab_type_word(enum lab_type t);

/* "sim" or "live" for LAB_WORLD_SIM or LAB_WORLD_LIVE (NULL for anything else), and back
 * (0 for another name). */
const char *lab_world_name(unsigned world);
unsigned lab_world_parse(const char *s);

/* Parse a duration: "250ms", "1.5s", "-200ms", "0". Units ns, us, ms, s, m. Returns
 * false on a missing or unknown unit, or overflow. Exact for decimal fractions. */
bool lab_parse_duration(const char *text, int64_t *ns);

/* The seed of repeat r of a scenario with seed s: s itself for r = 0. */
uint64_t lab_repeat_seed(uint64_t s, int r);

/* lab_run_as's configuration (scenario_as.c): 'base' for workload wl, its parameters from
 * 'set' ("name=value", NULL-terminated), else base's parameter of the same name and type,
 * else wl's default; the faults base's plus 'faults', whose errors point at 'at'. Strings
 * live in a. Returns 0, or -EINVAL with err set. */
int lab__config_as(struct lab_arena *a, struct lab_err *err, const struct lab_config *base,
                   const struct lab_workload *wl, const char *const *set,
                   const struct lab_fault *faults, size_t nfaults, const struct lab_node *at,
                   struct lab_config *out);

#endif

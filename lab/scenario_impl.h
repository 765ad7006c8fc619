/* scenario_impl.h - the scenario loader's internals, shared by its files (prefix lab__).
 * Nothing outside lab/scenario*.c includes this.
 *
 *   scenario.c              the file, --set, the top-level keys, the order of the rest
 *   scenario_values.c       typed values: units, ranges, choices; checks on maps
 *   scenario_world.c        world:, faults: and workload: into one sweep point's config
 *   scenario_sweep.c        sweep: and its expansion into runs
 *   scenario_keys.c         keys named by sweep:, by:, x: and where:, and their values in
 *                           a run
 *   scenario_plot_expect.c  plots: and expect:
 *   scenario_control.c      controls: and each expectation's control: (the runs with the
 *                           mechanism switched off)
 */
#ifndef DISTLAB_LAB_SCENARIO_IMPL_H
#define DISTLAB_LAB_SCENARIO_IMPL_H

#include "lab/scenario.h"

/* The most runs a scenario may make (sweep points x repeat), and the most a sweep may
 * cost the loader: points x the tree's weight (node.h). */
#define LAB_MAX_RUNS 100000
#define LAB_MAX_LOAD 100000000

/* The top-level keys of a scenario, NULL-terminated. */
extern const char *const lab__top_keys[];

/* ---- Maps and words (scenario_values.c) ------------------------------------------ */

/* The checks on maps live in node.h, for the claims file too; the loader's names: */
#define lab__in_list lab_in_list
#define lab__join lab_join
#define lab__check_keys lab_node_check_keys
#define lab__want_map lab_node_want_map
#define lab__want_scalar lab_node_want_scalar
bool lab__is_ident(const char *s); /* [a-z0-9_]+: a metric name */
bool lab__is_stem(const char *s);  /* [A-Za-z0-9_.-]+, not starting with '.' */

/* ---- Typed values (scenario_values.c) -------------------------------------------- */

bool lab__parse_float(const char *text, double *out);
const char *lab__type_name(enum lab_type t); /* "an integer", ... for messages */
/* Parse node n as type t into v: choices for LAB_ENUM, the range when min <= max. */
int lab__parse_value(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                     const char *what, enum lab_type t, double min, double max,
                     const char *choices, struct lab_value *v);

/* "'what' must be between MIN and MAX, got TEXT (why)" at n; why may be NULL. */
int lab__range_error(struct lab_err *err, const struct lab_node *n, const char *what,
                     enum lab_type t, double min, double max, const char *why);

/* ---- A sweep point (scenario_world.c) --------------------------------------------- */

/* The whole configuration of one sweep point from its (rewritten) tree. */
int lab__parse_config(struct lab_arena *a, struct lab_err *err, const struct lab_node *root,
                      unsigned world, struct lab_config *c);

/* ---- The sweep (scenario_sweep.c) ------------------------------------------------- */

/* sc->sweep from `sweep:` (n may be NULL), then every sweep point and run. */
int lab__parse_sweep(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n);
int lab__expand_sweep(struct lab_scenario *sc, struct lab_err *err);

/* ---- Keys (scenario_keys.c) -------------------------------------------------------- */

/* Resolve a dotted key to a path: a first component that is not a top-level key means
 * workload.<key>. Returns the number of components. */
size_t lab__key_path(struct lab_arena *a, const char *key, const char ***out);
/* The canonical name of a key: "repeat", "seed", "duration", "world.cores",
 * "world.nodes", a workload parameter's bare name, or a sweep key's path. */
const char *lab__canon_key(struct lab_arena *a, const char *key);
/* A key named by by:, x: or where: must mean something in the runs. */
int lab__check_key(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *at,
                   const char *key);
/* `where: { KEY: VALUE }` (n may be NULL: no condition). */
int lab__parse_where(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                     struct lab_where **out, size_t *nout);
/* A where that matches no run is an error at 'at', unless it names the world. */
int lab__where_matches_a_run(struct lab_scenario *sc, struct lab_err *err,
                             const struct lab_node *at, const struct lab_where *w, size_t n);

/* ---- plots: and expect: (scenario_plot_expect.c) ------------------------------------ */

int lab__parse_plots(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n);
int lab__parse_expects(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n);

/* ---- controls (scenario_control.c) --------------------------------------------------- */

/* `controls:` (n may be NULL), before expect:. */
int lab__parse_controls(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n);
/* An expectation's `control:`: a name from controls: or an inline map. */
int lab__parse_expect_control(struct lab_scenario *sc, struct lab_err *err,
                              const struct lab_node *n, const struct lab_control **out);
/* After expect:: every control run the expectations ask for, each validated. */
int lab__expand_controls(struct lab_scenario *sc, struct lab_err *err);

#endif

/* scenario.c - the scenario loader: YAML tree -> validated runs. Never runs anything.
 *
 * The format (keep DESIGN.md "A scenario file" in agreement):
 *
 *   name: lb-shuffle-bias       required; [A-Za-z0-9_.-]+, names results/<name>/
 *   about: |                    optional text; its first line is the one-line summary
 *   seed: 1                     integer >= 0, default 1
 *   duration: 60s               default 60s; DURATION = number + ns|us|ms|s|m, or 0;
 *                               at most a day, like every time in a scenario
 *   repeat: 1                   runs per sweep point, seeds derived (repeat 0: the seed)
 *   world:
 *     cores: 2                  per node, >= 1
 *     nodes: 0                  >= 0 (0: the workload decides)
 *     slice: 4ms                CPU time slice, 1us .. a day
 *     stack: 128k               actor stack, bytes, suffix k|M|G allowed, >= 16k
 *     max_events: 100000000     a simulated run fails past this many events
 *     network:                  default for every link
 *       latency: 500us          or { dist: const, value: D }
 *                               or { dist: uniform, min: D, max: D }
 *                               or { dist: lognormal, median: D, p99: D }
 *       jitter: 200us           only with a plain latency: uniform latency +- jitter
 *       loss: 0.01              0..1
 *     links: [ { from: a, to: b, latency: .., jitter: .., loss: .., both: false } ]
 *     clocks: [ { node: NAME-or-fnmatch-pattern, offset: D, drift: PPM } ]
 *     redis: redis://127.0.0.1:6379   (also etcd:, zookeeper:) live-world addresses
 *   workload:
 *     primitive: lb/shuffle     a workload's name; the other keys are its declared
 *     ...                       parameters (struct lab_param), checked by type and range
 *   faults:                     each: `at:` and one kind
 *     - { at: 10s, crash: n1, for: 5s }      for: optional, restarts after it
 *     - { at: 20s, restart: n1 }
 *     - { at: 10s, pause: n2, for: 8s }
 *     - { at: 12s, clock: n3, step: -200ms }
 *     - { at: 12s, drift: n3, ppm: 50 }
 *     - { at: 5s, partition: [[a, b], [c]], until: 9s, oneway: false }
 *   sweep:                      key: [values]; cartesian product, the first key outermost;
 *     picker: [a, b]            keys: workload parameters (bare or workload.x), seed,
 *     world.cores: [1, 2]       duration, or any dotted path into world
 *   plots:
 *     - { kind: bars|cdf|timeseries|heatmap|sweep, metric: M, by: KEY, x: KEY,
 *         theory: M, where: { KEY: VALUE }, name: STEM, title: T, logx: b, logy: b,
 *         xlabel: T, ylabel: T, zlabel: T (heatmap colour bar), unit: ns,
 *         hlines: [{ y: V, label: T }], xcategories: b (sweep),
 *         stat: sum|mean|count (timeseries),
 *         range: [LOW, HIGH] (the value axis: y, x for a cdf, colour for a heatmap) }
 *   controls:                   NAME: { KEY: VALUE, ... }: the mechanism switched off
 *     unbiased: { picker: fisher-yates }     (KEY as in sweep:; faults: [] drops faults)
 *   expect:
 *     - { metric: EXPR, op: "<"|"<="|">"|">="|"=="|"!="|"~", value: NUMBER|DURATION|EXPR,
 *         tol: NUMBER|"N%"|"K*EXPR" (with ~), where: { KEY: VALUE }, why: TEXT,
 *         control: NAME | { KEY: VALUE } }   (must fail with it: distlab check --controls)
 *     EXPR: name | name[i] | name.max|min|sum|mean (array) | name.count|mean|min|max|
 *           p50|p90|p99|p999 (histogram)
 *
 * KEY (by, x, where): repeat, a sweep key, a workload parameter, seed, duration,
 * world (sim or live: a `where` on it may match no run of this invocation),
 * world.cores or world.nodes. A where VALUE may be a map of tests instead:
 * { min: V, max: V } (numbers, durations), { not: V }, { in: [V, ...] }.
 * --set key.path=value replaces any value before validation; a bare first component
 * that is not a top-level key means workload.<key>.
 * Node names in faults, links and clocks are resolved when the world exists
 * (lab_sim_run). */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lab__top_keys[] = {"name", "about", "seed", "duration", "repeat", "world",
                                     "workload", "faults", "sweep", "plots", "controls",
                                     "expect", NULL};

/* ---- Loading ----------------------------------------------------------------------- */

/* key.path=value onto the tree; errors name 'origin' (the option as given). */
static int apply_set(struct lab_scenario *sc, struct lab_err *err, const char *origin,
                     const char *set)
{
    struct lab_arena *a = &sc->arena;
    const char *eq = strchr(set, '=');
    struct lab_node where = {.kind = LAB_NODE_SCALAR, .text = "", .origin = origin};
    if (!eq || eq == set)
        return lab_errf(err, &where, "expected key.path=value");
    char *key = lab_arena_strndup(a, set, (size_t)(eq - set));
    for (const char *p = key; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-') ||
            (*p == '.' && (p == key || p[1] == '.' || !p[1])))
            return lab_errf(err, &where, "'%s' is not a key path like workload.clients", key);
    struct lab_node *v = lab_node_parse_string(a, eq + 1, origin, err);
    if (!v)
        return -EINVAL;
    const char **comp;
    size_t n = lab__key_path(a, key, &comp);
    struct lab_node *root = lab_node_with(a, sc->root, comp, n, v, &where, err);
    if (!root)
        return -EINVAL;
    sc->root = root;
    return 0;
}

/* --set overrides and --seed, in the order given, onto the tree. The seed is checked
 * once, as the scenario's own `seed:` is. */
static int apply_overrides(struct lab_scenario *sc, const struct lab_load_opts *opts,
                           struct lab_err *err)
{
    struct lab_arena *a = &sc->arena;
    int rc = 0;
    for (size_t i = 0; opts && i < opts->nsets && !rc; i++)
        rc = apply_set(sc, err, lab_arena_printf(a, "--set %s", opts->sets[i]), opts->sets[i]);
    if (rc || !opts || (!opts->seed_text && !opts->has_seed))
        return rc;
    const char *seed = opts->seed_text;
    if (!seed)
        seed = lab_arena_printf(a, "%llu", (unsigned long long)opts->seed);
    return apply_set(sc, err, lab_arena_printf(a, "--seed %s", seed),
                     lab_arena_printf(a, "seed=%s", seed));
}

/* A --set (or --seed) on a key that a sweep sets would be replaced in every run: refuse
 * it rather than run something other than what was asked. */
static int check_sets_not_swept(struct lab_scenario *sc, const struct lab_load_opts *opts,
                                struct lab_err *err)
{
    struct lab_arena *a = &sc->arena;
    size_t n = opts ? opts->nsets + (opts->seed_text || opts->has_seed) : 0;
    for (size_t i = 0; i < n; i++) {
        bool seed = i == opts->nsets;
        const char *set = seed ? "seed=" : opts->sets[i];
        const char *eq = strchr(set, '=');
        const char **comp;
        size_t nc = lab__key_path(a, lab_arena_strndup(a, set, (size_t)(eq - set)), &comp);
        for (size_t k = 0; k < sc->nsweep; k++) {
            const struct lab_sweep_key *sw = &sc->sweep[k];
            size_t j = 0;
            while (j < sw->npath && j < nc && !strcmp(sw->path[j], comp[j]))
                j++;
            if (j < sw->npath)
                continue;
            struct lab_node where = {.kind = LAB_NODE_SCALAR, .text = "",
                                     .origin = seed ? "--seed" :
                                                      lab_arena_printf(a, "--set %s", set)};
            const char *at = sw->key->line ? lab_arena_printf(a, "%s:%d:%d", sw->key->origin,
                                                              sw->key->line, sw->key->col)
                                           : sw->key->origin;
            return lab_errf(err, &where, "'%.*s' is swept by this scenario (sweep: %s, at %s), "
                            "so every run would replace this value; change the sweep's list "
                            "instead (--set sweep.%s=[...])", (int)(eq - set), set, sw->name, at,
                            sw->name);
        }
    }
    return 0;
}

/* The keys that hold for every run: name, about, repeat. */
static int parse_top(struct lab_scenario *sc, struct lab_err *err)
{
    struct lab_arena *a = &sc->arena;
    struct lab_node *root = sc->root, *x;
    int rc = lab__check_keys(a, err, root, lab__top_keys, "");
    if (rc)
        return rc;
    if (!(x = lab_node_get(root, "name", NULL)))
        return lab_errf(err, root, "missing required key 'name' (it names results/<name>/)");
    if ((rc = lab__want_scalar(err, x, "name")))
        return rc;
    if (!lab__is_stem(x->text))
        return lab_errf(err, x, "'name' must be a file name stem ([A-Za-z0-9_.-], not "
                                "starting with '.'), got '%s'", x->text);
    sc->name = x->text;
    sc->about = "";
    if ((x = lab_node_get(root, "about", NULL)) && !x->null) {
        if ((rc = lab__want_scalar(err, x, "about")))
            return rc;
        sc->about = x->text;
    }
    sc->repeat = 1;
    if ((x = lab_node_get(root, "repeat", NULL))) {
        struct lab_value v;
        if ((rc = lab__parse_value(a, err, x, "repeat", LAB_INT, 1, 100000, NULL, &v)))
            return rc;
        sc->repeat = (int)v.i;
    }
    return 0;
}

struct lab_scenario *lab_scenario_load(const char *file, const struct lab_load_opts *opts,
                                       struct lab_err *err)
{
    struct lab_scenario *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        lab_errf(err, NULL, "out of memory");
        return NULL;
    }
    struct lab_arena *a = &sc->arena;
    sc->file = lab_arena_strdup(a, file);
    sc->world = opts && opts->world ? opts->world : LAB_WORLD_SIM;
    sc->root = opts && opts->text ? lab_node_parse_text(a, opts->text, file, err)
                                  : lab_node_parse_file(a, file, err);
    if (!sc->root)
        goto fail;
    if (sc->root->kind != LAB_NODE_MAP) {
        lab_errf(err, sc->root, "a scenario is a map of keys (name, workload, ...)");
        goto fail;
    }
    if (apply_overrides(sc, opts, err) || parse_top(sc, err) ||
        lab__parse_sweep(sc, err, lab_node_get(sc->root, "sweep", NULL)) ||
        check_sets_not_swept(sc, opts, err) || lab__expand_sweep(sc, err) ||
        lab__parse_plots(sc, err, lab_node_get(sc->root, "plots", NULL)) ||
        lab__parse_controls(sc, err, lab_node_get(sc->root, "controls", NULL)) ||
        lab__parse_expects(sc, err, lab_node_get(sc->root, "expect", NULL)) ||
        lab__expand_controls(sc, err))
        goto fail;
    return sc;
fail:
    lab_scenario_free(sc);
    return NULL;
}

void lab_scenario_free(struct lab_scenario *sc)
{
    if (!sc)
        return;
    lab_arena_free(&sc->arena);
    free(sc);
}

int lab_scenario_peek(struct lab_arena *a, const char *file, const char **name,
                      const char **about, struct lab_err *err)
{
    struct lab_node *root = lab_node_parse_file(a, file, err);
    if (!root)
        return -EINVAL;
    struct lab_node *n = lab_node_get(root, "name", NULL);
    struct lab_node *ab = lab_node_get(root, "about", NULL);
    *name = n && n->kind == LAB_NODE_SCALAR ? n->text : "";
    *about = ab && ab->kind == LAB_NODE_SCALAR ? ab->text : "";
    return 0;
}


/* scenario_control.c - `controls:` and each expectation's `control:`: the scenario with
 * the mechanism an expectation claims switched off (the biased shuffle replaced by
 * Fisher-Yates, fencing off, the fault removed). `distlab check --controls` runs each
 * matching run a second time so, and an expectation that still passes there is flagged:
 * it does not test its claim. Only loads and validates; nothing runs here. */
#include "lab/scenario_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A control's overrides from map n: KEY: VALUE, KEY a key path as in sweep:. */
static int parse_overrides(struct lab_scenario *sc, struct lab_err *err,
                           const struct lab_node *n, struct lab_control *c)
{
    struct lab_arena *a = &sc->arena;
    if (n->kind != LAB_NODE_MAP || n->n == 0)
        return lab_errf(err, n, "a control is a map of the values that switch the mechanism "
                                "off, like { picker: fisher-yates } or { faults: [] }");
    c->node = n;
    c->n = n->n;
    c->paths = lab_arena_alloc(a, n->n * sizeof(*c->paths));
    c->npaths = lab_arena_alloc(a, n->n * sizeof(*c->npaths));
    c->keys = lab_arena_alloc(a, n->n * sizeof(*c->keys));
    c->values = lab_arena_alloc(a, n->n * sizeof(*c->values));
    for (size_t i = 0; i < n->n; i++) {
        static const char *const bad[] = {"name", "about", "seed", "repeat", "sweep",
                                          "plots", "expect", "controls", NULL};
        c->keys[i] = n->keys[i];
        c->values[i] = n->items[i];
        c->npaths[i] = lab__key_path(a, n->keys[i]->text, &c->paths[i]);
        if (lab__in_list(bad, c->paths[i][0]))
            return lab_errf(err, n->keys[i], "a control cannot set '%s' (it sets workload "
                            "parameters, duration, world.* or faults; the run keeps its "
                            "seed, so both see the same random draws)", n->keys[i]->text);
    }
    return 0;
}

int lab__parse_controls(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n)
{
    if (!n || n->null)
        return 0;
    int rc = lab__want_map(err, n, "'controls'");
    if (rc)
        return rc;
    sc->controls = lab_arena_alloc(&sc->arena, (n->n + 1) * sizeof(*sc->controls));
    for (size_t i = 0; i < n->n; i++) {
        struct lab_control *c = &sc->controls[sc->ncontrols];
        c->name = n->keys[i]->text;
        if (!lab__is_stem(c->name))
            return lab_errf(err, n->keys[i], "a control's name is a word ([A-Za-z0-9_.-]), "
                            "got '%s'", c->name);
        if ((rc = parse_overrides(sc, err, n->items[i], c)))
            return rc;
        sc->ncontrols++;
    }
    return 0;
}

int lab__parse_expect_control(struct lab_scenario *sc, struct lab_err *err,
                              const struct lab_node *n, const struct lab_control **out)
{
    *out = NULL;
    if (!n)
        return 0;
    if (n->kind == LAB_NODE_SCALAR) {
        for (size_t i = 0; i < sc->ncontrols; i++)
            if (!strcmp(sc->controls[i].name, n->text)) {
                *out = &sc->controls[i];
                return 0;
            }
        const char **names = lab_arena_alloc(&sc->arena, (sc->ncontrols + 1) * sizeof(*names));
        for (size_t i = 0; i < sc->ncontrols; i++)
            names[i] = sc->controls[i].name;
        return lab_errf(err, n, "no control named '%s' under controls: (%s)", n->text,
                        sc->ncontrols ? lab__join(&sc->arena, names) : "there are none");
    }
    struct lab_control *c = lab_arena_alloc(&sc->arena, sizeof(*c));
    int rc = parse_overrides(sc, err, n, c);
    if (!rc)
        *out = c;
    return rc;
}

const struct lab_control_run *lab_control_run_of(const struct lab_scenario *sc,
                                                 const struct lab_expect *x, size_t orig)
{
    if (!x->control || !lab_where_match(sc, &sc->runs[orig], x->where, x->nwhere))
        return NULL;
    for (size_t i = 0; i < sc->ncruns; i++)
        if (sc->cruns[i].control == x->control && sc->cruns[i].orig == orig)
            return &sc->cruns[i];
    return NULL;
}

/* The config of sweep point p with control c applied, made once per (control, point). */
struct cfg_cache {
    const struct lab_control *control;
    size_t point;
    struct lab_config *cfg;
};

static int control_config(struct lab_scenario *sc, struct lab_err *err,
                          const struct lab_control *c, size_t p, struct cfg_cache *cache,
                          size_t *ncache, struct lab_config **out)
{
    struct lab_arena *a = &sc->arena;
    for (size_t i = 0; i < *ncache; i++)
        if (cache[i].control == c && cache[i].point == p) {
            *out = cache[i].cfg;
            return 0;
        }
    struct lab_node *t = sc->trees[p];
    for (size_t i = 0; i < c->n && t; i++)
        t = lab_node_with(a, t, c->paths[i], c->npaths[i], c->values[i], c->keys[i], err);
    if (!t)
        return -EINVAL;
    struct lab_config *cfg = lab_arena_alloc(a, sizeof(*cfg));
    int rc = lab__parse_config(a, err, t, sc->world, cfg);
    if (rc)
        return rc;
    cache[*ncache].control = c;
    cache[*ncache].point = p;
    cache[*ncache].cfg = cfg;
    ++*ncache;
    *out = cfg;
    return 0;
}

/* The run of sc identical to run r with control c applied, or -1: c must only set swept
 * keys, each to one of its sweep's own values (compared as written). */
static long same_run(const struct lab_scenario *sc, const struct lab_control *c, size_t r)
{
    struct lab_arena a = {0};
    size_t *digit = calloc(sc->nsweep + 1, sizeof(*digit));
    if (!digit)
        abort();
    const struct lab_runspec *o = &sc->runs[r];
    size_t rest = o->point;
    for (size_t k = sc->nsweep; k-- > 0;) {
        digit[k] = rest % sc->sweep[k].nvalues;
        rest /= sc->sweep[k].nvalues;
    }
    long found = 0;
    for (size_t i = 0; i < c->n && found == 0; i++) {
        const char *key = lab__canon_key(&a, c->keys[i]->text);
        const char *val = lab_node_text(&a, c->values[i]);
        size_t k = 0;
        while (k < sc->nsweep && strcmp(lab__canon_key(&a, sc->sweep[k].name), key))
            k++;
        size_t v = 0;
        while (k < sc->nsweep && v < sc->sweep[k].nvalues &&
               strcmp(lab_node_text(&a, sc->sweep[k].values[v]), val))
            v++;
        if (k == sc->nsweep || v == sc->sweep[k].nvalues)
            found = -1;
        else
            digit[k] = v;
    }
    size_t point = 0;
    for (size_t k = 0; k < sc->nsweep; k++)
        point = point * sc->sweep[k].nvalues + digit[k];
    free(digit);
    lab_arena_free(&a);
    return found < 0 ? -1 : (long)(point * (size_t)sc->repeat + (size_t)o->repeat);
}

int lab__expand_controls(struct lab_scenario *sc, struct lab_err *err)
{
    size_t want = 0;
    for (size_t i = 0; i < sc->nexpects; i++)
        if (sc->expects[i].control)
            want += sc->nruns;
    if (!want)
        return 0;
    struct lab_arena *a = &sc->arena;
    sc->cruns = lab_arena_alloc(a, want * sizeof(*sc->cruns));
    struct cfg_cache *cache = calloc(want, sizeof(*cache));
    if (!cache)
        abort();
    size_t ncache = 0;
    int rc = 0;
    for (size_t i = 0; i < sc->nexpects && !rc; i++) {
        const struct lab_expect *x = &sc->expects[i];
        for (size_t r = 0; x->control && r < sc->nruns && !rc; r++) {
            const struct lab_runspec *o = &sc->runs[r];
            if (!lab_where_match(sc, o, x->where, x->nwhere) || lab_control_run_of(sc, x, r))
                continue; /* not this run, or already made for another expectation */
            struct lab_config *cfg;
            if ((rc = control_config(sc, err, x->control, o->point, cache, &ncache, &cfg)))
                break;
            struct lab_control_run *cr = &sc->cruns[sc->ncruns];
            cr->control = x->control;
            cr->orig = r;
            cr->spec = *o;
            cr->spec.index = sc->ncruns++;
            cr->spec.cfg = cfg;
            cr->same_as = same_run(sc, x->control, r);
        }
    }
    free(cache);
    return rc;
}

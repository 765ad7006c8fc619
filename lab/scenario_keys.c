/* scenario_keys.c - the keys a scenario names in sweep:, by:, x: and where:, and what
 * each is in a given run (a sweep value, a workload parameter, seed, duration, repeat,
 * world, world.cores, world.nodes). */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Keys (sweep, by, x, where) ------------------------------------------------------ */

/* Resolve a dotted key to a path: a first component that is not a top-level key means
 * workload.<key>. */
size_t lab__key_path(struct lab_arena *a, const char *key, const char ***out)
{
    size_t n = 1;
    for (const char *p = key; *p; p++)
        n += *p == '.';
    const char **comp = lab_arena_alloc(a, (n + 2) * sizeof(*comp));
    size_t k = 0;
    char *dup = lab_arena_strdup(a, key);
    char *first = dup;
    char *dot = strchr(dup, '.');
    if (dot)
        *dot = 0;
    if (!lab__in_list(lab__top_keys, first))
        comp[k++] = "workload";
    comp[k++] = first;
    while (dot) {
        char *next = dot + 1;
        dot = strchr(next, '.');
        if (dot)
            *dot = 0;
        comp[k++] = next;
    }
    *out = comp;
    return k;
}

static const struct lab_param *find_param(const struct lab_workload *wl, const char *name,
                                          size_t *idx)
{
    for (size_t i = 0; wl->params && wl->params[i].name; i++) {
        if (!strcmp(wl->params[i].name, name)) {
            if (idx)
                *idx = i;
            return &wl->params[i];
        }
    }
    return NULL;
}

/* The canonical name of a key: "repeat", "seed", "duration", "world.cores",
 * "world.nodes", a workload parameter's bare name, or a sweep key's path. */
const char *lab__canon_key(struct lab_arena *a, const char *key)
{
    const char **comp;
    size_t n = lab__key_path(a, key, &comp);
    if (n == 2 && !strcmp(comp[0], "workload"))
        return comp[1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(comp[i]) + 1;
    char *s = lab_arena_alloc(a, len + 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(s, ".");
        strcat(s, comp[i]);
    }
    return s;
}

struct keyval {
    const struct lab_value *typed; /* when the key names a typed value */
    const struct lab_node *node;   /* a sweep value without a type (world.network...) */
    struct lab_value tmp;
};

/* What 'key' is in run r. */
static bool run_key(const struct lab_scenario *sc, const struct lab_runspec *r,
                    const char *key, struct keyval *kv)
{
    struct lab_arena scratch = {0};
    const char *ck = lab__canon_key(&scratch, key);
    bool found = true;
    memset(kv, 0, sizeof(*kv));
    const struct lab_config *c = r->cfg;
    size_t idx;
    if (!strcmp(ck, "repeat")) {
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = r->repeat, .f = r->repeat};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "seed")) {
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = (int64_t)c->seed,
                                     .f = (double)c->seed};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "duration")) {
        kv->tmp = (struct lab_value){.type = LAB_DURATION, .i = c->duration,
                                     .f = (double)c->duration};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "world")) {
        kv->tmp = (struct lab_value){.type = LAB_ENUM, .text = lab_world_name(sc->world)};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "world.cores") || !strcmp(ck, "world.nodes")) {
        int v = ck[6] == 'c' ? c->world.cores : c->world.nodes;
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = v, .f = v};
        kv->typed = &kv->tmp;
    } else if (!strchr(ck, '.') && find_param(c->wl, ck, &idx)) {
        kv->typed = &c->params[idx];
    } else {
        found = false;
        for (size_t i = 0; i < sc->nsweep; i++) {
            struct lab_arena s2 = {0};
            if (!strcmp(lab__canon_key(&s2, sc->sweep[i].name), ck)) {
                kv->node = r->values[i];
                found = true;
            }
            lab_arena_free(&s2);
        }
    }
    lab_arena_free(&scratch);
    return found;
}

const char *lab_run_key_text(const struct lab_scenario *sc, const struct lab_runspec *r,
                             const char *key)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return NULL;
    struct lab_arena *a = (struct lab_arena *)&sc->arena;
    if (kv.node)
        return lab_node_text(a, kv.node);
    if (kv.typed == &kv.tmp) {
        if (kv.tmp.type == LAB_DURATION)
            return lab_arena_printf(a, "%.9gs", kv.tmp.f / 1e9);
        return lab_arena_printf(a, "%lld", (long long)kv.tmp.i);
    }
    return kv.typed->text;
}

bool lab_key_number(const struct lab_scenario *sc, const struct lab_runspec *r,
                    const char *key, double *out)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return false;
    if (kv.node) {
        int64_t ns;
        if (kv.node->kind != LAB_NODE_SCALAR)
            return false;
        if (lab__parse_float(kv.node->text, out))
            return true;
        if (lab_parse_duration(kv.node->text, &ns)) {
            *out = (double)ns;
            return true;
        }
        return false;
    }
    switch (kv.typed->type) {
    case LAB_INT:
    case LAB_FLOAT:
    case LAB_DURATION:
    case LAB_BOOL:
        *out = kv.typed->f;
        return true;
    default:
        return false;
    }
}

/* Does value text 'w' (a where: value) equal what run r has for its key? */
static bool key_equals(const struct lab_scenario *sc, const struct lab_runspec *r,
                       const char *key, const struct lab_node *w)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return false;
    struct lab_arena a = {0};
    bool eq = false;
    if (kv.typed) {
        struct lab_err err;
        struct lab_value wv;
        const struct lab_value *t = kv.typed;
        if (lab__parse_value(&a, &err, w, key, t->type, 1, 0, "", &wv) == 0 ||
            t->type == LAB_ENUM) {
            switch (t->type) {
            case LAB_INT:
            case LAB_DURATION:
                eq = wv.i == t->i;
                break;
            case LAB_FLOAT:
                eq = wv.f == t->f;
                break;
            case LAB_BOOL:
                eq = wv.b == t->b;
                break;
            case LAB_STRING:
            case LAB_ENUM:
                eq = w->kind == LAB_NODE_SCALAR && !strcmp(w->text, t->text);
                break;
            case LAB_LIST:
                eq = !strcmp(lab_node_text(&a, w), t->text);
                break;
            }
        }
    } else {
        const char *x = lab_node_text(&a, kv.node), *y = lab_node_text(&a, w);
        double dx, dy;
        int64_t nx, ny;
        if (lab__parse_float(x, &dx) && lab__parse_float(y, &dy))
            eq = dx == dy;
        else if (lab_parse_duration(x, &nx) && lab_parse_duration(y, &ny))
            eq = nx == ny;
        else
            eq = !strcmp(x, y);
    }
    lab_arena_free(&a);
    return eq;
}

/* A bound of `{ min: V }` or `{ max: V }`: a number or a duration (ns). */
static bool bound_number(const struct lab_node *n, double *out)
{
    int64_t ns;
    if (n->kind != LAB_NODE_SCALAR)
        return false;
    if (lab__parse_float(n->text, out))
        return true;
    if (lab_parse_duration(n->text, &ns)) {
        *out = (double)ns;
        return true;
    }
    return false;
}

static bool where_one(const struct lab_scenario *sc, const struct lab_runspec *r,
                      const struct lab_where *w)
{
    if (w->value->kind != LAB_NODE_MAP)
        return key_equals(sc, r, w->key, w->value);
    const struct lab_node *min = lab_node_get(w->value, "min", NULL);
    const struct lab_node *max = lab_node_get(w->value, "max", NULL);
    const struct lab_node *not = lab_node_get(w->value, "not", NULL);
    const struct lab_node *in = lab_node_get(w->value, "in", NULL);
    double v, b;
    if ((min || max) && !lab_key_number(sc, r, w->key, &v))
        return false;
    if (min && (!bound_number(min, &b) || v < b))
        return false;
    if (max && (!bound_number(max, &b) || v > b))
        return false;
    if (not && key_equals(sc, r, w->key, not))
        return false;
    if (in) {
        bool any = false;
        for (size_t i = 0; in->kind == LAB_NODE_SEQ && i < in->n && !any; i++)
            any = key_equals(sc, r, w->key, in->items[i]);
        if (!any)
            return false;
    }
    return true;
}

bool lab_where_match(const struct lab_scenario *sc, const struct lab_runspec *r,
                     const struct lab_where *w, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (!where_one(sc, r, &w[i]))
            return false;
    return true;
}

/* A key named by by:, x: or where: must mean something in the runs. */
int lab__check_key(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *at,
                   const char *key)
{
    struct keyval kv;
    for (size_t i = 0; i < sc->nruns; i++)
        if (run_key(sc, &sc->runs[i], key, &kv))
            return 0;
    const char **names = lab_arena_alloc(&sc->arena, (sc->nsweep + 2) * sizeof(*names));
    names[0] = "repeat";
    for (size_t i = 0; i < sc->nsweep; i++)
        names[i + 1] = sc->sweep[i].name;
    return lab_errf(err, at, "'%s' is not a sweep key, a parameter of '%s', seed, duration, "
                    "world, world.cores or world.nodes (sweep keys: %s)", key,
                    sc->runs[0].cfg->wl->name, lab__join(&sc->arena, names));
}

uint64_t lab_repeat_seed(uint64_t s, int r)
{
    if (r == 0)
        return s;
    return rng_mix(s ^ rng_mix((uint64_t)r)) >> 1; /* fits a JSON integer */
}

/* ---- where: ------------------------------------------------------------------------ */

/* A `where` that names the world matches no run in the other world, and that is its
 * purpose (an expectation for live runs only): not an error. */
static bool where_names_world(const struct lab_where *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i].key, "world"))
            return true;
    return false;
}

/* A where value that is a map: `{ min: V, max: V, not: V, in: [V, ...] }`. */
static int parse_where_tests(struct lab_scenario *sc, struct lab_err *err,
                             const struct lab_node *m)
{
    static const char *const keys[] = {"min", "max", "not", "in", NULL};
    if (m->kind != LAB_NODE_MAP)
        return 0;
    int rc = lab__check_keys(&sc->arena, err, m, keys, "a where test");
    if (rc)
        return rc;
    if (m->n == 0)
        return lab_errf(err, m, "a where test needs min:, max:, not: or in:");
    double b;
    const struct lab_node *x;
    if ((x = lab_node_get(m, "min", NULL)) && !bound_number(x, &b))
        return lab_errf(err, x, "'min' must be a number or a duration");
    if ((x = lab_node_get(m, "max", NULL)) && !bound_number(x, &b))
        return lab_errf(err, x, "'max' must be a number or a duration");
    if ((x = lab_node_get(m, "in", NULL)) && x->kind != LAB_NODE_SEQ)
        return lab_errf(err, x, "'in' takes a list of values, like in: [rr, random]");
    return 0;
}

int lab__parse_where(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                     struct lab_where **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n)
        return 0;
    int rc = lab__want_map(err, n, "'where'");
    if (rc)
        return rc;
    struct lab_where *w = lab_arena_alloc(&sc->arena, (n->n + 1) * sizeof(*w));
    for (size_t i = 0; i < n->n; i++) {
        w[i].key = n->keys[i]->text;
        w[i].keynode = n->keys[i];
        w[i].value = n->items[i];
        if ((rc = lab__check_key(sc, err, n->keys[i], w[i].key)) ||
            (rc = parse_where_tests(sc, err, w[i].value)))
            return rc;
        if (!strcmp(w[i].key, "world") &&
            (w[i].value->kind != LAB_NODE_SCALAR || !lab_world_parse(w[i].value->text)))
            return lab_errf(err, w[i].value, "'world' must be sim or live");
    }
    *out = w;
    *nout = n->n;
    return 0;
}

int lab__where_matches_a_run(struct lab_scenario *sc, struct lab_err *err,
                             const struct lab_node *at, const struct lab_where *w, size_t n)
{
    for (size_t i = 0; i < sc->nruns; i++)
        if (lab_where_match(sc, &sc->runs[i], w, n))
            return 0;
    if (where_names_world(w, n))
        return 0;
    return lab_errf(err, at, "no run matches this 'where' (check the values against the "
                             "sweep)");
}

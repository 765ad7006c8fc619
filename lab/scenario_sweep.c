/* scenario_sweep.c - `sweep:` and its expansion: the cartesian product of the values, the
 * first key outermost, each point the scenario's tree with its values put in place, and
 * `repeat` runs per point. */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sweep ------------------------------------------------------------------------- */

int lab__parse_sweep(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n)
{
    struct lab_arena *a = &sc->arena;
    if (!n || n->null)
        return 0;
    int rc = lab__want_map(err, n, "'sweep'");
    if (rc)
        return rc;
    sc->sweep = lab_arena_alloc(a, (n->n + 1) * sizeof(*sc->sweep));
    for (size_t i = 0; i < n->n; i++) {
        struct lab_sweep_key *k = &sc->sweep[sc->nsweep++];
        k->key = n->keys[i];
        k->name = n->keys[i]->text;
        k->npath = lab__key_path(a, k->name, &k->path);
        const char *const bad[] = {"name", "about", "repeat", "sweep", "plots", "expect", NULL};
        if (lab__in_list(bad, k->path[0]))
            return lab_errf(err, k->key, "cannot sweep '%s' (sweep workload parameters, seed, "
                            "duration, world.*, faults)", k->name);
        for (size_t j = 0; j < i; j++) {
            struct lab_arena s = {0};
            bool same = !strcmp(lab__canon_key(&s, sc->sweep[j].name), lab__canon_key(&s, k->name));
            lab_arena_free(&s);
            if (same)
                return lab_errf(err, k->key, "'%s' is swept twice", k->name);
        }
        const struct lab_node *v = n->items[i];
        if (v->kind != LAB_NODE_SEQ || v->n == 0)
            return lab_errf(err, v, "a sweep key takes a non-empty list of values, like "
                                    "%s: [1, 2, 4]", k->name);
        k->values = v->items;
        k->nvalues = v->n;
    }
    return 0;
}


/* Sweep point p's value of each key: the first key is the outermost (slowest) digit. */
static void point_digits(const struct lab_scenario *sc, size_t p, size_t *idx)
{
    size_t rest = p;
    for (size_t k = sc->nsweep; k-- > 0;) {
        idx[k] = rest % sc->sweep[k].nvalues;
        rest /= sc->sweep[k].nvalues;
    }
}

int lab__expand_sweep(struct lab_scenario *sc, struct lab_err *err)
{
    struct lab_arena *a = &sc->arena;
    /* Each point re-reads the tree with its values in place: bound the points and their
     * cost (points x the tree's size, aliases written out) so that no input makes the
     * loader run away; and the runs, which each cost a world. */
    size_t npoints = 1, weight = sc->root->weight ? sc->root->weight : 1;
    for (size_t i = 0; i < sc->nsweep; i++) {
        npoints *= sc->sweep[i].nvalues;
        if (npoints > LAB_MAX_RUNS / (size_t)sc->repeat)
            return lab_errf(err, sc->sweep[i].key, "the sweep%s makes more than %d runs",
                            sc->repeat > 1 ? " with its repeats" : "", LAB_MAX_RUNS);
        if (npoints > LAB_MAX_LOAD / weight)
            return lab_errf(err, sc->sweep[i].key,
                            "the sweep makes %zu points of a %zu-byte scenario: more than the "
                            "loader reads (points x bytes at most %d)",
                            npoints, weight, LAB_MAX_LOAD);
    }
    sc->npoints = npoints;
    sc->points = lab_arena_alloc(a, npoints * sizeof(*sc->points));
    sc->nruns = npoints * (size_t)sc->repeat;
    sc->runs = lab_arena_alloc(a, sc->nruns * sizeof(*sc->runs));
    size_t *idx = lab_arena_alloc(a, (sc->nsweep + 1) * sizeof(*idx));
    for (size_t p = 0; p < npoints; p++) {
        /* Every point is the tree with its values put in place. */
        point_digits(sc, p, idx);
        struct lab_node *t = sc->root;
        struct lab_node **vals = lab_arena_alloc(a, (sc->nsweep + 1) * sizeof(*vals));
        for (size_t k = 0; k < sc->nsweep; k++) {
            struct lab_sweep_key *sk = &sc->sweep[k];
            vals[k] = sk->values[idx[k]];
            t = lab_node_with(a, t, sk->path, sk->npath, vals[k], sk->key, err);
            if (!t)
                return -EINVAL;
        }
        struct lab_config *c = lab_arena_alloc(a, sizeof(*c));
        int rc = lab__parse_config(a, err, t, sc->world, c);
        if (rc)
            return rc;
        sc->points[p] = c;
        for (int r = 0; r < sc->repeat; r++) {
            struct lab_runspec *rs = &sc->runs[p * (size_t)sc->repeat + (size_t)r];
            rs->index = p * (size_t)sc->repeat + (size_t)r;
            rs->point = p;
            rs->cfg = c;
            rs->values = vals;
            rs->repeat = r;
            rs->seed = lab_repeat_seed(c->seed, r);
        }
    }
    return 0;
}

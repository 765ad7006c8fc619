/* exact.c - an exact item: a scenario of the CI set run in the simulated world, where a
 * file and a seed give the same summary.json byte for byte, and every metric of every
 * run turned into a row to be compared for equality. Rows come from the very JSON
 * summary.json is written from (lab_summary_json), so the baseline holds what a user
 * sees. Distributions stay readable: a histogram gives its count, mean, min, quantiles
 * and max; an array of up to 16 numbers a row per element; a longer one, a matrix or a
 * time series' bins its length, its total and a digest of every value (so a change
 * anywhere in it shows, with the totals when they move). */
#include "lab/bench/bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/output.h"
#include "lab/runner.h"

#define ELEMENTWISE_MAX 16

struct flat {
    struct bench_doc *d;
    const char *bench, *workload;
    json_t *params;
};

static struct bench_row *row(struct flat *f, const char *figure, const char *unit)
{
    struct bench_row *r =
        bench_doc_row(f->d, BENCH_EXACT, f->bench, f->workload, json_incref(f->params), figure);
    free(r->unit); /* a metric's unit comes with it, not from its name */
    r->unit = lab_xstrdup(unit ? unit : "");
    r->better = BENCH_BETTER_NONE;
    r->ratio = false;
    free(r->peer);
    r->peer = NULL;
    return r;
}

static void value(struct flat *f, const char *figure, const char *unit, json_t *v)
{
    struct bench_row *r = row(f, figure, unit);
    if (json_is_number(v))
        bench_row_add(r, json_number_value(v));
    else if (json_is_string(v))
        r->text = lab_xstrdup(json_string_value(v));
    else
        r->text = lab_xstrdup(json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
}

/* FNV-1a over the array's exact text (17 significant digits round-trip a double). */
static uint64_t digest(json_t *a)
{
    char *t = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(17));
    uint64_t h = 14695981039346656037u;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        h = (h ^ *p) * 1099511628211u;
    free(t);
    return h;
}

static void cells(json_t *a, size_t *n, double *total)
{
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        if (json_is_array(x)) {
            cells(x, n, total);
        } else {
            (*n)++;
            *total += json_number_value(x);
        }
    }
}

static void flatten(struct flat *f, const char *path, const char *unit, json_t *v)
{
    if (json_is_object(v)) {
        const char *u = json_string_value(json_object_get(v, "unit"));
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!strcmp(k, "unit"))
                continue;
            char *p = bench_strf("%s.%s", path, k);
            /* a histogram's or a series' count is a number of samples, not in its unit */
            flatten(f, p,
                    !strcmp(k, "count")    ? NULL
                    : !strcmp(k, "bin_ns") ? "ns"
                    : u                    ? u
                                           : unit,
                    x);
            free(p);
        }
        return;
    }
    if (!json_is_array(v)) {
        value(f, path, unit, v);
        return;
    }
    size_t n = 0;
    double total = 0;
    cells(v, &n, &total);
    size_t plen = strlen(path) + 48;
    char *p = lab_xmalloc(plen);
    if (n > ELEMENTWISE_MAX || json_is_array(json_array_get(v, 0))) {
        snprintf(p, plen, "%s.len", path);
        bench_row_add(row(f, p, NULL), (double)n);
        snprintf(p, plen, "%s.total", path);
        bench_row_add(row(f, p, unit), total);
        snprintf(p, plen, "%s.digest", path);
        struct bench_row *r = row(f, p, NULL);
        r->text = lab_xmalloc(24);
        snprintf(r->text, 24, "%016" PRIx64, digest(v));
    } else {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(p, plen, "%s[%zu]", path, i);
            flatten(f, p, unit, x);
        }
    }
    free(p);
}

/* Every metric of every run in the summary into rows. */
static void summary_rows(struct bench_doc *d, const char *bench, json_t *summary)
{
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(summary, "runs"), i, run)
    {
        struct flat f = {d, bench, json_string_value(json_object_get(run, "primitive")),
                         json_object_get(run, "params")};
        const char *k;
        json_t *m;
        json_object_foreach(json_object_get(run, "metrics"), k, m)
        {
            flatten(&f, k, NULL, m);
        }
    }
}

int bench_run_exact(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                    struct lab_err *err)
{
    char *file = it->file[0] == '/' || !strcmp(o->root, ".")
                     ? lab_xstrdup(it->file)
                     : bench_strf("%s/%s", o->root, it->file);
    const char **sets = lab_xmalloc((it->nsets + o->nsets + 1) * sizeof(*sets));
    for (size_t i = 0; i < it->nsets; i++)
        sets[i] = it->sets[i];
    for (size_t i = 0; i < o->nsets; i++)
        sets[it->nsets + i] = o->sets[i];
    struct lab_load_opts lo = {.world = LAB_WORLD_SIM, .sets = sets, .nsets = it->nsets + o->nsets};
    struct lab_scenario *sc = lab_scenario_load(file, &lo, err);
    int rc = 0;
    if (!sc) {
        char msg[LAB_ERR_MAX];
        memcpy(msg, err->msg, sizeof(msg));
        snprintf(err->msg, sizeof(err->msg), "%s: %.1900s", it->id, msg);
        rc = -EINVAL;
        goto out;
    }
    struct lab_run *runs = lab_xmalloc(sc->nruns * sizeof(*runs));
    int status = lab_execute(sc, runs, o->jobs, o->progress);
    if (status) {
        err->status = status;
        snprintf(err->msg, sizeof(err->msg), "%s: a run failed (its message is above)", it->id);
        rc = -EIO;
    } else {
        json_t *summary = lab_summary_json(sc, runs, sc->nruns, false);
        summary_rows(d, it->name, summary);
        json_decref(summary);
    }
    for (size_t i = 0; i < sc->nruns; i++)
        lab_run_cleanup(&runs[i]);
    free(runs);
    lab_scenario_free(sc);
out:
    free(sets);
    free(file);
    return rc;
}

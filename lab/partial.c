/* partial.c - a slice's partial result written whole (shard.h): every metric as the
 * workload recorded it, so that a merge rebuilds exactly the runs the slice executed. */
#include "lab/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lab/hist.h"
#include "lab/lab_version.h"
#include "lab/output.h"
#include "lab/series.h"

/* A double exactly (jansson prints 17 digits); what JSON has no number for, as text. */
static json_t *exact(double v)
{
    if (isnan(v))
        return json_string("nan");
    if (isinf(v))
        return json_string(v > 0 ? "inf" : "-inf");
    return json_real(v);
}

static json_t *exact_array(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, exact(v[i]));
    return a;
}

static json_t *u64(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static const char *const kind_names[] = {LAB_METRIC_KIND_NAMES};

static json_t *hist_whole(const struct hist *h)
{
    json_t *o = json_object(), *b = json_array();
    size_t cur = 0;
    int64_t lo, hi, min, max;
    uint64_t cnt, sum_hi, sum_lo;
    while (hist_next_bucket(h, &cur, &lo, &hi, &cnt))
        json_array_append_new(b, json_pack("[I, o]", (json_int_t)lo, u64(cnt)));
    hist_totals(h, &min, &max, &sum_hi, &sum_lo);
    json_object_set_new(o, "buckets", b);
    json_object_set_new(o, "min", json_integer(min));
    json_object_set_new(o, "max", json_integer(max));
    json_object_set_new(o, "sum", json_pack("[o, o]", u64(sum_hi), u64(sum_lo)));
    return o;
}

static json_t *series_whole(const struct series *s)
{
    json_t *o = json_object(), *b = json_array();
    for (size_t i = 0; i < series_len(s); i++)
        if (series_count(s, i))
            json_array_append_new(b, json_pack("[I, o, o]", (json_int_t)i, exact(series_sum(s, i)),
                                               u64(series_count(s, i))));
    json_object_set_new(o, "bin_ns", json_integer(series_bin_ns(s)));
    json_object_set_new(o, "bins", b);
    return o;
}

static json_t *metric_whole(const struct lab_metric *m)
{
    json_t *o = json_pack("{s:s, s:s}", "name", m->name, "kind", kind_names[m->kind]);
    if (m->unit)
        json_object_set_new(o, "unit", json_string(m->unit));
    switch (m->kind) {
    case LAB_M_SCALAR:
        json_object_set_new(o, "value", exact(m->scalar));
        break;
    case LAB_M_ARRAY:
        json_object_set_new(o, "value", exact_array(m->v, m->n));
        break;
    case LAB_M_MATRIX:
        json_object_set_new(o, "rows", json_integer((json_int_t)m->rows));
        json_object_set_new(o, "cols", json_integer((json_int_t)m->cols));
        json_object_set_new(o, "value", exact_array(m->v, m->n));
        break;
    case LAB_M_HIST:
        json_object_set_new(o, "value", hist_whole(m->hist));
        break;
    case LAB_M_SERIES:
        json_object_set_new(o, "value", series_whole(m->series));
        break;
    }
    return o;
}

static json_t *run_whole(const struct lab_run *run)
{
    json_t *metrics = json_array(), *notes = json_array();
    for (size_t k = 0; k < run->nmetrics; k++)
        json_array_append_new(metrics, metric_whole(&run->metrics[k]));
    for (size_t k = 0; k < run->nnotes; k++)
        json_array_append_new(notes, json_string(run->notes[k]));
    json_t *o = json_pack("{s:I, s:o, s:o, s:o}", "index", (json_int_t)run->spec->index, "metrics",
                          metrics, "notes", notes, "wall_s", json_real(run->wall_s));
    if (run->skipped)
        json_object_set_new(o, "skipped", json_string(run->skipped));
    return o;
}

int lab_partial_write(const struct lab_scenario *sc, const struct lab_run *runs,
                      const struct lab_shard *s, const struct lab_load_opts *lo, const char *dir,
                      struct lab_err *err)
{
    char *text = lo && lo->text ? lab_xstrdup(lo->text) : lab_read_file(sc->file, NULL);
    if (!text)
        return lab_err_write(err, sc->file, -errno);
    json_t *sets = json_array();
    for (size_t i = 0; lo && i < lo->nsets; i++)
        json_array_append_new(sets, json_string(lo->sets[i]));
    json_t *machine = lab_summary_json(sc, runs, 0, true);
    json_t *root = json_object();
    json_object_set_new(root, "distlab_partial", json_integer(LAB_PARTIAL_FORMAT));
    json_object_set_new(root, "scenario", json_string(sc->name));
    json_object_set_new(root, "file", json_string(sc->file));
    json_object_set_new(root, "version", json_string(DISTLAB_GIT_VERSION));
    json_object_set_new(root, "world", json_string(lab_world_name(sc->world)));
    json_object_set_new(root, "seed", json_integer((json_int_t)sc->points[0]->seed));
    json_object_set_new(root, "seed_option",
                        lo && lo->seed_text ? json_string(lo->seed_text) : json_null());
    json_object_set_new(root, "sets", sets);
    json_object_set_new(root, "shard", json_integer(s->i));
    json_object_set_new(root, "of", json_integer(s->n));
    json_object_set_new(root, "nruns", json_integer((json_int_t)sc->nruns));
    json_object_set(root, "machine", json_object_get(machine, "machine"));
    json_object_set_new(root, "text", json_string(text));
    json_t *arr = json_array();
    for (size_t i = 0; i < sc->nruns; i++)
        if (lab_shard_owns(s, i))
            json_array_append_new(arr, run_whole(&runs[i]));
    json_object_set_new(root, "runs", arr);
    json_decref(machine);
    free(text);

    char *dump = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!dump)
        return lab_err_write(err, dir, -ENOMEM);
    /* One file added to dir, beside other slices': under the lock of dir's parent, so
     * that a whole set swapped in there (a run, a merge) never takes it with the old. */
    struct lab_outdir od;
    int rc = lab_outdir_lock(&od, dir, err);
    if (!rc && (rc = lab_mkdirs(dir)))
        lab_err_write(err, dir, rc);
    char *name = lab_shard_file_name(s), *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    size_t len = strlen(dump);
    dump[len] = '\n'; /* the NUL goes: lab_write_file takes a length */
    if (!rc)
        rc = lab_write_file(path, dump, len + 1, err);
    lab_outdir_end(&od);
    free(dump);
    free(path);
    free(name);
    return rc;
}

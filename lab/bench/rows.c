/* rows.c - the suite's rows: what a bench program's JSON line becomes, the figures'
 * units and directions read from their names, and the document a run writes and a
 * baseline is read from (one row per line, so a re-saved baseline diffs by figure). */
#include "lab/bench/bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "lab/lab_version.h"
#include "lab/output.h"

char *bench_strf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    return s;
}

void bench_doc_init(struct bench_doc *d)
{
    memset(d, 0, sizeof(*d));
}

static void row_free(struct bench_row *r)
{
    free(r->bench);
    free(r->workload);
    json_decref(r->params);
    free(r->figure);
    free(r->unit);
    free(r->peer);
    json_decref(r->limits);
    json_decref(r->extra);
    free(r->v);
    free(r->text);
    free(r->key);
}

void bench_doc_free(struct bench_doc *d)
{
    for (size_t i = 0; i < d->n; i++)
        row_free(&d->rows[i]);
    free(d->rows);
    json_decref(d->head);
    memset(d, 0, sizeof(*d));
}

/* A counted row is its suite item's figure: the item's name says which loop, and a
 * change of the code it runs (or of the loop's arguments on its line) is what the gate
 * measures, so its parameters are shown but do not identify it. */
static char *row_key(enum bench_gate gate, const char *bench, const char *workload,
                     const json_t *params, const char *figure)
{
    char *p =
        gate == BENCH_COUNTED ? lab_xstrdup("") : json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    size_t len = strlen(bench) + strlen(workload) + strlen(p) + strlen(figure) + 16;
    char *k = lab_xmalloc(len);
    snprintf(k, len, "%s %s %s %s %s", bench_gate_names[gate], bench,
             gate == BENCH_COUNTED ? "" : workload, p, figure);
    free(p);
    return k;
}

void bench_doc_take(struct bench_doc *dst, struct bench_doc *src)
{
    for (size_t i = 0; i < src->n; i++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? 2 * dst->cap : 64;
            dst->rows = lab_xrealloc(dst->rows, dst->cap * sizeof(*dst->rows));
        }
        dst->rows[dst->n++] = src->rows[i];
    }
    src->n = 0;
}

struct bench_row *bench_doc_find(const struct bench_doc *d, const char *key)
{
    /* Linear from the end: rows are looked up right after they are made. The exact
     * gate's thousands of rows are compared through a sorted index (gate.c). */
    for (size_t i = d->n; i-- > 0;)
        if (!strcmp(d->rows[i].key, key))
            return &d->rows[i];
    return NULL;
}

struct bench_row *bench_doc_row(struct bench_doc *d, enum bench_gate gate, const char *bench,
                                const char *workload, json_t *params, const char *figure)
{
    char *key = row_key(gate, bench, workload, params, figure);
    struct bench_row *r = gate == BENCH_EXACT ? NULL : bench_doc_find(d, key);
    if (r) {
        free(key);
        json_decref(params);
        return r;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->rows = lab_xrealloc(d->rows, d->cap * sizeof(*d->rows));
    }
    r = &d->rows[d->n++];
    memset(r, 0, sizeof(*r));
    r->gate = gate;
    r->bench = lab_xstrdup(bench);
    r->workload = lab_xstrdup(workload);
    r->params = params;
    r->figure = lab_xstrdup(figure);
    r->key = key;
    const char *unit;
    bench_figure_kind(figure, &unit, &r->better, &r->ratio, &r->peer);
    r->unit = lab_xstrdup(unit);
    return r;
}

void bench_row_add(struct bench_row *r, double v)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4;
        r->v = lab_xrealloc(r->v, r->cap * sizeof(*r->v));
    }
    r->v[r->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_row_median(const struct bench_row *r)
{
    if (!r->n)
        return NAN;
    double *s = lab_xmalloc(r->n * sizeof(*s));
    memcpy(s, r->v, r->n * sizeof(*s));
    qsort(s, r->n, sizeof(*s), cmp_double);
    double m = r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
    free(s);
    return m;
}

double bench_row_min(const struct bench_row *r)
{
    double m = r->n ? r->v[0] : NAN;
    for (size_t i = 1; i < r->n; i++)
        m = r->v[i] < m ? r->v[i] : m;
    return m;
}

double bench_row_max(const struct bench_row *r)
{
    double m = r->n ? r->v[0] : NAN;
    for (size_t i = 1; i < r->n; i++)
        m = r->v[i] > m ? r->v[i] : m;
    return m;
}

/* ---- Figures by name -------------------------------------------------------------- */

static bool ends(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

void bench_figure_kind(const char *name, const char **unit, enum bench_better *better, bool *ratio,
                       char **peer)
{
    static const struct {
        const char *suffix, *unit;
    } costs[] = {{"_ns", "ns"}, {"_us", "us"},   {"_ms", "ms"},
                 {"_s", "s"},   {"_kib", "KiB"}, {"_bytes", "B"}};
    *unit = "";
    *better = BENCH_BETTER_NONE;
    *ratio = false;
    *peer = NULL;
    if (!strcmp(name, "speedup") || starts(name, "ratio_to_")) {
        *unit = "x";
        *better = BENCH_BETTER_HIGHER;
        *ratio = true;
        if (starts(name, "ratio_to_"))
            *peer = lab_xstrdup(name + strlen("ratio_to_"));
        return;
    }
    if (!strcmp(name, "ratio") || ends(name, "_ratio") || strstr(name, "_over_")) {
        *unit = "x";
        *better = BENCH_BETTER_LOWER;
        *ratio = true;
        return;
    }
    if (ends(name, "_per_s")) {
        *unit = "1/s";
        *better = BENCH_BETTER_HIGHER;
        return;
    }
    static const char *const per[][2] = {{"ns_per_", "ns"}, {"us_per_", "us"}, {"ms_per_", "ms"}};
    for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++)
        if (starts(name, per[i][0])) {
            *unit = per[i][1];
            *better = BENCH_BETTER_LOWER;
            return;
        }
    if (starts(name, "bytes_per_")) {
        *unit = "B";
        *better = BENCH_BETTER_LOWER;
        return;
    }
    if (!strcmp(name, "instructions_per_op")) {
        *unit = "Ir/op";
        *better = BENCH_BETTER_LOWER;
        return;
    }
    if (!strcmp(name, "seconds")) {
        *unit = "s";
        return; /* how long a part took: a duration, not a cost */
    }
    for (size_t i = 0; i < sizeof(costs) / sizeof(costs[0]); i++)
        if (ends(name, costs[i].suffix)) {
            *unit = costs[i].unit;
            *better = BENCH_BETTER_LOWER;
            return;
        }
}

/* Has the name a unit (or is it a quantity per something)? Integers with one are
 * figures, without one parameters. */
static bool has_unit(const char *name)
{
    if (strstr(name, "_per_"))
        return true;
    const char *unit;
    enum bench_better b;
    bool ratio;
    char *peer;
    bench_figure_kind(name, &unit, &b, &ratio, &peer);
    free(peer);
    return *unit != 0;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

/* Numbers a line states about a figure rather than measures. */
static const char *const limit_keys[] = {"goal", "goal_ratio", "limit", "ceiling", NULL};

int bench_parse_line(struct bench_doc *d, const struct bench_item *it, const char *line, int lineno,
                     struct lab_err *err)
{
    json_error_t je;
    json_t *o = json_loads(line, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        snprintf(err->msg, sizeof(err->msg), "%s: output line %d is not a JSON object%s%s",
                 it->program, lineno, o ? "" : ": ", o ? "" : je.text);
        err->status = LAB_EXIT_INPUT;
        return -EINVAL;
    }
    const char *workload = json_string_value(json_object_get(o, "bench"));
    const char *vs = json_string_value(json_object_get(o, "vs"));
    json_t *params = json_object(), *limits = NULL;
    const char *k;
    json_t *v;
    /* First what identifies the line, then its figures. */
    json_object_foreach(o, k, v)
    {
        if (!strcmp(k, "bench"))
            continue; /* "vs" stays: one line per peer, each its own row */
        if (json_is_number(v) && in_list(limit_keys, k)) {
            if (!limits)
                limits = json_object();
            json_object_set(limits, k, v);
        } else if (json_is_string(v) ||
                   (json_is_integer(v) && (it->key ? in_list(it->key, k) : !has_unit(k)))) {
            json_object_set(params, k, v);
        }
    }
    json_object_foreach(o, k, v)
    {
        if (!json_is_number(v) || json_object_get(params, k) || in_list(limit_keys, k))
            continue;
        struct bench_row *r = bench_doc_row(
            d, BENCH_TIMED, it->name, workload ? workload : it->name, json_deep_copy(params), k);
        if (vs && r->ratio && !r->peer)
            r->peer = lab_xstrdup(vs);
        if (limits && !r->limits)
            r->limits = json_incref(limits);
        bench_row_add(r, json_number_value(v));
    }
    json_decref(params);
    json_decref(limits);
    json_decref(o);
    return 0;
}

/* ---- The document ----------------------------------------------------------------- */

void bench_head_load(json_t *head, const char *name)
{
    double la[3];
    if (getloadavg(la, 3) == 3) {
        json_t *l = json_array();
        for (int i = 0; i < 3; i++)
            json_array_append_new(l, json_real(round(la[i] * 100) / 100));
        json_object_set_new(head, name, l);
    }
}

json_t *bench_head(void)
{
    json_t *h = json_object();
    json_object_set_new(h, "distlab_bench", json_integer(1));
    json_object_set_new(h, "version", json_string(DISTLAB_GIT_VERSION));
    json_object_set_new(h, "machine", lab_machine_json());
    bench_head_load(h, "load_start");
    return h;
}

static json_t *row_json(const struct bench_row *r, const char *host)
{
    json_t *o = json_object();
    json_object_set_new(o, "gate", json_string(bench_gate_names[r->gate]));
    json_object_set_new(o, "bench", json_string(r->bench));
    json_object_set_new(o, "workload", json_string(r->workload));
    json_object_set(o, "parameters", r->params);
    json_object_set_new(o, "figure", json_string(r->figure));
    if (*r->unit)
        json_object_set_new(o, "unit", json_string(r->unit));
    if (r->gate == BENCH_EXACT) {
        json_object_set_new(o, "value", r->text ? json_string(r->text) : lab_json_number(r->v[0]));
        return o;
    }
    if (r->peer)
        json_object_set_new(o, "peer", json_string(r->peer));
    if (r->limits)
        json_object_set(o, "limits", r->limits);
    if (r->better != BENCH_BETTER_NONE)
        json_object_set_new(o, "better",
                            json_string(r->better == BENCH_BETTER_LOWER ? "lower" : "higher"));
    json_object_set_new(o, "repeats", json_integer((json_int_t)r->n));
    json_object_set_new(o, "min", lab_json_number(bench_row_min(r)));
    json_object_set_new(o, "median", lab_json_number(bench_row_median(r)));
    json_object_set_new(o, "max", lab_json_number(bench_row_max(r)));
    json_t *s = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(s, lab_json_number(r->v[i]));
    json_object_set_new(o, "samples", s);
    json_object_set_new(o, "machine", json_string(host));
    if (r->extra)
        json_object_update(o, r->extra);
    return o;
}

int bench_doc_write(const struct bench_doc *d, const char *path, struct lab_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    const char *host =
        json_string_value(json_object_get(json_object_get(d->head, "machine"), "hostname"));
    fputs("{\n", f);
    const char *k;
    json_t *v;
    json_object_foreach(d->head, k, v)
    {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                                    JSON_REAL_PRECISION(10));
        fprintf(f, "  \"%s\": %s,\n", k, t);
        free(t);
    }
    fputs("  \"rows\": [", f);
    for (size_t i = 0; i < d->n; i++) {
        json_t *o = row_json(&d->rows[i], host ? host : "");
        char *t = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(f, "%s\n    %s", i ? "," : "", t);
        free(t);
        json_decref(o);
    }
    fputs("\n  ]\n}\n", f);
    fclose(f);
    int rc = 0;
    if (!strcmp(path, "-")) {
        fwrite(buf, 1, len, stdout);
        fflush(stdout);
    } else {
        rc = lab_write_file(path, buf, len, err);
    }
    free(buf);
    return rc;
}

static int bad_doc(struct lab_err *err, const char *path, size_t i, const char *what)
{
    snprintf(err->msg, sizeof(err->msg), "%s: row %zu: %s", path, i + 1, what);
    err->status = LAB_EXIT_INPUT;
    return -EINVAL;
}

/* One row of a document back into d. */
static int read_row(struct bench_doc *d, const char *path, size_t i, json_t *o, struct lab_err *err)
{
    const char *gate = json_string_value(json_object_get(o, "gate"));
    const char *bench = json_string_value(json_object_get(o, "bench"));
    const char *workload = json_string_value(json_object_get(o, "workload"));
    const char *figure = json_string_value(json_object_get(o, "figure"));
    json_t *params = json_object_get(o, "parameters");
    int g = 0;
    while (gate && g < BENCH_NGATES && strcmp(bench_gate_names[g], gate))
        g++;
    if (!gate || g == BENCH_NGATES || !bench || !workload || !figure || !json_is_object(params))
        return bad_doc(err, path, i,
                       "needs gate (exact, timed or counted), bench, workload, "
                       "parameters (an object) and figure");
    struct bench_row *r =
        bench_doc_row(d, (enum bench_gate)g, bench, workload, json_incref(params), figure);
    if (r->n || r->text)
        return bad_doc(err, path, i, "the same row twice");
    /* What the file says wins over what the name would give (an exact row's unit is its
     * metric's), so a saved row is written again as it was read. */
    const char *unit = json_string_value(json_object_get(o, "unit"));
    const char *peer = json_string_value(json_object_get(o, "peer"));
    const char *better = json_string_value(json_object_get(o, "better"));
    free(r->unit);
    r->unit = lab_xstrdup(unit ? unit : "");
    free(r->peer);
    r->peer = peer ? lab_xstrdup(peer) : NULL;
    r->better = !better                    ? BENCH_BETTER_NONE
                : !strcmp(better, "lower") ? BENCH_BETTER_LOWER
                                           : BENCH_BETTER_HIGHER;
    if (g == BENCH_EXACT)
        r->ratio = false;
    json_t *limits = json_object_get(o, "limits");
    if (json_is_object(limits))
        r->limits = json_incref(limits);
    if (g == BENCH_EXACT) {
        json_t *v = json_object_get(o, "value");
        if (json_is_number(v))
            bench_row_add(r, json_number_value(v));
        else if (json_is_string(v) || json_is_null(v))
            r->text = lab_xstrdup(json_is_null(v) ? "null" : json_string_value(v));
        else
            return bad_doc(err, path, i, "an exact row needs a value");
        return 0;
    }
    json_t *s = json_object_get(o, "samples"), *x;
    size_t k;
    if (!json_is_array(s) || !json_array_size(s))
        return bad_doc(err, path, i, "a timed or counted row needs samples (numbers)");
    json_array_foreach(s, k, x)
    {
        if (!json_is_number(x))
            return bad_doc(err, path, i, "samples must be numbers");
        bench_row_add(r, json_number_value(x));
    }
    return 0;
}

int bench_doc_read(struct bench_doc *d, const char *path, struct lab_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        err->status = LAB_EXIT_INPUT;
        if (je.line > 0)
            snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: %s", path, je.line, je.column, je.text);
        else
            snprintf(err->msg, sizeof(err->msg), "%s: %s", path, je.text);
        return -EINVAL;
    }
    json_t *rows = json_object_get(root, "rows");
    if (!json_is_object(root) || !json_integer_value(json_object_get(root, "distlab_bench")) ||
        !json_is_array(rows)) {
        json_decref(root);
        snprintf(err->msg, sizeof(err->msg),
                 "%s: not a document of `distlab bench` (no distlab_bench and rows)", path);
        err->status = LAB_EXIT_INPUT;
        return -EINVAL;
    }
    d->head = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "rows"))
            json_object_set(d->head, k, v);
    }
    size_t i;
    json_array_foreach(rows, i, v)
    {
        if (!json_is_object(v) || read_row(d, path, i, v, err) < 0) {
            if (!json_is_object(v))
                bad_doc(err, path, i, "not an object");
            json_decref(root);
            return -EINVAL;
        }
    }
    json_decref(root);
    return 0;
}

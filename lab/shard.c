/* shard.c - slices of a sweep and `distlab merge` (shard.h): a partial result read back
 * (partial.c writes it), its runs rebuilt exactly through lab.h, and the slices of one
 * run checked to fit together, so that the runner writes the summary, CSVs and plots
 * from them as if it had executed the runs itself. */
#include "lab/shard.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lab/hist.h"
#include "lab/lab_version.h"
#include "lab/output.h"
#include "lab/runner.h"
#include "lab/series.h"

static const char *const kind_names[] = {LAB_METRIC_KIND_NAMES};

int lab_shard_parse(const char *text, struct lab_shard *s, struct lab_err *err)
{
    unsigned long i, n;
    int used = 0;
    if (text[strspn(text, "0123456789/")] || sscanf(text, "%lu/%lu%n", &i, &n, &used) != 2 ||
        text[used] || i < 1 || n < 1 || i > n || n > 100000) {
        snprintf(err->msg, sizeof(err->msg),
                 "--shard must be I/N with 1 <= I <= N <= 100000, got '%s'", text);
        err->status = LAB_EXIT_INPUT;
        return -EINVAL;
    }
    s->i = (unsigned)i;
    s->n = (unsigned)n;
    return 0;
}

bool lab_shard_owns(const struct lab_shard *s, size_t index)
{
    return !s || !s->n || index % s->n == s->i - 1;
}

char *lab_shard_file_name(const struct lab_shard *s)
{
    char *name;
    if (asprintf(&name, "shard-%u-of-%u.json", s->i, s->n) < 0)
        abort();
    return name;
}

/* ---- Reading ---------------------------------------------------------------------- */

/* One partial file, read. */
struct partial {
    char *path;
    json_t *root;
    const char *scenario, *file, *version, *world, *text;
    unsigned shard, of;
    size_t nruns;
};

static int bad(struct lab_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct lab_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->status = LAB_EXIT_INPUT;
    return -EINVAL;
}

static int read_partial(const char *path, struct partial *p, struct lab_err *err)
{
    memset(p, 0, sizeof(*p));
    p->path = lab_xstrdup(path);
    json_error_t je;
    p->root = json_load_file(path, 0, &je);
    if (!p->root)
        return bad(err, "%s:%d:%d: not a partial result: %s", path, je.line, je.column, je.text);
    json_int_t fmt = 0, shard = 0, of = 0, nruns = -1;
    json_t *runs = NULL, *sets = NULL, *seed_option = NULL;
    if (json_unpack_ex(
            p->root, &je, 0, "{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, *}",
            "distlab_partial", &fmt, "scenario", &p->scenario, "file", &p->file, "version",
            &p->version, "world", &p->world, "text", &p->text, "shard", &shard, "of", &of, "nruns",
            &nruns, "runs", &runs, "sets", &sets, "seed_option", &seed_option))
        return bad(err, "%s: not a partial result of `distlab run --shard`: %s", path, je.text);
    if (fmt != LAB_PARTIAL_FORMAT)
        return bad(err, "%s: partial result format %lld; this distlab reads format %d", path,
                   (long long)fmt, LAB_PARTIAL_FORMAT);
    if (of < 1 || shard < 1 || shard > of || of > 100000 || nruns < 0 || !json_is_array(runs) ||
        !json_is_array(sets) || !(json_is_string(seed_option) || json_is_null(seed_option)))
        return bad(err, "%s: a malformed partial result (shard, of, nruns, runs, sets)", path);
    p->shard = (unsigned)shard;
    p->of = (unsigned)of;
    p->nruns = (size_t)nruns;
    return 0;
}

static void partial_free(struct partial *p)
{
    free(p->path);
    json_decref(p->root);
}

/* A number written by exact(). */
static bool get_exact(const json_t *j, double *v)
{
    const char *s = json_string_value(j);
    if (json_is_number(j))
        *v = json_number_value(j);
    else if (s && !strcmp(s, "nan"))
        *v = NAN;
    else if (s && !strcmp(s, "inf"))
        *v = INFINITY;
    else if (s && !strcmp(s, "-inf"))
        *v = -INFINITY;
    else
        return false;
    return true;
}

static bool get_u64(const json_t *j, uint64_t *v)
{
    const char *s = json_string_value(j);
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    *v = x;
    return !*end && !errno;
}

/* Doubles of a JSON array into a malloc'd buffer of exactly n; false if it does not fit. */
static bool get_doubles(const json_t *a, size_t n, double **out)
{
    if (!json_is_array(a) || json_array_size(a) != n)
        return false;
    double *v = lab_xmalloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++)
        if (!get_exact(json_array_get(a, i), &v[i])) {
            free(v);
            return false;
        }
    *out = v;
    return true;
}

static bool rebuild_hist(struct hist *h, const json_t *o)
{
    json_t *b = json_object_get(o, "buckets"), *sum = json_object_get(o, "sum"), *x;
    json_t *min = json_object_get(o, "min"), *max = json_object_get(o, "max");
    uint64_t hi, lo, cnt;
    size_t i;
    if (!json_is_array(b) || !json_is_integer(min) || !json_is_integer(max) ||
        !json_is_array(sum) || !get_u64(json_array_get(sum, 0), &hi) ||
        !get_u64(json_array_get(sum, 1), &lo))
        return false;
    json_array_foreach(b, i, x)
    {
        json_t *at = json_array_get(x, 0);
        if (!json_is_integer(at) || json_integer_value(at) < 0 ||
            !get_u64(json_array_get(x, 1), &cnt))
            return false;
        hist_add_n(h, json_integer_value(at), cnt);
    }
    return hist_set_totals(h, json_integer_value(min), json_integer_value(max), hi, lo);
}

static bool rebuild_series(struct series *s, const json_t *o)
{
    json_t *b = json_object_get(o, "bins"), *x;
    size_t i;
    if (!json_is_array(b))
        return false;
    json_array_foreach(b, i, x)
    {
        json_t *at = json_array_get(x, 0);
        double sum;
        uint64_t cnt;
        if (!json_is_integer(at) || json_integer_value(at) < 0 ||
            !get_exact(json_array_get(x, 1), &sum) || !get_u64(json_array_get(x, 2), &cnt) ||
            series_add_n(s, json_integer_value(at) * series_bin_ns(s), sum, cnt))
            return false;
    }
    return true;
}

/* One metric of a partial into run, through lab.h as the workload recorded it. */
static bool rebuild_metric(struct lab_run *run, const json_t *m)
{
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *kind = json_string_value(json_object_get(m, "kind"));
    const char *unit = json_string_value(json_object_get(m, "unit"));
    json_t *v = json_object_get(m, "value");
    if (!name || !kind || !v)
        return false;
    size_t k = 0;
    while (k < sizeof(kind_names) / sizeof(*kind_names) && strcmp(kind_names[k], kind))
        k++;
    double x, *a;
    json_int_t rows = json_integer_value(json_object_get(m, "rows"));
    json_int_t cols = json_integer_value(json_object_get(m, "cols"));
    switch (k) {
    case LAB_M_SCALAR:
        if (!get_exact(v, &x))
            return false;
        lab_metric(run, name, x);
        return true;
    case LAB_M_ARRAY:
        if (!get_doubles(v, json_array_size(v), &a))
            return false;
        lab_metric_array(run, name, a, json_array_size(v));
        free(a);
        return true;
    case LAB_M_MATRIX:
        if (rows < 0 || cols < 0 || !get_doubles(v, (size_t)rows * (size_t)cols, &a))
            return false;
        lab_metric_matrix(run, name, a, (size_t)rows, (size_t)cols);
        free(a);
        return true;
    case LAB_M_HIST:
        return unit && rebuild_hist(lab_hist(run, name, unit), v);
    case LAB_M_SERIES: {
        json_int_t bin = json_integer_value(json_object_get(v, "bin_ns"));
        return unit && bin > 0 && rebuild_series(lab_series(run, name, bin, unit), v);
    }
    default:
        return false;
    }
}

/* Run r of partial p into run (initialised). */
static int rebuild_run(const struct partial *p, size_t r, const json_t *o, struct lab_run *run,
                       struct lab_err *err)
{
    json_t *metrics = json_object_get(o, "metrics"), *notes = json_object_get(o, "notes"), *x;
    json_t *wall = json_object_get(o, "wall_s");
    size_t i;
    if (!json_is_array(metrics) || !json_is_array(notes) || !json_is_number(wall))
        return bad(err, "%s: run %zu: needs metrics, notes and wall_s", p->path, r);
    json_array_foreach(metrics, i, x)
    {
        if (!rebuild_metric(run, x) || run->fail)
            return bad(err, "%s: run %zu: metric %zu is malformed", p->path, r, i + 1);
    }
    json_array_foreach(notes, i, x)
    {
        if (!json_is_string(x))
            return bad(err, "%s: run %zu: a note that is not a string", p->path, r);
        lab_note(run, "%s", json_string_value(x));
    }
    run->wall_s = json_number_value(wall);
    json_t *skipped = json_object_get(o, "skipped");
    if (skipped && !json_is_string(skipped))
        return bad(err, "%s: run %zu: 'skipped' is not a reason", p->path, r);
    if (skipped)
        run->skipped = lab_xstrdup(json_string_value(skipped));
    return 0;
}

/* ---- Merging ---------------------------------------------------------------------- */

/* The partials of one scenario: slot[k] is slice k + 1 (NULL: not found yet). */
struct group {
    const char *name;
    struct partial **slot;
    unsigned of;
};

/* Does partial p fit with q, already in the group? */
static int same_run(const struct partial *q, const struct partial *p, struct lab_err *err)
{
    static const char *const keys[] = {"text", "version", "seed", "seed_option", "sets", "world"};
    static const char *const what[] = {"scenario files", "versions of distlab", "seeds",
                                       "--seed options", "--set options",       "worlds"};
    if (p->of != q->of)
        return bad(err,
                   "%s and %s do not fit together: slices of different splits (of %u "
                   "and of %u)",
                   q->path, p->path, q->of, p->of);
    for (size_t k = 0; k < sizeof(keys) / sizeof(*keys); k++) {
        json_t *a = json_object_get(q->root, keys[k]), *b = json_object_get(p->root, keys[k]);
        if (json_equal(a, b))
            continue;
        if (k == 0)
            return bad(err, "%s and %s do not fit together: the scenario files differ", q->path,
                       p->path);
        char *ta = json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
        char *tb = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = bad(err, "%s and %s do not fit together: the %s differ (%.200s and %.200s)",
                     q->path, p->path, what[k], ta ? ta : "?", tb ? tb : "?");
        free(ta);
        free(tb);
        return rc;
    }
    return 0;
}

/* Every partial file in dir and in its subdirectories, appended to *paths. */
static size_t find_partials(const char *dir, char ***paths, size_t n)
{
    static const char *const patterns[] = {"%s/shard-*-of-*.json", "%s/*/shard-*-of-*.json"};
    for (size_t k = 0; k < 2; k++) {
        char *pat;
        if (asprintf(&pat, patterns[k], dir) < 0)
            abort();
        glob_t g;
        if (glob(pat, 0, NULL, &g) == 0) {
            *paths = lab_xrealloc(*paths, (n + g.gl_pathc) * sizeof(**paths));
            for (size_t i = 0; i < g.gl_pathc; i++)
                (*paths)[n++] = lab_xstrdup(g.gl_pathv[i]);
            globfree(&g);
        }
        free(pat);
    }
    return n;
}

/* Put p (taken over) into its group, creating the group. */
static int group_add(struct group **gs, size_t *ng, struct partial *p, struct lab_err *err)
{
    struct group *g = NULL;
    for (size_t i = 0; i < *ng && !g; i++)
        if (!strcmp((*gs)[i].name, p->scenario))
            g = &(*gs)[i];
    if (!g) {
        *gs = lab_xrealloc(*gs, (*ng + 1) * sizeof(**gs));
        g = &(*gs)[(*ng)++];
        g->name = p->scenario;
        g->of = p->of;
        g->slot = calloc(p->of, sizeof(*g->slot));
        if (!g->slot)
            abort();
    } else {
        for (unsigned k = 0; k < g->of; k++)
            if (g->slot[k]) {
                int rc = same_run(g->slot[k], p, err);
                if (rc)
                    return rc;
                break;
            }
    }
    struct partial **at = &g->slot[p->shard - 1];
    if (*at)
        return bad(err, "%s: slice %u of %u is given twice: %s and %s", p->scenario, p->shard,
                   p->of, (*at)->path, p->path);
    *at = p;
    return 0;
}

/* The group complete, loaded and rebuilt into m. */
static int group_merge(const struct group *g, struct lab_merged *m, struct lab_err *err)
{
    char missing[512] = "";
    size_t nmissing = 0;
    for (unsigned k = 0; k < g->of; k++)
        if (!g->slot[k] && nmissing++ < 20)
            snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%u",
                     nmissing > 1 ? ", " : "", k + 1);
    if (nmissing)
        return bad(err, "%s: %zu of its %u slices %s missing: %s%s", g->name, nmissing, g->of,
                   nmissing > 1 ? "are" : "is", missing, nmissing > 20 ? ", ..." : "");
    const struct partial *p0 = g->slot[0];
    if (strcmp(p0->version, DISTLAB_GIT_VERSION))
        return bad(err,
                   "%s: the slices were run by distlab %s, this is distlab %s: merge "
                   "them with the build that ran them",
                   p0->path, p0->version, DISTLAB_GIT_VERSION);
    json_t *sets = json_object_get(p0->root, "sets");
    size_t nsets = json_array_size(sets);
    const char **setv = calloc(nsets + 1, sizeof(*setv));
    if (!setv)
        abort();
    for (size_t i = 0; i < nsets; i++)
        setv[i] = json_string_value(json_array_get(sets, i));
    struct lab_load_opts lo = {.world = lab_world_parse(p0->world),
                               .sets = setv,
                               .nsets = nsets,
                               .seed_text =
                                   json_string_value(json_object_get(p0->root, "seed_option")),
                               .text = p0->text};
    struct lab_err lerr;
    m->sc = lab_scenario_load(p0->file, &lo, &lerr);
    free(setv);
    if (!m->sc)
        return bad(err, "%s: the scenario it carries does not load: %s", p0->path, lerr.msg);
    const struct lab_scenario *sc = m->sc;
    if (sc->nruns != p0->nruns || strcmp(sc->name, g->name))
        return bad(err, "%s: says %zu runs of '%s', its scenario has %zu of '%s'", p0->path,
                   p0->nruns, g->name, sc->nruns, sc->name);
    m->runs = calloc(sc->nruns, sizeof(*m->runs));
    bool *seen = calloc(sc->nruns ? sc->nruns : 1, sizeof(*seen));
    if (!m->runs || !seen)
        abort();
    for (size_t i = 0; i < sc->nruns; i++)
        lab_run_init(&m->runs[i], sc, &sc->runs[i], sc->world);
    int rc = 0;
    for (unsigned k = 0; k < g->of && !rc; k++) {
        const struct partial *p = g->slot[k];
        struct lab_shard s = {p->shard, p->of};
        json_t *runs = json_object_get(p->root, "runs"), *o;
        size_t r;
        json_array_foreach(runs, r, o)
        {
            json_t *ix = json_object_get(o, "index");
            json_int_t i = json_integer_value(ix);
            if (!json_is_integer(ix) || i < 0 || (size_t)i >= sc->nruns ||
                !lab_shard_owns(&s, (size_t)i) || seen[i]) {
                rc =
                    bad(err, "%s: run %zu: index %s is not a run of slice %u of %u", p->path, r + 1,
                        json_is_integer(ix) ? "out of place or twice" : "missing", p->shard, p->of);
                break;
            }
            seen[i] = true;
            if ((rc = rebuild_run(p, r + 1, o, &m->runs[i], err)))
                break;
        }
    }
    for (size_t i = 0; i < sc->nruns && !rc; i++)
        if (!seen[i])
            rc = bad(err, "%s: run %zu is in none of the slices (slice %zu of %u lacks it)",
                     g->name, i, i % g->of + 1, g->of);
    free(seen);
    for (size_t i = 0; i < sc->nruns && !rc; i++)
        lab_run_check(&m->runs[i]);
    return rc;
}

void lab_merged_free(struct lab_merged *m, size_t n)
{
    for (size_t k = 0; m && k < n; k++) {
        for (size_t i = 0; m[k].runs && i < m[k].sc->nruns; i++)
            lab_run_cleanup(&m[k].runs[i]);
        free(m[k].runs);
        lab_scenario_free(m[k].sc);
    }
    free(m);
}

int lab_merge_load(const char *const *dirs, size_t ndirs, struct lab_merged **out, size_t *nout,
                   struct lab_err *err)
{
    *out = NULL;
    *nout = 0;
    char **paths = NULL;
    size_t npaths = 0;
    for (size_t d = 0; d < ndirs; d++) {
        size_t before = npaths;
        npaths = find_partials(dirs[d], &paths, npaths);
        if (npaths == before) {
            for (size_t i = 0; i < npaths; i++)
                free(paths[i]);
            free(paths);
            return bad(err,
                       "%s: no partial results (shard-I-of-N.json, written by `distlab "
                       "run --shard I/N`) in it or in its subdirectories",
                       dirs[d]);
        }
    }
    struct partial *ps = calloc(npaths ? npaths : 1, sizeof(*ps));
    struct group *gs = NULL;
    size_t ng = 0;
    int rc = 0;
    for (size_t i = 0; i < npaths && !rc; i++) {
        /* The same file reached twice (a directory and its parent) is one slice. */
        char *real = realpath(paths[i], NULL);
        bool dup = false;
        for (size_t j = 0; j < i && real && !dup; j++) {
            char *rj = realpath(paths[j], NULL);
            dup = rj && !strcmp(rj, real);
            free(rj);
        }
        free(real);
        if (dup)
            continue;
        if (!(rc = read_partial(paths[i], &ps[i], err)))
            rc = group_add(&gs, &ng, &ps[i], err);
    }
    struct lab_merged *m = calloc(ng ? ng : 1, sizeof(*m));
    if (!m)
        abort();
    for (size_t k = 0; k < ng && !rc; k++)
        rc = group_merge(&gs[k], &m[k], err);
    if (rc)
        lab_merged_free(m, ng);
    else {
        *out = m;
        *nout = ng;
    }
    for (size_t k = 0; k < ng; k++)
        free(gs[k].slot);
    free(gs);
    for (size_t i = 0; i < npaths; i++) {
        partial_free(&ps[i]);
        free(paths[i]);
    }
    free(ps);
    free(paths);
    return rc;
}

/* ---- The verb --------------------------------------------------------------------- */

static void merge_usage(FILE *f)
{
    fputs("usage: distlab merge DIR... [--out DIR] [-q]\n"
          "Combine the partial results that `distlab run --shard I/N` wrote (in each DIR or\n"
          "its subdirectories) into what a single run writes: summary.json, CSVs, plots.\n"
          "Refuses slices that do not fit together (another scenario file, version, seed,\n"
          "--set, world or split; a slice missing or given twice).\n"
          "  --out DIR     write under DIR/<name>/ (default: results/<name>/, plots/<name>/)\n"
          "  -q, --quiet   print only failed expectations\n"
          "  -h, --help    this text\n",
          f);
}

int lab_cmd_merge(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    struct lab_runner_opts o = {.world = LAB_WORLD_SIM, .jobs = 1};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        if (c == 'o') {
            o.out = optarg;
        } else if (c == 'q') {
            o.quiet = true;
        } else if (c == 'h') {
            merge_usage(stdout);
            return LAB_EXIT_OK;
        } else {
            merge_usage(stderr);
            return LAB_EXIT_INPUT;
        }
    }
    if (optind >= argc) {
        fputs("distlab merge: no directory of partial results given\n", stderr);
        merge_usage(stderr);
        return LAB_EXIT_INPUT;
    }
    struct lab_merged *m;
    size_t n;
    struct lab_err err;
    if (lab_merge_load((const char *const *)argv + optind, (size_t)(argc - optind), &m, &n, &err)) {
        fprintf(stderr, "distlab merge: %s\n", err.msg);
        return err.status;
    }
    int status = LAB_EXIT_OK;
    for (size_t k = 0; k < n; k++) {
        int s = lab_runner_write(m[k].sc, m[k].runs, &o);
        if (s > status)
            status = s;
    }
    lab_merged_free(m, n);
    fflush(stdout);
    return status;
}

/* book.c - the scenarios a report covers and their results: the files the claims name
 * (scenarios/<name>.yaml, or a file given on the command line in its place), the runs
 * the report makes of them, slices it merges and result directories it is given. A
 * result is held against its scenario file: results of another version of it are
 * refused rather than reported under the wrong expectation. */
#include "lab/report/report.h"

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/output.h"
#include "lab/runner.h"
#include "lab/shard.h"

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

struct rep_scenario *rep_book_find(const struct rep_book *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (!strcmp(b->s[i].name, name))
            return &b->s[i];
    return NULL;
}

static struct rep_scenario *add(struct rep_book *b, const char *name)
{
    b->s = lab_xrealloc(b->s, (b->n + 1) * sizeof(*b->s));
    struct rep_scenario *s = &b->s[b->n++];
    memset(s, 0, sizeof(*s));
    s->name = lab_arena_strdup(&b->arena, name);
    return s;
}

/* Load file as scenario s (its name checked when 'name' is given). */
static int load(struct rep_scenario *s, const char *file, struct lab_err *err)
{
    s->sc = lab_scenario_load(file, NULL, err);
    if (!s->sc)
        return -EINVAL;
    s->file = lab_xstrdup(file);
    return 0;
}

/* A scenario named by a claim, from scenarios/<name>.yaml when it exists. */
static int want(struct rep_book *b, const char *name, struct lab_err *err)
{
    struct rep_scenario *s = rep_book_find(b, name);
    if (s) {
        s->wanted = true;
        return 0;
    }
    s = add(b, name);
    s->wanted = true;
    char *path;
    if (asprintf(&path, "%s/scenarios/%s.yaml", lab_source_root(), name) < 0)
        abort();
    int rc = is_file(path) ? load(s, path, err) : 0;
    free(path);
    return rc;
}

/* The scenario files no claim names, for the report's list of them. */
static void others(struct rep_book *b)
{
    char *pattern;
    if (asprintf(&pattern, "%s/scenarios/*.yaml", lab_source_root()) < 0)
        abort();
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct lab_arena a = {0};
            struct lab_err err;
            const char *name, *about;
            if (!lab_scenario_peek(&a, g.gl_pathv[i], &name, &about, &err) && *name &&
                !rep_book_find(b, name)) {
                struct rep_scenario *s = add(b, name);
                s->file = lab_xstrdup(g.gl_pathv[i]);
            }
            lab_arena_free(&a);
        }
        globfree(&g);
    }
    free(pattern);
}

int rep_book_open(struct rep_book *b, const struct rep_claims *cl, const char *const *files,
                  size_t nfiles, struct lab_err *err)
{
    memset(b, 0, sizeof(*b));
    int rc = 0;
    for (size_t i = 0; i < nfiles && !rc; i++) {
        struct rep_scenario tmp = {0};
        if ((rc = load(&tmp, files[i], err)))
            break;
        if (rep_book_find(b, tmp.sc->name)) {
            rc = lab_errf(err, NULL, "%s: scenario '%s' is given twice", files[i], tmp.sc->name);
            lab_scenario_free(tmp.sc);
            free(tmp.file);
            break;
        }
        struct rep_scenario *s = add(b, tmp.sc->name);
        s->sc = tmp.sc;
        s->file = tmp.file;
        s->wanted = true;
    }
    for (size_t i = 0; i < cl->n && !rc; i++) {
        const struct rep_claim *c = &cl->c[i];
        for (size_t k = 0; k < c->nev && !rc; k++)
            rc = want(b, c->ev[k].scenario, err);
        for (size_t k = 0; k < c->nnum && !rc; k++)
            rc = want(b, c->num[k].scenario, err);
    }
    if (!rc)
        others(b);
    return rc;
}

void rep_book_close(struct rep_book *b)
{
    for (size_t i = 0; i < b->n; i++) {
        lab_scenario_free(b->s[i].sc);
        json_decref(b->s[i].summary);
        free(b->s[i].file);
        free(b->s[i].dir);
        free(b->s[i].plots);
    }
    free(b->s);
    lab_arena_free(&b->arena);
    memset(b, 0, sizeof(*b));
}

/* ---- Claims against scenarios ------------------------------------------------------ */

/* Does expectation x's where: hold every value of sel? */
/* Does an expectation's where: value w (a value, or `{ in: [...] }`) admit the claim's v? */
static bool where_admits(struct lab_arena *a, const struct lab_node *w, const struct lab_node *v)
{
    const char *vt = lab_node_text(a, v);
    if (w->kind != LAB_NODE_MAP)
        return !strcmp(lab_node_text(a, w), vt);
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->keys[i]->text, "in"))
            continue; /* min, max, not narrow the runs: the value is still the claim's */
        const struct lab_node *l = w->items[i];
        for (size_t j = 0; l->kind == LAB_NODE_SEQ && j < l->n; j++)
            if (!strcmp(lab_node_text(a, l->items[j]), vt))
                return true;
        return false;
    }
    return true;
}

static bool where_has(struct lab_arena *a, const struct lab_expect *x, const struct lab_node *sel)
{
    for (size_t i = 0; sel && i < sel->n; i++) {
        bool found = false;
        for (size_t k = 0; k < x->nwhere && !found; k++)
            found = !strcmp(x->where[k].key, sel->keys[i]->text) &&
                    where_admits(a, x->where[k].value, sel->items[i]);
        if (!found)
            return false;
    }
    return true;
}

bool rep_selects(struct lab_arena *a, const struct rep_evidence *e, const struct lab_expect *x)
{
    if (!e->nsel)
        return true;
    for (size_t i = 0; i < e->nsel; i++)
        if (!strcmp(e->sel[i].metric, x->lhs.text) && where_has(a, x, e->sel[i].where))
            return true;
    return false;
}

/* One problem of claim c: printed to 'all' when given (every problem is), kept in err
 * when it is the first. Returns -EINVAL. */
static int problem(struct lab_err *err, FILE *all, int *n, const struct rep_claim *c,
                   const struct lab_node *at, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static int problem(struct lab_err *err, FILE *all, int *n, const struct rep_claim *c,
                   const struct lab_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = lab_xvprintf(fmt, ap);
    va_end(ap);
    struct lab_err one;
    lab_errf(&one, at, "claim %s: %s", c->id, msg);
    free(msg);
    if (all)
        fprintf(all, "%s\n", one.msg);
    if (!(*n)++)
        *err = one;
    return -EINVAL;
}

/* Each key of a where: must be a sweep key of sc, with one of its sweep values. */
static void check_where(struct lab_arena *a, const struct lab_scenario *sc,
                        const struct rep_claim *c, const struct lab_node *w, FILE *all, int *n,
                        struct lab_err *err)
{
    for (size_t i = 0; w && i < w->n; i++) {
        const struct lab_sweep_key *k = NULL;
        for (size_t j = 0; j < sc->nsweep && !k; j++)
            if (!strcmp(sc->sweep[j].name, w->keys[i]->text))
                k = &sc->sweep[j];
        if (!k) {
            problem(err, all, n, c, w->keys[i], "'%s' is not swept in scenario %s",
                    w->keys[i]->text, sc->name);
            continue;
        }
        const char *v = lab_node_text(a, w->items[i]);
        bool found = false;
        for (size_t j = 0; j < k->nvalues && !found; j++)
            found = !strcmp(lab_node_text(a, k->values[j]), v);
        if (!found)
            problem(err, all, n, c, w->items[i], "scenario %s sweeps no %s = %s", sc->name, k->name,
                    v);
    }
}

/* Every expectation and plot the evidence selects must be in the scenario: found by
 * metric and where:, so reordering a scenario's expectations changes nothing. */
static void check_evidence(struct lab_arena *a, const struct rep_claim *c,
                           const struct rep_evidence *e, const struct rep_scenario *s, FILE *all,
                           int *n, struct lab_err *err)
{
    const struct lab_scenario *sc = s->sc;
    for (size_t i = 0; i < e->nsel; i++) {
        bool found = false;
        struct rep_evidence one = {.sel = &e->sel[i], .nsel = 1};
        for (size_t k = 0; k < sc->nexpects && !found; k++)
            found = rep_selects(a, &one, &sc->expects[k]);
        if (!found)
            problem(err, all, n, c, e->sel[i].node,
                    "scenario %s (%s) has no expectation on %s%s%s: the claim's verdict rests "
                    "on it; select one the scenario has, or drop it from the claim",
                    sc->name, s->file, e->sel[i].metric, e->sel[i].where ? " where " : "",
                    e->sel[i].where ? lab_node_text(a, e->sel[i].where) : "");
    }
    for (size_t i = 0; i < e->nplots; i++) {
        bool found = false;
        for (size_t k = 0; k < sc->nplots && !found; k++)
            found = !strcmp(sc->plots[k].name, e->plots[i]);
        if (!found)
            problem(err, all, n, c, e->node, "scenario %s (%s) has no plot named '%s'", sc->name,
                    s->file, e->plots[i]);
    }
}

int rep_book_check(const struct rep_book *b, const struct rep_claims *cl, FILE *all,
                   struct lab_err *err)
{
    struct lab_arena a = {0};
    int n = 0;
    for (size_t i = 0; i < cl->n && (all || !n); i++) {
        const struct rep_claim *c = &cl->c[i];
        for (size_t k = 0; k < c->nev && (all || !n); k++) {
            const struct rep_scenario *s = rep_book_find(b, c->ev[k].scenario);
            if (s->sc)
                check_evidence(&a, c, &c->ev[k], s, all, &n, err);
        }
        for (size_t k = 0; k < c->nnum && (all || !n); k++) {
            const struct rep_scenario *s = rep_book_find(b, c->num[k].scenario);
            if (s->sc)
                check_where(&a, s->sc, c, c->num[k].where, all, &n, err);
        }
    }
    lab_arena_free(&a);
    if (n && all)
        snprintf(err->msg, sizeof(err->msg),
                 "%s: %d problem%s (above): a claim rests on what its scenarios no longer have",
                 cl->file, n, n == 1 ? "" : "s");
    return n ? -EINVAL : 0;
}

/* ---- Results ----------------------------------------------------------------------- */

/* Does summary j belong to s's scenario file? Every check must be the expectation its
 * index names. */
static int fits(const struct rep_scenario *s, const json_t *j, const char *path,
                struct lab_err *err)
{
    json_t *runs = json_object_get(j, "runs"), *r, *e;
    size_t i, k;
    if (!json_is_array(runs))
        return lab_errf(err, NULL, "%s: not a summary.json of distlab (no runs)", path);
    json_array_foreach(runs, i, r)
    {
        json_array_foreach(json_object_get(r, "expect"), k, e)
        {
            json_t *ix = json_object_get(e, "index");
            const char *text = json_string_value(json_object_get(e, "text"));
            json_int_t x = json_integer_value(ix);
            if (!json_is_integer(ix) || x < 0 || (size_t)x >= s->sc->nexpects || !text ||
                strcmp(text, s->sc->expects[x].text))
                return lab_errf(err, NULL,
                                "%s: these results do not match %s (run %zu, check "
                                "%zu): run the scenario again",
                                path, s->file, i + 1, k + 1);
        }
    }
    return 0;
}

/* Take dir/summary.json as the results of its scenario (NULL: one the book does not
 * cover, or not a result). */
static int attach(struct rep_book *b, const char *dir, struct lab_err *err)
{
    char *path;
    if (asprintf(&path, "%s/summary.json", dir) < 0)
        abort();
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    int rc = 0;
    if (!j) {
        rc = lab_errf(err, NULL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
        goto out;
    }
    const char *name = json_string_value(json_object_get(j, "scenario"));
    struct rep_scenario *s = name ? rep_book_find(b, name) : NULL;
    if (!s || !s->sc)
        goto out; /* nothing of this report: not an error */
    if (s->summary) {
        rc = lab_errf(err, NULL, "results of %s are given twice: %s and %s", name, s->dir, dir);
        goto out;
    }
    if ((rc = fits(s, j, path, err)))
        goto out;
    s->summary = json_incref(j);
    s->dir = lab_xstrdup(dir);
    /* Plots beside the results (--out), or in plots/<name>/ beside results/<name>/. */
    char *other;
    if (asprintf(&other, "%s/../../plots/%s", dir, name) < 0)
        abort();
    char *svg;
    if (asprintf(&svg, "%s/%s.svg", dir, s->sc->nplots ? s->sc->plots[0].name : "") < 0)
        abort();
    s->plots = lab_xstrdup(!is_file(svg) && is_dir(other) ? other : dir);
    free(svg);
    free(other);
out:
    json_decref(j);
    free(path);
    return rc;
}

int rep_book_run(struct rep_book *b, const char *const *files, size_t nfiles, const char *out,
                 const struct lab_runner_opts *o)
{
    const char **run = calloc(b->n + 1, sizeof(*run));
    if (!run)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->s[i].wanted && b->s[i].sc) {
            bool given = !nfiles;
            for (size_t k = 0; k < nfiles && !given; k++)
                given = !strcmp(files[k], b->s[i].file);
            if (given)
                run[n++] = b->s[i].file;
        }
    struct lab_runner_opts ro = *o;
    char *dir;
    if (asprintf(&dir, "%s/runs", out) < 0)
        abort();
    ro.out = dir;
    int status = n ? lab_runner(run, n, &ro) : LAB_EXIT_OK;
    for (size_t i = 0; i < n && status <= LAB_EXIT_EXPECT; i++) {
        struct lab_err err;
        struct rep_scenario *s = NULL;
        for (size_t k = 0; k < b->n && !s; k++)
            if (b->s[k].file == run[i])
                s = &b->s[k];
        char *rdir;
        if (asprintf(&rdir, "%s/%s", dir, s->name) < 0)
            abort();
        if (attach(b, rdir, &err)) {
            fprintf(stderr, "distlab report: %s\n", err.msg);
            status = LAB_EXIT_WRITE;
        }
        free(rdir);
    }
    free(dir);
    free(run);
    return status;
}

/* Does dir (or a directory in it) hold partial results? */
static bool has_partials(const char *dir)
{
    static const char *const patterns[] = {"%s/shard-*-of-*.json", "%s/*/shard-*-of-*.json"};
    bool found = false;
    for (size_t k = 0; k < 2 && !found; k++) {
        char *pat;
        if (asprintf(&pat, patterns[k], dir) < 0)
            abort();
        glob_t g;
        found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
        if (found || g.gl_pathc)
            globfree(&g);
        free(pat);
    }
    return found;
}

/* Merge the slices found in dirs into out/runs/<name>/ and attach them. */
static int merge(struct rep_book *b, const char **dirs, size_t n, const char *out,
                 const struct lab_runner_opts *o, struct lab_err *err)
{
    struct lab_merged *m;
    size_t nm;
    if (lab_merge_load(dirs, n, &m, &nm, err))
        return err->status;
    struct lab_runner_opts ro = *o;
    char *runs;
    if (asprintf(&runs, "%s/runs", out) < 0)
        abort();
    ro.out = runs;
    int status = LAB_EXIT_OK;
    for (size_t k = 0; k < nm && status <= LAB_EXIT_EXPECT; k++) {
        int s = lab_runner_write(m[k].sc, m[k].runs, &ro);
        status = s > status ? s : status;
        char *dir;
        if (asprintf(&dir, "%s/%s", runs, m[k].sc->name) < 0)
            abort();
        if (status <= LAB_EXIT_EXPECT && attach(b, dir, err))
            status = err->status;
        free(dir);
    }
    lab_merged_free(m, nm);
    free(runs);
    return status;
}

int rep_book_from(struct rep_book *b, const char *const *dirs, size_t ndirs, const char *out,
                  const struct lab_runner_opts *o, struct lab_err *err)
{
    const char **parts = calloc(ndirs + 1, sizeof(*parts));
    if (!parts)
        abort();
    size_t np = 0;
    int status = LAB_EXIT_OK;
    for (size_t d = 0; d < ndirs && status <= LAB_EXIT_EXPECT; d++) {
        if (!is_dir(dirs[d])) {
            lab_errf(err, NULL, "--from %s: not a directory", dirs[d]);
            status = err->status;
            break;
        }
        if (has_partials(dirs[d]))
            parts[np++] = dirs[d];
        glob_t g;
        char *pat;
        if (asprintf(&pat, "%s/summary.json", dirs[d]) < 0)
            abort();
        bool top = is_file(pat);
        free(pat);
        if (asprintf(&pat, "%s/*/summary.json", dirs[d]) < 0)
            abort();
        int grc = glob(pat, 0, NULL, &g);
        free(pat);
        if (top && attach(b, dirs[d], err))
            status = err->status;
        for (size_t i = 0; grc == 0 && i < g.gl_pathc && status <= LAB_EXIT_EXPECT; i++) {
            char *dir = lab_xstrdup(g.gl_pathv[i]);
            if (attach(b, dirname(dir), err))
                status = err->status;
            free(dir);
        }
        if (grc == 0)
            globfree(&g);
    }
    if (np && status <= LAB_EXIT_EXPECT) {
        int s = merge(b, parts, np, out, o, err);
        status = s > status ? s : status;
    }
    free(parts);
    return status;
}

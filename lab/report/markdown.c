/* markdown.c - the report as Markdown (GitHub's flavour, for its tables): the claims
 * table, then a section per claim (the claim, its verdict, its checks measured against
 * the theory, the plots, the scenario's explanation, how to reproduce it), then the
 * appendices. The same text, with badges, anchors and figure slots, is the source of
 * the HTML page (page.c), so both say the same. */
#include "lab/report/report.h"

#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lab/lab_version.h"
#include "lab/output.h"

void rep_md_text(FILE *f, const char *s, bool cell)
{
    for (; *s; s++) {
        if (*s == '\n' && cell)
            fputc(' ', f);
        else if (strchr("\\`*_[]<>|~&#!", *s) && *s)
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
}

/* A string member of a JSON object, or 'dflt'. */
static const char *str(const json_t *o, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : dflt;
}

/* A code span (a check's text): only '|' needs escaping, inside a table. */
static void md_code(FILE *f, const char *s)
{
    fputc('`', f);
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, f);
    fputc('`', f);
}

static void badge(FILE *f, const struct rep_doc *d, enum rep_verdict v)
{
    if (d->html)
        fprintf(f, "<span class=\"verdict %s\">%s %s</span>", rep_verdict_class(v),
                rep_verdict_mark(v), rep_verdict_label(v));
    else
        fprintf(f, "**%s %s**", rep_verdict_mark(v), rep_verdict_label(v));
}

static void mark(FILE *f, const struct rep_doc *d, bool ok)
{
    if (d->html)
        fprintf(f, "<span class=\"%s\">%s</span>", ok ? "ok" : "fail", ok ? "\u2714" : "\u2718");
    else
        fputs(ok ? "\u2714" : "\u2718 **failed**", f);
}

/* The path of s's file from the source root, as a reader would type it. */
static const char *shown_path(const char *file)
{
    const char *root = lab_source_root();
    size_t n = strlen(root);
    if (!strncmp(file, root, n) && file[n] == '/')
        return file + n + 1;
    return file;
}

/* ---- The top: title, claims table, legend ------------------------------------------ */

static void header(FILE *f, const struct rep_doc *d)
{
    size_t count[REP_UNMEASURED + 1] = {0};
    for (size_t i = 0; i < d->cl->n; i++)
        count[d->o[i].verdict]++;
    fprintf(f, "# ");
    rep_md_text(f, d->cl->title, true);
    fprintf(f, "\n\n%s\n\n", d->cl->about);
    fprintf(f, "%zu claims: ", d->cl->n);
    bool first = true;
    for (int v = 0; v <= REP_UNMEASURED; v++)
        if (count[v]) {
            fprintf(f, "%s%zu %s", first ? "" : ", ", count[v],
                    v == REP_CORRECTED ? "with a correction" : rep_verdict_label(v));
            first = false;
        }
    fprintf(f, ". Made by distlab %s from %s.\n\n", DISTLAB_GIT_VERSION, shown_path(d->cl->file));
}

static void claims_table(FILE *f, const struct rep_doc *d)
{
    fputs("<a id=\"claims\"></a>\n\n## The claims\n\n", f);
    if (d->html)
        fputs("<div class=\"claims\">\n\n", f);
    fputs("| | Claim | Where in the seed | Verdict | Decided by |\n"
          "|--:|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < d->cl->n; i++) {
        const struct rep_claim *c = &d->cl->c[i];
        fprintf(f, "| %zu | [", i + 1);
        rep_md_text(f, c->title, true);
        fprintf(f, "](#claim-%s) | ", c->id);
        rep_md_text(f, c->seed, true);
        fputs(" | ", f);
        badge(f, d, d->o[i].verdict);
        fputs(" | ", f);
        for (size_t k = 0; k < c->nev; k++) {
            const struct rep_scenario *s = rep_book_find(d->b, c->ev[k].scenario);
            fprintf(f, "%s", k ? ", " : "");
            md_code(f, c->ev[k].scenario);
            if (!s || !s->sc)
                fputs(" (to be written)", f);
            else if (!s->summary)
                fputs(" (not run here)", f);
        }
        fputs(c->nev ? " |\n" : "none yet |\n", f);
    }
    fputs(d->html ? "\n</div>\n\n" : "\n", f);
    static const char *const legend[] = {
        "every check that decides the claim held", "the checks show the opposite of the claim",
        "the claim is near the truth but not exact: its section says the exact number",
        "a check failed that the claim's rule does not read as a refutation",
        "no scenario decides the claim yet, or its scenario was not run for this report"};
    for (int v = 0; v <= REP_UNMEASURED; v++) {
        fputs(v ? " " : "", f);
        badge(f, d, v);
        fprintf(f, ": %s.", legend[v]);
    }
    fputs(" Each verdict follows the rule written for its claim before the runs "
          "(the claims file); the checks are the scenarios' expectations, derived from "
          "theory with a tolerance from the sampling error.\n\n",
          f);
}

/* ---- A claim's checks --------------------------------------------------------------- */

/* Is the left side of x a metric recorded in nanoseconds (a latency histogram)? */
static bool in_ns(const struct lab_expect *x, const json_t *run)
{
    json_t *m = json_object_get(json_object_get(run, "metrics"), x->lhs.metric);
    return json_is_object(m) && !strcmp(str(m, "unit", ""), "ns");
}

static void value(FILE *f, const json_t *v, bool ns)
{
    char buf[64];
    if (json_is_number(v)) {
        rep_format(buf, sizeof(buf), json_number_value(v), 4, ns);
        fputs(buf, f);
    } else {
        fputs("\u2014", f);
    }
}

/* What the check wants: the operator and the value ("≥ 1", "≈ 874.2 ± 125"), or
 * "each run's own" when the runs of a line want different values. */
static void expected(FILE *f, const struct rep_row *r, size_t from, size_t n, bool ns)
{
    static const char *const ops[] = {"<", "≤", ">", "≥", "=", "≠", "≈"};
    const struct lab_expect *x = r->x;
    json_t *e0 = json_object_get(r->checks[from], "expected");
    bool same = true;
    for (size_t i = from + 1; i < from + n; i++)
        same = same && json_equal(e0, json_object_get(r->checks[i], "expected"));
    if (!same || !json_is_number(e0)) {
        fputs(same ? "—" : "each run's own", f);
        return;
    }
    fprintf(f, "%s ", ops[x->op]);
    value(f, e0, ns);
    if (x->op != LAB_OP_APPROX)
        return;
    json_t *t = json_object_get(r->checks[from], "tol"); /* a tolerance the run computed */
    char buf[64];
    if (json_is_number(t)) {
        rep_format(buf, sizeof(buf), json_number_value(t), 3, ns);
        fprintf(f, " ± %s", buf);
    } else if (x->tol_pct) {
        rep_format(buf, sizeof(buf), x->tol, 3, false);
        fprintf(f, " ± %s%%", buf);
    } else {
        rep_format(buf, sizeof(buf), x->tol, 3, ns);
        fprintf(f, " ± %s", buf);
    }
}

static void where_text(FILE *f, const struct lab_expect *x)
{
    struct lab_arena a = {0};
    for (size_t k = 0; k < x->nwhere; k++) {
        fprintf(f, "%s", k ? ", " : " where ");
        rep_md_text(f, x->where[k].key, true);
        fputs(" = ", f);
        rep_md_text(f, lab_node_text(&a, x->where[k].value), true);
    }
    lab_arena_free(&a);
}

static void row_cells(FILE *f, const struct rep_doc *d, const struct rep_part *p,
                      const struct rep_row *r, size_t from, size_t n, bool first)
{
    bool ns = in_ns(r->x, r->runs[from]);
    fputs("| ", f);
    if (first) {
        md_code(f, r->x->text);
        where_text(f, r->x);
    }
    fputs(" | ", f);
    if (n == 1) {
        char *label = rep_run_label(p->s->sc, r->runs[from]);
        rep_md_text(f, *label ? label : "the run", true);
        free(label);
    } else {
        fprintf(f, "%zu runs", n);
    }
    fputs(" | ", f);
    const json_t *c = r->checks[from];
    const char *msg = json_string_value(json_object_get(c, "message"));
    if (n == 1 && msg) {
        rep_md_text(f, msg, true);
    } else if (n == 1) {
        value(f, json_object_get(c, "actual"), ns);
    } else {
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = from; i < from + n; i++) {
            double v = json_number_value(json_object_get(r->checks[i], "actual"));
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        json_t *l = json_real(lo), *h = json_real(hi);
        value(f, l, ns);
        if (hi > lo) {
            fputs(" to ", f);
            value(f, h, ns);
        }
        json_decref(l);
        json_decref(h);
    }
    fputs(" | ", f);
    expected(f, r, from, n, ns);
    fputs(" | ", f);
    size_t ok = 0;
    for (size_t i = from; i < from + n; i++)
        ok += json_is_true(json_object_get(r->checks[i], "ok"));
    mark(f, d, ok == n);
    if (n > 1 && ok < n)
        fprintf(f, " %zu of %zu", ok, n);
    fputs(" | ", f);
    if (first && r->x->why)
        rep_md_text(f, r->x->why, true);
    fputs(" |\n", f);
}

/* An expectation on up to 3 runs gets a line per run; on more, one line for all, and a
 * line per run it failed in. */
static void checks_table(FILE *f, const struct rep_doc *d, const struct rep_part *p)
{
    if (!p->nrows)
        return;
    if (d->html)
        fputs("<div class=\"checks\">\n\n", f);
    fputs("| Check | Run | Measured | Expected | Held | Why (the theory) |\n"
          "|---|---|--:|--:|:-:|---|\n",
          f);
    for (size_t k = 0; k < p->nrows; k++) {
        const struct rep_row *r = &p->rows[k];
        if (!r->nruns) {
            fputs("| ", f);
            md_code(f, r->x->text);
            where_text(f, r->x);
            fputs(" | no run of this report | | | | |\n", f);
        } else if (r->nruns <= 3) {
            for (size_t i = 0; i < r->nruns; i++)
                row_cells(f, d, p, r, i, 1, i == 0);
        } else {
            row_cells(f, d, p, r, 0, r->nruns, true);
            for (size_t i = 0; i < r->nruns; i++)
                if (!json_is_true(json_object_get(r->checks[i], "ok")))
                    row_cells(f, d, p, r, i, 1, false);
        }
    }
    fputs(d->html ? "\n</div>\n\n" : "\n", f);
}

/* ---- Figures ----------------------------------------------------------------------- */

static char *exists(char *path)
{
    struct stat st;
    if (path && stat(path, &st) == 0)
        return path;
    free(path);
    return NULL;
}

static void add_figure(struct rep_figure **fig, size_t *n, const struct rep_scenario *s,
                       const struct lab_plot *p, const char *stem)
{
    *fig = lab_xrealloc(*fig, (*n + 1) * sizeof(**fig));
    struct rep_figure *x = &(*fig)[(*n)++];
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->plot = p;
    if (asprintf(&x->svg, "%s/%s.svg", s->plots, stem) < 0 ||
        asprintf(&x->png, "%s/%s.png", s->plots, stem) < 0)
        abort();
    x->svg = exists(x->svg);
    x->png = exists(x->png);
}

/* A plot's images: <name>.svg, or one per run for a heat map (<name>-<value>.svg). */
static void plot_figures(struct rep_figure **fig, size_t *n, const struct rep_scenario *s,
                         const struct lab_plot *p)
{
    char *one, *pattern;
    if (asprintf(&one, "%s/%s.svg", s->plots, p->name) < 0 ||
        asprintf(&pattern, "%s/%s-*.svg", s->plots, p->name) < 0)
        abort();
    glob_t g;
    char *found = exists(one);
    if (!found && glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *stem = strrchr(g.gl_pathv[i], '/') + 1;
            stem[strlen(stem) - 4] = 0; /* ".svg" */
            add_figure(fig, n, s, p, stem);
        }
        globfree(&g);
    } else {
        add_figure(fig, n, s, p, p->name);
    }
    free(found);
    free(pattern);
}

static void figures(FILE *f, const struct rep_doc *d, const struct rep_part *p,
                    struct rep_figure **fig, size_t *nfig)
{
    const struct lab_scenario *sc = p->s->sc;
    for (size_t k = 0; k < sc->nplots; k++) {
        bool shown = p->ev->all_plots;
        for (size_t i = 0; i < p->ev->nplots && !shown; i++)
            shown = !strcmp(p->ev->plots[i], sc->plots[k].name);
        if (!shown)
            continue;
        size_t from = *nfig;
        plot_figures(fig, nfig, p->s, &sc->plots[k]);
        for (size_t i = from; i < *nfig; i++) {
            const struct rep_figure *x = &(*fig)[i];
            const char *title = x->plot->title ? x->plot->title : x->plot->name;
            const char *stem = strrchr(x->svg ? x->svg : x->png ? x->png : "/?", '/') + 1;
            if (d->html)
                fprintf(f, "<div data-figure=\"%zu\"></div>\n\n", i + 1);
            else if (x->png)
                fprintf(f, "![Figure %zu](figures/%s/%.*s.png)\n\n", i + 1, p->s->name,
                        (int)(strlen(stem) - 4), stem);
            if (!d->html) {
                fprintf(f, "*Figure %zu: ", i + 1);
                rep_md_text(f, title, true);
                fputs(x->png ? "*\n\n" : " (not drawn: gnuplot was not found)*\n\n", f);
            }
        }
    }
}

/* ---- A claim ----------------------------------------------------------------------- */

static void reproduce(FILE *f, const struct rep_part *p)
{
    const json_t *j = p->s->summary;
    const json_t *m = json_object_get(j, "machine"), *run;
    double wall = 0;
    size_t i;
    json_array_foreach(json_object_get(j, "runs"), i, run) wall +=
        json_number_value(json_object_get(run, "wall_s"));
    json_int_t seed = json_integer_value(json_object_get(j, "seed"));
    fprintf(f, "**Reproduce:** `./distlab run %s", shown_path(p->s->file));
    if (seed != (json_int_t)p->s->sc->points[0]->seed)
        fprintf(f, " --seed %lld", (long long)seed);
    if (strcmp(str(j, "world", "sim"), "sim"))
        fprintf(f, " --world %s", str(j, "world", "sim"));
    fprintf(f, "` writes results/%s/summary.json and plots/%s/. ", p->s->name, p->s->name);
    fprintf(f, "Here: seed %lld, %s world, distlab ", (long long)seed, str(j, "world", "?"));
    rep_md_text(f, str(j, "version", "?"), false);
    char wbuf[32];
    rep_format(wbuf, sizeof(wbuf), wall * 1e9, 2, true);
    fprintf(f, "; %zu run%s, %s of run time on ", json_array_size(json_object_get(j, "runs")),
            json_array_size(json_object_get(j, "runs")) == 1 ? "" : "s", wbuf);
    rep_md_text(f, str(m, "hostname", "?"), false);
    fprintf(f, " (%lld CPUs, Linux ", (long long)json_integer_value(json_object_get(m, "cpus")));
    rep_md_text(f, str(m, "kernel", "?"), false);
    fputs(", ", f);
    rep_md_text(f, str(m, "compiler", "?"), false);
    fputs(").\n\n", f);
}

/* The Markdown documents the runs wrote beside summary.json (lab_text: e.g. the
 * cluster's placement.md, the seed's table beside the run's), headings moved under the
 * scenario's. */
static void documents(FILE *f, const struct rep_scenario *s)
{
    char *pattern;
    if (asprintf(&pattern, "%s/*.md", s->dir) < 0)
        abort();
    glob_t g;
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *text = lab_read_file(g.gl_pathv[i], NULL);
            if (!text)
                continue;
            fputs("**What the run wrote:** ", f);
            md_code(f, strrchr(g.gl_pathv[i], '/') + 1);
            fputs("\n\n", f);
            for (char *line = text, *next; *line; line = next) {
                next = line + strcspn(line, "\n");
                if (*next)
                    next++;
                fprintf(f, "%s%.*s", *line == '#' ? "###" : "", (int)(next - line), line);
            }
            fputs("\n\n", f);
            free(text);
        }
        globfree(&g);
    }
    free(pattern);
}

static void part(FILE *f, const struct rep_doc *d, const struct rep_part *p,
                 struct rep_figure **fig, size_t *nfig)
{
    fputs("### Scenario ", f);
    md_code(f, p->ev->scenario);
    if (!p->s || !p->s->sc) {
        fputs("\n\nThis scenario is not written yet.\n\n", f);
        return;
    }
    const char *about = p->s->sc->about ? p->s->sc->about : "";
    size_t first = strcspn(about, "\n");
    fputs("\n\n", f);
    if (first) {
        char *line = lab_xmalloc(first + 1);
        memcpy(line, about, first);
        line[first] = 0;
        fputs("*", f);
        rep_md_text(f, line, true);
        fputs("*\n\n", f);
        free(line);
    }
    if (!p->s->summary) {
        fputs("Not run for this report.\n\n", f);
    } else {
        checks_table(f, d, p);
        figures(f, d, p, fig, nfig);
        documents(f, p->s);
    }
    const char *rest = about + first;
    while (*rest == '\n')
        rest++;
    if (*rest)
        fprintf(f, "%s\n\n", rest); /* the scenario's explanation, written as Markdown */
    if (p->s->summary)
        reproduce(f, p);
}

static void claim(FILE *f, const struct rep_doc *d, size_t i, struct rep_figure **fig, size_t *nfig)
{
    const struct rep_claim *c = &d->cl->c[i];
    const struct rep_outcome *o = &d->o[i];
    fprintf(f, "<a id=\"claim-%s\"></a>\n\n## %zu. ", c->id, i + 1);
    rep_md_text(f, c->title, true);
    fputs("\n\n*", f);
    rep_md_text(f, c->seed, true);
    fprintf(f, ".* %s\n\n", c->claim);
    if (d->html) {
        fputs("**Verdict:** ", f);
        badge(f, d, o->verdict);
    } else {
        fprintf(f, "**Verdict: %s %s.**", rep_verdict_mark(o->verdict),
                rep_verdict_label(o->verdict));
    }
    fprintf(f, " %s\n\n", o->reason);
    if (o->correction)
        fprintf(f, "%s\n\n", o->correction);
    if (o->note)
        fprintf(f, "%s\n\n", o->note);
    for (size_t k = 0; k < o->nparts; k++)
        part(f, d, &o->parts[k], fig, nfig);
    fputs("[Back to the claims](#claims)\n\n", f);
}

/* ---- Appendices -------------------------------------------------------------------- */

static void uncited(FILE *f, const struct rep_doc *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->b->n; i++)
        n += !d->b->s[i].wanted && d->b->s[i].file;
    if (!n)
        return;
    fputs("## Scenarios no claim cites\n\nThese scenarios measure more than the seed says; "
          "`./distlab run` runs them.\n\n",
          f);
    for (size_t i = 0; i < d->b->n; i++) {
        const struct rep_scenario *s = &d->b->s[i];
        if (s->wanted || !s->file)
            continue;
        struct lab_arena a = {0};
        struct lab_err err;
        const char *name, *about = "";
        lab_scenario_peek(&a, s->file, &name, &about, &err);
        fputs("- ", f);
        md_code(f, s->name);
        fputs(": ", f);
        char *line = lab_arena_strndup(&a, about, strcspn(about, "\n"));
        rep_md_text(f, line, false);
        fputs("\n", f);
        lab_arena_free(&a);
    }
    fputs("\n", f);
}

void rep_markdown(FILE *f, const struct rep_doc *d, struct rep_figure **fig, size_t *nfig)
{
    *fig = NULL;
    *nfig = 0;
    header(f, d);
    claims_table(f, d);
    for (size_t i = 0; i < d->cl->n; i++)
        claim(f, d, i, fig, nfig);
    uncited(f, d);
    rep_bench_appendix(f, d);
}

void rep_figures_free(struct rep_figure *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].svg);
        free(f[i].png);
    }
    free(f);
}

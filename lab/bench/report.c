/* report.c - what `distlab bench` shows: a table on the terminal, the same as Markdown
 * (a CI job summary), TAP lines for ./distlab test, and a comparison of two builds. The
 * JSON document for machines is rows.c's. */
#include "lab/bench/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/output.h"

static const char *const verdict_names[] = {"same",    "REGRESSION", "improvement",
                                            "DIFFERS", "MISSING",    "NEW"};

static bool of_item(const struct bench_row *r, const struct bench_item *it)
{
    return r->gate == it->gate && !strcmp(r->bench, it->name);
}

static size_t rows_of(const struct bench_doc *d, const struct bench_item *it)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += of_item(&d->rows[i], it);
    return n;
}

static const struct bench_row *finding_row(const struct bench_finding *f)
{
    return f->now ? f->now : f->base;
}

static size_t failing_of(const struct bench_findings *fs, const struct bench_item *it)
{
    size_t n = 0;
    for (size_t i = 0; fs && i < fs->n; i++)
        n += of_item(finding_row(&fs->f[i]), it) && bench_finding_fails(&fs->f[i]) ? fs->f[i].rows
                                                                                   : 0;
    return n;
}

static size_t failing(const struct bench_findings *fs)
{
    size_t n = 0;
    for (size_t i = 0; fs && i < fs->n; i++)
        n += bench_finding_fails(&fs->f[i]) ? fs->f[i].rows : 0;
    return n;
}

static void head_line(FILE *f, const struct bench_doc *d, bool md)
{
    json_t *m = json_object_get(d->head, "machine");
    json_t *l0 = json_object_get(d->head, "load_start"), *l1 = json_object_get(d->head, "load_end");
    fprintf(f, "%sversion %s, machine %s (%" JSON_INTEGER_FORMAT " cpus, %s)",
            md ? "" : "distlab bench: ", json_string_value(json_object_get(d->head, "version")),
            json_string_value(json_object_get(m, "hostname")),
            json_integer_value(json_object_get(m, "cpus")),
            json_string_value(json_object_get(m, "compiler")));
    if (l0 && l1)
        fprintf(f, ", load average %.2f at the start, %.2f at the end",
                json_number_value(json_array_get(l0, 0)), json_number_value(json_array_get(l1, 0)));
    fprintf(f, "%s\n", md ? "  " : "");
}

/* The figures of timed and counted rows, in columns. */
struct col {
    const char *name;
    int w;
};

static void row_cells(const struct bench_row *r, const struct bench_doc *base, char cell[9][160])
{
    char *p = lab_params_text(r->params, NULL);
    snprintf(cell[0], 160, "%s", r->bench);
    snprintf(cell[1], 160, "%s", r->workload);
    snprintf(cell[2], 160, "%s", p);
    snprintf(cell[3], 160, "%s", r->figure);
    bench_value_text(r, bench_row_median(r), cell[4], 160);
    snprintf(cell[5], 160, "%.4g .. %.4g", bench_row_min(r), bench_row_max(r));
    snprintf(cell[6], 160, "%zu", r->n);
    snprintf(cell[7], 160, "%s", r->peer ? r->peer : "");
    cell[8][0] = 0;
    const struct bench_row *b = base ? bench_doc_find(base, r->key) : NULL;
    if (b) {
        double bm = bench_row_median(b), m = bench_row_median(r);
        snprintf(cell[8], 160, "%.4g (%+.1f%%)", bm, bm ? 100 * (m / bm - 1) : 0.0);
    }
    free(p);
}

static void rows_table(FILE *f, const struct bench_doc *d, enum bench_gate gate,
                       const struct bench_doc *base, bool md)
{
    static const char *const names[9] = {"bench",  "workload", "parameters",
                                         "figure", "median",   "min .. max",
                                         "runs",   "peer",     "baseline"};
    int w[9];
    for (int c = 0; c < 9; c++)
        w[c] = (int)strlen(names[c]);
    char cell[9][160];
    for (size_t i = 0; i < d->n; i++) {
        if (d->rows[i].gate != gate)
            continue;
        row_cells(&d->rows[i], base, cell);
        for (int c = 0; c < 9; c++)
            w[c] = (int)strlen(cell[c]) > w[c] ? (int)strlen(cell[c]) : w[c];
    }
    for (int c = 0; c < 9; c++) {
        if (md)
            fprintf(f, "| %s ", names[c]);
        else
            fprintf(f, "  %-*s", w[c], names[c]);
    }
    fprintf(f, md ? "|\n" : "\n");
    if (md) {
        for (int c = 0; c < 9; c++)
            fprintf(f, c == 4 || c == 8 ? "| ---: " : "| --- ");
        fprintf(f, "|\n");
    }
    for (size_t i = 0; i < d->n; i++) {
        if (d->rows[i].gate != gate)
            continue;
        row_cells(&d->rows[i], base, cell);
        for (int c = 0; c < 9; c++) {
            if (md)
                fprintf(f, "| %s ", cell[c]);
            else
                fprintf(f, c == 4 ? "  %*s" : "  %-*s", w[c], cell[c]);
        }
        fprintf(f, md ? "|\n" : "\n");
    }
}

static void gate_title(FILE *f, enum bench_gate g, const struct bench_doc *d, bool md)
{
    static const char *const what[] = {
        "the CI set's simulated metrics, equal to the baseline's",
        "bench programs; in-run ratios are gated against the baseline's",
        "hot loops, instructions per operation"};
    const char *counter = json_string_value(json_object_get(d->head, "counter"));
    fprintf(f, md ? "\n### %s: %s%s%s\n\n" : "\n%s: %s%s%s\n", bench_gate_names[g], what[g],
            g == BENCH_COUNTED && counter ? "; counter: " : "",
            g == BENCH_COUNTED && counter ? counter : "");
}

static const char resave_text[] =
    "If the change is meant to move these figures, re-save the baseline in the same commit\n"
    "(its diff shows what moved), with this command in the source tree:";

/* The findings, a line each; on the terminal at most TERMINAL_MAX differences of one item
 * (a change of a scenario can move thousands of metrics: --tap and --markdown list all);
 * a run new to the baseline or missing from this one is always shown (one line each). */
#define TERMINAL_MAX 40

static bool same_item(const struct bench_finding *a, const struct bench_finding *b)
{
    const struct bench_row *x = finding_row(a), *y = finding_row(b);
    return x->gate == y->gate && !strcmp(x->bench, y->bench);
}

static void findings(FILE *f, const struct bench_findings *fs, bool md)
{
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const struct bench_finding *x = &fs->f[i];
        if (i && !same_item(x, &fs->f[i - 1]))
            shown = 0;
        bool whole = x->verdict == BENCH_NEW || x->verdict == BENCH_MISSING;
        if (md || whole || shown++ < TERMINAL_MAX)
            fprintf(f, md ? "- **%s** %s\n" : "  %-11s %s\n", verdict_names[x->verdict], x->text);
        else
            hidden++;
        if (hidden && (i + 1 == fs->n || !same_item(x, &fs->f[i + 1]))) {
            fprintf(f, "  ... and %zu more of %s/%s (every one: --tap FILE or --markdown FILE)\n",
                    hidden, bench_gate_names[finding_row(x)->gate], finding_row(x)->bench);
            hidden = 0;
        }
    }
}

static void report(FILE *f, const struct bench_doc *d, const struct bench_suite *s, const bool *ran,
                   const struct bench_doc *base, const struct bench_findings *fs, bool md)
{
    if (md)
        fprintf(f, "## distlab bench: %s\n\n",
                json_array_size(json_object_get(d->head, "failed")) ? "FAILED (not every item ran)"
                : !base                                             ? "measured (no baseline)"
                : failing(fs)                                       ? "FAILED"
                                                                    : "passed");
    head_line(f, d, md);
    for (int g = 0; g < BENCH_NGATES; g++) {
        bool any = false;
        for (size_t i = 0; i < s->nitems; i++)
            any |= ran[i] && s->items[i].gate == (enum bench_gate)g;
        if (!any)
            continue;
        gate_title(f, (enum bench_gate)g, d, md);
        if (g != BENCH_EXACT) {
            rows_table(f, d, (enum bench_gate)g, base, md);
            continue;
        }
        if (md)
            fprintf(f, "| scenario | metrics | against the baseline |\n| --- | ---: | --- |\n");
        for (size_t i = 0; i < s->nitems; i++) {
            if (!ran[i] || s->items[i].gate != BENCH_EXACT)
                continue;
            size_t bad = failing_of(fs, &s->items[i]);
            char verdict[64];
            snprintf(verdict, sizeof(verdict),
                     !base ? "(no baseline)"
                     : bad ? "%zu differ"
                           : "all equal",
                     bad);
            fprintf(f, md ? "| %s | %zu | %s |\n" : "  %-32s %6zu metrics  %s\n", s->items[i].name,
                    rows_of(d, &s->items[i]), verdict);
        }
    }
    for (int k = 0; k < 2; k++) {
        json_t *list = json_object_get(d->head, k ? "skipped" : "failed"), *x;
        size_t i;
        if (json_array_size(list))
            fprintf(f, md ? "\n### %s\n\n" : "\n%s:\n",
                    k ? "Skipped (not built here)" : "Could not run (the gate is incomplete)");
        json_array_foreach(list, i, x)
        {
            fprintf(f, md ? "- %s\n" : "  %s\n", json_string_value(json_object_get(x, "error")));
        }
    }
    if (fs && fs->n) {
        fprintf(f, md ? "\n### Findings\n\n" : "\nfindings:\n");
        findings(f, fs, md);
    }
    if (base)
        fprintf(f,
                md ? "\n**%zu failing** of %zu exact, %zu timed and %zu counted rows "
                     "compared.\n"
                   : "\n%zu failing; compared %zu exact, %zu timed and %zu counted rows\n",
                failing(fs), fs->compared[BENCH_EXACT], fs->compared[BENCH_TIMED],
                fs->compared[BENCH_COUNTED]);
    if (fs && fs->resave)
        fprintf(f, md ? "\n%s\n\n    %s\n" : "\n%s\n    %s\n", resave_text, fs->resave);
}

void bench_report_table(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                        const bool *ran, const struct bench_doc *base,
                        const struct bench_findings *fs)
{
    report(f, d, s, ran, base, fs, false);
}

void bench_report_markdown(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                           const bool *ran, const struct bench_doc *base,
                           const struct bench_findings *fs)
{
    report(f, d, s, ran, base, fs, true);
}

void bench_report_tap(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                      const bool *ran, const struct bench_findings *fs, bool have_base)
{
    json_t *failed = json_object_get(d->head, "failed"),
           *skipped = json_object_get(d->head, "skipped");
    size_t n = json_array_size(failed) + json_array_size(skipped);
    for (size_t i = 0; i < s->nitems; i++)
        n += ran[i];
    fprintf(f, "TAP version 13\n1..%zu\n", n);
    size_t k = 0, j;
    json_t *x;
    json_array_foreach(failed, j, x)
    {
        fprintf(f, "not ok %zu - %s could not run: %s\n", ++k,
                json_string_value(json_object_get(x, "item")),
                json_string_value(json_object_get(x, "error")));
    }
    json_array_foreach(skipped, j, x)
    {
        fprintf(f, "ok %zu - %s # SKIP %s\n", ++k, json_string_value(json_object_get(x, "item")),
                json_string_value(json_object_get(x, "error")));
    }
    for (size_t i = 0; i < s->nitems; i++) {
        if (!ran[i])
            continue;
        const struct bench_item *it = &s->items[i];
        size_t bad = failing_of(fs, it), rows = rows_of(d, it);
        if (!have_base)
            fprintf(f, "ok %zu - %s: %zu rows measured\n", ++k, it->id, rows);
        else if (!bad)
            fprintf(f, "ok %zu - %s: %zu rows, none failing against the baseline\n", ++k, it->id,
                    rows);
        else
            fprintf(f, "not ok %zu - %s: rows failing: %zu (%zu measured)\n", ++k, it->id, bad,
                    rows);
        for (size_t q = 0; fs && q < fs->n; q++)
            if (of_item(finding_row(&fs->f[q]), it))
                fprintf(f, "# %s %s\n", verdict_names[fs->f[q].verdict], fs->f[q].text);
    }
    if (fs && fs->resave) {
        fprintf(f, "# ");
        for (const char *c = resave_text; *c; c++)
            fprintf(f, *c == '\n' ? "\n# " : "%c", *c);
        fprintf(f, "\n#     %s\n", fs->resave);
    }
}

void bench_report_compare(FILE *f, const struct bench_comparison *c, const char *label_a,
                          const char *label_b, const struct bench_compare_opts *o, bool md)
{
    size_t reg = 0, imp = 0;
    for (size_t i = 0; i < c->n; i++) {
        reg += c->rows[i].verdict == BENCH_REGRESSION;
        imp += c->rows[i].verdict == BENCH_IMPROVEMENT;
    }
    fprintf(f,
            md ? "## distlab bench --compare: %zu regressions, %zu improvements\n\n"
               : "compare: %zu regressions, %zu improvements\n",
            reg, imp);
    fprintf(f,
            "A = %s, B = %s; %d pairs run A B A B; Mann-Whitney U (two-sided), Holm over "
            "%zu figures at alpha %g; a verdict needs the median ratio B/A past 1 %s %g%s\n",
            label_a, label_b, o->pairs, c->family, o->alpha, md ? "&plusmn;" : "+-", o->threshold,
            md ? "  " : "");
    if (c->family && c->min_p * (double)c->family >= o->alpha)
        fprintf(f,
                "%swith these samples the smallest p is %.2g: no figure of %zu can pass "
                "Holm at %g; use more --pairs or a narrower --filter%s\n",
                md ? "**note:** " : "note: ", c->min_p, c->family, o->alpha, md ? "  " : "");
    fprintf(f,
            md ? "\n| row | figure | A median | B median | B/A | %g%% CI | p | p (Holm) | "
                 "verdict |\n| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |\n"
               : "\n",
            100 * o->conf);
    for (size_t i = 0; i < c->n; i++) {
        const struct bench_cmp_row *r = &c->rows[i];
        char *label = bench_row_label(r->b), a[64], b[64], ci[64] = "", padj[32] = "";
        bench_value_text(r->a, bench_row_median(r->a), a, sizeof(a));
        bench_value_text(r->b, bench_row_median(r->b), b, sizeof(b));
        if (isfinite(r->t.lo))
            snprintf(ci, sizeof(ci), "[%.3f, %.3f]", r->t.lo, r->t.hi);
        if (isfinite(r->p_adj))
            snprintf(padj, sizeof(padj), "%.2g", r->p_adj);
        fprintf(f,
                md ? "| %s | %s | %s | %s | %.3f | %s | %.2g | %s | %s |\n"
                   : "  %s  %s: A %s, B %s, B/A %.3f %s, p %.2g, Holm %s: %s\n",
                label, r->b->figure, a, b, r->t.ratio, ci, r->t.p, *padj ? padj : "-",
                r->b->better == BENCH_BETTER_NONE ? "(no direction)" : verdict_names[r->verdict]);
        free(label);
    }
}

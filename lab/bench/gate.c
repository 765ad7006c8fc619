/* gate.c - a run's rows against a baseline's: the exact gate (every simulated metric
 * equal, or the difference named with both values), the timed gate (in-run ratios within
 * a tolerance of the baseline's), the counted gate (instructions per operation within a
 * small tolerance). */
#include "lab/bench/bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/output.h"

char *bench_row_label(const struct bench_row *r)
{
    char *p = lab_params_text(r->params, NULL);
    bool same = !strcmp(r->bench, r->workload);
    char *s = bench_strf("%s/%s%s%s%s%s", bench_gate_names[r->gate], r->bench, same ? "" : " ",
                         same ? "" : r->workload, *p ? " " : "", p);
    free(p);
    return s;
}

/* A value as people read it: %.6g, or the text of an exact row. */
void bench_value_text(const struct bench_row *r, double v, char *buf, size_t len)
{
    if (r->text)
        snprintf(buf, len, "%s", r->text);
    else
        snprintf(buf, len, "%.6g%s%s", v, *r->unit && strcmp(r->unit, "x") ? " " : "", r->unit);
}

static void add(struct bench_findings *out, enum bench_verdict v, const struct bench_row *now,
                const struct bench_row *base, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void add(struct bench_findings *out, enum bench_verdict v, const struct bench_row *now,
                const struct bench_row *base, const char *fmt, ...)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 16;
        out->f = lab_xrealloc(out->f, out->cap * sizeof(*out->f));
    }
    va_list ap;
    va_start(ap, fmt);
    char *body = lab_xvprintf(fmt, ap);
    va_end(ap);
    char *label = bench_row_label(now ? now : base);
    size_t len = strlen(label) + strlen(body) + 4;
    char *text = lab_xmalloc(len);
    snprintf(text, len, "%s: %s", label, body);
    free(label);
    free(body);
    out->f[out->n++] = (struct bench_finding){v, now, base, text, 1};
}

bool bench_finding_fails(const struct bench_finding *f)
{
    return f->verdict == BENCH_REGRESSION || f->verdict == BENCH_DIFFERS ||
           (f->base ? f->base : f->now)->gate == BENCH_EXACT;
}

static bool item_ran(const struct bench_suite *s, const bool *ran, const struct bench_row *r)
{
    for (size_t i = 0; i < s->nitems; i++)
        if (ran[i] && s->items[i].gate == r->gate && !strcmp(s->items[i].name, r->bench))
            return true;
    return false;
}

static int cmp_row_key(const void *a, const void *b)
{
    return strcmp((*(const struct bench_row *const *)a)->key,
                  (*(const struct bench_row *const *)b)->key);
}

/* The rows of d sorted by key, for bsearch. */
static const struct bench_row **index_rows(const struct bench_doc *d)
{
    const struct bench_row **ix = lab_xmalloc((d->n + 1) * sizeof(*ix));
    for (size_t i = 0; i < d->n; i++)
        ix[i] = &d->rows[i];
    qsort(ix, d->n, sizeof(*ix), cmp_row_key);
    return ix;
}

static const struct bench_row *lookup(const struct bench_row **ix, size_t n,
                                      const struct bench_row *r)
{
    const struct bench_row *const *hit = bsearch(&r, ix, n, sizeof(*ix), cmp_row_key);
    return hit ? *hit : NULL;
}

static void exact_one(const struct bench_row *now, const struct bench_row *base,
                      struct bench_findings *out)
{
    char a[64], b[64];
    /* as many digits as it takes to show two different numbers as different */
    for (int digits = 6; digits <= 17; digits++) {
        if (base->text || now->text || !base->n || !now->n) {
            snprintf(a, sizeof(a), "%s", base->text ? base->text : "(none)");
            snprintf(b, sizeof(b), "%s", now->text ? now->text : "(a number)");
            if (!base->text && base->n)
                snprintf(a, sizeof(a), "%.17g", base->v[0]);
            if (!now->text && now->n)
                snprintf(b, sizeof(b), "%.17g", now->v[0]);
            break;
        }
        snprintf(a, sizeof(a), "%.*g", digits, base->v[0]);
        snprintf(b, sizeof(b), "%.*g", digits, now->v[0]);
        if (strcmp(a, b) || base->v[0] == now->v[0])
            break;
    }
    bool same = now->text || base->text ? now->text && base->text && !strcmp(now->text, base->text)
                                        : now->v[0] == base->v[0];
    if (!same)
        add(out, BENCH_DIFFERS, now, base, "%s was %s, now %s%s%s", now->figure, a, b,
            *now->unit ? " " : "", now->unit);
}

/* A timed ratio or a counted figure against the baseline's median, 'tol' each way. */
static void tolerant_one(const struct bench_row *now, const struct bench_row *base, double tol,
                         struct bench_findings *out)
{
    double m = bench_row_median(now), bm = bench_row_median(base);
    if (!(bm > 0) || !isfinite(m) || now->better == BENCH_BETTER_NONE)
        return;
    double change = m / bm - 1;
    bool worse = now->better == BENCH_BETTER_LOWER ? change > tol : change < -tol;
    bool better = now->better == BENCH_BETTER_LOWER ? change < -tol : change > tol;
    if (!worse && !better)
        return;
    char a[64], b[64];
    bench_value_text(now, m, b, sizeof(b));
    bench_value_text(base, bm, a, sizeof(a));
    add(out, worse ? BENCH_REGRESSION : BENCH_IMPROVEMENT, now, base,
        "%s %s (median of %zu), baseline %s: %+.1f%% (%s is better; tolerance %.0f%%)", now->figure,
        b, now->n, a, 100 * change, now->better == BENCH_BETTER_LOWER ? "lower" : "higher",
        100 * tol);
}

/* An exact row's run: its key without the figure ("exact bench workload {params} "). */
static size_t run_len(const struct bench_row *r)
{
    return strlen(r->key) - strlen(r->figure);
}

/* The rows of ix (sorted by key) whose key starts with the first plen bytes of 'prefix':
 * how many, and the first one's index through *first. */
static size_t run_rows(const struct bench_row **ix, size_t n, const char *prefix, size_t plen,
                       size_t *first)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the first key not below the prefix */
        size_t mid = lo + (hi - lo) / 2;
        if (strncmp(ix[mid]->key, prefix, plen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = lo;
    while (k < n && !strncmp(ix[k]->key, prefix, plen))
        k++;
    if (first)
        *first = lo;
    return k - lo;
}

/* An exact run that only one side has (a scenario new to the suite, a value added to or
 * taken from a sweep) is one finding with its number of metrics, not one per metric.
 * Returns true when r's whole run is missing from 'other' (and reports it the first time
 * one of its rows is seen: rows of a run are next to each other in its document). */
static bool whole_run(const struct bench_row *r, const struct bench_row **mine, size_t nmine,
                      const struct bench_row **other, size_t nother, bool is_now,
                      const struct bench_row **last, struct bench_findings *out)
{
    size_t plen = run_len(r);
    if (run_rows(other, nother, r->key, plen, NULL))
        return false;
    if (*last && run_len(*last) == plen && !strncmp((*last)->key, r->key, plen))
        return true;
    *last = r;
    size_t n = run_rows(mine, nmine, r->key, plen, NULL);
    add(out, is_now ? BENCH_NEW : BENCH_MISSING, is_now ? r : NULL, is_now ? NULL : r,
        is_now ? "a run not in the baseline (%zu metrics)"
               : "a run in the baseline that did not run now (%zu metrics)",
        n);
    out->f[out->n - 1].rows = n;
    return true;
}

void bench_gate(const struct bench_doc *now, const struct bench_doc *base,
                const struct bench_suite *s, const bool *ran, const struct bench_gate_opts *o,
                struct bench_findings *out)
{
    memset(out, 0, sizeof(*out));
    const struct bench_row **bix = index_rows(base), **nix = index_rows(now);
    const struct bench_row *last = NULL;
    for (size_t i = 0; i < now->n; i++) {
        const struct bench_row *r = &now->rows[i];
        const struct bench_row *b = lookup(bix, base->n, r);
        if (!b) {
            if (r->gate == BENCH_EXACT &&
                !whole_run(r, nix, now->n, bix, base->n, true, &last, out))
                add(out, BENCH_NEW, r, NULL, "%s is new (not in the baseline)", r->figure);
            continue;
        }
        if (r->gate == BENCH_EXACT) {
            exact_one(r, b, out);
        } else if (r->gate == BENCH_TIMED && r->ratio) {
            tolerant_one(r, b, o->tolerance, out);
        } else if (r->gate == BENCH_COUNTED) {
            tolerant_one(r, b, o->counted_tolerance, out);
        } else {
            continue;
        }
        out->compared[r->gate]++;
    }
    last = NULL;
    for (size_t i = 0; i < base->n; i++) {
        const struct bench_row *b = &base->rows[i];
        if (!item_ran(s, ran, b) || lookup(nix, now->n, b) || (b->gate == BENCH_TIMED && !b->ratio))
            continue;
        if (b->gate != BENCH_EXACT || !whole_run(b, bix, base->n, nix, now->n, false, &last, out))
            add(out, BENCH_MISSING, NULL, b, "%s is in the baseline but was not measured",
                b->figure);
    }
    free(bix);
    free(nix);
}

void bench_findings_free(struct bench_findings *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->f[i].text);
    free(f->f);
    free(f->resave);
    memset(f, 0, sizeof(*f));
}

void bench_resave_hint(struct bench_findings *fs, const char *baseline, const char *root)
{
    bool gates[BENCH_NGATES] = {false};
    for (size_t i = 0; i < fs->n; i++) {
        const struct bench_row *r = fs->f[i].now ? fs->f[i].now : fs->f[i].base;
        gates[r->gate] |= r->gate != BENCH_TIMED && bench_finding_fails(&fs->f[i]);
    }
    if (!gates[BENCH_EXACT] && !gates[BENCH_COUNTED])
        return;
    char *file = realpath(baseline, NULL), *top = realpath(root, NULL);
    const char *shown = baseline;
    size_t n = top ? strlen(top) : 0;
    if (file && top && !strncmp(file, top, n) && file[n] == '/')
        shown = file + n + 1;
    fs->resave =
        bench_strf("./distlab bench%s%s --save %s", gates[BENCH_EXACT] ? " --gate exact" : "",
                   gates[BENCH_COUNTED] ? " --gate counted" : "", shown);
    free(file);
    free(top);
}

/* verdict.c - one claim against the results: which checks decide it, how many held,
 * the verdict its rule gives, and its texts with the measured numbers filled in. */
#include "lab/report/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/output.h"

/* ---- Numbers ----------------------------------------------------------------------- */

/* A whole number with its thousands grouped: 1,234,567. */
static void group(char *buf, size_t len, double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", fabs(v));
    size_t n = strlen(digits), o = 0;
    if (v < 0 && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0 && n > 4)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
}

void rep_format(char *buf, size_t len, double v, int digits, bool ns)
{
    static const struct {
        double div;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}, {1, "ns"}};
    const char *unit = "";
    if (!isfinite(v)) {
        snprintf(buf, len, "%s", isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (ns && v != 0) {
        size_t k = 0;
        while (k < 3 && fabs(v) < units[k].div)
            k++;
        v /= units[k].div;
        unit = units[k].unit;
    }
    const char *sep = *unit ? " " : "";
    if ((v == floor(v) && fabs(v) < 1e15) || (fabs(v) >= pow(10, digits) && fabs(v) < 1e15))
        group(buf, len, round(v));
    else
        snprintf(buf, len, "%.*g", digits, v);
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", sep, unit);
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    return s;
}

/* Does a sweep value as the claims file writes it equal a run's parameter? */
static bool same_value(const struct lab_node *w, const json_t *p)
{
    if (w->kind == LAB_NODE_SEQ) {
        if (!json_is_array(p) || json_array_size(p) != w->n)
            return false;
        for (size_t i = 0; i < w->n; i++)
            if (!same_value(w->items[i], json_array_get(p, i)))
                return false;
        return true;
    }
    if (w->kind != LAB_NODE_SCALAR)
        return false;
    if (json_is_number(p)) {
        char *end;
        double x = strtod(w->text, &end);
        return *w->text && !*end && x == json_number_value(p);
    }
    if (json_is_boolean(p))
        return !strcmp(w->text, json_is_true(p) ? "true" : "false");
    return json_is_string(p) && !strcmp(w->text, json_string_value(p));
}

static bool run_matches(const json_t *run, const struct lab_node *where)
{
    json_t *params = json_object_get(run, "params");
    for (size_t i = 0; where && i < where->n; i++) {
        json_t *p = json_object_get(params, where->keys[i]->text);
        if (!p || !same_value(where->items[i], p))
            return false;
    }
    return true;
}

/* The value of "name", "name[i]" or "name.stat" in a run's metrics; NAN if absent. */
static double metric_value(const json_t *run, const char *expr)
{
    json_t *metrics = json_object_get(run, "metrics");
    size_t len = strcspn(expr, "[.");
    char name[128];
    if (len >= sizeof(name))
        return NAN;
    memcpy(name, expr, len);
    name[len] = 0;
    json_t *m = json_object_get(metrics, name);
    const char *rest = expr + len;
    if (!*rest)
        return json_is_number(m) ? json_number_value(m) : NAN;
    if (*rest == '[') {
        char *end;
        long i = strtol(rest + 1, &end, 10);
        return json_is_array(m) && *end == ']' && i >= 0 &&
                       json_is_number(json_array_get(m, (size_t)i))
                   ? json_number_value(json_array_get(m, (size_t)i))
                   : NAN;
    }
    const char *stat = rest + 1;
    if (json_is_object(m)) {
        json_t *v = json_object_get(m, stat);
        return json_is_number(v) ? json_number_value(v) : NAN;
    }
    if (!json_is_array(m) || !json_array_size(m))
        return NAN;
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    size_t i;
    json_t *x;
    json_array_foreach(m, i, x)
    {
        double v = json_number_value(x);
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    size_t n = json_array_size(m);
    return !strcmp(stat, "sum")     ? sum
           : !strcmp(stat, "mean")  ? sum / (double)n
           : !strcmp(stat, "count") ? (double)n
           : !strcmp(stat, "min")   ? lo
           : !strcmp(stat, "max")   ? hi
                                    : NAN;
}

/* A claim's number as text (malloc'd): the mean over the repeats of the one sweep point
 * its where: names. What keeps it from being one is also said in *why (malloc'd). */
static char *number_text(const struct rep_number *num, const struct rep_book *b, char **why)
{
    const struct rep_scenario *s = rep_book_find(b, num->scenario);
    if (!s || !s->summary)
        return lab_xstrdup("(not measured)");
    json_t *run, *first = NULL;
    size_t i, n = 0;
    double sum = 0;
    json_array_foreach(json_object_get(s->summary, "runs"), i, run)
    {
        if (!run_matches(run, num->where))
            continue;
        json_t *p = json_deep_copy(json_object_get(run, "params"));
        json_object_del(p, "repeat");
        bool same = !first || json_equal(first, p);
        if (!first)
            first = p;
        else
            json_decref(p);
        if (!same) {
            json_decref(first);
            *why = lab_xstrdup("its where: names more than one sweep point");
            return lab_xstrdup("(not one sweep point)");
        }
        sum += metric_value(run, num->metric);
        n++;
    }
    json_decref(first);
    if (!n) {
        *why = xprintf("no run of %s has its where:", num->scenario);
        return lab_xstrdup("(no such run)");
    }
    if (isnan(sum)) {
        *why = xprintf("the runs of %s have no metric %s", num->scenario, num->metric);
        return xprintf("(no metric %s)", num->metric);
    }
    char buf[64];
    rep_format(buf, sizeof(buf), sum / (double)n * num->scale, num->digits, false);
    char *out;
    if (asprintf(&out, "%s%s", buf, num->unit) < 0)
        abort();
    return out;
}

/* text with each {name} replaced by its number (malloc'd); a number that cannot be
 * given is a line of o->problems. */
static char *fill(const char *text, const struct rep_claim *c, const struct rep_book *b,
                  struct rep_outcome *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    for (const char *p = text; *p;) {
        const char *open = strchr(p, '{');
        if (!open) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(open - p), f);
        const char *close = strchr(open, '}'); /* claims.c made sure there is one */
        size_t nlen = (size_t)(close - open - 1);
        for (size_t i = 0; i < c->nnum; i++)
            if (strlen(c->num[i].name) == nlen && !strncmp(c->num[i].name, open + 1, nlen)) {
                char *why = NULL, *t = number_text(&c->num[i], b, &why);
                fputs(t, f);
                if (why) {
                    char *line = xprintf("%sclaim %s: {%s}: %s\n", o->problems ? o->problems : "",
                                         c->id, c->num[i].name, why);
                    free(o->problems);
                    o->problems = line;
                }
                free(why);
                free(t);
            }
        p = close + 1;
    }
    fclose(f);
    return buf;
}

/* ---- Checks ------------------------------------------------------------------------ */

/* The rows of one evidence: each selected expectation with its checks in the runs. */
static void gather(struct lab_arena *a, struct rep_part *p)
{
    const struct lab_scenario *sc = p->s->sc;
    json_t *runs = json_object_get(p->s->summary, "runs"), *run, *e;
    p->rows = calloc(sc->nexpects ? sc->nexpects : 1, sizeof(*p->rows));
    if (!p->rows)
        abort();
    size_t nruns = json_array_size(runs);
    for (size_t k = 0; k < sc->nexpects; k++) {
        if (!rep_selects(a, p->ev, &sc->expects[k]))
            continue;
        struct rep_row *r = &p->rows[p->nrows++];
        r->x = &sc->expects[k];
        r->index = k;
        r->checks = calloc(nruns ? nruns : 1, sizeof(*r->checks));
        r->runs = calloc(nruns ? nruns : 1, sizeof(*r->runs));
        if (!r->checks || !r->runs)
            abort();
        size_t i, j;
        json_array_foreach(runs, i, run)
        {
            json_array_foreach(json_object_get(run, "expect"), j, e)
            {
                if (json_integer_value(json_object_get(e, "index")) != (json_int_t)k)
                    continue;
                r->checks[r->nruns] = e;
                r->runs[r->nruns++] = run;
                r->nok += json_is_true(json_object_get(e, "ok"));
            }
        }
    }
}

static void set_reason(struct rep_outcome *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct rep_outcome *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(o->reason);
    o->reason = lab_xvprintf(fmt, ap);
    va_end(ap);
}

void rep_decide(const struct rep_claim *c, const struct rep_book *b, struct rep_outcome *o)
{
    struct lab_arena a = {0};
    memset(o, 0, sizeof(*o));
    o->nparts = c->nev;
    o->parts = calloc(c->nev ? c->nev : 1, sizeof(*o->parts));
    if (!o->parts)
        abort();
    const char *missing = NULL, *not_run = NULL;
    for (size_t k = 0; k < c->nev; k++) {
        struct rep_part *p = &o->parts[k];
        p->ev = &c->ev[k];
        p->s = rep_book_find(b, c->ev[k].scenario);
        if (!p->s || !p->s->sc)
            missing = missing ? missing : c->ev[k].scenario;
        else if (!p->s->summary)
            not_run = not_run ? not_run : c->ev[k].scenario;
        else
            gather(&a, p);
        for (size_t r = 0; r < p->nrows; r++) {
            o->nchecks += p->rows[r].nruns;
            o->nfailed += p->rows[r].nruns - p->rows[r].nok;
        }
    }
    o->verdict = REP_UNMEASURED;
    if (!c->nev)
        set_reason(o, "No scenario measures this claim yet.");
    else if (missing)
        set_reason(o, "Its scenario %s does not exist yet.", missing);
    else if (not_run)
        set_reason(o, "Its scenario %s was not run for this report.", not_run);
    else if (!o->nchecks)
        set_reason(o, "None of its checks applies to the runs of this report.");
    else if (o->nfailed) {
        o->verdict = c->fail;
        set_reason(o, "%zu of the %zu checks that decide it failed.", o->nfailed, o->nchecks);
    } else {
        o->verdict = c->pass;
        set_reason(o, "%s %zu check%s that decide%s it held.",
                   o->nchecks == 1   ? "The"
                   : o->nchecks == 2 ? "Both"
                                     : "All",
                   o->nchecks, o->nchecks == 1 ? "" : "s", o->nchecks == 1 ? "s" : "");
    }
    if (c->correction && o->verdict == REP_CORRECTED)
        o->correction = fill(c->correction, c, b, o);
    if (c->note)
        o->note = fill(c->note, c, b, o);
    lab_arena_free(&a);
}

void rep_outcome_free(struct rep_outcome *o)
{
    for (size_t k = 0; k < o->nparts; k++) {
        for (size_t r = 0; r < o->parts[k].nrows; r++) {
            free(o->parts[k].rows[r].checks);
            free(o->parts[k].rows[r].runs);
        }
        free(o->parts[k].rows);
    }
    free(o->parts);
    free(o->reason);
    free(o->correction);
    free(o->note);
    free(o->problems);
    memset(o, 0, sizeof(*o));
}

char *rep_run_label(const struct lab_scenario *sc, const json_t *run)
{
    return lab_params_text(json_object_get(run, "params"), sc->repeat <= 1 ? "repeat" : NULL);
}

/* expect.c - the scenario's expectations, checked against what each run recorded.
 * A metric the run did not record is a failed expectation with a message, never a
 * crash: the report must say what is missing. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/hist.h"
#include "lab/run.h"

static char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msg(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return lab_xstrdup(buf);
}

static const char *kind_name(enum lab_metric_kind k)
{
    static const char *const names[] = {"a scalar", "an array", "a matrix", "a histogram",
                                        "a series"};
    return names[k];
}

int lab_expr_eval(const struct lab_run *run, const struct lab_expr *e, double *v, char **why)
{
    const struct lab_metric *m = lab_run_metric(run, e->metric);
    *why = NULL;
    if (!m) {
        *why = msg("metric '%s' was not recorded by this run", e->metric);
        return -ENOENT;
    }
    if (!e->indexed && !e->stat) {
        if (m->kind != LAB_M_SCALAR)
            goto mismatch;
        *v = m->scalar;
        return 0;
    }
    if (e->indexed) {
        if (m->kind != LAB_M_ARRAY)
            goto mismatch;
        if (e->index >= m->n) {
            *why = msg("'%s' has %zu elements; there is no [%zu]", e->metric, m->n, e->index);
            return -EINVAL;
        }
        *v = m->v[e->index];
        return 0;
    }
    const char *s = e->stat;
    if (m->kind == LAB_M_ARRAY || m->kind == LAB_M_MATRIX) {
        if (!strcmp(s, "count")) {
            *v = (double)m->n;
            return 0;
        }
        if (m->n == 0) {
            *why = msg("'%s' is empty", e->metric);
            return -EINVAL;
        }
        double mx = m->v[0], mn = m->v[0], sum = 0;
        for (size_t i = 0; i < m->n; i++) {
            mx = m->v[i] > mx ? m->v[i] : mx;
            mn = m->v[i] < mn ? m->v[i] : mn;
            sum += m->v[i];
        }
        if (!strcmp(s, "max"))
            *v = mx;
        else if (!strcmp(s, "min"))
            *v = mn;
        else if (!strcmp(s, "sum"))
            *v = sum;
        else if (!strcmp(s, "mean"))
            *v = sum / (double)m->n;
        else
            goto mismatch;
        return 0;
    }
    if (m->kind == LAB_M_HIST) {
        const struct hist *h = m->hist;
        if (!strcmp(s, "count")) {
            *v = (double)hist_count(h);
            return 0;
        }
        if (hist_count(h) == 0) {
            *why = msg("histogram '%s' is empty", e->metric);
            return -EINVAL;
        }
        if (!strcmp(s, "mean"))
            *v = hist_mean(h);
        else if (!strcmp(s, "min"))
            *v = (double)hist_min(h);
        else if (!strcmp(s, "max"))
            *v = (double)hist_max(h);
        else if (!strcmp(s, "p50"))
            *v = (double)hist_quantile(h, 0.50);
        else if (!strcmp(s, "p90"))
            *v = (double)hist_quantile(h, 0.90);
        else if (!strcmp(s, "p99"))
            *v = (double)hist_quantile(h, 0.99);
        else if (!strcmp(s, "p999"))
            *v = (double)hist_quantile(h, 0.999);
        else
            goto mismatch;
        return 0;
    }
mismatch:
    *why = msg("'%s' is %s, which '%s' does not apply to", e->metric, kind_name(m->kind),
               e->text);
    return -EINVAL;
}

static bool compare(const struct lab_expect *x, double a, double e)
{
    if (isnan(a) || isnan(e))
        return false;
    switch (x->op) {
    case LAB_OP_LT: return a < e;
    case LAB_OP_LE: return a <= e;
    case LAB_OP_GT: return a > e;
    case LAB_OP_GE: return a >= e;
    case LAB_OP_EQ: return a == e;
    case LAB_OP_NE: return a != e;
    case LAB_OP_APPROX: {
        double tol = x->tol_pct ? fabs(e) * x->tol / 100.0 : x->tol;
        return fabs(a - e) <= tol;
    }
    }
    return false;
}

void lab_run_check(struct lab_run *run)
{
    const struct lab_scenario *sc = run->sc;
    for (size_t i = 0; i < sc->nexpects; i++) {
        const struct lab_expect *x = &sc->expects[i];
        if (!lab_where_match(sc, run->spec, x->where, x->nwhere))
            continue;
        run->checks = lab_xrealloc(run->checks, (run->nchecks + 1) * sizeof(*run->checks));
        struct lab_check *c = &run->checks[run->nchecks++];
        memset(c, 0, sizeof(*c));
        c->x = x;
        char *why = NULL;
        if (lab_expr_eval(run, &x->lhs, &c->actual, &why) == 0)
            c->have_actual = true;
        else
            c->message = why;
        if (x->rhs_is_expr) {
            if (lab_expr_eval(run, &x->rhs, &c->expected, &why) == 0)
                c->have_expected = true;
            else if (!c->message)
                c->message = why;
            else
                free(why);
        } else {
            c->expected = x->value;
            c->have_expected = true;
        }
        c->ok = c->have_actual && c->have_expected && compare(x, c->actual, c->expected);
        if (!c->ok && !c->message && c->have_actual && c->have_expected &&
            (isnan(c->actual) || isnan(c->expected)))
            c->message = msg("a value is not a number");
    }
}

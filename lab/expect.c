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

const char *const lab_stat_names[] = {LAB_STAT_NAMES, NULL};

/* The quantile a histogram statistic reports, by enum lab_stat (0: not a quantile). */
static const double stat_quantile[] = {[LAB_STAT_P50] = 0.50, [LAB_STAT_P90] = 0.90,
                                       [LAB_STAT_P99] = 0.99, [LAB_STAT_P999] = 0.999};

/* max, min, sum, mean (count is the caller's) of an array or matrix: -EINVAL if empty. */
static int array_stat(const struct lab_metric *m, const struct lab_expr *e, double *v,
                      char **why)
{
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
    switch (e->stat) {
    case LAB_STAT_MAX: *v = mx; return 0;
    case LAB_STAT_MIN: *v = mn; return 0;
    case LAB_STAT_SUM: *v = sum; return 0;
    case LAB_STAT_MEAN: *v = sum / (double)m->n; return 0;
    default: return -ENOTSUP;
    }
}

/* mean, min, max and the quantiles of a histogram: -EINVAL if empty. */
static int hist_stat(const struct lab_metric *m, const struct lab_expr *e, double *v,
                     char **why)
{
    const struct hist *h = m->hist;
    if (hist_count(h) == 0) {
        *why = msg("histogram '%s' is empty", e->metric);
        return -EINVAL;
    }
    switch (e->stat) {
    case LAB_STAT_MEAN: *v = hist_mean(h); return 0;
    case LAB_STAT_MIN: *v = (double)hist_min(h); return 0;
    case LAB_STAT_MAX: *v = (double)hist_max(h); return 0;
    case LAB_STAT_P50:
    case LAB_STAT_P90:
    case LAB_STAT_P99:
    case LAB_STAT_P999: *v = (double)hist_quantile(h, stat_quantile[e->stat]); return 0;
    default: return -ENOTSUP;
    }
}

int lab_expr_eval(const struct lab_run *run, const struct lab_expr *e, double *v, char **why)
{
    const struct lab_metric *m = lab_run_metric(run, e->metric);
    *why = NULL;
    if (!m) {
        *why = msg("metric '%s' was not recorded by this run", e->metric);
        return -ENOENT;
    }
    int rc = -ENOTSUP;
    if (!e->indexed && e->stat == LAB_STAT_NONE) {
        if (m->kind == LAB_M_SCALAR) {
            *v = m->scalar;
            rc = 0;
        }
    } else if (e->indexed) {
        if (m->kind == LAB_M_ARRAY && e->index >= m->n) {
            *why = msg("'%s' has %zu elements; there is no [%zu]", e->metric, m->n, e->index);
            return -EINVAL;
        }
        if (m->kind == LAB_M_ARRAY) {
            *v = m->v[e->index];
            rc = 0;
        }
    } else if (m->kind == LAB_M_ARRAY || m->kind == LAB_M_MATRIX) {
        *v = (double)m->n;
        rc = e->stat == LAB_STAT_COUNT ? 0 : array_stat(m, e, v, why);
    } else if (m->kind == LAB_M_HIST) {
        *v = (double)hist_count(m->hist);
        rc = e->stat == LAB_STAT_COUNT ? 0 : hist_stat(m, e, v, why);
    }
    if (rc != -ENOTSUP)
        return rc;
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
    if (run->skipped)
        return; /* left out: nothing to check */
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

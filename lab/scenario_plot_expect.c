/* scenario_plot_expect.c - `plots:` and `expect:`: what to draw from the runs and which
 * claims to check against them. */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static int get_string(struct lab_err *err, const struct lab_node *m, const char *key,
                      const char **out)
{
    struct lab_node *v = lab_node_get(m, key, NULL);
    if (!v)
        return 0;
    int rc = lab__want_scalar(err, v, key);
    if (!rc)
        *out = v->text;
    return rc;
}

static int get_bool(struct lab_arena *a, struct lab_err *err, const struct lab_node *m,
                    const char *key, bool *out)
{
    struct lab_node *v = lab_node_get(m, key, NULL);
    struct lab_value val;
    if (!v)
        return 0;
    int rc = lab__parse_value(a, err, v, key, LAB_BOOL, 1, 0, NULL, &val);
    if (!rc)
        *out = val.b;
    return rc;
}

const char *const lab_plot_kind_names[] = {LAB_PLOT_KIND_NAMES, NULL};

/* `kind:` of plot n. */
static int parse_plot_kind(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                           struct lab_plot *p)
{
    const char *choices = NAMES_CHOICES(LAB_PLOT_KIND_NAMES);
    struct lab_node *k = lab_node_get(n, "kind", NULL);
    if (!k)
        return lab_errf(err, n, "a plot needs 'kind: %s'", choices);
    struct lab_value v;
    int rc = lab__parse_value(a, err, k, "kind", LAB_ENUM, 1, 0, choices, &v);
    p->kind = (enum lab_plot_kind)v.i;
    return rc;
}

/* `range: [LOW, HIGH]`, if given. */
static int parse_range(struct lab_arena *a, struct lab_err *err, const struct lab_node *r,
                       struct lab_plot *p)
{
    struct lab_value lo, hi;
    int rc;
    if (r->kind != LAB_NODE_SEQ || r->n != 2)
        return lab_errf(err, r, "'range' must be [LOW, HIGH]");
    if ((rc = lab__parse_value(a, err, r->items[0], "range", LAB_FLOAT, 1, 0, NULL, &lo)) ||
        (rc = lab__parse_value(a, err, r->items[1], "range", LAB_FLOAT, 1, 0, NULL, &hi)))
        return rc;
    if (!(lo.f < hi.f))
        return lab_errf(err, r, "'range' must be [LOW, HIGH] with LOW < HIGH");
    p->has_range = true;
    p->range_lo = lo.f;
    p->range_hi = hi.f;
    return 0;
}

/* `unit: ns`: the metric is a time in ns, drawn in the unit that fits. */
static int parse_unit(struct lab_err *err, const struct lab_node *n, struct lab_plot *p)
{
    const char *u = NULL;
    int rc = get_string(err, n, "unit", &u);
    if (rc || !u)
        return rc;
    if (strcmp(u, "ns"))
        return lab_errf(err, lab_node_get(n, "unit", NULL), "'unit' is ns (a time in "
                        "nanoseconds, drawn in s, ms or us), got '%s'", u);
    p->unit_ns = true;
    return 0;
}

/* `hlines: [{ y: NUMBER|DURATION, label: TEXT }]`. */
static int parse_hlines(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                        struct lab_plot *p)
{
    static const char *const keys[] = {"y", "label", NULL};
    struct lab_node *h = lab_node_get(n, "hlines", NULL);
    if (!h)
        return 0;
    if (h->kind != LAB_NODE_SEQ)
        return lab_errf(err, h, "'hlines' is a list, like [{ y: 250, label: ceiling }]");
    p->hlines = lab_arena_alloc(&sc->arena, (h->n + 1) * sizeof(*p->hlines));
    for (size_t i = 0; i < h->n; i++) {
        const struct lab_node *e = h->items[i];
        int rc = lab__want_map(err, e, "a horizontal line");
        if (rc || (rc = lab__check_keys(&sc->arena, err, e, keys, "a horizontal line")))
            return rc;
        const struct lab_node *y = lab_node_get(e, "y", NULL);
        int64_t ns;
        if (!y)
            return lab_errf(err, e, "a horizontal line needs 'y: NUMBER'");
        if ((rc = lab__want_scalar(err, y, "y")))
            return rc;
        if (lab__parse_float(y->text, &p->hlines[i].y)) {
        } else if (lab_parse_duration(y->text, &ns)) {
            p->hlines[i].y = (double)ns;
        } else {
            return lab_errf(err, y, "'y' must be a number or a duration, got '%s'", y->text);
        }
        p->hlines[i].label = "";
        if ((rc = get_string(err, e, "label", &p->hlines[i].label)))
            return rc;
        p->nhlines++;
    }
    return 0;
}

/* The keys that go with some kinds only: x, theory, stat; and a metric name in theory. */
static int check_plot_kind_keys(struct lab_scenario *sc, struct lab_err *err,
                                const struct lab_node *n, const struct lab_plot *p)
{
    struct lab_arena *a = &sc->arena;
    int rc;
    if (p->kind == LAB_PLOT_SWEEP && !p->x)
        return lab_errf(err, n, "a sweep plot needs 'x: KEY' (a sweep key)");
    if (p->x && p->kind != LAB_PLOT_SWEEP)
        return lab_errf(err, lab_node_get(n, "x", NULL), "'x' goes with kind: sweep");
    if (p->xcategories && p->kind != LAB_PLOT_SWEEP)
        return lab_errf(err, lab_node_get(n, "xcategories", NULL), "'xcategories' goes "
                        "with kind: sweep");
    if (p->xcategories && p->logx)
        return lab_errf(err, lab_node_get(n, "xcategories", NULL), "'xcategories' and "
                        "'logx' do not go together");
    if (p->x && (rc = lab__check_key(sc, err, lab_node_get(n, "x", NULL), p->x)))
        return rc;
    if (p->theory && p->kind != LAB_PLOT_BARS && p->kind != LAB_PLOT_SWEEP)
        return lab_errf(err, lab_node_get(n, "theory", NULL), "'theory' goes with kind: bars "
                                                              "or sweep");
    if (p->theory && !lab__is_ident(p->theory))
        return lab_errf(err, lab_node_get(n, "theory", NULL), "'theory' must be a metric name");
    if (p->stat) {
        struct lab_value v;
        if (p->kind != LAB_PLOT_TIMESERIES)
            return lab_errf(err, lab_node_get(n, "stat", NULL), "'stat' goes with kind: "
                                                                "timeseries");
        if ((rc = lab__parse_value(a, err, lab_node_get(n, "stat", NULL), "stat", LAB_ENUM, 1,
                                   0, NAMES_CHOICES("sum", "mean", "count"), &v)))
            return rc;
    }
    return 0;
}

static int parse_plot(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                      struct lab_plot *p)
{
    static const char *const keys[] = {"kind", "metric", "by", "x", "theory", "where", "name",
                                       "title", "logx", "logy", "stat", "xlabel", "ylabel",
                                       "zlabel", "unit", "hlines", "xcategories", "range",
                                       NULL};
    struct lab_arena *a = &sc->arena;
    int rc = lab__want_map(err, n, "a plot");
    if (rc || (rc = lab__check_keys(a, err, n, keys, "a plot")))
        return rc;
    memset(p, 0, sizeof(*p));
    p->node = n;
    if ((rc = parse_plot_kind(a, err, n, p)))
        return rc;
    struct lab_node *m = lab_node_get(n, "metric", NULL);
    if (!m)
        return lab_errf(err, n, "a plot needs 'metric: NAME'");
    if ((rc = lab__want_scalar(err, m, "metric")))
        return rc;
    if (!lab__is_ident(m->text))
        return lab_errf(err, m, "'metric' must be a metric name ([a-z0-9_]), got '%s'", m->text);
    p->metric = m->text;
    if ((rc = get_string(err, n, "by", &p->by)) || (rc = get_string(err, n, "x", &p->x)) ||
        (rc = get_string(err, n, "theory", &p->theory)) ||
        (rc = get_string(err, n, "name", &p->name)) ||
        (rc = get_string(err, n, "title", &p->title)) ||
        (rc = get_string(err, n, "stat", &p->stat)) ||
        (rc = get_string(err, n, "xlabel", &p->xlabel)) ||
        (rc = get_string(err, n, "ylabel", &p->ylabel)) ||
        (rc = get_string(err, n, "zlabel", &p->zlabel)) ||
        (rc = parse_unit(err, n, p)) || (rc = parse_hlines(sc, err, n, p)) ||
        (rc = get_bool(a, err, n, "logx", &p->logx)) ||
        (rc = get_bool(a, err, n, "logy", &p->logy)) ||
        (rc = get_bool(a, err, n, "xcategories", &p->xcategories)))
        return rc;
    if (p->by && (rc = lab__check_key(sc, err, lab_node_get(n, "by", NULL), p->by)))
        return rc;
    struct lab_node *r = lab_node_get(n, "range", NULL);
    if ((r && (rc = parse_range(a, err, r, p))) || (rc = check_plot_kind_keys(sc, err, n, p)))
        return rc;
    if (!p->name)
        p->name = lab_arena_printf(a, "%s-%s", lab_plot_kind_names[p->kind], p->metric);
    else if (!lab__is_stem(p->name))
        return lab_errf(err, lab_node_get(n, "name", NULL), "'name' must be a file name stem "
                        "([A-Za-z0-9_.-], not starting with '.'), got '%s'", p->name);
    if ((rc = lab__parse_where(sc, err, lab_node_get(n, "where", NULL), &p->where, &p->nwhere)))
        return rc;
    return lab__where_matches_a_run(sc, err, lab_node_get(n, "where", NULL), p->where,
                                    p->nwhere);
}

static int parse_expr(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      struct lab_expr *e)
{
    memset(e, 0, sizeof(*e));
    e->stat = LAB_STAT_NONE;
    e->text = n->text;
    const char *s = n->text;
    size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (len == 0)
        goto bad;
    e->metric = lab_arena_strndup(a, s, len);
    s += len;
    if (*s == '[') {
        char *end;
        errno = 0;
        unsigned long long i = strtoull(s + 1, &end, 10);
        if (end == s + 1 || *end != ']' || end[1] || errno || s[1] == '-')
            goto bad;
        e->indexed = true;
        e->index = (size_t)i;
    } else if (*s == '.') {
        int stat = names_value(lab_stat_names, s + 1);
        if (stat < 0)
            return lab_errf(err, n, "unknown statistic '%s' in '%s' (expected one of: %s)",
                            s + 1, n->text, lab__join(a, lab_stat_names));
        e->stat = (enum lab_stat)stat;
    } else if (*s) {
        goto bad;
    }
    return 0;
bad:
    return lab_errf(err, n, "'%s' is not a metric expression (expected name, name[i] or "
                    "name.stat)", n->text);
}

/* tol: "K*EXPR" or "EXPR": K >= 0 times a metric expression. */
static int parse_tol_expr(struct lab_arena *a, struct lab_err *err, const struct lab_node *tol,
                          struct lab_expect *x)
{
    const char *star = strchr(tol->text, '*');
    double k = 1;
    if (star) {
        size_t len = (size_t)(star - tol->text);
        while (len && tol->text[len - 1] == ' ')
            len--;
        char *num = lab_arena_strndup(a, tol->text, len);
        if (!lab__parse_float(num, &k) || k < 0) {
            x->tol = -1;
            return 0;
        }
    }
    struct lab_node expr = *tol;
    expr.text = star ? star + 1 : tol->text;
    while (*expr.text == ' ')
        expr.text++;
    struct lab_err ignored;
    if (parse_expr(a, &ignored, &expr, &x->tol_expr)) {
        x->tol = -1;
        return 0;
    }
    x->tol_is_expr = true;
    x->tol = k;
    return 0;
}

static int parse_expect(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                        struct lab_expect *x)
{
    static const char *const keys[] = {"metric", "where", "op", "value", "tol", "why",
                                       "control", NULL};
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!=", "~", NULL};
    struct lab_arena *a = &sc->arena;
    int rc = lab__want_map(err, n, "an expectation");
    if (rc || (rc = lab__check_keys(a, err, n, keys, "an expectation")))
        return rc;
    memset(x, 0, sizeof(*x));
    x->node = n;
    const char *need[] = {"metric", "op", "value"};
    for (int i = 0; i < 3; i++)
        if (!lab_node_get(n, need[i], NULL))
            return lab_errf(err, n, "an expectation needs '%s'", need[i]);
    struct lab_node *m = lab_node_get(n, "metric", NULL), *op = lab_node_get(n, "op", NULL);
    struct lab_node *val = lab_node_get(n, "value", NULL), *tol = lab_node_get(n, "tol", NULL);
    if ((rc = lab__want_scalar(err, m, "metric")) || (rc = parse_expr(a, err, m, &x->lhs)))
        return rc;
    if ((rc = lab__want_scalar(err, op, "op")))
        return rc;
    int o = -1;
    for (int i = 0; ops[i]; i++)
        if (!strcmp(ops[i], op->text))
            o = i;
    if (o < 0)
        return lab_errf(err, op, "'op' must be one of: %s; got '%s'", lab__join(a, ops), op->text);
    x->op = (enum lab_op)o;
    if ((rc = lab__want_scalar(err, val, "value")))
        return rc;
    int64_t ns;
    if (lab__parse_float(val->text, &x->value)) {
    } else if (lab_parse_duration(val->text, &ns)) {
        x->value = (double)ns;
    } else {
        x->rhs_is_expr = true;
        if ((rc = parse_expr(a, err, val, &x->rhs)))
            return lab_errf(err, val, "'value' must be a number, a duration or a metric "
                            "expression, got '%s'", val->text);
    }
    const char *toltext = "";
    if (tol) {
        if (x->op != LAB_OP_APPROX)
            return lab_errf(err, tol, "'tol' goes with op: \"~\"");
        if ((rc = lab__want_scalar(err, tol, "tol")))
            return rc;
        size_t l = strlen(tol->text);
        char *t = lab_arena_strdup(a, tol->text);
        if (l && t[l - 1] == '%') {
            t[l - 1] = 0;
            x->tol_pct = true;
        }
        int64_t tol_ns;
        if (!x->tol_pct && lab_parse_duration(t, &tol_ns) && !lab__parse_float(t, &x->tol))
            x->tol = (double)tol_ns;
        else if (!x->tol_pct && !lab__parse_float(t, &x->tol) &&
                 (rc = parse_tol_expr(a, err, tol, x)))
            return rc;
        if (x->tol_pct && !lab__parse_float(t, &x->tol))
            x->tol = -1;
        if (x->tol < 0)
            return lab_errf(err, tol, "'tol' must be a number >= 0, a duration, a percentage "
                            "like \"5%%\" or K*METRIC like \"5*theory_sd\", got '%s'",
                            tol->text);
        toltext = tol->text;
    } else if (x->op == LAB_OP_APPROX) {
        return lab_errf(err, op, "op \"~\" needs 'tol: NUMBER' or 'tol: \"N%%\"'");
    }
    x->text = lab_arena_printf(a, "%s %s %s%s%s", m->text, op->text, val->text,
                               tol ? " \xc2\xb1 " : "", toltext);
    if ((rc = get_string(err, n, "why", &x->why)))
        return rc;
    const struct lab_node *where = lab_node_get(n, "where", NULL);
    if ((rc = lab__parse_where(sc, err, where, &x->where, &x->nwhere)) ||
        (rc = lab__parse_expect_control(sc, err, lab_node_get(n, "control", NULL),
                                        &x->control)))
        return rc;
    return lab__where_matches_a_run(sc, err, lab_node_get(n, "where", NULL), x->where,
                                    x->nwhere);
}


int lab__parse_plots(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *x)
{
    if (!x || x->null)
        return 0;
    if (x->kind != LAB_NODE_SEQ)
        return lab_errf(err, x, "'plots' must be a list, like - { kind: cdf, metric: latency }");
    sc->plots = lab_arena_alloc(&sc->arena, (x->n + 1) * sizeof(*sc->plots));
    for (size_t i = 0; i < x->n; i++) {
        int rc = parse_plot(sc, err, x->items[i], &sc->plots[i]);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(sc->plots[j].name, sc->plots[i].name))
                return lab_errf(err, x->items[i], "two plots are named '%s' (set 'name:')",
                                sc->plots[i].name);
        sc->nplots++;
    }
    return 0;
}

int lab__parse_expects(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *x)
{
    if (!x || x->null)
        return 0;
    if (x->kind != LAB_NODE_SEQ)
        return lab_errf(err, x, "'expect' must be a list, like - { metric: m, op: \">\", "
                                "value: 0 }");
    sc->expects = lab_arena_alloc(&sc->arena, (x->n + 1) * sizeof(*sc->expects));
    for (size_t i = 0; i < x->n; i++) {
        int rc = parse_expect(sc, err, x->items[i], &sc->expects[i]);
        if (rc)
            return rc;
        sc->nexpects++;
    }
    return 0;
}

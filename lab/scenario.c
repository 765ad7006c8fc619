/* scenario.c - the scenario loader: YAML tree -> validated runs. Never runs anything.
 *
 * The format (keep DESIGN.md "A scenario file" in agreement):
 *
 *   name: lb-shuffle-bias       required; [A-Za-z0-9_.-]+, names results/<name>/
 *   about: |                    optional text; its first line is the one-line summary
 *   seed: 1                     integer >= 0, default 1
 *   duration: 60s               default 60s; DURATION = number + ns|us|ms|s|m, or 0
 *   repeat: 1                   runs per sweep point, seeds derived (repeat 0: the seed)
 *   world:
 *     cores: 2                  per node, >= 1
 *     nodes: 0                  >= 0 (0: the workload decides)
 *     slice: 4ms                CPU time slice, > 0
 *     stack: 128k               actor stack, bytes, suffix k|M|G allowed, >= 16k
 *     network:                  default for every link
 *       latency: 500us          or { dist: const, value: D }
 *                               or { dist: uniform, min: D, max: D }
 *                               or { dist: lognormal, median: D, p99: D }
 *       jitter: 200us           only with a plain latency: uniform latency +- jitter
 *       loss: 0.01              0..1
 *     links: [ { from: a, to: b, latency: .., jitter: .., loss: .., both: false } ]
 *     clocks: [ { node: NAME-or-fnmatch-pattern, offset: D, drift: PPM } ]
 *     redis: redis://127.0.0.1:6379   (also etcd:, zookeeper:) live-world addresses
 *   workload:
 *     primitive: lb/shuffle     a workload's name; the other keys are its declared
 *     ...                       parameters (struct lab_param), checked by type and range
 *   faults:                     each: `at:` and one kind
 *     - { at: 10s, crash: n1, for: 5s }      for: optional, restarts after it
 *     - { at: 20s, restart: n1 }
 *     - { at: 10s, pause: n2, for: 8s }
 *     - { at: 12s, clock: n3, step: -200ms }
 *     - { at: 12s, drift: n3, ppm: 50 }
 *     - { at: 5s, partition: [[a, b], [c]], until: 9s, oneway: false }
 *   sweep:                      key: [values]; cartesian product, the first key outermost;
 *     picker: [a, b]            keys: workload parameters (bare or workload.x), seed,
 *     world.cores: [1, 2]       duration, or any dotted path into world
 *   plots:
 *     - { kind: bars|cdf|timeseries|heatmap|sweep, metric: M, by: KEY, x: KEY,
 *         theory: M, where: { KEY: VALUE }, name: STEM, title: T, logx: b, logy: b,
 *         xlabel: T, ylabel: T, stat: sum|mean|count (timeseries),
 *         range: [LOW, HIGH] (the value axis: y, x for a cdf, colour for a heatmap) }
 *   expect:
 *     - { metric: EXPR, op: "<"|"<="|">"|">="|"=="|"!="|"~", value: NUMBER|DURATION|EXPR,
 *         tol: NUMBER|"N%" (with ~), where: { KEY: VALUE }, why: TEXT }
 *     EXPR: name | name[i] | name.max|min|sum|mean (array) | name.count|mean|min|max|
 *           p50|p90|p99|p999 (histogram)
 *
 * KEY (by, x, where): repeat, a sweep key, a workload parameter, seed, duration,
 * world (sim or live: a `where` on it may match no run of this invocation),
 * world.cores or world.nodes. --set key.path=value replaces any value before
 * validation; a bare first component that is not a top-level key means workload.<key>.
 * Node names in faults, links and clocks are resolved when the world exists
 * (lab_sim_go). */
#include "lab/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DURATION (60 * SIM_S)

static const char *const top_keys[] = {"name", "about", "seed", "duration", "repeat", "world",
                                       "workload", "faults", "sweep", "plots", "expect", NULL};
static const char *const world_keys[] = {"cores", "nodes", "slice", "stack", "network", "links",
                                         "clocks", "redis", "etcd", "zookeeper", NULL};

/* ---- Small helpers --------------------------------------------------------------- */

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static char *join(struct lab_arena *a, const char *const *list)
{
    size_t len = 1;
    for (const char *const *p = list; *p; p++)
        len += strlen(*p) + 2;
    char *s = lab_arena_alloc(a, len);
    for (const char *const *p = list; *p; p++) {
        if (p != list)
            strcat(s, ", ");
        strcat(s, *p);
    }
    return s;
}

/* Every key of map m must be in 'allowed'. 'what' names the map in the message. */
static int check_keys(struct lab_arena *a, struct lab_err *err, const struct lab_node *m,
                      const char *const *allowed, const char *what)
{
    for (size_t i = 0; i < m->n; i++)
        if (!in_list(allowed, m->keys[i]->text))
            return lab_errf(err, m->keys[i], "unknown key '%s'%s%s (expected one of: %s)",
                            m->keys[i]->text, *what ? " in " : "", what, join(a, allowed));
    return 0;
}

static int want_map(struct lab_err *err, const struct lab_node *n, const char *what)
{
    if (n->kind != LAB_NODE_MAP)
        return lab_errf(err, n, "%s must be a map of keys, got '%s'", what,
                        n->kind == LAB_NODE_SCALAR ? n->text : "a list");
    return 0;
}

static int want_scalar(struct lab_err *err, const struct lab_node *n, const char *what)
{
    if (n->kind != LAB_NODE_SCALAR)
        return lab_errf(err, n, "'%s' must be a single value, not a %s", what,
                        n->kind == LAB_NODE_MAP ? "map" : "list");
    if (n->null)
        return lab_errf(err, n, "'%s' has no value", what);
    return 0;
}

static bool is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool is_stem(const char *s)
{
    if (!*s || *s == '.')
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* ---- Scalars --------------------------------------------------------------------- */

static bool parse_int(const char *text, int64_t *out)
{
    char buf[64];
    size_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '_' && p != text && isdigit((unsigned char)p[-1]) &&
            isdigit((unsigned char)p[1]))
            continue;
        if (n + 1 >= sizeof(buf))
            return false;
        buf[n++] = *p;
    }
    buf[n] = 0;
    if (!n)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (!*end && errno == 0 && end != buf) {
        *out = v;
        return true;
    }
    /* 1e6 and the like, if exactly an integer. */
    errno = 0;
    double d = strtod(buf, &end);
    if (*end || errno || end == buf || !isfinite(d) || d != floor(d) || fabs(d) > 9.0e18)
        return false;
    if (strchr(buf, 'x') || strchr(buf, 'X'))
        return false;
    *out = (int64_t)d;
    return true;
}

static bool parse_float(const char *text, double *out)
{
    char *end;
    errno = 0;
    if (!*text || isspace((unsigned char)*text) || strchr(text, 'x') || strchr(text, 'X'))
        return false;
    double d = strtod(text, &end);
    if (*end || errno == ERANGE || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool parse_bool(const char *text, bool *out)
{
    if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE")) {
        *out = true;
        return true;
    }
    if (!strcmp(text, "false") || !strcmp(text, "False") || !strcmp(text, "FALSE")) {
        *out = false;
        return true;
    }
    return false;
}

bool lab_parse_duration(const char *text, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t mul;
    } units[] = {{"ns", 1}, {"us", SIM_US}, {"\xc2\xb5s", SIM_US}, {"ms", SIM_MS},
                 {"s", SIM_S}, {"m", 60 * SIM_S}};
    const char *p = text;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (!strcmp(p, "0")) {
        *ns = 0;
        return true;
    }
    __extension__ typedef __int128 i128;
    i128 whole = 0, frac = 0, scale = 1;
    bool digits = false;
    for (; isdigit((unsigned char)*p); p++) {
        whole = whole * 10 + (*p - '0');
        digits = true;
        if (whole > (i128)INT64_MAX)
            return false;
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++) {
            if (scale < (i128)1000000000000000000LL) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
            digits = true;
        }
    }
    if (!digits)
        return false;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit))
            continue;
        i128 v = whole * units[i].mul + (frac * units[i].mul + scale / 2) / scale;
        if (v > (i128)INT64_MAX)
            return false;
        *ns = neg ? -(int64_t)v : (int64_t)v;
        return true;
    }
    return false;
}

static bool parse_bytes(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || errno || v < 0)
        return false;
    int64_t mul = 1;
    if (!strcmp(end, "k") || !strcmp(end, "K"))
        mul = 1024;
    else if (!strcmp(end, "M"))
        mul = 1024 * 1024;
    else if (!strcmp(end, "G"))
        mul = 1024LL * 1024 * 1024;
    else if (*end)
        return false;
    if (v > INT64_MAX / mul)
        return false;
    *out = v * mul;
    return true;
}

static const char *type_name(enum lab_type t)
{
    switch (t) {
    case LAB_INT: return "an integer";
    case LAB_FLOAT: return "a number";
    case LAB_BOOL: return "true or false";
    case LAB_DURATION: return "a duration with a unit (ns, us, ms, s, m)";
    case LAB_STRING: return "a string";
    case LAB_ENUM: return "one of the choices";
    case LAB_LIST: return "a list";
    }
    return "?";
}

static void fmt_range_value(char *buf, size_t cap, enum lab_type t, double v)
{
    if (t == LAB_DURATION) {
        const char *u = "ns";
        double d = v;
        if (fabs(v) >= 60e9 && fmod(v, 60e9) == 0) {
            d = v / 60e9;
            u = "m";
        } else if (fabs(v) >= 1e9 && fmod(v, 1e9) == 0) {
            d = v / 1e9;
            u = "s";
        } else if (fabs(v) >= 1e6 && fmod(v, 1e6) == 0) {
            d = v / 1e6;
            u = "ms";
        } else if (fabs(v) >= 1e3 && fmod(v, 1e3) == 0) {
            d = v / 1e3;
            u = "us";
        }
        snprintf(buf, cap, "%g%s", d, u);
    } else {
        snprintf(buf, cap, "%.15g", v);
    }
}

static int range_error(struct lab_err *err, const struct lab_node *n, const char *what,
                       enum lab_type t, double min, double max)
{
    char lo[64], hi[64];
    fmt_range_value(lo, sizeof(lo), t, min);
    fmt_range_value(hi, sizeof(hi), t, max);
    if (max >= 9e18 || isinf(max))
        return lab_errf(err, n, "'%s' must be at least %s, got %s", what, lo, n->text);
    return lab_errf(err, n, "'%s' must be between %s and %s, got %s", what, lo, hi, n->text);
}

/* Parse node n as type t into v (choices for LAB_ENUM, range when min <= max). */
static int parse_value(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                       const char *what, enum lab_type t, double min, double max,
                       const char *choices, struct lab_value *v)
{
    memset(v, 0, sizeof(*v));
    v->type = t;
    v->node = n;
    if (t == LAB_LIST) {
        if (n->kind != LAB_NODE_SEQ)
            return lab_errf(err, n, "'%s' must be a list, like [1, 2], got '%s'", what,
                            lab_node_text(a, n));
        v->text = lab_node_text(a, n);
        v->n = n->n;
        v->items = lab_arena_alloc(a, (n->n + 1) * sizeof(*v->items));
        v->fitems = lab_arena_alloc(a, (n->n + 1) * sizeof(*v->fitems));
        for (size_t i = 0; i < n->n; i++) {
            const struct lab_node *it = n->items[i];
            if (it->kind != LAB_NODE_SCALAR || it->null)
                return lab_errf(err, it, "items of '%s' must be single values", what);
            v->items[i] = it->text;
            double d;
            v->fitems[i] = parse_float(it->text, &d) ? d : NAN;
            if (min <= max) {
                if (isnan(v->fitems[i]))
                    return lab_errf(err, it, "items of '%s' must be numbers, got '%s'", what,
                                    it->text);
                if (d < min || d > max)
                    return range_error(err, it, what, LAB_FLOAT, min, max);
            }
        }
        return 0;
    }
    int rc = want_scalar(err, n, what);
    if (rc)
        return rc;
    v->text = n->text;
    switch (t) {
    case LAB_INT:
        if (!parse_int(n->text, &v->i))
            return lab_errf(err, n, "'%s' must be an integer, got '%s'", what, n->text);
        v->f = (double)v->i;
        break;
    case LAB_FLOAT:
        if (!parse_float(n->text, &v->f))
            return lab_errf(err, n, "'%s' must be a number, got '%s'", what, n->text);
        break;
    case LAB_BOOL:
        if (!parse_bool(n->text, &v->b))
            return lab_errf(err, n, "'%s' must be true or false, got '%s'", what, n->text);
        v->i = v->b;
        v->f = v->b;
        break;
    case LAB_DURATION:
        if (!lab_parse_duration(n->text, &v->i))
            return lab_errf(err, n, "'%s' must be %s, got '%s'", what, type_name(t), n->text);
        v->f = (double)v->i;
        break;
    case LAB_STRING:
        break;
    case LAB_ENUM: {
        const char *c = choices ? choices : "";
        size_t len = strlen(n->text);
        bool ok = false;
        for (const char *p = c; *p;) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            if (l == len && !strncmp(p, n->text, len))
                ok = true;
            p += l + (bar != NULL);
        }
        if (!ok) {
            char *list = lab_arena_alloc(a, 2 * strlen(c) + 1), *q = list;
            for (const char *p = c; *p; p++) {
                if (*p == '|') {
                    *q++ = ',';
                    *q++ = ' ';
                } else {
                    *q++ = *p;
                }
            }
            return lab_errf(err, n, "'%s' must be one of: %s; got '%s'", what, list, n->text);
        }
        break;
    }
    case LAB_LIST:
        break;
    }
    if (min <= max && (t == LAB_INT || t == LAB_FLOAT || t == LAB_DURATION) &&
        (v->f < min || v->f > max))
        return range_error(err, n, what, t, min, max);
    return 0;
}

/* ---- world ------------------------------------------------------------------------ */

static int parse_dist(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      struct sim_dist *d)
{
    struct lab_value v;
    if (n->kind == LAB_NODE_SCALAR) {
        int rc = parse_value(a, err, n, "latency", LAB_DURATION, 0, 9.2e18, NULL, &v);
        if (rc)
            return rc;
        *d = (struct sim_dist){SIM_DIST_CONST, v.i, v.i, 0};
        return 0;
    }
    int rc = want_map(err, n, "'latency'");
    if (rc)
        return rc;
    struct lab_node *kn = NULL, *dn = lab_node_get(n, "dist", &kn);
    if (!dn)
        return lab_errf(err, n, "latency needs 'dist: const|uniform|lognormal'");
    if ((rc = parse_value(a, err, dn, "dist", LAB_ENUM, 1, 0, "const|uniform|lognormal", &v)))
        return rc;
    static const char *const k_const[] = {"dist", "value", NULL};
    static const char *const k_uni[] = {"dist", "min", "max", NULL};
    static const char *const k_log[] = {"dist", "median", "p99", NULL};
    const char *const *keys = !strcmp(v.text, "const") ? k_const
                              : !strcmp(v.text, "uniform") ? k_uni : k_log;
    const char *what = lab_arena_printf(a, "latency with dist: %s", v.text);
    if ((rc = check_keys(a, err, n, keys, what)))
        return rc;
    int64_t x[2];
    for (int i = 0; i < (keys == k_const ? 1 : 2); i++) {
        struct lab_node *xn = lab_node_get(n, keys[i + 1], NULL);
        if (!xn)
            return lab_errf(err, n, "%s needs '%s'", what, keys[i + 1]);
        struct lab_value xv;
        if ((rc = parse_value(a, err, xn, keys[i + 1], LAB_DURATION, 0, 9.2e18, NULL, &xv)))
            return rc;
        x[i] = xv.i;
    }
    if (keys == k_const) {
        *d = (struct sim_dist){SIM_DIST_CONST, x[0], x[0], 0};
    } else {
        if (x[1] < x[0])
            return lab_errf(err, lab_node_get(n, keys[2], NULL), "'%s' must be >= '%s'",
                            keys[2], keys[1]);
        *d = (struct sim_dist){keys == k_uni ? SIM_DIST_UNIFORM : SIM_DIST_LOGNORMAL, x[0],
                               x[1], 0};
    }
    return 0;
}

/* latency, jitter, loss of a link (or the network default) from map n onto *l. */
static int parse_link_model(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                            struct sim_link *l)
{
    int rc;
    struct lab_node *lat = lab_node_get(n, "latency", NULL);
    struct lab_node *jit = lab_node_get(n, "jitter", NULL);
    struct lab_node *loss = lab_node_get(n, "loss", NULL);
    if (lat && (rc = parse_dist(a, err, lat, &l->latency)))
        return rc;
    if (jit) {
        struct lab_value v;
        if ((rc = parse_value(a, err, jit, "jitter", LAB_DURATION, 0, 9.2e18, NULL, &v)))
            return rc;
        if (l->latency.kind != SIM_DIST_CONST)
            return lab_errf(err, jit, "'jitter' goes with a plain latency (like 1ms), not "
                                      "with a distribution");
        int64_t c = l->latency.a;
        l->latency = (struct sim_dist){SIM_DIST_UNIFORM, c > v.i ? c - v.i : 0, c + v.i, 0};
    }
    if (loss) {
        struct lab_value v;
        if ((rc = parse_value(a, err, loss, "loss", LAB_FLOAT, 0, 1, NULL, &v)))
            return rc;
        l->loss = v.f;
    }
    return 0;
}

static int parse_world(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                       struct lab_world_cfg *w)
{
    memset(w, 0, sizeof(*w));
    w->cores = 2;
    w->slice_ns = 4 * SIM_MS;
    w->stack = 128 * 1024;
    if (!n)
        return 0;
    int rc = want_map(err, n, "'world'");
    if (rc || (rc = check_keys(a, err, n, world_keys, "world")))
        return rc;
    struct lab_value v;
    struct lab_node *x;
    if ((x = lab_node_get(n, "cores", NULL))) {
        if ((rc = parse_value(a, err, x, "cores", LAB_INT, 1, 4096, NULL, &v)))
            return rc;
        w->cores = (int)v.i;
    }
    if ((x = lab_node_get(n, "nodes", NULL))) {
        if ((rc = parse_value(a, err, x, "nodes", LAB_INT, 0, 100000, NULL, &v)))
            return rc;
        w->nodes = (int)v.i;
    }
    if ((x = lab_node_get(n, "slice", NULL))) {
        if ((rc = parse_value(a, err, x, "slice", LAB_DURATION, 1, 9.2e18, NULL, &v)))
            return rc;
        w->slice_ns = v.i;
    }
    if ((x = lab_node_get(n, "stack", NULL))) {
        int64_t b;
        if ((rc = want_scalar(err, x, "stack")))
            return rc;
        if (!parse_bytes(x->text, &b))
            return lab_errf(err, x, "'stack' must be a size in bytes (like 65536, 128k, 1M), "
                                    "got '%s'", x->text);
        if (b < 16 * 1024 || b > 1024LL * 1024 * 1024)
            return lab_errf(err, x, "'stack' must be between 16k and 1G, got %s", x->text);
        w->stack = (size_t)b;
    }
    if ((x = lab_node_get(n, "network", NULL))) {
        static const char *const keys[] = {"latency", "jitter", "loss", NULL};
        if ((rc = want_map(err, x, "'network'")) ||
            (rc = check_keys(a, err, x, keys, "world.network")) ||
            (rc = parse_link_model(a, err, x, &w->network)))
            return rc;
    }
    if ((x = lab_node_get(n, "links", NULL))) {
        static const char *const keys[] = {"from", "to", "latency", "jitter", "loss", "both",
                                           NULL};
        if (x->kind != LAB_NODE_SEQ)
            return lab_errf(err, x, "'links' must be a list of { from, to, latency, ... }");
        w->links = lab_arena_alloc(a, (x->n + 1) * sizeof(*w->links));
        for (size_t i = 0; i < x->n; i++) {
            const struct lab_node *ln = x->items[i];
            struct lab_link_cfg *l = &w->links[w->nlinks++];
            l->node = ln;
            l->link = w->network;
            if ((rc = want_map(err, ln, "a link")) ||
                (rc = check_keys(a, err, ln, keys, "a link")))
                return rc;
            const char *ends[2] = {"from", "to"};
            for (int k = 0; k < 2; k++) {
                struct lab_node *e = lab_node_get(ln, ends[k], NULL);
                if (!e)
                    return lab_errf(err, ln, "a link needs '%s: NODE'", ends[k]);
                if ((rc = want_scalar(err, e, ends[k])))
                    return rc;
                *(k ? &l->to : &l->from) = e->text;
            }
            if ((rc = parse_link_model(a, err, ln, &l->link)))
                return rc;
            struct lab_node *b = lab_node_get(ln, "both", NULL);
            if (b) {
                if ((rc = parse_value(a, err, b, "both", LAB_BOOL, 1, 0, NULL, &v)))
                    return rc;
                l->both = v.b;
            }
        }
    }
    if ((x = lab_node_get(n, "clocks", NULL))) {
        static const char *const keys[] = {"node", "offset", "drift", NULL};
        if (x->kind != LAB_NODE_SEQ)
            return lab_errf(err, x, "'clocks' must be a list of { node, offset, drift }");
        w->clocks = lab_arena_alloc(a, (x->n + 1) * sizeof(*w->clocks));
        for (size_t i = 0; i < x->n; i++) {
            const struct lab_node *cn = x->items[i];
            struct lab_clock_cfg *c = &w->clocks[w->nclocks++];
            c->node = cn;
            if ((rc = want_map(err, cn, "a clock")) ||
                (rc = check_keys(a, err, cn, keys, "a clock")))
                return rc;
            struct lab_node *nn = lab_node_get(cn, "node", NULL);
            if (!nn)
                return lab_errf(err, cn, "a clock needs 'node: NAME' (or a pattern like "
                                         "'client-*')");
            if ((rc = want_scalar(err, nn, "node")))
                return rc;
            c->pattern = nn->text;
            struct lab_node *o = lab_node_get(cn, "offset", NULL);
            if (o) {
                if ((rc = parse_value(a, err, o, "offset", LAB_DURATION, 1, 0, NULL, &v)))
                    return rc;
                c->offset = v.i;
            }
            struct lab_node *d = lab_node_get(cn, "drift", NULL);
            if (d) {
                if ((rc = parse_value(a, err, d, "drift", LAB_FLOAT, -1e5, 1e5, NULL, &v)))
                    return rc;
                c->ppm = v.f;
            }
        }
    }
    const char *addrs[] = {"redis", "etcd", "zookeeper"};
    const char **dst[] = {&w->redis, &w->etcd, &w->zookeeper};
    for (int i = 0; i < 3; i++) {
        if ((x = lab_node_get(n, addrs[i], NULL))) {
            if ((rc = want_scalar(err, x, addrs[i])))
                return rc;
            *dst[i] = x->text;
        }
    }
    return 0;
}

/* ---- faults ----------------------------------------------------------------------- */

static int parse_side(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      const char *const **out)
{
    size_t cnt = n->kind == LAB_NODE_SEQ ? n->n : 1;
    if (n->kind == LAB_NODE_MAP || cnt == 0)
        return lab_errf(err, n, "a side of a partition is a list of node names, like [a, b]");
    const char **side = lab_arena_alloc(a, (cnt + 1) * sizeof(*side));
    for (size_t i = 0; i < cnt; i++) {
        const struct lab_node *it = n->kind == LAB_NODE_SEQ ? n->items[i] : n;
        int rc = want_scalar(err, it, "partition");
        if (rc)
            return rc;
        side[i] = it->text;
    }
    *out = side;
    return 0;
}

static int parse_fault(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                       struct lab_fault *f)
{
    static const char *const keys[] = {"at", "crash", "restart", "pause", "clock", "drift",
                                       "partition", "for", "step", "ppm", "until", "oneway",
                                       NULL};
    static const char *const kinds[] = {"crash", "restart", "pause", "clock", "drift",
                                        "partition", NULL};
    static const enum lab_fault_kind kind_of[] = {LAB_FAULT_CRASH, LAB_FAULT_RESTART,
                                                  LAB_FAULT_PAUSE, LAB_FAULT_CLOCK_STEP,
                                                  LAB_FAULT_DRIFT, LAB_FAULT_PARTITION};
    /* Which modifiers go with which kind. */
    static const char *const mods[][3] = {{"for", NULL}, {NULL}, {"for", NULL},
                                          {"step", NULL}, {"ppm", NULL}, {"until", "oneway"}};
    int rc = want_map(err, n, "a fault");
    if (rc || (rc = check_keys(a, err, n, keys, "a fault")))
        return rc;
    memset(f, 0, sizeof(*f));
    f->line = n->line;
    f->col = n->col;
    f->dur = -1;
    int kind = -1;
    struct lab_node *kn = NULL, *target = NULL;
    for (int k = 0; k < 6; k++) {
        struct lab_node *key, *v = lab_node_get(n, kinds[k], &key);
        if (!v)
            continue;
        if (kind >= 0)
            return lab_errf(err, key, "a fault has one kind, but this one has both '%s' and "
                                      "'%s'", kinds[kind], kinds[k]);
        kind = k;
        kn = key;
        target = v;
    }
    if (kind < 0)
        return lab_errf(err, n, "a fault needs one of: crash, restart, pause, clock, drift, "
                                "partition");
    f->kind = kind_of[kind];
    struct lab_node *at = lab_node_get(n, "at", NULL);
    if (!at)
        return lab_errf(err, n, "a fault needs 'at: DURATION' (when it happens)");
    struct lab_value v;
    if ((rc = parse_value(a, err, at, "at", LAB_DURATION, 0, 9.2e18, NULL, &v)))
        return rc;
    f->at = v.i;
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->text;
        if (!strcmp(k, "at") || in_list(kinds, k) || !strcmp(k, kinds[kind]))
            continue;
        bool ok = false;
        for (int j = 0; j < 3 && mods[kind][j]; j++)
            ok |= !strcmp(mods[kind][j], k);
        if (!ok)
            return lab_errf(err, n->keys[i], "'%s' does not go with '%s:'", k, kinds[kind]);
    }
    (void)kn;
    if (f->kind == LAB_FAULT_PARTITION) {
        if (target->kind != LAB_NODE_SEQ || target->n != 2)
            return lab_errf(err, target, "'partition' takes two sides, like [[a, b], [c]]");
        if ((rc = parse_side(a, err, target->items[0], &f->side_a)) ||
            (rc = parse_side(a, err, target->items[1], &f->side_b)))
            return rc;
        struct lab_node *u = lab_node_get(n, "until", NULL);
        if (u) {
            if ((rc = parse_value(a, err, u, "until", LAB_DURATION, 0, 9.2e18, NULL, &v)))
                return rc;
            if (v.i <= f->at)
                return lab_errf(err, u, "'until' must be later than 'at'");
            f->dur = v.i - f->at;
        }
        struct lab_node *o = lab_node_get(n, "oneway", NULL);
        if (o) {
            if ((rc = parse_value(a, err, o, "oneway", LAB_BOOL, 1, 0, NULL, &v)))
                return rc;
            f->oneway = v.b;
        }
        return 0;
    }
    if ((rc = want_scalar(err, target, kinds[kind])))
        return rc;
    f->node = target->text;
    struct lab_node *m;
    switch (f->kind) {
    case LAB_FAULT_PAUSE:
    case LAB_FAULT_CRASH:
        m = lab_node_get(n, "for", NULL);
        if (!m && f->kind == LAB_FAULT_PAUSE)
            return lab_errf(err, n, "'pause' needs 'for: DURATION'");
        if (m) {
            if ((rc = parse_value(a, err, m, "for", LAB_DURATION, 1, 9.2e18, NULL, &v)))
                return rc;
            f->dur = v.i;
        }
        break;
    case LAB_FAULT_CLOCK_STEP:
        m = lab_node_get(n, "step", NULL);
        if (!m)
            return lab_errf(err, n, "'clock' needs 'step: DURATION' (negative: backwards)");
        if ((rc = parse_value(a, err, m, "step", LAB_DURATION, 1, 0, NULL, &v)))
            return rc;
        f->step = v.i;
        break;
    case LAB_FAULT_DRIFT:
        m = lab_node_get(n, "ppm", NULL);
        if (!m)
            return lab_errf(err, n, "'drift' needs 'ppm: NUMBER'");
        if ((rc = parse_value(a, err, m, "ppm", LAB_FLOAT, -1e5, 1e5, NULL, &v)))
            return rc;
        f->ppm = v.f;
        break;
    default:
        break;
    }
    return 0;
}

/* ---- workload --------------------------------------------------------------------- */

static int parse_workload(struct lab_arena *a, struct lab_err *err, const struct lab_node *root,
                          unsigned world, struct lab_config *c)
{
    struct lab_node *wkey = NULL, *n = lab_node_get(root, "workload", &wkey);
    if (!n)
        return lab_errf(err, root, "missing required key 'workload' (a map with "
                                   "'primitive:' and its parameters)");
    int rc = want_map(err, n, "'workload'");
    if (rc)
        return rc;
    struct lab_node *pkey = NULL, *p = lab_node_get(n, "primitive", &pkey);
    if (!p)
        return lab_errf(err, wkey ? wkey : n, "'workload' needs 'primitive: NAME'");
    if ((rc = want_scalar(err, p, "primitive")))
        return rc;
    const struct lab_workload *wl = lab_workload_find(p->text);
    if (!wl) {
        size_t cnt = 0;
        while (lab_workloads[cnt])
            cnt++;
        const char **names = lab_arena_alloc(a, (cnt + 1) * sizeof(*names));
        for (size_t i = 0; i < cnt; i++)
            names[i] = lab_workloads[i]->name;
        return lab_errf(err, p, "unknown primitive '%s' (known: %s)", p->text,
                        cnt ? join(a, names) : "none");
    }
    if (!(wl->worlds & world))
        return lab_errf(err, p, "primitive '%s' does not run in the %s world (it runs in: %s)",
                        wl->name, world == LAB_WORLD_LIVE ? "live" : "sim",
                        wl->worlds == LAB_WORLD_LIVE ? "live"
                        : wl->worlds == LAB_WORLD_SIM ? "sim" : "sim, live");
    size_t np = 0;
    while (wl->params && wl->params[np].name)
        np++;
    const char **allowed = lab_arena_alloc(a, (np + 2) * sizeof(*allowed));
    allowed[0] = "primitive";
    for (size_t i = 0; i < np; i++)
        allowed[i + 1] = wl->params[i].name;
    const char *what = lab_arena_printf(a, "workload '%s'", wl->name);
    if ((rc = check_keys(a, err, n, allowed, what)))
        return rc;
    c->wl = wl;
    c->params = lab_arena_alloc(a, (np + 1) * sizeof(*c->params));
    for (size_t i = 0; i < np; i++) {
        const struct lab_param *pp = &wl->params[i];
        struct lab_node *v = lab_node_get(n, pp->name, NULL);
        if (!v) {
            if (!pp->def)
                return lab_errf(err, wkey ? wkey : n, "missing required key '%s' in %s (%s)",
                                pp->name, what, pp->doc ? pp->doc : type_name(pp->type));
            const char *origin = lab_arena_printf(a, "the default of '%s' in %s", pp->name,
                                                  what);
            v = lab_node_parse_string(a, pp->def, origin, err);
            if (!v)
                return -EINVAL;
        }
        if ((rc = parse_value(a, err, v, pp->name, pp->type, pp->min, pp->max, pp->choices,
                              &c->params[i])))
            return rc;
    }
    return 0;
}

/* One sweep point: the whole configuration from a (rewritten) tree. */
static int parse_config(struct lab_arena *a, struct lab_err *err, const struct lab_node *root,
                        unsigned world, struct lab_config *c)
{
    memset(c, 0, sizeof(*c));
    struct lab_value v;
    int rc;
    struct lab_node *x;
    c->seed = 1;
    if ((x = lab_node_get(root, "seed", NULL))) {
        if ((rc = parse_value(a, err, x, "seed", LAB_INT, 0, 9.2e18, NULL, &v)))
            return rc;
        c->seed = (uint64_t)v.i;
    }
    c->duration = DEFAULT_DURATION;
    if ((x = lab_node_get(root, "duration", NULL))) {
        if ((rc = parse_value(a, err, x, "duration", LAB_DURATION, 1, 9.2e18, NULL, &v)))
            return rc;
        c->duration = v.i;
    }
    if ((rc = parse_world(a, err, lab_node_get(root, "world", NULL), &c->world)))
        return rc;
    if ((rc = parse_workload(a, err, root, world, c)))
        return rc;
    if ((x = lab_node_get(root, "faults", NULL)) && !x->null) {
        if (x->kind != LAB_NODE_SEQ)
            return lab_errf(err, x, "'faults' must be a list, like - { at: 10s, crash: n1 }");
        c->faults = lab_arena_alloc(a, (x->n + 1) * sizeof(*c->faults));
        c->fault_nodes = lab_arena_alloc(a, (x->n + 1) * sizeof(*c->fault_nodes));
        for (size_t i = 0; i < x->n; i++) {
            struct lab_fault f;
            if ((rc = parse_fault(a, err, x->items[i], &f)))
                return rc;
            if (f.at > c->duration)
                return lab_errf(err, x->items[i], "this fault is at %s, after the end of the "
                                "run (duration %s)", lab_node_get(x->items[i], "at", NULL)->text,
                                lab_arena_printf(a, "%.9gs", (double)c->duration / 1e9));
            /* Insertion sort by time, stable: faults are few. */
            size_t j = c->nfaults++;
            while (j > 0 && c->faults[j - 1].at > f.at) {
                c->faults[j] = c->faults[j - 1];
                c->fault_nodes[j] = c->fault_nodes[j - 1];
                j--;
            }
            c->faults[j] = f;
            c->fault_nodes[j] = x->items[i];
        }
    }
    return 0;
}

/* ---- Keys (sweep, by, x, where) ------------------------------------------------------ */

/* Resolve a dotted key to a path: a first component that is not a top-level key means
 * workload.<key>. */
static size_t key_path(struct lab_arena *a, const char *key, const char ***out)
{
    size_t n = 1;
    for (const char *p = key; *p; p++)
        n += *p == '.';
    const char **comp = lab_arena_alloc(a, (n + 2) * sizeof(*comp));
    size_t k = 0;
    char *dup = lab_arena_strdup(a, key);
    char *first = dup;
    char *dot = strchr(dup, '.');
    if (dot)
        *dot = 0;
    if (!in_list(top_keys, first))
        comp[k++] = "workload";
    comp[k++] = first;
    while (dot) {
        char *next = dot + 1;
        dot = strchr(next, '.');
        if (dot)
            *dot = 0;
        comp[k++] = next;
    }
    *out = comp;
    return k;
}

static const struct lab_param *find_param(const struct lab_workload *wl, const char *name,
                                          size_t *idx)
{
    for (size_t i = 0; wl->params && wl->params[i].name; i++) {
        if (!strcmp(wl->params[i].name, name)) {
            if (idx)
                *idx = i;
            return &wl->params[i];
        }
    }
    return NULL;
}

/* The canonical name of a key: "repeat", "seed", "duration", "world.cores",
 * "world.nodes", a workload parameter's bare name, or a sweep key's path. */
static const char *canon_key(struct lab_arena *a, const char *key)
{
    const char **comp;
    size_t n = key_path(a, key, &comp);
    if (n == 2 && !strcmp(comp[0], "workload"))
        return comp[1];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(comp[i]) + 1;
    char *s = lab_arena_alloc(a, len + 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(s, ".");
        strcat(s, comp[i]);
    }
    return s;
}

struct keyval {
    const struct lab_value *typed; /* when the key names a typed value */
    const struct lab_node *node;   /* a sweep value without a type (world.network...) */
    struct lab_value tmp;
};

/* What 'key' is in run r. */
static bool run_key(const struct lab_scenario *sc, const struct lab_runspec *r,
                    const char *key, struct keyval *kv)
{
    struct lab_arena scratch = {0};
    const char *ck = canon_key(&scratch, key);
    bool found = true;
    memset(kv, 0, sizeof(*kv));
    const struct lab_config *c = r->cfg;
    size_t idx;
    if (!strcmp(ck, "repeat")) {
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = r->repeat, .f = r->repeat};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "seed")) {
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = (int64_t)c->seed,
                                     .f = (double)c->seed};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "duration")) {
        kv->tmp = (struct lab_value){.type = LAB_DURATION, .i = c->duration,
                                     .f = (double)c->duration};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "world")) {
        kv->tmp = (struct lab_value){.type = LAB_ENUM,
                                     .text = sc->world == LAB_WORLD_LIVE ? "live" : "sim"};
        kv->typed = &kv->tmp;
    } else if (!strcmp(ck, "world.cores") || !strcmp(ck, "world.nodes")) {
        int v = ck[6] == 'c' ? c->world.cores : c->world.nodes;
        kv->tmp = (struct lab_value){.type = LAB_INT, .i = v, .f = v};
        kv->typed = &kv->tmp;
    } else if (!strchr(ck, '.') && find_param(c->wl, ck, &idx)) {
        kv->typed = &c->params[idx];
    } else {
        found = false;
        for (size_t i = 0; i < sc->nsweep; i++) {
            struct lab_arena s2 = {0};
            if (!strcmp(canon_key(&s2, sc->sweep[i].name), ck)) {
                kv->node = r->values[i];
                found = true;
            }
            lab_arena_free(&s2);
        }
    }
    lab_arena_free(&scratch);
    return found;
}

const char *lab_run_key_text(const struct lab_scenario *sc, const struct lab_runspec *r,
                             const char *key)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return NULL;
    struct lab_arena *a = (struct lab_arena *)&sc->arena;
    if (kv.node)
        return lab_node_text(a, kv.node);
    if (kv.typed == &kv.tmp) {
        if (kv.tmp.type == LAB_DURATION)
            return lab_arena_printf(a, "%.9gs", kv.tmp.f / 1e9);
        return lab_arena_printf(a, "%lld", (long long)kv.tmp.i);
    }
    return kv.typed->text;
}

bool lab_key_number(const struct lab_scenario *sc, const struct lab_runspec *r,
                    const char *key, double *out)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return false;
    if (kv.node) {
        int64_t ns;
        if (kv.node->kind != LAB_NODE_SCALAR)
            return false;
        if (parse_float(kv.node->text, out))
            return true;
        if (lab_parse_duration(kv.node->text, &ns)) {
            *out = (double)ns;
            return true;
        }
        return false;
    }
    switch (kv.typed->type) {
    case LAB_INT:
    case LAB_FLOAT:
    case LAB_DURATION:
    case LAB_BOOL:
        *out = kv.typed->f;
        return true;
    default:
        return false;
    }
}

/* Does value text 'w' (a where: value) equal what run r has for its key? */
static bool key_equals(const struct lab_scenario *sc, const struct lab_runspec *r,
                       const char *key, const struct lab_node *w)
{
    struct keyval kv;
    if (!run_key(sc, r, key, &kv))
        return false;
    struct lab_arena a = {0};
    bool eq = false;
    if (kv.typed) {
        struct lab_err err;
        struct lab_value wv;
        const struct lab_value *t = kv.typed;
        if (parse_value(&a, &err, w, key, t->type, 1, 0, "", &wv) == 0 || t->type == LAB_ENUM) {
            switch (t->type) {
            case LAB_INT:
            case LAB_DURATION:
                eq = wv.i == t->i;
                break;
            case LAB_FLOAT:
                eq = wv.f == t->f;
                break;
            case LAB_BOOL:
                eq = wv.b == t->b;
                break;
            case LAB_STRING:
            case LAB_ENUM:
                eq = w->kind == LAB_NODE_SCALAR && !strcmp(w->text, t->text);
                break;
            case LAB_LIST:
                eq = !strcmp(lab_node_text(&a, w), t->text);
                break;
            }
        }
    } else {
        const char *x = lab_node_text(&a, kv.node), *y = lab_node_text(&a, w);
        double dx, dy;
        int64_t nx, ny;
        if (parse_float(x, &dx) && parse_float(y, &dy))
            eq = dx == dy;
        else if (lab_parse_duration(x, &nx) && lab_parse_duration(y, &ny))
            eq = nx == ny;
        else
            eq = !strcmp(x, y);
    }
    lab_arena_free(&a);
    return eq;
}

bool lab_where_match(const struct lab_scenario *sc, const struct lab_runspec *r,
                     const struct lab_where *w, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (!key_equals(sc, r, w[i].key, w[i].value))
            return false;
    return true;
}

/* A key named by by:, x: or where: must mean something in the runs. */
static int check_key(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *at,
                     const char *key)
{
    struct keyval kv;
    for (size_t i = 0; i < sc->nruns; i++)
        if (run_key(sc, &sc->runs[i], key, &kv))
            return 0;
    const char **names = lab_arena_alloc(&sc->arena, (sc->nsweep + 2) * sizeof(*names));
    names[0] = "repeat";
    for (size_t i = 0; i < sc->nsweep; i++)
        names[i + 1] = sc->sweep[i].name;
    return lab_errf(err, at, "'%s' is not a sweep key, a parameter of '%s', seed, duration, "
                    "world, world.cores or world.nodes (sweep keys: %s)", key,
                    sc->runs[0].cfg->wl->name, join(&sc->arena, names));
}

uint64_t lab_repeat_seed(uint64_t s, int r)
{
    if (r == 0)
        return s;
    return rng_mix(s ^ rng_mix((uint64_t)r)) >> 1; /* fits a JSON integer */
}

/* ---- sweep ------------------------------------------------------------------------- */

static int parse_sweep(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n)
{
    struct lab_arena *a = &sc->arena;
    if (!n || n->null)
        return 0;
    int rc = want_map(err, n, "'sweep'");
    if (rc)
        return rc;
    sc->sweep = lab_arena_alloc(a, (n->n + 1) * sizeof(*sc->sweep));
    for (size_t i = 0; i < n->n; i++) {
        struct lab_sweep_key *k = &sc->sweep[sc->nsweep++];
        k->key = n->keys[i];
        k->name = n->keys[i]->text;
        k->npath = key_path(a, k->name, &k->path);
        const char *const bad[] = {"name", "about", "repeat", "sweep", "plots", "expect", NULL};
        if (in_list(bad, k->path[0]))
            return lab_errf(err, k->key, "cannot sweep '%s' (sweep workload parameters, seed, "
                            "duration, world.*, faults)", k->name);
        for (size_t j = 0; j < i; j++) {
            struct lab_arena s = {0};
            bool same = !strcmp(canon_key(&s, sc->sweep[j].name), canon_key(&s, k->name));
            lab_arena_free(&s);
            if (same)
                return lab_errf(err, k->key, "'%s' is swept twice", k->name);
        }
        const struct lab_node *v = n->items[i];
        if (v->kind != LAB_NODE_SEQ || v->n == 0)
            return lab_errf(err, v, "a sweep key takes a non-empty list of values, like "
                                    "%s: [1, 2, 4]", k->name);
        k->values = v->items;
        k->nvalues = v->n;
    }
    return 0;
}

/* ---- plots and expectations --------------------------------------------------------- */

/* A `where` that names the world matches no run in the other world, and that is its
 * purpose (an expectation for live runs only): not an error. */
static bool where_names_world(const struct lab_where *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i].key, "world"))
            return true;
    return false;
}

static int parse_where(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                       struct lab_where **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n)
        return 0;
    int rc = want_map(err, n, "'where'");
    if (rc)
        return rc;
    struct lab_where *w = lab_arena_alloc(&sc->arena, (n->n + 1) * sizeof(*w));
    for (size_t i = 0; i < n->n; i++) {
        w[i].key = n->keys[i]->text;
        w[i].keynode = n->keys[i];
        w[i].value = n->items[i];
        if ((rc = check_key(sc, err, n->keys[i], w[i].key)))
            return rc;
        if (!strcmp(w[i].key, "world") &&
            (w[i].value->kind != LAB_NODE_SCALAR ||
             (strcmp(w[i].value->text, "sim") && strcmp(w[i].value->text, "live"))))
            return lab_errf(err, w[i].value, "'world' must be sim or live");
    }
    *out = w;
    *nout = n->n;
    return 0;
}

static int get_string(struct lab_err *err, const struct lab_node *m, const char *key,
                      const char **out)
{
    struct lab_node *v = lab_node_get(m, key, NULL);
    if (!v)
        return 0;
    int rc = want_scalar(err, v, key);
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
    int rc = parse_value(a, err, v, key, LAB_BOOL, 1, 0, NULL, &val);
    if (!rc)
        *out = val.b;
    return rc;
}

static int parse_plot(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                      struct lab_plot *p)
{
    static const char *const keys[] = {"kind", "metric", "by", "x", "theory", "where", "name",
                                       "title", "logx", "logy", "stat", "xlabel", "ylabel",
                                       "range", NULL};
    static const char *const kinds[] = {"bars", "cdf", "timeseries", "heatmap", "sweep", NULL};
    struct lab_arena *a = &sc->arena;
    int rc = want_map(err, n, "a plot");
    if (rc || (rc = check_keys(a, err, n, keys, "a plot")))
        return rc;
    memset(p, 0, sizeof(*p));
    p->node = n;
    struct lab_node *k = lab_node_get(n, "kind", NULL);
    if (!k)
        return lab_errf(err, n, "a plot needs 'kind: bars|cdf|timeseries|heatmap|sweep'");
    struct lab_value v;
    if ((rc = parse_value(a, err, k, "kind", LAB_ENUM, 1, 0, "bars|cdf|timeseries|heatmap|sweep",
                          &v)))
        return rc;
    for (int i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i], v.text))
            p->kind = (enum lab_plot_kind)i;
    struct lab_node *m = lab_node_get(n, "metric", NULL);
    if (!m)
        return lab_errf(err, n, "a plot needs 'metric: NAME'");
    if ((rc = want_scalar(err, m, "metric")))
        return rc;
    if (!is_ident(m->text))
        return lab_errf(err, m, "'metric' must be a metric name ([a-z0-9_]), got '%s'", m->text);
    p->metric = m->text;
    if ((rc = get_string(err, n, "by", &p->by)) || (rc = get_string(err, n, "x", &p->x)) ||
        (rc = get_string(err, n, "theory", &p->theory)) ||
        (rc = get_string(err, n, "name", &p->name)) ||
        (rc = get_string(err, n, "title", &p->title)) ||
        (rc = get_string(err, n, "stat", &p->stat)) ||
        (rc = get_string(err, n, "xlabel", &p->xlabel)) ||
        (rc = get_string(err, n, "ylabel", &p->ylabel)) ||
        (rc = get_bool(a, err, n, "logx", &p->logx)) ||
        (rc = get_bool(a, err, n, "logy", &p->logy)))
        return rc;
    if (p->by && (rc = check_key(sc, err, lab_node_get(n, "by", NULL), p->by)))
        return rc;
    struct lab_node *r = lab_node_get(n, "range", NULL);
    if (r) {
        struct lab_value lo, hi;
        if (r->kind != LAB_NODE_SEQ || r->n != 2)
            return lab_errf(err, r, "'range' must be [LOW, HIGH]");
        if ((rc = parse_value(a, err, r->items[0], "range", LAB_FLOAT, 1, 0, NULL, &lo)) ||
            (rc = parse_value(a, err, r->items[1], "range", LAB_FLOAT, 1, 0, NULL, &hi)))
            return rc;
        if (!(lo.f < hi.f))
            return lab_errf(err, r, "'range' must be [LOW, HIGH] with LOW < HIGH");
        p->has_range = true;
        p->range_lo = lo.f;
        p->range_hi = hi.f;
    }
    if (p->kind == LAB_PLOT_SWEEP && !p->x)
        return lab_errf(err, n, "a sweep plot needs 'x: KEY' (a sweep key)");
    if (p->x && p->kind != LAB_PLOT_SWEEP)
        return lab_errf(err, lab_node_get(n, "x", NULL), "'x' goes with kind: sweep");
    if (p->x && (rc = check_key(sc, err, lab_node_get(n, "x", NULL), p->x)))
        return rc;
    if (p->theory && p->kind != LAB_PLOT_BARS && p->kind != LAB_PLOT_SWEEP)
        return lab_errf(err, lab_node_get(n, "theory", NULL), "'theory' goes with kind: bars "
                                                              "or sweep");
    if (p->theory && !is_ident(p->theory))
        return lab_errf(err, lab_node_get(n, "theory", NULL), "'theory' must be a metric name");
    if (p->stat) {
        if (p->kind != LAB_PLOT_TIMESERIES)
            return lab_errf(err, lab_node_get(n, "stat", NULL), "'stat' goes with kind: "
                                                                "timeseries");
        if ((rc = parse_value(a, err, lab_node_get(n, "stat", NULL), "stat", LAB_ENUM, 1, 0,
                              "sum|mean|count", &v)))
            return rc;
    }
    if (!p->name)
        p->name = lab_arena_printf(a, "%s-%s", kinds[p->kind], p->metric);
    else if (!is_stem(p->name))
        return lab_errf(err, lab_node_get(n, "name", NULL), "'name' must be a file name stem "
                        "([A-Za-z0-9_.-], not starting with '.'), got '%s'", p->name);
    if ((rc = parse_where(sc, err, lab_node_get(n, "where", NULL), &p->where, &p->nwhere)))
        return rc;
    for (size_t i = 0; i < sc->nruns; i++)
        if (lab_where_match(sc, &sc->runs[i], p->where, p->nwhere))
            return 0;
    if (where_names_world(p->where, p->nwhere))
        return 0;
    return lab_errf(err, lab_node_get(n, "where", NULL), "no run matches this 'where' (check "
                    "the values against the sweep)");
}

static int parse_expr(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      struct lab_expr *e)
{
    static const char *const stats[] = {"max", "min", "sum", "mean", "count", "p50", "p90",
                                        "p99", "p999", NULL};
    memset(e, 0, sizeof(*e));
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
        if (!in_list(stats, s + 1))
            return lab_errf(err, n, "unknown statistic '%s' in '%s' (expected one of: %s)",
                            s + 1, n->text, join(a, stats));
        e->stat = s + 1;
    } else if (*s) {
        goto bad;
    }
    return 0;
bad:
    return lab_errf(err, n, "'%s' is not a metric expression (expected name, name[i] or "
                    "name.stat)", n->text);
}

static int parse_expect(struct lab_scenario *sc, struct lab_err *err, const struct lab_node *n,
                        struct lab_expect *x)
{
    static const char *const keys[] = {"metric", "where", "op", "value", "tol", "why", NULL};
    static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!=", "~", NULL};
    struct lab_arena *a = &sc->arena;
    int rc = want_map(err, n, "an expectation");
    if (rc || (rc = check_keys(a, err, n, keys, "an expectation")))
        return rc;
    memset(x, 0, sizeof(*x));
    x->node = n;
    const char *need[] = {"metric", "op", "value"};
    for (int i = 0; i < 3; i++)
        if (!lab_node_get(n, need[i], NULL))
            return lab_errf(err, n, "an expectation needs '%s'", need[i]);
    struct lab_node *m = lab_node_get(n, "metric", NULL), *op = lab_node_get(n, "op", NULL);
    struct lab_node *val = lab_node_get(n, "value", NULL), *tol = lab_node_get(n, "tol", NULL);
    if ((rc = want_scalar(err, m, "metric")) || (rc = parse_expr(a, err, m, &x->lhs)))
        return rc;
    if ((rc = want_scalar(err, op, "op")))
        return rc;
    int o = -1;
    for (int i = 0; ops[i]; i++)
        if (!strcmp(ops[i], op->text))
            o = i;
    if (o < 0)
        return lab_errf(err, op, "'op' must be one of: %s; got '%s'", join(a, ops), op->text);
    x->op = (enum lab_op)o;
    if ((rc = want_scalar(err, val, "value")))
        return rc;
    int64_t ns;
    if (parse_float(val->text, &x->value)) {
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
        if ((rc = want_scalar(err, tol, "tol")))
            return rc;
        size_t l = strlen(tol->text);
        char *t = lab_arena_strdup(a, tol->text);
        if (l && t[l - 1] == '%') {
            t[l - 1] = 0;
            x->tol_pct = true;
        }
        if (!parse_float(t, &x->tol) || x->tol < 0)
            return lab_errf(err, tol, "'tol' must be a number >= 0 or a percentage like "
                            "\"5%%\", got '%s'", tol->text);
        toltext = tol->text;
    } else if (x->op == LAB_OP_APPROX) {
        return lab_errf(err, op, "op \"~\" needs 'tol: NUMBER' or 'tol: \"N%%\"'");
    }
    x->text = lab_arena_printf(a, "%s %s %s%s%s", m->text, op->text, val->text,
                               tol ? " \xc2\xb1 " : "", toltext);
    if ((rc = get_string(err, n, "why", &x->why)))
        return rc;
    if ((rc = parse_where(sc, err, lab_node_get(n, "where", NULL), &x->where, &x->nwhere)))
        return rc;
    for (size_t i = 0; i < sc->nruns; i++)
        if (lab_where_match(sc, &sc->runs[i], x->where, x->nwhere))
            return 0;
    if (where_names_world(x->where, x->nwhere))
        return 0;
    return lab_errf(err, lab_node_get(n, "where", NULL), "no run matches this 'where' (check "
                    "the values against the sweep)");
}

/* ---- Loading ----------------------------------------------------------------------- */

static int apply_set(struct lab_scenario *sc, struct lab_err *err, const char *set)
{
    struct lab_arena *a = &sc->arena;
    const char *origin = lab_arena_printf(a, "--set %s", set);
    const char *eq = strchr(set, '=');
    struct lab_node where = {.kind = LAB_NODE_SCALAR, .text = "", .origin = origin};
    if (!eq || eq == set)
        return lab_errf(err, &where, "expected key.path=value");
    char *key = lab_arena_strndup(a, set, (size_t)(eq - set));
    for (const char *p = key; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-') ||
            (*p == '.' && (p == key || p[1] == '.' || !p[1])))
            return lab_errf(err, &where, "'%s' is not a key path like workload.clients", key);
    struct lab_node *v = lab_node_parse_string(a, eq + 1, origin, err);
    if (!v)
        return -EINVAL;
    const char **comp;
    size_t n = key_path(a, key, &comp);
    struct lab_node *root = lab_node_with(a, sc->root, comp, n, v, &where, err);
    if (!root)
        return -EINVAL;
    sc->root = root;
    return 0;
}

struct lab_scenario *lab_scenario_load(const char *file, const struct lab_load_opts *opts,
                                       struct lab_err *err)
{
    struct lab_scenario *sc = calloc(1, sizeof(*sc));
    if (!sc) {
        snprintf(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    struct lab_arena *a = &sc->arena;
    sc->file = lab_arena_strdup(a, file);
    sc->world = opts && opts->world ? opts->world : LAB_WORLD_SIM;
    sc->root = lab_node_parse_file(a, file, err);
    if (!sc->root)
        goto fail;
    if (sc->root->kind != LAB_NODE_MAP) {
        lab_errf(err, sc->root, "a scenario is a map of keys (name, workload, ...)");
        goto fail;
    }
    for (size_t i = 0; opts && i < opts->nsets; i++)
        if (apply_set(sc, err, opts->sets[i]))
            goto fail;
    if (opts && opts->has_seed) {
        const char *s = lab_arena_printf(a, "seed=%llu", (unsigned long long)opts->seed);
        if (apply_set(sc, err, s))
            goto fail;
    }
    struct lab_node *root = sc->root, *x, *key;
    if (check_keys(a, err, root, top_keys, ""))
        goto fail;
    if (!(x = lab_node_get(root, "name", NULL))) {
        lab_errf(err, root, "missing required key 'name' (it names results/<name>/)");
        goto fail;
    }
    if (want_scalar(err, x, "name"))
        goto fail;
    if (!is_stem(x->text)) {
        lab_errf(err, x, "'name' must be a file name stem ([A-Za-z0-9_.-], not starting with "
                 "'.'), got '%s'", x->text);
        goto fail;
    }
    sc->name = x->text;
    sc->about = "";
    if ((x = lab_node_get(root, "about", NULL)) && !x->null) {
        if (want_scalar(err, x, "about"))
            goto fail;
        sc->about = x->text;
    }
    sc->repeat = 1;
    if ((x = lab_node_get(root, "repeat", NULL))) {
        struct lab_value v;
        if (parse_value(a, err, x, "repeat", LAB_INT, 1, 100000, NULL, &v))
            goto fail;
        sc->repeat = (int)v.i;
    }
    if (parse_sweep(sc, err, lab_node_get(root, "sweep", &key)))
        goto fail;

    /* Expand the sweep: every point is the tree with its values put in place. */
    size_t npoints = 1;
    for (size_t i = 0; i < sc->nsweep; i++) {
        npoints *= sc->sweep[i].nvalues;
        if (npoints > 1000000) {
            lab_errf(err, sc->sweep[i].key, "the sweep has more than a million points");
            goto fail;
        }
    }
    sc->npoints = npoints;
    sc->points = lab_arena_alloc(a, npoints * sizeof(*sc->points));
    sc->nruns = npoints * (size_t)sc->repeat;
    sc->runs = lab_arena_alloc(a, sc->nruns * sizeof(*sc->runs));
    size_t *idx = lab_arena_alloc(a, (sc->nsweep + 1) * sizeof(*idx));
    for (size_t p = 0; p < npoints; p++) {
        /* idx: the first key is the outermost (slowest) digit. */
        size_t rest = p;
        for (size_t k = sc->nsweep; k-- > 0;) {
            idx[k] = rest % sc->sweep[k].nvalues;
            rest /= sc->sweep[k].nvalues;
        }
        struct lab_node *t = root;
        struct lab_node **vals = lab_arena_alloc(a, (sc->nsweep + 1) * sizeof(*vals));
        for (size_t k = 0; k < sc->nsweep; k++) {
            struct lab_sweep_key *sk = &sc->sweep[k];
            vals[k] = sk->values[idx[k]];
            t = lab_node_with(a, t, sk->path, sk->npath, vals[k], sk->key, err);
            if (!t)
                goto fail;
        }
        struct lab_config *c = lab_arena_alloc(a, sizeof(*c));
        if (parse_config(a, err, t, sc->world, c))
            goto fail;
        sc->points[p] = c;
        for (int r = 0; r < sc->repeat; r++) {
            struct lab_runspec *rs = &sc->runs[p * (size_t)sc->repeat + (size_t)r];
            rs->index = p * (size_t)sc->repeat + (size_t)r;
            rs->point = p;
            rs->cfg = c;
            rs->values = vals;
            rs->repeat = r;
            rs->seed = lab_repeat_seed(c->seed, r);
        }
    }

    if ((x = lab_node_get(root, "plots", NULL)) && !x->null) {
        if (x->kind != LAB_NODE_SEQ) {
            lab_errf(err, x, "'plots' must be a list, like - { kind: cdf, metric: latency }");
            goto fail;
        }
        sc->plots = lab_arena_alloc(a, (x->n + 1) * sizeof(*sc->plots));
        for (size_t i = 0; i < x->n; i++) {
            if (parse_plot(sc, err, x->items[i], &sc->plots[i]))
                goto fail;
            for (size_t j = 0; j < i; j++) {
                if (!strcmp(sc->plots[j].name, sc->plots[i].name)) {
                    lab_errf(err, x->items[i], "two plots are named '%s' (set 'name:')",
                             sc->plots[i].name);
                    goto fail;
                }
            }
            sc->nplots++;
        }
    }
    if ((x = lab_node_get(root, "expect", NULL)) && !x->null) {
        if (x->kind != LAB_NODE_SEQ) {
            lab_errf(err, x, "'expect' must be a list, like - { metric: m, op: \">\", "
                     "value: 0 }");
            goto fail;
        }
        sc->expects = lab_arena_alloc(a, (x->n + 1) * sizeof(*sc->expects));
        for (size_t i = 0; i < x->n; i++) {
            if (parse_expect(sc, err, x->items[i], &sc->expects[i]))
                goto fail;
            sc->nexpects++;
        }
    }
    return sc;
fail:
    lab_scenario_free(sc);
    return NULL;
}

void lab_scenario_free(struct lab_scenario *sc)
{
    if (!sc)
        return;
    lab_arena_free(&sc->arena);
    free(sc);
}

int lab_scenario_peek(struct lab_arena *a, const char *file, const char **name,
                      const char **about, struct lab_err *err)
{
    struct lab_node *root = lab_node_parse_file(a, file, err);
    if (!root)
        return -EINVAL;
    struct lab_node *n = lab_node_get(root, "name", NULL);
    struct lab_node *ab = lab_node_get(root, "about", NULL);
    *name = n && n->kind == LAB_NODE_SCALAR ? n->text : "";
    *about = ab && ab->kind == LAB_NODE_SCALAR ? ab->text : "";
    return 0;
}

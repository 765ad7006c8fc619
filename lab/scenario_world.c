/* scenario_world.c - one sweep point's configuration: seed, duration, `world:` (cores,
 * network, links, clocks, addresses), `workload:` (the primitive and its declared
 * parameters) and `faults:`. Node names are resolved later, when the world exists
 * (lab/simworld.c). */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define DEFAULT_DURATION (60 * SIM_S)

/* Legal values must not make a run that never finishes, nor sums that overflow int64
 * nanoseconds: every time a scenario gives (duration, fault times, clock offsets and
 * steps, latencies) stays within a day, a CPU slice is at least a microsecond, and a
 * simulated run executes at most world.max_events events (the shipped scenarios take at
 * most 8 million in a run). */
#define MAX_TIME (86400 * SIM_S)
#define MIN_SLICE SIM_US
#define DEFAULT_MAX_EVENTS 100000000
static const char why_time[] = "times in a scenario stay within a day, so that no sum of "
                               "them overflows";
static const char why_duration[] = "a run covers at most a day: a simulated run's cost "
                                   "grows with the time it simulates, and a live run takes "
                                   "that time for real";
static const char why_slice[] = "a busy core costs one simulated event per slice, so a "
                                "shorter one makes a second of CPU millions of events; real "
                                "schedulers slice in milliseconds";

/* A duration at n within [min, max]; out of range, the message gives why_low or why_high
 * as the reason. */
static int parse_time(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      const char *what, int64_t min, int64_t max, const char *why_low,
                      const char *why_high, struct lab_value *v)
{
    int rc = lab__parse_value(a, err, n, what, LAB_DURATION, 1, 0, NULL, v);
    if (rc || (v->i >= min && v->i <= max))
        return rc;
    return lab__range_error(err, n, what, LAB_DURATION, (double)min, (double)max,
                            v->i < min ? why_low : why_high);
}

static const char *const world_keys[] = {"cores", "nodes", "slice", "stack", "max_events",
                                         "network", "links",
                                         "clocks", "redis", "etcd", "zookeeper", NULL};

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


/* ---- world ------------------------------------------------------------------------ */

/* The latency distributions a scenario names, by enum sim_dist_kind (Pareto is not one
 * of them), and the keys each takes. */
#define DIST_NAMES "const", "uniform", "lognormal"
static const char *const dist_keys[][4] = {{"dist", "value", NULL},
                                           {"dist", "min", "max", NULL},
                                           {"dist", "median", "p99", NULL}};

static int parse_dist(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                      struct sim_dist *d)
{
    struct lab_value v;
    if (n->kind == LAB_NODE_SCALAR) {
        int rc = parse_time(a, err, n, "latency", 0, MAX_TIME, NULL, why_time, &v);
        if (rc)
            return rc;
        *d = (struct sim_dist){SIM_DIST_CONST, v.i, v.i, 0};
        return 0;
    }
    int rc = lab__want_map(err, n, "'latency'");
    if (rc)
        return rc;
    const char *choices = NAMES_CHOICES(DIST_NAMES);
    struct lab_node *dn = lab_node_get(n, "dist", NULL);
    if (!dn)
        return lab_errf(err, n, "latency needs 'dist: %s'", choices);
    if ((rc = lab__parse_value(a, err, dn, "dist", LAB_ENUM, 1, 0, choices, &v)))
        return rc;
    enum sim_dist_kind kind = (enum sim_dist_kind)v.i;
    const char *const *keys = dist_keys[kind];
    const char *what = lab_arena_printf(a, "latency with dist: %s", v.text);
    if ((rc = lab__check_keys(a, err, n, keys, what)))
        return rc;
    int64_t x[2];
    for (int i = 0; keys[i + 1]; i++) {
        struct lab_node *xn = lab_node_get(n, keys[i + 1], NULL);
        if (!xn)
            return lab_errf(err, n, "%s needs '%s'", what, keys[i + 1]);
        struct lab_value xv;
        if ((rc = parse_time(a, err, xn, keys[i + 1], 0, MAX_TIME, NULL, why_time, &xv)))
            return rc;
        x[i] = xv.i;
    }
    if (kind == SIM_DIST_CONST)
        x[1] = x[0];
    else if (x[1] < x[0])
        return lab_errf(err, lab_node_get(n, keys[2], NULL), "'%s' must be >= '%s'", keys[2],
                        keys[1]);
    *d = (struct sim_dist){kind, x[0], x[1], 0};
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
        if ((rc = parse_time(a, err, jit, "jitter", 0, MAX_TIME, NULL, why_time, &v)))
            return rc;
        if (l->latency.kind != SIM_DIST_CONST)
            return lab_errf(err, jit, "'jitter' goes with a plain latency (like 1ms), not "
                                      "with a distribution");
        int64_t c = l->latency.a;
        l->latency = (struct sim_dist){SIM_DIST_UNIFORM, c > v.i ? c - v.i : 0, c + v.i, 0};
    }
    if (loss) {
        struct lab_value v;
        if ((rc = lab__parse_value(a, err, loss, "loss", LAB_FLOAT, 0, 1, NULL, &v)))
            return rc;
        l->loss = v.f;
    }
    return 0;
}

/* cores, nodes, slice and stack of `world:` (map n) onto *w. */
static int parse_machine(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                         struct lab_world_cfg *w)
{
    struct lab_value v;
    struct lab_node *x;
    int rc;
    if ((x = lab_node_get(n, "cores", NULL))) {
        if ((rc = lab__parse_value(a, err, x, "cores", LAB_INT, 1, 4096, NULL, &v)))
            return rc;
        w->cores = (int)v.i;
    }
    if ((x = lab_node_get(n, "nodes", NULL))) {
        if ((rc = lab__parse_value(a, err, x, "nodes", LAB_INT, 0, 100000, NULL, &v)))
            return rc;
        w->nodes = (int)v.i;
    }
    if ((x = lab_node_get(n, "slice", NULL))) {
        if ((rc = parse_time(a, err, x, "slice", MIN_SLICE, MAX_TIME, why_slice, why_time,
                             &v)))
            return rc;
        w->slice_ns = v.i;
    }
    if ((x = lab_node_get(n, "max_events", NULL))) {
        if ((rc = lab__parse_value(a, err, x, "max_events", LAB_INT, 1, 1e12, NULL, &v)))
            return rc;
        w->max_events = (uint64_t)v.i;
    }
    if ((x = lab_node_get(n, "stack", NULL))) {
        int64_t b;
        if ((rc = lab__want_scalar(err, x, "stack")))
            return rc;
        if (!parse_bytes(x->text, &b))
            return lab_errf(err, x, "'stack' must be a size in bytes (like 65536, 128k, 1M), "
                                    "got '%s'", x->text);
        if (b < 16 * 1024 || b > 1024LL * 1024 * 1024)
            return lab_errf(err, x, "'stack' must be between 16k and 1G, got %s", x->text);
        w->stack = (size_t)b;
    }
    return 0;
}

/* One item of `links:`; its model starts as the network's. */
static int parse_link(struct lab_arena *a, struct lab_err *err, const struct lab_node *ln,
                      const struct sim_link *network, struct lab_link_cfg *l)
{
    static const char *const keys[] = {"from", "to", "latency", "jitter", "loss", "both",
                                       NULL};
    l->node = ln;
    l->link = *network;
    int rc = lab__want_map(err, ln, "a link");
    if (rc || (rc = lab__check_keys(a, err, ln, keys, "a link")))
        return rc;
    const char *ends[2] = {"from", "to"};
    for (int k = 0; k < 2; k++) {
        struct lab_node *e = lab_node_get(ln, ends[k], NULL);
        if (!e)
            return lab_errf(err, ln, "a link needs '%s: NODE'", ends[k]);
        if ((rc = lab__want_scalar(err, e, ends[k])))
            return rc;
        *(k ? &l->to : &l->from) = e->text;
    }
    if ((rc = parse_link_model(a, err, ln, &l->link)))
        return rc;
    struct lab_node *b = lab_node_get(ln, "both", NULL);
    if (b) {
        struct lab_value v;
        if ((rc = lab__parse_value(a, err, b, "both", LAB_BOOL, 1, 0, NULL, &v)))
            return rc;
        l->both = v.b;
    }
    return 0;
}

/* One item of `clocks:`. */
static int parse_clock(struct lab_arena *a, struct lab_err *err, const struct lab_node *cn,
                       struct lab_clock_cfg *c)
{
    static const char *const keys[] = {"node", "offset", "drift", NULL};
    c->node = cn;
    int rc = lab__want_map(err, cn, "a clock");
    if (rc || (rc = lab__check_keys(a, err, cn, keys, "a clock")))
        return rc;
    struct lab_node *nn = lab_node_get(cn, "node", NULL);
    if (!nn)
        return lab_errf(err, cn, "a clock needs 'node: NAME' (or a pattern like 'client-*')");
    if ((rc = lab__want_scalar(err, nn, "node")))
        return rc;
    c->pattern = nn->text;
    struct lab_value v;
    struct lab_node *o = lab_node_get(cn, "offset", NULL);
    if (o) {
        if ((rc = parse_time(a, err, o, "offset", -MAX_TIME, MAX_TIME, why_time, why_time,
                             &v)))
            return rc;
        c->offset = v.i;
    }
    struct lab_node *d = lab_node_get(cn, "drift", NULL);
    if (d) {
        if ((rc = lab__parse_value(a, err, d, "drift", LAB_FLOAT, -99999, 99999, NULL, &v)))
            return rc;
        c->ppm = v.f;
    }
    return 0;
}

/* network, links and clocks of `world:` (map n) onto *w. */
static int parse_network(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                         struct lab_world_cfg *w)
{
    struct lab_node *x;
    int rc;
    if ((x = lab_node_get(n, "network", NULL))) {
        static const char *const keys[] = {"latency", "jitter", "loss", NULL};
        if ((rc = lab__want_map(err, x, "'network'")) ||
            (rc = lab__check_keys(a, err, x, keys, "world.network")) ||
            (rc = parse_link_model(a, err, x, &w->network)))
            return rc;
    }
    if ((x = lab_node_get(n, "links", NULL))) {
        if (x->kind != LAB_NODE_SEQ)
            return lab_errf(err, x, "'links' must be a list of { from, to, latency, ... }");
        w->links = lab_arena_alloc(a, (x->n + 1) * sizeof(*w->links));
        for (size_t i = 0; i < x->n; i++)
            if ((rc = parse_link(a, err, x->items[i], &w->network, &w->links[w->nlinks++])))
                return rc;
    }
    if ((x = lab_node_get(n, "clocks", NULL))) {
        if (x->kind != LAB_NODE_SEQ)
            return lab_errf(err, x, "'clocks' must be a list of { node, offset, drift }");
        w->clocks = lab_arena_alloc(a, (x->n + 1) * sizeof(*w->clocks));
        for (size_t i = 0; i < x->n; i++)
            if ((rc = parse_clock(a, err, x->items[i], &w->clocks[w->nclocks++])))
                return rc;
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
    w->max_events = DEFAULT_MAX_EVENTS;
    if (!n)
        return 0;
    int rc = lab__want_map(err, n, "'world'");
    if (rc || (rc = lab__check_keys(a, err, n, world_keys, "world")) ||
        (rc = parse_machine(a, err, n, w)) || (rc = parse_network(a, err, n, w)))
        return rc;
    const char *addrs[] = {"redis", "etcd", "zookeeper"};
    const char **dst[] = {&w->redis, &w->etcd, &w->zookeeper};
    for (int i = 0; i < 3; i++) {
        struct lab_node *x = lab_node_get(n, addrs[i], NULL);
        if (x) {
            if ((rc = lab__want_scalar(err, x, addrs[i])))
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
        int rc = lab__want_scalar(err, it, "partition");
        if (rc)
            return rc;
        side[i] = it->text;
    }
    *out = side;
    return 0;
}

/* The fault kinds as a scenario writes them, in enum lab_fault_kind order, and the
 * modifiers each takes besides `at:`. */
static const char *const fault_kinds[] = {"crash", "restart", "pause", "clock", "drift",
                                          "partition", NULL};
static const char *const fault_mods[][3] = {{"for", NULL}, {NULL}, {"for", NULL},
                                            {"step", NULL}, {"ppm", NULL}, {"until", "oneway"}};

/* Which kind fault n is (the one kind key it has), and its target. Checks that every
 * other key is `at:` or a modifier of that kind. */
static int fault_kind(struct lab_err *err, const struct lab_node *n, int *kind,
                      struct lab_node **target)
{
    *kind = -1;
    for (int k = 0; fault_kinds[k]; k++) {
        struct lab_node *key, *v = lab_node_get(n, fault_kinds[k], &key);
        if (!v)
            continue;
        if (*kind >= 0)
            return lab_errf(err, key, "a fault has one kind, but this one has both '%s' and "
                                      "'%s'", fault_kinds[*kind], fault_kinds[k]);
        *kind = k;
        *target = v;
    }
    if (*kind < 0)
        return lab_errf(err, n, "a fault needs one of: crash, restart, pause, clock, drift, "
                                "partition");
    return 0;
}

static int check_modifiers(struct lab_err *err, const struct lab_node *n, int kind)
{
    for (size_t i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->text;
        if (!strcmp(k, "at") || lab__in_list(fault_kinds, k))
            continue;
        bool ok = false;
        for (int j = 0; j < 3 && fault_mods[kind][j]; j++)
            ok |= !strcmp(fault_mods[kind][j], k);
        if (!ok)
            return lab_errf(err, n->keys[i], "'%s' does not go with '%s:'", k,
                            fault_kinds[kind]);
    }
    return 0;
}

/* partition: [[a, b], [c]], until: D, oneway: B */
static int parse_partition(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                           const struct lab_node *target, struct lab_fault *f)
{
    if (target->kind != LAB_NODE_SEQ || target->n != 2)
        return lab_errf(err, target, "'partition' takes two sides, like [[a, b], [c]]");
    int rc;
    if ((rc = parse_side(a, err, target->items[0], &f->side_a)) ||
        (rc = parse_side(a, err, target->items[1], &f->side_b)))
        return rc;
    struct lab_value v;
    struct lab_node *u = lab_node_get(n, "until", NULL);
    if (u) {
        if ((rc = parse_time(a, err, u, "until", 0, MAX_TIME, NULL, why_time, &v)))
            return rc;
        if (v.i <= f->at)
            return lab_errf(err, u, "'until' must be later than 'at'");
        f->dur = v.i - f->at;
    }
    struct lab_node *o = lab_node_get(n, "oneway", NULL);
    if (o) {
        if ((rc = lab__parse_value(a, err, o, "oneway", LAB_BOOL, 1, 0, NULL, &v)))
            return rc;
        f->oneway = v.b;
    }
    return 0;
}

/* The modifier of a fault on one node: for (crash, pause), step (clock), ppm (drift). */
static int parse_node_fault(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                            struct lab_fault *f)
{
    struct lab_value v;
    struct lab_node *m;
    int rc = 0;
    switch (f->kind) {
    case LAB_FAULT_PAUSE:
    case LAB_FAULT_CRASH:
        m = lab_node_get(n, "for", NULL);
        if (!m && f->kind == LAB_FAULT_PAUSE)
            return lab_errf(err, n, "'pause' needs 'for: DURATION'");
        if (m && !(rc = parse_time(a, err, m, "for", 1, MAX_TIME, NULL, why_time, &v)))
            f->dur = v.i;
        break;
    case LAB_FAULT_CLOCK_STEP:
        m = lab_node_get(n, "step", NULL);
        if (!m)
            return lab_errf(err, n, "'clock' needs 'step: DURATION' (negative: backwards)");
        if (!(rc = parse_time(a, err, m, "step", -MAX_TIME, MAX_TIME, why_time, why_time,
                              &v)))
            f->step = v.i;
        break;
    case LAB_FAULT_DRIFT:
        m = lab_node_get(n, "ppm", NULL);
        if (!m)
            return lab_errf(err, n, "'drift' needs 'ppm: NUMBER'");
        if (!(rc = lab__parse_value(a, err, m, "ppm", LAB_FLOAT, -99999, 99999, NULL, &v)))
            f->ppm = v.f;
        break;
    default:
        break;
    }
    return rc;
}

static int parse_fault(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                       struct lab_fault *f)
{
    static const char *const keys[] = {"at", "crash", "restart", "pause", "clock", "drift",
                                       "partition", "for", "step", "ppm", "until", "oneway",
                                       NULL};
    int rc = lab__want_map(err, n, "a fault");
    if (rc || (rc = lab__check_keys(a, err, n, keys, "a fault")))
        return rc;
    memset(f, 0, sizeof(*f));
    f->line = n->line;
    f->col = n->col;
    f->dur = -1;
    int kind;
    struct lab_node *target = NULL;
    if ((rc = fault_kind(err, n, &kind, &target)))
        return rc;
    f->kind = (enum lab_fault_kind)kind;
    struct lab_node *at = lab_node_get(n, "at", NULL);
    if (!at)
        return lab_errf(err, n, "a fault needs 'at: DURATION' (when it happens)");
    struct lab_value v;
    if ((rc = parse_time(a, err, at, "at", 0, MAX_TIME, NULL, why_time, &v)))
        return rc;
    f->at = v.i;
    if ((rc = check_modifiers(err, n, kind)))
        return rc;
    if (f->kind == LAB_FAULT_PARTITION)
        return parse_partition(a, err, n, target, f);
    if ((rc = lab__want_scalar(err, target, fault_kinds[kind])))
        return rc;
    f->node = target->text;
    return parse_node_fault(a, err, n, f);
}

/* ---- workload --------------------------------------------------------------------- */

static int parse_workload(struct lab_arena *a, struct lab_err *err, const struct lab_node *root,
                          unsigned world, struct lab_config *c)
{
    struct lab_node *wkey = NULL, *n = lab_node_get(root, "workload", &wkey);
    if (!n)
        return lab_errf(err, root, "missing required key 'workload' (a map with "
                                   "'primitive:' and its parameters)");
    int rc = lab__want_map(err, n, "'workload'");
    if (rc)
        return rc;
    struct lab_node *pkey = NULL, *p = lab_node_get(n, "primitive", &pkey);
    if (!p)
        return lab_errf(err, wkey ? wkey : n, "'workload' needs 'primitive: NAME'");
    if ((rc = lab__want_scalar(err, p, "primitive")))
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
                        cnt ? lab__join(a, names) : "none");
    }
    if (!(wl->worlds & world))
        return lab_errf(err, p, "primitive '%s' does not run in the %s world (it runs in: %s)",
                        wl->name, lab_world_name(world),
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
    if ((rc = lab__check_keys(a, err, n, allowed, what)))
        return rc;
    c->wl = wl;
    c->params = lab_arena_alloc(a, (np + 1) * sizeof(*c->params));
    for (size_t i = 0; i < np; i++) {
        const struct lab_param *pp = &wl->params[i];
        struct lab_node *v = lab_node_get(n, pp->name, NULL);
        if (!v) {
            if (!pp->def)
                return lab_errf(err, wkey ? wkey : n, "missing required key '%s' in %s (%s)",
                                pp->name, what, pp->doc ? pp->doc : lab__type_name(pp->type));
            const char *origin = lab_arena_printf(a, "the default of '%s' in %s", pp->name,
                                                  what);
            v = lab_node_parse_string(a, pp->def, origin, err);
            if (!v)
                return -EINVAL;
        }
        if ((rc = lab__parse_value(a, err, v, pp->name, pp->type, pp->min, pp->max,
                                   pp->choices, &c->params[i])))
            return rc;
    }
    return 0;
}

/* Faults by time, stable (in the order written at equal times): O(n log n), since a
 * scenario may list many. */
struct fault_at {
    struct lab_fault f;
    const struct lab_node *node;
    size_t index;
};

static int by_time(const void *x, const void *y)
{
    const struct fault_at *p = x, *q = y;
    if (p->f.at != q->f.at)
        return p->f.at < q->f.at ? -1 : 1;
    return p->index < q->index ? -1 : p->index > q->index;
}

static void sort_faults(struct lab_arena *a, struct lab_config *c)
{
    struct fault_at *v = lab_arena_alloc(a, (c->nfaults + 1) * sizeof(*v));
    for (size_t i = 0; i < c->nfaults; i++)
        v[i] = (struct fault_at){c->faults[i], c->fault_nodes[i], i};
    qsort(v, c->nfaults, sizeof(*v), by_time);
    for (size_t i = 0; i < c->nfaults; i++) {
        c->faults[i] = v[i].f;
        c->fault_nodes[i] = v[i].node;
    }
}

/* One sweep point: the whole configuration from a (rewritten) tree. */
int lab__parse_config(struct lab_arena *a, struct lab_err *err, const struct lab_node *root,
                      unsigned world, struct lab_config *c)
{
    memset(c, 0, sizeof(*c));
    struct lab_value v;
    int rc;
    struct lab_node *x;
    c->seed = 1;
    if ((x = lab_node_get(root, "seed", NULL))) {
        if ((rc = lab__parse_value(a, err, x, "seed", LAB_INT, 0, 9.2e18, NULL, &v)))
            return rc;
        c->seed = (uint64_t)v.i;
    }
    c->duration = DEFAULT_DURATION;
    if ((x = lab_node_get(root, "duration", NULL))) {
        if ((rc = parse_time(a, err, x, "duration", 1, MAX_TIME, NULL, why_duration, &v)))
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
            c->faults[c->nfaults] = f;
            c->fault_nodes[c->nfaults++] = x->items[i];
        }
        sort_faults(a, c);
    }
    return 0;
}

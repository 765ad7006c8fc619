/* scenario_values.c - a scenario's values, typed: integers, numbers, booleans, durations
 * with units, sizes, enum choices and lists, each checked against its range, and the
 * checks every map of a scenario goes through (known keys, a map, a single value). */
#include "lab/scenario_impl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* ---- Small helpers (the checks on maps are node.h's) ------------------------------- */

bool lab__is_ident(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

bool lab__is_stem(const char *s)
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

bool lab__parse_float(const char *text, double *out)
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


/* Each type as `distlab list -v` shows it, and as an error message names it. */
static const struct {
    const char *word, *phrase;
} types[] = {
    [LAB_INT] = {"int", "an integer"},
    [LAB_FLOAT] = {"float", "a number"},
    [LAB_BOOL] = {"bool", "true or false"},
    [LAB_DURATION] = {"duration", "a duration with a unit (ns, us, ms, s, m)"},
    [LAB_STRING] = {"string", "a string"},
    [LAB_ENUM] = {"enum", "one of the choices"},
    [LAB_LIST] = {"list", "a list"},
};

const char *lab_type_word(enum lab_type t)
{
    return (unsigned)t < sizeof(types) / sizeof(types[0]) ? types[t].word : NULL;
}

const char *lab__type_name(enum lab_type t)
{
    return (unsigned)t < sizeof(types) / sizeof(types[0]) ? types[t].phrase : NULL;
}

/* The worlds by bit: LAB_WORLD_SIM is 1 << 0. */
static const char *const world_names[] = {"sim", "live", NULL};

const char *lab_world_name(unsigned world)
{
    for (int i = 0; world_names[i]; i++)
        if (world == 1u << i)
            return world_names[i];
    return NULL;
}

unsigned lab_world_parse(const char *s)
{
    int i = names_value(world_names, s);
    return i < 0 ? 0 : 1u << i;
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

int lab__range_error(struct lab_err *err, const struct lab_node *n, const char *what,
                     enum lab_type t, double min, double max, const char *why)
{
    char lo[64], hi[64];
    fmt_range_value(lo, sizeof(lo), t, min);
    fmt_range_value(hi, sizeof(hi), t, max);
    if (max >= 9e18 || isinf(max))
        return lab_errf(err, n, "'%s' must be at least %s, got %s%s%s%s", what, lo, n->text,
                        why ? " (" : "", why ? why : "", why ? ")" : "");
    return lab_errf(err, n, "'%s' must be between %s and %s, got %s%s%s%s", what, lo, hi,
                    n->text, why ? " (" : "", why ? why : "", why ? ")" : "");
}

static int range_error(struct lab_err *err, const struct lab_node *n, const char *what,
                       enum lab_type t, double min, double max)
{
    return lab__range_error(err, n, what, t, min, max, NULL);
}

/* Parse node n as type t into v (choices for LAB_ENUM, range when min <= max). */
int lab__parse_value(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                     const char *what, enum lab_type t, double min, double max, const char *choices,
                     struct lab_value *v)
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
            v->fitems[i] = lab__parse_float(it->text, &d) ? d : NAN;
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
    int rc = lab__want_scalar(err, n, what);
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
        if (!lab__parse_float(n->text, &v->f))
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
            return lab_errf(err, n, "'%s' must be %s, got '%s'", what, lab__type_name(t), n->text);
        v->f = (double)v->i;
        break;
    case LAB_STRING:
        break;
    case LAB_ENUM: {
        const char *c = choices ? choices : "";
        size_t len = strlen(n->text);
        bool ok = false;
        for (const char *p = c; *p && !ok; v->i++) {
            const char *bar = strchr(p, '|');
            size_t l = bar ? (size_t)(bar - p) : strlen(p);
            if (l == len && !strncmp(p, n->text, len))
                ok = true;
            p += l + (bar != NULL);
        }
        v->i -= ok;
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


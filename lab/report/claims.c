/* claims.c - the claims file (scenarios/claims/seed.yaml): every claim of the seed in our
 * words, the scenarios and expectations that decide it, its verdict rule and the
 * numbers its text quotes. Checked like a scenario: unknown keys, wrong types and
 * dangling {names} are errors at file:line:col. */
#include "lab/report/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static const char *const verdict_names[] = {REP_VERDICT_NAMES, NULL};

const char *rep_verdict_label(enum rep_verdict v)
{
    static const char *const l[] = {"confirmed", "refuted", "holds with a correction", "undecided",
                                    "not yet measured"};
    return v <= REP_UNMEASURED ? l[v] : "?";
}

const char *rep_verdict_class(enum rep_verdict v)
{
    static const char *const c[] = {"confirmed", "refuted", "corrected", "undecided", "unmeasured"};
    return v <= REP_UNMEASURED ? c[v] : "unmeasured";
}

const char *rep_verdict_mark(enum rep_verdict v)
{
    static const char *const m[] = {"\u2714", "\u2718", "\u2248", "?", "\u2026"};
    return v <= REP_UNMEASURED ? m[v] : "";
}

/* A scalar's text, or an error. */
static int text_of(struct lab_err *err, const struct lab_node *n, const char *what,
                   const char **out)
{
    int rc = lab_node_want_scalar(err, n, what);
    if (!rc)
        *out = n->text;
    return rc;
}

static int want_seq(struct lab_err *err, const struct lab_node *n, const char *what)
{
    if (n->kind != LAB_NODE_SEQ)
        return lab_errf(err, n, "'%s' must be a list", what);
    return 0;
}

/* A claim's id: [a-z0-9-]+. */
static bool is_id(const char *s)
{
    return *s && !s[strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-")];
}

/* A scenario's name: [A-Za-z0-9_.-]+, not starting with '.'. */
static bool is_scenario_name(const char *s)
{
    return *s && *s != '.' &&
           !s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")];
}

static int parse_scenario_name(struct lab_err *err, const struct lab_node *n, const char **out)
{
    int rc = text_of(err, n, "scenario", out);
    if (!rc && !is_scenario_name(*out))
        rc = lab_errf(err, n, "'%s' is not a scenario name ([A-Za-z0-9_.-])", *out);
    return rc;
}

static int parse_where(struct lab_err *err, const struct lab_node *n)
{
    return lab_node_want_map(err, n, "where");
}

/* ---- evidence: ------------------------------------------------------------------- */

static int parse_select(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                        struct rep_select *s)
{
    static const char *const keys[] = {"metric", "where", NULL};
    int rc = lab_node_want_map(err, n, "an expectation to select");
    if (!rc)
        rc = lab_node_check_keys(a, err, n, keys, "expect");
    if (rc)
        return rc;
    s->node = n;
    const struct lab_node *m = lab_node_get(n, "metric", NULL);
    if (!m)
        return lab_errf(err, n, "an expectation to select needs 'metric'");
    if ((rc = text_of(err, m, "metric", &s->metric)))
        return rc;
    if ((s->where = lab_node_get(n, "where", NULL)))
        rc = parse_where(err, s->where);
    return rc;
}

static int parse_evidence(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                          struct rep_evidence *e)
{
    static const char *const keys[] = {"scenario", "expect", "plots", NULL};
    int rc = lab_node_want_map(err, n, "evidence");
    if (!rc)
        rc = lab_node_check_keys(a, err, n, keys, "evidence");
    if (rc)
        return rc;
    e->node = n;
    const struct lab_node *x = lab_node_get(n, "scenario", NULL);
    if (!x)
        return lab_errf(err, n, "evidence needs 'scenario'");
    if ((rc = parse_scenario_name(err, x, &e->scenario)))
        return rc;
    if ((x = lab_node_get(n, "expect", NULL))) {
        if ((rc = want_seq(err, x, "expect")))
            return rc;
        if (!x->n)
            return lab_errf(err, x,
                            "'expect' selects nothing: leave it out to take every "
                            "expectation of the scenario");
        e->nsel = x->n;
        e->sel = lab_arena_alloc(a, x->n * sizeof(*e->sel));
        for (size_t i = 0; i < x->n && !rc; i++)
            rc = parse_select(a, err, x->items[i], &e->sel[i]);
    }
    e->all_plots = true;
    if (!rc && (x = lab_node_get(n, "plots", NULL))) {
        if ((rc = want_seq(err, x, "plots")))
            return rc;
        e->all_plots = false;
        e->nplots = x->n;
        e->plots = lab_arena_alloc(a, (x->n + 1) * sizeof(*e->plots));
        for (size_t i = 0; i < x->n && !rc; i++)
            rc = text_of(err, x->items[i], "plot", &e->plots[i]);
    }
    return rc;
}

/* ---- numbers: -------------------------------------------------------------------- */

static int parse_number(struct lab_arena *a, struct lab_err *err, const struct lab_node *key,
                        const struct lab_node *n, struct rep_number *num)
{
    static const char *const keys[] = {"scenario", "metric", "where", "scale",
                                       "digits",   "unit",   NULL};
    int rc = lab_node_want_map(err, n, "a number");
    if (!rc)
        rc = lab_node_check_keys(a, err, n, keys, "a number");
    if (rc)
        return rc;
    num->name = key->text;
    num->node = n;
    num->scale = 1;
    num->digits = 3;
    num->unit = "";
    if (!*num->name || num->name[strspn(num->name, "abcdefghijklmnopqrstuvwxyz0123456789_")])
        return lab_errf(err, key, "a number's name is made of [a-z0-9_], got '%s'", num->name);
    const struct lab_node *s = lab_node_get(n, "scenario", NULL);
    const struct lab_node *m = lab_node_get(n, "metric", NULL);
    if (!s || !m)
        return lab_errf(err, n, "a number needs 'scenario' and 'metric'");
    if ((rc = parse_scenario_name(err, s, &num->scenario)) ||
        (rc = text_of(err, m, "metric", &num->metric)))
        return rc;
    if ((num->where = lab_node_get(n, "where", NULL)) && (rc = parse_where(err, num->where)))
        return rc;
    const struct lab_node *x;
    char *end;
    if ((x = lab_node_get(n, "scale", NULL))) {
        if ((rc = lab_node_want_scalar(err, x, "scale")))
            return rc;
        num->scale = strtod(x->text, &end);
        if (*end || !isfinite(num->scale) || num->scale == 0)
            return lab_errf(err, x, "'scale' must be a number other than 0, got '%s'", x->text);
    }
    if ((x = lab_node_get(n, "digits", NULL))) {
        if ((rc = lab_node_want_scalar(err, x, "digits")))
            return rc;
        long d = strtol(x->text, &end, 10);
        if (*end || d < 1 || d > 15)
            return lab_errf(err, x, "'digits' must be 1 to 15, got '%s'", x->text);
        num->digits = (int)d;
    }
    if ((x = lab_node_get(n, "unit", NULL)))
        rc = text_of(err, x, "unit", &num->unit);
    return rc;
}

/* Every {name} in text must be one of c's numbers. */
static int check_placeholders(struct lab_err *err, const struct lab_node *at, const char *text,
                              const struct rep_claim *c)
{
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        const char *e = strchr(p, '}');
        if (!e)
            return lab_errf(err, at, "a '{' without its '}'");
        size_t len = (size_t)(e - p - 1);
        bool found = false;
        for (size_t i = 0; i < c->nnum && !found; i++)
            found = strlen(c->num[i].name) == len && !strncmp(c->num[i].name, p + 1, len);
        if (!found)
            return lab_errf(err, at, "{%.*s} is none of this claim's numbers", (int)len, p + 1);
    }
    return 0;
}

/* ---- A claim --------------------------------------------------------------------- */

static int parse_verdict(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                         struct rep_claim *c)
{
    static const char *const keys[] = {"pass", "fail", "correction", NULL};
    c->pass = REP_CONFIRMED;
    c->fail = REP_REFUTED;
    if (!n)
        return 0;
    int rc = lab_node_want_map(err, n, "verdict");
    if (!rc)
        rc = lab_node_check_keys(a, err, n, keys, "verdict");
    const struct lab_node *x;
    for (int k = 0; k < 2 && !rc; k++) {
        if (!(x = lab_node_get(n, k ? "fail" : "pass", NULL)))
            continue;
        if ((rc = lab_node_want_scalar(err, x, k ? "fail" : "pass")))
            break;
        int v = names_value(verdict_names, x->text);
        if (v < 0 || (k && v != REP_REFUTED && v != REP_UNDECIDED) || (!k && v == REP_UNDECIDED))
            rc = lab_errf(err, x, "'%s' must be %s, got '%s'", k ? "fail" : "pass",
                          k ? "refuted or undecided" : "confirmed, refuted or corrected", x->text);
        else if (k)
            c->fail = (enum rep_verdict)v;
        else
            c->pass = (enum rep_verdict)v;
    }
    if (!rc && !lab_node_get(n, "fail", NULL) && c->pass != REP_CONFIRMED)
        c->fail = REP_UNDECIDED; /* a refutation or correction that did not hold */
    if (!rc && (x = lab_node_get(n, "correction", NULL)))
        rc = text_of(err, x, "correction", &c->correction);
    if (!rc && c->pass == REP_CORRECTED && !c->correction)
        rc = lab_errf(err, n,
                      "a claim that holds with a correction says the correction "
                      "('correction:', with its numbers)");
    return rc;
}

static int parse_claim(struct lab_arena *a, struct lab_err *err, const struct lab_node *n,
                       struct rep_claim *c)
{
    static const char *const keys[] = {"id",      "seed",     "title",   "claim", "note",
                                       "verdict", "evidence", "numbers", NULL};
    static const char *const texts[] = {"id", "seed", "title", "claim"};
    int rc = lab_node_want_map(err, n, "a claim");
    if (!rc)
        rc = lab_node_check_keys(a, err, n, keys, "a claim");
    const char **dst[] = {&c->id, &c->seed, &c->title, &c->claim};
    c->node = n;
    for (size_t k = 0; k < 4 && !rc; k++) {
        const struct lab_node *x = lab_node_get(n, texts[k], NULL);
        rc = x ? text_of(err, x, texts[k], dst[k])
               : lab_errf(err, n, "a claim needs '%s'", texts[k]);
    }
    if (!rc && !is_id(c->id))
        rc = lab_errf(err, lab_node_get(n, "id", NULL), "a claim's id is made of [a-z0-9-]");
    const struct lab_node *x;
    if (!rc && (x = lab_node_get(n, "note", NULL)))
        rc = text_of(err, x, "note", &c->note);
    if (!rc && (x = lab_node_get(n, "numbers", NULL)) &&
        !(rc = lab_node_want_map(err, x, "numbers"))) {
        c->nnum = x->n;
        c->num = lab_arena_alloc(a, (x->n + 1) * sizeof(*c->num));
        for (size_t i = 0; i < x->n && !rc; i++)
            rc = parse_number(a, err, x->keys[i], x->items[i], &c->num[i]);
    }
    if (!rc && (x = lab_node_get(n, "evidence", NULL)) && !(rc = want_seq(err, x, "evidence"))) {
        c->nev = x->n;
        c->ev = lab_arena_alloc(a, (x->n + 1) * sizeof(*c->ev));
        for (size_t i = 0; i < x->n && !rc; i++)
            rc = parse_evidence(a, err, x->items[i], &c->ev[i]);
    }
    if (!rc)
        rc = parse_verdict(a, err, lab_node_get(n, "verdict", NULL), c);
    if (!rc && c->correction)
        rc = check_placeholders(err,
                                lab_node_get(lab_node_get(n, "verdict", NULL), "correction", NULL),
                                c->correction, c);
    if (!rc && c->note)
        rc = check_placeholders(err, lab_node_get(n, "note", NULL), c->note, c);
    return rc;
}

int rep_claims_load(struct rep_claims *cl, const char *file, struct lab_err *err)
{
    static const char *const keys[] = {"title", "about", "claims", NULL};
    memset(cl, 0, sizeof(*cl));
    struct lab_arena *a = &cl->arena;
    cl->file = lab_arena_strdup(a, file);
    const struct lab_node *root = lab_node_parse_file(a, file, err), *x;
    if (!root)
        return -EINVAL;
    int rc = lab_node_want_map(err, root, "a claims file");
    if (!rc)
        rc = lab_node_check_keys(a, err, root, keys, "");
    cl->title = "Claims, measured";
    cl->about = "";
    if (!rc && (x = lab_node_get(root, "title", NULL)))
        rc = text_of(err, x, "title", &cl->title);
    if (!rc && (x = lab_node_get(root, "about", NULL)))
        rc = text_of(err, x, "about", &cl->about);
    if (!rc && !(x = lab_node_get(root, "claims", NULL)))
        rc = lab_errf(err, root, "a claims file needs 'claims', the list of claims");
    if (!rc && !(rc = want_seq(err, x, "claims"))) {
        cl->n = x->n;
        cl->c = lab_arena_alloc(a, (x->n + 1) * sizeof(*cl->c));
        for (size_t i = 0; i < x->n && !rc; i++) {
            rc = parse_claim(a, err, x->items[i], &cl->c[i]);
            for (size_t j = 0; j < i && !rc; j++)
                if (!strcmp(cl->c[j].id, cl->c[i].id))
                    rc = lab_errf(err, lab_node_get(x->items[i], "id", NULL),
                                  "claim id '%s' is used twice", cl->c[i].id);
        }
    }
    if (rc) {
        lab_arena_free(a);
        memset(cl, 0, sizeof(*cl));
    }
    return rc;
}

void rep_claims_free(struct rep_claims *cl)
{
    lab_arena_free(&cl->arena);
    memset(cl, 0, sizeof(*cl));
}

/* run.c - what a workload can ask of its run (lab.h): parameters, identity, faults,
 * metrics, notes, failure and progress. The workload's misuse (an undeclared parameter,
 * a bad metric name) fails the run with a message rather than crashing it. */
#include "lab/run.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/hist.h"
#include "lab/series.h"

/* The one way a run fails: the first failure is the cause, so later ones are dropped.
 * 'what' (may be NULL) goes between the file name and the message. */
static void vfail(struct lab_run *run, int status, const char *what, const char *fmt,
                  va_list ap)
{
    if (run->fail)
        return;
    char *msg = lab_xvprintf(fmt, ap);
    size_t len = strlen(run->sc->file) + (what ? strlen(what) : 0) + strlen(msg) + 4;
    run->fail = lab_xmalloc(len);
    snprintf(run->fail, len, "%s: %s%s", run->sc->file, what ? what : "", msg);
    run->status = status;
    free(msg);
}

/* The workload misused lab.h (an undeclared parameter, a bad metric name): it goes on
 * with a harmless value, and the run fails with the misuse as its cause. */
static void bug(struct lab_run *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bug(struct lab_run *run, const char *fmt, ...)
{
    char what[128];
    snprintf(what, sizeof(what), "internal error in workload '%s': ",
             run->spec->cfg->wl->name);
    va_list ap;
    va_start(ap, fmt);
    vfail(run, LAB_EXIT_INPUT, what, fmt, ap);
    va_end(ap);
}

static void fail_plain(struct lab_run *run, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_plain(struct lab_run *run, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(run, status, NULL, fmt, ap);
    va_end(ap);
}

void lab_run_init(struct lab_run *run, const struct lab_scenario *sc,
                  const struct lab_runspec *spec, unsigned world)
{
    memset(run, 0, sizeof(*run));
    run->sc = sc;
    run->spec = spec;
    run->world = world;
}

int lab_run_exec(struct lab_run *run)
{
    const struct lab_workload *wl = run->spec->cfg->wl;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = wl->run(run);
    lab__sim_end(run);
    lab__live_end(run);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    run->wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rc > 0)
        rc = -EINVAL;
    if (rc < 0)
        fail_plain(run, 0, "workload '%s' failed: %s", wl->name, strerror(-rc));
    if (!run->fail)
        return 0;
    /* A misuse, bad input at a node, or lab_fail with a return of 0: -EINVAL. */
    if (run->status == LAB_EXIT_INPUT || rc == 0)
        rc = -EINVAL;
    /* Otherwise the workload's errno decides (err.h). */
    if (run->status == 0)
        run->status = lab_status_of_errno(rc);
    return rc;
}

int lab_run_precheck(struct lab_run *run)
{
    if (run->world != LAB_WORLD_SIM)
        return 0;
    run->checking = true;
    int rc = run->spec->cfg->wl->run(run);
    lab__sim_end(run);
    if (rc == LAB_CHECKED || rc > 0)
        rc = 0; /* built and resolved (or a computation without a world: done) */
    if (rc < 0 && !run->fail)
        fail_plain(run, 0, "workload '%s' failed: %s", run->spec->cfg->wl->name,
                   strerror(-rc));
    if (!run->fail)
        return 0;
    if (run->status == 0) /* lab_fail: the workload's errno decides, as in a run */
        run->status = rc == 0 ? LAB_EXIT_INPUT : lab_status_of_errno(rc);
    return rc < 0 ? rc : -EINVAL;
}

void lab_run_cleanup(struct lab_run *run)
{
    lab__sim_end(run);
    lab__live_end(run);
    for (size_t i = 0; i < run->nmetrics; i++) {
        struct lab_metric *m = &run->metrics[i];
        free(m->name);
        free(m->unit);
        free(m->v);
        hist_destroy(m->hist);
        series_destroy(m->series);
    }
    free(run->metrics);
    for (size_t i = 0; i < run->nnotes; i++)
        free(run->notes[i]);
    free(run->notes);
    for (size_t i = 0; i < run->ntexts; i++) {
        free(run->texts[i].name);
        free(run->texts[i].text);
        free(run->texts[i].header);
    }
    free(run->texts);
    for (size_t i = 0; i < run->nchecks; i++)
        free(run->checks[i].message);
    free(run->checks);
    free(run->fail);
    free(run->skipped);
    memset(run, 0, sizeof(*run));
}

const struct lab_workload *lab_workload_find(const char *name)
{
    for (size_t i = 0; lab_workloads[i]; i++)
        if (!strcmp(lab_workloads[i]->name, name))
            return lab_workloads[i];
    return NULL;
}

/* ---- Parameters ------------------------------------------------------------------- */

static const struct lab_value *param(struct lab_run *run, const char *name, const char *want)
{
    const struct lab_config *c = run->spec->cfg;
    for (size_t i = 0; c->wl->params && c->wl->params[i].name; i++)
        if (!strcmp(c->wl->params[i].name, name))
            return &c->params[i];
    bug(run, "%s(\"%s\"): the workload declares no parameter '%s'", want, name, name);
    return NULL;
}

static bool typed(struct lab_run *run, const struct lab_value *v, const char *fn,
                  const char *name, unsigned mask)
{
    if (!v)
        return false;
    if (mask & (1u << v->type))
        return true;
    bug(run, "%s(\"%s\"): the parameter has another type", fn, name);
    return false;
}

int64_t lab_int(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_int");
    return typed(run, v, "lab_int", name, 1u << LAB_INT) ? v->i : 0;
}

double lab_float(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_float");
    unsigned ok = 1u << LAB_INT | 1u << LAB_FLOAT | 1u << LAB_DURATION;
    return typed(run, v, "lab_float", name, ok) ? v->f : 0;
}

bool lab_bool(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_bool");
    return typed(run, v, "lab_bool", name, 1u << LAB_BOOL) ? v->b : false;
}

int64_t lab_duration(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_duration");
    return typed(run, v, "lab_duration", name, 1u << LAB_DURATION) ? v->i : 0;
}

const char *lab_str(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_str");
    return v ? v->text : "";
}

int lab_enum(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_enum");
    return typed(run, v, "lab_enum", name, 1u << LAB_ENUM) ? (int)v->i : 0;
}

size_t lab_list_len(struct lab_run *run, const char *name)
{
    const struct lab_value *v = param(run, name, "lab_list_len");
    return typed(run, v, "lab_list_len", name, 1u << LAB_LIST) ? v->n : 0;
}

double lab_list_float(struct lab_run *run, const char *name, size_t i)
{
    const struct lab_value *v = param(run, name, "lab_list_float");
    if (!typed(run, v, "lab_list_float", name, 1u << LAB_LIST))
        return 0;
    if (i >= v->n || isnan(v->fitems[i])) {
        bug(run, "lab_list_float(\"%s\", %zu): %s", name, i,
            i >= v->n ? "past the end" : "not a number");
        return 0;
    }
    return v->fitems[i];
}

const char *lab_list_str(struct lab_run *run, const char *name, size_t i)
{
    const struct lab_value *v = param(run, name, "lab_list_str");
    if (!typed(run, v, "lab_list_str", name, 1u << LAB_LIST))
        return "";
    if (i >= v->n) {
        bug(run, "lab_list_str(\"%s\", %zu): past the end", name, i);
        return "";
    }
    return v->items[i];
}

bool lab_checking(const struct lab_run *run)
{
    return run->checking;
}

uint64_t lab_seed(struct lab_run *run)
{
    return run->spec->seed;
}

unsigned lab_world(struct lab_run *run)
{
    return run->world;
}

int64_t lab_duration_total(struct lab_run *run)
{
    return run->spec->cfg->duration;
}

size_t lab_run_index(struct lab_run *run)
{
    return run->spec->index;
}

const char *lab_scenario_name(struct lab_run *run)
{
    return run->sc->name;
}

int lab_world_cores(struct lab_run *run)
{
    return run->spec->cfg->world.cores;
}

int lab_world_nodes(struct lab_run *run)
{
    return run->spec->cfg->world.nodes;
}

const char *lab_world_str(struct lab_run *run, const char *key)
{
    const struct lab_world_cfg *w = &run->spec->cfg->world;
    if (!strcmp(key, "redis"))
        return w->redis;
    if (!strcmp(key, "etcd"))
        return w->etcd;
    if (!strcmp(key, "zookeeper"))
        return w->zookeeper;
    bug(run, "lab_world_str(\"%s\"): not a world address (redis, etcd, zookeeper)", key);
    return NULL;
}

size_t lab_fault_count(struct lab_run *run)
{
    return run->spec->cfg->nfaults;
}

const struct lab_fault *lab_fault_get(struct lab_run *run, size_t i)
{
    if (i >= run->spec->cfg->nfaults) {
        bug(run, "lab_fault_get(%zu): there are %zu faults", i, run->spec->cfg->nfaults);
        return NULL;
    }
    return &run->spec->cfg->faults[i];
}

/* ---- Metrics ---------------------------------------------------------------------- */

static bool metric_name_ok(const char *name)
{
    if (!*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

const struct lab_metric *lab_run_metric(const struct lab_run *run, const char *name)
{
    for (size_t i = 0; i < run->nmetrics; i++)
        if (!strcmp(run->metrics[i].name, name))
            return &run->metrics[i];
    return NULL;
}

/* The metric 'name' of 'kind', created if new. NULL (and a bug recorded) on a bad name
 * or a name already used for another kind. */
static struct lab_metric *metric(struct lab_run *run, const char *name, enum lab_metric_kind k)
{
    if (!metric_name_ok(name)) {
        bug(run, "metric name '%s' is not made of [a-z0-9_]", name);
        return NULL;
    }
    struct lab_metric *m = (struct lab_metric *)lab_run_metric(run, name);
    if (m) {
        if (m->kind != k) {
            bug(run, "metric '%s' recorded as two different kinds", name);
            return NULL;
        }
        return m;
    }
    if (run->nmetrics == run->capm) {
        run->capm = run->capm ? run->capm * 2 : 16;
        run->metrics = lab_xrealloc(run->metrics, run->capm * sizeof(*run->metrics));
    }
    m = &run->metrics[run->nmetrics++];
    memset(m, 0, sizeof(*m));
    m->name = lab_xstrdup(name);
    m->kind = k;
    return m;
}

void lab_metric(struct lab_run *run, const char *name, double value)
{
    struct lab_metric *m = metric(run, name, LAB_M_SCALAR);
    if (m)
        m->scalar = value;
}

void lab_metric_array(struct lab_run *run, const char *name, const double *v, size_t n)
{
    struct lab_metric *m = metric(run, name, LAB_M_ARRAY);
    if (!m)
        return;
    free(m->v);
    m->v = lab_xmalloc(n * sizeof(double));
    if (n)
        memcpy(m->v, v, n * sizeof(double));
    m->n = n;
}

void lab_metric_matrix(struct lab_run *run, const char *name, const double *v, size_t rows,
                       size_t cols)
{
    struct lab_metric *m = metric(run, name, LAB_M_MATRIX);
    if (!m)
        return;
    free(m->v);
    m->v = lab_xmalloc(rows * cols * sizeof(double));
    if (rows && cols)
        memcpy(m->v, v, rows * cols * sizeof(double));
    m->n = rows * cols;
    m->rows = rows;
    m->cols = cols;
}

/* Handed out when the workload misuses a name, so it can go on without crashing; the
 * run fails afterwards. One per thread of runs. */
static _Thread_local struct hist *scratch_hist;
static _Thread_local struct series *scratch_series;

struct hist *lab_hist(struct lab_run *run, const char *name, const char *unit)
{
    struct lab_metric *m = metric(run, name, LAB_M_HIST);
    if (!m) {
        if (!scratch_hist && !(scratch_hist = hist_create()))
            abort();
        return scratch_hist;
    }
    if (!m->hist) {
        m->hist = hist_create();
        if (!m->hist) {
            fputs("distlab: out of memory\n", stderr);
            abort();
        }
        m->unit = lab_xstrdup(unit ? unit : "");
    }
    return m->hist;
}

struct series *lab_series(struct lab_run *run, const char *name, int64_t bin_ns,
                          const char *unit)
{
    struct lab_metric *m = bin_ns > 0 ? metric(run, name, LAB_M_SERIES) : NULL;
    if (bin_ns <= 0)
        bug(run, "lab_series(\"%s\"): bin_ns must be > 0", name);
    if (m && m->series && series_bin_ns(m->series) != bin_ns) {
        bug(run, "lab_series(\"%s\"): asked again with another bin", name);
        m = NULL;
    }
    if (!m) {
        if (!scratch_series && !(scratch_series = series_create(1000000)))
            abort();
        return scratch_series;
    }
    if (!m->series) {
        m->series = series_create(bin_ns);
        if (!m->series) {
            fputs("distlab: out of memory\n", stderr);
            abort();
        }
        m->unit = lab_xstrdup(unit ? unit : "");
    }
    return m->series;
}

void lab_note(struct lab_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    run->notes = lab_xrealloc(run->notes, (run->nnotes + 1) * sizeof(*run->notes));
    run->notes[run->nnotes++] = s;
}

void lab_skip(struct lab_run *run, const char *key, const char *fmt, ...)
{
    if (run->skipped)
        return;
    if (run->nmetrics) {
        bug(run, "lab_skip after metrics were recorded");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *why = lab_xvprintf(fmt, ap);
    va_end(ap);
    const struct lab_scenario *sc = run->sc;
    const struct lab_config *c = run->spec->cfg;
    const struct lab_node *at = NULL;
    for (size_t k = 0; key && k < sc->nsweep && !at; k++)
        if (!strcmp(sc->sweep[k].name, key))
            at = run->spec->values[k];
    for (size_t i = 0; key && !at && c->wl->params && c->wl->params[i].name; i++)
        if (!strcmp(c->wl->params[i].name, key))
            at = c->params[i].node;
    const char *val = key ? lab_run_key_text(sc, run->spec, key) : NULL;
    struct lab_err e;
    if (at && at->line > 0)
        lab_errf(&e, at, "%s=%s skipped: %s", key, val ? val : "?", why);
    else if (key)
        snprintf(e.msg, sizeof(e.msg), "%s: %s=%s skipped: %s", sc->file, key, val ? val : "?",
                 why);
    else
        snprintf(e.msg, sizeof(e.msg), "%s: run skipped: %s", sc->file, why);
    free(why);
    run->skipped = lab_xstrdup(e.msg);
}

/* A file name for lab_text: [A-Za-z0-9_.-], not empty, not "." or "..". */
static bool text_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 200 || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            return false;
    return true;
}

void lab_text(struct lab_run *run, const char *name, const char *fmt, ...)
{
    if (!text_name_ok(name)) {
        bug(run, "lab_text: '%s' is not a file name of [A-Za-z0-9_.-]", name ? name : "");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    size_t i = 0;
    while (i < run->ntexts && strcmp(run->texts[i].name, name))
        i++;
    if (i == run->ntexts) {
        run->texts = lab_xrealloc(run->texts, (run->ntexts + 1) * sizeof(*run->texts));
        run->texts[run->ntexts++] = (struct lab_text){lab_xstrdup(name), s, NULL};
        return;
    }
    size_t a = strlen(run->texts[i].text), b = strlen(s);
    run->texts[i].text = lab_xrealloc(run->texts[i].text, a + b + 1);
    memcpy(run->texts[i].text + a, s, b + 1);
    free(s);
}

void lab_table(struct lab_run *run, const char *name, const char *header, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    lab_text(run, name, "%s", s);
    free(s);
    for (size_t i = 0; i < run->ntexts; i++)
        if (!strcmp(run->texts[i].name, name) && !run->texts[i].header)
            run->texts[i].header = lab_xstrdup(header);
}

int lab_run_as(struct lab_run *run, const struct lab_workload *wl, const char *const *set,
               const struct lab_fault *faults, size_t nfaults, const char *at)
{
    const struct lab_value *where = param(run, at, "lab_run_as");
    if (!where)
        return -EINVAL;
    if (!(wl->worlds & run->world))
        return lab__fail_at(run, where->node, "workload '%s' does not run in the %s world",
                            wl->name, lab_world_name(run->world));
    struct lab_arena a = {0};
    struct lab_err err;
    struct lab_config cfg;
    int rc = lab__config_as(&a, &err, run->spec->cfg, wl, set, faults, nfaults, where->node,
                            &cfg);
    if (rc) {
        if (!run->fail) {
            run->fail = lab_xstrdup(err.msg);
            run->status = err.status;
        }
        lab_arena_free(&a);
        return -EINVAL;
    }
    const struct lab_runspec *outer = run->spec;
    struct lab_runspec spec = *outer;
    spec.cfg = &cfg;
    run->spec = &spec;
    rc = wl->run(run);
    run->spec = outer;
    lab_arena_free(&a);
    return rc;
}

bool lab_metric_get(struct lab_run *run, const char *name, double *out)
{
    const struct lab_metric *m = lab_run_metric(run, name);
    if (!m || m->kind != LAB_M_SCALAR)
        return false;
    *out = m->scalar;
    return true;
}

void lab_fail(struct lab_run *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(run, 0, NULL, fmt, ap); /* the status comes from what the workload returns */
    va_end(ap);
}

/* The run's first failure: bad input at node 'at'. Returns -EINVAL. */
static int vfail_at(struct lab_run *run, const struct lab_node *at, const char *fmt, va_list ap)
{
    if (run->fail)
        return -EINVAL;
    struct lab_err err;
    lab_verrf(&err, at, fmt, ap);
    run->fail = lab_xstrdup(err.msg);
    run->status = err.status;
    return -EINVAL;
}

int lab__fail_at(struct lab_run *run, const struct lab_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail_at(run, at, fmt, ap);
    va_end(ap);
    return rc;
}

int lab_fail_param(struct lab_run *run, const char *name, const char *fmt, ...)
{
    const struct lab_value *v = param(run, name, "lab_fail_param");
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail_at(run, v ? v->node : NULL, fmt, ap);
    va_end(ap);
    return rc;
}

void lab_progress(struct lab_run *run, double fraction)
{
    if (run->progress)
        run->progress(run->progress_user, run, fraction < 0 ? 0 : fraction > 1 ? 1 : fraction);
}

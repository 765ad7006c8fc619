/* run.h - one run inside the lab: what lab.h's struct lab_run holds, how the lab
 * starts a run and reads back what the workload recorded. Workloads see only lab.h. */
#ifndef DISTLAB_LAB_RUN_H
#define DISTLAB_LAB_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "lab/lab.h"
#include "lab/scenario.h"

enum lab_metric_kind { LAB_M_SCALAR, LAB_M_ARRAY, LAB_M_MATRIX, LAB_M_HIST, LAB_M_SERIES };

struct lab_metric {
    char *name;
    enum lab_metric_kind kind;
    char *unit;     /* histograms and series */
    double scalar;  /* LAB_M_SCALAR */
    double *v;      /* arrays (n) and matrices (rows x cols, row-major) */
    size_t n, rows, cols;
    struct hist *hist;
    struct series *series;
};

/* The outcome of one expectation on one run. */
struct lab_check {
    const struct lab_expect *x;
    bool ok;
    bool have_actual, have_expected;
    double actual, expected;
    char *message; /* why it failed when no number could be had, or NULL */
};

typedef void (*lab_progress_fn)(void *user, const struct lab_run *run, double fraction);

/* A document a run wrote (lab_text). */
struct lab_text {
    char *name;
    char *text;
    char *header; /* lab_table: the header of every run's rows, or NULL */
};

struct lab_run {
    const struct lab_scenario *sc;
    const struct lab_runspec *spec;
    unsigned world;
    struct lab_metric *metrics; /* in the order first recorded */
    size_t nmetrics, capm;
    char **notes;
    size_t nnotes;
    struct lab_text *texts; /* in the order first written */
    size_t ntexts;
    char *fail;  /* the first failure's message ("FILE: ..." or "FILE:L:C: ..."), or NULL */
    int status;  /* with fail: the exit status it leads to (err.h) */
    char *skipped; /* lab_skip's reason, located: the run was left out, or NULL */
    struct sim *sim;
    bool checking; /* the check pass (lab_run_precheck): lab_sim_run builds, never runs */
    struct lab_live *live; /* the live world, lab_live_begin to lab__live_end */
    double wall_s;
    lab_progress_fn progress;
    void *progress_user;
    struct lab_check *checks;
    size_t nchecks;
};

/* Prepare run (zeroed by this) for spec of sc in 'world'. */
void lab_run_init(struct lab_run *run, const struct lab_scenario *sc,
                  const struct lab_runspec *spec, unsigned world);
/* Call the workload. Returns 0, or a negative errno with run->fail and run->status set:
 * -EINVAL (bad input or a misuse of lab.h), -ECONNREFUSED / -EHOSTUNREACH (unreachable),
 * other; lab_status_of_errno (err.h) maps the workload's errno to the status. */
int lab_run_exec(struct lab_run *run);
/* The check pass for run (initialised, not executed): calls the workload as a run does,
 * but its simulated world is built and its names resolved, never run (lab_sim_run
 * returns LAB_CHECKED), so that every parameter check and every node name of a sweep
 * point is known good before the first run of an invocation starts. A live run is not
 * tried (it would start servers): its checks happen when it runs. Returns 0, or a
 * negative errno with run->fail and run->status set. The caller cleans the run up. */
int lab_run_precheck(struct lab_run *run);
/* Free everything the run recorded. */
void lab_run_cleanup(struct lab_run *run);

const struct lab_metric *lab_run_metric(const struct lab_run *run, const char *name);

/* Record run->fail at a node of the scenario ("file:line:col: ..."). Returns -EINVAL. */
int lab__fail_at(struct lab_run *run, const struct lab_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The simulated world's teardown, called by lab_run_exec after the workload returns. */
void lab__sim_end(struct lab_run *run);
/* The live world's teardown: joins its threads, stops the servers the lab started. */
void lab__live_end(struct lab_run *run);

/* Evaluate the scenario's expectations that apply to this run into run->checks. */
void lab_run_check(struct lab_run *run);
/* Evaluate one metric expression: 0 and *v, or -ENOENT / -EINVAL with *why set
 * (malloc'd) when the run did not record it or it does not fit the expression. */
int lab_expr_eval(const struct lab_run *run, const struct lab_expr *e, double *v, char **why);

#endif

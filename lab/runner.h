/* runner.h - what `distlab run` and `distlab check` do, as functions a test can call:
 * load every scenario file before running any, execute each scenario's runs (on N
 * threads, which go on to the next scenario's runs while a simulated scenario's output
 * is written), check the expectations, write the results and plots, print the report
 * (in file order), and decide the exit status. The command line (cli.c) only turns argv into these options. */
#ifndef DISTLAB_LAB_RUNNER_H
#define DISTLAB_LAB_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "lab/run.h"
#include "lab/scenario.h"
#include "lab/shard.h"

#include "lab/err.h" /* the exit statuses */

struct lab_runner_opts {
    struct lab_shard shard;  /* n > 0: execute only slice i of n and write a partial
                              * result (shard.h) instead of the summary and plots */
    unsigned world;          /* LAB_WORLD_SIM or LAB_WORLD_LIVE; 0: sim */
    const char *const *sets; /* "key.path=value" overrides, in order */
    size_t nsets;
    const char *seed; /* --seed N as written (the same as --set seed=N), or NULL */
    const char *out;  /* results and plots under out/<name>/; NULL: results/<name>/
                       * and plots/<name>/ */
    int jobs;         /* runs executed at once; 0: one per online CPU in the simulated
                       * world (its runs share nothing), one in the live world (its runs
                       * share the machine's servers and clock) */
    bool quiet;       /* print only failures */
    bool check;       /* print every expectation, PASS or FAIL; draw no plots */
    bool controls;    /* also run each expectation's control (the mechanism switched
                       * off) and flag an expectation that passes there too */
};

/* Run the scenario files as `distlab run` (or `check` with o->check) does, printing the
 * report on stdout and errors on stderr. Returns the exit status. */
int lab_runner(const char *const *files, size_t nfiles, const struct lab_runner_opts *o);

/* Execute every run of sc into runs[] (sc->nruns entries, initialised by this) on 'jobs'
 * threads, checking each run's expectations; 'progress' shows a progress line on stderr.
 * Returns 0, or the exit status of the first failure in run order (err.h), its message
 * printed on stderr. The caller cleans up every run (lab_run_cleanup) either way. */
int lab_execute(const struct lab_scenario *sc, struct lab_run *runs, int jobs, bool progress);
/* The same for the runs slice s owns (every run when s is NULL or whole); the others
 * stay initialised and empty. */
int lab_execute_shard(const struct lab_scenario *sc, struct lab_run *runs,
                      const struct lab_shard *s, int jobs, bool progress);

/* Write what a run of sc leaves for runs[] (all sc->nruns of them, executed or rebuilt by
 * a merge, expectations checked): the results, the plots unless o->check, and the
 * PASS/FAIL report. Returns the exit status (0, 1 when an expectation failed, 4). */
int lab_runner_write(const struct lab_scenario *sc, const struct lab_run *runs,
                     const struct lab_runner_opts *o);

/* Execute the control runs of sc (sc->ncruns, see scenario.h) into cruns[] as
 * lab_execute does, without checking expectations: lab_check_control (run.h) pairs each
 * with its original run. A control run that is a run of the sweep already (same_as >= 0)
 * is not executed and its cruns[] entry stays zeroed: use sc->runs' own result. */
int lab_execute_controls(const struct lab_scenario *sc, struct lab_run *cruns, int jobs,
                         bool progress);

#endif

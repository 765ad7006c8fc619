/* workloads_test.h - the lab tests' workloads and small helpers (temporary
 * directories, scenario files, running the CLI in-process). */
#ifndef DISTLAB_TESTS_LAB_WORKLOADS_TEST_H
#define DISTLAB_TESTS_LAB_WORKLOADS_TEST_H

#include "lab/lab.h"

extern const struct lab_workload test_wl_compute, test_wl_sim, test_wl_live, test_wl_required,
    test_wl_waiters, test_wl_as;

/* A fresh directory under /tmp (malloc'd path). */
char *t_tmpdir(void);
/* Remove dir and everything in it, and free the path. */
void t_cleanup(char *dir);
/* Write text to dir/name; returns the path (malloc'd). */
char *t_write(const char *dir, const char *name, const char *text);
/* Run `distlab ARGS...` (NULL-terminated) in-process with list/run/check; returns
 * the exit status. stdout and stderr go to dir/out.txt and dir/err.txt when dir is
 * not NULL. */
int t_distlab(const char *dir, ...);
/* The runs in OUT/SCENARIO/summary.json as canonical text, without their wall-clock
 * times (two runs of one seed compare equal); malloc'd, or NULL if unreadable. */
char *t_runs_text(const char *out, const char *scenario);
/* Metric 'name' of run i in OUT/SCENARIO/summary.json, or NAN if there is none. */
double t_metric(const char *out, const char *scenario, size_t i, const char *name);
/* The contents of a file (malloc'd), or NULL. */
char *t_read(const char *path);
char *t_read_in(const char *dir, const char *name); /* dir/name */
bool t_exists(const char *dir, const char *name);   /* dir/name exists */

#endif

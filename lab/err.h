/* err.h - the lab's one error path: a failure is a message and an exit status, carried in
 * a struct lab_err from wherever it happens (a scenario's value, an option, a run, a
 * file that cannot be written) to the one place that prints it and exits (runner.c, or
 * the CLI for its options). The exit statuses of `distlab` (also in `distlab --help`
 * and DESIGN.md):
 *
 *   0  LAB_EXIT_OK       everything ran; every expectation held
 *   1  LAB_EXIT_EXPECT   an expectation failed (the results are written)
 *   2  LAB_EXIT_INPUT    bad input: an option, a scenario ("file:line:col: ..."), a
 *                        world the workload does not run in, a parameter it rejects
 *                        (lab_fail_param), a run the workload failed with lab_fail or a
 *                        negative errno, a misuse of lab.h
 *   3  LAB_EXIT_UNREACH  a world or server could not be reached (or started, or kept: a
 *                        live server lost during a run): the workload returned
 *                        -ECONNREFUSED or -EHOSTUNREACH
 *   4  LAB_EXIT_WRITE    the runs succeeded but their results or plots could not be
 *                        written: "cannot write results: PATH: reason"
 *
 * Nothing is written unless every run succeeded, so statuses 2 and 3 leave no results. */
#ifndef DISTLAB_LAB_ERR_H
#define DISTLAB_LAB_ERR_H

#include <stdarg.h>

#define LAB_EXIT_OK 0
#define LAB_EXIT_EXPECT 1
#define LAB_EXIT_INPUT 2
#define LAB_EXIT_UNREACH 3
#define LAB_EXIT_WRITE 4

#define LAB_ERR_MAX 2048

/* What went wrong, ready to print, and the exit status it leads to. */
struct lab_err {
    int status;
    char msg[LAB_ERR_MAX];
};

struct lab_node;

/* Bad input at node 'at' (NULL: no location): "file:line:col: message" or
 * "--set k=v: message", status LAB_EXIT_INPUT. Returns -EINVAL. */
int lab_errf(struct lab_err *err, const struct lab_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int lab_verrf(struct lab_err *err, const struct lab_node *at, const char *fmt, va_list ap);

/* A results file or directory that cannot be written (rc: a negative errno): "cannot
 * write results: PATH: reason", status LAB_EXIT_WRITE. Returns rc. */
int lab_err_write(struct lab_err *err, const char *path, int rc);

/* The exit status of a run whose workload returned rc (a negative errno). */
int lab_status_of_errno(int rc);

#endif

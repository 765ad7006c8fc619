/* cli.h - the distlab command line as functions, so tests can run it in-process. A
 * family adds a verb of its own in its meson.build (see lab/meson.build). */
#ifndef DISTLAB_LAB_CLI_H
#define DISTLAB_LAB_CLI_H

#include "lab/runner.h" /* the exit statuses */

/* A verb: fn gets argv[0] = the verb's name and returns an exit status. */
struct lab_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *about; /* one line for `distlab --help` */
};

/* `distlab VERB ...` with the verbs of 'cmds' (terminated by name == NULL), plus
 * --help and --version. Returns the exit status. */
int lab_main(const struct lab_cmd *cmds, int argc, char **argv);

int lab_cmd_list(int argc, char **argv);  /* scenarios and, with -v, workloads */
int lab_cmd_run(int argc, char **argv);   /* run scenarios, write results and plots */
int lab_cmd_check(int argc, char **argv); /* run scenarios, print PASS/FAIL, no plots */

#endif

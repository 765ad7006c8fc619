/* ran.h - for workload tests: load a scenario from text, execute one of its runs in the
 * simulated world, read its metrics. */
#ifndef DISTLAB_TESTS_LAB_RAN_H
#define DISTLAB_TESTS_LAB_RAN_H

#include <stddef.h>

#include "lab/run.h"
#include "lab/scenario.h"

struct ran {
    struct lab_scenario *sc;
    struct lab_run run;
    char path[64];
    int rc; /* what the workload's run() returned */
};

/* Write 'text' to a temporary file, load it (asserting it loads) and execute run
 * 'index' (asserting it exists). Free with ran_free. */
void run_text_at(struct ran *r, const char *text, size_t index);
void ran_free(struct ran *r);

/* A metric the run recorded (asserting it did), and a scalar's value. */
const struct lab_metric *metric(const struct ran *r, const char *name);
double scalar(const struct ran *r, const char *name);

#endif

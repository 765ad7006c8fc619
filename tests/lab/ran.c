/* ran.c - see ran.h. */
#include "ran.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void run_text_at(struct ran *r, const char *text, size_t index)
{
    snprintf(r->path, sizeof r->path, "/tmp/distlab-wl-test-XXXXXX");
    int fd = mkstemp(r->path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct lab_err err;
    r->sc = lab_scenario_load(r->path, NULL, &err);
    cr_assert_not_null(r->sc, "%s", err.msg);
    cr_assert_lt(index, r->sc->nruns);
    lab_run_init(&r->run, r->sc, &r->sc->runs[index], LAB_WORLD_SIM);
    r->rc = lab_run_exec(&r->run);
}

void ran_free(struct ran *r)
{
    lab_run_cleanup(&r->run);
    lab_scenario_free(r->sc);
    unlink(r->path);
}

const struct lab_metric *metric(const struct ran *r, const char *name)
{
    const struct lab_metric *m = lab_run_metric(&r->run, name);
    cr_assert_not_null(m, "metric %s not recorded", name);
    return m;
}

double scalar(const struct ran *r, const char *name)
{
    return metric(r, name)->scalar;
}

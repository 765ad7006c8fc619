/* fuzz_common.c - see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lab/run.h"

static int memfd = -1;
static char memfd_path[64];

const char *fuzz_file(const uint8_t *data, size_t size)
{
    if (memfd < 0 && (memfd = memfd_create("fuzz", MFD_CLOEXEC)) < 0)
        abort();
    if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        abort();
    snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
    return memfd_path;
}

void fuzz_file_close(void)
{
    if (memfd >= 0 && ftruncate(memfd, 0) < 0)
        abort();
}

void fuzz_load(const char *path, const struct lab_load_opts *opts)
{
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, opts, &err);
    if (!sc) {
        if (!err.msg[0] || (err.status != LAB_EXIT_INPUT && err.status != LAB_EXIT_WRITE))
            abort(); /* every failure has a message and a status */
        return;
    }
    /* What the report, the CSVs and the plots ask of every run. */
    for (size_t i = 0; i < sc->nruns; i++) {
        const struct lab_runspec *r = &sc->runs[i];
        for (size_t k = 0; k < sc->nsweep; k++) {
            double d;
            (void)lab_run_key_text(sc, r, sc->sweep[k].name);
            (void)lab_key_number(sc, r, sc->sweep[k].name, &d);
        }
        for (size_t p = 0; p < sc->nplots; p++)
            (void)lab_where_match(sc, r, sc->plots[p].where, sc->plots[p].nwhere);
        for (size_t x = 0; x < sc->nexpects; x++)
            (void)lab_where_match(sc, r, sc->expects[x].where, sc->expects[x].nwhere);
    }
    /* The check pass of the first sweep point: the workload's own checks and its world,
     * built and resolved, never run. */
    struct lab_run run;
    lab_run_init(&run, sc, &sc->runs[0], sc->world);
    (void)lab_run_precheck(&run);
    lab_run_cleanup(&run);
    lab_scenario_free(sc);
}

/* output.h - what a scenario's runs leave behind: summary.json and one CSV per
 * distribution metric (results), and plots drawn by gnuplot from plots/<kind>.gp.
 * Every file is written to a temporary name in its directory and renamed, so a crash
 * never leaves half a result. Nothing here runs a workload. */
#ifndef DISTLAB_LAB_OUTPUT_H
#define DISTLAB_LAB_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lab/run.h"

/* mkdir -p. Returns 0 or a negative errno. */
int lab_mkdirs(const char *path);

/* The whole of a file (malloc'd, NUL-terminated; *len its length when len is not NULL),
 * or NULL with errno set. */
char *lab_read_file(const char *path, size_t *len);

/* Write len bytes to path through a temporary file in the same directory and rename.
 * Returns 0, or a negative errno with err set. */
int lab_write_file(const char *path, const char *data, size_t len, struct lab_err *err);

/* The summary of a scenario's runs (see DESIGN.md "What a run writes"). With
 * 'machine' false the "machine" object is left out (for comparisons). New reference. */
json_t *lab_summary_json(const struct lab_scenario *sc, const struct lab_run *runs,
                         size_t nruns, bool machine);

/* Write summary.json and the CSVs into dir (created). Returns 0 or -errno with err. */
int lab_write_results(const struct lab_scenario *sc, const struct lab_run *runs, size_t nruns,
                      const char *dir, struct lab_err *err);

/* Write each plot's data into dir (created) and draw it with gnuplot from the templates
 * in 'templates' (a directory holding <kind>.gp). Without gnuplot in PATH the data is
 * written and *warned is set (the caller prints one warning). Returns 0, or -errno with
 * err set when a file cannot be written; a gnuplot failure is reported on stderr and
 * counted in *failed. */
int lab_draw_plots(const struct lab_scenario *sc, const struct lab_run *runs, size_t nruns,
                   const char *dir, const char *templates, bool *no_gnuplot, int *failed,
                   struct lab_err *err);

/* Where scenarios/ and plots/ come from: ./scenarios if it exists (then "."), else
 * $DISTLAB_SOURCE_ROOT, else the source root the binary was built from. */
const char *lab_source_root(void);

#endif

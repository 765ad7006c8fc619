/* output.h - what a scenario's runs leave behind: summary.json and one CSV per
 * distribution metric (results), and plots drawn by gnuplot from plots/<kind>.gp.
 * A scenario's set is written whole into a temporary directory beside its target and
 * swapped in with one rename (struct lab_outdir), so a full disk, a failed plot
 * directory, a signal or two runs at once never leave half a set or a mix of two.
 * Nothing here runs a workload. */
#ifndef DISTLAB_LAB_OUTPUT_H
#define DISTLAB_LAB_OUTPUT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lab/run.h"

/* mkdir -p. Returns 0 or a negative errno. */
int lab_mkdirs(const char *path);

/* The whole of a file (malloc'd, NUL-terminated; *len its length when len is not NULL),
 * or NULL with errno set. */
char *lab_read_file(const char *path, size_t *len);

/* While sets are written, SIGINT, SIGTERM and SIGHUP are held: one that comes is noted
 * (the set being written is then dropped, and a wait for another distlab's lock ends),
 * and delivered again by lab_signals_release, once nothing is half done. */
struct lab_signals {
    struct sigaction saved[3];
};
void lab_signals_hold(struct lab_signals *s);
bool lab_signal_pending(void);
void lab_signals_release(struct lab_signals *s);

/* A result set in the making: the directory 'target' (results/<name>) is written as a
 * temporary directory beside it, '.<name>.tmp-XXXXXX', and swapped in whole by
 * lab_outdir_commit. While it is open the target's parent directory is locked (flock),
 * so a second distlab writing there waits (saying so on stderr) and two sets never mix;
 * temporaries that a killed distlab left beside the target are removed when the lock is
 * taken. */
struct lab_outdir {
    char *target; /* where the set goes */
    char *tmp;    /* where it is written: a fresh empty directory; NULL once committed */
    int lockfd;   /* the parent directory, locked; -1 when not open */
};

/* Create target's parent if needed, lock it, sweep stale temporaries and make od->tmp.
 * Returns 0, or a negative errno with err set ("cannot write results: ..."; -EINTR when
 * a held signal came while it waited for the lock). */
int lab_outdir_begin(struct lab_outdir *od, const char *target, struct lab_err *err);
/* lab_outdir_begin without the temporary, for a writer that adds one file to the target
 * (lab_write_file) rather than replacing it: a slice's partial result beside other
 * slices'. Nothing to commit; lab_outdir_end unlocks. */
int lab_outdir_lock(struct lab_outdir *od, const char *target, struct lab_err *err);
/* Swap od->tmp in as the target (one rename: the target's old contents, if any, go to
 * the temporary name and are removed). The target must be a directory or absent.
 * Returns 0, or a negative errno with err set (the target is then as it was). */
int lab_outdir_commit(struct lab_outdir *od, struct lab_err *err);
/* Remove what is left of the temporary (all of it unless committed) and unlock. Safe on
 * a zeroed struct and twice. */
void lab_outdir_end(struct lab_outdir *od);
/* rm -r path (not following symbolic links). Returns 0 or a negative errno. */
int lab_remove_tree(const char *path);

/* Write len bytes to path through a temporary file in the same directory and rename.
 * Returns 0, or a negative errno with err set. */
int lab_write_file(const char *path, const char *data, size_t len, struct lab_err *err);

/* The summary of a scenario's runs (see DESIGN.md "What a run writes"). With
 * 'machine' false the "machine" object is left out (for comparisons). New reference. */
json_t *lab_summary_json(const struct lab_scenario *sc, const struct lab_run *runs,
                         size_t nruns, bool machine);

/* A number as summary.json writes it: an integer when it is a whole number (below
 * 2^53), null when not finite, else a real. New reference. */
json_t *lab_json_number(double v);

/* "key=value key=value" of a params object (strings bare, other values as compact JSON),
 * leaving out the key 'skip' (NULL: none). malloc'd. */
char *lab_params_text(const json_t *params, const char *skip);

/* The machine a run happened on: hostname, cpus, kernel, compiler. New reference. */
json_t *lab_machine_json(void);

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

/* shard.h - one sweep spread over many machines. `distlab run --shard I/N` executes
 * the runs (sweep points x repeats) whose index is I-1 modulo N, and writes them whole as
 * a partial result: every metric as the workload recorded it (histogram buckets, series
 * bins, exact doubles), the scenario file's text and the options it was loaded with.
 * `distlab merge` (and `distlab report --from`) checks that a set of partials is the N
 * slices of one run, rebuilds the runs and writes what a single run writes: the same
 * summary.json (but for "machine" and "wall_s"), CSVs and plots.
 *
 * A run's seed depends only on the scenario's seed and its repeat, never on which
 * machine or slice runs it, so the slices of a simulated sweep add up to the single run
 * exactly. Never prints; every failure comes back as a struct lab_err. */
#ifndef DISTLAB_LAB_SHARD_H
#define DISTLAB_LAB_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "lab/err.h"
#include "lab/run.h"
#include "lab/scenario.h"

/* The format of a partial result, and the names of the metric kinds in it (in enum
 * lab_metric_kind's order). */
#define LAB_PARTIAL_FORMAT 1
#define LAB_METRIC_KIND_NAMES "scalar", "array", "matrix", "hist", "series"

/* Slice i of n (1 <= i <= n); n == 0: the whole run. */
struct lab_shard {
    unsigned i, n;
};

/* Parse "I/N" (1 <= I <= N <= 100000). Returns 0, or -EINVAL with err set. */
int lab_shard_parse(const char *text, struct lab_shard *s, struct lab_err *err);

/* Does slice s execute run 'index'? Always true for the whole run. Slices interleave
 * (run k goes to slice k mod N + 1), so each gets its share of a sweep whose cost grows
 * along an axis. */
bool lab_shard_owns(const struct lab_shard *s, size_t index);

/* The partial's file name in a results directory: "shard-I-of-N.json". */
char *lab_shard_file_name(const struct lab_shard *s);

/* Write the runs of sc that slice s executed (runs[] has sc->nruns entries; the others
 * are ignored) to dir/shard-I-of-N.json, atomically; 'lo' are the options sc was loaded
 * with (file text, --set, --seed, world), which a merge must see again. Returns 0, or a
 * negative errno with err set (status 4). */
int lab_partial_write(const struct lab_scenario *sc, const struct lab_run *runs,
                      const struct lab_shard *s, const struct lab_load_opts *lo, const char *dir,
                      struct lab_err *err);

/* A scenario put back together from its partials. */
struct lab_merged {
    struct lab_scenario *sc;
    struct lab_run *runs; /* sc->nruns, expectations checked */
};

/* Find the partials in each of dirs (dir/shard-*-of-*.json and dir/<name>/shard-*.json),
 * group them by scenario, refuse a group whose slices do not fit together (another
 * scenario text, version, seed, --set, world or split; a slice missing or given twice;
 * a run in the wrong slice) and rebuild each scenario's runs. On success *out holds
 * *nout scenarios in the order first found. Returns 0, or -EINVAL with err set
 * (status 2). */
int lab_merge_load(const char *const *dirs, size_t ndirs, struct lab_merged **out, size_t *nout,
                   struct lab_err *err);
void lab_merged_free(struct lab_merged *m, size_t n);

/* The verb: `distlab merge DIR... [--out DIR] [-q]`. Returns the exit status. */
int lab_cmd_merge(int argc, char **argv);

#endif

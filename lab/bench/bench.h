/* bench.h - `distlab bench`: the benchmark suite and its three gates, shared by the files
 * of lab/bench/ (never included by the lab's core).
 *
 * The suite (bench/suite.yaml) declares three kinds of item:
 *   exact    a scenario of the CI set, run in the simulated world; every metric of every
 *            run is a row, compared with the baseline for equality
 *   timed    a bench program (bench/); every number of every JSON line it prints is a
 *            row, repeated; in-run ratios (ours over a peer or a limit) are gated
 *            against the baseline's with a tolerance, and `--compare` decides between
 *            two builds with a Mann-Whitney U test
 *   counted  a hot loop (bench-count) under valgrind's cachegrind: instructions per
 *            operation, gated with a small tolerance
 * A run of the suite is a document (struct bench_doc) of rows; a baseline is a saved
 * document. Nothing here exits: every function returns, and cmd_bench.c decides the
 * exit status (lab/err.h). */
#ifndef DISTLAB_LAB_BENCH_H
#define DISTLAB_LAB_BENCH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lab/err.h"
#include "lab/node.h"

/* The verb: `distlab bench ...`; returns the exit status. */
int lab_cmd_bench(int argc, char **argv);

enum bench_gate { BENCH_EXACT, BENCH_TIMED, BENCH_COUNTED, BENCH_NGATES };
extern const char *const bench_gate_names[]; /* "exact", "timed", "counted" */

/* Which way a figure is better, from its name (bench_figure_kind). */
enum bench_better { BENCH_BETTER_NONE, BENCH_BETTER_LOWER, BENCH_BETTER_HIGHER };

/* ---- The suite (suite.c) ---------------------------------------------------------- */

struct bench_item {
    enum bench_gate gate;
    const char *name;    /* "engine"; exact: the file's basename without .yaml */
    const char *id;      /* "timed/engine": what --filter matches */
    const char *program; /* timed, counted: a bench/ executable's name */
    const char **args;   /* NULL-terminated */
    const char **key;    /* timed: integer fields that identify a row; NULL: default */
    const char *file;    /* exact: the scenario file, relative to the source root */
    const char **sets;   /* exact: --set overrides, NULL-terminated */
    size_t nsets;
    bool on_demand; /* runs only when --filter names it */
    const struct lab_node *node;
};

struct bench_suite {
    struct lab_arena arena;
    const char *file;
    struct bench_item *items;
    size_t nitems;
};

/* Load the suite file. Returns 0, or -EINVAL with err set at file:line:col. */
int bench_suite_load(struct bench_suite *s, const char *file, struct lab_err *err);
void bench_suite_free(struct bench_suite *s);

/* ---- Rows and documents (rows.c) -------------------------------------------------- */

struct bench_row {
    enum bench_gate gate;
    char *bench;    /* the item's name */
    char *workload; /* a bench line's "bench", a run's primitive, a counted loop */
    json_t *params; /* object: what identifies the row besides bench and figure */
    char *figure;
    char *unit;     /* "" when the name carries none */
    char *peer;     /* what an in-run ratio is measured against, or NULL */
    json_t *limits; /* numbers the line states as goals or limits, or NULL */
    json_t *extra;  /* more fields to write with the row (a comparison's), or NULL */
    enum bench_better better;
    bool ratio; /* an in-run ratio: the timed gate's figures */
    double *v;  /* the samples, one per repeat, in run order */
    size_t n, cap;
    char *text; /* an exact row whose value is not a number (a digest, null) */
    char *key;  /* gate, bench, workload, params and figure: matches rows */
};

struct bench_doc {
    struct bench_row *rows;
    size_t n, cap;
    json_t *head; /* version, machine, load, counter, the options: written as given */
};

void bench_doc_init(struct bench_doc *d);
void bench_doc_free(struct bench_doc *d);

/* The row with these identifiers, created (with no samples) when missing. 'params' is
 * taken over (the reference is stolen). */
struct bench_row *bench_doc_row(struct bench_doc *d, enum bench_gate gate, const char *bench,
                                const char *workload, json_t *params, const char *figure);
struct bench_row *bench_doc_find(const struct bench_doc *d, const char *key);
/* Move every row of src to the end of dst (src keeps none). */
void bench_doc_take(struct bench_doc *dst, struct bench_doc *src);
void bench_row_add(struct bench_row *r, double v);

/* Statistics of a row's samples (sorted copies; NAN without samples). */
double bench_row_median(const struct bench_row *r);
double bench_row_min(const struct bench_row *r);
double bench_row_max(const struct bench_row *r);

/* Unit, direction, ratio-ness and peer of a figure from its name (see bench/README.md):
 * speedup and ratio_to_X are ratios, higher better (X is the peer); ratio, *_ratio and
 * *_over_* are ratios, lower better; *_per_s is a rate, higher better; ns_per_*,
 * us_per_*, ms_per_*, *_ns, *_us, *_ms, *_s, *_kib, bytes_per_* and *_bytes are costs,
 * lower better; seconds is a duration without a direction. *peer: NULL, or X
 * (malloc'd). */
void bench_figure_kind(const char *name, const char **unit, enum bench_better *better, bool *ratio,
                       char **peer);

/* Turn one JSON line a timed item's program printed into rows of d (one sample each).
 * Returns 0, or -EINVAL with err set ("PROGRAM: line N: ..."). */
int bench_parse_line(struct bench_doc *d, const struct bench_item *it, const char *line, int lineno,
                     struct lab_err *err);

/* Write d as one JSON document, a row per line, to path ("-": stdout) atomically.
 * Returns 0, or a negative errno with err set (status 4). */
int bench_doc_write(const struct bench_doc *d, const char *path, struct lab_err *err);
/* Read a document written by bench_doc_write. Returns 0, or -EINVAL with err set. */
int bench_doc_read(struct bench_doc *d, const char *path, struct lab_err *err);

/* The document's head: version, machine (lab_machine_json), load averages now. */
json_t *bench_head(void);
/* Record the load average in head[name] ("load_start", "load_end"). */
void bench_head_load(json_t *head, const char *name);

/* ---- Running items (exact.c, timed.c, counted.c) ---------------------------------- */

struct bench_opts {
    const char *bench_dir;   /* where the bench programs are */
    const char *root;        /* the source root: scenario files are relative to it */
    const char *const *sets; /* extra --set for the exact items */
    size_t nsets;
    int repeats;      /* timed: runs of each program */
    int jobs;         /* exact: runs at once */
    double timeout_s; /* a program's limit */
    bool progress;    /* a progress line on stderr */
};

/* A line of progress on stderr (when opts->progress): "[i/n] what  12s". */
void bench_progress(const struct bench_opts *o, size_t i, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bench_progress_end(const struct bench_opts *o);

/* Loads an exact item's scenario with every --set, runs nothing: 0, or -EINVAL with err
 * set (a bad --set is refused before the first item runs). */
int bench_check_exact(const struct bench_item *it, const struct bench_opts *o, struct lab_err *err);
/* Each runs one item into d. Return 0, or -errno with err set: status 2 (bad input, a
 * program that failed or printed something that is not a row), 3 (a server could not
 * be reached: the program exited 3). A program that is not built, or a counted item
 * without valgrind, is skipped: 1 is returned and err->msg says so. */
int bench_run_exact(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                    struct lab_err *err);
int bench_run_timed(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                    struct lab_err *err);
int bench_run_counted(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                      struct lab_err *err);
/* What counted rows count, for the document and the report; NULL without valgrind. */
const char *bench_counter(void);

/* Run argv (argv[0] a path or a name in PATH) in a process group of its own, stdout
 * captured into *out and stderr into *errtxt (both malloc'd, perhaps empty); the group is
 * killed after timeout_s (<= 0: no limit). With 'progress' the progress line keeps
 * redrawing meanwhile. Returns the exit status (0-255), 128 + the signal, or a negative
 * errno when it cannot start. */
int bench_spawn(const char *const *argv, double timeout_s, bool progress, char **out,
                char **errtxt);
/* Run item it's program from 'dir' as: prefix... PATH args... suffix... Returns 0 with its
 * stdout in *out (malloc'd); 1 when it is not built there (err->msg says so); -EIO with
 * err set when it fails (status 3 when it exited 3, else 2). */
int bench_exec_item(const struct bench_item *it, const char *dir, const char *const *prefix,
                    const char *const *suffix, const struct bench_opts *o, char **out,
                    struct lab_err *err);

/* ---- Text ----------------------------------------------------------------------- */

/* printf into a new string (malloc'd; out of memory aborts, as lab_xmalloc). */
char *bench_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "gate/bench workload k=v ..." (malloc'd). */
char *bench_row_label(const struct bench_row *r);
/* A value with its unit, or an exact row's text. */
void bench_value_text(const struct bench_row *r, double v, char *buf, size_t len);

/* ---- Gates (gate.c) --------------------------------------------------------------- */

enum bench_verdict {
    BENCH_SAME,
    BENCH_REGRESSION,
    BENCH_IMPROVEMENT,
    BENCH_DIFFERS,
    BENCH_MISSING,
    BENCH_NEW
};

struct bench_finding {
    enum bench_verdict verdict;
    const struct bench_row *now, *base; /* either may be NULL (missing / new) */
    char *text;                         /* one line, with the numbers */
    size_t rows;                        /* rows it stands for: 1, or a whole run's */
};

struct bench_gate_opts {
    double tolerance; /* timed: a ratio may move this much (0.15: 15 %) */
    double counted_tolerance;
};

struct bench_findings {
    struct bench_finding *f;
    size_t n, cap;
    size_t compared[BENCH_NGATES]; /* rows compared per gate */
    char *resave; /* the command that re-saves the baseline, shown with failing exact or
                   * counted findings (bench_resave_hint), or NULL */
};

/* Compare the rows of 'now' with 'base' for the gates and items in 'ran' (bench names
 * of items that ran, per gate; a baseline row of an item that did not run is ignored).
 * Every exact difference, every timed ratio and counted figure past its tolerance, is a
 * finding; improvements past the tolerance are findings too (not failures). */
void bench_gate(const struct bench_doc *now, const struct bench_doc *base,
                const struct bench_suite *s, const bool *ran, const struct bench_gate_opts *o,
                struct bench_findings *out);
void bench_findings_free(struct bench_findings *f);
/* When an exact or counted finding fails: fs->resave, the one command that re-saves the
 * baseline 'baseline' for those gates (relative to the source root 'root' when the file
 * is under it), for a change meant to move the figures. */
void bench_resave_hint(struct bench_findings *fs, const char *baseline, const char *root);
/* Does this finding fail the gate? (regressions, exact differences, missing exact rows,
 * new exact rows) */
bool bench_finding_fails(const struct bench_finding *f);

/* ---- Statistics (mwu.c) ----------------------------------------------------------- */

struct bench_mwu {
    size_t na, nb;
    double u;      /* U of sample a: the pairs (a_i, b_j) with a_i > b_j, ties half */
    double z, p;   /* two-sided p, normal approximation with tie and continuity correction */
    double ratio;  /* median of b_j / a_i over all pairs (Hodges-Lehmann on logs); NAN
                    * when a value is not positive: then median(b) / median(a) */
    double lo, hi; /* its confidence interval (level 'conf'), NAN when not defined */
};

/* Mann-Whitney U test of samples a (na) and b (nb), and the ratio b/a with its
 * distribution-free confidence interval (Moses). na, nb >= 1. */
void bench_mwu(const double *a, size_t na, const double *b, size_t nb, double conf,
               struct bench_mwu *out);
/* The smallest two-sided p the test can give with na and nb samples and no ties. */
double bench_mwu_min_p(size_t na, size_t nb);
/* Holm's step-down adjustment of p[0..n-1] into adj[] (any order). */
void bench_holm(const double *p, size_t n, double *adj);

/* ---- Comparing two builds (compare.c) --------------------------------------------- */

struct bench_compare_opts {
    int pairs;        /* A B A B ...: at least 9 */
    double alpha;     /* family-wise, Holm over the figures with a direction */
    double threshold; /* a verdict needs the ratio past 1 +- this (0.05) */
    double conf;      /* the ratio's confidence level (0.95) */
};

struct bench_cmp_row {
    const struct bench_row *a, *b;
    struct bench_mwu t;
    double p_adj;
    enum bench_verdict verdict;
};

struct bench_comparison {
    struct bench_cmp_row *rows;
    size_t n;
    double min_p;  /* the smallest p the samples allow */
    size_t family; /* rows with a direction: the Holm family */
};

/* Run every timed item of s selected by 'sel' for both sides, interleaved A B A B,
 * 'pairs' times, into da and db (opts->bench_dir is replaced by dir_a / dir_b). An item
 * that a side has not built, or that fails on a side (an older revision may not know an
 * option of the suite's), is left out of both with a note on stderr. Returns how many
 * failed (not counting the ones not built); err holds the last message. */
int bench_compare_run(const struct bench_suite *s, const bool *sel, const char *dir_a,
                      const char *dir_b, const struct bench_opts *o,
                      const struct bench_compare_opts *c, struct bench_doc *da,
                      struct bench_doc *db, struct lab_err *err);
/* Decide: the U test per common row, Holm over the rows with a direction, verdicts. */
void bench_compare_decide(const struct bench_doc *da, const struct bench_doc *db,
                          const struct bench_compare_opts *c, struct bench_comparison *out);
void bench_comparison_free(struct bench_comparison *c);

/* Build revisions rev_a and rev_b of the repository at 'root' in temporary worktrees
 * under 'tmp' (their bench programs only: 'programs', NULL-terminated), setting
 * dir_a / dir_b (malloc'd) to their bench directories. Returns 0, or -errno with err. */
int bench_build_revs(const char *root, const char *rev_a, const char *rev_b,
                     const char *const *programs, const char *tmp, char **dir_a, char **dir_b,
                     const struct bench_opts *o, struct lab_err *err);
/* Remove the worktrees and 'tmp'. */
void bench_build_cleanup(const char *root, const char *tmp);

/* ---- Reports (report.c) ----------------------------------------------------------- */

/* The terminal table: every timed and counted row, a line per exact item, then the
 * findings. */
void bench_report_table(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                        const bool *ran, const struct bench_doc *base,
                        const struct bench_findings *fs);
/* The same as Markdown (a CI job summary). */
void bench_report_markdown(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                           const bool *ran, const struct bench_doc *base,
                           const struct bench_findings *fs);
/* TAP: a line per item that ran (ok: no failing finding), for ./distlab test. */
void bench_report_tap(FILE *f, const struct bench_doc *d, const struct bench_suite *s,
                      const bool *ran, const struct bench_findings *fs, bool have_base);
/* A comparison as a table (or Markdown with md). */
void bench_report_compare(FILE *f, const struct bench_comparison *c, const char *label_a,
                          const char *label_b, const struct bench_compare_opts *o, bool md);

#endif

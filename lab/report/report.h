/* report.h - `distlab report`, the teaching report: each claim of the seed, the
 * scenarios that decide it, what they measured against the theory, the plots and a
 * verdict, as one self-contained HTML page and as Markdown. Shared by the files of
 * lab/report/ (prefix rep_); the lab's core never includes it.
 *
 *   claims.c      the claims file: claims, their evidence and their verdict rules
 *   book.c        the scenarios a report covers, with their results: runs it makes,
 *                 slices it merges (shard.h), result directories it is given
 *   verdict.c     one claim against the results: verdict, checks, numbers
 *   markdown.c    the report as Markdown: report.md, and the source of the page
 *   page.c        index.html: the Markdown through cmark-gfm, plots inlined as SVG
 *   bench.c       the benchmark appendix, from the document `distlab bench` writes
 *   cmd_report.c  the verb, and --pdf through headless Chromium
 *
 * Nothing here exits: functions return 0 or -errno with a struct lab_err (err.h), and
 * cmd_report.c decides the exit status. */
#ifndef DISTLAB_LAB_REPORT_H
#define DISTLAB_LAB_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "lab/err.h"
#include "lab/node.h"
#include "lab/scenario.h"

/* ---- Claims (claims.c) ------------------------------------------------------------ */

enum rep_verdict { REP_CONFIRMED, REP_REFUTED, REP_CORRECTED, REP_UNDECIDED, REP_UNMEASURED };
/* As a rule names them in the claims file (not "unmeasured": no rule can ask for it). */
#define REP_VERDICT_NAMES "confirmed", "refuted", "corrected", "undecided"
/* As the report prints them. */
const char *rep_verdict_label(enum rep_verdict v);
/* The class of its badge in the page, and its mark in the Markdown. */
const char *rep_verdict_class(enum rep_verdict v);
const char *rep_verdict_mark(enum rep_verdict v);

/* Which of a scenario's expectations: those on 'metric' (as written) whose where: has
 * every value of 'where' (NULL: any). */
struct rep_select {
    const char *metric;
    const struct lab_node *where, *node;
};

/* One scenario behind a claim. */
struct rep_evidence {
    const char *scenario; /* its name */
    struct rep_select *sel;
    size_t nsel; /* 0: every expectation of the scenario */
    const char **plots;
    size_t nplots;
    bool all_plots; /* no plots: given */
    const struct lab_node *node;
};

/* A number measured in a run, for the text ({name}). */
struct rep_number {
    const char *name, *scenario, *metric, *unit;
    const struct lab_node *where, *node;
    double scale;
    int digits;
};

struct rep_claim {
    const char *id, *seed, *title, *claim, *note, *correction;
    enum rep_verdict pass, fail;
    struct rep_evidence *ev;
    size_t nev;
    struct rep_number *num;
    size_t nnum;
    const struct lab_node *node;
};

struct rep_claims {
    struct lab_arena arena;
    const char *file, *title, *about;
    struct rep_claim *c;
    size_t n;
};

/* Load and check the claims file (its own structure only; rep_book_check holds it
 * against the scenarios). Returns 0, or -EINVAL with err at file:line:col. */
int rep_claims_load(struct rep_claims *cl, const char *file, struct lab_err *err);
void rep_claims_free(struct rep_claims *cl);

/* ---- The scenarios and their results (book.c) -------------------------------------- */

struct rep_scenario {
    const char *name;
    char *file;              /* the scenario file, or NULL when it does not exist yet */
    struct lab_scenario *sc; /* loaded from file, or NULL */
    bool wanted;             /* a claim or the command line names it */
    json_t *summary;         /* its results, or NULL (not run, not given) */
    char *dir;               /* where summary.json is */
    char *plots;             /* where its images are (often dir) */
};

struct rep_book {
    struct rep_scenario *s;
    size_t n;
    struct lab_arena arena;
};

/* Every scenario the claims name, and the files given (which take the place of
 * scenarios/<name>.yaml for their names), loaded. Returns 0, or -EINVAL with err. */
int rep_book_open(struct rep_book *b, const struct rep_claims *cl, const char *const *files,
                  size_t nfiles, struct lab_err *err);
void rep_book_close(struct rep_book *b);
struct rep_scenario *rep_book_find(const struct rep_book *b, const char *name);
/* Does evidence e select expectation x (a: scratch for texts)? */
bool rep_selects(struct lab_arena *a, const struct rep_evidence *e, const struct lab_expect *x);
/* Hold each claim's selectors, plots and numbers against the scenarios that exist:
 * an expectation (by metric and where:, never by position), plot or sweep value that is
 * not there is an error at the claim ("file:line:col: claim ID: ..."). With 'all', every
 * problem is printed there and err sums them up; without, err is the first. */
int rep_book_check(const struct rep_book *b, const struct rep_claims *cl, FILE *all,
                   struct lab_err *err);

/* Run the wanted scenarios that exist (all of them, or only 'files' when some are
 * given) into out/runs/<name>/ (o: jobs, quiet). Returns the runner's exit status
 * (0, 1 when an expectation failed, or 2-4: nothing to report). */
struct lab_runner_opts;
int rep_book_run(struct rep_book *b, const char *const *files, size_t nfiles, const char *out,
                 const struct lab_runner_opts *o);
/* Take results from each of dirs: slices of `run --shard` are merged into
 * out/runs/<name>/, complete results (summary.json in dir or dir/<name>/) are read
 * where they are. Returns an exit status as rep_book_run. */
int rep_book_from(struct rep_book *b, const char *const *dirs, size_t ndirs, const char *out,
                  const struct lab_runner_opts *o, struct lab_err *err);

/* ---- Verdicts (verdict.c) ---------------------------------------------------------- */

/* One expectation of a scenario over the runs it applies to. */
struct rep_row {
    const struct lab_expect *x;
    size_t index; /* in sc->expects */
    size_t nruns, nok;
    const json_t **checks; /* each run's entry in summary.json's "expect" */
    const json_t **runs;   /* the run it belongs to */
};

struct rep_part {
    const struct rep_evidence *ev;
    const struct rep_scenario *s; /* NULL when the claims name an unknown scenario */
    struct rep_row *rows;
    size_t nrows;
};

struct rep_outcome {
    enum rep_verdict verdict;
    char *reason;     /* one sentence: what decided it */
    char *correction; /* the texts with their numbers filled in, or NULL */
    char *note;
    char *problems; /* "claim ID: {name}: why\n" per number that could not be given */
    size_t nchecks, nfailed;
    struct rep_part *parts; /* one per evidence */
    size_t nparts;
};

/* Decide claim c against the book. Never fails: what cannot be decided says why. */
void rep_decide(const struct rep_claim *c, const struct rep_book *b, struct rep_outcome *o);
void rep_outcome_free(struct rep_outcome *o);

/* "key=value key=value" of a run's sweep values (repeat when sc repeats): malloc'd. */
char *rep_run_label(const struct lab_scenario *sc, const json_t *run);
/* A number for a reader: whole numbers in full, others to 'digits' significant digits
 * (no exponent below 10^digits). 'ns' formats nanoseconds as a duration (1.5 ms). */
void rep_format(char *buf, size_t len, double v, int digits, bool ns);

/* ---- Writing (markdown.c, page.c, bench.c) ----------------------------------------- */

struct rep_doc {
    const struct rep_claims *cl;
    const struct rep_book *b;
    const struct rep_outcome *o; /* one per claim */
    const json_t *bench;         /* `distlab bench`'s document, or NULL */
    const char *bench_file;      /* what --bench named (NULL: none), for the appendix */
    const char *bench_error;     /* why it could not be read, or NULL */
    bool html;                   /* the page's source: badges, anchors and figure slots */
};

/* A figure of the report, numbered in order. */
struct rep_figure {
    const struct rep_scenario *s;
    const struct lab_plot *plot;
    char *svg, *png; /* the images, NULL when not drawn */
};

/* The report as Markdown into f; figures[] gets every figure it shows (malloc'd).
 * In the page's variant a figure is the line "<div data-figure="N"></div>". */
void rep_markdown(FILE *f, const struct rep_doc *d, struct rep_figure **figures, size_t *nfig);
void rep_figures_free(struct rep_figure *f, size_t n);

/* index.html from the page's Markdown: cmark-gfm renders it, each figure slot becomes
 * the plot's SVG (ids made unique, nothing fetched), CSS inline. Returns the page
 * (malloc'd), or NULL with err set. */
char *rep_page(const char *markdown, const struct rep_figure *fig, size_t nfig, const char *title,
               struct lab_err *err);

/* The benchmark appendix (Markdown) into f. */
void rep_bench_appendix(FILE *f, const struct rep_doc *d);

/* Markdown-safe text: every character that could start markup is escaped; newlines
 * become spaces when 'cell' (a table cell). */
void rep_md_text(FILE *f, const char *s, bool cell);

#endif

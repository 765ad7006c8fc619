/* cmd_bench.c - `distlab bench`: the options, which items run, the order they run in,
 * what is written where, and the exit status (0 nothing failing, 1 a regression or an
 * exact difference, 2 bad input or a bench that failed, 3 a server it could not reach,
 * 4 a file it could not write). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lab/bench/bench.h"
#include "lab/cli.h"
#include "lab/output.h"

struct cmd {
    const char *suite_file, *filter, *baseline, *save, *json, *markdown, *tap;
    const char *cmp[2];
    bool cmp_builds;
    bool gates[BENCH_NGATES], any_gate;
    const char **sets;
    struct bench_opts o;
    struct bench_gate_opts g;
    struct bench_compare_opts c;
    regex_t re;
};

static void usage(FILE *f)
{
    fputs("usage: distlab bench [--gate exact|timed|counted]... [--filter RE] [--repeat N]\n"
          "                     [--baseline FILE] [--save FILE] [--json FILE]\n"
          "                     [--markdown FILE] [--tap FILE] [--set k=v]... [-j N]\n"
          "       distlab bench --compare REV_A REV_B [--pairs N] [--filter RE]\n"
          "       distlab bench --compare-builds BUILD_A BUILD_B [--pairs N] [--filter RE]\n"
          "Run the benchmark suite (bench/suite.yaml) and gate it against a baseline.\n"
          "  --gate G           run only gate G (repeatable; default: all three)\n"
          "                     exact: the CI set's simulated metrics, equal to the baseline\n"
          "                     timed: the bench programs; in-run ratios within --tolerance\n"
          "                     counted: hot loops' instructions (cachegrind) within 1%\n"
          "  --filter RE        only items whose id (gate/name, e.g. timed/timers) matches RE;\n"
          "                     an on_demand item runs only when RE also names it\n"
          "  --baseline FILE    compare with a saved document; exit 1 on a failing row\n"
          "  --save FILE        save this run as a baseline (rows of items that did not run\n"
          "                     are kept from FILE)\n"
          "  --json FILE        the document (default results/bench/bench.json; - stdout)\n"
          "  --markdown FILE    a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)\n"
          "  --tap FILE         TAP, a line per item\n"
          "  --repeat N         runs of each timed program (default 3)\n"
          "  --tolerance X      timed ratios may move X (default 0.15)\n"
          "  --counted-tolerance X   instructions may move X (default 0.01)\n"
          "  --set k=v          override a value of every exact scenario\n"
          "  -j, --jobs N       simulated runs at once (default 2)\n"
          "  --timeout S        a bench program's time limit (default 900)\n"
          "  --suite FILE       the suite (default bench/suite.yaml)\n"
          "  --compare A B      build revisions A and B in temporary git worktrees and run\n"
          "                     their timed items interleaved A B A B\n"
          "  --compare-builds A B   the same with two build directories already built\n"
          "  --pairs N          A B pairs (default 9, at least 9)\n"
          "  --alpha X          family-wise significance, Holm (default 0.05)\n"
          "  --threshold X      a verdict needs the ratio B/A past 1 +- X (default 0.05)\n"
          "Exit: 0 nothing failing, 1 a regression or an exact difference, 2 bad input or a\n"
          "      bench that failed, 3 a server unreachable, 4 a file that cannot be written.\n",
          f);
}

static int bad(const char *fmt, const char *arg)
{
    fputs("distlab bench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (try --help)\n", stderr);
    return LAB_EXIT_INPUT;
}

static bool number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* Where the bench programs are: $DISTLAB_BENCH_DIR, else bench/ beside lab/ of the
 * build this binary belongs to. */
static char *bench_dir(void)
{
    const char *env = getenv("DISTLAB_BENCH_DIR");
    if (env && *env)
        return lab_xstrdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 16);
    if (n <= 0)
        return lab_xstrdup("build/bench");
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    *slash = 0; /* .../lab */
    slash = strrchr(exe, '/');
    strcpy(slash ? slash + 1 : exe, "bench");
    return lab_xstrdup(exe);
}

/* An option with a value: a string kept as given, or a number checked against a range
 * (whole numbers when 'whole'). */
struct valopt {
    int c;
    const char **str;
    double *num;
    int *whole;
    double lo, hi;
    const char *want;
};

static int value_opt(struct cmd *m, int c, const char *arg)
{
    double v;
    const struct valopt t[] = {
        {'f', &m->filter, NULL, NULL, 0, 0, NULL},
        {'b', &m->baseline, NULL, NULL, 0, 0, NULL},
        {'s', &m->save, NULL, NULL, 0, 0, NULL},
        {'J', &m->json, NULL, NULL, 0, 0, NULL},
        {'M', &m->markdown, NULL, NULL, 0, 0, NULL},
        {'A', &m->tap, NULL, NULL, 0, 0, NULL},
        {'u', &m->suite_file, NULL, NULL, 0, 0, NULL},
        {'r', NULL, NULL, &m->o.repeats, 1, 1000, "--repeat wants 1 to 1000"},
        {'j', NULL, NULL, &m->o.jobs, 1, 1024, "-j wants 1 to 1024"},
        {'P', NULL, NULL, &m->c.pairs, 9, 1000, "--pairs wants at least 9 (at most 1000)"},
        {'T', NULL, &m->g.tolerance, NULL, 0, 1, "--tolerance wants 0 to 1"},
        {'C', NULL, &m->g.counted_tolerance, NULL, 0, 1, "--counted-tolerance wants 0 to 1"},
        {'a', NULL, &m->c.alpha, NULL, 1e-9, 0.5, "--alpha wants 0 to 0.5"},
        {'X', NULL, &m->c.threshold, NULL, 0, 10, "--threshold wants 0 to 10"},
        {'t', NULL, &m->o.timeout_s, NULL, 0, 86400, "--timeout wants seconds (0: none)"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].c != c)
            continue;
        if (t[i].str) {
            *t[i].str = arg;
            return 0;
        }
        if (!number(arg, t[i].lo, t[i].hi, &v) || (t[i].whole && v != (int)v)) {
            fprintf(stderr, "distlab bench: %s, got '%s' (try --help)\n", t[i].want, arg);
            return LAB_EXIT_INPUT;
        }
        if (t[i].whole)
            *t[i].whole = (int)v;
        else
            *t[i].num = v;
        return 0;
    }
    usage(stderr);
    return LAB_EXIT_INPUT;
}

static int parse(int argc, char **argv, struct cmd *m)
{
    static const struct option opts[] = {{"gate", required_argument, NULL, 'g'},
                                         {"filter", required_argument, NULL, 'f'},
                                         {"baseline", required_argument, NULL, 'b'},
                                         {"save", required_argument, NULL, 's'},
                                         {"json", required_argument, NULL, 'J'},
                                         {"markdown", required_argument, NULL, 'M'},
                                         {"tap", required_argument, NULL, 'A'},
                                         {"repeat", required_argument, NULL, 'r'},
                                         {"tolerance", required_argument, NULL, 'T'},
                                         {"counted-tolerance", required_argument, NULL, 'C'},
                                         {"set", required_argument, NULL, 'S'},
                                         {"jobs", required_argument, NULL, 'j'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"suite", required_argument, NULL, 'u'},
                                         {"compare", no_argument, NULL, 'c'},
                                         {"compare-builds", no_argument, NULL, 'B'},
                                         {"pairs", required_argument, NULL, 'P'},
                                         {"alpha", required_argument, NULL, 'a'},
                                         {"threshold", required_argument, NULL, 'X'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    int c, rc;
    optind = 0;
    while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        if (c == 'g') {
            int g = 0;
            while (g < BENCH_NGATES && strcmp(bench_gate_names[g], optarg))
                g++;
            if (g == BENCH_NGATES)
                return bad("--gate wants exact, timed or counted, got '%s'", optarg);
            m->gates[g] = m->any_gate = true;
        } else if (c == 'S') {
            m->sets[m->o.nsets++] = optarg;
        } else if (c == 'c' || c == 'B') {
            if (m->cmp[0])
                return bad("%s: one comparison at a time", "--compare");
            m->cmp_builds = c == 'B';
            if (optind + 2 > argc)
                return bad("%s wants two arguments", c == 'B' ? "--compare-builds" : "--compare");
            m->cmp[0] = argv[optind++];
            m->cmp[1] = argv[optind++];
        } else if (c == 'h') {
            usage(stdout);
            return -1;
        } else if (c == '?') {
            usage(stderr);
            return LAB_EXIT_INPUT;
        } else if ((rc = value_opt(m, c, optarg))) {
            return rc;
        }
    }
    if (optind < argc)
        return bad("unexpected argument '%s'", argv[optind]);
    if (m->cmp[0] && (m->baseline || m->save || m->any_gate))
        return bad("%s compares two builds: no --gate, --baseline or --save with it", "--compare");
    if (m->save && m->o.nsets)
        return bad("%s saves the suite's own figures: no --set with it", "--save");
    if (m->filter && (rc = regcomp(&m->re, m->filter, REG_EXTENDED | REG_NOSUB))) {
        char msg[256];
        regerror(rc, &m->re, msg, sizeof(msg));
        fprintf(stderr, "distlab bench: --filter '%s': %s\n", m->filter, msg);
        m->filter = NULL;
        return LAB_EXIT_INPUT;
    }
    if (!m->any_gate)
        for (int g = 0; g < BENCH_NGATES; g++)
            m->gates[g] = true;
    return 0;
}

static bool selected(const struct cmd *m, const struct bench_item *it)
{
    if (!m->gates[it->gate])
        return false;
    if (!m->filter)
        return !it->on_demand;
    return !regexec(&m->re, it->id, 0, NULL, 0) && (!it->on_demand || strstr(m->filter, it->name));
}

/* Run the selected items: exact first, then counted, then the timed ones round after
 * round (a burst of load elsewhere then falls on one repeat of each, not on all repeats
 * of one). ran[i] tells which succeeded. Returns the worst status of a failure, or 0. */
static int run_suite(const struct cmd *m, const struct bench_suite *s, const bool *sel, bool *ran,
                     struct bench_doc *d)
{
    static const enum bench_gate order[] = {BENCH_EXACT, BENCH_COUNTED, BENCH_TIMED};
    int status = 0;
    size_t total = 0, k = 0;
    for (size_t i = 0; i < s->nitems; i++)
        total += sel[i] ? (s->items[i].gate == BENCH_TIMED ? (size_t)m->o.repeats : 1) : 0;
    bool *failed = lab_xmalloc(s->nitems + 1);
    memset(failed, 0, s->nitems + 1);
    for (int g = 0; g < 3; g++) {
        int rounds = order[g] == BENCH_TIMED ? m->o.repeats : 1;
        for (int rep = 0; rep < rounds; rep++) {
            for (size_t i = 0; i < s->nitems; i++) {
                const struct bench_item *it = &s->items[i];
                if (!sel[i] || it->gate != order[g] || failed[i])
                    continue;
                struct lab_err err = {0};
                int rc;
                if (rounds > 1)
                    bench_progress(&m->o, k++, total, "%s, run %d/%d", it->id, rep + 1, rounds);
                else
                    bench_progress(&m->o, k++, total, "%s", it->id);
                if (it->gate == BENCH_EXACT)
                    rc = bench_run_exact(d, it, &m->o, &err);
                else if (it->gate == BENCH_COUNTED)
                    rc = bench_run_counted(d, it, &m->o, &err);
                else
                    rc = bench_run_timed(d, it, &m->o, &err);
                bench_progress_end(&m->o);
                if (rc) {
                    failed[i] = true;
                    fprintf(stderr, "distlab bench: %s%s\n", rc == 1 ? "skipped: " : "", err.msg);
                    if (rc < 0 && err.status > status)
                        status = err.status;
                    json_t *list = json_object_get(d->head, rc == 1 ? "skipped" : "failed");
                    if (!list)
                        json_object_set_new(d->head, rc == 1 ? "skipped" : "failed",
                                            list = json_array());
                    json_array_append_new(
                        list, json_pack("{s:s, s:s}", "item", it->id, "error", err.msg));
                }
            }
        }
    }
    for (size_t i = 0; i < s->nitems; i++)
        ran[i] = sel[i] && !failed[i];
    free(failed);
    return status;
}

/* --save: this run's rows, and the saved file's rows of items that did not run and are
 * still in the suite, in the suite's order. */
static int save(const struct cmd *m, const struct bench_suite *s, const bool *ran,
                const struct bench_doc *d, struct lab_err *err)
{
    struct bench_doc old, out;
    bench_doc_init(&old);
    bench_doc_init(&out);
    if (access(m->save, F_OK) == 0 && bench_doc_read(&old, m->save, err) < 0) {
        bench_doc_free(&old);
        return -EINVAL;
    }
    out.head = json_deep_copy(d->head);
    for (size_t i = 0; i < s->nitems; i++) {
        const struct bench_doc *from = ran[i] ? d : &old;
        for (size_t k = 0; k < from->n; k++) {
            const struct bench_row *r = &from->rows[k];
            if (r->gate != s->items[i].gate || strcmp(r->bench, s->items[i].name))
                continue;
            if (out.n == out.cap) {
                out.cap = out.cap ? 2 * out.cap : 64;
                out.rows = lab_xrealloc(out.rows, out.cap * sizeof(*out.rows));
            }
            struct bench_row *c = &out.rows[out.n++];
            *c = *r; /* shallow: out's rows are not freed one by one */
        }
    }
    int rc = bench_doc_write(&out, m->save, err);
    free(out.rows);
    json_decref(out.head);
    bench_doc_free(&old);
    return rc;
}

/* Write FILE with fn's text; "-" is stdout. */
static int write_text(const char *path, void (*fn)(FILE *, void *), void *arg, struct lab_err *err)
{
    if (!strcmp(path, "-")) {
        fn(stdout, arg);
        return 0;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    fn(f, arg);
    fclose(f);
    int rc = lab_write_file(path, buf, len, err);
    free(buf);
    return rc;
}

struct out_args {
    const struct bench_doc *d, *base;
    const struct bench_suite *s;
    const bool *ran;
    const struct bench_findings *fs;
};

static void md_fn(FILE *f, void *arg)
{
    struct out_args *a = arg;
    bench_report_markdown(f, a->d, a->s, a->ran, a->base, a->base ? a->fs : NULL);
}

static void tap_fn(FILE *f, void *arg)
{
    struct out_args *a = arg;
    bench_report_tap(f, a->d, a->s, a->ran, a->base ? a->fs : NULL, a->base != NULL);
}

/* The document, the reports, the baseline: every file this run writes. */
static int outputs(const struct cmd *m, struct out_args *a, struct lab_err *err)
{
    const char *json = m->json ? m->json : "results/bench/bench.json";
    if (!m->json && lab_mkdirs("results/bench") < 0)
        return lab_err_write(err, "results/bench", -errno);
    if (bench_doc_write(a->d, json, err) < 0)
        return -EIO;
    if (m->markdown && write_text(m->markdown, md_fn, a, err) < 0)
        return -EIO;
    if (m->tap && write_text(m->tap, tap_fn, a, err) < 0)
        return -EIO;
    if (m->save && save(m, a->s, a->ran, a->d, err) < 0)
        return -EIO;
    return 0;
}

/* ---- --compare -------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double load1(void)
{
    double la;
    return getloadavg(&la, 1) == 1 ? la : -1;
}

static void cmp_md_fn(FILE *f, void *arg)
{
    void **a = arg;
    bench_report_compare(f, a[0], a[1], a[2], a[3], true);
}

/* The comparison as JSON: each row with both sides' samples and the decision. */
static int compare_json(const char *path, const struct bench_comparison *c, const char *la,
                        const char *lb, const struct bench_compare_opts *o, struct lab_err *err)
{
    struct bench_doc d;
    bench_doc_init(&d);
    d.head = bench_head();
    json_object_set_new(d.head, "compare",
                        json_pack("{s:s, s:s, s:i, s:f, s:f, s:f}", "a", la, "b", lb, "pairs",
                                  o->pairs, "alpha", o->alpha, "threshold", o->threshold,
                                  "confidence", o->conf));
    static const char *const names[] = {"same", "regression", "improvement"};
    for (size_t i = 0; i < c->n; i++) {
        const struct bench_cmp_row *r = &c->rows[i];
        struct bench_row *b = bench_doc_row(&d, BENCH_TIMED, r->b->bench, r->b->workload,
                                            json_incref(r->b->params), r->b->figure);
        for (size_t k = 0; k < r->b->n; k++)
            bench_row_add(b, r->b->v[k]);
        /* the row is B's; A's samples and the decision go beside it */
        json_t *l = json_object(), *sa = json_array();
        for (size_t k = 0; k < r->a->n; k++)
            json_array_append_new(sa, lab_json_number(r->a->v[k]));
        json_object_set_new(l, "a_samples", sa);
        json_object_set_new(l, "ratio", lab_json_number(r->t.ratio));
        json_object_set_new(
            l, "ci", json_pack("[o, o]", lab_json_number(r->t.lo), lab_json_number(r->t.hi)));
        json_object_set_new(l, "p", lab_json_number(r->t.p));
        json_object_set_new(l, "p_holm", lab_json_number(r->p_adj));
        json_object_set_new(l, "verdict", json_string(names[r->verdict > 2 ? 0 : r->verdict]));
        b->extra = l;
    }
    int rc = bench_doc_write(&d, path, err);
    bench_doc_free(&d);
    return rc;
}

static int cmd_compare(struct cmd *m, const struct bench_suite *s, const bool *sel)
{
    struct lab_err err = {0};
    char tmp[] = "/tmp/distlab-compare-XXXXXX";
    char *dir[2] = {NULL, NULL};
    const char **programs = lab_xmalloc((s->nitems + 1) * sizeof(*programs));
    size_t np = 0;
    for (size_t i = 0; i < s->nitems; i++)
        if (sel[i] && s->items[i].gate == BENCH_TIMED)
            programs[np++] = s->items[i].program;
    programs[np] = NULL;
    int status = 0, rc;
    bool built = !m->cmp_builds;
    double t0 = now_s();
    if (!np) {
        fprintf(stderr, "distlab bench: --compare: no timed item matches\n");
        free(programs);
        return LAB_EXIT_INPUT;
    }
    if (m->cmp_builds) {
        for (int k = 0; k < 2; k++)
            dir[k] = bench_strf("%s/bench", m->cmp[k]);
    } else if (!mkdtemp(tmp)) {
        lab_err_write(&err, tmp, -errno);
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        free(programs);
        return LAB_EXIT_WRITE;
    } else if ((rc = bench_build_revs(m->o.root, m->cmp[0], m->cmp[1], programs, tmp, &dir[0],
                                      &dir[1], &m->o, &err)) < 0) {
        status = err.status;
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        goto out;
    }
    struct bench_doc da, db;
    bench_doc_init(&da);
    bench_doc_init(&db);
    double t1 = now_s(), la[2] = {load1(), 0};
    if (bench_compare_run(s, sel, dir[0], dir[1], &m->o, &m->c, &da, &db, &err) > 0)
        status = LAB_EXIT_INPUT; /* reported with what could be compared */
    la[1] = load1();
    struct bench_comparison c;
    bench_compare_decide(&da, &db, &m->c, &c);
    bench_report_compare(stdout, &c, m->cmp[0], m->cmp[1], &m->c, false);
    printf("\nbuilt in %.0f s, measured in %.0f s; load average %.2f at the start, %.2f at the "
           "end\n",
           t1 - t0, now_s() - t1, la[0], la[1]);
    void *args[] = {&c, (void *)m->cmp[0], (void *)m->cmp[1], &m->c};
    if ((m->json && compare_json(m->json, &c, m->cmp[0], m->cmp[1], &m->c, &err) < 0) ||
        (m->markdown && write_text(m->markdown, cmp_md_fn, args, &err) < 0)) {
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        status = err.status;
    }
    for (size_t i = 0; !status && i < c.n; i++)
        if (c.rows[i].verdict == BENCH_REGRESSION)
            status = LAB_EXIT_EXPECT;
    if (!c.n && !status) {
        fprintf(stderr, "distlab bench: --compare: no figure was measured on both sides\n");
        status = LAB_EXIT_INPUT;
    }
    bench_comparison_free(&c);
    bench_doc_free(&da);
    bench_doc_free(&db);
out:
    if (built)
        bench_build_cleanup(m->o.root, tmp);
    free(dir[0]);
    free(dir[1]);
    free(programs);
    return status;
}

/* ---- The verb --------------------------------------------------------------------- */

static int cmd_run(struct cmd *m, const struct bench_suite *s, const bool *sel)
{
    struct lab_err err = {0};
    struct bench_doc d, base;
    bench_doc_init(&d);
    bench_doc_init(&base);
    if (m->baseline && bench_doc_read(&base, m->baseline, &err) < 0) {
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        bench_doc_free(&base);
        return LAB_EXIT_INPUT;
    }
    bool *ran = lab_xmalloc(s->nitems + 1);
    d.head = bench_head();
    bool counted = false;
    for (size_t i = 0; i < s->nitems; i++)
        counted |= sel[i] && s->items[i].gate == BENCH_COUNTED;
    if (counted && bench_counter())
        json_object_set_new(d.head, "counter", json_string(bench_counter()));
    if (counted && m->any_gate && m->gates[BENCH_COUNTED] && !bench_counter()) {
        fprintf(stderr, "distlab bench: --gate counted needs valgrind (Debian: valgrind)\n");
        free(ran);
        bench_doc_free(&d);
        bench_doc_free(&base);
        return LAB_EXIT_INPUT;
    }
    int status = run_suite(m, s, sel, ran, &d);
    bench_head_load(d.head, "load_end");
    struct bench_findings fs = {0};
    if (m->baseline)
        bench_gate(&d, &base, s, ran, &m->g, &fs);
    if (m->baseline && !m->o.nsets) /* with --set the figures are not the suite's own */
        bench_resave_hint(&fs, m->baseline, m->o.root);
    bench_report_table(stdout, &d, s, ran, m->baseline ? &base : NULL, m->baseline ? &fs : NULL);
    struct out_args a = {&d, m->baseline ? &base : NULL, s, ran, &fs};
    if (outputs(m, &a, &err) < 0) {
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        status = err.status > status ? err.status : status;
    }
    for (size_t i = 0; !status && i < fs.n; i++)
        if (bench_finding_fails(&fs.f[i]))
            status = LAB_EXIT_EXPECT;
    bench_findings_free(&fs);
    free(ran);
    bench_doc_free(&d);
    bench_doc_free(&base);
    return status;
}

int lab_cmd_bench(int argc, char **argv)
{
    struct cmd m = {.o = {.repeats = 3,
                          .jobs = 2,
                          .timeout_s = 900,
                          .root = lab_source_root(),
                          .progress = isatty(STDERR_FILENO)},
                    .g = {.tolerance = 0.15, .counted_tolerance = 0.01},
                    .c = {.pairs = 9, .alpha = 0.05, .threshold = 0.05, .conf = 0.95}};
    m.sets = lab_xmalloc(((size_t)argc + 1) * sizeof(*m.sets));
    m.o.sets = m.sets;
    int status = parse(argc, argv, &m);
    char *dir = bench_dir(), *suite_file = NULL;
    struct bench_suite s = {0};
    bool *sel = NULL;
    if (status) {
        status = status < 0 ? 0 : status;
        goto out;
    }
    m.o.bench_dir = dir;
    if (!m.suite_file) {
        suite_file = bench_strf("%s/bench/suite.yaml", m.o.root);
    }
    struct lab_err err = {0};
    if (bench_suite_load(&s, m.suite_file ? m.suite_file : suite_file, &err) < 0) {
        fprintf(stderr, "distlab bench: %s\n", err.msg);
        status = LAB_EXIT_INPUT;
        goto out;
    }
    sel = lab_xmalloc(s.nitems + 1);
    size_t n = 0;
    for (size_t i = 0; i < s.nitems; i++)
        n += sel[i] = m.cmp[0] ? s.items[i].gate == BENCH_TIMED && selected(&m, &s.items[i])
                               : selected(&m, &s.items[i]);
    if (!n) {
        fprintf(stderr, "distlab bench: no item of %s matches\n", s.file);
        status = LAB_EXIT_INPUT;
        goto out;
    }
    status = m.cmp[0] ? cmd_compare(&m, &s, sel) : cmd_run(&m, &s, sel);
out:
    if (m.filter)
        regfree(&m.re);
    bench_suite_free(&s);
    free(sel);
    free(suite_file);
    free(dir);
    free(m.sets);
    return status;
}

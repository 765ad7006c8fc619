/* cmd_report.c - `distlab report [FILE...] [--from DIR]... [--out DIR] [--pdf]`: load the
 * claims, run their scenarios (or read results made elsewhere, merging slices), decide
 * every claim, and write DIR/index.html, DIR/report.md with its PNGs under
 * DIR/figures/, and with --pdf DIR/report.pdf printed by headless Chromium. */
#include "lab/report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/output.h"
#include "lab/runner.h"

extern char **environ;

int lab_cmd_report(int argc, char **argv);

struct report_opts {
    const char *out, *claims, *bench;
    const char **from;
    size_t nfrom;
    bool pdf, check;
    struct lab_runner_opts run;
};

static void usage(FILE *f)
{
    fputs("usage: distlab report [FILE...] [--from DIR]... [--out DIR] [--pdf]\n"
          "                      [--claims FILE] [--bench FILE] [--check] [-j N] [-q]\n"
          "The teaching report: every claim of the seed with its verdict, the checks that\n"
          "decide it measured against the theory, the plots, the scenario's explanation\n"
          "and how to reproduce it. Runs the scenarios the claims name (or only FILE...),\n"
          "then writes DIR/index.html (one self-contained page) and DIR/report.md.\n"
          "  --from DIR      read results made elsewhere instead of running: summary.json\n"
          "                  in DIR or DIR/<name>/, or the slices of `run --shard`, merged\n"
          "  --out DIR       where the report goes (default: report)\n"
          "  --pdf           also print DIR/report.pdf with headless Chromium\n"
          "  --claims FILE   the claims (default: scenarios/claims/seed.yaml)\n"
          "  --bench FILE    `distlab bench`'s document, for the benchmark appendix\n"
          "  --check         only hold the claims against the scenarios (FILE... taking the\n"
          "                  place of theirs): every expectation, plot and sweep value a\n"
          "                  claim names must be there; runs and writes nothing\n"
          "  -j, --jobs N    runs at once (default: one per CPU)\n"
          "  -q, --quiet     print only failures\n"
          "  -h, --help      this text\n"
          "Exit: 0 written, 1 written but an expectation failed, 2 bad input, 3 a world or\n"
          "      server unreachable, 4 the report could not be written.\n",
          f);
}

static int parse(int argc, char **argv, struct report_opts *o, int *status)
{
    static const struct option opts[] = {
        {"from", required_argument, NULL, 'f'},  {"out", required_argument, NULL, 'o'},
        {"pdf", no_argument, NULL, 'p'},         {"claims", required_argument, NULL, 'c'},
        {"bench", required_argument, NULL, 'b'}, {"check", no_argument, NULL, 'k'},
        {"jobs", required_argument, NULL, 'j'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},        {0}};
    memset(o, 0, sizeof(*o));
    o->out = "report";
    o->run.world = LAB_WORLD_SIM;
    o->run.jobs = 0; /* lab_runner decides per world */
    o->from = calloc((size_t)argc + 1, sizeof(*o->from));
    if (!o->from)
        abort();
    int c;
    char *end;
    optind = 0;
    while ((c = getopt_long(argc, argv, "j:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->from[o->nfrom++] = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'p':
            o->pdf = true;
            break;
        case 'c':
            o->claims = optarg;
            break;
        case 'b':
            o->bench = optarg;
            break;
        case 'k':
            o->check = true;
            break;
        case 'q':
            o->run.quiet = true;
            break;
        case 'j': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1024) {
                fprintf(stderr, "distlab report: -j must be between 1 and 1024, got '%s'\n",
                        optarg);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            o->run.jobs = (int)v;
            break;
        }
        case 'h':
            usage(stdout);
            *status = LAB_EXIT_OK;
            return -1;
        default:
            usage(stderr);
            *status = LAB_EXIT_INPUT;
            return -1;
        }
    }
    return 0;
}

/* ---- Writing ----------------------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const char *text, struct lab_err *err)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    int rc = lab_write_file(path, text, strlen(text), err);
    free(path);
    return rc;
}

/* The Markdown of d (report.md, or the page's source with d->html). */
static char *markdown(const struct rep_doc *d, struct rep_figure **fig, size_t *nfig)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    rep_markdown(f, d, fig, nfig);
    fclose(f);
    return buf;
}

/* Each figure's PNG into out/figures/<scenario>/, where report.md finds it. */
static int copy_figures(const char *out, const struct rep_figure *fig, size_t n,
                        struct lab_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!fig[i].png)
            continue;
        char *dir, *path;
        if (asprintf(&dir, "%s/figures/%s", out, fig[i].s->name) < 0 ||
            asprintf(&path, "%s/%s", dir, strrchr(fig[i].png, '/') + 1) < 0)
            abort();
        size_t len;
        char *data = lab_read_file(fig[i].png, &len);
        if (!data)
            rc = lab_err_write(err, fig[i].png, -errno);
        else if ((rc = lab_mkdirs(dir)))
            lab_err_write(err, dir, rc);
        else
            rc = lab_write_file(path, data, len, err);
        free(data);
        free(dir);
        free(path);
    }
    return rc;
}

static int write_report(const struct report_opts *o, struct rep_doc *d, struct lab_err *err)
{
    int rc = lab_mkdirs(o->out);
    if (rc)
        return lab_err_write(err, o->out, rc);
    struct rep_figure *fig, *fig2;
    size_t nfig, nfig2;
    d->html = false;
    char *md = markdown(d, &fig, &nfig);
    d->html = true;
    char *src = markdown(d, &fig2, &nfig2);
    char *page = rep_page(src, fig2, nfig2, d->cl->title, err);
    if (!page)
        rc = -EINVAL;
    if (!rc)
        rc = write_text(o->out, "report.md", md, err);
    if (!rc)
        rc = write_text(o->out, "index.html", page, err);
    if (!rc)
        rc = copy_figures(o->out, fig, nfig, err);
    rep_figures_free(fig, nfig);
    rep_figures_free(fig2, nfig2);
    free(md);
    free(src);
    free(page);
    return rc;
}

/* ---- --pdf ------------------------------------------------------------------------- */

static char *find_program(const char *const *names)
{
    const char *path = getenv("PATH");
    for (size_t k = 0; names[k]; k++) {
        char *p = lab_xstrdup(path ? path : "/usr/bin:/bin"), *save = NULL;
        for (char *dir = strtok_r(p, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
            char *full;
            if (asprintf(&full, "%s/%s", dir, names[k]) < 0)
                abort();
            if (access(full, X_OK) == 0) {
                free(p);
                return full;
            }
            free(full);
        }
        free(p);
    }
    return NULL;
}

/* Run argv, its output into 'log', for at most 'limit' seconds. Returns its exit status,
 * or -1 when it could not start or was killed. */
static int run_for(char *const *argv, const char *log, int limit)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        return -1;
    int st;
    for (int tenths = 0; tenths < limit * 10; tenths++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Print out/index.html to out/report.pdf. Chromium is kept off the network: no
 * background services, every host name unresolvable, a proxy nobody listens on. */
static int print_pdf(const char *out, struct lab_err *err)
{
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", NULL};
    char *exe = find_program(names);
    if (!exe) {
        snprintf(err->msg, sizeof(err->msg),
                 "cannot write results: %s/report.pdf: --pdf needs headless Chromium, which "
                 "is not installed (Debian: apt-get install chromium); index.html and "
                 "report.md are written",
                 out);
        err->status = LAB_EXIT_WRITE;
        return -ENOENT;
    }
    char tmp[] = "/tmp/distlab-pdf-XXXXXX";
    char *abs = realpath(out, NULL), *page, *pdf, *profile, *log;
    if (!mkdtemp(tmp) || !abs) {
        free(exe);
        free(abs);
        return lab_err_write(err, out, -errno);
    }
    if (asprintf(&page, "file://%s/index.html", abs) < 0 ||
        asprintf(&pdf, "--print-to-pdf=%s/report.pdf", abs) < 0 ||
        asprintf(&profile, "--user-data-dir=%s/profile", tmp) < 0 ||
        asprintf(&log, "%s/chromium.log", tmp) < 0)
        abort();
    const char *argv[24];
    size_t n = 0;
    static const char *const flags[] = {"--headless",
                                        "--disable-gpu",
                                        "--no-first-run",
                                        "--disable-background-networking",
                                        "--disable-component-update",
                                        "--disable-sync",
                                        "--disable-default-apps",
                                        "--disable-extensions",
                                        "--host-resolver-rules=MAP * ~NOTFOUND",
                                        "--proxy-server=127.0.0.1:9",
                                        "--no-pdf-header-footer",
                                        NULL};
    argv[n++] = exe;
    for (size_t k = 0; flags[k]; k++)
        argv[n++] = flags[k];
    if (geteuid() == 0) /* Chromium's sandbox refuses to run as root */
        argv[n++] = "--no-sandbox";
    argv[n++] = profile;
    argv[n++] = pdf;
    argv[n++] = page;
    argv[n] = NULL;
    int st = run_for((char *const *)argv, log, 120);
    char *ppath;
    if (asprintf(&ppath, "%s/report.pdf", abs) < 0)
        abort();
    struct stat sb;
    int rc = 0;
    if (st != 0 || stat(ppath, &sb) != 0 || sb.st_size == 0) {
        char *text = lab_read_file(log, NULL);
        snprintf(err->msg, sizeof(err->msg),
                 "cannot write results: %s: headless Chromium (%s) %s%s%.600s", ppath, exe,
                 st < 0 ? "did not finish" : "failed", text && *text ? ":\n" : "",
                 text ? text : "");
        err->status = LAB_EXIT_WRITE;
        free(text);
        rc = -EIO;
    }
    lab_remove_tree(tmp);
    free(ppath);
    free(exe);
    free(abs);
    free(page);
    free(pdf);
    free(profile);
    free(log);
    return rc;
}

/* ---- The verb ---------------------------------------------------------------------- */

/* Results for the book: runs of FILE... (or, without --from, of every scenario the
 * claims name), then the --from directories. Returns an exit status. */
static int gather(struct rep_book *b, const struct report_opts *o, const char *const *files,
                  size_t nfiles)
{
    int status = LAB_EXIT_OK;
    if (nfiles || !o->nfrom)
        status = rep_book_run(b, files, nfiles, o->out, &o->run);
    if (o->nfrom && status <= LAB_EXIT_EXPECT) {
        struct lab_err err;
        int s = rep_book_from(b, o->from, o->nfrom, o->out, &o->run, &err);
        if (s > LAB_EXIT_EXPECT)
            fprintf(stderr, "distlab report: %s\n", err.msg);
        status = s > status ? s : status;
    }
    return status;
}

static int report(const struct report_opts *o, const char *const *files, size_t nfiles)
{
    struct lab_err err;
    struct rep_claims cl;
    char *claims = NULL;
    if (!o->claims && asprintf(&claims, "%s/scenarios/claims/seed.yaml", lab_source_root()) < 0)
        abort();
    int rc = rep_claims_load(&cl, o->claims ? o->claims : claims, &err);
    free(claims);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return err.status;
    }
    struct rep_book b;
    if ((rc = rep_book_open(&b, &cl, files, nfiles, &err)) ||
        (rc = rep_book_check(&b, &cl, stderr, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        rep_book_close(&b);
        rep_claims_free(&cl);
        return err.status;
    }
    if (o->check) {
        size_t n = 0;
        for (size_t i = 0; i < b.n; i++)
            n += b.s[i].wanted && b.s[i].sc;
        if (!o->run.quiet)
            printf("claims: %zu claims of %s hold against the %zu scenarios they name\n", cl.n,
                   cl.file, n);
        rep_book_close(&b);
        rep_claims_free(&cl);
        return LAB_EXIT_OK;
    }
    int status = gather(&b, o, files, nfiles);
    if (status <= LAB_EXIT_EXPECT) {
        struct rep_outcome *out = calloc(cl.n ? cl.n : 1, sizeof(*out));
        if (!out)
            abort();
        for (size_t i = 0; i < cl.n; i++) {
            rep_decide(&cl.c[i], &b, &out[i]);
            for (char *p = out[i].problems, *nl; p && (nl = strchr(p, '\n')); p = nl + 1)
                fprintf(stderr, "distlab report: %s: %.*s\n", cl.file, (int)(nl - p), p);
        }
        struct rep_doc d = {.cl = &cl, .b = &b, .o = out, .bench_file = o->bench};
        json_error_t je;
        char bench_err[256] = "";
        json_t *bench = o->bench ? json_load_file(o->bench, 0, &je) : NULL;
        if (o->bench && !bench)
            snprintf(bench_err, sizeof(bench_err), "%s: %s", o->bench, je.text);
        d.bench = bench;
        d.bench_error = *bench_err ? bench_err : NULL;
        if (write_report(o, &d, &err) || (o->pdf && print_pdf(o->out, &err))) {
            fprintf(stderr, "distlab report: %s\n", err.msg);
            status = err.status;
        } else if (!o->run.quiet) {
            size_t n[REP_UNMEASURED + 1] = {0};
            for (size_t i = 0; i < cl.n; i++)
                n[out[i].verdict]++;
            printf("report: %zu claims (%zu confirmed, %zu refuted, %zu with a correction, "
                   "%zu undecided, %zu not yet measured) in %s/index.html and %s/report.md%s%s%s\n",
                   cl.n, n[REP_CONFIRMED], n[REP_REFUTED], n[REP_CORRECTED], n[REP_UNDECIDED],
                   n[REP_UNMEASURED], o->out, o->out, o->pdf ? " and " : "", o->pdf ? o->out : "",
                   o->pdf ? "/report.pdf" : "");
        }
        json_decref(bench);
        for (size_t i = 0; i < cl.n; i++)
            rep_outcome_free(&out[i]);
        free(out);
    }
    rep_book_close(&b);
    rep_claims_free(&cl);
    return status;
}

int lab_cmd_report(int argc, char **argv)
{
    struct report_opts o;
    int status = LAB_EXIT_OK;
    if (parse(argc, argv, &o, &status) == 0)
        status = report(&o, (const char *const *)argv + optind, (size_t)(argc - optind));
    free(o.from);
    fflush(stdout);
    return status;
}

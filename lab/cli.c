/* cli.c - `distlab list | run | check`: options, loading every scenario before running
 * any, running (on N threads with -j), progress on a terminal, results, plots and the
 * PASS/FAIL report, and the exit status. The only place that decides exit codes. */
#include "lab/cli.h"

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lab/lab_version.h"
#include "lab/output.h"
#include "lab/run.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- list ------------------------------------------------------------------------- */

static const char *type_word(enum lab_type t)
{
    static const char *const w[] = {"int", "float", "bool", "duration", "string", "enum",
                                    "list"};
    return w[t];
}

static void list_usage(FILE *f)
{
    fputs("usage: distlab list [-v]\n"
          "List the scenario files (scenarios/*.yaml) with their one-line description.\n"
          "  -v, --verbose   also list the workloads with their parameters\n"
          "  -h, --help      this text\n", f);
}

int lab_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'}, {0}};
    bool verbose = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        if (c == 'v') {
            verbose = true;
        } else if (c == 'h') {
            list_usage(stdout);
            return LAB_EXIT_OK;
        } else {
            list_usage(stderr);
            return LAB_EXIT_INPUT;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "distlab list: unexpected argument '%s'\n", argv[optind]);
        list_usage(stderr);
        return LAB_EXIT_INPUT;
    }
    const char *root = lab_source_root();
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/scenarios/*.yaml", root);
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH || grc != 0 || g.gl_pathc == 0) {
        printf("no scenarios in %s/scenarios\n", root);
    } else {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct lab_arena a = {0};
            struct lab_err err;
            const char *name, *about;
            const char *shown = g.gl_pathv[i];
            if (!strcmp(root, ".") && !strncmp(shown, "./", 2))
                shown += 2;
            if (lab_scenario_peek(&a, g.gl_pathv[i], &name, &about, &err)) {
                printf("%-40s (unreadable: %s)\n", shown, err.msg);
            } else {
                size_t len = strcspn(about, "\n");
                printf("%-40s %.*s\n", shown, (int)len, about);
            }
            lab_arena_free(&a);
        }
    }
    if (grc == 0)
        globfree(&g);
    if (verbose) {
        printf("\nworkloads:\n");
        for (size_t i = 0; lab_workloads[i]; i++) {
            const struct lab_workload *w = lab_workloads[i];
            printf("  %s  (%s%s%s)  %s\n", w->name, w->worlds & LAB_WORLD_SIM ? "sim" : "",
                   w->worlds == (LAB_WORLD_SIM | LAB_WORLD_LIVE) ? ", " : "",
                   w->worlds & LAB_WORLD_LIVE ? "live" : "", w->about ? w->about : "");
            for (size_t k = 0; w->params && w->params[k].name; k++) {
                const struct lab_param *p = &w->params[k];
                printf("      %-16s %-8s", p->name, type_word(p->type));
                if (p->type == LAB_ENUM && p->choices)
                    printf(" %s", p->choices);
                if (p->def)
                    printf(" (default %s)", p->def);
                else
                    printf(" (required)");
                if (p->min <= p->max && p->type != LAB_DURATION)
                    printf(" [%g, %g]", p->min, p->max);
                if (p->doc)
                    printf("  %s", p->doc);
                printf("\n");
            }
        }
    }
    return LAB_EXIT_OK;
}

/* ---- Progress --------------------------------------------------------------------- */

struct progress {
    pthread_mutex_t mu;
    bool on;
    const char *name;
    size_t total, done;
    double *frac;
    double start, last;
};

static void progress_show(struct progress *p, bool force)
{
    double t = now_s();
    if (!force && t - p->last < 0.1)
        return;
    p->last = t;
    double sum = (double)p->done;
    for (size_t i = 0; i < p->total; i++)
        sum += p->frac[i];
    double f = sum / (double)p->total;
    char eta[32] = "";
    if (f > 0.01 && t - p->start > 0.5) {
        double left = (t - p->start) * (1 - f) / f;
        if (left >= 60)
            snprintf(eta, sizeof(eta), ", %dm%02ds left", (int)(left / 60), (int)left % 60);
        else
            snprintf(eta, sizeof(eta), ", %.0fs left", left);
    }
    fprintf(stderr, "\r\033[K%s: run %zu/%zu, %3.0f%%%s", p->name,
            p->done + 1 > p->total ? p->total : p->done + 1, p->total, f * 100, eta);
    fflush(stderr);
}

static void on_progress(void *user, const struct lab_run *run, double fraction)
{
    struct progress *p = user;
    pthread_mutex_lock(&p->mu);
    /* The workload and lab_sim_go may both report: show the furthest. */
    if (fraction > p->frac[run->spec->index])
        p->frac[run->spec->index] = fraction;
    progress_show(p, false);
    pthread_mutex_unlock(&p->mu);
}

/* ---- Running a scenario ---------------------------------------------------------- */

struct exec {
    const struct lab_scenario *sc;
    struct lab_run *runs;
    int *rcs;
    size_t next;
    bool stop;
    pthread_mutex_t mu;
    struct progress *prog;
};

static void *worker(void *arg)
{
    struct exec *x = arg;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        size_t i = x->next++;
        bool stop = x->stop || i >= x->sc->nruns;
        pthread_mutex_unlock(&x->mu);
        if (stop)
            break;
        int rc = lab_run_exec(&x->runs[i]);
        x->rcs[i] = rc;
        if (rc < 0) {
            pthread_mutex_lock(&x->mu);
            x->stop = true;
            pthread_mutex_unlock(&x->mu);
        } else {
            lab_run_check(&x->runs[i]);
        }
        if (x->prog->on) {
            pthread_mutex_lock(&x->prog->mu);
            x->prog->frac[i] = 0;
            x->prog->done++;
            progress_show(x->prog, false);
            pthread_mutex_unlock(&x->prog->mu);
        }
    }
    return NULL;
}

/* Run every run of sc; returns 0 or the first failure (in run order) as -errno, whose
 * message is printed. runs[] must hold sc->nruns entries. */
static int execute(const struct lab_scenario *sc, struct lab_run *runs, int jobs, bool quiet)
{
    struct progress prog = {.on = !quiet && isatty(STDERR_FILENO), .name = sc->name,
                            .total = sc->nruns, .start = now_s()};
    pthread_mutex_init(&prog.mu, NULL);
    prog.frac = calloc(sc->nruns, sizeof(double));
    int *rcs = calloc(sc->nruns, sizeof(int));
    if (!prog.frac || !rcs)
        abort();
    for (size_t i = 0; i < sc->nruns; i++) {
        lab_run_init(&runs[i], sc, &sc->runs[i], sc->world);
        if (prog.on) {
            runs[i].progress = on_progress;
            runs[i].progress_user = &prog;
        }
    }
    struct exec x = {.sc = sc, .runs = runs, .rcs = rcs, .prog = &prog};
    pthread_mutex_init(&x.mu, NULL);
    if (jobs > (int)sc->nruns)
        jobs = (int)sc->nruns;
    if (jobs <= 1) {
        worker(&x);
    } else {
        pthread_t *t = calloc((size_t)jobs, sizeof(*t));
        if (!t)
            abort();
        int started = 0;
        for (int i = 0; i < jobs; i++)
            if (pthread_create(&t[i], NULL, worker, &x) == 0)
                started++;
        if (!started)
            worker(&x);
        for (int i = 0; i < started; i++)
            pthread_join(t[i], NULL);
        free(t);
    }
    if (prog.on) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    int rc = 0;
    for (size_t i = 0; i < sc->nruns && !rc; i++) {
        if (rcs[i] < 0) {
            rc = rcs[i];
            fprintf(stderr, "%s\n", runs[i].fail);
        }
    }
    pthread_mutex_destroy(&x.mu);
    pthread_mutex_destroy(&prog.mu);
    free(prog.frac);
    free(rcs);
    return rc;
}

static int exit_for(int rc)
{
    return rc == -ECONNREFUSED || rc == -EHOSTUNREACH ? LAB_EXIT_UNREACH : LAB_EXIT_INPUT;
}

static bool color_on(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

static void print_params(const struct lab_scenario *sc, const struct lab_runspec *r)
{
    for (size_t k = 0; k < sc->nsweep; k++) {
        const char *t = lab_run_key_text(sc, r, sc->sweep[k].name);
        printf(" %s=%s", sc->sweep[k].name, t ? t : "");
    }
    if (sc->repeat > 1)
        printf(" repeat=%d", r->repeat);
}

/* Print the expectations' outcomes; returns how many failed. */
static size_t report(const struct lab_scenario *sc, const struct lab_run *runs, bool all,
                     size_t *passed)
{
    bool color = color_on();
    size_t failed = 0;
    *passed = 0;
    for (size_t i = 0; i < sc->nruns; i++) {
        for (size_t k = 0; k < runs[i].nchecks; k++) {
            const struct lab_check *c = &runs[i].checks[k];
            if (c->ok)
                ++*passed;
            else
                failed++;
            if (c->ok && !all)
                continue;
            if (color)
                printf(c->ok ? "\033[32mPASS\033[0m " : "\033[31mFAIL\033[0m ");
            else
                printf(c->ok ? "PASS " : "FAIL ");
            printf("%s", sc->name);
            print_params(sc, runs[i].spec);
            printf(": %s", c->x->text);
            if (c->message)
                printf("  (%s)", c->message);
            else if (c->x->rhs_is_expr)
                printf("  (actual %.6g, expected %.6g)", c->actual, c->expected);
            else
                printf("  (actual %.6g)", c->actual);
            if (c->x->why)
                printf("  -- %s", c->x->why);
            printf("\n");
        }
    }
    return failed;
}

struct run_opts {
    unsigned world;
    bool has_seed;
    uint64_t seed;
    const char *out;
    const char **sets;
    size_t nsets;
    bool quiet;
    int jobs;
};

static void run_usage(FILE *f, const char *verb)
{
    fprintf(f, "usage: distlab %s FILE... [--world sim|live] [--seed N] [--out DIR]\n"
               "                [--set key.path=value]... [-j N] [-q]\n", verb);
    if (!strcmp(verb, "check"))
        fputs("Run scenarios and print each expectation as PASS or FAIL (no plots).\n", f);
    else
        fputs("Run scenarios: results/<name>/summary.json and CSVs, plots/<name>/ images.\n", f);
    fputs("  --world sim|live   which world to run in (default sim)\n"
          "  --seed N           the scenario's seed (same as --set seed=N)\n"
          "  --out DIR          write results and plots under DIR/<name>/\n"
          "  --set k.path=v     override a scenario value (e.g. workload.clients=8)\n"
          "  -j, --jobs N       run independent runs on N threads\n"
          "  -q, --quiet        print only failures\n"
          "  -h, --help         this text\n"
          "Exit: 0 ok, 1 an expectation failed, 2 bad input, 3 a world or server "
          "unreachable.\n", f);
}

static int parse_run_opts(int argc, char **argv, struct run_opts *o, int *status)
{
    static const struct option opts[] = {
        {"world", required_argument, NULL, 'w'}, {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},   {"set", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},       {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {0}};
    memset(o, 0, sizeof(*o));
    o->world = LAB_WORLD_SIM;
    o->jobs = 1;
    o->sets = calloc((size_t)argc + 1, sizeof(*o->sets));
    if (!o->sets)
        abort();
    int c;
    char *end;
    optind = 0;
    while ((c = getopt_long(argc, argv, "qj:h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (!strcmp(optarg, "sim"))
                o->world = LAB_WORLD_SIM;
            else if (!strcmp(optarg, "live"))
                o->world = LAB_WORLD_LIVE;
            else {
                fprintf(stderr, "distlab %s: --world must be sim or live, got '%s'\n", argv[0],
                        optarg);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            break;
        case 's': {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || *optarg == '-' || v > (unsigned long long)INT64_MAX) {
                fprintf(stderr, "distlab %s: --seed must be an integer >= 0, got '%s'\n",
                        argv[0], optarg);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            o->has_seed = true;
            o->seed = v;
            break;
        }
        case 'o':
            o->out = optarg;
            break;
        case 'S':
            o->sets[o->nsets++] = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'j': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > 1024) {
                fprintf(stderr, "distlab %s: -j must be between 1 and 1024, got '%s'\n",
                        argv[0], optarg);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            o->jobs = (int)v;
            break;
        }
        case 'h':
            run_usage(stdout, argv[0]);
            *status = LAB_EXIT_OK;
            return -1;
        default:
            run_usage(stderr, argv[0]);
            *status = LAB_EXIT_INPUT;
            return -1;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "distlab %s: no scenario file given\n", argv[0]);
        run_usage(stderr, argv[0]);
        *status = LAB_EXIT_INPUT;
        return -1;
    }
    return 0;
}

static int run_or_check(int argc, char **argv, bool check)
{
    struct run_opts o;
    int status = LAB_EXIT_OK;
    if (parse_run_opts(argc, argv, &o, &status) < 0) {
        free(o.sets);
        return status;
    }
    size_t nfiles = (size_t)(argc - optind);
    char **files = argv + optind;
    struct lab_scenario **scs = calloc(nfiles, sizeof(*scs));
    if (!scs)
        abort();
    struct lab_load_opts lo = {.world = o.world, .sets = o.sets, .nsets = o.nsets,
                               .has_seed = o.has_seed, .seed = o.seed};
    /* Load everything first: a typo in the third file should not cost two runs. */
    for (size_t i = 0; i < nfiles; i++) {
        struct lab_err err;
        scs[i] = lab_scenario_load(files[i], &lo, &err);
        if (!scs[i]) {
            fprintf(stderr, "%s\n", err.msg);
            status = LAB_EXIT_INPUT;
            goto out;
        }
    }
    bool warned_gnuplot = false;
    size_t total_failed = 0;
    for (size_t i = 0; i < nfiles; i++) {
        const struct lab_scenario *sc = scs[i];
        struct lab_run *runs = calloc(sc->nruns, sizeof(*runs));
        if (!runs)
            abort();
        int rc = execute(sc, runs, o.jobs, o.quiet);
        if (rc < 0) {
            status = exit_for(rc);
            for (size_t r = 0; r < sc->nruns; r++)
                lab_run_cleanup(&runs[r]);
            free(runs);
            goto out;
        }
        char *rdir, *pdir;
        if (o.out) {
            if (asprintf(&rdir, "%s/%s", o.out, sc->name) < 0 ||
                asprintf(&pdir, "%s/%s", o.out, sc->name) < 0)
                abort();
        } else if (asprintf(&rdir, "results/%s", sc->name) < 0 ||
                   asprintf(&pdir, "plots/%s", sc->name) < 0) {
            abort();
        }
        struct lab_err err;
        rc = lab_write_results(sc, runs, sc->nruns, rdir, &err);
        int plot_failures = 0;
        if (!rc && !check) {
            bool no_gnuplot = false;
            char *tpl;
            if (asprintf(&tpl, "%s/plots", lab_source_root()) < 0)
                abort();
            rc = lab_draw_plots(sc, runs, sc->nruns, pdir, tpl, &no_gnuplot, &plot_failures,
                                &err);
            free(tpl);
            if (no_gnuplot && !warned_gnuplot && sc->nplots) {
                fprintf(stderr, "distlab: gnuplot is not in PATH: plot data written to %s, "
                                "no images drawn\n", pdir);
                warned_gnuplot = true;
            }
        }
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            status = LAB_EXIT_INPUT;
        } else {
            size_t passed, failed = report(sc, runs, check && !o.quiet, &passed);
            total_failed += failed;
            if (!o.quiet) {
                printf("%s: %zu run%s, %zu expectation%s passed, %zu failed; results in %s",
                       sc->name, sc->nruns, sc->nruns == 1 ? "" : "s", passed,
                       passed == 1 ? "" : "s", failed, rdir);
                if (!check && sc->nplots)
                    printf(", plots in %s", pdir);
                printf("\n");
            }
        }
        free(rdir);
        free(pdir);
        for (size_t r = 0; r < sc->nruns; r++)
            lab_run_cleanup(&runs[r]);
        free(runs);
        if (status != LAB_EXIT_OK)
            goto out;
    }
    if (total_failed)
        status = LAB_EXIT_EXPECT;
out:
    for (size_t i = 0; i < nfiles; i++)
        lab_scenario_free(scs[i]);
    free(scs);
    free(o.sets);
    fflush(stdout);
    return status;
}

int lab_cmd_run(int argc, char **argv)
{
    return run_or_check(argc, argv, false);
}

int lab_cmd_check(int argc, char **argv)
{
    return run_or_check(argc, argv, true);
}

/* ---- Entry ------------------------------------------------------------------------ */

static void usage(FILE *f, const struct lab_cmd *cmds)
{
    fputs("usage: distlab VERB [OPTIONS] [ARGS]   (distlab VERB --help for its options)\n"
          "distlab runs distributed-systems primitives under scripted scenarios.\n\nverbs:\n",
          f);
    for (const struct lab_cmd *c = cmds; c->name; c++)
        fprintf(f, "  %-8s %s\n", c->name, c->about ? c->about : "");
    fputs("\n  --version  print the version\n"
          "Exit: 0 ok, 1 an expectation failed, 2 bad input, 3 a world or server "
          "unreachable.\n", f);
}

int lab_main(const struct lab_cmd *cmds, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, cmds);
        return LAB_EXIT_INPUT;
    }
    const char *verb = argv[1];
    if (!strcmp(verb, "--help") || !strcmp(verb, "-h") || !strcmp(verb, "help")) {
        usage(stdout, cmds);
        return LAB_EXIT_OK;
    }
    if (!strcmp(verb, "--version") || !strcmp(verb, "-V")) {
        printf("distlab %s\n", DISTLAB_GIT_VERSION);
        return LAB_EXIT_OK;
    }
    for (const struct lab_cmd *c = cmds; c->name; c++)
        if (!strcmp(c->name, verb))
            return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "distlab: unknown verb '%s'\n", verb);
    usage(stderr, cmds);
    return LAB_EXIT_INPUT;
}

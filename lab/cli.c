/* cli.c - the command line: `distlab VERB`, `list`, and the options of `run` and `check`
 * (which then hand over to the runner, lab/runner.h). */
#include "lab/cli.h"

#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "lab/lab_version.h"
#include "lab/output.h"
#include "lab/runner.h"

/* The exit statuses (err.h), as --help states them. */
#define LAB_EXIT_HELP                                                                      \
    "Exit: 0 ok, 1 an expectation failed, 2 bad input, 3 a world or server unreachable,\n" \
    "      4 the results could not be written.\n"

/* ---- list ------------------------------------------------------------------------- */

static void list_usage(FILE *f)
{
    fputs("usage: distlab list [-v]\n"
          "List the scenario files (scenarios/*.yaml) with their one-line description.\n"
          "  -v, --verbose   also list the workloads with their parameters\n"
          "  -h, --help      this text\n", f);
}

/* Every workload with its parameters. */
static void list_workloads(void)
{
    printf("\nworkloads:\n");
    for (size_t i = 0; lab_workloads[i]; i++) {
        const struct lab_workload *w = lab_workloads[i];
        printf("  %s  (%s%s%s)  %s\n", w->name, w->worlds & LAB_WORLD_SIM ? "sim" : "",
               w->worlds == (LAB_WORLD_SIM | LAB_WORLD_LIVE) ? ", " : "",
               w->worlds & LAB_WORLD_LIVE ? "live" : "", w->about ? w->about : "");
        for (size_t k = 0; w->params && w->params[k].name; k++) {
            const struct lab_param *p = &w->params[k];
            printf("      %-16s %-8s", p->name, lab_type_word(p->type));
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
    if (verbose)
        list_workloads();
    return LAB_EXIT_OK;
}

/* ---- run and check --------------------------------------------------------------- */

static void run_usage(FILE *f, const char *verb)
{
    fprintf(f, "usage: distlab %s FILE... [--world sim|live] [--seed N] [--out DIR]\n"
               "                [--set key.path=value]... [-j N] [-q] [--controls]\n"
               "                [--shard I/N]\n", verb);
    if (!strcmp(verb, "check"))
        fputs("Run scenarios and print each expectation as PASS or FAIL (no plots).\n", f);
    else
        fputs("Run scenarios: results/<name>/summary.json and CSVs, plots/<name>/ images.\n", f);
    fputs("  --world sim|live   which world to run in (default sim)\n"
          "  --seed N           the scenario's seed (same as --set seed=N)\n"
          "  --out DIR          write results and plots under DIR/<name>/\n"
          "  --set k.path=v     override a scenario value (e.g. workload.clients=8)\n"
          "  -j, --jobs N       run independent runs on N threads (default: one per CPU\n"
          "                     in the simulated world, one in the live world)\n"
          "  --shard I/N        run only slice I of N of the runs and write a partial\n"
          "                     result (DIR/<name>/shard-I-of-N.json) for `distlab merge`\n"
          "  -q, --quiet        print only failures\n"
          "  --controls         also run each expectation's control (its mechanism\n"
          "                     switched off) and fail if the expectation passes there\n"
          "  -h, --help         this text\n"
          LAB_EXIT_HELP, f);
}

static int parse_run_opts(int argc, char **argv, struct lab_runner_opts *o, const char ***sets,
                          int *status)
{
    static const struct option opts[] = {
        {"world", required_argument, NULL, 'w'}, {"seed", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},   {"set", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},       {"jobs", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {"controls", no_argument, NULL, 'C'},
        {"shard", required_argument, NULL, 'H'},
        {0}};
    memset(o, 0, sizeof(*o));
    o->world = LAB_WORLD_SIM;
    o->jobs = 0; /* lab_runner decides per world */
    *sets = calloc((size_t)argc + 1, sizeof(**sets));
    if (!*sets)
        abort();
    o->sets = *sets;
    int c;
    char *end;
    optind = 0;
    while ((c = getopt_long(argc, argv, "qj:h", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (!(o->world = lab_world_parse(optarg))) {
                fprintf(stderr, "distlab %s: --world must be sim or live, got '%s'\n", argv[0],
                        optarg);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            break;
        case 's':
            o->seed = optarg; /* checked with the scenario's seed */
            break;
        case 'o':
            if (!*optarg) { /* "" + "/name" would be /name */
                fprintf(stderr, "distlab %s: --out must name a directory, got ''\n", argv[0]);
                *status = LAB_EXIT_INPUT;
                return -1;
            }
            o->out = optarg;
            break;
        case 'S':
            (*sets)[o->nsets++] = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'C':
            o->controls = true;
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
        case 'H': {
            struct lab_err err;
            if (lab_shard_parse(optarg, &o->shard, &err)) {
                fprintf(stderr, "distlab %s: %s\n", argv[0], err.msg);
                *status = err.status;
                return -1;
            }
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
    struct lab_runner_opts o;
    const char **sets = NULL;
    int status = LAB_EXIT_OK;
    if (parse_run_opts(argc, argv, &o, &sets, &status) == 0) {
        o.check = check;
        status = lab_runner((const char *const *)argv + optind, (size_t)(argc - optind), &o);
    }
    free(sets);
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
          LAB_EXIT_HELP, f);
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

/* timed.c - a timed item: its bench program run once, each JSON line it prints turned
 * into rows (rows.c), one sample per row and run. Reads no clock itself: the programs
 * measure, in the same run as their peers. */
#include "lab/bench/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The last lines of a program's stderr, for a message. */
static const char *tail(const char *s, int lines)
{
    const char *p = s + strlen(s);
    while (p > s && (p[-1] == '\n' || p[-1] == ' '))
        p--;
    while (p > s && lines > 0)
        if (*--p == '\n')
            lines--;
    return *p == '\n' ? p + 1 : p;
}

static size_t count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* argv for a program of the suite: 'prefix' (a tool that runs it), its path in dir, the
 * item's args, 'suffix'. NULL when the program is not built there (err says so); *at is
 * the index of the path. Free the path and the array. */
static const char **program_argv(const struct bench_item *it, const char *dir,
                                 const char *const *prefix, const char *const *suffix, size_t *at,
                                 struct lab_err *err)
{
    size_t np = count(prefix), na = count(it->args), ns = count(suffix), k = 0;
    char *path = bench_strf("%s/%s", dir, it->program);
    if (access(path, X_OK) < 0) {
        snprintf(err->msg, sizeof(err->msg), "%s: %s is not built here (%s)", it->id, it->program,
                 path);
        free(path);
        return NULL;
    }
    const char **argv = lab_xmalloc((np + na + ns + 2) * sizeof(*argv));
    for (size_t i = 0; i < np; i++)
        argv[k++] = prefix[i];
    *at = k;
    argv[k++] = path;
    for (size_t i = 0; i < na; i++)
        argv[k++] = it->args[i];
    for (size_t i = 0; i < ns; i++)
        argv[k++] = suffix[i];
    argv[k] = NULL;
    return argv;
}

int bench_exec_item(const struct bench_item *it, const char *dir, const char *const *prefix,
                    const char *const *suffix, const struct bench_opts *o, char **out,
                    struct lab_err *err)
{
    size_t at = 0;
    const char **argv = program_argv(it, dir, prefix, suffix, &at, err);
    *out = NULL;
    if (!argv)
        return 1;
    char *errtxt = NULL;
    int st = bench_spawn(argv, o->timeout_s, o->progress, out, &errtxt);
    int rc = 0;
    if (st != 0) {
        err->status = st == LAB_EXIT_UNREACH ? LAB_EXIT_UNREACH : LAB_EXIT_INPUT;
        if (st < 0)
            snprintf(err->msg, sizeof(err->msg), "%s: cannot run %s: %s", it->id, argv[0],
                     strerror(-st));
        else
            snprintf(err->msg, sizeof(err->msg), "%s: %s exited %d%s%s", it->id, argv[at], st,
                     *errtxt ? ":\n" : "", tail(errtxt, 6));
        free(*out);
        *out = NULL;
        rc = -EIO;
    }
    free(errtxt);
    free((char *)argv[at]);
    free(argv);
    return rc;
}

int bench_run_timed(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                    struct lab_err *err)
{
    char *out;
    int rc = bench_exec_item(it, o->bench_dir, NULL, NULL, o, &out, err);
    if (rc)
        return rc;
    int lineno = 0;
    for (char *line = out, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        if (!line[strspn(line, " \t\r")])
            continue;
        if ((rc = bench_parse_line(d, it, line, lineno, err)) < 0)
            break;
    }
    free(out);
    return rc;
}

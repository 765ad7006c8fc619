/* helpers.c - temporary files, an in-process distlab and its summaries, for the tests. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/cli.h"
#include "lab/output.h"
#include "workloads_test.h"

static const struct lab_cmd cmds[] = {
    {"list", lab_cmd_list, "list"},
    {"run", lab_cmd_run, "run"},
    {"check", lab_cmd_check, "check"},
    {0},
};

char *t_tmpdir(void)
{
    char *d = strdup("/tmp/distlab-lab-test-XXXXXX");
    if (!d || !mkdtemp(d))
        abort();
    return d;
}

char *t_write(const char *dir, const char *name, const char *text)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
    return path;
}

char *t_read(const char *path)
{
    return lab_read_file(path, NULL);
}

int t_distlab(const char *dir, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "distlab";
    va_list ap;
    va_start(ap, dir);
    char *a;
    while ((a = va_arg(ap, char *)) && argc < 63)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    int saved_out = -1, saved_err = -1;
    fflush(stdout);
    fflush(stderr);
    if (dir) {
        char *o, *e;
        if (asprintf(&o, "%s/out.txt", dir) < 0 || asprintf(&e, "%s/err.txt", dir) < 0)
            abort();
        int fo = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        int fe = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0666);
        saved_out = dup(1);
        saved_err = dup(2);
        dup2(fo, 1);
        dup2(fe, 2);
        close(fo);
        close(fe);
        free(o);
        free(e);
    }
    int rc = lab_main(cmds, argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (dir) {
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
    }
    return rc;
}

bool t_exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

char *t_read_in(const char *dir, const char *name)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    char *text = t_read(path);
    free(path);
    return text;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void t_cleanup(char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static json_t *summary(const char *out, const char *scenario)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s/summary.json", out, scenario);
    return json_load_file(path, 0, NULL);
}

char *t_runs_text(const char *out, const char *scenario)
{
    json_t *root = summary(out, scenario);
    if (!root)
        return NULL;
    size_t i;
    json_t *run;
    json_array_foreach(json_object_get(root, "runs"), i, run)
        json_object_del(run, "wall_s");
    char *s = json_dumps(json_object_get(root, "runs"), JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

double t_metric(const char *out, const char *scenario, size_t i, const char *name)
{
    json_t *root = summary(out, scenario);
    json_t *m = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "runs"), i), "metrics"), name);
    double v = json_is_number(m) ? json_number_value(m) : NAN;
    json_decref(root);
    return v;
}

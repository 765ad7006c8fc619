/* counted.c - a counted item: a hot loop of bench-count under valgrind's cachegrind,
 * which counts the instructions executed (Ir). These VMs expose no hardware counters
 * (perf_event_open's instruction counter is "not supported"), and an instruction count
 * barely moves with the machine's load, which is what makes it a gate on a shared
 * machine. The program runs twice, with and without its loop (--setup-only), so the
 * difference is the loop alone: start-up, the dynamic linker and the set-up cancel. */
#include "lab/bench/bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char counter[128];

const char *bench_counter(void)
{
    static bool probed;
    if (probed)
        return counter[0] ? counter : NULL;
    probed = true;
    const char *argv[] = {"valgrind", "--version", NULL};
    char *out = NULL, *err = NULL;
    if (bench_spawn(argv, 30, false, &out, &err) == 0 && !strncmp(out, "valgrind-", 9)) {
        out[strcspn(out, "\n")] = 0;
        snprintf(counter, sizeof(counter), "instructions executed (Ir), %s cachegrind", out);
    }
    free(out);
    free(err);
    return counter[0] ? counter : NULL;
}

/* Run the item under cachegrind (with --setup-only when 'setup'): the instructions of the
 * whole process into *ir, its JSON line into *line (malloc'd). */
static int count_once(const struct bench_item *it, const struct bench_opts *o, bool setup,
                      uint64_t *ir, char **line, struct lab_err *err)
{
    char file[] = "/tmp/distlab-cachegrind-XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0) {
        snprintf(err->msg, sizeof(err->msg), "%s: cannot make a temporary file: %s", it->id,
                 strerror(errno));
        err->status = LAB_EXIT_WRITE;
        return -errno;
    }
    close(fd);
    char outopt[sizeof(file) + 32];
    snprintf(outopt, sizeof(outopt), "--cachegrind-out-file=%s", file);
    const char *prefix[] = {
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--branch-sim=no", "-q", outopt, NULL};
    const char *suffix[] = {setup ? "--setup-only" : NULL, NULL};
    char *out;
    int rc = bench_exec_item(it, o->bench_dir, prefix, suffix, o, &out, err);
    FILE *f = rc ? NULL : fopen(file, "r");
    char buf[4096];
    bool found = false;
    while (f && fgets(buf, sizeof(buf), f))
        if (sscanf(buf, "summary: %" SCNu64, ir) == 1)
            found = true;
    if (f)
        fclose(f);
    unlink(file);
    if (!rc && !found) {
        snprintf(err->msg, sizeof(err->msg), "%s: cachegrind wrote no summary", it->id);
        err->status = LAB_EXIT_INPUT;
        rc = -EIO;
    }
    if (rc) {
        free(out);
        return rc;
    }
    out[strcspn(out, "\n")] = 0;
    *line = out;
    return 0;
}

int bench_run_counted(struct bench_doc *d, const struct bench_item *it, const struct bench_opts *o,
                      struct lab_err *err)
{
    if (!bench_counter()) { /* skipped; cmd_bench.c refuses --gate counted without it */
        snprintf(err->msg, sizeof(err->msg), "%s: valgrind is not installed", it->id);
        return 1;
    }
    uint64_t all = 0, setup = 0;
    char *line = NULL, *line2 = NULL;
    int rc = count_once(it, o, false, &all, &line, err);
    if (rc)
        return rc;
    if ((rc = count_once(it, o, true, &setup, &line2, err))) {
        free(line);
        return rc;
    }
    json_error_t je;
    json_t *j = json_loads(line, 0, &je);
    json_int_t ops = json_integer_value(json_object_get(j, "ops"));
    const char *loop = json_string_value(json_object_get(j, "loop"));
    if (!j || ops <= 0 || !loop || strcmp(line, line2) || all < setup) {
        snprintf(err->msg, sizeof(err->msg),
                 "%s: %s must print the same {\"loop\": NAME, \"ops\": N > 0, ...} with and "
                 "without --setup-only, and count more with the loop; printed '%s' and '%s'",
                 it->id, it->program, line, line2);
        err->status = LAB_EXIT_INPUT;
        rc = -EINVAL;
    } else {
        json_t *params = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            if (strcmp(k, "bench") && strcmp(k, "loop"))
                json_object_set(params, k, v);
        }
        struct bench_row *r =
            bench_doc_row(d, BENCH_COUNTED, it->name, loop, params, "instructions_per_op");
        bench_row_add(r, (double)(all - setup) / (double)ops);
    }
    json_decref(j);
    free(line);
    free(line2);
    return rc;
}

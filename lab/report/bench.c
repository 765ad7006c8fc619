/* bench.c - the report's benchmark appendix, from the JSON document `distlab bench`
 * writes ({ "version", "machine", ..., "rows": [ { "gate", "bench", "workload",
 * "parameters", "figure", "unit", "peer", "better", "median", "min", "max", ... } ] }):
 * the figures measured against a peer or a limit in the same run, as ratios. Without a
 * document the appendix says how to get one; a document it cannot read is named. */
#include "lab/report/report.h"

#include <math.h>
#include <string.h>

static const char *str(const json_t *o, const char *key, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : dflt;
}

/* The rows worth a reader's time: in-run ratios (a peer), then the other timed and
 * counted figures. */
static bool shown(const json_t *row, bool ratios)
{
    const char *gate = str(row, "gate", "");
    if (!strcmp(gate, "exact"))
        return false;
    return ratios == (json_object_get(row, "peer") != NULL);
}

static void bench_row(FILE *f, const json_t *row)
{
    char med[64], lo[64], hi[64];
    rep_format(med, sizeof(med), json_number_value(json_object_get(row, "median")), 3, false);
    rep_format(lo, sizeof(lo), json_number_value(json_object_get(row, "min")), 3, false);
    rep_format(hi, sizeof(hi), json_number_value(json_object_get(row, "max")), 3, false);
    fputs("| ", f);
    rep_md_text(f, str(row, "bench", "?"), true);
    fputs(" | ", f);
    rep_md_text(f, str(row, "workload", ""), true);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(row, "parameters"), k, v)
    {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fputs(" ", f);
        rep_md_text(f, k, true);
        fputs("=", f);
        rep_md_text(f, json_is_string(v) ? json_string_value(v) : t ? t : "?", true);
        free(t);
    }
    fputs(" | ", f);
    rep_md_text(f, str(row, "figure", "?"), true);
    fputs(" | ", f);
    rep_md_text(f, str(row, "peer", ""), true);
    fprintf(f, " | %s %s", med, str(row, "unit", ""));
    fprintf(f, " | %s to %s | ", lo, hi);
    rep_md_text(f, str(row, "better", ""), true);
    fprintf(f, " | %lld |\n", (long long)json_integer_value(json_object_get(row, "repeats")));
}

static void table(FILE *f, const json_t *rows, bool ratios)
{
    size_t i, n = 0;
    json_t *row;
    json_array_foreach(rows, i, row) n += shown(row, ratios);
    if (!n)
        return;
    fputs(ratios ? "### Against a peer or a limit, in the same run\n\n" : "### Other figures\n\n",
          f);
    fputs("| Benchmark | Workload | Figure | Against | Median | Range | Better | Repeats |\n"
          "|---|---|---|---|--:|--:|---|--:|\n",
          f);
    json_array_foreach(rows, i, row) if (shown(row, ratios)) bench_row(f, row);
    fputs("\n", f);
}

void rep_bench_appendix(FILE *f, const struct rep_doc *d)
{
    fputs("## Appendix: benchmarks\n\n", f);
    if (!d->bench_file) {
        fputs("No benchmark results were given. `./distlab bench --json bench.json` measures "
              "them on this machine, and `./distlab report --bench bench.json` puts them "
              "here.\n",
              f);
        return;
    }
    if (d->bench_error || !d->bench) {
        fputs("The benchmark results could not be read: ", f);
        rep_md_text(f, d->bench_error ? d->bench_error : d->bench_file, false);
        fputs(".\n", f);
        return;
    }
    const json_t *m = json_object_get(d->bench, "machine");
    fputs("Measured by `distlab bench` ", f);
    rep_md_text(f, str(d->bench, "version", "?"), false);
    fputs(" on ", f);
    rep_md_text(f, str(m, "hostname", "?"), false);
    fprintf(f,
            " (%lld CPUs). A ratio compares ours with a peer or a physical limit measured "
            "in the same run, so it holds on another machine better than a time does.\n\n",
            (long long)json_integer_value(json_object_get(m, "cpus")));
    const json_t *rows = json_object_get(d->bench, "rows");
    if (!json_is_array(rows) || !json_array_size(rows)) {
        fputs("The document holds no rows.\n", f);
        return;
    }
    table(f, rows, true);
    table(f, rows, false);
}

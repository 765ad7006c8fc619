/* test_run.c - runs end to end: expectations (each op, ~ with tol and %, missing
 * metrics), summary.json's shape, determinism, the simulated world with faults, and
 * every exit status of the CLI (run in-process through lab_main). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/cli.h"
#include "lab/output.h"
#include "lab/run.h"
#include "lab/runner.h"
#include "workloads_test.h"

/* Paths here fit in 4096 bytes. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define BASE "name: t\nworkload:\n  primitive: test/compute\n"

/* Load and run every run of 'yaml', checking expectations; the runs are returned. */
static struct lab_run *run_all(const char *yaml, struct lab_scenario **scp)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml", yaml);
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    struct lab_run *runs = calloc(sc->nruns, sizeof(*runs));
    for (size_t i = 0; i < sc->nruns; i++) {
        lab_run_init(&runs[i], sc, &sc->runs[i], LAB_WORLD_SIM);
        cr_assert_eq(lab_run_exec(&runs[i]), 0, "%s", runs[i].fail);
        lab_run_check(&runs[i]);
    }
    *scp = sc;
    free(path);
    t_cleanup(dir);
    return runs;
}

static void free_runs(struct lab_scenario *sc, struct lab_run *runs)
{
    for (size_t i = 0; i < sc->nruns; i++)
        lab_run_cleanup(&runs[i]);
    free(runs);
    lab_scenario_free(sc);
}

Test(expect, every_operator)
{
    struct lab_scenario *sc;
    struct lab_run *runs = run_all(
        BASE "expect:\n"
             "  - { metric: total, op: \"==\", value: 2000 }\n"   /* 0 ok */
             "  - { metric: total, op: \"!=\", value: 2000 }\n"   /* 1 fail */
             "  - { metric: total, op: \">\", value: 1999 }\n"    /* 2 ok */
             "  - { metric: total, op: \">=\", value: 2000 }\n"   /* 3 ok */
             "  - { metric: total, op: \"<\", value: 2000 }\n"    /* 4 fail */
             "  - { metric: total, op: \"<=\", value: 1999 }\n"   /* 5 fail */
             "  - { metric: total, op: \"~\", value: 2010, tol: 1% }\n"   /* 6 ok */
             "  - { metric: total, op: \"~\", value: 2100, tol: 1% }\n"   /* 7 fail */
             "  - { metric: total, op: \"~\", value: 2005, tol: 5 }\n"    /* 8 ok */
             "  - { metric: total, op: \"~\", value: 2005, tol: 4.9 }\n"  /* 9 fail */
             "  - { metric: \"share[0]\", op: \"~\", value: \"theory[0]\", tol: 0.05 }\n" /* 10 */
             "  - { metric: counts.sum, op: \"==\", value: total }\n"    /* 11 ok */
             "  - { metric: counts.max, op: \">=\", value: counts.mean }\n" /* 12 ok */
             "  - { metric: lat.count, op: \"==\", value: 2000 }\n"      /* 13 ok */
             "  - { metric: lat.p50, op: \"~\", value: 693147, tol: 10% }\n" /* 14 ok */
             "  - { metric: lat.p99, op: \"<\", value: 10ms, why: tail }\n"  /* 15 ok */
             "  - { metric: nope, op: \">\", value: 0 }\n"                /* 16 missing */
             "  - { metric: \"share[99]\", op: \">\", value: 0 }\n"       /* 17 index */
             "  - { metric: lat, op: \">\", value: 0 }\n"                 /* 18 kind */
             "  - { metric: total, op: \">\", value: nope.max }\n",       /* 19 missing rhs */
        &sc);
    const struct lab_run *r = &runs[0];
    cr_assert_eq(r->nchecks, 20);
    const bool ok[] = {1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    for (size_t i = 0; i < 20; i++)
        cr_expect_eq(r->checks[i].ok, ok[i], "expectation %zu: %s (actual %g)", i,
                     r->checks[i].x->text, r->checks[i].actual);
    cr_expect_str_eq(r->checks[10].x->text, "share[0] ~ theory[0] \xc2\xb1 0.05");
    cr_expect_float_eq(r->checks[10].expected, 0.25, 1e-12);
    cr_expect_str_eq(r->checks[16].message, "metric 'nope' was not recorded by this run");
    cr_expect_str_eq(r->checks[17].message, "'share' has 4 elements; there is no [99]");
    cr_expect_str_eq(r->checks[18].message,
                     "'lat' is a histogram, which 'lat' does not apply to");
    cr_expect_str_eq(r->checks[19].message, "metric 'nope' was not recorded by this run");
    cr_expect_null(r->checks[0].message);
    free_runs(sc, runs);
}

Test(expect, where_selects_the_runs_checked)
{
    struct lab_scenario *sc;
    struct lab_run *runs = run_all(BASE "sweep:\n  n: [2, 4, 8]\nexpect:\n"
                                        "  - { metric: n, op: \"==\", value: 4, "
                                        "where: { n: 4 } }\n"
                                        "  - { metric: \"share[0]\", op: \"~\", value: 0.5,"
                                        " tol: 0.1, where: { n: 2 } }\n",
                                   &sc);
    cr_expect_eq(runs[0].nchecks, 1);
    cr_expect_eq(runs[1].nchecks, 1);
    cr_expect_eq(runs[2].nchecks, 0);
    cr_expect(runs[0].checks[0].ok);
    cr_expect(runs[1].checks[0].ok);
    free_runs(sc, runs);
}

Test(run, misuse_of_the_lab_fails_the_run_with_a_message)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml", BASE "  fail: bug\n");
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    struct lab_run run;
    lab_run_init(&run, sc, &sc->runs[0], LAB_WORLD_SIM);
    cr_expect_eq(lab_run_exec(&run), -EINVAL);
    char want[4096];
    snprintf(want, sizeof(want), "%s: internal error in workload 'test/compute': "
             "lab_int(\"no_such_param\"): the workload declares no parameter 'no_such_param'",
             path);
    cr_expect_str_eq(run.fail, want);
    lab_run_cleanup(&run);
    lab_scenario_free(sc);
    free(path);
    t_cleanup(dir);
}

Test(run, a_text_is_kept_by_name_and_a_bad_name_is_a_misuse)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml", BASE);
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    struct lab_run run;
    lab_run_init(&run, sc, &sc->runs[0], LAB_WORLD_SIM);
    cr_assert_eq(lab_run_exec(&run), 0, "%s", run.fail);
    cr_assert_eq(run.ntexts, 1);
    cr_expect_str_eq(run.texts[0].name, "doc.md");
    cr_expect_str_eq(run.texts[0].text, "n 4, mode a\n"); /* two calls, one text */
    /* one run: the file is its text alone */
    cr_assert_eq(lab_write_results(sc, &run, 1, dir, &err), 0, "%s", err.msg);
    char *doc = t_read_in(dir, "doc.md");
    cr_expect_str_eq(doc, "n 4, mode a\n");
    free(doc);
    lab_run_cleanup(&run);
    lab_scenario_free(sc);
    free(path);
    path = t_write(dir, "s2.yaml", BASE "  label: bad-doc\n");
    sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    lab_run_init(&run, sc, &sc->runs[0], LAB_WORLD_SIM);
    cr_expect_eq(lab_run_exec(&run), -EINVAL);
    cr_expect_not_null(strstr(run.fail, "lab_text: '../escape' is not a file name"), "%s",
                       run.fail);
    lab_run_cleanup(&run);
    lab_scenario_free(sc);
    free(path);
    t_cleanup(dir);
}

/* ---- The CLI ------------------------------------------------------------------------ */

static const char *scenario_ok =
    "name: ok\n"
    "about: |\n  Uniform picks.\n  A second line.\n"
    "seed: 5\n"
    "duration: 1s\n"
    "workload:\n  primitive: test/compute\n  samples: 5000\n"
    "sweep:\n  n: [2, 4]\n  mode: [a, b]\n"
    "repeat: 2\n"
    "plots:\n"
    "  - { kind: bars, metric: share, by: n, theory: theory, where: { mode: a } }\n"
    "  - { kind: cdf, metric: lat, by: n, logx: true, where: { mode: a } }\n"
    "  - { kind: timeseries, metric: rps, where: { n: 2, mode: a } }\n"
    "  - { kind: heatmap, metric: m, by: n, where: { mode: b, repeat: 0 } }\n"
    "  - { kind: sweep, metric: first, x: n, by: mode, theory: total }\n"
    "expect:\n"
    "  - { metric: counts.sum, op: \"==\", value: 5000 }\n"
    "  - { metric: \"share[0]\", op: \"~\", value: 0.5, tol: 0.05, where: { n: 2 } }\n";

Test(cli, run_writes_summary_csvs_and_plots_and_exits_0)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "ok.yaml", scenario_ok);
    char out[4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", path, "--out", out, NULL), 0, "%s",
                 t_read_in(dir, "err.txt"));
    char res[4096];
    snprintf(res, sizeof(res), "%s/ok", out);
    cr_expect(t_exists(res, "summary.json"));
    cr_expect(t_exists(res, "counts.csv"));
    cr_expect(t_exists(res, "lat.csv"));
    cr_expect(t_exists(res, "m.csv"));
    cr_expect(t_exists(res, "rps.csv"));
    cr_expect_not(t_exists(res, "total.csv")); /* scalars are in summary.json only */
    cr_expect(t_exists(res, "bars-share.dat"));
    cr_expect(t_exists(res, "sweep-first.dat"));
    cr_expect(t_exists(res, "heatmap-m-2.dat"));
    cr_expect(t_exists(res, "heatmap-m-4.dat"));
    if (access("/usr/bin/gnuplot", X_OK) == 0) {
        cr_expect(t_exists(res, "bars-share.png"));
        cr_expect(t_exists(res, "bars-share.svg"));
        cr_expect(t_exists(res, "cdf-lat.png"));
        cr_expect(t_exists(res, "timeseries-rps.png"));
        cr_expect(t_exists(res, "heatmap-m-4.png"));
        cr_expect(t_exists(res, "sweep-first.png"));
    }
    /* The histogram CSV: header, then buckets with a cumulative fraction reaching 1. */
    snprintf(res, sizeof(res), "%s/ok/lat.csv", out);
    char *csv = t_read(res);
    cr_assert_not_null(csv);
    cr_expect(!strncmp(csv, "run,n,mode,repeat,lo,hi,count,cum_fraction,unit\n", 48), "%.80s",
              csv);
    cr_expect_not_null(strstr(csv, ",1,ns\n"));
    free(csv);
    /* lab_text: every run's part under a line naming it */
    snprintf(res, sizeof(res), "%s/ok/doc.md", out);
    char *doc = t_read(res);
    cr_assert_not_null(doc);
    cr_expect_not_null(strstr(doc, "## run 0: n=2, mode=a, repeat=0\n\nn 2, mode a\n\n"
                                   "## run 1: n=2, mode=a, repeat=1\n\nn 2, mode a\n\n"),
                       "%.200s", doc);
    cr_expect(!strncmp(doc, "## run 0:", 9), "%.40s", doc);
    cr_expect_not_null(strstr(doc, "## run 7: n=4, mode=b, repeat=1\n\nn 4, mode b\n\n"));
    free(doc);
    snprintf(res, sizeof(res), "%s/ok/counts.csv", out);
    csv = t_read(res);
    cr_expect(!strncmp(csv, "run,n,mode,repeat,index,value\n0,2,a,0,0,", 40), "%.80s", csv);
    free(csv);
    free(path);
    t_cleanup(dir);
}

Test(cli, a_workload_runs_another_and_tables_join_under_one_header)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "as.yaml",
                         "name: as\nduration: 1s\nworkload:\n  primitive: test/as\n"
                         "  mode: 2\nsweep:\n  n: [2, 5]\n");
    char out[4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", path, "--out", out, NULL), 0, "%s",
                 t_read_in(dir, "err.txt"));
    /* samples from 'set', n from the outer run, mode (another type) test/compute's own */
    cr_expect_eq(t_metric(out, "as", 0, "total"), 100);
    cr_expect_eq(t_metric(out, "as", 0, "n"), 2);
    cr_expect_eq(t_metric(out, "as", 1, "n"), 5);
    char res[4096];
    snprintf(res, sizeof(res), "%s/as/t.csv", out);
    char *csv = t_read(res);
    cr_assert_not_null(csv);
    cr_expect_str_eq(csv, "n,total\n2,100\n5,100\n");
    free(csv);
    snprintf(res, sizeof(res), "%s/as/doc.md", out); /* test/compute's lab_text, as before */
    char *doc = t_read(res);
    cr_assert_not_null(doc);
    cr_expect_not_null(strstr(doc, "## run 1: n=5, repeat=0\n\nn 5, mode a\n"), "%s", doc);
    free(doc);
    free(path);
    path = t_write(dir, "bad.yaml",
                   "name: bad\nduration: 1s\nworkload:\n  primitive: test/as\n  bad: true\n");
    cr_expect_eq(t_distlab(dir, "run", path, "--out", out, NULL), 2);
    char *err = t_read_in(dir, "err.txt");
    cr_expect_not_null(strstr(err, "'nope=1': workload 'test/compute' has no such parameter"),
                       "%s", err);
    free(err);
    free(path);
    t_cleanup(dir);
}

static json_t *summary_of(const char *out, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s/summary.json", out, name);
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    cr_assert_not_null(j, "%s: %s", p, e.text);
    return j;
}

Test(cli, summary_json_has_the_documented_shape)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "ok.yaml", scenario_ok);
    char out[4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", path, "--out", out, "-q", NULL), 0);
    json_t *j = summary_of(out, "ok");
    cr_expect_str_eq(json_string_value(json_object_get(j, "scenario")), "ok");
    cr_expect_str_eq(json_string_value(json_object_get(j, "world")), "sim");
    cr_expect_eq(json_integer_value(json_object_get(j, "seed")), 5);
    cr_expect(json_is_string(json_object_get(j, "version")));
    json_t *m = json_object_get(j, "machine");
    cr_expect(json_is_string(json_object_get(m, "hostname")));
    cr_expect(json_is_integer(json_object_get(m, "cpus")));
    cr_expect(json_is_string(json_object_get(m, "kernel")));
    cr_expect(json_is_string(json_object_get(m, "compiler")));
    json_t *runs = json_object_get(j, "runs");
    cr_assert_eq(json_array_size(runs), 8);
    json_t *r = json_array_get(runs, 3); /* n=2, mode=b, repeat 1 */
    json_t *params = json_object_get(r, "params");
    cr_expect_eq(json_integer_value(json_object_get(params, "n")), 2);
    cr_expect_str_eq(json_string_value(json_object_get(params, "mode")), "b");
    cr_expect_eq(json_integer_value(json_object_get(params, "repeat")), 1);
    cr_expect_eq(json_integer_value(json_object_get(r, "seed")),
                 (json_int_t)lab_repeat_seed(5, 1));
    json_t *mt = json_object_get(r, "metrics");
    cr_expect_eq(json_integer_value(json_object_get(mt, "total")), 5000);
    cr_expect_eq(json_array_size(json_object_get(mt, "counts")), 2);
    json_t *mat = json_object_get(mt, "m");
    cr_expect_eq(json_array_size(mat), 2);
    cr_expect_eq(json_array_size(json_array_get(mat, 0)), 2);
    json_t *lat = json_object_get(mt, "lat");
    const char *keys[] = {"unit", "count", "mean", "min", "p50", "p90", "p99", "p999", "max"};
    for (int i = 0; i < 9; i++)
        cr_expect_not_null(json_object_get(lat, keys[i]), "lat.%s", keys[i]);
    cr_expect_str_eq(json_string_value(json_object_get(lat, "unit")), "ns");
    cr_expect_eq(json_integer_value(json_object_get(lat, "count")), 5000);
    json_t *rps = json_object_get(mt, "rps");
    cr_expect_eq(json_integer_value(json_object_get(rps, "bin_ns")), 100000000);
    cr_expect_str_eq(json_string_value(json_object_get(rps, "unit")), "req");
    cr_expect_eq(json_array_size(json_object_get(rps, "sum")), 10);
    cr_expect_eq(json_array_size(json_object_get(rps, "count")), 10);
    json_t *ex = json_object_get(r, "expect");
    cr_assert_eq(json_array_size(ex), 2);
    json_t *e1 = json_array_get(ex, 1);
    cr_expect_str_eq(json_string_value(json_object_get(e1, "text")),
                     "share[0] ~ 0.5 \xc2\xb1 0.05");
    cr_expect(json_is_true(json_object_get(e1, "ok")));
    cr_expect(json_is_number(json_object_get(e1, "actual")));
    cr_expect_eq(json_real_value(json_object_get(e1, "expected")), 0.5);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(r, "notes"), 0)),
                     "mode b, label x");
    cr_expect(json_is_real(json_object_get(r, "wall_s")));
    json_decref(j);
    free(path);
    t_cleanup(dir);
}

/* The summary without what may differ between identical runs. */
static char *comparable(json_t *j)
{
    json_object_del(j, "machine");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "runs"), i, r) json_object_del(r, "wall_s");
    char *s = json_dumps(j, JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static char *run_summary(const char *dir, const char *path, const char *tag, const char *a1,
                         const char *a2)
{
    char out[4096];
    snprintf(out, sizeof(out), "%s/%s", dir, tag);
    int rc = a1 ? t_distlab(dir, "check", path, "--out", out, "-q", a1, a2, NULL)
                : t_distlab(dir, "check", path, "--out", out, "-q", NULL);
    cr_assert_eq(rc, 0, "%s", tag);
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s/summary.json", out, "ok");
    char *text = t_read(p);
    cr_assert_not_null(text);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return comparable(j);
}

Test(cli, same_seed_same_summary_other_seed_other_summary)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "ok.yaml", scenario_ok);
    char *a = run_summary(dir, path, "a", NULL, NULL);
    char *b = run_summary(dir, path, "b", "-j", "1"); /* a: the default, one per CPU */
    char *c = run_summary(dir, path, "c", "--seed", "6");
    char *d = run_summary(dir, path, "d", "-j", "4");
    cr_expect_str_eq(a, b);
    cr_expect_str_neq(a, c);
    cr_expect_str_eq(a, d); /* runs on threads are assembled in run order */
    free(a);
    free(b);
    free(c);
    free(d);
    free(path);
    t_cleanup(dir);
}

static const char *scenario_sim =
    "name: ok\n"
    "duration: 5s\n"
    "world:\n  cores: 1\n"
    "workload:\n  primitive: test/sim\n  nodes: 3\n"
    "faults:\n"
    "  - { at: 1s, pause: n1, for: 2s }\n"
    "  - { at: 1s, crash: n2, for: 1s }\n"
    "plots:\n  - { kind: bars, metric: ticks }\n"
    "expect:\n"
    "  - { metric: \"ticks[0]\", op: \"==\", value: 500 }\n"
    "  - { metric: now_ns, op: \"==\", value: 5s }\n";

Test(cli, simulated_runs_apply_faults_and_replay_exactly)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "sim.yaml", scenario_sim);
    char *a = run_summary(dir, path, "a", NULL, NULL);
    char *b = run_summary(dir, path, "b", "-j", "1"); /* a: the default, one per CPU */
    cr_expect_str_eq(a, b);
    char out[4096];
    snprintf(out, sizeof(out), "%s/a", dir);
    json_t *j = summary_of(out, "ok");
    json_t *ticks = json_object_get(json_object_get(json_array_get(json_object_get(j, "runs"),
                                                                   0), "metrics"), "ticks");
    double t0 = json_number_value(json_array_get(ticks, 0));
    double t1 = json_number_value(json_array_get(ticks, 1));
    double t2 = json_number_value(json_array_get(ticks, 2));
    cr_expect_eq(t0, 500);
    /* Paused for 2 s: its sleeps end late, about 200 ticks fewer. */
    cr_expect(t1 >= 295 && t1 <= 305, "paused node ticked %g times", t1);
    /* Crashed for 1 s and restarted: its count survives in the workload's memory. */
    cr_expect(t2 >= 395 && t2 <= 405, "crashed node ticked %g times", t2);
    json_decref(j);
    free(a);
    free(b);
    free(path);
    t_cleanup(dir);
}

Test(cli, unknown_node_in_a_fault_is_a_scenario_error)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "sim.yaml", "name: s\nduration: 1s\nworkload:\n"
                                          "  primitive: test/sim\nfaults:\n"
                                          "  - { at: 100ms, crash: n9 }\n");
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, NULL), 2);
    char *err = t_read_in(dir, "err.txt");
    char want[4096];
    snprintf(want, sizeof(want), "%s:6:5: unknown node 'n9' in this fault (nodes: n0, n1, n2)\n",
             path);
    cr_expect_str_eq(err, want);
    cr_expect_not(t_exists(dir, "s"), "a failed run must write no results");
    free(err);
    free(path);
    t_cleanup(dir);
}

Test(cli, exit_1_when_an_expectation_fails)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "f.yaml", BASE "expect:\n  - { metric: total, op: \"<\", "
                                              "value: 10, why: on purpose }\n");
    cr_expect_eq(t_distlab(dir, "check", path, "--out", dir, NULL), 1);
    char *out = t_read_in(dir, "out.txt");
    cr_expect_not_null(strstr(out, "FAIL t: total < 10  (actual 2000)  -- on purpose\n"), "%s",
                       out);
    cr_expect(t_exists(dir, "t/summary.json"), "results are written even when a check fails");
    free(out);
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, "-q", NULL), 1);
    free(path);
    t_cleanup(dir);
}

Test(cli, exit_2_on_bad_input)
{
    char *dir = t_tmpdir();
    char *good = t_write(dir, "g.yaml", BASE);
    char *bad = t_write(dir, "b.yaml", BASE "  n: lots\n");
    char *sim = t_write(dir, "s.yaml", "name: s\nworkload:\n  primitive: test/sim\n");
    char *fails = t_write(dir, "f.yaml", BASE "  fail: input\n");
    char *other = t_write(dir, "o.yaml", BASE "  fail: other\n");
    cr_expect_eq(t_distlab(dir, "run", "--bogus", good, NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", NULL), 2);
    cr_expect_eq(t_distlab(dir, "frobnicate", NULL), 2);
    cr_expect_eq(t_distlab(dir, NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", good, "--seed", "x", NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", good, "--world", "moon", NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", good, "-j", "0", NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", good, "--set", "n", NULL), 2);
    /* A bad file anywhere stops everything before any run. */
    cr_expect_eq(t_distlab(dir, "run", good, bad, "--out", dir, NULL), 2);
    cr_expect_not(t_exists(dir, "t"));
    char *err = t_read_in(dir, "err.txt");
    char want[4096];
    snprintf(want, sizeof(want), "%s:4:6: 'n' must be an integer, got 'lots'\n", bad);
    cr_expect_str_eq(err, want);
    free(err);
    cr_expect_eq(t_distlab(dir, "run", sim, "--world", "live", NULL), 2);
    cr_expect_eq(t_distlab(dir, "run", fails, "--out", dir, NULL), 2);
    err = t_read_in(dir, "err.txt");
    snprintf(want, sizeof(want), "%s: bad input on purpose\n", fails);
    cr_expect_str_eq(err, want);
    free(err);
    cr_expect_eq(t_distlab(dir, "run", other, "--out", dir, NULL), 2);
    err = t_read_in(dir, "err.txt");
    snprintf(want, sizeof(want), "%s: workload 'test/compute' failed: Input/output error\n",
             other);
    cr_expect_str_eq(err, want);
    free(err);
    cr_expect_not(t_exists(dir, "t"), "a failed run must write no results");
    free(good);
    free(bad);
    free(sim);
    free(fails);
    free(other);
    t_cleanup(dir);
}

Test(cli, exit_3_when_a_server_is_unreachable)
{
    char *dir = t_tmpdir();
    char *refused = t_write(dir, "r.yaml", BASE "  fail: refused\n");
    char *unreach = t_write(dir, "u.yaml", BASE "  fail: unreachable\n");
    cr_expect_eq(t_distlab(dir, "run", refused, "--out", dir, NULL), 3);
    char *err = t_read_in(dir, "err.txt");
    char want[4096];
    snprintf(want, sizeof(want), "%s: cannot connect to 127.0.0.1:1\n", refused);
    cr_expect_str_eq(err, want);
    free(err);
    cr_expect_eq(t_distlab(dir, "check", unreach, "--world", "live", "--out", dir, NULL), 3);
    cr_expect_not(t_exists(dir, "t"));
    free(refused);
    free(unreach);
    t_cleanup(dir);
}

Test(cli, a_skipped_run_is_left_out_with_its_reason_at_the_sweep_value)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml",
                         BASE "sweep:\n  fail: [none, skip]\n"
                              "expect:\n  - { metric: total, op: \">\", value: 0 }\n");
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, NULL), 0);
    char *out = t_read_in(dir, "out.txt");
    char want[4096];
    snprintf(want, sizeof(want),
             "SKIP t fail=skip: %s:5:16: fail=skip skipped: this world cannot serve it\n", path);
    cr_expect(out && strstr(out, want), "%s", out);
    cr_expect(out && strstr(out, "t: 2 runs (1 skipped), 1 expectation passed, 0 failed"), "%s",
              out);
    cr_expect(out && strstr(out, " s (runs ") && strstr(out, " s CPU\n"), "%s", out);
    free(out);
    char *sum = t_read_in(dir, "t/summary.json");
    cr_expect(sum && strstr(sum, "\"skipped\": \""), "%s", sum);
    free(sum);
    free(path);
    t_cleanup(dir);
}

Test(cli, exit_4_when_the_results_cannot_be_written)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "g.yaml", BASE);
    char *blocker = t_write(dir, "blocker", "a file, not a directory\n");
    cr_expect_eq(t_distlab(dir, "run", path, "--out", blocker, NULL), 4);
    char *err = t_read_in(dir, "err.txt");
    char want[4096];
    snprintf(want, sizeof(want), "distlab: cannot write results: %s/t: Not a directory\n",
             blocker);
    cr_expect_str_eq(err, want);
    free(err);
    /* The same through the runner itself, as a test or another program calls it. */
    const char *files[] = {path};
    struct lab_runner_opts o = {.out = blocker, .quiet = true};
    fflush(stderr);
    int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    int status = lab_runner(files, 1, &o);
    dup2(saved, 2);
    close(saved);
    close(devnull);
    cr_expect_eq(status, LAB_EXIT_WRITE);
    o.out = dir;
    o.seed = "7";
    cr_expect_eq(lab_runner(files, 1, &o), LAB_EXIT_OK);
    cr_expect(t_exists(dir, "t/summary.json"));
    free(blocker);
    free(path);
    t_cleanup(dir);
}

Test(cli, help_version_and_list)
{
    char *dir = t_tmpdir();
    cr_expect_eq(t_distlab(dir, "--help", NULL), 0);
    cr_expect_eq(t_distlab(dir, "--version", NULL), 0);
    char *out = t_read_in(dir, "out.txt");
    cr_expect(!strncmp(out, "distlab ", 8), "%s", out);
    free(out);
    cr_expect_eq(t_distlab(dir, "run", "--help", NULL), 0);
    cr_expect_eq(t_distlab(dir, "check", "--help", NULL), 0);
    cr_expect_eq(t_distlab(dir, "list", "--help", NULL), 0);
    cr_expect_eq(t_distlab(dir, "list", "--nope", NULL), 2);
    /* list reads $DISTLAB_SOURCE_ROOT/scenarios when ./scenarios does not exist. */
    char *root = t_tmpdir(), sdir[4096];
    snprintf(sdir, sizeof(sdir), "%s/scenarios", root);
    mkdir(sdir, 0777);
    free(t_write(sdir, "one.yaml", scenario_ok));
    free(t_write(sdir, "two.yaml", "name: two\nabout: The second one.\n"));
    setenv("DISTLAB_SOURCE_ROOT", root, 1);
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    cr_expect_eq(t_distlab(dir, "list", "-v", NULL), 0);
    cr_assert_eq(chdir(cwd), 0);
    out = t_read_in(dir, "out.txt");
    char want[8192];
    snprintf(want, sizeof(want), "%s/scenarios/one.yaml", root);
    cr_expect_not_null(strstr(out, want), "%s", out);
    cr_expect_not_null(strstr(out, " Uniform picks.\n"), "%s", out);
    cr_expect_null(strstr(out, "A second line"), "%s", out);
    cr_expect_not_null(strstr(out, " The second one.\n"), "%s", out);
    cr_expect_not_null(strstr(out, "  test/compute  (sim, live)"), "%s", out);
    cr_expect_not_null(strstr(out, "      mode             enum     a|b|c (default a)"), "%s",
                       out);
    free(out);
    t_cleanup(root);
    t_cleanup(dir);
}

Test(cli, out_dir_and_default_dirs)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "ok.yaml", scenario_ok);
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    setenv("DISTLAB_SOURCE_ROOT", DISTLAB_TEST_SOURCE_ROOT, 1);
    int rc = t_distlab(dir, "run", path, "-q", NULL);
    cr_assert_eq(chdir(cwd), 0);
    cr_expect_eq(rc, 0);
    cr_expect(t_exists(dir, "results/ok/summary.json"));
    cr_expect(t_exists(dir, "plots/ok/bars-share.dat"));
    cr_expect_not(t_exists(dir, "results/ok/bars-share.dat"));
    free(path);
    t_cleanup(dir);
}

Test(cli, without_gnuplot_the_data_is_written_and_one_warning_says_so)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "ok.yaml", scenario_ok);
    setenv("PATH", "/nonexistent", 1);
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, "-q", NULL), 0);
    cr_expect(t_exists(dir, "ok/bars-share.dat"));
    cr_expect(t_exists(dir, "ok/cdf-lat.dat"));
    cr_expect_not(t_exists(dir, "ok/bars-share.png"));
    char *err = t_read_in(dir, "err.txt");
    char want[4096];
    snprintf(want, sizeof(want), "distlab: gnuplot is not in PATH: plot data written to %s/ok, "
             "no images drawn\n", dir);
    cr_expect_str_eq(err, want);
    free(err);
    free(path);
    t_cleanup(dir);
}

/* test_scenario.c - the loader: bad inputs pinned to their messages (file:line:col and
 * what was expected), sweep expansion and where-matching, --set overrides, durations. */
#include <criterion/criterion.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/scenario.h"
#include "workloads_test.h"

#define BASE "name: t\nworkload:\n  primitive: test/compute\n"
#define COMPUTE_KEYS                                                                     \
    "(expected one of: primitive, n, samples, rate, fast, wait, mode, label, weights, fail)"

/* Columns: a quoted scalar is placed at its first character inside the quotes. */
struct bad {
    const char *yaml;
    const char *set; /* a --set, or NULL */
    const char *msg; /* after "<file>" (starting with ':'), or the whole --set message */
};

static const struct bad bad_inputs[] = {
    {"name: t\nnmae: x\nworkload:\n  primitive: test/compute\n", NULL,
     ":2:1: unknown key 'nmae' (expected one of: name, about, seed, duration, repeat, world, "
     "workload, faults, sweep, plots, controls, expect)"},
    {"workload:\n  primitive: test/compute\n", NULL,
     ":1:1: missing required key 'name' (it names results/<name>/)"},
    {"name: t\n", NULL,
     ":1:1: missing required key 'workload' (a map with 'primitive:' and its parameters)"},
    {"name: t\nworkload:\n  primitive: test/nope\n", NULL,
     ":3:14: unknown primitive 'test/nope' (known: test/compute, test/sim, test/live-only, "
     "test/required, test/waiters, test/as)"},
    {BASE "  clinets: 3\n", NULL, ":4:3: unknown key 'clinets' in workload 'test/compute' "
     COMPUTE_KEYS},
    {BASE "  n: abc\n", NULL, ":4:6: 'n' must be an integer, got 'abc'"},
    {BASE "  n: 0\n", NULL, ":4:6: 'n' must be between 1 and 64, got 0"},
    {BASE "  rate: high\n", NULL, ":4:9: 'rate' must be a number, got 'high'"},
    {BASE "  rate: 1.5\n", NULL, ":4:9: 'rate' must be between 0 and 1, got 1.5"},
    {BASE "  fast: yes\n", NULL, ":4:9: 'fast' must be true or false, got 'yes'"},
    {BASE "  wait: 5\n", NULL,
     ":4:9: 'wait' must be a duration with a unit (ns, us, ms, s, m), got '5'"},
    {BASE "  wait: 5h\n", NULL,
     ":4:9: 'wait' must be a duration with a unit (ns, us, ms, s, m), got '5h'"},
    {BASE "  wait: 11s\n", NULL, ":4:9: 'wait' must be between 0ns and 10s, got 11s"},
    {BASE "  mode: d\n", NULL, ":4:9: 'mode' must be one of: a, b, c; got 'd'"},
    {BASE "  weights: 3\n", NULL, ":4:12: 'weights' must be a list, like [1, 2], got '3'"},
    {BASE "  weights: [1, 200]\n", NULL, ":4:16: 'weights' must be between 0 and 100, got 200"},
    {"name: t\nworkload:\n  primitive: test/required\n", NULL,
     ":2:1: missing required key 'x' in workload 'test/required' (a required integer)"},
    {"name: t\nworkload:\n  primitive: test/live-only\n", NULL,
     ":3:14: primitive 'test/live-only' does not run in the sim world (it runs in: live)"},
    {BASE "world:\n  coers: 2\n", NULL,
     ":5:3: unknown key 'coers' in world (expected one of: cores, nodes, slice, stack, "
     "max_events, network, links, clocks, redis, etcd, zookeeper)"},
    {BASE "world:\n  cores: 0\n", NULL, ":5:10: 'cores' must be between 1 and 4096, got 0"},
    {BASE "world:\n  stack: 12q\n", NULL,
     ":5:10: 'stack' must be a size in bytes (like 65536, 128k, 1M), got '12q'"},
    {BASE "world:\n  network: { loss: 1.5 }\n", NULL,
     ":5:20: 'loss' must be between 0 and 1, got 1.5"},
    {BASE "world:\n  network:\n    latency: { dist: pareto }\n", NULL,
     ":6:22: 'dist' must be one of: const, uniform, lognormal; got 'pareto'"},
    {BASE "world:\n  network:\n    latency: { dist: uniform, min: 1ms }\n", NULL,
     ":6:14: latency with dist: uniform needs 'max'"},
    {BASE "world:\n  network:\n    latency: { dist: uniform, min: 1ms, max: 2ms }\n"
          "    jitter: 1ms\n",
     NULL,
     ":7:13: 'jitter' goes with a plain latency (like 1ms), not with a distribution"},
    {BASE "faults:\n  - { at: 1s }\n", NULL,
     ":5:5: a fault needs one of: crash, restart, pause, clock, drift, partition"},
    {BASE "faults:\n  - { at: 1s, crash: n0, pause: n1, for: 1s }\n", NULL,
     ":5:26: a fault has one kind, but this one has both 'crash' and 'pause'"},
    {BASE "faults:\n  - { at: 1s, pause: n1 }\n", NULL,
     ":5:5: 'pause' needs 'for: DURATION'"},
    {BASE "faults:\n  - { at: 1s, pause: n1, for: 1s, step: 1ms }\n", NULL,
     ":5:35: 'step' does not go with 'pause:'"},
    {BASE "faults:\n  - { at: 1s, partition: [[a, b]] }\n", NULL,
     ":5:26: 'partition' takes two sides, like [[a, b], [c]]"},
    {BASE "faults:\n  - { crash: n0 }\n", NULL,
     ":5:5: a fault needs 'at: DURATION' (when it happens)"},
    {BASE "faults:\n  - { at: 2m, crash: n0 }\n", NULL,
     ":5:5: this fault is at 2m, after the end of the run (duration 60s)"},
    {BASE "sweep:\n  n: 3\n", NULL,
     ":5:6: a sweep key takes a non-empty list of values, like n: [1, 2, 4]"},
    {BASE "sweep:\n  n: [1, 0]\n", NULL, ":5:10: 'n' must be between 1 and 64, got 0"},
    {BASE "sweep:\n  bogus: [1]\n", NULL,
     ":5:3: unknown key 'bogus' in workload 'test/compute' " COMPUTE_KEYS},
    {BASE "sweep:\n  name: [a, b]\n", NULL,
     ":5:3: cannot sweep 'name' (sweep workload parameters, seed, duration, world.*, faults)"},
    {BASE "repeat: 0\n", NULL, ":4:9: 'repeat' must be between 1 and 100000, got 0"},
    {BASE "plots:\n  - { kind: pie, metric: x }\n", NULL,
     ":5:13: 'kind' must be one of: bars, cdf, timeseries, heatmap, sweep; got 'pie'"},
    {BASE "plots:\n  - { kind: bars, metric: share, by: picker }\n", NULL,
     ":5:38: 'picker' is not a sweep key, a parameter of 'test/compute', seed, duration, "
     "world, world.cores or world.nodes (sweep keys: repeat)"},
    {BASE "plots:\n  - { kind: sweep, metric: total }\n", NULL,
     ":5:5: a sweep plot needs 'x: KEY' (a sweep key)"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 1, where: { world: lve } }\n", NULL,
     ":5:57: 'world' must be sim or live"},
    {BASE "plots:\n  - { kind: heatmap, metric: m, range: 0.5 }\n", NULL,
     ":5:40: 'range' must be [LOW, HIGH]"},
    {BASE "plots:\n  - { kind: heatmap, metric: m, range: [1, 0] }\n", NULL,
     ":5:40: 'range' must be [LOW, HIGH] with LOW < HIGH"},
    {BASE "expect:\n  - { metric: total, op: \"=<\", value: 1 }\n", NULL,
     ":5:27: 'op' must be one of: <, <=, >, >=, ==, !=, ~; got '=<'"},
    {BASE "expect:\n  - { metric: total, op: \"~\", value: 1 }\n", NULL,
     ":5:27: op \"~\" needs 'tol: NUMBER' or 'tol: \"N%\"'"},
    {BASE "expect:\n  - { metric: \"load[\", op: \">\", value: 1 }\n", NULL,
     ":5:16: 'load[' is not a metric expression (expected name, name[i] or name.stat)"},
    {BASE "expect:\n  - { metric: lat.p95, op: \">\", value: 1 }\n", NULL,
     ":5:15: unknown statistic 'p95' in 'lat.p95' (expected one of: max, min, sum, mean, "
     "count, p50, p90, p99, p999)"},
    {BASE "sweep:\n  n: [1, 2]\nexpect:\n  - { metric: total, op: \">\", value: 1, "
          "where: { n: 5 } }\n",
     NULL, ":7:48: no run matches this 'where' (check the values against the sweep)"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 1, tol: 5% }\n", NULL,
     ":5:46: 'tol' goes with op: \"~\""},
    {"name: t\nname: u\n", NULL, ":2:1: duplicate key 'name' (first at line 1)"},
    {"name: a/b\nworkload:\n  primitive: test/compute\n", NULL,
     ":1:7: 'name' must be a file name stem ([A-Za-z0-9_.-], not starting with '.'), got 'a/b'"},
    {"- a\n- b\n", NULL, ":1:1: a scenario is a map of keys (name, workload, ...)"},
    {"name: [oops\n", NULL, ":2:1: flow sequence without a closing bracket"},
    {BASE "sweep:\n  n: [2, 3]\nexpect:\n  - { metric: total, op: \">\", value: 0, "
          "where: { n: { min: x } } }\n", NULL, ":7:60: 'min' must be a number or a duration"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 0, where: { n: { from: 2 } } }\n",
     NULL, ":5:55: unknown key 'from' in a where test (expected one of: min, max, not, in)"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 0, where: { n: { min: 5 } } }\n",
     NULL, ":5:48: no run matches this 'where' (check the values against the sweep)"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 0, control: nope }\n", NULL,
     ":5:50: no control named 'nope' under controls: (there are none)"},
    {BASE "controls:\n  off: { mode: b }\nexpect:\n  - { metric: total, op: \">\", value: 0, "
          "control: of }\n", NULL, ":7:50: no control named 'of' under controls: (off)"},
    {BASE "controls:\n  off: mode\n", NULL,
     ":5:8: a control is a map of the values that switch the mechanism off, like "
     "{ picker: fisher-yates } or { faults: [] }"},
    {BASE "controls:\n  off: { seed: 2 }\n", NULL,
     ":5:10: a control cannot set 'seed' (it sets workload parameters, duration, world.* or "
     "faults; the run keeps its seed, so both see the same random draws)"},
    {BASE "controls:\n  off: { mode: d }\nexpect:\n  - { metric: total, op: \">\", value: 0, "
          "control: off }\n", NULL, ":5:16: 'mode' must be one of: a, b, c; got 'd'"},
    {BASE "expect:\n  - { metric: total, op: \">\", value: 0, control: { clinets: 2 } }\n",
     NULL, ":5:52: unknown key 'clinets' in workload 'test/compute' " COMPUTE_KEYS},
    {BASE "expect:\n  - { metric: total, op: \"~\", value: 0, tol: \"x*n\" }\n", NULL,
     ":5:47: 'tol' must be a number >= 0, a duration, a percentage like \"5%\" or K*METRIC "
     "like \"5*theory_sd\", got 'x*n'"},
    {BASE "plots:\n  - { kind: sweep, metric: total, x: n, unit: s }\n", NULL,
     ":5:47: 'unit' is ns (a time in nanoseconds, drawn in s, ms or us), got 's'"},
    {BASE "plots:\n  - { kind: sweep, metric: total, x: n, hlines: [{ y: high }] }\n", NULL,
     ":5:55: 'y' must be a number or a duration, got 'high'"},
    {BASE "plots:\n  - { kind: cdf, metric: lat, xcategories: true }\n", NULL,
     ":5:44: 'xcategories' goes with kind: sweep"},
    {BASE, "workload.clinets=3",
     "--set workload.clinets=3: unknown key 'clinets' in workload 'test/compute' " COMPUTE_KEYS},
    {BASE, "n=abc", "--set n=abc: 'n' must be an integer, got 'abc'"},
    {BASE, "foo", "--set foo: expected key.path=value"},
    {BASE, "name.x=1", "--set name.x=1: cannot set 'name.x': 'name' is not a map"},
    {BASE, "seed=-1", "--set seed=-1: 'seed' must be at least 0, got -1"},
    /* Hostile inputs: none may crash, hang or exhaust memory. */
    {BASE, "weights=&w [1, *w]",
     "--set weights=&w [1, *w]: alias '*w' is inside the value it names (a value cannot "
     "contain itself)"},
    {"name: t\nworkload: &w\n  primitive: test/compute\n  label: *w\n", NULL,
     ":4:10: alias '*w' is inside the value it names (a value cannot contain itself)"},
    {BASE "  label: *nope\n", NULL, ":4:10: unknown alias '*nope'"},
    {BASE "  weights: {a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol],"
          " a1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0],"
          " a2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1],"
          " a3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2],"
          " a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3],"
          " a5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]}\n",
     NULL,
     ":4:312: this value makes the scenario larger than 1048576 bytes when its aliases are "
     "written out (an alias is a copy of what it names)"},
    {BASE "  label: caf\xc3\n", NULL, ":4:13: byte 0xc3 is not UTF-8 text"},
    {BASE "  label: \xed\xa0\x80\n", NULL, ":4:10: byte 0xed is not UTF-8 text"},
    /* libfyaml 0.7.12 hangs on a directive with a bad byte ("%\xc6", found by fuzz-set) */
    {"%\xc6\n" BASE, NULL,
     ":1:1: '%' at the start of a line begins a YAML directive, which distlab does not read "
     "(quote a value that starts with '%')"},
    {BASE, "label=%\xc6",
     "--set label=%\xc6: '%' at the start of a line begins a YAML directive, which distlab "
     "does not read (quote a value that starts with '%')"},
    {BASE "repeat: 50000\nsweep:\n  n: [1, 2, 3]\n", NULL,
     ":6:3: the sweep with its repeats makes more than 100000 runs"},
    {BASE "sweep:\n  n: &n [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n  samples: *n\n  wait: *n\n"
          "  rate: *n\n  mode: *n\n  label: *n\n",
     NULL, ":10:3: the sweep makes more than 100000 runs"},
    /* Legal-looking values that would never finish or would overflow int64 ns. */
    {BASE, "duration=9200000000s",
     "--set duration=9200000000s: 'duration' must be between 1ns and 1440m, got "
     "9200000000s (a run covers at most a day: a simulated run's cost grows with the time "
     "it simulates, and a live run takes that time for real)"},
    {BASE "world:\n  slice: 1ns\n", NULL,
     ":5:10: 'slice' must be between 1us and 1440m, got 1ns (a busy core costs one "
     "simulated event per slice, so a shorter one makes a second of CPU millions of events; "
     "real schedulers slice in milliseconds)"},
    {BASE "world:\n  clocks: [{node: a, offset: -1441m}]\n", NULL,
     ":5:30: 'offset' must be between -1440m and 1440m, got -1441m (times in a scenario "
     "stay within a day, so that no sum of them overflows)"},
    {BASE "faults:\n  - { at: 1s, crash: a, for: 9000000000s }\n", NULL,
     ":5:30: 'for' must be between 1ns and 1440m, got 9000000000s (times in a scenario stay "
     "within a day, so that no sum of them overflows)"},
    {BASE "world:\n  network: { latency: 2000m }\n", NULL,
     ":5:23: 'latency' must be between 0ns and 1440m, got 2000m (times in a scenario stay "
     "within a day, so that no sum of them overflows)"},
    {BASE "world:\n  clocks: [{node: a, drift: 100000}]\n", NULL,
     ":5:29: 'drift' must be between -99999 and 99999, got 100000"},
    {BASE "world:\n  max_events: 0\n", NULL,
     ":5:15: 'max_events' must be between 1 and 1000000000000, got 0"},
    /* The live world's servers: a count in range, or addresses of the right form, refused
     * at their place (they once reached the live world as exit 3, or as atoi's wrap: a
     * count of 4294967299 started 3 etcd members). */
    {BASE "world:\n  etcd: 4294967299\n", NULL,
     ":5:9: world.etcd: a count of servers is 0 to 16, got 4294967299 (or give addresses, "
     "comma-separated)"},
    {BASE "world:\n  zookeeper: -1\n", NULL,
     ":5:14: world.zookeeper: '-1' is not an address (no port (host:port)): give a count of "
     "servers, or host:port, comma-separated"},
    {BASE, "world.redis=redis://127.0.0.1:99999",
     "--set world.redis=redis://127.0.0.1:99999: world.redis: 'redis://127.0.0.1:99999' is "
     "not an address (the port is not a number from 1 to 65535): give a count of servers, "
     "or host:port, comma-separated"},
    {BASE "world:\n  etcd: 'http://127.0.0.1:2379,, 127.0.0.1:2380'\n", NULL,
     ":5:10: world.etcd: an empty address, or one over 159 bytes, in "
     "'http://127.0.0.1:2379,, 127.0.0.1:2380'"},
    {BASE "world:\n  zookeeper: 'localhost:80a/app'\n", NULL,
     ":5:15: world.zookeeper: 'localhost:80a/app' is not an address (the port is not a "
     "number from 1 to 65535): give a count of servers, or host:port, comma-separated"},
    {BASE "world:\n  redis: 'unix:'\n", NULL,
     ":5:11: world.redis: 'unix:' is not an address (a socket path is empty): give a count "
     "of servers, or host:port, comma-separated"},
};

/* Every node's weight is the length of its text, recursively. */
static void check_weights(struct lab_arena *a, const struct lab_node *n, const char *file)
{
    cr_expect_eq(strlen(lab_node_text(a, n)), n->weight, "%s:%d:%d", file, n->line, n->col);
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == LAB_NODE_MAP)
            check_weights(a, n->keys[i], file);
        check_weights(a, n->items[i], file);
    }
}

Test(loader, bad_inputs_name_their_place_and_what_was_expected)
{
    char *dir = t_tmpdir();
    size_t n = sizeof(bad_inputs) / sizeof(bad_inputs[0]);
    cr_assert_geq(n, 20);
    for (size_t i = 0; i < n; i++) {
        const struct bad *b = &bad_inputs[i];
        char name[32];
        snprintf(name, sizeof(name), "bad%zu.yaml", i);
        char *path = t_write(dir, name, b->yaml);
        const char *sets[] = {b->set};
        struct lab_load_opts o = {.sets = sets, .nsets = b->set ? 1 : 0};
        struct lab_err err;
        struct lab_scenario *sc = lab_scenario_load(path, &o, &err);
        cr_expect_null(sc, "row %zu: loaded", i);
        lab_scenario_free(sc);
        char want[4096];
        snprintf(want, sizeof(want), "%s%s", b->set ? "" : path, b->msg);
        cr_expect_str_eq(err.msg, want, "row %zu:\n   got %s\n  want %s", i, err.msg, want);
        free(path);
    }
    t_cleanup(dir);
}

/* A --set or --seed on a swept key would be replaced in every run: refused, naming the
 * sweep's place; setting the sweep's own list is the way, and loads. */
Test(loader, set_on_a_swept_key_is_refused)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "swept.yaml", BASE "sweep:\n  n: [1, 2]\n  seed: [1, 2]\n");
    const char *cases[][2] = {
        {"n=3", "--set n=3: 'n' is swept"},
        {"workload.n=3", "--set workload.n=3: 'workload.n' is swept"},
        {NULL, "--seed: 'seed' is swept"},
    };
    for (size_t i = 0; i < 3; i++) {
        const char *sets[] = {cases[i][0]};
        struct lab_load_opts o = {.sets = sets, .nsets = cases[i][0] ? 1 : 0,
                                  .has_seed = !cases[i][0], .seed = 7};
        struct lab_err err;
        struct lab_scenario *sc = lab_scenario_load(path, &o, &err);
        cr_expect_null(sc, "case %zu loaded", i);
        lab_scenario_free(sc);
        cr_expect(strstr(err.msg, cases[i][1]) == err.msg, "case %zu: %s", i, err.msg);
        char at[4096];
        snprintf(at, sizeof(at), "at %s:%d:3)", path, cases[i][0] ? 5 : 6);
        cr_expect(strstr(err.msg, at) != NULL, "case %zu: %s lacks %s", i, err.msg, at);
    }
    const char *ok[] = {"sweep.n=[3]", "name=u"};
    struct lab_load_opts o = {.sets = ok, .nsets = 2};
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, &o, &err);
    cr_expect_not_null(sc, "%s", err.msg);
    if (sc)
        cr_expect_eq(sc->nruns, 2); /* n = 3, seed 1 and 2 */
    lab_scenario_free(sc);
    free(path);
    t_cleanup(dir);
}

Test(loader, empty_and_missing_files)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "empty.yaml", "");
    struct lab_err err;
    cr_expect_null(lab_scenario_load(path, NULL, &err));
    char want[4096];
    snprintf(want, sizeof(want), "%s: empty file (expected a scenario map)", path);
    cr_expect_str_eq(err.msg, want);
    cr_expect_null(lab_scenario_load("/nonexistent/x.yaml", NULL, &err));
    cr_expect_str_eq(err.msg, "/nonexistent/x.yaml: cannot read: No such file or directory");
    free(path);
    t_cleanup(dir);
}

/* A file's bytes as written (NULs included); returns its path (malloc'd). */
static char *write_bytes(const char *dir, const char *name, const char *bytes, size_t n)
{
    char *path;
    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
    return path;
}

Test(loader, a_nul_byte_is_bad_input_at_its_place)
{
    /* A NUL once ended the file silently: the bad key and the broken YAML after it were
     * never read and the run exited 0. */
    static const char text[] = BASE "  n: 3\n\0bogus: 1\nthis is not: [yaml\n";
    char *dir = t_tmpdir();
    char *path = write_bytes(dir, "nul.yaml", text, sizeof(text) - 1);
    struct lab_err err;
    cr_expect_null(lab_scenario_load(path, NULL, &err));
    char want[4096];
    snprintf(want, sizeof(want), "%s:5:1: a NUL byte: a scenario is text (is this a binary "
             "file?)", path);
    cr_expect_str_eq(err.msg, want);
    cr_expect_eq(err.status, LAB_EXIT_INPUT);
    free(path);
    t_cleanup(dir);
}

Test(loader, a_file_too_large_is_refused_before_it_is_parsed)
{
    size_t n = LAB_NODE_MAX_FILE + 1;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, '#', n); /* one long comment */
    char *dir = t_tmpdir();
    char *path = write_bytes(dir, "big.yaml", big, n);
    struct lab_err err;
    cr_expect_null(lab_scenario_load(path, NULL, &err));
    char want[4096];
    snprintf(want, sizeof(want), "%s: larger than %u bytes (a scenario is a small text file)",
             path, LAB_NODE_MAX_FILE);
    cr_expect_str_eq(err.msg, want);
    free(big);
    free(path);
    t_cleanup(dir);
}

Test(loader, reads_a_pipe_as_it_reads_a_file)
{
    /* A pipe has no size and cannot seek: reading it once crashed the loader. The text
     * is larger than a pipe's buffer, so the writer and the reader take turns. */
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    fputs(BASE "  n: 7\n", m);
    for (int i = 0; i < 5000; i++)
        fprintf(m, "# a comment line to fill the pipe's buffer, number %d\n", i);
    fclose(m);
    cr_assert_gt(len, 65536);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        for (size_t off = 0; off < len;) {
            ssize_t k = write(fds[1], text + off, len - off);
            if (k <= 0)
                _exit(1);
            off += (size_t)k;
        }
        _exit(0);
    }
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, NULL, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    cr_expect_eq(sc->runs[0].cfg->params[0].i, 7);
    lab_scenario_free(sc);
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    free(text);
}

Test(loader, parsed_weights_are_the_lengths_of_the_texts)
{
    /* node.h's weight bounds what lab_node_text writes: it must be that length exactly,
     * for every node of every scenario we ship and for --set trees. */
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/scenarios/*.yaml", DISTLAB_TEST_SOURCE_ROOT);
    glob_t g;
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct lab_arena a = {0};
        struct lab_err err;
        struct lab_node *root = lab_node_parse_file(&a, g.gl_pathv[i], &err);
        cr_assert_not_null(root, "%s", err.msg);
        check_weights(&a, root, g.gl_pathv[i]);
        const char *comp[] = {"workload", "new_key"};
        struct lab_node *v = lab_node_scalar(&a, "[1, 2]", root);
        struct lab_node *r2 = lab_node_with(&a, root, comp, 2, v, root, &err);
        cr_assert_not_null(r2, "%s", err.msg);
        check_weights(&a, r2, g.gl_pathv[i]);
        const char *comp2[] = {"name"};
        r2 = lab_node_with(&a, r2, comp2, 1, v, root, &err);
        cr_assert_not_null(r2, "%s", err.msg);
        check_weights(&a, r2, g.gl_pathv[i]);
        lab_arena_free(&a);
    }
    globfree(&g);
}

static struct lab_scenario *load(const char *yaml, const char *const *sets, size_t nsets)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml", yaml);
    struct lab_load_opts o = {.sets = sets, .nsets = nsets};
    struct lab_err err;
    struct lab_scenario *sc = lab_scenario_load(path, &o, &err);
    cr_assert_not_null(sc, "%s", err.msg);
    free(path);
    t_cleanup(dir);
    return sc;
}

static const struct lab_value *param(const struct lab_runspec *r, const char *name)
{
    for (size_t i = 0; r->cfg->wl->params[i].name; i++)
        if (!strcmp(r->cfg->wl->params[i].name, name))
            return &r->cfg->params[i];
    cr_assert_fail("no parameter %s", name);
    return NULL;
}

Test(sweep, cartesian_product_with_the_first_key_outermost)
{
    struct lab_scenario *sc = load(BASE "seed: 42\nrepeat: 2\nsweep:\n  mode: [a, b, c]\n"
                                        "  n: [2, 3]\n", NULL, 0);
    cr_assert_eq(sc->nruns, 12);
    cr_assert_eq(sc->npoints, 6);
    const char *modes = "abc";
    for (size_t i = 0; i < 12; i++) {
        const struct lab_runspec *r = &sc->runs[i];
        cr_expect_eq(r->index, i);
        cr_expect_eq(r->repeat, (int)(i % 2));
        cr_expect_eq(r->point, i / 2);
        cr_expect_eq(param(r, "mode")->text[0], modes[i / 4], "run %zu", i);
        cr_expect_eq(param(r, "n")->i, (int64_t)(2 + (i / 2) % 2), "run %zu", i);
        cr_expect_eq(r->seed, r->repeat == 0 ? 42 : lab_repeat_seed(42, 1));
    }
    cr_expect_neq(lab_repeat_seed(42, 1), 42);
    cr_expect_neq(lab_repeat_seed(42, 1), lab_repeat_seed(42, 2));
    lab_scenario_free(sc);
}

static size_t count_matches(struct lab_scenario *sc, const char *yaml_where)
{
    struct lab_arena a = {0};
    struct lab_err err;
    struct lab_node *w = lab_node_parse_string(&a, yaml_where, "test", &err);
    cr_assert_not_null(w, "%s", err.msg);
    struct lab_where ws[8];
    for (size_t i = 0; i < w->n; i++)
        ws[i] = (struct lab_where){.key = w->keys[i]->text, .keynode = w->keys[i],
                                   .value = w->items[i]};
    size_t n = 0;
    for (size_t i = 0; i < sc->nruns; i++)
        n += lab_where_match(sc, &sc->runs[i], ws, w->n);
    lab_arena_free(&a);
    return n;
}

Test(sweep, where_matches_by_typed_value)
{
    struct lab_scenario *sc = load(BASE "repeat: 2\nsweep:\n  mode: [a, b, c]\n"
                                        "  wait: [1ms, 2ms]\n  world.network.loss: [0, 0.5]\n",
                                   NULL, 0);
    cr_assert_eq(sc->nruns, 24);
    cr_expect_eq(count_matches(sc, "{mode: b}"), 8);
    cr_expect_eq(count_matches(sc, "{mode: b, wait: 2ms}"), 4);
    cr_expect_eq(count_matches(sc, "{wait: 2000us}"), 12); /* durations compare by value */
    cr_expect_eq(count_matches(sc, "{workload.wait: 0.002s}"), 12);
    cr_expect_eq(count_matches(sc, "{repeat: 1}"), 12);
    cr_expect_eq(count_matches(sc, "{world.network.loss: 0.50}"), 12);
    cr_expect_eq(count_matches(sc, "{n: 4}"), 24); /* an unswept parameter: its value */
    cr_expect_eq(count_matches(sc, "{n: 5}"), 0);
    cr_expect_eq(count_matches(sc, "{mode: d}"), 0);
    cr_expect_eq(count_matches(sc, "{fast: false, seed: 1}"), 24);
    cr_expect_eq(count_matches(sc, "{world: sim}"), 24); /* loaded for the simulated world */
    cr_expect_eq(count_matches(sc, "{world: live}"), 0);
    cr_expect_str_eq(lab_run_key_text(sc, &sc->runs[3], "wait"), "1ms");
    cr_expect_str_eq(lab_run_key_text(sc, &sc->runs[4], "wait"), "2ms");
    cr_expect_str_eq(lab_run_key_text(sc, &sc->runs[3], "world.network.loss"), "0.5");
    lab_scenario_free(sc);
}

Test(sweep, where_tests_bounds_exclusions_and_sets)
{
    struct lab_scenario *sc = load(BASE "sweep:\n  mode: [a, b, c]\n  n: [1, 2, 4, 8]\n"
                                        "  wait: [1ms, 2ms]\n", NULL, 0);
    cr_assert_eq(sc->nruns, 24);
    cr_expect_eq(count_matches(sc, "{n: {min: 2}}"), 18);
    cr_expect_eq(count_matches(sc, "{n: {min: 2, max: 4}}"), 12);
    cr_expect_eq(count_matches(sc, "{n: {max: 1.5}}"), 6);
    cr_expect_eq(count_matches(sc, "{wait: {min: 1500us}}"), 12); /* durations by value */
    cr_expect_eq(count_matches(sc, "{mode: {not: b}}"), 16);
    cr_expect_eq(count_matches(sc, "{mode: {in: [a, c]}, n: {not: 8}}"), 12);
    cr_expect_eq(count_matches(sc, "{mode: {min: 1}}"), 0); /* not a number: no match */
    lab_scenario_free(sc);
}

Test(controls, one_control_run_per_matching_run_with_the_overrides_applied)
{
    struct lab_scenario *sc = load(BASE "repeat: 2\nsweep:\n  mode: [a, b]\n  n: [2, 3]\n"
                                        "controls:\n  off: { mode: c, wait: 1ms }\n"
                                        "expect:\n"
                                        "  - { metric: total, op: \">\", value: 0, "
                                        "where: { mode: a }, control: off }\n"
                                        "  - { metric: n, op: \">\", value: 0, "
                                        "where: { n: 2 }, control: off }\n"
                                        "  - { metric: n, op: \">\", value: 0, "
                                        "control: { faults: [] } }\n"
                                        "  - { metric: n, op: \">\", value: 1 }\n",
                                   NULL, 0);
    cr_assert_eq(sc->nruns, 8);
    cr_assert_eq(sc->ncontrols, 1);
    /* 'off' on mode a (4 runs) and on n = 2 (4 runs, 2 shared): 6; the inline one on all 8. */
    cr_assert_eq(sc->ncruns, 14);
    cr_expect_null(sc->expects[3].control);
    for (size_t i = 0; i < sc->ncruns; i++) {
        const struct lab_control_run *cr = &sc->cruns[i];
        const struct lab_runspec *o = &sc->runs[cr->orig];
        cr_expect_eq(cr->spec.index, i);
        cr_expect_eq(cr->spec.seed, o->seed, "a control run keeps the original's seed");
        cr_expect_eq(cr->spec.repeat, o->repeat);
        cr_expect_eq(param(&cr->spec, "n")->i, param(o, "n")->i);
        if (cr->control == &sc->controls[0]) {
            cr_expect_str_eq(param(&cr->spec, "mode")->text, "c", "a swept key is overridden");
            cr_expect_eq(param(&cr->spec, "wait")->i, 1000000);
        } else {
            cr_expect_str_eq(param(&cr->spec, "mode")->text, param(o, "mode")->text);
        }
    }
    cr_expect_not_null(lab_control_run_of(sc, &sc->expects[0], 0));
    cr_expect_null(lab_control_run_of(sc, &sc->expects[0], 4)); /* mode b */
    cr_expect_eq(lab_control_run_of(sc, &sc->expects[0], 0),
                 lab_control_run_of(sc, &sc->expects[1], 0), "shared: same control, same run");
    for (size_t i = 0; i < sc->ncruns; i++)
        cr_expect_eq(sc->cruns[i].same_as, -1, "mode c and faults are not sweep values");
    lab_scenario_free(sc);
}

Test(controls, a_control_that_moves_swept_keys_to_their_own_values_reuses_a_run)
{
    struct lab_scenario *sc = load(BASE "repeat: 2\nsweep:\n  mode: [a, b]\n  n: [2, 3]\n"
                                        "expect:\n"
                                        "  - { metric: n, op: \">\", value: 0, "
                                        "where: { mode: a }, control: { mode: b, n: 3 } }\n",
                                   NULL, 0);
    cr_assert_eq(sc->ncruns, 4);
    for (size_t i = 0; i < sc->ncruns; i++) {
        const struct lab_control_run *cr = &sc->cruns[i];
        const struct lab_runspec *o = &sc->runs[cr->orig];
        /* mode b, n 3 is point 3; the repeat stays: runs 6 and 7 */
        cr_expect_eq(cr->same_as, (long)(3 * 2 + o->repeat), "run %zu", cr->orig);
        cr_expect_str_eq(param(&sc->runs[cr->same_as], "mode")->text, "b");
        cr_expect_eq(param(&sc->runs[cr->same_as], "n")->i, 3);
    }
    lab_scenario_free(sc);
}

Test(sweep, a_where_on_the_other_world_is_not_an_error)
{
    /* An expectation for live runs only loads in the simulated world and applies to no
     * run there; the same scenario's other expectations stay. */
    struct lab_scenario *sc = load(BASE "expect:\n"
                                        "  - { metric: total, op: \">\", value: 1, "
                                        "where: { world: live } }\n"
                                        "  - { metric: total, op: \">\", value: 1 }\n",
                                   NULL, 0);
    cr_assert_eq(sc->nexpects, 2);
    cr_expect_not(lab_where_match(sc, &sc->runs[0], sc->expects[0].where,
                                  sc->expects[0].nwhere));
    cr_expect(lab_where_match(sc, &sc->runs[0], sc->expects[1].where, sc->expects[1].nwhere));
    lab_scenario_free(sc);
}

Test(set, overrides_any_value_before_validation)
{
    const char *sets[] = {"n=7", "world.cores=3", "seed=9", "duration=10s",
                          "world.redis=redis://127.0.0.1:7000", "workload.mode=c",
                          "world.network.latency=2ms", "weights=[4, 5]"};
    struct lab_scenario *sc = load(BASE "seed: 1\n  # comment\nworld:\n  cores: 1\n", sets, 8);
    const struct lab_runspec *r = &sc->runs[0];
    cr_expect_eq(param(r, "n")->i, 7);
    cr_expect_str_eq(param(r, "mode")->text, "c");
    cr_expect_eq(param(r, "weights")->n, 2);
    cr_expect_eq(param(r, "weights")->fitems[1], 5);
    cr_expect_eq(r->cfg->world.cores, 3);
    cr_expect_eq(r->cfg->seed, 9);
    cr_expect_eq(r->seed, 9);
    cr_expect_eq(r->cfg->duration, 10000000000LL);
    cr_expect_str_eq(r->cfg->world.redis, "redis://127.0.0.1:7000");
    cr_expect_eq(r->cfg->world.network.latency.kind, SIM_DIST_CONST);
    cr_expect_eq(r->cfg->world.network.latency.a, 2000000);
    lab_scenario_free(sc);
}

Test(set, fixes_a_bad_value_and_replaces_a_sweep)
{
    const char *sets[] = {"n=5", "sweep.mode=[b]"};
    struct lab_scenario *sc = load(BASE "  n: 1000\nsweep:\n  mode: [a, b, c]\n", sets, 2);
    cr_assert_eq(sc->nruns, 1);
    cr_expect_eq(param(&sc->runs[0], "n")->i, 5);
    cr_expect_str_eq(param(&sc->runs[0], "mode")->text, "b");
    lab_scenario_free(sc);
}

Test(loader, defaults_and_world)
{
    struct lab_scenario *sc = load(
        BASE "world:\n  nodes: 3\n  slice: 1ms\n  stack: 64k\n"
             "  network: { latency: 500us, jitter: 200us, loss: 0.01 }\n"
             "  links: [ { from: a, to: b, latency: { dist: lognormal, median: 1ms, p99: 9ms },"
             " both: true } ]\n"
             "  clocks: [ { node: 'c*', offset: -5ms, drift: 20 } ]\n",
        NULL, 0);
    const struct lab_config *c = sc->runs[0].cfg;
    cr_expect_eq(c->seed, 1);
    cr_expect_eq(c->duration, 60000000000LL);
    cr_expect_eq(sc->repeat, 1);
    cr_expect_eq(c->world.cores, 2);
    cr_expect_eq(c->world.nodes, 3);
    cr_expect_eq(c->world.slice_ns, 1000000);
    cr_expect_eq(c->world.stack, 65536);
    cr_expect_eq(c->world.network.latency.kind, SIM_DIST_UNIFORM);
    cr_expect_eq(c->world.network.latency.a, 300000);
    cr_expect_eq(c->world.network.latency.b, 700000);
    cr_expect_float_eq(c->world.network.loss, 0.01, 1e-12);
    cr_assert_eq(c->world.nlinks, 1);
    cr_expect_eq(c->world.links[0].link.latency.kind, SIM_DIST_LOGNORMAL);
    cr_expect_eq(c->world.links[0].link.latency.b, 9000000);
    cr_expect_float_eq(c->world.links[0].link.loss, 0.01, 1e-12); /* from the network */
    cr_expect(c->world.links[0].both);
    cr_assert_eq(c->world.nclocks, 1);
    cr_expect_str_eq(c->world.clocks[0].pattern, "c*");
    cr_expect_eq(c->world.clocks[0].offset, -5000000);
    cr_expect_float_eq(c->world.clocks[0].ppm, 20, 1e-12);
    cr_expect_eq(param(&sc->runs[0], "wait")->i, 10000000);
    cr_expect_str_eq(param(&sc->runs[0], "label")->text, "x");
    lab_scenario_free(sc);
}

Test(loader, every_form_of_server_address_loads)
{
    /* What the clients take (live/redis_hiredis.c, live/etcd_curl.c, ZooKeeper's connect
     * string with a chroot) passes the loader's check. */
    const char *ok[][3] = {
        {"3", "http://127.0.0.1:2379/, 127.0.0.1:2380", "127.0.0.1:2181,[::1]:2182/app"},
        {"localhost", "[::1]:2379", "0"},
        {"redis://127.0.0.1:6379,unix:/tmp/r.sock,/tmp/r2.sock", "16", "localhost:1"},
        {"sentinel://127.0.0.1:26379/mymaster", "", "zk.example:65535"},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 BASE "world:\n  redis: '%s'\n  etcd: '%s'\n  zookeeper: '%s'\n", ok[i][0],
                 ok[i][1], ok[i][2]);
        struct lab_scenario *sc = load(yaml, NULL, 0);
        cr_expect_str_eq(sc->runs[0].cfg->world.redis, ok[i][0]);
        cr_expect_str_eq(sc->runs[0].cfg->world.zookeeper, ok[i][2]);
        lab_scenario_free(sc);
    }
}

Test(loader, faults_are_parsed_and_sorted_by_time)
{
    struct lab_scenario *sc = load(
        BASE "faults:\n"
             "  - { at: 20s, restart: n1 }\n"
             "  - { at: 5s, partition: [[a, b], c], until: 9s, oneway: true }\n"
             "  - { at: 10s, crash: n1 }\n"
             "  - { at: 10s, pause: n2, for: 1.5s }\n"
             "  - { at: 12s, clock: n3, step: -200ms }\n"
             "  - { at: 13s, drift: n3, ppm: 50 }\n",
        NULL, 0);
    const struct lab_config *c = sc->runs[0].cfg;
    cr_assert_eq(c->nfaults, 6);
    cr_expect_eq(c->faults[0].kind, LAB_FAULT_PARTITION);
    cr_expect_eq(c->faults[0].dur, 4000000000LL);
    cr_expect(c->faults[0].oneway);
    cr_expect_str_eq(c->faults[0].side_a[1], "b");
    cr_expect_null(c->faults[0].side_a[2]);
    cr_expect_str_eq(c->faults[0].side_b[0], "c");
    cr_expect_eq(c->faults[1].kind, LAB_FAULT_CRASH); /* stable: crash written first */
    cr_expect_eq(c->faults[1].dur, -1);
    cr_expect_eq(c->faults[2].kind, LAB_FAULT_PAUSE);
    cr_expect_eq(c->faults[2].dur, 1500000000LL);
    cr_expect_eq(c->faults[3].step, -200000000LL);
    cr_expect_float_eq(c->faults[4].ppm, 50, 1e-12);
    cr_expect_eq(c->faults[5].kind, LAB_FAULT_RESTART);
    cr_expect_eq(c->faults[5].line, 5);
    cr_expect_eq(c->faults[5].col, 5);
    lab_scenario_free(sc);
}

Test(duration, parses_units_exactly)
{
    static const struct {
        const char *text;
        bool ok;
        int64_t ns;
    } cases[] = {
        {"250ms", true, 250000000}, {"1.5s", true, 1500000000}, {"-200ms", true, -200000000},
        {"0", true, 0},             {"1.5us", true, 1500},      {"0.1s", true, 100000000},
        {"2m", true, 120000000000}, {"7ns", true, 7},           {".5ms", true, 500000},
        {"5", false, 0},            {"5h", false, 0},           {"ms", false, 0},
        {"", false, 0},             {"1.2.3s", false, 0},       {"1 s", false, 0},
        {"99999999999999999999s", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ns = 0;
        cr_expect_eq(lab_parse_duration(cases[i].text, &ns), cases[i].ok, "'%s'", cases[i].text);
        if (cases[i].ok)
            cr_expect_eq(ns, cases[i].ns, "'%s': %lld", cases[i].text, (long long)ns);
    }
}

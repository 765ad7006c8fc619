/* test_hostile.c - a whole invocation under hostile or unlucky conditions (issue 20): every
 * reproducer exits with a clear message and its documented status, and leaves no partial
 * result and no stray file. The loader's own hostile inputs are rows of test_scenario.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/cli.h"
#include "workloads_test.h"

/* Paths here fit in 4096 bytes. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define BASE "name: t\nworkload:\n  primitive: test/compute\n"

/* Expect dir/err.txt to be exactly 'want'. */
static void expect_err(const char *dir, const char *want)
{
    char *err = t_read_in(dir, "err.txt");
    cr_expect_str_eq(err, want);
    free(err);
}

Test(invocation, out_must_name_a_directory)
{
    /* --out '' once wrote the results under /. */
    char *dir = t_tmpdir();
    char *path = t_write(dir, "g.yaml", BASE);
    cr_expect_eq(t_distlab(dir, "run", path, "--out", "", NULL), 2);
    expect_err(dir, "distlab run: --out must name a directory, got ''\n");
    cr_expect_eq(t_distlab(dir, "check", path, "--out=", NULL), 2);
    free(path);
    t_cleanup(dir);
}

Test(invocation, two_scenarios_of_one_name_are_refused_before_either_runs)
{
    /* They would write one directory, the second silently over the first. */
    char *dir = t_tmpdir();
    char *a = t_write(dir, "a.yaml", BASE);
    char *b = t_write(dir, "b.yaml", "# another file\n" BASE);
    cr_expect_eq(t_distlab(dir, "run", a, b, "--out", dir, NULL), 2);
    char want[4096];
    snprintf(want, sizeof(want),
             "%s:2:7: 't' is also the name of %s: both would write their results to %s/t/\n", b,
             a, dir);
    expect_err(dir, want);
    cr_expect_not(t_exists(dir, "t"), "nothing runs");
    free(a);
    free(b);
    t_cleanup(dir);
}

Test(invocation, a_run_past_its_event_budget_fails_with_the_key_to_raise)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "s.yaml", "name: s\nduration: 10s\nworld:\n  max_events: 1000\n"
                                        "workload:\n  primitive: test/sim\n");
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, NULL), 2);
    char *err = t_read_in(dir, "err.txt");
    cr_expect_not_null(strstr(err, ": the simulation stopped at "), "%s", err);
    cr_expect_not_null(strstr(err, "it executed its limit of 1000 events (world.max_events"),
                       "%s", err);
    free(err);
    cr_expect_not(t_exists(dir, "s"));
    /* The same run within its budget. */
    cr_expect_eq(t_distlab(dir, "run", path, "--out", dir, "--set", "world.max_events=10000",
                           NULL),
                 0);
    free(path);
    t_cleanup(dir);
}

Test(invocation, every_file_is_checked_before_the_first_run_starts)
{
    /* A workload's own rule (here: at most 10 weights) and a node name in a fault
     * are known only to the workload and its world: the check pass asks both for every
     * sweep point of every file before anything runs, and the message has its place. */
    char *dir = t_tmpdir();
    char *good = t_write(dir, "g.yaml", BASE);
    char *rule = t_write(dir, "r.yaml", "name: r\nworkload:\n  primitive: test/compute\n"
                                        "sweep:\n  weights: [[1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]\n");
    char *node = t_write(dir, "n.yaml", "name: n\nduration: 1s\nworkload:\n"
                                        "  primitive: test/sim\nsweep:\n  nodes: [3, 1]\n"
                                        "faults:\n  - { at: 100ms, crash: n2 }\n");
    cr_expect_eq(t_distlab(dir, "run", good, rule, "--out", dir, NULL), 2);
    char want[4096];
    snprintf(want, sizeof(want), "%s:5:18: weights has 11 entries: at most 10\n", rule);
    expect_err(dir, want);
    cr_expect_eq(t_distlab(dir, "check", good, node, "--out", dir, NULL), 2);
    snprintf(want, sizeof(want), "%s:8:5: unknown node 'n2' in this fault (nodes: n0)\n", node);
    expect_err(dir, want);
    cr_expect_not(t_exists(dir, "t"), "the good file did not run");
    free(node);
    node = t_write(dir, "n.yaml", "name: n\nduration: 1s\nworkload:\n  primitive: test/sim\n"
                                  "sweep:\n  nodes: [3, 4]\nfaults:\n"
                                  "  - { at: 100ms, crash: n2 }\n");
    cr_expect_eq(t_distlab(dir, "check", good, node, "--out", dir, NULL), 0);
    free(good);
    free(rule);
    free(node);
    t_cleanup(dir);
}

Test(world, ends_before_lab_sim_run_returns)
{
    /* Actors still waiting on the workload's condition when the run ends are gone, their
     * exit handlers run, before the workload may free it: no teardown order can free
     * memory under an actor. */
    char *dir = t_tmpdir();
    char *path = t_write(dir, "w.yaml", "name: w\nduration: 1s\nworkload:\n"
                                        "  primitive: test/waiters\n  n: 5\n"
                                        "expect:\n  - { metric: gone, op: \"==\", value: 5 }\n");
    cr_expect_eq(t_distlab(dir, "check", path, "--out", dir, NULL), 0);
    char *out = t_read_in(dir, "out.txt");
    cr_expect_not_null(strstr(out, "PASS w: gone == 5"), "%s", out);
    free(out);
    free(path);
    t_cleanup(dir);
}

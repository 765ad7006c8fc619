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

/* test_hostile.c - a whole invocation under hostile or unlucky conditions: every
 * reproducer exits with a clear message and its documented status, and leaves no partial
 * result and no stray file. The loader's own hostile inputs are rows of test_scenario.c. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    char *rule = t_write(dir, "r.yaml",
                         "name: r\nworkload:\n  primitive: test/compute\n"
                         "sweep:\n  weights: [[1], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]\n");
    char *node = t_write(dir, "n.yaml", "name: n\nduration: 1s\nworkload:\n"
                                        "  primitive: test/sim\nsweep:\n  nodes: [3, 1]\n"
                                        "faults:\n  - { at: 100ms, crash: n2 }\n");
    cr_expect_eq(t_distlab(dir, "run", good, rule, "--out", dir, NULL), 2);
    char want[4096];
    snprintf(want, sizeof(want), "%s:5:18: weights has 11 entries: at most 10\n", rule);
    expect_err(dir, want);
    /* A default that does not fit a value given is named at its workload's place. */
    char *def = t_write(dir, "def.yaml",
                        "name: def\nworkload:\n  primitive: test/compute\n"
                        "  n: 61\n");
    cr_expect_eq(t_distlab(dir, "run", good, def, "--out", dir, NULL), 2);
    snprintf(want, sizeof(want),
             "%s:2:1: the default of 'mode' in workload 'test/compute': mode a takes at most 60 "
             "entities\n",
             def);
    expect_err(dir, want);
    free(def);
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

/* ---- Result sets: whole or nothing ----------------------------------------------- */

/* A scenario whose set has a summary, CSVs and plot data, all depending on the seed. */
#define SET_YAML                                                                          \
    "name: t\nduration: 1s\nworkload:\n  primitive: test/compute\n  samples: 3000\n"     \
    "plots:\n  - { kind: bars, metric: share }\n  - { kind: cdf, metric: lat }\n"

/* Names in dir starting with '.' (temporaries): how many. */
static int hidden_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* `distlab run path --out out --seed seed -q` in a child process (which closes
 * close_fd first, when >= 0: a lock the child must not share); its output goes to
 * log/out.txt and log/err.txt. Returns the child's pid. */
static pid_t spawn_run(const char *log, const char *path, const char *out, const char *seed,
                       int close_fd)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (close_fd >= 0)
            close(close_fd);
        _exit(t_distlab(log, "run", path, "--out", out, "--seed", seed, "-q", NULL));
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static char *read_set_file(const char *out, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/t/%s", out, name);
    return t_read(path);
}

Test(results, two_runs_into_one_out_never_mix)
{
    /* Two runs of one scenario with other seeds, into the same --out, at once: the set
     * left is always one run's, whole (once 30 of 40 tries mixed one's summary with the
     * other's CSVs). The CSVs of each seed, written alone, are the reference. */
    char *dir = t_tmpdir();
    char *path = t_write(dir, "t.yaml", SET_YAML);
    char ref[2][4096], race[4096];
    const char *seeds[2] = {"1", "2"};
    char *csv[2];
    for (int k = 0; k < 2; k++) {
        snprintf(ref[k], sizeof(ref[k]), "%s/ref%d", dir, k);
        cr_assert_eq(t_distlab(dir, "run", path, "--out", ref[k], "--seed", seeds[k], "-q",
                               NULL),
                     0);
        csv[k] = read_set_file(ref[k], "counts.csv");
        cr_assert_not_null(csv[k]);
    }
    cr_assert_str_neq(csv[0], csv[1], "the seeds must give other counts");
    snprintf(race, sizeof(race), "%s/race", dir);
    for (int round = 0; round < 20; round++) {
        pid_t a = spawn_run(dir, path, race, "1", -1), b = spawn_run(dir, path, race, "2", -1);
        int sa = wait_status(a), sb = wait_status(b);
        cr_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
        char *summary = read_set_file(race, "summary.json");
        char *counts = read_set_file(race, "counts.csv");
        cr_assert_not_null(summary);
        cr_assert_not_null(counts);
        int seed = strstr(summary, "\"seed\": 1,") ? 0 : 1;
        cr_assert_str_eq(counts, csv[seed], "round %d: the CSVs are not the summary's run's",
                         round);
        cr_assert_eq(hidden_entries(race), 0, "round %d: a temporary was left", round);
        free(summary);
        free(counts);
    }
    free(csv[0]);
    free(csv[1]);
    free(path);
    t_cleanup(dir);
}

/* Wait until log/err.txt says the run waits for the lock; returns whether it did. */
static bool says_waiting(const char *log)
{
    for (int i = 0; i < 600; i++) {
        char *err = t_read_in(log, "err.txt");
        bool yes = err && strstr(err, "another distlab is writing into");
        free(err);
        if (yes)
            return true;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

Test(results, a_second_run_waits_while_a_set_is_written)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "t.yaml", SET_YAML);
    char out[4096], log[2][4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    mkdir(out, 0777);
    for (int k = 0; k < 2; k++) {
        snprintf(log[k], sizeof(log[k]), "%s/log%d", dir, k);
        mkdir(log[k], 0777);
    }
    int fd = open(out, O_RDONLY | O_DIRECTORY);
    cr_assert_eq(flock(fd, LOCK_EX), 0); /* as another distlab writing there would */
    /* A run that waits can still be stopped, and leaves nothing. */
    pid_t pid = spawn_run(log[0], path, out, "1", fd);
    cr_expect(says_waiting(log[0]));
    kill(pid, SIGTERM);
    int st = wait_status(pid);
    cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %d", st);
    cr_expect_not(t_exists(out, "t"));
    cr_expect_eq(hidden_entries(out), 0);
    /* A run that waits writes when the lock is released. */
    pid = spawn_run(log[1], path, out, "1", fd);
    cr_expect(says_waiting(log[1]));
    cr_expect_not(t_exists(out, "t"), "nothing is written while the lock is held");
    close(fd);
    st = wait_status(pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    cr_expect(t_exists(out, "t/summary.json"));
    free(path);
    t_cleanup(dir);
}

Test(results, a_set_that_cannot_be_written_whole_replaces_nothing)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "t.yaml", SET_YAML);
    char out[4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    cr_assert_eq(t_distlab(dir, "run", path, "--out", out, "--seed", "1", "-q", NULL), 0);
    char *before = read_set_file(out, "summary.json");
    /* A full disk, as a file size limit: the summary fits, a later file does not. */
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {strlen(before) + 100, strlen(before) + 100};
        setrlimit(RLIMIT_FSIZE, &rl);
        _exit(t_distlab(dir, "run", path, "--out", out, "--seed", "2", "-q", NULL));
    }
    int st = wait_status(pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 4, "status %d", st);
    char *err = t_read_in(dir, "err.txt");
    cr_expect_not_null(strstr(err, "distlab: cannot write results: "), "%s", err);
    cr_expect_not_null(strstr(err, ": File too large"), "%s", err);
    free(err);
    char *after = read_set_file(out, "summary.json");
    cr_expect_str_eq(after, before, "the old set stays whole");
    cr_expect_eq(hidden_entries(out), 0, "no temporary is left");
    free(after);
    /* Without --out: results/t/ and plots/t/ are two sets; a plots/ that cannot be a
     * directory fails both before either is replaced. */
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    free(t_write(dir, "plots", "a file where the plots directory would go\n"));
    setenv("DISTLAB_SOURCE_ROOT", DISTLAB_TEST_SOURCE_ROOT, 1);
    int rc = t_distlab(dir, "run", path, "-q", NULL);
    cr_assert_eq(chdir(cwd), 0);
    cr_expect_eq(rc, 4);
    err = t_read_in(dir, "err.txt");
    cr_expect_str_eq(err, "distlab: cannot write results: plots/t: Not a directory\n");
    free(err);
    cr_expect_not(t_exists(dir, "results/t"), "no half set: results without their plots");
    cr_expect_eq(hidden_entries(dir), 0);
    free(before);
    free(path);
    t_cleanup(dir);
}

Test(results, temporaries_a_killed_run_left_are_swept)
{
    char *dir = t_tmpdir();
    char *path = t_write(dir, "t.yaml", SET_YAML);
    char out[4096], stale[4096];
    snprintf(out, sizeof(out), "%s/out", dir);
    mkdir(out, 0777);
    const char *names[] = {".t.tmp-99999-0", ".t.old-99999-3"};
    for (int i = 0; i < 2; i++) {
        snprintf(stale, sizeof(stale), "%s/%s", out, names[i]);
        mkdir(stale, 0777);
        free(t_write(stale, "summary.json", "{ half"));
    }
    free(t_write(out, ".other", "not ours\n"));
    cr_assert_eq(t_distlab(dir, "run", path, "--out", out, "-q", NULL), 0);
    cr_expect_not(t_exists(out, names[0]));
    cr_expect_not(t_exists(out, names[1]));
    cr_expect(t_exists(out, ".other"), "only the scenario's own temporaries go");
    cr_expect(t_exists(out, "t/summary.json"));
    free(path);
    t_cleanup(dir);
}

Test(results, a_signal_while_a_set_is_written_drops_it_and_then_kills)
{
    /* A gnuplot that takes its time keeps the run in its write phase; SIGINT then must
     * leave neither the new set nor its temporary, and end the process by the signal. */
    char *dir = t_tmpdir();
    char *path = t_write(dir, "t.yaml", SET_YAML);
    char bin[4096], out[4096], log[4096];
    snprintf(bin, sizeof(bin), "%s/bin", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(log, sizeof(log), "%s/log", dir);
    mkdir(bin, 0777);
    mkdir(log, 0777);
    mkdir(out, 0777);
    char *gp = t_write(bin, "gnuplot", "#!/bin/sh\n/bin/sleep 1\n"); /* PATH is bin alone */
    chmod(gp, 0755);
    free(gp);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("PATH", bin, 1);
        _exit(t_distlab(log, "run", path, "--out", out, "-q", NULL));
    }
    for (int i = 0; i < 600 && hidden_entries(out) == 0; i++) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    cr_assert_gt(hidden_entries(out), 0, "the run never reached its write phase");
    kill(pid, SIGINT);
    int st = wait_status(pid);
    cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT, "status %d", st);
    cr_expect_not(t_exists(out, "t"));
    cr_expect_eq(hidden_entries(out), 0);
    free(path);
    t_cleanup(dir);
}

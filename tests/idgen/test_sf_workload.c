/* test_sf_workload.c - the idgen/snowflake workload end to end in the simulated world
 * (it replays from its seed; its theory agrees with closed forms computed here by plain
 * sums; the mark stops restart duplicates) and `distlab id` in-process. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/cli.h"
#include "lab/idgen/cmd_id.h"
#include "lab/hist.h"
#include "lab/run.h"
#include "lab/scenario.h"
#include "../lab/ran.h"

extern const struct lab_workload lab_wl_snowflake;
const struct lab_workload *const lab_workloads[] = {&lab_wl_snowflake, NULL};

/* Load the scenario text and run its run 'index'. */
static void run_text(struct ran *r, const char *text, size_t index)
{
    run_text_at(r, text, index);
}

/* E[min(X, Y)] and Var for X, Y iid Poisson(mu), by summing P(min > k) plainly. */
static void min_poisson(double mu, double *mean, double *var)
{
    double cdf = 0, pmf = exp(-mu), e = 0, e2 = 0;
    for (int k = 0; k < 400; k++) {
        cdf += pmf;
        double tail = (1 - cdf) * (1 - cdf); /* P(min > k) */
        e += tail;
        e2 += (2 * k + 1) * tail;
        pmf *= mu / (k + 1);
    }
    *mean = e;
    *var = e2 - e * e;
}

#define STEP_SCENARIO(policy, seed)                                                                \
    "name: t\nseed: " seed "\nduration: 2.2s\nworld: { cores: 1 }\n"                               \
    "workload:\n  primitive: idgen/snowflake\n  workers: 3\n  rate: 20\n"                          \
    "  wait_max: 100ms\n  borrow_max: 10ms\n  policy: " policy "\n"                                \
    "faults:\n  - { at: 2s, clock: worker-0, step: -50ms }\n"

Test(sf_workload, replays_from_its_seed)
{
    struct ran a, b, c;
    run_text(&a, STEP_SCENARIO("none", "5"), 0);
    run_text(&b, STEP_SCENARIO("none", "5"), 0);
    run_text(&c, STEP_SCENARIO("none", "6"), 0);
    cr_assert_eq(a.rc, 0, "%s", a.run.fail ? a.run.fail : "");
    const char *names[] = {"ids", "duplicates", "inverted_pairs", "max_inverted_gap", "max_lead"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        cr_assert_eq(scalar(&a, names[i]), scalar(&b, names[i]), "%s", names[i]);
    cr_assert_neq(scalar(&a, "ids"), scalar(&c, "ids"), "another seed, other arrivals");
    ran_free(&a);
    ran_free(&b);
    ran_free(&c);
}

/* The unsafe generator re-issues the 50 replayed units: E = 50 E[min(P20, P20)], which
 * the workload's exposure model must reproduce, and the measurement must agree. */
Test(sf_workload, none_duplicates_agree_with_the_closed_form)
{
    double mean, var;
    min_poisson(20, &mean, &var);
    struct ran r;
    run_text(&r, STEP_SCENARIO("none", "1"), 0);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail ? r.run.fail : "");
    cr_assert_float_eq(scalar(&r, "duplicates_theory"), 50 * mean, 1e-6 * 50 * mean);
    cr_assert_leq(fabs(scalar(&r, "duplicates") - 50 * mean), 5 * sqrt(50 * var));
    ran_free(&r);
}

Test(sf_workload, policies_trade_duplicates_for_errors_stalls_or_lead)
{
    struct ran r;
    run_text(&r, STEP_SCENARIO("refuse", "1"), 0);
    cr_assert_eq(scalar(&r, "duplicates"), 0);
    cr_assert_float_eq(scalar(&r, "errors_theory"), 20.0 * 49, 1e-9, "49 ms behind at 20/ms");
    cr_assert_leq(fabs(scalar(&r, "errors") - 980), 5 * sqrt(980));
    ran_free(&r);
    run_text(&r, STEP_SCENARIO("wait", "1"), 0);
    cr_assert_eq(scalar(&r, "duplicates"), 0);
    cr_assert_eq(scalar(&r, "errors"), 0);
    cr_assert_eq(scalar(&r, "max_stall_theory"), 49e6);
    cr_assert(scalar(&r, "max_stall") <= 49e6 && scalar(&r, "max_stall") > 48e6);
    ran_free(&r);
    run_text(&r, STEP_SCENARIO("hold", "1"), 0);
    cr_assert_eq(scalar(&r, "duplicates"), 0);
    cr_assert_eq(scalar(&r, "max_stall"), 0);
    cr_assert(scalar(&r, "max_lead_clock") > 48e6 && scalar(&r, "max_lead_clock") <= 49e6);
    ran_free(&r);
    run_text(&r, STEP_SCENARIO("borrow", "1"), 0);
    cr_assert_eq(scalar(&r, "duplicates"), 0);
    cr_assert_eq(scalar(&r, "max_lead_clock"), 10e6, "the queue leaves at exactly the bound");
    ran_free(&r);
}

#define RESTART_SCENARIO(hwm)                                                                      \
    "name: t\nseed: 1\nduration: 1s\nworld: { cores: 1 }\n"                                        \
    "workload:\n  primitive: idgen/snowflake\n  workers: 1\n  rate: 20\n"                          \
    "  reserve: 20ms\n  hwm: " hwm "\n"                                                            \
    "faults:\n  - { at: 500ms, crash: worker-0, for: 1ms }\n"                                      \
    "  - { at: 500.5ms, clock: worker-0, step: -30ms }\n"

Test(sf_workload, the_mark_stops_restart_duplicates)
{
    double mean, var;
    min_poisson(20, &mean, &var);
    struct ran r;
    run_text(&r, RESTART_SCENARIO("false"), 0);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail ? r.run.fail : "");
    /* Back at 501 ms reading 471 ms: units 471..499 again, 29 of them. */
    cr_assert_float_eq(scalar(&r, "duplicates_theory"), 29 * mean, 1e-6 * 29 * mean);
    cr_assert_gt(scalar(&r, "duplicates"), 0);
    cr_assert_eq(scalar(&r, "store_puts"), 0);
    ran_free(&r);
    run_text(&r, RESTART_SCENARIO("true"), 0);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail ? r.run.fail : "");
    cr_assert_eq(scalar(&r, "duplicates"), 0);
    cr_assert_eq(scalar(&r, "duplicates_theory"), 0);
    /* Marks at units 0, 21, ..., 483 (each covering 20 more): 503 at the crash; back at
     * 471 ms, the first request waits for unit 504. */
    cr_assert_eq(scalar(&r, "max_stall_theory"), 33e6);
    cr_assert(scalar(&r, "max_stall") > 32e6 && scalar(&r, "max_stall") <= 33e6);
    ran_free(&r);
}

/* Equal clocks: only same-ms pairs invert, when the higher worker id comes first: per
 * node pair lambda^2 D u / 2, out of (n lambda D)^2 / 2 pairs. */
Test(sf_workload, inversions_with_equal_clocks_match_the_closed_form)
{
    struct ran r;
    run_text(&r,
             "name: t\nseed: 3\nduration: 4s\nworld: { cores: 1 }\n"
             "workload:\n  primitive: idgen/snowflake\n  workers: 8\n  rate: 5\n",
             0);
    cr_assert_eq(r.rc, 0, "%s", r.run.fail ? r.run.fail : "");
    double want = 28.0 * 1e6 / (64.0 * 4e9); /* C(8,2) u / (n^2 D) */
    cr_assert_float_eq(scalar(&r, "inversions_theory"), want, 1e-9 * want);
    cr_assert_float_eq(scalar(&r, "inversions"), want, 0.02 * want);
    cr_assert_eq(scalar(&r, "max_inverted_gap_bound"), 1e6);
    cr_assert_leq(scalar(&r, "max_inverted_gap"), 1e6);
    ran_free(&r);
}

Test(sf_workload, a_worker_id_too_wide_is_a_scenario_error)
{
    struct ran r;
    run_text(&r,
             "name: t\nduration: 1s\nworkload:\n  primitive: idgen/snowflake\n"
             "  workers: 2\n  worker_ids: [3, 40]\n",
             0);
    cr_assert_eq(r.rc, -EINVAL);
    cr_assert_not_null(strstr(r.run.fail, "worker id 40 does not fit 5 bits"), "%s", r.run.fail);
    ran_free(&r);
    run_text(&r,
             "name: t\nduration: 1s\nworkload:\n  primitive: idgen/snowflake\n"
             "  layout: 41/5/5/13\n",
             0);
    cr_assert_eq(r.rc, -EINVAL);
    cr_assert_not_null(strstr(r.run.fail, "must be 63"), "%s", r.run.fail);
    ran_free(&r);
    /* A width past 32 bits once read as its low bits: 4294967337 as 41. */
    run_text(&r,
             "name: t\nduration: 1s\nworkload:\n  primitive: idgen/snowflake\n"
             "  layout: 4294967337/5/5/12\n",
             0);
    cr_assert_eq(r.rc, -EINVAL);
    cr_assert_not_null(strstr(r.run.fail, ":5:11: layout '4294967337/5/5/12': expected T/D/W/S, "
                                          "each from 0 to 63 bits"),
                       "%s", r.run.fail);
    ran_free(&r);
}

/* ---- distlab id ---------------------------------------------------------------------- */

static int id_cmd(const char *const *args)
{
    char *argv[16];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    return lab_cmd_id(argc, argv);
}

Test(sf_cli, encodes_the_seed_layout, .init = cr_redirect_stdout)
{
    /* 2022-11-14T00:45:51.690Z is 379551777033 ms after Twitter's epoch. */
    const char *a[] = {"id",    "encode", "--time",   "2022-11-14T01:45:51.690+01:00",
                       "--dc",  "1",      "--worker", "1",
                       "--seq", "7",      NULL};
    cr_assert_eq(id_cmd(a), 0);
    fflush(stdout);
    char want[32];
    snprintf(want, sizeof(want), "%llu\n",
             (379551777033ULL << 22) | (1ULL << 17) | (1ULL << 12) | 7ULL);
    cr_assert_stdout_eq_str(want);
}

/* The seed layout's ID for 2022-11-14T00:45:51.690Z, dc 1, worker 1, seq 7, decoded. */
#define SEED_ID_JSON                                                                       \
    "{\"id\":\"1591955536616755207\",\"time\":\"2022-11-14T00:45:51.690Z\","               \
    "\"unix_ms\":1668386751690,\"units\":\"379551777033\",\"dc\":1,"                       \
    "\"worker\":1,\"seq\":7,\"js_safe\":false}\n"

Test(sf_cli, decodes_as_json_with_ids_as_strings, .init = cr_redirect_stdout)
{
    const char *a[] = {"id", "decode", "--json", "1591955536616755207", NULL};
    cr_assert_eq(id_cmd(a), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str(SEED_ID_JSON);
}

Test(sf_cli, options_may_follow_the_ids, .init = cr_redirect_stdout)
{
    const char *a[] = {"id", "decode", "1591955536616755207", "--json", NULL};
    cr_assert_eq(id_cmd(a), 0);
    fflush(stdout);
    cr_assert_stdout_eq_str(SEED_ID_JSON);
}

Test(sf_cli, bad_input_exits_2, .init = cr_redirect_stderr)
{
    const char *cases[][12] = {
        {"id", "decode", "x12", NULL},
        {"id", "decode", "9223372036854775808", NULL},
        {"id", "decode", "--layout", "41/5/5/13", "1", NULL},
        {"id", "decode", "--epoch", "2999-01-01T00:00:00Z", "1", NULL},
        {"id", "decode", NULL},
        {"id", "encode", "--time", "2022-02-30T00:00:00Z", NULL},
        {"id", "encode", "--time", "2022-01-01T00:00:00", NULL}, /* no zone */
        {"id", "encode", "--time", "2022-01-01T00:00:00Z", "--worker", "40", NULL},
        {"id", "encode", "--time", "1000", NULL}, /* before the epoch */
        {"id", "encode", NULL},
        {"id", "frob", NULL},
        {"id", "decode", "--unit", "0", "1", NULL},
        {"id", "decode", "-5", NULL}, /* looks like an option: not an ID either way */
        /* Overflow is an error, never a clamped date or a truncated width (a hostile input). */
        {"id", "decode", "--unit", "1s", "9223372036854775807", NULL},
        {"id", "decode", "--layout", "4294967337/5/5/12", "12345", NULL},
        {"id", "decode", "--layout", "41/5/5/4294967308", "1", NULL},
        {"id", "decode", "--layout", "41/5/5/-12", "1", NULL},
        {"id", "decode", "--layout", "2147483647/2147483647/2/1", "1", NULL},
        {"id", "decode", "--unit", "99999999999999999999s", "1", NULL},
        {"id", "decode", "--epoch", "9223372036854775807", "1", NULL},
        {"id", "decode", "18446744073709551616", NULL},
        {"id", "encode", "--time", "2022-01-01T00:00:00Z", "--seq", "18446744073709551616",
         NULL},
        {"id", "encode", "--time", "9223372036854775807", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(id_cmd(cases[i]), LAB_EXIT_INPUT, "case %zu", i);
}

Test(sf_cli, other_layouts_round_trip, .init = cr_redirect_stdout)
{
    /* sonyflake-like units: 10 ms, a 2014 epoch; 39 bits of time, 16 of worker, 8 of seq */
    const char *a[] = {"id",       "encode",
                       "--layout", "39/0/16/8",
                       "--unit",   "10ms",
                       "--epoch",  "2014-09-01T00:00:00Z",
                       "--time",   "2020-01-01T00:00:00.05Z",
                       "--worker", "65535",
                       "--seq",    "255",
                       NULL};
    cr_assert_eq(id_cmd(a), 0);
    fflush(stdout);
    /* (2020-01-01 - 2014-09-01) = 1948 days = 168307200 s = 16830720000 units, +5 */
    char want[32];
    snprintf(want, sizeof(want), "%llu\n", (16830720005ULL << 24) | (65535ULL << 8) | 255ULL);
    cr_assert_stdout_eq_str(want);
}

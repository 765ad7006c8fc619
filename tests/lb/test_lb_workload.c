/* test_lb_workload.c - the lb/shuffle workload end to end in the simulated world: it
 * replays from its seed, its measurements agree with the exact theory, and a dead
 * endpoint's attempts time out and retry where each picker's order says. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/hist.h"
#include "lab/run.h"
#include "lab/scenario.h"
#include "../lab/ran.h"

extern const struct lab_workload lab_wl_lb;
const struct lab_workload *const lab_workloads[] = {&lab_wl_lb, NULL};

/* Runs the scenario text's first run, which must succeed. */
static void run_text(struct ran *r, const char *text)
{
    run_text_at(r, text, 0);
    cr_assert_eq(r->rc, 0, "%s", r->run.fail ? r->run.fail : "");
}

#define SCENARIO(picker, requests, fail, seed, faults)                                      \
    "name: t\nseed: " seed "\nduration: 10m\nworld:\n  network: { latency: 100us }\n"      \
    "workload:\n  primitive: lb/shuffle\n  picker: " picker "\n  requests: " requests "\n" \
    "  fail: " fail "\n  clients: 2\n  concurrency: 4\n  service: 1ms\n"                 \
    "  service_p99: 3ms\n  timeout: 10ms\n" faults

Test(lb_workload, replays_from_its_seed)
{
    const char *s = SCENARIO("biased", "20000", "0.2", "7",
                             "faults:\n  - { at: 500ms, crash: ep-0, for: 1s }\n");
    const char *other = SCENARIO("biased", "20000", "0.2", "8",
                                 "faults:\n  - { at: 500ms, crash: ep-0, for: 1s }\n");
    struct ran a, b, c;
    run_text(&a, s);
    run_text(&b, s);
    run_text(&c, other);
    const struct lab_metric *la = metric(&a, "load"), *lb = metric(&b, "load");
    const struct lab_metric *lc = metric(&c, "load");
    cr_assert(memcmp(la->v, lb->v, la->n * sizeof *la->v) == 0, "same seed, same load");
    cr_assert(memcmp(la->v, lc->v, la->n * sizeof *la->v) != 0, "another seed, other load");
    cr_assert_eq(scalar(&a, "timeouts"), scalar(&b, "timeouts"));
    cr_assert_eq(scalar(&a, "sim_events"), scalar(&b, "sim_events"));
    const struct hist *ha = metric(&a, "latency")->hist, *hb = metric(&b, "latency")->hist;
    cr_assert_eq(hist_count(ha), 20000);
    cr_assert_eq(hist_mean(ha), hist_mean(hb));
    cr_assert(scalar(&a, "timeouts") > 0, "the crash must cost timeouts");
    ran_free(&a);
    ran_free(&b);
    ran_free(&c);
}

Test(lb_workload, measurements_agree_with_exact_theory)
{
    struct ran r;
    run_text(&r, SCENARIO("biased", "100000", "0", "3", ""));
    cr_assert_eq(scalar(&r, "requests"), 100000);
    cr_assert_eq(scalar(&r, "attempts_total"), 100000, "no failures: one attempt each");
    cr_assert_eq(scalar(&r, "failed_requests"), 0);
    cr_assert(scalar(&r, "chi2_p") > 1e-3, "p %g", scalar(&r, "chi2_p"));
    cr_assert(scalar(&r, "chi2_uniform_p") < 1e-6);
    cr_assert(scalar(&r, "load_share_z_max") < 5, "z %g", scalar(&r, "load_share_z_max"));
    cr_assert(fabs(scalar(&r, "theory_max_min_ratio") - 5.0137614678899) < 1e-9);
    const struct lab_metric *P = metric(&r, "position_matrix");
    cr_assert_eq(P->rows, 7);
    cr_assert_eq(P->cols, 7);
    for (size_t j = 0; j < 7; j++) { /* each position holds one endpoint per request */
        double col = 0;
        for (size_t i = 0; i < 7; i++)
            col += P->v[i * 7 + j];
        cr_assert(fabs(col - 1) < 1e-9);
    }
    ran_free(&r);
}

/* ep-0 is down for the whole run and nothing else fails: every attempt on it times out
 * and is retried on the next endpoint of the order, and no request fails. With round
 * robin that next endpoint is always ep-1, so ep-1's attempts are exactly its own first
 * attempts plus ep-0's. */
Test(lb_workload, dead_endpoint_times_out_and_retries_follow_the_order)
{
    const char *faults = "faults:\n  - { at: 0s, crash: ep-0 }\n";
    static const char *const pickers[] = {"rr", "fisher-yates", "biased"};
    for (size_t k = 0; k < 3; k++) {
        char text[1024];
        snprintf(text, sizeof text, SCENARIO("%s", "20000", "0", "5", "%s"), pickers[k],
                 faults);
        struct ran r;
        run_text(&r, text);
        const struct lab_metric *load = metric(&r, "load"), *first = metric(&r, "first_load");
        cr_assert_eq(scalar(&r, "failed_requests"), 0, "%s", pickers[k]);
        cr_assert_eq(scalar(&r, "timeouts"), load->v[0], "%s: every ep-0 attempt times out",
                     pickers[k]);
        cr_assert_eq(load->v[0], first->v[0], "%s: ep-0 is only ever tried first",
                     pickers[k]);
        cr_assert_eq(scalar(&r, "attempts_total"), 20000 + load->v[0], "%s", pickers[k]);
        if (k == 0)
            cr_assert_eq(load->v[1], first->v[1] + first->v[0]);
        const struct hist *lat = metric(&r, "latency")->hist;
        cr_assert(hist_max(lat) >= 10 * 1000000LL, "%s: a retried request waited the timeout",
                  pickers[k]);
        ran_free(&r);
    }
}

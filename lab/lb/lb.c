/* lb.c - the "lb/shuffle" workload: clients that pick endpoints with a primitives/lb
 * picker and retry the next endpoint of the request's order on failure or timeout,
 * against endpoints that fail with a probability, take a service time, and crash and
 * restart as the scenario's fault timeline says. Measures where the load went and
 * compares it with the exact theory of lb_theory_*. Never writes files or exits.
 *
 * The simulated world:
 *   ep-0 .. ep-(n-1)          endpoint nodes. Their main actor starts one worker per
 *                             client request actor k (a connection, in effect), listening
 *                             on port EP_PORT_BASE + k; a worker answers each request
 *                             after a service time, with failure probability `fail`.
 *   client-0 .. client-(c-1)  client nodes. Their main actor builds the client's picker
 *                             and starts `concurrency` request actors that share it (so
 *                             p2c sees their outstanding attempts), each sending its
 *                             share of `requests` one after the other.
 * A request: t0 = mono clock; order = lb_order(); for attempt a < min(attempts, n): send
 * to order[a], wait at most `timeout` for that attempt's reply (late replies to earlier
 * attempts are discarded); success ends the request. Its latency (retries and timeouts
 * included) goes to the `latency` histogram (ns) and, by the true time it ended, to the
 * `latency_ms_ts` series (in ms, 100 ms bins); a request whose every attempt failed or
 * timed out counts in `failed_requests`.
 *
 * Every random draw comes from the actor's seeded stream: each actor seeds a struct rng
 * from one env_rand() when it starts, and picker, failure and service-time draws come
 * from it, so a run replays from its seed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/lab.h"
#include "lab/stats.h"
#include "lb/lb.h"
#include "names.h"
#include "sim/sim.h"

#define EP_PORT_BASE 1000u
#define MAX_CLIENTS 64
#define MAX_CONCURRENCY 256

struct lbw;
struct lbw_worker;

/* A message, both ways: which attempt it answers, and whether it succeeded. */
struct lbw_msg {
    uint64_t tag;
    uint32_t ok;
};

struct lbw_client {
    struct lbw *w;
    int index;
    struct lb *lb; /* shared by the client's request actors */
};

struct lbw_actor {
    struct lbw *w;
    struct lbw_client *client;
    uint32_t k;        /* global request-actor index: its worker port on every endpoint */
    uint64_t quota;    /* requests to send */
    uint32_t *order;   /* n entries */
};

struct lbw {
    struct lab_run *run;
    enum lb_policy policy;
    size_t n;
    int attempts;
    double fail;
    int64_t timeout;
    struct sim_dist service;
    int clients, concurrency;
    uint64_t requests;
    int64_t *weights; /* n, or NULL: all 1 */
    struct sim *sim;
    int *ep_node;     /* n node ids */
    struct lbw_client *client;
    struct lbw_actor *actor;
    struct lbw_worker *worker; /* nactors: one per request actor, shared by endpoints */
    size_t nactors;
    /* What happened. */
    uint64_t *load;       /* attempts per endpoint */
    uint64_t *first;      /* first attempts per endpoint */
    uint64_t *pos;        /* n x n: requests with endpoint i at position j of the order */
    uint64_t done, failed, attempts_total, timeouts;
    int64_t end_ns; /* true time the last request ended */
    struct hist *latency;
    struct series *latency_ts; /* request latency in ms by completion time, 100 ms bins */
};

static const struct lab_param lbw_params[] = {
    {"picker", LAB_ENUM, "fisher-yates", 1, 0, NAMES_CHOICES(LB_POLICY_NAMES),
     "how a request orders the endpoints it tries (primitives/lb/lb.h)"},
    {"endpoints", LAB_INT, "7", 1, LB_THEORY_MAX_N, NULL, "number of endpoints (ep-0...)"},
    {"weights", LAB_LIST, "[]", 1, 0, NULL,
     "swrr: one positive integer weight per endpoint; [] means all 1"},
    {"attempts", LAB_INT, "3", 1, 1000, NULL,
     "tries per request, the first included (capped at endpoints); the seed's 3"},
    {"requests", LAB_INT, "1000000", 1, 1e10, NULL, "requests in all, split over actors"},
    {"clients", LAB_INT, "2", 1, MAX_CLIENTS, NULL, "client nodes, one picker each"},
    {"concurrency", LAB_INT, "8", 1, MAX_CONCURRENCY, NULL,
     "request actors per client, sharing its picker, each one request at a time"},
    {"fail", LAB_FLOAT, "0", 0, 1, NULL, "probability that an attempt is answered with failure"},
    {"service", LAB_DURATION, "1ms", 0, 3600e9, NULL, "an endpoint's median service time"},
    {"service_p99", LAB_DURATION, "0", 0, 3600e9, NULL,
     "99th percentile of service time (lognormal); 0: always `service`"},
    {"timeout", LAB_DURATION, "100ms", 1, 3600e9, NULL,
     "how long a client waits for one attempt before trying the next endpoint"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- Actors ----------------------------------------------------------------------- */

/* A worker of every endpoint for request actor k: it listens on EP_PORT_BASE + k. */
struct lbw_worker {
    struct lbw *w;
    uint32_t k;
};

static void endpoint_worker(struct env *e, void *arg)
{
    const struct lbw_worker *wk = arg;
    struct lbw *w = wk->w;
    struct rng r;
    rng_seed(&r, env_rand(e));
    if (sim_listen(e, EP_PORT_BASE + wk->k) < 0)
        return;
    for (;;) {
        struct lbw_msg m;
        struct sim_addr from;
        if (sim_recv(e, &m, sizeof m, &from, -1) != (ssize_t)sizeof m)
            continue;
        bool ok = !rng_chance(&r, w->fail);
        int64_t s = sim_dist_draw(&w->service, &r);
        if (s > 0)
            env_sleep(e, s);
        m.ok = ok;
        sim_send(e, from, &m, sizeof m);
    }
}

/* An endpoint node's main actor, run at start and on each restart: starts the workers. */
static void endpoint_main(struct env *e, void *arg)
{
    struct lbw *w = arg;
    char name[48];
    for (size_t k = 0; k < w->nactors; k++) {
        snprintf(name, sizeof name, "worker-%zu", k);
        uint64_t h;
        if (env_spawn(e, name, endpoint_worker, &w->worker[k], &h) < 0)
            return;
    }
}

/* One attempt on endpoint ep: true on a success reply within the timeout. */
static bool attempt(struct env *e, struct lbw_actor *a, uint32_t ep, uint64_t tag)
{
    struct lbw *w = a->w;
    struct sim_addr to = {w->ep_node[ep], EP_PORT_BASE + a->k};
    struct lbw_msg m = {tag, 0};
    sim_send(e, to, &m, sizeof m);
    int64_t deadline = env_mono(e) + w->timeout;
    for (;;) {
        int64_t left = deadline - env_mono(e);
        if (left <= 0)
            break;
        struct lbw_msg r;
        ssize_t len = sim_recv(e, &r, sizeof r, NULL, left);
        if (len == -ETIMEDOUT)
            break;
        if (len == (ssize_t)sizeof r && r.tag == tag)
            return r.ok != 0;
        /* a late reply to an attempt that timed out: drop it */
    }
    w->timeouts++;
    return false;
}

static void request_actor(struct env *e, void *arg)
{
    struct lbw_actor *a = arg;
    struct lbw *w = a->w;
    struct lb *lb = a->client->lb;
    size_t n = w->n;
    size_t tries = (size_t)w->attempts < n ? (size_t)w->attempts : n;
    struct rng r;
    rng_seed(&r, env_rand(e));
    uint64_t tag = 0;
    for (uint64_t q = 0; q < a->quota; q++) {
        int64_t t0 = env_mono(e);
        lb_order(lb, &r, a->order);
        for (size_t j = 0; j < n; j++)
            w->pos[(size_t)a->order[j] * n + j]++;
        w->first[a->order[0]]++;
        bool ok = false;
        for (size_t t = 0; t < tries && !ok; t++) {
            uint32_t ep = a->order[t];
            w->load[ep]++;
            w->attempts_total++;
            lb_start(lb, ep);
            ok = attempt(e, a, ep, ++tag);
            lb_done(lb, ep);
        }
        int64_t lat = env_mono(e) - t0;
        hist_add(w->latency, lat);
        w->end_ns = sim_env_true_now(e);
        series_add(w->latency_ts, w->end_ns, (double)lat / 1e6);
        w->failed += !ok;
        if (++w->done % 65536 == 0)
            lab_progress(w->run, (double)w->done / (double)w->requests);
    }
}

static void client_main(struct env *e, void *arg)
{
    struct lbw_client *c = arg;
    struct lbw *w = c->w;
    char name[48];
    for (int i = 0; i < w->concurrency; i++) {
        size_t k = (size_t)c->index * (size_t)w->concurrency + (size_t)i;
        snprintf(name, sizeof name, "req-%d", i);
        uint64_t h;
        if (env_spawn(e, name, request_actor, &w->actor[k], &h) < 0)
            return;
    }
}

/* ---- Parameters, world, metrics ------------------------------------------------------ */

static int read_params(struct lbw *w, struct lab_run *run)
{
    w->policy = (enum lb_policy)lab_enum(run, "picker");
    w->n = (size_t)lab_int(run, "endpoints");
    w->attempts = (int)lab_int(run, "attempts");
    w->requests = (uint64_t)lab_int(run, "requests");
    w->clients = (int)lab_int(run, "clients");
    w->concurrency = (int)lab_int(run, "concurrency");
    w->fail = lab_float(run, "fail");
    w->timeout = lab_duration(run, "timeout");
    int64_t med = lab_duration(run, "service"), p99 = lab_duration(run, "service_p99");
    if (p99 > 0 && p99 < med) {
        return lab_fail_param(run, "service_p99",
                          "service_p99 (%lld ns) is below the median service time (%lld ns)",
                          (long long)p99, (long long)med);
    }
    w->service = p99 > 0 ? (struct sim_dist){SIM_DIST_LOGNORMAL, med, p99, 0}
                         : (struct sim_dist){SIM_DIST_CONST, med, med, 0};
    size_t nw = lab_list_len(run, "weights");
    if (nw) {
        if (nw != w->n) {
            return lab_fail_param(run, "weights", "weights has %zu entries for %zu endpoints", nw,
                              w->n);
        }
        w->weights = calloc(nw, sizeof *w->weights);
        if (!w->weights)
            return -ENOMEM;
        for (size_t i = 0; i < nw; i++) {
            double v = lab_list_float(run, "weights", i);
            if (!(v >= 1 && v <= 1e6 && v == floor(v))) {
                return lab_fail_param(run, "weights",
                                  "weights[%zu] is '%s': expected an integer from 1 to 1000000",
                                  i, lab_list_str(run, "weights", i));
            }
            w->weights[i] = (int64_t)v;
        }
    }
    return 0;
}

static int build_world(struct lab_run *run, struct sim *sim, void *arg)
{
    struct lbw *w = arg;
    size_t n = w->n;
    w->sim = sim;
    int cores = lab_world_cores(run);
    char name[32];
    w->nactors = (size_t)w->clients * (size_t)w->concurrency;
    w->ep_node = calloc(n, sizeof *w->ep_node);
    w->client = calloc((size_t)w->clients, sizeof *w->client);
    w->actor = calloc(w->nactors, sizeof *w->actor);
    w->worker = calloc(w->nactors, sizeof *w->worker);
    w->load = calloc(n, sizeof *w->load);
    w->first = calloc(n, sizeof *w->first);
    w->pos = calloc(n * n, sizeof *w->pos);
    if (!w->ep_node || !w->client || !w->actor || !w->worker || !w->load || !w->first ||
        !w->pos)
        return -ENOMEM;
    for (size_t k = 0; k < w->nactors; k++)
        w->worker[k] = (struct lbw_worker){w, (uint32_t)k};
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "ep-%zu", i);
        int id = sim_node_add(w->sim, name, cores);
        if (id < 0)
            return id;
        w->ep_node[i] = id;
        if (sim_node_main(w->sim, id, "endpoint", endpoint_main, w) < 0)
            return -ENOMEM;
    }
    for (int c = 0; c < w->clients; c++) {
        struct lbw_client *cl = &w->client[c];
        cl->w = w;
        cl->index = c;
        cl->lb = lb_create(w->policy, n, w->weights);
        if (!cl->lb)
            return -ENOMEM;
    }
    for (size_t k = 0; k < w->nactors; k++) {
        struct lbw_actor *a = &w->actor[k];
        a->w = w;
        a->client = &w->client[k / (size_t)w->concurrency];
        a->k = (uint32_t)k;
        a->quota = w->requests / w->nactors + (k < w->requests % w->nactors);
        a->order = calloc(n, sizeof *a->order);
        if (!a->order)
            return -ENOMEM;
    }
    for (int c = 0; c < w->clients; c++) {
        snprintf(name, sizeof name, "client-%d", c);
        int id = sim_node_add(w->sim, name, cores);
        if (id < 0)
            return id;
        if (sim_node_main(w->sim, id, "client", client_main, &w->client[c]) < 0)
            return -ENOMEM;
    }
    return 0;
}

static void put_array(struct lab_run *run, const char *name, const uint64_t *v, size_t n,
                      double *tmp)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (double)v[i];
    lab_metric_array(run, name, tmp, n);
}

static double max_of(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        if (v[i] > m)
            m = v[i];
    return m;
}

/* Largest |measured - expected| in binomial standard deviations over the cells with
 * 0 < p < 1: measured[i] = count[i] / total, expected[i] = p[i]. */
static double z_max(const double *count, const double *p, size_t cells, double total)
{
    double z = 0;
    for (size_t i = 0; i < cells; i++) {
        if (!(p[i] > 0 && p[i] < 1))
            continue;
        double sd = sqrt(p[i] * (1 - p[i]) / total);
        double d = fabs(count[i] / total - p[i]) / sd;
        if (d > z)
            z = d;
    }
    return z;
}

static int record(struct lab_run *run, void *arg)
{
    struct lbw *w = arg;
    size_t n = w->n;
    double *tmp = calloc(n * n, sizeof *tmp), *P = calloc(n * n, sizeof *P);
    double *share = calloc(n, sizeof *share), *col = calloc(n, sizeof *col);
    double *uni = calloc(n, sizeof *uni), *cnt = calloc(n * n, sizeof *cnt);
    int rc = -ENOMEM;
    if (!tmp || !P || !share || !col || !uni || !cnt)
        goto out;

    lab_metric(run, "requests", (double)w->done);
    lab_metric(run, "failed_requests", (double)w->failed);
    lab_metric(run, "failed_fraction", w->done ? (double)w->failed / (double)w->done : 0);
    lab_metric(run, "attempts_total", (double)w->attempts_total);
    lab_metric(run, "timeouts", (double)w->timeouts);
    put_array(run, "load", w->load, n, tmp);
    put_array(run, "first_load", w->first, n, tmp);
    for (size_t i = 0; i < n; i++)
        tmp[i] = w->attempts_total ? (double)w->load[i] / (double)w->attempts_total : 0;
    lab_metric_array(run, "load_share", tmp, n);
    lab_metric(run, "max_min_ratio", lb_max_min_ratio(tmp, n));
    lab_metric(run, "max_over_mean", max_of(tmp, n) * (double)n);

    /* The exact theory of this picker at this n, attempt limit and failure rate. */
    if ((rc = lb_theory_position(w->policy, n, w->weights, P)) < 0) {
        lab_fail(run, "cannot compute the exact theory for %s at n = %zu: %s",
                 lb_policy_name(w->policy), n, strerror(-rc));
        goto out;
    }
    lb_theory_share(P, n, w->attempts, w->fail, share);
    lab_metric_array(run, "theory_share", share, n);
    lab_metric(run, "theory_max_min_ratio", lb_max_min_ratio(share, n));
    lab_metric(run, "theory_max_over_mean", max_of(share, n) * (double)n);
    size_t tries = (size_t)w->attempts < n ? (size_t)w->attempts : n;
    lab_metric(run, "theory_failed_fraction", pow(w->fail, (double)tries));
    lab_metric_matrix(run, "theory_position_matrix", P, n, n);
    for (size_t k = 0; k < n * n; k++) {
        cnt[k] = (double)w->pos[k];
        tmp[k] = w->done ? cnt[k] / (double)w->done : 0;
    }
    lab_metric_matrix(run, "position_matrix", tmp, n, n);
    if (w->done == 0) {
        lab_fail(run, "no request completed before the scenario's duration");
        rc = -EINVAL;
        goto out;
    }
    /* How far the measurements are from the theory, in binomial standard deviations:
     * every endpoint appears at most once per order, so its attempt count over R
     * independent requests is binomial (exactly so for the random pickers without
     * crashes; rr, swrr and p2c are more even than that). */
    for (size_t i = 0; i < n; i++)
        col[i] = (double)w->load[i];
    lab_metric(run, "load_share_z_max", z_max(col, share, n, (double)w->attempts_total));
    lab_metric(run, "position_z_max", z_max(cnt, P, n * n, (double)w->done));

    /* Chi-squared on first attempts: one categorical draw per request, which is what
     * the theory's position 0 models whatever the failures; later attempts depend on
     * earlier ones within a request. */
    double chi2, p;
    for (size_t i = 0; i < n; i++) {
        col[i] = (double)w->first[i];
        share[i] = P[i * n];
        uni[i] = 1.0 / (double)n;
    }
    if (n >= 2 && lab_chi2_gof(col, share, n, &chi2, &p) == 0) {
        lab_metric(run, "chi2", chi2);
        lab_metric(run, "chi2_p", p);
    }
    if (n >= 2 && lab_chi2_gof(col, uni, n, &chi2, &p) == 0) {
        lab_metric(run, "chi2_uniform", chi2);
        lab_metric(run, "chi2_uniform_p", p);
    }
    struct sim_stats st;
    sim_stats(w->sim, &st);
    lab_metric(run, "sim_events", (double)st.events);
    lab_metric(run, "virtual_s", (double)w->end_ns / 1e9);
    rc = 0;
out:
    free(tmp);
    free(P);
    free(share);
    free(col);
    free(uni);
    free(cnt);
    return rc;
}

static void lbw_free(struct lbw *w)
{
    for (int c = 0; w->client && c < w->clients; c++)
        lb_destroy(w->client[c].lb);
    for (size_t k = 0; w->actor && k < w->nactors; k++)
        free(w->actor[k].order);
    free(w->client);
    free(w->actor);
    free(w->worker);
    free(w->ep_node);
    free(w->load);
    free(w->first);
    free(w->pos);
    free(w->weights);
}

static int lbw_run(struct lab_run *run)
{
    struct lbw w = {.run = run};
    int rc = read_params(&w, run);
    if (rc < 0)
        goto out;
    w.latency = lab_hist(run, "latency", "ns");
    w.latency_ts = lab_series(run, "latency_ms_ts", 100 * SIM_MS, "ms");
    rc = lab_sim_run(run, &w, build_world, record);
out:
    lbw_free(&w);
    return rc;
}

extern const struct lab_workload lab_wl_lb;
const struct lab_workload lab_wl_lb = {
    .name = "lb/shuffle",
    .about = "clients pick endpoints (rr, random, shuffles, p2c, swrr) and retry the next "
             "on failure; load per endpoint against the exact theory",
    .params = lbw_params,
    .worlds = LAB_WORLD_SIM,
    .run = lbw_run,
};

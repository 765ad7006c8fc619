/* simworld.c - a run's simulated world (lab.h): built from `world:`, clocks, links and
 * faults resolved by node name once the workload has added its nodes, then run to the
 * scenario's duration in slices so that progress can be shown, and ended before the
 * workload frees anything its actors use. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/run.h"
#include "sim/sim.h"

/* A fresh world for the run from `world:` and its seed, in run->sim. */
static struct sim *sim_begin(struct lab_run *run)
{
    if (run->world != LAB_WORLD_SIM) {
        lab_fail(run, "workload '%s' asked for a simulated world in a live run",
                 run->spec->cfg->wl->name);
        return NULL;
    }
    if (run->sim) {
        lab_fail(run, "lab_sim_run called twice in one run");
        return NULL;
    }
    const struct lab_world_cfg *w = &run->spec->cfg->world;
    struct sim_config cfg = {
        .seed = run->spec->seed,
        .stack_size = w->stack,
        .slice_ns = w->slice_ns,
        .network = w->network,
        .max_events = w->max_events,
    };
    run->sim = sim_create(&cfg);
    if (!run->sim)
        lab_fail(run, "cannot create the simulated world: out of memory");
    return run->sim;
}

void lab__sim_end(struct lab_run *run)
{
    if (run->sim) {
        sim_destroy(run->sim);
        run->sim = NULL;
    }
}

/* "a, b, c" (the first 20) for messages. */
static const char *node_list(struct sim *sim, char *buf, size_t cap)
{
    int n = sim_node_count(sim);
    size_t off = 0;
    buf[0] = 0;
    for (int i = 0; i < n && off + 8 < cap; i++) {
        if (i == 20) {
            snprintf(buf + off, cap - off, ", ... (%d in all)", n);
            break;
        }
        int k = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", sim_node_name(sim, i));
        if (k < 0)
            break;
        off += (size_t)k < cap - off ? (size_t)k : cap - off - 1;
    }
    return n ? buf : "none";
}

static int find_node(struct lab_run *run, const char *name, const struct lab_node *at,
                     const char *what)
{
    int id = sim_node_find(run->sim, name);
    if (id >= 0)
        return id;
    char buf[1024];
    return lab__fail_at(run, at, "unknown node '%s' in %s (nodes: %s)", name, what,
                        node_list(run->sim, buf, sizeof(buf)));
}

/* Resolve names or fnmatch patterns to ids, without duplicates. */
static int resolve_side(struct lab_run *run, const char *const *names, const struct lab_node *at,
                        int **ids, int *n)
{
    int count = sim_node_count(run->sim);
    *ids = lab_xmalloc((size_t)(count + 1) * sizeof(int));
    *n = 0;
    char *seen = calloc((size_t)count + 1, 1);
    if (!seen)
        abort();
    for (; *names; names++) {
        int matched = 0;
        for (int i = 0; i < count; i++) {
            if (fnmatch(*names, sim_node_name(run->sim, i), 0))
                continue;
            matched++;
            if (!seen[i]) {
                seen[i] = 1;
                (*ids)[(*n)++] = i;
            }
        }
        if (!matched) {
            free(seen);
            char buf[1024];
            return lab__fail_at(run, at, "no node matches '%s' in this partition (nodes: %s)",
                                *names, node_list(run->sim, buf, sizeof(buf)));
        }
    }
    free(seen);
    return 0;
}

static int set_up(struct lab_run *run)
{
    const struct lab_config *c = run->spec->cfg;
    struct sim *sim = run->sim;
    int rc;
    for (size_t i = 0; i < c->world.nclocks; i++) {
        const struct lab_clock_cfg *k = &c->world.clocks[i];
        int matched = 0;
        for (int n = 0; n < sim_node_count(sim); n++) {
            if (fnmatch(k->pattern, sim_node_name(sim, n), 0))
                continue;
            matched++;
            if ((rc = sim_clock_set(sim, n, k->offset, k->ppm)) < 0)
                return lab__fail_at(run, k->node, "cannot set this clock: %s", strerror(-rc));
        }
        if (!matched) {
            char buf[1024];
            return lab__fail_at(run, k->node, "no node matches '%s' (nodes: %s)", k->pattern,
                                node_list(sim, buf, sizeof(buf)));
        }
    }
    for (size_t i = 0; i < c->world.nlinks; i++) {
        const struct lab_link_cfg *l = &c->world.links[i];
        int from = find_node(run, l->from, l->node, "this link");
        int to = from < 0 ? from : find_node(run, l->to, l->node, "this link");
        if (from < 0 || to < 0)
            return -EINVAL;
        if ((rc = sim_link_set(sim, from, to, &l->link)) < 0 ||
            (l->both && (rc = sim_link_set(sim, to, from, &l->link)) < 0))
            return lab__fail_at(run, l->node, "cannot set this link: %s", strerror(-rc));
    }
    for (size_t i = 0; i < c->nfaults; i++) {
        const struct lab_fault *f = &c->faults[i];
        const struct lab_node *at = c->fault_nodes[i];
        if (f->kind == LAB_FAULT_PARTITION) {
            int *a = NULL, *b = NULL, na, nb;
            rc = resolve_side(run, f->side_a, at, &a, &na);
            if (!rc)
                rc = resolve_side(run, f->side_b, at, &b, &nb);
            if (!rc)
                rc = sim_fault_partition(sim, f->at, f->dur < 0 ? -1 : f->at + f->dur, a, na, b,
                                         nb, f->oneway);
            free(a);
            free(b);
            if (rc == -EINVAL && run->fail)
                return rc;
            if (rc < 0)
                return lab__fail_at(run, at, "cannot schedule this partition: %s",
                                    strerror(-rc));
            continue;
        }
        int node = find_node(run, f->node, at, "this fault");
        if (node < 0)
            return -EINVAL;
        switch (f->kind) {
        case LAB_FAULT_CRASH:
            rc = sim_fault_crash(sim, f->at, node);
            if (rc >= 0 && f->dur > 0)
                rc = sim_fault_restart(sim, f->at + f->dur, node);
            break;
        case LAB_FAULT_RESTART:
            rc = sim_fault_restart(sim, f->at, node);
            break;
        case LAB_FAULT_PAUSE:
            rc = sim_fault_pause(sim, f->at, node, f->dur);
            break;
        case LAB_FAULT_CLOCK_STEP:
            rc = sim_fault_clock_step(sim, f->at, node, f->step);
            break;
        case LAB_FAULT_DRIFT:
            rc = sim_fault_drift(sim, f->at, node, f->ppm);
            break;
        default:
            rc = -EINVAL;
            break;
        }
        if (rc < 0)
            return lab__fail_at(run, at, "cannot schedule this fault: %s", strerror(-rc));
    }
    return 0;
}

/* Run the world to the scenario's end in 100 slices, showing progress. Returns 0, or
 * -EINVAL after lab_fail (a hang, an error, the event budget spent). */
static int sim_go(struct lab_run *run)
{
    int64_t end = run->spec->cfg->duration;
    int64_t start = sim_now(run->sim);
    int64_t step = (end - start) / 100;
    if (step < 1)
        step = 1;
    for (int64_t t = start; t < end;) {
        int64_t next = end - t > step ? t + step : end;
        enum sim_stop stop = sim_run(run->sim, next);
        if (stop == SIM_STOP_HANG || stop == SIM_STOP_ERROR) {
            const char *why = sim_error(run->sim);
            struct sim_stats st;
            sim_stats(run->sim, &st);
            lab_fail(run, "the simulation %s at %.9gs: %s%s",
                     stop == SIM_STOP_HANG ? "hung" : "stopped",
                     (double)sim_now(run->sim) / 1e9, why ? why : "(no reason given)",
                     st.events >= run->spec->cfg->world.max_events
                         ? " (world.max_events: a shorter duration or fewer requests make "
                           "fewer events; the limit guards against a run that never ends)"
                         : "");
            return -EINVAL;
        }
        lab_progress(run, (double)(next - start) / (double)(end - start));
        if (stop == SIM_STOP_IDLE)
            break;
        t = next;
    }
    return 0;
}

int lab_sim_run(struct lab_run *run, void *w,
                int (*build)(struct lab_run *run, struct sim *sim, void *w),
                int (*record)(struct lab_run *run, void *w))
{
    struct sim *sim = sim_begin(run);
    if (!sim)
        return -EINVAL;
    int rc = build(run, sim, w);
    if (rc < 0)
        lab_fail(run, "cannot build the world: %s", strerror(-rc)); /* unless build said */
    else if ((rc = set_up(run)) < 0)
        ; /* a node name in faults, links or clocks that the world does not have */
    else if (run->checking)
        rc = LAB_CHECKED; /* the check pass: built and resolved, not run */
    else if ((rc = sim_go(run)) == 0)
        rc = record(run, w);
    /* Every actor is gone before the workload frees what they used. */
    lab__sim_end(run);
    return rc;
}

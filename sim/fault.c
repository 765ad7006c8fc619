/* fault.c - the faults a simulation schedules (sim.h's sim_fault_*): crash, restart,
 * pause (a GC-like stop of every actor on a node), clock step and drift, partition and
 * its healing. Each is an event in the loop's queue (engine.c), run at its virtual time
 * like any other, so a run with faults replays from its seed. */
#include "sim/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sim__fault {
    struct sim__event ev;
    struct sim__fault *next;
    int kind;
    int node;
    int64_t arg; /* pause length, clock step */
    double ppm;
    struct sim__partition *part;
};

enum { F_CRASH, F_RESTART, F_PAUSE, F_PAUSE_END, F_STEP, F_DRIFT, F_CUT, F_HEAL };

static int fault_add(struct sim *sim, int64_t at, int kind, int node, int64_t arg,
                     double ppm, struct sim__partition *part)
{
    if (at < sim->now || (kind != F_CUT && kind != F_HEAL && !sim__node_get(sim, node)))
        return -EINVAL;
    struct sim__fault *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->ev.kind = SIM__EV_FAULT;
    f->kind = kind;
    f->node = node;
    f->arg = arg;
    f->ppm = ppm;
    f->part = part;
    if (sim__event_push(sim, &f->ev, at) < 0) {
        free(f);
        return -ENOMEM;
    }
    f->next = sim->faults;
    sim->faults = f;
    return 0;
}

int sim_fault_crash(struct sim *sim, int64_t at, int node)
{
    return fault_add(sim, at, F_CRASH, node, 0, 0, NULL);
}

int sim_fault_restart(struct sim *sim, int64_t at, int node)
{
    return fault_add(sim, at, F_RESTART, node, 0, 0, NULL);
}

int sim_fault_pause(struct sim *sim, int64_t at, int node, int64_t dur)
{
    if (dur <= 0)
        return -EINVAL;
    return fault_add(sim, at, F_PAUSE, node, dur, 0, NULL);
}

int sim_fault_clock_step(struct sim *sim, int64_t at, int node, int64_t step)
{
    return fault_add(sim, at, F_STEP, node, step, 0, NULL);
}

int sim_fault_drift(struct sim *sim, int64_t at, int node, double drift_ppm)
{
    if (!(drift_ppm > -1e5 && drift_ppm < 1e5))
        return -EINVAL;
    return fault_add(sim, at, F_DRIFT, node, 0, drift_ppm, NULL);
}

int sim_fault_partition(struct sim *sim, int64_t at, int64_t heal_at, const int *a, int na,
                        const int *b, int nb, bool oneway)
{
    if (!a || !b || na < 1 || nb < 1 || (heal_at >= 0 && heal_at < at))
        return -EINVAL;
    for (int i = 0; i < na; i++)
        if (!sim__node_get(sim, a[i]))
            return -EINVAL;
    for (int i = 0; i < nb; i++)
        if (!sim__node_get(sim, b[i]))
            return -EINVAL;
    struct sim__partition *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->a = malloc(sizeof(int) * (size_t)na);
    p->b = malloc(sizeof(int) * (size_t)nb);
    if (!p->a || !p->b) {
        free(p->a);
        free(p->b);
        free(p);
        return -ENOMEM;
    }
    memcpy(p->a, a, sizeof(int) * (size_t)na);
    memcpy(p->b, b, sizeof(int) * (size_t)nb);
    p->na = na;
    p->nb = nb;
    p->oneway = oneway;
    p->next = sim->partitions;
    sim->partitions = p;
    int rc = fault_add(sim, at, F_CUT, -1, 0, 0, p);
    if (rc == 0 && heal_at >= 0)
        rc = fault_add(sim, heal_at, F_HEAL, -1, 0, 0, p);
    return rc;
}

static void node_crash(struct sim *sim, struct sim__node *n)
{
    if (!n->up)
        return;
    n->up = false;
    n->paused = false;
    while (n->actors)
        sim__actor_destroy(sim, n->actors);
    n->busy = 0;
}

static void node_pause(struct sim *sim, struct sim__node *n, int64_t dur)
{
    int64_t end = sim->now + dur;
    if (!n->up)
        return;
    if (n->paused) {
        if (end > n->pause_end)
            fault_add(sim, end, F_PAUSE_END, (int)(n - sim->nodes), 0, 0, NULL);
        n->pause_end = end > n->pause_end ? end : n->pause_end;
        return;
    }
    n->paused = true;
    n->pause_end = end;
    /* Freeze CPU work in progress: it resumes with what is left when the pause ends. */
    for (struct sim_actor *a = n->actors; a; a = a->node_next) {
        if (!a->has_core)
            continue;
        if (evq_queued(&a->timer.q) && a->timer.kind == SIM__EV_WORK) {
            int64_t done = sim->now - a->chunk_start;
            a->work_left -= done;
            a->slice_used += done;
            sim__timer_cancel(sim, a);
        }
        sim__aq_remove(a); /* from the ready list, if it was about to execute */
        a->resume_after_pause = true;
    }
    fault_add(sim, end, F_PAUSE_END, (int)(n - sim->nodes), 0, 0, NULL);
}

static void node_unpause(struct sim *sim, struct sim__node *n)
{
    if (!n->paused || sim->now < n->pause_end)
        return;
    n->paused = false;
    for (struct sim_actor *a = n->actors; a; a = a->node_next) {
        if (a->resume_after_pause) {
            a->resume_after_pause = false;
            sim__dispatch(sim, a);
        }
    }
    while (n->held.head) {
        struct sim_actor *a = sim__aq_pop(&n->held);
        a->state = SIM__BLOCKED;
        sim__make_runnable(sim, a);
    }
    sim__fill_cores(sim, n);
}

void sim__fault_run(struct sim *sim, struct sim__event *ev)
{
    struct sim__fault *f = sim__container_of(ev, struct sim__fault, ev);
    sim__event_hash(sim, sim->now, f->node, ev->kind + 16 * f->kind);
    struct sim__node *n = sim__node_get(sim, f->node);
    switch (f->kind) {
    case F_CRASH:
        node_crash(sim, n);
        break;
    case F_RESTART:
        if (!n->up) {
            n->up = true;
            if (n->main_fn) {
                int64_t id = sim_spawn(sim, f->node, n->main_name, n->main_fn, n->main_arg);
                if (id < 0)
                    sim__fail(sim, SIM_STOP_ERROR, "cannot restart node '%s'", n->name);
            }
        }
        break;
    case F_PAUSE:
        node_pause(sim, n, f->arg);
        break;
    case F_PAUSE_END:
        node_unpause(sim, n);
        break;
    case F_STEP:
        sim__clock_rebase(&n->clock, sim->now);
        n->clock.base_wall += f->arg;
        break;
    case F_DRIFT:
        sim__clock_rebase(&n->clock, sim->now);
        n->clock.ppm = f->ppm;
        break;
    case F_CUT:
        sim__partition_set(sim, f->part, true);
        break;
    case F_HEAL:
        sim__partition_set(sim, f->part, false);
        break;
    }
}

void sim__faults_free(struct sim *sim)
{
    for (struct sim__fault *f = sim->faults, *next; f; f = next) {
        next = f->next;
        free(f);
    }
}

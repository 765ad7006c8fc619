/* firings.c - the delay family's book of firings (see firings_wl.h). */
#include "lab/delay/firings_wl.h"

#include <errno.h>
#include <stdlib.h>

#define MS 1000000LL

int firings_init(struct firings *f, struct lab_run *run, uint32_t ntasks, bool ms)
{
    *f = (struct firings){.ntasks = ntasks, .period = lab_duration(run, "period")};
    if (ms && f->period % MS) {
        lab_fail(run, "workload.period must be whole milliseconds (the store keeps ms)");
        return -EINVAL;
    }
    f->k = (size_t)(lab_duration_total(run) / f->period) + 2;
    f->task = calloc(ntasks ? ntasks : 1, sizeof(*f->task));
    f->effects = calloc((size_t)ntasks * f->k + 1, sizeof(*f->effects));
    f->execs = calloc((size_t)ntasks * f->k + 1, sizeof(*f->execs));
    f->first_effect = calloc((size_t)ntasks * f->k + 1, sizeof(*f->first_effect));
    if (!f->task || !f->effects || !f->execs || !f->first_effect) {
        lab_fail(run, "no memory for %u tasks x %zu firings", ntasks, f->k);
        return -ENOMEM;
    }
    return 0;
}

void firings_start(struct firings *f, struct lab_run *run, int64_t wall0, bool ms)
{
    f->wall0 = wall0;
    int64_t first = lab_duration(run, "first");
    for (uint32_t t = 0; t < f->ntasks; t++) {
        int64_t at = wall0 + first + (int64_t)t * f->period / f->ntasks;
        if (ms)
            at = (at + MS - 1) / MS * MS;
        f->task[t] = (struct dc_task){at, f->period};
    }
}

void firings_note(struct firings *f, uint32_t t, int64_t due, bool effect, int64_t now)
{
    if (t >= f->ntasks)
        return;
    int64_t i = (due - f->task[t].first) / f->period;
    if (i < 0 || (size_t)i >= f->k)
        return;
    size_t at = (size_t)t * f->k + (size_t)i;
    f->execs[at]++;
    if (effect && !f->effects[at]++)
        f->first_effect[at] = now;
}

void firings_record(struct firings *f, struct lab_run *run)
{
    int64_t bin = lab_duration(run, "bin");
    int64_t horizon = lab_duration_total(run) - lab_duration(run, "settle");
    int64_t late_after = lab_duration(run, "late_after");
    struct hist *lateness = lab_hist(run, "lateness", "ns");
    struct series *on_ts = lab_series(run, "on_time_ts", bin, "firings");
    struct series *late_ts = lab_series(run, "late_ts", bin, "firings");
    struct series *miss_ts = lab_series(run, "missed_ts", bin, "firings");
    struct series *dup_ts = lab_series(run, "doubled_ts", bin, "firings");
    uint64_t firings = 0, on_time = 0, late = 0, missed = 0, doubled = 0, dup_execs = 0;
    for (uint32_t t = 0; t < f->ntasks; t++)
        for (size_t i = 0; i < f->k; i++) {
            int64_t due = f->task[t].first - f->wall0 + (int64_t)i * f->period;
            if (due > horizon)
                break;
            size_t at = (size_t)t * f->k + i;
            firings++;
            /* every series gets every bin, zero or not, so an empty one still draws */
            series_add(on_ts, due, 0);
            series_add(late_ts, due, 0);
            series_add(miss_ts, due, 0);
            series_add(dup_ts, due, f->effects[at] > 1 ? f->effects[at] - 1.0 : 0);
            doubled += f->effects[at] > 1 ? f->effects[at] - 1u : 0;
            dup_execs += f->execs[at] > 1 ? f->execs[at] - 1u : 0;
            if (!f->effects[at]) {
                missed++;
                series_add(miss_ts, due, 1);
                continue;
            }
            int64_t l = f->first_effect[at] - due;
            hist_add(lateness, l);
            on_time += l <= late_after;
            late += l > late_after;
            series_add(l <= late_after ? on_ts : late_ts, due, 1);
        }
    lab_metric(run, "firings", (double)firings);
    lab_metric(run, "on_time", (double)on_time);
    lab_metric(run, "late", (double)late);
    lab_metric(run, "missed", (double)missed);
    lab_metric(run, "doubled_effects", (double)doubled);
    lab_metric(run, "doubled_executions", (double)dup_execs);
    lab_metric(run, "worst_lateness", hist_count(lateness) ? (double)hist_max(lateness) : 0);
}

int64_t firings_worst_in(const struct firings *f, int64_t from, int64_t to)
{
    int64_t worst = 0;
    for (uint32_t t = 0; t < f->ntasks; t++)
        for (size_t i = 0; i < f->k; i++) {
            int64_t due = f->task[t].first - f->wall0 + (int64_t)i * f->period;
            size_t at = (size_t)t * f->k + i;
            if (due >= from && due <= to && f->effects[at] && f->first_effect[at] - due > worst)
                worst = f->first_effect[at] - due;
        }
    return worst;
}

void firings_free(struct firings *f)
{
    free(f->task);
    free(f->effects);
    free(f->execs);
    free(f->first_effect);
}

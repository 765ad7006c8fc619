/* plot_kinds.c - the plots of one metric kind each (plot_impl.h): bars (an array per
 * sweep point, mean +- sd over repeats), cdf (a histogram per sweep point), timeseries (a
 * series per run, the faults shaded) and heatmap (a matrix per run). */
#include "lab/plot_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/hist.h"
#include "lab/series.h"

int lab__plot_bars(struct ctx *c)
{
    size_t *first, ng = lab__plot_groups(c, &first), len = 0;
    for (size_t i = 0; i < c->nmatch; i++) {
        const struct lab_metric *m = lab_run_metric(&c->runs[c->match[i]], c->p->metric);
        if (m && m->kind == LAB_M_ARRAY && m->n > len)
            len = m->n;
    }
    if (!len) {
        lab__plot_warn(c, "no run recorded it as an array");
        return 0;
    }
    struct buf b;
    FILE *f = lab__buf_open(&b);
    double *vals = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    double *th = lab_arena_alloc(c->a, (c->nmatch + 1) * sizeof(double));
    double w = 0.8 / (double)ng;
    bool theory = false; /* some run recorded it: then its marks */
    for (size_t g = 0; g < ng; g++) {
        const struct lab_runspec *r0 = c->runs[first[g]].spec;
        lab__dat_string(f, "x");
        fputc(' ', f);
        lab__dat_string(f, lab__group_label(c->sc, c->p, r0));
        fputs(" \"sd\" \"theory\" \"index\"\n", f);
        for (size_t i = 0; i < len; i++) {
            size_t nv = 0, nt = 0;
            for (size_t k = 0; k < c->nmatch; k++) {
                const struct lab_run *run = &c->runs[c->match[k]];
                if (run->spec->point != r0->point)
                    continue;
                const struct lab_metric *m = lab_run_metric(run, c->p->metric);
                if (m && m->kind == LAB_M_ARRAY && i < m->n)
                    vals[nv++] = m->v[i];
                const struct lab_metric *t = c->p->theory ? lab_run_metric(run, c->p->theory)
                                                          : NULL;
                if (t && t->kind == LAB_M_ARRAY && i < t->n)
                    th[nt++] = t->v[i];
            }
            fprintf(f, "%.6g", (double)i - 0.4 + w * ((double)g + 0.5));
            lab__dat_number(f, lab__mean_of(vals, nv));
            lab__dat_number(f, lab__sd_of(vals, nv));
            lab__dat_number(f, lab__mean_of(th, nt));
            fprintf(f, " %zu\n", i);
            theory = theory || nt;
        }
        fputs("\n\n", f);
    }
    struct gp g = {.n = (int)ng, .bw = w * 0.9, .xlabel = "index",
                   .ylabel = lab__words(c->a, c->p->metric), .theory = theory};
    return lab__plot_finish(c, &g, &b, c->p->name);
}

/* A log axis has no 0: values <= 0 are drawn at its left edge, *left, half the smallest
 * positive value. True when some are and the axis is log. */
static bool cdf_left_edge(const struct ctx *c, struct hist **h, size_t ng, double scale,
                          double *left)
{
    double minpos = INFINITY;
    bool nonpos = false;
    for (size_t g = 0; g < ng; g++) {
        size_t cur = 0;
        int64_t lo, hi;
        uint64_t cnt;
        while (hist_next_bucket(h[g], &cur, &lo, &hi, &cnt)) {
            double x = (double)(hi < hist_max(h[g]) ? hi : hist_max(h[g])) * scale;
            if (x > 0 && x < minpos)
                minpos = x;
            nonpos |= x <= 0;
        }
        if (hist_count(h[g]) && hist_min(h[g]) > 0 && (double)hist_min(h[g]) * scale < minpos)
            minpos = (double)hist_min(h[g]) * scale;
    }
    *left = isfinite(minpos) ? minpos / 2 : 1;
    return c->p->logx && nonpos;
}

int lab__plot_cdf(struct ctx *c)
{
    size_t *first, ng = lab__plot_groups(c, &first);
    struct hist **h = lab_arena_alloc(c->a, (ng + 1) * sizeof(*h));
    const char *unit = "";
    double max = 0;
    size_t used = 0;
    for (size_t g = 0; g < ng; g++) {
        h[g] = hist_create();
        if (!h[g])
            abort();
        for (size_t k = 0; k < c->nmatch; k++) {
            const struct lab_run *run = &c->runs[c->match[k]];
            const struct lab_metric *m = lab_run_metric(run, c->p->metric);
            if (run->spec->point != c->runs[first[g]].spec->point || !m || m->kind != LAB_M_HIST)
                continue;
            hist_merge(h[g], m->hist);
            unit = m->unit;
        }
        if (hist_count(h[g]))
            used++;
        if ((double)hist_max(h[g]) > max)
            max = (double)hist_max(h[g]);
    }
    int rc = 0;
    if (!used) {
        lab__plot_warn(c, "no run recorded it as a histogram");
        goto out;
    }
    const char *ulabel;
    double scale = lab__time_scale(unit, max, &ulabel);
    double left;
    bool edge = cdf_left_edge(c, h, ng, scale, &left);
    struct buf b;
    FILE *f = lab__buf_open(&b);
    for (size_t g = 0; g < ng; g++) {
        lab__dat_string(f, "x");
        fputc(' ', f);
        lab__dat_string(f, lab__group_label(c->sc, c->p, c->runs[first[g]].spec));
        fputc('\n', f);
        size_t cur = 0;
        int64_t lo, hi;
        uint64_t cnt, cum = 0, total = hist_count(h[g]);
        double x = 0;
        if (total) {
            x = (double)hist_min(h[g]) * scale;
            fprintf(f, "%.10g 0\n", edge && x <= 0 ? left : x);
        }
        while (hist_next_bucket(h[g], &cur, &lo, &hi, &cnt)) {
            cum += cnt;
            x = (double)(hi < hist_max(h[g]) ? hi : hist_max(h[g])) * scale;
            fprintf(f, "%.10g %.10g\n", edge && x <= 0 ? left : x,
                    (double)cum / (double)total);
        }
        /* Every line runs to the right end, so one that ends early still shows. */
        if (total && x < max * scale)
            fprintf(f, "%.10g 1\n", max * scale);
        if (!total)
            fputs("NaN NaN\n", f);
        fputs("\n\n", f);
    }
    const char *name = c->p->xlabel ? c->p->xlabel : lab__words(c->a, c->p->metric);
    struct gp gp = {.n = (int)ng, .keep_xlabel = true,
                    .xlabel = *ulabel ? lab_arena_printf(c->a, "%s (%s)", name, ulabel) : name,
                    .ylabel = "fraction of the values <= x"};
    if (edge)
        gp.xlabel = lab_arena_printf(c->a, "%s; 0 is drawn at the left edge", gp.xlabel);
    rc = lab__plot_finish(c, &gp, &b, c->p->name);
out:
    for (size_t g = 0; g < ng; g++)
        hist_destroy(h[g]);
    return rc;
}

void lab__fault_shading(struct ctx *c, FILE *f, const struct lab_config *cfg)
{
    double end = (double)cfg->duration / 1e9;
    for (size_t i = 0; i < cfg->nfaults; i++) {
        const struct lab_fault *x = &cfg->faults[i];
        double t0 = (double)x->at / 1e9, t1 = -1;
        const char *what = "", *color = "#cc4444";
        const char *who = x->node ? x->node : "";
        switch (x->kind) {
        case LAB_FAULT_PAUSE:
            t1 = t0 + (double)x->dur / 1e9;
            what = "pause";
            color = "#4477cc";
            break;
        case LAB_FAULT_PARTITION:
            t1 = x->dur < 0 ? end : t0 + (double)x->dur / 1e9;
            what = "partition";
            color = "#cc9922";
            break;
        case LAB_FAULT_CRASH:
            what = "crash";
            t1 = end;
            if (x->dur > 0) {
                t1 = t0 + (double)x->dur / 1e9;
            } else {
                for (size_t j = i + 1; j < cfg->nfaults; j++) {
                    const struct lab_fault *y = &cfg->faults[j];
                    if (y->kind == LAB_FAULT_RESTART && !strcmp(y->node, x->node)) {
                        t1 = (double)y->at / 1e9;
                        break;
                    }
                }
            }
            break;
        case LAB_FAULT_CLOCK_STEP:
            what = "clock step";
            break;
        case LAB_FAULT_DRIFT:
            what = "drift";
            break;
        default:
            continue; /* a restart ends a crash's shading */
        }
        if (t1 >= 0)
            fprintf(f, "set object rect from %.9g, graph 0 to %.9g, graph 1 behind "
                       "fc rgb '%s' fs transparent solid 0.15 noborder\n", t0, t1, color);
        else
            fprintf(f, "set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dt 2 "
                       "lc rgb '%s'\n", t0, t0, color);
        /* Labels of faults close in time go one under the other. */
        int near = 0;
        for (size_t j = 0; j < i; j++)
            near += fabs((double)cfg->faults[j].at / 1e9 - t0) < 0.08 * end &&
                    cfg->faults[j].kind != LAB_FAULT_RESTART;
        fprintf(f, "set label ");
        lab__gp_string(f, lab_arena_printf(c->a, "%s %s", what, who));
        fprintf(f, " at %.9g, graph %.2f left offset 0.3,0 font ',8' tc rgb '%s'\n", t0,
                0.97 - 0.05 * near, color);
    }
}

int lab__plot_timeseries(struct ctx *c)
{
    struct buf b;
    FILE *f = lab__buf_open(&b);
    const char *stat = c->p->stat ? c->p->stat : "sum", *unit = "";
    int n = 0;
    double ymin = 0;
    for (size_t k = 0; k < c->nmatch; k++) {
        const struct lab_run *run = &c->runs[c->match[k]];
        const struct lab_metric *m = lab_run_metric(run, c->p->metric);
        if (!m || m->kind != LAB_M_SERIES)
            continue;
        const struct series *s = m->series;
        unit = m->unit;
        const char *label = lab__group_label(c->sc, c->p, run->spec);
        if (c->sc->repeat > 1)
            label = lab_arena_printf(c->a, "%s #%d", label, run->spec->repeat);
        lab__dat_string(f, "t");
        fputc(' ', f);
        lab__dat_string(f, label);
        fputc('\n', f);
        for (size_t i = 0; i < series_len(s); i++) {
            uint64_t cnt = series_count(s, i);
            double v = !strcmp(stat, "count") ? (double)cnt
                       : !strcmp(stat, "mean") ? (cnt ? series_sum(s, i) / (double)cnt : NAN)
                                               : series_sum(s, i);
            fprintf(f, "%.9g", ((double)i + 0.5) * (double)series_bin_ns(s) / 1e9);
            lab__dat_number(f, v);
            if (v < ymin)
                ymin = v;
            fputc('\n', f);
        }
        if (!series_len(s))
            fputs("NaN NaN\n", f);
        fputs("\n\n", f);
        n++;
    }
    if (!n) {
        fclose(b.f);
        free(b.s);
        lab__plot_warn(c, "no run recorded it as a series");
        return 0;
    }
    struct gp g = {.n = n, .faults = c->runs[c->match[0]].spec->cfg, .xlabel = "time (s)",
                   .ymin0 = ymin >= 0,
                   .ylabel = lab_arena_printf(c->a, "%s, %s per bin%s%s%s",
                                              lab__words(c->a, c->p->metric), stat,
                                              *unit ? " (" : "", unit, *unit ? ")" : "")};
    return lab__plot_finish(c, &g, &b, c->p->name);
}

int lab__plot_heatmap(struct ctx *c)
{
    int drawn = 0, rc = 0;
    for (size_t k = 0; k < c->nmatch && !rc; k++) {
        const struct lab_run *run = &c->runs[c->match[k]];
        const struct lab_metric *m = lab_run_metric(run, c->p->metric);
        if (!m || m->kind != LAB_M_MATRIX)
            continue;
        const char *stem = c->p->name;
        const char *label = c->p->by ? lab_run_key_text(c->sc, run->spec, c->p->by) : NULL;
        size_t same = 0; /* matching runs with this label: more than one needs a suffix */
        for (size_t j = 0; j < c->nmatch; j++) {
            const char *l = c->p->by ? lab_run_key_text(c->sc, c->runs[c->match[j]].spec,
                                                        c->p->by) : NULL;
            same += !label || (l && !strcmp(l, label));
        }
        if (label)
            stem = lab_arena_printf(c->a, "%s-%s", stem, lab__stem_part(c->a, label));
        if (same > 1)
            stem = lab_arena_printf(c->a, "%s-run%zu", stem, run->spec->index);
        struct buf b;
        FILE *f = lab__buf_open(&b);
        for (size_t r = 0; r < m->rows; r++) {
            for (size_t col = 0; col < m->cols; col++)
                lab__dat_number(f, m->v[r * m->cols + col]);
            fputc('\n', f);
        }
        const char *title = c->p->title ? c->p->title
                                        : lab_arena_printf(c->a, "%s: %s", c->sc->name,
                                                           c->p->metric);
        if (label)
            title = lab_arena_printf(c->a, "%s (%s = %s)", title, c->p->by, label);
        struct gp g = {.n = 1, .title = title, .xlabel = "column", .ylabel = "row",
                       .zlabel = lab__words(c->a, c->p->metric)};
        rc = lab__plot_finish(c, &g, &b, stem);
        drawn++;
    }
    if (!drawn)
        lab__plot_warn(c, "no run recorded it as a matrix");
    return rc;
}


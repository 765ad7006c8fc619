/* snowflake_theory.c - the idgen/snowflake workload's theory (snowflake_wl.h), computed
 * from the scenario's own faults and the clocks as they were:
 *   duplicates_theory, errors_theory, ids_theory, max_stall_theory, max_lead_theory,
 *   max_lead_clock_theory: an exposure model. Each node's life is cut into epochs (a
 *   restart without a mark, or a step back under `none`, begins a new one: memory lost);
 *   in an epoch, unit k of key (dc, worker) receives Poisson(rate x the true time the
 *   node spends issuing into k). Units of one key that several epochs issue into hold
 *   duplicates: sum mu_e - E[max_e Poisson(mu_e)] (each epoch numbers a unit from seq 0,
 *   so the distinct IDs of a unit are the largest count), computed exactly with GSL.
 *   While the clock is behind, requests are refused (errors: rate x that time), wait, or
 *   are issued into the held unit, as the policy says; the longest wait is max_stall.
 *   Drift is ignored here (it changes unit lengths by ppm), as is a held unit
 *   overflowing its 2^seq IDs.
 *   inversions_theory, max_inverted_gap_bound: from each node's clock offset sampled
 *   every ms. Two IDs from nodes a (at true time s) and b (at s + g) are inverted when
 *   unit_a > unit_b, or the units are equal and a's (dc, worker) is larger; averaged over
 *   the phase within a unit, with d = (o_a - o_b - g) / unit, that has probability
 *   clamp(d, 0, 1) + [key_a > key_b] max(0, 1 - |d|); integrating over g and s and
 *   summing over node pairs gives the expected inverted pairs, divided by the expected
 *   pairs. No inverted pair can be further apart than o_a - o_b + unit [key_a > key_b]
 *   (or + unit when two nodes share a key: their sequence numbers decide, and the
 *   model then records no inversions_theory). */
#include "lab/idgen/snowflake_wl.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Theory: the exposure model (see the top of the file) ----------------------------- */

/* One epoch's exposure (true ns) per unit, from unit 'first' on. */
struct epoch {
    uint64_t key;
    int64_t first;
    double *ns;
    size_t n, cap;
};

struct model {
    struct sfw *w;
    struct epoch *ep;
    size_t nep, cap;
    double errors_ns; /* true time during which requests are refused */
    int64_t max_stall;
    int64_t max_lead, max_lead_clock;
    bool any;
    int err;
};

static struct epoch *new_epoch(struct model *m, uint64_t key)
{
    if (m->nep == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 16;
        struct epoch *e = realloc(m->ep, cap * sizeof(*e));
        if (!e) {
            m->err = -ENOMEM;
            return NULL;
        }
        m->ep = e;
        m->cap = cap;
    }
    struct epoch *e = &m->ep[m->nep++];
    *e = (struct epoch){.key = key, .first = INT64_MIN};
    return e;
}

static void expose(struct model *m, struct epoch *e, int64_t unit, double ns)
{
    if (!e || ns <= 0)
        return;
    if (e->first == INT64_MIN)
        e->first = unit;
    if (unit < e->first) /* cannot happen: an epoch's units never go back */
        return;
    size_t i = (size_t)(unit - e->first);
    if (i >= e->cap) {
        size_t cap = e->cap ? e->cap : 1024;
        while (cap <= i)
            cap *= 2;
        double *v = realloc(e->ns, cap * sizeof(*v));
        if (!v) {
            m->err = -ENOMEM;
            return;
        }
        memset(v + e->cap, 0, (cap - e->cap) * sizeof(*v));
        e->ns = v;
        e->cap = cap;
    }
    e->ns[i] += ns;
    if (i + 1 > e->n)
        e->n = i + 1;
}

static void note_lead(struct model *m, int64_t lead_clock, int64_t off)
{
    if (!m->any || lead_clock > m->max_lead_clock)
        m->max_lead_clock = lead_clock;
    if (!m->any || lead_clock + off > m->max_lead)
        m->max_lead = lead_clock + off;
    m->any = true;
}

/* A node's timeline, cut at its faults. */
struct cut {
    int64_t at;
    enum { CUT_STEP, CUT_CRASH, CUT_RESTART } kind;
    int64_t step;
};

static int cmp_cut(const void *a, const void *b)
{
    const struct cut *x = a, *y = b;
    return (x->at > y->at) - (x->at < y->at);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Walk node i from true time 'a' to 'b' at clock offset 'off' (wall = base + t + off),
 * in epoch e whose last unit is *M (INT64_MIN: none yet). *stall_from is the true time
 * a wait began, or -1. */
static void walk(struct model *m, struct epoch **ep_io, int64_t a, int64_t b, int64_t off,
                 int64_t *M, int64_t *stall_from)
{
    struct epoch *e = *ep_io;
    const struct sfw *w = m->w;
    const struct sf_config *g = &w->gen;
    int64_t u = g->layout.unit_ns, ep = g->layout.epoch_ns;
    int64_t loan = g->policy == SF_BORROW || g->on_full == SF_FULL_BORROW ? g->borrow_max_ns : 0;
    int64_t t = a;
    while (t < b && !m->err) {
        int64_t c = w->base + t + off; /* the node's clock */
        int64_t k = floordiv(c - ep, u);
        if (*M == INT64_MIN || k >= *M) { /* in step with the clock */
            if (*stall_from >= 0) {
                if (t - *stall_from > m->max_stall)
                    m->max_stall = t - *stall_from;
                *stall_from = -1;
                note_lead(m, ep + *M * u - c, off); /* the queue goes out at once */
            }
            int64_t end = ep + (k + 1) * u - w->base - off; /* true time unit k ends */
            int64_t stop = end < b ? end : b;
            expose(m, e, k, (double)(stop - t));
            note_lead(m, ep + k * u - c, off); /* at most 0: an ID at the unit's start */
            *M = k;
            t = stop;
            continue;
        }
        /* Behind: the clock reaches the start of unit M at true time tb. Up to the
         * loan (borrow, or on_full = borrow) and under hold, requests go into unit M
         * at once; beyond it the policy acts on the excess. */
        int64_t behind = ep + *M * u - c, tb = t + behind, stop;
        if (g->policy == SF_HOLD || behind <= loan) {
            stop = tb < b ? tb : b;
            expose(m, e, *M, (double)(stop - t));
            note_lead(m, behind, off);
            t = stop;
            continue;
        }
        int64_t ok = tb - loan;     /* when the excess is gone */
        if (g->policy == SF_NONE) { /* forgets: re-issues from the clock's unit */
            *ep_io = e = new_epoch(m, e->key);
            *M = INT64_MIN;
        } else if (g->policy == SF_REFUSE || behind - loan > g->wait_max_ns) {
            /* refused; wait and borrow refuse until the wait would be short enough */
            int64_t until = g->policy == SF_REFUSE ? ok : ok - g->wait_max_ns;
            stop = until < b ? until : b;
            m->errors_ns += (double)(stop - t);
            t = stop;
        } else { /* wait, borrow: queued, then issued into unit M at a lead of the loan */
            stop = ok < b ? ok : b;
            if (*stall_from < 0)
                *stall_from = t;
            expose(m, e, *M, (double)(stop - t));
            if (stop == ok) {
                if (ok - *stall_from > m->max_stall)
                    m->max_stall = ok - *stall_from;
                *stall_from = -1;
                note_lead(m, loan, off);
            }
            t = stop;
        }
    }
}

static void model_node(struct model *m, int i)
{
    struct sfw *w = m->w;
    struct sfw_node *nd = &w->nodes[i];
    const char *name = sim_node_name(w->sim, nd->node);
    size_t nf = lab_fault_count(w->run), nc = 0;
    struct cut *cuts = calloc(2 * nf + 1, sizeof(*cuts));
    if (!cuts) {
        m->err = -ENOMEM;
        return;
    }
    for (size_t k = 0; k < nf; k++) {
        const struct lab_fault *f = lab_fault_get(w->run, k);
        if (!f->node || strcmp(f->node, name) != 0)
            continue;
        if (f->kind == LAB_FAULT_CLOCK_STEP)
            cuts[nc++] = (struct cut){f->at, CUT_STEP, f->step};
        else if (f->kind == LAB_FAULT_CRASH) {
            cuts[nc++] = (struct cut){f->at, CUT_CRASH, 0};
            if (f->dur > 0)
                cuts[nc++] = (struct cut){f->at + f->dur, CUT_RESTART, 0};
        } else if (f->kind == LAB_FAULT_RESTART)
            cuts[nc++] = (struct cut){f->at, CUT_RESTART, 0};
    }
    qsort(cuts, nc, sizeof(*cuts), cmp_cut); /* stable enough: distinct times in practice */
    int64_t off = w->nsamples ? w->offsets[i] : 0, t = 0, M = INT64_MIN, stall_from = -1;
    bool up = true;
    int opens = 1;
    struct epoch *e = new_epoch(m, nd->key);
    for (size_t k = 0; k <= nc && !m->err; k++) {
        int64_t at = k < nc ? cuts[k].at : w->duration;
        if (at > w->duration)
            at = w->duration;
        if (up && at > t)
            walk(m, &e, t, at, off, &M, &stall_from);
        t = at > t ? at : t;
        if (k == nc)
            break;
        if (cuts[k].kind == CUT_STEP) {
            off += cuts[k].step;
        } else if (cuts[k].kind == CUT_CRASH && up) {
            up = false;
            stall_from = -1; /* a wait cut by the crash ends no call */
        } else if (cuts[k].kind == CUT_RESTART && !up) {
            up = true;
            e = new_epoch(m, nd->key);
            M = INT64_MIN;
            /* With a mark, the restarted generator is floored at the mark it found: its
             * first unit is floor + 1, as if unit floor + 1 were the last one issued. */
            if (w->hwm && opens < nd->nopens && opens < MAX_OPENS && nd->open_floor[opens])
                M = (int64_t)nd->open_floor[opens] + 1;
            opens++;
        }
    }
    free(cuts);
}

/* E[max of independent Poisson(mu[0..n))], exactly: sum over j of P(max > j). */
static double expected_max_poisson(const double *mu, size_t n)
{
    double top = 0;
    for (size_t i = 0; i < n; i++)
        top = mu[i] > top ? mu[i] : top;
    double sum = 0;
    unsigned jmax = (unsigned)(top + 12 * sqrt(top) + 40);
    for (unsigned j = 0; j <= jmax; j++) {
        double all = 1;
        for (size_t i = 0; i < n; i++)
            all *= gsl_cdf_poisson_P(j, mu[i]);
        sum += 1 - all;
    }
    return sum;
}

void sfw_record_exposure_theory(struct sfw *w, struct lab_run *run)
{
    struct model m = {.w = w};
    for (int i = 0; i < w->workers && !m.err; i++)
        model_node(&m, i);
    if (m.err) {
        lab_note(run, "exposure theory skipped: out of memory");
        goto out;
    }
    double cap = (double)sf_layout_max_seq(&w->gen.layout) + 1;
    double ids = 0, dup = 0;
    /* Units of one key issued into by several epochs. Epochs of one key are few. */
    double mu[MAX_OPENS * 4];
    for (size_t a = 0; a < m.nep; a++) {
        struct epoch *ea = &m.ep[a];
        for (size_t k = 0; k < ea->n; k++)
            ids += fmin(ea->ns[k] * w->rate_per_ns, cap);
        bool first_of_key = true;
        for (size_t b = 0; b < a; b++)
            first_of_key &= m.ep[b].key != ea->key;
        if (!first_of_key)
            continue;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (size_t b = a; b < m.nep; b++)
            if (m.ep[b].key == ea->key && m.ep[b].n) {
                lo = m.ep[b].first < lo ? m.ep[b].first : lo;
                int64_t h = m.ep[b].first + (int64_t)m.ep[b].n;
                hi = h > hi ? h : hi;
            }
        for (int64_t k = lo; k < hi; k++) {
            size_t n = 0;
            double sum = 0;
            for (size_t b = a; b < m.nep && n < sizeof(mu) / sizeof(mu[0]); b++) {
                struct epoch *eb = &m.ep[b];
                if (eb->key != ea->key || !eb->n || k < eb->first ||
                    k >= eb->first + (int64_t)eb->n)
                    continue;
                double x = eb->ns[k - eb->first] * w->rate_per_ns;
                if (x > 0) {
                    mu[n++] = x;
                    sum += x;
                }
            }
            if (n >= 2)
                dup += sum - expected_max_poisson(mu, n);
        }
    }
    if (w->gen.on_full == SF_FULL_BORROW && w->rate_per_ns * (double)w->gen.layout.unit_ns > cap)
        ids += cap * (double)(w->gen.borrow_max_ns / w->gen.layout.unit_ns) * w->workers;
    lab_metric(run, "duplicates_theory", dup);
    lab_metric(run, "errors_theory", m.errors_ns * w->rate_per_ns);
    lab_metric(run, "ids_theory", ids);
    lab_metric(run, "ids_per_ms_theory", ids / ((double)w->duration / 1e6) / w->workers);
    lab_metric(run, "max_stall_theory", (double)m.max_stall);
    lab_metric(run, "max_lead_theory", (double)m.max_lead);
    lab_metric(run, "max_lead_clock_theory", (double)m.max_lead_clock);
out:
    for (size_t a = 0; a < m.nep; a++)
        free(m.ep[a].ns);
    free(m.ep);
}

/* ---- Theory: ID order under skew -------------------------------------------------------- */

/* Integral over g > 0 of clamp((delta - g) / u, 0, 1). */
static double fc(double delta, double u)
{
    if (delta <= 0)
        return 0;
    return delta < u ? delta * delta / (2 * u) : delta - u / 2;
}

/* Integral over g > 0 of max(0, 1 - |delta - g| / u): u times the triangular CDF. */
static double ft(double delta, double u)
{
    double x = delta / u;
    if (x <= -1)
        return 0;
    if (x <= 0)
        return u * (1 + x) * (1 + x) / 2;
    if (x < 1)
        return u * (1 - (1 - x) * (1 - x) / 2);
    return u;
}

void sfw_record_order_theory(struct sfw *w, struct lab_run *run)
{
    if (w->nsamples < 2)
        return;
    /* Two nodes with one key order the IDs of a shared unit by their sequence numbers,
     * which the model below does not follow: no inversions_theory then, and the bound
     * gives them the whole unit, as it gives a larger key. */
    bool clash = false;
    for (int a = 0; a < w->workers; a++)
        for (int b = a + 1; b < w->workers; b++)
            clash |= w->nodes[a].key == w->nodes[b].key;
    double u = (double)w->gen.layout.unit_ns, lam = w->rate_per_ns, inv = 0;
    double bound = 0;
    int n = w->workers;
    for (size_t s = 0; s + 1 < w->nsamples; s++) {
        double dt = (double)w->sample_ns;
        const int64_t *o = &w->offsets[s * (size_t)n];
        for (int a = 0; a < n; a++)
            for (int b = a + 1; b < n; b++) {
                double d = (double)(o[a] - o[b]);
                bool ab = w->nodes[a].key > w->nodes[b].key;
                bool ba = w->nodes[b].key > w->nodes[a].key;
                /* a earlier and b later, then b earlier and a later. */
                double x = fc(d, u) + (ab ? ft(d, u) : 0) + fc(-d, u) + (ba ? ft(-d, u) : 0);
                inv += lam * lam * dt * x;
                double g1 = d + (ab || clash ? u : 0), g2 = -d + (ba || clash ? u : 0);
                bound = fmax(bound, fmax(g1, g2));
            }
    }
    double total = lam * (double)w->duration * n;
    if (!clash)
        lab_metric(run, "inversions_theory", total > 1 ? inv / (total * total / 2) : 0);
    lab_metric(run, "max_inverted_gap_bound", bound);
}


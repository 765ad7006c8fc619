/* compare.c - `distlab bench --compare A B`: two revisions built in temporary git
 * worktrees, their bench programs run interleaved (A B A B ..., so a change in the
 * machine's load hits both alike), and each figure decided by a Mann-Whitney U test with
 * Holm's adjustment over the figures, plus the median ratio B/A and its confidence
 * interval. A verdict needs both: a significant test and a ratio past the threshold. */
#include "lab/bench/bench.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bench_compare_run(const struct bench_suite *s, const bool *sel, const char *dir_a,
                      const char *dir_b, const struct bench_opts *o,
                      const struct bench_compare_opts *c, struct bench_doc *da,
                      struct bench_doc *db, struct lab_err *err)
{
    size_t n = 0, k = 0;
    int failed = 0;
    for (size_t i = 0; i < s->nitems; i++)
        n += sel[i] && s->items[i].gate == BENCH_TIMED;
    for (size_t i = 0; i < s->nitems; i++) {
        const struct bench_item *it = &s->items[i];
        if (!sel[i] || it->gate != BENCH_TIMED)
            continue;
        struct bench_opts side_o[2] = {*o, *o};
        side_o[0].bench_dir = dir_a;
        side_o[1].bench_dir = dir_b;
        struct bench_doc t[2]; /* this item's rows, kept only when every run succeeded */
        bench_doc_init(&t[0]);
        bench_doc_init(&t[1]);
        int rc = 0;
        for (int p = 0; p < c->pairs && !rc; p++) {
            for (int side = 0; side < 2 && !rc; side++) {
                bench_progress(o, k, n, "%s: pair %d/%d, %c", it->id, p + 1, c->pairs, "AB"[side]);
                rc = bench_run_timed(&t[side], it, &side_o[side], err);
            }
        }
        bench_progress_end(o);
        if (rc) {
            fprintf(stderr, "distlab bench: not compared: %s\n", err->msg);
            failed += rc < 0;
        } else {
            bench_doc_take(da, &t[0]);
            bench_doc_take(db, &t[1]);
        }
        bench_doc_free(&t[0]);
        bench_doc_free(&t[1]);
        k++;
    }
    return failed;
}

static int cmp_label(const void *x, const void *y)
{
    const struct bench_cmp_row *a = x, *b = y;
    return strcmp(a->b->key, b->b->key);
}

void bench_compare_decide(const struct bench_doc *da, const struct bench_doc *db,
                          const struct bench_compare_opts *c, struct bench_comparison *out)
{
    memset(out, 0, sizeof(*out));
    out->rows = lab_xmalloc((db->n + 1) * sizeof(*out->rows));
    for (size_t i = 0; i < db->n; i++) {
        const struct bench_row *b = &db->rows[i], *a = bench_doc_find(da, b->key);
        if (!a || a->n < 2 || b->n < 2)
            continue;
        struct bench_cmp_row *r = &out->rows[out->n++];
        *r = (struct bench_cmp_row){.a = a, .b = b, .verdict = BENCH_SAME, .p_adj = NAN};
        bench_mwu(a->v, a->n, b->v, b->n, c->conf, &r->t);
        if (!out->min_p || bench_mwu_min_p(a->n, b->n) < out->min_p)
            out->min_p = bench_mwu_min_p(a->n, b->n);
    }
    /* Holm over the rows with a direction: they are the ones that can be verdicts. */
    double *p = lab_xmalloc((out->n + 1) * sizeof(*p)),
           *adj = lab_xmalloc((out->n + 1) * sizeof(*adj));
    size_t m = 0;
    for (size_t i = 0; i < out->n; i++)
        if (out->rows[i].b->better != BENCH_BETTER_NONE)
            p[m++] = out->rows[i].t.p;
    bench_holm(p, m, adj);
    out->family = m;
    m = 0;
    for (size_t i = 0; i < out->n; i++) {
        struct bench_cmp_row *r = &out->rows[i];
        if (r->b->better == BENCH_BETTER_NONE)
            continue;
        r->p_adj = adj[m++];
        double q = r->t.ratio;
        if (!(r->p_adj < c->alpha) || !isfinite(q))
            continue;
        bool up = q > 1 + c->threshold, down = q < 1 - c->threshold;
        if (r->b->better == BENCH_BETTER_LOWER ? up : down)
            r->verdict = BENCH_REGRESSION;
        else if (r->b->better == BENCH_BETTER_LOWER ? down : up)
            r->verdict = BENCH_IMPROVEMENT;
    }
    free(p);
    free(adj);
    qsort(out->rows, out->n, sizeof(*out->rows), cmp_label);
}

void bench_comparison_free(struct bench_comparison *c)
{
    free(c->rows);
    memset(c, 0, sizeof(*c));
}

/* ---- Building revisions ----------------------------------------------------------- */

/* Run a command quietly; its output goes to 'log' (appended) when it fails. */
static int run_logged(const char *const *argv, double timeout_s, const char *log, char **out,
                      struct lab_err *err)
{
    char *o = NULL, *e = NULL;
    int st = bench_spawn(argv, timeout_s, false, &o, &e);
    if (st != 0) {
        FILE *f = fopen(log, "a");
        if (f) {
            for (const char *const *a = argv; *a; a++)
                fprintf(f, "%s%s", a == argv ? "$ " : " ", *a);
            fprintf(f, "\n%s%s\n", o, e);
            fclose(f);
        }
        err->status = LAB_EXIT_INPUT;
        snprintf(err->msg, sizeof(err->msg), "%s %s failed (exit %d); its output is in %s", argv[0],
                 argv[1], st, log);
    }
    if (out && st == 0) {
        o[strcspn(o, "\n")] = 0;
        *out = o;
    } else {
        free(o);
    }
    free(e);
    return st == 0 ? 0 : -EIO;
}

/* Check out revision rev at tmp/side and build its bench programs; *dir: its bench/. */
static int build_one(const char *root, const char *rev, const char *side,
                     const char *const *programs, const char *tmp, char **dir,
                     const struct bench_opts *o, struct lab_err *err)
{
    char *sha = NULL, *wt = bench_strf("%s/%s", tmp, side);
    char *bd = bench_strf("%s/build", wt), *log = bench_strf("%s/%s.log", tmp, side);
    char *spec = bench_strf("%s^{commit}", rev);
    const char *parse[] = {"git", "-C", root, "rev-parse", "--verify", "--quiet", spec, NULL};
    const char *add[] = {"git",      "-C",      root, "worktree", "add",
                         "--detach", "--quiet", wt,   NULL,       NULL};
    const char *setup[] = {"meson", "setup", bd, wt, NULL};
    int rc = run_logged(parse, 60, log, &sha, err);
    if (rc) {
        snprintf(err->msg, sizeof(err->msg), "--compare: '%s' is not a revision here", rev);
        goto out;
    }
    add[8] = sha;
    if (o->progress)
        fprintf(stderr, "\r\033[Kbuilding %s (%s) in %s\n", rev, sha, wt);
    if ((rc = run_logged(add, 300, log, NULL, err)) ||
        (rc = run_logged(setup, 600, log, NULL, err)))
        goto out;
    for (const char *const *p = programs; *p; p++) {
        char *target = bench_strf("bench/%s", *p);
        const char *ninja[] = {"ninja", "-C", bd, target, NULL};
        struct lab_err e2;
        if (run_logged(ninja, 1800, log, NULL, &e2))
            fprintf(stderr, "distlab bench: %s does not build at %s (see %s)\n", *p, rev, log);
        free(target);
    }
    *dir = bench_strf("%s/bench", bd);
out:
    free(sha);
    free(wt);
    free(bd);
    free(log);
    free(spec);
    return rc;
}

int bench_build_revs(const char *root, const char *rev_a, const char *rev_b,
                     const char *const *programs, const char *tmp, char **dir_a, char **dir_b,
                     const struct bench_opts *o, struct lab_err *err)
{
    *dir_a = *dir_b = NULL;
    int rc = build_one(root, rev_a, "a", programs, tmp, dir_a, o, err);
    if (!rc)
        rc = build_one(root, rev_b, "b", programs, tmp, dir_b, o, err);
    return rc;
}

void bench_build_cleanup(const char *root, const char *tmp)
{
    for (int side = 0; side < 2; side++) {
        char *wt = bench_strf("%s/%s", tmp, side ? "b" : "a");
        if (access(wt, F_OK) == 0) {
            const char *rm[] = {"git", "-C", root, "worktree", "remove", "--force", wt, NULL};
            char *o = NULL, *e = NULL;
            bench_spawn(rm, 300, false, &o, &e);
            free(o);
            free(e);
        }
        free(wt);
    }
    const char *rm[] = {"rm", "-rf", tmp, NULL};
    char *o = NULL, *e = NULL;
    bench_spawn(rm, 300, false, &o, &e);
    free(o);
    free(e);
}

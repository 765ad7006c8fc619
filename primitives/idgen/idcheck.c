/* idcheck.c - exact uniqueness (external sort-merge) and order (merge-sort inversions)
 * over the IDs of a run. Costs are in idcheck.h; nothing here prints or exits. */
#include "idgen/idcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Radix sort ------------------------------------------------------------------- */

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

/* Sort v[0..n) ascending, using tmp[0..n) as scratch: LSD radix, 11 bits a pass, and a
 * pass is skipped when every key has the same digit (IDs of one run share high bits).
 * O(n) per pass, at most 6 passes. The result ends in v. */
static void radix_sort(uint64_t *v, uint64_t *tmp, size_t n)
{
    static _Thread_local size_t count[RADIX_SIZE];
    uint64_t *src = v, *dst = tmp;
    for (int shift = 0; shift < 64; shift += RADIX_BITS) {
        memset(count, 0, sizeof(count));
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & (RADIX_SIZE - 1)]++;
        if (n == 0 || count[(src[0] >> shift) & (RADIX_SIZE - 1)] == n)
            continue;
        size_t sum = 0;
        for (size_t d = 0; d < RADIX_SIZE; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & (RADIX_SIZE - 1)]++] = src[i];
        uint64_t *x = src;
        src = dst;
        dst = x;
    }
    if (src != v)
        memcpy(v, src, n * sizeof(*v));
}

/* ---- Uniqueness ------------------------------------------------------------------- */

struct run {
    uint64_t off, len; /* in IDs, within the temporary file */
};

struct idset {
    uint64_t *mem; /* the whole budget: buffer and radix scratch, later merge buffers */
    size_t words;  /* mem's size in IDs */
    size_t n;      /* IDs in the buffer (the first half of mem) */
    uint64_t total;
    FILE *file;
    uint64_t file_end;
    struct run *runs;
    size_t nruns, runs_cap, runs_head;
    uint64_t passes;
    char *tmpdir;
};

#define IDSET_MIN_BYTES (64u * 1024u)
#define IDSET_CHUNK_MIN 4096 /* IDs per merge buffer, at least */

struct idset *idset_create(size_t mem_bytes, const char *tmpdir)
{
    if (mem_bytes < IDSET_MIN_BYTES)
        mem_bytes = IDSET_MIN_BYTES;
    struct idset *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->words = mem_bytes / sizeof(uint64_t);
    s->mem = malloc(s->words * sizeof(uint64_t));
    if (!s->mem)
        goto err_free;
    if (tmpdir) {
        s->tmpdir = strdup(tmpdir);
        if (!s->tmpdir)
            goto err_mem;
    }
    return s;

err_mem:
    free(s->mem);
err_free:
    free(s);
    return NULL;
}

void idset_destroy(struct idset *s)
{
    if (!s)
        return;
    if (s->file)
        fclose(s->file);
    free(s->runs);
    free(s->mem);
    free(s->tmpdir);
    free(s);
}

static int open_file(struct idset *s)
{
    if (s->file)
        return 0;
    if (s->tmpdir) {
        size_t len = strlen(s->tmpdir) + 32;
        char *path = malloc(len);
        if (!path)
            return -ENOMEM;
        snprintf(path, len, "%s/idcheck-XXXXXX", s->tmpdir);
        int fd = mkstemp(path);
        if (fd >= 0)
            unlink(path); /* gone when closed, even after a crash */
        free(path);
        if (fd < 0)
            return -errno;
        s->file = fdopen(fd, "w+b");
        if (!s->file) {
            close(fd);
            return -EIO;
        }
    } else {
        s->file = tmpfile();
        if (!s->file)
            return errno ? -errno : -EIO;
    }
    return 0;
}

/* Write or read n IDs at ID offset 'off' of the temporary file, whole or not at all. */
static int file_io(struct idset *s, bool write, uint64_t off, uint64_t *v, size_t n)
{
    char *p = (char *)v;
    size_t left = n * sizeof(*v);
    off_t pos = (off_t)(off * sizeof(*v));
    while (left) {
        ssize_t k =
            write ? pwrite(fileno(s->file), p, left, pos) : pread(fileno(s->file), p, left, pos);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 && errno == ENOSPC ? -ENOSPC : -EIO;
        p += k;
        pos += k;
        left -= (size_t)k;
    }
    return 0;
}

static int push_run(struct idset *s, uint64_t off, uint64_t len)
{
    if (s->nruns == s->runs_cap) {
        size_t cap = s->runs_cap ? 2 * s->runs_cap : 16;
        struct run *r = realloc(s->runs, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        s->runs = r;
        s->runs_cap = cap;
    }
    s->runs[s->nruns++] = (struct run){off, len};
    return 0;
}

/* Sort the buffer and write it as a run at the end of the file. */
static int spill(struct idset *s)
{
    if (s->n == 0)
        return 0;
    int rc = open_file(s);
    if (rc < 0)
        return rc;
    radix_sort(s->mem, s->mem + s->words / 2, s->n);
    rc = file_io(s, true, s->file_end, s->mem, s->n);
    if (rc == 0)
        rc = push_run(s, s->file_end, s->n);
    if (rc < 0)
        return rc;
    s->file_end += s->n;
    s->n = 0;
    return 0;
}

int idset_add(struct idset *s, uint64_t id)
{
    if (s->n == s->words / 2) {
        int rc = spill(s);
        if (rc < 0)
            return rc;
    }
    s->mem[s->n++] = id;
    s->total++;
    return 0;
}

/* One input of a merge: a window of 'cap' IDs onto a run. */
struct reader {
    uint64_t off, left; /* still in the file */
    uint64_t *buf;
    size_t pos, n, cap;
};

static int reader_fill(struct idset *s, struct reader *r)
{
    size_t k = r->left < r->cap ? (size_t)r->left : r->cap;
    int rc = file_io(s, false, r->off, r->buf, k);
    if (rc < 0)
        return rc;
    r->off += k;
    r->left -= k;
    r->pos = 0;
    r->n = k;
    return 0;
}

/* Min-heap of readers by their current ID. */
static void sift_down(struct reader **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l]->buf[h[l]->pos] < h[m]->buf[h[m]->pos])
            m = l;
        if (l + 1 < n && h[l + 1]->buf[h[l + 1]->pos] < h[m]->buf[h[m]->pos])
            m = l + 1;
        if (m == i)
            return;
        struct reader *x = h[i];
        h[i] = h[m];
        h[m] = x;
        i = m;
    }
}

/* Account for the next value v of an ascending stream. */
static void count_sorted(struct idset_result *out, bool *have_prev, uint64_t *prev, uint64_t v)
{
    if (*have_prev && v == *prev) {
        out->duplicates++;
        bool noted = out->nexamples && out->examples[out->nexamples - 1] == v;
        if (!noted && out->nexamples < IDSET_EXAMPLES)
            out->examples[out->nexamples++] = v;
    } else {
        out->distinct++;
    }
    *prev = v;
    *have_prev = true;
}

/* Merge runs[first .. first + k) in ascending order. With 'count' set, count distinct
 * values and duplicates into *out; else write the merged run to the end of the file.
 * Memory: k + 1 windows carved out of s->mem. */
static int merge(struct idset *s, size_t first, size_t k, struct idset_result *out)
{
    if (k < 1 || k > s->words / 2)
        return -EINVAL;
    size_t chunk = s->words / (k + 1);
    struct reader *rd = calloc(k, sizeof(*rd));
    struct reader **heap = calloc(k, sizeof(*heap));
    int rc = rd && heap ? 0 : -ENOMEM;
    size_t nh = 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        rd[i] = (struct reader){.off = s->runs[first + i].off,
                                .left = s->runs[first + i].len,
                                .buf = s->mem + i * chunk,
                                .cap = chunk};
        if (rd[i].left) {
            rc = reader_fill(s, &rd[i]);
            heap[nh++] = &rd[i];
        }
    }
    for (size_t i = nh; i-- > 0;)
        sift_down(heap, nh, i);
    uint64_t *obuf = s->mem + k * chunk, out_off = s->file_end, written = 0;
    size_t on = 0;
    uint64_t prev = 0;
    bool have_prev = false;
    while (rc == 0 && nh) {
        struct reader *r = heap[0];
        uint64_t v = r->buf[r->pos++];
        if (out) {
            count_sorted(out, &have_prev, &prev, v);
        } else {
            obuf[on++] = v;
            if (on == chunk) {
                rc = file_io(s, true, out_off + written, obuf, on);
                written += on;
                on = 0;
            }
        }
        if (r->pos == r->n) {
            if (r->left)
                rc = rc ? rc : reader_fill(s, r);
            else
                heap[0] = heap[--nh];
        }
        if (nh)
            sift_down(heap, nh, 0);
    }
    if (rc == 0 && !out && on) {
        rc = file_io(s, true, out_off + written, obuf, on);
        written += on;
    }
    if (rc == 0 && !out) {
        s->file_end += written;
        rc = push_run(s, out_off, written);
    }
    free(heap);
    free(rd);
    return rc;
}

int idset_finish(struct idset *s, struct idset_result *out)
{
    memset(out, 0, sizeof(*out));
    out->ids = s->total;
    int rc;
    if (s->nruns == 0) { /* everything fitted: sort and count in memory */
        radix_sort(s->mem, s->mem + s->words / 2, s->n);
        bool have_prev = false;
        uint64_t prev = 0;
        for (size_t i = 0; i < s->n; i++)
            count_sorted(out, &have_prev, &prev, s->mem[i]);
        return 0;
    }
    if ((rc = spill(s)) < 0)
        return rc;
    out->runs = s->nruns;
    /* Fan-in: as many runs as get a window of at least IDSET_CHUNK_MIN IDs. Runs are a
     * queue: merge the oldest k into a new one at the back until k runs are left. */
    size_t fan = s->words / IDSET_CHUNK_MIN;
    fan = fan > 3 ? fan - 1 : 2; /* one window is the output's */
    size_t head = 0;
    while (s->nruns - head > fan) {
        if ((rc = merge(s, head, fan, NULL)) < 0)
            return rc;
        head += fan;
        s->passes++;
    }
    rc = merge(s, head, s->nruns - head, out);
    out->merge_passes = s->passes + 1;
    return rc;
}

/* ---- Order -------------------------------------------------------------------------- */

struct rec {
    uint64_t id;
    int64_t t;
};

struct idorder {
    struct rec *v;
    size_t n, cap;
};

struct idorder *idorder_create(void)
{
    return calloc(1, sizeof(struct idorder));
}

void idorder_destroy(struct idorder *o)
{
    if (!o)
        return;
    free(o->v);
    free(o);
}

int idorder_add(struct idorder *o, int64_t t_ns, uint64_t id)
{
    if (o->n && t_ns < o->v[o->n - 1].t)
        return -EINVAL;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 4096;
        struct rec *v = realloc(o->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = (struct rec){id, t_ns};
    return 0;
}

/* Bottom-up merge sort by ID. In a merge of [l, m) and [m, r), everything on the left was
 * issued before everything on the right; when a right element is taken while left ones
 * remain, those left ones (all with larger IDs) each form an inverted pair with it, and
 * the widest in true time is the one issued first: min t over the rest of the left,
 * a suffix minimum computed at the merge's first inversion (from there to m). IDs come
 * mostly in order, so most merges have none: a left half whose last ID is at most the
 * right half's first is copied whole. */
int idorder_finish(struct idorder *o, struct idorder_result *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = o->n;
    out->ids = n;
    out->pairs = n > 1 ? (uint64_t)n * (n - 1) / 2 : 0;
    if (n < 2)
        return 0;
    struct rec *tmp = malloc(n * sizeof(*tmp));
    int64_t *sufmin = malloc(n * sizeof(*sufmin)); /* the left half can be most of n */
    if (!tmp || !sufmin) {
        free(tmp);
        free(sufmin);
        return -ENOMEM;
    }
    struct rec *src = o->v, *dst = tmp;
    uint64_t inv = 0;
    int64_t gap = 0;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t l = 0; l < n; l += 2 * w) {
            size_t m = l + w < n ? l + w : n, r = l + 2 * w < n ? l + 2 * w : n;
            if (m == r || src[m - 1].id <= src[m].id) {
                memcpy(dst + l, src + l, (r - l) * sizeof(*src));
                continue;
            }
            size_t i = l, j = m, k = l;
            bool suffix = false; /* sufmin holds [i, m) of the left */
            while (i < m && j < r) {
                if (src[i].id <= src[j].id) {
                    dst[k++] = src[i++];
                } else {
                    if (!suffix) {
                        int64_t mn = INT64_MAX;
                        for (size_t x = m; x-- > i;) {
                            if (src[x].t < mn)
                                mn = src[x].t;
                            sufmin[x - l] = mn;
                        }
                        suffix = true;
                    }
                    inv += m - i;
                    int64_t g = src[j].t - sufmin[i - l];
                    if (g > gap)
                        gap = g;
                    dst[k++] = src[j++];
                }
            }
            while (i < m)
                dst[k++] = src[i++];
            while (j < r)
                dst[k++] = src[j++];
        }
        struct rec *x = src;
        src = dst;
        dst = x;
    }
    /* src holds the sorted records; keep that buffer, free the other. */
    if (src != o->v) {
        free(o->v);
        o->v = src;
        o->cap = n;
    } else {
        free(tmp);
    }
    free(sufmin);
    o->n = 0; /* finished: the records are no longer in issue order */
    out->inverted_pairs = inv;
    out->inversions = (double)inv / (double)out->pairs;
    out->max_gap_ns = gap;
    return 0;
}

/* idcheck.h - exact checks over every ID a run issued: uniqueness in bounded memory, and
 * how far ID order strays from the true order of issue.
 *
 * The uniqueness check sorts: IDs are buffered up to a memory budget, each full buffer
 * is radix-sorted and written to a temporary file as a sorted run, and the runs are
 * merged (in several passes if there are more runs than the budget can give buffers to),
 * counting equal neighbours. So 1e8 IDs (800 MB) check in, say, 64 MB of memory and
 * about 2 * 800 MB of temporary file per pass. The order check keeps everything in
 * memory (16 bytes per ID, 40 while it sorts) and counts inversions by merge sort,
 * O(n log n). Never prints, never exits. */
#ifndef DISTLAB_IDGEN_IDCHECK_H
#define DISTLAB_IDGEN_IDCHECK_H

#include <stddef.h>
#include <stdint.h>

/* ---- Uniqueness ------------------------------------------------------------------- */

struct idset;

#define IDSET_EXAMPLES 4

struct idset_result {
    uint64_t ids;                          /* added */
    uint64_t distinct;                     /* different values among them */
    uint64_t duplicates;                   /* ids - distinct: IDs equal to one added before */
    uint64_t examples[IDSET_EXAMPLES]; /* the smallest duplicated values */
    size_t nexamples;
    uint64_t runs; /* sorted runs spilled to disk (0: all fitted in memory) */
    uint64_t merge_passes;
};

/* A checker holding at most mem_bytes of IDs in memory (at least 64 KiB is used).
 * tmpdir: where the temporary file goes (NULL: tmpfile()'s default). NULL on -ENOMEM. */
struct idset *idset_create(size_t mem_bytes, const char *tmpdir);

/* Add one ID. O(1) amortised (a radix sort and a sequential write per full buffer).
 * Returns 0, or -EIO / -ENOSPC if the temporary file cannot be written. */
int idset_add(struct idset *s, uint64_t id);

/* Sort what is left, merge, count. Call once; afterwards only destroy. Returns 0 or a
 * negative errno (-EIO, -ENOMEM). */
int idset_finish(struct idset *s, struct idset_result *out);

/* Frees memory and removes the temporary file. */
void idset_destroy(struct idset *s);

/* ---- Order ------------------------------------------------------------------------- */

struct idorder;

struct idorder_result {
    uint64_t ids;
    uint64_t pairs;          /* ids * (ids - 1) / 2 */
    uint64_t inverted_pairs; /* pairs issued in one order whose IDs compare the other way */
    double inversions;       /* inverted_pairs / pairs (0 when pairs == 0) */
    int64_t max_gap_ns;      /* largest true-time gap between the two IDs of an inverted
                                pair (0 if none) */
};

struct idorder *idorder_create(void); /* NULL on -ENOMEM */

/* Record the next ID in true order of issue, issued at true time t_ns. Times must not
 * decrease (-EINVAL). Equal IDs are never an inversion. Returns 0, -EINVAL or -ENOMEM. */
int idorder_add(struct idorder *o, int64_t t_ns, uint64_t id);

/* Count. O(n log n) time, 24 * n more bytes while it runs. Call once. */
int idorder_finish(struct idorder *o, struct idorder_result *out);

void idorder_destroy(struct idorder *o);

#endif

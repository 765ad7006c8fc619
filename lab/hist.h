/* hist.h - a log-linear histogram of non-negative integers (latencies in ns, counts).
 * Buckets are exact below 128 and then 128 sub-buckets per power of two, so a reported
 * quantile is within 1 % of an exact quantile of the data. Fixed memory (~60 KiB);
 * adding is O(1). Not thread-safe: keep one per thread and merge. */
#ifndef DISTLAB_HIST_H
#define DISTLAB_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hist;

struct hist *hist_create(void); /* NULL on -ENOMEM */
void hist_destroy(struct hist *h);
void hist_reset(struct hist *h);

/* Record v (negative values are recorded as 0), n times for hist_add_n. */
void hist_add(struct hist *h, int64_t v);
void hist_add_n(struct hist *h, int64_t v, uint64_t n);
/* Add every value recorded in src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

uint64_t hist_count(const struct hist *h);
double hist_mean(const struct hist *h); /* exact (kept as a sum), 0 when empty */
int64_t hist_min(const struct hist *h); /* exact, 0 when empty */
int64_t hist_max(const struct hist *h); /* exact, 0 when empty */
/* The q-quantile (0 <= q <= 1) as the smallest recorded bucket whose cumulative count
 * reaches ceil(q * count), reported at the bucket's midpoint clamped to [min, max]. */
int64_t hist_quantile(const struct hist *h, double q);

/* Walk the non-empty buckets in increasing order: *lo..*hi inclusive, *count.
 * Start with *cursor = 0; returns false when done. */
bool hist_next_bucket(const struct hist *h, size_t *cursor, int64_t *lo, int64_t *hi,
                      uint64_t *count);

/* A histogram carried whole between processes (a shard's partial result, lab/shard.h):
 * the buckets (hist_next_bucket) and these exact totals. The sum of the values is
 * 128 bits wide, given as two halves. */
void hist_totals(const struct hist *h, int64_t *min, int64_t *max, uint64_t *sum_hi,
                 uint64_t *sum_lo);
/* Rebuild: hist_add_n each bucket's count at its lower bound, then put back the exact
 * totals, which the buckets alone lose. Returns false (h unchanged) when they do not
 * fit the buckets: a corrupt input. */
bool hist_set_totals(struct hist *h, int64_t min, int64_t max, uint64_t sum_hi, uint64_t sum_lo);

/* Invariants: bucket counts sum to count, min <= max, sum consistent. For tests. */
bool hist_check(const struct hist *h);

#endif

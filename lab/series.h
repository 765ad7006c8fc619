/* series.h - a time series in fixed bins of true time: each bin holds a sum and a
 * count of the values added in it (so a plot may show sums, like requests per bin,
 * or means, like latency per bin). Grows as time advances; O(1) per add. */
#ifndef DISTLAB_SERIES_H
#define DISTLAB_SERIES_H

#include <stddef.h>
#include <stdint.h>

struct series;

struct series *series_create(int64_t bin_ns); /* NULL on -EINVAL (bin <= 0) or -ENOMEM */
void series_destroy(struct series *s);

/* Add v at true time t_ns (>= 0). Returns 0, -EINVAL (t_ns < 0) or -ENOMEM. */
int series_add(struct series *s, int64_t t_ns, double v);
/* Add n values whose sum is 'sum' at once (rebuilding a series from its bins). */
int series_add_n(struct series *s, int64_t t_ns, double sum, uint64_t n);

int64_t series_bin_ns(const struct series *s);
size_t series_len(const struct series *s); /* bins from 0 to the last one touched */
double series_sum(const struct series *s, size_t bin);
uint64_t series_count(const struct series *s, size_t bin);

#endif

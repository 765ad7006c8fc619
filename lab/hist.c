/* hist.c - the log-linear histogram of hist.h: values below 128 have a bucket each;
 * above, every power of two [2^e, 2^(e+1)) is cut into 128 equal sub-buckets, so a
 * bucket is at most 1/128 of its lower bound wide and its midpoint within 1/256 of any
 * value in it. Never allocates after hist_create. */
#include "lab/hist.h"

#include <stdlib.h>
#include <string.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1 << HIST_SUB_BITS) /* 128 */
/* Exponents 7..62 have 128 buckets each, after the 128 exact ones. */
#define HIST_NBUCKETS (HIST_SUB + (63 - HIST_SUB_BITS) * HIST_SUB)

__extension__ typedef unsigned __int128 hist_u128;

struct hist {
    uint64_t count;
    int64_t min, max;
    hist_u128 sum;
    uint64_t buckets[HIST_NBUCKETS];
};

static size_t bucket_of(int64_t v)
{
    if (v < HIST_SUB)
        return (size_t)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* 7..62 */
    int64_t sub = (v >> (e - HIST_SUB_BITS)) - HIST_SUB; /* 0..127 */
    return (size_t)(HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + sub);
}

/* The inclusive value range of bucket b. */
static void bucket_range(size_t b, int64_t *lo, int64_t *hi)
{
    if (b < HIST_SUB) {
        *lo = *hi = (int64_t)b;
        return;
    }
    int e = (int)((b - HIST_SUB) / HIST_SUB) + HIST_SUB_BITS;
    int64_t sub = (int64_t)((b - HIST_SUB) % HIST_SUB);
    int64_t width = (int64_t)1 << (e - HIST_SUB_BITS);
    *lo = (HIST_SUB + sub) * width;
    *hi = *lo + (width - 1);
}

struct hist *hist_create(void)
{
    return calloc(1, sizeof(struct hist));
}

void hist_destroy(struct hist *h)
{
    free(h);
}

void hist_reset(struct hist *h)
{
    memset(h, 0, sizeof(*h));
}

void hist_add_n(struct hist *h, int64_t v, uint64_t n)
{
    if (n == 0)
        return;
    if (v < 0)
        v = 0;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (h->count == 0 || v > h->max)
        h->max = v;
    h->count += n;
    h->sum += (hist_u128)(uint64_t)v * n;
    h->buckets[bucket_of(v)] += n;
}

void hist_add(struct hist *h, int64_t v)
{
    hist_add_n(h, v, 1);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->count == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
    for (size_t b = 0; b < HIST_NBUCKETS; b++)
        dst->buckets[b] += src->buckets[b];
}

uint64_t hist_count(const struct hist *h)
{
    return h->count;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

int64_t hist_min(const struct hist *h)
{
    return h->count ? h->min : 0;
}

int64_t hist_max(const struct hist *h)
{
    return h->count ? h->max : 0;
}

int64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0))
        q = 0;
    if (q > 1)
        q = 1;
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t cum = 0;
    for (size_t b = 0; b < HIST_NBUCKETS; b++) {
        cum += h->buckets[b];
        if (cum >= rank) {
            int64_t lo, hi;
            bucket_range(b, &lo, &hi);
            int64_t mid = lo + (hi - lo) / 2;
            if (mid < h->min)
                mid = h->min;
            if (mid > h->max)
                mid = h->max;
            return mid;
        }
    }
    return h->max; /* unreachable when the counts are consistent */
}

void hist_totals(const struct hist *h, int64_t *min, int64_t *max, uint64_t *sum_hi,
                 uint64_t *sum_lo)
{
    *min = h->min;
    *max = h->max;
    *sum_hi = (uint64_t)(h->sum >> 64);
    *sum_lo = (uint64_t)h->sum;
}

bool hist_set_totals(struct hist *h, int64_t min, int64_t max, uint64_t sum_hi, uint64_t sum_lo)
{
    int64_t min0 = h->min, max0 = h->max;
    hist_u128 sum0 = h->sum;
    h->min = min;
    h->max = max;
    h->sum = (hist_u128)sum_hi << 64 | sum_lo;
    if (hist_check(h))
        return true;
    h->min = min0;
    h->max = max0;
    h->sum = sum0;
    return false;
}

bool hist_next_bucket(const struct hist *h, size_t *cursor, int64_t *lo, int64_t *hi,
                      uint64_t *count)
{
    for (size_t b = *cursor; b < HIST_NBUCKETS; b++) {
        if (h->buckets[b]) {
            bucket_range(b, lo, hi);
            *count = h->buckets[b];
            *cursor = b + 1;
            return true;
        }
    }
    *cursor = HIST_NBUCKETS;
    return false;
}

bool hist_check(const struct hist *h)
{
    uint64_t total = 0;
    size_t first = HIST_NBUCKETS, last = 0;
    for (size_t b = 0; b < HIST_NBUCKETS; b++) {
        if (!h->buckets[b])
            continue;
        total += h->buckets[b];
        if (first == HIST_NBUCKETS)
            first = b;
        last = b;
    }
    if (total != h->count)
        return false;
    if (h->count == 0)
        return h->sum == 0;
    if (h->min < 0 || h->min > h->max)
        return false;
    if (bucket_of(h->min) != first || bucket_of(h->max) != last)
        return false;
    hist_u128 lo = (hist_u128)(uint64_t)h->min * h->count;
    hist_u128 hi = (hist_u128)(uint64_t)h->max * h->count;
    return h->sum >= lo && h->sum <= hi;
}

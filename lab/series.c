/* series.c - fixed-bin time series (series.h): a growable array of (sum, count) bins.
 * Never reads a clock: the caller says when each value happened. */
#include "lab/series.h"

#include <errno.h>
#include <stdlib.h>

struct series_bin {
    double sum;
    uint64_t count;
};

struct series {
    int64_t bin_ns;
    size_t len, cap;
    struct series_bin *bins;
};

struct series *series_create(int64_t bin_ns)
{
    if (bin_ns <= 0)
        return NULL;
    struct series *s = calloc(1, sizeof(*s));
    if (s)
        s->bin_ns = bin_ns;
    return s;
}

void series_destroy(struct series *s)
{
    if (!s)
        return;
    free(s->bins);
    free(s);
}

int series_add(struct series *s, int64_t t_ns, double v)
{
    return series_add_n(s, t_ns, v, 1);
}

int series_add_n(struct series *s, int64_t t_ns, double sum, uint64_t n)
{
    if (t_ns < 0)
        return -EINVAL;
    uint64_t bin = (uint64_t)(t_ns / s->bin_ns);
    if (bin >= s->cap) {
        uint64_t cap = s->cap ? s->cap : 64;
        while (cap <= bin)
            cap *= 2;
        if (cap > SIZE_MAX / sizeof(struct series_bin))
            return -ENOMEM;
        struct series_bin *nb = realloc(s->bins, (size_t)cap * sizeof(*nb));
        if (!nb)
            return -ENOMEM;
        for (size_t i = s->cap; i < cap; i++)
            nb[i] = (struct series_bin){0, 0};
        s->bins = nb;
        s->cap = (size_t)cap;
    }
    s->bins[bin].sum += sum;
    s->bins[bin].count += n;
    if (bin >= s->len)
        s->len = (size_t)bin + 1;
    return 0;
}

int64_t series_bin_ns(const struct series *s)
{
    return s->bin_ns;
}

size_t series_len(const struct series *s)
{
    return s->len;
}

double series_sum(const struct series *s, size_t bin)
{
    return bin < s->len ? s->bins[bin].sum : 0.0;
}

uint64_t series_count(const struct series *s, size_t bin)
{
    return bin < s->len ? s->bins[bin].count : 0;
}

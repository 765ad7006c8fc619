/* bench_util.h - small helpers the benchmark programs share. */
#ifndef DISTLAB_BENCH_UTIL_H
#define DISTLAB_BENCH_UTIL_H

#include <stdlib.h>

/* qsort's comparison for doubles, ascending. */
static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif

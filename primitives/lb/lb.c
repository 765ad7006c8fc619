/* lb.c - the pickers and shuffles of lb.h. Pure: state, arrays and the caller's rng only;
 * no clock, no I/O, no global state. */
#include "lb/lb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lb/lb_internal.h"
#include "names.h"

const char *const lb_policy_names[] = {LB_POLICY_NAMES, NULL};

const char *lb_policy_name(enum lb_policy p)
{
    return names_name(lb_policy_names, (int)p);
}

const char *lb_policy_choices(void)
{
    static _Thread_local char buf[96];
    return names_join(lb_policy_names, "|", buf, sizeof(buf));
}

int lb_policy_parse(const char *name, enum lb_policy *out)
{
    int v = names_value(lb_policy_names, name);
    if (v < 0)
        return v;
    *out = (enum lb_policy)v;
    return 0;
}

/* ---- Shuffles ------------------------------------------------------------------------ */

void lb_identity(uint32_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (uint32_t)i;
}

void lb_shuffle_biased(uint32_t *a, size_t n, struct rng *rng)
{
    for (size_t k = 0; k < n / 2; k++) {
        size_t x = rng_below(rng, n);
        size_t y = rng_below(rng, n);
        uint32_t t = a[x];
        a[x] = a[y];
        a[y] = t;
    }
}

/* Draws this many steps ahead in long shuffles, to prefetch the element each step will
 * swap: the draws do not depend on the array, so drawing early changes nothing else. */
#define FY_AHEAD 16
#define FY_PREFETCH_MIN 4096

void lb_shuffle_fisher_yates(uint32_t *a, size_t n, struct rng *rng)
{
    if (n < FY_PREFETCH_MIN) { /* fits in cache: the plain loop */
        for (size_t i = n; i > 0; i--) {
            size_t j = rng_below(rng, i);
            uint32_t t = a[i - 1];
            a[i - 1] = a[j];
            a[j] = t;
        }
        return;
    }
    /* The same draws in the same order (i = n down to 1), each FY_AHEAD steps early. */
    size_t ahead[FY_AHEAD];
    for (size_t k = 0; k < FY_AHEAD; k++) {
        ahead[k] = rng_below(rng, n - k);
        __builtin_prefetch(&a[ahead[k]], 1);
    }
    for (size_t i = n, k = 0; i > 0; i--, k = (k + 1) % FY_AHEAD) {
        size_t j = ahead[k];
        if (i > FY_AHEAD) {
            ahead[k] = rng_below(rng, i - FY_AHEAD);
            __builtin_prefetch(&a[ahead[k]], 1);
        }
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void lb_perm_inside_out(uint32_t *m, size_t n, struct rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = rng_below(rng, i + 1);
        m[i] = m[j];
        m[j] = (uint32_t)i;
    }
}

bool lb_is_permutation(const uint32_t *a, size_t n)
{
    uint64_t *seen = calloc(n / 64 + 1, sizeof *seen);
    bool ok = seen != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t v = a[i];
        uint64_t bit = 1ULL << (v % 64);
        if (v >= n || (seen[v / 64] & bit))
            ok = false;
        else
            seen[v / 64] |= bit;
    }
    free(seen);
    return ok;
}

/* ---- Pickers --------------------------------------------------------------------------- */

struct lb *lb_create(enum lb_policy policy, size_t n, const int64_t *weights)
{
    if ((unsigned)policy >= LB_POLICY_COUNT || n < 1 || n > LB_MAX_ENDPOINTS)
        return NULL;
    int64_t total = 0;
    for (size_t i = 0; weights && i < n; i++) {
        if (weights[i] < 1 || weights[i] > INT64_MAX / 4 - total)
            return NULL;
        total += weights[i];
    }
    if (!weights)
        total = (int64_t)n;

    struct lb *lb = calloc(1, sizeof *lb);
    if (!lb)
        return NULL;
    lb->policy = policy;
    lb->n = n;
    lb->total = total;
    lb->outstanding = calloc(n, sizeof *lb->outstanding);
    if (!lb->outstanding)
        goto err_lb;
    if (policy == LB_SWRR) {
        lb->weight = malloc(n * sizeof *lb->weight);
        lb->current = calloc(n, sizeof *lb->current);
        lb->scratch_w = malloc(n * sizeof *lb->scratch_w);
        if (!lb->weight || !lb->current || !lb->scratch_w)
            goto err_arrays;
        for (size_t i = 0; i < n; i++)
            lb->weight[i] = weights ? weights[i] : 1;
    }
    if (policy == LB_BIASED || policy == LB_FISHER_YATES || policy == LB_INSIDE_OUT) {
        lb->scratch = malloc(n * sizeof *lb->scratch);
        if (!lb->scratch)
            goto err_arrays;
    }
    return lb;

err_arrays:
    free(lb->weight);
    free(lb->current);
    free(lb->scratch_w);
    free(lb->outstanding);
err_lb:
    free(lb);
    return NULL;
}

void lb_destroy(struct lb *lb)
{
    if (!lb)
        return;
    free(lb->weight);
    free(lb->current);
    free(lb->scratch_w);
    free(lb->scratch);
    free(lb->outstanding);
    free(lb);
}

enum lb_policy lb_policy(const struct lb *lb)
{
    return lb->policy;
}

size_t lb_size(const struct lb *lb)
{
    return lb->n;
}

void lb__ring_from(uint32_t *order, size_t n, size_t start)
{
    size_t k = 0;
    for (size_t i = start; i < n; i++)
        order[k++] = (uint32_t)i;
    for (size_t i = 0; i < start; i++)
        order[k++] = (uint32_t)i;
}

void lb__p2c_draw(size_t n, struct rng *rng, size_t *a, size_t *b)
{
    *a = rng_below(rng, n);
    *b = rng_below(rng, n - 1);
    if (*b >= *a)
        (*b)++;
}

void lb__p2c_order(const uint64_t *outstanding, size_t n, size_t a, size_t b,
                   uint32_t *order)
{
    size_t first = outstanding[b] < outstanding[a] ? b : a;
    size_t second = first == a ? b : a;
    order[0] = (uint32_t)first;
    order[1] = (uint32_t)second;
    size_t k = 2;
    for (size_t i = first + 1; i < n; i++)
        if (i != second)
            order[k++] = (uint32_t)i;
    for (size_t i = 0; i < first; i++)
        if (i != second)
            order[k++] = (uint32_t)i;
}

/* One NGINX pick over the endpoints not marked in 'tried' (NULL: none tried), on the
 * current weights 'cur'. Returns the winner. O(n). */
static size_t swrr_step(const int64_t *weight, int64_t *cur, const uint8_t *tried, size_t n)
{
    size_t best = n;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (tried && tried[i])
            continue;
        cur[i] += weight[i];
        total += weight[i];
        if (best == n || cur[i] > cur[best])
            best = i;
    }
    cur[best] -= total;
    return best;
}

static void swrr_order(struct lb *lb, uint32_t *order)
{
    size_t n = lb->n;
    order[0] = (uint32_t)swrr_step(lb->weight, lb->current, NULL, n);
    if (n == 1)
        return;
    /* The retries: NGINX's rule with the tried endpoints skipped (they neither grow nor
     * win), on a scratch copy of the current weights. */
    int64_t *cur = lb->scratch_w;
    memcpy(cur, lb->current, n * sizeof *cur);
    uint8_t small[64];
    uint8_t *tried = n <= sizeof small ? small : calloc(n, 1);
    if (!tried) {
        /* Out of memory: fall back to the ring after the winner (still a permutation). */
        lb__ring_from(order, n, order[0]);
        return;
    }
    memset(tried, 0, n);
    tried[order[0]] = 1;
    for (size_t k = 1; k < n; k++) {
        size_t w = swrr_step(lb->weight, cur, tried, n);
        tried[w] = 1;
        order[k] = (uint32_t)w;
    }
    if (tried != small)
        free(tried);
}

static uint32_t *shuffle_into(struct lb *lb, struct rng *rng, uint32_t *a)
{
    size_t n = lb->n;
    switch (lb->policy) {
    case LB_BIASED:
        lb_identity(a, n);
        lb_shuffle_biased(a, n, rng);
        break;
    case LB_FISHER_YATES:
        lb_identity(a, n);
        lb_shuffle_fisher_yates(a, n, rng);
        break;
    default: /* LB_INSIDE_OUT */
        lb_perm_inside_out(a, n, rng);
        break;
    }
    return a;
}

void lb_order(struct lb *lb, struct rng *rng, uint32_t *order)
{
    size_t n = lb->n;
    switch (lb->policy) {
    case LB_RR:
        lb__ring_from(order, n, lb->cursor);
        lb->cursor = lb->cursor + 1 == n ? 0 : lb->cursor + 1;
        break;
    case LB_RANDOM:
        lb__ring_from(order, n, rng_below(rng, n));
        break;
    case LB_BIASED:
    case LB_FISHER_YATES:
    case LB_INSIDE_OUT:
        shuffle_into(lb, rng, order);
        break;
    case LB_P2C:
        if (n == 1) {
            order[0] = 0;
        } else {
            size_t a, b;
            lb__p2c_draw(n, rng, &a, &b);
            lb__p2c_order(lb->outstanding, n, a, b, order);
        }
        break;
    case LB_SWRR:
        swrr_order(lb, order);
        break;
    default:
        break;
    }
}

uint32_t lb_pick(struct lb *lb, struct rng *rng)
{
    size_t n = lb->n;
    switch (lb->policy) {
    case LB_RR: {
        size_t c = lb->cursor;
        lb->cursor = c + 1 == n ? 0 : c + 1;
        return (uint32_t)c;
    }
    case LB_RANDOM:
        return (uint32_t)rng_below(rng, n);
    case LB_BIASED:
    case LB_FISHER_YATES:
    case LB_INSIDE_OUT:
        return shuffle_into(lb, rng, lb->scratch)[0];
    case LB_P2C: {
        if (n == 1)
            return 0;
        size_t a, b;
        lb__p2c_draw(n, rng, &a, &b);
        return (uint32_t)(lb->outstanding[b] < lb->outstanding[a] ? b : a);
    }
    case LB_SWRR:
        return (uint32_t)swrr_step(lb->weight, lb->current, NULL, n);
    default:
        return 0;
    }
}

int lb_start(struct lb *lb, uint32_t i)
{
    if (i >= lb->n)
        return -EINVAL;
    lb->outstanding[i]++;
    return 0;
}

int lb_done(struct lb *lb, uint32_t i)
{
    if (i >= lb->n || lb->outstanding[i] == 0)
        return -EINVAL;
    lb->outstanding[i]--;
    return 0;
}

uint64_t lb_outstanding(const struct lb *lb, uint32_t i)
{
    return i < lb->n ? lb->outstanding[i] : 0;
}

bool lb_check(const struct lb *lb)
{
    if (!lb || lb->n < 1 || (unsigned)lb->policy >= LB_POLICY_COUNT)
        return false;
    if (lb->cursor >= lb->n)
        return false;
    if (lb->policy == LB_SWRR) {
        int64_t sum = 0, total = 0;
        for (size_t i = 0; i < lb->n; i++) {
            if (lb->weight[i] < 1)
                return false;
            total += lb->weight[i];
        }
        if (total != lb->total)
            return false;
        for (size_t i = 0; i < lb->n; i++) {
            if (lb->current[i] < -total || lb->current[i] > total)
                return false;
            sum += lb->current[i];
        }
        if (sum != 0)
            return false;
    }
    return true;
}

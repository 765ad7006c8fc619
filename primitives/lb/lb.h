/* lb.h - client-side load balancing: pickers (round robin, random, the seed's biased
 * shuffle, the seed's Fisher-Yates, an inside-out permutation like Go's rand.Perm, power
 * of two choices, NGINX's smooth weighted round robin), the exact theory of where each
 * endpoint lands in a request's try order, and invariant checkers.
 *
 * Pure: never does I/O, never reads a clock, never draws a random number except from the
 * struct rng the caller passes. The retry loop itself (send, wait, try the next) is the
 * caller's: it blocks, so it lives with env (lab/lb/lb.c).
 *
 * ---- What "order" means -------------------------------------------------------------
 *
 * A request asks its picker once, for an order: a permutation of the n endpoints, the
 * first one tried first. With an attempt limit A (the seed: 3), the request tries
 * order[0], order[1], ... order[min(A, n) - 1], stopping at the first success; an
 * endpoint is never tried twice by one request. Per picker:
 *
 *   rr           order = c, c+1, ..., c+n-1 (mod n) where c is the cursor; the cursor
 *                advances by one per request (not per attempt), so retries go to the
 *                next endpoints in the ring.
 *   random       one uniform start s = rng_below(n), then the ring: s, s+1, ... (mod n).
 *                (Our choice: the seed only says "pick one at random"; walking the ring
 *                costs one draw and never repeats an endpoint. Its consequence, shared
 *                with rr: a dead endpoint's retries all land on its ring successor.)
 *   biased       the seed's shuffle: the index array starts as 0..n-1 for every request
 *                (as the seed declares it inside request()), then n/2 (integer division)
 *                swaps of positions a, b drawn independently and uniformly in [0, n)
 *                (a == b swaps nothing). order = the array.
 *   fisher-yates the seed's corrected shuffle: from 0..n-1, for i = n down to 1 swap
 *                positions i-1 and rng_below(i). order = the array. Uniform.
 *   inside-out   Go's rand.Perm: for i = 0..n-1, j = rng_below(i+1), m[i] = m[j],
 *                m[j] = i. order = m. Uniform.
 *   p2c          power of two choices, least outstanding requests: draw two distinct
 *                endpoints a = rng_below(n), b = rng_below(n-1) (+1 if >= a); the one
 *                with fewer outstanding attempts (lb_start/lb_done) goes first; a tie
 *                goes to a, the first drawn (a random choice, so ties favour no index).
 *                Then the other of the two, then the rest in ring order after the
 *                first. With n == 1, order = {0} and no draw.
 *   swrr         NGINX's smooth weighted round robin: every endpoint's current weight
 *                grows by its weight, the largest current weight wins (ties: the lowest
 *                index, as NGINX's loop keeps the first best), and the winner's current
 *                weight drops by the total. order[0] = the winner (committed). The
 *                retries order[1..] follow NGINX's retry rule (skip the endpoints already
 *                tried, add weights, take the largest, subtract the total of the untried)
 *                on a scratch copy, so a retry does not shift the sequence the next
 *                request sees; NGINX commits retry picks. No draw.
 */
#ifndef DISTLAB_LB_H
#define DISTLAB_LB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng/rng.h"

enum lb_policy {
    LB_RR,
    LB_RANDOM,
    LB_BIASED,
    LB_FISHER_YATES,
    LB_INSIDE_OUT,
    LB_P2C,
    LB_SWRR,
    LB_POLICY_COUNT
};

/* The policies' names in scenarios and output, in enum order (names.h). */
#define LB_POLICY_NAMES "rr", "random", "biased", "fisher-yates", "inside-out", "p2c", "swrr"
extern const char *const lb_policy_names[];
/* A policy's name; NULL for an out-of-range value. */
const char *lb_policy_name(enum lb_policy p);
/* The names joined by '|', in thread-local storage. */
const char *lb_policy_choices(void);
/* Parse a name. Returns 0, or -EINVAL for an unknown name (*out untouched). */
int lb_policy_parse(const char *name, enum lb_policy *out);

/* Largest endpoint count a picker accepts: indices are uint32_t. */
#define LB_MAX_ENDPOINTS ((size_t)1 << 31)

struct lb; /* opaque, defined in lb.c */

/* A picker over n endpoints (1 <= n <= LB_MAX_ENDPOINTS). 'weights' (n positive integers)
 * is read by swrr only and copied; NULL means every weight is 1. Their sum must fit in
 * int64_t. Returns NULL on -EINVAL (n out of range, a weight < 1) or -ENOMEM. O(n). */
struct lb *lb_create(enum lb_policy policy, size_t n, const int64_t *weights);
void lb_destroy(struct lb *lb);

enum lb_policy lb_policy(const struct lb *lb);
size_t lb_size(const struct lb *lb);

/* One request's try order (see the top of this file) into order[0..n), a caller-owned
 * array of lb_size() entries, so concurrent requests can share one picker. Updates the
 * picker's state (rr cursor, swrr current weights). Costs: O(n) (the whole order is
 * written), except swrr: O(n^2), as each retry position is a pass of NGINX's rule (about
 * 1 ms at n = 1000). The shuffles draw n/2 pairs (biased) or n values. */
void lb_order(struct lb *lb, struct rng *rng, uint32_t *order);

/* The first endpoint of a request's order, without writing the rest: the same draws and
 * the same state change as lb_order, so lb_pick(...) == lb_order(...)[0] for equal
 * states and generators. O(1) for rr, random and p2c; O(n) for swrr and the shuffles
 * (which shuffle a scratch array: the seed's shuffles decide position 0 last). */
uint32_t lb_pick(struct lb *lb, struct rng *rng);

/* An attempt on endpoint i starts / ends (reply or timeout). p2c reads the resulting
 * outstanding counts; the other policies only keep them. lb_done on an endpoint with
 * nothing outstanding is ignored and returns -EINVAL; both return 0 otherwise. */
int lb_start(struct lb *lb, uint32_t i);
int lb_done(struct lb *lb, uint32_t i);
/* Attempts outstanding on endpoint i now. */
uint64_t lb_outstanding(const struct lb *lb, uint32_t i);

/* Invariants of the picker's state: rr cursor < n; swrr current weights sum to 0 (they
 * do after every pick: each pick adds the total and takes it back from the winner),
 * each within [-total, total]. For tests. */
bool lb_check(const struct lb *lb);

/* true when a[0..n) holds each of 0..n-1 exactly once. O(n) time, O(n) memory (a bitmap
 * on the heap; false as well if it cannot be allocated). */
bool lb_is_permutation(const uint32_t *a, size_t n);

/* ---- The shuffles themselves, on caller arrays (used by the pickers and the bench) -- */

/* a[i] = i for i < n. */
void lb_identity(uint32_t *a, size_t n);
/* The seed's biased shuffle of a[0..n): n/2 swaps of two independently uniform positions. */
void lb_shuffle_biased(uint32_t *a, size_t n, struct rng *rng);
/* The seed's Fisher-Yates: for i = n down to 1, swap a[i-1] and a[rng_below(i)]. Uniform
 * over the n! orders. n draws, n swaps. From n = 4096 on it draws 16 steps ahead to
 * prefetch the elements it will swap (same draws, same order, same result): about 1.3x
 * the bare rng_below loop at n = 1e6 on an idle machine. */
void lb_shuffle_fisher_yates(uint32_t *a, size_t n, struct rng *rng);
/* Go's rand.Perm, inside-out: writes a uniform permutation of 0..n-1 into m[0..n) without
 * reading it first. n draws. */
void lb_perm_inside_out(uint32_t *m, size_t n, struct rng *rng);

/* ---- Exact theory ------------------------------------------------------------------ */

/* Largest n the exact theory accepts (its cost grows as n^4 for the shuffles). */
#define LB_THEORY_MAX_N 64

/* P[i*n + j] = P(endpoint i is at position j of a request's order), exactly, computed
 * from the algorithm itself:
 *   biased, fisher-yates, inside-out: each step swaps two positions chosen independently
 *     of the contents, so one endpoint's position is a Markov chain; its transition
 *     matrix per step is built by enumerating that step's draws, and P is the product of
 *     the steps' matrices applied to the identity (biased: M^(n/2));
 *   random, p2c: by enumerating the draws (p2c with every outstanding count equal, the
 *     state it starts in and, by symmetry, the average over identical endpoints);
 *   rr, swrr: by running a fresh picker over one whole period (n requests for rr, the
 *     sum of the weights for swrr) and averaging its orders.
 * 'weights' as for lb_create. Returns 0, or -EINVAL (n < 1 or n > LB_THEORY_MAX_N, a bad
 * weight, swrr weights summing to more than 1e7), -ENOMEM. */
int lb_theory_position(enum lb_policy policy, size_t n, const int64_t *weights, double *P);

/* Expected share of attempts per endpoint, share[0..n) summing to 1, for position matrix
 * P (as above), attempt limit 'attempts' (>= 1; capped at n) and an iid per-attempt
 * failure probability f in [0, 1]: attempt j happens iff the j before it failed, so
 * share[i] is proportional to sum_{j < attempts} P[i][j] * f^j. Returns 0 or -EINVAL. */
int lb_theory_share(const double *P, size_t n, int attempts, double f, double *share);

/* max(share) / min(share); +inf when some share is 0. */
double lb_max_min_ratio(const double *share, size_t n);

#endif

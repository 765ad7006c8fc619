/* rng.h - the seeded random source: xoshiro256** with unbiased bounded integers.
 * Pure: never reads a clock or any global state. Every random draw in distlab
 * comes from a struct rng seeded from the run seed, so a run replays exactly. */
#ifndef DISTLAB_RNG_H
#define DISTLAB_RNG_H

#include <stdbool.h>
#include <stdint.h>

/* Callers embed this (one per actor or per structure); 32 bytes. */
struct rng {
    uint64_t s[4];
};

/* splitmix64 finaliser: a bijective 64-bit mix, used to expand seeds. */
static inline uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Seed from one 64-bit value (expanded with splitmix64; never all-zero state). */
void rng_seed(struct rng *r, uint64_t seed);

/* Seed an independent stream 'stream' of run seed 'seed': used for one stream
 * per actor (stream = actor id) so adding an actor does not shift the others. */
void rng_seed_stream(struct rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t rng__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Next 64 uniformly distributed bits. O(1), about 1 ns. */
static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rng__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rng__rotl(s[3], 45);
    return result;
}

__extension__ typedef unsigned __int128 rng__u128;

/* One step of Lemire's multiply-and-reject: maps 64 random bits x to *out in [0, n)
 * and returns true, or returns false when x falls in the biased sliver and must be
 * redrawn (probability < n / 2^64). n must be > 0. */
static inline bool rng_lemire(uint64_t x, uint64_t n, uint64_t *out)
{
    rng__u128 m = (rng__u128)x * n;
    uint64_t lo = (uint64_t)m;
    *out = (uint64_t)(m >> 64);
    return lo >= n || lo >= (0 - n) % n;
}

/* Uniform integer in [0, n), exactly unbiased. n == 0 returns 0. */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    uint64_t v = 0;
    if (n)
        while (!rng_lemire(rng_next(r), n, &v))
            ;
    return v;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rng_double(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* true with probability p (p <= 0: never, p >= 1: always). */
static inline int rng_chance(struct rng *r, double p)
{
    return rng_double(r) < p;
}

#endif

/* rng.c - seeding for xoshiro256**; the generator itself is inline in rng.h. */
#include "rng.h"

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x = rng_mix(x);
        r->s[i] = x;
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

void rng_seed_stream(struct rng *r, uint64_t seed, uint64_t stream)
{
    rng_seed(r, rng_mix(seed) ^ rng_mix(stream ^ 0x5851f42d4c957f2dULL));
}

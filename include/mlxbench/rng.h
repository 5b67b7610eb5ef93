/* rng: a small, fast, seedable PRNG (xoshiro256**, seeded by splitmix64).
 * Every random choice of a run (arrivals, prompt picks, emulator jitter and
 * faults) comes from one of these, so a seed reproduces the run. Pure C. */
#ifndef MLXBENCH_RNG_H
#define MLXBENCH_RNG_H

#include <stdint.h>

typedef struct mb_rng { uint64_t s[4]; } mb_rng;

void mb_rng_seed(mb_rng *r, uint64_t seed);
uint64_t mb_rng_next(mb_rng *r);
/* Uniform double in [0, 1). */
double mb_rng_uniform(mb_rng *r);
/* Exponential with the given mean. */
double mb_rng_exp(mb_rng *r, double mean);
/* Standard normal (Box-Muller). */
double mb_rng_normal(mb_rng *r);
/* Gamma(shape k > 0, scale theta) (Marsaglia-Tsang). */
double mb_rng_gamma(mb_rng *r, double k, double theta);

#endif

/* rng.c: xoshiro256** and the distributions the engine samples. */
#include <math.h>
#include "mlxbench/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 spreads any seed (0 included) over the 256-bit state. */
void mb_rng_seed(mb_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t mb_rng_next(mb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* 53 random bits: every double in [0,1) this can return is equally likely. */
double mb_rng_uniform(mb_rng *r)
{
    return (double)(mb_rng_next(r) >> 11) * 0x1.0p-53;
}

double mb_rng_exp(mb_rng *r, double mean)
{
    return -mean * log1p(-mb_rng_uniform(r));
}

double mb_rng_normal(mb_rng *r)
{
    double u = mb_rng_uniform(r), v = mb_rng_uniform(r);
    return sqrt(-2.0 * log1p(-u)) * cos(2.0 * M_PI * v);
}

/* Marsaglia & Tsang (2000); shape < 1 via the boost u^(1/k). */
double mb_rng_gamma(mb_rng *r, double k, double theta)
{
    if (k < 1.0) {
        double u = mb_rng_uniform(r);
        return mb_rng_gamma(r, k + 1.0, theta) * pow(1.0 - u, 1.0 / k);
    }
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v, u;
        do {
            x = mb_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        u = mb_rng_uniform(r);
        if (u < 1.0 - 0.0331 * x * x * x * x)
            return d * v * theta;
        if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return d * v * theta;
    }
}

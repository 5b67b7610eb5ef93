/* hist_int.h: mb_hist internals shared by hist.c and hist_codec.c.
 *
 * Layout is HdrHistogram's with a unit magnitude of 0: a value v is stored as
 * the integer u = round(v / lowest); bucket 0 holds u in [0, 2*half) at unit
 * width, bucket b > 0 holds [half<<b, half<<(b+1)) at width 1<<b, and only the
 * upper half of each later bucket gets its own slots in `counts`. */
#ifndef MLXBENCH_HIST_INT_H
#define MLXBENCH_HIST_INT_H

#include <stdint.h>
#include <string.h>
#include "mlxbench/hist.h"

/* Exact sums are unsigned fixed-point integers in 64-bit limbs, the sum with
 * its unit at 2^-1074 (the least subnormal), the sum of squares at 2^-2148.
 * Fewer than 2^64 values below 2^1024 stay under 2^2162 and 2^4260 units. */
#define MB_HSUM_LIMBS 34
#define MB_HSQ_LIMBS 67
#define MB_HSUM_SCALE 1074
#define MB_HSQ_SCALE 2148

/* highest/lowest is capped at 2^53 so every unit count is an exact double and
 * the counts array stays bounded (at most ~4.8M slots at 5 digits). */
#define MB_HIST_MAX_RATIO 9007199254740992.0

struct mb_hist {
    double lowest, highest;
    int digits;
    int half_mag;              /* log2 of the sub-bucket half count */
    uint64_t hi_units;         /* highest in units of lowest */
    size_t len;                /* slots in counts */
    size_t lo_idx, hi_idx;     /* non-empty slot range; lo_idx > hi_idx if empty */
    uint64_t count, saturated;
    double min, max;
    uint64_t sum[MB_HSUM_LIMBS];
    uint64_t sumsq[MB_HSQ_LIMBS];
    uint64_t *counts;
};

/* Slot of a unit count (HdrHistogram's counts_index with unit magnitude 0). */
static inline size_t mb_hist__index(const mb_hist *h, uint64_t u)
{
    uint64_t mask = ((uint64_t)2 << h->half_mag) - 1;
    int bucket = 64 - __builtin_clzll(u | mask) - (h->half_mag + 1);
    uint64_t sub = u >> bucket;
    return ((size_t)(bucket + 1) << h->half_mag) +
           (size_t)(sub - ((uint64_t)1 << h->half_mag));
}

/* Unit count of a finite v >= 0: rounded, so i*lowest lands on i despite the
 * division's rounding; clamped to highest. */
static inline uint64_t mb_hist__units(const mb_hist *h, double v)
{
    if (v >= h->highest)
        return h->hi_units;
    uint64_t u = (uint64_t)(v / h->lowest + 0.5);
    return u > h->hi_units ? h->hi_units : u;
}

/* v = m * 2^e exactly, m < 2^53, from the bits (v finite, >= 0). */
static inline void mb_hist__split(double v, uint64_t *m, int *e)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    int ex = (int)((b >> 52) & 0x7ff);
    *m = b & (((uint64_t)1 << 52) - 1);
    if (ex) {
        *m |= (uint64_t)1 << 52;
        *e = ex - 1075;
    } else {
        *e = -1074;
    }
}

/* 64x64 -> 128-bit product from 32-bit halves: portable, no __int128. */
static inline void mb_hist__mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    *lo = (mid << 32) | (ll & 0xffffffffu);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

/* L += p << off, with p of np limbs (np <= 3). Bits past n limbs cannot occur
 * while the total count fits 64 bits (see above) and are dropped. */
static inline void mb_hist__add_at(uint64_t *L, int n, const uint64_t *p, int np, unsigned off)
{
    uint64_t s[4];
    int q = (int)(off / 64), r = (int)(off % 64), ns = np + 1;
    for (int i = 0; i < ns; i++) {
        uint64_t cur = i < np ? p[i] : 0, prev = i ? p[i - 1] : 0;
        s[i] = r ? (cur << r) | (prev >> (64 - r)) : cur;
    }
    uint64_t carry = 0;
    int k = q;
    for (int i = 0; i < ns && k < n; i++, k++) {
        uint64_t t = L[k] + s[i];
        uint64_t c = t < s[i];
        L[k] = t + carry;
        carry = c + (L[k] < carry);
    }
    for (; carry && k < n; k++)
        carry = ++L[k] == 0;
}

/* sum += n*v and sumsq += n*v^2 exactly: v = m*2^e, so n*m (2 limbs) lands
 * at bit e+1074 of sum and n*m^2 (3 limbs) at bit 2e+2148 of sumsq. */
static inline void mb_hist__moments_add(uint64_t *sum, uint64_t *sumsq, double v, uint64_t n)
{
    uint64_t m, p[3], sq[2], h0, l1, h1;
    int e;
    mb_hist__split(v, &m, &e);
    if (!m)
        return;
    unsigned off = (unsigned)(e + MB_HSUM_SCALE);
    mb_hist__mul64(m, n, &p[1], &p[0]);
    mb_hist__add_at(sum, MB_HSUM_LIMBS, p, 2, off);
    mb_hist__mul64(m, m, &sq[1], &sq[0]);
    mb_hist__mul64(sq[0], n, &h0, &p[0]);
    mb_hist__mul64(sq[1], n, &h1, &l1);
    p[1] = h0 + l1;
    p[2] = h1 + (p[1] < l1);
    mb_hist__add_at(sumsq, MB_HSQ_LIMBS, p, 3, 2 * off);
}

#endif

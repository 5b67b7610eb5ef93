/* hist.c: HDR-style log-linear histogram with exact moments.
 *
 * Buckets give percentiles within 10^-digits relative error; count, min, max,
 * sum and sum of squares are exact (the sums are wide fixed-point integers,
 * see hist_int.h), so mean and stddev carry no bucket error and merging in any
 * order gives bit-identical results. The encoding lives in hist_codec.c. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include "mlxbench/errors.h"
#include "hist_int.h"

/* ---- wide integers (mb_hist__mul64/add_at/moments_add: hist_int.h) ---- */

/* dst += src, n limbs each (merging exact sums). */
static void big_add(uint64_t *dst, const uint64_t *src, int n)
{
    uint64_t carry = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t = dst[i] + src[i];
        uint64_t c = t < src[i];
        dst[i] = t + carry;
        carry = c + (dst[i] < carry);
    }
}

/* Value of L as m * 2^*e with m in [0.5, 1], rounded to nearest even from
 * the top 64 bits plus a sticky bit: the one rounding mean/stddev take. */
static double big_frexp(const uint64_t *L, int n, int *e)
{
    int t = n - 1;
    while (t >= 0 && !L[t])
        t--;
    if (t < 0) {
        *e = 0;
        return 0;
    }
    int b = 64 - __builtin_clzll(L[t]);
    uint64_t x = L[t] << (64 - b), sticky = 0;
    if (t > 0) {
        if (b < 64) {
            x |= L[t - 1] >> b;
            sticky = L[t - 1] << (64 - b);
        } else {
            sticky = L[t - 1];
        }
        for (int i = 0; i < t - 1; i++)
            sticky |= L[i];
    }
    uint64_t keep = x >> 11, rem = x & 0x7ff;
    if (rem > 0x400 || (rem == 0x400 && (sticky || (keep & 1))))
        keep++;
    *e = 64 * t + b;
    return (double)keep / 9007199254740992.0;
}

/* ---- layout --------------------------------------------------------------- */

/* First unit count and width of slot idx (inverse of mb_hist__index). */
static void slot_range(const mb_hist *h, size_t idx, uint64_t *lo, uint64_t *width)
{
    uint64_t half = (uint64_t)1 << h->half_mag;
    int bucket = (int)(idx >> h->half_mag) - 1;
    uint64_t sub = (idx & (half - 1)) + half;
    if (bucket < 0) {
        sub -= half;
        bucket = 0;
    }
    *lo = sub << bucket;
    *width = (uint64_t)1 << bucket;
}

/* Highest value equivalent to slot idx: what percentiles report. */
static double slot_high(const mb_hist *h, size_t idx)
{
    uint64_t lo, w;
    slot_range(h, idx, &lo, &w);
    return (double)(lo + w - 1) * h->lowest;
}

/* Adds n to slot idx and widens the non-empty range. */
static void slot_add(mb_hist *h, size_t idx, uint64_t n)
{
    h->counts[idx] += n;
    if (idx < h->lo_idx)
        h->lo_idx = idx;
    if (idx > h->hi_idx)
        h->hi_idx = idx;
}

/* ---- public API ------------------------------------------------------------ */

/* Validates settings and sizes the counts array the HdrHistogram way:
 * half count = 2^ceil(log2(2*10^digits)) / 2, buckets doubling until the
 * first untrackable unit count exceeds highest/lowest. */
static int layout(mb_hist *h, double lowest, double highest, int digits)
{
    if (digits < 1 || digits > 5 || !isfinite(lowest) || !(lowest > 0) ||
        !isfinite(highest) || !(highest >= 2 * lowest) ||
        !(highest / lowest <= MB_HIST_MAX_RATIO))
        return MB_EINVAL;
    uint64_t res = 2;
    for (int i = 0; i < digits; i++)
        res *= 10;
    int mag = 0;
    while (((uint64_t)1 << mag) < res)
        mag++;
    int half_mag = (mag > 1 ? mag : 1) - 1;
    uint64_t hi_units = (uint64_t)(highest / lowest + 0.5);
    uint64_t smallest = (uint64_t)2 << half_mag;
    size_t buckets = 1;
    while (smallest <= hi_units) {
        smallest <<= 1;
        buckets++;
    }
    h->len = (buckets + 1) << half_mag;
    h->lowest = lowest;
    h->highest = highest;
    h->digits = digits;
    h->half_mag = half_mag;
    h->hi_units = hi_units;
    h->lo_idx = h->len;
    return 0;
}

int mb_hist_new(mb_hist **out, double lowest, double highest, int digits)
{
    mb_hist *h = calloc(1, sizeof *h);
    int rc;
    *out = NULL;
    if (!h)
        return MB_ENOMEM;
    if ((rc = layout(h, lowest, highest, digits)) < 0) {
        free(h);
        return rc;
    }
    h->counts = calloc(h->len, sizeof *h->counts);
    if (!h->counts) {
        free(h);
        return MB_ENOMEM;
    }
    *out = h;
    return 0;
}

/* Frees h and its counts; NULL is fine. */
void mb_hist_free(mb_hist *h)
{
    if (!h)
        return;
    free(h->counts);
    free(h);
}

/* Clears samples, keeps settings; touches only the non-empty slot range. */
void mb_hist_reset(mb_hist *h)
{
    if (h->lo_idx <= h->hi_idx)
        memset(h->counts + h->lo_idx, 0, (h->hi_idx - h->lo_idx + 1) * sizeof *h->counts);
    h->lo_idx = h->len;
    h->hi_idx = 0;
    h->count = h->saturated = 0;
    h->min = h->max = 0;
    memset(h->sum, 0, sizeof h->sum);
    memset(h->sumsq, 0, sizeof h->sumsq);
}

/* The scalars of recording n copies of v (v checked, -0.0 made +0.0). */
static void scalars_add(mb_hist *h, double v, uint64_t n)
{
    if (v > h->highest)
        h->saturated += n;
    if (!h->count || v < h->min)
        h->min = v;
    if (!h->count || v > h->max)
        h->max = v;
    h->count += n;
    mb_hist__moments_add(h->sum, h->sumsq, v, n);
}

/* Records n copies of v: bucket by rounded unit count (clamped to highest,
 * counted saturated), moments from the exact value. */
int mb_hist_record(mb_hist *h, double v, uint64_t n)
{
    if (!(v >= 0) || !isfinite(v))
        return MB_EINVAL;
    if (n == 0)
        return 0;
    if (h->count > UINT64_MAX - n)
        return MB_ERANGE;
    if (v == 0)
        v = 0;                       /* -0.0 -> +0.0 */
    slot_add(h, mb_hist__index(h, mb_hist__units(h, v)), n);
    scalars_add(h, v, n);
    return 0;
}

/* Exact scalars, kept outside the buckets (0 when empty). */
uint64_t mb_hist_count(const mb_hist *h) { return h->count; }
uint64_t mb_hist_saturated(const mb_hist *h) { return h->saturated; }
double mb_hist_min(const mb_hist *h) { return h->min; }
double mb_hist_max(const mb_hist *h) { return h->max; }

/* Bytes held by h: the struct plus its counts array. */
size_t mb_hist_memsize(const mb_hist *h)
{
    return sizeof *h + h->len * sizeof *h->counts;
}

/* sum/count with one rounding of the exact sum, scaled after dividing so a
 * sum beyond DBL_MAX still gives a finite mean. */
double mb_hist_mean(const mb_hist *h)
{
    if (!h->count)
        return 0;
    int e;
    double m = big_frexp(h->sum, MB_HSUM_LIMBS, &e);
    return ldexp(m / (double)h->count, e - MB_HSUM_SCALE);
}

/* Population stddev = sqrt(n*S2 - S1^2) / n with the difference computed
 * exactly in wide integers: no cancellation when stddev << mean. */
double mb_hist_stddev(const mb_hist *h)
{
    enum { N = 2 * MB_HSUM_LIMBS };          /* 68 >= MB_HSQ_LIMBS + 1 */
    uint64_t a[N] = {0}, b[N] = {0};
    if (h->count < 2)
        return 0;
    for (int i = 0; i < MB_HSQ_LIMBS; i++) {  /* a = n * sumsq */
        uint64_t hi, lo;
        mb_hist__mul64(h->sumsq[i], h->count, &hi, &lo);
        uint64_t p[2] = {lo, hi};
        mb_hist__add_at(a, N, p, 2, (unsigned)(64 * i));
    }
    for (int i = 0; i < MB_HSUM_LIMBS; i++) { /* b = sum^2 */
        if (!h->sum[i])
            continue;
        for (int j = 0; j < MB_HSUM_LIMBS; j++) {
            uint64_t hi, lo;
            mb_hist__mul64(h->sum[i], h->sum[j], &hi, &lo);
            uint64_t p[2] = {lo, hi};
            mb_hist__add_at(b, N, p, 2, (unsigned)(64 * (i + j)));
        }
    }
    int i = N - 1;
    while (i > 0 && a[i] == b[i])
        i--;
    if (a[i] <= b[i])
        return 0;                             /* zero (or inconsistent input) */
    uint64_t borrow = 0;
    for (int k = 0; k < N; k++) {
        uint64_t t = a[k] - b[k];
        uint64_t bo = a[k] < b[k];
        a[k] = t - borrow;
        borrow = bo + (t < borrow);
    }
    int e;
    double m = big_frexp(a, N, &e);
    int k = e - MB_HSQ_SCALE;
    if (k & 1) {
        m *= 2;
        k--;
    }
    return ldexp(sqrt(m) / (double)h->count, k / 2);
}

/* Rank ceil(p/100*count) (shaved by a few ulps so 99.9% of 1e5 is 99900, not
 * 99901), then the first slot whose running count reaches it. */
double mb_hist_percentile(const mb_hist *h, double p)
{
    if (!h->count)
        return 0;
    if (!(p > 0))
        return h->min;
    if (p >= 100)
        return h->max;
    double r = p / 100.0 * (double)h->count;
    r = ceil(r - r * 4 * DBL_EPSILON);
    uint64_t rank = r < 1 ? 1 : r >= (double)h->count ? h->count : (uint64_t)r;
    uint64_t cum = 0;
    for (size_t i = h->lo_idx; i <= h->hi_idx; i++) {
        cum += h->counts[i];
        if (cum >= rank) {
            double v = slot_high(h, i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* Reports the construction settings; any out pointer may be NULL. */
void mb_hist_settings(const mb_hist *h, double *lowest, double *highest, int *digits)
{
    if (lowest)
        *lowest = h->lowest;
    if (highest)
        *highest = h->highest;
    if (digits)
        *digits = h->digits;
}

/* Adds n at value v into dst's buckets only (cross-settings merge). */
static void rerecord(mb_hist *dst, double v, uint64_t n)
{
    slot_add(dst, mb_hist__index(dst, mb_hist__units(dst, v)), n);
    if (v > dst->highest)
        dst->saturated += n;
}

static int same_settings(const mb_hist *a, const mb_hist *b)
{
    return a->lowest == b->lowest && a->highest == b->highest && a->digits == b->digits;
}

/* Adds src's slot i (n values) into dst: as is with the same settings,
 * else re-recorded at its median-equivalent value clamped to [src min,
 * src max] (so every slot stays within dst's [min, max] buckets), src's
 * saturated values at src max (*sat: those not yet placed). */
static void merge_slot(mb_hist *dst, const mb_hist *src, size_t i, uint64_t n, uint64_t *sat)
{
    uint64_t lo, w;
    if (same_settings(dst, src)) {
        slot_add(dst, i, n);
        return;
    }
    if (i == mb_hist__index(src, src->hi_units) && *sat) {
        uint64_t ns = *sat < n ? *sat : n;
        rerecord(dst, src->max, ns);
        *sat -= ns;
        n -= ns;
        if (!n)
            return;
    }
    slot_range(src, i, &lo, &w);
    double v = (double)(lo + (w >> 1)) * src->lowest;
    rerecord(dst, v < src->min ? src->min : v > src->max ? src->max : v, n);
}

static void merge_scalars(mb_hist *dst, const mb_hist *src);

/* Slot by slot (merge_slot); moments merge exactly either way. */
int mb_hist_merge(mb_hist *dst, const mb_hist *src)
{
    uint64_t sat = src->saturated;
    if (!src->count)
        return 0;
    if (dst->count > UINT64_MAX - src->count)
        return MB_ERANGE;
    for (size_t i = src->lo_idx; i <= src->hi_idx; i++)
        if (src->counts[i])
            merge_slot(dst, src, i, src->counts[i], &sat);
    merge_scalars(dst, src);
    return 0;
}

/* count, saturated (same settings), min, max and the exact sums. */
static void merge_scalars(mb_hist *dst, const mb_hist *src)
{
    if (same_settings(dst, src))
        dst->saturated += src->saturated;
    if (!dst->count || src->min < dst->min)
        dst->min = src->min;
    if (!dst->count || src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    big_add(dst->sum, src->sum, MB_HSUM_LIMBS);
    big_add(dst->sumsq, src->sumsq, MB_HSQ_LIMBS);
}

/* ---- sparse ---------------------------------------------------------------- */

struct mb_hist_sparse {
    mb_hist h;          /* settings and exact scalars; no counts array */
    uint32_t *key;      /* open addressing: slot + 1, 0 = empty */
    uint64_t *n;
    size_t cap, used;
};

int mb_hist_sparse_new(mb_hist_sparse **out, double lowest, double highest, int digits)
{
    mb_hist_sparse *s = calloc(1, sizeof *s);
    int rc;
    *out = NULL;
    if (!s)
        return MB_ENOMEM;
    if ((rc = layout(&s->h, lowest, highest, digits)) < 0 || s->h.len >= UINT32_MAX) {
        free(s);
        return rc < 0 ? rc : MB_EINVAL;
    }
    *out = s;
    return 0;
}

void mb_hist_sparse_free(mb_hist_sparse *s)
{
    if (!s)
        return;
    free(s->key);
    free(s->n);
    free(s);
}

/* The table entry of slot idx, inserted if absent (the table has room). */
static size_t sparse_find(uint32_t *key, size_t cap, size_t idx)
{
    size_t i = (idx * 0x9E3779B1u) & (cap - 1);
    while (key[i] && key[i] != idx + 1)
        i = (i + 1) & (cap - 1);
    return i;
}

static int sparse_grow(mb_hist_sparse *s)
{
    size_t cap = s->cap ? s->cap * 2 : 16;
    uint32_t *key = calloc(cap, sizeof *key);
    uint64_t *n = calloc(cap, sizeof *n);
    if (!key || !n) {
        free(key);
        free(n);
        return MB_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->key[i]) {
            size_t j = sparse_find(key, cap, s->key[i] - 1);
            key[j] = s->key[i];
            n[j] = s->n[i];
        }
    free(s->key);
    free(s->n);
    s->key = key;
    s->n = n;
    s->cap = cap;
    return 0;
}

int mb_hist_sparse_record(mb_hist_sparse *s, double v)
{
    if (!(v >= 0) || !isfinite(v))
        return MB_EINVAL;
    if (s->h.count == UINT64_MAX)
        return MB_ERANGE;
    if (v == 0)
        v = 0;
    if ((s->used + 1) * 2 > s->cap && sparse_grow(s) < 0)
        return MB_ENOMEM;
    size_t idx = mb_hist__index(&s->h, mb_hist__units(&s->h, v));
    size_t i = sparse_find(s->key, s->cap, idx);
    if (!s->key[i]) {
        s->key[i] = (uint32_t)idx + 1;
        s->used++;
    }
    s->n[i]++;
    scalars_add(&s->h, v, 1);
    return 0;
}

uint64_t mb_hist_sparse_count(const mb_hist_sparse *s)
{
    return s->h.count;
}

size_t mb_hist_sparse_memsize(const mb_hist_sparse *s)
{
    return sizeof *s + s->cap * (sizeof *s->key + sizeof *s->n);
}

int mb_hist_merge_sparse(mb_hist *dst, const mb_hist_sparse *src)
{
    uint64_t sat = src->h.saturated;
    if (!src->h.count)
        return 0;
    if (dst->count > UINT64_MAX - src->h.count)
        return MB_ERANGE;
    for (size_t i = 0; i < src->cap; i++)
        if (src->key[i])
            merge_slot(dst, &src->h, src->key[i] - 1, src->n[i], &sat);
    merge_scalars(dst, &src->h);
    return 0;
}

/* Starts at the first non-empty slot; h must not change while iterating. */
void mb_hist_iter_init(mb_hist_iter *it, const mb_hist *h)
{
    it->h = h;
    it->idx = h->lo_idx;
}

/* Next non-empty slot in increasing value order; 0 when done. */
int mb_hist_iter_next(mb_hist_iter *it, double *value, uint64_t *count)
{
    const mb_hist *h = it->h;
    for (; it->idx <= h->hi_idx && it->idx < h->len; it->idx++) {
        if (h->counts[it->idx]) {
            *value = slot_high(h, it->idx);
            *count = h->counts[it->idx++];
            return 1;
        }
    }
    return 0;
}

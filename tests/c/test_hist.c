/* test_hist.c: mb_hist against exact sorted-sample statistics. */
#include <float.h>
#include <stdint.h>
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/hist.h"
#include "../../src/core/hist_int.h"   /* white box: the slots (test_hdr_encode) */

#define LOWEST 1e-6
#define HIGHEST 3600.0

/* splitmix64: a tiny seeded generator so failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }

static double rng_normal(uint64_t *s)
{
    double u = rng_unit(s), v = rng_unit(s);
    return sqrt(-2 * log(u > 0 ? u : 0x1p-53)) * cos(6.283185307179586 * v);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static mb_hist *new_hist(double lo, double hi, int digits)
{
    mb_hist *h = NULL;
    int rc = mb_hist_new(&h, lo, hi, digits);
    if (rc || !h) {
        fprintf(stderr, "mb_hist_new(%g, %g, %d) = %d\n", lo, hi, digits, rc);
        exit(2);
    }
    return h;
}

/* Encoding as a malloc'd string (NULL on error). */
static char *enc(const mb_hist *h)
{
    char *s = NULL;
    size_t n = 0;
    if (mb_hist_encode(h, &s, &n) || !s || strlen(s) != n)
        return NULL;
    return s;
}

static int same_encoding(const mb_hist *a, const mb_hist *b)
{
    char *x = enc(a), *y = enc(b);
    int r = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return r;
}

/* Rank ceil(p/100*n), robust to p/100 not being exact. */
static size_t rank_of(double p, size_t n)
{
    double r = ceil(p / 100.0 * (double)n - 1e-7);
    return r < 1 ? 1 : r > (double)n ? n : (size_t)r;
}

static const double PCTS[] = {0.1, 1, 5, 10, 25, 33.3, 50, 66.6, 75, 90, 95, 99, 99.5, 99.9, 99.99};
#define NPCTS (sizeof PCTS / sizeof PCTS[0])

/* Checks count/min/max/mean/stddev exactly and every percentile of PCTS
 * against the sorted samples within relative tolerance rel (at 3 digits the
 * bucket bound is 1/1024 < 0.1%). Values are kept as whole units of lowest,
 * so with `units` set half a unit of absolute error is allowed too: it only
 * matters below ~5e-4, where a unit (1e-6) is over 0.1% of the value. */
static void check_against(const mb_hist *h, double *xs, size_t n, double rel, int units,
                          const char *what)
{
    qsort(xs, n, sizeof *xs, cmp_double);
    long double sum = 0, ss = 0;
    for (size_t i = 0; i < n; i++)
        sum += xs[i];
    long double mean = sum / n;
    for (size_t i = 0; i < n; i++)
        ss += (xs[i] - mean) * (xs[i] - mean);
    double sd = (double)sqrtl(ss / n);
    CHECK_EQ_INT(mb_hist_count(h), n);
    CHECK_MSG(mb_hist_min(h) == xs[0], "%s min %.17g vs %.17g", what, mb_hist_min(h), xs[0]);
    CHECK_MSG(mb_hist_max(h) == xs[n - 1], "%s max", what);
    CHECK_NEAR(mb_hist_mean(h), (double)mean, fabs((double)mean) * 1e-14);
    CHECK_NEAR(mb_hist_stddev(h), sd, sd * 1e-12);
    CHECK(mb_hist_percentile(h, 0) == xs[0]);
    CHECK(mb_hist_percentile(h, 100) == xs[n - 1]);
    for (size_t k = 0; k < NPCTS; k++) {
        double exact = xs[rank_of(PCTS[k], n) - 1], got = mb_hist_percentile(h, PCTS[k]);
        double tol = exact * rel + (units ? 0.5 * LOWEST : 0);
        CHECK_MSG(fabs(got - exact) <= tol, "%s p%g: %.9g vs exact %.9g", what, PCTS[k], got, exact);
    }
}

/* The issue's case: i*1e-6 for i = 1..100000 has its median at 0.05. */
/* 100k latency-like samples (lognormal, sigma 0.5) encode to a few KB: about
 * 1.2 bytes per non-empty slot. */
static void test_size(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    uint64_t s = 11;
    for (int i = 0; i < 100000; i++)
        mb_hist_record(h, 0.2 * exp(0.5 * rng_normal(&s)), 1);
    char *e = enc(h);
    fprintf(stderr, "100k lognormal(0.5): %zu bytes\n", e ? strlen(e) : 0);
    CHECK(e && strlen(e) < 6144);
    free(e);
    mb_hist_free(h);
}

static void test_issue_linear(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    for (int i = 1; i <= 100000; i++)
        CHECK_EQ_INT(mb_hist_record(h, i * 1e-6, 1), 0);
    CHECK_NEAR(mb_hist_percentile(h, 50), 0.05, 0.05 * 1e-3);
    CHECK_NEAR(mb_hist_percentile(h, 99), 0.099, 0.099 * 1e-3);
    CHECK(mb_hist_percentile(h, 0) == 1e-6);
    CHECK(mb_hist_percentile(h, 100) == 100000 * 1e-6);
    CHECK_NEAR(mb_hist_mean(h), 0.0500005, 1e-15);
    CHECK_EQ_INT(mb_hist_saturated(h), 0);
    mb_hist_free(h);
}

/* Percentiles report the highest value equivalent to the bucket: 1.0 is
 * 1e6 units, in a bucket of width 512 spanning 999936..1000447. */
static void test_equivalent(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    mb_hist_record(h, 1.0, 1);
    mb_hist_record(h, 2.0, 1);
    CHECK(mb_hist_percentile(h, 50) == 1000447 * 1e-6);
    CHECK(mb_hist_percentile(h, 50.1) == 2.0);            /* clamped to max */
    mb_hist_iter it;
    double v;
    uint64_t c;
    mb_hist_iter_init(&it, h);
    CHECK(mb_hist_iter_next(&it, &v, &c) && v == 1000447 * 1e-6 && c == 1);
    CHECK(mb_hist_iter_next(&it, &v, &c) && v == 2000895 * 1e-6 && c == 1);
    CHECK(!mb_hist_iter_next(&it, &v, &c));
    /* unit-width region: exact multiples of lowest */
    mb_hist_reset(h);
    mb_hist_record(h, 1e-6, 1);
    mb_hist_record(h, 2e-6, 1);
    mb_hist_record(h, 1.4e-6, 1);      /* rounds to 1 unit */
    CHECK(mb_hist_percentile(h, 60) == 1e-6 && mb_hist_percentile(h, 70) == 2e-6);
    mb_hist_free(h);
}

/* Uniform and lognormal samples over the full range, several seeds. */
static void test_random(void)
{
    size_t n = 150000;
    double *xs = malloc(n * sizeof *xs);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        for (int kind = 0; kind < 3; kind++) {
            uint64_t s = seed * 1000003 + (uint64_t)kind;
            mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
            for (size_t i = 0; i < n; i++) {
                double v;
                if (kind == 0)
                    v = LOWEST + rng_unit(&s) * (HIGHEST - LOWEST);
                else if (kind == 1)      /* latency-like: median 0.2 s */
                    v = 0.2 * exp(0.8 * rng_normal(&s));
                else                     /* log-uniform over 1e-6..3600 */
                    v = LOWEST * pow(HIGHEST / LOWEST, rng_unit(&s));
                xs[i] = v;
                mb_hist_record(h, v, 1);
            }
            char what[64];
            snprintf(what, sizeof what, "seed %d kind %d", (int)seed, kind);
            check_against(h, xs, n, 1e-3, kind == 2, what);
            char *e = enc(h);
            CHECK(e != NULL);
            if (seed == 1 && e)
                fprintf(stderr, "kind %d: %zu samples encode to %zu bytes\n", kind, n, strlen(e));
            /* latency-like data: a few KB; log-uniform fills all 23552
             * slots, so about a byte per slot */
            size_t cap = kind == 1 ? 12288 : 28672;
            CHECK_MSG(e && strlen(e) < cap, "encoding too large: %zu", e ? strlen(e) : 0);
            free(e);
            mb_hist_free(h);
        }
    }
    free(xs);
}

/* Mean and stddev of values with a tiny spread around a large mean: the
 * exact sums must not cancel. */
static void test_moments(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    double xs[1000];
    uint64_t s = 42;
    for (int i = 0; i < 1000; i++) {
        xs[i] = 1000 + 1e-6 * rng_unit(&s);
        mb_hist_record(h, xs[i], 1);
    }
    long double sum = 0, ss = 0;
    for (int i = 0; i < 1000; i++)
        sum += xs[i];
    long double mean = sum / 1000;
    for (int i = 0; i < 1000; i++)
        ss += (xs[i] - mean) * (xs[i] - mean);
    double sd = (double)sqrtl(ss / 1000);
    CHECK_NEAR(mb_hist_mean(h), (double)mean, 1e-12);
    CHECK_NEAR(mb_hist_stddev(h), sd, sd * 1e-6);
    mb_hist_reset(h);
    CHECK_EQ_INT(mb_hist_count(h), 0);
    CHECK(mb_hist_mean(h) == 0 && mb_hist_stddev(h) == 0 && mb_hist_min(h) == 0);
    CHECK(mb_hist_percentile(h, 50) == 0);
    /* {1, 3}: mean 2, stddev 1 exactly */
    mb_hist_record(h, 1, 1);
    mb_hist_record(h, 3, 1);
    CHECK(mb_hist_mean(h) == 2 && mb_hist_stddev(h) == 1);
    /* single value: stddev 0, every percentile the value */
    mb_hist_reset(h);
    mb_hist_record(h, 0.123, 1);
    CHECK(mb_hist_stddev(h) == 0 && mb_hist_mean(h) == 0.123);
    CHECK(mb_hist_percentile(h, 1) == 0.123 && mb_hist_percentile(h, 99.9) == 0.123);
    /* extremes: the exact sums take DBL_MAX and subnormals */
    mb_hist_reset(h);
    mb_hist_record(h, DBL_MAX, 3);
    mb_hist_record(h, 4.9e-324, 1);
    CHECK(mb_hist_max(h) == DBL_MAX && mb_hist_min(h) == 4.9e-324);
    CHECK_NEAR(mb_hist_mean(h) / DBL_MAX, 0.75, 1e-15);
    CHECK_EQ_INT(mb_hist_saturated(h), 3);
    mb_hist_free(h);
}

/* record(v, n) equals n single records; argument checks. */
static void test_record(void)
{
    mb_hist *a = new_hist(LOWEST, HIGHEST, 3), *b = new_hist(LOWEST, HIGHEST, 3);
    CHECK_EQ_INT(mb_hist_record(a, 0.5, 1000), 0);
    CHECK_EQ_INT(mb_hist_record(a, 2.25, 7), 0);
    for (int i = 0; i < 1000; i++)
        mb_hist_record(b, 0.5, 1);
    for (int i = 0; i < 7; i++)
        mb_hist_record(b, 2.25, 1);
    CHECK(same_encoding(a, b));
    CHECK_EQ_INT(mb_hist_count(a), 1007);
    CHECK_EQ_INT(mb_hist_record(a, 1.0, 0), 0);
    CHECK_EQ_INT(mb_hist_count(a), 1007);
    CHECK_EQ_INT(mb_hist_record(a, -1e-9, 1), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_record(a, NAN, 1), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_record(a, INFINITY, 1), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_record(a, -INFINITY, 1), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_count(a), 1007);
    CHECK_EQ_INT(mb_hist_record(a, 1.0, UINT64_MAX), MB_ERANGE);
    CHECK_EQ_INT(mb_hist_count(a), 1007);

    /* below lowest: kept exactly as min, bucketed in the lowest slots */
    mb_hist_reset(a);
    mb_hist_record(a, 1e-9, 1);
    mb_hist_record(a, -0.0, 1);
    CHECK(mb_hist_min(a) == 0 && !signbit(mb_hist_min(a)) && mb_hist_max(a) == 1e-9);
    CHECK(mb_hist_percentile(a, 50) <= 1e-9);
    CHECK_EQ_INT(mb_hist_saturated(a), 0);
    /* above highest: saturated, exact max, top slot */
    mb_hist_record(a, 5000, 2);
    mb_hist_record(a, HIGHEST, 1);
    CHECK_EQ_INT(mb_hist_saturated(a), 2);
    CHECK(mb_hist_max(a) == 5000 && mb_hist_percentile(a, 100) == 5000);
    CHECK_NEAR(mb_hist_percentile(a, 60), HIGHEST, HIGHEST * 1e-3);
    mb_hist_iter it;
    double v, last = -1;
    uint64_t c, tot = 0;
    mb_hist_iter_init(&it, a);
    while (mb_hist_iter_next(&it, &v, &c)) {
        CHECK(v > last && c > 0);
        last = v;
        tot += c;
    }
    CHECK_EQ_INT(tot, 5);

    /* settings */
    double lo, hi;
    int d;
    mb_hist_settings(a, &lo, &hi, &d);
    CHECK(lo == LOWEST && hi == HIGHEST && d == 3);
    mb_hist *x = (mb_hist *)1;
    CHECK_EQ_INT(mb_hist_new(&x, LOWEST, HIGHEST, 0), MB_EINVAL);
    CHECK(x == NULL);
    CHECK_EQ_INT(mb_hist_new(&x, LOWEST, HIGHEST, 6), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, 0, HIGHEST, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, -1, HIGHEST, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, NAN, HIGHEST, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, 1, 1.5, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, 1, INFINITY, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, 1e-300, 1e300, 3), MB_EINVAL);
    CHECK_EQ_INT(mb_hist_new(&x, 1, 2, 1), 0);
    mb_hist_free(x);
    mb_hist_free(NULL);
    mb_hist_free(a);
    mb_hist_free(b);
}

/* Memory at 3 digits over 1e-6..3600: 23552 slots (22 buckets + 1, times a
 * half count of 1024), 8 bytes each. */
static void test_memsize(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    size_t m = mb_hist_memsize(h);
    fprintf(stderr, "3 digits 1e-6..3600: %zu bytes\n", m);
    CHECK(m < ((size_t)1 << 20));
    CHECK(m >= 23552 * 8 && m < 23552 * 8 + 4096);
    mb_hist_free(h);
    h = new_hist(1e-9, 1e6, 5);      /* the widest allowed kind of setting */
    CHECK(mb_hist_memsize(h) < ((size_t)64 << 20));
    mb_hist_free(h);
}

/* Same settings: merging parts equals recording everything into one, in any
 * order, down to the encoding (the sums are exact). */
static void test_merge_same(void)
{
    mb_hist *a = new_hist(LOWEST, HIGHEST, 3), *b = new_hist(LOWEST, HIGHEST, 3);
    mb_hist *all = new_hist(LOWEST, HIGHEST, 3), *empty = new_hist(LOWEST, HIGHEST, 3);
    mb_hist *rev = new_hist(LOWEST, HIGHEST, 3);
    uint64_t s = 7;
    for (int i = 0; i < 50000; i++) {
        double v = 0.05 * exp(1.5 * rng_normal(&s));
        if (i % 1000 == 0)
            v = 4000 + i;                      /* some saturated */
        mb_hist_record(i % 3 ? a : b, v, 1);
        mb_hist_record(all, v, 1);
    }
    CHECK_EQ_INT(mb_hist_merge(rev, b), 0);
    CHECK_EQ_INT(mb_hist_merge(rev, a), 0);
    CHECK_EQ_INT(mb_hist_merge(a, b), 0);
    CHECK_EQ_INT(mb_hist_merge(a, empty), 0);
    CHECK(same_encoding(a, all));
    CHECK(same_encoding(rev, all));
    CHECK(mb_hist_mean(a) == mb_hist_mean(all) && mb_hist_stddev(a) == mb_hist_stddev(all));
    CHECK_EQ_INT(mb_hist_saturated(a), 50);
    CHECK_EQ_INT(mb_hist_merge(empty, all), 0);
    CHECK(same_encoding(empty, all));
    mb_hist_free(a);
    mb_hist_free(b);
    mb_hist_free(all);
    mb_hist_free(empty);
    mb_hist_free(rev);
}

/* Different settings: moments exact, percentiles within the coarser side's
 * error plus ours. */
static void test_merge_different(void)
{
    static const struct { double lo, hi; int d; double rel; } cases[] = {
        {1e-5, 1000, 3, 2.1e-3}, {1e-3, 100, 2, 2.1e-2}, {1e-7, 1e5, 4, 1.1e-3},
    };
    size_t n = 60000;
    double *xs = malloc(n * sizeof *xs);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mb_hist *dst = new_hist(LOWEST, HIGHEST, 3);
        mb_hist *src = new_hist(cases[k].lo, cases[k].hi, cases[k].d);
        uint64_t s = 99 + k;
        for (size_t i = 0; i < n; i++) {
            xs[i] = 0.3 * exp(0.7 * rng_normal(&s));
            mb_hist_record(i & 1 ? src : dst, xs[i], 1);
        }
        CHECK_EQ_INT(mb_hist_merge(dst, src), 0);
        char what[32];
        snprintf(what, sizeof what, "merge case %d", (int)k);
        check_against(dst, xs, n, cases[k].rel, 0, what);
        mb_hist_free(dst);
        mb_hist_free(src);
    }
    /* saturated src values re-record at src max */
    mb_hist *dst = new_hist(LOWEST, HIGHEST, 3), *src = new_hist(1e-3, 10, 3);
    mb_hist_record(src, 50, 4);
    mb_hist_record(src, 5, 1);
    CHECK_EQ_INT(mb_hist_saturated(src), 4);
    mb_hist_merge(dst, src);
    CHECK_EQ_INT(mb_hist_count(dst), 5);
    CHECK_EQ_INT(mb_hist_saturated(dst), 0);
    CHECK_NEAR(mb_hist_percentile(dst, 80), 50, 50 * 2e-3);
    CHECK_NEAR(mb_hist_percentile(dst, 20), 5, 5 * 2e-3);
    mb_hist_free(src);
    src = new_hist(1e-3, 1e5, 3);
    mb_hist_record(src, 9000, 3);
    mb_hist_merge(dst, src);
    CHECK_EQ_INT(mb_hist_saturated(dst), 3);
    CHECK(mb_hist_max(dst) == 9000);
    char *e = enc(dst);
    mb_hist *back = NULL;
    CHECK(e && mb_hist_decode(e, strlen(e), &back) == 0);
    free(e);
    mb_hist_free(back);
    mb_hist_free(dst);
    mb_hist_free(src);
    free(xs);
}

/* decode(encode(h)) re-encodes identically and answers identically. */
static void check_roundtrip(const mb_hist *h, const char *what)
{
    char *e = enc(h), *e2 = NULL;
    mb_hist *d = NULL;
    CHECK_MSG(e && mb_hist_decode(e, strlen(e), &d) == 0 && d, "%s: decode", what);
    if (!d) {
        free(e);
        return;
    }
    e2 = enc(d);
    CHECK_MSG(e2 && strcmp(e, e2) == 0, "%s: re-encode differs", what);
    CHECK(mb_hist_count(d) == mb_hist_count(h) && mb_hist_saturated(d) == mb_hist_saturated(h));
    CHECK(mb_hist_min(d) == mb_hist_min(h) && mb_hist_max(d) == mb_hist_max(h));
    CHECK(mb_hist_mean(d) == mb_hist_mean(h) && mb_hist_stddev(d) == mb_hist_stddev(h));
    for (size_t k = 0; k < NPCTS; k++)
        CHECK(mb_hist_percentile(d, PCTS[k]) == mb_hist_percentile(h, PCTS[k]));
    double l1, h1, l2, h2;
    int d1, d2;
    mb_hist_settings(h, &l1, &h1, &d1);
    mb_hist_settings(d, &l2, &h2, &d2);
    CHECK(l1 == l2 && h1 == h2 && d1 == d2);
    /* every strict prefix is malformed (all through the header, then a
     * sample of the slot runs: each decode allocates the counts) */
    size_t n = strlen(e);
    int bad = 0;
    for (size_t i = 0; i < n; i += i < 400 || i + 64 > n ? 1 : 13) {
        mb_hist *t = NULL;
        if (mb_hist_decode(e, i, &t) != MB_EPARSE || t)
            bad++;
        mb_hist_free(t);
    }
    CHECK_MSG(bad == 0, "%s: %d prefixes accepted", what, bad);
    /* every one-byte change is rejected or is itself canonical */
    char *g = malloc(n + 1);
    static const char subst[] = "0 1A_-,x+pgz9";
    bad = 0;
    for (size_t i = 0; i < n && i < 200; i++) {
        for (const char *c = subst; *c; c++) {
            mb_hist *t = NULL;
            char *r = NULL;
            memcpy(g, e, n + 1);
            if (g[i] == *c)
                continue;
            g[i] = *c;
            int rc = mb_hist_decode(g, n, &t);
            if (rc == 0 && (!(r = enc(t)) || strcmp(r, g)))
                bad++;
            if (rc != 0 && (rc != MB_EPARSE || t))
                bad++;
            free(r);
            mb_hist_free(t);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d garbled inputs mishandled", what, bad);
    free(g);
    free(e);
    free(e2);
    mb_hist_free(d);
}

static void test_codec(void)
{
    mb_hist *h = new_hist(LOWEST, HIGHEST, 3);
    check_roundtrip(h, "empty");
    char *e = enc(h);
    CHECK(e && strncmp(e, "mbh1:", 5) == 0);
    fprintf(stderr, "empty: %s\n", e ? e : "(null)");
    free(e);
    mb_hist_record(h, 0, 3);
    check_roundtrip(h, "zeros");
    uint64_t s = 5;
    for (int i = 0; i < 20000; i++)
        mb_hist_record(h, 0.01 * exp(2 * rng_normal(&s)), 1 + (rng_next(&s) & 3));
    mb_hist_record(h, 1e9, 2);
    mb_hist_record(h, 1e-12, 1);
    check_roundtrip(h, "lognormal");
    mb_hist_record(h, DBL_MAX, UINT64_MAX / 2);
    mb_hist_record(h, 4.9e-324, 1);
    check_roundtrip(h, "extremes");
    mb_hist_free(h);
    for (int d = 1; d <= 5; d++) {
        h = new_hist(d == 5 ? 1e-3 : 0.37, d == 5 ? 1e3 : 1e7, d);
        for (int i = 0; i < 3000; i++)
            mb_hist_record(h, 1e4 * rng_unit(&s), 1);
        check_roundtrip(h, "digits");
        mb_hist_free(h);
    }

    static const char *bad[] = {
        "", "mbh1", "mbh1:", "mbh2:3,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:0,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:6,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0x0p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",       /* lowest 0 */
        "mbh1:3,0x1p+0,0x1p+0,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",       /* highest < 2 lowest */
        "mbh1:3,0x1p-999,0x1p+999,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",   /* ratio */
        "mbh1:3,0x1p+0,0x1p+99999,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",   /* inf */
        "mbh1:3,0x1p+0,0x2p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",       /* even */
        "mbh1:3,0x1p+0,0x1P+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0X1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0x1p0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0x1p+0,0x1p+1,0,0,0x0p-0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0x1p+0,0x1p+1,00,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3, 0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",
        "mbh1:3,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0",        /* no comma */
        "mbh1:3,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,A",      /* slots, count 0 */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,",       /* count w/o slots */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,AAB",    /* count 2 != 1 */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x1p+0,0x0p+0,0x0p+0,0x0p+0,AAA",    /* min > max */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,CAA",    /* slot > max's */
        "mbh1:3,0x1p+0,0x1p+1,1,1,0x0p+0,0x0p+0,0x0p+0,0x0p+0,AAA",    /* sat, max <= hi */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,gAAA",   /* varint 0 tail */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,A_",     /* unterminated */
        "mbh1:3,0x1p+0,0x1p+1,0,0,0x0p+0,0x0p+0,0x1p+0,0x0p+0,",       /* sum w/o count */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x1p+9999,0x0p+0,AAA", /* sum too wide */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x1p-9999,0x0p+0,AAA", /* sum too fine */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,AA____________Q", /* 2^64+ */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x0p+0,0x0p+0,0x0p+0,0x0p+0,A____________P", /* run len */
        "mbh1:3,0x1p+0,0x1p+1,2,0,0x0p+0,0x1p+0,0x1p+0,0x1p+0,AAAAAA", /* 2nd run past max */
        /* fuzz_hist_decode crash 8a4d75ac: "-0" exponent re-encoded as "+0" */
        "mbh1:3,0xf7a5ed8dp-72,0xe1p+4,4,0,0x0p+0,0x1p-2,0x1p-0,0x3p-4,AAA_8IAC",
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x1p+0,0x1p+0,0x3p+0,0x1p+0,BAA",    /* sum > n*max */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x1p-1075,0x1p-1075,0x0p+0,0x0p+0,AAA", /* inexact */
        "mbh1:3,0x1p+0,0x1p+99,1,0,0x1p+0,0x20000000000001p+0,0x1p+0,0x1p+0,BAA", /* > 53 bits */
        "mbh1:3,0x1p+0,0x1p+1,1,0,0x1p+0,0x1p+0,0x1p+0,0x1p-1,BAA",    /* sumsq < n*min^2 */
        "mbh1:3,0x1p+0,0x1p+1,2,0,0x0p+0,0x1p+0,0x1p+0,0x5p+0,ABAA",   /* sumsq > n*max^2 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mb_hist *t = (mb_hist *)1;
        int rc = mb_hist_decode(bad[i], strlen(bad[i]), &t);
        CHECK_MSG(rc == MB_EPARSE && t == NULL, "accepted bad[%d] \"%s\" (%d)", (int)i, bad[i], rc);
        if (rc == 0)
            mb_hist_free(t);
    }
    /* a hand-written valid one: {0, 1} in 1..2 */
    const char *ok = "mbh1:3,0x1p+0,0x1p+1,2,0,0x0p+0,0x1p+0,0x1p+0,0x1p+0,ABAA";
    mb_hist *t = NULL;
    CHECK_EQ_INT(mb_hist_decode(ok, strlen(ok), &t), 0);
    if (t) {
        CHECK_EQ_INT(mb_hist_count(t), 2);
        CHECK(mb_hist_max(t) == 1 && mb_hist_mean(t) == 0.5 && mb_hist_stddev(t) == 0.5);
        char *r = enc(t);
        CHECK_STR(r, ok);
        free(r);
        mb_hist_free(t);
    }
    /* embedded NUL and trailing bytes */
    char buf[128];
    size_t n = strlen(ok);
    memcpy(buf, ok, n);
    buf[n] = 0;
    buf[n + 1] = 'A';
    t = NULL;
    CHECK_EQ_INT(mb_hist_decode(buf, n + 2, &t), MB_EPARSE);
    CHECK(t == NULL);
}

/* The sparse histogram merges bit-identically to recording each value in a
 * dense one (same settings) and like mb_hist_merge across settings; a
 * flood of gaps in few buckets stays small. */
static void test_sparse(void)
{
    uint64_t seed = 42;
    mb_hist *dense, *merged, *other, *other_ref;
    mb_hist_sparse *sp;
    char *a, *b;
    size_t la, lb;
    CHECK_EQ_INT(mb_hist_sparse_new(&sp, 1e-6, 3600, 3), 0);
    CHECK_EQ_INT(mb_hist_new(&dense, 1e-6, 3600, 3), 0);
    CHECK_EQ_INT(mb_hist_new(&merged, 1e-6, 3600, 3), 0);
    CHECK_EQ_INT(mb_hist_sparse_record(sp, -1), MB_EINVAL);
    for (int i = 0; i < 200000; i++) {
        /* gaps of a flood: mostly 0 (events of one read), some 5..500 us,
         * a few stalls, one over highest */
        double v = i % 7 ? 0.0 : 5e-6 * exp(4.6 * rng_unit(&seed));
        if (i == 1234)
            v = 7200;
        CHECK(mb_hist_sparse_record(sp, v) == 0);
        mb_hist_record(dense, v, 1);
    }
    CHECK_EQ_INT(mb_hist_sparse_count(sp), 200000);
    CHECK_MSG(mb_hist_sparse_memsize(sp) < 64 * 1024, "%zu bytes", mb_hist_sparse_memsize(sp));
    mb_hist_record(merged, 0.01, 3);   /* something there already */
    mb_hist_record(dense, 0.01, 3);
    CHECK_EQ_INT(mb_hist_merge_sparse(merged, sp), 0);
    CHECK_EQ_INT(mb_hist_encode(dense, &a, &la), 0);
    CHECK_EQ_INT(mb_hist_encode(merged, &b, &lb), 0);
    CHECK_MSG(la == lb && memcmp(a, b, la) == 0, "sparse merge differs from dense recording");
    CHECK_EQ_INT(mb_hist_saturated(merged), 1);
    free(a);
    free(b);
    /* across settings: as mb_hist_merge of the dense equivalent */
    mb_hist *dense_only;
    CHECK_EQ_INT(mb_hist_new(&dense_only, 1e-6, 3600, 3), 0);
    CHECK_EQ_INT(mb_hist_new(&other, 1e-5, 100, 2), 0);
    CHECK_EQ_INT(mb_hist_new(&other_ref, 1e-5, 100, 2), 0);
    seed = 42;
    mb_hist_sparse *sp2;
    CHECK_EQ_INT(mb_hist_sparse_new(&sp2, 1e-6, 3600, 3), 0);
    for (int i = 0; i < 5000; i++) {
        double v = 1e-4 * exp(6 * rng_unit(&seed));
        mb_hist_sparse_record(sp2, v);
        mb_hist_record(dense_only, v, 1);
    }
    mb_hist_merge_sparse(other, sp2);
    mb_hist_merge(other_ref, dense_only);
    CHECK_EQ_INT(mb_hist_encode(other, &a, &la), 0);
    CHECK_EQ_INT(mb_hist_encode(other_ref, &b, &lb), 0);
    CHECK_MSG(la == lb && memcmp(a, b, la) == 0, "cross-settings sparse merge differs");
    free(a);
    free(b);
    mb_hist_free(dense);
    mb_hist_free(merged);
    mb_hist_free(other);
    mb_hist_free(other_ref);
    mb_hist_free(dense_only);
    mb_hist_sparse_free(sp);
    mb_hist_sparse_free(sp2);
}

static uint64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* HdrHistogram's V2 encoding, read back the way its decoder does: header
 * fields, then ZigZag LEB128 counts with negative runs of empty slots. The
 * counts rebuilt must be the histogram's slot for slot. */
static void test_hdr_encode(void)
{
    mb_hist *h;
    CHECK_EQ_INT(mb_hist_new(&h, 1e-6, 3600, 3), 0);
    mb_hist_record(h, 0.0005, 3);          /* 500 units: bucket 0 */
    mb_hist_record(h, 0.25, 1);            /* 250,000 units */
    mb_hist_record(h, 12.5, 300);          /* a large count: two LEB128 bytes */
    mb_hist_record(h, 3600, 1);            /* the highest trackable value */
    unsigned char *buf;
    size_t n;
    CHECK_EQ_INT(mb_hist_hdr_encode(h, &buf, &n), 0);
    CHECK_EQ_INT(be(buf, 4), 0x1c849313);
    CHECK_EQ_INT(be(buf + 4, 4), n - 40);
    CHECK_EQ_INT(be(buf + 8, 4), 0);
    CHECK_EQ_INT(be(buf + 12, 4), 3);
    CHECK_EQ_INT(be(buf + 16, 8), 1);
    CHECK_EQ_INT(be(buf + 24, 8), 3600000000ULL);
    uint64_t one = be(buf + 32, 8);
    double d;
    memcpy(&d, &one, sizeof d);
    CHECK(d == 1.0);
    size_t slot = 0, pos = 40;
    int ok = 1;
    uint64_t total = 0;
    while (pos < n && ok) {
        uint64_t z = 0;
        int shift = 0;
        for (int i = 0; i < 9; i++) {
            unsigned char c = buf[pos++];
            if (i == 8) {
                z |= (uint64_t)c << 56;
                break;
            }
            z |= (uint64_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        int64_t v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        if (v < 0) {
            for (int64_t k = 0; k < -v; k++)
                ok &= h->counts[slot++] == 0;
        } else {
            ok &= h->counts[slot++] == (uint64_t)v;
            total += (uint64_t)v;
        }
    }
    CHECK(ok);
    CHECK_EQ_INT(pos, n);
    CHECK_EQ_INT(slot, h->hi_idx + 1);
    CHECK_EQ_INT(total, 305);
    free(buf);
    mb_hist_reset(h);
    CHECK_EQ_INT(mb_hist_hdr_encode(h, &buf, &n), 0);
    CHECK_EQ_INT(n, 40);                   /* empty: a header, no counts */
    free(buf);
    mb_hist_free(h);
}

int main(void)
{
    test_sparse();
    test_issue_linear();
    test_equivalent();
    test_random();
    test_size();
    test_moments();
    test_record();
    test_memsize();
    test_merge_same();
    test_merge_different();
    test_codec();
    test_hdr_encode();
    TEST_MAIN_END();
}

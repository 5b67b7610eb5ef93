/* test_arrival.c: open-loop schedules: rates, dispersion, seeds, shards. */
#include "mb_test.h"
#include "mlxbench/arrival.h"
#include "mlxbench/rng.h"

/* mean and coefficient of variation of the gaps */
static void gap_stats(const double *t, size_t n, double *mean, double *cv)
{
    double s = 0, s2 = 0;
    for (size_t i = 1; i < n; i++) {
        double g = t[i] - t[i - 1];
        s += g;
        s2 += g * g;
    }
    double m = s / (double)(n - 1);
    *mean = m;
    *cv = sqrt(s2 / (double)(n - 1) - m * m) / m;
}

int main(void)
{
    double *t, mean, cv;
    size_t n;

    /* constant: exactly i / rate */
    mb_arrival_opts c = {MB_ARRIVAL_CONSTANT, 4.0, 0, 1, 10, 0, 0};
    CHECK(mb_arrival_schedule(&c, &t, &n) == 0);
    CHECK_EQ_INT(n, 10);
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR(t[i], (double)i / 4.0, 1e-12);
    free(t);

    /* duration-bound constant: 2 req/s for 5 s -> 10 arrivals */
    mb_arrival_opts cd = {MB_ARRIVAL_CONSTANT, 2.0, 0, 1, 0, 5.0, 0};
    CHECK(mb_arrival_schedule(&cd, &t, &n) == 0);
    CHECK_EQ_INT(n, 10);
    free(t);

    /* Poisson: mean rate within 1%, exponential gaps (CV 1), and counts per
     * unit window with variance ~ mean (index of dispersion ~1) */
    mb_arrival_opts p = {MB_ARRIVAL_POISSON, 50.0, 0, 42, 200000, 0, 0};
    CHECK(mb_arrival_schedule(&p, &t, &n) == 0);
    gap_stats(t, n, &mean, &cv);
    CHECK_NEAR(1.0 / mean, 50.0, 0.5);
    CHECK_NEAR(cv, 1.0, 0.02);
    {
        size_t windows = (size_t)t[n - 1];
        double *cnt = calloc(windows, sizeof *cnt), m = 0, v = 0;
        for (size_t i = 0; i < n; i++)
            if ((size_t)t[i] < windows)
                cnt[(size_t)t[i]] += 1;
        for (size_t w = 0; w < windows; w++)
            m += cnt[w];
        m /= (double)windows;
        for (size_t w = 0; w < windows; w++)
            v += (cnt[w] - m) * (cnt[w] - m);
        v /= (double)(windows - 1);
        CHECK_NEAR(v / m, 1.0, 0.08);
        free(cnt);
    }
    for (size_t i = 1; i < n; i++)
        CHECK(t[i] >= t[i - 1]);
    /* reproducible with the seed, different with another */
    double *t2;
    size_t n2;
    CHECK(mb_arrival_schedule(&p, &t2, &n2) == 0);
    CHECK(n2 == n && memcmp(t, t2, n * sizeof *t) == 0);
    free(t2);
    p.seed = 43;
    CHECK(mb_arrival_schedule(&p, &t2, &n2) == 0);
    CHECK(memcmp(t, t2, 100 * sizeof *t) != 0);
    free(t2);

    /* shards: 3 shards interleave to exactly the whole schedule */
    {
        size_t total = 0;
        for (unsigned s = 0; s < 3; s++) {
            p.seed = 42;
            CHECK(mb_arrival_schedule(&p, &t2, &n2) == 0);
            size_t k = mb_arrival_shard(t2, n2, s, 3);
            for (size_t i = 0; i < k; i++)
                CHECK(t2[i] == t[s + 3 * i]);
            total += k;
            free(t2);
        }
        CHECK_EQ_INT(total, n);
    }
    free(t);

    /* gamma: burstiness 0.25 -> CV 2; 4 -> CV 0.5; mean rate kept */
    mb_arrival_opts g = {MB_ARRIVAL_GAMMA, 10.0, 0.25, 7, 200000, 0, 0};
    CHECK(mb_arrival_schedule(&g, &t, &n) == 0);
    gap_stats(t, n, &mean, &cv);
    CHECK_NEAR(1.0 / mean, 10.0, 0.2);
    CHECK_NEAR(cv, 2.0, 0.06);
    free(t);
    g.burstiness = 4.0;
    CHECK(mb_arrival_schedule(&g, &t, &n) == 0);
    gap_stats(t, n, &mean, &cv);
    CHECK_NEAR(1.0 / mean, 10.0, 0.1);
    CHECK_NEAR(cv, 0.5, 0.02);
    free(t);

    /* bad input */
    mb_arrival_opts bad = {MB_ARRIVAL_POISSON, 0, 0, 1, 10, 0, 0};
    CHECK(mb_arrival_schedule(&bad, &t, &n) < 0);
    bad.rate = 1;
    bad.count = 0;
    CHECK(mb_arrival_schedule(&bad, &t, &n) < 0);
    bad.kind = MB_ARRIVAL_GAMMA;
    bad.count = 5;
    CHECK(mb_arrival_schedule(&bad, &t, &n) < 0);

    /* rng: uniform mean, normal moments */
    mb_rng r;
    mb_rng_seed(&r, 0);
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < 200000; i++) {
        su += mb_rng_uniform(&r);
        double z = mb_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    CHECK_NEAR(su / 200000, 0.5, 0.005);
    CHECK_NEAR(sn / 200000, 0.0, 0.01);
    CHECK_NEAR(sn2 / 200000, 1.0, 0.02);
    TEST_MAIN_END();
}

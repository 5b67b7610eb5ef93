/* test_mock_length: the emulated model's answer length (docs/MOCK.md,
 * "Output length"): a seeded log-normal natural length, then min_tokens,
 * ignore_eos and max_tokens in vLLM's order; "length": "max_tokens" is the
 * old emulator. */
#include <stdlib.h>
#include "mb_test.h"
#include "mlxbench/mock_model.h"

static const mb_mock_limits NONE = {-1, -1, 0};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Same seed, same length; the median and the spread of the logarithm are
 * those asked for, over many seeds. */
static void test_distribution(void)
{
    mb_mock_length m = {64, 0.8, 0};
    enum { N = 20001 };
    static uint64_t v[N];
    double sum = 0, sum2 = 0;
    for (int i = 0; i < N; i++) {
        uint64_t seed = mb_mock_mix((uint64_t)i);
        v[i] = mb_mock_natural_length(&m, seed);
        CHECK(v[i] == mb_mock_natural_length(&m, seed));
        CHECK(v[i] >= 1);
        double l = log((double)v[i]);
        sum += l;
        sum2 += l * l;
    }
    qsort(v, N, sizeof v[0], cmp_u64);
    CHECK_MSG(v[N / 2] >= 61 && v[N / 2] <= 67, "median %llu", (unsigned long long)v[N / 2]);
    double mean = sum / N, sd = sqrt(sum2 / N - mean * mean);
    CHECK_NEAR(mean, log(64.0), 0.03);
    CHECK_NEAR(sd, 0.8, 0.03);
    /* a spread of 0 is always the median */
    m.spread = 0;
    CHECK_EQ_INT(mb_mock_natural_length(&m, 1), 64);
    CHECK_EQ_INT(mb_mock_natural_length(&m, 99), 64);
    /* extreme spreads stay in range */
    m.spread = 3;
    m.median = 1;
    for (int i = 0; i < 1000; i++) {
        uint64_t n = mb_mock_natural_length(&m, mb_mock_mix((uint64_t)i + 7));
        CHECK(n >= 1 && n <= MB_MOCK_LENGTH_MAX);
    }
}

/* The limits: max_tokens cuts (finish "length"), a natural stop below it is
 * a "stop", min_tokens raises, ignore_eos runs to max_tokens. */
static void test_limits(void)
{
    mb_mock_length m = {64, 0.8, 0};
    /* find a seed whose natural length is below 40 and one above 200 */
    uint64_t short_seed = 0, long_seed = 0, nat_short = 0, nat_long = 0;
    for (uint64_t s = 1; s < 10000 && (!short_seed || !long_seed); s++) {
        uint64_t n = mb_mock_natural_length(&m, s);
        if (!short_seed && n < 40 && n > 5) short_seed = s, nat_short = n;
        if (!long_seed && n > 200) long_seed = s, nat_long = n;
    }
    CHECK(short_seed && long_seed && nat_long > 200);
    int fl = -1;
    /* no max: the natural length, a natural stop */
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &NONE, &fl), nat_short);
    CHECK_EQ_INT(fl, 0);
    /* max above the natural length: a natural stop; below: cut */
    mb_mock_limits lim = {100, -1, 0};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), nat_short);
    CHECK_EQ_INT(fl, 0);
    CHECK_EQ_INT(mb_mock_output_length(&m, long_seed, 0, &lim, &fl), 100);
    CHECK_EQ_INT(fl, 1);
    /* exactly at max: the limit was hit */
    lim.max_tokens = (long)nat_short;
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), nat_short);
    CHECK_EQ_INT(fl, 1);
    /* min_tokens raises a short answer, never past max */
    lim = (mb_mock_limits){100, 50, 0};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), 50);
    CHECK_EQ_INT(fl, 0);
    lim = (mb_mock_limits){-1, (long)nat_short + 7, 0};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), nat_short + 7);
    /* ignore_eos: to max_tokens; without a max it changes nothing */
    lim = (mb_mock_limits){100, -1, 1};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), 100);
    CHECK_EQ_INT(fl, 1);
    lim = (mb_mock_limits){-1, -1, 1};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), nat_short);
    /* reasoning comes before the natural answer and counts against max */
    lim = (mb_mock_limits){1000, -1, 0};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 32, &lim, &fl), nat_short + 32);
    lim.max_tokens = 40;
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 32, &lim, &fl), 40);
    CHECK_EQ_INT(fl, 1);
    /* "length": "max_tokens": every request with a max runs to it */
    m.always_max = 1;
    lim = (mb_mock_limits){100, -1, 0};
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &lim, &fl), 100);
    CHECK_EQ_INT(fl, 1);
    CHECK_EQ_INT(mb_mock_output_length(&m, short_seed, 0, &NONE, &fl), nat_short);
    CHECK_EQ_INT(fl, 0);
}

int main(void)
{
    test_distribution();
    test_limits();
    TEST_MAIN_END();
}

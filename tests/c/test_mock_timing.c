/* test_mock_timing: the emulated server's timing model (docs/MOCK.md):
 * TTFT, per-stream and aggregate decode rates under concurrency, jitter. */
#include "mb_test.h"
#include "mlxbench/mock_model.h"

static void test_ttft(void)
{
    mb_mock_timing t = {200, 0, 100, 0, 0, 0};
    CHECK_NEAR(mb_mock_ttft_s(&t, 1000), 0.2, 1e-12);   /* prefill 0 = off */
    t.prefill_tok_s = 1000;
    CHECK_NEAR(mb_mock_ttft_s(&t, 0), 0.2, 1e-12);
    CHECK_NEAR(mb_mock_ttft_s(&t, 500), 0.7, 1e-12);
    t.ttft_ms = 0;
    CHECK_NEAR(mb_mock_ttft_s(&t, 250), 0.25, 1e-12);
}

static void test_rates(void)
{
    mb_mock_timing t = {0, 0, 100, 0, 0, 0};
    /* no knee, no cap: every stream at full speed, aggregate linear */
    CHECK_NEAR(mb_mock_stream_rate(&t, 1), 100, 1e-9);
    CHECK_NEAR(mb_mock_stream_rate(&t, 50), 100, 1e-9);
    CHECK_NEAR(mb_mock_aggregate_rate(&t, 50), 5000, 1e-6);
    CHECK_NEAR(mb_mock_stream_rate(&t, 0), 100, 1e-9);   /* 0 counts as 1 */
    /* knee 4: r(n) = 100 / (1 + (n-1)/4) */
    t.batch_knee = 4;
    CHECK_NEAR(mb_mock_stream_rate(&t, 1), 100, 1e-9);
    CHECK_NEAR(mb_mock_stream_rate(&t, 5), 50, 1e-9);
    CHECK_NEAR(mb_mock_stream_rate(&t, 9), 100.0 / 3, 1e-9);
    /* aggregate rises sub-linearly and saturates towards knee * r1 */
    double prev = 0;
    int mono = 1, sublinear = 1;
    for (unsigned n = 1; n <= 1000; n++) {
        double a = mb_mock_aggregate_rate(&t, n);
        mono &= a > prev;
        sublinear &= a <= 100.0 * n + 1e-9;
        prev = a;
    }
    CHECK(mono);
    CHECK(sublinear);
    CHECK(prev < 400 && prev > 395);
    /* cap: aggregate never above it */
    t.max_aggregate_tok_s = 250;
    CHECK_NEAR(mb_mock_aggregate_rate(&t, 2), 2 * 100 / 1.25, 1e-9);   /* 160 < 250 */
    CHECK_NEAR(mb_mock_aggregate_rate(&t, 10), 250, 1e-9);
    CHECK_NEAR(mb_mock_stream_rate(&t, 10), 25, 1e-9);
}

static void test_interval(void)
{
    mb_mock_timing t = {0, 0, 100, 0, 0, 0};
    CHECK_NEAR(mb_mock_interval_s(&t, 1, 0.0), 0.01, 1e-15);
    CHECK_NEAR(mb_mock_interval_s(&t, 1, 0.999), 0.01, 1e-15);   /* no jitter */
    t.jitter = 0.2;
    CHECK_NEAR(mb_mock_interval_s(&t, 1, 0.0), 0.008, 1e-12);
    CHECK_NEAR(mb_mock_interval_s(&t, 1, 0.5), 0.010, 1e-12);
    CHECK_NEAR(mb_mock_interval_s(&t, 1, 1.0), 0.012, 1e-12);
    /* the mean over uniform draws is the nominal interval */
    mb_rng r;
    mb_rng_seed(&r, 1);
    double sum = 0;
    for (int i = 0; i < 200000; i++)
        sum += mb_mock_interval_s(&t, 1, mb_rng_uniform(&r));
    CHECK_NEAR(sum / 200000, 0.01, 0.01 * 0.002);
    /* concurrency slows the interval as the rate */
    t.jitter = 0;
    t.batch_knee = 1;
    CHECK_NEAR(mb_mock_interval_s(&t, 2, 0.3), 0.02, 1e-12);
}

int main(void)
{
    test_ttft();
    test_rates();
    test_interval();
    TEST_MAIN_END();
}

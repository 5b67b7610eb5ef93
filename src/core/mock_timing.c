/* mock_timing.c: the timing model of the emulated server (pure functions).
 * Formulas are in include/mlxbench/mock_model.h and docs/MOCK.md; keeping them
 * here, free of I/O, lets the unit tests pin them exactly. */
#include "mlxbench/mock_model.h"

double mb_mock_ttft_s(const mb_mock_timing *t, uint64_t prompt_tokens)
{
    double s = t->ttft_ms / 1000.0;
    if (t->prefill_tok_s > 0)
        s += (double)prompt_tokens / t->prefill_tok_s;
    return s > 0 ? s : 0;
}

/* Continuous batching: every extra stream in flight slows each stream a
 * little (the knee is where the slowdown reaches 2x at n = knee + 1), and a
 * cap on the aggregate models a saturated accelerator. */
double mb_mock_stream_rate(const mb_mock_timing *t, unsigned active)
{
    double n = active < 1 ? 1.0 : (double)active;
    double r = t->decode_tok_s;
    if (t->batch_knee > 0)
        r = r / (1.0 + (n - 1.0) / t->batch_knee);
    if (t->max_aggregate_tok_s > 0 && r * n > t->max_aggregate_tok_s)
        r = t->max_aggregate_tok_s / n;
    return r;
}

double mb_mock_aggregate_rate(const mb_mock_timing *t, unsigned active)
{
    unsigned n = active < 1 ? 1 : active;
    return mb_mock_stream_rate(t, n) * (double)n;
}

/* Seconds to the next token for one stream, u a uniform draw in [0, 1):
 * uniform jitter of +-jitter around the mean keeps the mean rate exact. */
double mb_mock_interval_s(const mb_mock_timing *t, unsigned active, double u)
{
    double r = mb_mock_stream_rate(t, active);
    if (!(r > 0))
        return 0;
    double iv = 1.0 / r;
    if (t->jitter > 0)
        iv *= 1.0 + t->jitter * (2.0 * u - 1.0);
    return iv > 0 ? iv : 0;
}

/* mock_length.c: how long the emulated model's answer is (pure function).
 *
 * A real model stops when it has said what it had to say, usually before
 * max_tokens: the emulator draws that natural length from a log-normal
 * distribution (median `natural_tokens`, spread `length_spread`) seeded by
 * a hash of the request, so one request always gets the same length -- as
 * a real model does at temperature 0 -- and shards, engine threads and
 * reruns agree exactly. The request's limits then apply in the order vLLM
 * applies them: min_tokens raises the length, ignore_eos runs to the limit,
 * max_tokens cuts (finish reason "length"). Formulas: docs/MOCK.md. */
#include <assert.h>
#include <math.h>
#include "mlxbench/mock_model.h"

/* The natural length before any limit: round(median * exp(spread * z)),
 * z a standard normal drawn from `seed`, at least 1 and at most
 * MB_MOCK_LENGTH_MAX. */
uint64_t mb_mock_natural_length(const mb_mock_length *m, uint64_t seed)
{
    assert(m->median >= 1);
    if (!(m->spread > 0))
        return m->median;
    mb_rng r;
    mb_rng_seed(&r, seed);
    double z = mb_rng_normal(&r);
    double v = floor((double)m->median * exp(m->spread * z) + 0.5);
    if (!(v >= 1))
        v = 1;
    if (v > MB_MOCK_LENGTH_MAX)
        v = MB_MOCK_LENGTH_MAX;
    return (uint64_t)v;
}

/* The answer's length under the request's limits; *finish_length is set
 * when max_tokens cut it (finish reason "length" / "max_tokens"). A
 * reasoning model thinks `reasoning` tokens first: they come before the
 * natural answer and count against max_tokens. */
uint64_t mb_mock_output_length(const mb_mock_length *m, uint64_t seed, uint64_t reasoning,
                               const mb_mock_limits *lim, int *finish_length)
{
    uint64_t n = reasoning + mb_mock_natural_length(m, seed);
    if (lim->min_tokens > 0 && n < (uint64_t)lim->min_tokens)
        n = (uint64_t)lim->min_tokens;
    if (lim->max_tokens > 0 && (lim->ignore_eos || m->always_max || n >= (uint64_t)lim->max_tokens)) {
        *finish_length = 1;
        return (uint64_t)lim->max_tokens;
    }
    *finish_length = 0;
    return n;
}

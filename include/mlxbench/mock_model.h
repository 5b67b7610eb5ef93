/* mock_model: the emulated server's pure models (src/core/mock_text.c,
 * mock_timing.c): the prompt-token rule, the pseudo-text generator and the
 * timing model. No I/O; shared with the engine and unit-tested alone. */
#ifndef MLXBENCH_MOCK_MODEL_H
#define MLXBENCH_MOCK_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "mlxbench/rng.h"

/* FNV-1a over bytes, continuing from h (start with MB_MOCK_HASH_INIT). */
#define MB_MOCK_HASH_INIT 0xcbf29ce484222325ULL
uint64_t mb_mock_hash(uint64_t h, const void *data, size_t len);
uint64_t mb_mock_mix(uint64_t x);                    /* splitmix64 finaliser */

/* The prompt-token rule: tokens = ceil(chars / 4), chars = Unicode code
 * points (UTF-8 lead bytes) summed over every text part of the prompt: each
 * message's content (string or text blocks), the Anthropic `system`, the
 * legacy `prompt`. No per-message overhead. */
uint64_t mb_mock_count_chars(const char *s, size_t len);
uint64_t mb_mock_tokens_for_chars(uint64_t chars);
uint64_t mb_mock_prompt_tokens(const char *text, size_t len);

/* Deterministic pseudo-text: each token is one short English word plus a
 * space ("the ", "Model. "); sentences of 6..14 words start with a capital
 * and end with a period. Same seed, same text. */
#define MB_MOCK_TOKEN_MAX 24
typedef struct mb_mock_textgen {
    mb_rng rng;
    unsigned left;             /* words left in the current sentence */
} mb_mock_textgen;
void mb_mock_text_init(mb_mock_textgen *g, uint64_t seed);
/* Writes the next token to out (cap >= MB_MOCK_TOKEN_MAX, no NUL) and
 * returns its length. Only [A-Za-z. ] characters: no JSON escaping needed. */
size_t mb_mock_text_token(mb_mock_textgen *g, char *out);

/* The timing model of one model (docs/MOCK.md, "Timing"):
 *   ttft        = ttft_ms/1000 + prompt_tokens / prefill_tok_s
 *   per-stream  r(n) = decode_tok_s / (1 + (n-1)/batch_knee), and at most
 *                      max_aggregate_tok_s / n
 *   aggregate   A(n) = n * r(n)   (sub-linear in n, saturating)
 *   interval    = 1/r(n) * (1 + jitter * (2u - 1)),  u uniform in [0,1)
 * n = requests of that model in flight (this one included). batch_knee 0,
 * max_aggregate 0 and prefill 0 switch their term off. */
typedef struct mb_mock_timing {
    double ttft_ms;
    double prefill_tok_s;
    double decode_tok_s;
    double jitter;             /* 0..0.99 */
    double batch_knee;         /* streams at which per-stream speed halves (+1); 0 = none */
    double max_aggregate_tok_s;/* 0 = no cap */
} mb_mock_timing;
double mb_mock_ttft_s(const mb_mock_timing *t, uint64_t prompt_tokens);
double mb_mock_stream_rate(const mb_mock_timing *t, unsigned active);
double mb_mock_aggregate_rate(const mb_mock_timing *t, unsigned active);
double mb_mock_interval_s(const mb_mock_timing *t, unsigned active, double u);

/* The answer's length (src/core/mock_length.c, docs/MOCK.md "Output
 * length"): a natural length drawn log-normally around `median` with
 * `spread` (the sigma of its logarithm; 0 = always the median) from a seed
 * hashed from the request, then the request's limits. always_max = 1 is the
 * old emulator: every request with a max_tokens runs to it. */
#define MB_MOCK_LENGTH_MAX 1000000
typedef struct mb_mock_length {
    uint64_t median;           /* natural_tokens, >= 1 */
    double spread;             /* length_spread, >= 0 */
    int always_max;            /* "length": "max_tokens" in the profile */
} mb_mock_length;
typedef struct mb_mock_limits {
    long max_tokens;           /* <= 0: none */
    long min_tokens;           /* <= 0: none */
    int ignore_eos;            /* run to max_tokens whatever the model would say */
} mb_mock_limits;
uint64_t mb_mock_natural_length(const mb_mock_length *m, uint64_t seed);
uint64_t mb_mock_output_length(const mb_mock_length *m, uint64_t seed, uint64_t reasoning,
                               const mb_mock_limits *lim, int *finish_length);

#endif

/* mock: the emulated LLM inference server (docs/MOCK.md).
 *
 * An HTTP server (server.h) that speaks OpenAI chat/completions/models and
 * Anthropic messages, streams deterministic pseudo-text on a per-model timing
 * model, injects faults on demand and records the ground truth: when every
 * header and token write left the process, against when it was scheduled.
 *
 * The pure helpers at the end (token rule, text generator, timing model, RNG)
 * are shared with the engine, which uses the same prompt-token rule for its
 * synthetic prompts, and are unit-tested on their own. */
#ifndef MLXBENCH_MOCK_H
#define MLXBENCH_MOCK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "mlxbench/rng.h"

typedef struct mb_mock mb_mock;

typedef struct mb_mock_config {
    const char *host;          /* NULL = 127.0.0.1 */
    int port;                  /* 0 picks a free port */
    const char *profile_path;  /* JSON profile file, or NULL */
    const char *profile_json;  /* JSON profile text (used instead of the file), or NULL */
    const char *faults_json;   /* initial faults, applied over the profile's, or NULL */
    const char *api_key;       /* required key; NULL = the profile's (none by default) */
    const char *control_token; /* token the /mock/... endpoints require; NULL = the
                                  profile's. Without one they answer only on a
                                  loopback address (403 on any other) */
    int has_seed;              /* seed below overrides the profile's */
    uint64_t seed;
    int log;                   /* 1: one line per request on stderr, 0: none, -1: if stderr is a TTY */
} mb_mock_config;

/* Loads the profile, binds and starts serving on `loop`. On failure returns
 * a negative code and writes a one-line reason to err (may be NULL). */
int mb_mock_start(mb_mock **out, uv_loop_t *loop, const mb_mock_config *cfg,
                  char *err, size_t errlen);
/* Stops serving: open streams are cut, every handle closes; the mock frees
 * itself once libuv has closed them, then calls done (optional). */
void mb_mock_stop(mb_mock *m, void (*done)(void *ud), void *ud);

int mb_mock_port(const mb_mock *m);
const char *mb_mock_url(const mb_mock *m);      /* "http://127.0.0.1:PORT" */

/* Applies a JSON object of fault fields (docs/MOCK.md), as POST /mock/faults
 * does. Takes effect on the next request. Returns 0 or MB_EPARSE/MB_EINVAL
 * with the reason in err. */
int mb_mock_set_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen);

/* JSON documents, malloc'd and NUL-terminated (caller frees); NULL when out
 * of memory. The same bodies as GET /mock/faults, /mock/stats, /mock/trace. */
char *mb_mock_faults_json(mb_mock *m);
char *mb_mock_stats_json(mb_mock *m);
/* Requests with seq > since, oldest first, at most `limit` (0 = 1000);
 * client_id filters on the x-mock-request-id header (NULL = all); wall adds
 * each chunk's wall-clock time. */
char *mb_mock_trace_json(mb_mock *m, uint64_t since, size_t limit, const char *client_id, int wall);
void mb_mock_trace_reset(mb_mock *m);   /* also resets the emission-error histogram */

/* ------------------------------------------------------------ pure helpers */

/* The engine's xoshiro256** (seeded through splitmix64), under the names
 * the emulator has always used. */
typedef mb_rng mb_mock_rng;
#define mb_mock_rng_seed mb_rng_seed
#define mb_mock_rng_next mb_rng_next
#define mb_mock_rng_uniform mb_rng_uniform                /* [0, 1) */

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
    mb_mock_rng rng;
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

#endif

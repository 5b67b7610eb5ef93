/* llm: token accounting for LLM API responses, streamed or not.
 *
 * One extractor per request. The HTTP layer hands it each SSE event with the
 * arrival stamp taken where the bytes arrived; the extractor decides which
 * events carry output content (text, reasoning under any of its names,
 * tool-call arguments), keeps their times for TTFT/ITL/TPOT, reads usage,
 * finish reason, terminators and errors. Nothing here allocates per event
 * once its buffers have grown. Pure C, no I/O. */
#ifndef MLXBENCH_LLM_H
#define MLXBENCH_LLM_H

#include <stddef.h>
#include <stdint.h>
#include "mlxbench/errors.h"
#include "mlxbench/json.h"
#include "mlxbench/sse.h"

typedef enum {
    MB_API_OPENAI = 0,      /* POST /v1/chat/completions */
    MB_API_COMPLETIONS = 1, /* POST /v1/completions (legacy) */
    MB_API_ANTHROPIC = 2    /* POST /v1/messages */
} mb_api;

typedef enum { MB_TOK_NONE = 0, MB_TOK_USAGE, MB_TOK_EVENTS, MB_TOK_ESTIMATE } mb_tok_source;

/* What a content event carried (bits): the answer (text, refusal,
 * tool-call arguments) and/or reasoning (reasoning_content, reasoning,
 * Anthropic thinking). */
enum { MB_LLM_ANSWER = 1, MB_LLM_REASONING = 2 };

#define MB_LLM_SMALL_TOKS 96

typedef struct mb_llm {
    int api;
    int capture;                  /* 1: keep the visible text; 2: keep all generated text */
    int done;                     /* terminator seen ([DONE] / message_stop) */
    int started;                  /* Anthropic message_start seen */
    int after_done;               /* events after the terminator (ignored) */
    int streamed;                 /* fed by mb_llm_event (vs mb_llm_body) */
    uint64_t content_bytes;       /* unescaped bytes of content seen */
    uint32_t events;              /* events seen (all types) */
    uint64_t *ct;                 /* arrival time of each content event (ns) */
    size_t nct, ctcap;
    uint8_t *ck;                  /* what each content event carried (MB_LLM_* bits) */
    size_t ckcap;
    unsigned kind;                /* bits of the event being read */
    int64_t usage_output;         /* -1 unless the server reported it */
    int64_t usage_input;          /* -1 unless the server reported it (Anthropic: input
                                     plus cache reads and writes: the whole prompt) */
    int64_t usage_reasoning;      /* completion_tokens_details.reasoning_tokens, or -1 */
    int64_t usage_cached;         /* prompt tokens the server had cached: OpenAI/vLLM/
                                     mlx_lm prompt_tokens_details.cached_tokens, Anthropic
                                     cache_read_input_tokens, llama.cpp timings.cache_n; -1 */
    int64_t usage_cache_write;    /* Anthropic cache_creation_input_tokens, or -1 */
    int64_t anth_input;           /* Anthropic's three input counts as sent (-1 unsent) */
    int usage_invalid;            /* usage present but not a sane count */
    char finish_reason[32];
    mb_err_kind err_kind;         /* MB_ERR_NONE, or the first failure's kind */
    char err_msg[256];
    char *text;                   /* captured output (capture & 1) */
    size_t text_len, text_cap;
    char *gen;                    /* every generated text -- content, reasoning,
                                     refusal, tool-call arguments -- in order
                                     (capture & 2: what a tokenizer counts) */
    size_t gen_len, gen_cap;
    char *rgen;                   /* the reasoning part of it (capture & 2) */
    size_t rgen_len, rgen_cap;
    mb_json_tok *tok;             /* token array: small inline, grown on need */
    size_t tokcap;
    mb_json_tok small[MB_LLM_SMALL_TOKS];
} mb_llm;

/* capture: 0, or 1 (visible text in x->text) | 2 (all generated text in
 * x->gen, for counting it with the model's tokenizer). */
void mb_llm_init(mb_llm *x, mb_api api, int capture);
void mb_llm_free(mb_llm *x);

/* One SSE event of a streamed response, stamped t_ns at arrival. Returns 1
 * once the request has failed (the caller may stop reading), else 0. */
int mb_llm_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns);
/* End of a streamed response: `truncated` is mb_sse_finish's verdict, and
 * `partial` the event it handed over (NULL if none), accepted only as a
 * terminator. Latches a `stream` error for a missing terminator or zero
 * output tokens. */
void mb_llm_stream_end(mb_llm *x, int truncated, const mb_sse_event *partial);
/* A complete non-streamed 2xx body that arrived at t_ns. */
void mb_llm_body(mb_llm *x, const char *body, size_t len, uint64_t t_ns);
/* Latches a failure decided outside the extractor (the response is not an
 * API response at all, say an HTML page); the first failure wins. */
void mb_llm_reject(mb_llm *x, mb_err_kind kind, const char *msg);
/* A non-2xx response: kind `http`, message taken from the body's error
 * object in any of the shapes servers use, truncated. */
void mb_llm_http_error(mb_llm *x, int status, const char *body, size_t len);

/* Output tokens: usage if the server reported a sane count (> 0 or with no
 * content events), else the number of content events, else (non-streamed
 * without usage) an estimate from the text. */
int64_t mb_llm_output_tokens(const mb_llm *x, mb_tok_source *src);

/* The reasoning and answer phases of a stream, from its content events: how
 * many events carried each, and the arrival of the first and last of each
 * (absolute ns; 0 when the phase has no event). An event carrying both
 * counts in both. */
typedef struct mb_llm_phases {
    size_t reasoning_events, answer_events;
    uint64_t first_reasoning, last_reasoning, first_answer, last_answer;
} mb_llm_phases;
void mb_llm_phases_of(const mb_llm *x, mb_llm_phases *p);
/* Writes the gaps (seconds) between consecutive content events of one
 * phase (MB_LLM_ANSWER or MB_LLM_REASONING) to out (room for nct - 1);
 * returns how many. */
size_t mb_llm_phase_gaps(const mb_llm *x, unsigned phase, double *out);
const char *mb_llm_source_name(mb_tok_source s);

/* ceil(characters / 4), characters counted as UTF-8 code points: the rule
 * the mock server and the synthetic prompts share. */
int64_t mb_llm_estimate_tokens(const char *s, size_t len);

#endif

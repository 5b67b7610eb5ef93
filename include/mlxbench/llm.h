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
#include "mlxbench/hist.h"
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

/* The first content times kept one by one (32 KB); after them a stream's
 * gaps go into a sparse histogram as they arrive, so a server that floods
 * events costs a few KB, not 8 bytes per event. keep_all (ITL lists,
 * on_token) keeps every time. The histogram's settings are those of the
 * run's ITL histogram (collect.lua), so merging stays exact. */
#define MB_LLM_KEEP_TIMES 4096
#define MB_LLM_GAP_LOWEST 1e-6
#define MB_LLM_GAP_HIGHEST 3600.0
#define MB_LLM_GAP_DIGITS 3

/* Where a server's report of its own work came from (mb_llm_server.src). */
enum {
    MB_SRV_LLAMACPP = 1,    /* `timings` {prompt_ms, predicted_ms, prompt_n, predicted_n, cache_n} */
    MB_SRV_OLLAMA = 2,      /* *_duration (ns): load, prompt_eval, eval, total */
    MB_SRV_LMSTUDIO = 4,    /* `stats` {time_to_first_token[_seconds], generation_time,
                               model_load_time_seconds} */
    MB_SRV_TIME_INFO = 8,   /* Cerebras `time_info`, Groq `usage`/`x_groq.usage`
                               {queue_time, prompt_time, completion_time, total_time} */
    MB_SRV_HEADERS = 16,    /* TGI x-queue-time, x-inference-time, ...; Server-Timing */
    MB_SRV_MOCK = 32        /* the emulator's `timings.queue_ms` */
};

/* What the server said about its own work on this request (seconds; -1
 * where it said nothing). prefill is the server's prompt processing up to
 * its first token, queue the time before it started, load a model load it
 * waited for, decode the generation after the first token, total its whole
 * time. The last report wins (they are cumulative: the finish chunk's). */
typedef struct mb_llm_server {
    double prefill_s, queue_s, load_s, decode_s, total_s;
    int64_t prompt_n, predicted_n, cache_n;   /* llama.cpp's counts, -1 absent */
    unsigned src;                             /* MB_SRV_* bits seen */
} mb_llm_server;

/* The reasoning and answer phases of a stream, from its content events: how
 * many events carried each, and the arrival of the first and last of each
 * (absolute ns; 0 when the phase has no event). An event carrying both
 * counts in both. */
typedef struct mb_llm_phases {
    size_t reasoning_events, answer_events;
    uint64_t first_reasoning, last_reasoning, first_answer, last_answer;
} mb_llm_phases;

typedef struct mb_llm {
    int api;
    int capture;                  /* 1: keep the visible text; 2: keep all generated text */
    int done;                     /* terminator seen ([DONE] / message_stop) */
    int started;                  /* Anthropic message_start seen */
    int after_done;               /* events after the terminator (ignored) */
    int streamed;                 /* fed by mb_llm_event (vs mb_llm_body) */
    uint64_t content_bytes;       /* unescaped bytes of content seen */
    uint32_t events;              /* events seen (all types) */
    uint64_t *ct;                 /* arrival times of the first nstored content events (ns) */
    size_t nct, ctcap;            /* nct: every content event */
    size_t nstored;
    uint8_t *ck;                  /* what each stored content event carried (MB_LLM_* bits) */
    size_t ckcap;
    unsigned kind;                /* bits of the event being read */
    uint64_t t_first, t_last;     /* first and last content times (ns) */
    int keep_all;                 /* store every content time (no spill) */
    int no_content;               /* a partial last event: never content */
    mb_hist_sparse *spill;        /* gaps (s) after the first MB_LLM_KEEP_TIMES */
    mb_hist_sparse *pspill[2];    /* the same per phase (reasoning, answer), for a
                                     stream that carried reasoning */
    mb_llm_phases ph;             /* the phases, over every content event */
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
    mb_llm_server server;         /* the server's own timings, when it sent them */
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

/* A response header (name lower-cased): the server-timing ones are read
 * (TGI x-queue-time / x-inference-time / x-total-time / x-validation-time
 * in ms; W3C Server-Timing `queue;dur=12.5, prefill;dur=40`); others are
 * ignored. */
void mb_llm_header(mb_llm *x, const char *name, size_t nlen, const char *value, size_t vlen);
/* "llama.cpp", "ollama", "lmstudio", "time_info", "headers", "mock", joined
 * by '+' into buf (cap bytes) for the bits of src ("mock" stands for the
 * llama.cpp shape it comes in); "" for none. */
const char *mb_llm_server_source(unsigned src, char *buf, size_t cap);

/* Output tokens: usage if the server reported a sane count (> 0 or with no
 * content events), else the number of content events, else (non-streamed
 * without usage) an estimate from the text. */
int64_t mb_llm_output_tokens(const mb_llm *x, mb_tok_source *src);

/* The phases of a stream (copied from x->ph). */
void mb_llm_phases_of(const mb_llm *x, mb_llm_phases *p);
/* Writes the gaps (seconds) between consecutive stored content events of
 * one phase (MB_LLM_ANSWER or MB_LLM_REASONING) to out (room for nstored -
 * 1); returns how many. The phase's later gaps, past MB_LLM_KEEP_TIMES
 * events, are in pspill[MB_LLM_PHASE_INDEX(phase)]. */
#define MB_LLM_PHASE_INDEX(phase) ((phase) == MB_LLM_REASONING ? 0 : 1)
size_t mb_llm_phase_gaps(const mb_llm *x, unsigned phase, double *out);
/* Checks usage against what arrived: more output tokens than bytes of
 * response body (less the hidden reasoning tokens the server names), more
 * than max_tokens (> 0) when the stream itself stayed within it and either
 * the server says it stopped at the limit (finish reason "length" or
 * "max_tokens": it honours max_tokens) or the count is more than
 * MB_LLM_TOKENS_PER_EVENT per content event, or more input tokens
 * than the request had bytes (plus MB_LLM_INPUT_SLACK for the templates
 * and system prompts servers add), cannot be true: such a count is dropped
 * and flagged usage_invalid (tokens then come from the stream, or the
 * estimate). */
#define MB_LLM_INPUT_SLACK 4096
#define MB_LLM_TOKENS_PER_EVENT 8
void mb_llm_check_usage(mb_llm *x, uint64_t body_bytes, uint64_t request_bytes,
                        int64_t max_tokens);
const char *mb_llm_source_name(mb_tok_source s);

/* ceil(characters / 4), characters counted as UTF-8 code points: the rule
 * the mock server and the synthetic prompts share. */
int64_t mb_llm_estimate_tokens(const char *s, size_t len);

#endif

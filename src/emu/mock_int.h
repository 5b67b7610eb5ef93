/* mock_int.h: what the emulated server's files share (private to src/emu).
 *
 *   mock.c            lifecycle: start, stop
 *   mock_route.c      routing, responses and errors in each API's shape,
 *                     /v1/models, the per-request log line
 *   mock_validate.c   generation requests: validation, prompt tokens, faults drawn
 *   mock_control.c    the /mock/... control endpoints and their C API
 *   mock_stats.c      counters and /mock/stats
 *   mock_profile.c    built-in models, profile JSON
 *   mock_fields.c     strict readers of profile and fault-body JSON fields
 *   mock_faults.c     the fault state: defaults, a faults body, its JSON
 *   mock_stream.c     the emission engine: deadline heap on one timer, the
 *                     per-request state machine, faults during a stream
 *   mock_openai.c     OpenAI bytes (chat, legacy completions, errors)
 *   mock_anthropic.c  Anthropic bytes (messages, errors)
 *   mock_trace.c      ground-truth records and their JSON
 *   mock_tokens.c     counts with the profile's tokenizer, if any
 *   mock_cache.c      the prefix cache (LRU over chained prompt blocks)
 *   mock_presets.c    the built-in profiles (vllm, mlx-lm)
 *   mock_queue.c      max_running: requests wait for a running slot
 *   mock_metrics.c    GET /metrics in vLLM's names; llama.cpp-style timings
 * and in src/core (mock_model.h, pure): mock_text.c (token rule,
 * pseudo-text), mock_timing.c (the timing model), mock_length.c (natural
 * answer lengths). */
#ifndef MB_MOCK_INT_H
#define MB_MOCK_INT_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "mlxbench/buf.h"
#include "mlxbench/hist.h"
#include "mlxbench/json.h"
#include "mlxbench/listen.h"
#include "mlxbench/mock.h"
#include "mlxbench/platform.h"
#include "mlxbench/server.h"
#include "mlxbench/tok.h"

typedef struct mk_cache mk_cache;

/* ---------------------------------------------------------------- models */

typedef struct mk_model {
    char *name;
    char *owned_by;
    mb_mock_timing t;
    int tokens_per_chunk;      /* tokens per content event (>= 1) */
    int events_per_write;      /* content events per write (>= 1) */
    int reasoning_tokens;      /* OpenAI chat: reasoning deltas before content */
    char reasoning_field[32];  /* "reasoning_content" or "reasoning" */
    int usage;                 /* 0: never report usage (OpenAI endpoints) */
    int natural_tokens;        /* median natural output length (mock_length.c) */
    double length_spread;      /* its log-normal spread; 0 = always the median */
    int always_max;            /* "length": "max_tokens": run to max_tokens */
    int timings;               /* llama.cpp-style `timings` in responses */
    int max_running;           /* requests generating at once (vLLM max_num_seqs); 0 = no limit */
    uint64_t kv_cache_tokens;  /* the KV cache's size in tokens (for its usage gauge) */
    unsigned active;           /* requests of this model generating (running) */
    /* mock_queue.c: requests waiting for a running slot, oldest first */
    struct mk_req *wait_head, *wait_tail;
    unsigned waiting;
    /* mock_metrics.c: what /metrics reports */
    uint64_t kv_used;                   /* tokens held by running requests */
    uint64_t m_prompt, m_generation;    /* prompt tokens prefilled, tokens generated */
    uint64_t m_stop, m_length, m_abort; /* finished requests by reason */
    uint64_t m_ttft[24];                /* TTFT histogram buckets (MK_TTFT_BUCKETS) */
    uint64_t m_ttft_count;
    double m_ttft_sum;
    struct mk_model *next;
} mk_model;

/* ---------------------------------------------------------------- faults */

#define MK_MAX_STATUS 8

typedef struct mk_faults {
    int nstatus;                        /* error_rates: status -> probability */
    int status[MK_MAX_STATUS];
    double rate[MK_MAX_STATUS];
    int simple_status;                  /* `status` of the error_rate form */
    double simple_rate;                 /* `error_rate` */
    double retry_after;                 /* seconds; < 0 = no header */
    int should_retry;                   /* -1 no header, 0 false, 1 true */
    double stream_error_rate; int stream_error_after;
    double stall_rate;        int stall_after; double stall_s;
    double disconnect_rate;   int disconnect_after; int disconnect_reset;
    double malformed_rate;    int malformed_after;  int malformed_http;
    double slow_ttft_rate;    double slow_ttft_s;
    int refuse_connections;
    double refuse_s;                    /* resume by itself after this; 0 = never */
    uint64_t seed;
} mk_faults;

enum {  /* fault bits, as in the trace's "faults" list */
    MK_F_ERROR = 1, MK_F_STREAM_ERROR = 2, MK_F_STALL = 4, MK_F_DISCONNECT = 8,
    MK_F_MALFORMED = 16, MK_F_SLOW_TTFT = 32
};

/* mock_faults.c */
void mk_faults_defaults(mk_faults *f);
/* Applies the fields of a JSON object; unknown fields and bad values are
 * errors (nothing is applied then). `initial` is what "reset": true restores. */
int mk_faults_apply(mk_faults *f, const mk_faults *initial, const mb_json_val *obj,
                    char *err, size_t errlen);
void mk_faults_to_json(const mk_faults *f, mb_buf *b);

/* ---------------------------------------------------------------- trace */

typedef struct mk_chunk { uint64_t sched_ns, actual_ns; uint32_t tokens; } mk_chunk;

typedef struct mk_trace_rec {
    uint64_t seq;
    char client_id[72];
    char id[48];
    const char *endpoint;      /* "chat", "completions", "messages" */
    char *model;
    int stream, status, done;
    const char *outcome;       /* "ok", "error", "client_closed", ... */
    const char *finish;        /* finish reason sent, or NULL */
    unsigned faults;
    uint64_t prompt_tokens, output_tokens, reasoning_tokens;
    uint64_t cached_tokens;    /* prompt tokens found in the prefix cache */
    uint64_t start_ns, arrival_ns, headers_ns, first_ns, end_ns;
    double arrival_wall;
    double ttft_target_s;
    mk_chunk *chunks;
    size_t cap;
    uint32_t nchunks, dropped;
    struct mk_trace_rec *prev, *next;
} mk_trace_rec;

typedef struct mk_trace {
    mk_trace_rec *head, *tail;   /* oldest first */
    size_t nrec, nchunks;
    size_t max_rec, max_chunks;
    uint64_t evicted;
} mk_trace;

mk_trace_rec *mk_trace_new(mk_trace *t, uint64_t seq);
void mk_trace_chunk(mk_trace *t, mk_trace_rec *r, uint64_t sched, uint64_t actual, uint32_t tokens);
void mk_trace_done(mk_trace *t, mk_trace_rec *r);
void mk_trace_clear(mk_trace *t);
void mk_trace_json(const mk_trace *t, mb_buf *b, uint64_t since, size_t limit,
                   const char *client_id, int wall);

/* --------------------------------------------------------------- requests */

enum { MK_CHAT, MK_COMPLETIONS, MK_MESSAGES };

/* An answer as a tokenizer's tokens: the decoded text and where each token's
 * piece of it starts (off[n] = the text's length); next = tokens emitted. */
typedef struct mk_toktext {
    char *text;
    size_t *off;
    uint64_t n, next;
} mk_toktext;

typedef struct mk_req {
    mb_mock *m;
    mb_server_conn *conn;
    mk_model *model;
    int api, stream, include_usage, usage;
    uint64_t prompt_tokens;
    uint64_t cached_tokens;    /* of which found in the prefix cache (no prefill) */
    uint64_t total;            /* tokens to generate (reasoning included) */
    uint64_t reasoning;        /* of which reasoning */
    uint64_t emitted;
    int finish_length;         /* stopped by max_tokens */
    int tpc;                   /* tokens per chunk */
    int epw;                   /* events per write */
    mb_mock_textgen text, rtext;
    mb_rng jit;
    uint64_t deadline;         /* next emission (monotonic ns) */
    size_t heap_idx;           /* position in the heap, or SIZE_MAX */
    int in_emit, gone, blocked, started_content;
    int conn_closed;           /* the server's on_close ran: never touch conn */
    /* the fault plan (token positions; -1 = none) */
    long stall_at, disconnect_at, stream_error_at, malformed_at;
    uint64_t stall_ns;
    double slow_ttft_s;
    char id[48];
    long long created;
    char *model_json;          /* the model name as a JSON string literal */
    mk_trace_rec *tr;
    uint64_t arrival_ns;
    uint64_t admit_ns;         /* when it got a running slot (arrival unless it waited) */
    uint64_t first_ns;         /* first content write (0 before) */
    double ttft_target_s;      /* the model's TTFT for it, from admission */
    int queued;                /* waiting for a running slot (mock_queue.c) */
    struct mk_req *next_wait;
    uint64_t kv_held;          /* its tokens in the model's KV cache */
    char method[8];
    char path[48];
    mk_toktext tt[2];          /* with a tokenizer: the answer's tokens (content, reasoning) */
    mb_buf gen;                /* emitted content (prefix cache: stored with the prompt) */
    mb_buf ptext;              /* the prompt text (prefix cache) */
} mk_req;

/* Formatting of one API. Every function appends complete SSE events (or a
 * body) to b. */
typedef struct mk_api {
    void (*begin)(mk_req *r, mb_buf *b);
    void (*delta)(mk_req *r, mb_buf *b, const char *text, size_t len, int reasoning);
    void (*finish)(mk_req *r, mb_buf *b);
    void (*stream_error)(mk_req *r, mb_buf *b);
    void (*malformed)(mk_req *r, mb_buf *b);
    void (*body)(mk_req *r, mb_buf *b, const char *text, size_t len,
                 const char *rtext, size_t rlen);
} mk_api;

extern const mk_api mk_api_chat, mk_api_completions, mk_api_messages;
const char *mk_finish_reason(const mk_req *r);
/* The error body of an API: OpenAI {"error":{message,type,param,code}} or
 * Anthropic {"type":"error","error":{type,message},"request_id"}. */
void mk_openai_error(mb_buf *b, const char *message, const char *type, const char *param,
                     const char *code);
void mk_anthropic_error(mb_buf *b, const char *type, const char *message, const char *request_id);

/* ------------------------------------------------------------------ mock */

typedef struct mk_stats {
    uint64_t requests, by_endpoint[8];
    int nstatus;
    int status[24];
    uint64_t status_count[24];
    uint64_t tokens, chunks, streams_started;
    uint64_t f_error[MK_MAX_STATUS + 4];   /* parallel to f_error_status */
    int f_error_status[MK_MAX_STATUS + 4];
    int nf_error;
    uint64_t f_stream_error, f_stall, f_disconnect, f_malformed, f_slow_ttft, f_refuse;
    uint64_t late_1ms, late_2ms, blocked;
} mk_stats;

enum { EP_CHAT, EP_COMPLETIONS, EP_MESSAGES, EP_MODELS, EP_MOCK, EP_OTHER };

struct mb_mock {
    uv_loop_t *loop;
    mb_server *srv;
    mk_model *models;
    mk_model *fallback;        /* timing of unknown models when any_model */
    int any_model;
    char *api_key;
    char *control_token;       /* required by /mock/... when set */
    int control_open;          /* /mock/... needs no token (loopback, no token set) */
    uint64_t seed;
    mk_faults faults, faults_initial;
    mb_rng frng;          /* which requests get faults */
    /* emission engine: a min-heap of (deadline, request), keys inline so
     * sifting does not chase pointers */
    struct mk_hent { uint64_t deadline; mk_req *r; } *heap;
    size_t heap_len, heap_cap;
    mb_ptimer *timer;          /* wakes the engine (platform.h: ns where it can) */
    uv_timer_t refuse_timer;   /* ends a refuse_s period */
    uint64_t armed;            /* deadline the timer is set for (0 = none) */
    mb_life life;              /* parts: the server, the engine's timer, refuse_timer */
    size_t live;               /* mk_req in flight */
    size_t live_streams;
    /* ground truth and counters */
    mk_trace trace;
    mb_hist *emit_hist;        /* actual - scheduled, seconds */
    mk_stats st;
    uint64_t seq;
    uint64_t start_ns;
    double start_wall;
    int log;
    mb_buf out;                /* scratch for one emission */
    mb_buf tok;                /* scratch for a chunk's text */
    char url[96];
    int port;
    int last_status;           /* of the last response sent (for the log) */
    size_t max_body;
    double request_timeout_s;  /* profile: slow heads/bodies (0 = none) */
    double idle_timeout_s;     /* profile: connections with no request (0 = none) */
    mb_tok *tokenizer;         /* the profile's "tokenizer", or NULL */
    mb_tok_enc *tok_enc;
    mk_cache *cache;           /* the profile's "prefix_cache", or NULL */
};

/* mock_cache.c: the prefix cache */
int mk_cache_new(mk_cache **out, size_t blocks, unsigned block_tokens);
void mk_cache_free(mk_cache *c);
unsigned mk_cache_block_tokens(const mk_cache *c);
/* keys: a prompt's n chained block names; returns how many leading ones
 * (at most `usable`) were cached, then stores all n as most recent. */
size_t mk_cache_lookup(mk_cache *c, const uint64_t *keys, size_t n, size_t usable);
/* The cached tokens of a request's prompt text for model md (0 without a
 * cache); the prompt's blocks are cached afterwards. */
uint64_t mk_cache_request(mb_mock *m, const mk_model *md, const char *text, size_t len,
                          uint64_t prompt_tokens);
void mk_cache_stats_json(const mk_cache *c, mb_buf *b);
/* Stores a finished answer's sequence (prompt, newline, answer) too. */
void mk_cache_store(mb_mock *m, const mk_model *md, const char *prompt, size_t plen,
                    const char *answer, size_t alen);

/* mock_presets.c: a built-in profile's JSON by name ("vllm", "mlx-lm"), or NULL */
#define MK_PRESET_NAMES "vllm, mlx-lm"
const char *mk_preset(const char *name);

/* mock_tokens.c: counts with the profile's tokenizer, if any */
int mk_tokenizer_set(mb_mock *m, const char *path, char *err, size_t errlen);
void mk_tokenizer_free(mb_mock *m);
uint64_t mk_count(mb_mock *m, const char *s, size_t n);
/* With a tokenizer, writes the request's answer as that tokenizer's tokens
 * (after r->total, r->reasoning and the text generators are set). 0 or
 * MB_ENOMEM. */
int mk_tok_prepare(mk_req *r);
void mk_tok_free(mk_req *r);
/* The next token to emit: *s and the length (one word of the pseudo-text,
 * or one of the tokenizer's tokens). tmp (MB_MOCK_TOKEN_MAX) holds a word. */
size_t mk_next_token(mk_req *r, int reasoning, char *tmp, const char **s);
uint64_t mk_usage_out(mk_req *r);
uint64_t mk_usage_reasoning(mk_req *r);

/* mock_fields.c: each reader returns 1 (read into *out), 0 (absent) or
 * MB_EINVAL with the reason in err. */
/* Writes the one-line reason of a refused profile or fault body. */
void mk_err_set(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A number field in [lo, hi]. */
int mk_num_field(const mb_json_val *o, const char *k, double lo, double hi, double *out,
                 char *err, size_t errlen);
/* An integer field in [lo, hi]. */
int mk_int_field(const mb_json_val *o, const char *k, long lo, long hi, int *out,
                 char *err, size_t errlen);
/* A boolean field. */
int mk_bool_field(const mb_json_val *o, const char *k, int *out, char *err, size_t errlen);
/* A string field with two choices: *out = 1 for `one`, 0 for `zero`. */
int mk_mode_field(const mb_json_val *o, const char *k, const char *one, const char *zero,
                  int *out, char *err, size_t errlen);
/* Every key of object o is one of `allowed` (or a comment): 0 or MB_EINVAL. */
int mk_check_keys(const mb_json_val *o, const char *const *allowed, const char *what,
                  char *err, size_t errlen);

/* mock_profile.c */
int mk_profile_load(mb_mock *m, const char *json, size_t len, char *err, size_t errlen);
int mk_builtin_models(mb_mock *m);
mk_model *mk_find_model(mb_mock *m, const char *name);
void mk_default_fallback(mb_mock *m);
void mk_models_free(mb_mock *m);

/* mock_stream.c */
int mk_engine_init(mb_mock *m);
void mk_engine_close(mb_mock *m, void (*closed)(void *));
/* Starts generating for a validated request (response headers included). */
void mk_req_start(mk_req *r, const mb_server_req *req);
void mk_req_conn_closed(mk_req *r);
void mk_req_drained(mk_req *r);
void mk_req_free(mk_req *r);

/* The shape of an API's errors. */
enum { SHAPE_OPENAI, SHAPE_ANTHROPIC };

/* mock_route.c */
extern const mb_server_handlers mk_handlers;   /* ud: the mock */
/* A JSON response (the body "{}" when it could not be formatted). */
void mk_respond(mb_mock *m, mb_server_conn *c, int status, const char *extra, mb_buf *b);
/* An error in the shape of the API the client speaks (OpenAI's or
 * Anthropic's body and type names); `extra`: header lines or NULL. */
void mk_api_error(mb_mock *m, mb_server_conn *c, int shape, int status, const char *message,
                  const char *param, const char *code, const char *extra);
void mk_log_line(mb_mock *m, const char *method, const char *path, int status, const mk_req *r,
                 const char *outcome);
void mk_log_req(mb_mock *m, const mk_req *r, int status, const char *outcome);

/* mock_queue.c */
/* Queues r when its model runs max_running requests already (1), else 0. */
int mk_queue_wait(mk_req *r);
/* Takes a request that never got a slot out of its model's queue. */
void mk_queue_leave(mk_req *r);
/* Admits waiting requests of md while it has free running slots. */
void mk_queue_release(mb_mock *m, mk_model *md);
/* Ends every waiting request (the mock is stopping). */
void mk_queue_cut_all(mb_mock *m, void (*finish)(mk_req *, const char *));
/* mock_stream.c: gives r its running slot and schedules its first emission. */
void mk_req_admit(mk_req *r);

/* mock_metrics.c */
#define MK_TTFT_BUCKETS 22
/* GET /metrics: Prometheus text format, vLLM's metric names. */
void mk_metrics(mb_mock *m, mb_server_conn *c, const mb_server_req *q);
/* Accounting: a request got its slot, emitted k tokens, wrote its first
 * token, finished. */
void mk_metrics_admit(mk_req *r);
void mk_metrics_tokens(mk_req *r, uint64_t k);
void mk_metrics_first(mk_req *r, uint64_t t_ns);
void mk_metrics_done(mk_req *r, const char *outcome);
/* `,"timings":{...}` (llama.cpp's names, plus queue_ms) when the model has
 * timings on; `body`: a non-streamed response (modelled times). */
void mk_timings_json(const mk_req *r, mb_buf *b, int body);

/* mock_validate.c */
/* POST /v1/chat/completions, /v1/completions, /v1/messages (api: MK_*). */
void mk_generate(mb_mock *m, mb_server_conn *c, const mb_server_req *q, int api);
int mk_auth_ok(mb_mock *m, const mb_server_req *q, int shape);

/* mock_control.c */
void mk_control(mb_mock *m, mb_server_conn *c, const mb_server_req *q, const char *sub);
void mk_refuse_start(mb_mock *m);
void mk_url_decode(const char *s, size_t n, char *out, size_t cap, int plus);

/* mock_stats.c */
void mk_count_status(mb_mock *m, int status);
void mk_count_fault_error(mb_mock *m, int status);

#endif

/* mock_validate.c: generation requests (chat, legacy completions,
 * messages) -- validated in each API's own terms and error shape, the
 * prompt's tokens counted, the faults drawn, then handed to the emission
 * engine (mock_stream.c).
 *
 * The body is read with core/json.c's cursor: validated once, then walked
 * in place, strings unescaped in pieces on the stack. Nothing is allocated
 * per JSON value, so a request costs its body's bytes (held by the server)
 * and no more, whatever its shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mock_int.h"

#define MAX_GEN_TOKENS 1000000

/* Sums the characters of every text part and hashes them: the token rule's
 * input and the seed of the generated text. */
typedef struct prompt_acc { uint64_t chars, hash, ints; mb_buf *text; } prompt_acc;

/* A text part, unescaped in pieces on the stack (no copy of the body): its
 * characters up to the first NUL, as a C string would end, hashed with
 * that NUL; with a tokenizer, also kept for it (the texts joined by
 * newlines). */
static void acc_text(prompt_acc *a, const mb_json_val *s)
{
    char buf[4096];
    size_t pos = 0, n;
    if (a->text && a->text->len)
        mb_buf_add(a->text, "\n", 1);
    while ((n = mb_json_unescape(s, &pos, buf, sizeof buf)) > 0) {
        const char *nul = memchr(buf, 0, n);
        size_t k = nul ? (size_t)(nul - buf) : n;
        a->chars += mb_mock_count_chars(buf, k);
        a->hash = mb_mock_hash(a->hash, buf, k);
        if (a->text)
            mb_buf_add(a->text, buf, k);
        if (nul)
            break;
    }
    a->hash = mb_mock_hash(a->hash, "", 1);
}

/* Content as a string or a list of blocks; text blocks count, others
 * (images, tool calls) are ignored. Returns -1 on a malformed content. */
static int acc_content(prompt_acc *a, const mb_json_val *content)
{
    mb_json_iter it;
    mb_json_val part, v;
    if (!content || content->type == MB_JSON_NULL)
        return 0;
    if (content->type == MB_JSON_STRING) {
        acc_text(a, content);
        return 0;
    }
    if (content->type != MB_JSON_ARRAY)
        return -1;
    mb_json_iter_init(&it, content);
    while (mb_json_next(&it, NULL, &part)) {
        if (part.type == MB_JSON_STRING) {
            acc_text(a, &part);
            continue;
        }
        if (part.type != MB_JSON_OBJECT)
            return -1;
        if (mb_json_find(&part, "text", &v) && v.type == MB_JSON_STRING)
            acc_text(a, &v);
        if (mb_json_find(&part, "content", &v) && acc_content(a, &v) < 0)   /* tool_result */
            return -1;
    }
    return 0;
}

static int acc_messages(prompt_acc *a, const mb_json_val *msgs)
{
    mb_json_iter it;
    mb_json_val msg, v;
    int n = 0;
    if (!msgs || msgs->type != MB_JSON_ARRAY)
        return -1;
    mb_json_iter_init(&it, msgs);
    while (mb_json_next(&it, NULL, &msg)) {
        n++;
        if (msg.type != MB_JSON_OBJECT)
            return -1;
        if (acc_content(a, mb_json_find(&msg, "content", &v) ? &v : NULL) < 0)
            return -1;
    }
    return n ? 0 : -1;
}

/* The legacy `prompt`: a string, a list of strings, or token ids (which
 * count one token each, like the real API). */
static int acc_prompt(prompt_acc *a, const mb_json_val *p)
{
    mb_json_iter it;
    mb_json_val v;
    if (p && p->type == MB_JSON_STRING) {
        acc_text(a, p);
        return 0;
    }
    if (!p || p->type != MB_JSON_ARRAY)
        return -1;
    mb_json_iter_init(&it, p);
    while (mb_json_next(&it, NULL, &v)) {
        if (v.type == MB_JSON_STRING) {
            acc_text(a, &v);
        } else if (v.type == MB_JSON_NUMBER) {
            double d = mb_json_num(&v);
            a->ints++;
            a->hash = mb_mock_hash(a->hash, &d, sizeof d);
        } else if (v.type == MB_JSON_ARRAY) {
            if (acc_prompt(a, &v) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads an optional positive integer token count; -1 if absent, -2 bad. */
static long opt_tokens(const mb_json_val *v)
{
    double d;
    if (!v || v->type == MB_JSON_NULL)
        return -1;
    d = mb_json_num(v);
    if (v->type != MB_JSON_NUMBER || d != floor(d) || d < 1 || d > MAX_GEN_TOKENS)
        return -2;
    return (long)d;
}

/* The request carries the configured API key (Bearer, or x-api-key for
 * Anthropic), or none is configured. */
int mk_auth_ok(mb_mock *m, const mb_server_req *q, int shape)
{
    size_t n, kl;
    const char *v;
    if (!m->api_key)
        return 1;
    kl = strlen(m->api_key);
    v = mb_server_req_header(q, "authorization", &n);
    if (v && n == 7 + kl && strncasecmp(v, "Bearer ", 7) == 0 && memcmp(v + 7, m->api_key, kl) == 0)
        return 1;
    if (shape == SHAPE_ANTHROPIC) {
        v = mb_server_req_header(q, "x-api-key", &n);
        if (v && n == kl && memcmp(v, m->api_key, kl) == 0)
            return 1;
    }
    return 0;
}

/* Ids in each API's style, derived from the seed and the request number. */
static void make_id(mb_mock *m, int api, uint64_t seq, char *out, size_t cap)
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const char *prefix = api == MK_MESSAGES ? "msg_01" : api == MK_COMPLETIONS ? "cmpl-" : "chatcmpl-";
    size_t pl = strlen(prefix), n = api == MK_MESSAGES ? 22 : 24;
    uint64_t x = mb_mock_mix(m->seed ^ (seq * 0x9e3779b97f4a7c15ULL));
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < n && pl + i + 1 < cap; i++) {
        if (i % 10 == 9)
            x = mb_mock_mix(x);
        out[pl + i] = alnum[x % 62];
        x /= 62;
    }
    out[pl + n < cap ? pl + n : cap - 1] = 0;
}

/* Copies the client's x-mock-request-id, keeping printable characters only
 * (it is echoed in a response header and in JSON). */
static void client_id(const mb_server_req *q, char *out, size_t cap)
{
    size_t n = 0, j = 0;
    const char *v = mb_server_req_header(q, "x-mock-request-id", &n);
    for (size_t i = 0; v && i < n && j + 1 < cap; i++)
        if (v[i] > 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\')
            out[j++] = v[i];
    out[j] = 0;
}

/* -------------------------------------------------------------- faults */

typedef struct plan {
    int status;
    int stream_error, stall, disconnect, malformed, slow_ttft;
} plan;

/* Draws which faults this request gets. Always seven draws, whatever the
 * settings, so the sequence for a given seed does not shift when a rate
 * changes from 0 to something else. */
static plan draw_faults(mb_mock *m)
{
    const mk_faults *f = &m->faults;
    plan p = {0};
    double u = mb_rng_uniform(&m->frng), acc = f->simple_rate;
    if (u < acc) {
        p.status = f->simple_status;
    } else {
        for (int i = 0; i < f->nstatus && !p.status; i++) {
            acc += f->rate[i];
            if (u < acc)
                p.status = f->status[i];
        }
    }
    p.stream_error = mb_rng_uniform(&m->frng) < f->stream_error_rate;
    p.stall = mb_rng_uniform(&m->frng) < f->stall_rate;
    p.disconnect = mb_rng_uniform(&m->frng) < f->disconnect_rate;
    p.malformed = mb_rng_uniform(&m->frng) < f->malformed_rate;
    p.slow_ttft = mb_rng_uniform(&m->frng) < f->slow_ttft_rate;
    (void)mb_rng_uniform(&m->frng);   /* reserved */
    return p;
}

/* The injected HTTP error: the API's body plus retry headers. */
static void fault_error(mb_mock *m, mb_server_conn *c, int shape, int status, const char *model)
{
    const mk_faults *f = &m->faults;
    char extra[160] = "", msg[256];
    int n = 0;
    if (f->retry_after >= 0 && (status == 429 || status == 503 || status == 529))
        n = snprintf(extra, sizeof extra, "retry-after: %.0f\r\nretry-after-ms: %.0f\r\n",
                     ceil(f->retry_after), f->retry_after * 1000.0);
    if (f->should_retry >= 0 && n >= 0 && (size_t)n < sizeof extra)
        snprintf(extra + n, sizeof extra - (size_t)n, "x-should-retry: %s\r\n",
                 f->should_retry ? "true" : "false");
    if (status == 429)
        snprintf(msg, sizeof msg, "Rate limit reached for %s (injected by the mock). "
                 "Please try again later.", model);
    else if (status == 529 || status == 503)
        snprintf(msg, sizeof msg, "%s", shape == SHAPE_ANTHROPIC ? "Overloaded"
                 : "The engine is currently overloaded, please try again later");
    else
        snprintf(msg, sizeof msg, "The server had an error while processing your request "
                 "(injected by the mock, status %d).", status);
    mk_api_error(m, c, shape, status, msg, NULL,
              status == 429 ? "rate_limit_exceeded" : NULL, extra);
    mk_count_fault_error(m, status);
}

/* -------------------------------------------------------------- generate */

/* Records a request that ended before generating (validation or injected
 * error), so tests can still find it in the trace. */
static void trace_error(mb_mock *m, mk_trace_rec *tr, int status)
{
    if (!tr)
        return;
    tr->status = status;
    tr->outcome = "error";
    tr->headers_ns = tr->end_ns = mb_clock_now_ns();
    mk_trace_done(&m->trace, tr);
}

/* The top-level fields a generation request may carry, read in one pass
 * over the body (each lookup would be a pass of its own): the first of
 * each name counts, as in every mainstream parser. */
enum { F_MODEL, F_STREAM, F_N, F_MAX_TOKENS, F_MAX_COMPLETION_TOKENS, F_MESSAGES, F_PROMPT,
       F_SYSTEM, F_STREAM_OPTIONS, F_SEED, F_IGNORE_EOS, F_MIN_TOKENS, F_THINKING, NFIELDS };
static const char *const field_names[NFIELDS] = {
    "model", "stream", "n", "max_tokens", "max_completion_tokens", "messages", "prompt",
    "system", "stream_options", "seed", "ignore_eos", "min_tokens", "thinking"};

typedef struct fields {
    mb_json_val v[NFIELDS];
    unsigned seen;              /* bit i: field i present */
} fields;

static void read_fields(const mb_json_val *body, fields *f)
{
    mb_json_iter it;
    mb_json_val k, v;
    f->seen = 0;
    mb_json_iter_init(&it, body);
    while (mb_json_next(&it, &k, &v))
        for (int i = 0; i < NFIELDS; i++)
            if (!(f->seen & (1u << i)) && mb_json_eq(&k, field_names[i])) {
                f->v[i] = v;
                f->seen |= 1u << i;
                break;
            }
}

/* Field i, or NULL when absent. */
static const mb_json_val *field(const fields *f, int i)
{
    return f->seen & (1u << i) ? &f->v[i] : NULL;
}

/* POST /v1/chat/completions, /v1/completions, /v1/messages: validate in the
 * API's own terms, draw faults, then hand over to the emission engine. */
void mk_generate(mb_mock *m, mb_server_conn *c, const mb_server_req *q, int api)
{
    int shape = api == MK_MESSAGES ? SHAPE_ANTHROPIC : SHAPE_OPENAI;
    mb_json_val body;
    fields f;
    mk_req *r = NULL;
    mk_trace_rec *tr = NULL;
    const mb_json_val *v;
    char msg[512];
    int status = 0;
    long max = -1;
    mb_mock_limits lim = {-1, -1, 0};
    mb_buf ptext = MB_BUF_INIT;
    prompt_acc acc = {0, MB_MOCK_HASH_INIT, 0, (m->tokenizer || m->cache) ? &ptext : NULL};
    mk_model *md = NULL;
    char *model_name = NULL;
    uint64_t seq = ++m->seq;

    tr = mk_trace_new(&m->trace, seq);
    if (tr) {
        client_id(q, tr->client_id, sizeof tr->client_id);
        tr->endpoint = api == MK_CHAT ? "chat" : api == MK_COMPLETIONS ? "completions" : "messages";
        tr->start_ns = q->start_ns;
        tr->arrival_ns = q->done_ns;
        tr->arrival_wall = mb_clock_wall() - (double)(mb_clock_now_ns() - q->done_ns) * 1e-9;
        make_id(m, api, seq, tr->id, sizeof tr->id);
    }
#define FAIL(st, text, param, code) do { status = (st); \
        mk_api_error(m, c, shape, status, text, param, code, NULL); goto out; } while (0)

    if (strcmp(q->method, "POST") != 0)
        FAIL(405, "Method not allowed: use POST.", NULL, NULL);
    if (!mk_auth_ok(m, q, shape))
        FAIL(401, shape == SHAPE_ANTHROPIC ? "invalid x-api-key"
                  : "Incorrect API key provided. You can find your API key in the mock's "
                    "configuration (--api-key).", NULL, "invalid_api_key");
    if (shape == SHAPE_ANTHROPIC && m->api_key && !mb_server_req_header(q, "anthropic-version", NULL))
        FAIL(400, "anthropic-version: header is required", NULL, NULL);
    if (mb_json_doc(q->body, q->body_len, &body) < 0 || body.type != MB_JSON_OBJECT)
        FAIL(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                  "you aren't using your HTTP library correctly.)", NULL, NULL);
    read_fields(&body, &f);
    v = field(&f, F_MODEL);
    if (v && v->type == MB_JSON_STRING && !(model_name = mb_json_strdup(v)))
        FAIL(500, "out of memory", NULL, NULL);
    if (!model_name || !*model_name)   /* (a name cut by \u0000 is cut there) */
        FAIL(400, shape == SHAPE_ANTHROPIC ? "model: Field required"
                  : "you must provide a model parameter", "model", NULL);
    if (tr)
        tr->model = strdup(model_name);
    md = mk_find_model(m, model_name);
    if (!md && m->any_model)
        md = m->fallback;
    if (!md) {
        if (shape == SHAPE_ANTHROPIC)
            snprintf(msg, sizeof msg, "model: %.300s", model_name);
        else
            snprintf(msg, sizeof msg, "The model `%.300s` does not exist or you do not have "
                     "access to it.", model_name);
        FAIL(404, msg, NULL, "model_not_found");
    }
    v = field(&f, F_STREAM);
    if (v && v->type != MB_JSON_TRUE && v->type != MB_JSON_FALSE && v->type != MB_JSON_NULL)
        FAIL(400, "stream: must be a boolean", "stream", NULL);
    v = field(&f, F_N);
    if (v && v->type != MB_JSON_NULL && !(v->type == MB_JSON_NUMBER && mb_json_num(v) == 1))
        FAIL(400, "The mock supports n = 1 only.", "n", NULL);
    if (api != MK_MESSAGES) {   /* vLLM's extensions, honoured as vLLM does */
        v = field(&f, F_IGNORE_EOS);
        if (v && v->type != MB_JSON_TRUE && v->type != MB_JSON_FALSE && v->type != MB_JSON_NULL)
            FAIL(400, "ignore_eos: must be a boolean", "ignore_eos", NULL);
        lim.ignore_eos = v && v->type == MB_JSON_TRUE;
        v = field(&f, F_MIN_TOKENS);
        if (v && v->type != MB_JSON_NULL) {
            double d = mb_json_num(v);
            if (v->type != MB_JSON_NUMBER || d != floor(d) || d < 0 || d > MAX_GEN_TOKENS)
                FAIL(400, "min_tokens must be an integer in [0, 1000000]", "min_tokens", NULL);
            lim.min_tokens = (long)d;
        }
    }
    if (api == MK_CHAT) {
        max = opt_tokens(field(&f, F_MAX_COMPLETION_TOKENS));
        if (max == -1)
            max = opt_tokens(field(&f, F_MAX_TOKENS));
        if (max == -2)
            FAIL(400, "max_tokens / max_completion_tokens must be an integer in [1, 1000000]",
                 "max_tokens", "integer_below_min_value");
        if (acc_messages(&acc, field(&f, F_MESSAGES)) < 0)
            FAIL(400, "messages: must be a non-empty array of {role, content} objects",
                 "messages", NULL);
    } else if (api == MK_COMPLETIONS) {
        max = opt_tokens(field(&f, F_MAX_TOKENS));
        if (max == -2)
            FAIL(400, "max_tokens must be an integer in [1, 1000000]", "max_tokens", NULL);
        if (max == -1)
            max = 16;   /* the legacy API's default */
        if (acc_prompt(&acc, field(&f, F_PROMPT)) < 0)
            FAIL(400, "prompt: must be a string or an array of strings or tokens", "prompt", NULL);
    } else {
        max = opt_tokens(field(&f, F_MAX_TOKENS));
        if (max < 0)
            FAIL(400, max == -1 ? "max_tokens: Field required"
                                : "max_tokens: must be an integer in [1, 1000000]", NULL, NULL);
        v = field(&f, F_SYSTEM);
        if (v && acc_content(&acc, v) < 0)
            FAIL(400, "system: must be a string or a list of text blocks", NULL, NULL);
        if (acc_messages(&acc, field(&f, F_MESSAGES)) < 0)
            FAIL(400, "messages: must be a non-empty list of {role, content} objects", NULL, NULL);
    }

    if (lim.min_tokens > 0 && max > 0 && lim.min_tokens > max)
        FAIL(400, "min_tokens must be less than or equal to max_tokens", "min_tokens", NULL);

    plan p = draw_faults(m);
    if (p.status) {
        if (tr)
            tr->faults |= MK_F_ERROR;
        status = p.status;
        fault_error(m, c, shape, status, model_name);
        goto out;
    }

    {
        mb_buf mj = MB_BUF_INIT;
        mb_json_put_str(&mj, model_name, strlen(model_name));
        if (!(r = calloc(1, sizeof *r)) || !(r->model_json = mb_buf_take(&mj))) {
            mb_buf_free(&mj);
            free(r);
            r = NULL;
            FAIL(500, "out of memory", NULL, NULL);
        }
    }
    r->m = m;
    r->conn = c;
    r->model = md;
    r->api = api;
    r->stream = field(&f, F_STREAM) && field(&f, F_STREAM)->type == MB_JSON_TRUE;
    {
        mb_json_val iu;
        v = field(&f, F_STREAM_OPTIONS);
        r->include_usage = v && mb_json_find(v, "include_usage", &iu) && iu.type == MB_JSON_TRUE;
    }
    r->usage = api == MK_MESSAGES ? 1 : md->usage;
    r->prompt_tokens = (m->tokenizer ? mk_count(m, ptext.p, ptext.len)
                                     : mb_mock_tokens_for_chars(acc.chars)) + acc.ints;
    r->cached_tokens = mk_cache_request(m, md, ptext.p, ptext.len, r->prompt_tokens);
    if (m->cache) {   /* kept: the answer's sequence is cached when it ends */
        r->ptext = ptext;
        ptext = (mb_buf)MB_BUF_INIT;
    }
    /* reasoning: chat always (the model's reasoning_tokens); Anthropic
     * when the request enables extended thinking, as the real API */
    r->reasoning = api == MK_CHAT ? (uint64_t)md->reasoning_tokens : 0;
    if (api == MK_MESSAGES && (v = field(&f, F_THINKING)) && v->type == MB_JSON_OBJECT) {
        mb_json_val ty;
        if (mb_json_find(v, "type", &ty) && mb_json_eq(&ty, "enabled"))
            r->reasoning = (uint64_t)md->reasoning_tokens;
    }
    r->tpc = md->tokens_per_chunk;
    r->epw = md->events_per_write;
    {
        uint64_t h = mb_mock_hash(acc.hash, &m->seed, sizeof m->seed);
        h = mb_mock_hash(h, md->name, strlen(md->name));
        v = field(&f, F_SEED);
        if (v && v->type == MB_JSON_NUMBER) {
            double d = mb_json_num(v);
            h = mb_mock_hash(h, &d, sizeof d);
        }
        /* the answer's length: natural, then the request's limits */
        mb_mock_length len = {(uint64_t)md->natural_tokens, md->length_spread, md->always_max};
        lim.max_tokens = max;
        r->total = mb_mock_output_length(&len, mb_mock_mix(h ^ 0x6c656e67u), r->reasoning, &lim,
                                         &r->finish_length);
        if (r->reasoning > r->total)
            r->reasoning = r->total;
        mb_mock_text_init(&r->text, mb_mock_mix(h));
        mb_mock_text_init(&r->rtext, mb_mock_mix(h ^ 0x5bd1e995u));
        mb_rng_seed(&r->jit, mb_mock_mix(h ^ 0x27d4eb2fu));
    }
    if (mk_tok_prepare(r) < 0) {   /* the answer as the tokenizer's tokens */
        mk_req_free(r);
        r = NULL;
        FAIL(500, "out of memory", NULL, NULL);
    }
    r->stall_at = r->disconnect_at = r->stream_error_at = r->malformed_at = -1;
    if (p.stall) {
        r->stall_at = r->stream ? m->faults.stall_after : 0;
        r->stall_ns = (uint64_t)(m->faults.stall_s * 1e9 + 0.5);
    }
    if (p.disconnect)
        r->disconnect_at = r->stream ? m->faults.disconnect_after : 0;
    if (p.stream_error && r->stream)
        r->stream_error_at = m->faults.stream_error_after;
    if (p.malformed)
        r->malformed_at = r->stream ? m->faults.malformed_after : 0;
    if (p.slow_ttft) {
        r->slow_ttft_s = m->faults.slow_ttft_s;
        m->st.f_slow_ttft++;
        if (tr)
            tr->faults |= MK_F_SLOW_TTFT;
    }
    memcpy(r->id, tr ? tr->id : "chatcmpl-mock", strlen(tr ? tr->id : "chatcmpl-mock") + 1);
    r->created = (long long)time(NULL);
    snprintf(r->method, sizeof r->method, "%s", q->method);
    snprintf(r->path, sizeof r->path, "%.*s", (int)(q->path_len < 47 ? q->path_len : 47), q->path);
    if (tr) {
        tr->stream = r->stream;
        tr->status = 200;
        tr->prompt_tokens = r->prompt_tokens;
        tr->cached_tokens = r->cached_tokens;
    }
    r->tr = tr;
    tr = NULL;
    status = 200;
    mk_count_status(m, 200);
    mk_req_start(r, q);
out:
#undef FAIL
    if (status != 200) {
        if (tr)
            tr->prompt_tokens = mb_mock_tokens_for_chars(acc.chars) + acc.ints;
        trace_error(m, tr, status);
        mk_log_line(m, q->method, q->path, status, NULL,
                    tr && (tr->faults & MK_F_ERROR) ? "fault" : NULL);
    }
    free(model_name);
    mb_buf_free(&ptext);
}

/* mock.c: the emulated LLM server's front -- start/stop, routing, request
 * validation in each API's own error shape, the fault draw, the
 * /mock/... control endpoints, stats and the per-request log line. Generation itself
 * (timing, chunks, stream faults) is in mock_stream.c. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mock_int.h"

#define MAX_GEN_TOKENS 1000000

enum { SHAPE_OPENAI, SHAPE_ANTHROPIC };

/* ------------------------------------------------------------ counters */

void mk_count_status(mb_mock *m, int status)
{
    mk_stats *s = &m->st;
    m->last_status = status;
    for (int i = 0; i < s->nstatus; i++)
        if (s->status[i] == status) {
            s->status_count[i]++;
            return;
        }
    if (s->nstatus < (int)(sizeof s->status / sizeof s->status[0])) {
        s->status[s->nstatus] = status;
        s->status_count[s->nstatus++] = 1;
    }
}

void mk_count_fault_error(mb_mock *m, int status)
{
    mk_stats *s = &m->st;
    for (int i = 0; i < s->nf_error; i++)
        if (s->f_error_status[i] == status) {
            s->f_error[i]++;
            return;
        }
    if (s->nf_error < (int)(sizeof s->f_error / sizeof s->f_error[0])) {
        s->f_error_status[s->nf_error] = status;
        s->f_error[s->nf_error++] = 1;
    }
}

/* One line per request on stderr (when logging is on): what a developer
 * watching the terminal wants -- status, model, token counts and timings. */
static void log_line(mb_mock *m, const char *method, const char *path, int status,
                     const mk_req *r, const char *outcome)
{
    char ts[32], extra[256] = "";
    struct timespec now;
    struct tm tmv;
    if (!m->log)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tmv);
    strftime(ts, sizeof ts, "%H:%M:%S", &tmv);
    if (r) {
        double ttft = r->tr && r->tr->first_ns && r->tr->first_ns > r->arrival_ns
                          ? (double)(r->tr->first_ns - r->arrival_ns) * 1e-6 : 0;
        double dur = (double)(mb_clock_now_ns() - r->arrival_ns) * 1e-6;
        snprintf(extra, sizeof extra, " model=%s%s in=%llu out=%llu ttft=%.1fms dur=%.1fms %s",
                 r->model ? r->model->name : "?", r->stream ? " stream" : "",
                 (unsigned long long)r->prompt_tokens, (unsigned long long)r->emitted, ttft, dur,
                 outcome ? outcome : "");
        if (r->tr && r->tr->model && r->model && strcmp(r->tr->model, r->model->name) != 0)
            snprintf(extra, sizeof extra, " model=%s(as %s)%s in=%llu out=%llu ttft=%.1fms "
                     "dur=%.1fms %s", r->tr->model, r->model->name, r->stream ? " stream" : "",
                     (unsigned long long)r->prompt_tokens, (unsigned long long)r->emitted, ttft,
                     dur, outcome ? outcome : "");
    } else if (outcome) {
        snprintf(extra, sizeof extra, " %s", outcome);
    }
    fprintf(stderr, "%s.%03ld %s %s %d%s\n", ts, now.tv_nsec / 1000000, method, path, status, extra);
}

void mk_log_req(mb_mock *m, const mk_req *r, int status, const char *outcome)
{
    log_line(m, r->method, r->path, status, r, outcome);
}

/* ----------------------------------------------------------- responding */

static void respond(mb_mock *m, mb_server_conn *c, int status, const char *extra, mk_buf *b)
{
    mk_count_status(m, status);
    mb_server_respond(c, status, "application/json", extra, b->oom ? "{}" : b->p ? b->p : "",
                      b->oom ? 2 : b->len);
}

/* An error in the shape of the API the client speaks. */
static void api_error(mb_mock *m, mb_server_conn *c, int shape, int status, const char *message,
                      const char *param, const char *code, const char *extra)
{
    mk_buf b = {0};
    const char *type;
    if (shape == SHAPE_ANTHROPIC) {
        switch (status) {
        case 400: type = "invalid_request_error"; break;
        case 401: type = "authentication_error"; break;
        case 403: type = "permission_error"; break;
        case 404: type = "not_found_error"; break;
        case 413: type = "request_too_large"; break;
        case 429: type = "rate_limit_error"; break;
        case 529: type = "overloaded_error"; break;
        default: type = status >= 500 ? "api_error" : "invalid_request_error";
        }
        char rid[40];
        snprintf(rid, sizeof rid, "req_mock%016llx", (unsigned long long)mb_mock_mix(m->seq));
        mk_anthropic_error(&b, type, message, rid);
    } else {
        type = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
        mk_openai_error(&b, message, type, param, code);
    }
    respond(m, c, status, extra, &b);
    mk_buf_free(&b);
}

static int shape_of_path(const char *path)
{
    return strstr(path, "/messages") ? SHAPE_ANTHROPIC : SHAPE_OPENAI;
}

/* ----------------------------------------------------------- validation */

/* Sums the characters of every text part and hashes them: the token rule's
 * input and the seed of the generated text. */
typedef struct prompt_acc { uint64_t chars, hash, ints; mk_buf *text; } prompt_acc;

static void acc_text(prompt_acc *a, const char *s)
{
    size_t n = strlen(s);
    a->chars += mb_mock_count_chars(s, n);
    a->hash = mb_mock_hash(a->hash, s, n + 1);
    if (a->text) {   /* for the tokenizer: the texts joined by newlines */
        if (a->text->len)
            mk_put(a->text, "\n", 1);
        mk_put(a->text, s, n);
    }
}

/* Content as a string or a list of blocks; text blocks count, others
 * (images, tool calls) are ignored. Returns -1 on a malformed content. */
static int acc_content(prompt_acc *a, const cJSON *content)
{
    if (!content || cJSON_IsNull(content))
        return 0;
    if (cJSON_IsString(content)) {
        acc_text(a, content->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(content))
        return -1;
    for (const cJSON *part = content->child; part; part = part->next) {
        if (cJSON_IsString(part)) {
            acc_text(a, part->valuestring);
            continue;
        }
        if (!cJSON_IsObject(part))
            return -1;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t))
            acc_text(a, t->valuestring);
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(part, "content");   /* tool_result */
        if (inner && acc_content(a, inner) < 0)
            return -1;
    }
    return 0;
}

static int acc_messages(prompt_acc *a, const cJSON *msgs)
{
    if (!cJSON_IsArray(msgs) || !msgs->child)
        return -1;
    for (const cJSON *msg = msgs->child; msg; msg = msg->next) {
        if (!cJSON_IsObject(msg))
            return -1;
        if (acc_content(a, cJSON_GetObjectItemCaseSensitive(msg, "content")) < 0)
            return -1;
    }
    return 0;
}

/* The legacy `prompt`: a string, a list of strings, or token ids (which
 * count one token each, like the real API). */
static int acc_prompt(prompt_acc *a, const cJSON *p)
{
    if (cJSON_IsString(p)) {
        acc_text(a, p->valuestring);
        return 0;
    }
    if (!cJSON_IsArray(p))
        return -1;
    for (const cJSON *it = p->child; it; it = it->next) {
        if (cJSON_IsString(it)) {
            acc_text(a, it->valuestring);
        } else if (cJSON_IsNumber(it)) {
            a->ints++;
            a->hash = mb_mock_hash(a->hash, &it->valuedouble, sizeof it->valuedouble);
        } else if (cJSON_IsArray(it)) {
            if (acc_prompt(a, it) < 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads an optional positive integer token count; -1 if absent, -2 bad. */
static long opt_tokens(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v || cJSON_IsNull(v))
        return -1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > MAX_GEN_TOKENS)
        return -2;
    return (long)v->valuedouble;
}

static int auth_ok(mb_mock *m, const mb_server_req *q, int shape)
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
    double u = mb_mock_rng_uniform(&m->frng), acc = f->simple_rate;
    if (u < acc) {
        p.status = f->simple_status;
    } else {
        for (int i = 0; i < f->nstatus && !p.status; i++) {
            acc += f->rate[i];
            if (u < acc)
                p.status = f->status[i];
        }
    }
    p.stream_error = mb_mock_rng_uniform(&m->frng) < f->stream_error_rate;
    p.stall = mb_mock_rng_uniform(&m->frng) < f->stall_rate;
    p.disconnect = mb_mock_rng_uniform(&m->frng) < f->disconnect_rate;
    p.malformed = mb_mock_rng_uniform(&m->frng) < f->malformed_rate;
    p.slow_ttft = mb_mock_rng_uniform(&m->frng) < f->slow_ttft_rate;
    (void)mb_mock_rng_uniform(&m->frng);   /* reserved */
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
    api_error(m, c, shape, status, msg, NULL,
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

/* POST /v1/chat/completions, /v1/completions, /v1/messages: validate in the
 * API's own terms, draw faults, then hand over to the emission engine. */
static void handle_generate(mb_mock *m, mb_server_conn *c, const mb_server_req *q, int api)
{
    int shape = api == MK_MESSAGES ? SHAPE_ANTHROPIC : SHAPE_OPENAI;
    cJSON *body = NULL;
    mk_req *r = NULL;
    mk_trace_rec *tr = NULL;
    const cJSON *v;
    char msg[512];
    int status = 0;
    long max = -1;
    mk_buf ptext = {0};
    prompt_acc acc = {0, MB_MOCK_HASH_INIT, 0, m->tokenizer ? &ptext : NULL};
    mk_model *md = NULL;
    const char *model_name = NULL;
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
        api_error(m, c, shape, status, text, param, code, NULL); goto out; } while (0)

    if (strcmp(q->method, "POST") != 0)
        FAIL(405, "Method not allowed: use POST.", NULL, NULL);
    if (!auth_ok(m, q, shape))
        FAIL(401, shape == SHAPE_ANTHROPIC ? "invalid x-api-key"
                  : "Incorrect API key provided. You can find your API key in the mock's "
                    "configuration (--api-key).", NULL, "invalid_api_key");
    if (shape == SHAPE_ANTHROPIC && m->api_key && !mb_server_req_header(q, "anthropic-version", NULL))
        FAIL(400, "anthropic-version: header is required", NULL, NULL);
    body = cJSON_ParseWithLength(q->body, q->body_len);
    if (!cJSON_IsObject(body))
        FAIL(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                  "you aren't using your HTTP library correctly.)", NULL, NULL);
    v = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (!cJSON_IsString(v) || !*v->valuestring)
        FAIL(400, shape == SHAPE_ANTHROPIC ? "model: Field required"
                  : "you must provide a model parameter", "model", NULL);
    model_name = v->valuestring;
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
    v = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (v && !cJSON_IsBool(v) && !cJSON_IsNull(v))
        FAIL(400, "stream: must be a boolean", "stream", NULL);
    v = cJSON_GetObjectItemCaseSensitive(body, "n");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 1))
        FAIL(400, "The mock supports n = 1 only.", "n", NULL);
    if (api == MK_CHAT) {
        max = opt_tokens(body, "max_completion_tokens");
        if (max == -1)
            max = opt_tokens(body, "max_tokens");
        if (max == -2)
            FAIL(400, "max_tokens / max_completion_tokens must be an integer in [1, 1000000]",
                 "max_tokens", "integer_below_min_value");
        if (acc_messages(&acc, cJSON_GetObjectItemCaseSensitive(body, "messages")) < 0)
            FAIL(400, "messages: must be a non-empty array of {role, content} objects",
                 "messages", NULL);
    } else if (api == MK_COMPLETIONS) {
        max = opt_tokens(body, "max_tokens");
        if (max == -2)
            FAIL(400, "max_tokens must be an integer in [1, 1000000]", "max_tokens", NULL);
        if (max == -1)
            max = 16;   /* the legacy API's default */
        if (acc_prompt(&acc, cJSON_GetObjectItemCaseSensitive(body, "prompt")) < 0)
            FAIL(400, "prompt: must be a string or an array of strings or tokens", "prompt", NULL);
    } else {
        max = opt_tokens(body, "max_tokens");
        if (max < 0)
            FAIL(400, max == -1 ? "max_tokens: Field required"
                                : "max_tokens: must be an integer in [1, 1000000]", NULL, NULL);
        v = cJSON_GetObjectItemCaseSensitive(body, "system");
        if (v && acc_content(&acc, v) < 0)
            FAIL(400, "system: must be a string or a list of text blocks", NULL, NULL);
        if (acc_messages(&acc, cJSON_GetObjectItemCaseSensitive(body, "messages")) < 0)
            FAIL(400, "messages: must be a non-empty list of {role, content} objects", NULL, NULL);
    }

    plan p = draw_faults(m);
    if (p.status) {
        if (tr)
            tr->faults |= MK_F_ERROR;
        status = p.status;
        fault_error(m, c, shape, status, model_name);
        goto out;
    }

    r = calloc(1, sizeof *r);
    if (!r || !(r->model_json = malloc(strlen(model_name) * 6 + 3))) {
        free(r);
        r = NULL;
        FAIL(500, "out of memory", NULL, NULL);
    }
    {
        mk_buf mj = {0};
        mk_put_json_str(&mj, model_name, strlen(model_name));
        free(r->model_json);
        r->model_json = mk_buf_take(&mj);
        if (!r->model_json) {
            free(r);
            r = NULL;
            FAIL(500, "out of memory", NULL, NULL);
        }
    }
    r->m = m;
    r->conn = c;
    r->model = md;
    r->api = api;
    r->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "stream"));
    v = cJSON_GetObjectItemCaseSensitive(body, "stream_options");
    r->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));
    r->usage = api == MK_MESSAGES ? 1 : md->usage;
    r->prompt_tokens = (m->tokenizer ? mk_count(m, ptext.p, ptext.len)
                                     : mb_mock_tokens_for_chars(acc.chars)) + acc.ints;
    r->total = max > 0 ? (uint64_t)max : (uint64_t)md->natural_tokens;
    r->finish_length = max > 0;
    r->reasoning = api == MK_CHAT ? (uint64_t)md->reasoning_tokens : 0;
    if (r->reasoning > r->total)
        r->reasoning = r->total;
    r->tpc = md->tokens_per_chunk;
    r->epw = md->events_per_write;
    {
        uint64_t h = mb_mock_hash(acc.hash, &m->seed, sizeof m->seed);
        h = mb_mock_hash(h, md->name, strlen(md->name));
        v = cJSON_GetObjectItemCaseSensitive(body, "seed");
        if (cJSON_IsNumber(v))
            h = mb_mock_hash(h, &v->valuedouble, sizeof v->valuedouble);
        mb_mock_text_init(&r->text, mb_mock_mix(h));
        mb_mock_text_init(&r->rtext, mb_mock_mix(h ^ 0x5bd1e995u));
        mb_mock_rng_seed(&r->jit, mb_mock_mix(h ^ 0x27d4eb2fu));
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
        log_line(m, q->method, q->path, status, NULL, tr && (tr->faults & MK_F_ERROR) ? "fault" : NULL);
    }
    cJSON_Delete(body);
    mk_buf_free(&ptext);
}

/* ---------------------------------------------------------------- models */

static void models_list(mb_mock *m, mb_server_conn *c, const mb_server_req *q, const char *one)
{
    mk_buf b = {0};
    long long created = 1721692800;   /* fixed: model lists are stable */
    if (!auth_ok(m, q, SHAPE_OPENAI)) {
        api_error(m, c, SHAPE_OPENAI, 401, "Incorrect API key provided.", NULL, "invalid_api_key", NULL);
        return;
    }
    if (one) {
        mk_model *md = mk_find_model(m, one);
        if (!md && !m->any_model) {
            char msg[400];
            snprintf(msg, sizeof msg, "The model `%.300s` does not exist or you do not have "
                     "access to it.", one);
            api_error(m, c, SHAPE_OPENAI, 404, msg, "model", "model_not_found", NULL);
            return;
        }
        mk_puts(&b, "{\"id\":");
        mk_put_json_str(&b, one, strlen(one));
        mk_printf(&b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":", created);
        const char *own = md ? md->owned_by : "mlxbench-mock";
        mk_put_json_str(&b, own, strlen(own));
        mk_puts(&b, "}");
    } else {
        mk_puts(&b, "{\"object\":\"list\",\"data\":[");
        for (mk_model *md = m->models; md; md = md->next) {
            mk_puts(&b, md == m->models ? "{\"id\":" : ",{\"id\":");
            mk_put_json_str(&b, md->name, strlen(md->name));
            mk_printf(&b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":", created);
            mk_put_json_str(&b, md->owned_by, strlen(md->owned_by));
            mk_puts(&b, "}");
        }
        mk_puts(&b, "]}");
    }
    respond(m, c, 200, NULL, &b);
    mk_buf_free(&b);
}

/* ------------------------------------------------------- control plane */

/* %XX-decodes n bytes of s into out (NUL-terminated, truncated to cap);
 * `plus` turns '+' into a space, as in query strings. */
static void url_decode2(const char *s, size_t n, char *out, size_t cap, int plus)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[j++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = 0;
}

static void url_decode(const char *s, size_t n, char *out, size_t cap)
{
    url_decode2(s, n, out, cap, 0);
}

/* Value of `key` in a query string, %XX-decoded into out; 0 if absent. */
static int query_param(const char *q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > kl && strncmp(q, key, kl) == 0 && q[kl] == '=') {
            url_decode2(q + kl + 1, len - kl - 1, out, cap, 1);
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

static int query_u64(const char *q, const char *key, uint64_t *out)
{
    char v[32], *end = NULL;
    if (!query_param(q, key, v, sizeof v))
        return 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!end || *end || v[0] == '-' || v[0] == 0)
        return -1;
    *out = x;
    return 1;
}

static void on_refuse_timer(uv_timer_t *t);

/* Applies fault fields, then what they imply at once (listening, RNG). */
static int apply_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc;
    if (!o) {
        snprintf(err, errlen, "faults: body is not valid JSON");
        return MB_EPARSE;
    }
    int was_refusing = m->faults.refuse_connections;
    uint64_t old_seed = m->faults.seed;
    rc = mk_faults_apply(&m->faults, &m->faults_initial, o, err, errlen);
    if (rc == 0 && (cJSON_GetObjectItemCaseSensitive(o, "seed") || m->faults.seed != old_seed))
        mb_mock_rng_seed(&m->frng, m->faults.seed);
    cJSON_Delete(o);
    if (rc < 0)
        return rc;
    if (m->faults.refuse_connections && !was_refusing) {
        m->st.f_refuse++;
        mb_server_pause(m->srv);
        if (m->faults.refuse_s > 0)
            uv_timer_start(&m->refuse_timer, on_refuse_timer,
                           (uint64_t)(m->faults.refuse_s * 1000.0 + 0.5), 0);
    } else if (!m->faults.refuse_connections && was_refusing) {
        uv_timer_stop(&m->refuse_timer);
        rc = mb_server_resume(m->srv);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen again: %s", uv_strerror(rc));
            return MB_EIO;
        }
    }
    return 0;
}

/* refuse_s elapsed: accept connections again. */
static void on_refuse_timer(uv_timer_t *t)
{
    mb_mock *m = t->data;
    m->faults.refuse_connections = 0;
    if (mb_server_resume(m->srv) < 0 && m->log)
        fprintf(stderr, "mlxbench mock: cannot listen again on port %d\n", m->srv ? mb_server_port(m->srv) : 0);
}

int mb_mock_set_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    char tmp[256];
    if (!err) {
        err = tmp;
        errlen = sizeof tmp;
    }
    return apply_faults(m, json, len, err, errlen);
}

char *mb_mock_faults_json(mb_mock *m)
{
    mk_buf b = {0};
    mk_faults_to_json(&m->faults, &b);
    return mk_buf_take(&b);
}

static void hist_json(mk_buf *b, const mb_hist *h)
{
    mk_printf(b, "{\"count\":%llu,\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,"
              "\"p999\":%.4f,\"max\":%.4f}",
              (unsigned long long)mb_hist_count(h), mb_hist_mean(h) * 1e3,
              mb_hist_percentile(h, 50) * 1e3, mb_hist_percentile(h, 90) * 1e3,
              mb_hist_percentile(h, 99) * 1e3, mb_hist_percentile(h, 99.9) * 1e3,
              mb_hist_max(h) * 1e3);
}

char *mb_mock_stats_json(mb_mock *m)
{
    mk_buf b = {0};
    const mk_stats *s = &m->st;
    static const char *const eps[] = {"chat", "completions", "messages", "models", "mock", "other"};
    mk_printf(&b, "{\"uptime_s\":%.3f,\"requests\":{\"total\":%llu,\"by_endpoint\":{",
              (double)(mb_clock_now_ns() - m->start_ns) * 1e-9, (unsigned long long)s->requests);
    for (int i = 0; i < 6; i++)
        mk_printf(&b, "%s\"%s\":%llu", i ? "," : "", eps[i], (unsigned long long)s->by_endpoint[i]);
    mk_puts(&b, "},\"by_status\":{");
    for (int i = 0; i < s->nstatus; i++)
        mk_printf(&b, "%s\"%d\":%llu", i ? "," : "", s->status[i], (unsigned long long)s->status_count[i]);
    mk_printf(&b, "}},\"active_requests\":%zu,\"active_streams\":%zu,\"streams_started\":%llu,"
              "\"connections\":{\"open\":%zu,\"accepted\":%llu,\"refusing\":%s},"
              "\"tokens_emitted\":%llu,\"chunks_emitted\":%llu,\"faults\":{",
              m->live, m->live_streams, (unsigned long long)s->streams_started,
              m->srv ? mb_server_nconns(m->srv) : 0,
              (unsigned long long)(m->srv ? mb_server_accepted(m->srv) : 0),
              m->srv && mb_server_paused(m->srv) ? "true" : "false",
              (unsigned long long)s->tokens, (unsigned long long)s->chunks);
    uint64_t total_err = 0;
    for (int i = 0; i < s->nf_error; i++) {
        mk_printf(&b, "\"error_%d\":%llu,", s->f_error_status[i], (unsigned long long)s->f_error[i]);
        total_err += s->f_error[i];
    }
    mk_printf(&b, "\"error\":%llu,\"stream_error\":%llu,\"stall\":%llu,\"disconnect\":%llu,"
              "\"malformed\":%llu,\"slow_ttft\":%llu,\"refuse_connections\":%llu},",
              (unsigned long long)total_err, (unsigned long long)s->f_stream_error,
              (unsigned long long)s->f_stall, (unsigned long long)s->f_disconnect,
              (unsigned long long)s->f_malformed, (unsigned long long)s->f_slow_ttft,
              (unsigned long long)s->f_refuse);
    mk_puts(&b, "\"emission_error_ms\":");
    hist_json(&b, m->emit_hist);
    mk_printf(&b, ",\"late_over_1ms\":%llu,\"late_over_2ms\":%llu,\"blocked_by_backpressure\":%llu,"
              "\"trace\":{\"requests\":%zu,\"chunks\":%zu,\"evicted\":%llu}}",
              (unsigned long long)s->late_1ms, (unsigned long long)s->late_2ms,
              (unsigned long long)s->blocked, m->trace.nrec, m->trace.nchunks,
              (unsigned long long)m->trace.evicted);
    return mk_buf_take(&b);
}

char *mb_mock_trace_json(mb_mock *m, uint64_t since, size_t limit, const char *cid, int wall)
{
    mk_buf b = {0};
    mk_trace_json(&m->trace, &b, since, limit ? limit : 1000, cid && *cid ? cid : NULL, wall);
    return mk_buf_take(&b);
}

void mb_mock_trace_reset(mb_mock *m)
{
    mk_trace_clear(&m->trace);
    mb_hist_reset(m->emit_hist);
    m->st.late_1ms = m->st.late_2ms = 0;
}

/* Sends a malloc'd JSON document (NULL = out of memory) and frees it. */
static void respond_doc(mb_mock *m, mb_server_conn *c, char *doc)
{
    mk_buf b = {0};
    if (doc) {
        b.p = doc;
        b.len = strlen(doc);
        b.cap = b.len + 1;
    } else {
        mk_openai_error(&b, "out of memory", "server_error", NULL, NULL);
    }
    respond(m, c, doc ? 200 : 500, NULL, &b);
    mk_buf_free(&b);
}

/* Compares a secret without an early exit (no timing hint of the prefix). */
static int same_secret(const char *v, size_t n, const char *secret)
{
    size_t l = strlen(secret);
    unsigned char d = (unsigned char)(n != l);
    for (size_t i = 0; i < l; i++)
        d |= (unsigned char)((i < n ? (unsigned char)v[i] : 0) ^ (unsigned char)secret[i]);
    return d == 0;
}

/* 1 when "host[:port]" (a Host header, or an Origin without its scheme)
 * names this mock on loopback: 127.0.0.0/8, localhost or ::1, and our port
 * if a port is given. */
static int loopback_authority(const mb_mock *m, const char *v, size_t n)
{
    const char *port = NULL, *end = v + n;
    size_t hl;
    if (n && v[0] == '[') {
        const char *rb = memchr(v, ']', n);
        if (!rb)
            return 0;
        hl = (size_t)(rb - v) + 1;
        port = rb + 1 < end && rb[1] == ':' ? rb + 2 : NULL;
    } else {
        const char *colon = memchr(v, ':', n);
        hl = colon ? (size_t)(colon - v) : n;
        port = colon ? colon + 1 : NULL;
    }
    int local = (hl == 9 && strncasecmp(v, "localhost", 9) == 0)
                || (hl == 5 && memcmp(v, "[::1]", 5) == 0) || (hl >= 7 && hl <= 15 && !memcmp(v, "127.", 4));
    for (size_t i = 0; local && v[0] == '1' && i < hl; i++)
        local = (v[i] >= '0' && v[i] <= '9') || v[i] == '.';
    long p = 0;
    for (const char *q = port; q && q < end && p <= 65535; q++)
        p = *q >= '0' && *q <= '9' ? p * 10 + (*q - '0') : 65536;
    return local && (!port || p == m->port);
}

/* Without a token, loopback alone is no proof the caller is local: a web
 * page can POST to 127.0.0.1 (its request carries Origin) or reach it
 * through a DNS name it rebinds (its Host is that name). Such requests
 * are refused; curl, scripts and mlxbench send neither. */
static int same_machine(const mb_mock *m, const mb_server_req *q)
{
    size_t n;
    const char *v = mb_server_req_header(q, "origin", &n);
    if (v) {
        const char *p = n > 7 ? memchr(v, ':', n) : NULL;
        if (!p || (size_t)(p - v) + 3 > n || p[1] != '/' || p[2] != '/')
            return 0;   /* "null" (a sandboxed page, a file) or not a URL */
        if (!loopback_authority(m, p + 3, n - (size_t)(p + 3 - v)))
            return 0;
    }
    v = mb_server_req_header(q, "host", &n);
    return !v || loopback_authority(m, v, n);
}

/* The control endpoints change what the mock does (faults, refusing
 * connections) and show traffic: with a token they need it (X-Mock-Token
 * or Authorization: Bearer); without one they answer only when the mock
 * listens on loopback, to a request from this machine (same_machine).
 * Returns 1 when the request may go on. */
static int control_ok(mb_mock *m, mb_server_conn *c, const mb_server_req *q)
{
    size_t n;
    const char *v;
    if (m->control_token) {
        v = mb_server_req_header(q, "x-mock-token", &n);
        if (v && same_secret(v, n, m->control_token))
            return 1;
        v = mb_server_req_header(q, "authorization", &n);
        if (v && n > 7 && strncasecmp(v, "Bearer ", 7) == 0 &&
            same_secret(v + 7, n - 7, m->control_token))
            return 1;
        api_error(m, c, SHAPE_OPENAI, 401, "The mock's control endpoints need its control "
                  "token (header X-Mock-Token).", NULL, "invalid_control_token", NULL);
        return 0;
    }
    if (m->control_open && same_machine(m, q))
        return 1;
    if (m->control_open) {
        api_error(m, c, SHAPE_OPENAI, 403, "The mock's control endpoints refuse cross-site "
                  "requests (an Origin header, or a Host that is not this loopback address): "
                  "start it with --control-token TOKEN to allow them with the token.", NULL,
                  "cross_site_refused", NULL);
        return 0;
    }
    api_error(m, c, SHAPE_OPENAI, 403, "The mock's control endpoints are off: it listens on "
              "a non-loopback address without a control token (start it with "
              "--control-token TOKEN or \"control_token\" in the profile).", NULL,
              "control_disabled", NULL);
    return 0;
}

static void handle_mock(mb_mock *m, mb_server_conn *c, const mb_server_req *q, const char *sub)
{
    int get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    char err[256];
    if (!control_ok(m, c, q))
        return;
    if (strcmp(sub, "stats") == 0 && get) {
        respond_doc(m, c, mb_mock_stats_json(m));
    } else if (strcmp(sub, "stats/reset") == 0 && post) {
        memset(&m->st, 0, sizeof m->st);
        respond_doc(m, c, strdup("{\"ok\":true}"));
    } else if (strcmp(sub, "trace") == 0 && get) {
        uint64_t since = 0, limit = 1000, wall = 0;
        char cid[72] = "";
        if (query_u64(q->query, "since", &since) < 0 || query_u64(q->query, "limit", &limit) < 0 ||
            query_u64(q->query, "wall", &wall) < 0 || limit > 1000000) {
            api_error(m, c, SHAPE_OPENAI, 400, "since, limit (<= 1000000) and wall must be "
                      "non-negative integers", NULL, NULL, NULL);
            return;
        }
        query_param(q->query, "id", cid, sizeof cid);
        respond_doc(m, c, mb_mock_trace_json(m, since, (size_t)limit, cid, wall != 0));
    } else if (strcmp(sub, "trace/reset") == 0 && post) {
        mb_mock_trace_reset(m);
        respond_doc(m, c, strdup("{\"ok\":true}"));
    } else if (strcmp(sub, "faults") == 0 && get) {
        respond_doc(m, c, mb_mock_faults_json(m));
    } else if (strcmp(sub, "faults") == 0 && post) {
        if (apply_faults(m, q->body, q->body_len, err, sizeof err) < 0) {
            api_error(m, c, SHAPE_OPENAI, 400, err, NULL, NULL, NULL);
            return;
        }
        respond_doc(m, c, mb_mock_faults_json(m));
    } else {
        api_error(m, c, SHAPE_OPENAI, 404, "Unknown mock control endpoint: see docs/MOCK.md "
                  "(GET /mock/stats, GET /mock/trace, POST /mock/trace/reset, GET|POST "
                  "/mock/faults, POST /mock/stats/reset).", NULL, NULL, NULL);
    }
}

/* ---------------------------------------------------------------- routing */

static void on_request(void *ud, mb_server_conn *c, const mb_server_req *q)
{
    mb_mock *m = ud;
    const char *p = q->path;
    int ep = EP_OTHER;
    m->st.requests++;
    if (strncmp(p, "/v1/", 4) == 0)
        p += 3;   /* "/v1/chat/completions" and "/chat/completions" both work */
    if (strcmp(p, "/chat/completions") == 0)
        ep = EP_CHAT;
    else if (strcmp(p, "/completions") == 0)
        ep = EP_COMPLETIONS;
    else if (strcmp(p, "/messages") == 0)
        ep = EP_MESSAGES;
    else if (strcmp(p, "/models") == 0 || strncmp(p, "/models/", 8) == 0)
        ep = EP_MODELS;
    else if (strncmp(q->path, "/mock/", 6) == 0)
        ep = EP_MOCK;
    m->st.by_endpoint[ep]++;
    switch (ep) {
    case EP_CHAT: handle_generate(m, c, q, MK_CHAT); return;
    case EP_COMPLETIONS: handle_generate(m, c, q, MK_COMPLETIONS); return;
    case EP_MESSAGES: handle_generate(m, c, q, MK_MESSAGES); return;
    case EP_MODELS:
        if (strcmp(q->method, "GET") != 0)
            api_error(m, c, SHAPE_OPENAI, 405, "Method not allowed: use GET.", NULL, NULL, NULL);
        else if (p[7] == '/' && p[8]) {
            char id[512];
            url_decode(p + 8, strlen(p + 8), id, sizeof id);   /* SDKs encode the '/' of ids */
            models_list(m, c, q, id);
        } else {
            models_list(m, c, q, NULL);
        }
        break;
    case EP_MOCK:
        handle_mock(m, c, q, q->path + 6);
        return;   /* control calls are not logged: they would drown the requests */
    default:
        if (strcmp(q->path, "/health") == 0 || strcmp(q->path, "/") == 0) {
            mk_buf b = {0};
            mk_puts(&b, "{\"status\":\"ok\",\"server\":\"mlxbench mock\",\"docs\":\"docs/MOCK.md\"}");
            respond(m, c, 200, NULL, &b);
            mk_buf_free(&b);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "Invalid URL (%s %.100s)", q->method, q->path);
            api_error(m, c, shape_of_path(q->path), 404, msg, NULL, NULL, NULL);
        }
    }
    log_line(m, q->method, q->path, m->last_status, NULL, NULL);
}

static void on_bad_request(void *ud, mb_server_conn *c, int status, const char *message,
                           const mb_server_req *partial)
{
    mb_mock *m = ud;
    char msg[200];
    m->st.requests++;
    m->st.by_endpoint[EP_OTHER]++;
    snprintf(msg, sizeof msg, "%s: %s", status == 413 ? "Request too large" : "Malformed HTTP request",
             message);
    api_error(m, c, shape_of_path(partial->path), status, msg, NULL,
              status == 413 ? "request_too_large" : NULL, NULL);
    log_line(m, partial->method ? partial->method : "?", partial->path, status, NULL, message);
}

static void on_close(void *ud, mb_server_conn *c)
{
    mk_req *r = mb_server_conn_data(c);
    (void)ud;
    if (r)
        mk_req_conn_closed(r);
}

static void on_drain(void *ud, mb_server_conn *c)
{
    mk_req *r = mb_server_conn_data(c);
    (void)ud;
    if (r)
        mk_req_drained(r);
}

/* ----------------------------------------------------------- lifecycle */

static void mock_free(mb_mock *m)
{
    void (*done)(void *) = m->done;
    void *ud = m->done_ud;
    mk_trace_clear(&m->trace);
    while (m->trace.head) {   /* live records of requests cut at stop */
        m->trace.head->done = 1;
        mk_trace_clear(&m->trace);
    }
    mk_models_free(m);
    mb_hist_free(m->emit_hist);
    mk_buf_free(&m->out);
    mk_buf_free(&m->tok);
    free(m->heap);
    free(m->api_key);
    free(m->control_token);
    mk_tokenizer_free(m);
    free(m);
    if (done)
        done(ud);
}

static void handle_closed(uv_handle_t *h)
{
    mb_mock *m = h->data;
    if (--m->handles == 0)
        mock_free(m);
}

static void server_stopped(void *ud)
{
    mb_mock *m = ud;
    if (--m->handles == 0)
        mock_free(m);
}

void mb_mock_stop(mb_mock *m, void (*done)(void *ud), void *ud)
{
    if (!m || m->stopping)
        return;
    m->stopping = 1;
    m->done = done;
    m->done_ud = ud;
    if (m->srv) {
        m->handles++;   /* released by server_stopped */
        mb_server_stop(m->srv, server_stopped, m);
        m->srv = NULL;
    }
    mk_engine_close(m, handle_closed);
    uv_timer_stop(&m->refuse_timer);
    uv_close((uv_handle_t *)&m->refuse_timer, handle_closed);
}

int mb_mock_port(const mb_mock *m) { return m->port; }
const char *mb_mock_url(const mb_mock *m) { return m->url; }

static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) {
        snprintf(err, errlen, "cannot open profile '%s'", path);
        return MB_EIO;
    }
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            char *p = realloc(buf, nc);
            if (!p || nc > (64u << 20)) {
                free(p ? p : buf);
                fclose(f);
                snprintf(err, errlen, "profile '%s' is too large or out of memory", path);
                return MB_ENOMEM;
            }
            buf = p;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int mb_mock_start(mb_mock **out, uv_loop_t *loop, const mb_mock_config *cfg, char *err, size_t errlen)
{
    mb_mock *m = NULL;
    char tmp[256], *file = NULL;
    size_t flen = 0;
    int rc;
    if (!err) {
        err = tmp;
        errlen = sizeof tmp;
    }
    err[0] = 0;
    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return MB_ENOMEM;
    }
    m->loop = loop;
    m->tfd = -1;
    m->seed = 42;
    m->trace.max_rec = 10000;
    m->trace.max_chunks = 2000000;
    m->max_body = 8u << 20;
    m->request_timeout_s = 10;
    m->idle_timeout_s = 60;
    m->start_ns = mb_clock_now_ns();
    mk_faults_defaults(&m->faults);
    if ((rc = mk_builtin_models(m)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->profile_json || cfg->profile_path) {
        char perr[200] = "";
        if (cfg->profile_json) {
            rc = mk_profile_load(m, cfg->profile_json, strlen(cfg->profile_json), perr, sizeof perr);
        } else {
            rc = read_file(cfg->profile_path, &file, &flen, perr, sizeof perr);
            if (rc == 0)
                rc = mk_profile_load(m, file, flen, perr, sizeof perr);
            free(file);
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s%s", strncmp(perr, "cannot open", 11) ? "profile: " : "", perr);
            goto fail;
        }
    }
    mk_default_fallback(m);
    if (cfg->has_seed)
        m->seed = cfg->seed;
    if (cfg->api_key) {
        free(m->api_key);
        m->api_key = *cfg->api_key ? strdup(cfg->api_key) : NULL;
    }
    if (cfg->control_token) {
        if (strlen(cfg->control_token) < 8) {
            snprintf(err, errlen, "the control token must have at least 8 characters");
            rc = MB_EINVAL;
            goto fail;
        }
        free(m->control_token);
        m->control_token = strdup(cfg->control_token);
    }
    if (cfg->faults_json) {
        cJSON *o = cJSON_Parse(cfg->faults_json);
        rc = o ? mk_faults_apply(&m->faults, &m->faults, o, err, errlen) : MB_EPARSE;
        if (!o)
            snprintf(err, errlen, "faults: not valid JSON");
        cJSON_Delete(o);
        if (rc < 0)
            goto fail;
    }
    if (!m->faults.seed)
        m->faults.seed = m->seed;
    m->faults_initial = m->faults;
    mb_mock_rng_seed(&m->frng, m->faults.seed);
    if ((rc = mb_hist_new(&m->emit_hist, 1e-7, 3600, 3)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    m->log = cfg->log < 0 ? isatty(2) : cfg->log != 0;

    mb_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.host = cfg->host ? cfg->host : "127.0.0.1";
    sc.port = cfg->port;
    sc.max_body = m->max_body;
    /* a client holding a connection without asking is let go (0 = never) */
    sc.request_timeout_ms = m->request_timeout_s > 0 ? (int)(m->request_timeout_s * 1000 + 0.5) : -1;
    sc.idle_timeout_ms = m->idle_timeout_s > 0 ? (int)(m->idle_timeout_s * 1000 + 0.5) : -1;
    if (m->request_timeout_s > 0 && sc.request_timeout_ms < 1)
        sc.request_timeout_ms = 1;
    if (m->idle_timeout_s > 0 && sc.idle_timeout_ms < 1)
        sc.idle_timeout_ms = 1;
    sc.h.on_request = on_request;
    sc.h.on_bad_request = on_bad_request;
    sc.h.on_close = on_close;
    sc.h.on_drain = on_drain;
    sc.h.ud = m;
    rc = mb_server_start(&m->srv, loop, &sc);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", sc.host, cfg->port,
                 rc <= -8 || rc >= 0 ? uv_strerror(rc) : mb_strerror(rc));
        goto fail;
    }
    m->port = mb_server_port(m->srv);
    m->control_open = !m->control_token && mb_server_loopback(m->srv);
    {
        const char *h = mb_server_host(m->srv);
        if (strcmp(h, "0.0.0.0") == 0)
            h = "127.0.0.1";
        else if (strcmp(h, "::") == 0)
            h = "::1";
        snprintf(m->url, sizeof m->url, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h, m->port);
    }
    mk_engine_init(m);
    uv_timer_init(loop, &m->refuse_timer);
    m->refuse_timer.data = m;
    m->handles++;
    if (m->faults.refuse_connections) {
        m->st.f_refuse++;
        mb_server_pause(m->srv);
        if (m->faults.refuse_s > 0)
            uv_timer_start(&m->refuse_timer, on_refuse_timer,
                           (uint64_t)(m->faults.refuse_s * 1000.0 + 0.5), 0);
    }
    *out = m;
    return 0;
fail:
    mk_models_free(m);
    mb_hist_free(m->emit_hist);
    free(m->api_key);
    free(m->control_token);
    mk_tokenizer_free(m);
    free(m);
    return rc < 0 ? rc : MB_EINVAL;
}

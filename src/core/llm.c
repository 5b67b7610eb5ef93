/* llm.c: shared machinery of the LLM extractors -- JSON tokens, content
 * times, errors, results. The per-API rules live in llm_openai.c and
 * llm_anthropic.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"
#include "llm_int.h"

void mb_llm_init(mb_llm *x, mb_api api, int capture)
{
    memset(x, 0, sizeof *x);
    x->api = api;
    x->capture = capture;
    x->usage_output = -1;
    x->usage_input = -1;
    x->usage_reasoning = -1;
    x->usage_cached = -1;
    x->usage_cache_write = -1;
    x->anth_input = -1;
    mb_llm_server_init(&x->server);
    x->tok = x->small;
    x->tokcap = MB_LLM_SMALL_TOKS;
}

void mb_llm_free(mb_llm *x)
{
    free(x->ct);
    free(x->ck);
    mb_hist_sparse_free(x->spill);
    mb_hist_sparse_free(x->pspill[0]);
    mb_hist_sparse_free(x->pspill[1]);
    x->spill = x->pspill[0] = x->pspill[1] = NULL;
    x->ck = NULL;
    free(x->text);
    free(x->gen);
    free(x->rgen);
    if (x->tok != x->small)
        free(x->tok);
    x->ct = NULL;
    x->ck = NULL;
    x->text = NULL;
    x->gen = NULL;
    x->rgen = NULL;
    x->tok = x->small;
}

/* Makes text from a server safe for a terminal and a results file: control
 * characters (an escape sequence in an error message) become spaces and
 * bytes that are not valid UTF-8 (a message cut mid-character) '?'. */
static void clean_text(char *s)
{
    unsigned char *u = (unsigned char *)s;
    while (*u) {
        int n = *u < 0x80 ? 1 : *u >= 0xC2 && *u <= 0xDF ? 2 : *u >= 0xE0 && *u <= 0xEF ? 3
              : *u >= 0xF0 && *u <= 0xF4 ? 4 : 0;
        int ok = n > 0;
        for (int k = 1; ok && k < n; k++)
            ok = (u[k] & 0xC0) == 0x80;
        if (ok && n == 3)
            ok = !(u[0] == 0xE0 && u[1] < 0xA0) && !(u[0] == 0xED && u[1] >= 0xA0);
        if (ok && n == 4)
            ok = !(u[0] == 0xF0 && u[1] < 0x90) && !(u[0] == 0xF4 && u[1] >= 0x90);
        if (!ok) {
            *u++ = '?';
            continue;
        }
        if (n == 1 && (*u < 0x20 || *u == 0x7f))
            *u = ' ';
        u += n;
    }
}

/* Latches the failure with its message: the whole text is redacted (keys,
 * credential shapes: redact.h) before it is cut to err_msg, so a key
 * across the cut never survives in part. */
static void latch(mb_llm *x, mb_err_kind kind, char *text, size_t cap)
{
    size_t n;
    mb_redact_buf(text, cap, MB_REDACT_TEXT);
    n = strlen(text);
    if (n > sizeof x->err_msg - 1)
        n = sizeof x->err_msg - 1;   /* cut after redaction, never before */
    memcpy(x->err_msg, text, n);
    x->err_msg[n] = 0;
    clean_text(x->err_msg);
    x->err_kind = kind;
}

void mb_llm_fail(mb_llm *x, mb_err_kind kind, const char *fmt, ...)
{
    char text[MB_LLM_MSG_WINDOW + 128];
    va_list ap;
    if (x->err_kind)
        return;   /* the first failure is the one that counts */
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    latch(x, kind, text, sizeof text);
}

void mb_llm_reject(mb_llm *x, mb_err_kind kind, const char *msg)
{
    mb_llm_fail(x, kind, "%s", msg);
}

int mb_llm_parse(mb_llm *x, const char *s, size_t n, size_t *ntok)
{
    int rc = mb_json_parse(s, n, x->tok, x->tokcap, ntok);
    if (rc == MB_ETOOLONG && *ntok > x->tokcap && *ntok < (1u << 24)) {
        /* Rare: a big event (final llama.cpp chunk, long tool call). Grow
         * once to what it needs; later events reuse the array. */
        mb_json_tok *nt = malloc(*ntok * sizeof *nt);
        if (!nt)
            return MB_ENOMEM;
        if (x->tok != x->small)
            free(x->tok);
        x->tok = nt;
        x->tokcap = *ntok;
        rc = mb_json_parse(s, n, x->tok, x->tokcap, ntok);
    }
    return rc;
}

/* Records a gap (s) into a stream's sparse histogram, made on first use. */
static int spill(mb_hist_sparse **h, double gap)
{
    if (!*h && mb_hist_sparse_new(h, MB_LLM_GAP_LOWEST, MB_LLM_GAP_HIGHEST, MB_LLM_GAP_DIGITS) < 0)
        return MB_ENOMEM;
    return mb_hist_sparse_record(*h, gap);
}

static double gap_since(uint64_t t_ns, uint64_t prev_ns)
{
    return t_ns > prev_ns ? (double)(t_ns - prev_ns) * 1e-9 : 0.0;
}

/* Stores a content event's time (and what it carried, x->kind) and keeps
 * the phases; past MB_LLM_KEEP_TIMES events only the gaps, in histograms
 * (per phase only once the stream has carried reasoning: a phase split of
 * a reasoning that starts after that many answer events lacks the answer
 * gaps before it). */
int mb_llm_content(mb_llm *x, uint64_t t_ns)
{
    unsigned kind = x->kind ? x->kind : MB_LLM_ANSWER;
    x->kind = 0;
    if (x->no_content)
        return 0;
    /* one stream's events arrive in order: a stamp before the previous one
     * (a read stamped in user space, the next by the kernel, earlier) is
     * the previous one's, so no gap is negative */
    if (x->nct && t_ns < x->t_last)
        t_ns = x->t_last;
    if (x->nct == 0)
        x->t_first = t_ns;
    if (!x->keep_all && x->nstored >= MB_LLM_KEEP_TIMES) {
        /* past the times kept one by one: the gap, into the sparse histogram */
        if (spill(&x->spill, gap_since(t_ns, x->t_last)) < 0 ||
            (x->ph.reasoning_events && (kind & MB_LLM_REASONING) &&
             spill(&x->pspill[0], gap_since(t_ns, x->ph.last_reasoning)) < 0) ||
            (x->ph.reasoning_events && (kind & MB_LLM_ANSWER) && x->ph.answer_events &&
             spill(&x->pspill[1], gap_since(t_ns, x->ph.last_answer)) < 0)) {
            mb_llm_fail(x, MB_ERR_PROTOCOL, "out of memory");
            return MB_ENOMEM;
        }
    } else {
        if (MB_VEC_GROW(x->ct, x->ctcap, x->nstored + 1) < 0 ||
            MB_VEC_GROW(x->ck, x->ckcap, x->nstored + 1) < 0) {
            mb_llm_fail(x, MB_ERR_PROTOCOL, "out of memory");
            return MB_ENOMEM;
        }
        x->ck[x->nstored] = (uint8_t)kind;
        x->ct[x->nstored++] = t_ns;
    }
    if (kind & MB_LLM_REASONING) {
        if (!x->ph.reasoning_events++)
            x->ph.first_reasoning = t_ns;
        x->ph.last_reasoning = t_ns;
    }
    if (kind & MB_LLM_ANSWER) {
        if (!x->ph.answer_events++)
            x->ph.first_answer = t_ns;
        x->ph.last_answer = t_ns;
    }
    x->t_last = t_ns;
    x->nct++;
    return 0;
}

void mb_llm_capture(mb_llm *x, const char *s, int i)
{
    if (i >= 0 && x->tok[i].type == MB_JSON_STRING)
        x->content_bytes += mb_json_str(s, x->tok, i, NULL, 0);
    if ((x->capture & 1) && i >= 0 &&
        mb_json_str_append(s, x->tok, i, &x->text, &x->text_len, &x->text_cap) < 0)
        mb_llm_fail(x, MB_ERR_PROTOCOL, "out of memory");
    mb_llm_capture_other(x, s, i, 0, 0);
}

void mb_llm_capture_other(mb_llm *x, const char *s, int i, int count, int reasoning)
{
    if (count && i >= 0)
        x->content_bytes += x->tok[i].len;
    if (i >= 0)
        x->kind |= reasoning ? MB_LLM_REASONING : MB_LLM_ANSWER;
    if ((x->capture & 2) && i >= 0 &&
        mb_json_str_append(s, x->tok, i, &x->gen, &x->gen_len, &x->gen_cap) < 0)
        mb_llm_fail(x, MB_ERR_PROTOCOL, "out of memory");
    if ((x->capture & 2) && reasoning && i >= 0 &&
        mb_json_str_append(s, x->tok, i, &x->rgen, &x->rgen_len, &x->rgen_cap) < 0)
        mb_llm_fail(x, MB_ERR_PROTOCOL, "out of memory");
}

void mb_llm_set_finish(mb_llm *x, const char *s, int i)
{
    if (mb_json_nonempty(x->tok, i)) {
        mb_json_str(s, x->tok, i, x->finish_reason, sizeof x->finish_reason);
        clean_text(x->finish_reason);
    }
}

void mb_llm_read_count(mb_llm *x, const char *s, int i, int64_t *out)
{
    int64_t v;
    if (i < 0 || x->tok[i].type == MB_JSON_NULL)
        return;
    if (mb_json_int(s, x->tok, i, &v) < 0 || v < 0 || v > 1000000000) {
        x->usage_invalid = 1;   /* negative, huge or not a count: ignore it */
        return;
    }
    *out = v;
}

/* Copies an error message out of a JSON error in any common shape:
 * {"error":{"message":..}}, {"error":"..."}, {"message":..}, {"detail":..}. */
void mb_llm_error_message(mb_llm *x, const char *s, int root, char *buf, size_t cap)
{
    const mb_json_tok *t = x->tok;
    int e = mb_json_get(s, t, root, "error"), m = -1, ty = -1;
    buf[0] = 0;
    if (e >= 0 && t[e].type == MB_JSON_OBJECT) {
        m = mb_json_get(s, t, e, "message");
        ty = mb_json_get(s, t, e, "type");
    } else if (e >= 0 && t[e].type == MB_JSON_STRING) {
        m = e;
    }
    if (m < 0)
        m = mb_json_get(s, t, root, "message");
    if (m < 0)
        m = mb_json_get(s, t, root, "detail");
    if (mb_json_nonempty(t, ty) && !mb_json_streq(s, t, ty, "error")) {
        size_t l = mb_json_str(s, t, ty, buf, cap);
        l = l < cap - 1 ? l : cap - 1;
        if (m >= 0 && l + 2 < cap) {
            buf[l++] = ':';
            buf[l++] = ' ';
            mb_json_str(s, t, m, buf + l, cap - l);
        }
        return;
    }
    if (m >= 0 && t[m].type == MB_JSON_STRING)
        mb_json_str(s, t, m, buf, cap);
}

int mb_llm_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns)
{
    x->events++;
    x->streamed = 1;
    if (x->err_kind)
        return 1;
    if (x->done) {
        x->after_done++;   /* duplicate [DONE] and the like: ignored */
        return 0;
    }
    if (x->api == MB_API_ANTHROPIC)
        mb_llm_anthropic_event(x, ev, t_ns);
    else
        mb_llm_openai_event(x, ev, t_ns);
    return x->err_kind != MB_ERR_NONE;
}

void mb_llm_stream_end(mb_llm *x, int truncated, const mb_sse_event *partial)
{
    (void)truncated;
    if (!x->done && !x->err_kind && partial) {
        /* A last event without its blank line: llama.cpp ends `data: [DONE]`
         * that way, docs examples end `message_stop` or `error` so. Accept it
         * as a terminator or an error, never as content. */
        size_t n;
        int is_done = partial->data_len == 6 && memcmp(partial->data, "[DONE]", 6) == 0;
        x->no_content = 1;
        if (is_done || mb_llm_parse(x, partial->data, partial->data_len, &n) == 0) {
            if (x->api == MB_API_ANTHROPIC)
                mb_llm_anthropic_event(x, partial, 0);
            else
                mb_llm_openai_event(x, partial, 0);
        }
        x->no_content = 0;
        x->kind = 0;
    }
    if (x->err_kind)
        return;
    if (!x->done) {
        mb_llm_fail(x, MB_ERR_STREAM, "stream ended without its terminator (%s)",
                    x->api == MB_API_ANTHROPIC ? "message_stop" : "[DONE]");
        return;
    }
    if (mb_llm_output_tokens(x, NULL) <= 0)
        mb_llm_fail(x, MB_ERR_STREAM, "stream carried no output tokens");
}

void mb_llm_body(mb_llm *x, const char *body, size_t len, uint64_t t_ns)
{
    size_t n;
    int rc = mb_llm_parse(x, body, len, &n);
    if (rc < 0) {
        mb_llm_fail(x, MB_ERR_PROTOCOL, "response body is not valid JSON");
        return;
    }
    if (x->tok[0].type != MB_JSON_OBJECT) {
        mb_llm_fail(x, MB_ERR_PROTOCOL, "response body is not a JSON object");
        return;
    }
    if (x->api == MB_API_ANTHROPIC)
        mb_llm_anthropic_body(x, body, t_ns);
    else
        mb_llm_openai_body(x, body, t_ns);
    if (!x->err_kind && mb_llm_output_tokens(x, NULL) <= 0)
        mb_llm_fail(x, MB_ERR_PROTOCOL, "response has no output tokens");
}

void mb_llm_http_error(mb_llm *x, int status, const char *body, size_t len)
{
    char msg[MB_LLM_MSG_WINDOW], text[MB_LLM_MSG_WINDOW + 32];
    size_t n;
    msg[0] = 0;
    if (len && mb_llm_parse(x, body, len, &n) == 0 && x->tok[0].type == MB_JSON_OBJECT) {
        mb_llm_error_message(x, body, 0, msg, sizeof msg);
    }
    if (!msg[0] && len) {
        /* not JSON (an HTML error page, plain text): keep printable bytes */
        size_t w = 0;
        for (size_t i = 0; i < len && w < sizeof msg - 1; i++) {
            unsigned char c = (unsigned char)body[i];
            msg[w++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
        }
        msg[w] = 0;
    }
    snprintf(text, sizeof text, "HTTP %d%s%s", status, msg[0] ? ": " : "", msg);
    x->err_kind = MB_ERR_NONE;
    latch(x, MB_ERR_HTTP, text, sizeof text);
}

void mb_llm_check_usage(mb_llm *x, uint64_t body_bytes, uint64_t request_bytes,
                        int64_t max_tokens)
{
    int64_t out = x->usage_output, hidden = x->usage_reasoning > 0 ? x->usage_reasoning : 0;
    /* over max_tokens while the stream itself stayed within it: a server
     * that says it stopped at the limit ("length", "max_tokens") honours
     * it, so any count above it is false; otherwise (a server may ignore
     * max_tokens and put several tokens in a chunk) only beyond what its
     * events could carry */
    int at_limit = !strcmp(x->finish_reason, "length") || !strcmp(x->finish_reason, "max_tokens");
    int over_max = max_tokens > 0 && out > max_tokens && (int64_t)x->nct <= max_tokens
                   && (at_limit || out > MB_LLM_TOKENS_PER_EVENT * (int64_t)x->nct);
    if (out > 0 && ((uint64_t)(out - (hidden < out ? hidden : out)) > body_bytes || over_max)) {
        x->usage_output = -1;
        x->usage_invalid = 1;
    }
    /* servers add a template, a system prompt (Anthropic's tool use: ~350
     * tokens): only far more input than the request held is impossible */
    if (x->usage_input > 0 && request_bytes > 0
        && (uint64_t)x->usage_input > request_bytes + MB_LLM_INPUT_SLACK) {
        x->usage_input = -1;
        x->usage_invalid = 1;
    }
}

int64_t mb_llm_output_tokens(const mb_llm *x, mb_tok_source *src)
{
    mb_tok_source s = MB_TOK_NONE;
    int64_t n = 0;
    if (x->usage_output > 0 || (x->usage_output == 0 && x->nct == 0)) {
        s = MB_TOK_USAGE;
        n = x->usage_output;
    } else if (x->nct > 0 && x->streamed) {
        s = MB_TOK_EVENTS;
        n = (int64_t)x->nct;
    } else if (x->nct > 0) {
        s = MB_TOK_ESTIMATE;
        n = (int64_t)((x->content_bytes + 3) / 4);
        if (n < 1)
            n = 1;
    }
    if (src)
        *src = s;
    return n;
}

void mb_llm_phases_of(const mb_llm *x, mb_llm_phases *p)
{
    *p = x->ph;
}

size_t mb_llm_phase_gaps(const mb_llm *x, unsigned phase, double *out)
{
    size_t n = 0;
    uint64_t prev = 0;
    int have = 0;
    for (size_t i = 0; i < x->nstored; i++) {
        if (!(x->ck[i] & phase))
            continue;
        if (have)
            out[n++] = (double)(x->ct[i] - prev) * 1e-9;
        prev = x->ct[i];
        have = 1;
    }
    return n;
}

const char *mb_llm_source_name(mb_tok_source s)
{
    switch (s) {
    case MB_TOK_USAGE: return "usage";
    case MB_TOK_EVENTS: return "events";
    case MB_TOK_ESTIMATE: return "estimate";
    default: return "none";
    }
}

int64_t mb_llm_estimate_tokens(const char *s, size_t len)
{
    int64_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    return (chars + 3) / 4;
}

/* fuzz_llm.c: the LLM stream extractors (OpenAI chat, legacy completions,
 * Anthropic) on arbitrary event sequences and payloads.
 *
 * Input: byte 0 picks the API (% 3) and capture (bit 2); the rest is a
 * response body. It is read three ways, as the HTTP layer would:
 *   1. as an SSE stream through mb_sse into mb_llm_event, whole and then
 *      again in chunks cut at points derived from the input -- the verdict
 *      (error kind and message, content times, usage, finish reason, text)
 *      must not depend on the chunking;
 *   2. as a non-streamed 2xx body (mb_llm_body);
 *   3. as the body of an error status (mb_llm_http_error).
 * Every verdict must be self-consistent (see check()), else abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/llm.h"
#include "mlxbench/sse.h"

typedef struct {
    mb_llm x;
    uint64_t t;        /* stamp of the next event: its index, so stamps do
                          not depend on the chunking */
    int stopped;       /* the extractor asked to stop the transfer */
} run;

static int on_event(void *ud, const mb_sse_event *ev)
{
    run *r = ud;
    r->t += 10;
    if (mb_llm_event(&r->x, ev, r->t)) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

static int on_partial(void *ud, const mb_sse_event *ev)
{
    run *r = ud;
    mb_llm_stream_end(&r->x, 1, ev);
    r->stopped = 2;   /* end already reported */
    return 0;
}

static int known_kind(mb_err_kind k)
{
    return k == MB_ERR_NONE || mb_err_kind_name(k) != NULL;
}

/* 1 if s is valid UTF-8 with no control characters: messages and finish
 * reasons reach terminals and results files. */
static int clean_text(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        if (*u < 0x20 || *u == 0x7f)
            return 0;
        if (*u < 0x80) {
            u++;
            continue;
        }
        int n = *u >= 0xF0 ? 4 : *u >= 0xE0 ? 3 : *u >= 0xC2 ? 2 : 0;
        if (!n || *u > 0xF4)
            return 0;
        for (int k = 1; k < n; k++)
            if ((u[k] & 0xC0) != 0x80)
                return 0;
        u += n;
    }
    return 1;
}

/* What every finished extractor must satisfy. */
static void check(const mb_llm *x, int ended)
{
    mb_tok_source src;
    int64_t n = mb_llm_output_tokens(x, &src);
    if (!known_kind(x->err_kind))
        abort();
    if (memchr(x->err_msg, 0, sizeof x->err_msg) == NULL ||
        memchr(x->finish_reason, 0, sizeof x->finish_reason) == NULL)
        abort();
    if (x->err_kind && !x->err_msg[0])
        abort();                                   /* a failure always says why */
    if (!clean_text(x->err_msg) || !clean_text(x->finish_reason))
        abort();
    if (n < 0 || (src == MB_TOK_NONE && n != 0))
        abort();
    if (x->usage_output < -1 || x->usage_output > 1000000000 ||
        x->usage_input < -1 || x->usage_input > 1000000000)
        abort();                                   /* insane counts are ignored */
    for (size_t i = 1; i < x->nstored; i++)
        if (x->ct[i] < x->ct[i - 1])
            abort();                               /* content times ordered */
    if (x->capture && x->text_len && (!x->text || x->text[x->text_len] != 0))
        abort();
    if (ended && !x->err_kind && (!x->done || n <= 0))
        abort();                                   /* success needs terminator + tokens */
}

/* Feeds body as a stream in chunks (seed 0: whole); fills r. */
static void stream(run *r, int api, int capture, const uint8_t *d, size_t n, uint64_t seed,
                   size_t max_line)
{
    mb_sse p;
    int rc = 0;
    mb_llm_init(&r->x, (mb_api)api, capture);
    r->t = 1000;
    r->stopped = 0;
    mb_sse_init(&p, max_line);
    for (size_t off = 0; off < n && !rc;) {
        size_t k = n - off;
        if (seed) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            k = 1 + (size_t)(seed % ((seed >> 60) < 6 ? 7 : 64));
            k = k > n - off ? n - off : k;
        }
        rc = mb_sse_feed(&p, (const char *)d + off, k, on_event, r);
        off += k;
    }
    if (!r->stopped && rc == 0) {
        /* as client_req.c's finish_stream: the open event first, if any */
        int truncated = mb_sse_finish(&p, on_partial, r);
        if (r->stopped != 2)
            mb_llm_stream_end(&r->x, truncated < 0 ? 1 : truncated, NULL);
        check(&r->x, 1);
    } else {
        check(&r->x, 0);
    }
    mb_sse_free(&p);
}

static void same(const run *a, const run *b)
{
    const mb_llm *x = &a->x, *y = &b->x;
    if (x->err_kind != y->err_kind ||
        strcmp(x->err_msg, y->err_msg) != 0 || a->stopped != b->stopped ||
        x->nct != y->nct || x->nstored != y->nstored
        || (x->nstored && memcmp(x->ct, y->ct, x->nstored * sizeof *x->ct)) ||
        x->usage_output != y->usage_output || x->usage_input != y->usage_input ||
        x->usage_invalid != y->usage_invalid || x->done != y->done ||
        strcmp(x->finish_reason, y->finish_reason) != 0 ||
        x->content_bytes != y->content_bytes || x->text_len != y->text_len ||
        (x->text_len && memcmp(x->text, y->text, x->text_len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static run whole, split;
    mb_llm x;
    int api, capture;
    uint64_t h = 1469598103934665603ull;
    size_t max_line;
    if (size < 1)
        return 0;
    api = data[0] % 3;
    capture = (data[0] >> 2) & 1;
    data++;
    size--;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    max_line = (h & 7) == 0 ? 16 + (size_t)((h >> 8) % 200) : 0;

    /* 1. streamed, whole and split */
    stream(&whole, api, capture, data, size, 0, max_line);
    for (int k = 0; k < 2; k++) {
        stream(&split, api, capture, data, size, (h | 1) + (uint64_t)k * 0x9e3779b97f4a7c15ull,
               max_line);
        same(&whole, &split);
        mb_llm_free(&split.x);
    }
    mb_llm_free(&whole.x);

    /* 2. a non-streamed 2xx body */
    mb_llm_init(&x, (mb_api)api, capture);
    mb_llm_body(&x, (const char *)data, size, 42);
    check(&x, 1);
    if (!x.err_kind && x.nct > 1)
        abort();                                   /* a body is at most one content event */
    mb_llm_free(&x);

    /* 3. an error status */
    mb_llm_init(&x, (mb_api)api, capture);
    mb_llm_http_error(&x, 500 + (int)(h % 100), (const char *)data, size);
    if (x.err_kind != MB_ERR_HTTP || strncmp(x.err_msg, "HTTP 5", 6) != 0 ||
        !clean_text(x.err_msg))
        abort();
    mb_llm_free(&x);
    return 0;
}

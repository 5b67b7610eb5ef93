/* mock_trace.c: the ground truth of the emulated server -- one record per
 * generation request with the monotonic times of its headers and of every
 * chunk write (scheduled and actual) -- and the JSON writer it and the
 * other mock files share.
 *
 * Memory is bounded by two caps (profile "trace": max_requests, max_chunks):
 * past either, the oldest finished records are evicted; a live request that
 * finds the chunk budget spent by other live requests stops recording chunks
 * (counted in its "chunks_dropped"). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "mock_int.h"

/* ------------------------------------------------------------ mk_buf */

/* Makes room for n more bytes (+ a NUL); sets oom instead of failing loudly
 * so writers can check once at the end. */
static int reserve(mk_buf *b, size_t n)
{
    if (b->oom)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void mk_put(mk_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void mk_printf(mk_buf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[256];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        mk_put(b, tmp, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Decimal digits without printf: the trace prints millions of numbers. */
void mk_put_u64(mk_buf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    mk_put(b, tmp + i, sizeof tmp - (size_t)i);
}

void mk_put_json_str(mk_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mk_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        mk_put(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            el = 6;
        }
        mk_put(b, esc, el);
    }
    mk_put(b, s + run, n - run);
    mk_put(b, "\"", 1);
}

void mk_buf_free(mk_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

char *mk_buf_take(mk_buf *b)
{
    char *p;
    if (b->oom) {
        mk_buf_free(b);
        return NULL;
    }
    if (!b->p)
        mk_put(b, "", 0);
    p = b->p;
    if (b->oom)
        p = NULL;
    memset(b, 0, sizeof *b);
    return p;
}

/* ------------------------------------------------------------- records */

static void rec_free(mk_trace *t, mk_trace_rec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        t->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        t->tail = r->prev;
    t->nrec--;
    t->nchunks -= r->nchunks;
    free(r->chunks);
    free(r->model);
    free(r);
}

/* Drops the oldest finished record other than `keep`; 0 if none exists. */
static int evict_one(mk_trace *t, const mk_trace_rec *keep)
{
    for (mk_trace_rec *r = t->head; r; r = r->next)
        if (r->done && r != keep) {
            rec_free(t, r);
            t->evicted++;
            return 1;
        }
    return 0;
}

mk_trace_rec *mk_trace_new(mk_trace *t, uint64_t seq)
{
    while (t->nrec >= t->max_rec && evict_one(t, NULL))
        ;
    mk_trace_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->seq = seq;
    r->outcome = "pending";
    r->prev = t->tail;
    if (t->tail)
        t->tail->next = r;
    else
        t->head = r;
    t->tail = r;
    t->nrec++;
    return r;
}

void mk_trace_chunk(mk_trace *t, mk_trace_rec *r, uint64_t sched, uint64_t actual, uint32_t tokens)
{
    if (!r)
        return;
    while (t->nchunks >= t->max_chunks && evict_one(t, r))
        ;
    if (t->nchunks >= t->max_chunks) {
        r->dropped++;
        return;
    }
    if (r->nchunks == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 16;
        mk_chunk *c = realloc(r->chunks, cap * sizeof *c);
        if (!c) {
            r->dropped++;
            return;
        }
        r->chunks = c;
        r->cap = cap;
    }
    r->chunks[r->nchunks++] = (mk_chunk){sched, actual, tokens};
    t->nchunks++;
}

void mk_trace_done(mk_trace *t, mk_trace_rec *r)
{
    if (!r)
        return;
    r->done = 1;
    /* give back the slack of the doubling growth */
    if (r->cap > r->nchunks && r->nchunks > 0) {
        mk_chunk *c = realloc(r->chunks, r->nchunks * sizeof *c);
        if (c) {
            r->chunks = c;
            r->cap = r->nchunks;
        }
    }
    while (t->nrec > t->max_rec && evict_one(t, NULL))
        ;
}

/* Frees every finished record; live ones stay (their request still holds
 * them) but lose the chunks recorded so far. */
void mk_trace_clear(mk_trace *t)
{
    mk_trace_rec *r = t->head;
    while (r) {
        mk_trace_rec *next = r->next;
        if (r->done) {
            rec_free(t, r);
        } else {
            t->nchunks -= r->nchunks;
            r->nchunks = 0;
        }
        r = next;
    }
    t->evicted = 0;
}

static void put_wall(mk_buf *b, const mk_trace_rec *r, uint64_t ns)
{
    double w = r->arrival_wall + ((double)ns - (double)r->arrival_ns) * 1e-9;
    mk_printf(b, "%.6f", w);
}

static void put_ns(mk_buf *b, const char *key, uint64_t ns)
{
    mk_puts(b, key);
    if (ns)
        mk_put_u64(b, ns);
    else
        mk_puts(b, "null");
}

static const char *const fault_names[] = {
    "error", "stream_error", "stall", "disconnect", "malformed", "slow_ttft"};

/* One record as JSON (docs/MOCK.md, "Trace"). */
static void rec_json(mk_buf *b, const mk_trace_rec *r, int wall)
{
    mk_puts(b, "{\"seq\":");
    mk_put_u64(b, r->seq);
    mk_puts(b, ",\"client_id\":");
    if (r->client_id[0])
        mk_put_json_str(b, r->client_id, strlen(r->client_id));
    else
        mk_puts(b, "null");
    mk_puts(b, ",\"id\":");
    mk_put_json_str(b, r->id, strlen(r->id));
    mk_printf(b, ",\"endpoint\":\"%s\",\"model\":", r->endpoint ? r->endpoint : "");
    mk_put_json_str(b, r->model ? r->model : "", r->model ? strlen(r->model) : 0);
    mk_printf(b, ",\"stream\":%s,\"status\":%d,\"done\":%s,\"outcome\":\"%s\",\"finish_reason\":",
              r->stream ? "true" : "false", r->status, r->done ? "true" : "false", r->outcome);
    if (r->finish)
        mk_printf(b, "\"%s\"", r->finish);
    else
        mk_puts(b, "null");
    mk_puts(b, ",\"faults\":[");
    int first = 1;
    for (unsigned i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++)
        if (r->faults & (1u << i)) {
            mk_printf(b, "%s\"%s\"", first ? "" : ",", fault_names[i]);
            first = 0;
        }
    mk_puts(b, "],\"prompt_tokens\":");
    mk_put_u64(b, r->prompt_tokens);
    mk_puts(b, ",\"output_tokens\":");
    mk_put_u64(b, r->output_tokens);
    mk_puts(b, ",\"reasoning_tokens\":");
    mk_put_u64(b, r->reasoning_tokens);
    mk_printf(b, ",\"ttft_target_s\":%.9g", r->ttft_target_s);
    put_ns(b, ",\"start_ns\":", r->start_ns);
    put_ns(b, ",\"arrival_ns\":", r->arrival_ns);
    mk_printf(b, ",\"arrival_wall\":%.6f", r->arrival_wall);
    put_ns(b, ",\"headers_ns\":", r->headers_ns);
    mk_puts(b, ",\"headers_wall\":");
    if (r->headers_ns)
        put_wall(b, r, r->headers_ns);
    else
        mk_puts(b, "null");
    put_ns(b, ",\"first_token_ns\":", r->first_ns);
    put_ns(b, ",\"end_ns\":", r->end_ns);
    mk_puts(b, ",\"chunks_dropped\":");
    mk_put_u64(b, r->dropped);
    mk_puts(b, ",\"chunks\":[");
    for (uint32_t i = 0; i < r->nchunks; i++) {
        const mk_chunk *c = &r->chunks[i];
        mk_puts(b, i ? ",[" : "[");
        mk_put_u64(b, c->sched_ns);
        mk_put(b, ",", 1);
        mk_put_u64(b, c->actual_ns);
        mk_put(b, ",", 1);
        mk_put_u64(b, c->tokens);
        if (wall) {
            mk_put(b, ",", 1);
            put_wall(b, r, c->actual_ns);
        }
        mk_put(b, "]", 1);
    }
    mk_puts(b, "]}");
}

void mk_trace_json(const mk_trace *t, mk_buf *b, uint64_t since, size_t limit,
                   const char *client_id, int wall)
{
    size_t n = 0;
    uint64_t last = since;
    mk_puts(b, "{\"requests\":[");
    for (const mk_trace_rec *r = t->head; r && n < limit; r = r->next) {
        if (r->seq <= since)
            continue;
        if (client_id && strcmp(client_id, r->client_id) != 0)
            continue;
        if (n++)
            mk_put(b, ",", 1);
        rec_json(b, r, wall);
        last = r->seq;
    }
    mk_puts(b, "],\"count\":");
    mk_put_u64(b, n);
    mk_puts(b, ",\"next\":");
    mk_put_u64(b, last);
    mk_puts(b, ",\"evicted\":");
    mk_put_u64(b, t->evicted);
    mk_puts(b, ",\"max_requests\":");
    mk_put_u64(b, t->max_rec);
    mk_puts(b, ",\"max_chunks\":");
    mk_put_u64(b, t->max_chunks);
    mk_puts(b, "}");
}

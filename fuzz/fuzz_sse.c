/* fuzz_sse.c: differential fuzzing of the SSE parser. The input is parsed
 * whole and again in chunks cut at points derived from its own bytes (with a
 * small max_line for a quarter of inputs); both runs must produce the same
 * transcript of events, errors and finish() result, else abort. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/sse.h"

typedef struct { unsigned char *p; size_t len, cap; } tbuf;

static void put(tbuf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_field(tbuf *b, const char *s, size_t n)
{
    put(b, &n, sizeof n);
    put(b, s, n);
}

/* Logs an event length-prefixed, checking what every event must satisfy. */
static int on_event(void *ud, const mb_sse_event *ev)
{
    if (!ev->type_len || memchr(ev->type, '\r', ev->type_len) ||
        memchr(ev->type, '\n', ev->type_len) || ev->type[ev->type_len] ||
        memchr(ev->data, '\r', ev->data_len) || ev->data[ev->data_len] ||
        memchr(ev->id, 0, ev->id_len) || memchr(ev->id, '\n', ev->id_len) ||
        memchr(ev->id, '\r', ev->id_len) || ev->retry < -1)
        abort();
    tbuf *b = ud;
    put(b, "E", 1);
    put_field(b, ev->type, ev->type_len);
    put_field(b, ev->data, ev->data_len);
    put_field(b, ev->id, ev->id_len);
    put(b, &ev->retry, sizeof ev->retry);
    put(b, &ev->partial, sizeof ev->partial);
    return 0;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One parse of data in chunks: sizes from the generator (0 = whole). */
static void parse(tbuf *b, const uint8_t *data, size_t size, size_t max_line, uint64_t seed)
{
    mb_sse p;
    int rc = 0;
    mb_sse_init(&p, max_line);
    b->len = 0;
    for (size_t off = 0; off < size && !rc;) {
        size_t n = size - off;
        if (seed) {
            uint64_t r = next(&seed);
            n = 1 + (size_t)(r % ((r >> 60) < 4 ? 3 : (r >> 60) < 12 ? 17 : n));
            n = n > size - off ? size - off : n;
        }
        rc = mb_sse_feed(&p, (const char *)data + off, n, on_event, b);
        off += n;
    }
    put(b, "F", 1);
    put(b, &rc, sizeof rc);
    if (rc && mb_sse_feed(&p, "\n", 1, on_event, b) != rc)
        abort();                            /* errors are sticky */
    rc = mb_sse_finish(&p, on_event, b);
    put(b, &rc, sizeof rc);
    if (p.line_cap > 2 * p.max_line + 64)
        abort();                            /* line memory bounded */
    mb_sse_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tbuf whole, split;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    size_t max_line = (h & 3) == 0 ? 1 + (size_t)((h >> 8) % 96) : 0;
    parse(&whole, data, size, max_line, 0);
    for (int k = 0; k < 3; k++) {
        parse(&split, data, size, max_line, (h | 1) + (uint64_t)k * 0x9e3779b97f4a7c15ull);
        if (split.len != whole.len || memcmp(split.p, whole.p, whole.len))
            abort();
    }
    return 0;
}

/* tok_util.c: growable buffers, the string hash and error formatting. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

/* Makes room for extra more bytes (and a NUL), doubling. */
int tok_buf_reserve(tok_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 64;
    while (nc < need)
        nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np)
        return MB_ENOMEM;
    b->p = np;
    b->cap = nc;
    return 0;
}

int tok_buf_put(tok_buf *b, const void *s, size_t n)
{
    if (tok_buf_reserve(b, n) < 0)
        return MB_ENOMEM;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int tok_ids_push(tok_ids *v, uint32_t id)
{
    if (v->len == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        uint32_t *np = realloc(v->p, nc * sizeof *np);
        if (!np)
            return MB_ENOMEM;
        v->p = np;
        v->cap = nc;
    }
    v->p[v->len++] = id;
    return 0;
}

int tok_spans_push(tok_spans *v, uint32_t s, uint32_t e, int32_t id)
{
    if (v->len == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 32;
        tok_span *np = realloc(v->p, nc * sizeof *np);
        if (!np)
            return MB_ENOMEM;
        v->p = np;
        v->cap = nc;
    }
    v->p[v->len++] = (tok_span){s, e, id};
    return 0;
}

/* A fast 64-bit hash for the short strings of vocabularies and words:
 * 8 bytes per multiply, then a final avalanche (splitmix64's). */
uint64_t tok_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t v = 0;
        memcpy(&v, s, n);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
    }
    h ^= h >> 30;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

int tok_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* buf.c: the growable byte buffer and the array growth rule (buf.h). */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/buf.h"
#include "mlxbench/errors.h"

#define BUF_MIN 256   /* first capacity of a byte buffer */
#define VEC_MIN 16    /* first capacity of an array, in elements */

/* The smallest capacity >= need reached by doubling from `from` (or from
 * `min` when from is 0); 0 when it cannot be represented. */
static size_t doubled(size_t from, size_t need, size_t min)
{
    size_t n = from ? from : min;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return 0;
        n *= 2;
    }
    return n;
}

/* Makes room for n more bytes plus the NUL; sticky on failure. */
int mb_buf_reserve(mb_buf *b, size_t n)
{
    if (b->oom)
        return MB_ENOMEM;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return MB_ENOMEM;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = doubled(b->cap, need, BUF_MIN);
    char *p = cap ? realloc(b->p, cap) : NULL;
    if (!p) {
        b->oom = 1;
        return MB_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Appends n bytes and keeps the NUL after them. */
int mb_buf_add(mb_buf *b, const void *p, size_t n)
{
    if (mb_buf_reserve(b, n) < 0)
        return MB_ENOMEM;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int mb_buf_put_u64(mb_buf *b, uint64_t v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return mb_buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

/* Formats into a stack buffer first (the common short case costs one
 * vsnprintf), straight into the buffer when longer. */
int mb_buf_printf(mb_buf *b, const char *fmt, ...)
{
    va_list ap;
    char tmp[256];
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MB_EINVAL;
    if ((size_t)n < sizeof tmp)
        return mb_buf_add(b, tmp, (size_t)n);
    if (mb_buf_reserve(b, (size_t)n) < 0)
        return MB_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void mb_buf_reset(mb_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->p)
        b->p[0] = 0;
}

void mb_buf_free(mb_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

char *mb_buf_take(mb_buf *b)
{
    char *p;
    if (!b->oom && !b->p)
        mb_buf_add(b, "", 0);
    if (b->oom) {
        mb_buf_free(b);
        return NULL;
    }
    p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

/* The pointer is read and written through memcpy: arrp points at a T *
 * of any T, which a void ** must not alias. */
int mb_vec_grow(void *arrp, size_t *cap, size_t need, size_t size)
{
    void *arr, *p;
    assert(size > 0);
    if (need <= *cap)
        return 0;
    size_t n = doubled(*cap, need, VEC_MIN);
    if (!n || n > SIZE_MAX / size)
        return MB_ENOMEM;
    memcpy(&arr, arrp, sizeof arr);
    if (!(p = realloc(arr, n * size)))
        return MB_ENOMEM;
    memcpy(arrp, &p, sizeof p);
    *cap = n;
    return 0;
}

void mb_vec_shrink(void *arrp, size_t *cap, size_t len, size_t size)
{
    void *arr, *p;
    if (len == 0 || len >= *cap)
        return;
    memcpy(&arr, arrp, sizeof arr);
    if (!(p = realloc(arr, len * size)))
        return;
    memcpy(arrp, &p, sizeof p);
    *cap = len;
}

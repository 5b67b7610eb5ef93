/* buf: the one growable byte buffer and the one growth rule for typed
 * arrays that every layer uses (the models are Lua's luaM_growvector and
 * Redis's sds). Pure C, no I/O.
 *
 *   mb_buf b = MB_BUF_INIT;
 *   mb_buf_add(&b, "abc", 3); mb_buf_printf(&b, "%d", 42);
 *   if (b.oom) ...            b.p is "abc42", b.len 5, NUL-terminated
 *   mb_buf_free(&b);
 *
 *   hdr *v = NULL; size_t cap = 0;
 *   if (MB_VEC_GROW(v, cap, n + 1) < 0) ...   now v has room for n + 1
 *
 * Capacities double, so appends are amortised O(1) and a long-lived buffer
 * (a stream's events, a connection's reads) settles into no allocation.
 * Every size computation is overflow-checked: a request that cannot be
 * represented fails like an allocation that failed (MB_ENOMEM). */
#ifndef MLXBENCH_BUF_H
#define MLXBENCH_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A byte buffer. p stays NULL until the first append; from then on the
 * bytes are followed by a NUL (not counted in len), so the buffer can be
 * read as a C string. An append that fails sets `oom` and leaves the bytes
 * as they were; later appends do nothing, so a writer of many pieces can
 * check once at the end. */
typedef struct mb_buf {
    char *p;
    size_t len, cap;
    int oom;
} mb_buf;

#define MB_BUF_INIT {NULL, 0, 0, 0}

/* Makes room for n more bytes (and the NUL). 0 or MB_ENOMEM (sets oom). */
int mb_buf_reserve(mb_buf *b, size_t n);
/* Appends n bytes. 0 or MB_ENOMEM. */
int mb_buf_add(mb_buf *b, const void *p, size_t n);
/* Appends a C string. 0 or MB_ENOMEM. Inline so that strlen of a literal
 * folds to a constant (the emulator formats one event per token out of
 * literals). */
static inline int mb_buf_puts(mb_buf *b, const char *s)
{
    return mb_buf_add(b, s, strlen(s));
}
/* Appends v in decimal, without printf (traces print millions of them). */
int mb_buf_put_u64(mb_buf *b, uint64_t v);
/* Appends formatted text. 0, MB_ENOMEM or MB_EINVAL (bad format). */
int mb_buf_printf(mb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the contents, keeps the memory (and clears oom). */
void mb_buf_reset(mb_buf *b);
/* Frees the memory; the buffer is then empty and reusable. */
void mb_buf_free(mb_buf *b);
/* Detaches the bytes as a malloc'd NUL-terminated string ("" for an empty
 * buffer); NULL when out of memory now or before. The buffer is then empty. */
char *mb_buf_take(mb_buf *b);

/* Grows the array *arrp (elements of `size` bytes, capacity *cap) so it
 * holds at least `need` elements: doubling from 16, overflow-checked. The
 * array is left as it was on failure. 0 or MB_ENOMEM. Use MB_VEC_GROW. */
int mb_vec_grow(void *arrp, size_t *cap, size_t need, size_t size);
/* MB_VEC_GROW(array, capacity, need): `array` is a T * lvalue, `capacity`
 * a size_t lvalue. 0 or MB_ENOMEM. */
#define MB_VEC_GROW(arr, cap, need) \
    ((size_t)(need) <= (cap) ? 0 : mb_vec_grow(&(arr), &(cap), (need), sizeof *(arr)))
/* Gives back the slack of the doubling: capacity becomes exactly `len`
 * (len > 0). Keeps the array as it was if the allocator says no. */
void mb_vec_shrink(void *arrp, size_t *cap, size_t len, size_t size);
#define MB_VEC_SHRINK(arr, cap, len) mb_vec_shrink(&(arr), &(cap), (len), sizeof *(arr))

#endif

/* jsplit: splits a JSON array into its elements as bytes stream in, so a
 * dataset file of any size is read with memory bounded by its largest
 * element (ShareGPT files are one array of conversations). It finds the
 * element boundaries only; each element is then decoded on its own. Pure C. */
#ifndef MLXBENCH_JSPLIT_H
#define MLXBENCH_JSPLIT_H

#include <stddef.h>
#include "mlxbench/buf.h"

/* One element, raw JSON text. Return non-zero to stop (returned by feed). */
typedef int (*mb_jsplit_cb)(void *ud, const char *elem, size_t len);

typedef struct mb_jsplit {
    int state;            /* internal */
    int depth;            /* nesting inside the current element */
    int in_str, esc;
    mb_buf elem;          /* the element being collected */
    size_t max;
    int err;              /* sticky MB_EPARSE / MB_ETOOLONG / MB_ENOMEM */
} mb_jsplit;

void mb_jsplit_init(mb_jsplit *s, size_t max_elem);   /* 0: 64 MiB */
void mb_jsplit_free(mb_jsplit *s);
/* Feeds bytes; returns 0, the callback's value, or a negative error:
 * MB_EPARSE (not an array, or bytes after its end), MB_ETOOLONG (an element
 * over max_elem). Element syntax is not validated here. */
int mb_jsplit_feed(mb_jsplit *s, const char *p, size_t n, mb_jsplit_cb cb, void *ud);
/* 1 when the closing ']' was seen. */
int mb_jsplit_done(const mb_jsplit *s);

#endif

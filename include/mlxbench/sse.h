/* sse: an incremental Server-Sent Events parser (WHATWG "interpreting an
 * event stream"). Feed it bytes in any chunking; it calls back once per
 * dispatched event with the same events whatever the split points. Pure C,
 * no I/O, no allocation per event after the buffers have grown. */
#ifndef MLXBENCH_SSE_H
#define MLXBENCH_SSE_H

#include <stddef.h>
#include "mlxbench/defaults.h"

typedef struct mb_sse_event {
    const char *type;  size_t type_len;   /* "message" when no event: field */
    const char *data;  size_t data_len;   /* lines joined by '\n', no trailing LF */
    const char *id;    size_t id_len;     /* last event ID (persists), may be "" */
    long retry;                           /* -1 unless this event set retry: */
    int partial;       /* 1 only from mb_sse_finish: event left open at EOF */
} mb_sse_event;

/* Return non-zero to stop parsing; mb_sse_feed then returns that value. */
typedef int (*mb_sse_cb)(void *ud, const mb_sse_event *ev);

typedef struct mb_sse {
    size_t max_line;
    char *line;  size_t line_len, line_cap;    /* current line */
    char *data;  size_t data_len, data_cap;    /* data buffer */
    char *type;  size_t type_len, type_cap;    /* event type buffer */
    char *id;    size_t id_len, id_cap;        /* last event id */
    long retry;                                /* reconnection time, -1 unset */
    long ev_retry;                             /* retry: in this block, else -1 */
    int bom;                                   /* BOM bytes matched; 3 = past */
    int cr;                                    /* last byte was a line-ending CR */
    int error;                                 /* sticky error code */
    int fields;                                /* fields seen since dispatch */
    unsigned long long bytes;                  /* total fed */
} mb_sse;

void mb_sse_init(mb_sse *p, size_t max_line);   /* 0 -> default 1 MiB */
void mb_sse_free(mb_sse *p);

/* Feeds bytes. Returns 0, the callback's non-zero value (the rest of this
 * chunk is then dropped), MB_ETOOLONG when a line exceeds max_line (sticky:
 * later feeds return it too), MB_ENOMEM (sticky), or MB_ESTATE after finish.
 * Event pointers stay valid until the next feed/finish/free. */
int mb_sse_feed(mb_sse *p, const char *buf, size_t len, mb_sse_cb cb, void *ud);

/* Ends the stream. Per the spec nothing is dispatched for an unterminated
 * event; returns 1 if the stream ended mid-event (a partial line or fields
 * seen since the last dispatch), else 0, or the sticky error of a failed
 * feed. If `cb` is non-NULL and the open event had data (a pending partial
 * line counts as terminated), it is handed over with ev->partial = 1 so
 * callers such as the LLM extractors can be lenient (a final `data: [DONE]`
 * without its blank line is common in the wild). Afterwards the parser only
 * accepts mb_sse_free (then mb_sse_init to reuse it). */
int mb_sse_finish(mb_sse *p, mb_sse_cb cb, void *ud);

#endif

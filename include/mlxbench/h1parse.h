/* h1parse.h: HTTP/1.x message framing -- one small interface over the
 * parser library the build found (http_parser, or llhttp where http_parser
 * is missing, as on Homebrew; CMake's MLXBENCH_HTTP_PARSER chooses), used by
 * the client's HTTP/1.1 transport (src/client/h1) and by the server
 * (src/server/server_read.c). Nothing else includes a parser's header
 * (tools/check_layers.py checks), so both libraries pass the same tests.
 *
 * Pure C, no I/O: the caller hands in the bytes it read; the callbacks see
 * spans of them (a span may be cut by the end of a read). src/core/
 * h1parse_hp.c and h1parse_ll.c are the two implementations; CMake compiles
 * one. */
#ifndef MLXBENCH_H1PARSE_H
#define MLXBENCH_H1PARSE_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_h1p mb_h1p;

/* Return values of the callbacks. Every callback may return MB_H1P_FAIL
 * (the parse stops with an error); on_headers_complete may return
 * MB_H1P_NOBODY (the message has no body whatever its head says: a response
 * to HEAD, a 1xx, 204 or 304); on_message_complete may return MB_H1P_PAUSE
 * (execute returns MB_H1P_PAUSED right after this message: one message at a
 * time). */
enum { MB_H1P_GO = 0, MB_H1P_NOBODY = 1, MB_H1P_PAUSE = 2, MB_H1P_FAIL = -1 };

/* Any callback may be NULL. */
typedef struct mb_h1p_cb {
    int (*on_message_begin)(mb_h1p *p);
    int (*on_url)(mb_h1p *p, const char *at, size_t n);            /* requests */
    int (*on_status)(mb_h1p *p, const char *at, size_t n);         /* the reason phrase */
    int (*on_header_field)(mb_h1p *p, const char *at, size_t n);
    int (*on_header_value)(mb_h1p *p, const char *at, size_t n);
    int (*on_headers_complete)(mb_h1p *p);
    int (*on_body)(mb_h1p *p, const char *at, size_t n);           /* de-chunked */
    int (*on_message_complete)(mb_h1p *p);
} mb_h1p_cb;

/* mb_h1p_init's kind and flags. */
enum {
    MB_H1P_REQUEST = 0,
    MB_H1P_RESPONSE = 1,
    /* Transfer-Encoding: chunked wins over a Content-Length sent along (as
     * libcurl does; some proxies send both) instead of failing the parse. */
    MB_H1P_CHUNKED_WINS = 2,
};

/* What execute and finish report. */
typedef enum {
    MB_H1P_OK,        /* every byte consumed, more may come */
    MB_H1P_PAUSED,    /* on_message_complete returned MB_H1P_PAUSE: resume first */
    MB_H1P_UPGRADE,   /* a request asked for a protocol upgrade (not HTTP/1 any more) */
    MB_H1P_ERROR      /* malformed, or a callback failed: mb_h1p_error says why */
} mb_h1p_state;

/* The parser. `data` is the owner's; the rest is the library's state,
 * opaque, in place (no allocation): large enough for either library
 * (checked when it is compiled). */
struct mb_h1p {
    void *data;
    const mb_h1p_cb *cb;
    union {
        void *align_p;
        uint64_t align_u;
        unsigned char b[128];
    } impl;
};

/* (Re)starts the parser for one kind of message (MB_H1P_REQUEST or
 * MB_H1P_RESPONSE, | MB_H1P_CHUNKED_WINS). */
void mb_h1p_init(mb_h1p *p, int kind, const mb_h1p_cb *cb, void *data);
/* Parses n bytes; *used = how many were consumed (all of them unless the
 * state is PAUSED, UPGRADE or ERROR: the rest belongs to what follows). */
mb_h1p_state mb_h1p_execute(mb_h1p *p, const char *d, size_t n, size_t *used);
/* The peer closed: a body that ends with the connection ends here
 * (on_message_complete). MB_H1P_OK, or MB_H1P_ERROR when a message was cut. */
mb_h1p_state mb_h1p_finish(mb_h1p *p);
/* Continues after MB_H1P_PAUSED. */
void mb_h1p_resume(mb_h1p *p);
/* Why the parse stopped (a short phrase, for messages); "" when it did not. */
const char *mb_h1p_error(const mb_h1p *p);

/* ---- what the head said (valid from on_headers_complete) ------------- */

unsigned mb_h1p_status(const mb_h1p *p);          /* responses; partial before the head ends */
unsigned mb_h1p_http_major(const mb_h1p *p);
unsigned mb_h1p_http_minor(const mb_h1p *p);
const char *mb_h1p_method(const mb_h1p *p);        /* requests: "GET", ... */
int mb_h1p_keep_alive(const mb_h1p *p);            /* the connection may carry another message */
int mb_h1p_chunked(const mb_h1p *p);               /* Transfer-Encoding: chunked */
int mb_h1p_has_length(const mb_h1p *p);            /* a Content-Length was given */
/* The body bytes still to come of a Content-Length body (the declared
 * length at on_headers_complete). */
uint64_t mb_h1p_length(const mb_h1p *p);

/* Once per process, before any parser runs: the library's own limit on a
 * message head, where it has one (http_parser: 80 KiB by default; llhttp
 * has none), so the callers' own, clearer limits trip first. */
void mb_h1p_set_max_head(uint32_t bytes);
/* "http_parser 2.9.4", "llhttp 9.4.0": the library and version built in. */
const char *mb_h1p_library(void);

#endif

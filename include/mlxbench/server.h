/* server: a small HTTP/1.1 server on libuv + libhttp-parser, the base of the
 * emulated LLM server (src/emu). Its listener is listen.h's, shared with the
 * fault proxy.
 *
 * One request at a time per connection (pipelined requests wait in a buffer
 * until the response before them has ended); keep-alive; Content-Length and
 * chunked request bodies; responses with a Content-Length or streamed (chunked
 * on HTTP/1.1, raw until close on HTTP/1.0). Writes go straight to the socket
 * when it accepts them and are queued (copied) otherwise, and the owner can
 * see the queue to apply backpressure. The owner is told about every request,
 * every malformed or over-size request (so it can answer in its own API's
 * error shape) and every connection that closes (so it can cancel timers).
 *
 * Everything runs on the caller's loop thread. Objects are freed from libuv
 * close callbacks, so a connection pointer stays valid until the loop has run
 * once after on_close. */
#ifndef MLXBENCH_SERVER_H
#define MLXBENCH_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mb_server mb_server;
typedef struct mb_server_conn mb_server_conn;

typedef struct mb_server_header {
    const char *name;  size_t name_len;
    const char *value; size_t value_len;
} mb_server_header;

/* A parsed request. Every pointer is valid only during the callback that
 * receives it: copy what must outlive it. Strings are NUL-terminated. */
typedef struct mb_server_req {
    const char *method;                  /* "GET", "POST", ... */
    const char *path;   size_t path_len; /* URL path, no query */
    const char *query;  size_t query_len;/* after '?', "" if none */
    const mb_server_header *headers;
    int nheaders;
    const char *body;   size_t body_len; /* "" when no body */
    int http_major, http_minor;
    int keep_alive;                      /* the client allows keep-alive */
    uint64_t start_ns;                   /* first byte of the request (monotonic) */
    uint64_t done_ns;                    /* request complete (monotonic) */
} mb_server_req;

typedef struct mb_server_handlers {
    /* A complete request. The owner answers now or later with
     * mb_server_respond / mb_server_begin + write + end, or aborts. */
    void (*on_request)(void *ud, mb_server_conn *c, const mb_server_req *req);
    /* A request the server refuses: 400 (malformed) or 413 (over-size).
     * `partial` holds what was parsed (path and headers may be empty). The
     * owner answers with mb_server_respond; if it does not (or the handler is
     * NULL) the server sends a default JSON error. The connection closes
     * after that response. */
    void (*on_bad_request)(void *ud, mb_server_conn *c, int status, const char *message,
                           const mb_server_req *partial);
    /* The connection closed (peer, error, abort or server stop). Called
     * once per connection; the owner drops whatever it keeps for it (timers,
     * conn data). Calls on the connection now fail with MB_ESTATE. */
    void (*on_close)(void *ud, mb_server_conn *c);
    /* The write queue fell below low_water after having exceeded high_water. */
    void (*on_drain)(void *ud, mb_server_conn *c);
    void *ud;
} mb_server_handlers;

typedef struct mb_server_config {
    const char *host;        /* numeric address or name; NULL = 127.0.0.1 */
    int port;                /* 0 picks a free port */
    int backlog;             /* 0 = MB_DEFAULT_BACKLOG (1024) */
    size_t max_head;         /* request line + headers, bytes; 0 = 64 KiB */
    size_t max_body;         /* body bytes; 0 = 8 MiB */
    size_t high_water;       /* write queue bytes that mark congestion; 0 = 256 KiB */
    size_t low_water;        /* and that end it; 0 = high_water / 4 */
    int request_timeout_ms;  /* from a request's first byte to its last: past
                                it, 408 and close (slow heads, slow bodies);
                                0 = 10 s, < 0 = none */
    int idle_timeout_ms;     /* a connection with no request under way (new,
                                or kept alive) is closed after this; 0 = 60 s,
                                < 0 = none */
    mb_server_handlers h;
} mb_server_config;

/* Binds and listens. On failure returns a negative code (MB_E* or a libuv
 * UV_E* code such as UV_EADDRINUSE; uv_strerror() describes the latter). */
int mb_server_start(mb_server **out, uv_loop_t *loop, const mb_server_config *cfg);

/* Closes the listener and every connection (on_close runs for each), then
 * frees the server once libuv has closed every handle; `done` (optional)
 * runs at that point. The pointer must not be used after this call. */
void mb_server_stop(mb_server *s, void (*done)(void *ud), void *ud);

int mb_server_port(const mb_server *s);          /* the bound port */
const char *mb_server_host(const mb_server *s);  /* the bound address, numeric */
int mb_server_loopback(const mb_server *s);      /* bound to 127.0.0.0/8 or ::1 */
size_t mb_server_nconns(const mb_server *s);     /* open connections */
uint64_t mb_server_accepted(const mb_server *s); /* connections accepted so far */

/* Stops listening (new connections are refused by the kernel; open ones are
 * kept) / listens again on the same port. Idempotent. */
int mb_server_pause(mb_server *s);
int mb_server_resume(mb_server *s);
int mb_server_paused(const mb_server *s);

/* A whole response with a Content-Length body. `extra` is "" or NULL or
 * header lines each ending in "\r\n"; content_type NULL = no header. */
int mb_server_respond(mb_server_conn *c, int status, const char *content_type,
                      const char *extra, const char *body, size_t len);
/* Starts a streamed response: status line and headers are written now. */
int mb_server_begin(mb_server_conn *c, int status, const char *content_type, const char *extra);
/* One piece of a streamed body (a chunk on HTTP/1.1). Data is copied if the
 * socket does not take it at once. */
int mb_server_write(mb_server_conn *c, const char *data, size_t len);
/* Bytes written as they are, outside the chunked framing (to emulate a
 * broken server). */
int mb_server_write_raw(mb_server_conn *c, const char *data, size_t len);
/* Ends a streamed response (terminating chunk); then keep-alive goes on with
 * the next request, or the connection closes gracefully. */
int mb_server_end(mb_server_conn *c);
/* Closes at once with a TCP RST (the client sees "connection reset"). */
void mb_server_abort(mb_server_conn *c);
/* Closes after queued writes have been sent (FIN). */
void mb_server_close(mb_server_conn *c);

int mb_server_congested(const mb_server_conn *c);    /* write queue above high water */
/* The owner's data for a connection (NULL until set). */
void mb_server_conn_set_data(mb_server_conn *c, void *data);
void *mb_server_conn_data(const mb_server_conn *c);

/* Case-insensitive header lookup; NULL if absent. *len gets the value length. */
const char *mb_server_req_header(const mb_server_req *r, const char *name, size_t *len);

/* The reason phrase of a status code ("OK", "Not Found", ...). */
const char *mb_server_reason(int status);

#endif

/* server_int.h: what the HTTP server's files share. Private to src/server.
 *
 *   server.c        the server's life: start, listen (listen.c), accept,
 *                   pause/resume, stop; a connection's end (graceful close,
 *                   linger, reset)
 *   server_read.c   the request side: parser callbacks into one buffer,
 *                   dispatch to the owner, refusals, pipelined bytes
 *   server_write.c  the response side: heads, bodies, streamed chunks,
 *                   the write queue and its backpressure
 *
 * A connection is in exactly one state (conn_state); set_state asserts
 * that every change is one the life below allows:
 *
 *   NEW -> READING <-> BUSY -> STREAMING -> READING   (keep-alive)
 *            |          |         |
 *            |      (response with Content-Length: back to READING)
 *            v          v         v
 *         REJECTED -> (answered) -> SHUTDOWN -> LINGER -> CLOSED
 *
 * READING parses (or waits for) a request; BUSY: a request is with the
 * owner, not answered; STREAMING: the owner began a streamed response;
 * REJECTED: a request the parser refused is with the owner for its error
 * response, bytes arriving meanwhile are dropped; SHUTDOWN: the last
 * response is queued and the write side is being shut (FIN); LINGER: FIN
 * sent, reading until the peer's FIN or a timer so the kernel does not reset
 * a response not read yet; CLOSED: handles closing, memory freed by the last
 * close callback. Any state can go to CLOSED (a reset, an error, stop). */
#ifndef MB_SERVER_INT_H
#define MB_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>
#include "mlxbench/h1parse.h"
#include "mlxbench/buf.h"
#include "mlxbench/listen.h"
#include "mlxbench/server.h"

#define READ_BUF (64 * 1024)
#define LINGER_MS 2000
#define SWEEP_MS 250          /* request and idle timeouts are checked this often */
#define FD_SPARE 32           /* descriptors kept free for the owner, DNS, logs */
#define MAX_HEADERS 256   /* more make an over-size head (413) */

typedef enum {
    CS_NEW,        /* accepted, not yet reading */
    CS_READING,
    CS_BUSY,
    CS_STREAMING,
    CS_REJECTED,
    CS_SHUTDOWN,
    CS_LINGER,
    CS_CLOSED
} conn_state;

typedef struct hoff { uint32_t no, nl, vo, vl; } hoff;

enum { EL_NONE, EL_URL, EL_FIELD, EL_VALUE, EL_BODY };

struct mb_server_conn {
    uv_tcp_t tcp;
    mb_server *srv;
    mb_server_conn *prev, *next;      /* server's list of connections */
    mb_server_conn *next_ready;       /* queued for parsing pending bytes */
    conn_state state;
    mb_h1p parser;
    uint64_t id;
    void *data;
    /* the request being parsed: bytes in msg, positions as offsets */
    mb_buf msg;
    size_t url_off, url_len, body_off, body_len, head_bytes;
    hoff *hdrs; int nhdr; size_t hdr_cap;
    int el;                           /* element being appended (EL_*) */
    uint64_t start_ns, done_ns;
    int msg_done;
    int err_status;                   /* 413 set by a parser callback */
    uint64_t wait_ns;                 /* since when no request is under way */
    uint64_t req_ns;                  /* first byte of the request being read, 0: none */
    /* bytes received but not parsed yet (pipelining, or while busy) */
    mb_buf pend; size_t pend_off;
    /* the response */
    size_t queued;                    /* bytes in libuv's write queue */
    unsigned chunked : 1,             /* the streamed body is chunked (HTTP/1.1) */
             keep_alive : 1,          /* the request allows keep-alive */
             close_after : 1,         /* close once this response has gone */
             congested : 1,           /* queue over high water, on_drain due */
             reading : 1,             /* uv_read_start is on */
             in_ready : 1;            /* on the server's ready list */
    int handles;                      /* open libuv handles of this conn */
    uv_timer_t *linger;
    uv_shutdown_t shut;
};

struct mb_server {
    uv_loop_t *loop;
    mb_server_config cfg;
    mb_listener l;                    /* the listening socket (closed while paused) */
    mb_life life;                     /* parts: listener handles, the idle handle */
    uv_idle_t idle;                   /* drives pipelined parsing */
    uv_timer_t sweep;                 /* request and idle timeouts */
    size_t max_conns;                 /* the descriptor limit, less FD_SPARE */
    mb_server_conn *conns, *ready;
    size_t nconns;
    uint64_t next_id;
    char rbuf[READ_BUF];
    char wbuf[8192];                  /* gathers one small write */
};

/* server.c */
void conn_set_state(mb_server_conn *c, conn_state to);
/* Closes a connection once (RST when `reset`): stops reading, tells the
 * owner (unless it never started), closes its handles. */
void conn_close(mb_server_conn *c, int reset);
/* FIN after the queued writes, then linger. */
void conn_graceful(mb_server_conn *c);

/* server.c: a request is under way on c (its deadline runs) / none is. */
void conn_request_begins(mb_server_conn *c);
void conn_request_ends(mb_server_conn *c);

/* server_read.c */
extern const mb_h1p_cb mb_server_parser_cb;
void conn_start_reading(mb_server_conn *c);
/* Parses pending bytes when idle and puts the connection back to reading. */
void conn_ready_push(mb_server_conn *c);
void conn_ready_remove(mb_server_conn *c);
void server_on_idle(uv_idle_t *h);

/* server_write.c */
/* The response has gone: keep-alive resumes parsing (from the idle
 * callback), other connections close gracefully. */
void conn_response_done(mb_server_conn *c);

#endif

/* client_int.h: what client.c (loop, multi, sockets) and client_req.c (one
 * transfer: options, callbacks, result) share. Private to src/client. */
#ifndef MB_CLIENT_INT_H
#define MB_CLIENT_INT_H

#include "curl/curl_dl.h"
#include <uv.h>
#include "mlxbench/client.h"

/* The message of a request that found the descriptor limit reached, on
 * either transport. */
#define MB_MSG_FD_LIMIT "cannot open a socket: too many open files (the process's descriptor " \
                        "limit, ulimit -n, is reached: raise it or lower the concurrency)"

/* A growing byte arena: amortised appends, never shrinks until freed. */
typedef struct cbuf {
    char *p;
    size_t len, cap;
} cbuf;

int cbuf_add(cbuf *b, const void *p, size_t n);   /* 0 or MB_ENOMEM */
void cbuf_free(cbuf *b);

typedef struct hdr_rec { uint32_t name, name_len, value, value_len; } hdr_rec;

typedef struct ev_rec {
    size_t off;                  /* type, data, id stored back to back */
    uint32_t type_len, id_len;
    size_t data_len;
    long retry;
    uint64_t t_ns;
} ev_rec;

enum { PEND_EVENTS = 1, PEND_DONE = 2 };

struct mb_req {
    mb_client *c;
    CURL *easy;
    struct curl_slist *hdrs;
    /* what the owner asked */
    int stream;
    size_t max_body, max_line, max_error_body;
    mb_req_sse_fn on_sse;
    mb_req_sse_end_fn on_sse_end;
    mb_req_data_fn on_data;
    void *hook_ud;
    mb_req_done_fn on_done;
    mb_req_events_fn on_events;
    void *ud;
    /* progress */
    int in_multi;                /* easy is added to the multi */
    int sse_on;                  /* the body is being parsed as SSE */
    int body_mode_set;           /* sse_on decided (first body byte) */
    int hook_stopped;            /* a hook asked to stop */
    mb_err_kind latched;         /* error decided inside a callback */
    uint64_t t_chunk;            /* arrival stamp of the chunk being parsed */
    mb_resp resp;
    char err_msg[CURL_ERROR_SIZE + 64];
    char errbuf[CURL_ERROR_SIZE];
    cbuf hbytes;                 /* header names and values */
    hdr_rec *hv; size_t hcap;
    int last_hdr_open;           /* the last header may take a folded line */
    size_t head_bytes;           /* bytes of the current response head */
    int reject_encoded;          /* see mb_req_opts */
    int asked_encoding;          /* accept_encoding was set */
    cbuf body;
    mb_sse sse;
    cbuf evbytes;
    ev_rec *ev; size_t evcap;
    long timeout_ms, connect_timeout_ms;
    /* the plain HTTP/1.1 transport (h1.c) when r->h1 */
    int h1;                      /* this request uses h1, not libcurl */
    int h1_live;                 /* in flight on h1 (the analogue of in_multi) */
    int h1_retried;              /* resent once after a stale keep-alive connection */
    struct h1_conn *conn;        /* its connection while in flight */
    struct h1_host *host;
    cbuf whead;                  /* the request head as sent */
    const char *wbody;           /* the body (the owner's, not copied) */
    size_t wbody_len;
    int head_req;                /* HEAD: the response has no body */
    /* client bookkeeping */
    int pend;                    /* PEND_* flags while on the pending list */
    mb_req *pend_prev, *pend_next;
    mb_req *all_prev, *all_next;
};

/* client.c: hands an easy handle out of the pool / takes it back (reset). */
CURL *client_easy_get(mb_client *c);
void client_easy_put(mb_client *c, CURL *e);
/* client.c: queues a notification for after socket_action returns. */
void client_pend(mb_client *c, mb_req *r, int flags);
void client_unpend(mb_client *c, mb_req *r);
void client_link(mb_client *c, mb_req *r);
void client_unlink(mb_client *c, mb_req *r);
CURLM *client_multi(mb_client *c);
int client_closesocket(void *ud, curl_socket_t fd);
curl_socket_t client_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a);

/* client.c: delivers queued notifications (call at the top of a callback
 * stack, never from inside a transfer's processing). */
void client_dispatch(mb_client *c);
/* client.c: a libuv handle of the client's was opened (+1) or has closed
 * (-1); the client's memory goes once it is freed and none is left. */
void client_handles(mb_client *c, int delta);
uv_loop_t *client_loop(mb_client *c);
struct h1_pool **client_h1(mb_client *c);

/* client_req.c: validates the options and copies what every transport
 * needs; then req_setup sets libcurl's options, or h1_start takes over. */
int req_init(mb_req *r, const mb_req_opts *o);
int req_setup(mb_req *r, const mb_req_opts *o);
/* client_req.c: one line of the response head, a chunk of the body
 * (stamped t); each returns len to go on, 0 to stop (error latched). */
size_t req_head(mb_req *r, const char *buf, size_t len);
size_t req_data(mb_req *r, const char *buf, size_t len, uint64_t t);
/* client_req.c: latches the first error of a transfer. */
void req_latch(mb_req *r, mb_err_kind k, const char *fmt, size_t n);
/* client_req.c: decides the outcome once the transport filled the figures. */
void req_verdict(mb_req *r);
/* client_req.c: reads curl's verdict and timings once the transfer ended. */
void req_finish(mb_req *r, CURLcode code, uint64_t t_done);
/* client_req.c: ends a transfer the client stops (kind `aborted`). */
void req_abort(mb_req *r, const char *why, uint64_t t_done);
/* client_req.c: releases buffers (not the easy handle). */
void req_release(mb_req *r);

/* An http:// URL split the way the transport needs it. */
typedef struct h1_url {
    char host[256];              /* lower-cased name or address, no brackets */
    int v6;                      /* the host was a [bracketed] IPv6 literal */
    int port;
    const char *path;            /* path + query into the URL, no fragment */
    size_t path_len;             /* 0: "/" */
} h1_url;

/* h1.c: the plain-HTTP/1.1 transport. h1_eligible says whether a request
 * can take it (http://, HTTP/1.1, no proxy, no decoding, a URL it parses
 * exactly as libcurl would) and fills *u; h1_start sends it with that URL (0 or MB_E*, nothing
 * notified from inside); h1_abort ends one in flight as `aborted`;
 * h1_cancel drops one silently; h1_pool_free closes every connection. */
int h1_eligible(const mb_req_opts *o, h1_url *u);
int h1_start(mb_client *c, mb_req *r, const mb_req_opts *o, const h1_url *u);
void h1_abort(mb_req *r, const char *why);
void h1_cancel(mb_req *r);
void h1_pool_free(struct h1_pool *p);

#endif

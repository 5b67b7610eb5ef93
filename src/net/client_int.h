/* client_int.h: what client.c (loop, multi, sockets) and client_req.c (one
 * transfer: options, callbacks, result) share. Private to src/net. */
#ifndef MB_CLIENT_INT_H
#define MB_CLIENT_INT_H

#include <curl/curl.h>
#include "mlxbench/client.h"

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
    size_t max_body, max_line;
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

/* client_req.c: sets every option of a new transfer. */
int req_setup(mb_req *r, const mb_req_opts *o);
/* client_req.c: reads curl's verdict and timings once the transfer ended. */
void req_finish(mb_req *r, CURLcode code, uint64_t t_done);
/* client_req.c: ends a transfer the client stops (kind `aborted`). */
void req_abort(mb_req *r, const char *why, uint64_t t_done);
/* client_req.c: releases buffers (not the easy handle). */
void req_release(mb_req *r);

#endif

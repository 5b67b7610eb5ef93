/* client_int.h: what the client's parts share. Private to src/client.
 *
 *   client.c        the facade: requests, the choice of transport, the
 *                   notification queue, handle accounting
 *   client_req.c    what both transports share: options, the response head
 *                   and body (storage, SSE, limits), the verdict
 *   h1/             the plain-HTTP/1.1 transport
 *   curl/           the libcurl transport (multi handle on the loop)
 *
 * A request is the common part below followed by its transport's own part
 * (tp->req_size bytes, reached with mb_req_priv): one allocation, and
 * neither transport sees the other's fields. */
#ifndef MB_CLIENT_INT_H
#define MB_CLIENT_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <uv.h>
#include "mlxbench/buf.h"
#include "mlxbench/client.h"
#include "mlxbench/clock.h"

/* The message of a request that found the descriptor limit reached, on
 * either transport. */
#define MB_MSG_FD_LIMIT "cannot open a socket: too many open files (the process's descriptor " \
                        "limit, ulimit -n, is reached: raise it or lower the concurrency)"

#define MB_ERR_MSG_SIZE 320      /* a transport's message, with room to spare */

typedef struct hdr_rec { uint32_t name, name_len, value, value_len; } hdr_rec;

typedef struct ev_rec {
    size_t off;                  /* type, data, id stored back to back */
    uint32_t type_len, id_len;
    size_t data_len;
    long retry;
    uint64_t t_ns;               /* the read's stamp (the kernel's, where there is one) */
    uint64_t t_user_ns;          /* when the client read it */
    int kernel;                  /* t_ns is the kernel's stamp */
} ev_rec;

/* An http:// URL split the way the HTTP/1.1 transport needs it. */
typedef struct h1_url {
    char host[256];              /* lower-cased name or address, no brackets */
    int v6;                      /* the host was a [bracketed] IPv6 literal */
    int port;
    const char *path;            /* path + query into the URL, no fragment */
    size_t path_len;             /* 0: "/" */
} h1_url;

/* A transport: how a request travels. Every entry runs on the loop thread
 * and none delivers a notification from inside itself (the transports
 * queue them with client_pend and deliver with client_dispatch from their
 * own callbacks). */
typedef struct mb_transport {
    const char *name;            /* "h1", "libcurl" */
    size_t req_size;             /* bytes of its part of a request */
    /* Starts r (common part filled by req_init; `u` is the URL as the
     * HTTP/1.1 transport parsed it, for it alone). 0 or MB_E*; on failure
     * the client releases r. Sets r->live once the request is in flight. */
    int (*start)(mb_client *c, mb_req *r, const mb_req_opts *o, const h1_url *u);
    /* Drops a live request silently: its connection closes mid-response. */
    void (*cancel)(mb_req *r);
    /* Ends a live request now as `aborted` (message `why`), its verdict
     * recorded; the client queues on_done. */
    void (*abort)(mb_req *r, const char *why);
    /* Frees the transport's part of a request that is not live. */
    void (*release)(mb_req *r);
    /* The client is going: closes the transport's connections and handles
     * (each close callback reports through client_handles). Requests were
     * cancelled before. */
    void (*close)(mb_client *c);
} mb_transport;

extern const mb_transport mb_transport_h1, mb_transport_curl;

/* Defines a transport from its file's t_start, t_cancel, t_abort,
 * t_release and t_close and its part of a request (type `priv`). */
#define MB_TRANSPORT_DEFINE(var, label, priv)                                            \
    const mb_transport var = {.name = label, .req_size = sizeof(priv), .start = t_start, \
                              .cancel = t_cancel, .abort = t_abort,                      \
                              .release = t_release, .close = t_close}

enum { PEND_EVENTS = 1, PEND_DONE = 2 };

struct mb_req {
    mb_client *c;                /* NULL once orphaned by mb_client_free */
    const mb_transport *tp;
    int live;                    /* in flight on its transport */
    /* what the owner asked */
    int stream;
    size_t max_body, max_line, max_error_body;
    long timeout_ms, connect_timeout_ms;
    mb_req_sse_fn on_sse;
    mb_req_sse_end_fn on_sse_end;
    mb_req_data_fn on_data;
    void *hook_ud;
    mb_req_done_fn on_done;
    mb_req_events_fn on_events;
    void *ud;
    int reject_encoded;          /* see mb_req_opts */
    int asked_encoding;          /* accept_encoding was set */
    /* the response as it arrives */
    mb_err_kind latched;         /* error decided inside a callback */
    uint64_t t_chunk;            /* arrival stamp of the chunk being parsed */
    uint64_t t_user;             /* user-space stamp of the read being parsed */
    int64_t lag;                 /* t_user - the kernel's stamp of that read; -1: none */
    int kstamped, ustamped;      /* reads of this response with and without a kernel stamp */
    mb_resp resp;
    char err_msg[MB_ERR_MSG_SIZE];
    mb_buf hbytes;               /* header names and values */
    hdr_rec *hv; size_t hcap;
    int last_hdr_open;           /* the last header may take a folded line */
    size_t head_bytes;           /* bytes of the current response head */
    mb_buf body;
    mb_sse sse;
    mb_buf evbytes;
    ev_rec *ev; size_t evcap;
    /* client bookkeeping */
    int pend;                    /* PEND_* flags while on the pending list */
    mb_req *pend_prev, *pend_next;
    mb_req *all_prev, *all_next;
    max_align_t priv[];          /* the transport's part */
};

/* The transport's part of r. */
static inline void *mb_req_priv(mb_req *r)
{
    return r->priv;
}

/* ---- client.c: the facade's services to the transports -------------- */

/* Queues a notification for client_dispatch (once per request; flags add up). */
void client_pend(mb_client *c, mb_req *r, int flags);
/* Delivers queued notifications (call at the top of a callback stack,
 * never from inside a transfer's processing). */
void client_dispatch(mb_client *c);
/* A libuv handle of the client's was opened (+1) or has closed (-1); the
 * client's memory goes once it is being freed and none is left. */
void client_handles(mb_client *c, int delta);
uv_loop_t *client_loop(mb_client *c);
/* The client is being freed (transports stop creating handles). */
int client_freeing(const mb_client *c);
/* Receive stamps: whether the HTTP/1.1 transport asks the kernel for them
 * (the platform has them, MLXBENCH_STAMPS is not "user"), the client's
 * realtime -> monotonic calibration, and one read-lag sample (ns). */
int client_kstamps(const mb_client *c);
mb_clock_sync *client_sync(mb_client *c);
void client_lag(mb_client *c, uint64_t ns);
/* Each transport's state, made by the transport on first use. */
struct h1_pool **client_h1(mb_client *c);
struct curl_state **client_curl(mb_client *c);

/* ---- client_req.c: what both transports share ------------------------ */

/* Validates the options and copies what every transport needs. 0 or MB_EINVAL. */
int req_init(mb_req *r, const mb_req_opts *o);
/* 1 for http://, 2 for https:// (any case), 0 for anything else. */
int req_url_scheme(const char *u);
/* The stamps of the read a transport is about to hand over: `user`, the
 * monotonic stamp it took, and `kernel`, the kernel's receive stamp on the
 * same clock (0: none). Returns the stamp the bytes carry: the kernel's when
 * there is one. */
uint64_t req_stamp(mb_req *r, uint64_t user, uint64_t kernel);
/* One line of the response head, a chunk of the body (stamped t); each
 * returns len to go on, 0 to stop (error latched). */
size_t req_head(mb_req *r, const char *buf, size_t len);
size_t req_data(mb_req *r, const char *buf, size_t len, uint64_t t);
/* Latches the first error of a transfer (kind and a printf-formatted
 * message); later ones are ignored. */
void req_latch(mb_req *r, mb_err_kind k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void req_vlatch(mb_req *r, mb_err_kind k, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Decides the outcome once the transport filled in status, version and
 * timings. */
void req_verdict(mb_req *r);
/* Releases the common buffers and the parser (the transport's part is
 * tp->release's). */
void req_release(mb_req *r);

/* ---- h1/: what the facade asks of the HTTP/1.1 transport ------------- */

/* 1 when the request can take the HTTP/1.1 transport (http://, HTTP/1.1,
 * no proxy, no decoding, a URL it parses exactly as libcurl would); *u is
 * then the parsed URL. */
int h1_eligible(const mb_req_opts *o, h1_url *u);

#endif

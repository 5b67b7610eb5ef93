/* client: the asynchronous HTTP client on one libuv loop, every response
 * byte stamped with the monotonic clock where it arrives. Two transports
 * serve it (docs/ARCHITECTURE.md, "Two transports under one client"): its
 * own HTTP/1.1 for plain http://, and libcurl (loaded on first use) for
 * https://, HTTP/2 and proxies; the API, results, limits and error kinds are
 * the same on both.
 *
 *   mb_client *c; mb_client_new(&c, loop);
 *   mb_req_opts o = {.url = "http://127.0.0.1:8080/", .on_done = done, .ud = me};
 *   mb_req *r; mb_req_start(c, &o, &r);      ... the loop runs ...
 *   done(r, me): read mb_req_resp(r), mb_req_header(), mb_req_event(); mb_req_free(r)
 *
 * Notifications (on_done, on_events) are delivered only once the transport
 * has finished processing what arrived (never from inside a read, nor a
 * libcurl callback), so the owner may start, cancel or free requests from
 * them. The per-chunk hooks (on_sse, on_data) are the exception: they run
 * where the bytes are processed and must only compute (no request calls). */
#ifndef MLXBENCH_CLIENT_H
#define MLXBENCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "mlxbench/clock.h"
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mlxbench/hist.h"
#include "mlxbench/sse.h"

/* Response heads over either limit fail with kind `protocol`, on both
 * transports (libcurl's own limit is 100 KiB per header line). */
#define MB_CLIENT_MAX_HEADER_BYTES ((size_t)256 << 10)
#define MB_CLIENT_MAX_HEADERS 1000

typedef struct mb_client mb_client;
typedef struct mb_req mb_req;

/* Called once a request has ended (success or error). The request stays
 * readable until the owner calls mb_req_free. */
typedef void (*mb_req_done_fn)(mb_req *r, void *ud);
/* Called when new SSE events were stored since the last notification
 * (stream=1 without on_sse). Not called once on_done is due. */
typedef void (*mb_req_events_fn)(mb_req *r, void *ud);
/* Per SSE event, inside the write callback, with the arrival stamp of the
 * chunk that completed the event. Non-zero stops the transfer (kind
 * `aborted`, or what the hook's owner decides). Events are then not stored. */
typedef int (*mb_req_sse_fn)(void *ud, const mb_sse_event *ev, uint64_t t_ns);
/* At the end of a successful 2xx stream that used on_sse: `truncated` is
 * mb_sse_finish's verdict, `partial` the event left open (NULL if none). */
typedef void (*mb_req_sse_end_fn)(void *ud, int truncated, const mb_sse_event *partial,
                                  uint64_t t_ns);
/* Per raw body chunk, inside the write callback. Non-zero stops the
 * transfer. When set, the body is not stored (nor parsed as SSE). */
typedef int (*mb_req_data_fn)(void *ud, const char *p, size_t n, uint64_t t_ns);

typedef struct mb_req_opts {
    const char *method;            /* NULL: GET, or POST when body != NULL */
    const char *url;               /* http:// or https:// */
    const char *const *headers;    /* "Name: value" lines (copied) */
    size_t nheaders;
    const char *body;              /* not copied: must outlive the request */
    size_t body_len;
    long timeout_ms;               /* whole request; 0 = no limit */
    long connect_timeout_ms;       /* 0 = none of ours (libcurl's 300 s on libcurl) */
    int stream;                    /* parse a 2xx body as SSE */
    int http2;                     /* h2 over TLS via ALPN; h2c prior knowledge on http:// */
    int insecure;                  /* skip TLS peer and host verification */
    const char *cacert;            /* CA bundle file (PEM), NULL: system store */
    const char *accept_encoding;   /* NULL: none sent (bytes as the server sends them);
                                      "" = every encoding libcurl decodes (libcurl only) */
    const char *proxy;             /* NULL: the environment's, as libcurl reads it; "" none
                                      (a proxy that applies means libcurl) */
    size_t max_body;               /* 0: MB_DEFAULT_MAX_BODY */
    size_t max_line;               /* SSE line limit; 0: MB_DEFAULT_MAX_LINE */
    size_t max_error_body;         /* bytes of a non-2xx body kept (the rest is
                                      counted, not stored); 0: up to max_body */
    int reject_encoded;            /* a 2xx body with a Content-Encoding nobody asked
                                      for (accept_encoding unset) fails, kind `protocol`;
                                      always on for stream=1 (SSE of gzip is garbage) */
    mb_req_sse_fn on_sse;          /* hooks: see above; receive hook_ud */
    mb_req_sse_end_fn on_sse_end;
    mb_req_data_fn on_data;
    void *hook_ud;
    mb_req_done_fn on_done;        /* notifications: see above; receive ud */
    mb_req_events_fn on_events;
    void *ud;
} mb_req_opts;

/* Where the stamps of a response came from. On the HTTP/1.1 transport a
 * read is stamped with the kernel's receive stamp of its last packet
 * (SO_TIMESTAMPNS, SO_TIMESTAMP), converted to the monotonic clock, when
 * the system gives one; otherwise -- libcurl (https, HTTP/2, proxies,
 * MLXBENCH_HTTP=curl), a platform without stamps, MLXBENCH_STAMPS=user --
 * with mb_clock_now_ns() right after the read. A response is `kernel` when
 * every read of it carried a kernel stamp. */
typedef enum { MB_STAMP_USER = 0, MB_STAMP_KERNEL = 1 } mb_stamp_source;
/* "kernel" or "user". */
const char *mb_stamp_source_name(int s);

/* Timings in ns from mb_req_start; -1 when the phase did not happen (tls on
 * plain HTTP, ttfb when nothing arrived). ttfb and done carry the stamp of
 * the read that brought the bytes (see mb_stamp_source); dns and connect are
 * mb_clock_now_ns() on the HTTP/1.1 transport, while on libcurl
 * dns/connect/tls are its phase ends (measured from when it began the
 * transfer, a few us after start). */
typedef struct mb_req_timings {
    int64_t dns, connect, tls, ttfb, done;
} mb_req_timings;

typedef struct mb_resp {
    int done;                      /* the request has ended */
    int status;                    /* HTTP status, 0 if none was received */
    int http_version;              /* 10, 11, 20, 30; 0 unknown */
    int reused;                    /* the connection was reused (no new connect) */
    int truncated;                 /* stream ended in the middle of an event */
    int stamp_source;              /* mb_stamp_source, set when the request ends */
    mb_err_kind err;               /* MB_ERR_NONE on a complete 2xx response */
    const char *err_msg;           /* "" when err == MB_ERR_NONE */
    uint64_t start_ns;             /* mb_clock_now_ns() at mb_req_start */
    mb_req_timings t;
    const char *body;              /* stored body (not for 2xx streams, on_data) */
    size_t body_len;
    uint64_t bytes;                /* response body bytes received */
    size_t nheaders;
    size_t nevents;                /* stored SSE events so far */
} mb_resp;

typedef struct mb_resp_header {
    const char *name;  size_t name_len;    /* lower-cased */
    const char *value; size_t value_len;   /* surrounding spaces trimmed */
} mb_resp_header;

typedef struct mb_resp_event {
    const char *type;  size_t type_len;
    const char *data;  size_t data_len;
    const char *id;    size_t id_len;      /* last event id, may be "" */
    long retry;                            /* -1 unless the event set retry: */
    uint64_t t_ns;                         /* arrival (absolute monotonic ns): the
                                              stamp of the read that completed it */
    uint64_t t_user_ns;                    /* when the client read it; t_ns <= t_user_ns,
                                              equal without a kernel stamp */
    int kernel;                            /* t_ns is the kernel's receive stamp */
} mb_resp_event;

/* Creates a client on `loop`. Returns 0, MB_ENOMEM or MB_EIO. */
int mb_client_new(mb_client **out, uv_loop_t *loop);
/* Cancels every request still in flight (no notification; each stays
 * readable and its owner still calls mb_req_free, which then only releases
 * memory) and frees the multi handle. Handle memory is released from libuv
 * close callbacks, so the loop must run afterwards (mb_engine_free does).
 * Never call from a notification. */
void mb_client_free(mb_client *c);
/* Number of requests started and not yet freed. */
size_t mb_client_active(const mb_client *c);
/* Stops every transfer in flight now (Ctrl-C after the grace period): each
 * ends with kind `aborted` and message `why`, and its on_done is delivered
 * as usual (from inside this call). Returns how many were stopped. Safe
 * from a task; never from a per-chunk hook or a libcurl callback. */
int mb_client_abort_all(mb_client *c, const char *why);

/* Stops one request in flight now, as the client of a user who stops a
 * generation does: its connection is closed and it ends with kind
 * `aborted` (message `why`); its on_done is delivered from inside this
 * call. Returns 1, or 0 when it had already ended. Safe from a task or a
 * timer; never from a per-chunk hook (return non-zero there instead). */
int mb_req_abort(mb_req *r, const char *why);

/* libcurl, loaded now if it was not (it is loaded on first use): its
 * version ("7.88.1"), its TLS library ("OpenSSL/3.0.15", "" without) and
 * where it was loaded from. 0, or MB_EIO with *err saying why (no libcurl
 * found: the names tried). */
typedef struct mb_curl_info {
    const char *version, *ssl, *loaded_from;
} mb_curl_info;
int mb_client_curl_info(mb_curl_info *out, const char **err);
/* Receive stamps. 1 when this client's HTTP/1.1 connections ask the
 * kernel for receive stamps: the platform has them (mb_plat_rx_stamp_kind)
 * and MLXBENCH_STAMPS is not "user" (read once, at mb_client_new). */
int mb_client_kernel_stamps(const mb_client *c);
/* The read lag of every event received with a kernel stamp since the last
 * call -- how long its bytes waited in the socket before the client read
 * them, user-space stamp minus kernel stamp, in seconds (one sample per
 * SSE event, one per response read whole) -- added into `dst` and cleared
 * here. 0 or MB_ENOMEM. */
int mb_client_read_lag_take(mb_client *c, mb_hist *dst);
/* The client's realtime -> monotonic calibration (its drift and steps so
 * far: see mlxbench/clock.h); _reset starts those figures again (the
 * offset stays). */
const mb_clock_sync *mb_client_clock(const mb_client *c);
void mb_client_clock_reset(mb_client *c);

/* Starts a request. Returns 0, MB_EINVAL (bad URL, method or header line),
 * MB_ENOMEM or MB_EIO. No notification is ever delivered from inside this
 * call: network failures arrive later through on_done. */
int mb_req_start(mb_client *c, const mb_req_opts *o, mb_req **out);
/* Cancels a request in flight (no notification afterwards) or releases a
 * finished one: everything it holds is freed. Safe from notifications. */
void mb_req_free(mb_req *r);

const mb_resp *mb_req_resp(const mb_req *r);
/* The i-th response header (0-based, in arrival order). 0 or MB_ERANGE. */
int mb_req_header(const mb_req *r, size_t i, mb_resp_header *out);
/* The i-th stored SSE event. 0 or MB_ERANGE. */
int mb_req_event(const mb_req *r, size_t i, mb_resp_event *out);
/* Forgets the stored events (their memory is reused; numbering starts at 0
 * again): for an owner that has read them (on_events), so a long stream's
 * events do not pile up to max_body. */
void mb_req_drop_events(mb_req *r);

#endif

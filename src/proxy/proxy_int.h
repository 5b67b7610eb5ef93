/* proxy_int.h: what proxy.c (the API, the listener) and proxy_conn.c (the
 * connections) share. Not a public header. */
#ifndef MB_PROXY_INT_H
#define MB_PROXY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "mlxbench/listen.h"
#include "mlxbench/proxy.h"
#include "mlxbench/rng.h"

#define READ_BUF (64 * 1024)
#define CONN_HANDLES 5

typedef struct pconn pconn;
typedef struct pdir pdir;

/* Bytes read from one side, waiting to be written to the other. The same
 * struct is the write request once handed to libuv. */
typedef struct pchunk {
    uv_write_t req;                     /* first member: req -> chunk */
    struct pchunk *next;
    pdir *dir;
    uint64_t due_ns;                    /* not written before this time */
    size_t len, off;                    /* bytes; bytes already handed on */
    char data[];
} pchunk;

/* One direction of a connection. */
struct pdir {
    pconn *c;
    uv_tcp_t *src, *dst;
    pchunk *head, *tail;
    size_t queued;                      /* read, not yet handed to libuv */
    size_t inflight;                    /* handed to uv_write, not yet written */
    uint64_t bytes;                     /* written on this connection */
    uint64_t *counter;                  /* the proxy's bytes_up / bytes_down */
    uv_timer_t timer;                   /* next due chunk or next tokens */
    uv_shutdown_t shut;
    double tokens;                      /* token bucket, bytes */
    uint64_t rate, refill_ns;           /* rate the bucket fills at, last fill */
    unsigned reading : 1, paused : 1, eof : 1, shutting : 1, shut_done : 1,
             throttled : 1;               /* waiting for tokens */
};

struct pconn {
    mb_proxy *p;
    pconn *prev, *next;                 /* the proxy's connections */
    uv_tcp_t client, upstream;
    uv_connect_t connect;
    uv_timer_t close_timer;
    pdir up, down;
    int64_t reset_left;                 /* downstream bytes before the RST; < 0 off */
    uint64_t reset_from;                /* down.bytes (+ in flight) when it was armed */
    int handles;                        /* open libuv handles */
    unsigned connected : 1, blackhole : 1, closing : 1, reset_pending : 1;
};

struct mb_proxy {
    uv_loop_t *loop;
    mb_listener l;                      /* closed while refusing by CLOSE */
    mb_life life;                       /* parts: listener handles */
    struct sockaddr_storage up_addr;
    size_t high_water, low_water;
    mb_proxy_faults faults;
    mb_proxy_stats stats;
    mb_rng rng;
    pconn *conns;
    char rbuf[READ_BUF];                /* every read lands here, then is copied */
};

/* proxy.c: frees the proxy once it is stopped and everything is closed. */
void mb_proxy_maybe_free(mb_proxy *p);

/* proxy_conn.c */
void mb_proxy_on_accept(void *proxy, uv_stream_t *server);   /* the listener's callback */
void mb_proxy_conn_close(pconn *c, int rst_client, int rst_upstream);
/* Applies a fault change to an open connection (old = the previous set). */
void mb_proxy_conn_refault(pconn *c, const mb_proxy_faults *old);

#endif

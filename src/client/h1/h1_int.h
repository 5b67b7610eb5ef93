/* h1_int.h: what the HTTP/1.1 transport's files share. Private to
 * src/client/h1.
 *
 *   h1.c       connections, hosts and their pool, sending, connecting, the
 *              transport's entry points (mb_transport_h1)
 *   h1_sock.c  the sockets: opened, connected and written by the transport,
 *              one uv_poll each
 *   h1_read.c  receiving: one recvmsg per readable socket, stamped (the
 *              kernel's receive stamp where there is one), parsed
 *              (h1parse.h) and handed to the shared head and body code
 *   h1_msg.c   eligibility, the URL, the request head */
#ifndef MB_H1_INT_H
#define MB_H1_INT_H

#include <sys/uio.h>
#include "mlxbench/h1parse.h"
#include "client_int.h"

#define H1_RBUF (64 << 10)
#define H1_MAXAGE_NS (118ull * 1000000000ull)   /* libcurl's CURLOPT_MAXAGE_CONN */
#define H1_DNS_TTL_NS (60ull * 1000000000ull)   /* libcurl's DNS cache timeout */
#define H1_MAX_ADDRS 8
#define MS 1000000ull

typedef struct h1_host h1_host;
typedef struct h1_conn h1_conn;
typedef struct h1_pool h1_pool;

enum { C_RESOLVE, C_CONNECT, C_BUSY, C_IDLE, C_CLOSED };

struct h1_host {
    h1_host *next;
    h1_pool *pool;               /* NULL: orphaned, freed when its lookup ends */
    mb_client *c;
    char name[256];
    int port;
    struct sockaddr_storage addr[H1_MAX_ADDRS];
    int naddr, good;             /* good: the address that connected last */
    int literal;                 /* an IP address: never looked up */
    uint64_t resolved_ns;        /* 0: not yet */
    uv_getaddrinfo_t gai;
    int resolving;
    h1_conn *waiting;            /* connections waiting for the lookup */
    h1_conn *idle;               /* most recently used first */
};

struct h1_conn {
    uv_poll_t poll;              /* watches fd once it is open (h1_sock.c) */
    uv_timer_t timer;            /* connect and request deadlines */
    int fd;                      /* the socket, -1 before connecting */
    int events;                  /* UV_* the poll watches now, 0: stopped */
    int kstamp;                  /* the kernel stamps this socket's packets */
    struct iovec wv[2];          /* what is left to write of the request */
    int wn;
    mb_h1p p;
    h1_pool *pool;
    mb_client *c;
    h1_host *h;
    mb_req *r;                   /* the request on it, NULL when idle */
    h1_conn *prev, *next;        /* in h->waiting or h->idle */
    int state, listed;
    int nopen;                   /* handles whose close callback is due */
    int tries;                   /* addresses tried for this connect */
    int writing;                 /* request bytes wait for room in the socket */
    int status_sent, head_done, msg_done, line_value, junk;
    int interim;                 /* a 1xx has ended, the final response not begun */
    uint64_t got;                /* response bytes of the current request */
    uint64_t t_read;             /* stamp of the read being parsed */
    const char *rend;            /* end of the read being parsed */
    int val_cut;                 /* the last value piece ended with the read */
    uint64_t t_conn0, deadline, idle_since;
    mb_buf line;                   /* the header line being assembled */
};

struct h1_pool {
    mb_client *c;
    uv_loop_t *loop;
    h1_host *hosts;
    uv_timer_t kick;             /* delivers failures found while starting */
    char rbuf[H1_RBUF];          /* every read lands here, parsed at once */
};

/* h1.c: what receiving and the sockets need of the connections. */
void h1_conn_close(h1_conn *cn);                  /* idempotent */
mb_req *h1_detach(h1_conn *cn);                   /* the request leaves its connection */
void h1_fill(mb_req *r, h1_conn *cn, uint64_t t); /* status, version, done from the parser */
/* Ends the request on cn with an error (unless one is latched), closes cn
 * and queues on_done. */
void h1_fail(h1_conn *cn, mb_err_kind k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A reused connection died before any response byte: 1 if the request was
 * sent again on a fresh one. */
int h1_stale(h1_conn *cn);
void h1_enlist(h1_conn **head, h1_conn *cn);
/* A connect ended: status 0 (connected) or a libuv error code. */
void h1_connected(h1_conn *cn, int status);
/* Writing the request failed after it had to wait (libuv error code). */
void h1_write_failed(h1_conn *cn, int status);

/* h1_sock.c */
int h1_sock_connect(h1_conn *cn, const struct sockaddr *sa);
int h1_sock_write(h1_conn *cn);
void h1_sock_ref(h1_conn *cn, int ref);
void h1_sock_close(h1_conn *cn, uv_close_cb closed);

/* h1_read.c */
extern const mb_h1p_cb h1_parser_cb;
void h1_parser_settings_init(void);
/* The socket is readable: one read, stamped, parsed, delivered. */
void h1_read_ready(h1_conn *cn);

/* The transport's part of a request. */
typedef struct h1_req {
    struct h1_conn *conn;        /* its connection while in flight */
    struct h1_host *host;
    int retried;                 /* resent once after a stale keep-alive connection */
    mb_buf whead;                /* the request head as sent */
    const char *wbody;           /* the body (the owner's, not copied) */
    size_t wbody_len;
    int head_req;                /* HEAD: the response has no body */
} h1_req;

static inline h1_req *H(mb_req *r)
{
    return mb_req_priv(r);
}

/* 0, or MB_EINVAL for a URL the transport leaves to libcurl. */
int h1_url_parse(const char *url, h1_url *u);
/* Fills the request head and body of r. 0 or MB_ENOMEM. */
int h1_head_build(mb_req *r, const mb_req_opts *o, const h1_url *u);

#endif

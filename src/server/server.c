/* server.c: the HTTP/1.1 server base (see include/mlxbench/server.h).
 *
 * Life of a connection: accepted -> reading; http_parser fills `buf` with the
 * URL, header bytes and body (offsets only, since buf may move); at message
 * complete the parser is paused and the request is handed to the owner
 * ("busy"). Bytes that arrive while busy wait in `pend`. When the response
 * ends, keep-alive connections go back to parsing `pend` from an idle
 * callback (never from inside the owner's call), others shut down their
 * write side and linger briefly so the client reads the whole response
 * before the socket closes. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <http_parser.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/server.h"

#define READ_BUF (64 * 1024)
#define LINGER_MS 2000
#define SWEEP_MS 250          /* timeouts are checked this often */
#define FD_SPARE 32           /* descriptors kept free for the owner, DNS, logs */

typedef struct hoff { uint32_t no, nl, vo, vl; } hoff;

enum { EL_NONE, EL_URL, EL_FIELD, EL_VALUE, EL_BODY };

struct mb_server_conn {
    uv_tcp_t tcp;
    mb_server *srv;
    mb_server_conn *prev, *next;      /* server's list of connections */
    mb_server_conn *next_ready;       /* queued for parsing pending bytes */
    http_parser parser;
    uint64_t id;
    void *data;
    /* the request being parsed: bytes in buf, positions as offsets */
    char *buf;  size_t len, cap;
    size_t url_off, url_len, body_off, body_len, head_bytes;
    hoff *hdrs; int nhdr, hdr_cap;
    int el;                           /* element being appended (EL_*) */
    uint64_t start_ns, done_ns;
    int msg_done;
    /* bytes received but not parsed yet (pipelining, or while busy) */
    char *pend; size_t pend_off, pend_len, pend_cap;
    size_t queued;                    /* bytes in libuv's write queue */
    int handles;                      /* open libuv handles of this conn */
    uv_timer_t *linger;
    uv_shutdown_t shut;
    int err_status;                   /* 413 set by a parser callback */
    uint64_t wait_ns;                 /* since when no request is under way */
    uint64_t req_ns;                  /* first byte of the request being read, 0: none */
    unsigned busy : 1, responded : 1, chunked : 1, keep_alive : 1, close_after : 1,
             closing : 1, notified : 1, reading : 1, congested : 1, bad : 1,
             shutting : 1, draining : 1, in_ready : 1, owner_answered : 1;
    char peer[64];
};

struct mb_server {
    uv_loop_t *loop;
    mb_server_config cfg;
    uv_tcp_t *listener;               /* NULL while paused */
    uv_idle_t idle;                   /* drives pipelined parsing */
    uv_timer_t sweep;                 /* request and idle timeouts */
    size_t max_conns;                 /* the descriptor limit, less FD_SPARE */
    struct sockaddr_storage addr;     /* the bound address (real port) */
    char host[64];
    int port;
    int handles;                      /* listener(s) + idle not yet closed */
    int stopping;
    mb_server_conn *conns, *ready;
    size_t nconns;
    uint64_t next_id;
    void (*done)(void *ud);
    void *done_ud;
    char rbuf[READ_BUF];
    char wbuf[8192];                  /* gathers one small write */
};

static int parse_error_status(mb_server_conn *c);
static void conn_close(mb_server_conn *c, int reset);
static void conn_response_done(mb_server_conn *c);
static void ready_push(mb_server_conn *c);
static void start_reading(mb_server_conn *c);

/* ---------------------------------------------------------------- helpers */

const char *mb_server_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Site Overloaded";
    default:  return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* Grows *p (capacity *cap) so it holds `need` bytes; doubling keeps appends
 * amortised O(1). Returns 0 or MB_ENOMEM. */
static int grow(char **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *q = realloc(*p, n);
    if (!q)
        return MB_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int buf_add(mb_server_conn *c, const char *d, size_t n)
{
    if (grow(&c->buf, &c->cap, c->len + n + 1) < 0)
        return MB_ENOMEM;
    memcpy(c->buf + c->len, d, n);
    c->len += n;
    return 0;
}

/* Terminates the element being appended with a NUL so the owner gets C
 * strings; called when the parser moves to another element. */
static int el_switch(mb_server_conn *c, int el)
{
    if (c->el == el)
        return 0;
    if (c->el != EL_NONE && c->el != EL_BODY && buf_add(c, "", 1) < 0)
        return MB_ENOMEM;
    c->el = el;
    return 0;
}

static int head_add(mb_server_conn *c, const char *d, size_t n)
{
    c->head_bytes += n;
    if (c->head_bytes > c->srv->cfg.max_head) {
        c->err_status = 413;
        return -1;
    }
    return buf_add(c, d, n) < 0 ? -1 : 0;
}

/* ---------------------------------------------------- parser callbacks */

static int on_message_begin(http_parser *p)
{
    mb_server_conn *c = p->data;
    c->len = 0;
    c->url_off = c->url_len = c->body_off = c->body_len = c->head_bytes = 0;
    c->nhdr = 0;
    c->el = EL_NONE;
    c->msg_done = 0;
    c->start_ns = mb_clock_now_ns();
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (el_switch(c, EL_URL) < 0)
        return -1;
    if (c->url_len == 0)
        c->url_off = c->len;
    if (head_add(c, at, n) < 0)
        return -1;
    c->url_len += n;   /* only bytes stored count: a refused head is read later */
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->el != EL_FIELD) {
        if (el_switch(c, EL_FIELD) < 0)
            return -1;
        if (c->nhdr == c->hdr_cap) {
            int ncap = c->hdr_cap ? c->hdr_cap * 2 : 16;
            if (ncap > 256) {           /* too many headers: an over-size head */
                c->err_status = 413;
                return -1;
            }
            hoff *h = realloc(c->hdrs, (size_t)ncap * sizeof *h);
            if (!h)
                return -1;
            c->hdrs = h;
            c->hdr_cap = ncap;
        }
        c->hdrs[c->nhdr].no = (uint32_t)c->len;
        c->hdrs[c->nhdr].nl = 0;
        c->hdrs[c->nhdr].vo = 0;
        c->hdrs[c->nhdr].vl = 0;
        c->nhdr++;
    }
    if (head_add(c, at, n) < 0)
        return -1;
    c->hdrs[c->nhdr - 1].nl += (uint32_t)n;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->nhdr == 0)
        return -1;
    if (c->el != EL_VALUE) {
        if (el_switch(c, EL_VALUE) < 0)
            return -1;
        c->hdrs[c->nhdr - 1].vo = (uint32_t)c->len;
    }
    if (head_add(c, at, n) < 0)
        return -1;
    c->hdrs[c->nhdr - 1].vl += (uint32_t)n;
    return 0;
}

/* Rejects a declared body over max_body before reading it, and answers
 * "Expect: 100-continue" so clients such as curl do not stall for a second. */
static int on_headers_complete(http_parser *p)
{
    mb_server_conn *c = p->data;
    if (el_switch(c, EL_BODY) < 0)
        return -1;
    /* header values may be empty: give them a position at the NUL */
    for (int i = 0; i < c->nhdr; i++)
        if (c->hdrs[i].vl == 0)
            c->hdrs[i].vo = c->hdrs[i].no + c->hdrs[i].nl;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->srv->cfg.max_body) {
        c->err_status = 413;
        return -1;
    }
    c->body_off = c->len;
    for (int i = 0; i < c->nhdr; i++) {
        const hoff *h = &c->hdrs[i];
        if (h->nl == 6 && strncasecmp(c->buf + h->no, "expect", 6) == 0 &&
            h->vl == 12 && strncasecmp(c->buf + h->vo, "100-continue", 12) == 0 &&
            p->http_major == 1 && p->http_minor >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
            if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)b.len)
                return -1;   /* a 25-byte write into an idle socket cannot be short */
        }
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->body_len + n > c->srv->cfg.max_body) {
        c->err_status = 413;
        return -1;
    }
    c->body_len += n;
    return buf_add(c, at, n) < 0 ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    mb_server_conn *c = p->data;
    if (buf_add(c, "", 1) < 0)   /* NUL after the body */
        return -1;
    c->buf[--c->len] = 0;
    c->msg_done = 1;
    c->done_ns = mb_clock_now_ns();
    http_parser_pause(p, 1);       /* one request at a time */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------------- dispatching */

/* Fills `r` and `hv` (capacity c->nhdr) from the offsets of the message
 * parsed so far. The URL's '?' becomes a NUL so path and query are strings. */
static void build_req(mb_server_conn *c, mb_server_req *r, mb_server_header *hv)
{
    static char empty[1];
    memset(r, 0, sizeof *r);
    r->method = http_method_str((enum http_method)c->parser.method);
    if (c->url_len > 0 && c->buf) {
        char *u = c->buf + c->url_off;
        char *q = memchr(u, '?', c->url_len);
        r->path = u;
        r->path_len = q ? (size_t)(q - u) : c->url_len;
        if (q) {
            *q = 0;
            r->query = q + 1;
            r->query_len = c->url_len - r->path_len - 1;
        } else {
            r->query = empty;
        }
    } else {
        r->path = r->query = empty;
    }
    for (int i = 0; i < c->nhdr; i++) {
        hv[i].name = c->buf + c->hdrs[i].no;
        hv[i].name_len = c->hdrs[i].nl;
        hv[i].value = c->buf + c->hdrs[i].vo;
        hv[i].value_len = c->hdrs[i].vl;
    }
    r->headers = hv;
    r->nheaders = c->nhdr;
    if (c->msg_done && c->buf) {
        r->body = c->buf + c->body_off;
        r->body_len = c->body_len;
    } else {
        r->body = empty;
    }
    r->http_major = c->parser.http_major;
    r->http_minor = c->parser.http_minor;
    r->keep_alive = c->msg_done ? http_should_keep_alive(&c->parser) : 0;
    r->start_ns = c->start_ns;
    r->done_ns = c->done_ns;
}

/* Hands a complete request to the owner. */
static void dispatch(mb_server_conn *c)
{
    c->req_ns = 0;   /* answering now: no timeout while the response runs */
    mb_server *s = c->srv;
    mb_server_header stackh[32], *hv = stackh;
    mb_server_req r;
    if (c->nhdr > 32 && !(hv = malloc((size_t)c->nhdr * sizeof *hv))) {
        conn_close(c, 1);
        return;
    }
    build_req(c, &r, hv);
    c->busy = 1;
    c->responded = 0;
    c->owner_answered = 0;
    c->keep_alive = r.keep_alive;
    c->msg_done = 0;
    s->cfg.h.on_request(s->cfg.h.ud, c, &r);
    if (hv != stackh)
        free(hv);
}

/* A request the parser refused: let the owner shape the error, else send a
 * plain JSON one; either way the connection closes afterwards. */
static void reject(mb_server_conn *c, int status, const char *msg)
{
    mb_server *s = c->srv;
    mb_server_header stackh[32], *hv = stackh;
    mb_server_req r;
    c->bad = 1;
    c->busy = 1;
    c->req_ns = 0;
    c->responded = 0;
    c->owner_answered = 0;
    c->keep_alive = 0;
    c->close_after = 1;
    /* The parser may have stopped inside the URL or a header: terminate
     * that element so the partial request holds C strings (the owner reads
     * the path with str* functions), and point empty values at a NUL. */
    if (c->el != EL_NONE && c->el != EL_BODY && buf_add(c, "", 1) < 0) {
        c->url_len = 0;
        c->nhdr = 0;
    }
    c->el = EL_NONE;
    for (int i = 0; i < c->nhdr; i++)
        if (c->hdrs[i].vl == 0)
            c->hdrs[i].vo = c->hdrs[i].no + c->hdrs[i].nl;
    int n = c->nhdr < 32 ? c->nhdr : 32;
    int saved = c->nhdr;
    c->nhdr = n;
    build_req(c, &r, hv);
    c->nhdr = saved;
    if (s->cfg.h.on_bad_request)
        s->cfg.h.on_bad_request(s->cfg.h.ud, c, status, msg, &r);
    if (!c->owner_answered && !c->closing) {
        char body[512];
        int len = snprintf(body, sizeof body,
                           "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                           "\"param\":null,\"code\":null}}", msg);
        mb_server_respond(c, status, "application/json", NULL, body,
                          len > 0 && (size_t)len < sizeof body ? (size_t)len : 0);
    }
}

static int parse_error_status(mb_server_conn *c)
{
    return c->err_status ? c->err_status : 400;
}

/* Parses `len` bytes; dispatches a request when one completes. Returns how
 * many bytes were consumed (the rest belongs to a later request), or -1 when
 * the connection was rejected. */
static ssize_t feed(mb_server_conn *c, const char *d, size_t len)
{
    size_t n = http_parser_execute(&c->parser, &parser_settings, d, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        if (c->msg_done)
            dispatch(c);
        return (ssize_t)n;
    }
    if (e != HPE_OK) {
        int st = parse_error_status(c);
        reject(c, st, st == 413 ? "request too large" : http_errno_description(e));
        return -1;
    }
    if (c->parser.upgrade) {
        reject(c, 400, "protocol upgrade is not supported");
        return -1;
    }
    return (ssize_t)n;
}

static int pend_add(mb_server_conn *c, const char *d, size_t n)
{
    if (c->pend_off > 0 && c->pend_off == c->pend_len)
        c->pend_off = c->pend_len = 0;
    if (grow(&c->pend, &c->pend_cap, c->pend_len + n) < 0)
        return MB_ENOMEM;
    memcpy(c->pend + c->pend_len, d, n);
    c->pend_len += n;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    mb_server_conn *c = h->data;
    (void)suggested;
    /* One buffer per server: libuv consumes it before reading another socket. */
    *b = uv_buf_init(c->srv->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void start_reading(mb_server_conn *c)
{
    if (!c->reading && !c->closing &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

/* Parses pending bytes while the connection is not busy with a response. */
static void conn_process(mb_server_conn *c)
{
    mb_server *s = c->srv;
    /* not once the connection is closing gracefully (a response that ended
     * it, say to HTTP/1.0 or "Connection: close"): what follows is dropped */
    while (!c->busy && !c->closing && !c->bad && !c->draining && c->pend_off < c->pend_len) {
        ssize_t n = feed(c, c->pend + c->pend_off, c->pend_len - c->pend_off);
        if (n < 0)
            return;
        c->pend_off += (size_t)n;
        if (n == 0 && !c->busy)
            break;
    }
    if (c->pend_off == c->pend_len)
        c->pend_off = c->pend_len = 0;
    if (!c->bad && !c->draining && c->pend_len < s->cfg.max_head + s->cfg.max_body)
        start_reading(c);
}

/* Reads: EOF or an error closes (a client that leaves mid-stream is gone);
 * bytes go to the parser, or wait in `pend` while a response is running. */
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    mb_server_conn *c = st->data;
    mb_server *s = c->srv;
    if (n < 0) {
        conn_close(c, 0);
        return;
    }
    if (n == 0 || c->bad || c->draining || c->closing)
        return;   /* lingering after an error response: discard */
    if (!c->busy && !c->req_ns)
        c->req_ns = mb_clock_now_ns();   /* a request begins: its deadline runs */
    if (c->busy || c->pend_len > c->pend_off) {
        if (pend_add(c, b->base, (size_t)n) < 0) {
            conn_close(c, 1);
            return;
        }
        if (c->pend_len - c->pend_off > s->cfg.max_head + s->cfg.max_body) {
            uv_read_stop(st);   /* a client racing ahead: wait for the response */
            c->reading = 0;
        }
        if (!c->busy)
            conn_process(c);
        return;
    }
    ssize_t used = feed(c, b->base, (size_t)n);
    if (used >= 0 && (size_t)used < (size_t)n && !c->closing && !c->draining) {
        if (pend_add(c, b->base + used, (size_t)n - (size_t)used) < 0)
            conn_close(c, 1);
        else if (!c->busy)
            conn_process(c);
    }
}

/* The idle callback: parse what pipelined clients sent ahead. */
static void on_idle(uv_idle_t *h)
{
    mb_server *s = h->data;
    while (s->ready) {
        mb_server_conn *c = s->ready;
        s->ready = c->next_ready;
        c->next_ready = NULL;
        c->in_ready = 0;
        conn_process(c);
    }
    uv_idle_stop(h);
}

static void ready_push(mb_server_conn *c)
{
    mb_server *s = c->srv;
    if (c->in_ready || s->stopping)
        return;
    c->in_ready = 1;
    c->next_ready = s->ready;
    s->ready = c;
    uv_idle_start(&s->idle, on_idle);
}

static void ready_remove(mb_server_conn *c)
{
    mb_server_conn **pp = &c->srv->ready;
    if (!c->in_ready)
        return;
    while (*pp && *pp != c)
        pp = &(*pp)->next_ready;
    if (*pp)
        *pp = c->next_ready;
    c->in_ready = 0;
    c->next_ready = NULL;
}

/* ------------------------------------------------------------- closing */

static void maybe_free_server(mb_server *s)
{
    if (!s->stopping || s->handles > 0 || s->conns)
        return;
    void (*done)(void *) = s->done;
    void *ud = s->done_ud;
    free(s);
    if (done)
        done(ud);
}

static void conn_handle_closed(uv_handle_t *h)
{
    mb_server_conn *c = h->data;
    mb_server *s = c->srv;
    if (h != (uv_handle_t *)&c->tcp)
        free(h);   /* the linger timer */
    if (--c->handles > 0)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    free(c->buf);
    free(c->hdrs);
    free(c->pend);
    free(c);
    maybe_free_server(s);
}

/* Closes a connection once: stops reading, tells the owner, closes its
 * handles (RST when `reset`). Pending write callbacks run (cancelled) before
 * the memory goes. */
static void conn_close(mb_server_conn *c, int reset)
{
    mb_server *s = c->srv;
    if (c->closing)
        return;
    c->closing = 1;
    ready_remove(c);
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    if (c->linger) {
        uv_timer_stop(c->linger);
        uv_close((uv_handle_t *)c->linger, conn_handle_closed);
        c->linger = NULL;
    }
    if (reset && !c->shutting &&
        uv_tcp_close_reset(&c->tcp, conn_handle_closed) == 0) {
        /* closed with RST */
    } else {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    }
    if (!c->notified) {
        c->notified = 1;
        if (s->cfg.h.on_close)
            s->cfg.h.on_close(s->cfg.h.ud, c);
    }
}

static void on_linger(uv_timer_t *t)
{
    conn_close(t->data, 0);
}

/* After the write side is shut down, wait (briefly) for the client's FIN so
 * the kernel does not reset a response the client has not read yet. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    mb_server_conn *c = req->data;
    c->shutting = 0;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c, 0);
        return;
    }
    c->linger = malloc(sizeof *c->linger);
    if (!c->linger) {
        conn_close(c, 0);
        return;
    }
    uv_timer_init(c->srv->loop, c->linger);
    c->linger->data = c;
    c->handles++;
    uv_timer_start(c->linger, on_linger, LINGER_MS, 0);
    start_reading(c);
}

/* Graceful close: FIN after the queued writes, then linger. */
static void conn_graceful(mb_server_conn *c)
{
    if (c->closing || c->shutting || c->draining)
        return;
    c->draining = 1;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
        c->shutting = 1;
    else
        conn_close(c, 0);
}

/* ------------------------------------------------------------- writing */

typedef struct wreq {
    uv_write_t req;
    mb_server_conn *c;
    size_t len;
    char data[];
} wreq;

static void on_write(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    mb_server_conn *c = w->c;
    mb_server *s = c->srv;
    c->queued -= w->len;
    free(w);
    if (status < 0) {
        if (status != UV_ECANCELED)
            conn_close(c, 0);
        return;
    }
    if (c->congested && c->queued <= s->cfg.low_water) {
        c->congested = 0;
        if (s->cfg.h.on_drain && !c->closing)
            s->cfg.h.on_drain(s->cfg.h.ud, c);
    }
}

/* Writes bufs: straight to the socket when its queue is empty, the rest
 * copied into one queued write (so callers may pass stack buffers). */
static int conn_send(mb_server_conn *c, uv_buf_t *bufs, unsigned n)
{
    size_t total = 0, done = 0;
    if (c->closing || c->draining)
        return MB_ESTATE;
    for (unsigned i = 0; i < n; i++)
        total += bufs[i].len;
    if (total == 0)
        return 0;
    if (c->queued == 0 && total <= sizeof c->srv->wbuf) {
        /* The hot path (one token event): one contiguous send(2), cheaper
         * in the kernel than writev; libuv's queue is empty, so order holds. */
        uv_os_fd_t fd;
        size_t off = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(c->srv->wbuf + off, bufs[i].base, bufs[i].len);
            off += bufs[i].len;
        }
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
            ssize_t r;
            do
                r = send(fd, c->srv->wbuf, total, MSG_DONTWAIT | MSG_NOSIGNAL);
            while (r < 0 && errno == EINTR);
            if (r >= 0) {
                done = (size_t)r;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                conn_close(c, 0);
                return MB_EIO;
            }
        }
    } else if (c->queued == 0) {
        int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (r >= 0) {
            done = (size_t)r;
        } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
            conn_close(c, 0);
            return MB_EIO;
        }
    }
    if (done == total)
        return 0;
    wreq *w = malloc(sizeof *w + (total - done));
    if (!w) {
        conn_close(c, 1);
        return MB_ENOMEM;
    }
    w->c = c;
    w->len = total - done;
    size_t skip = done, off = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t l = bufs[i].len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        memcpy(w->data + off, bufs[i].base + skip, l - skip);
        off += l - skip;
        skip = 0;
    }
    uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
        free(w);
        conn_close(c, 0);
        return MB_EIO;
    }
    c->queued += w->len;
    if (c->queued > c->srv->cfg.high_water)
        c->congested = 1;
    return 0;
}

/* Formats the status line and headers into `out` (malloc'd when the stack
 * buffer is too small). Returns the length or a negative code. */
static int format_head(mb_server_conn *c, char *stackbuf, size_t stackcap, char **out,
                       int status, const char *ctype, const char *extra, const char *framing)
{
    int closing = c->close_after || !c->keep_alive || c->srv->stopping;
    const char *fmt = "HTTP/1.1 %d %s\r\n%s%s%s%s%s\r\n%s\r\n";
    char *buf = stackbuf;
    size_t cap = stackcap;
    for (int pass = 0; pass < 2; pass++) {
        int n = snprintf(buf, cap, fmt, status, mb_server_reason(status),
                         ctype ? "Content-Type: " : "", ctype ? ctype : "", ctype ? "\r\n" : "",
                         framing, closing ? "Connection: close" : "Connection: keep-alive",
                         extra ? extra : "");
        if (n < 0)
            return MB_EINVAL;
        if ((size_t)n < cap) {
            *out = buf;
            return n;
        }
        cap = (size_t)n + 1;
        buf = malloc(cap);
        if (!buf)
            return MB_ENOMEM;
    }
    free(buf);
    return MB_EINVAL;
}

int mb_server_respond(mb_server_conn *c, int status, const char *content_type,
                      const char *extra, const char *body, size_t len)
{
    char stackbuf[1024], framing[64], *head = NULL;
    int rc;
    if (c->closing || c->draining || c->responded || !c->busy)
        return MB_ESTATE;
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    rc = format_head(c, stackbuf, sizeof stackbuf, &head, status, content_type, extra, framing);
    if (rc < 0)
        goto out;
    uv_buf_t b[2] = {uv_buf_init(head, (unsigned)rc), uv_buf_init((char *)body, (unsigned)len)};
    c->responded = 1;
    c->owner_answered = 1;
    rc = conn_send(c, b, 2);
    if (rc == 0)
        conn_response_done(c);
out:
    if (head && head != stackbuf)
        free(head);
    return rc;
}

int mb_server_begin(mb_server_conn *c, int status, const char *content_type, const char *extra)
{
    char stackbuf[1024], *head = NULL;
    int rc;
    if (c->closing || c->draining || c->responded || !c->busy)
        return MB_ESTATE;
    c->chunked = c->parser.http_major == 1 && c->parser.http_minor >= 1;
    if (!c->chunked)
        c->close_after = 1;   /* HTTP/1.0: the body ends when the connection does */
    rc = format_head(c, stackbuf, sizeof stackbuf, &head, status, content_type, extra,
                     c->chunked ? "Transfer-Encoding: chunked\r\n" : "");
    if (rc < 0)
        goto out;
    uv_buf_t b = uv_buf_init(head, (unsigned)rc);
    c->responded = 1;
    c->owner_answered = 1;
    rc = conn_send(c, &b, 1);
out:
    if (head && head != stackbuf)
        free(head);
    return rc;
}

int mb_server_write(mb_server_conn *c, const char *data, size_t len)
{
    if (c->closing || !c->responded || !c->busy)
        return MB_ESTATE;
    if (len == 0)
        return 0;   /* an empty chunk would end the body */
    if (!c->chunked) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        return conn_send(c, &b, 1);
    }
    char pre[24];
    int n = snprintf(pre, sizeof pre, "%zx\r\n", len);
    uv_buf_t b[3] = {uv_buf_init(pre, (unsigned)n), uv_buf_init((char *)data, (unsigned)len),
                     uv_buf_init((char *)"\r\n", 2)};
    return conn_send(c, b, 3);
}

int mb_server_write_raw(mb_server_conn *c, const char *data, size_t len)
{
    if (c->closing || !c->responded)
        return MB_ESTATE;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return conn_send(c, &b, 1);
}

int mb_server_end(mb_server_conn *c)
{
    int rc = 0;
    if (c->closing || !c->responded || !c->busy)
        return MB_ESTATE;
    if (c->chunked) {
        uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
        rc = conn_send(c, &b, 1);
    }
    if (rc == 0)
        conn_response_done(c);
    return rc;
}

/* The response is complete: keep-alive resumes parsing (from the idle
 * callback, so the owner's call stack never sees the next request), other
 * connections close gracefully. */
static void conn_response_done(mb_server_conn *c)
{
    c->busy = 0;
    c->responded = 0;
    c->chunked = 0;
    if (c->close_after || !c->keep_alive || c->srv->stopping) {
        conn_graceful(c);
        return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->wait_ns = mb_clock_now_ns();
    c->req_ns = c->pend_len > c->pend_off ? c->wait_ns : 0;   /* pipelined: under way */
    if (c->pend_len > c->pend_off || !c->reading)
        ready_push(c);
}

/* ------------------------------------------------------------- timeouts */

/* A connection that waits for a request (not answering one, not closing). */
static int waiting(const mb_server_conn *c)
{
    return !c->busy && !c->closing && !c->draining && !c->shutting && !c->bad;
}

/* Every SWEEP_MS: a request still incomplete past request_timeout gets a
 * 408 and the connection closes (a slow head, a slow body: a client holding
 * a descriptor without ever asking); a connection with no request under way
 * past idle_timeout is closed. Responses in progress have no deadline. */
static void on_sweep(uv_timer_t *t)
{
    mb_server *s = t->data;
    uint64_t now = mb_clock_now_ns();
    uint64_t req = (uint64_t)s->cfg.request_timeout_ms * 1000000u;
    uint64_t idle = (uint64_t)s->cfg.idle_timeout_ms * 1000000u;
    for (mb_server_conn *c = s->conns; c; c = c->next) {
        if (!waiting(c))
            continue;
        if (c->req_ns && s->cfg.request_timeout_ms > 0 && now - c->req_ns > req) {
            static const char r408[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                                       "Content-Length: 0\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)r408, sizeof r408 - 1);
            c->bad = 1;   /* what else arrives is discarded */
            if (conn_send(c, &b, 1) == 0)
                conn_graceful(c);
            else
                conn_close(c, 0);
        } else if (!c->req_ns && s->cfg.idle_timeout_ms > 0 && now - c->wait_ns > idle) {
            conn_close(c, 0);
        }
    }
}

/* At the descriptor limit a new client must still be served: the waiting
 * connection idle or stuck in its request the longest makes room (RST).
 * 0 when one was closed, -1 when every connection is answering. */
static int shed_oldest(mb_server *s, mb_server_conn *except)
{
    mb_server_conn *old = NULL;
    for (mb_server_conn *c = s->conns; c; c = c->next) {
        uint64_t since = c->req_ns ? c->req_ns : c->wait_ns;
        if (c != except && waiting(c) && (!old || since <= (old->req_ns ? old->req_ns : old->wait_ns)))
            old = c;
    }
    if (!old)
        return -1;
    conn_close(old, 1);
    return 0;
}

void mb_server_abort(mb_server_conn *c)
{
    conn_close(c, 1);
}

void mb_server_close(mb_server_conn *c)
{
    if (c->queued == 0 && !c->shutting)
        conn_close(c, 0);
    else
        conn_graceful(c);
}

size_t mb_server_queued(const mb_server_conn *c) { return c->queued; }
int mb_server_congested(const mb_server_conn *c) { return c->congested; }
int mb_server_closing(const mb_server_conn *c) { return c->closing || c->draining; }
void mb_server_conn_set_data(mb_server_conn *c, void *data) { c->data = data; }
void *mb_server_conn_data(const mb_server_conn *c) { return c->data; }
const char *mb_server_conn_peer(const mb_server_conn *c) { return c->peer; }
uint64_t mb_server_conn_id(const mb_server_conn *c) { return c->id; }

const char *mb_server_req_header(const mb_server_req *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    for (int i = 0; i < r->nheaders; i++) {
        const mb_server_header *h = &r->headers[i];
        if (h->name_len == nl && strncasecmp(h->name, name, nl) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ listening */

static void peer_name(mb_server_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
}

/* Accepts one connection: no Nagle (each token must leave at once), read. */
static void on_connection(uv_stream_t *l, int status)
{
    mb_server *s = l->data;
    if (status == UV_EMFILE || status == UV_ENFILE) {
        /* the client libuv had to turn away: make room for the next ones */
        for (int k = 0; k < 8 && shed_oldest(s, NULL) == 0; k++)
            ;
        return;
    }
    if (status < 0 || s->stopping)
        return;
    mb_server_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    c->id = ++s->next_id;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    c->notified = 1;   /* no on_close for a connection that never started */
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, 0);
        return;
    }
    c->notified = 0;
    c->wait_ns = mb_clock_now_ns();
    if (s->nconns > s->max_conns)
        shed_oldest(s, c);   /* near the descriptor limit: the stalest waiter goes */
    uv_tcp_nodelay(&c->tcp, 1);
    peer_name(c);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    start_reading(c);
}

static void listener_closed(uv_handle_t *h)
{
    mb_server *s = h->data;
    free(h);
    s->handles--;
    maybe_free_server(s);
}

/* Opens the listening socket on s->addr; records the real port. */
static int listen_on(mb_server *s)
{
    uv_tcp_t *l = malloc(sizeof *l);
    int rc;
    if (!l)
        return MB_ENOMEM;
    uv_tcp_init(s->loop, l);
    l->data = s;
    s->handles++;
    rc = uv_tcp_bind(l, (const struct sockaddr *)&s->addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, s->cfg.backlog, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)l, listener_closed);
        return rc;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len) == 0) {
        memcpy(&s->addr, &ss, sizeof ss);
        if (ss.ss_family == AF_INET6) {
            s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            uv_ip6_name((struct sockaddr_in6 *)&ss, s->host, sizeof s->host);
        } else {
            s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            uv_ip4_name((struct sockaddr_in *)&ss, s->host, sizeof s->host);
        }
    }
    s->listener = l;
    return 0;
}

/* Resolves host (numeric or a name such as "localhost") to s->addr. */
static int resolve(mb_server *s, const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return UV_EAI_NONAME;
    memset(&s->addr, 0, sizeof s->addr);
    memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (s->addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&s->addr)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&s->addr)->sin_port = htons((uint16_t)port);
    return 0;
}

/* Thousands of connections need thousands of descriptors: lift the soft
 * limit towards the hard one (a no-op when it is already high). Returns
 * the connections that fit, FD_SPARE descriptors kept back. */
static size_t raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1u << 20;
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
    if (want > 65536)
        want = 65536;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > 2 * FD_SPARE ? (size_t)rl.rlim_cur - FD_SPARE : FD_SPARE;
}

int mb_server_start(mb_server **out, uv_loop_t *loop, const mb_server_config *cfg)
{
    mb_server *s = NULL;
    int rc;
    *out = NULL;
    if (!cfg || !cfg->h.on_request || cfg->port < 0 || cfg->port > 65535)
        return MB_EINVAL;
    s = calloc(1, sizeof *s);
    if (!s)
        return MB_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->cfg.host = NULL;   /* not kept: the caller's string */
    if (!s->cfg.backlog)
        s->cfg.backlog = 1024;
    if (!s->cfg.max_head)
        s->cfg.max_head = 64 * 1024;
    if (!s->cfg.max_body)
        s->cfg.max_body = 8 * 1024 * 1024;
    if (!s->cfg.high_water)
        s->cfg.high_water = 256 * 1024;
    if (!s->cfg.low_water || s->cfg.low_water > s->cfg.high_water)
        s->cfg.low_water = s->cfg.high_water / 4;
    if (!s->cfg.request_timeout_ms)
        s->cfg.request_timeout_ms = 10000;
    if (!s->cfg.idle_timeout_ms)
        s->cfg.idle_timeout_ms = 60000;
    /* A peer that resets a connection must give EPIPE, not kill the process. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    s->max_conns = raise_fd_limit();
    rc = resolve(s, cfg->host ? cfg->host : "127.0.0.1", cfg->port);
    if (rc < 0) {
        free(s);
        return rc;
    }
    rc = listen_on(s);
    if (rc < 0) {
        /* the listener handle closes asynchronously; its close callback
         * frees s once the loop runs */
        s->stopping = 1;
        return rc;
    }
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    s->handles++;
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->handles++;
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&s->sweep);   /* keeps no loop alive */
    *out = s;
    return 0;
}

static void idle_closed(uv_handle_t *h)
{
    mb_server *s = h->data;
    s->handles--;
    maybe_free_server(s);
}

void mb_server_stop(mb_server *s, void (*done)(void *ud), void *ud)
{
    if (!s || s->stopping)
        return;
    s->stopping = 1;
    s->done = done;
    s->done_ud = ud;
    s->ready = NULL;
    for (mb_server_conn *c = s->conns; c; c = c->next)
        c->in_ready = 0, c->next_ready = NULL;
    if (s->listener) {
        uv_close((uv_handle_t *)s->listener, listener_closed);
        s->listener = NULL;
    }
    /* conn_close never unlinks synchronously, so walking the list is safe */
    for (mb_server_conn *c = s->conns; c; c = c->next)
        conn_close(c, 0);
    uv_idle_stop(&s->idle);
    uv_close((uv_handle_t *)&s->idle, idle_closed);
    uv_timer_stop(&s->sweep);
    uv_close((uv_handle_t *)&s->sweep, idle_closed);
}

int mb_server_pause(mb_server *s)
{
    if (s->stopping)
        return MB_ESTATE;
    if (s->listener) {
        uv_close((uv_handle_t *)s->listener, listener_closed);
        s->listener = NULL;
    }
    return 0;
}

int mb_server_resume(mb_server *s)
{
    if (s->stopping)
        return MB_ESTATE;
    return s->listener ? 0 : listen_on(s);
}

int mb_server_paused(const mb_server *s) { return s->listener == NULL; }
int mb_server_port(const mb_server *s) { return s->port; }
const char *mb_server_host(const mb_server *s) { return s->host; }

int mb_server_loopback(const mb_server *s)
{
    if (s->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&s->addr;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (s->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&s->addr;
        static const unsigned char v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(&a->sin6_addr, &in6addr_loopback, sizeof a->sin6_addr) == 0)
            return 1;
        return memcmp(&a->sin6_addr, v4map, 12) == 0 && a->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}
size_t mb_server_nconns(const mb_server *s) { return s->nconns; }
uint64_t mb_server_accepted(const mb_server *s) { return s->next_id; }

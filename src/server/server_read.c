/* server_read.c: the request side of the HTTP server -- the parser's
 * callbacks (h1parse.h: http_parser or llhttp) append the URL, headers and
 * body into one buffer per connection (offsets only, since it may move); at
 * message complete the parser pauses and the request goes to the owner
 * (BUSY). Bytes that arrive
 * meanwhile wait in `pend`; when the response ends, keep-alive connections
 * go back to parsing them from an idle callback (never from inside the
 * owner's call). A request the parser refuses goes to the owner's
 * on_bad_request (REJECTED) for an error in its API's shape. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "server_int.h"

static int parse_error_status(mb_server_conn *c);

/* Appends request bytes to the connection's message buffer. */
static int buf_add(mb_server_conn *c, const char *d, size_t n)
{
    return mb_buf_add(&c->msg, d, n);
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

static int on_message_begin(mb_h1p *p)
{
    mb_server_conn *c = p->data;
    c->msg.len = 0;
    c->url_off = c->url_len = c->body_off = c->body_len = c->head_bytes = 0;
    c->nhdr = 0;
    c->el = EL_NONE;
    c->msg_done = 0;
    c->start_ns = mb_clock_now_ns();
    return 0;
}

static int on_url(mb_h1p *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (el_switch(c, EL_URL) < 0)
        return -1;
    if (c->url_len == 0)
        c->url_off = c->msg.len;
    if (head_add(c, at, n) < 0)
        return -1;
    c->url_len += n;   /* only bytes stored count: a refused head is read later */
    return 0;
}

static int on_header_field(mb_h1p *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->el != EL_FIELD) {
        if (el_switch(c, EL_FIELD) < 0)
            return -1;
        if (c->nhdr == MAX_HEADERS) {   /* too many headers: an over-size head */
            c->err_status = 413;
            return -1;
        }
        if (MB_VEC_GROW(c->hdrs, c->hdr_cap, (size_t)c->nhdr + 1) < 0)
            return -1;
        c->hdrs[c->nhdr].no = (uint32_t)c->msg.len;
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

static int on_header_value(mb_h1p *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->nhdr == 0)
        return -1;
    if (c->el != EL_VALUE) {
        if (el_switch(c, EL_VALUE) < 0)
            return -1;
        c->hdrs[c->nhdr - 1].vo = (uint32_t)c->msg.len;
    }
    if (head_add(c, at, n) < 0)
        return -1;
    c->hdrs[c->nhdr - 1].vl += (uint32_t)n;
    return 0;
}

/* Rejects a declared body over max_body before reading it, and answers
 * "Expect: 100-continue" so clients such as curl do not stall for a second. */
static int on_headers_complete(mb_h1p *p)
{
    mb_server_conn *c = p->data;
    if (el_switch(c, EL_BODY) < 0)
        return -1;
    /* header values may be empty: give them a position at the NUL */
    for (int i = 0; i < c->nhdr; i++)
        if (c->hdrs[i].vl == 0)
            c->hdrs[i].vo = c->hdrs[i].no + c->hdrs[i].nl;
    if (mb_h1p_has_length(p) && mb_h1p_length(p) > c->srv->cfg.max_body) {
        c->err_status = 413;
        return -1;
    }
    c->body_off = c->msg.len;
    for (int i = 0; i < c->nhdr; i++) {
        const hoff *h = &c->hdrs[i];
        if (h->nl == 6 && strncasecmp(c->msg.p + h->no, "expect", 6) == 0 &&
            h->vl == 12 && strncasecmp(c->msg.p + h->vo, "100-continue", 12) == 0 &&
            mb_h1p_http_major(p) == 1 && mb_h1p_http_minor(p) >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init((char *)cont, sizeof cont - 1);
            if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)b.len)
                return -1;   /* a 25-byte write into an idle socket cannot be short */
        }
    }
    return 0;
}

static int on_body(mb_h1p *p, const char *at, size_t n)
{
    mb_server_conn *c = p->data;
    if (c->body_len + n > c->srv->cfg.max_body) {
        c->err_status = 413;
        return -1;
    }
    c->body_len += n;
    return buf_add(c, at, n) < 0 ? -1 : 0;
}

static int on_message_complete(mb_h1p *p)
{
    mb_server_conn *c = p->data;
    if (mb_buf_add(&c->msg, "", 0) < 0)   /* the NUL after the body */
        return -1;
    c->msg_done = 1;
    c->done_ns = mb_clock_now_ns();
    return MB_H1P_PAUSE;           /* one request at a time */
}

const mb_h1p_cb mb_server_parser_cb = {
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
    r->method = mb_h1p_method(&c->parser);
    if (c->url_len > 0 && c->msg.p) {
        char *u = c->msg.p + c->url_off;
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
        hv[i].name = c->msg.p + c->hdrs[i].no;
        hv[i].name_len = c->hdrs[i].nl;
        hv[i].value = c->msg.p + c->hdrs[i].vo;
        hv[i].value_len = c->hdrs[i].vl;
    }
    r->headers = hv;
    r->nheaders = c->nhdr;
    if (c->msg_done && c->msg.p) {
        r->body = c->msg.p + c->body_off;
        r->body_len = c->body_len;
    } else {
        r->body = empty;
    }
    r->http_major = (int)mb_h1p_http_major(&c->parser);
    r->http_minor = (int)mb_h1p_http_minor(&c->parser);
    r->keep_alive = c->msg_done ? mb_h1p_keep_alive(&c->parser) : 0;
    r->start_ns = c->start_ns;
    r->done_ns = c->done_ns;
}

/* Hands a complete request to the owner. */
static void dispatch(mb_server_conn *c)
{
    mb_server *s = c->srv;
    mb_server_header stackh[32], *hv = stackh;
    mb_server_req r;
    assert(c->state == CS_READING);
    if (c->nhdr > 32 && !(hv = malloc((size_t)c->nhdr * sizeof *hv))) {
        conn_close(c, 1);
        return;
    }
    build_req(c, &r, hv);
    conn_set_state(c, CS_BUSY);
    c->req_ns = 0;   /* answering now: no deadline while the response runs */
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
    conn_set_state(c, CS_REJECTED);
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
    if (c->state == CS_REJECTED) {   /* the owner did not answer */
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
    size_t n;
    mb_h1p_state e = mb_h1p_execute(&c->parser, d, len, &n);
    if (e == MB_H1P_PAUSED) {
        mb_h1p_resume(&c->parser);
        if (c->msg_done)
            dispatch(c);
        return (ssize_t)n;
    }
    if (e == MB_H1P_ERROR) {
        int st = parse_error_status(c);
        reject(c, st, st == 413 ? "request too large" : mb_h1p_error(&c->parser));
        return -1;
    }
    if (e == MB_H1P_UPGRADE) {
        reject(c, 400, "protocol upgrade is not supported");
        return -1;
    }
    return (ssize_t)n;
}

/* Keeps bytes that cannot be parsed now (a response is running, or they
 * follow the request just parsed). */
static int pend_add(mb_server_conn *c, const char *d, size_t n)
{
    if (c->pend_off > 0 && c->pend_off == c->pend.len)
        c->pend_off = c->pend.len = 0;
    return mb_buf_add(&c->pend, d, n);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    mb_server_conn *c = h->data;
    (void)suggested;
    /* One buffer per server: libuv consumes it before reading another socket. */
    *b = uv_buf_init(c->srv->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

void conn_start_reading(mb_server_conn *c)
{
    if (!c->reading && c->state != CS_CLOSED &&
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

/* Whether what arrives is kept (for the parser, now or later) or dropped
 * (a refused request is being answered, or the connection is ending). */
static int conn_takes_bytes(const mb_server_conn *c)
{
    return c->state == CS_READING || c->state == CS_BUSY || c->state == CS_STREAMING;
}

/* Parses pending bytes while the connection is not busy with a response. */
static void conn_process(mb_server_conn *c)
{
    mb_server *s = c->srv;
    /* not once the connection is closing gracefully (a response that ended
     * it, say to HTTP/1.0 or "Connection: close"): what follows is dropped */
    while (c->state == CS_READING && c->pend_off < c->pend.len) {
        ssize_t n = feed(c, c->pend.p + c->pend_off, c->pend.len - c->pend_off);
        if (n < 0)
            return;
        c->pend_off += (size_t)n;
        if (n == 0 && c->state == CS_READING)
            break;
    }
    if (c->pend_off == c->pend.len)
        c->pend_off = c->pend.len = 0;
    if (conn_takes_bytes(c) && c->pend.len < s->cfg.max_head + s->cfg.max_body)
        conn_start_reading(c);
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
    if (n == 0 || !conn_takes_bytes(c))
        return;   /* answering a refused request, or lingering: discard */
    if (c->state == CS_READING)
        conn_request_begins(c);   /* a request is under way: its deadline runs */
    if (c->state != CS_READING || c->pend.len > c->pend_off) {
        if (pend_add(c, b->base, (size_t)n) < 0) {
            conn_close(c, 1);
            return;
        }
        if (c->pend.len - c->pend_off > s->cfg.max_head + s->cfg.max_body) {
            uv_read_stop(st);   /* a client racing ahead: wait for the response */
            c->reading = 0;
        }
        if (c->state == CS_READING)
            conn_process(c);
        return;
    }
    ssize_t used = feed(c, b->base, (size_t)n);
    if (used >= 0 && (size_t)used < (size_t)n && conn_takes_bytes(c)) {
        if (pend_add(c, b->base + used, (size_t)n - (size_t)used) < 0)
            conn_close(c, 1);
        else if (c->state == CS_READING)
            conn_process(c);
    }
}

/* The idle callback: parse what pipelined clients sent ahead. */
void server_on_idle(uv_idle_t *h)
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

void conn_ready_push(mb_server_conn *c)
{
    mb_server *s = c->srv;
    if (c->in_ready || s->life.stopping)
        return;
    c->in_ready = 1;
    c->next_ready = s->ready;
    s->ready = c;
    uv_idle_start(&s->idle, server_on_idle);
}

void conn_ready_remove(mb_server_conn *c)
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


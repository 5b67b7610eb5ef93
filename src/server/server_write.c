/* server_write.c: the response side of the HTTP server -- a whole
 * response with a Content-Length, or a streamed one (chunked on HTTP/1.1,
 * raw until close on HTTP/1.0). Writes go straight to the socket when it
 * takes them and are queued (copied) otherwise; a queue over high_water
 * marks the connection congested until it drains below low_water
 * (on_drain), so the owner can apply backpressure. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "server_int.h"

/* The reason phrase of a status code ("OK", "Not Found", ...). */
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

/* A request is with the owner and no response has begun. */
static int awaits_response(const mb_server_conn *c)
{
    return c->state == CS_BUSY || c->state == CS_REJECTED;
}

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
        if (s->cfg.h.on_drain && c->state != CS_CLOSED)
            s->cfg.h.on_drain(s->cfg.h.ud, c);
    }
}

/* Writes bufs: straight to the socket when its queue is empty, the rest
 * copied into one queued write (so callers may pass stack buffers). */
static int conn_send(mb_server_conn *c, uv_buf_t *bufs, unsigned n)
{
    size_t total = 0, done = 0;
    if (c->state >= CS_SHUTDOWN)
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
            ssize_t r = mb_plat_send(fd, c->srv->wbuf, total);   /* non-blocking socket */
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
    int closing = c->close_after || !c->keep_alive || c->srv->life.stopping;
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
    if (!awaits_response(c))
        return MB_ESTATE;
    snprintf(framing, sizeof framing, "Content-Length: %zu\r\n", len);
    rc = format_head(c, stackbuf, sizeof stackbuf, &head, status, content_type, extra, framing);
    if (rc < 0)
        goto out;
    uv_buf_t b[2] = {uv_buf_init(head, (unsigned)rc), uv_buf_init((char *)body, (unsigned)len)};
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
    if (!awaits_response(c))
        return MB_ESTATE;
    c->chunked = mb_h1p_http_major(&c->parser) == 1 && mb_h1p_http_minor(&c->parser) >= 1;
    if (!c->chunked)
        c->close_after = 1;   /* HTTP/1.0: the body ends when the connection does */
    rc = format_head(c, stackbuf, sizeof stackbuf, &head, status, content_type, extra,
                     c->chunked ? "Transfer-Encoding: chunked\r\n" : "");
    if (rc < 0)
        goto out;
    uv_buf_t b = uv_buf_init(head, (unsigned)rc);
    conn_set_state(c, CS_STREAMING);
    rc = conn_send(c, &b, 1);
out:
    if (head && head != stackbuf)
        free(head);
    return rc;
}

int mb_server_write(mb_server_conn *c, const char *data, size_t len)
{
    if (c->state != CS_STREAMING)
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
    if (c->state != CS_STREAMING)
        return MB_ESTATE;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    return conn_send(c, &b, 1);
}

int mb_server_end(mb_server_conn *c)
{
    int rc = 0;
    if (c->state != CS_STREAMING)
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
void conn_response_done(mb_server_conn *c)
{
    if (c->state == CS_CLOSED)
        return;   /* the send failed and closed it */
    c->chunked = 0;
    if (c->close_after || !c->keep_alive || c->srv->life.stopping) {
        conn_graceful(c);
        return;
    }
    conn_set_state(c, CS_READING);
    mb_h1p_init(&c->parser, MB_H1P_REQUEST, &mb_server_parser_cb, c);
    conn_request_ends(c);
    if (c->pend.len > c->pend_off) {
        conn_request_begins(c);   /* pipelined: the next one is under way */
        conn_ready_push(c);
    } else if (!c->reading) {
        conn_ready_push(c);
    }
}

void mb_server_abort(mb_server_conn *c)
{
    conn_close(c, 1);
}

void mb_server_close(mb_server_conn *c)
{
    if (c->queued == 0 && c->state != CS_SHUTDOWN)
        conn_close(c, 0);
    else
        conn_graceful(c);
}

int mb_server_congested(const mb_server_conn *c)
{
    return c->congested;
}


/* h1_read.c: the receiving side of the HTTP/1.1 transport -- one read per
 * readable socket, stamped once where it arrives, parsed by the framing
 * interface (h1parse.h: http_parser or llhttp; the connection owns its
 * parser) and handed to the head and body code libcurl's callbacks also use
 * (client_req.c), so both transports store, parse and judge a response
 * identically. A token costs one recvmsg(2), one parser pass and no
 * allocation: reads land in one buffer per client.
 *
 * The stamp of a read is the kernel's receive stamp of the last packet it
 * took, on the monotonic clock, when the socket has them; the user-space
 * stamp taken right after the read otherwise. The difference is the
 * client's read lag: how long the bytes waited in the socket. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "h1_int.h"

/* Hands the status line to the head code, once per response. Like
 * libcurl, only HTTP/1.0, 1.1 and 2.0 and a code of three digits pass. */
static int emit_status(h1_conn *cn)
{
    char s[48];
    unsigned major = mb_h1p_http_major(&cn->p), minor = mb_h1p_http_minor(&cn->p);
    unsigned v = major * 10u + minor;
    int n;
    if (v != 10 && v != 11 && v != 20) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "Unsupported HTTP version (%u.%u) in response", v / 10,
                  v % 10);
        return -1;
    }
    if (mb_h1p_status(&cn->p) < 100) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "Unsupported response code in HTTP response");
        return -1;
    }
    n = snprintf(s, sizeof s, "HTTP/%u.%u %u", major, minor, mb_h1p_status(&cn->p));
    cn->status_sent = 1;
    return req_head(cn->r, s, (size_t)n) ? 0 : -1;
}

/* Hands the header line assembled so far to the head code. */
static int flush_line(h1_conn *cn)
{
    size_t n = cn->line.len;
    cn->line.len = 0;
    cn->line_value = 0;
    return !n || req_head(cn->r, cn->line.p, n) ? 0 : -1;
}

static int on_message_begin(mb_h1p *hp)
{
    h1_conn *cn = hp->data;
    cn->status_sent = cn->head_done = cn->line_value = cn->interim = 0;
    cn->line.len = 0;
    return 0;
}

/* The status line is complete (or its reason phrase is cut by the end of
 * a read): checked and handed over once. */
static int on_status(mb_h1p *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    (void)at;
    (void)n;
    return cn->status_sent || emit_status(cn) == 0 ? 0 : -1;
}

static int on_header_field(mb_h1p *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    if (!cn->status_sent && emit_status(cn) < 0)
        return -1;
    if (cn->line_value && flush_line(cn) < 0)
        return -1;
    if (mb_buf_add(&cn->line, at, n) < 0) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "out of memory storing headers");
        return -1;
    }
    return 0;
}

/* A value arrives in pieces: cut by the end of a read (joined as is) or
 * by an obsolete line fold (joined with one space, as libcurl does). */
static int on_header_value(mb_h1p *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    int fold = cn->line_value && !cn->val_cut;
    cn->val_cut = at + n == cn->rend;
    if (fold) {
        while (cn->line.len && (cn->line.p[cn->line.len - 1] == ' '
                                || cn->line.p[cn->line.len - 1] == '\t'))
            cn->line.len--;
        while (n && (*at == ' ' || *at == '\t'))
            at++, n--;
    }
    if ((!cn->line_value && mb_buf_add(&cn->line, ":", 1) < 0)
        || (fold && mb_buf_add(&cn->line, " ", 1) < 0) || mb_buf_add(&cn->line, at, n) < 0) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "out of memory storing headers");
        return -1;
    }
    cn->line_value = 1;
    return 0;
}

/* End of a head: 1 tells the parser the response has no body -- one to
 * HEAD, a 1xx, 204 or 304, whatever Content-Length says (RFC 9112 6.3; a
 * 304's Content-Length is the length of the 200 it stands for). */
static int on_headers_complete(mb_h1p *hp)
{
    h1_conn *cn = hp->data;
    unsigned st = mb_h1p_status(hp);
    if ((!cn->status_sent && emit_status(cn) < 0) || flush_line(cn) < 0
        || !req_head(cn->r, "\r\n", 2))
        return -1;
    cn->head_done = 1;
    return H(cn->r)->head_req || st / 100 == 1 || st == 204 || st == 304 ? MB_H1P_NOBODY
                                                                        : MB_H1P_GO;
}

static int on_body(mb_h1p *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    return req_data(cn->r, at, n, cn->t_read) == n ? 0 : -1;
}

/* A 1xx is followed by the real response; anything else ends the request
 * (the parser pauses: bytes after it make the connection unusable). */
static int on_message_complete(mb_h1p *hp)
{
    h1_conn *cn = hp->data;
    if (flush_line(cn) < 0)   /* the last trailer line: libcurl hands trailers on as headers */
        return -1;
    unsigned st = mb_h1p_status(hp);
    if (st / 100 == 1 && st != 101) {
        cn->interim = 1;
        return 0;
    }
    cn->msg_done = 1;
    return MB_H1P_PAUSE;
}

/* A response ended well: the verdict, then the connection goes idle for
 * the next request or closes. */
static void complete(h1_conn *cn, uint64_t t)
{
    mb_req *r = cn->r;
    h1_host *h = cn->h;
    int keep = mb_h1p_keep_alive(&cn->p) && !cn->junk && !cn->writing;
    assert(r && r->live && cn->state == C_BUSY && cn->msg_done && H(r)->conn == cn);
    h1_fill(r, cn, t);
    req_verdict(r);
    h1_detach(cn);
    if (keep && !r->latched) {
        cn->state = C_IDLE;
        cn->idle_since = t;
        uv_timer_stop(&cn->timer);
        h1_sock_ref(cn, 0);   /* an idle connection keeps no loop alive */
        h1_enlist(&h->idle, cn);
    } else {
        h1_conn_close(cn);
    }
    client_pend(cn->c, r, PEND_DONE);
}

/* The parser stopped on an error: a hook's or a limit's (latched), or a
 * malformed response. */
static void parse_failed(h1_conn *cn)
{
    const char *why = mb_h1p_error(&cn->p);
    if (cn->head_done && mb_h1p_chunked(&cn->p))
        h1_fail(cn, MB_ERR_PROTOCOL, "malformed chunked encoding (%s)", why);
    else
        h1_fail(cn, MB_ERR_PROTOCOL, "malformed HTTP response (%s)", why);
}

/* The peer closed (EOF) or the connection failed while a request was on it. */
static void on_end(h1_conn *cn, ssize_t nread, uint64_t t)
{
    if (nread != UV_EOF) {
        if (!h1_stale(cn))
            h1_fail(cn, MB_ERR_RESET, "Recv failure: %s", uv_strerror((int)nread));
        return;
    }
    if (!cn->got || cn->interim) {   /* only 1xx heads count as nothing, as in libcurl */
        if (!h1_stale(cn))
            h1_fail(cn, MB_ERR_RESET, "Empty reply from server");
        return;
    }
    mb_h1p_finish(&cn->p);   /* a body that ends at EOF */
    if (cn->msg_done) {
        cn->junk = 1;   /* closed: never reused */
        complete(cn, t);
    } else if (cn->r->latched) {
        h1_fail(cn, cn->r->latched, "%s", "");
    } else if (!cn->head_done) {
        h1_fail(cn, MB_ERR_PROTOCOL, "connection closed in the middle of the response head");
    } else if (mb_h1p_chunked(&cn->p)) {
        h1_fail(cn, MB_ERR_PROTOCOL, "transfer closed with outstanding read data remaining");
    } else {
        h1_fail(cn, MB_ERR_PROTOCOL, "transfer closed with %llu bytes remaining to read",
             (unsigned long long)mb_h1p_length(&cn->p));
    }
}

/* The socket is readable: one read (never a drain loop: under a burst each
 * socket gets its turn, so each read stays small and its stamp near its
 * packets), stamped first, then parsed through to the request's hooks,
 * then the notifications it queued are delivered (nothing of cn is touched
 * after that: an owner may reuse or close it). */
void h1_read_ready(h1_conn *cn)
{
    mb_client *c = cn->c;
    mb_req *r = cn->r;
    char *buf = cn->pool->rbuf;
    int64_t kreal;
    uint64_t t, tk = 0;
    ssize_t nread;
    if (!r || cn->state != C_BUSY) {   /* idle: the peer closed, or sent junk */
        h1_conn_close(cn);
        return;
    }
    nread = mb_plat_recv(cn->fd, buf, H1_RBUF, &kreal);
    t = mb_clock_now_ns();
    if (nread < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (nread <= 0) {
        on_end(cn, nread == 0 ? UV_EOF : uv_translate_sys_error(errno), t);
        client_dispatch(c);
        return;
    }
    if (kreal)
        tk = mb_clock_sync_stamp(client_sync(c), kreal, t);
    t = req_stamp(r, t, tk);
    if (!cn->got && r->resp.t.ttfb < 0)
        r->resp.t.ttfb = (int64_t)(t - r->resp.start_ns);
    cn->got += (uint64_t)nread;
    cn->t_read = t;
    cn->rend = buf + nread;
    size_t n;
    mb_h1p_state st = mb_h1p_execute(&cn->p, buf, (size_t)nread, &n);
    if (cn->msg_done) {
        cn->junk = n < (size_t)nread;
        complete(cn, t);
    } else if (st != MB_H1P_OK) {
        parse_failed(cn);
    }
    client_dispatch(c);
}

/* The parser's callbacks (h1parse.h). */
const mb_h1p_cb h1_parser_cb = {
    .on_message_begin = on_message_begin,
    .on_status = on_status,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Once per process: the client's own head limit (a clearer message) must
 * trip before the parser library's. */
void h1_parser_settings_init(void)
{
    mb_h1p_set_max_head(2 * MB_CLIENT_MAX_HEADER_BYTES);
}

/* h1.c: the plain-HTTP/1.1 transport -- keep-alive connections on libuv
 * TCP handles, responses framed by http_parser, every read stamped once
 * where it arrives and handed to the same head/body code libcurl's
 * callbacks use (client_req.c), so both transports store, parse and judge
 * a response identically.
 *
 * Why it exists: on plain http libcurl costs a poll(2) after every read and
 * re-applies its options per request; at one read per streamed token that
 * was most of the client's own CPU. Here a token costs one read(2) (from
 * epoll), one parser pass and no allocation: reads land in one buffer per
 * client, the connection owns its parser, timer and requests.
 *
 * A connection is RESOLVE (waiting for its host's lookup), CONNECT, BUSY
 * (one request on it), IDLE (in its host's LIFO, still reading so that a
 * peer's close is noticed at once) or CLOSED (handles closing, memory freed
 * by the last close callback). A request that finds its reused connection
 * dead before any response byte is sent once more on a fresh one, as
 * libcurl does. Failures found while starting are delivered from a 0 ms
 * timer, never from inside mb_req_start. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <http_parser.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "h1_int.h"

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
    uv_tcp_t tcp;
    uv_timer_t timer;            /* connect and request deadlines */
    uv_connect_t creq;
    uv_write_t wreq;
    http_parser p;
    h1_pool *pool;
    mb_client *c;
    h1_host *h;
    mb_req *r;                   /* the request on it, NULL when idle */
    h1_conn *prev, *next;        /* in h->waiting or h->idle */
    int state, listed;
    int nopen;                   /* handles whose close callback is due */
    int tries;                   /* addresses tried for this connect */
    int writing;                 /* a write is in flight */
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

static http_parser_settings settings;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void route(h1_pool *p, mb_req *r, int fresh);
static void timer_cb(uv_timer_t *t);

/* ---- connections --------------------------------------------------- */

/* Close callback: the last one frees the connection. */
static void conn_closed(uv_handle_t *hd)
{
    h1_conn *cn = hd->data;
    mb_client *c = cn->c;
    assert(cn->state == C_CLOSED && cn->nopen > 0 && !cn->r && !cn->listed);
    if (--cn->nopen == 0) {
        mb_buf_free(&cn->line);
        free(cn);
    }
    client_handles(c, -1);
}

/* Removes a connection from its host's waiting or idle list. */
static void unlist(h1_conn *cn)
{
    h1_host *h = cn->h;
    if (!cn->listed)
        return;
    if (cn->prev)
        cn->prev->next = cn->next;
    else if (h->waiting == cn)
        h->waiting = cn->next;
    else
        h->idle = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    cn->prev = cn->next = NULL;
    cn->listed = 0;
}

/* Pushes a connection on the front of a host list. */
static void enlist(h1_conn **head, h1_conn *cn)
{
    assert(!cn->listed && cn->state != C_CLOSED);
    cn->prev = NULL;
    cn->next = *head;
    if (*head)
        (*head)->prev = cn;
    *head = cn;
    cn->listed = 1;
}

/* Closes a connection (idempotent); a request still on it is the caller's. */
static void conn_close(h1_conn *cn)
{
    if (cn->state == C_CLOSED)
        return;
    unlist(cn);
    if (cn->r)
        H(cn->r)->conn = NULL;
    cn->r = NULL;
    cn->state = C_CLOSED;
    uv_close((uv_handle_t *)&cn->tcp, conn_closed);
    uv_close((uv_handle_t *)&cn->timer, conn_closed);
}

/* A new connection to h with its two handles open. NULL on ENOMEM. */
static h1_conn *conn_new(h1_pool *p, h1_host *h)
{
    h1_conn *cn = calloc(1, sizeof *cn);
    if (!cn)
        return NULL;
    cn->pool = p;
    cn->c = p->c;
    cn->h = h;
    uv_tcp_init(p->loop, &cn->tcp);
    uv_timer_init(p->loop, &cn->timer);
    cn->tcp.data = cn->timer.data = cn->creq.data = cn->wreq.data = cn;
    cn->nopen = 2;
    client_handles(p->c, 2);
    return cn;
}

/* Detaches the request from its connection (which the caller then idles
 * or closes). */
static mb_req *detach(h1_conn *cn)
{
    mb_req *r = cn->r;
    cn->r = NULL;
    if (r) {
        H(r)->conn = NULL;
        r->live = 0;
    }
    return r;
}

/* Copies the figures the parser knows into the result (status and version
 * once a status line was accepted: the parser's status_code is partial, or
 * the rejected 4-digit one, before). */
static void fill(mb_req *r, h1_conn *cn, uint64_t t)
{
    mb_resp *s = &r->resp;
    s->t.done = (int64_t)(t - s->start_ns);
    if (cn && cn->status_sent) {
        s->status = cn->p.status_code;
        s->http_version = cn->p.http_major * 10 + cn->p.http_minor;
    }
}

static void kick_cb(uv_timer_t *t)
{
    h1_pool *p = t->data;
    client_dispatch(p->c);
}

/* Ends the request on cn with an error (unless one is latched already),
 * closes cn and queues on_done; a 0 ms timer delivers it when this runs
 * inside mb_req_start. `fmt` is printf-like. */
static void fail(h1_conn *cn, mb_err_kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(h1_conn *cn, mb_err_kind k, const char *fmt, ...)
{
    mb_req *r = cn->r;
    h1_pool *p = cn->pool;
    if (!r) {
        conn_close(cn);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    req_vlatch(r, k, fmt, ap);
    va_end(ap);
    fill(r, cn, mb_clock_now_ns());
    req_verdict(r);
    detach(cn);
    conn_close(cn);
    client_pend(p->c, r, PEND_DONE);
    uv_timer_start(&p->kick, kick_cb, 0, 0);
}

/* Arms the connection's timer for the nearer of the request deadline and
 * (before the connection is up) the connect deadline. */
static void arm(h1_conn *cn, uint64_t now)
{
    mb_req *r = cn->r;
    uint64_t d = 0;
    if (r->timeout_ms > 0)
        d = r->resp.start_ns + (uint64_t)r->timeout_ms * MS;
    if (cn->state < C_BUSY && r->connect_timeout_ms > 0) {
        uint64_t dc = cn->t_conn0 + (uint64_t)r->connect_timeout_ms * MS;
        if (!d || dc < d)
            d = dc;
    }
    cn->deadline = d;
    if (!d) {
        uv_timer_stop(&cn->timer);
        return;
    }
    uv_timer_start(&cn->timer, timer_cb, d > now ? (d - now + MS - 1) / MS : 0, 0);
}

/* A deadline passed (libuv's clock may fire a little early: re-arm then). */
static void timer_cb(uv_timer_t *t)
{
    h1_conn *cn = t->data;
    mb_req *r = cn->r;
    uint64_t now = mb_clock_now_ns();
    mb_client *c = cn->c;
    if (!r || cn->state == C_CLOSED)
        return;
    if (now < cn->deadline) {
        arm(cn, now);
        return;
    }
    long ms = (long)((now - r->resp.start_ns) / MS);
    if (cn->state < C_BUSY && r->connect_timeout_ms > 0
        && now >= cn->t_conn0 + (uint64_t)r->connect_timeout_ms * MS)
        fail(cn, MB_ERR_TIMEOUT, "Connection timed out after %ld milliseconds", ms);
    else
        fail(cn, MB_ERR_TIMEOUT, "Operation timed out after %ld milliseconds with %llu bytes "
             "received", ms, (unsigned long long)r->resp.bytes);
    client_dispatch(c);
}

/* ---- sending --------------------------------------------------------- */

static void write_cb(uv_write_t *w, int status);
static int stale(h1_conn *cn);

/* Puts r on the connected cn and writes its head and body in one writev. */
static void send_req(h1_conn *cn, mb_req *r, uint64_t now)
{
    uv_buf_t b[2];
    int rc;
    assert(cn->state != C_CLOSED && !cn->listed && (!cn->r || cn->r == r) && !cn->writing);
    cn->r = r;
    H(r)->conn = cn;
    r->live = 1;
    cn->state = C_BUSY;
    http_parser_init(&cn->p, HTTP_RESPONSE);
    cn->p.data = cn;
    /* chunked wins over a Content-Length sent along, as in libcurl (some
     * proxies send both) */
    cn->p.allow_chunked_length = 1;
    cn->status_sent = cn->head_done = cn->msg_done = cn->line_value = cn->junk = 0;
    cn->interim = 0;
    cn->got = 0;
    cn->line.len = 0;
    arm(cn, now);
    b[0] = uv_buf_init(H(r)->whead.p, (unsigned)H(r)->whead.len);
    b[1] = uv_buf_init((char *)H(r)->wbody, (unsigned)H(r)->wbody_len);
    rc = uv_write(&cn->wreq, (uv_stream_t *)&cn->tcp, b, H(r)->wbody_len ? 2 : 1, write_cb);
    if (rc == 0)
        cn->writing = 1;
    else if (!stale(cn))
        fail(cn, MB_ERR_RESET, "Send failure: %s", uv_strerror(rc));
}

/* The request on a reused connection met a dead peer before any byte of
 * the response: send it once more, on a fresh connection. */
static int stale(h1_conn *cn)
{
    mb_req *r = cn->r;
    if (!r || cn->got || !r->resp.reused || H(r)->retried)
        return 0;
    detach(cn);
    conn_close(cn);
    H(r)->retried = 1;
    r->resp.reused = 0;
    r->live = 1;
    route(cn->pool, r, 1);
    return 1;
}

static void write_cb(uv_write_t *w, int status)
{
    h1_conn *cn = w->data;
    mb_client *c = cn->c;
    cn->writing = 0;
    if (status == 0 || status == UV_ECANCELED || cn->state == C_CLOSED || !cn->r)
        return;
    if (!stale(cn))
        fail(cn, MB_ERR_RESET, "Send failure: %s", uv_strerror(status));
    client_dispatch(c);
}

/* ---- receiving ------------------------------------------------------- */

/* Hands the status line to the head code, once per response. Like
 * libcurl, only HTTP/1.0, 1.1 and 2.0 and a code of three digits pass. */
static int emit_status(h1_conn *cn)
{
    char s[48];
    unsigned v = cn->p.http_major * 10u + cn->p.http_minor;
    int n;
    if (v != 10 && v != 11 && v != 20) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "Unsupported HTTP version (%u.%u) in response", v / 10,
                  v % 10);
        return -1;
    }
    if (cn->p.status_code < 100) {
        req_latch(cn->r, MB_ERR_PROTOCOL, "Unsupported response code in HTTP response");
        return -1;
    }
    n = snprintf(s, sizeof s, "HTTP/%u.%u %u", cn->p.http_major, cn->p.http_minor,
                 cn->p.status_code);
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

static int on_message_begin(http_parser *hp)
{
    h1_conn *cn = hp->data;
    cn->status_sent = cn->head_done = cn->line_value = cn->interim = 0;
    cn->line.len = 0;
    return 0;
}

/* The status line is complete (or its reason phrase is cut by the end of
 * a read): checked and handed over once. */
static int on_status(http_parser *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    (void)at;
    (void)n;
    return cn->status_sent || emit_status(cn) == 0 ? 0 : -1;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
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
static int on_header_value(http_parser *hp, const char *at, size_t n)
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
static int on_headers_complete(http_parser *hp)
{
    h1_conn *cn = hp->data;
    unsigned st = hp->status_code;
    if ((!cn->status_sent && emit_status(cn) < 0) || flush_line(cn) < 0
        || !req_head(cn->r, "\r\n", 2))
        return -1;
    cn->head_done = 1;
    return H(cn->r)->head_req || st / 100 == 1 || st == 204 || st == 304 ? 1 : 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
    h1_conn *cn = hp->data;
    return req_data(cn->r, at, n, cn->t_read) == n ? 0 : -1;
}

/* A 1xx is followed by the real response; anything else ends the request
 * (the parser pauses: bytes after it make the connection unusable). */
static int on_message_complete(http_parser *hp)
{
    h1_conn *cn = hp->data;
    if (flush_line(cn) < 0)   /* the last trailer line: libcurl hands trailers on as headers */
        return -1;
    if (hp->status_code / 100 == 1 && hp->status_code != 101) {
        cn->interim = 1;
        return 0;
    }
    cn->msg_done = 1;
    http_parser_pause(hp, 1);
    return 0;
}

/* A response ended well: the verdict, then the connection goes idle for
 * the next request or closes. */
static void complete(h1_conn *cn, uint64_t t)
{
    mb_req *r = cn->r;
    h1_host *h = cn->h;
    int keep = http_should_keep_alive(&cn->p) && !cn->junk && !cn->writing;
    assert(r && r->live && cn->state == C_BUSY && cn->msg_done && H(r)->conn == cn);
    fill(r, cn, t);
    req_verdict(r);
    detach(cn);
    if (keep && !r->latched) {
        cn->state = C_IDLE;
        cn->idle_since = t;
        uv_timer_stop(&cn->timer);
        uv_unref((uv_handle_t *)&cn->tcp);   /* an idle connection keeps no loop alive */
        enlist(&h->idle, cn);
    } else {
        conn_close(cn);
    }
    client_pend(cn->c, r, PEND_DONE);
}

/* The parser stopped on an error: a hook's or a limit's (latched), or a
 * malformed response. */
static void parse_failed(h1_conn *cn)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&cn->p);
    if (cn->head_done && (cn->p.flags & F_CHUNKED))
        fail(cn, MB_ERR_PROTOCOL, "malformed chunked encoding (%s)", http_errno_description(e));
    else
        fail(cn, MB_ERR_PROTOCOL, "malformed HTTP response (%s)", http_errno_description(e));
}

/* The peer closed (EOF) or the connection failed while a request was on it. */
static void on_end(h1_conn *cn, ssize_t nread, uint64_t t)
{
    if (nread != UV_EOF) {
        if (!stale(cn))
            fail(cn, MB_ERR_RESET, "Recv failure: %s", uv_strerror((int)nread));
        return;
    }
    if (!cn->got || cn->interim) {   /* only 1xx heads count as nothing, as in libcurl */
        if (!stale(cn))
            fail(cn, MB_ERR_RESET, "Empty reply from server");
        return;
    }
    http_parser_execute(&cn->p, &settings, NULL, 0);   /* a body that ends at EOF */
    if (cn->msg_done) {
        cn->junk = 1;   /* closed: never reused */
        complete(cn, t);
    } else if (cn->r->latched) {
        fail(cn, cn->r->latched, "%s", "");
    } else if (!cn->head_done) {
        fail(cn, MB_ERR_PROTOCOL, "connection closed in the middle of the response head");
    } else if (cn->p.flags & F_CHUNKED) {
        fail(cn, MB_ERR_PROTOCOL, "transfer closed with outstanding read data remaining");
    } else {
        fail(cn, MB_ERR_PROTOCOL, "transfer closed with %llu bytes remaining to read",
             (unsigned long long)cn->p.content_length);
    }
}

static void alloc_cb(uv_handle_t *hd, size_t suggested, uv_buf_t *b)
{
    h1_conn *cn = hd->data;
    (void)suggested;
    *b = uv_buf_init(cn->pool->rbuf, H1_RBUF);
}

/* Every read: stamped first, then parsed through to the request's hooks,
 * then the notifications it queued are delivered (nothing of cn is
 * touched after that: an owner may reuse or close it). */
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    h1_conn *cn = s->data;
    mb_client *c = cn->c;
    mb_req *r = cn->r;
    uint64_t t;
    if (nread == 0)
        return;
    if (!r || cn->state != C_BUSY) {   /* idle: the peer closed, or sent junk */
        conn_close(cn);
        return;
    }
    t = mb_clock_now_ns();
    if (nread < 0) {
        on_end(cn, nread, t);
        client_dispatch(c);
        return;
    }
    if (!cn->got && r->resp.t.ttfb < 0)
        r->resp.t.ttfb = (int64_t)(t - r->resp.start_ns);
    cn->got += (uint64_t)nread;
    cn->t_read = t;
    cn->rend = b->base + nread;
    size_t n = http_parser_execute(&cn->p, &settings, b->base, (size_t)nread);
    if (cn->msg_done) {
        cn->junk = n < (size_t)nread;
        complete(cn, t);
    } else if (HTTP_PARSER_ERRNO(&cn->p) != HPE_OK) {
        parse_failed(cn);
    }
    client_dispatch(c);
}

/* ---- connecting ------------------------------------------------------ */

static void connect_next(h1_conn *cn);

/* The last address failed (or no socket could be opened): kind `connect`,
 * in libcurl's words, or the descriptor-limit message both transports use. */
static void connect_failed(h1_conn *cn, int status)
{
    if (status == UV_EMFILE || status == UV_ENFILE)
        fail(cn, MB_ERR_CONNECT, "%s", MB_MSG_FD_LIMIT);
    else
        fail(cn, MB_ERR_CONNECT, "Failed to connect to %s port %d after %ld ms: %s", cn->h->name,
             cn->h->port, (long)((mb_clock_now_ns() - cn->r->resp.start_ns) / MS),
             uv_strerror(status));
}

static void connect_cb(uv_connect_t *cr, int status)
{
    h1_conn *cn = cr->data;
    mb_client *c = cn->c;
    mb_req *r = cn->r;
    uint64_t now;
    if (status == UV_ECANCELED || cn->state == C_CLOSED || !r)
        return;
    if (status < 0) {
        h1_host *h = cn->h;
        if (cn->tries < h->naddr && status != UV_EMFILE && status != UV_ENFILE) {
            /* the next address, on a new socket */
            h1_conn *nx = conn_new(cn->pool, h);
            if (nx) {
                detach(cn);
                conn_close(cn);
                nx->tries = cn->tries;
                nx->t_conn0 = cn->t_conn0;
                nx->r = r;
                H(r)->conn = nx;
                r->live = 1;
                connect_next(nx);
                client_dispatch(c);
                return;
            }
        }
        connect_failed(cn, status);
        client_dispatch(c);
        return;
    }
    now = mb_clock_now_ns();
    cn->h->good = (cn->h->good + cn->tries - 1) % cn->h->naddr;
    r->resp.t.connect = (int64_t)(now - r->resp.start_ns);
    uv_tcp_nodelay(&cn->tcp, 1);
    uv_read_start((uv_stream_t *)&cn->tcp, alloc_cb, read_cb);
    send_req(cn, r, now);
    client_dispatch(c);
}

/* Connects to the host's next address to try (the one that worked last
 * first). */
static void connect_next(h1_conn *cn)
{
    h1_host *h = cn->h;
    int i = (h->good + cn->tries) % h->naddr, rc;
    cn->tries++;
    cn->state = C_CONNECT;
    rc = uv_tcp_connect(&cn->creq, &cn->tcp, (const struct sockaddr *)&h->addr[i], connect_cb);
    if (rc < 0)
        connect_failed(cn, rc);
}

/* The host's lookup ended: connect every waiting connection, or fail them. */
static void gai_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    h1_host *h = g->data;
    mb_client *c = h->c;
    uint64_t now = mb_clock_now_ns();
    h->resolving = 0;
    if (!h->pool) {   /* the client went away meanwhile */
        uv_freeaddrinfo(res);
        free(h);
        client_handles(c, -1);
        return;
    }
    h->naddr = 0;
    for (struct addrinfo *a = res; status == 0 && a && h->naddr < H1_MAX_ADDRS; a = a->ai_next)
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6)
            && a->ai_addrlen <= sizeof h->addr[0])
            memcpy(&h->addr[h->naddr++], a->ai_addr, a->ai_addrlen);
    uv_freeaddrinfo(res);
    h->good = 0;
    h->resolved_ns = h->naddr ? now : 0;
    while (h->waiting) {
        h1_conn *cn = h->waiting;
        unlist(cn);
        if (!h->naddr) {
            fail(cn, MB_ERR_DNS, "Could not resolve host: %s", h->name);
            continue;
        }
        cn->r->resp.t.dns = (int64_t)(now - cn->r->resp.start_ns);
        connect_next(cn);
    }
    client_handles(c, -1);
    client_dispatch(c);
}

/* ---- routing --------------------------------------------------------- */

/* The host entry for name:port, made on first use (an IP address is
 * "resolved" at once). NULL on ENOMEM. */
static h1_host *host_get(h1_pool *p, const h1_url *u)
{
    h1_host *h;
    struct sockaddr_in *a4;
    struct sockaddr_in6 *a6;
    for (h = p->hosts; h; h = h->next)
        if (h->port == u->port && strcmp(h->name, u->host) == 0)
            return h;
    if (!(h = calloc(1, sizeof *h)))
        return NULL;
    h->pool = p;
    h->c = p->c;
    h->port = u->port;
    memcpy(h->name, u->host, sizeof h->name);
    h->gai.data = h;
    a4 = (struct sockaddr_in *)&h->addr[0];
    a6 = (struct sockaddr_in6 *)&h->addr[0];
    if (uv_ip4_addr(h->name, h->port, a4) == 0 || uv_ip6_addr(h->name, h->port, a6) == 0) {
        h->literal = 1;
        h->naddr = 1;
    }
    h->next = p->hosts;
    p->hosts = h;
    return h;
}

/* Puts r on an idle connection of its host (unless `fresh`) or on a new
 * one, resolving the host when its addresses are unknown or stale. */
static void route(h1_pool *p, mb_req *r, int fresh)
{
    h1_host *h = H(r)->host;
    uint64_t now = mb_clock_now_ns();
    h1_conn *cn;
    while (!fresh && (cn = h->idle)) {
        unlist(cn);
        if (now - cn->idle_since > H1_MAXAGE_NS) {
            conn_close(cn);
            continue;
        }
        r->resp.reused = 1;
        uv_ref((uv_handle_t *)&cn->tcp);
        send_req(cn, r, now);
        return;
    }
    if (!(cn = conn_new(p, h))) {
        req_latch(r, MB_ERR_CONNECT, "out of memory for a connection");
        r->resp.t.done = (int64_t)(now - r->resp.start_ns);
        r->live = 0;
        req_verdict(r);
        client_pend(p->c, r, PEND_DONE);
        uv_timer_start(&p->kick, kick_cb, 0, 0);
        return;
    }
    cn->r = r;
    H(r)->conn = cn;
    r->live = 1;
    cn->t_conn0 = now;
    cn->state = C_RESOLVE;
    arm(cn, now);
    if (h->literal || (h->resolved_ns && now - h->resolved_ns < H1_DNS_TTL_NS)) {
        r->resp.t.dns = (int64_t)(now - r->resp.start_ns);
        connect_next(cn);
        return;
    }
    enlist(&h->waiting, cn);
    if (h->resolving)
        return;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[8];
    snprintf(port, sizeof port, "%d", h->port);
    int rc = uv_getaddrinfo(p->loop, &h->gai, gai_cb, h->name, port, &hints);
    if (rc < 0) {
        unlist(cn);
        fail(cn, MB_ERR_DNS, "Could not resolve host: %s (%s)", h->name, uv_strerror(rc));
        return;
    }
    h->resolving = 1;
    client_handles(p->c, 1);
}

/* ---- the transport's entry points ------------------------------------ */

static void init_once(void)
{
    settings.on_message_begin = on_message_begin;
    settings.on_status = on_status;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
    /* the client's own head limit (a clearer message) must trip first */
    http_parser_set_max_header_size(2 * MB_CLIENT_MAX_HEADER_BYTES);
}

/* The client's pool, made on first use. */
static h1_pool *pool_get(mb_client *c)
{
    h1_pool **slot = client_h1(c);
    if (!*slot) {
        h1_pool *p = calloc(1, sizeof *p);
        if (!p)
            return NULL;
        p->c = c;
        p->loop = client_loop(c);
        uv_timer_init(p->loop, &p->kick);
        p->kick.data = p;
        client_handles(c, 1);
        *slot = p;
    }
    return *slot;
}

/* Builds the head, finds the host and puts the request on a connection
 * (failures from here on are delivered from the kick timer). */
static int t_start(mb_client *c, mb_req *r, const mb_req_opts *o, const h1_url *u)
{
    h1_pool *p;
    assert(!r->live && !H(r)->conn);
    pthread_once(&once, init_once);
    if (!(p = pool_get(c)) || h1_head_build(r, o, u) < 0 || !(H(r)->host = host_get(p, u)))
        return MB_ENOMEM;
    r->resp.start_ns = mb_clock_now_ns();
    route(p, r, 0);
    return 0;
}

/* Drops a request in flight: its connection closes (it is mid-response). */
static void t_cancel(mb_req *r)
{
    h1_conn *cn = H(r)->conn;
    r->live = 0;
    if (cn) {
        detach(cn);
        conn_close(cn);
    }
}

/* Ends a request in flight as `aborted` (the client queues on_done). */
static void t_abort(mb_req *r, const char *why)
{
    req_latch(r, MB_ERR_ABORTED, "%s", why);
    fill(r, H(r)->conn, mb_clock_now_ns());
    req_verdict(r);
    t_cancel(r);
}

static void t_release(mb_req *r)
{
    assert(!r->live && !H(r)->conn);
    mb_buf_free(&H(r)->whead);
}

static void pool_closed(uv_handle_t *hd)
{
    h1_pool *p = hd->data;
    mb_client *c = p->c;
    free(p);
    client_handles(c, -1);
}

/* Closes every idle connection and the hosts (a host whose lookup is still
 * running is freed by its callback). Requests were cancelled before. */
static void t_close(mb_client *c)
{
    h1_pool *p = *client_h1(c);
    if (!p)
        return;
    *client_h1(c) = NULL;
    while (p->hosts) {
        h1_host *h = p->hosts;
        p->hosts = h->next;
        while (h->idle)
            conn_close(h->idle);
        while (h->waiting)
            conn_close(h->waiting);
        if (h->resolving)
            h->pool = NULL;
        else
            free(h);
    }
    uv_close((uv_handle_t *)&p->kick, pool_closed);
}

MB_TRANSPORT_DEFINE(mb_transport_h1, "h1", h1_req);

/* h1.c: the plain-HTTP/1.1 transport -- keep-alive connections on its own
 * sockets (h1_sock.c), responses framed by h1parse.h (http_parser or
 * llhttp), every read stamped once where it arrives -- with the kernel's
 * receive stamp where the system gives one -- and handed to the same
 * head/body code libcurl's callbacks use (client_req.c), so both transports
 * store, parse and judge a response identically.
 *
 * Why it exists: on plain http libcurl costs a poll(2) after every read and
 * re-applies its options per request; at one read per streamed token that
 * was most of the client's own CPU. Here a token costs one recvmsg(2) (from
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
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "h1_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;   /* h1_parser_settings_init */

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
void h1_enlist(h1_conn **head, h1_conn *cn)
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
void h1_conn_close(h1_conn *cn)
{
    if (cn->state == C_CLOSED)
        return;
    unlist(cn);
    if (cn->r)
        H(cn->r)->conn = NULL;
    cn->r = NULL;
    cn->state = C_CLOSED;
    h1_sock_close(cn, conn_closed);
    uv_close((uv_handle_t *)&cn->timer, conn_closed);
}

/* A new connection to h with its timer open (the socket and its poll come
 * with the connect). NULL on ENOMEM. */
static h1_conn *conn_new(h1_pool *p, h1_host *h)
{
    h1_conn *cn = calloc(1, sizeof *cn);
    if (!cn)
        return NULL;
    cn->pool = p;
    cn->c = p->c;
    cn->h = h;
    cn->fd = -1;
    uv_timer_init(p->loop, &cn->timer);
    cn->timer.data = cn;
    cn->nopen = 1;
    client_handles(p->c, 1);
    return cn;
}

/* Detaches the request from its connection (which the caller then idles
 * or closes). */
mb_req *h1_detach(h1_conn *cn)
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
void h1_fill(mb_req *r, h1_conn *cn, uint64_t t)
{
    mb_resp *s = &r->resp;
    s->t.done = (int64_t)(t - s->start_ns);
    if (cn && cn->status_sent) {
        s->status = (int)mb_h1p_status(&cn->p);
        s->http_version = (int)(mb_h1p_http_major(&cn->p) * 10 + mb_h1p_http_minor(&cn->p));
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
void h1_fail(h1_conn *cn, mb_err_kind k, const char *fmt, ...)
{
    mb_req *r = cn->r;
    h1_pool *p = cn->pool;
    if (!r) {
        h1_conn_close(cn);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    req_vlatch(r, k, fmt, ap);
    va_end(ap);
    h1_fill(r, cn, mb_clock_now_ns());
    req_verdict(r);
    h1_detach(cn);
    h1_conn_close(cn);
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
        h1_fail(cn, MB_ERR_TIMEOUT, "Connection timed out after %ld milliseconds", ms);
    else
        h1_fail(cn, MB_ERR_TIMEOUT, "Operation timed out after %ld milliseconds with %llu bytes "
             "received", ms, (unsigned long long)r->resp.bytes);
    client_dispatch(c);
}

/* ---- sending --------------------------------------------------------- */

/* Puts r on the connected cn and writes its head and body in one writev. */
static void send_req(h1_conn *cn, mb_req *r, uint64_t now)
{
    int rc;
    assert(cn->state != C_CLOSED && !cn->listed && (!cn->r || cn->r == r) && !cn->writing);
    cn->r = r;
    H(r)->conn = cn;
    r->live = 1;
    cn->state = C_BUSY;
    /* chunked wins over a Content-Length sent along, as in libcurl (some
     * proxies send both) */
    mb_h1p_init(&cn->p, MB_H1P_RESPONSE | MB_H1P_CHUNKED_WINS, &h1_parser_cb, cn);
    cn->status_sent = cn->head_done = cn->msg_done = cn->line_value = cn->junk = 0;
    cn->interim = 0;
    cn->got = 0;
    cn->line.len = 0;
    arm(cn, now);
    cn->wv[0] = (struct iovec){H(r)->whead.p, H(r)->whead.len};
    cn->wv[1] = (struct iovec){(char *)H(r)->wbody, H(r)->wbody_len};
    cn->wn = H(r)->wbody_len ? 2 : 1;
    rc = h1_sock_write(cn);
    if (rc < 0 && !h1_stale(cn))
        h1_fail(cn, MB_ERR_RESET, "Send failure: %s", uv_strerror(rc));
}

/* The request on a reused connection met a dead peer before any byte of
 * the response: send it once more, on a fresh connection. */
int h1_stale(h1_conn *cn)
{
    mb_req *r = cn->r;
    if (!r || cn->got || !r->resp.reused || H(r)->retried)
        return 0;
    h1_detach(cn);
    h1_conn_close(cn);
    H(r)->retried = 1;
    r->resp.reused = 0;
    r->live = 1;
    route(cn->pool, r, 1);
    return 1;
}

/* The rest of a request that had to wait for room could not be written. */
void h1_write_failed(h1_conn *cn, int status)
{
    mb_client *c = cn->c;
    if (cn->state == C_CLOSED || !cn->r)
        return;
    if (!h1_stale(cn))
        h1_fail(cn, MB_ERR_RESET, "Send failure: %s", uv_strerror(status));
    client_dispatch(c);
}

/* ---- connecting ------------------------------------------------------ */

static void connect_next(h1_conn *cn);

/* The last address failed (or no socket could be opened): kind `connect`,
 * in libcurl's words, or the descriptor-limit message both transports use. */
static void connect_failed(h1_conn *cn, int status)
{
    if (status == UV_EMFILE || status == UV_ENFILE)
        h1_fail(cn, MB_ERR_CONNECT, "%s", MB_MSG_FD_LIMIT);
    else
        h1_fail(cn, MB_ERR_CONNECT, "Failed to connect to %s port %d after %ld ms: %s", cn->h->name,
             cn->h->port, (long)((mb_clock_now_ns() - cn->r->resp.start_ns) / MS),
             uv_strerror(status));
}

/* A connect ended (from the socket's poll): on failure the host's next
 * address, on a new socket; else the request goes out. */
void h1_connected(h1_conn *cn, int status)
{
    mb_client *c = cn->c;
    mb_req *r = cn->r;
    uint64_t now;
    if (cn->state == C_CLOSED || !r)
        return;
    if (status < 0) {
        h1_host *h = cn->h;
        if (cn->tries < h->naddr && status != UV_EMFILE && status != UV_ENFILE) {
            /* the next address, on a new socket */
            h1_conn *nx = conn_new(cn->pool, h);
            if (nx) {
                h1_detach(cn);
                h1_conn_close(cn);
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
    send_req(cn, r, now);
    client_dispatch(c);
}

/* Connects to the host's next address to try (the one that worked last
 * first); an address that fails at once (no route, no such family) gives
 * way to the next one here, the others from h1_connected. */
static void connect_next(h1_conn *cn)
{
    h1_host *h = cn->h;
    int rc;
    cn->state = C_CONNECT;
    do {
        int i = (h->good + cn->tries) % h->naddr;
        cn->tries++;
        rc = h1_sock_connect(cn, (const struct sockaddr *)&h->addr[i]);
    } while (rc < 0 && rc != UV_EMFILE && rc != UV_ENFILE && cn->tries < h->naddr);
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
            h1_fail(cn, MB_ERR_DNS, "Could not resolve host: %s", h->name);
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
            h1_conn_close(cn);
            continue;
        }
        r->resp.reused = 1;
        h1_sock_ref(cn, 1);
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
    h1_enlist(&h->waiting, cn);
    if (h->resolving)
        return;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    char port[8];
    snprintf(port, sizeof port, "%d", h->port);
    int rc = uv_getaddrinfo(p->loop, &h->gai, gai_cb, h->name, port, &hints);
    if (rc < 0) {
        unlist(cn);
        h1_fail(cn, MB_ERR_DNS, "Could not resolve host: %s (%s)", h->name, uv_strerror(rc));
        return;
    }
    h->resolving = 1;
    client_handles(p->c, 1);
}

/* ---- the transport's entry points ------------------------------------ */

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
    pthread_once(&once, h1_parser_settings_init);
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
        h1_detach(cn);
        h1_conn_close(cn);
    }
}

/* Ends a request in flight as `aborted` (the client queues on_done). */
static void t_abort(mb_req *r, const char *why)
{
    req_latch(r, MB_ERR_ABORTED, "%s", why);
    h1_fill(r, H(r)->conn, mb_clock_now_ns());
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
            h1_conn_close(h->idle);
        while (h->waiting)
            h1_conn_close(h->waiting);
        if (h->resolving)
            h->pool = NULL;
        else
            free(h);
    }
    uv_close((uv_handle_t *)&p->kick, pool_closed);
}

MB_TRANSPORT_DEFINE(mb_transport_h1, "h1", h1_req);

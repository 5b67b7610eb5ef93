/* server.c: the HTTP/1.1 server base (see include/mlxbench/server.h) -- its
 * life (start, listen, accept, pause/resume, stop) and the end of a
 * connection (graceful close with linger, or reset). The request side is
 * server_read.c, the response side server_write.c; server_int.h draws a
 * connection's states.
 *
 * Objects are freed from libuv close callbacks: a connection when its last
 * handle has closed, the server when it is stopping and its listener, its
 * idle handle and every connection are gone. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/clock.h"
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mlxbench/list.h"
#include "mlxbench/platform.h"
#include "server_int.h"

#ifndef NDEBUG
/* The changes a connection's state may make (server_int.h). */
static const unsigned char allowed[CS_CLOSED + 1][CS_CLOSED + 1] = {
    [CS_NEW] = {[CS_READING] = 1, [CS_CLOSED] = 1},
    [CS_READING] = {[CS_BUSY] = 1, [CS_REJECTED] = 1, [CS_SHUTDOWN] = 1, [CS_CLOSED] = 1},
    [CS_BUSY] = {[CS_READING] = 1, [CS_STREAMING] = 1, [CS_SHUTDOWN] = 1, [CS_CLOSED] = 1},
    [CS_STREAMING] = {[CS_READING] = 1, [CS_SHUTDOWN] = 1, [CS_CLOSED] = 1},
    [CS_REJECTED] = {[CS_STREAMING] = 1, [CS_SHUTDOWN] = 1, [CS_CLOSED] = 1},
    [CS_SHUTDOWN] = {[CS_LINGER] = 1, [CS_CLOSED] = 1},
    [CS_LINGER] = {[CS_CLOSED] = 1},
};
#endif

void conn_set_state(mb_server_conn *c, conn_state to)
{
    assert(allowed[c->state][to]);
    c->state = to;
}

/* ---------------------------------------------------------- the server */

static void server_free(void *obj)
{
    free(obj);
}

/* Frees the server once it is stopping and everything it owned is gone. */
static void server_maybe_end(mb_server *s)
{
    mb_life_end(&s->life, s->conns != NULL, server_free, s);
}

static void listener_closed(void *owner)
{
    server_maybe_end(owner);
}

static void idle_closed(uv_handle_t *h)
{
    mb_server *s = h->data;
    s->life.open--;
    server_maybe_end(s);
}

/* A connection's last handle has closed: its memory goes, then maybe the
 * server's. */
static void conn_handle_closed(uv_handle_t *h)
{
    mb_server_conn *c = h->data;
    mb_server *s = c->srv;
    if (h != (uv_handle_t *)&c->tcp)
        free(h);   /* the linger timer */
    if (--c->handles > 0)
        return;
    assert(c->state == CS_CLOSED && !c->in_ready);
    MB_LIST_REMOVE(s->conns, c, prev, next);
    s->nconns--;
    mb_buf_free(&c->msg);
    free(c->hdrs);
    mb_buf_free(&c->pend);
    free(c);
    server_maybe_end(s);
}

/* Pending write callbacks run (cancelled) before the memory goes. */
void conn_close(mb_server_conn *c, int reset)
{
    mb_server *s = c->srv;
    conn_state was = c->state;
    if (was == CS_CLOSED)
        return;
    conn_set_state(c, CS_CLOSED);
    conn_ready_remove(c);
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    if (c->linger) {
        uv_timer_stop(c->linger);
        uv_close((uv_handle_t *)c->linger, conn_handle_closed);
        c->linger = NULL;
    }
    if (reset && was != CS_SHUTDOWN &&
        uv_tcp_close_reset(&c->tcp, conn_handle_closed) == 0) {
        /* closed with RST */
    } else {
        uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    }
    if (was != CS_NEW && s->cfg.h.on_close)   /* the owner never saw a NEW one */
        s->cfg.h.on_close(s->cfg.h.ud, c);
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
    if (c->state == CS_CLOSED)
        return;
    assert(c->state == CS_SHUTDOWN);
    if (status < 0 || !(c->linger = malloc(sizeof *c->linger))) {
        conn_close(c, 0);
        return;
    }
    conn_set_state(c, CS_LINGER);
    uv_timer_init(c->srv->loop, c->linger);
    c->linger->data = c;
    c->handles++;
    uv_timer_start(c->linger, on_linger, LINGER_MS, 0);
    conn_start_reading(c);
}

void conn_graceful(mb_server_conn *c)
{
    if (c->state >= CS_SHUTDOWN)
        return;
    conn_set_state(c, CS_SHUTDOWN);
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        conn_close(c, 0);
}

/* ------------------------------------------------------------- timeouts */

void conn_request_begins(mb_server_conn *c)
{
    if (!c->req_ns)
        c->req_ns = mb_clock_now_ns();
}

void conn_request_ends(mb_server_conn *c)
{
    c->req_ns = 0;
    c->wait_ns = mb_clock_now_ns();
}

/* Every SWEEP_MS: a request still incomplete past request_timeout gets a
 * 408 and the connection closes (a slow head, a slow body: a client holding
 * a descriptor without ever asking); a connection with no request under way
 * past idle_timeout is closed. Only READING connections wait: a response
 * in progress has no deadline. */
static void on_sweep(uv_timer_t *t)
{
    static const char r408[] = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                               "Content-Length: 0\r\n\r\n";
    mb_server *s = t->data;
    uint64_t now = mb_clock_now_ns();
    uint64_t req = (uint64_t)s->cfg.request_timeout_ms * 1000000u;
    uint64_t idle = (uint64_t)s->cfg.idle_timeout_ms * 1000000u;
    /* conn_close never unlinks synchronously, so walking the list is safe */
    for (mb_server_conn *c = s->conns; c; c = c->next) {
        if (c->state != CS_READING)
            continue;
        if (c->req_ns && s->cfg.request_timeout_ms > 0 && now - c->req_ns > req) {
            uv_buf_t b = uv_buf_init((char *)r408, sizeof r408 - 1);
            conn_ready_remove(c);
            if (c->queued == 0 && uv_try_write((uv_stream_t *)&c->tcp, &b, 1) == (int)b.len)
                conn_graceful(c);   /* FIN after the 408, what else comes is dropped */
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
static int shed_oldest(mb_server *s, const mb_server_conn *except)
{
    mb_server_conn *old = NULL;
    uint64_t old_since = 0;
    for (mb_server_conn *c = s->conns; c; c = c->next) {
        uint64_t since = c->req_ns ? c->req_ns : c->wait_ns;
        if (c != except && c->state == CS_READING && (!old || since <= old_since)) {
            old = c;
            old_since = since;
        }
    }
    if (!old)
        return -1;
    conn_close(old, 1);
    return 0;
}

/* listen.c: an accept failed for lack of descriptors (libuv turned that
 * client away): make room for the next ones. */
static void on_full(void *owner)
{
    for (int k = 0; k < 8 && shed_oldest(owner, NULL) == 0; k++)
        ;
}

/* Accepts one connection (Nagle off, listen.c) and starts reading it. Out
 * of memory leaves it in the backlog. */
static void on_conn(void *owner, uv_stream_t *server)
{
    mb_server *s = owner;
    mb_server_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    c->state = CS_NEW;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 1;
    MB_LIST_PUSH(s->conns, c, prev, next);
    s->nconns++;
    if (mb_listener_accept(server, &c->tcp) != 0) {
        conn_close(c, 0);
        return;
    }
    s->next_id++;
    c->wait_ns = mb_clock_now_ns();
    if (s->nconns > s->max_conns)
        shed_oldest(s, c);   /* near the descriptor limit: the stalest waiter goes */
    mb_h1p_init(&c->parser, MB_H1P_REQUEST, &mb_server_parser_cb, c);
    conn_set_state(c, CS_READING);
    conn_start_reading(c);
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
        s->cfg.backlog = MB_DEFAULT_BACKLOG;
    if (!s->cfg.max_head)
        s->cfg.max_head = MB_DEFAULT_MAX_HEAD;
    if (!s->cfg.max_body)
        s->cfg.max_body = MB_DEFAULT_MAX_REQUEST_BODY;
    if (!s->cfg.high_water)
        s->cfg.high_water = MB_DEFAULT_HIGH_WATER;
    if (!s->cfg.low_water || s->cfg.low_water > s->cfg.high_water)
        s->cfg.low_water = s->cfg.high_water / 4;
    if (!s->cfg.request_timeout_ms)
        s->cfg.request_timeout_ms = MB_DEFAULT_REQUEST_TIMEOUT_MS;
    if (!s->cfg.idle_timeout_ms)
        s->cfg.idle_timeout_ms = MB_DEFAULT_IDLE_TIMEOUT_MS;
    s->l = (mb_listener){.loop = loop, .backlog = s->cfg.backlog, .owner = s,
                         .on_conn = on_conn, .on_full = on_full, .life = &s->life,
                         .on_closed = listener_closed};
    rc = mb_resolve(loop, cfg->host ? cfg->host : "127.0.0.1", cfg->port, &s->l.addr);
    if (rc < 0) {
        free(s);
        return rc;
    }
    rc = mb_listener_open(&s->l);
    if (rc < 0) {
        /* the listener handle closes asynchronously; its close callback
         * frees s once the loop runs */
        mb_life_stop(&s->life, NULL, NULL);
        return rc;
    }
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    s->life.open++;
    {
        int64_t soft = -1, hard = -1;   /* raised by the listener (platform.h) */
        mb_plat_fd_limit(&soft, &hard);
        s->max_conns = soft < 0 ? SIZE_MAX : soft > 2 * FD_SPARE ? (size_t)soft - FD_SPARE
                                                                   : FD_SPARE;
    }
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->life.open++;
    uv_timer_start(&s->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&s->sweep);   /* keeps no loop alive */
    *out = s;
    return 0;
}

void mb_server_stop(mb_server *s, void (*done)(void *ud), void *ud)
{
    if (!mb_life_stop(s ? &s->life : NULL, done, ud))
        return;
    s->ready = NULL;
    for (mb_server_conn *c = s->conns; c; c = c->next)
        c->in_ready = 0, c->next_ready = NULL;
    mb_listener_close(&s->l);
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
    if (s->life.stopping)
        return MB_ESTATE;
    mb_listener_close(&s->l);
    return 0;
}

int mb_server_resume(mb_server *s)
{
    if (s->life.stopping)
        return MB_ESTATE;
    return mb_listener_is_open(&s->l) ? 0 : mb_listener_open(&s->l);
}

int mb_server_paused(const mb_server *s) { return !mb_listener_is_open(&s->l); }
int mb_server_port(const mb_server *s) { return s->l.port; }
const char *mb_server_host(const mb_server *s) { return s->l.host; }
int mb_server_loopback(const mb_server *s) { return mb_addr_loopback(&s->l.addr); }
size_t mb_server_nconns(const mb_server *s) { return s->nconns; }
uint64_t mb_server_accepted(const mb_server *s) { return s->next_id; }

void mb_server_conn_set_data(mb_server_conn *c, void *data) { c->data = data; }
void *mb_server_conn_data(const mb_server_conn *c) { return c->data; }

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

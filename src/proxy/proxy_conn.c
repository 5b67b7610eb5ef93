/* proxy_conn.c: one proxied connection (see proxy_int.h, proxy.h).
 *
 * A connection is two directions: up (client -> upstream) and down
 * (upstream -> client). Bytes read from a direction's source are copied into
 * a chunk stamped with the time it may leave (now + latency + jitter) and
 * queued; pump() hands due chunks to uv_write in order, cut to the bandwidth
 * tokens available, and arms the direction's timer for the next due time or
 * the next tokens. The source stops being read while queued + in-flight bytes
 * are above the high-water mark and resumes below the low-water mark. An EOF
 * is forwarded as a shutdown of the destination's write side once everything
 * before it has been handed on; when both directions have shut down the
 * connection closes. A read or write error on one side resets the other.
 *
 * Memory: a chunk is also the uv_write_t of its last write and is freed by
 * the write callback; chunks still queued are freed with the connection,
 * after libuv has closed its five handles (two TCP, three timers). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/list.h"
#include "proxy_int.h"

#define RESET_GRACE_MS 10

static void pump(pdir *d);
static void reset_soon(pconn *c);

/* Close callback of each of a connection's handles: the last one frees it
 * (write callbacks, cancelled or not, have all run by then). */
static void conn_handle_closed(uv_handle_t *h)
{
    pconn *c = h->data;
    mb_proxy *p = c->p;
    if (--c->handles > 0)
        return;
    for (pdir *d = &c->up; d; d = d == &c->up ? &c->down : NULL)
        while (d->head) {
            pchunk *ch = d->head;
            d->head = ch->next;
            free(ch);
        }
    MB_LIST_REMOVE(p->conns, c, prev, next);
    free(c);
    mb_proxy_maybe_free(p);
}

/* Closes a TCP handle, with an RST when `rst` (falls back to a plain close
 * when SO_LINGER cannot be set, e.g. no socket yet or a shutdown pending). */
static void close_tcp(uv_tcp_t *t, int rst)
{
    if (rst && uv_tcp_close_reset(t, conn_handle_closed) == 0)
        return;
    uv_close((uv_handle_t *)t, conn_handle_closed);
}

/* Closes a connection once: both sockets (each with an RST if asked) and
 * its timers. Pending writes are cancelled by libuv. */
void mb_proxy_conn_close(pconn *c, int rst_client, int rst_upstream)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->p->stats.active--;
    uv_close((uv_handle_t *)&c->up.timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->down.timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->close_timer, conn_handle_closed);
    close_tcp(&c->client, rst_client);
    close_tcp(&c->upstream, rst_upstream);
}

/* An error on `d`'s source or destination: reset the side that is still
 * fine, so each peer sees what a direct connection would have shown. */
static void conn_fail(pdir *d, int src_failed)
{
    pconn *c = d->c;
    uv_tcp_t *ok = src_failed ? d->dst : d->src;
    mb_proxy_conn_close(c, ok == &c->client, ok == &c->upstream);
}

/* Every read lands in the proxy's one buffer (reads are never interleaved
 * on one thread) and is copied into a chunk of its exact size. */
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    pconn *c = h->data;
    *buf = uv_buf_init(c->p->rbuf, sizeof c->p->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Reads d's source (again), unless it has ended or the connection closes. */
static void start_read(pdir *d)
{
    if (d->reading || d->eof || d->c->closing)
        return;
    if (uv_read_start((uv_stream_t *)d->src, on_alloc, on_read) == 0)
        d->reading = 1;
}

/* Stops reading d's source: backpressure, EOF, or a reset on its way. */
static void stop_read(pdir *d)
{
    if (d->reading)
        uv_read_stop((uv_stream_t *)d->src);
    d->reading = 0;
}

/* A direction's timer: a chunk is due or tokens have accrued. */
static void on_dir_timer(uv_timer_t *t)
{
    pump((pdir *)((char *)t - offsetof(pdir, timer)));
}

/* Arms d's timer to pump again in `ns` (rounded up to libuv's 1 ms). The
 * loop time is refreshed first so the wait counts from now, not from the
 * start of this loop iteration. */
static void arm(pdir *d, uint64_t ns)
{
    uint64_t ms = (ns + 999999) / 1000000;
    uv_update_time(d->c->p->loop);
    uv_timer_start(&d->timer, on_dir_timer, ms ? ms : 1, 0);
}

/* Token bucket sizes: bytes go out in slices of 20 ms worth (at least one
 * byte) and the bucket holds two slices, so a timer that fires late loses
 * no tokens and the rate holds over any window longer than a few tens of
 * ms. */
static double bucket_slice(uint64_t rate)
{
    double slice = (double)rate / 50.0;
    return slice < 1.0 ? 1.0 : slice;
}

/* Takes up to `want` bandwidth tokens. Bytes go out in slices of at least
 * min(want, slice), never in the few tokens that accrue between two write
 * completions (which would make a busy loop of tiny writes). The bucket
 * starts empty, so even a small response pays its transmission time
 * (size / rate). Without enough tokens it arms the timer for the missing
 * ones and returns 0. */
static size_t take_tokens(pdir *d, uint64_t now, size_t want)
{
    mb_proxy *p = d->c->p;
    uint64_t rate = p->faults.bandwidth;
    double slice = bucket_slice(rate), cap = 2 * slice;
    double target = (double)want < slice ? (double)want : slice;
    if (d->rate == rate)
        d->tokens += (double)(now - d->refill_ns) * 1e-9 * (double)rate;
    d->rate = rate;
    d->refill_ns = now;
    if (d->tokens > cap)
        d->tokens = cap;
    if (d->tokens >= target) {
        size_t n = d->tokens < (double)want ? (size_t)d->tokens : want;
        d->tokens -= (double)n;
        d->throttled = 0;
        return n;
    }
    arm(d, (uint64_t)((target - d->tokens) / (double)rate * 1e9));
    if (!d->throttled)
        p->stats.throttled++;
    d->throttled = 1;
    return 0;
}

/* A write finished: count its bytes (stats count what reached the kernel)
 * and pump on; a failed write means the destination is gone, so the source
 * is reset. Cancelled writes (closing) only free their chunk. */
static void on_written(uv_write_t *req, int status)
{
    pchunk *ch = (pchunk *)req;
    pdir *d = ch->dir;
    pconn *c = d->c;
    size_t n = ch->len - ch->off;
    free(ch);
    d->inflight -= n;
    if (status < 0) {
        if (!c->closing)
            conn_fail(d, 0);
        return;
    }
    d->bytes += n;
    *d->counter += n;
    pump(d);
}

/* Hands n bytes of the head chunk to libuv: the chunk itself when they are
 * all it has left, else a copy of the slice (bandwidth / reset cuts). */
static int send_piece(pdir *d, pchunk *ch, size_t n)
{
    pchunk *w = ch;
    if (n < ch->len - ch->off) {
        w = malloc(sizeof *w + n);
        if (!w)
            return MB_ENOMEM;
        memcpy(w->data, ch->data + ch->off, n);
        w->len = n;
        w->off = 0;
        w->dir = d;
        ch->off += n;
    } else {
        d->head = ch->next;
        if (!d->head)
            d->tail = NULL;
    }
    d->queued -= n;
    d->inflight += n;
    uv_buf_t b = uv_buf_init(w->data + w->off, (unsigned)n);
    int rc = uv_write(&w->req, (uv_stream_t *)d->dst, &b, 1, on_written);
    if (rc < 0) {
        d->inflight -= n;
        free(w);
    }
    return rc;
}

/* A forwarded EOF is done; once both directions have ended (or the
 * shutdown failed: the peer is gone) the connection closes. */
static void on_shut(uv_shutdown_t *req, int status)
{
    pdir *d = req->data;
    pconn *c = d->c;
    d->shutting = 0;
    d->shut_done = 1;
    if (c->closing)
        return;
    if (status < 0 || (c->up.shut_done && c->down.shut_done))
        mb_proxy_conn_close(c, 0, 0);
}

/* Forwards the source's EOF: shuts down the destination's write side
 * (libuv does it after the writes already queued). */
static void shut_dir(pdir *d)
{
    d->shutting = 1;
    d->shut.data = d;
    if (uv_shutdown(&d->shut, (uv_stream_t *)d->dst, on_shut) < 0)
        mb_proxy_conn_close(d->c, 0, 0);
}

/* Moves due bytes from d's queue to its destination, in order, within the
 * bandwidth tokens and the high-water mark; then forwards a pending EOF,
 * fires the reset fault, or resumes reading the source. Called on every
 * read, write completion, timer and fault change. */
static void pump(pdir *d)
{
    pconn *c = d->c;
    mb_proxy *p = c->p;
    int down = d == &c->down;
    if (c->closing || c->reset_pending || (!down && !c->connected))
        return;
    uint64_t now = mb_clock_now_ns();
    uv_timer_stop(&d->timer);
    while (d->head && d->inflight < p->high_water) {
        pchunk *ch = d->head;
        size_t n = ch->len - ch->off;
        if (ch->due_ns > now) {
            arm(d, ch->due_ns - now);
            break;
        }
        if (down && c->reset_left >= 0 && (uint64_t)c->reset_left < n)
            n = (size_t)c->reset_left;
        if (n == 0)
            break;
        if (p->faults.bandwidth && (n = take_tokens(d, now, n)) == 0)
            break;
        if (send_piece(d, ch, n) < 0) {
            mb_proxy_conn_close(c, 1, 1);
            return;
        }
        if (down && c->reset_left >= 0)
            c->reset_left -= (int64_t)n;
    }
    /* reset_after_bytes: once the response has started (bytes arrived or
     * were written since the fault was armed) and its first N bytes are
     * written, the client gets an RST instead of the rest. */
    if (down && c->reset_left == 0 && d->inflight == 0 && (d->head || d->bytes > c->reset_from)) {
        if (!c->reset_pending) {
            p->stats.reset++;
            reset_soon(c);
        }
        return;
    }
    if (!d->head && d->eof && !d->shutting && !d->shut_done && !(down && p->faults.blackhole))
        shut_dir(d);
    if (d->paused && d->queued + d->inflight <= p->low_water) {
        d->paused = 0;
        start_read(d);
    }
}

/* Queues a copy of bytes read from d's source, stamped with the time they
 * may leave; pauses the source above the high-water mark. */
static int enqueue(pdir *d, const char *data, size_t n)
{
    mb_proxy *p = d->c->p;
    pchunk *ch = malloc(sizeof *ch + n);
    if (!ch)
        return MB_ENOMEM;
    memcpy(ch->data, data, n);
    ch->next = NULL;
    ch->dir = d;
    ch->len = n;
    ch->off = 0;
    double ms = p->faults.latency_ms;
    if (p->faults.jitter_ms)
        ms += mb_rng_uniform(&p->rng) * p->faults.jitter_ms;
    ch->due_ns = mb_clock_now_ns() + (uint64_t)(ms * 1e6);
    if (ms > 0)
        p->stats.delayed_chunks++;
    if (d->tail)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->queued += n;
    if (d->queued + d->inflight > p->high_water) {
        stop_read(d);
        d->paused = 1;
    }
    return 0;
}

/* Data, EOF or an error from either socket. Under the blackhole, data is
 * dropped and a client's EOF ends the connection (the client is gone); an
 * EOF from upstream is held (pump) until the blackhole is lifted. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    pconn *c = s->data;
    mb_proxy *p = c->p;
    pdir *d = (uv_tcp_t *)s == &c->client ? &c->up : &c->down;
    if (n == 0 || c->closing)
        return;
    if (n == UV_EOF) {
        d->eof = 1;
        stop_read(d);
        if (d == &c->up && (c->blackhole || p->faults.blackhole))
            mb_proxy_conn_close(c, 0, 0);
        else
            pump(d);
        return;
    }
    if (n < 0) {
        conn_fail(d, 1);
        return;
    }
    if (c->blackhole || p->faults.blackhole) {
        p->stats.bytes_dropped += (uint64_t)n;
        return;
    }
    if (enqueue(d, buf->base, (size_t)n) < 0) {
        mb_proxy_conn_close(c, 1, 1);
        return;
    }
    pump(d);
}

/* The upstream connection is up: read it and send what the client has
 * sent meanwhile. If it failed, the client is reset (as a direct
 * connection to a dead port would be refused). */
static void on_connect(uv_connect_t *req, int status)
{
    pconn *c = req->data;
    if (status == UV_ECANCELED || c->closing)
        return;
    if (status < 0) {
        c->p->stats.upstream_failed++;
        reset_soon(c);
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->upstream, 1);
    start_read(&c->down);
    pump(&c->up);
}

/* close_timer: the end of close_after_ms (FIN both ways), or of the grace
 * before a fault's RST to the client. */
static void on_close_timer(uv_timer_t *t)
{
    pconn *c = t->data;
    if (c->reset_pending) {
        mb_proxy_conn_close(c, 1, 0);
        return;
    }
    c->p->stats.closed_after++;
    mb_proxy_conn_close(c, 0, 0);
}

/* Resets the client RESET_GRACE_MS from now. The bytes it was sent are in
 * its socket by then: on loopback, data and an RST arriving together make
 * many clients (libcurl among them) drop the data, which a real network,
 * where they are apart in time, would not. Nothing is forwarded meanwhile. */
static void reset_soon(pconn *c)
{
    c->reset_pending = 1;
    stop_read(&c->up);
    stop_read(&c->down);
    uv_timer_start(&c->close_timer, on_close_timer, RESET_GRACE_MS, 0);
}

/* (Re)starts the reset_after_bytes count: N more downstream bytes from
 * now (< 0 = off). */
static void arm_reset(pconn *c, int64_t n)
{
    c->reset_left = n;
    c->reset_from = c->down.bytes + c->down.inflight;
}

/* Sets up one direction: its ends, its byte counter and its timer. */
static void dir_init(pconn *c, pdir *d, uv_tcp_t *src, uv_tcp_t *dst, uint64_t *counter)
{
    d->c = c;
    d->src = src;
    d->dst = dst;
    d->counter = counter;
    uv_timer_init(c->p->loop, &d->timer);
    d->timer.data = c;
}

/* A new client: apply the faults of the moment (refuse by reset, blackhole,
 * close_after_ms, reset_after_bytes), then connect it to the upstream. The
 * client is read at once; its bytes wait in the queue until connected. */
void mb_proxy_on_accept(void *proxy, uv_stream_t *server)
{
    mb_proxy *p = proxy;
    const mb_proxy_faults *f = &p->faults;
    /* Out of memory leaves the connection in the backlog (libuv then
     * stops watching the listener): nothing better to do. */
    pconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->p = p;
    MB_LIST_PUSH(p->conns, c, prev, next);
    p->stats.active++;
    uv_tcp_init(p->loop, &c->client);
    uv_tcp_init(p->loop, &c->upstream);
    uv_timer_init(p->loop, &c->close_timer);
    c->client.data = c->upstream.data = c->close_timer.data = c->connect.data = c;
    dir_init(c, &c->up, &c->client, &c->upstream, &p->stats.bytes_up);
    dir_init(c, &c->down, &c->upstream, &c->client, &p->stats.bytes_down);
    c->handles = CONN_HANDLES;
    arm_reset(c, f->reset_after_bytes);
    if (mb_listener_accept(server, &c->client) != 0) {
        mb_proxy_conn_close(c, 0, 0);
        return;
    }
    p->stats.accepted++;
    if (f->refuse == MB_PROXY_REFUSE_RESET) {
        p->stats.refused++;
        reset_soon(c);
        return;
    }
    if (f->close_after_ms >= 0)
        uv_timer_start(&c->close_timer, on_close_timer, (uint64_t)f->close_after_ms, 0);
    if (f->blackhole) {
        c->blackhole = 1;
        p->stats.blackholed++;
    } else if (uv_tcp_connect(&c->connect, &c->upstream, (const struct sockaddr *)&p->up_addr,
                              on_connect) != 0) {
        p->stats.upstream_failed++;
        reset_soon(c);
        return;
    }
    start_read(&c->up);
}

/* A new fault set (p->faults; `old` the previous one) reaches an open
 * connection: refuse switched on resets it (a backend that goes down loses
 * its connections, so keep-alive clients fail too); a changed
 * reset_after_bytes or close_after_ms counts from now; a new bandwidth or a
 * lifted blackhole must not wait for a timer armed under the old values. */
void mb_proxy_conn_refault(pconn *c, const mb_proxy_faults *old)
{
    mb_proxy *p = c->p;
    const mb_proxy_faults *f = &p->faults;
    if (c->closing)
        return;
    if (f->refuse != MB_PROXY_REFUSE_NONE && old->refuse == MB_PROXY_REFUSE_NONE) {
        p->stats.dropped++;
        mb_proxy_conn_close(c, 1, 0);
        return;
    }
    if (f->reset_after_bytes != old->reset_after_bytes)
        arm_reset(c, f->reset_after_bytes);
    if (f->close_after_ms != old->close_after_ms && !c->reset_pending) {
        if (f->close_after_ms < 0)
            uv_timer_stop(&c->close_timer);
        else
            uv_timer_start(&c->close_timer, on_close_timer, (uint64_t)f->close_after_ms, 0);
    }
    pump(&c->up);
    pump(&c->down);
}

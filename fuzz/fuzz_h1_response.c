/* fuzz_h1_response.c: the client's response path on the plain-HTTP/1.1
 * transport end to end -- src/client/h1/h1.c (connections, keep-alive reuse, the
 * stale-connection retry, deadlines, http_parser framing: status line,
 * headers and folds, Content-Length, chunked, EOF bodies, 1xx, HEAD) and
 * client_req.c's head, body and SSE storage and verdict.
 *
 * One loop for the whole session with a tiny loopback server on it. Per
 * input a client is made on that loop and starts one request (two when
 * asked: the second from the first one's on_done, so it takes the idle
 * keep-alive connection if there is one). The server answers each request
 * head it reads with the input's response bytes, in 1-3 pieces written one
 * loop turn apart (so they arrive as separate reads), then shuts its side
 * (or keeps it open: the request then has a short timeout). The loop runs
 * until every request is done; everything is then freed and the loop run
 * until only the server's own handles are left, so leaks are caught.
 *
 * Input: 9 header bytes (missing ones read as 0), then the response.
 *   [0] bit0 stream (SSE), bit1 HEAD, bit2 small max_body/max_line,
 *       bit3 a second request, bit4 keep the connection open (short
 *       timeout), bit5 on_events set, bits6-7 what the server does with a
 *       later request: 0 the same response, 1 closes a reused connection
 *       at once (the stale retry), 2 the response's tail from the split
 *       point [7..8] (the head part answers the first), 3 resets a reused
 *       connection
 *   [1] bits0-1 pieces (1 + its value % 3), bit2 each request is freed in its on_done,
 *       bit3 mb_client_abort_all after the server's second action, bit4
 *       the second request flips stream and HEAD, bits5-6 hooks: 1 on_sse
 *       (+ on_sse_end), 2 on_data, 3 both; bit7 the second request starts
 *       a few loop turns after the first is done (its connection idle)
 *   [2] bits0-6 L: max_body 1 + 4*L, max_line 1 + L%64 (with [0] bit2);
 *       a hook stops the transfer after L%8 events or 16*(L%8) bytes
 *       (never when 0); bit7 the server resets instead of shutting down
 *   [3..4] [5..6] piece split points, [7..8] the tail split point (u16 LE,
 *       taken modulo the response length + 1)
 * Invariants (else abort): each request gets exactly one on_done, with
 * resp->done set; err is NONE only on a 2xx, and then its message is
 * empty, else not; body_len <= max_body and <= bytes; a HEAD has no body;
 * events only on a 2xx stream (whose body is not stored), consistent with
 * mb_req_event; headers consistent with mb_req_header, names lower-cased,
 * values trimmed; a 1xx, 204 or 304 has no body; hooks see every 2xx body
 * byte (none stored then) and on_sse_end comes once, on success only;
 * timings ordered; no timeout when the server closes; every client handle
 * closed at the end. ASan/UBSan/LSan catch the rest.
 * FUZZ_H1_TRACE=1 prints what each request got (to read a reproducer):
 *   FUZZ_H1_TRACE=1 build-fuzz/fuzz_h1_response fuzz/corpus/h1_response/X */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "mlxbench/client.h"
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "client_int.h"

#define HDR 9
#define SAFETY_TIMEOUT_MS 5000   /* the server closes: never reached */
#define SHORT_TIMEOUT_MS 10      /* the server keeps the connection open */
#define DEADLINE_MS 8000         /* a request still not done: a hang */
#define MAX_SEG 16

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "fuzz_h1_response: invariant failed: %s (line %d)\n", \
                    #c, __LINE__);                                                 \
            abort();                                                               \
        }                                                                          \
    } while (0)

enum { A_WRITE, A_SHUT, A_RST };

typedef struct seg {
    const uint8_t *p;
    size_t n;
    int act;
} seg;

/* A server-side connection: the request heads it has read, the actions
 * (writes, shutdown, reset) queued for the check phase. */
typedef struct sconn {
    uv_tcp_t tcp;
    struct sconn *next;
    char in[8192];
    size_t inlen;
    int nreq;                    /* request heads answered on it */
    seg q[MAX_SEG];
    int qh, qn;
    int closing, shut;
} sconn;

typedef struct slot {
    mb_req *r;
    int started, ndone, freed, head, stream, hooks;
    size_t last_nev;
    size_t nsse, nsse_end;       /* hook calls */
    int end_truncated;
    uint64_t data_bytes;
} slot;

static uv_loop_t loop;
static uv_tcp_t listener;
static uv_check_t check;         /* writes one queued action per connection */
static uv_idle_t idle;           /* keeps the poll from blocking meanwhile */
static int port;
static int trace;

static struct {
    const uint8_t *resp;         /* the response bytes */
    size_t n, sep;
    uint8_t f0, f1, lim;
    size_t cut_a, cut_b;
    int nserved, nactions, aborted, want2;
    sconn *conns;
    mb_client *c;
    slot s[2];
    size_t max_body;             /* as the client applies it */
} T;

/* ---- the server ---------------------------------------------------- */

static void sconn_closed(uv_handle_t *h)
{
    sconn *sc = h->data, **pp = &T.conns;
    while (*pp != sc)
        pp = &(*pp)->next;
    *pp = sc->next;
    free(sc);
}

static void sconn_close(sconn *sc, int reset)
{
    if (sc->closing)
        return;
    sc->closing = 1;
    sc->qn = 0;
    if (!reset || uv_tcp_close_reset(&sc->tcp, sconn_closed) != 0)
        uv_close((uv_handle_t *)&sc->tcp, sconn_closed);
}

static void idle_cb(uv_idle_t *h)
{
    (void)h;
}

static void queue(sconn *sc, const uint8_t *p, size_t n, int act)
{
    CHECK(sc->qn < MAX_SEG);
    sc->q[(sc->qh + sc->qn++) % MAX_SEG] = (seg){p, n, act};
    uv_idle_start(&idle, idle_cb);
}

/* Queues the answer to one request head: the response (or the part this
 * request gets) in pieces, then the shutdown unless the connection stays
 * open; a reused connection may be closed or reset instead. */
static void serve(sconn *sc)
{
    int j = sc->nreq++, g = T.nserved++, mode = T.f0 >> 6;
    const uint8_t *p = T.resp;
    size_t n = T.n, a, b;
    if (g == 0 && mode == 2) {
        n = T.sep;
    } else if (g > 0 && mode == 2) {
        p += T.sep;
        n -= T.sep;
    } else if (j > 0 && (mode == 1 || mode == 3)) {
        queue(sc, NULL, 0, mode == 1 ? A_SHUT : A_RST);
        return;
    }
    a = T.cut_a % (n + 1);
    b = T.cut_b % (n + 1);
    if (a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    switch ((T.f1 & 3) % 3) {
    case 0:
        a = b = n;
        break;
    case 1:
        b = n;
        break;
    }
    if (a)
        queue(sc, p, a, A_WRITE);
    if (b > a)
        queue(sc, p + a, b - a, A_WRITE);
    if (n > b)
        queue(sc, p + b, n - b, A_WRITE);
    if (!(T.f0 & 16))
        queue(sc, NULL, 0, T.lim & 128 ? A_RST : A_SHUT);
}

static void s_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    sconn *sc = h->data;
    (void)suggested;
    *b = uv_buf_init(sc->in + sc->inlen, (unsigned)(sizeof sc->in - sc->inlen));
}

/* The end of the first request head in sc->in, or NULL. */
static char *head_end(sconn *sc)
{
    for (size_t i = 0; i + 4 <= sc->inlen; i++)
        if (memcmp(sc->in + i, "\r\n\r\n", 4) == 0)
            return sc->in + i;
    return NULL;
}

static void s_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    sconn *sc = s->data;
    char *e;
    (void)b;
    if (nread < 0) {
        CHECK(nread != UV_ENOBUFS);   /* request heads are small */
        sconn_close(sc, 0);
        return;
    }
    sc->inlen += (size_t)nread;
    while (!sc->closing && (e = head_end(sc))) {
        size_t k = (size_t)(e + 4 - sc->in);
        CHECK(memcmp(sc->in, "GET / HTTP/1.1\r\n", 16) == 0
              || memcmp(sc->in, "HEAD / HTTP/1.1\r\n", 17) == 0);
        memmove(sc->in, sc->in + k, sc->inlen - k);
        sc->inlen -= k;
        serve(sc);
    }
}

static void s_connection(uv_stream_t *l, int status)
{
    sconn *sc;
    CHECK(status == 0);
    CHECK((sc = calloc(1, sizeof *sc)) != NULL);
    uv_tcp_init(&loop, &sc->tcp);
    sc->tcp.data = sc;
    sc->next = T.conns;
    T.conns = sc;
    CHECK(uv_accept(l, (uv_stream_t *)&sc->tcp) == 0);
    uv_read_start((uv_stream_t *)&sc->tcp, s_alloc, s_read);
}

static void s_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void s_shut(uv_shutdown_t *r, int status)
{
    sconn *sc = r->data;
    (void)status;
    free(r);
    if (status != UV_ECANCELED)
        sconn_close(sc, 0);
}

/* Performs one queued action of sc. */
static void act(sconn *sc)
{
    seg s = sc->q[sc->qh];
    sc->qh = (sc->qh + 1) % MAX_SEG;
    sc->qn--;
    T.nactions++;
    if (s.act == A_WRITE) {
        uv_write_t *w = malloc(sizeof *w);
        uv_buf_t buf = uv_buf_init((char *)s.p, (unsigned)s.n);
        CHECK(w != NULL);
        if (uv_write(w, (uv_stream_t *)&sc->tcp, &buf, 1, s_written) != 0) {
            free(w);
            sconn_close(sc, 0);
        }
    } else if (s.act == A_RST) {
        sconn_close(sc, 1);
    } else if (!sc->shut) {
        uv_shutdown_t *r = malloc(sizeof *r);
        CHECK(r != NULL);
        sc->shut = 1;
        sc->qn = 0;
        r->data = sc;
        if (uv_shutdown(r, (uv_stream_t *)&sc->tcp, s_shut) != 0) {
            free(r);
            sconn_close(sc, 0);
        }
    }
}

/* After each poll: one action per connection, so the client reads each
 * piece before the next is written. */
static void check_cb(uv_check_t *h)
{
    int pending = 0;
    (void)h;
    for (sconn *sc = T.conns; sc; sc = sc->next) {
        if (sc->closing || !sc->qn)
            continue;
        act(sc);
        pending |= !sc->closing && sc->qn;
        if (T.nactions == 2 && (T.f1 & 8) && T.c && !T.aborted) {
            T.aborted = 1;
            mb_client_abort_all(T.c, "fuzz abort");
        }
    }
    if (!pending)
        uv_idle_stop(&idle);
}

/* ---- the client ---------------------------------------------------- */

static void touch(const char *p, size_t n)
{
    volatile unsigned char x = 0;
    for (size_t i = 0; i < n; i++)
        x ^= (unsigned char)p[i];
    (void)x;
}

/* Stored events: as many as nevents says, readable, stamped after start. */
static void check_events(const mb_req *r)
{
    const mb_resp *s = mb_req_resp(r);
    mb_resp_event e;
    for (size_t i = 0; i < s->nevents; i++) {
        CHECK(mb_req_event(r, i, &e) == 0);
        touch(e.type, e.type_len);
        touch(e.data, e.data_len);
        touch(e.id, e.id_len);
        CHECK(e.type_len > 0);
        CHECK(e.retry >= -1);
        CHECK(e.t_ns >= s->start_ns);
    }
    CHECK(mb_req_event(r, s->nevents, &e) == MB_ERANGE);
}

static void check_req(slot *sl)
{
    const mb_req *r = sl->r;
    const mb_resp *s = mb_req_resp(r);
    mb_resp_header h;
    int ok2xx = s->status >= 200 && s->status <= 299;
    CHECK(r->tp == &mb_transport_h1);  /* the transport under test */
    CHECK(s->done);
    CHECK(s->status == 0 || (s->status >= 100 && s->status <= 999));
    CHECK(s->http_version == 0 || s->http_version == 10 || s->http_version == 11
          || s->http_version == 20);    /* what libcurl accepts on HTTP/1 */
    if (s->status / 100 == 1 || s->status == 204 || s->status == 304)
        CHECK(s->bytes == 0);           /* no body, whatever Content-Length says */
    CHECK(mb_err_kind_name(s->err) != NULL || s->err == MB_ERR_NONE);
    if (s->err == MB_ERR_NONE)
        CHECK(ok2xx && s->err_msg[0] == 0);
    else   /* says why, without a counter that was never set (ULLONG_MAX) */
        CHECK(s->err_msg[0] != 0
              && strncmp(s->err_msg, "transfer closed with 18446744073709551615 ", 42) != 0);
    if (!(T.f0 & 16))
        CHECK(s->err != MB_ERR_TIMEOUT);   /* the server always closes */
    CHECK(s->body != NULL && s->body[s->body_len] == 0);
    touch(s->body, s->body_len);
    CHECK(s->body_len <= T.max_body);
    CHECK(s->body_len <= s->bytes);
    if (sl->head)
        CHECK(s->bytes == 0 && s->body_len == 0);
    if (s->err == MB_ERR_NONE && !sl->stream && !(sl->hooks & 2))
        CHECK(s->body_len == s->bytes);
    if ((sl->stream || (sl->hooks & 2)) && ok2xx)
        CHECK(s->body_len == 0);
    if (!sl->stream || !ok2xx || sl->hooks)
        CHECK(s->nevents == 0);         /* hooks: nothing stored */
    if ((sl->hooks & 2) && ok2xx) {
        CHECK(sl->nsse == 0 && sl->data_bytes <= s->bytes);
        if (s->err == MB_ERR_NONE)
            CHECK(sl->data_bytes == s->bytes);
    }
    CHECK(sl->nsse_end <= 1);
    if (sl->hooks == 1 && sl->stream && ok2xx && s->err == MB_ERR_NONE)
        CHECK(sl->nsse_end == 1 && sl->end_truncated == s->truncated);
    else
        CHECK(sl->nsse_end == 0);
    check_events(r);
    CHECK(s->nheaders <= MB_CLIENT_MAX_HEADERS);
    for (size_t i = 0; i < s->nheaders; i++) {
        CHECK(mb_req_header(r, i, &h) == 0);
        touch(h.name, h.name_len);
        touch(h.value, h.value_len);
        CHECK(h.name_len > 0);
        for (size_t k = 0; k < h.name_len; k++)
            CHECK(!(h.name[k] >= 'A' && h.name[k] <= 'Z'));
        if (h.value_len) {
            CHECK(h.value[0] != ' ' && h.value[0] != '\t');
            CHECK(h.value[h.value_len - 1] != ' ' && h.value[h.value_len - 1] != '\t');
        }
    }
    CHECK(mb_req_header(r, s->nheaders, &h) == MB_ERANGE);
    CHECK(s->t.done >= 0);
    CHECK(s->t.ttfb <= s->t.done && s->t.connect <= s->t.done);
    if (s->err == MB_ERR_NONE)
        CHECK(s->t.ttfb >= 0 && (s->reused || s->t.connect >= 0));
    if (sl == &T.s[0])
        CHECK(!s->reused);
}

static void start(int i);

static int hook_sse(void *ud, const mb_sse_event *ev, uint64_t t_ns)
{
    slot *sl = ud;
    CHECK(sl->ndone == 0 && sl->nsse_end == 0 && t_ns >= mb_req_resp(sl->r)->start_ns);
    touch(ev->type, ev->type_len);
    touch(ev->data, ev->data_len);
    touch(ev->id, ev->id_len);
    CHECK(!ev->partial);
    return ++sl->nsse == (size_t)(T.lim & 7);
}

static void hook_sse_end(void *ud, int truncated, const mb_sse_event *partial, uint64_t t_ns)
{
    slot *sl = ud;
    CHECK(sl->ndone == 0 && t_ns >= mb_req_resp(sl->r)->start_ns);
    CHECK(truncated == 0 || truncated == 1);
    if (partial) {
        CHECK(truncated && partial->partial);
        touch(partial->data, partial->data_len);
    }
    sl->nsse_end++;
    sl->end_truncated = truncated;
}

static int hook_data(void *ud, const char *p, size_t n, uint64_t t_ns)
{
    slot *sl = ud;
    uint64_t stop = 16 * (uint64_t)(T.lim & 7);
    CHECK(sl->ndone == 0 && n > 0 && t_ns >= mb_req_resp(sl->r)->start_ns);
    touch(p, n);
    sl->data_bytes += n;
    return stop && sl->data_bytes >= stop;
}

static void on_events(mb_req *r, void *ud)
{
    slot *sl = ud;
    const mb_resp *s = mb_req_resp(r);
    CHECK(sl->r == r && sl->ndone == 0);
    CHECK(!s->done);                    /* not once on_done is due */
    CHECK(s->nevents > sl->last_nev);   /* only for new events */
    sl->last_nev = s->nevents;
    check_events(r);
}

static void on_done(mb_req *r, void *ud)
{
    slot *sl = ud;
    const mb_resp *s = mb_req_resp(r);
    CHECK(sl->r == r && !sl->freed);
    CHECK(++sl->ndone == 1);
    CHECK(s->nevents >= sl->last_nev);
    check_req(sl);
    if (trace)   /* FUZZ_H1_TRACE=1: what each request of a reproducer got */
        fprintf(stderr, "req %d: status %d v%d err %s (%s) reused %d bytes %llu body %zu "
                "headers %zu events %zu truncated %d\n", (int)(sl - T.s), s->status,
                s->http_version, s->err ? mb_err_kind_name(s->err) : "none", s->err_msg,
                s->reused, (unsigned long long)s->bytes, s->body_len, s->nheaders, s->nevents,
                s->truncated);
    if (sl == &T.s[0] && (T.f0 & 8)) {
        if (T.f1 & 128)
            T.want2 = 1;                /* later: the connection sits idle */
        else
            start(1);                   /* takes the idle connection, if any */
    }
    if (T.f1 & 4) {
        mb_req_free(r);
        sl->freed = 1;
    }
}

static void start(int i)
{
    slot *sl = &T.s[i];
    int flip = i == 1 && (T.f1 & 16);
    char url[64];
    mb_req_opts o;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    memset(&o, 0, sizeof o);
    sl->stream = (T.f0 & 1) ^ flip;
    sl->head = ((T.f0 >> 1) & 1) ^ flip;
    o.url = url;
    o.method = sl->head ? "HEAD" : NULL;
    o.stream = sl->stream;
    o.proxy = "";                       /* never an environment proxy */
    o.timeout_ms = T.f0 & 16 ? SHORT_TIMEOUT_MS : SAFETY_TIMEOUT_MS;
    if (T.f0 & 4) {
        o.max_body = 1 + 4 * (size_t)(T.lim & 127);
        o.max_line = 1 + (size_t)(T.lim % 64);
    }
    sl->hooks = (T.f1 >> 5) & 3;
    if (sl->hooks & 1) {
        o.on_sse = hook_sse;
        o.on_sse_end = hook_sse_end;
    }
    if (sl->hooks & 2)
        o.on_data = hook_data;
    o.hook_ud = sl;
    T.max_body = o.max_body ? o.max_body : MB_DEFAULT_MAX_BODY;
    o.on_done = on_done;
    o.on_events = T.f0 & 32 ? on_events : NULL;
    o.ud = sl;
    sl->started = 1;
    CHECK(mb_req_start(T.c, &o, &sl->r) == 0);
}

/* ---- the session --------------------------------------------------- */

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static void setup(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    const char *tr = getenv("FUZZ_H1_TRACE");
    trace = tr && *tr && strcmp(tr, "0") != 0;
    signal(SIGPIPE, SIG_IGN);
    unsetenv("MLXBENCH_HTTP");
    unsetenv("MLXBENCH_CURL_VERBOSE");
    CHECK(uv_loop_init(&loop) == 0);
    CHECK(uv_ip4_addr("127.0.0.1", 0, &a) == 0);
    uv_tcp_init(&loop, &listener);
    CHECK(uv_tcp_bind(&listener, (const struct sockaddr *)&a, 0) == 0);
    CHECK(uv_listen((uv_stream_t *)&listener, 64, s_connection) == 0);
    CHECK(uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len) == 0);
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uv_check_init(&loop, &check);
    uv_check_start(&check, check_cb);
    uv_idle_init(&loop, &idle);
    /* none of the server's own handles keeps the loop alive */
    uv_unref((uv_handle_t *)&listener);
    uv_unref((uv_handle_t *)&check);
    uv_unref((uv_handle_t *)&idle);
}

static size_t u16(const uint8_t *d, size_t size, size_t i)
{
    return (i < size ? d[i] : 0) | (size_t)(i + 1 < size ? d[i + 1] : 0) << 8;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t end;
    int nh = 0;
    if (!port)
        setup();
    memset(&T, 0, sizeof T);
    T.f0 = size > 0 ? data[0] : 0;
    T.f1 = size > 1 ? data[1] : 0;
    T.lim = size > 2 ? data[2] : 0;
    T.cut_a = u16(data, size, 3);
    T.cut_b = u16(data, size, 5);
    T.resp = size > HDR ? data + HDR : (const uint8_t *)"";
    T.n = size > HDR ? size - HDR : 0;
    T.sep = u16(data, size, 7) % (T.n + 1);
    CHECK(mb_client_new(&T.c, &loop) == 0);
    start(0);
    end = mb_clock_now_ns() + (uint64_t)DEADLINE_MS * 1000000u;
    for (;;) {
        int busy = 0;
        if (T.want2 && !T.s[1].started) {
            for (int k = 0; k < 4; k++)
                uv_run(&loop, UV_RUN_NOWAIT);   /* the server's leftovers */
            start(1);
        }
        for (int i = 0; i < 2; i++)
            busy |= T.s[i].started && !T.s[i].ndone;
        if (!busy)
            break;
        CHECK(mb_clock_now_ns() < end);   /* every request ends, at worst by its timeout */
        uv_run(&loop, UV_RUN_ONCE);
    }
    for (int i = 0; i < 2; i++) {
        if (T.s[i].started && !T.s[i].freed) {
            check_req(&T.s[i]);
            mb_req_free(T.s[i].r);
        }
    }
    CHECK(mb_client_active(T.c) == 0);
    mb_client_free(T.c);
    T.c = NULL;
    for (sconn *sc = T.conns; sc; sc = sc->next)
        sconn_close(sc, 0);
    uv_idle_stop(&idle);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(T.conns == NULL);
    uv_walk(&loop, count_handle, &nh);
    CHECK(nh == 3);                      /* listener, check, idle: the client's are gone */
    return 0;
}

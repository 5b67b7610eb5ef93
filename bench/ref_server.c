/* ref_server.c: a precise reference server for timing tests and
 * bench/truth_at_scale.sh -- an OpenAI-style streaming chat endpoint whose
 * every token leaves at an absolute deadline, and which logs when each one
 * actually left, so a client's stamps can be judged against the truth.
 *
 *   ref_server [--port N] [--interval-ms 20] [--ttft-ms 50] [--tokens 50]
 *              [--align grid|arrival] [--log FILE]
 *
 * It prints its URL (http://127.0.0.1:PORT) on stdout, serves until SIGTERM
 * or SIGINT, then writes FILE and a summary of its own emission on stderr.
 *
 * POST /v1/chat/completions answers at once with the head of a chunked
 * text/event-stream, then one content chunk per token (max_tokens of the
 * request, else --tokens), each its own send(2): the first at arrival +
 * ttft, the next ones interval apart. With --align grid (a batching
 * server) deadlines sit on one grid of ticks interval apart shared by
 * every stream: the first token at the first tick after arrival + ttft, so
 * streams started together emit in bursts, one event each per tick, in a
 * stable order. With --align arrival each stream keeps its own phase. The
 * last token's chunk carries the finish reason, usage and [DONE] in the
 * same send. Keep-alive: the connection then reads the next request.
 * x-mock-request-id names a request in the log (else "c<conn>-<n>").
 *
 * Deadlines are kept in a heap and met by one nanosecond timer (the
 * platform's: timerfd on Linux, kqueue on macOS) armed for the earliest;
 * when it fires, every due token goes out in deadline order. Each send is
 * stamped just before and after (CLOCK_MONOTONIC, the clock mlxbench and
 * Python's perf_counter read on Linux). Lateness = before - deadline; the
 * emission jitter of a stream is the change of lateness between two
 * consecutive tokens (its actual gap minus the nominal one).
 *
 * Log (--log), one line per request and per token:
 *   R <id> <arrival_ns> <tokens>
 *   E <id> <k> <deadline_ns> <before_ns> <after_ns>      (k = 0 .. tokens-1)
 *
 * A test and benchmark tool, not part of mlxbench: it links the platform
 * layer for its timer and libuv for its sockets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>
#include "mlxbench/clock.h"
#include "mlxbench/platform.h"

#define MS 1000000ull
#define RBUF 65536

typedef struct conn {
    uv_tcp_t tcp;
    char buf[RBUF];
    size_t len;
    int num, nreq;              /* connection number, requests on it */
    int streaming;              /* a response is being emitted */
    char id[96];
    int k, n;                   /* next token, tokens of the response */
    uint32_t req;               /* its entry in the request log */
    uint64_t arrival, deadline, seq;
    size_t hi;                  /* position in the heap */
} conn;

typedef struct ev { uint32_t req, k; uint64_t deadline, before, after; } ev;
typedef struct rq { char id[96]; uint64_t arrival; int n; } rq;

static uv_loop_t *loop;
static mb_ptimer *timer;
static conn **heap;
static size_t nheap, heapcap;
static ev *evs;
static size_t nevs, evcap;
static rq *reqs;
static size_t nreqs, reqcap;
static uint64_t interval_ns = 20 * MS, ttft_ns = 50 * MS, grid0, seqno;
static int default_tokens = 50, align_grid = 1, nconns, failures;
static const char *log_path;

/* ---- the deadline heap (by deadline, then creation order) ------------ */

static int before(const conn *a, const conn *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(size_t i, conn *c)
{
    heap[i] = c;
    c->hi = i;
}

static void sift_up(size_t i)
{
    conn *c = heap[i];
    while (i > 0 && before(c, heap[(i - 1) / 2])) {
        heap_set(i, heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(i, c);
}

static void sift_down(size_t i)
{
    conn *c = heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        conn *best = c;
        if (l < nheap && before(heap[l], best))
            m = l, best = heap[l];
        if (l + 1 < nheap && before(heap[l + 1], best))
            m = l + 1, best = heap[l + 1];
        if (m == i)
            break;
        heap_set(i, heap[m]);
        i = m;
    }
    heap_set(i, c);
}

static void heap_push(conn *c)
{
    if (nheap == heapcap) {
        heapcap = heapcap ? 2 * heapcap : 1024;
        heap = realloc(heap, heapcap * sizeof *heap);
        if (!heap)
            abort();
    }
    heap[nheap++] = c;
    sift_up(nheap - 1);
}

static void heap_remove(conn *c)
{
    size_t i = c->hi;
    conn *last = heap[--nheap];
    if (i < nheap) {
        heap_set(i, last);
        sift_up(i);
        sift_down(last->hi);
    }
}

/* ---- the log ---------------------------------------------------------- */

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? 2 * *cap : 4096;
    p = realloc(p, *cap * size);
    if (!p)
        abort();
    return p;
}

/* ---- emission --------------------------------------------------------- */

static void rearm(void)
{
    if (nheap)
        mb_ptimer_arm(timer, heap[0]->deadline);
    else
        mb_ptimer_disarm(timer);
}

static void conn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(conn *c)
{
    if (c->streaming) {
        heap_remove(c);
        c->streaming = 0;
    }
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

/* Writes all of p now (small: the socket buffer takes it) or counts a
 * failure and closes: a server that must queue is no reference. */
static int send_now(conn *c, const char *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (w != (int)n) {
        failures++;
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Sends token k of c's response as one chunk (the last with usage and
 * [DONE]), logged with its deadline and the stamps around the send. */
static void emit(conn *c)
{
    char body[512], out[640];
    int last = c->k == c->n - 1;
    int bl = snprintf(body, sizeof body,
                      "data: {\"id\":\"chatcmpl-ref\",\"object\":\"chat.completion.chunk\","
                      "\"created\":0,\"model\":\"ref\",\"choices\":[{\"index\":0,\"delta\":"
                      "{\"content\":\"tok%d \"},\"finish_reason\":null}]}\n\n", c->k);
    if (last)
        bl += snprintf(body + bl, sizeof body - (size_t)bl,
                       "data: {\"id\":\"chatcmpl-ref\",\"object\":\"chat.completion.chunk\","
                       "\"created\":0,\"model\":\"ref\",\"choices\":[{\"index\":0,\"delta\":{},"
                       "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":8,"
                       "\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n",
                       c->n, c->n + 8);
    int ol = snprintf(out, sizeof out, "%x\r\n%.*s\r\n%s", bl, bl, body, last ? "0\r\n\r\n" : "");
    evs = grow(evs, &evcap, nevs, sizeof *evs);
    ev *e = &evs[nevs++];
    e->req = c->req;
    e->k = (uint32_t)c->k;
    e->deadline = c->deadline;
    e->before = mb_clock_now_ns();
    int rc = send_now(c, out, (size_t)ol);
    e->after = mb_clock_now_ns();
    (void)rc;
}

static void serve(conn *c);

/* The timer: every token whose deadline has passed goes out, earliest
 * first; then the timer is armed for the next one. */
static void fired(void *ud)
{
    (void)ud;
    uint64_t now = mb_clock_now_ns();
    while (nheap && heap[0]->deadline <= now) {
        conn *c = heap[0];
        heap_remove(c);
        c->streaming = 0;
        emit(c);
        now = evs[nevs - 1].after;
        if (uv_is_closing((uv_handle_t *)&c->tcp))
            continue;
        if (++c->k < c->n) {
            c->deadline += interval_ns;
            c->streaming = 1;
            heap_push(c);
        } else {
            serve(c);   /* a request sent meanwhile (pipelined) */
        }
    }
    rearm();
}

/* ---- requests --------------------------------------------------------- */

/* The value of header `name` in the head (NUL-terminated copy), or "". */
static void header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = 0;
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return;
        }
    }
}

/* A complete request at the front of c->buf: start its stream. Returns the
 * bytes it took, 0 when incomplete, -1 to close. */
static long request(conn *c)
{
    char *end = strstr(c->buf, "\r\n\r\n"), v[96];
    if (!end)
        return c->len >= RBUF - 1 ? -1 : 0;
    *end = 0;
    header(c->buf, "content-length", v, sizeof v);
    size_t head = (size_t)(end - c->buf) + 4, body = (size_t)strtoul(v, NULL, 10);
    if (head + body > RBUF - 1)
        return -1;
    if (c->len < head + body) {
        *end = '\r';
        return 0;
    }
    uint64_t now = mb_clock_now_ns();
    if (strncmp(c->buf, "POST ", 5) != 0 || !strstr(c->buf, "/chat/completions ")) {
        static const char nf[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        return send_now(c, nf, sizeof nf - 1) < 0 ? -1 : (long)(head + body);
    }
    header(c->buf, "x-mock-request-id", v, sizeof v);
    if (v[0])
        snprintf(c->id, sizeof c->id, "%s", v);
    else
        snprintf(c->id, sizeof c->id, "c%d-%d", c->num, c->nreq);
    c->nreq++;
    char save = c->buf[head + body];
    c->buf[head + body] = 0;
    const char *mt = strstr(c->buf + head, "\"max_tokens\"");
    c->buf[head + body] = save;
    c->n = default_tokens;
    if (mt && (mt = strchr(mt, ':')))
        c->n = atoi(mt + 1) > 0 ? atoi(mt + 1) : default_tokens;
    c->k = 0;
    c->arrival = now;
    uint64_t first = now + ttft_ns;
    if (align_grid)
        first = grid0 + (first - grid0 + interval_ns - 1) / interval_ns * interval_ns;
    c->deadline = first;
    c->seq = seqno++;
    reqs = grow(reqs, &reqcap, nreqs, sizeof *reqs);
    c->req = (uint32_t)nreqs;
    rq *q = &reqs[nreqs++];
    snprintf(q->id, sizeof q->id, "%s", c->id);
    q->arrival = now;
    q->n = c->n;
    static const char hd[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (send_now(c, hd, sizeof hd - 1) < 0)
        return -1;
    c->streaming = 1;
    heap_push(c);
    rearm();
    return (long)(head + body);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    conn *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(RBUF - 1 - c->len));
}

/* Starts the requests waiting in c->buf, one at a time. */
static void serve(conn *c)
{
    while (!c->streaming && c->len) {
        long took = request(c);
        if (took < 0) {
            conn_close(c);
            return;
        }
        if (took == 0)
            break;
        memmove(c->buf, c->buf + took, c->len - (size_t)took);
        c->len -= (size_t)took;
        c->buf[c->len] = 0;
    }
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn *c = s->data;
    (void)b;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = 0;
    serve(c);
}

static void on_conn(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->num = ++nconns;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* ---- the end: the log and a summary of the server's own emission ------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    return (double)v[i < n ? i : n - 1] * 1e-6;
}

static void finish(void)
{
    FILE *f = log_path ? fopen(log_path, "w") : NULL;
    if (log_path && !f)
        fprintf(stderr, "ref_server: cannot write %s: %s\n", log_path, strerror(errno));
    uint64_t *late = malloc((nevs + 1) * sizeof *late), *jit = malloc((nevs + 1) * sizeof *jit);
    size_t nj = 0;
    if (!late || !jit)
        abort();
    if (f)
        for (size_t i = 0; i < nreqs; i++)
            fprintf(f, "R %s %llu %d\n", reqs[i].id, (unsigned long long)reqs[i].arrival, reqs[i].n);
    for (size_t i = 0; i < nevs; i++) {
        const ev *e = &evs[i];
        late[i] = e->before > e->deadline ? e->before - e->deadline : 0;
        if (f)
            fprintf(f, "E %s %u %llu %llu %llu\n", reqs[e->req].id, e->k,
                    (unsigned long long)e->deadline, (unsigned long long)e->before,
                    (unsigned long long)e->after);
    }
    /* jitter: the change of lateness between a stream's consecutive
     * tokens (the log is in send order) */
    int64_t *prev = malloc((nreqs + 1) * sizeof *prev);
    if (!prev)
        abort();
    for (size_t i = 0; i < nevs; i++) {
        const ev *e = &evs[i];
        int64_t l = (int64_t)e->before - (int64_t)e->deadline;
        if (e->k > 0) {
            int64_t d = l - prev[e->req];
            jit[nj++] = (uint64_t)(d < 0 ? -d : d);
        }
        prev[e->req] = l;
    }
    if (f)
        fclose(f);
    qsort(late, nevs, sizeof *late, cmp_u64);
    qsort(jit, nj, sizeof *jit, cmp_u64);
    fprintf(stderr, "ref_server: %zu requests, %zu tokens, %d send failures; lateness p50 %.3f "
            "p99 %.3f max %.3f ms; jitter p50 %.3f p99 %.3f max %.3f ms (timer: %s)\n",
            nreqs, nevs, failures, pct(late, nevs, 50), pct(late, nevs, 99),
            nevs ? (double)late[nevs - 1] * 1e-6 : 0, pct(jit, nj, 50), pct(jit, nj, 99),
            nj ? (double)jit[nj - 1] * 1e-6 : 0, mb_ptimer_kind(timer));
    free(prev);
    free(late);
    free(jit);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    finish();
    uv_stop(s->loop);
}

static void usage(void)
{
    fprintf(stderr, "usage: ref_server [--port N] [--interval-ms 20] [--ttft-ms 50] "
                    "[--tokens 50] [--align grid|arrival] [--log FILE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--interval-ms") == 0)
            interval_ns = (uint64_t)(atof(v) * 1e6);
        else if (strcmp(a, "--ttft-ms") == 0)
            ttft_ns = (uint64_t)(atof(v) * 1e6);
        else if (strcmp(a, "--tokens") == 0)
            default_tokens = atoi(v);
        else if (strcmp(a, "--align") == 0 && (strcmp(v, "grid") == 0 || strcmp(v, "arrival") == 0))
            align_grid = strcmp(v, "grid") == 0;
        else if (strcmp(a, "--log") == 0)
            log_path = v;
        else
            usage();
    }
    if (!interval_ns || default_tokens < 1)
        usage();
    mb_plat_ignore_sigpipe();
    mb_plat_raise_fd_limit();
    loop = uv_default_loop();
    grid0 = mb_clock_now_ns();
    if (mb_ptimer_new(&timer, loop, fired, NULL) < 0)
        return 1;
    uv_tcp_t srv;
    struct sockaddr_in addr;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &srv);
    if (uv_tcp_bind(&srv, (const struct sockaddr *)&addr, 0) < 0
        || uv_listen((uv_stream_t *)&srv, 4096, on_conn) < 0) {
        fprintf(stderr, "ref_server: cannot listen on port %d\n", port);
        return 1;
    }
    uv_tcp_getsockname(&srv, (struct sockaddr *)&ss, &len);
    printf("http://127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);
    uv_signal_t s1, s2;
    uv_signal_init(loop, &s1);
    uv_signal_init(loop, &s2);
    uv_signal_start(&s1, on_signal, SIGTERM);
    uv_signal_start(&s2, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

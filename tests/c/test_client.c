/* test_client.c: the C HTTP client (src/client/) against a tiny HTTP
 * server living on the same libuv loop: results, header parsing, SSE hooks
 * and storage, notifications after socket_action (new requests and frees
 * from inside them), cancel, timeout, refused, freeing the client with
 * requests in flight (run under ASan for leaks), and the receive stamps
 * against a server thread that logs when it sent each piece: the kernel's
 * on the HTTP/1.1 transport on Linux, user-space ones on libcurl
 * (MLXBENCH_HTTP=curl), the portable build and with MLXBENCH_STAMPS=user. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <uv.h>
#include "mb_test.h"
#include "mlxbench/client.h"
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/net.h"
#include "mlxbench/platform.h"

static uv_loop_t loop;
static int port;
static char base[64];

/* --- the server ---------------------------------------------------------- */

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    char buf[4096];
    size_t len;
    int piece, closed;
    const char *const *pieces;
} conn;

static const char HELLO[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Folded: a\r\n  b\r\nX-Dup: 1\r\n"
    "Content-Type: text/plain\r\nX-Dup: 2\r\n\r\nhello";
static const char NOTFOUND[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope";
static const char SSE_HEAD[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
/* body pieces, each sent as its own chunk 5 ms apart; ends mid-event */
static const char *const SSE[] = {"data: one\n\nda", "ta: tw", "o\nid: 7\n\n",
                                  "event: x\ndata: three\n\n", "data: pa", NULL};

/* Each connection has two handles; it is freed when both have closed. */
static void conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (++c->closed == 2)
        free(c);
}

static void conn_close(conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, conn_closed);
}

static void write_static(conn *c, const char *s)
{
    uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);   /* small: goes at once */
}

/* Sends the next SSE piece as one chunk every 5 ms (separate TCP writes),
 * then the last chunk. */
static void piece_cb(uv_timer_t *t)
{
    conn *c = t->data;
    char chunk[256];
    const char *p = c->pieces[c->piece++];
    if (!p) {
        write_static(c, "0\r\n\r\n");
        uv_timer_stop(t);
        return;
    }
    snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(p), p);
    write_static(c, chunk);
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    conn *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
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
    if (!strstr(c->buf, "\r\n\r\n"))
        return;
    if (strncmp(c->buf, "GET /hello ", 11) == 0) {
        write_static(c, HELLO);
    } else if (strncmp(c->buf, "GET /sse ", 9) == 0) {
        write_static(c, SSE_HEAD);
        c->pieces = SSE;
        c->piece = 0;
        uv_timer_start(&c->timer, piece_cb, 5, 5);
    } else if (strncmp(c->buf, "GET /hang ", 10) == 0) {
        /* never answer */
    } else {
        write_static(c, NOTFOUND);
    }
    c->len = 0;
}

static void on_conn(uv_stream_t *srv, int status)
{
    conn *c = calloc(1, sizeof *c);
    (void)status;
    uv_tcp_init(&loop, &c->tcp);
    uv_timer_init(&loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    uv_accept(srv, (uv_stream_t *)&c->tcp);
    uv_tcp_nodelay(&c->tcp, 1);   /* each piece its own segment, now */
    uv_unref((uv_handle_t *)&c->tcp);   /* the loop ends when the client is done */
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

static uv_tcp_t server;

static void server_start(void)
{
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&loop, &server);
    uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&server, 128, on_conn);
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    uv_unref((uv_handle_t *)&server);
}

static void close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->data && h != (uv_handle_t *)&server)
        conn_close(h->data);
    else if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* --- helpers ------------------------------------------------------------- */

typedef struct got {
    int done, events, sse, ended, truncated;
    uint64_t last_t;
    char data[256];
} got;

static void on_done(mb_req *r, void *ud)
{
    (void)r;
    ((got *)ud)->done++;
}

static void url(char *out, size_t n, const char *path)
{
    snprintf(out, n, "%s%s", base, path);
}

/* --- tests ---------------------------------------------------------------- */

static void test_get(mb_client *c)
{
    char u[128];
    got g = {0};
    mb_req *r;
    url(u, sizeof u, "/hello");
    mb_req_opts o = {.url = u, .on_done = on_done, .ud = &g};
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    CHECK_EQ_INT(mb_client_active(c), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    const mb_resp *s = mb_req_resp(r);
    CHECK_EQ_INT(g.done, 1);
    CHECK(s->done);
    CHECK_EQ_INT(s->status, 200);
    CHECK_EQ_INT(s->err, MB_ERR_NONE);
    CHECK_EQ_INT(s->http_version, 11);
    CHECK_EQ_INT(s->body_len, 5);
    CHECK(s->body && memcmp(s->body, "hello", 5) == 0);
    CHECK(s->t.ttfb > 0 && s->t.ttfb <= s->t.done && s->t.connect <= s->t.ttfb);
    CHECK_EQ_INT(s->t.tls, -1);
    CHECK_EQ_INT(s->nheaders, 5);
    mb_resp_header h;
    const char *want[][2] = {{"content-length", "5"}, {"x-folded", "a b"}, {"x-dup", "1"},
                             {"content-type", "text/plain"}, {"x-dup", "2"}};
    for (size_t i = 0; i < 5 && mb_req_header(r, i, &h) == 0; i++) {
        CHECK_STR(h.name, want[i][0]);
        CHECK_MSG(h.value_len == strlen(want[i][1]) && memcmp(h.value, want[i][1], h.value_len) == 0,
                  "header %zu value '%.*s'", i, (int)h.value_len, h.value);
    }
    CHECK_EQ_INT(mb_req_header(r, 5, &h), MB_ERANGE);
    mb_req_free(r);
    CHECK_EQ_INT(mb_client_active(c), 0);

    /* 404: a complete response, kind http */
    g.done = 0;
    url(u, sizeof u, "/missing");
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(mb_req_resp(r)->status, 404);
    CHECK_EQ_INT(mb_req_resp(r)->err, MB_ERR_HTTP);
    CHECK_EQ_INT(mb_req_resp(r)->reused, 1);
    CHECK_EQ_INT(mb_req_resp(r)->body_len, 4);
    mb_req_free(r);
}

/* on_done starts the next request and frees the finished one: legal because
 * notifications come after curl_multi_socket_action has returned. */
typedef struct chain { mb_client *c; int left, ok; char u[128]; } chain;

static void chain_done(mb_req *r, void *ud)
{
    chain *ch = ud;
    ch->ok += mb_req_resp(r)->status == 200;
    mb_req_free(r);
    if (--ch->left > 0) {
        mb_req_opts o = {.url = ch->u, .on_done = chain_done, .ud = ch};
        mb_req *n;
        CHECK_EQ_INT(mb_req_start(ch->c, &o, &n), 0);
    }
}

static void test_chain(mb_client *c)
{
    chain ch = {c, 30, 0, ""};
    mb_req *r;
    url(ch.u, sizeof ch.u, "/hello");
    mb_req_opts o = {.url = ch.u, .on_done = chain_done, .ud = &ch};
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(ch.ok, 30);
    CHECK_EQ_INT(mb_client_active(c), 0);
}

static int sse_hook(void *ud, const mb_sse_event *ev, uint64_t t)
{
    got *g = ud;
    g->sse++;
    CHECK(t >= g->last_t);
    g->last_t = t;
    size_t n = strlen(g->data);
    snprintf(g->data + n, sizeof g->data - n, "[%.*s:%.*s]", (int)ev->type_len, ev->type,
             (int)ev->data_len, ev->data);
    return 0;
}

static void sse_end(void *ud, int truncated, const mb_sse_event *partial, uint64_t t)
{
    got *g = ud;
    (void)t;
    g->ended++;
    g->truncated = truncated;
    if (partial) {
        size_t n = strlen(g->data);
        snprintf(g->data + n, sizeof g->data - n, "(%.*s)", (int)partial->data_len, partial->data);
    }
}

static void count_events(mb_req *r, void *ud)
{
    (void)r;
    ((got *)ud)->events++;
}

static void test_sse(mb_client *c)
{
    char u[128];
    got g = {0};
    mb_req *r;
    url(u, sizeof u, "/sse");
    /* hooks: counted in C, nothing stored */
    mb_req_opts o = {.url = u, .stream = 1, .on_sse = sse_hook, .on_sse_end = sse_end,
                     .hook_ud = &g, .on_done = on_done, .on_events = count_events, .ud = &g};
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(g.sse, 3);
    CHECK_STR(g.data, "[message:one][message:two][x:three](pa)");
    CHECK_EQ_INT(g.ended, 1);
    CHECK_EQ_INT(g.truncated, 1);
    CHECK_EQ_INT(g.events, 0);
    CHECK_EQ_INT(mb_req_resp(r)->nevents, 0);
    CHECK_EQ_INT(mb_req_resp(r)->err, MB_ERR_NONE);
    mb_req_free(r);

    /* stored: events readable with their stamps, notifications per batch */
    memset(&g, 0, sizeof g);
    o.on_sse = NULL;
    o.on_sse_end = NULL;
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    const mb_resp *s = mb_req_resp(r);
    CHECK_EQ_INT(s->nevents, 3);
    CHECK(g.events >= 2);
    CHECK_EQ_INT(s->truncated, 1);
    CHECK_EQ_INT(s->body_len, 0);
    mb_resp_event ev[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(mb_req_event(r, (size_t)i, &ev[i]), 0);
    CHECK(ev[1].data_len == 3 && memcmp(ev[1].data, "two", 3) == 0);
    CHECK(ev[1].id_len == 1 && ev[1].id[0] == '7');
    CHECK(ev[2].type_len == 1 && ev[2].type[0] == 'x');
    /* pieces 5 ms apart: "two" completes 2 pieces after "one" */
    CHECK_NEAR((double)(ev[1].t_ns - ev[0].t_ns) * 1e-9, 0.010, 0.006);
    CHECK(ev[0].t_ns >= s->start_ns + (uint64_t)s->t.ttfb);
    CHECK_EQ_INT(mb_req_event(r, 3, &ev[0]), MB_ERANGE);
    mb_req_free(r);
}

static int stop_hook(void *ud, const mb_sse_event *ev, uint64_t t)
{
    (void)ud;
    (void)ev;
    (void)t;
    return 1;
}

static void cancel_cb(uv_timer_t *t)
{
    mb_req_free(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_errors(mb_client *c)
{
    char u[128];
    got g = {0};
    mb_req *r;
    uv_timer_t t;
    /* timeout: the timer path */
    url(u, sizeof u, "/hang");
    mb_req_opts o = {.url = u, .timeout_ms = 60, .on_done = on_done, .ud = &g};
    uint64_t t0 = mb_clock_now_ns();
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(mb_req_resp(r)->err, MB_ERR_TIMEOUT);
    CHECK_STR(mb_err_kind_name(mb_req_resp(r)->err), "timeout");
    CHECK_NEAR((double)(mb_clock_now_ns() - t0) * 1e-9, 0.06, 0.05);
    CHECK(mb_req_resp(r)->err_msg[0] != 0);
    mb_req_free(r);

    /* cancel while running: no notification, nothing left behind */
    g.done = 0;
    o.timeout_ms = 0;
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_timer_init(&loop, &t);
    t.data = r;
    uv_timer_start(&t, cancel_cb, 30, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(g.done, 0);
    CHECK_EQ_INT(mb_client_active(c), 0);
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    mb_req_free(r);   /* before the loop ever ran */
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(g.done, 0);

    /* a hook that stops the stream */
    url(u, sizeof u, "/sse");
    mb_req_opts so = {.url = u, .stream = 1, .on_sse = stop_hook, .on_done = on_done, .ud = &g};
    CHECK_EQ_INT(mb_req_start(c, &so, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(mb_req_resp(r)->err, MB_ERR_ABORTED);
    mb_req_free(r);

    /* refused */
    uv_tcp_t probe;
    struct sockaddr_in a;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_init(&loop, &probe);
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_bind(&probe, (const struct sockaddr *)&a, 0);
    uv_tcp_getsockname(&probe, (struct sockaddr *)&ss, &len);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    uv_close((uv_handle_t *)&probe, NULL);   /* bound, never listening: refused */
    uv_run(&loop, UV_RUN_DEFAULT);
    mb_req_opts ro = {.url = u, .on_done = on_done, .ud = &g};
    CHECK_EQ_INT(mb_req_start(c, &ro, &r), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(mb_req_resp(r)->err, MB_ERR_CONNECT);
    CHECK_EQ_INT(mb_req_resp(r)->status, 0);
    CHECK_EQ_INT(mb_req_resp(r)->reused, 0);
    mb_req_free(r);

    /* misuse */
    mb_req_opts bad = {.url = "ftp://x/"};
    CHECK_EQ_INT(mb_req_start(c, &bad, &r), MB_EINVAL);
    CHECK(r == NULL);
    bad.url = "http://x/";
    bad.method = "G T";
    CHECK_EQ_INT(mb_req_start(c, &bad, &r), MB_EINVAL);
    const char *hdr[] = {"X-A: 1\r\nX-B: 2"};
    bad.method = NULL;
    bad.headers = hdr;
    bad.nheaders = 1;
    CHECK_EQ_INT(mb_req_start(c, &bad, &r), MB_EINVAL);
}

/* --- receive stamps: a server on its own thread, with a send log -------- */

#define TS_STEP_MS 10
typedef struct tsrv {
    int lfd, port;
    uint64_t before[8], after[8];   /* monotonic stamps around each piece's send */
    int npieces;
} tsrv;

static void sleep_until(uint64_t t)
{
    while (mb_clock_now_ns() < t)
        usleep(100);
}

/* Accepts one connection, reads its request head, then sends SSE[i] as one
 * chunk every TS_STEP_MS on absolute deadlines, logging each send. */
static void *tsrv_main(void *ud)
{
    tsrv *sv = ud;
    char buf[4096], chunk[256];
    size_t len = 0;
    int fd = accept(sv->lfd, NULL, NULL), one = 1;
    if (fd < 0)
        return NULL;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (len < sizeof buf - 1) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    mb_plat_send(fd, SSE_HEAD, strlen(SSE_HEAD));
    uint64_t t0 = mb_clock_now_ns();
    for (int i = 0; SSE[i]; i++) {
        int n = snprintf(chunk, sizeof chunk, "%zx\r\n%s\r\n", strlen(SSE[i]), SSE[i]);
        sleep_until(t0 + (uint64_t)(i + 1) * TS_STEP_MS * 1000000u);
        sv->before[i] = mb_clock_now_ns();
        mb_plat_send(fd, chunk, (size_t)n);
        sv->after[i] = mb_clock_now_ns();
        sv->npieces = i + 1;
    }
    mb_plat_send(fd, "0\r\n\r\n", 5);
    close(fd);
    return NULL;
}

typedef struct slow { int calls; } slow;

/* The first batch of events makes the client late: it blocks its loop for
 * 2.5 steps while the server thread goes on sending. */
static void slow_events(mb_req *r, void *ud)
{
    (void)r;
    if (((slow *)ud)->calls++ == 0)
        sleep_until(mb_clock_now_ns() + TS_STEP_MS * 2500000u);
}

/* One stored-event stream from the thread server; `kernel`: whether its
 * stamps must be the kernel's. */
static void stamps_once(mb_client *c, int kernel)
{
    tsrv sv = {0};
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    pthread_t th;
    char u[128];
    slow sl = {0};
    mb_req *r;
    sv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(sv.lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(sv.lfd, 4) == 0);
    getsockname(sv.lfd, (struct sockaddr *)&a, &al);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/sse", ntohs(a.sin_port));
    pthread_create(&th, NULL, tsrv_main, &sv);
    mb_hist *lag;
    mb_hist_new(&lag, 1e-6, 3600, 3);
    mb_client_read_lag_take(c, lag);   /* whatever came before */
    mb_hist_reset(lag);
    mb_req_opts o = {.url = u, .stream = 1, .on_events = slow_events, .ud = &sl};
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    while (!mb_req_resp(r)->done)
        uv_run(&loop, UV_RUN_ONCE);
    pthread_join(th, NULL);
    close(sv.lfd);
    const mb_resp *s = mb_req_resp(r);
    CHECK_EQ_INT(s->err, MB_ERR_NONE);
    CHECK_EQ_INT(s->nevents, 3);
    CHECK_EQ_INT(sv.npieces, 5);
    CHECK_STR(mb_stamp_source_name(s->stamp_source), kernel ? "kernel" : "user");
    /* the piece that completes each event: "one" 0, "two" 2, "three" 3 */
    static const int completes[3] = {0, 2, 3};
    int late = 0;
    for (int i = 0; i < 3; i++) {
        mb_resp_event ev;
        CHECK_EQ_INT(mb_req_event(r, (size_t)i, &ev), 0);
        CHECK(ev.t_ns <= ev.t_user_ns);
        CHECK_EQ_INT(ev.kernel, kernel);
        CHECK(ev.t_ns + 200000 >= sv.before[completes[i]]);   /* never before it was sent */
        if (!kernel) {
            CHECK_EQ_INT(ev.t_ns, ev.t_user_ns);
            continue;
        }
        /* the kernel's stamp is the send of a piece the read took: the
         * completing one or a later one (a read of several packets carries
         * the last one's), within 0.2 ms of the server's log */
        int match = -1;
        for (int k = completes[i]; k < sv.npieces; k++)
            if (ev.t_ns + 200000 >= sv.before[k] && ev.t_ns <= sv.after[k] + 200000)
                match = k;
        CHECK_MSG(match >= 0, "event %d: kernel stamp %.3f ms after piece %d's send", i,
                  (double)((int64_t)(ev.t_ns - sv.before[completes[i]])) * 1e-6, completes[i]);
        late += ev.t_user_ns - ev.t_ns >= 1000000u;
    }
    if (kernel) {
        /* the client slept 2.5 steps after "one": "two" waited in the socket */
        CHECK_MSG(late >= 1, "no event was read 1 ms or more after its stamp");
        CHECK_EQ_INT(mb_client_read_lag_take(c, lag), 0);
        CHECK_EQ_INT(mb_hist_count(lag), 3);
        CHECK_MSG(mb_hist_max(lag) >= 0.001, "read lag max %.6f s", mb_hist_max(lag));
    } else {
        CHECK_EQ_INT(mb_client_read_lag_take(c, lag), 0);
        CHECK_EQ_INT(mb_hist_count(lag), 0);
    }
    mb_hist_free(lag);
    mb_req_free(r);
}

/* Kernel stamps where the transport and the system give them; user-space
 * stamps on libcurl, the portable build and with MLXBENCH_STAMPS=user. */
static void test_stamps(mb_client *c)
{
    const char *http = getenv("MLXBENCH_HTTP"), *st = getenv("MLXBENCH_STAMPS");
    int on_curl = http && strcmp(http, "curl") == 0;
    int linux_ = strcmp(mb_plat_name(), "linux") == 0;
    int user_env = st && strcmp(st, "user") == 0;
    CHECK_EQ_INT(mb_client_kernel_stamps(c), strcmp(mb_plat_name(), "posix") != 0 && !user_env);
    if (linux_ || !mb_client_kernel_stamps(c) || on_curl)
        stamps_once(c, linux_ && !on_curl && !user_env);
    /* the same client asked not to: user-space stamps */
    if (!user_env) {
        mb_client *u;
        setenv("MLXBENCH_STAMPS", "user", 1);
        CHECK_EQ_INT(mb_client_new(&u, &loop), 0);
        unsetenv("MLXBENCH_STAMPS");
        CHECK_EQ_INT(mb_client_kernel_stamps(u), 0);
        stamps_once(u, 0);
        mb_client_free(u);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    /* the clock calibration ran and saw no step */
    CHECK(mb_client_clock(c)->checks >= 1);
    CHECK_EQ_INT(mb_client_clock(c)->steps, 0);
}

static void stop_cb(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Freeing the client with a request in flight orphans it: the owner's
 * mb_req_free afterwards only releases memory. */
static void test_free_inflight(void)
{
    mb_client *c;
    char u[128];
    got g = {0};
    mb_req *r;
    uv_timer_t t;
    CHECK_EQ_INT(mb_client_new(&c, &loop), 0);
    url(u, sizeof u, "/hang");
    mb_req_opts o = {.url = u, .on_done = on_done, .ud = &g};
    CHECK_EQ_INT(mb_req_start(c, &o, &r), 0);
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, stop_cb, 30, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    mb_client_free(c);
    CHECK(mb_req_resp(r) != NULL);
    mb_req_free(r);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(g.done, 0);
}

int main(void)
{
    mb_client *c;
    CHECK_EQ_INT(mb_net_global_init(), 0);
    uv_loop_init(&loop);
    server_start();
    CHECK_EQ_INT(mb_client_new(&c, &loop), 0);
    test_get(c);
    test_chain(c);
    test_sse(c);
    test_errors(c);
    test_stamps(c);
    mb_client_free(c);
    uv_run(&loop, UV_RUN_DEFAULT);
    test_free_inflight();
    uv_walk(&loop, close_all, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    TEST_MAIN_END();
}

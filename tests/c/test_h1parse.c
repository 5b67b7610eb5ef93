/* test_h1parse.c: the HTTP/1 framing interface (include/mlxbench/h1parse.h)
 * on whichever library the build uses -- http_parser or llhttp; the build
 * of tools/test.sh's posix step uses llhttp, the others http_parser, and
 * this file passes on both. Every message is checked as a trace of the
 * callbacks (spans of one kind joined), fed whole, a byte at a time and
 * cut at every position: the trace must not depend on the cuts. Also:
 * pausing after a message and the exact count of bytes consumed
 * (pipelining), a body that ends with the connection, a cut body, HEAD,
 * 1xx, chunked with and without a Content-Length, bare LF line ends,
 * upgrades and malformed input. */
#include "mb_test.h"
#include "mlxbench/h1parse.h"

typedef struct rec {
    char t[2048];
    size_t n;
    char last;          /* kind of the span being joined */
    int pause;          /* on_message_complete pauses */
    int nobody;         /* on_headers_complete says: no body */
    int messages;
} rec;

static void put(rec *r, char kind, const char *at, size_t len)
{
    if (at && !len)
        return;   /* an empty span: one library calls for it, the other not */
    if (kind != r->last || !at) {
        if (r->n + 3 < sizeof r->t) {
            if (r->n)
                r->t[r->n++] = '|';
            r->t[r->n++] = kind;
            if (at)
                r->t[r->n++] = ':';
        }
        r->last = at ? kind : 0;
    }
    for (size_t i = 0; at && i < len && r->n + 1 < sizeof r->t; i++)
        r->t[r->n++] = at[i];
    r->t[r->n] = 0;
}

static rec *R(mb_h1p *p) { return p->data; }
static int begin(mb_h1p *p) { put(R(p), 'B', NULL, 0); return MB_H1P_GO; }
static int url(mb_h1p *p, const char *a, size_t n) { put(R(p), 'U', a, n); return MB_H1P_GO; }
static int field(mb_h1p *p, const char *a, size_t n) { put(R(p), 'F', a, n); return MB_H1P_GO; }
static int value(mb_h1p *p, const char *a, size_t n) { put(R(p), 'V', a, n); return MB_H1P_GO; }
static int body(mb_h1p *p, const char *a, size_t n) { put(R(p), 'D', a, n); return MB_H1P_GO; }

static int headers(mb_h1p *p)
{
    char s[48];
    snprintf(s, sizeof s, "%u/%u.%u", mb_h1p_status(p), mb_h1p_http_major(p), mb_h1p_http_minor(p));
    put(R(p), 'H', s, strlen(s));
    R(p)->last = 0;
    return R(p)->nobody ? MB_H1P_NOBODY : MB_H1P_GO;
}

static int complete(mb_h1p *p)
{
    put(R(p), 'C', NULL, 0);
    R(p)->messages++;
    return R(p)->pause ? MB_H1P_PAUSE : MB_H1P_GO;
}

static const mb_h1p_cb cbs = {
    .on_message_begin = begin, .on_url = url, .on_header_field = field,
    .on_header_value = value, .on_headers_complete = headers, .on_body = body,
    .on_message_complete = complete,
};

/* Feeds msg in pieces of `step` bytes (0: whole; else the first piece is
 * `first` bytes); a pause resumes at once. Returns the last state. */
static mb_h1p_state feed(mb_h1p *p, const char *msg, size_t len, size_t first, size_t step)
{
    size_t off = 0;
    mb_h1p_state st = MB_H1P_OK;
    while (off < len) {
        size_t n = !step ? len - off : off == 0 && first ? first : step;
        if (n > len - off)
            n = len - off;
        size_t used = 0;
        st = mb_h1p_execute(p, msg + off, n, &used);
        CHECK(used <= n);
        if (st == MB_H1P_PAUSED) {
            mb_h1p_resume(p);
            off += used;
            continue;
        }
        if (st != MB_H1P_OK)
            return st;
        CHECK_EQ_INT(used, n);
        off += n;
    }
    return st;
}

/* The trace of msg fed whole equals `want`, and so does every cut of it. */
static void same_cut_anyhow(int kind, const char *msg, const char *want, int pause, int nobody)
{
    size_t len = strlen(msg);
    for (size_t first = 0; first < len; first++) {
        for (size_t step = first ? len : 0; step <= len; step = step ? len + 1 : 1) {
            rec r = {.pause = pause, .nobody = nobody};
            mb_h1p p;
            mb_h1p_init(&p, kind, &cbs, &r);
            mb_h1p_state st = feed(&p, msg, len, first, first ? len : step);
            int good = (st == MB_H1P_OK || st == MB_H1P_PAUSED) && strcmp(r.t, want) == 0;
            CHECK_MSG(good, "cut %zu step %zu: state %d (%s)\n  got  %s\n  want %s", first, step,
                      (int)st, mb_h1p_error(&p), r.t, want);
            if (!good)
                return;   /* one report per message */
            if (!first && step == 1)
                break;
        }
    }
    /* a byte at a time */
    rec r = {.pause = pause, .nobody = nobody};
    mb_h1p p;
    mb_h1p_init(&p, kind, &cbs, &r);
    feed(&p, msg, len, 0, 1);
    CHECK_MSG(strcmp(r.t, want) == 0, "bytewise:\n  got  %s\n  want %s", r.t, want);
}

static void test_traces(void)
{
    same_cut_anyhow(MB_H1P_REQUEST,
                    "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Empty:\r\n\r\n"
                    "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
                    "B|U:/a?x=1|F:Host|V:h|F:X-Empty|H:0/1.1|C"
                    "|B|U:/b|F:Content-Length|V:3|H:0/1.1|D:abc|C", 1, 0);
    same_cut_anyhow(MB_H1P_RESPONSE,
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n",
                    "B|F:Transfer-Encoding|V:chunked|H:200/1.1|D:hello!|F:X-Trailer|V:t|C", 0, 0);
    same_cut_anyhow(MB_H1P_RESPONSE | MB_H1P_CHUNKED_WINS,
                    "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\nok\r\n0\r\n\r\n",
                    "B|F:Content-Length|V:99|F:Transfer-Encoding|V:chunked|H:200/1.1|D:ok|C", 0, 0);
    same_cut_anyhow(MB_H1P_RESPONSE,
                    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
                    "B|H:100/1.1|C|B|F:Content-Length|V:1|H:200/1.1|D:x|C", 0, 0);
    /* HEAD: Content-Length describes a body that does not come */
    same_cut_anyhow(MB_H1P_RESPONSE,
                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
                    "B|F:Content-Length|V:5|H:200/1.1|C|B|H:204/1.1|C", 0, 1);
    /* bare LF ends lines (http_parser and libcurl accept it; llhttp is told to) */
    same_cut_anyhow(MB_H1P_RESPONSE, "HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok",
                    "B|F:Content-Length|V:2|F:X-A|V:b|H:200/1.1|D:ok|C", 0, 0);
    /* an obsolete folded line is accepted (its pieces: the caller joins them) */
    {
        const char *m = "HTTP/1.1 200 OK\r\nX-Fold: first\r\n  second\r\nContent-Length: 0\r\n\r\n";
        rec r = {0};
        mb_h1p p;
        mb_h1p_init(&p, MB_H1P_RESPONSE, &cbs, &r);
        CHECK_EQ_INT(feed(&p, m, strlen(m), 0, 0), MB_H1P_OK);
        CHECK_EQ_INT(r.messages, 1);
        CHECK_MSG(strncmp(r.t, "B|F:X-Fold|V:first", 18) == 0 && strstr(r.t, "second"), "%s", r.t);
    }
}

/* Pausing after each message: execute stops right after it and says how
 * many bytes it took -- the rest is the next request's. */
static void test_pipelined(void)
{
    const char *a = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *b = "DELETE /two HTTP/1.0\r\n\r\n";
    char both[256];
    snprintf(both, sizeof both, "%s%s", a, b);
    rec r = {.pause = 1};
    mb_h1p p;
    size_t used = 0;
    mb_h1p_init(&p, MB_H1P_REQUEST, &cbs, &r);
    CHECK_EQ_INT(mb_h1p_execute(&p, both, strlen(both), &used), MB_H1P_PAUSED);
    CHECK_EQ_INT(used, strlen(a));
    CHECK_STR(mb_h1p_method(&p), "GET");
    CHECK_EQ_INT(mb_h1p_keep_alive(&p), 1);
    CHECK_STR(mb_h1p_error(&p), "");
    mb_h1p_resume(&p);
    CHECK_EQ_INT(mb_h1p_execute(&p, both + used, strlen(b), &used), MB_H1P_PAUSED);
    CHECK_EQ_INT(used, strlen(b));
    CHECK_STR(mb_h1p_method(&p), "DELETE");
    CHECK_EQ_INT(mb_h1p_http_minor(&p), 0);
    CHECK_EQ_INT(mb_h1p_keep_alive(&p), 0);   /* HTTP/1.0 without keep-alive */
    CHECK_EQ_INT(r.messages, 2);
}

/* A body without a length ends with the connection; a cut body fails. */
static void test_eof(void)
{
    const char *m = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto-the-end";
    rec r = {0};
    mb_h1p p;
    mb_h1p_init(&p, MB_H1P_RESPONSE, &cbs, &r);
    CHECK_EQ_INT(feed(&p, m, strlen(m), 0, 0), MB_H1P_OK);
    CHECK_EQ_INT(r.messages, 0);
    CHECK_EQ_INT(mb_h1p_finish(&p), MB_H1P_OK);
    CHECK_EQ_INT(r.messages, 1);
    CHECK_STR(r.t, "B|F:Content-Type|V:text/plain|H:200/1.0|D:to-the-end|C");
    CHECK_EQ_INT(mb_h1p_keep_alive(&p), 0);

    const char *cut = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
    rec r2 = {0};
    mb_h1p_init(&p, MB_H1P_RESPONSE, &cbs, &r2);
    CHECK_EQ_INT(feed(&p, cut, strlen(cut), 0, 0), MB_H1P_OK);
    CHECK_EQ_INT(mb_h1p_has_length(&p), 1);
    CHECK_EQ_INT(mb_h1p_chunked(&p), 0);
    CHECK_EQ_INT(mb_h1p_length(&p), 6);   /* what is still to come */
    CHECK_EQ_INT(mb_h1p_finish(&p), MB_H1P_ERROR);
    CHECK_EQ_INT(r2.messages, 0);

    const char *chunk = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab";
    rec r3 = {0};
    mb_h1p_init(&p, MB_H1P_RESPONSE, &cbs, &r3);
    CHECK_EQ_INT(feed(&p, chunk, strlen(chunk), 0, 0), MB_H1P_OK);
    CHECK_EQ_INT(mb_h1p_chunked(&p), 1);
    CHECK_EQ_INT(mb_h1p_finish(&p), MB_H1P_ERROR);
}

/* Refused input: a state of ERROR and a reason to print. */
static void test_errors(void)
{
    static const struct { int kind; const char *msg; } bad[] = {
        {MB_H1P_RESPONSE, "HTTP/1.1 2x0 OK\r\n\r\n"},
        {MB_H1P_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"},
        {MB_H1P_RESPONSE, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
        /* both lengths, without MB_H1P_CHUNKED_WINS: request smuggling */
        {MB_H1P_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {MB_H1P_REQUEST, "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n"},
        {MB_H1P_REQUEST, "\x01GET / HTTP/1.1\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rec r = {0};
        mb_h1p p;
        size_t used = 0;
        mb_h1p_init(&p, bad[i].kind, &cbs, &r);
        mb_h1p_state st = mb_h1p_execute(&p, bad[i].msg, strlen(bad[i].msg), &used);
        CHECK_MSG(st == MB_H1P_ERROR, "case %zu: state %d", i, (int)st);
        CHECK_MSG(mb_h1p_error(&p)[0] != 0, "case %zu: a reason", i);
        CHECK_EQ_INT(r.messages, 0);
    }
    /* every callback may be NULL */
    mb_h1p_cb none = {0};
    mb_h1p p;
    size_t used = 0;
    const char *ok = "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab";
    mb_h1p_init(&p, MB_H1P_REQUEST, &none, NULL);
    CHECK_EQ_INT(mb_h1p_execute(&p, ok, strlen(ok), &used), MB_H1P_OK);
    CHECK_EQ_INT(used, strlen(ok));
}

static int fail_value(mb_h1p *p, const char *a, size_t n)
{
    (void)p;
    return n && a[0] == '!' ? MB_H1P_FAIL : MB_H1P_GO;
}

static void test_callback_fails(void)
{
    mb_h1p_cb c = cbs;
    c.on_header_value = fail_value;
    rec r = {0};
    mb_h1p p;
    size_t used = 0;
    const char *m = "GET / HTTP/1.1\r\nX-A: fine\r\nX-B: !no\r\n\r\n";
    mb_h1p_init(&p, MB_H1P_REQUEST, &c, &r);
    CHECK_EQ_INT(mb_h1p_execute(&p, m, strlen(m), &used), MB_H1P_ERROR);
    CHECK(used < strlen(m));
    CHECK(mb_h1p_error(&p)[0] != 0);
    CHECK_EQ_INT(r.messages, 0);
}

/* A request that switches protocols: no more HTTP/1 on the connection. */
static void test_upgrade(void)
{
    const char *m = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "\r\n\x81\x05hello";
    rec r = {0};
    mb_h1p p;
    size_t used = 0;
    mb_h1p_init(&p, MB_H1P_REQUEST, &cbs, &r);
    CHECK_EQ_INT(mb_h1p_execute(&p, m, strlen(m), &used), MB_H1P_UPGRADE);
    CHECK_EQ_INT(used, strlen(m) - 7);   /* the frame after the head is not HTTP */
}

int main(void)
{
    const char *lib = mb_h1p_library();
    fprintf(stderr, "framing library: %s\n", lib);
    CHECK(strncmp(lib, "http_parser ", 12) == 0 || strncmp(lib, "llhttp ", 7) == 0);
    test_traces();
    test_pipelined();
    test_eof();
    test_errors();
    test_callback_fails();
    test_upgrade();
    TEST_MAIN_END();
}

/* test_sse.c: the SSE parser against WHATWG edge cases and the wire
 * fixtures, in every chunking: whole, byte by byte and random splits. */
#include <stdint.h>
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/sse.h"

/* ---- transcripts ---------------------------------------------------------- */

/* A run's observable behaviour as text: one line per event
 * "type|data|id|retry[|P]" (with \n, \r, |, \ and NUL escaped), then "!rc"
 * if a feed failed, then "=finish". Chunkings must agree on it exactly. */
typedef struct { char *s; size_t len, cap; int stop_at; int nev; } log_t;

static void log_put(log_t *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        l->cap = (l->len + n + 1) * 2;
        l->s = realloc(l->s, l->cap);
        if (!l->s)
            exit(2);
    }
    memcpy(l->s + l->len, s, n);
    l->len += n;
    l->s[l->len] = 0;
}

static void log_esc(log_t *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '|' ? "\\|" :
                        c == '\\' ? "\\\\" : c == 0 ? "\\0" : NULL;
        if (e)
            log_put(l, e, 2);
        else
            log_put(l, &c, 1);
    }
}

static int on_event(void *ud, const mb_sse_event *ev)
{
    log_t *l = ud;
    char tmp[48];
    /* invariants every event satisfies */
    CHECK(ev->type_len > 0 && ev->type[ev->type_len] == 0 && ev->id[ev->id_len] == 0);
    CHECK(!memchr(ev->type, '\n', ev->type_len) && !memchr(ev->type, '\r', ev->type_len));
    CHECK(!memchr(ev->data, '\r', ev->data_len) && ev->data[ev->data_len] == 0);
    CHECK(!memchr(ev->id, 0, ev->id_len) && !memchr(ev->id, '\n', ev->id_len));
    log_esc(l, ev->type, ev->type_len);
    log_put(l, "|", 1);
    log_esc(l, ev->data, ev->data_len);
    log_put(l, "|", 1);
    log_esc(l, ev->id, ev->id_len);
    int n = snprintf(tmp, sizeof tmp, "|%ld%s\n", ev->retry, ev->partial ? "|P" : "");
    log_put(l, tmp, (size_t)n);
    return ++l->nev == l->stop_at ? 7 : 0;
}

/* splitmix64 for reproducible split points. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Parses buf in chunks: mode 0 whole, 1 byte by byte, 2+ random sizes
 * (seeded by mode, biased to small). Returns the malloc'd transcript. */
static char *run(const char *buf, size_t len, int mode, size_t max_line)
{
    mb_sse p;
    log_t l = {0};
    uint64_t seed = (uint64_t)mode * 7919;
    int rc = 0;
    char tmp[32];
    mb_sse_init(&p, max_line);
    log_put(&l, "", 0);
    for (size_t off = 0; off < len && !rc;) {
        size_t n = len - off;
        if (mode == 1)
            n = 1;
        else if (mode >= 2) {
            uint64_t r = rng_next(&seed);
            size_t cap = (r & 3) == 0 ? 4 : (r & 3) == 1 ? 64 : 4096;
            n = 1 + (size_t)((r >> 8) % cap);
            n = n > len - off ? len - off : n;
        }
        /* feed from a private copy so reads past the chunk are caught */
        char *chunk = malloc(n ? n : 1);
        memcpy(chunk, buf + off, n);
        rc = mb_sse_feed(&p, chunk, n, on_event, &l);
        free(chunk);
        off += n;
    }
    if (rc) {
        int k = snprintf(tmp, sizeof tmp, "!%d\n", rc);
        log_put(&l, tmp, (size_t)k);
        CHECK_EQ_INT(mb_sse_feed(&p, "x", 1, on_event, &l), rc);   /* sticky */
    }
    int fin = mb_sse_finish(&p, on_event, &l);
    int k = snprintf(tmp, sizeof tmp, "=%d", fin);
    log_put(&l, tmp, (size_t)k);
    CHECK_EQ_INT(mb_sse_feed(&p, "data: x\n\n", 9, on_event, &l), rc ? rc : MB_ESTATE);
    mb_sse_free(&p);
    return l.s;
}

#define NRANDOM 60

/* Checks that every chunking of buf yields `want` exactly. */
static void expect_len(const char *name, const char *buf, size_t len, size_t max_line,
                       const char *want)
{
    for (int mode = 0; mode < 2 + NRANDOM; mode++) {
        char *got = run(buf, len, mode, max_line);
        int ok = strcmp(got, want) == 0;
        CHECK_MSG(ok, "%s (mode %d):\n--- got\n%s\n--- want\n%s", name, mode, got, want);
        free(got);
        if (!ok)
            break;
    }
}

#define EXPECT(name, lit, want) expect_len(name, lit, sizeof(lit) - 1, 0, want)
#define EXPECT_MAX(name, lit, max, want) expect_len(name, lit, sizeof(lit) - 1, max, want)

/* ---- WHATWG edge cases ------------------------------------------------------ */

static void test_bom(void)
{
    EXPECT("bom", "\xEF\xBB\xBF" "data: a\n\n", "message|a||-1\n=0");
    EXPECT("bom twice", "\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", "message|b||-1\n=0");
    EXPECT("bom prefix EF BB", "\xEF\xBB" "data: a\n\ndata: b\n\n", "message|b||-1\n=0");
    EXPECT("bom prefix EF", "\xEF" "data: a\n\ndata: b\n\n", "message|b||-1\n=0");
    EXPECT("bom then colon", "\xEF\xBB\xBF:c\ndata: a\n\n", "message|a||-1\n=0");
    EXPECT("bom late", "data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "message|a||-1\n=0");
    EXPECT("bom only", "\xEF\xBB\xBF", "=0");
    EXPECT("bom prefix only", "\xEF\xBB", "=1");
    EXPECT("bom prefix as data", "data\xEF\xBB\n\n", "=0");   /* field "data\xEF\xBB" */
    EXPECT("bom in value", "data: \xEF\xBB\xBF\n\n", "message|\xEF\xBB\xBF||-1\n=0");
    EXPECT("empty", "", "=0");
}

static void test_line_endings(void)
{
    EXPECT("lf", "data: a\n\ndata: b\n\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("cr", "data: a\r\rdata: b\r\r", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("crlf", "data: a\r\n\r\ndata: b\r\n\r\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("crlf multi", "data: a\r\ndata: b\r\n\r\n", "message|a\\nb||-1\n=0");
    EXPECT("cr then lf is one", "data: a\r\ndata: b\r\n\r\n", "message|a\\nb||-1\n=0");
    EXPECT("crlf lf", "data: a\r\n\ndata: b\r\n\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("lf crlf", "data: a\n\r\ndata: b\n\r\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("lf cr", "data: a\n\rdata: b\n\r", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("lf lf cr", "data: a\n\n\rdata: b\n\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("cr cr lf", "data: a\r\r\ndata: b\r\n\r\n", "message|a||-1\nmessage|b||-1\n=0");
    EXPECT("mixed", "data: a\rdata: b\ndata: c\r\n\n", "message|a\\nb\\nc||-1\n=0");
    EXPECT("u2028", "data: a\xE2\x80\xA8" "b\xE2\x80\xA9" "c\xC2\x85" "d\x0B\x0C" "e\n\n",
           "message|a\xE2\x80\xA8" "b\xE2\x80\xA9" "c\xC2\x85" "d\x0B\x0C" "e||-1\n=0");
    EXPECT("escaped newlines", "data: {\"t\":\"\\n\\n\"}\n\n",
           "message|{\"t\":\"\\\\n\\\\n\"}||-1\n=0");
    EXPECT("nul in data", "data: a\0b\n\n", "message|a\\0b||-1\n=0");
    EXPECT("blank lines only", "\n\n\r\n\r\r\n", "=0");
}

static void test_fields(void)
{
    EXPECT("comments", ":\n\n: ping\ndata: x\n: mid\ndata: y\n\n:tail\n",
           "message|x\\ny||-1\n=0");
    EXPECT("comment-only block", ":\n:\n\n", "=0");
    EXPECT("no space", "data:x\n\n", "message|x||-1\n=0");
    EXPECT("one space", "data: x\n\n", "message|x||-1\n=0");
    EXPECT("two spaces", "data:  x\n\n", "message| x||-1\n=0");
    EXPECT("tab kept", "data:\tx\n\n", "message|\tx||-1\n=0");
    EXPECT("trailing space kept", "data: x \n\n", "message|x ||-1\n=0");
    EXPECT("empty data", "data:\n\n", "message|||-1\n=0");
    EXPECT("empty data space", "data: \n\n", "message|||-1\n=0");
    EXPECT("bare data", "data\n\n", "message|||-1\n=0");
    EXPECT("bare data twice", "data\ndata\n\n", "message|\\n||-1\n=0");
    EXPECT("data then empty", "data: a\ndata\n\n", "message|a\\n||-1\n=0");
    EXPECT("multi-line", "data: a\ndata: b\ndata: c\n\n", "message|a\\nb\\nc||-1\n=0");
    EXPECT("colon in value", "data: a:b: c\n\n", "message|a:b: c||-1\n=0");
    EXPECT("event only", "event: x\n\n", "=0");
    EXPECT("event reset", "event: x\n\ndata: y\n\n", "message|y||-1\n=0");
    EXPECT("event type", "event: add\ndata: 1\n\ndata: 2\n\n", "add|1||-1\nmessage|2||-1\n=0");
    EXPECT("event last wins", "event: a\nevent: b\ndata: 1\n\n", "b|1||-1\n=0");
    EXPECT("event empty", "event:\ndata: 1\n\n", "message|1||-1\n=0");
    EXPECT("event colon", "event:x:y\ndata\n\n", "x:y|||-1\n=0");
    EXPECT("unknown", "foo: bar\ndata: a\nDATA: b\nData: c\n dat: d\n\n", "message|a||-1\n=0");
    EXPECT("case", "Event: x\ndata: a\nID: 3\nRetry: 5\n\n", "message|a||-1\n=0");
    EXPECT("space name", "data : a\n\n", "=0");
    EXPECT("id persists", "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
           "message|a|1|-1\nmessage|b|1|-1\nmessage|c||-1\n=0");
    EXPECT("id nul ignored", "id: 7\ndata: a\n\nid: x\0y\ndata: b\n\n",
           "message|a|7|-1\nmessage|b|7|-1\n=0");
    EXPECT("id in dataless block", "id: 5\n\ndata: a\n\n", "message|a|5|-1\n=0");
    EXPECT("id empty value", "id: 5\ndata: a\n\nid:\ndata: b\n\n", "message|a|5|-1\nmessage|b||-1\n=0");
    EXPECT("retry", "retry: 1000\ndata: a\n\ndata: b\n\n", "message|a||1000\nmessage|b||-1\n=0");
    EXPECT("retry bad", "retry: 10a\ndata: a\n\nretry: -1\ndata: b\n\nretry:\ndata: c\n\n"
           "retry:  5\ndata: d\n\nretry: 5 \ndata: e\n\n",
           "message|a||-1\nmessage|b||-1\nmessage|c||-1\nmessage|d||-1\nmessage|e||-1\n=0");
    EXPECT("retry nospace", "retry:0\ndata: a\n\n", "message|a||0\n=0");
    EXPECT("retry huge", "retry: 99999999999999999999999999\ndata: a\n\n",
           "message|a||9223372036854775807\n=0");
    EXPECT("retry own block", "retry: 7\n\ndata: a\n\n", "message|a||-1\n=0");
    EXPECT("retry last wins", "retry: 1\nretry: x\nretry: 2\ndata: a\n\n", "message|a||2\n=0");
}

/* Lines up to max_line (terminator excluded) pass; one byte more fails and
 * stays failed, in every chunking. */
static void test_max_line(void)
{
    EXPECT_MAX("at limit", "data: ab\n\n", 8, "message|ab||-1\n=0");
    EXPECT_MAX("at limit crlf", "data: ab\r\n\r\n", 8, "message|ab||-1\n=0");
    EXPECT_MAX("at limit cr", "data: ab\r\r", 8, "message|ab||-1\n=0");
    EXPECT_MAX("over", "data: a\n\ndata: abc\n\ndata: b\n\n", 8, "message|a||-1\n!-4\n=-4");
    EXPECT_MAX("over comment", ":123456789\ndata: a\n\n", 8, "!-4\n=-4");
    EXPECT_MAX("over unterminated", "data: a\n\ndata: abcdefgh", 8, "message|a||-1\n!-4\n=-4");
    EXPECT_MAX("unterminated at limit", "data: ab", 8, "message|ab||-1|P\n=1");
    EXPECT_MAX("bom not counted", "\xEF\xBB\xBF" "data: ab\n\n", 8, "message|ab||-1\n=0");
    EXPECT_MAX("tiny", "a\n\nb\n\n", 1, "=0");
    EXPECT_MAX("tiny over", "ab\n\n", 1, "!-4\n=-4");

    /* memory stays bounded by max_line on a 4 MiB line */
    size_t big = (size_t)4 << 20, max = 1024;
    char *buf = malloc(big);
    memset(buf, 'x', big);
    memcpy(buf, "data: ", 6);
    mb_sse p;
    mb_sse_init(&p, max);
    int rc = 0;
    log_t l = {0};
    for (size_t off = 0; off < big && !rc; off += 1000)
        rc = mb_sse_feed(&p, buf + off, big - off < 1000 ? big - off : 1000, on_event, &l);
    CHECK_EQ_INT(rc, MB_ETOOLONG);
    CHECK(p.line_cap <= 2 * max + 64);
    CHECK_EQ_INT(mb_sse_feed(&p, "\n\n", 2, on_event, &l), MB_ETOOLONG);
    CHECK_EQ_INT(l.nev, 0);
    CHECK_EQ_INT(mb_sse_finish(&p, NULL, NULL), MB_ETOOLONG);
    mb_sse_free(&p);
    /* default limit is 1 MiB: a 1 MiB line passes, whole or in pieces */
    mb_sse_init(&p, 0);
    CHECK(p.max_line == MB_DEFAULT_MAX_LINE);
    size_t ml = MB_DEFAULT_MAX_LINE;
    buf[ml] = '\n';
    buf[ml + 1] = '\n';
    CHECK_EQ_INT(mb_sse_feed(&p, buf, ml + 2, on_event, &l), 0);
    CHECK_EQ_INT(l.nev, 1);
    mb_sse_free(&p);
    free(l.s);
    free(buf);
}

/* finish(): truncation flag and the partial event hand-over. */
static void test_finish(void)
{
    EXPECT("unterminated line", "data: a", "message|a||-1|P\n=1");
    EXPECT("unterminated event", "data: a\n", "message|a||-1|P\n=1");
    EXPECT("terminated", "data: a\n\n", "message|a||-1\n=0");
    EXPECT("unterminated after event", "data: a\n\nevent: e\ndata: b\ndata: c",
           "message|a||-1\ne|b\\nc||-1|P\n=1");
    EXPECT("cr ended", "data: a\r", "message|a||-1|P\n=1");
    EXPECT("crlf ended", "data: a\r\n", "message|a||-1|P\n=1");
    EXPECT("partial comment", "data: a\n\n:pi", "message|a||-1\n=1");
    EXPECT("complete comment", "data: a\n\n: ping\n", "message|a||-1\n=0");
    EXPECT("event only open", "event: x\n", "=1");
    EXPECT("retry open", "retry: 5\n", "=1");
    EXPECT("unknown open", "error: {}\n", "=1");
    EXPECT("partial id", "data: a\n\nid: 9", "message|a||-1\n=1");
    EXPECT("partial keeps id/retry", "id: 4\nretry: 3\ndata: z", "message|z|4|3|P\n=1");
    EXPECT("done without blank", "data: {}\n\ndata: [DONE]\n",
           "message|{}||-1\nmessage|[DONE]||-1|P\n=1");

    /* no callback: just the flag; finish twice is a state error */
    mb_sse p;
    mb_sse_init(&p, 0);
    CHECK_EQ_INT(mb_sse_feed(&p, "data: a", 7, NULL, NULL), 0);
    CHECK_EQ_INT(mb_sse_finish(&p, NULL, NULL), 1);
    CHECK_EQ_INT(mb_sse_finish(&p, NULL, NULL), MB_ESTATE);
    mb_sse_free(&p);
    mb_sse_init(&p, 0);
    CHECK_EQ_INT(mb_sse_finish(&p, NULL, NULL), 0);
    mb_sse_free(&p);
}

/* Persistent retry, callback stop, buffer reuse. */
static void test_state(void)
{
    mb_sse p;
    log_t l = {0};
    mb_sse_init(&p, 0);
    CHECK(p.retry == -1);
    CHECK_EQ_INT(mb_sse_feed(&p, "retry: 250\n\ndata: a\n\nretry: x\n\n", 31, on_event, &l), 0);
    CHECK(p.retry == 250);
    CHECK_EQ_INT(p.bytes, 31);
    mb_sse_free(&p);
    free(l.s);

    /* a non-zero callback return stops the feed and is returned */
    memset(&l, 0, sizeof l);
    l.stop_at = 2;
    mb_sse_init(&p, 0);
    const char *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    CHECK_EQ_INT(mb_sse_feed(&p, s, strlen(s), on_event, &l), 7);
    CHECK_EQ_INT(l.nev, 2);
    mb_sse_free(&p);
    free(l.s);

    /* once grown, buffers are reused: same-sized events do not reallocate */
    memset(&l, 0, sizeof l);
    mb_sse_init(&p, 0);
    const char *ev = "event: content_block_delta\nid: 42\ndata: {\"text\":\"hello\"}\n\n";
    size_t n = strlen(ev);
    char *d = NULL, *t = NULL, *i = NULL;
    size_t caps = 0;
    for (int k = 0; k < 1000; k++) {
        for (size_t off = 0; off < n; off += 5)
            mb_sse_feed(&p, ev + off, n - off < 5 ? n - off : 5, on_event, &l);
        if (k == 0) {
            d = p.data, t = p.type, i = p.id;
            caps = p.data_cap + p.type_cap + p.id_cap + p.line_cap;
        }
    }
    CHECK_EQ_INT(l.nev, 1000);
    CHECK(p.data == d && p.type == t && p.id == i);
    CHECK(caps == p.data_cap + p.type_cap + p.id_cap + p.line_cap);
    mb_sse_free(&p);
    free(l.s);
}

/* Random SSE-ish streams: every chunking agrees with the whole feed. */
static void test_random_streams(void)
{
    static const char *atoms[] = {
        "data", "data:", "data: ", "event:", "id:", "id", "retry:", "retry: 12", ":", " ",
        "x", "yz", "\r", "\n", "\r\n", "\n\n", "\xEF\xBB\xBF", "\xEF", "\0", "\xE2\x80\xA8",
    };
    uint64_t s = 12345;
    char buf[512];
    for (int it = 0; it < 400; it++) {
        size_t len = 0;
        while (len < sizeof buf - 16) {
            uint64_t r = rng_next(&s);
            const char *a = atoms[r % (sizeof atoms / sizeof atoms[0])];
            size_t n = a[0] ? strlen(a) : 1;
            memcpy(buf + len, a, n);
            len += n;
            if ((r >> 40) % 50 == 0)
                break;
        }
        size_t max_line = it % 3 == 0 ? 1 + it % 13 : 0;
        char *want = run(buf, len, 0, max_line);
        for (int mode = 1; mode < 12; mode++) {
            char *got = run(buf, len, mode, max_line);
            CHECK_MSG(strcmp(got, want) == 0, "random stream %d mode %d", it, mode);
            free(got);
        }
        free(want);
    }
}

/* ---- fixtures ------------------------------------------------------------------ */

/* Per-fixture expectations, read off the bytes (od -c): events dispatched
 * by feed, finish()'s flag, first and last event, and the partial event
 * finish() hands over (NULL when none). ids are all empty, retry -1. */
static const struct fixture {
    const char *file;
    int nev, truncated;
    const char *first_type, *first_data, *last_type, *last_data;
    const char *partial_type, *partial_data;
} FIXTURES[] = {
    {"anthropic_docs_stream_basic.sse", 8, 0,
        "message_start", "{\"type\": \"message_start\", \"message\": {\"id\": \"msg_1nZdL29xx5MU"
        "A1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": \"assistant"
        "\", \"content\": [], \"model\": \"claude-opus-4-1-20250805\", \"stop_r"
        "eason\": null, \"stop_sequence\": null, \"usage\": {\"input_tokens\": "
        "25, \"output_tokens\": 1}}}",
        "message_stop", "{\"type\": \"message_stop\"}",
        NULL, NULL},
    {"anthropic_docs_stream_thinking.sse", 14, 1,
        "message_start", "{\"type\": \"message_start\", \"message\": {\"id\": \"msg_01...\", \"t"
        "ype\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\""
        ": \"claude-opus-4-1-20250805\", \"stop_reason\": null, \"stop_sequence"
        "\": null}}",
        "message_delta", "{\"type\": \"message_delta\", \"delta\": {\"stop_reason\": \"end_turn\""
        ", \"stop_sequence\": null}}",
        "message_stop", "{\"type\": \"message_stop\"}"},
    {"anthropic_messages_stream.sse", 9, 0,
        "message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_4QpJur2dWWDjF6C7"
        "58FbBw5vm12BaVipnK\",\"type\":\"message\",\"role\":\"assistant\",\"con"
        "tent\":[],\"model\":\"claude-opus-4-20250514\",\"stop_reason\":null,\""
        "stop_sequence\":null,\"usage\":{\"input_tokens\":11,\"output_tokens\":"
        "1}}}",
        "message_stop", "{\"type\":\"message_stop\"}",
        NULL, NULL},
    {"anthropic_messages_stream_thinking_padded.sse", 14, 0,
        "message_start", "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-fable-5\","
        "\"id\":\"msg_fixture_a_0001\",\"type\":\"message\",\"role\":\"assistan"
        "t\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"stop_"
        "details\":null,\"usage\":{\"input_tokens\":28,\"cache_creation_input_t"
        "okens\":0,\"cache_read_input_tokens\":0,\"cache_creation\":{\"ephemera"
        "l_5m_input_tokens\":0,\"ephemeral_1h_input_tokens\":0},\"output_tokens"
        "\":5,\"service_tier\":\"standard\",\"inference_geo\":\"global\"}}     "
        "          }",
        "message_stop", "{\"type\":\"message_stop\"      }",
        NULL, NULL},
    {"anthropic_messages_stream_tool_use.sse", 15, 0,
        "message_start", "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_019Q1hrJbZG26Fb9"
        "BQhrkHEr\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"cla"
        "ude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"stop_seq"
        "uence\":null,\"usage\":{\"input_tokens\":377,\"cache_creation_input_to"
        "kens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_t"
        "ier\":\"standard\"}}}",
        "message_stop", "{\"type\":\"message_stop\"}",
        NULL, NULL},
    {"anthropic_stream_error_overloaded.sse", 0, 1,
        "", "",
        "", "",
        "error", "{\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"me"
        "ssage\": \"Overloaded\"}}"},
    {"llamacpp_completion_stream.sse", 8, 0,
        "message", "{\"index\":0,\"content\":\"\\n\\n\",\"tokens\":[108],\"stop\":false,\""
        "id_slot\":-1,\"tokens_predicted\":1,\"tokens_evaluated\":14}",
        "message", "{\"index\":0,\"content\":\"\",\"tokens\":[],\"id_slot\":0,\"stop\":tru"
        "e,\"model\":\"gpt-3.5-turbo\",\"tokens_predicted\":7,\"tokens_evaluate"
        "d\":14,\"generation_settings\":{\"n_predict\":512,\"seed\":4294967295,"
        "\"temperature\":0.800000011920929,\"dynatemp_range\":0.0,\"dynatemp_ex"
        "ponent\":1.0,\"top_k\":40,\"top_p\":0.949999988079071,\"min_p\":0.0500"
        "0000074505806,\"top_n_sigma\":-1.0,\"xtc_probability\":0.0,\"xtc_thres"
        "hold\":0.10000000149011612,\"typical_p\":1.0,\"repeat_last_n\":64,\"re"
        "peat_penalty\":1.0,\"presence_penalty\":0.0,\"frequency_penalty\":0.0,"
        "\"dry_multiplier\":0.0,\"dry_base\":1.75,\"dry_allowed_length\":2,\"dr"
        "y_penalty_last_n\":4096,\"dry_sequence_breakers\":[\"\\n\",\":\",\"\\\""
        "\",\"*\"],\"mirostat\":0,\"mirostat_tau\":5.0,\"mirostat_eta\":0.10000"
        "000149011612,\"stop\":[],\"max_tokens\":512,\"n_keep\":0,\"n_discard\""
        ":0,\"ignore_eos\":false,\"stream\":true,\"logit_bias\":[],\"n_probs\":"
        "0,\"min_keep\":0,\"grammar\":\"\",\"grammar_lazy\":false,\"grammar_tri"
        "ggers\":[],\"preserved_tokens\":[],\"chat_format\":\"Content-only\",\""
        "reasoning_format\":\"deepseek\",\"reasoning_in_content\":true,\"thinki"
        "ng_forced_open\":false,\"samplers\":[\"penalties\",\"dry\",\"top_n_sig"
        "ma\",\"top_k\",\"typ_p\",\"top_p\",\"min_p\",\"xtc\",\"temperature\"],"
        "\"speculative.n_max\":16,\"speculative.n_min\":0,\"speculative.p_min\""
        ":0.75,\"timings_per_token\":false,\"post_sampling_probs\":false,\"lora"
        "\":[]},\"prompt\":\"<bos>Could you tell me what HTML stands for? Pleas"
        "e be concise.\",\"has_new_line\":true,\"truncated\":false,\"stop_type\""
        ":\"eos\",\"stopping_word\":\"\",\"tokens_cached\":20,\"timings\":{\"pr"
        "ompt_n\":13,\"prompt_ms\":8553.384,\"prompt_per_token_ms\":657.9526153"
        "846153,\"prompt_per_second\":1.5198662891786456,\"predicted_n\":7,\"pr"
        "edicted_ms\":3150.478,\"predicted_per_token_ms\":450.0682857142857,\"p"
        "redicted_per_second\":2.2218850599813744}}",
        NULL, NULL},
    {"nim_vllm_chat_stream_role_null.sse", 48, 0,
        "message", "{\"id\":\"chat-e135180178ae4fe6a7a301aa65aaeea5\",\"object\":\"chat.co"
        "mpletion.chunk\",\"created\":1727750141,\"model\":\"mistralai/mixtral-"
        "8x22b-instruct-v0.1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\""
        "assistant\",\"content\":null},\"logprobs\":null,\"finish_reason\":null"
        "}]}",
        "message", "[DONE]",
        NULL, NULL},
    {"openai_chat_stream_tool_calls.sse", 11, 0,
        "message", "{\"id\":\"chatcmpl-ABfwERreu9s99xXsVuOWtIB2UOx62\",\"object\":\"chat.c"
        "ompletion.chunk\",\"created\":1727346182,\"model\":\"gpt-4o-2024-08-06"
        "\",\"system_fingerprint\":\"fp_143bb8492c\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\""
        "index\":0,\"id\":\"call_4XzlGBLtUe9dy3GVNV4jhq7h\",\"type\":\"function"
        "\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}],\"refu"
        "sal\":null},\"logprobs\":null,\"finish_reason\":null}]}",
        "message", "[DONE]",
        NULL, NULL},
    {"openai_chat_stream_usage.sse", 34, 0,
        "message", "{\"id\":\"chatcmpl-ABfw031mOJeYCSHe4yI2ZjOA6kMJL\",\"object\":\"chat.c"
        "ompletion.chunk\",\"created\":1727346168,\"model\":\"gpt-4o-2024-08-06"
        "\",\"system_fingerprint\":\"fp_5050236cbd\",\"choices\":[{\"index\":0,"
        "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\""
        "logprobs\":null,\"finish_reason\":null}]}",
        "message", "[DONE]",
        NULL, NULL},
    {"tgi_generate_stream.sse", 19, 1,
        "message", "{\"index\":1,\"token\":{\"id\":13,\"text\":\"\\n\",\"logprob\":-0.5283"
        "203,\"special\":false},\"generated_text\":null,\"details\":null}",
        "message", "{\"index\":19,\"token\":{\"id\":32001,\"text\":\"\343\201\247\343\201\231"
        "\",\"logprob\":-0.58496094,\"special\":false},\"generated_text\":null,"
        "\"details\":null}",
        "message", "{\"index\":20,\"token\":{\"id\":30267,\"text\":\"\343\200\202\",\"logp"
        "rob\":-0.34350586,\"special\":false},\"generated_text\":\"\\n\346\227\245"
        "\346\234\254\343\201\247\344\270\200\347\225\252\351\253\230\343\201\204"
        "\345\261\261\343\201\257\343\201\252\343\202\223\343\201\247\343\201\231"
        "\343\201\213?\\n\343\203\231\343\202\271\343\203\210\343\202\242\343\203"
        "\263\343\202\265\343\203\274\\n\345\257\214\345\243\253\345\261\261\343"
        "\201\247\343\201\231\343\200\202\",\"details\":null}"},
};

typedef struct {
    int nev, npartial;
    char *first_type, *first_data, *last_type, *last_data, *ptype, *pdata;
    int bad_id_retry;
} collect_t;

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static int on_collect(void *ud, const mb_sse_event *ev)
{
    collect_t *c = ud;
    if (ev->id_len || ev->retry != -1)
        c->bad_id_retry++;
    if (ev->partial) {
        c->npartial++;
        c->ptype = dup_n(ev->type, ev->type_len);
        c->pdata = dup_n(ev->data, ev->data_len);
        return 0;
    }
    if (!c->nev++) {
        c->first_type = dup_n(ev->type, ev->type_len);
        c->first_data = dup_n(ev->data, ev->data_len);
    }
    free(c->last_type);
    free(c->last_data);
    c->last_type = dup_n(ev->type, ev->type_len);
    c->last_data = dup_n(ev->data, ev->data_len);
    return 0;
}

static void test_fixtures(void)
{
    for (size_t k = 0; k < sizeof FIXTURES / sizeof FIXTURES[0]; k++) {
        const struct fixture *f = &FIXTURES[k];
        size_t len;
        char *buf = mb_test_slurp(mb_test_fixture(f->file), &len);

        /* chunking invariance: whole, byte by byte, 300 random splittings,
         * and with max_line just fitting the longest line */
        char *want = run(buf, len, 0, 0);
        for (int mode = 1; mode < 2 + 300; mode++) {
            char *got = run(buf, len, mode, 0);
            CHECK_MSG(strcmp(got, want) == 0, "%s: mode %d differs", f->file, mode);
            free(got);
        }
        size_t longest = 0, cur = 0;
        for (size_t i = 0; i < len; i++, cur++)
            if (buf[i] == '\n' || buf[i] == '\r') {
                longest = cur > longest ? cur : longest;
                cur = (size_t)-1;
            }
        longest = cur > longest && cur != (size_t)-1 ? cur : longest;
        for (int mode = 0; mode < 20; mode++) {
            char *got = run(buf, len, mode, longest);
            CHECK_MSG(strcmp(got, want) == 0, "%s: max_line=%zu mode %d", f->file, longest, mode);
            free(got);
            got = run(buf, len, mode, longest - 1);
            CHECK_MSG(strstr(got, "!-4\n=-4") != NULL, "%s: max_line-1 accepted", f->file);
            free(got);
        }
        free(want);

        /* hard expectations */
        collect_t c = {0};
        mb_sse p;
        mb_sse_init(&p, 0);
        CHECK_EQ_INT(mb_sse_feed(&p, buf, len, on_collect, &c), 0);
        CHECK_MSG(c.nev == f->nev, "%s: %d events, want %d", f->file, c.nev, f->nev);
        int fin = mb_sse_finish(&p, on_collect, &c);
        CHECK_MSG(fin == f->truncated, "%s: finish %d, want %d", f->file, fin, f->truncated);
        mb_sse_free(&p);
        CHECK_EQ_INT(c.bad_id_retry, 0);
        if (f->nev) {
            CHECK_STR(c.first_type, f->first_type);
            CHECK_STR(c.first_data, f->first_data);
            CHECK_STR(c.last_type, f->last_type);
            CHECK_STR(c.last_data, f->last_data);
        }
        CHECK_EQ_INT(c.npartial, f->partial_type != NULL);
        if (f->partial_type) {
            CHECK_STR(c.ptype, f->partial_type);
            CHECK_STR(c.pdata, f->partial_data);
        }
        free(c.first_type);
        free(c.first_data);
        free(c.last_type);
        free(c.last_data);
        free(c.ptype);
        free(c.pdata);
        free(buf);
    }
}

int main(void)
{
    test_bom();
    test_line_endings();
    test_fields();
    test_max_line();
    test_finish();
    test_state();
    test_random_streams();
    test_fixtures();
    TEST_MAIN_END();
}

/* client_req.c: what both transports share about a request -- the
 * options every transport needs, the response head and body as they
 * arrive (where storage, SSE parsing and the limits live), and the verdict.
 * The HTTP/1.1 transport hands over its parser's pieces, libcurl its
 * header and write callbacks' (curl/curl_req.c): one code path, so both
 * store, parse and judge a response identically.
 *
 * Storage is arenas only: headers, body and SSE events each append into a
 * growing buffer, so a long stream settles into no allocation per event. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"
#include "client_int.h"

/* Records an error found inside a callback or by a transport; the first
 * one wins. A callback then returns a value that makes the transport stop
 * the transfer. */
void req_vlatch(mb_req *r, mb_err_kind k, const char *fmt, va_list ap)
{
    if (r->latched)
        return;
    r->latched = k;
    vsnprintf(r->err_msg, sizeof r->err_msg, fmt, ap);
}

void req_latch(mb_req *r, mb_err_kind k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    req_vlatch(r, k, fmt, ap);
    va_end(ap);
}

static int is_space(char ch) { return ch == ' ' || ch == '\t'; }

/* Parses "HTTP/x[.y] NNN ..." into the status; a new status line (1xx,
 * CONNECT) starts a new header block. */
static void status_line(mb_req *r, const char *s, size_t n)
{
    const char *sp = memchr(s, ' ', n);
    int st = 0;
    r->resp.nheaders = 0;
    r->hbytes.len = 0;
    r->last_hdr_open = 0;
    r->head_bytes = 0;
    if (sp) {
        for (const char *q = sp + 1; q < s + n && *q >= '0' && *q <= '9' && st < 1000; q++)
            st = st * 10 + (*q - '0');
    }
    r->resp.status = st;
}

/* Stores one header line: name lower-cased, value trimmed; a line starting
 * with a space continues the previous value (obsolete folding). */
static int header_line(mb_req *r, const char *s, size_t n)
{
    if (is_space(s[0]) && r->last_hdr_open && r->resp.nheaders) {
        hdr_rec *h = &r->hv[r->resp.nheaders - 1];
        while (n && is_space(*s))
            s++, n--;
        while (n && is_space(s[n - 1]))
            n--;
        if (mb_buf_add(&r->hbytes, " ", 1) || mb_buf_add(&r->hbytes, s, n))
            return MB_ENOMEM;
        h->value_len += (uint32_t)n + 1;
        return 0;
    }
    const char *colon = memchr(s, ':', n);
    if (!colon || colon == s)
        return 0;   /* not a header: ignore like libcurl does */
    size_t nl = (size_t)(colon - s), voff;
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    while (vl && is_space(*v))
        v++, vl--;
    while (vl && is_space(v[vl - 1]))
        vl--;
    if (MB_VEC_GROW(r->hv, r->hcap, r->resp.nheaders + 1))
        return MB_ENOMEM;
    hdr_rec *h = &r->hv[r->resp.nheaders];
    h->name = (uint32_t)r->hbytes.len;
    h->name_len = (uint32_t)nl;
    if (mb_buf_add(&r->hbytes, s, nl))
        return MB_ENOMEM;
    for (size_t i = 0; i < nl; i++) {
        char *ch = r->hbytes.p + h->name + i;
        if (*ch >= 'A' && *ch <= 'Z')
            *ch = (char)(*ch + 32);
    }
    if (mb_buf_add(&r->hbytes, "", 1))   /* NUL between name and value */
        return MB_ENOMEM;
    voff = r->hbytes.len;
    if (mb_buf_add(&r->hbytes, v, vl))
        return MB_ENOMEM;
    h->value = (uint32_t)voff;
    h->value_len = (uint32_t)vl;
    r->resp.nheaders++;
    r->last_hdr_open = 1;
    return 0;
}

/* At the end of a 2xx head: a body encoded although no encoding was asked
 * for cannot be what the caller parses (SSE or JSON through gzip is
 * garbage), so it fails clearly instead of as a confusing parse error.
 * Returns 0 to go on, -1 to stop. */
static int check_encoding(mb_req *r)
{
    mb_resp_header h;
    if (!r->reject_encoded || r->asked_encoding || r->resp.status < 200 || r->resp.status > 299)
        return 0;
    for (size_t i = 0; i < r->resp.nheaders; i++) {
        if (mb_req_header(r, i, &h) < 0 || h.name_len != 16 ||
            memcmp(h.name, "content-encoding", 16) != 0)
            continue;
        if (h.value_len == 0 || (h.value_len == 8 && strncasecmp(h.value, "identity", 8) == 0))
            continue;
        if (!r->latched) {
            int vl = h.value_len > 40 ? 40 : (int)h.value_len;
            r->latched = MB_ERR_PROTOCOL;
            snprintf(r->err_msg, sizeof r->err_msg,
                     "response is compressed (Content-Encoding: %.*s) but no encoding was "
                     "asked for; set accept_encoding to have it decoded", vl, h.value);
            for (char *q = r->err_msg; *q; q++)
                if ((unsigned char)*q < 0x20 || *q == 0x7f)
                    *q = ' ';
        }
        return -1;
    }
    return 0;
}

/* One line of the response head as it arrived (status line, header line,
 * or the empty line ending the head), for either transport. Returns len to
 * go on, 0 to stop (the error is latched). */
size_t req_head(mb_req *r, const char *buf, size_t len)
{
    size_t n = len;
    if (r->resp.t.ttfb < 0)
        r->resp.t.ttfb = (int64_t)(mb_clock_now_ns() - r->resp.start_ns);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    r->head_bytes += len;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        status_line(r, buf, n);
        r->head_bytes = len;
    } else if (r->head_bytes > MB_CLIENT_MAX_HEADER_BYTES) {
        req_latch(r, MB_ERR_PROTOCOL, "response head exceeds %zu bytes", MB_CLIENT_MAX_HEADER_BYTES);
        return 0;
    } else if (n == 0) {
        r->last_hdr_open = 0;
        if (check_encoding(r) < 0)
            return 0;
    } else if (r->resp.nheaders >= MB_CLIENT_MAX_HEADERS && !is_space(buf[0])) {
        req_latch(r, MB_ERR_PROTOCOL, "response has more than %zu headers",
                  (size_t)MB_CLIENT_MAX_HEADERS);
        return 0;
    } else if (header_line(r, buf, n) < 0) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing headers");
        return 0;
    }
    return len;
}

/* SSE parser callback: hand the event to the owner's hook, or store it in
 * the arena with the stamp of the chunk that completed it. */
static int sse_event(void *ud, const mb_sse_event *ev)
{
    mb_req *r = ud;
    if (r->lag >= 0 && r->c)
        client_lag(r->c, (uint64_t)r->lag);
    if (r->on_sse) {
        int rc = r->on_sse(r->hook_ud, ev, r->t_chunk);
        if (rc)
            req_latch(r, MB_ERR_ABORTED, "stopped by the SSE event hook");
        return rc;
    }
    size_t i = r->resp.nevents, off = r->evbytes.len;
    if (MB_VEC_GROW(r->ev, r->evcap, i + 1)
        || mb_buf_add(&r->evbytes, ev->type, ev->type_len)
        || mb_buf_add(&r->evbytes, ev->data, ev->data_len)
        || mb_buf_add(&r->evbytes, ev->id, ev->id_len)) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing SSE events");
        return 1;
    }
    r->ev[i] = (ev_rec){off, (uint32_t)ev->type_len, (uint32_t)ev->id_len,
                        ev->data_len, ev->retry, r->t_chunk, r->t_user, r->lag >= 0};
    r->resp.nevents = i + 1;
    if (r->on_events)
        client_pend(r->c, r, PEND_EVENTS);
    return 0;
}

uint64_t req_stamp(mb_req *r, uint64_t user, uint64_t kernel)
{
    r->t_user = user;
    if (kernel) {
        assert(kernel <= user);
        r->lag = (int64_t)(user - kernel);
        r->kstamped = 1;
        return kernel;
    }
    r->lag = -1;
    r->ustamped = 1;
    return user;
}

/* A chunk of the response body (de-chunked, decoded) that arrived at t,
 * for either transport. Returns len to go on, 0 to stop (error latched). */
size_t req_data(mb_req *r, const char *buf, size_t len, uint64_t t)
{
    int ok2xx = r->resp.status >= 200 && r->resp.status < 300;
    size_t n_in = len;
    if (r->resp.t.ttfb < 0)
        r->resp.t.ttfb = (int64_t)(t - r->resp.start_ns);
    r->resp.bytes += len;
    if (r->resp.bytes > r->max_body) {
        req_latch(r, MB_ERR_PROTOCOL, "response body exceeds max_body (%zu bytes)", r->max_body);
        return 0;
    }
    if (ok2xx && r->on_data) {
        if (r->on_data(r->hook_ud, buf, len, t)) {
            req_latch(r, MB_ERR_ABORTED, "stopped by the data hook");
            return 0;
        }
        return len;
    }
    if (ok2xx && r->stream) {
        r->t_chunk = t;
        int rc = mb_sse_feed(&r->sse, buf, len, sse_event, r);
        if (rc == MB_ETOOLONG)
            req_latch(r, MB_ERR_PROTOCOL, "SSE line exceeds max_line (%zu bytes)", r->max_line);
        else if (rc < 0)
            req_latch(r, MB_ERR_PROTOCOL, "SSE parser out of memory");
        return rc ? 0 : len;
    }
    if (!ok2xx && r->max_error_body && r->body.len + len > r->max_error_body) {
        /* an error body: its first bytes carry the message; the rest of a
         * flood is counted (max_body still ends it), not kept */
        len = r->body.len < r->max_error_body ? r->max_error_body - r->body.len : 0;
        if (len && mb_buf_add(&r->body, buf, len) < 0) {
            req_latch(r, MB_ERR_PROTOCOL, "out of memory storing the body");
            return 0;
        }
        r->resp.body = r->body.p ? r->body.p : "";
        r->resp.body_len = r->body.len;
        return n_in;
    }
    if (mb_buf_add(&r->body, buf, len) < 0) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing the body");
        return 0;
    }
    r->resp.body = r->body.p;
    r->resp.body_len = r->body.len;
    return len;
}

/* A request method is an HTTP token: letters, digits and !#$%&'*+-.^_`|~ */
static int valid_method(const char *m)
{
    if (!*m)
        return 0;
    for (; *m; m++)
        if (!((*m >= 'A' && *m <= 'Z') || (*m >= 'a' && *m <= 'z') || (*m >= '0' && *m <= '9')
              || strchr("!#$%&'*+-.^_`|~", *m)))
            return 0;
    return 1;
}

/* 1 for http://, 2 for https:// (any case, with something after the
 * scheme), 0 for anything else. */
int req_url_scheme(const char *u)
{
    if (strncasecmp(u, "http://", 7) == 0 && u[7])
        return 1;
    if (strncasecmp(u, "https://", 8) == 0 && u[8])
        return 2;
    return 0;
}

/* Checks the options every transport needs valid and copies what the
 * callbacks read. 0 or MB_EINVAL. */
int req_init(mb_req *r, const mb_req_opts *o)
{
    if (!req_url_scheme(o->url) || (o->method && !valid_method(o->method)))
        return MB_EINVAL;
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i], *colon = h ? strchr(h, ':') : NULL;
        if (!colon || colon == h || strpbrk(h, "\r\n"))
            return MB_EINVAL;
    }
    r->stream = o->stream;
    r->max_body = o->max_body ? o->max_body : MB_DEFAULT_MAX_BODY;
    r->max_line = o->max_line ? o->max_line : MB_DEFAULT_MAX_LINE;
    r->max_error_body = o->max_error_body;
    r->on_sse = o->on_sse;
    r->on_sse_end = o->on_sse_end;
    r->on_data = o->on_data;
    r->hook_ud = o->hook_ud;
    r->on_done = o->on_done;
    r->on_events = o->on_events;
    r->ud = o->ud;
    r->reject_encoded = o->reject_encoded || o->stream;
    r->asked_encoding = o->accept_encoding != NULL;
    r->resp.t = (mb_req_timings){-1, -1, -1, -1, -1};
    r->lag = -1;
    r->resp.err_msg = r->err_msg;
    r->resp.body = "";
    r->timeout_ms = o->timeout_ms;
    r->connect_timeout_ms = o->connect_timeout_ms;
    if (o->stream)
        mb_sse_init(&r->sse, r->max_line);
    return 0;
}

/* mb_sse_finish callback: the event left open at the end of the stream. */
static int partial_event(void *ud, const mb_sse_event *ev)
{
    mb_req *r = ud;
    r->on_sse_end(r->hook_ud, 1, ev, r->resp.start_ns + (uint64_t)r->resp.t.done);
    r->on_sse_end = NULL;
    return 0;
}

/* Ends a 2xx stream: records the parser's verdict; an event left open goes
 * to the end hook only, never into the stored events (per the spec it was
 * not dispatched). */
static void finish_stream(mb_req *r)
{
    int truncated = mb_sse_finish(&r->sse, r->on_sse_end ? partial_event : NULL, r);
    if (truncated < 0)
        truncated = 1;
    r->resp.truncated = truncated;
    if (r->on_sse_end)
        r->on_sse_end(r->hook_ud, truncated, NULL, r->resp.start_ns + (uint64_t)r->resp.t.done);
}

/* The end of a transfer once the transport has filled in status, version
 * and timings: an error latched (by a callback or the transport) wins,
 * then the HTTP status; a complete 2xx stream also gets its end-of-stream
 * verdict. */
void req_verdict(mb_req *r)
{
    mb_resp *s = &r->resp;
    s->done = 1;
    s->stamp_source = r->kstamped && !r->ustamped ? MB_STAMP_KERNEL : MB_STAMP_USER;
    /* read lag is per SSE event; a response read whole has one sample */
    if (!r->latched && r->lag >= 0 && r->c && !(r->stream && !r->on_data))
        client_lag(r->c, (uint64_t)r->lag);
    if (r->latched) {
        /* a transport message may quote a URL (with ?key=) or a header */
        mb_redact_buf(r->err_msg, sizeof r->err_msg, MB_REDACT_TEXT);
        s->err = r->latched;
    } else if (s->status < 200 || s->status > 299) {
        s->err = MB_ERR_HTTP;
        snprintf(r->err_msg, sizeof r->err_msg, "HTTP status %d", s->status);
    } else if (r->stream && !r->on_data) {
        finish_stream(r);
    }
}

/* Frees the arenas and the parser (the transport's part is its own). */
void req_release(mb_req *r)
{
    assert(!r->live);
    if (r->stream)
        mb_sse_free(&r->sse);
    r->stream = 0;
    mb_buf_free(&r->hbytes);
    mb_buf_free(&r->body);
    mb_buf_free(&r->evbytes);
    free(r->hv);
    free(r->ev);
    r->hv = NULL;
    r->ev = NULL;
}

const char *mb_stamp_source_name(int s)
{
    return s == MB_STAMP_KERNEL ? "kernel" : "user";
}

/* The live result; fields fill in as the transfer progresses. */
const mb_resp *mb_req_resp(const mb_req *r)
{
    return &r->resp;
}

/* The i-th response header, pointing into the header arena. */
int mb_req_header(const mb_req *r, size_t i, mb_resp_header *out)
{
    if (i >= r->resp.nheaders)
        return MB_ERANGE;
    const hdr_rec *h = &r->hv[i];
    *out = (mb_resp_header){r->hbytes.p + h->name, h->name_len, r->hbytes.p + h->value,
                           h->value_len};
    return 0;
}

/* The i-th stored event, pointing into the event arena. */
int mb_req_event(const mb_req *r, size_t i, mb_resp_event *out)
{
    if (i >= r->resp.nevents)
        return MB_ERANGE;
    const ev_rec *v = &r->ev[i];
    const char *p = r->evbytes.p + v->off;
    *out = (mb_resp_event){p, v->type_len, p + v->type_len, v->data_len,
                          p + v->type_len + v->data_len, v->id_len, v->retry, v->t_ns,
                          v->t_user_ns, v->kernel};
    return 0;
}

/* Events read by the owner are dropped; the arenas keep their capacity. */
void mb_req_drop_events(mb_req *r)
{
    r->resp.nevents = 0;
    r->evbytes.len = 0;
}

/* client_req.c: one transfer -- its libcurl options, the header and write
 * callbacks (where every byte is stamped), SSE storage, and the final
 * verdict (timings, error kind).
 *
 * Storage is arenas only: headers, body and SSE events each append into a
 * growing buffer, so a long stream settles into no allocation per event. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"
#include "client_int.h"

#ifndef MLXBENCH_VERSION
#define MLXBENCH_VERSION "0"
#endif

/* Appends n bytes, doubling the capacity when needed; keeps a NUL after
 * the data so arenas can be read as C strings. 0 or MB_ENOMEM. */
int cbuf_add(cbuf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2)
                return MB_ENOMEM;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q)
            return MB_ENOMEM;
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;   /* always NUL-terminated for the reader's comfort */
    return 0;
}

/* Releases an arena; it is then empty and reusable. */
void cbuf_free(cbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* Records an error found inside a callback; the first one wins. The
 * callback then returns a value that makes the transport stop the
 * transfer. `fmt` may use one %zu, filled with n. */
void req_latch(mb_req *r, mb_err_kind k, const char *fmt, size_t n)
{
    if (r->latched)
        return;
    r->latched = k;
    if (strstr(fmt, "%zu"))
        snprintf(r->err_msg, sizeof r->err_msg, fmt, n);
    else
        snprintf(r->err_msg, sizeof r->err_msg, "%s", fmt);
}

/* Grows an array of `size`-byte records to hold `need`. 0 or MB_ENOMEM. */
static int grow_arr(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * size);
    if (!p)
        return MB_ENOMEM;
    *arr = p;
    *cap = n;
    return 0;
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
        if (cbuf_add(&r->hbytes, " ", 1) || cbuf_add(&r->hbytes, s, n))
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
    if (grow_arr((void **)&r->hv, &r->hcap, r->resp.nheaders + 1, sizeof *r->hv))
        return MB_ENOMEM;
    hdr_rec *h = &r->hv[r->resp.nheaders];
    h->name = (uint32_t)r->hbytes.len;
    h->name_len = (uint32_t)nl;
    if (cbuf_add(&r->hbytes, s, nl))
        return MB_ENOMEM;
    for (size_t i = 0; i < nl; i++) {
        char *ch = r->hbytes.p + h->name + i;
        if (*ch >= 'A' && *ch <= 'Z')
            *ch = (char)(*ch + 32);
    }
    if (cbuf_add(&r->hbytes, "", 1))   /* NUL between name and value */
        return MB_ENOMEM;
    voff = r->hbytes.len;
    if (cbuf_add(&r->hbytes, v, vl))
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

/* CURLOPT_HEADERFUNCTION: the first call is the first response byte
 * (ttfb, stamped here rather than trusted to CURLINFO). Heads are bounded
 * (MB_CLIENT_MAX_HEADER_BYTES, MB_CLIENT_MAX_HEADERS). */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    return req_head(ud, buf, size * nitems);
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
        req_latch(r, MB_ERR_PROTOCOL, "response has more than %zu headers", MB_CLIENT_MAX_HEADERS);
        return 0;
    } else if (header_line(r, buf, n) < 0) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing headers", 0);
        return 0;
    }
    return len;
}

/* SSE parser callback: hand the event to the owner's hook, or store it in
 * the arena with the stamp of the chunk that completed it. */
static int sse_event(void *ud, const mb_sse_event *ev)
{
    mb_req *r = ud;
    if (r->on_sse) {
        int rc = r->on_sse(r->hook_ud, ev, r->t_chunk);
        if (rc)
            req_latch(r, MB_ERR_ABORTED, "stopped by the SSE event hook", 0);
        return rc;
    }
    size_t i = r->resp.nevents, off = r->evbytes.len;
    if (grow_arr((void **)&r->ev, &r->evcap, i + 1, sizeof *r->ev)
        || cbuf_add(&r->evbytes, ev->type, ev->type_len)
        || cbuf_add(&r->evbytes, ev->data, ev->data_len)
        || cbuf_add(&r->evbytes, ev->id, ev->id_len)) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing SSE events", 0);
        return 1;
    }
    r->ev[i] = (ev_rec){off, (uint32_t)ev->type_len, (uint32_t)ev->id_len,
                        ev->data_len, ev->retry, r->t_chunk};
    r->resp.nevents = i + 1;
    if (r->on_events)
        client_pend(r->c, r, PEND_EVENTS);
    return 0;
}

/* CURLOPT_WRITEFUNCTION: stamps the chunk before anything else, enforces
 * max_body, then hands the bytes to the raw hook, the SSE parser (2xx
 * streams) or the body arena. Returning less than len stops the transfer. */
static size_t write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    return req_data(ud, buf, size * nitems, mb_clock_now_ns());
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
            req_latch(r, MB_ERR_ABORTED, "stopped by the data hook", 0);
            return 0;
        }
        return len;
    }
    if (ok2xx && r->stream) {
        r->sse_on = 1;
        r->t_chunk = t;
        int rc = mb_sse_feed(&r->sse, buf, len, sse_event, r);
        if (rc == MB_ETOOLONG)
            req_latch(r, MB_ERR_PROTOCOL, "SSE line exceeds max_line (%zu bytes)", r->max_line);
        else if (rc < 0)
            req_latch(r, MB_ERR_PROTOCOL, "SSE parser out of memory", 0);
        return rc ? 0 : len;
    }
    if (!ok2xx && r->max_error_body && r->body.len + len > r->max_error_body) {
        /* an error body: its first bytes carry the message; the rest of a
         * flood is counted (max_body still ends it), not kept */
        len = r->body.len < r->max_error_body ? r->max_error_body - r->body.len : 0;
        if (len && cbuf_add(&r->body, buf, len) < 0) {
            req_latch(r, MB_ERR_PROTOCOL, "out of memory storing the body", 0);
            return 0;
        }
        r->resp.body = r->body.p ? r->body.p : "";
        r->resp.body_len = r->body.len;
        return n_in;
    }
    if (cbuf_add(&r->body, buf, len) < 0) {
        req_latch(r, MB_ERR_PROTOCOL, "out of memory storing the body", 0);
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

/* Only http:// and https:// (any case), with something after the scheme. */
static int url_scheme(const char *u)
{
    if (strncasecmp(u, "http://", 7) == 0 && u[7])
        return 1;
    if (strncasecmp(u, "https://", 8) == 0 && u[8])
        return 2;
    return 0;
}

/* Builds the header list. "Expect:" is added (no 100-continue round trip
 * hidden in a measurement) unless the caller sets Expect. */
static int build_headers(mb_req *r, const mb_req_opts *o)
{
    int has_expect = 0;
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i], *colon = h ? strchr(h, ':') : NULL;
        if (!colon || colon == h || strpbrk(h, "\r\n"))
            return MB_EINVAL;
        if ((size_t)(colon - h) == 6 && strncasecmp(h, "expect", 6) == 0)
            has_expect = 1;
        struct curl_slist *l = curl_slist_append(r->hdrs, h);
        if (!l)
            return MB_ENOMEM;
        r->hdrs = l;
    }
    if (!has_expect && o->body) {
        struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
        if (!l)
            return MB_ENOMEM;
        r->hdrs = l;
    }
    return 0;
}

/* Sets the method and body: GET/HEAD/POST natively, anything else as a
 * custom request (with the body when there is one). */
static void set_method(CURL *e, const char *m, const mb_req_opts *o)
{
    if (!m)
        m = o->body ? "POST" : "GET";
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(m, "GET") == 0 && !o->body)
        return;
    if (strcmp(m, "POST") == 0 || o->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? o->body_len : 0));
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body ? o->body : "");
    }
    if (strcmp(m, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
}

/* libcurl before 7.89.0 fails a second transfer on a reused h2c (prior
 * knowledge) connection with "Error in the HTTP2 framing layer" (curl
 * issue 10634): such transfers get a connection of their own there. */
static int h2c_reuse_broken(void)
{
    static _Atomic int v = -1;   /* computed once; engine threads race benignly */
    if (v < 0)
        v = curl_version_info(CURLVERSION_NOW)->version_num < 0x075900;
    return v;
}

/* MLXBENCH_CURL_VERBOSE=1 turns on libcurl's trace on stderr (debugging). */
static int curl_verbose(void)
{
    static _Atomic int v = -1;   /* computed once; engine threads race benignly */
    if (v < 0) {
        const char *s = getenv("MLXBENCH_CURL_VERBOSE");
        v = s && *s && strcmp(s, "0") != 0;
    }
    return v;
}

/* Writes one trace line through the redactor (redact.h): the whole value
 * of a secret header, then every known key and credential shape anywhere
 * (a server echoing a key in a header of its own, a URL with ?key=). */
static void debug_line(const char *prefix, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t keep = n, rl;
    char *red = NULL;
    if (colon && mb_redact_secret_name(s, (size_t)(colon - s)))
        keep = (size_t)(colon - s) + 1;
    if (mb_redact(s, keep, MB_REDACT_TEXT, &red, &rl) == 1) {
        fprintf(stderr, "%s%.*s%s\n", prefix, (int)rl, red, keep < n ? " " MB_REDACTED : "");
        free(red);
        return;
    }
    fprintf(stderr, "%s%.*s%s\n", prefix, (int)keep, s, keep < n ? " " MB_REDACTED : "");
}

/* CURLOPT_DEBUGFUNCTION: libcurl's verbose trace (informational text and
 * the headers both ways, not bodies), one line at a time, credentials
 * redacted, so MLXBENCH_CURL_VERBOSE output can be pasted into a bug. */
static int debug_cb(CURL *e, curl_infotype type, char *data, size_t size, void *ud)
{
    const char *prefix;
    (void)e;
    (void)ud;
    switch (type) {
    case CURLINFO_TEXT: prefix = "* "; break;
    case CURLINFO_HEADER_IN: prefix = "< "; break;
    case CURLINFO_HEADER_OUT: prefix = "> "; break;
    default: return 0;
    }
    while (size > 0) {
        const char *nl = memchr(data, '\n', size);
        size_t n = nl ? (size_t)(nl - data) : size;
        size_t adv = nl ? n + 1 : n;
        while (n && data[n - 1] == '\r')
            n--;
        if (n)
            debug_line(prefix, data, n);
        data += adv;
        size -= adv;
    }
    return 0;
}

/* Checks the options every transport needs valid and copies what the
 * callbacks read. 0 or MB_EINVAL. */
int req_init(mb_req *r, const mb_req_opts *o)
{
    if (!url_scheme(o->url) || (o->method && !valid_method(o->method)))
        return MB_EINVAL;
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i], *colon = h ? strchr(h, ':') : NULL;
        if (!colon || colon == h || strpbrk(h, "\r\n"))
            return MB_EINVAL;
    }
    r->stream = o->stream;
    r->max_body = o->max_body ? o->max_body : MB_CLIENT_DEFAULT_MAX_BODY;
    r->max_line = o->max_line ? o->max_line : MB_SSE_DEFAULT_MAX_LINE;
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
    r->resp.err_msg = r->err_msg;
    r->resp.body = "";
    r->timeout_ms = o->timeout_ms;
    r->connect_timeout_ms = o->connect_timeout_ms;
    if (o->stream)
        mb_sse_init(&r->sse, r->max_line);
    return 0;
}

/* Sets every libcurl option of the transfer (after req_init). 0, MB_EINVAL
 * or MB_ENOMEM. */
int req_setup(mb_req *r, const mb_req_opts *o)
{
    CURL *e = r->easy;
    int scheme = url_scheme(o->url), rc;
    if ((rc = build_headers(r, o)) < 0)
        return rc;
    if (curl_easy_setopt(e, CURLOPT_URL, o->url) != CURLE_OK)
        return MB_ENOMEM;
    set_method(e, o->method, o);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, client_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, (void *)r->c);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, client_closesocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, (void *)r->c);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mlxbench/" MLXBENCH_VERSION);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
    if (r->hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    if (o->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     !o->http2 ? (long)CURL_HTTP_VERSION_1_1
                     : scheme == 2 ? (long)CURL_HTTP_VERSION_2TLS
                                   : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    if (o->http2 && scheme == 1 && h2c_reuse_broken()) {
        curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    }
    if (o->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->cacert && curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert) != CURLE_OK)
        return MB_ENOMEM;
    if (o->accept_encoding
        && curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, o->accept_encoding) != CURLE_OK)
        return MB_ENOMEM;
    if (o->proxy && curl_easy_setopt(e, CURLOPT_PROXY, o->proxy) != CURLE_OK)
        return MB_ENOMEM;
    if (curl_verbose()) {
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
    }
    return 0;
}

/* Maps a libcurl result to DESIGN.md's error kinds. */
static mb_err_kind map_code(CURLcode code, const char *errbuf)
{
    switch (code) {
    case CURLE_OK:
        return MB_ERR_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return MB_ERR_DNS;
    case CURLE_COULDNT_CONNECT:
        return MB_ERR_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return MB_ERR_TLS;
    case CURLE_OPERATION_TIMEDOUT:
        return MB_ERR_TIMEOUT;
    case CURLE_RECV_ERROR:
        /* libcurl reports a broken chunked encoding as a receive error */
        return strstr(errbuf, "chunk") ? MB_ERR_PROTOCOL : MB_ERR_RESET;
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2_STREAM:
        return MB_ERR_RESET;
    case CURLE_ABORTED_BY_CALLBACK:
        return MB_ERR_ABORTED;
    default:   /* PARTIAL_FILE, WEIRD_SERVER_REPLY, HTTP2, ... */
        return MB_ERR_PROTOCOL;
    }
}

/* 1 when the process cannot open one more descriptor right now: libcurl
 * reports a socket() that failed with EMFILE as a plain "Couldn't connect"
 * (CURLINFO_OS_ERRNO stays 0), so ask the kernel with a dup. */
static int at_fd_limit(void)
{
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return errno == EMFILE || errno == ENFILE;
    close(fd);
    return 0;
}

/* Converts a libcurl phase time (us since it began) to ns; 0 = not done. */
static int64_t phase(CURL *e, CURLINFO what)
{
    curl_off_t us = 0;
    if (curl_easy_getinfo(e, what, &us) != CURLE_OK || us <= 0)
        return -1;
    return (int64_t)us * 1000;
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

/* Reads the final figures and decides the error kind: a latched callback
 * error first, then the libcurl result, then the HTTP status; a complete
 * 2xx stream also gets its end-of-stream verdict. */
void req_finish(mb_req *r, CURLcode code, uint64_t t_done)
{
    CURL *e = r->easy;
    long status = 0, ver = 0, nconn = 0;
    mb_resp *s = &r->resp;
    s->done = 1;
    s->t.done = (int64_t)(t_done - s->start_ns);
    s->t.dns = phase(e, CURLINFO_NAMELOOKUP_TIME_T);
    s->t.connect = phase(e, CURLINFO_CONNECT_TIME_T);
    s->t.tls = phase(e, CURLINFO_APPCONNECT_TIME_T);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
    if (status > 0)
        s->status = (int)status;
    s->http_version = ver == CURL_HTTP_VERSION_1_0 ? 10 : ver == CURL_HTTP_VERSION_1_1 ? 11
                    : ver == CURL_HTTP_VERSION_2_0 ? 20 : ver == CURL_HTTP_VERSION_3 ? 30 : 0;
    s->reused = nconn == 0 && (code == CURLE_OK || s->status > 0);
    if (!r->latched && code != CURLE_OK) {
        long oserr = 0;
        mb_err_kind k = map_code(code, r->errbuf);
        curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
        if (code == CURLE_FILESIZE_EXCEEDED)
            snprintf(r->err_msg, sizeof r->err_msg, "response body exceeds max_body (%zu bytes)",
                     r->max_body);
        else if (oserr == EMFILE || oserr == ENFILE ||
                 (code == CURLE_COULDNT_CONNECT && at_fd_limit()))
            snprintf(r->err_msg, sizeof r->err_msg, "%s", MB_MSG_FD_LIMIT);
        else
            snprintf(r->err_msg, sizeof r->err_msg, "%s", r->errbuf[0] ? r->errbuf
                                                           : curl_easy_strerror(code));
        r->latched = k;
    }
    req_verdict(r);
}

/* The end of a transfer once the transport has filled in status, version
 * and timings: an error latched (by a callback or the transport) wins,
 * then the HTTP status; a complete 2xx stream also gets its end-of-stream
 * verdict. */
void req_verdict(mb_req *r)
{
    mb_resp *s = &r->resp;
    s->done = 1;
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

/* The client stops a transfer in flight: it ends as `aborted` with `why`
 * (unless a callback had already decided its error). */
void req_abort(mb_req *r, const char *why, uint64_t t_done)
{
    if (!r->latched) {
        r->latched = MB_ERR_ABORTED;
        snprintf(r->err_msg, sizeof r->err_msg, "%s", why ? why : "aborted");
    }
    req_finish(r, CURLE_ABORTED_BY_CALLBACK, t_done);
}

/* Frees the header list, arenas and parser (not the easy handle). */
void req_release(mb_req *r)
{
    if (r->hdrs)   /* (libcurl may not even be loaded: an h1 request has none) */
        curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    if (r->stream)
        mb_sse_free(&r->sse);
    r->stream = 0;
    cbuf_free(&r->hbytes);
    cbuf_free(&r->whead);
    cbuf_free(&r->body);
    cbuf_free(&r->evbytes);
    free(r->hv);
    free(r->ev);
    r->hv = NULL;
    r->ev = NULL;
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
                          p + v->type_len + v->data_len, v->id_len, v->retry, v->t_ns};
    return 0;
}

/* Events read by the owner are dropped; the arenas keep their capacity. */
void mb_req_drop_events(mb_req *r)
{
    r->resp.nevents = 0;
    r->evbytes.len = 0;
}

/* DESIGN.md's name of an error kind. */
const char *mb_err_kind_name(mb_err_kind k)
{
    static const char *const names[] = {NULL, "dns", "connect", "tls", "timeout", "reset",
                                        "http", "protocol", "stream", "aborted"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
}

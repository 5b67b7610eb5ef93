/* curl_req.c: one transfer on libcurl -- its options, the header and
 * write callbacks (the first response byte and every chunk are stamped
 * there, then handed to the shared head and body code of client_req.c),
 * the mapping of libcurl's result to an error kind, and the verbose trace
 * with credentials redacted. */
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
#include "curl_int.h"

/* CURLOPT_HEADERFUNCTION: the first call is the first response byte
 * (ttfb, stamped here rather than trusted to CURLINFO). Heads are bounded
 * (MB_CLIENT_MAX_HEADER_BYTES, MB_CLIENT_MAX_HEADERS). */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    return req_head(ud, buf, size * nitems);
}

/* CURLOPT_WRITEFUNCTION: stamps the chunk before anything else (in user
 * space: libcurl reads the socket itself, no kernel stamp), enforces
 * max_body, then hands the bytes to the raw hook, the SSE parser (2xx
 * streams) or the body arena. Returning less than len stops the transfer. */
static size_t write_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    return req_data(ud, buf, size * nitems, req_stamp(ud, mb_clock_now_ns(), 0));
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
        struct curl_slist *l = curl_slist_append(CR(r)->hdrs, h);
        if (!l)
            return MB_ENOMEM;
        CR(r)->hdrs = l;
    }
    if (!has_expect && o->body) {
        struct curl_slist *l = curl_slist_append(CR(r)->hdrs, "Expect:");
        if (!l)
            return MB_ENOMEM;
        CR(r)->hdrs = l;
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

/* Sets every libcurl option of the transfer (after req_init). 0, MB_EINVAL
 * or MB_ENOMEM. */
int curl_req_setup(mb_req *r, const mb_req_opts *o, void *ud)
{
    CURL *e = CR(r)->easy;
    int scheme = req_url_scheme(o->url), rc;
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
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, CR(r)->errbuf);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, curl_opensocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, ud);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, curl_closesocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, ud);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "mlxbench/" MLXBENCH_VERSION);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body);
    if (CR(r)->hdrs)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, CR(r)->hdrs);
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

/* Maps a libcurl result to an error kind (errors.h). */
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

/* Reads the final figures and decides the error kind: a latched callback
 * error first, then the libcurl result, then the HTTP status; a complete
 * 2xx stream also gets its end-of-stream verdict. */
void curl_req_finish(mb_req *r, CURLcode code, uint64_t t_done)
{
    CURL *e = CR(r)->easy;
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
        const char *eb = CR(r)->errbuf;
        mb_err_kind k = map_code(code, eb);
        curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
        if (code == CURLE_FILESIZE_EXCEEDED)
            req_latch(r, k, "response body exceeds max_body (%zu bytes)", r->max_body);
        else if (oserr == EMFILE || oserr == ENFILE ||
                 (code == CURLE_COULDNT_CONNECT && at_fd_limit()))
            req_latch(r, k, "%s", MB_MSG_FD_LIMIT);
        else
            req_latch(r, k, "%s", eb[0] ? eb : curl_easy_strerror(code));
    }
    req_verdict(r);
}

/* mock_control.c: the emulated server's control plane -- /mock/faults,
 * /mock/trace, /mock/stats and their resets, guarded by the control token
 * (or loopback only), and the C API that does the same (mock.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

/* %XX-decodes n bytes of s into out (NUL-terminated, truncated to cap);
 * `plus` turns '+' into a space, as in query strings. */
void mk_url_decode(const char *s, size_t n, char *out, size_t cap, int plus)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[j++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[j++] = plus && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = 0;
}

/* Value of `key` in a query string, %XX-decoded into out; 0 if absent. */
static int query_param(const char *q, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > kl && strncmp(q, key, kl) == 0 && q[kl] == '=') {
            mk_url_decode(q + kl + 1, len - kl - 1, out, cap, 1);
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* A non-negative integer query parameter: 1 and *out, 0 if absent, -1 if
 * malformed. */
static int query_u64(const char *q, const char *key, uint64_t *out)
{
    char v[32], *end = NULL;
    if (!query_param(q, key, v, sizeof v))
        return 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!end || *end || v[0] == '-' || v[0] == 0)
        return -1;
    *out = x;
    return 1;
}

/* refuse_s elapsed: accept connections again. */
static void on_refuse_timer(uv_timer_t *t)
{
    mb_mock *m = t->data;
    m->faults.refuse_connections = 0;
    if (mb_server_resume(m->srv) < 0 && m->log)
        fprintf(stderr, "mlxbench mock: cannot listen again on port %d\n",
                m->srv ? mb_server_port(m->srv) : 0);
}

/* Stops listening (refuse_connections), for refuse_s if set. */
void mk_refuse_start(mb_mock *m)
{
    m->st.f_refuse++;
    mb_server_pause(m->srv);
    if (m->faults.refuse_s > 0)
        uv_timer_start(&m->refuse_timer, on_refuse_timer,
                       (uint64_t)(m->faults.refuse_s * 1000.0 + 0.5), 0);
}

/* Applies fault fields, then what they imply at once (listening, RNG). */
static int apply_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    mb_json_val o, seed;
    int rc;
    if (mb_json_doc(json, len, &o) < 0) {
        snprintf(err, errlen, "faults: body is not valid JSON");
        return MB_EPARSE;
    }
    int was_refusing = m->faults.refuse_connections;
    uint64_t old_seed = m->faults.seed;
    rc = mk_faults_apply(&m->faults, &m->faults_initial, &o, err, errlen);
    if (rc < 0)
        return rc;
    if (mb_json_find(&o, "seed", &seed) || m->faults.seed != old_seed)
        mb_rng_seed(&m->frng, m->faults.seed);
    if (m->faults.refuse_connections && !was_refusing) {
        mk_refuse_start(m);
    } else if (!m->faults.refuse_connections && was_refusing) {
        uv_timer_stop(&m->refuse_timer);
        rc = mb_server_resume(m->srv);
        if (rc < 0) {
            snprintf(err, errlen, "cannot listen again: %s", uv_strerror(rc));
            return MB_EIO;
        }
    }
    return 0;
}

/* POST /mock/faults from C (mock.h). */
int mb_mock_set_faults(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    char tmp[256];
    if (!err) {
        err = tmp;
        errlen = sizeof tmp;
    }
    return apply_faults(m, json, len, err, errlen);
}

/* GET /mock/faults. */
char *mb_mock_faults_json(mb_mock *m)
{
    mb_buf b = {0};
    mk_faults_to_json(&m->faults, &b);
    return mb_buf_take(&b);
}

/* GET /mock/trace. */
char *mb_mock_trace_json(mb_mock *m, uint64_t since, size_t limit, const char *cid, int wall)
{
    mb_buf b = {0};
    mk_trace_json(&m->trace, &b, since, limit ? limit : 1000, cid && *cid ? cid : NULL, wall);
    return mb_buf_take(&b);
}

/* POST /mock/trace/reset: the records and the emission-error histogram. */
void mb_mock_trace_reset(mb_mock *m)
{
    mk_trace_clear(&m->trace);
    mb_hist_reset(m->emit_hist);
    m->st.late_1ms = m->st.late_2ms = 0;
}

/* Sends a malloc'd JSON document (NULL = out of memory) and frees it. */
static void respond_doc(mb_mock *m, mb_server_conn *c, char *doc)
{
    mb_buf b = {0};
    if (doc) {
        b.p = doc;
        b.len = strlen(doc);
        b.cap = b.len + 1;
    } else {
        mk_openai_error(&b, "out of memory", "server_error", NULL, NULL);
    }
    mk_respond(m, c, doc ? 200 : 500, NULL, &b);
    mb_buf_free(&b);
}

/* Compares a secret without an early exit (no timing hint of the prefix). */
static int same_secret(const char *v, size_t n, const char *secret)
{
    size_t l = strlen(secret);
    unsigned char d = (unsigned char)(n != l);
    for (size_t i = 0; i < l; i++)
        d |= (unsigned char)((i < n ? (unsigned char)v[i] : 0) ^ (unsigned char)secret[i]);
    return d == 0;
}

/* 1 when "host[:port]" (a Host header, or an Origin without its scheme)
 * names this mock on loopback: 127.0.0.0/8, localhost or ::1, and our port
 * if a port is given. */
static int loopback_authority(const mb_mock *m, const char *v, size_t n)
{
    const char *port = NULL, *end = v + n;
    size_t hl;
    if (n && v[0] == '[') {
        const char *rb = memchr(v, ']', n);
        if (!rb)
            return 0;
        hl = (size_t)(rb - v) + 1;
        port = rb + 1 < end && rb[1] == ':' ? rb + 2 : NULL;
    } else {
        const char *colon = memchr(v, ':', n);
        hl = colon ? (size_t)(colon - v) : n;
        port = colon ? colon + 1 : NULL;
    }
    int local = (hl == 9 && strncasecmp(v, "localhost", 9) == 0)
                || (hl == 5 && memcmp(v, "[::1]", 5) == 0) || (hl >= 7 && hl <= 15 && !memcmp(v, "127.", 4));
    for (size_t i = 0; local && v[0] == '1' && i < hl; i++)
        local = (v[i] >= '0' && v[i] <= '9') || v[i] == '.';
    long p = 0;
    for (const char *q = port; q && q < end && p <= 65535; q++)
        p = *q >= '0' && *q <= '9' ? p * 10 + (*q - '0') : 65536;
    return local && (!port || p == m->port);
}

/* Without a token, loopback alone is no proof the caller is local: a web
 * page can POST to 127.0.0.1 (its request carries Origin) or reach it
 * through a DNS name it rebinds (its Host is that name). Such requests
 * are refused; curl, scripts and mlxbench send neither. */
static int same_machine(const mb_mock *m, const mb_server_req *q)
{
    size_t n;
    const char *v = mb_server_req_header(q, "origin", &n);
    if (v) {
        const char *p = n > 7 ? memchr(v, ':', n) : NULL;
        if (!p || (size_t)(p - v) + 3 > n || p[1] != '/' || p[2] != '/')
            return 0;   /* "null" (a sandboxed page, a file) or not a URL */
        if (!loopback_authority(m, p + 3, n - (size_t)(p + 3 - v)))
            return 0;
    }
    v = mb_server_req_header(q, "host", &n);
    return !v || loopback_authority(m, v, n);
}

/* The control endpoints change what the mock does (faults, refusing
 * connections) and show traffic: with a token they need it (X-Mock-Token
 * or Authorization: Bearer); without one they answer only when the mock
 * listens on loopback, to a request from this machine (same_machine).
 * Returns 1 when the request may go on. */
static int control_ok(mb_mock *m, mb_server_conn *c, const mb_server_req *q)
{
    size_t n;
    const char *v;
    if (m->control_token) {
        v = mb_server_req_header(q, "x-mock-token", &n);
        if (v && same_secret(v, n, m->control_token))
            return 1;
        v = mb_server_req_header(q, "authorization", &n);
        if (v && n > 7 && strncasecmp(v, "Bearer ", 7) == 0 &&
            same_secret(v + 7, n - 7, m->control_token))
            return 1;
        mk_api_error(m, c, SHAPE_OPENAI, 401, "The mock's control endpoints need its control "
                  "token (header X-Mock-Token).", NULL, "invalid_control_token", NULL);
        return 0;
    }
    if (m->control_open && same_machine(m, q))
        return 1;
    if (m->control_open) {
        mk_api_error(m, c, SHAPE_OPENAI, 403, "The mock's control endpoints refuse cross-site "
                     "requests (an Origin header, or a Host that is not this loopback address): "
                     "start it with --control-token TOKEN to allow them with the token.", NULL,
                     "cross_site_refused", NULL);
        return 0;
    }
    mk_api_error(m, c, SHAPE_OPENAI, 403, "The mock's control endpoints are off: it listens on "
              "a non-loopback address without a control token (start it with "
              "--control-token TOKEN or \"control_token\" in the profile).", NULL,
              "control_disabled", NULL);
    return 0;
}

/* /mock/SUB: the control endpoints (docs/MOCK.md, "Control"). */
void mk_control(mb_mock *m, mb_server_conn *c, const mb_server_req *q, const char *sub)
{
    int get = strcmp(q->method, "GET") == 0, post = strcmp(q->method, "POST") == 0;
    char err[256];
    if (!control_ok(m, c, q))
        return;
    if (strcmp(sub, "stats") == 0 && get) {
        respond_doc(m, c, mb_mock_stats_json(m));
    } else if (strcmp(sub, "stats/reset") == 0 && post) {
        memset(&m->st, 0, sizeof m->st);
        respond_doc(m, c, strdup("{\"ok\":true}"));
    } else if (strcmp(sub, "trace") == 0 && get) {
        uint64_t since = 0, limit = 1000, wall = 0;
        char cid[72] = "";
        if (query_u64(q->query, "since", &since) < 0 || query_u64(q->query, "limit", &limit) < 0 ||
            query_u64(q->query, "wall", &wall) < 0 || limit > 1000000) {
            mk_api_error(m, c, SHAPE_OPENAI, 400, "since, limit (<= 1000000) and wall must be "
                      "non-negative integers", NULL, NULL, NULL);
            return;
        }
        query_param(q->query, "id", cid, sizeof cid);
        respond_doc(m, c, mb_mock_trace_json(m, since, (size_t)limit, cid, wall != 0));
    } else if (strcmp(sub, "trace/reset") == 0 && post) {
        mb_mock_trace_reset(m);
        respond_doc(m, c, strdup("{\"ok\":true}"));
    } else if (strcmp(sub, "faults") == 0 && get) {
        respond_doc(m, c, mb_mock_faults_json(m));
    } else if (strcmp(sub, "faults") == 0 && post) {
        if (apply_faults(m, q->body, q->body_len, err, sizeof err) < 0) {
            mk_api_error(m, c, SHAPE_OPENAI, 400, err, NULL, NULL, NULL);
            return;
        }
        respond_doc(m, c, mb_mock_faults_json(m));
    } else {
        mk_api_error(m, c, SHAPE_OPENAI, 404, "Unknown mock control endpoint: see docs/MOCK.md "
                  "(GET /mock/stats, GET /mock/trace, POST /mock/trace/reset, GET|POST "
                  "/mock/faults, POST /mock/stats/reset).", NULL, NULL, NULL);
    }
}

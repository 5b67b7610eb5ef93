/* h1_msg.c: the message side of the plain-HTTP/1.1 transport -- which
 * requests may take it, the URL split into host, port and target, and the
 * request head, written byte for byte as libcurl would write it (same
 * default headers, same rules for the caller's headers), so a server sees
 * the same request whichever transport sent it.
 *
 * Anything this file does not parse exactly as libcurl does (userinfo,
 * dot segments, odd bytes, a proxy that applies) is not eligible and goes
 * to libcurl: the fast path is an optimisation, never a second dialect. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/errors.h"
#include "h1_int.h"

#ifndef MLXBENCH_VERSION
#define MLXBENCH_VERSION "0"
#endif

/* 1 if `host` matches an entry of a no_proxy list (libcurl's rules: "*",
 * exact names, and domain suffixes with or without a leading dot). */
static int no_proxy_match(const char *list, const char *host)
{
    size_t hl = strlen(host);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if (n == 1 && *p == '*')
            return 1;
        if (n && *p == '.')
            p++, n--;
        if (n && n <= hl && strncasecmp(host + hl - n, p, n) == 0
            && (n == hl || host[hl - n - 1] == '.'))
            return 1;
        p = e;
    }
    return 0;
}

/* The environment, read once per process (getenv per request showed in
 * profiles): whether libcurl would use a proxy from it, the no_proxy list,
 * and MLXBENCH_HTTP=curl / MLXBENCH_CURL_VERBOSE (both: libcurl only). */
static struct {
    int any_proxy, forced;
    const char *no_proxy;
} env;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void env_read(void)
{
    static const char *const vars[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    const char *s = getenv("MLXBENCH_HTTP"), *v = getenv("MLXBENCH_CURL_VERBOSE");
    env.no_proxy = getenv("no_proxy");
    if (!env.no_proxy || !*env.no_proxy)
        env.no_proxy = getenv("NO_PROXY");
    for (int i = 0; vars[i]; i++) {
        const char *p = getenv(vars[i]);
        if (p && *p)
            env.any_proxy = 1;
    }
    env.forced = (s && strcmp(s, "curl") == 0) || (v && *v && strcmp(v, "0") != 0);
}

/* 1 when libcurl would send this request through a proxy from the
 * environment (http_proxy, all_proxy; not excluded by no_proxy). */
static int env_proxy(const char *host)
{
    return env.any_proxy && !(env.no_proxy && no_proxy_match(env.no_proxy, host));
}

/* A host name libcurl would take as is: letters, digits, '-', '.', '_'. */
static int plain_name(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
            return 0;
    return 1;
}

/* Splits an http:// URL. 0, or MB_EINVAL when it is not one this transport
 * takes (the caller then uses libcurl, which also reports real errors). */
int h1_url_parse(const char *url, h1_url *u)
{
    const char *p, *a, *ae, *pe;
    memset(u, 0, sizeof *u);
    if (strncasecmp(url, "http://", 7) != 0)
        return MB_EINVAL;
    for (p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\')
            return MB_EINVAL;
    a = url + 7;
    ae = a + strcspn(a, "/?#");
    if (memchr(a, '@', (size_t)(ae - a)))
        return MB_EINVAL;
    if (*a == '[') {   /* [v6]:port */
        const char *rb = memchr(a, ']', (size_t)(ae - a));
        size_t n;
        if (!rb || (n = (size_t)(rb - a - 1)) == 0 || n >= sizeof u->host)
            return MB_EINVAL;
        memcpy(u->host, a + 1, n);
        u->v6 = 1;
        p = rb + 1;
    } else {
        const char *colon = memchr(a, ':', (size_t)(ae - a));
        const char *he = colon ? colon : ae;
        size_t n = (size_t)(he - a);
        if (!plain_name(a, n) || n >= sizeof u->host)
            return MB_EINVAL;
        memcpy(u->host, a, n);
        for (size_t i = 0; i < n; i++)
            if (u->host[i] >= 'A' && u->host[i] <= 'Z')
                u->host[i] = (char)(u->host[i] + 32);
        p = he;
    }
    u->port = 80;
    if (p < ae) {
        long port = 0;
        if (*p != ':' || p + 1 == ae || ae - p > 6)
            return MB_EINVAL;
        for (p++; p < ae; p++) {
            if (*p < '0' || *p > '9')
                return MB_EINVAL;
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535)
            return MB_EINVAL;
        u->port = (int)port;
    }
    /* target: path and query, no fragment; libcurl removes dot segments */
    pe = ae + strcspn(ae, "#");
    u->path = ae;
    u->path_len = (size_t)(pe - ae);
    for (p = ae; p + 1 < pe; p++)
        if (p[0] == '/' && p[1] == '.')
            return MB_EINVAL;
    return 0;
}

/* Appends a string. 0 or MB_ENOMEM. */
static int put(cbuf *b, const char *s)
{
    return cbuf_add(b, s, strlen(s));
}

/* Index of a caller's header named `name`, or -1. */
static int find_header(const mb_req_opts *o, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < o->nheaders; i++)
        if (strncasecmp(o->headers[i], name, n) == 0 && o->headers[i][n] == ':')
            return (int)i;
    return -1;
}

/* Whether the request can take the plain-HTTP/1.1 transport. */
int h1_eligible(const mb_req_opts *o)
{
    h1_url u;
    pthread_once(&env_once, env_read);
    if (env.forced || o->http2 || o->accept_encoding || (o->proxy && *o->proxy))
        return 0;
    for (size_t i = 0; i < o->nheaders; i++) {   /* a real Expect: libcurl's 100 dance */
        const char *h = o->headers[i];
        if (strncasecmp(h, "expect:", 7) == 0 && h[7 + strspn(h + 7, " \t")])
            return 0;
    }
    if (h1_url_parse(o->url, &u) < 0)
        return 0;
    return o->proxy || !env_proxy(u.host);
}

/* Writes the request head into r->whead the way libcurl 7.88 does: request
 * line, Host (":port" unless 80), User-Agent, Accept, the caller's headers
 * in order, then for a body Content-Length and the form Content-Type. A
 * caller's header replaces the default of the same name; one with an empty
 * value ("Name:") only removes it. No Expect is sent (h1_eligible leaves a
 * caller's Expect to libcurl). 0 or MB_ENOMEM. */
int h1_head_build(mb_req *r, const mb_req_opts *o, const h1_url *u)
{
    cbuf *b = &r->whead;
    const char *m = o->method ? o->method : o->body ? "POST" : "GET";
    int has_body = o->body != NULL || strcmp(m, "POST") == 0;
    char num[32];
    int rc = MB_ENOMEM;
    b->len = 0;
    r->head_req = strcmp(m, "HEAD") == 0;
    if (r->head_req)
        has_body = 0;
    if (put(b, m) || put(b, " ") || (u->path_len == 0 || u->path[0] == '?' ? put(b, "/") : 0)
        || cbuf_add(b, u->path, u->path_len) || put(b, " HTTP/1.1\r\n"))
        goto out;
    if (find_header(o, "host") < 0) {
        if (put(b, "Host: ") || (u->v6 ? put(b, "[") : 0) || put(b, u->host)
            || (u->v6 ? put(b, "]") : 0))
            goto out;
        if (u->port != 80) {
            snprintf(num, sizeof num, ":%d", u->port);
            if (put(b, num))
                goto out;
        }
        if (put(b, "\r\n"))
            goto out;
    }
    if (find_header(o, "user-agent") < 0 && put(b, "User-Agent: mlxbench/" MLXBENCH_VERSION "\r\n"))
        goto out;
    if (find_header(o, "accept") < 0 && put(b, "Accept: */*\r\n"))
        goto out;
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i], *colon = strchr(h, ':'), *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (!*v)
            continue;   /* "Name:" removes a default, sends nothing */
        if (put(b, h) || put(b, "\r\n"))
            goto out;
    }
    if (has_body) {
        if (find_header(o, "content-length") < 0) {
            snprintf(num, sizeof num, "Content-Length: %zu\r\n", o->body ? o->body_len : 0);
            if (put(b, num))
                goto out;
        }
        if (find_header(o, "content-type") < 0
            && put(b, "Content-Type: application/x-www-form-urlencoded\r\n"))
            goto out;
    }
    if (put(b, "\r\n"))
        goto out;
    r->wbody = has_body && o->body ? o->body : NULL;
    r->wbody_len = r->wbody ? o->body_len : 0;
    rc = 0;
out:
    return rc;
}

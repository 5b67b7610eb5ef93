/* h1_msg.c: the message side of the plain-HTTP/1.1 transport -- which
 * requests may take it, the URL split into host, port and target, and the
 * request head, written byte for byte as libcurl would write it (same
 * default headers, same rules for the caller's headers), so a server sees
 * the same request whichever transport sent it.
 *
 * Anything this file does not parse exactly as libcurl does (userinfo,
 * dot segments, odd bytes, a proxy that applies) is not eligible and goes
 * to libcurl: the fast path is an optimisation, never a second dialect. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mlxbench/errors.h"
#include "h1_int.h"


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

/* libcurl 7.88 reads a host made of one to four numbers (each decimal,
 * 0x hex or 0 octal, as strtoul(3) base 0) as an IPv4 address, the last
 * number filling the remaining bytes ("127.1", "0x7f.0.0.1", "2130706433"),
 * and uses the dotted quad for the connection and in Host. Returns 1 and
 * writes the dotted quad to `out` for such a host, 0 for a name, -1 for
 * one libcurl may judge otherwise (left to it). */
static int ipv4_normalize(const char *s, size_t n, char *out, size_t outsz)
{
    unsigned long long parts[4] = {0, 0, 0, 0}, max;
    const char *p = s, *e = s + n;
    int k = 0;
    if (!n || *s < '0' || *s > '9')
        return 0;
    for (;;) {
        unsigned long long v = 0;
        int base = 10, digits = 0;
        if (p == e || *p < '0' || *p > '9')
            return k ? -1 : 0;
        if (*p == '0' && p + 1 < e && (p[1] == 'x' || p[1] == 'X'))
            base = 16, p += 2;
        else if (*p == '0')
            base = 8;
        for (; p < e; p++, digits++) {
            int d = *p >= '0' && *p <= '9' ? *p - '0'
                  : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                  : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : 99;
            if (d >= base)
                break;
            v = v * (unsigned)base + (unsigned)d;
            if (v > 0xffffffffull)
                return -1;
        }
        if (base == 16 && !digits)
            return -1;   /* "0x": strtoul reads the 0 */
        parts[k] = v;
        if (p == e)
            break;
        if (*p != '.')
            return k ? -1 : 0;   /* "1e100.net", "0x7fhost": a name */
        if (++k == 4)
            return -1;
        p++;
    }
    max = k == 0 ? 0xffffffffull : k == 1 ? 0xffffffull : k == 2 ? 0xffffull : 0xffull;
    for (int i = 0; i < k; i++)
        if (parts[i] > 0xff)
            return -1;
    if (parts[k] > max)
        return -1;
    {
        unsigned long long v = parts[k];
        unsigned b[4];
        for (int i = 0; i < k; i++)
            b[i] = (unsigned)parts[i];
        for (int i = 3; i >= k; i--, v >>= 8)
            b[i] = (unsigned)(v & 0xff);
        snprintf(out, outsz, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    }
    return 1;
}

/* Lower-cases an ASCII string in place. */
static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
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
        unsigned char bin[16];
        char norm[INET6_ADDRSTRLEN];
        size_t n;
        if (!rb || (n = (size_t)(rb - a - 1)) == 0 || n >= sizeof u->host
            || strspn(a + 1, "0123456789abcdefABCDEF:.") != n)   /* a zone id: libcurl */
            return MB_EINVAL;
        memcpy(u->host, a + 1, n);
        if (inet_pton(AF_INET6, u->host, bin) != 1)
            return MB_EINVAL;
        /* libcurl writes the shortest form when it is shorter ([0:0::1] is
         * [::1]), else the address as given */
        if (inet_ntop(AF_INET6, bin, norm, sizeof norm) && strlen(norm) < n)
            memcpy(u->host, norm, strlen(norm) + 1);
        lower(u->host);
        u->v6 = 1;
        p = rb + 1;
    } else {
        const char *colon = memchr(a, ':', (size_t)(ae - a));
        const char *he = colon ? colon : ae;
        size_t n = (size_t)(he - a);
        int v4;
        if (!plain_name(a, n) || n >= sizeof u->host
            || (v4 = ipv4_normalize(a, n, u->host, sizeof u->host)) < 0)
            return MB_EINVAL;
        if (!v4)
            memcpy(u->host, a, n);
        lower(u->host);
        p = he;
    }
    u->port = 80;
    if (p < ae) {
        long port = 0;
        if (*p != ':' || p + 1 == ae)
            return MB_EINVAL;
        for (p++; p < ae; p++) {   /* libcurl reads leading zeros too */
            if (*p < '0' || *p > '9')
                return MB_EINVAL;
            port = port * 10 + (*p - '0');
            if (port > 65535)
                return MB_EINVAL;
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
static int put(mb_buf *b, const char *s)
{
    return mb_buf_add(b, s, strlen(s));
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

/* Whether the request can take the plain-HTTP/1.1 transport; if so, *u
 * is its URL, split (parsed once per request). */
int h1_eligible(const mb_req_opts *o, h1_url *u)
{
    pthread_once(&env_once, env_read);
    if (env.forced || o->http2 || o->accept_encoding || (o->proxy && *o->proxy))
        return 0;
    for (size_t i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i];
        /* a real Expect: libcurl's 100 dance; a Transfer-Encoding: libcurl
         * sends the body chunked ("chunked") or as is, with the header */
        if (strncasecmp(h, "expect:", 7) == 0 && h[7 + strspn(h + 7, " \t")])
            return 0;
        if (strncasecmp(h, "transfer-encoding:", 18) == 0 && h[18 + strspn(h + 18, " \t\v\f")])
            return 0;
    }
    if (h1_url_parse(o->url, u) < 0)
        return 0;
    return o->proxy || !env_proxy(u->host);
}

/* Writes the request head into r->whead the way libcurl 7.88 does: request
 * line, Host (the URL's spelling, ":port" unless 80; or the caller's, moved
 * here), User-Agent, Accept, the caller's headers in order, then for a body
 * Content-Length and the form Content-Type. A caller's header replaces the
 * default of the same name; one with an empty value ("Name:") only removes
 * it. No Expect is sent (h1_eligible leaves a caller's Expect to libcurl).
 * 0 or MB_ENOMEM. */
int h1_head_build(mb_req *r, const mb_req_opts *o, const h1_url *u)
{
    mb_buf *b = &H(r)->whead;
    const char *m = o->method ? o->method : o->body ? "POST" : "GET";
    int has_body = o->body != NULL || strcmp(m, "POST") == 0;
    char num[32];
    int rc = MB_ENOMEM, hi, host_sent = 0;
    b->len = 0;
    H(r)->head_req = strcmp(m, "HEAD") == 0;
    if (H(r)->head_req)
        has_body = 0;
    if (put(b, m) || put(b, " ") || (u->path_len == 0 || u->path[0] == '?' ? put(b, "/") : 0)
        || mb_buf_add(b, u->path, u->path_len) || put(b, " HTTP/1.1\r\n"))
        goto out;
    if ((hi = find_header(o, "host")) >= 0) {
        /* libcurl 7.88: the first caller's Host goes here, as "Host:" and
         * what followed the name; only exactly "Host:" sends none (then a
         * later Host of the caller's goes out in its place) */
        if (strcmp(o->headers[hi], "Host:") != 0) {
            if (put(b, "Host:") || put(b, o->headers[hi] + 5) || put(b, "\r\n"))
                goto out;
            host_sent = 1;
        }
    } else {
        /* the name as the URL spells it (u->host is lower-cased), an IPv6
         * address in the form h1_url_parse chose */
        const char *a = o->url + 7 + u->v6;
        size_t hl = strlen(u->host), al = u->v6 ? strcspn(a, "]") : strcspn(a, ":/?#");
        int same = al == hl && strncasecmp(a, u->host, hl) == 0;   /* not normalised */
        if (put(b, "Host: ") || (u->v6 ? put(b, "[") : 0)
            || mb_buf_add(b, same ? a : u->host, hl) || (u->v6 ? put(b, "]") : 0))
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
        while (*v && strchr(" \t\v\f", *v))   /* libcurl's ISSPACE (no CR, LF here) */
            v++;
        if (!*v)
            continue;   /* "Name:" removes a default, sends nothing */
        if (host_sent && strncasecmp(h, "host:", 5) == 0)
            continue;   /* written above */
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
    H(r)->wbody = has_body && o->body ? o->body : NULL;
    H(r)->wbody_len = H(r)->wbody ? o->body_len : 0;
    rc = 0;
out:
    return rc;
}

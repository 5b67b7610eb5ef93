/* proxy.c: the TCP fault proxy's API and listener (see
 * include/mlxbench/proxy.h); the connections are in proxy_conn.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "proxy_int.h"

#define MAX_DELAY_MS 3600000u           /* latency / jitter bound: one hour */

/* "No fault": zeroes, and -1 where 0 is a meaningful value. */
void mb_proxy_faults_clear(mb_proxy_faults *f)
{
    memset(f, 0, sizeof *f);
    f->reset_after_bytes = -1;
    f->close_after_ms = -1;
}

/* Frees the proxy once it is stopped and libuv has closed all it owned. */
void mb_proxy_maybe_free(mb_proxy *p)
{
    if (!p->stopping || p->handles > 0 || p->conns)
        return;
    if (p->done)
        p->done(p->done_ud);
    free(p);
}

/* --------------------------------------------------------------- listener */

/* A listener's close callback: its memory goes, and with the last handle
 * of a stopped proxy, the proxy. */
static void listener_closed(uv_handle_t *h)
{
    mb_proxy *p = h->data;
    free(h);
    p->handles--;
    mb_proxy_maybe_free(p);
}

/* Closes the listener (refuse = CLOSE, stop). uv_close closes the fd at
 * once, so the kernel refuses from now on and listen_on can bind again. */
static void unlisten(mb_proxy *p)
{
    if (!p->listener)
        return;
    uv_close((uv_handle_t *)p->listener, listener_closed);
    p->listener = NULL;
}

/* Opens the listening socket on p->addr and records the real port, so a
 * listener closed by refuse = CLOSE comes back on the same one. */
static int listen_on(mb_proxy *p)
{
    uv_tcp_t *l = malloc(sizeof *l);
    struct sockaddr_storage ss;
    int len = sizeof ss, rc;
    if (!l)
        return MB_ENOMEM;
    uv_tcp_init(p->loop, l);
    l->data = p;
    p->handles++;
    rc = uv_tcp_bind(l, (const struct sockaddr *)&p->addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)l, p->backlog, mb_proxy_on_accept);
    if (rc == 0)
        rc = uv_tcp_getsockname(l, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        uv_close((uv_handle_t *)l, listener_closed);
        return rc;
    }
    memcpy(&p->addr, &ss, sizeof ss);
    if (ss.ss_family == AF_INET6) {
        p->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        uv_ip6_name((struct sockaddr_in6 *)&ss, p->host, sizeof p->host);
    } else {
        p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        uv_ip4_name((struct sockaddr_in *)&ss, p->host, sizeof p->host);
    }
    p->listener = l;
    return 0;
}

/* Resolves host:port into *out: numeric IPv4/IPv6 directly, a name through
 * a synchronous uv_getaddrinfo (once, at start), preferring IPv4 so that
 * "localhost" reaches servers that listen on 127.0.0.1 only. */
static int resolve(uv_loop_t *loop, const char *host, int port, struct sockaddr_storage *out)
{
    uv_getaddrinfo_t req;
    struct addrinfo hints, *pick = NULL;
    memset(out, 0, sizeof *out);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)out) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)out) == 0)
        return 0;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(loop, &req, NULL, host, NULL, &hints);
    if (rc < 0)
        return rc;
    for (struct addrinfo *a = req.addrinfo; a; a = a->ai_next)
        if (!pick || (pick->ai_family != AF_INET && a->ai_family == AF_INET))
            pick = a;
    if (!pick || pick->ai_addrlen > sizeof *out) {
        uv_freeaddrinfo(req.addrinfo);
        return UV_EAI_NONAME;
    }
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    uv_freeaddrinfo(req.addrinfo);
    if (out->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    return 0;
}

/* Checks a fault set and maps every "off" value to -1. */
static int faults_norm(const mb_proxy_faults *in, mb_proxy_faults *out)
{
    *out = *in;
    if (in->latency_ms > MAX_DELAY_MS || in->jitter_ms > MAX_DELAY_MS ||
        in->refuse < MB_PROXY_REFUSE_NONE || in->refuse > MB_PROXY_REFUSE_RESET ||
        (in->close_after_ms > (int64_t)MAX_DELAY_MS * 24))
        return MB_EINVAL;
    out->blackhole = in->blackhole != 0;
    if (out->reset_after_bytes < 0)
        out->reset_after_bytes = -1;
    if (out->close_after_ms < 0)
        out->close_after_ms = -1;
    return 0;
}

/* ------------------------------------------------------------------ API */

/* Validates, resolves both ends, listens; the faults of cfg apply from the
 * first connection (refuse = CLOSE closes the listener right after the
 * bind, which was needed to learn the port). */
int mb_proxy_start(mb_proxy **out, uv_loop_t *loop, const mb_proxy_config *cfg,
                   char *err, size_t errlen)
{
    mb_proxy *p = NULL;
    char dummy[8];
    int rc;
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    if (!cfg || !cfg->upstream_host || cfg->port < 0 || cfg->port > 65535 ||
        cfg->upstream_port < 1 || cfg->upstream_port > 65535) {
        snprintf(err, errlen, "bad configuration (upstream host and ports 1..65535 required)");
        return MB_EINVAL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return MB_ENOMEM;
    p->loop = loop;
    p->backlog = cfg->backlog > 0 ? cfg->backlog : MB_DEFAULT_BACKLOG;
    p->high_water = cfg->high_water ? cfg->high_water : MB_DEFAULT_HIGH_WATER;
    p->low_water = p->high_water / 4;
    mb_rng_seed(&p->rng, cfg->seed);
    if (faults_norm(&cfg->faults, &p->faults) < 0) {
        snprintf(err, errlen, "bad fault values");
        rc = MB_EINVAL;
        goto out;
    }
    mb_plat_ignore_sigpipe();   /* a peer's reset gives EPIPE, not a kill */
    rc = resolve(loop, cfg->upstream_host, cfg->upstream_port, &p->up_addr);
    if (rc < 0) {
        snprintf(err, errlen, "cannot resolve upstream host '%s': %s", cfg->upstream_host,
                 uv_strerror(rc));
        goto out;
    }
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    rc = resolve(loop, host, cfg->port, &p->addr);
    if (rc < 0) {
        snprintf(err, errlen, "cannot resolve listen host '%s': %s", host, uv_strerror(rc));
        goto out;
    }
    rc = listen_on(p);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, cfg->port, uv_strerror(rc));
        p->stopping = 1;   /* the listener's close callback frees p */
        return rc;
    }
    if (p->faults.refuse == MB_PROXY_REFUSE_CLOSE) {
        unlisten(p);
        p->stats.listener_closed++;
    }
    *out = p;
    return 0;
out:
    free(p);
    return rc;
}

/* Closes everything; the memory goes with the last close callback, then
 * `done` runs. */
void mb_proxy_stop(mb_proxy *p, void (*done)(void *ud), void *ud)
{
    if (!p || p->stopping)
        return;
    p->stopping = 1;
    p->done = done;
    p->done_ud = ud;
    unlisten(p);
    for (pconn *c = p->conns; c; c = c->next)
        mb_proxy_conn_close(c, 0, 0);
    mb_proxy_maybe_free(p);
}

/* Installs a new fault set: the listener follows `refuse`, and every open
 * connection gets the change (mb_proxy_conn_refault says how). */
int mb_proxy_set_faults(mb_proxy *p, const mb_proxy_faults *f)
{
    mb_proxy_faults nf, old;
    int rc = 0;
    if (!p || !f || p->stopping)
        return MB_EINVAL;
    if (faults_norm(f, &nf) < 0)
        return MB_EINVAL;
    old = p->faults;
    p->faults = nf;
    if (nf.refuse == MB_PROXY_REFUSE_CLOSE && p->listener) {
        unlisten(p);
        p->stats.listener_closed++;
    } else if (nf.refuse != MB_PROXY_REFUSE_CLOSE && !p->listener) {
        rc = listen_on(p);
        if (rc < 0)
            p->faults.refuse = MB_PROXY_REFUSE_CLOSE;   /* still refusing */
    }
    /* Closing connections stay listed until freed, so the walk is safe. */
    for (pconn *c = p->conns; c; c = c->next)
        mb_proxy_conn_refault(c, &old);
    return rc;
}

/* Accessors: copies, so the caller never sees the proxy change under it. */
void mb_proxy_get_faults(const mb_proxy *p, mb_proxy_faults *f)
{
    *f = p->faults;
}

void mb_proxy_get_stats(const mb_proxy *p, mb_proxy_stats *s)
{
    *s = p->stats;
}

int mb_proxy_port(const mb_proxy *p)
{
    return p->port;
}

const char *mb_proxy_host(const mb_proxy *p)
{
    return p->host;
}

/* listen.c: resolving, listening and ending, shared by the HTTP server and
 * the proxy (listen.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include "mlxbench/errors.h"
#include "mlxbench/listen.h"
#include "mlxbench/platform.h"

int mb_resolve(uv_loop_t *loop, const char *host, int port, struct sockaddr_storage *out)
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
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) &&
            (!pick || (pick->ai_family != AF_INET && a->ai_family == AF_INET)))
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

int mb_addr_loopback(const struct sockaddr_storage *s)
{
    if (s->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)s;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (s->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)s;
        static const unsigned char v4map[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(&a->sin6_addr, &in6addr_loopback, sizeof a->sin6_addr) == 0)
            return 1;
        return memcmp(&a->sin6_addr, v4map, 12) == 0 && a->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

/* ---- the end of an object ------------------------------------------- */

int mb_life_stop(mb_life *l, void (*done)(void *ud), void *ud)
{
    if (!l || l->stopping)
        return 0;
    l->stopping = 1;
    l->done = done;
    l->done_ud = ud;
    return 1;
}

int mb_life_end(mb_life *l, int busy, void (*free_fn)(void *obj), void *obj)
{
    assert(l->open >= 0);
    if (!l->stopping || l->open > 0 || busy)
        return 0;
    void (*done)(void *) = l->done;
    void *ud = l->done_ud;
    free_fn(obj);   /* l may be inside obj: nothing of it is read after */
    if (done)
        done(ud);
    return 1;
}

/* ---- the listening socket ------------------------------------------- */

/* A listener handle's close callback: its memory goes; the owner may end. */
static void listener_closed(uv_handle_t *h)
{
    mb_listener *l = h->data;
    free(h);
    l->life->open--;
    l->on_closed(l->owner);
}

static void on_connection(uv_stream_t *server, int status)
{
    mb_listener *l = server->data;
    if ((status == UV_EMFILE || status == UV_ENFILE) && l->on_full && !l->life->stopping)
        l->on_full(l->owner);
    if (status < 0 || l->life->stopping)
        return;
    l->on_conn(l->owner, server);
}

/* The handle is one of the owner's parts from uv_tcp_init on, also when
 * bind or listen fail (its close callback then counts it down). */
int mb_listener_open(mb_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, rc;
    uv_tcp_t *t;
    assert(!l->tcp && l->life && l->on_conn && l->on_closed);
    /* A peer that resets a connection must give EPIPE, not kill the
     * process; thousands of connections need thousands of descriptors. */
    mb_plat_ignore_sigpipe();
    mb_plat_raise_fd_limit();
    if (!(t = malloc(sizeof *t)))
        return MB_ENOMEM;
    uv_tcp_init(l->loop, t);
    t->data = l;
    l->life->open++;
    rc = uv_tcp_bind(t, (const struct sockaddr *)&l->addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)t, l->backlog, on_connection);
    if (rc == 0)
        rc = uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        uv_close((uv_handle_t *)t, listener_closed);
        return rc;
    }
    memcpy(&l->addr, &ss, sizeof ss);
    if (ss.ss_family == AF_INET6) {
        l->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        uv_ip6_name((struct sockaddr_in6 *)&ss, l->host, sizeof l->host);
    } else {
        l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        uv_ip4_name((struct sockaddr_in *)&ss, l->host, sizeof l->host);
    }
    l->tcp = t;
    return 0;
}

/* uv_close closes the fd at once, so the kernel refuses from now on and
 * mb_listener_open can bind again. */
void mb_listener_close(mb_listener *l)
{
    if (!l->tcp)
        return;
    uv_close((uv_handle_t *)l->tcp, listener_closed);
    l->tcp = NULL;
}

int mb_listener_is_open(const mb_listener *l)
{
    return l->tcp != NULL;
}

int mb_listener_accept(uv_stream_t *server, uv_tcp_t *client)
{
    int rc = uv_accept(server, (uv_stream_t *)client);
    if (rc == 0)
        uv_tcp_nodelay(client, 1);
    return rc;
}

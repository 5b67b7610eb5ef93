/* curl.c: the libcurl transport -- one multi handle driven by the client's
 * libuv loop, and the transport's entry points (mb_transport_curl).
 *
 * Socket-action style: curl tells us which sockets to watch (socket
 * callback -> one uv_poll_t per fd, found through a table indexed by fd so
 * there is never a second poll on a fd) and when to call it back (timer
 * callback -> one non-repeating uv_timer_t; 0 ms is a 0 ms timer). Every
 * curl_multi_socket_action is followed by curl_multi_info_read and then by
 * the owner's notifications, which are collected during the action and
 * delivered only once it has returned. A poll is closed before curl closes
 * its fd (CURLOPT_CLOSESOCKETFUNCTION), so a fd number recycled by the
 * kernel never meets a stale poll.
 *
 * CURL_POLL_REMOVE comes at the end of every transfer, also when the
 * connection goes idle into curl's cache for the next one. Closing the poll
 * there and making a new one per request costs allocations and epoll_ctl
 * calls on the hot path, so the poll is "parked" instead: unreferenced (it
 * keeps no loop alive) and left watching; the next transfer on the
 * connection usually wants the same events and costs no system call. If a
 * parked socket does become ready (the peer closed the idle connection) the
 * poll is stopped then, without bothering curl, which finds the connection
 * dead itself before reuse.
 *
 * The state (struct curl_state) is made, and libcurl loaded, when the first
 * request that needs libcurl starts; plain http:// never does. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "curl_int.h"

#define POOL_MAX 256            /* idle easy handles kept for reuse */
#define MAXCONNECTS_MIN 10000L  /* connection cache: never evict a live VU's */

typedef struct curl_state curl_state;

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    int events;                 /* UV_* the poll watches now, 0 if stopped */
    int parked;                 /* curl said REMOVE: idle connection */
    curl_state *cu;
} sock;

struct curl_state {
    mb_client *c;
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    sock **socks;               /* by fd */
    size_t nsocks;
    unsigned char *conn;        /* by fd: 1 = a connection socket we opened */
    size_t nconn;
    CURL *pool[POOL_MAX];       /* idle easy handles */
    size_t npool;
    long maxconnects;
    int open;                   /* handles whose close callback is due */
    int closing;
};

/* A handle of the transport has closed: the client is told, and the state
 * goes with the last one once the transport is closing. */
static void part_closed(curl_state *cu)
{
    mb_client *c = cu->c;
    assert(cu->open > 0);
    if (--cu->open == 0 && cu->closing) {
        free(cu->socks);
        free(cu->conn);
        free(cu);
    }
    client_handles(c, -1);
}

/* Close callback of a poll: its memory goes. */
static void sock_closed(uv_handle_t *h)
{
    sock *s = h->data;
    curl_state *cu = s->cu;
    free(s);
    part_closed(cu);
}

/* Stops watching a fd: the poll leaves the table and epoll now (uv_close
 * removes the fd from the backend at once), its memory goes later. */
static void sock_close(curl_state *cu, sock *s)
{
    if ((size_t)s->fd < cu->nsocks && cu->socks[s->fd] == s)
        cu->socks[s->fd] = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* The poll watching fd, or NULL. */
static sock *sock_find(curl_state *cu, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < cu->nsocks ? cu->socks[fd] : NULL;
}

/* An easy handle from the pool, or a new one: no curl_easy_init per request. */
static CURL *easy_get(curl_state *cu)
{
    if (cu->npool)
        return cu->pool[--cu->npool];
    return curl_easy_init();
}

/* Resets an easy handle (it keeps nothing of the request) and pools it. */
static void easy_put(curl_state *cu, CURL *e)
{
    if (!e)
        return;
    if (cu && cu->npool < POOL_MAX && !cu->closing) {
        curl_easy_reset(e);
        cu->pool[cu->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* Takes a request out of the multi (closing its connection when it is
 * mid-response) and gives its easy handle back. */
static void unmulti(curl_state *cu, mb_req *r)
{
    curl_req *q = CR(r);
    if (q->in_multi)
        curl_multi_remove_handle(cu->multi, q->easy);
    q->in_multi = 0;
    r->live = 0;
    easy_put(cu, q->easy);
    q->easy = NULL;
}

/* Collects finished transfers: final figures are read, the easy handle goes
 * back to the pool (its connection to the multi's cache) and on_done is
 * queued. Runs after every socket_action, the timer path included. */
static void check_done(curl_state *cu)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(cu->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode code = m->data.result;
        char *priv = NULL;
        uint64_t t = mb_clock_now_ns();
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        mb_req *r = (mb_req *)(void *)priv;
        assert(r && r->live && CR(r)->easy == m->easy_handle);
        curl_req_finish(r, code, t);
        unmulti(cu, r);
        client_pend(cu->c, r, PEND_DONE);
    }
}

/* socket_action + its consequences, in the only safe order. */
static void action(curl_state *cu, curl_socket_t fd, int flags)
{
    int running = 0;
    mb_client *c = cu->c;
    curl_multi_socket_action(cu->multi, fd, flags, &running);
    check_done(cu);
    client_dispatch(c);
}

/* A watched socket is ready (or failed): tell curl, unless parked. */
static void poll_cb(uv_poll_t *h, int status, int events)
{
    sock *s = h->data;
    int flags = 0;
    if (s->parked) {   /* not curl's concern now: stop level-triggered spins */
        uv_poll_stop(&s->poll);
        s->events = 0;
        return;
    }
    if (status < 0) {
        /* libuv has stopped the poll (EPOLLERR: a reset, say). Let curl read
         * and write: the failing call tells it what happened ("Connection
         * reset by peer"), where CURL_CSELECT_ERR only says "select/poll
         * returned error". */
        s->events = 0;
        flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    action(s->cu, s->fd, flags);
}

/* The timeout curl asked for has come. */
static void timer_fired(uv_timer_t *t)
{
    action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, anything else (0 included)
 * arms it once for exactly that many ms. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    curl_state *cu = userp;
    (void)multi;
    if (cu->closing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&cu->timer);
    else
        uv_timer_start(&cu->timer, timer_fired, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Makes sure socks[fd] exists (new slots empty). 0 or MB_ENOMEM. */
static int socks_grow(curl_state *cu, curl_socket_t fd)
{
    size_t old = cu->nsocks;
    if (MB_VEC_GROW(cu->socks, cu->nsocks, (size_t)fd + 1) < 0)
        return MB_ENOMEM;
    memset(cu->socks + old, 0, (cu->nsocks - old) * sizeof *cu->socks);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants; REMOVE parks
 * the poll (see the top of the file). One poll per fd, looked up by fd
 * rather than trusting socketp; the poll is restarted only when the events
 * change. */
static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    curl_state *cu = userp;
    sock *s = sock_find(cu, fd);
    int ev = 0;
    (void)e;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s && !((size_t)fd < cu->nconn && cu->conn[fd])) {
            /* Not a connection (the threaded resolver's socketpair): curl
             * closes it without CLOSESOCKETFUNCTION, so the poll must go now.
             * A parked poll on a fd closed behind libuv's back makes its next
             * epoll_ctl fail, and libuv aborts. */
            sock_close(cu, s);
            return 0;
        }
        if (s && !s->parked) {
            s->parked = 1;
            uv_unref((uv_handle_t *)&s->poll);
        }
        return 0;
    }
    if (cu->closing || fd < 0)
        return 0;
    if (!s) {
        if (socks_grow(cu, fd) < 0 || !(s = calloc(1, sizeof *s)))
            return -1;
        if (uv_poll_init_socket(cu->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->cu = cu;
        s->poll.data = s;
        cu->socks[fd] = s;
        cu->open++;
        client_handles(cu->c, 1);
    }
    if (s->parked) {
        s->parked = 0;
        uv_ref((uv_handle_t *)&s->poll);
    }
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    if (ev != s->events) {
        s->events = ev;
        if (ev)
            uv_poll_start(&s->poll, ev, poll_cb);
        else
            uv_poll_stop(&s->poll);
    }
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: connection sockets are opened here, so the
 * transport knows which fds curl will close through curl_closesocket
 * (their polls may be parked) and which it closes itself (resolver
 * wake-ups). */
curl_socket_t curl_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    curl_state *cu = ud;
    curl_socket_t fd;
    (void)purpose;
    fd = mb_plat_socket(a->family, a->socktype, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    size_t old = cu->nconn;
    if (MB_VEC_GROW(cu->conn, cu->nconn, (size_t)fd + 1) < 0) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    memset(cu->conn + old, 0, cu->nconn - old);
    cu->conn[fd] = 1;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes before the fd does. */
int curl_closesocket(void *ud, curl_socket_t fd)
{
    curl_state *cu = ud;
    sock *s = sock_find(cu, fd);
    if (s)
        sock_close(cu, s);
    if (fd >= 0 && (size_t)fd < cu->nconn)
        cu->conn[fd] = 0;
    return close(fd);
}

/* Close callback of the timer. */
static void timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

/* The client's libcurl state, made (and libcurl loaded) on first use. 0 or
 * MB_EIO (said once on stderr: which library, why, and what needs it) or
 * MB_ENOMEM. */
static int state_get(mb_client *c, curl_state **out)
{
    static _Atomic int said;
    curl_state **slot = client_curl(c), *cu;
    if ((*out = *slot))
        return 0;
    if (mb_curl_load() < 0) {
        if (!said++)
            fprintf(stderr, "mlxbench: libcurl, needed for https://, HTTP/2 and proxies, could "
                    "not be loaded: %s\n", mb_curl_error());
        return MB_EIO;
    }
    if (!(cu = calloc(1, sizeof *cu)))
        return MB_ENOMEM;
    if (!(cu->multi = curl_multi_init())) {
        free(cu);
        return MB_EIO;
    }
    cu->c = c;
    cu->loop = client_loop(c);
    cu->maxconnects = MAXCONNECTS_MIN;
    uv_timer_init(cu->loop, &cu->timer);
    cu->timer.data = cu;
    cu->open = 1;
    client_handles(c, 1);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
    /* The VU count is the concurrency: no silent queue inside curl. */
    curl_multi_setopt(cu->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(cu->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(cu->multi, CURLMOPT_MAXCONNECTS, cu->maxconnects);
    *slot = *out = cu;
    return 0;
}

/* ---- the transport's entry points ------------------------------------ */

/* Sets the transfer up on an easy handle and adds it to the multi, which
 * starts it from the 0 ms timer it asks for. */
static int t_start(mb_client *c, mb_req *r, const mb_req_opts *o, const h1_url *u)
{
    curl_state *cu;
    curl_req *q = CR(r);
    int rc;
    (void)u;
    if ((rc = state_get(c, &cu)) < 0)
        return rc;
    if (!(q->easy = easy_get(cu)))
        return MB_ENOMEM;
    if ((rc = curl_req_setup(r, o, cu)) < 0)
        return rc;
    r->resp.start_ns = mb_clock_now_ns();
    if (curl_multi_add_handle(cu->multi, q->easy) != CURLM_OK)
        return MB_EIO;
    q->in_multi = 1;
    r->live = 1;
    /* Keep the connection cache larger than the concurrency. */
    long active = (long)mb_client_active(c) + 1;
    if (active * 2 > cu->maxconnects) {
        cu->maxconnects = active * 4;
        curl_multi_setopt(cu->multi, CURLMOPT_MAXCONNECTS, cu->maxconnects);
    }
    return 0;
}

/* Removing a transfer from the multi closes a half-done connection. */
static void t_cancel(mb_req *r)
{
    unmulti(*client_curl(r->c), r);
}

static void t_abort(mb_req *r, const char *why)
{
    req_latch(r, MB_ERR_ABORTED, "%s", why);
    curl_req_finish(r, CURLE_ABORTED_BY_CALLBACK, mb_clock_now_ns());
    t_cancel(r);
}

/* The header list and, after a failed start, the easy handle. */
static void t_release(mb_req *r)
{
    curl_req *q = CR(r);
    assert(!q->in_multi);
    if (q->easy)
        easy_put(r->c ? *client_curl(r->c) : NULL, q->easy);
    q->easy = NULL;
    if (q->hdrs)   /* (libcurl is loaded: the list was made by it) */
        curl_slist_free_all(q->hdrs);
    q->hdrs = NULL;
}

/* The handles stay open through curl_multi_cleanup: curl may still call
 * back while it closes its connections. */
static void t_close(mb_client *c)
{
    curl_state *cu = *client_curl(c);
    if (!cu)
        return;
    *client_curl(c) = NULL;
    cu->closing = 1;
    curl_multi_cleanup(cu->multi);
    cu->multi = NULL;
    for (size_t i = 0; i < cu->npool; i++)
        curl_easy_cleanup(cu->pool[i]);
    cu->npool = 0;
    for (size_t i = 0; i < cu->nsocks; i++)
        if (cu->socks[i])
            sock_close(cu, cu->socks[i]);
    uv_timer_stop(&cu->timer);
    uv_close((uv_handle_t *)&cu->timer, timer_closed);
}

MB_TRANSPORT_DEFINE(mb_transport_curl, "libcurl", curl_req);

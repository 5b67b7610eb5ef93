/* client.c: one libcurl multi handle driven by one libuv loop.
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
 * dead itself before reuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "client_int.h"

#define POOL_MAX 256            /* idle easy handles kept for reuse */
#define MAXCONNECTS_MIN 10000L  /* connection cache: never evict a live VU's */

typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    int events;                 /* UV_* the poll watches now, 0 if stopped */
    int parked;                 /* curl said REMOVE: idle connection */
    mb_client *c;
} sock;

struct mb_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    sock **socks;               /* by fd */
    size_t nsocks;
    unsigned char *conn;        /* by fd: 1 = a connection socket we opened */
    size_t nconn;
    CURL **pool;                /* idle easy handles */
    size_t npool;
    mb_req *pend_head, *pend_tail;
    mb_req *all;                /* every request not yet freed */
    size_t nactive;
    long maxconnects;
    int dispatching;
    int freeing;
    int open_handles;           /* uv handles whose close callback is due */
    struct h1_pool *h1;         /* the plain-HTTP/1.1 transport, made on first use */
};

/* Frees the client once it is being freed and its last handle has closed. */
static void maybe_free(mb_client *c)
{
    if (c->freeing && c->open_handles == 0) {
        free(c->socks);
        free(c->conn);
        free(c);
    }
}

/* Handle accounting for h1.c: +1 when it opens one, -1 from its close
 * callback (which may free the client). */
void client_handles(mb_client *c, int delta)
{
    c->open_handles += delta;
    maybe_free(c);
}

uv_loop_t *client_loop(mb_client *c)
{
    return c->loop;
}

/* The client's h1 pool slot (h1.c creates the pool on first use). */
struct h1_pool **client_h1(mb_client *c)
{
    return &c->h1;
}

/* Close callback of a poll: its memory goes, the client may follow. */
static void sock_closed(uv_handle_t *h)
{
    sock *s = h->data;
    mb_client *c = s->c;
    free(s);
    c->open_handles--;
    maybe_free(c);
}

/* Stops watching a fd: the poll leaves the table and epoll now (uv_close
 * removes the fd from the backend at once), its memory goes later. */
static void sock_close(mb_client *c, sock *s)
{
    if ((size_t)s->fd < c->nsocks && c->socks[s->fd] == s)
        c->socks[s->fd] = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/* The poll watching fd, or NULL. */
static sock *sock_find(mb_client *c, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < c->nsocks ? c->socks[fd] : NULL;
}

/* Delivers queued notifications. Each request gets one call per pass:
 * on_done when it ended (it implies the events), else on_events. The owner
 * may free this or any other request from the callback, so nothing of `r`
 * is touched after it. */
void client_dispatch(mb_client *c)
{
    if (c->dispatching)
        return;
    c->dispatching = 1;
    while (c->pend_head && !c->freeing) {
        mb_req *r = c->pend_head;
        int flags = r->pend;
        client_unpend(c, r);
        if (flags & PEND_DONE) {
            if (r->on_done)
                r->on_done(r, r->ud);
        } else if ((flags & PEND_EVENTS) && r->on_events) {
            r->on_events(r, r->ud);
        }
    }
    c->dispatching = 0;
}

/* Collects finished transfers: final figures are read, the easy handle goes
 * back to the pool (its connection to the multi's cache) and on_done is
 * queued. Runs after every socket_action, the timer path included. */
static void check_done(mb_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode code = m->data.result;
        char *priv = NULL;
        uint64_t t = mb_clock_now_ns();
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        mb_req *r = (mb_req *)(void *)priv;
        req_finish(r, code, t);
        curl_multi_remove_handle(c->multi, e);
        r->in_multi = 0;
        r->easy = NULL;
        client_easy_put(c, e);
        client_pend(c, r, PEND_DONE);
    }
}

/* socket_action + its consequences, in the only safe order. */
static void action(mb_client *c, curl_socket_t fd, int flags)
{
    int running = 0;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
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
    action(s->c, s->fd, flags);
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
    mb_client *c = userp;
    (void)multi;
    if (c->freeing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, timer_fired, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Makes sure socks[fd] exists (new slots empty). 0 or MB_ENOMEM. */
static int socks_grow(mb_client *c, curl_socket_t fd)
{
    size_t old = c->nsocks;
    if (MB_VEC_GROW(c->socks, c->nsocks, (size_t)fd + 1) < 0)
        return MB_ENOMEM;
    memset(c->socks + old, 0, (c->nsocks - old) * sizeof *c->socks);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants; REMOVE parks
 * the poll (see the top of the file). One poll per fd, looked up by fd
 * rather than trusting socketp; the poll is restarted only when the events
 * change. */
static int socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    mb_client *c = userp;
    sock *s = sock_find(c, fd);
    int ev = 0;
    (void)e;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s && !((size_t)fd < c->nconn && c->conn[fd])) {
            /* Not a connection (the threaded resolver's socketpair): curl
             * closes it without CLOSESOCKETFUNCTION, so the poll must go now.
             * A parked poll on a fd closed behind libuv's back makes its next
             * epoll_ctl fail, and libuv aborts. */
            sock_close(c, s);
            return 0;
        }
        if (s && !s->parked) {
            s->parked = 1;
            uv_unref((uv_handle_t *)&s->poll);
        }
        return 0;
    }
    if (c->freeing || fd < 0)
        return 0;
    if (!s) {
        if (socks_grow(c, fd) < 0 || !(s = calloc(1, sizeof *s)))
            return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->c = c;
        s->poll.data = s;
        c->socks[fd] = s;
        c->open_handles++;
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
 * client knows which fds curl will close through client_closesocket (their
 * polls may be parked) and which it closes itself (resolver wake-ups). */
curl_socket_t client_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    mb_client *c = ud;
    curl_socket_t fd;
    (void)purpose;
    fd = mb_plat_socket(a->family, a->socktype, a->protocol);
    if (fd == CURL_SOCKET_BAD)
        return fd;
    size_t old = c->nconn;
    if (MB_VEC_GROW(c->conn, c->nconn, (size_t)fd + 1) < 0) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    memset(c->conn + old, 0, c->nconn - old);
    c->conn[fd] = 1;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes before the fd does. */
int client_closesocket(void *ud, curl_socket_t fd)
{
    mb_client *c = ud;
    sock *s = sock_find(c, fd);
    if (s)
        sock_close(c, s);
    if (fd >= 0 && (size_t)fd < c->nconn)
        c->conn[fd] = 0;
    return close(fd);
}

/* Creates the multi handle with its socket and timer callbacks on `loop`. */
int mb_client_new(mb_client **out, uv_loop_t *loop)
{
    mb_client *c = calloc(1, sizeof *c);
    int rc = MB_ENOMEM;
    *out = NULL;
    if (!c)
        goto out;
    c->loop = loop;
    c->pool = calloc(POOL_MAX, sizeof *c->pool);
    if (!c->pool)
        goto out;
    c->maxconnects = MAXCONNECTS_MIN;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    *out = c;
    c = NULL;
    rc = 0;
out:
    if (c) {
        free(c->pool);
        free(c);
    }
    return rc;
}

/* The multi handle, made (and libcurl loaded) when the first request that
 * needs libcurl starts. 0 or MB_EIO (said once on stderr: which library,
 * why, and what needs it). */
static int ensure_multi(mb_client *c)
{
    static _Atomic int said;
    if (c->multi)
        return 0;
    if (mb_curl_load() < 0) {
        if (!said++)
            fprintf(stderr, "mlxbench: libcurl, needed for https://, HTTP/2 and proxies, could "
                    "not be loaded: %s\n", mb_curl_error());
        return MB_EIO;
    }
    if (!(c->multi = curl_multi_init()))
        return MB_EIO;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    /* The VU count is the concurrency: no silent queue inside curl. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->maxconnects);
    return 0;
}

/* Close callback of the timer: the client may be freed now. */
static void timer_closed(uv_handle_t *h)
{
    mb_client *c = h->data;
    c->open_handles--;
    maybe_free(c);
}

/* Requests still alive are cancelled and orphaned, not freed: their owners
 * may hold them until later (a Lua __gc at state close), and mb_req_free on
 * an orphan only releases its memory. */
void mb_client_free(mb_client *c)
{
    if (!c)
        return;
    while (c->all) {
        mb_req *r = c->all;
        if (r->h1_live)
            h1_cancel(r);
        if (r->in_multi)
            curl_multi_remove_handle(c->multi, r->easy);
        r->in_multi = 0;
        client_easy_put(c, r->easy);
        r->easy = NULL;
        client_unpend(c, r);
        client_unlink(c, r);
        r->c = NULL;
    }
    c->freeing = 1;
    h1_pool_free(c->h1);
    c->h1 = NULL;
    /* Handles stay open through the cleanup: curl may still call back. */
    if (c->multi)
        curl_multi_cleanup(c->multi);
    c->multi = NULL;
    for (size_t i = 0; i < c->npool; i++)
        curl_easy_cleanup(c->pool[i]);
    free(c->pool);
    c->pool = NULL;
    c->npool = 0;
    for (size_t i = 0; i < c->nsocks; i++)
        if (c->socks[i])
            sock_close(c, c->socks[i]);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, timer_closed);
}

/* Requests started and not yet freed. */
size_t mb_client_active(const mb_client *c)
{
    return c->nactive;
}

int mb_client_abort_all(mb_client *c, const char *why)
{
    int n = 0;
    uint64_t t = mb_clock_now_ns();
    if (!c || c->freeing)
        return 0;
    for (mb_req *r = c->all; r; r = r->all_next) {
        if (r->h1_live) {
            h1_abort(r, why);
            client_pend(c, r, PEND_DONE);
            n++;
            continue;
        }
        if (!r->in_multi)
            continue;   /* already finished: its owner just has not freed it */
        req_abort(r, why, t);
        curl_multi_remove_handle(c->multi, r->easy);   /* closes its connection */
        r->in_multi = 0;
        client_easy_put(c, r->easy);
        r->easy = NULL;
        client_pend(c, r, PEND_DONE);
        n++;
    }
    client_dispatch(c);
    return n;
}

/* The multi handle (for client_req.c). */
CURLM *client_multi(mb_client *c)
{
    return c->multi;
}

/* An easy handle from the pool, or a new one: no curl_easy_init per request. */
CURL *client_easy_get(mb_client *c)
{
    if (c->npool)
        return c->pool[--c->npool];
    return curl_easy_init();
}

/* Resets an easy handle (it keeps nothing of the request) and pools it. */
void client_easy_put(mb_client *c, CURL *e)
{
    if (!e)
        return;
    if (c->npool < POOL_MAX && !c->freeing) {
        curl_easy_reset(e);
        c->pool[c->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* Queues a notification for dispatch() (once per request; flags add up). */
void client_pend(mb_client *c, mb_req *r, int flags)
{
    if (!r->pend) {
        r->pend_next = NULL;
        r->pend_prev = c->pend_tail;
        if (c->pend_tail)
            c->pend_tail->pend_next = r;
        else
            c->pend_head = r;
        c->pend_tail = r;
    }
    r->pend |= flags;
}

/* Drops a queued notification (request freed or being notified). */
void client_unpend(mb_client *c, mb_req *r)
{
    if (!r->pend)
        return;
    if (r->pend_prev)
        r->pend_prev->pend_next = r->pend_next;
    else
        c->pend_head = r->pend_next;
    if (r->pend_next)
        r->pend_next->pend_prev = r->pend_prev;
    else
        c->pend_tail = r->pend_prev;
    r->pend_prev = r->pend_next = NULL;
    r->pend = 0;
}

/* Adds a started request to the client's list. */
void client_link(mb_client *c, mb_req *r)
{
    r->all_prev = NULL;
    r->all_next = c->all;
    if (c->all)
        c->all->all_prev = r;
    c->all = r;
    c->nactive++;
    /* Keep the connection cache larger than the concurrency. */
    if ((long)c->nactive * 2 > c->maxconnects) {
        c->maxconnects = (long)c->nactive * 4;
        if (c->multi)
            curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, c->maxconnects);
    }
}

/* Removes a request from the client's list (idempotent). */
void client_unlink(mb_client *c, mb_req *r)
{
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else if (c->all == r)
        c->all = r->all_next;
    else
        return;
    if (r->all_next)
        r->all_next->all_prev = r->all_prev;
    r->all_prev = r->all_next = NULL;
    c->nactive--;
}

/* Sets up a transfer on the plain-HTTP/1.1 transport when it can take it,
 * else on libcurl's multi (which starts it from the 0 ms timer it asks
 * for); nothing is notified from inside this call either way. */
int mb_req_start(mb_client *c, const mb_req_opts *o, mb_req **out)
{
    mb_req *r = NULL;
    int rc = MB_EINVAL;
    *out = NULL;
    if (!c || !o || !o->url)
        goto out;
    rc = MB_ESTATE;
    if (c->freeing)
        goto out;
    rc = MB_ENOMEM;
    if (!(r = calloc(1, sizeof *r)))
        goto out;
    r->c = c;
    if ((rc = req_init(r, o)) < 0)
        goto out;
    h1_url u;
    if (h1_eligible(o, &u)) {
        r->h1 = 1;
        r->resp.start_ns = mb_clock_now_ns();
        if ((rc = h1_start(c, r, o, &u)) < 0)
            goto out;
        client_link(c, r);
        *out = r;
        r = NULL;
        goto out;
    }
    if ((rc = ensure_multi(c)) < 0)
        goto out;
    rc = MB_ENOMEM;
    if (!(r->easy = client_easy_get(c)))
        goto out;
    if ((rc = req_setup(r, o)) < 0)
        goto out;
    r->resp.start_ns = mb_clock_now_ns();
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        rc = MB_EIO;
        goto out;
    }
    r->in_multi = 1;
    client_link(c, r);
    *out = r;
    r = NULL;
    rc = 0;
out:
    if (r) {
        client_easy_put(c, r->easy);
        req_release(r);
        free(r);
    }
    return rc;
}

/* Cancels (removing from the multi closes a half-done connection) or
 * releases a request; no notification follows. */
void mb_req_free(mb_req *r)
{
    if (!r)
        return;
    mb_client *c = r->c;
    if (c) {
        if (r->h1_live)
            h1_cancel(r);
        if (r->in_multi)
            curl_multi_remove_handle(c->multi, r->easy);
        r->in_multi = 0;
        client_easy_put(c, r->easy);
        r->easy = NULL;
        client_unpend(c, r);
        client_unlink(c, r);
    }
    req_release(r);
    free(r);
}

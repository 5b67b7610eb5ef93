/* h1_sock.c: the HTTP/1.1 transport's sockets -- opened, connected and
 * written by the transport itself and watched by one uv_poll each, so that
 * a read is the transport's own recvmsg and can carry the kernel's receive
 * stamp (mb_plat_recv; libuv's stream reads cannot see ancillary data).
 *
 * A socket is non-blocking, close-on-exec, TCP_NODELAY and, unless the
 * client says otherwise (MLXBENCH_STAMPS=user, a platform without stamps),
 * asks the kernel to stamp every packet it receives. The poll watches
 * WRITABLE while connecting, then READABLE for as long as the connection
 * lives (an idle one too: a peer's close is seen at once), plus WRITABLE
 * while a request's bytes wait for room. Readiness is level-triggered and
 * each readable socket gets one read per loop turn (h1_read_ready): under a
 * burst every socket is read once, in turn, rather than one drained while
 * the others wait. Writes go out at once, as libuv's would (a request head
 * nearly always fits); what does not fit waits for WRITABLE. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "mlxbench/platform.h"
#include "h1_int.h"

static void on_poll(uv_poll_t *p, int status, int events);

/* The events the connection needs watched now. */
static int wanted(const h1_conn *cn)
{
    if (cn->state == C_CONNECT)
        return UV_WRITABLE;
    return UV_READABLE | (cn->writing ? UV_WRITABLE : 0);
}

/* Starts (or changes) the poll for what the connection needs; no system
 * call when that is what it watches already. */
static void watch(h1_conn *cn)
{
    int ev = wanted(cn);
    if (ev == cn->events || cn->fd < 0 || cn->state == C_CLOSED)
        return;
    if (uv_poll_start(&cn->poll, ev, on_poll) == 0)
        cn->events = ev;
}

/* Opens a socket for `sa` and starts connecting it; h1_connected follows
 * from the loop. 0, or a libuv error code with nothing left open (no
 * socket could be made, or the connect failed at once). */
int h1_sock_connect(h1_conn *cn, const struct sockaddr *sa)
{
    socklen_t len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int one = 1, rc, fd;
    assert(cn->fd < 0 && cn->state == C_CONNECT);
    fd = mb_plat_socket(sa->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return uv_translate_sys_error(errno);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        rc = uv_translate_sys_error(errno);
        close(fd);
        return rc;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    cn->kstamp = client_kstamps(cn->c) && mb_plat_rx_stamp_enable(fd);
    if (connect(fd, sa, len) < 0 && errno != EINPROGRESS) {
        rc = uv_translate_sys_error(errno);
        close(fd);
        return rc;
    }
    if ((rc = uv_poll_init_socket(cn->pool->loop, &cn->poll, fd)) < 0) {
        close(fd);
        return rc;
    }
    cn->fd = fd;
    cn->poll.data = cn;
    cn->nopen++;
    client_handles(cn->c, 1);
    watch(cn);
    return 0;
}

/* Writes what is left of cn->wv: as much as the socket takes now, the
 * rest once it is writable again (cn->writing meanwhile). 0 or a libuv
 * error code. */
int h1_sock_write(h1_conn *cn)
{
    while (cn->wn > 0) {
        ssize_t n = mb_plat_sendv(cn->fd, cn->wv, cn->wn);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            cn->writing = 0;
            cn->wn = 0;
            return uv_translate_sys_error(errno);
        }
        /* drop what went out */
        size_t k = (size_t)n;
        int i = 0;
        while (i < cn->wn && k >= cn->wv[i].iov_len)
            k -= cn->wv[i++].iov_len;
        memmove(cn->wv, cn->wv + i, (size_t)(cn->wn - i) * sizeof cn->wv[0]);
        cn->wn -= i;
        if (cn->wn) {
            cn->wv[0].iov_base = (char *)cn->wv[0].iov_base + k;
            cn->wv[0].iov_len -= k;
        }
    }
    cn->writing = cn->wn > 0;
    watch(cn);
    return 0;
}

/* A connect in progress has ended: its outcome from SO_ERROR. */
static void connect_done(h1_conn *cn)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(cn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        cn->state = C_BUSY;   /* send_req confirms it; READABLE from here on */
        watch(cn);
    }
    h1_connected(cn, err ? uv_translate_sys_error(err) : 0);
}

/* The socket is ready, or failed (libuv then stopped the poll: it is
 * started again, and the read below takes the error). */
static void on_poll(uv_poll_t *p, int status, int events)
{
    h1_conn *cn = p->data;
    if (cn->state == C_CLOSED)
        return;
    if (status < 0) {
        cn->events = 0;
        if (cn->state == C_CONNECT) {
            connect_done(cn);
            return;
        }
        watch(cn);
        events = UV_READABLE | (cn->writing ? UV_WRITABLE : 0);
    }
    if (cn->state == C_CONNECT) {
        if (events & UV_WRITABLE)
            connect_done(cn);
        return;
    }
    if ((events & UV_WRITABLE) && cn->writing) {
        int rc = h1_sock_write(cn);
        if (rc < 0) {
            h1_write_failed(cn, rc);
            return;
        }
    }
    if (events & UV_READABLE)
        h1_read_ready(cn);
}

/* Whether an idle connection keeps the loop alive (it does not). */
void h1_sock_ref(h1_conn *cn, int ref)
{
    if (cn->fd < 0)
        return;
    if (ref)
        uv_ref((uv_handle_t *)&cn->poll);
    else
        uv_unref((uv_handle_t *)&cn->poll);
}

/* Stops watching and closes the socket; the poll's memory is the
 * connection's, released by its close callback (`closed`). */
void h1_sock_close(h1_conn *cn, uv_close_cb closed)
{
    if (cn->fd < 0)
        return;
    uv_poll_stop(&cn->poll);
    uv_close((uv_handle_t *)&cn->poll, closed);   /* leaves epoll now */
    close(cn->fd);
    cn->fd = -1;
    cn->events = 0;
}

/* listen: what every server of mlxbench shares (the HTTP server, hence the
 * emulator, and the fault proxy): resolving a host, a listening socket that
 * can be closed and opened again on the same port, and the end of an
 * object that owns libuv handles. Runs on the caller's loop thread. */
#ifndef MLXBENCH_LISTEN_H
#define MLXBENCH_LISTEN_H

#include <stdint.h>
#include <uv.h>

/* Resolves host:port into *out: a numeric IPv4/IPv6 address directly, a
 * name through the system's resolver (synchronously: servers start once),
 * preferring IPv4 so that "localhost" pairs with servers and clients that
 * use 127.0.0.1 only. 0 or a UV_E* code (uv_strerror describes it). */
int mb_resolve(uv_loop_t *loop, const char *host, int port, struct sockaddr_storage *out);

/* 1 if the address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x). */
int mb_addr_loopback(const struct sockaddr_storage *a);

/* The end of an object that owns libuv handles (and maybe other parts that
 * close asynchronously): stopped once, freed when its last part has
 * closed, and then its owner's `done` runs. */
typedef struct mb_life {
    int stopping;
    int open;                    /* parts whose close is still due */
    void (*done)(void *ud);
    void *done_ud;
} mb_life;

/* Starts the end: 1 the first time (the caller then closes its parts), 0
 * when it was stopping already (the caller returns). */
int mb_life_stop(mb_life *l, void (*done)(void *ud), void *ud);
/* Once stopping with no part open and `busy` 0 (other things the owner
 * still waits for, say connections): free_fn(obj) runs, then done(ud).
 * Returns 1 if it did (obj is gone). */
int mb_life_end(mb_life *l, int busy, void (*free_fn)(void *obj), void *obj);

/* A listening TCP socket. Fill loop, addr (mb_resolve), backlog, on_conn
 * and owner; mb_listener_open binds and listens. Closing it closes the
 * socket at once (the kernel refuses new connections from then on); its
 * memory goes later, and every close, successful or not, counts down
 * `life` (the owner's) through mb_life_end(life, ...) by calling
 * on_closed(owner). Opening again binds the same address and port. */
typedef struct mb_listener {
    uv_loop_t *loop;
    struct sockaddr_storage addr;   /* the bound address; the real port once open */
    int backlog;
    void *owner;
    /* A connection is waiting: the owner accepts it (mb_listener_accept). Not
     * called on a failed accept status or once the owner is stopping. */
    void (*on_conn)(void *owner, uv_stream_t *server);
    /* Optional: an accept failed for lack of descriptors (EMFILE, ENFILE;
     * libuv has turned that client away): the owner may make room. */
    void (*on_full)(void *owner);
    mb_life *life;                  /* the owner's: a listener handle is one of its parts */
    void (*on_closed)(void *owner); /* a listener handle closed: the owner may end now */
    uv_tcp_t *tcp;                  /* NULL while closed */
    char host[64];                  /* the bound address, numeric */
    int port;                       /* the bound port */
} mb_listener;

/* Binds and listens on l->addr; records the real address and port. Also
 * the process-wide set-up every server needs (SIGPIPE ignored, descriptor
 * limit raised: platform.h). 0 or a negative code (MB_ENOMEM, or a UV_E*
 * such as UV_EADDRINUSE). */
int mb_listener_open(mb_listener *l);
/* Closes the socket now (idempotent). */
void mb_listener_close(mb_listener *l);
/* 1 while listening. */
int mb_listener_is_open(const mb_listener *l);
/* Accepts the waiting connection into an initialised client handle, with
 * Nagle off (each token must leave at once). 0 or a UV_E* code. */
int mb_listener_accept(uv_stream_t *server, uv_tcp_t *client);

#endif

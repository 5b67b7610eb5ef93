/* proxy: a TCP fault-injection proxy on a libuv loop.
 *
 * It listens on host:port, connects every accepted client to one upstream
 * host:port and forwards bytes both ways, whatever the protocol (HTTP/1.1,
 * HTTP/2, TLS, SSE: bytes are bytes). Each direction has backpressure (the
 * source is not read while the destination's queue is above the high-water
 * mark) and half-closes propagate (EOF from one side shuts down the write
 * side of the other). Faults can be changed at any time:
 *
 *   latency_ms + jitter_ms  each chunk, each direction, waits this long
 *                           (jitter: uniform in [0, jitter_ms], seeded RNG)
 *                           before it is forwarded; order is kept
 *   bandwidth               bytes/s per direction per connection (token bucket)
 *   refuse                  CLOSE: the listener is closed, the kernel refuses
 *                           connections (clients see "connection refused");
 *                           RESET: connections are accepted and reset at once
 *   reset_after_bytes       the client gets a TCP RST after N bytes from upstream
 *   blackhole               accept, never forward nor answer, hold open
 *   close_after_ms          close both sides N ms after the accept
 *
 * When a change applies:
 *   latency, jitter, bandwidth  every byte read from then on, on open
 *                               connections too
 *   blackhole                   a connection accepted while it is on is a
 *                               blackhole for life (never gets an upstream);
 *                               on open connections, bytes read while it is on
 *                               are dropped and an upstream EOF is held
 *   refuse                      new connections; switching it on also resets
 *                               every open connection (a backend that goes
 *                               down loses its connections, so keep-alive
 *                               clients fail too)
 *   reset_after_bytes,          counted from the accept on new connections,
 *   close_after_ms              from the change on open ones
 * Delays are libuv timers: nothing sleeps.
 *
 * Everything runs on the caller's loop thread. Timings use the monotonic
 * clock (mb_clock_now_ns). */
#ifndef MLXBENCH_PROXY_H
#define MLXBENCH_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mb_proxy mb_proxy;

/* How refused connections are refused. */
enum {
    MB_PROXY_REFUSE_NONE = 0,
    MB_PROXY_REFUSE_CLOSE = 1,   /* listener closed: the kernel answers RST to SYN */
    MB_PROXY_REFUSE_RESET = 2    /* accepted, then closed at once with RST */
};

/* The fault set. mb_proxy_faults_clear() gives "no fault" (fields with
 * "< 0 = off" are -1 there, the rest 0). */
typedef struct mb_proxy_faults {
    uint32_t latency_ms;         /* fixed delay per chunk per direction */
    uint32_t jitter_ms;          /* extra uniform delay in [0, jitter_ms] */
    uint64_t bandwidth;          /* bytes/s per direction per connection; 0 = no limit */
    int refuse;                  /* MB_PROXY_REFUSE_* */
    int blackhole;               /* 1 = accept, read and drop, never answer */
    int64_t reset_after_bytes;   /* RST the client after N bytes downstream; < 0 = off */
    int64_t close_after_ms;      /* close a connection N ms after accept; < 0 = off */
} mb_proxy_faults;

typedef struct mb_proxy_stats {
    uint64_t accepted;           /* connections accepted (refused-by-reset included) */
    uint64_t active;             /* connections open now */
    uint64_t refused;            /* accepted and reset at once (REFUSE_RESET) */
    uint64_t reset;              /* clients reset by reset_after_bytes */
    uint64_t closed_after;       /* connections closed by close_after_ms */
    uint64_t blackholed;         /* connections accepted into the blackhole */
    uint64_t upstream_failed;    /* upstream connect failed (client then reset) */
    uint64_t bytes_up;           /* client -> upstream bytes forwarded */
    uint64_t bytes_down;         /* upstream -> client bytes forwarded */
    uint64_t bytes_dropped;      /* bytes swallowed by the blackhole */
    uint64_t delayed_chunks;     /* chunks held back by latency/jitter */
    uint64_t throttled;          /* times a direction waited for bandwidth tokens */
    uint64_t listener_closed;    /* times the listener was closed by refuse = CLOSE */
    uint64_t dropped;            /* open connections reset when refuse was switched on */
} mb_proxy_stats;

typedef struct mb_proxy_config {
    const char *host;            /* listen address (numeric or a name); NULL = 127.0.0.1 */
    int port;                    /* 0 picks a free port */
    const char *upstream_host;   /* numeric address or a name, resolved once at start */
    int upstream_port;
    uint64_t seed;               /* jitter RNG seed */
    size_t high_water;           /* per-direction queue that pauses the source; 0 = 256 KiB */
    int backlog;                 /* 0 = MB_DEFAULT_BACKLOG (1024) */
    mb_proxy_faults faults;      /* initial faults (use mb_proxy_faults_clear first) */
} mb_proxy_config;

/* Sets *f to "no fault". */
void mb_proxy_faults_clear(mb_proxy_faults *f);

/* Resolves the upstream, binds and listens (with faults.refuse = CLOSE it
 * binds to learn the port, then closes the listener until the fault is
 * cleared). Returns 0 or a negative code (MB_E*, or a libuv UV_E* code);
 * `err` (optional) gets a message. */
int mb_proxy_start(mb_proxy **out, uv_loop_t *loop, const mb_proxy_config *cfg,
                   char *err, size_t errlen);

/* Closes the listener and every connection, then frees the proxy once libuv
 * has closed every handle; `done` (optional) runs at that point. The pointer
 * must not be used after this call. */
void mb_proxy_stop(mb_proxy *p, void (*done)(void *ud), void *ud);

/* Replaces the fault set (see the header comment for when each applies).
 * Returns 0, MB_EINVAL for a bad value, or the libuv error of re-listening
 * after refuse = CLOSE is cleared (the proxy then stays refusing). */
int mb_proxy_set_faults(mb_proxy *p, const mb_proxy_faults *f);
void mb_proxy_get_faults(const mb_proxy *p, mb_proxy_faults *f);
void mb_proxy_get_stats(const mb_proxy *p, mb_proxy_stats *s);

int mb_proxy_port(const mb_proxy *p);           /* the bound port */
const char *mb_proxy_host(const mb_proxy *p);   /* the bound address, numeric */

#endif

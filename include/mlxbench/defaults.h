/* defaults: the C side's default values, in one place. The Lua library
 * reads the ones it needs from mlxbench._sys.defaults instead of repeating
 * them. Pure constants. */
#ifndef MLXBENCH_DEFAULTS_H
#define MLXBENCH_DEFAULTS_H

#include <stddef.h>

/* ---- a request (mlxbench.http, mlxbench.llm, the client) ------------ */
#define MB_DEFAULT_TIMEOUT_S 600              /* the whole request, seconds */
#define MB_DEFAULT_CONNECT_TIMEOUT_S 10       /* connection set-up (DNS, TCP, TLS) */
#define MB_DEFAULT_MAX_BODY ((size_t)64 << 20) /* a stored response body, bytes */
#define MB_DEFAULT_MAX_LINE ((size_t)1 << 20)  /* one SSE line, bytes */

/* ---- the servers (src/server, the emulator, the proxy) -------------- */
#define MB_DEFAULT_BACKLOG 1024               /* listen(2) backlog */
#define MB_DEFAULT_MAX_HEAD ((size_t)64 << 10) /* request line + headers, bytes */
#define MB_DEFAULT_MAX_REQUEST_BODY ((size_t)8 << 20) /* a request body, bytes */
#define MB_DEFAULT_HIGH_WATER ((size_t)256 << 10) /* write queue that marks congestion */
#define MB_DEFAULT_REQUEST_TIMEOUT_MS 10000   /* a request's first byte to its last */
#define MB_DEFAULT_IDLE_TIMEOUT_MS 60000      /* a connection with no request under way */

#endif

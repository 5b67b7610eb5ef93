/* errors: negative error codes shared by every layer (libuv style). */
#ifndef MLXBENCH_ERRORS_H
#define MLXBENCH_ERRORS_H

enum {
    MB_OK = 0,
    MB_ENOMEM = -1,     /* allocation failed */
    MB_EINVAL = -2,     /* bad argument */
    MB_ERANGE = -3,     /* value outside the configured range */
    MB_ETOOLONG = -4,   /* line or body over its configured limit */
    MB_EPARSE = -5,     /* malformed input */
    MB_ESTATE = -6,     /* call not valid in the object's current state */
    MB_EIO = -7,        /* an I/O layer failed (never from src/core) */
    MB_ENOTSUP = -8     /* the platform layer cannot do this here */
};

/* A short English description of an MB_E* code. */
const char *mb_strerror(int err);

/* The kinds of a failed request, defined once for every layer: the HTTP
 * client's transports set them (docs/ARCHITECTURE.md, "Error kinds"), the
 * LLM extractor adds `stream` and `protocol` verdicts of its own, and Lua
 * sees their names (`error.kind`). */
typedef enum {
    MB_ERR_NONE = 0, MB_ERR_DNS, MB_ERR_CONNECT, MB_ERR_TLS, MB_ERR_TIMEOUT,
    MB_ERR_RESET, MB_ERR_HTTP, MB_ERR_PROTOCOL, MB_ERR_STREAM, MB_ERR_ABORTED
} mb_err_kind;

/* "dns", "connect", ... or NULL for MB_ERR_NONE (and unknown values). */
const char *mb_err_kind_name(mb_err_kind k);

#endif

/* errors.c: descriptions for MB_E* codes and the names of error kinds. */
#include <stddef.h>
#include "mlxbench/errors.h"

const char *mb_strerror(int err)
{
    switch (err) {
    case MB_OK:       return "ok";
    case MB_ENOMEM:   return "out of memory";
    case MB_EINVAL:   return "invalid argument";
    case MB_ERANGE:   return "value out of range";
    case MB_ETOOLONG: return "line or body exceeds its limit";
    case MB_EPARSE:   return "malformed input";
    case MB_ESTATE:   return "invalid state";
    case MB_EIO:      return "I/O error";
    case MB_ENOTSUP:  return "not supported on this platform";
    default:          return "unknown error";
    }
}

/* The names Lua sees in `error.kind`. */
const char *mb_err_kind_name(mb_err_kind k)
{
    static const char *const names[] = {NULL, "dns", "connect", "tls", "timeout", "reset",
                                        "http", "protocol", "stream", "aborted"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : NULL;
}

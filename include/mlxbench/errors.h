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
    MB_EIO = -7         /* an I/O layer failed (net/ only) */
};

/* A short English description of an MB_E* code. */
const char *mb_strerror(int err);

#endif

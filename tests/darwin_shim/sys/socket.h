/* darwin_shim: <sys/socket.h> -- the system's declarations, plus the
 * receive-stamp control message macOS defines with _DARWIN_C_SOURCE
 * (SCM_TIMESTAMP, a struct timeval; Apple's value), which glibc hides
 * under the strict POSIX flags of the syntax check. */
#ifndef MB_DARWIN_SHIM_SYS_SOCKET_H
#define MB_DARWIN_SHIM_SYS_SOCKET_H
#include_next <sys/socket.h>
#ifndef SCM_TIMESTAMP
#define SCM_TIMESTAMP 0x02
#endif
#endif

/* shim: <libproc.h> of macOS, only what src/platform/darwin.c uses */
#ifndef MB_SHIM_LIBPROC_H
#define MB_SHIM_LIBPROC_H
#include <stdint.h>
struct proc_fdinfo {
    int32_t proc_fd;
    uint32_t proc_fdtype;
};
#define PROC_PIDLISTFDS 1
#define PROC_PIDLISTFD_SIZE (sizeof(struct proc_fdinfo))
int proc_pidinfo(int pid, int flavor, uint64_t arg, void *buffer, int buffersize);
#endif

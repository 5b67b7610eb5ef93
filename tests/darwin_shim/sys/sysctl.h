/* shim: <sys/sysctl.h> of macOS, only what src/platform/darwin.c uses */
#ifndef MB_SHIM_SYS_SYSCTL_H
#define MB_SHIM_SYS_SYSCTL_H
#include <stddef.h>
int sysctlbyname(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#endif

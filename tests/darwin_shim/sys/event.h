/* shim: <sys/event.h> of macOS, only what src/platform/darwin.c uses */
#ifndef MB_SHIM_SYS_EVENT_H
#define MB_SHIM_SYS_EVENT_H
#include <stdint.h>
#include <time.h>
struct kevent {
    uintptr_t ident;
    int16_t filter;
    uint16_t flags;
    uint32_t fflags;
    intptr_t data;
    void *udata;
};
#define EV_SET(kevp, a, b, c, d, e, f) do {  \
        struct kevent *__kevp__ = (kevp);    \
        __kevp__->ident = (a);               \
        __kevp__->filter = (int16_t)(b);     \
        __kevp__->flags = (uint16_t)(c);     \
        __kevp__->fflags = (uint32_t)(d);    \
        __kevp__->data = (e);                \
        __kevp__->udata = (f);               \
    } while (0)
#define EVFILT_TIMER (-7)
#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ONESHOT 0x0010
#define NOTE_NSECONDS 0x00000004
#define NOTE_CRITICAL 0x00000020   /* system does minimal timer coalescing */
int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);
#endif

/* darwin.c: the macOS part of the platform layer -- sysctl for the machine
 * (hw.model, machdep.cpu.brand_string -- "Apple M3 Max" on Apple silicon,
 * hw.memsize, the performance and efficiency core counts, the macOS
 * version), Mach and libproc for the process (thread CPU time when the
 * POSIX clock is missing, resident size, descriptors) and for the server
 * under test (its CPU, memory, threads, listening socket), the per-process
 * descriptor ceiling kern.maxfilesperproc, a kqueue EVFILT_TIMER with
 * NOTE_NSECONDS for the nanosecond timer, and SO_TIMESTAMP for the
 * kernel's receive stamps.
 *
 * Built on macOS only; on Linux, tests/e2e/test_darwin_syntax.sh compiles
 * it with -fsyntax-only against the declarations in tests/darwin_shim/. */
#ifndef _DARWIN_C_SOURCE   /* CMake defines it for every file */
#define _DARWIN_C_SOURCE   /* sysctlbyname, proc_pidinfo under _POSIX_C_SOURCE */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libproc.h>
#include <mach/mach.h>
#include <mach/mach_time.h>
#include <netinet/in.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/sysctl.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "platform_int.h"

/* kern.maxfilesperproc: setrlimit refuses more, even when the hard limit
 * says unlimited. */
int64_t mb_os_fd_ceiling(void)
{
    int v = 0;
    size_t len = sizeof v;
    if (sysctlbyname("kern.maxfilesperproc", &v, &len, NULL, 0) != 0 || v <= 0)
        return -1;
    return v;
}

/* The calling thread's user + system time (Mach, microseconds), for when
 * CLOCK_THREAD_CPUTIME_ID is missing (before macOS 10.12) or fails. */
double mb_os_thread_cpu_s(void)
{
    thread_basic_info_data_t info;
    mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
    mach_port_t self = mach_thread_self();
    kern_return_t kr = thread_info(self, THREAD_BASIC_INFO, (thread_info_t)&info, &count);
    mach_port_deallocate(mach_task_self(), self);
    if (kr != KERN_SUCCESS)
        return -1;
    return (double)info.user_time.seconds + (double)info.system_time.seconds
        + (double)(info.user_time.microseconds + info.system_time.microseconds) * 1e-6;
}

/* The task's resident size (Mach). */
int64_t mb_os_rss_bytes(void)
{
    mach_task_basic_info_data_t info;
    mach_msg_type_number_t count = MACH_TASK_BASIC_INFO_COUNT;
    if (task_info(mach_task_self(), MACH_TASK_BASIC_INFO, (task_info_t)&info, &count)
        != KERN_SUCCESS)
        return -1;
    return (int64_t)info.resident_size;
}

/* proc_pidinfo(PROC_PIDLISTFDS): the size of the descriptor list. */
int64_t mb_os_fd_count(void)
{
    int bytes = proc_pidinfo(getpid(), PROC_PIDLISTFDS, 0, NULL, 0);
    if (bytes <= 0)
        return mb_posix_fd_count();
    struct proc_fdinfo *fds = malloc((size_t)bytes);
    if (!fds)
        return -1;
    bytes = proc_pidinfo(getpid(), PROC_PIDLISTFDS, 0, fds, bytes);
    free(fds);
    return bytes > 0 ? (int64_t)((size_t)bytes / PROC_PIDLISTFD_SIZE) : -1;
}

/* A string sysctl into buf ("" when the name is unknown). */
static void sysctl_str(const char *name, char *buf, size_t cap)
{
    size_t len = cap;
    if (sysctlbyname(name, buf, &len, NULL, 0) != 0 || len == 0)
        buf[0] = 0;
    else
        buf[len < cap ? len : cap - 1] = 0;
}

/* An integer sysctl; 0 when the name is unknown (Intel Macs have no
 * hw.perflevel*). */
static int sysctl_int(const char *name)
{
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(name, &v, &len, NULL, 0) == 0 ? v : 0;
}

/* The machine as MLX users compare them: the chip ("Apple M3 Max": Apple
 * silicon names itself in machdep.cpu.brand_string), its performance and
 * efficiency cores, and the memory CPU and GPU share (hw.memsize); the
 * macOS version (kern.osproductversion) and the model (hw.model). */
void mb_os_host_info(mb_plat_host *h)
{
    uint64_t mem = 0;
    size_t len = sizeof mem;
    char ver[32];
    sysctl_str("machdep.cpu.brand_string", h->cpu_model, sizeof h->cpu_model);
    sysctl_str("hw.model", h->machine, sizeof h->machine);
    sysctl_str("kern.osproductversion", ver, sizeof ver);
    if (ver[0])
        snprintf(h->os_release, sizeof h->os_release, "macOS %s", ver);
    if (sysctlbyname("hw.memsize", &mem, &len, NULL, 0) == 0 && mem > 0)
        h->memory_bytes = mem;
    /* hw.optional.arm64: Apple silicon (also under Rosetta) */
    if (sysctl_int("hw.optional.arm64") == 1) {
        h->unified_memory = 1;
        if (strncmp(h->cpu_model, "Apple ", 6) == 0)
            snprintf(h->chip, sizeof h->chip, "%s", h->cpu_model);
    }
    /* Apple silicon: perflevel0 = performance, perflevel1 = efficiency
     * (absent on Intel Macs: 0, unknown) */
    h->perf_cores = sysctl_int("hw.perflevel0.physicalcpu");
    h->efficiency_cores = sysctl_int("hw.perflevel1.physicalcpu");
    int n = sysctl_int("hw.logicalcpu");
    if (n > 0)
        h->cpus = n;
}

/* ---- the timer: one kqueue, one EVFILT_TIMER, nanosecond deltas ---- */

#define TIMER_IDENT 1

/* One kqueue per timer: readable (for the loop's uv_poll) when its timer
 * fired. */
int mb_os_timer_open(mb_ptimer *t)
{
    t->fd = kqueue();
    if (t->fd < 0)
        return -1;
    t->kind = MB_PTIMER_KQUEUE;
    return 0;
}

/* kqueue timers are relative: the delta to the deadline from now (a past
 * deadline fires at once). EV_ADD on an existing timer replaces it.
 * NOTE_CRITICAL asks for no timer coalescing: macOS otherwise delays
 * timers by up to ~1 ms to save power, the emulator's emission error. */
int mb_os_timer_arm(mb_ptimer *t, uint64_t deadline_ns)
{
    struct kevent ev;
    uint64_t now = mb_clock_now_ns();
    intptr_t delta = deadline_ns > now ? (intptr_t)(deadline_ns - now) : 0;
    EV_SET(&ev, TIMER_IDENT, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS | NOTE_CRITICAL,
           delta, NULL);
    return kevent(t->fd, &ev, 1, NULL, 0, NULL) == 0 ? 0 : -1;
}

/* Deletes the pending timer, if any. */
void mb_os_timer_disarm(mb_ptimer *t)
{
    struct kevent ev;
    EV_SET(&ev, TIMER_IDENT, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);
    kevent(t->fd, &ev, 1, NULL, 0, NULL);   /* ENOENT once it fired: fine */
}

/* Takes the fired event off the queue so the poll quiets down. */
void mb_os_timer_ack(mb_ptimer *t)
{
    struct kevent ev[4];
    struct timespec zero = {0, 0};
    while (kevent(t->fd, NULL, 0, ev, 4, &zero) == 4)
        ;
}

/* ---- another process: libproc ---------------------------------------- */

/* PROC_PIDTASKINFO: resident size, threads, and the CPU times of live and
 * exited threads -- in Mach absolute-time units, which are nanoseconds on
 * Intel Macs but 125/3 ns ticks on Apple silicon (mach_timebase_info). */
int mb_os_proc_sample(int64_t pid, mb_plat_proc *out)
{
    struct proc_taskinfo ti;
    static mach_timebase_info_data_t tb;
    int n = proc_pidinfo((int)pid, PROC_PIDTASKINFO, 0, &ti, (int)sizeof ti);
    if (n != (int)sizeof ti)
        return proc_name((int)pid, out->name, sizeof out->name) > 0 ? MB_EIO : MB_EINVAL;
    if (tb.denom == 0 && mach_timebase_info(&tb) != KERN_SUCCESS)
        return MB_EIO;
    double ticks = (double)ti.pti_total_user + (double)ti.pti_total_system;
    out->cpu_s = ticks * (double)tb.numer / (double)tb.denom * 1e-9;
    out->rss_bytes = (int64_t)ti.pti_resident_size;
    out->threads = ti.pti_threadnum;
    if (proc_name((int)pid, out->name, sizeof out->name) <= 0)
        out->name[0] = 0;
    return 0;
}

/* Whether a socket's local address is loopback or wildcard (IPv4, IPv6,
 * or IPv4 mapped into IPv6). */
static int local_addr(const struct in_sockinfo *in)
{
    if (in->insi_vflag & INI_IPV4) {
        uint32_t a = ntohl(in->insi_laddr.ina_46.i46a_addr4.s_addr);
        return (a >> 24) == 127 || a == 0;
    }
    const unsigned char *a = in->insi_laddr.ina_6.s6_addr;
    static const unsigned char any[16], one[16] = {[15] = 1};
    return memcmp(a, any, 16) == 0 || memcmp(a, one, 16) == 0;
}

/* Whether process pid has a TCP socket listening on port (loopback or
 * wildcard); -1 when its descriptors cannot be read. */
static int listens_on(int pid, int port)
{
    int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, NULL, 0);
    if (bytes <= 0)
        return -1;
    struct proc_fdinfo *fds = malloc((size_t)bytes);
    if (!fds)
        return -1;
    bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds, bytes);
    int found = bytes > 0 ? 0 : -1;
    for (int i = 0; bytes > 0 && i < bytes / (int)PROC_PIDLISTFD_SIZE && !found; i++) {
        struct socket_fdinfo si;
        if (fds[i].proc_fdtype != PROX_FDTYPE_SOCKET)
            continue;
        if (proc_pidfdinfo(pid, fds[i].proc_fd, PROC_PIDFDSOCKETINFO, &si, (int)sizeof si) !=
            (int)sizeof si)
            continue;
        if (si.psi.soi_kind != SOCKINFO_TCP)
            continue;
        const struct tcp_sockinfo *t = &si.psi.soi_proto.pri_tcp;
        if (t->tcpsi_state == TSI_S_LISTEN && ntohs((uint16_t)t->tcpsi_ini.insi_lport) == port &&
            local_addr(&t->tcpsi_ini))
            found = 1;
    }
    free(fds);
    return found;
}

/* Every process's descriptors, lowest pid first (proc_listpids). */
int mb_os_listening_pid(int port, int64_t *pid)
{
    int bytes = proc_listpids(PROC_ALL_PIDS, 0, NULL, 0);
    if (bytes <= 0)
        return MB_EIO;
    int *pids = malloc((size_t)bytes);
    if (!pids)
        return MB_EIO;
    bytes = proc_listpids(PROC_ALL_PIDS, 0, pids, bytes);
    int n = bytes > 0 ? bytes / (int)sizeof(int) : 0, best = 0, hidden = 0;
    for (int i = 0; i < n; i++) {
        if (pids[i] <= 0 || (best && pids[i] >= best))
            continue;
        int r = listens_on(pids[i], port);
        if (r > 0)
            best = pids[i];
        else if (r < 0)
            hidden = 1;
    }
    free(pids);
    if (best) {
        *pid = best;
        return 0;
    }
    return hidden ? MB_EIO : MB_EINVAL;
}

/* ---- receive stamps: SO_TIMESTAMP (microseconds, CLOCK_REALTIME) ---- */

int mb_os_rx_stamp_enable(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one) == 0;
}

const char *mb_os_rx_stamp_kind(void)
{
    return "SO_TIMESTAMP";
}

static int64_t from_timeval(const void *data)
{
    struct timeval tv;
    memcpy(&tv, data, sizeof tv);
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

ssize_t mb_os_recv(int fd, void *buf, size_t n, int64_t *stamp_ns)
{
    return mb_posix_recv_stamped(fd, buf, n, SCM_TIMESTAMP, from_timeval, stamp_ns);
}

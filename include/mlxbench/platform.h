/* platform: what differs between operating systems, behind one header.
 *
 * src/platform/linux.c (/proc, sysfs, timerfd), darwin.c (sysctl, Mach,
 * libproc, kqueue) and posix.c (portable; chosen on other systems or with
 * -DMLXBENCH_PLATFORM=posix) implement it; CMake compiles posix.c and the
 * one for the system. Nothing outside src/platform reads /proc or calls a
 * call that exists on one system only (tests/e2e/test_layering.sh checks).
 *
 * Functions that ask the system return -1 (or a negative MB_E* code) when
 * it cannot tell; callers report "unknown" rather than guess. */
#ifndef MLXBENCH_PLATFORM_H
#define MLXBENCH_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <uv.h>

/* "linux", "darwin" or "posix": the implementation compiled in. */
const char *mb_plat_name(void);

/* ---- process-wide set-up -------------------------------------------- */

/* SIGPIPE is ignored unless someone installed a handler: a peer that
 * resets a connection must give EPIPE, not kill the run. Idempotent. */
void mb_plat_ignore_sigpipe(void);
/* Lifts the soft descriptor limit as far as the system allows (the hard
 * limit; on macOS also kern.maxfilesperproc): every virtual user holds a
 * connection, two with the emulator in the same process. Returns the soft
 * limit now (-1 unlimited or unknown). Idempotent. */
int64_t mb_plat_raise_fd_limit(void);

/* ---- this process --------------------------------------------------- */

/* CPU seconds (user + system) of the calling thread (CLOCK_THREAD_CPUTIME_ID). */
double mb_plat_thread_cpu_s(void);
/* User and system CPU seconds of the whole process (all threads). */
void mb_plat_process_cpu_s(double *user, double *sys);
/* Resident set size now, in bytes; -1 when the system cannot tell. */
int64_t mb_plat_rss_bytes(void);
/* Peak resident set size, in bytes (ru_maxrss is KiB on Linux, bytes on macOS). */
int64_t mb_plat_peak_rss_bytes(void);
/* Open descriptors of this process; -1 when unknown. */
int64_t mb_plat_fd_count(void);
/* The descriptor limits (-1 = unlimited). 0 or MB_EIO. */
int mb_plat_fd_limit(int64_t *soft, int64_t *hard);

/* ---- another process (the server under test) ------------------------ */

typedef struct mb_plat_proc {
    double cpu_s;           /* user + system CPU seconds so far, all threads */
    int64_t rss_bytes;      /* resident set size now (-1 unknown) */
    int threads;            /* threads now (0 unknown) */
    char name[64];          /* the command's name (Linux comm, macOS proc_name), "" unknown */
} mb_plat_proc;

/* Samples process `pid` (Linux /proc/PID/stat, macOS proc_pidinfo
 * PROC_PIDTASKINFO). 0; MB_EINVAL when there is no such process (it
 * ended); MB_EIO when the system will not tell (another user's process on
 * macOS, or a system without the call). */
int mb_plat_proc_sample(int64_t pid, mb_plat_proc *out);

/* The process listening on TCP `port` on a loopback or wildcard address
 * (127.0.0.0/8, ::1, 0.0.0.0, ::) -- the local server a benchmark runs
 * against (Linux: /proc/net/tcp{,6} and each process's /proc/PID/fd;
 * macOS: proc_listpids and PROC_PIDFDSOCKETINFO). 0 with *pid set (the
 * lowest pid when several share the socket: the parent of a pre-forked
 * server); MB_EINVAL when nothing listens there; MB_EIO when a socket
 * listens but its process cannot be seen (another user's, without
 * privileges) or the system cannot tell. */
int mb_plat_listening_pid(int port, int64_t *pid);

/* ---- this machine --------------------------------------------------- */

typedef struct mb_plat_host {
    char os[32];             /* "linux", "darwin", ... (uname, lower-cased) */
    char os_release[128];    /* "macOS 15.1", "Debian GNU/Linux 12 (bookworm)"; "" unknown */
    char hostname[256];      /* "" when unknown */
    char kernel[128];        /* kernel release */
    char cpu_model[128];     /* "" when unknown */
    char chip[64];           /* Apple silicon: "Apple M3 Max"; "" elsewhere */
    char machine[64];        /* hardware model (macOS hw.model), "" when unknown */
    int cpus;                /* online logical processors (>= 1) */
    int perf_cores;          /* performance cores (macOS hw.perflevel0), 0 unknown */
    int efficiency_cores;    /* efficiency cores (macOS hw.perflevel1), 0 unknown */
    uint64_t memory_bytes;   /* physical memory, 0 when unknown */
    int unified_memory;      /* 1: CPU and GPU share memory_bytes (Apple silicon) */
} mb_plat_host;

/* Fills *h with what the system tells (no user names, no secrets). */
void mb_plat_host_info(mb_plat_host *h);

/* ---- sockets -------------------------------------------------------- */

/* socket(2) with close-on-exec set (atomically where SOCK_CLOEXEC exists). */
int mb_plat_socket(int family, int type, int protocol);
/* send(2) on a non-blocking socket that never raises SIGPIPE; the result
 * and errno as send's. */
ssize_t mb_plat_send(int fd, const void *p, size_t n);
/* writev(2) on a non-blocking socket that never raises SIGPIPE; the result
 * and errno as writev's. */
ssize_t mb_plat_sendv(int fd, const struct iovec *iov, int n);

/* ---- kernel receive stamps ------------------------------------------ */

/* Asks the kernel to stamp every packet the socket receives with its
 * arrival time: SO_TIMESTAMPNS on Linux (taken when the packet reached the
 * network stack, ns), SO_TIMESTAMP on macOS (us). 1 when it will, 0 when
 * the system cannot (the portable build) or refused. */
int mb_plat_rx_stamp_enable(int fd);
/* Switches the kernel's stamping on ahead of the first connection: Linux
 * turns it on lazily, from a work queue, when the first socket in the
 * system asks, so that socket's first packets would carry no stamp. Keeps
 * one socket with stamps on open for the life of the process, and waits
 * (at most 500 ms, once) until a byte a loopback TCP pair sends itself comes
 * back stamped. Idempotent, any thread; nothing where there are no stamps. */
void mb_plat_rx_stamp_prime(void);
/* What mb_plat_rx_stamp_enable asks for: "SO_TIMESTAMPNS", "SO_TIMESTAMP"
 * or "none". */
const char *mb_plat_rx_stamp_kind(void);
/* recv(2) of at most n bytes that also gives, in *stamp_ns, the kernel's
 * receive stamp of what it read -- CLOCK_REALTIME ns since the epoch; on a
 * stream socket the stamp of the last packet the read took -- or 0 when
 * the read carried none (stamps not enabled, not supported). EINTR is
 * retried; otherwise the result and errno are recv's. */
ssize_t mb_plat_recv(int fd, void *buf, size_t n, int64_t *stamp_ns);

/* ---- high-resolution timer ----------------------------------------- */

/* A one-shot wake-up on a libuv loop at an absolute time of the monotonic
 * clock (mb_clock_now_ns), as precise as the system allows: a timerfd on
 * Linux and a kqueue EVFILT_TIMER with NOTE_NSECONDS on macOS (both
 * nanoseconds, watched by a uv_poll), else a uv_timer (milliseconds,
 * rounded up). It keeps the loop alive while armed, like a uv_timer. */
typedef struct mb_ptimer mb_ptimer;
typedef void (*mb_ptimer_fn)(void *ud);

/* 0 or MB_ENOMEM. `fired` runs on the loop once an armed deadline passes. */
int mb_ptimer_new(mb_ptimer **out, uv_loop_t *loop, mb_ptimer_fn fired, void *ud);
/* (Re-)arms for the absolute deadline (ns, mb_clock_now_ns's clock); a
 * deadline already past fires on the next loop iteration. */
void mb_ptimer_arm(mb_ptimer *t, uint64_t deadline_ns);
void mb_ptimer_disarm(mb_ptimer *t);
/* Closes the timer; `closed(ud)` runs once libuv has released its handles
 * and the memory is gone. */
void mb_ptimer_close(mb_ptimer *t, mb_ptimer_fn closed);
/* "timerfd", "kqueue" or "uv_timer": what this timer runs on. */
const char *mb_ptimer_kind(const mb_ptimer *t);
/* Its resolution in ns (1 for timerfd and kqueue, 1000000 for uv_timer). */
uint64_t mb_ptimer_resolution_ns(const mb_ptimer *t);

#endif

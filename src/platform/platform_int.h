/* platform_int.h: what posix.c (the portable code, always compiled) and the
 * system's file (linux.c or darwin.c; posix.c itself with
 * -DMLXBENCH_PLATFORM=posix) share. Private to src/platform. */
#ifndef MB_PLATFORM_INT_H
#define MB_PLATFORM_INT_H

#include "mlxbench/config.h"
#include "mlxbench/platform.h"

enum { MB_PTIMER_UV, MB_PTIMER_TIMERFD, MB_PTIMER_KQUEUE };

struct mb_ptimer {
    uv_loop_t *loop;
    uv_timer_t timer;            /* the portable wake-up (always initialised) */
    uv_poll_t poll;              /* watches fd when fd >= 0 */
    int fd;                      /* the system's timer (timerfd, kqueue), or -1 */
    int kind;                    /* MB_PTIMER_* */
    int open;                    /* libuv handles whose close callback is due */
    uint64_t armed;              /* deadline armed (0: none) */
    mb_ptimer_fn fired, closed;
    void *ud;
};

/* ---- the system's part: linux.c, darwin.c or posix.c ---------------- */

/* A per-process descriptor ceiling below the hard rlimit (macOS
 * kern.maxfilesperproc), or -1. */
int64_t mb_os_fd_ceiling(void);
/* CPU seconds of the calling thread when the portable clock
 * (CLOCK_THREAD_CPUTIME_ID) is missing or fails; -1 when unknown. */
double mb_os_thread_cpu_s(void);
/* RSS now in bytes, open descriptors: -1 when unknown. */
int64_t mb_os_rss_bytes(void);
int64_t mb_os_fd_count(void);
/* Refines what the portable code filled in (uname, sysconf). */
void mb_os_host_info(mb_plat_host *h);
/* The system's timer: open sets t->fd and t->kind and returns 0, or -1
 * when there is none (the uv_timer serves); arm returns 0 or -1 (then the
 * uv_timer serves this deadline); ack drains the fd's readiness. */
int mb_os_timer_open(mb_ptimer *t);
int mb_os_timer_arm(mb_ptimer *t, uint64_t deadline_ns);
void mb_os_timer_disarm(mb_ptimer *t);
void mb_os_timer_ack(mb_ptimer *t);
/* Kernel receive stamps: enable on a socket (1, or 0 when unsupported),
 * the option's name, and a recv that fills *stamp_ns (realtime ns) when the
 * read carried a stamp (the caller zeroed it). */
int mb_os_rx_stamp_enable(int fd);
const char *mb_os_rx_stamp_kind(void);
ssize_t mb_os_recv(int fd, void *buf, size_t n, int64_t *stamp_ns);

/* Another process, and the one listening on a loopback port (platform.h's
 * mb_plat_proc_sample and mb_plat_listening_pid, which check arguments). */
int mb_os_proc_sample(int64_t pid, mb_plat_proc *out);
int mb_os_listening_pid(int port, int64_t *pid);

/* ---- portable helpers of posix.c the systems' files may use --------- */

/* Open descriptors counted through /dev/fd, else by probing each number
 * below the soft limit (at most 65536); -1 when neither works. */
int64_t mb_posix_fd_count(void);
/* PRETTY_NAME of /etc/os-release (freedesktop.org) into buf; 0 or -1. */
int mb_posix_os_release(char *buf, size_t cap);
/* Reads the first line of a small file into buf (newline stripped); 0 or -1. */
int mb_posix_read_line(const char *path, char *buf, size_t cap);
/* One recvmsg(2) (EINTR retried) whose SOL_SOCKET control message of
 * `type`, if any, is turned into realtime ns by conv (given its data):
 * what mb_os_recv is where the system stamps packets. */
ssize_t mb_posix_recv_stamped(int fd, void *buf, size_t n, int type,
                              int64_t (*conv)(const void *data), int64_t *stamp_ns);

#endif

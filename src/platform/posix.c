/* posix.c: the portable part of the platform layer (platform.h), compiled
 * on every system: signals, descriptor limits, CPU time, peak RSS, host
 * facts from uname/sysconf, sockets, and the timer on top of the system's
 * hooks. At the end, behind MB_PLATFORM_POSIX, the portable versions of
 * those hooks (linux.c and darwin.c have the systems' own). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/net.h"
#include "platform_int.h"

#define MS 1000000ull

const char *mb_plat_name(void)
{
    return MB_PLATFORM_NAME;
}

/* ---- process-wide set-up -------------------------------------------- */

void mb_plat_ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

/* The soft limit goes to the hard one, or to the system's own ceiling when
 * that is lower (macOS refuses more than kern.maxfilesperproc even with an
 * unlimited hard limit); an unlimited hard limit without a ceiling gets
 * 2^20, then 65536 if that is refused. */
int64_t mb_plat_raise_fd_limit(void)
{
    struct rlimit rl;
    int64_t ceiling = mb_os_fd_ceiling();
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max;
    if (ceiling > 0 && (rlim_t)ceiling < want)
        want = (rlim_t)ceiling;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = was < 65536 ? 65536 : was;
            if (rl.rlim_cur > want || setrlimit(RLIMIT_NOFILE, &rl) != 0)
                rl.rlim_cur = was;
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
}

/* net.h: process-wide network set-up, before any engine thread exists. */
int mb_net_global_init(void)
{
    static int done;
    if (done)
        return 0;
    mb_plat_ignore_sigpipe();
    mb_plat_raise_fd_limit();
    /* libcurl is loaded, and globally initialised, when a request first
     * needs it (src/client/curl/curl_dl.c): plain http:// never does. */
    done = 1;
    return 0;
}

/* ---- this process --------------------------------------------------- */

/* The POSIX thread clock (nanoseconds; macOS has it since 10.12), else
 * the system's own way (Mach thread_info on macOS). */
double mb_plat_thread_cpu_s(void)
{
#if MB_HAVE_CLOCK_THREAD_CPUTIME_ID
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
    return mb_os_thread_cpu_s();
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

void mb_plat_process_cpu_s(double *user, double *sys)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        *user = *sys = -1;
        return;
    }
    *user = tv_s(ru.ru_utime);
    *sys = tv_s(ru.ru_stime);
}

int64_t mb_plat_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
#if MB_RU_MAXRSS_BYTES
    return (int64_t)ru.ru_maxrss;
#else
    return (int64_t)ru.ru_maxrss * 1024;
#endif
}

int64_t mb_plat_rss_bytes(void)
{
    return mb_os_rss_bytes();
}

int64_t mb_plat_fd_count(void)
{
    return mb_os_fd_count();
}

int mb_plat_fd_limit(int64_t *soft, int64_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return MB_EIO;
    *soft = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
    *hard = rl.rlim_max == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_max;
    return 0;
}

int64_t mb_posix_fd_count(void)
{
    DIR *d = opendir("/dev/fd");
    int64_t n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        return n - 1;   /* not the one opendir itself held */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    rlim_t top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
    for (rlim_t fd = 0; fd < top; fd++)
        if (fcntl((int)fd, F_GETFD) != -1)
            n++;
    return n;
}

int mb_posix_os_release(char *buf, size_t cap)
{
    char line[512];
    FILE *f = fopen("/etc/os-release", "r");
    int rc = -1;
    if (!f)
        return -1;
    while (rc < 0 && fgets(line, sizeof line, f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) != 0)
            continue;
        char *v = line + 12;
        size_t n = strcspn(v, "\n");
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v++;
            n -= 2;
        }
        if (n > 0) {
            snprintf(buf, cap, "%.*s", (int)n, v);
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

int mb_posix_read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    if (!fgets(buf, (int)cap, f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

ssize_t mb_posix_recv_stamped(int fd, void *buf, size_t n, int type,
                              int64_t (*conv)(const void *data), int64_t *stamp_ns)
{
    union {
        char b[CMSG_SPACE(sizeof(struct timespec)) + 32];   /* timespec >= timeval */
        struct cmsghdr align;
    } ctl;
    struct iovec io = {buf, n};
    struct msghdr m;
    ssize_t r;
    memset(&m, 0, sizeof m);
    m.msg_iov = &io;
    m.msg_iovlen = 1;
    m.msg_control = ctl.b;
    m.msg_controllen = sizeof ctl.b;
    do
        r = recvmsg(fd, &m, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || m.msg_controllen == 0)
        return r;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == type)
            *stamp_ns = conv(CMSG_DATA(h));
    return r;
}

/* ---- another process ------------------------------------------------ */

int mb_plat_proc_sample(int64_t pid, mb_plat_proc *out)
{
    memset(out, 0, sizeof *out);
    out->rss_bytes = -1;
    if (pid <= 0 || pid > INT32_MAX)
        return MB_EINVAL;
    return mb_os_proc_sample(pid, out);
}

int mb_plat_listening_pid(int port, int64_t *pid)
{
    *pid = 0;
    if (port <= 0 || port > 65535)
        return MB_EINVAL;
    return mb_os_listening_pid(port, pid);
}

/* ---- this machine --------------------------------------------------- */

/* The portable facts (uname, sysconf), then what the system adds. */
void mb_plat_host_info(mb_plat_host *h)
{
    struct utsname u;
    long n;
    memset(h, 0, sizeof *h);
    if (uname(&u) == 0) {
        snprintf(h->os, sizeof h->os, "%.31s", u.sysname);
        for (char *p = h->os; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + 32);
        snprintf(h->hostname, sizeof h->hostname, "%s", u.nodename);
        snprintf(h->kernel, sizeof h->kernel, "%.127s", u.release);
    }
    n = sysconf(_SC_NPROCESSORS_ONLN);
    h->cpus = n > 0 ? (int)n : 1;
#if MB_HAVE_SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0)
        h->memory_bytes = (uint64_t)pages * (uint64_t)psz;
#endif
    mb_os_host_info(h);
    if (!h->os_release[0])
        mb_posix_os_release(h->os_release, sizeof h->os_release);
}

/* ---- sockets -------------------------------------------------------- */

int mb_plat_socket(int family, int type, int protocol)
{
#if MB_HAVE_SOCK_CLOEXEC
    return socket(family, type | SOCK_CLOEXEC, protocol);
#else
    int fd = socket(family, type, protocol);
    if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        close(fd);
        return -1;
    }
#if MB_HAVE_SO_NOSIGPIPE
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    return fd;
#endif
}

ssize_t mb_plat_send(int fd, const void *p, size_t n)
{
    ssize_t r;
    do {
#if MB_HAVE_MSG_NOSIGNAL
        r = send(fd, p, n, MSG_NOSIGNAL);
#else
        r = send(fd, p, n, 0);   /* SIGPIPE is ignored (mb_plat_ignore_sigpipe) */
#endif
    } while (r < 0 && errno == EINTR);
    return r;
}

ssize_t mb_plat_sendv(int fd, const struct iovec *iov, int n)
{
    struct msghdr m;
    ssize_t r;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)iov;
    m.msg_iovlen = n;
    do {
#if MB_HAVE_MSG_NOSIGNAL
        r = sendmsg(fd, &m, MSG_NOSIGNAL);
#else
        r = sendmsg(fd, &m, 0);   /* SIGPIPE is ignored (mb_plat_ignore_sigpipe) */
#endif
    } while (r < 0 && errno == EINTR);
    return r;
}

/* ---- kernel receive stamps (the system's hooks do the work) -------- */

int mb_plat_rx_stamp_enable(int fd)
{
    return mb_os_rx_stamp_enable(fd);
}

/* A loopback TCP pair, stamps asked for on *cli. 0 or -1 (nothing open). */
static int loop_pair(int *cli, int *srv)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int l = mb_plat_socket(AF_INET, SOCK_STREAM, 0);
    *cli = *srv = -1;
    if (l < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0
        && getsockname(l, (struct sockaddr *)&a, &al) == 0
        && (*cli = mb_plat_socket(AF_INET, SOCK_STREAM, 0)) >= 0 && mb_os_rx_stamp_enable(*cli)
        && connect(*cli, (struct sockaddr *)&a, sizeof a) == 0)
        *srv = accept(l, NULL, NULL);
    close(l);
    if (*srv < 0) {
        if (*cli >= 0)
            close(*cli);
        return -1;
    }
    return 0;
}

/* One socket with stamps on is kept open (so the kernel's stamping stays
 * on), then a loopback TCP pair sends itself a byte until the read comes
 * back stamped: Linux switches stamping on from a work queue, which a busy
 * machine -- or real-time tasks on every CPU -- can hold back, and TCP
 * gives no stamp for packets that arrived before (datagram sockets would
 * make one up: the test must be TCP). At most PRIME_WAIT_MS, once per
 * process. */
#define PRIME_WAIT_MS 500
void mb_plat_rx_stamp_prime(void)
{
    static _Atomic int primed;
    int no = 0, cli, srv;
    if (primed || !atomic_compare_exchange_strong(&primed, &no, 1))
        return;
    int keep = mb_plat_socket(AF_INET, SOCK_DGRAM, 0);
    if (keep < 0)
        return;
    if (!mb_os_rx_stamp_enable(keep)) {
        close(keep);
        return;
    }
    if (loop_pair(&cli, &srv) < 0)
        return;
    for (int ms = 0; ms < PRIME_WAIT_MS; ms++) {
        char b;
        int64_t stamp = 0;
        if (mb_plat_send(srv, "x", 1) != 1 || mb_os_recv(cli, &b, 1, &stamp) != 1 || stamp)
            break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    close(cli);
    close(srv);
}

const char *mb_plat_rx_stamp_kind(void)
{
    return mb_os_rx_stamp_kind();
}

ssize_t mb_plat_recv(int fd, void *buf, size_t n, int64_t *stamp_ns)
{
    *stamp_ns = 0;
    return mb_os_recv(fd, buf, n, stamp_ns);
}

/* ---- the timer ------------------------------------------------------ */

static void ptimer_closed(uv_handle_t *hd)
{
    mb_ptimer *t = hd->data;
    if (--t->open > 0)
        return;
    if (t->fd >= 0)
        close(t->fd);
    mb_ptimer_fn closed = t->closed;
    void *ud = t->ud;
    free(t);
    if (closed)
        closed(ud);
}

static void ptimer_fire(mb_ptimer *t)
{
    t->armed = 0;
    t->fired(t->ud);
}

static void on_uv_timer(uv_timer_t *h)
{
    ptimer_fire(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    mb_ptimer *t = p->data;
    (void)status;
    (void)events;
    mb_os_timer_ack(t);
    if (t->armed)   /* a disarm may have raced the wake-up */
        ptimer_fire(t);
}

/* The system's timer when it has one, watched by one poll started once
 * (re-arming then costs no epoll_ctl); the uv_timer otherwise. */
int mb_ptimer_new(mb_ptimer **out, uv_loop_t *loop, mb_ptimer_fn fired, void *ud)
{
    mb_ptimer *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        return MB_ENOMEM;
    t->loop = loop;
    t->fired = fired;
    t->ud = ud;
    t->fd = -1;
    t->kind = MB_PTIMER_UV;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->open = 1;
    if (mb_os_timer_open(t) == 0) {
        if (uv_poll_init(loop, &t->poll, t->fd) == 0) {
            t->poll.data = t;
            t->open++;
            uv_poll_start(&t->poll, UV_READABLE, on_poll);
        } else {
            close(t->fd);
            t->fd = -1;
            t->kind = MB_PTIMER_UV;
        }
    }
    *out = t;
    return 0;
}

void mb_ptimer_arm(mb_ptimer *t, uint64_t deadline_ns)
{
    if (deadline_ns == 0)
        deadline_ns = 1;
    t->armed = deadline_ns;
    if (t->fd >= 0 && mb_os_timer_arm(t, deadline_ns) == 0)
        return;
    uint64_t now = mb_clock_now_ns();
    uint64_t ms = deadline_ns > now ? (deadline_ns - now + MS - 1) / MS : 0;
    uv_update_time(t->loop);
    uv_timer_start(&t->timer, on_uv_timer, ms, 0);
}

void mb_ptimer_disarm(mb_ptimer *t)
{
    if (!t->armed)
        return;
    t->armed = 0;
    if (t->fd >= 0)
        mb_os_timer_disarm(t);
    uv_timer_stop(&t->timer);
}

void mb_ptimer_close(mb_ptimer *t, mb_ptimer_fn closed)
{
    t->closed = closed;
    t->armed = 0;
    uv_timer_stop(&t->timer);
    uv_close((uv_handle_t *)&t->timer, ptimer_closed);
    if (t->fd >= 0) {
        uv_poll_stop(&t->poll);
        uv_close((uv_handle_t *)&t->poll, ptimer_closed);
    }
}

const char *mb_ptimer_kind(const mb_ptimer *t)
{
    return t->kind == MB_PTIMER_TIMERFD ? "timerfd" : t->kind == MB_PTIMER_KQUEUE ? "kqueue"
                                                                                 : "uv_timer";
}

uint64_t mb_ptimer_resolution_ns(const mb_ptimer *t)
{
    return t->kind == MB_PTIMER_UV ? MS : 1;
}

/* ---- the portable system part (-DMLXBENCH_PLATFORM=posix, other systems) */

#if MB_PLATFORM_POSIX
int64_t mb_os_fd_ceiling(void) { return -1; }
double mb_os_thread_cpu_s(void) { return -1; }
int64_t mb_os_rss_bytes(void) { return -1; }   /* POSIX has no call for it */
int64_t mb_os_fd_count(void) { return mb_posix_fd_count(); }
void mb_os_host_info(mb_plat_host *h) { (void)h; }
int mb_os_timer_open(mb_ptimer *t) { (void)t; return -1; }
int mb_os_timer_arm(mb_ptimer *t, uint64_t deadline_ns) { (void)t; (void)deadline_ns; return -1; }
void mb_os_timer_disarm(mb_ptimer *t) { (void)t; }
void mb_os_timer_ack(mb_ptimer *t) { (void)t; }
/* no portable way to read another process's figures or a port's owner */
int mb_os_proc_sample(int64_t pid, mb_plat_proc *out) { (void)pid; (void)out; return MB_ENOTSUP; }
int mb_os_listening_pid(int port, int64_t *pid) { (void)port; (void)pid; return MB_ENOTSUP; }
/* no receive stamps in POSIX: every read is stamped in user space */
int mb_os_rx_stamp_enable(int fd) { (void)fd; return 0; }
const char *mb_os_rx_stamp_kind(void) { return "none"; }
ssize_t mb_os_recv(int fd, void *buf, size_t n, int64_t *stamp_ns)
{
    ssize_t r;
    (void)stamp_ns;
    do
        r = recv(fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    return r;
}
#endif

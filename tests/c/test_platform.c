/* test_platform.c: the platform layer (src/platform) against what the
 * process itself does: descriptors it opens are counted, memory it touches
 * shows in the RSS, CPU it burns shows in the thread's CPU time, the limit
 * it raises is the hard one, the timer wakes at its deadline with the
 * resolution its kind promises, and a loopback TCP read carries the
 * kernel's receive stamp of its last packet, between the send and the
 * read. Runs on every platform build (linux, darwin, posix); what the
 * portable build cannot tell must say so (-1, no stamp). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "mb_test.h"
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"

static void test_fds(void)
{
    int64_t before = mb_plat_fd_count();
    CHECK_MSG(before >= 3, "fd_count %lld", (long long)before);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = open("/dev/null", O_RDONLY);
    CHECK_EQ_INT(mb_plat_fd_count(), before + 5);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    CHECK_EQ_INT(mb_plat_fd_count(), before);
}

static void test_limits(void)
{
    int64_t soft, hard;
    struct rlimit rl;
    CHECK_EQ_INT(mb_plat_fd_limit(&soft, &hard), 0);
    CHECK(soft == -1 || soft > 0);
    /* lower the soft limit, then raise it back as far as allowed */
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t keep = rl.rlim_cur;
    rl.rlim_cur = 256;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    int64_t now = mb_plat_raise_fd_limit();
    CHECK_EQ_INT(mb_plat_fd_limit(&soft, &hard), 0);
    CHECK_EQ_INT(now, soft);
    CHECK_MSG(soft > 256, "soft limit %lld after raise", (long long)soft);
    if (hard > 0 && hard <= (1 << 20) && strcmp(mb_plat_name(), "darwin") != 0)
        CHECK_EQ_INT(soft, hard);   /* macOS may stop at kern.maxfilesperproc */
    rl.rlim_cur = keep;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void test_memory(void)
{
    int64_t rss = mb_plat_rss_bytes();
    int portable = strcmp(mb_plat_name(), "posix") == 0;
    if (portable) {
        CHECK_EQ_INT(rss, -1);   /* POSIX has no call for it: said, not guessed */
    } else {
        CHECK_MSG(rss > 1 << 20, "rss %lld", (long long)rss);
        /* touch 64 MiB: the RSS grows by about that much */
        size_t n = (size_t)64 << 20;
        char *p = malloc(n);
        memset(p, 1, n);
        int64_t after = mb_plat_rss_bytes();
        CHECK_MSG(after - rss > (int64_t)(60u << 20) && after - rss < (int64_t)(80u << 20),
                  "rss grew by %lld bytes", (long long)(after - rss));
        free(p);
    }
    /* the peak is in bytes on every system (ru_maxrss is KiB on Linux) */
    int64_t peak = mb_plat_peak_rss_bytes();
    CHECK_MSG(peak > 1 << 20 && peak < (int64_t)1 << 40, "peak %lld", (long long)peak);
    if (!portable)
        CHECK(peak >= (int64_t)(64u << 20));
}

/* Burns CPU until the thread's clock says 30 ms more (a shared machine may
 * give it less than the wall time): the clock must get there, never ahead
 * of the wall clock, and the process's CPU time must include it. */
static void test_cpu(void)
{
    double u0, s0, u1, s1;
    mb_plat_process_cpu_s(&u0, &s0);
    double t0 = mb_plat_thread_cpu_s(), t1 = t0;
    uint64_t w0 = mb_clock_now_ns();
    volatile uint64_t x = 0;
    while (t1 - t0 < 0.03 && mb_clock_now_ns() - w0 < 10000000000u) {
        for (int i = 0; i < 100000; i++)
            x += (uint64_t)i * 7;
        t1 = mb_plat_thread_cpu_s();
    }
    (void)x;
    double wall = (double)(mb_clock_now_ns() - w0) * 1e-9;
    mb_plat_process_cpu_s(&u1, &s1);
    CHECK_MSG(t0 >= 0 && t1 - t0 >= 0.03 && t1 - t0 <= wall + 0.002,
              "thread cpu %.4f -> %.4f in %.4f s of wall time", t0, t1, wall);
    CHECK_MSG((u1 + s1) - (u0 + s0) >= (t1 - t0) - 0.011, "process cpu +%.4f, thread +%.4f",
              (u1 + s1) - (u0 + s0), t1 - t0);
}

static void test_host(void)
{
    mb_plat_host h;
    mb_plat_host_info(&h);
    CHECK(h.os[0] && h.kernel[0]);
    CHECK(h.cpus >= 1 && h.cpus <= 4096);
    CHECK(h.memory_bytes == 0 || h.memory_bytes > (64u << 20));
    for (const char *p = h.os; *p; p++)
        CHECK(!(*p >= 'A' && *p <= 'Z'));
    if (strcmp(mb_plat_name(), "linux") == 0) {
        CHECK_STR(h.os, "linux");
        CHECK(h.memory_bytes > 0);
    }
    if (access("/etc/os-release", R_OK) == 0)   /* Linux and others: its PRETTY_NAME */
        CHECK_MSG(h.os_release[0] && !strchr(h.os_release, '"'), "os_release '%s'", h.os_release);
    if (strcmp(mb_plat_name(), "darwin") == 0) {
        CHECK_STR(h.os, "darwin");
        CHECK_MSG(strncmp(h.os_release, "macOS ", 6) == 0, "os_release '%s'", h.os_release);
        CHECK(h.memory_bytes > 0 && h.machine[0] && h.cpu_model[0]);
        if (h.unified_memory) {   /* Apple silicon: the chip and its two kinds of cores */
            CHECK_MSG(strncmp(h.chip, "Apple M", 7) == 0, "chip '%s'", h.chip);
            CHECK(h.perf_cores > 0 && h.efficiency_cores >= 0);
            CHECK(h.perf_cores + h.efficiency_cores <= h.cpus);
        }
    } else {
        CHECK_STR(h.chip, "");   /* Apple silicon only */
        CHECK_EQ_INT(h.unified_memory, 0);
    }
}

typedef struct tstate {
    uint64_t due, fired_at;
    int fired, closed;
    mb_ptimer *t;
} tstate;

static void fired(void *ud)
{
    tstate *s = ud;
    s->fired++;
    s->fired_at = mb_clock_now_ns();
}

static void closed(void *ud)
{
    ((tstate *)ud)->closed = 1;
}

static void test_timer(void)
{
    uv_loop_t loop;
    tstate s = {0};
    uv_loop_init(&loop);
    CHECK_EQ_INT(mb_ptimer_new(&s.t, &loop, fired, &s), 0);
    const char *kind = mb_ptimer_kind(s.t);
    if (strcmp(mb_plat_name(), "linux") == 0)
        CHECK_STR(kind, "timerfd");
    else if (strcmp(mb_plat_name(), "darwin") == 0)
        CHECK_STR(kind, "kqueue");
    else
        CHECK_STR(kind, "uv_timer");
    uint64_t res = mb_ptimer_resolution_ns(s.t);
    CHECK(res == (strcmp(kind, "uv_timer") == 0 ? 1000000u : 1u));
    /* a disarmed deadline never fires */
    mb_ptimer_arm(s.t, mb_clock_now_ns() + 1000000);
    mb_ptimer_disarm(s.t);
    /* deadlines 2.5 ms apart: each fires once and never early; the median
     * lateness is what the resolution allows (0.5 ms for a nanosecond
     * timer, 2.5 ms for uv_timer's milliseconds). A shared machine can
     * delay any wake-up: three attempts of nine deadlines each. */
    double allowed = res == 1 ? 0.5 : 2.5, median = 1e9;   /* ms */
    for (int attempt = 0; attempt < 3 && median >= allowed; attempt++) {
        double late[9];
        for (int i = 0; i < 9; i++) {
            s.due = mb_clock_now_ns() + 2500000u;
            int before = s.fired;
            mb_ptimer_arm(s.t, s.due);
            while (s.fired == before)
                uv_run(&loop, UV_RUN_ONCE);
            CHECK_EQ_INT(s.fired, before + 1);
            CHECK(s.fired_at >= s.due);
            late[i] = (double)(s.fired_at - s.due) * 1e-6;
        }
        for (int i = 1; i < 9; i++)   /* insertion sort: the median of nine */
            for (int j = i; j > 0 && late[j] < late[j - 1]; j--) {
                double t = late[j];
                late[j] = late[j - 1];
                late[j - 1] = t;
            }
        median = late[4];
    }
    CHECK_MSG(median < allowed, "%s: median lateness %.3f ms", kind, median);
    mb_ptimer_close(s.t, closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(s.closed);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* The server under test, played by a child: it listens on a loopback
 * port, holds 64 MiB it has touched and runs 3 extra threads; when the
 * parent asks (a byte on a pipe) one of them burns 250 ms of its own CPU
 * time and says so. The parent finds it by its port and samples it before
 * and after: the CPU seconds it reads must hold those 250 ms, however busy
 * the machine is (a loaded machine only stretches the wall time). */
static int go_pipe[2], done_pipe[2];
static volatile unsigned long spin_sink;   /* what the spinning adds up (not optimised away) */

static void *spin(void *arg)
{
    char c;
    (void)arg;
    if (read(go_pipe[0], &c, 1) != 1)
        return NULL;
    double t0 = mb_plat_thread_cpu_s();
    while (mb_plat_thread_cpu_s() - t0 < 0.25)
        for (int i = 0; i < 100000; i++)
            spin_sink += (unsigned long)i;
    if (write(done_pipe[1], &c, 1) != 1)
        return NULL;
    for (;;)
        pause();
    return NULL;
}

static void *idle(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void test_other_process(void)
{
    int pp[2];
    CHECK(pipe(pp) == 0 && pipe(go_pipe) == 0 && pipe(done_pipe) == 0);
    pid_t child = fork();
    if (child == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        socklen_t al = sizeof a;
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8) ||
            getsockname(fd, (struct sockaddr *)&a, &al))
            _exit(3);
        size_t big = 64u << 20;
        volatile char *m = malloc(big);
        if (!m)
            _exit(3);
        for (size_t i = 0; i < big; i += 1024)   /* every page touched */
            m[i] = 1;
        pthread_t t;
        pthread_create(&t, NULL, idle, NULL);
        pthread_create(&t, NULL, idle, NULL);
        pthread_create(&t, NULL, spin, (void *)1);
        int port = ntohs(a.sin_port);
        if (write(pp[1], &port, sizeof port) != sizeof port)
            _exit(3);
        for (;;)
            pause();
    }
    close(pp[1]);
    int port = 0;
    CHECK(read(pp[0], &port, sizeof port) == sizeof port);
    close(pp[0]);
    int64_t pid = 0;
    mb_plat_proc a, b;
    int rc = mb_plat_listening_pid(port, &pid);
    if (strcmp(mb_plat_name(), "posix") == 0) {
        CHECK_EQ_INT(rc, MB_ENOTSUP);   /* the portable layer cannot tell */
        CHECK_EQ_INT(mb_plat_proc_sample(child, &a), MB_ENOTSUP);
    } else {
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(pid, child);
        CHECK_EQ_INT(mb_plat_proc_sample(child, &a), 0);
        char c = 'g';
        CHECK(write(go_pipe[1], &c, 1) == 1 && read(done_pipe[0], &c, 1) == 1);
        CHECK_EQ_INT(mb_plat_proc_sample(child, &b), 0);
        /* 250 ms burnt, read at the system's tick (10 ms on Linux); the
         * child's other threads sleep */
        CHECK_MSG(b.cpu_s - a.cpu_s >= 0.23 && b.cpu_s - a.cpu_s <= 0.32, "child CPU %.3f s for 0.25 s burnt",
                  b.cpu_s - a.cpu_s);
        CHECK_MSG(b.rss_bytes >= (int64_t)(64u << 20) && b.rss_bytes < (int64_t)(256u << 20),
                  "child RSS %lld", (long long)b.rss_bytes);
        CHECK_EQ_INT(b.threads, 4);
        CHECK_STR(b.name, "test_platform");
        /* a port nothing listens on; a bad port */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in s = {0};
        socklen_t sl = sizeof s;
        s.sin_family = AF_INET;
        s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(fd, (struct sockaddr *)&s, sizeof s) == 0 &&
              getsockname(fd, (struct sockaddr *)&s, &sl) == 0);
        int r = mb_plat_listening_pid(ntohs(s.sin_port), &pid);   /* bound, not listening */
        CHECK_MSG(r == MB_EINVAL || r == MB_EIO, "rc %d", r);
        close(fd);
    }
    CHECK_EQ_INT(mb_plat_listening_pid(0, &pid), MB_EINVAL);
    CHECK_EQ_INT(mb_plat_proc_sample(-1, &a), MB_EINVAL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    if (strcmp(mb_plat_name(), "posix") != 0)
        CHECK_EQ_INT(mb_plat_proc_sample(child, &a), MB_EINVAL);   /* gone */
}

/* A connected loopback TCP pair: *cli (stamps asked for when `stamp`) and *srv. */
static void tcp_pair(int *cli, int *srv, int stamp, int *enabled)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int l = mb_plat_socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0);
    CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
    *cli = mb_plat_socket(AF_INET, SOCK_STREAM, 0);
    *enabled = stamp ? mb_plat_rx_stamp_enable(*cli) : 0;
    CHECK(connect(*cli, (struct sockaddr *)&a, sizeof a) == 0);
    *srv = accept(l, NULL, NULL);
    CHECK(*srv >= 0);
    close(l);
}

static uint64_t sleep_ms(int ms)
{
    uint64_t until = mb_clock_now_ns() + (uint64_t)ms * 1000000u;
    while (mb_clock_now_ns() < until)
        usleep(200);
    return mb_clock_now_ns();
}

/* Kernel receive stamps: present on Linux (and, where the system attaches
 * them to TCP reads, macOS), absent in the portable build; on the monotonic
 * clock they fall within the send call of the packet they stamp, never
 * after the read; a read of two packets sent 3 ms apart carries the second
 * one's; a socket that did not ask gets none. */
static void test_rx_stamps(void)
{
    int cli, srv, on;
    int64_t real;
    char buf[64];
    mb_clock_sync cs;
    const char *kind = mb_plat_rx_stamp_kind();
    int linux_ = strcmp(mb_plat_name(), "linux") == 0, posix = strcmp(mb_plat_name(), "posix") == 0;
    if (linux_)
        CHECK_STR(kind, "SO_TIMESTAMPNS");
    else if (posix)
        CHECK_STR(kind, "none");
    else
        CHECK_STR(kind, "SO_TIMESTAMP");
    mb_clock_sync_init(&cs);
    /* Linux switches stamping on from a work queue: prime waits for it */
    uint64_t p0 = mb_clock_now_ns();
    mb_plat_rx_stamp_prime();
    CHECK_MSG(mb_clock_now_ns() - p0 < 600000000u, "prime took %.1f ms",
              (double)(mb_clock_now_ns() - p0) * 1e-6);
    tcp_pair(&cli, &srv, 1, &on);
    CHECK_EQ_INT(on, !posix);
    for (int round = 0; round < 3; round++) {
        uint64_t s0 = mb_clock_now_ns();
        CHECK_EQ_INT(mb_plat_send(srv, "hello", 5), 5);
        uint64_t s1 = mb_clock_now_ns();
        sleep_ms(2);
        ssize_t n = mb_plat_recv(cli, buf, sizeof buf, &real);
        uint64_t user = mb_clock_now_ns();
        CHECK_EQ_INT(n, 5);
        if (posix || (!linux_ && !real)) {
            CHECK_EQ_INT(real, 0);
            continue;
        }
        uint64_t k = mb_clock_sync_stamp(&cs, real, user);
        /* macOS stamps in microseconds: a microsecond of slack either side */
        uint64_t tol = linux_ ? 2000 : 2000 + 1000;
        CHECK_MSG(k + tol >= s0 && k <= s1 + tol && k < user,
                  "send [%llu, %llu] kernel %llu user %llu", (unsigned long long)s0,
                  (unsigned long long)s1, (unsigned long long)k, (unsigned long long)user);
        CHECK_MSG(user - k >= 2000000u, "read lag %llu ns after a 2 ms sleep",
                  (unsigned long long)(user - k));
    }
    if (linux_) {
        /* two packets, one read: the stamp is the last packet's */
        CHECK_EQ_INT(mb_plat_send(srv, "a", 1), 1);
        sleep_ms(3);
        uint64_t s0 = mb_clock_now_ns();
        CHECK_EQ_INT(mb_plat_send(srv, "b", 1), 1);
        uint64_t s1 = mb_clock_now_ns();
        sleep_ms(1);
        ssize_t n = mb_plat_recv(cli, buf, sizeof buf, &real);
        uint64_t k = mb_clock_sync_stamp(&cs, real, mb_clock_now_ns());
        CHECK_EQ_INT(n, 2);
        CHECK_MSG(k + 2000 >= s0 && k <= s1 + 2000, "two packets: stamp %lld ns from the second send",
                  (long long)(k - s0));
    }
    /* a would-block read: -1 EAGAIN, no stamp */
    fcntl(cli, F_SETFL, fcntl(cli, F_GETFL) | O_NONBLOCK);
    real = 7;
    CHECK_EQ_INT(mb_plat_recv(cli, buf, sizeof buf, &real), -1);
    CHECK(errno == EAGAIN || errno == EWOULDBLOCK);
    CHECK_EQ_INT(real, 0);
    /* EOF: 0 */
    close(srv);
    CHECK_EQ_INT(mb_plat_recv(cli, buf, sizeof buf, &real), 0);
    close(cli);
    /* a socket that did not ask gets no stamp */
    tcp_pair(&cli, &srv, 0, &on);
    CHECK_EQ_INT(mb_plat_send(srv, "x", 1), 1);
    sleep_ms(1);
    CHECK_EQ_INT(mb_plat_recv(cli, buf, sizeof buf, &real), 1);
    CHECK_EQ_INT(real, 0);
    close(srv);
    close(cli);
}

/* sendv: both pieces, in order, as one stream */
static void test_sendv(void)
{
    int cli, srv, on;
    char buf[16] = {0};
    int64_t real;
    struct iovec v[2] = {{"abc", 3}, {"defg", 4}};
    tcp_pair(&cli, &srv, 0, &on);
    CHECK_EQ_INT(mb_plat_sendv(cli, v, 2), 7);
    sleep_ms(1);
    CHECK_EQ_INT(mb_plat_recv(srv, buf, sizeof buf, &real), 7);
    CHECK_STR(buf, "abcdefg");
    close(srv);
    close(cli);
}

int main(void)
{
    fprintf(stderr, "platform layer: %s\n", mb_plat_name());
    test_fds();
    test_limits();
    test_memory();
    test_cpu();
    test_host();
    test_timer();
    test_other_process();
    test_rx_stamps();
    test_sendv();
    TEST_MAIN_END();
}

/* test_platform.c: the platform layer (src/platform) against what the
 * process itself does: descriptors it opens are counted, memory it touches
 * shows in the RSS, CPU it burns shows in the thread's CPU time, the limit
 * it raises is the hard one, and the timer wakes at its deadline with the
 * resolution its kind promises. Runs on every platform build (linux,
 * darwin, posix); what the portable build cannot tell must say so (-1). */
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include "mb_test.h"
#include "mlxbench/clock.h"
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

int main(void)
{
    fprintf(stderr, "platform layer: %s\n", mb_plat_name());
    test_fds();
    test_limits();
    test_memory();
    test_cpu();
    test_host();
    test_timer();
    TEST_MAIN_END();
}

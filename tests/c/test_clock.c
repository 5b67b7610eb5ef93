/* test_clock.c: the realtime -> monotonic conversion of kernel receive
 * stamps (core/clock.c): the calibrated offset matches the clocks, a stamp
 * converts to within the calibration's width, a stamp later than the read
 * is checked again and refused, one within the width is clamped, a stale
 * offset is rechecked after 100 ms, and a moved offset is recorded as
 * drift (a step over 1 ms). */
#include <time.h>
#include "mb_test.h"
#include "mlxbench/clock.h"

static int64_t now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void)
{
    mb_clock_sync s;
    mb_clock_sync_init(&s);
    CHECK_EQ_INT(s.checks, 1);
    CHECK_EQ_INT(s.drift_max_ns, 0);
    CHECK_MSG(s.width_ns < 1000000, "narrowest bracket %llu ns", (unsigned long long)s.width_ns);
    /* the offset is what the two clocks say now (to a bracket's width, or
     * 1 ms on a preempted machine) */
    uint64_t m = mb_clock_now_ns();
    int64_t r = now_real();
    int64_t off = r - (int64_t)m;
    CHECK_MSG(llabs(off - s.off_ns) < 1000000, "offset %lld vs %lld", (long long)s.off_ns, (long long)off);

    /* a stamp 5 ms before the read converts to 5 ms before it */
    uint64_t user = mb_clock_now_ns();
    int64_t real = (int64_t)user + s.off_ns - 5000000;
    uint64_t k = mb_clock_sync_stamp(&s, real, user);
    CHECK_EQ_INT(k, user - 5000000);
    /* within the calibration's uncertainty after the read: clamped */
    real = (int64_t)user + s.off_ns + (int64_t)s.width_ns;
    CHECK_EQ_INT(mb_clock_sync_stamp(&s, real, user), user);
    CHECK_EQ_INT(s.refused, 0);
    /* 50 ms after the read cannot be: checked again, still later, refused */
    uint32_t checks = s.checks;
    real = (int64_t)user + s.off_ns + 50000000;
    CHECK_EQ_INT(mb_clock_sync_stamp(&s, real, user), 0);
    CHECK_EQ_INT(s.refused, 1);
    CHECK_EQ_INT(s.checks, checks + 1);
    /* no stamp before the epoch of the monotonic clock */
    CHECK_EQ_INT(mb_clock_sync_stamp(&s, s.off_ns - 10, mb_clock_now_ns()), 0);

    /* a stale offset (the wall clock was set 5 ms ahead since) is found at
     * the next check: 100 ms after the last one */
    s.off_ns -= 5000000;
    s.checked_ns -= MB_CLOCK_SYNC_EVERY_NS + 1;
    checks = s.checks;
    user = mb_clock_now_ns();
    real = (int64_t)user + s.off_ns + 5000000 - 1000000;   /* truly 1 ms before the read */
    k = mb_clock_sync_stamp(&s, real, user);
    CHECK_EQ_INT(s.checks, checks + 1);
    CHECK_MSG(llabs((long long)(user - 1000000) - (long long)k) < 100000, "after the step: %lld ns off",
              (long long)(user - 1000000) - (long long)k);
    CHECK_MSG(s.drift_max_ns >= 4900000 && s.drift_max_ns <= 5100000, "drift %llu",
              (unsigned long long)s.drift_max_ns);
    CHECK_EQ_INT(s.steps, 1);
    /* a check without a change adds no step */
    mb_clock_sync_check(&s);
    CHECK_EQ_INT(s.steps, 1);
    TEST_MAIN_END();
}

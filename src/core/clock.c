/* clock.c: the engine's time sources, and the realtime -> monotonic
 * conversion of the kernel's receive stamps. */
#include <time.h>
#include "mlxbench/clock.h"

/* CLOCK_MONOTONIC, not _RAW: it is what libuv and curl use too, so stamps taken
 * here, in uv timers and in curl callbacks are on one scale. */
uint64_t mb_clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double mb_clock_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000 + (int64_t)ts->tv_nsec;
}

#define BRACKETS 7

/* The offset realtime - monotonic from the narrowest of BRACKETS
 * monotonic / realtime / monotonic reads (a preempted bracket is wide and
 * loses); *width gets that bracket's width, *at its end. */
static int64_t calibrate(uint64_t *width, uint64_t *at)
{
    int64_t best = 0;
    uint64_t bw = UINT64_MAX;
    for (int i = 0; i < BRACKETS; i++) {
        struct timespec m0, r, m1;
        clock_gettime(CLOCK_MONOTONIC, &m0);
        clock_gettime(CLOCK_REALTIME, &r);
        clock_gettime(CLOCK_MONOTONIC, &m1);
        int64_t a = ts_ns(&m0), b = ts_ns(&m1);
        uint64_t w = (uint64_t)(b - a);
        if (w < bw) {
            bw = w;
            best = ts_ns(&r) - (a + (b - a) / 2);
            *at = (uint64_t)b;
        }
    }
    *width = bw;
    return best;
}

void mb_clock_sync_init(mb_clock_sync *s)
{
    *s = (mb_clock_sync){0};
    s->off_ns = calibrate(&s->width_ns, &s->checked_ns);
    s->checks = 1;
}

void mb_clock_sync_check(mb_clock_sync *s)
{
    int64_t off = calibrate(&s->width_ns, &s->checked_ns);
    int64_t d = off - s->off_ns;
    uint64_t ad = (uint64_t)(d < 0 ? -d : d);
    if (ad > s->drift_max_ns)
        s->drift_max_ns = ad;
    if (ad > (uint64_t)MB_CLOCK_STEP_NS)
        s->steps++;
    s->off_ns = off;
    s->checks++;
}

uint64_t mb_clock_sync_stamp(mb_clock_sync *s, int64_t real_ns, uint64_t user)
{
    if (user > s->checked_ns && user - s->checked_ns > MB_CLOCK_SYNC_EVERY_NS)
        mb_clock_sync_check(s);
    int64_t k = real_ns - s->off_ns;
    int64_t slack = (int64_t)s->width_ns + 1000;   /* the bracket, and 1 us of rounding */
    if (k > (int64_t)user + slack) {
        mb_clock_sync_check(s);   /* the wall clock moved: look again */
        k = real_ns - s->off_ns;
        if (k > (int64_t)user + (int64_t)s->width_ns + 1000) {
            s->refused++;
            return 0;
        }
    }
    if (k <= 0)
        return 0;
    return (uint64_t)k > user ? user : (uint64_t)k;
}

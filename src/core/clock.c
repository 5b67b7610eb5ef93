/* clock.c: the engine's time sources. */
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

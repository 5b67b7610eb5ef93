/* clock: monotonic nanoseconds and wall time. Pure C, no I/O. */
#ifndef MLXBENCH_CLOCK_H
#define MLXBENCH_CLOCK_H

#include <stdint.h>

/* Monotonic time in ns (CLOCK_MONOTONIC): the one clock every measurement uses. */
uint64_t mb_clock_now_ns(void);

/* Wall-clock time as Unix seconds with sub-second fraction (CLOCK_REALTIME). */
double mb_clock_wall(void);

/* Seconds between two monotonic stamps, as the float the Lua side sees. */
static inline double mb_clock_secs(uint64_t from_ns, uint64_t to_ns)
{
    return to_ns >= from_ns ? (double)(to_ns - from_ns) * 1e-9
                            : -(double)(from_ns - to_ns) * 1e-9;
}

#endif

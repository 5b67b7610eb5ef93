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

/* ---- kernel stamps on the monotonic clock ---------------------------
 *
 * The kernel stamps received packets with CLOCK_REALTIME (SO_TIMESTAMPNS,
 * SO_TIMESTAMP); every measurement is on CLOCK_MONOTONIC. The offset
 * between the two (realtime - monotonic) is calibrated once and checked
 * again every MB_CLOCK_SYNC_EVERY_NS of use: each calibration takes the
 * narrowest of several monotonic/realtime/monotonic brackets, so the offset
 * is known to within half that width (tens of ns). A change between two
 * checks is drift (NTP slewing one clock, not the other) or a step (the
 * wall clock was set): the largest is kept for the run's report, and a
 * change over MB_CLOCK_STEP_NS counts as a step. */
#define MB_CLOCK_SYNC_EVERY_NS 100000000ull   /* recheck the offset every 100 ms */
#define MB_CLOCK_STEP_NS 1000000ll            /* an offset change over 1 ms is a step */

typedef struct mb_clock_sync {
    int64_t off_ns;          /* CLOCK_REALTIME - CLOCK_MONOTONIC at the last check */
    uint64_t checked_ns;     /* monotonic time of that check */
    uint64_t width_ns;       /* its narrowest bracket: the offset is known to +- width/2 */
    uint64_t drift_max_ns;   /* largest |offset change| between two checks */
    uint32_t checks;         /* calibrations made */
    uint32_t steps;          /* changes over MB_CLOCK_STEP_NS */
    uint32_t refused;        /* kernel stamps later than the read itself: not used */
} mb_clock_sync;

/* Calibrates the offset now; the drift figures start at zero. */
void mb_clock_sync_init(mb_clock_sync *s);
/* Calibrates again, recording how far the offset moved since the last check. */
void mb_clock_sync_check(mb_clock_sync *s);
/* A kernel receive stamp (realtime ns since the epoch) on the monotonic
 * clock, given `user`, the monotonic stamp taken right after the read that
 * carried it. Rechecks the offset when its last check is older than
 * MB_CLOCK_SYNC_EVERY_NS. A stamp can only be earlier than the read: one
 * that lands later by more than the calibration's uncertainty (the wall
 * clock was set since) is checked again at once, and if it still lands
 * later it is refused (returns 0: use `user`). Within the uncertainty it is
 * clamped to `user`. */
uint64_t mb_clock_sync_stamp(mb_clock_sync *s, int64_t real_ns, uint64_t user);

#endif

/* shim: <mach/mach_time.h> of macOS, only what src/platform/darwin.c uses */
#ifndef MB_SHIM_MACH_MACH_TIME_H
#define MB_SHIM_MACH_MACH_TIME_H
#include <stdint.h>
#include "mach.h"
struct mach_timebase_info {
    uint32_t numer;
    uint32_t denom;
};
typedef struct mach_timebase_info *mach_timebase_info_t;
typedef struct mach_timebase_info mach_timebase_info_data_t;
kern_return_t mach_timebase_info(mach_timebase_info_t info);
#endif

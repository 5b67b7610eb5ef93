/* arrival: open-loop send schedules, precomputed from a seed.
 *
 * The whole schedule exists before the first request is sent, so sending
 * never drifts with the event loop's load and a seed reproduces it exactly
 * (and splits deterministically across shards). Pure C. */
#ifndef MLXBENCH_ARRIVAL_H
#define MLXBENCH_ARRIVAL_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MB_ARRIVAL_CONSTANT, MB_ARRIVAL_POISSON, MB_ARRIVAL_GAMMA } mb_arrival_kind;

typedef struct mb_arrival_opts {
    mb_arrival_kind kind;
    double rate;          /* mean requests per second, > 0 */
    double burstiness;    /* gamma shape k: 1 = Poisson, < 1 burstier, > 1 smoother */
    uint64_t seed;
    size_t count;         /* schedule length; 0 = bounded by duration */
    double duration;      /* seconds; 0 = bounded by count */
    double start;         /* offset of the first possible arrival (s) */
} mb_arrival_opts;

/* Fills *times (malloc'd, ascending seconds from 0) and *n. Constant
 * arrivals are exactly i/rate; Poisson inter-arrivals are exponential with
 * mean 1/rate; gamma ones have shape k and mean 1/rate (CV = 1/sqrt(k)).
 * Returns 0, MB_EINVAL (bad rate/shape, neither count nor duration, or over
 * 100M arrivals) or MB_ENOMEM. */
int mb_arrival_schedule(const mb_arrival_opts *o, double **times, size_t *n);

/* Keeps the arrivals of shard i of n (0-based): every n-th starting at i,
 * so n shards together send exactly the single-process schedule. Compacts
 * in place and returns the new length. */
size_t mb_arrival_shard(double *times, size_t n, unsigned shard, unsigned nshards);

#endif

/* arrival.c: open-loop schedules (constant, Poisson, gamma). */
#include <stdlib.h>
#include "mlxbench/arrival.h"
#include "mlxbench/buf.h"
#include "mlxbench/errors.h"
#include "mlxbench/rng.h"

#define MAX_ARRIVALS 100000000u

/* One inter-arrival gap of the requested process. */
static double gap(const mb_arrival_opts *o, mb_rng *r)
{
    switch (o->kind) {
    case MB_ARRIVAL_POISSON:
        return mb_rng_exp(r, 1.0 / o->rate);
    case MB_ARRIVAL_GAMMA:
        return mb_rng_gamma(r, o->burstiness, 1.0 / (o->rate * o->burstiness));
    default:
        return 1.0 / o->rate;
    }
}

int mb_arrival_schedule(const mb_arrival_opts *o, double **times, size_t *n)
{
    mb_rng r;
    size_t cap, len = 0;
    double t, *v;

    *times = NULL;
    *n = 0;
    if (!(o->rate > 0) || o->rate > 1e7 || (o->kind == MB_ARRIVAL_GAMMA && !(o->burstiness > 0)))
        return MB_EINVAL;
    if (o->count == 0 && !(o->duration > 0))
        return MB_EINVAL;
    if (o->count > MAX_ARRIVALS || o->rate * o->duration > MAX_ARRIVALS)
        return MB_EINVAL;
    cap = o->count ? o->count : (size_t)(o->rate * o->duration * 1.2) + 16;
    v = malloc(cap * sizeof *v);
    if (!v)
        return MB_ENOMEM;
    mb_rng_seed(&r, o->seed);
    /* constant: i/rate exactly (no accumulated float error); random kinds
     * start at a random point like a process already running */
    t = o->start;
    if (o->kind != MB_ARRIVAL_CONSTANT)
        t += gap(o, &r);
    for (;;) {
        double at = o->kind == MB_ARRIVAL_CONSTANT ? o->start + (double)len / o->rate : t;
        if (o->count && len == o->count)
            break;
        if (o->duration > 0 && at >= o->start + o->duration)
            break;
        if (MB_VEC_GROW(v, cap, len + 1) < 0) {
            free(v);
            return MB_ENOMEM;
        }
        v[len++] = at;
        if (o->kind != MB_ARRIVAL_CONSTANT)
            t += gap(o, &r);
    }
    *times = v;
    *n = len;
    return 0;
}

size_t mb_arrival_shard(double *times, size_t n, unsigned shard, unsigned nshards)
{
    size_t w = 0;
    if (nshards <= 1)
        return n;
    for (size_t i = shard; i < n; i += nshards)
        times[w++] = times[i];
    return w;
}

/* l_arrival.c: mlxbench.arrival -- open-loop schedules from src/core. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/arrival.h"
#include "mlxbench/errors.h"
#include "engine.h"

static double num_field(lua_State *L, const char *k, double def)
{
    double v = def;
    if (lua_getfield(L, 1, k) != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "arrival.schedule: '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* schedule{rate, arrival="poisson"|"constant"|"gamma", burstiness=1, seed=1,
 *          count=N | duration=S, start=0, shard=I, shards=N}
 * -> list of send times (seconds from the run's start), ascending. */
static int l_schedule(lua_State *L)
{
    static const char *const kinds[] = {"constant", "poisson", "gamma", NULL};
    mb_arrival_opts o;
    double *t;
    size_t n;
    int rc;

    luaL_checktype(L, 1, LUA_TTABLE);
    memset(&o, 0, sizeof o);
    lua_getfield(L, 1, "arrival");
    o.kind = (mb_arrival_kind)luaL_checkoption(L, -1, "poisson", kinds);
    lua_pop(L, 1);
    o.rate = num_field(L, "rate", 0);
    o.burstiness = num_field(L, "burstiness", 1.0);
    o.seed = (uint64_t)num_field(L, "seed", 1);
    o.count = (size_t)num_field(L, "count", 0);
    o.duration = num_field(L, "duration", 0);
    o.start = num_field(L, "start", 0);
    int shard = (int)num_field(L, "shard", 0), shards = (int)num_field(L, "shards", 1);
    if (!(o.rate > 0))
        return luaL_error(L, "arrival.schedule: rate must be > 0 requests per second");
    if (o.count == 0 && !(o.duration > 0))
        return luaL_error(L, "arrival.schedule: give count or duration");
    if (shards < 1 || shard < 0 || shard >= shards)
        return luaL_error(L, "arrival.schedule: shard must be in 0..shards-1");
    rc = mb_arrival_schedule(&o, &t, &n);
    if (rc < 0)
        return luaL_error(L, "arrival.schedule: %s (rate %f, burstiness %f)",
                          mb_strerror(rc), o.rate, o.burstiness);
    n = mb_arrival_shard(t, n, (unsigned)shard, (unsigned)shards);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushnumber(L, t[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    free(t);
    return 1;
}

int luaopen_mlxbench_arrival(lua_State *L)
{
    static const luaL_Reg f[] = {{"schedule", l_schedule}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

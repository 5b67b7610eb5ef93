/* l_time.c: mlxbench.time -- now(), now_ns(), wall(), sleep(s). */
#include <lauxlib.h>
#include "mlxbench/clock.h"
#include "engine.h"

/* now() -> monotonic seconds (float, ns source): for intervals only. */
static int l_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)mb_clock_now_ns() * 1e-9);
    return 1;
}

/* now_ns() -> monotonic nanoseconds as an integer, exact. */
static int l_now_ns(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mb_clock_now_ns());
    return 1;
}

/* wall() -> Unix seconds (float): for timestamps in results, not intervals. */
static int l_wall(lua_State *L)
{
    lua_pushnumber(L, mb_clock_wall());
    return 1;
}

int luaopen_mlxbench_time(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"now", l_now}, {"now_ns", l_now_ns}, {"wall", l_wall},
        {"sleep", mb_l_sleep}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

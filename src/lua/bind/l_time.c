/* l_time.c: mlxbench.time -- now(), now_ns(), wall(), sleep(s),
 * sleep_until(t). */
#include <stdlib.h>
#include <lauxlib.h>
#include "mlxbench/clock.h"
#include "mlxbench/platform.h"
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

/* One precise wait: its own high-resolution timer (platform.h), closed
 * (and this freed) once it fired or the task was cancelled. */
typedef struct precise {
    mb_ptimer *t;
    mb_vu *vu;
} precise;

static void precise_closed(void *ud) { free(ud); }

static void precise_fired(void *ud)
{
    precise *p = ud;
    mb_vu_wake(p->vu, 0);
    mb_ptimer_close(p->t, precise_closed);
}

static void precise_cancel(mb_vu *vu, void *ud)
{
    precise *p = ud;
    (void)vu;
    mb_ptimer_disarm(p->t);
    mb_ptimer_close(p->t, precise_closed);
}

/* sleep_until(t): suspends the task until the monotonic time t (seconds,
 * time.now()'s clock) on a timer of nanosecond resolution where the system
 * has one (timerfd, kqueue): what sends a request at its scheduled instant
 * (open loop, trace replay). A time already past returns at once. */
static int l_sleep_until(lua_State *L)
{
    double t = luaL_checknumber(L, 1);
    uint64_t now = mb_clock_now_ns(), at;
    precise *p;
    luaL_argcheck(L, t == t && t < 1e12, 1, "must be a time.now() value");
    at = t <= 0 ? 0 : (uint64_t)(t * 1e9 + 0.5);
    mb_vu *vu = mb_vu_require(L, "mlxbench.time.sleep_until");
    if (at <= now)
        return 0;
    if (!(p = malloc(sizeof *p)))
        return luaL_error(L, "out of memory");
    p->vu = vu;
    if (mb_ptimer_new(&p->t, mb_engine_of(L)->loop, precise_fired, p) < 0) {
        free(p);
        return luaL_error(L, "out of memory");
    }
    mb_ptimer_arm(p->t, at);
    return mb_vu_suspend(L, vu, precise_cancel, p);
}

int luaopen_mlxbench_time(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"now", l_now}, {"now_ns", l_now_ns}, {"wall", l_wall},
        {"sleep", mb_l_sleep}, {"sleep_until", l_sleep_until}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

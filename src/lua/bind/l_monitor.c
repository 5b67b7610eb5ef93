/* l_monitor.c: mlxbench._monitor -- what the client itself costs, so a run
 * can tell whether its figures are the server's or the client's:
 *
 *   _monitor.loop_lag(hist [, interval_s]) -> probe
 *       a periodic libuv timer on this engine's loop; each time it fires,
 *       how late it fired (seconds, >= 0) is recorded into `hist` (a
 *       mlxbench.stats histogram) in C. probe:stop(), probe:running().
 *       The probe keeps no loop alive and stops when the engine closes.
 *   _monitor.thread_cpu() -> user + system seconds of the calling thread
 *   _monitor.clock_cost(n) -> nanoseconds per mb_clock_now_ns() read,
 *       averaged over n reads (the engine's timestamp overhead)
 *   _monitor.read_lag(hist) -> {kernel, kind, drift_max_s, steps, refused}
 *       the engine's HTTP client's read lag since the last call (user-space
 *       minus kernel receive stamp of every event that had one, seconds),
 *       merged into `hist` and cleared; whether its connections ask for
 *       kernel stamps and how (SO_TIMESTAMPNS...), and its realtime ->
 *       monotonic calibration since the last call: the largest change of
 *       the offset between two checks, steps (changes over 1 ms), stamps
 *       refused (later than their read). The first call makes the client,
 *       and so calibrates the clock: call it when a run starts.
 *
 * Lateness is measured against the deadline the timer was armed for
 * (arming time + interval, on the monotonic clock). libuv timers have
 * millisecond resolution, so an idle loop shows up to ~1 ms: that is the
 * probe's floor; a saturated loop shows its callbacks' run time on top. */
#include <stdlib.h>
#include <lauxlib.h>
#include "mlxbench/client.h"
#include "mlxbench/clock.h"
#include "mlxbench/hist.h"
#include "mlxbench/platform.h"
#include "engine.h"

#define PROBE_MT "mlxbench.lag_probe"

typedef struct lprobe {
    uv_timer_t *timer;       /* malloc'd; NULL once stopped */
    mb_engine *eng;
    mb_hist *h;              /* the histogram in uservalue 1 */
    uint64_t due_ns;         /* when the armed timer is due */
    uint64_t interval_ns;
    uint64_t interval_ms;
    int ref;                 /* registry anchor while running */
    mb_closer closer;
} lprobe;

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

static void probe_fired(uv_timer_t *t)
{
    lprobe *p = t->data;
    uint64_t now = mb_clock_now_ns();
    uint64_t late = now > p->due_ns ? now - p->due_ns : 0;
    mb_hist_record(p->h, (double)late * 1e-9, 1);
    uv_update_time(t->loop);
    p->due_ns = mb_clock_now_ns() + p->interval_ns;
    uv_timer_start(t, probe_fired, p->interval_ms, 0);
}

/* Stops the timer and drops the anchor; the histogram keeps what it got. */
static void probe_stop(lua_State *L, lprobe *p)
{
    if (!p->timer)
        return;
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, timer_closed);
    p->timer = NULL;
    mb_engine_remove_closer(p->eng, &p->closer);
    if (L) {
        luaL_unref(L, LUA_REGISTRYINDEX, p->ref);
        p->ref = LUA_NOREF;
    }
}

/* Engine shutdown: the loop closes, so must the timer. The anchor goes
 * with the Lua state. */
static void probe_close(void *ud)
{
    lprobe *p = ud;
    if (!p->timer)
        return;
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, timer_closed);
    p->timer = NULL;
}

/* _monitor.loop_lag(hist [, interval_s = 0.005]) -> probe */
static int l_loop_lag(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1);
    double iv = luaL_optnumber(L, 2, 0.005);
    luaL_argcheck(L, iv >= 0.001 && iv <= 60, 2, "interval must be 0.001..60 seconds");
    mb_engine *eng = mb_engine_of(L);
    lprobe *p = lua_newuserdatauv(L, sizeof *p, 1);
    p->timer = NULL;
    p->ref = LUA_NOREF;
    luaL_setmetatable(L, PROBE_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);   /* the histogram lives as long as the probe */
    p->eng = eng;
    p->h = h;
    p->interval_ms = (uint64_t)(iv * 1000 + 0.5);
    p->interval_ns = p->interval_ms * 1000000u;
    p->timer = malloc(sizeof *p->timer);
    if (!p->timer)
        return luaL_error(L, "out of memory");
    uv_timer_init(eng->loop, p->timer);
    p->timer->data = p;
    uv_unref((uv_handle_t *)p->timer);
    uv_update_time(eng->loop);
    p->due_ns = mb_clock_now_ns() + p->interval_ns;
    uv_timer_start(p->timer, probe_fired, p->interval_ms, 0);
    p->closer.close = probe_close;
    p->closer.ud = p;
    mb_engine_add_closer(eng, &p->closer);
    lua_pushvalue(L, -1);
    p->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

static lprobe *check_probe(lua_State *L)
{
    return luaL_checkudata(L, 1, PROBE_MT);
}

/* probe:stop() */
static int p_stop(lua_State *L)
{
    probe_stop(L, check_probe(L));
    return 0;
}

/* probe:running() -> bool */
static int p_running(lua_State *L)
{
    lua_pushboolean(L, check_probe(L)->timer != NULL);
    return 1;
}

/* Only reached while running when the engine is closing (the anchor goes
 * with the state); the closer has stopped the timer by then. */
static int p_gc(lua_State *L)
{
    lprobe *p = check_probe(L);
    if (p->timer)
        probe_stop(NULL, p);
    return 0;
}

/* thread_cpu() -> user + system seconds of the calling OS thread */
static int l_thread_cpu(lua_State *L)
{
    double s = mb_plat_thread_cpu_s();
    if (s < 0)
        return luaL_error(L, "this system cannot tell a thread's CPU time");
    lua_pushnumber(L, s);
    return 1;
}

/* clock_cost(n = 1000000) -> ns per mb_clock_now_ns() read */
static int l_clock_cost(lua_State *L)
{
    lua_Integer n = luaL_optinteger(L, 1, 1000000);
    luaL_argcheck(L, n >= 1000 && n <= 1000000000, 1, "n must be 1000..1e9");
    volatile uint64_t sink = 0;
    uint64_t t0 = mb_clock_now_ns();
    for (lua_Integer i = 0; i < n; i++)
        sink += mb_clock_now_ns();
    uint64_t t1 = mb_clock_now_ns();
    (void)sink;
    lua_pushnumber(L, (double)(t1 - t0) / (double)(n + 1));
    return 1;
}

/* read_lag(hist) -> {kernel=, kind=, drift_max_s=, steps=, refused=} */
static int l_read_lag(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1);
    mb_client *c = mb_lua_client(L);
    const mb_clock_sync *cs = mb_client_clock(c);
    if (mb_client_read_lag_take(c, h) < 0)
        return luaL_error(L, "out of memory");
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, mb_client_kernel_stamps(c));
    lua_setfield(L, -2, "kernel");
    lua_pushstring(L, mb_client_kernel_stamps(c) ? mb_plat_rx_stamp_kind() : "none");
    lua_setfield(L, -2, "kind");
    lua_pushnumber(L, (double)cs->drift_max_ns * 1e-9);
    lua_setfield(L, -2, "drift_max_s");
    lua_pushinteger(L, cs->steps);
    lua_setfield(L, -2, "steps");
    lua_pushinteger(L, cs->refused);
    lua_setfield(L, -2, "refused");
    mb_client_clock_reset(c);
    return 1;
}

int luaopen_mlxbench_monitor(lua_State *L)
{
    static const luaL_Reg pm[] = {{"stop", p_stop}, {"running", p_running}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"loop_lag", l_loop_lag}, {"thread_cpu", l_thread_cpu},
        {"clock_cost", l_clock_cost}, {"read_lag", l_read_lag}, {NULL, NULL}};
    if (luaL_newmetatable(L, PROBE_MT)) {
        luaL_newlib(L, pm);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, p_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

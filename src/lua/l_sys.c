/* l_sys.c: mlxbench._sys -- the few facts about this process the Lua side
 * needs: is stderr a terminal (progress), CPU time and peak memory (the
 * client's own cost, recorded with every run). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <lauxlib.h>
#include "engine.h"

/* isatty(fd) -> boolean */
static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)) == 1);
    return 1;
}

/* cpu() -> user, system seconds of this process (all threads) */
static int l_cpu(lua_State *L)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushnumber(L, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6);
    lua_pushnumber(L, (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6);
    return 2;
}

/* max_rss() -> peak resident set size in bytes */
static int l_max_rss(lua_State *L)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    lua_pushinteger(L, (lua_Integer)ru.ru_maxrss * 1024);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* ncpu() -> online processors */
static int l_ncpu(lua_State *L)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

int luaopen_mlxbench_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"isatty", l_isatty}, {"cpu", l_cpu}, {"max_rss", l_max_rss},
        {"getpid", l_getpid}, {"ncpu", l_ncpu}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

/* l_sys.c: mlxbench._sys -- the few facts about this process the Lua side
 * needs: is stderr a terminal (progress), CPU time and peak memory (the
 * client's own cost, recorded with every run), current RSS, open and
 * allowed file descriptors (resource checks, soak tests), file kinds. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* file_kind(path) -> "file" | "dir" | "other" (device, fifo, socket) | nil
 * when it does not exist: atomic writers must not rename over a device. */
static int l_file_kind(lua_State *L)
{
    struct stat st;
    if (stat(luaL_checkstring(L, 1), &st) != 0)
        return 0;
    lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other");
    return 1;
}

/* rss() -> resident set size now, in bytes (/proc/self/statm) */
static int l_rss(lua_State *L)
{
    unsigned long long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &res) != 2)
        res = 0;
    fclose(f);
    lua_pushinteger(L, (lua_Integer)(res * (unsigned long long)sysconf(_SC_PAGESIZE)));
    return 1;
}

/* fd_count() -> open file descriptors of this process (/proc/self/fd) */
static int l_fd_count(lua_State *L)
{
    DIR *d = opendir("/proc/self/fd");
    lua_Integer n = 0;
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    lua_pushinteger(L, n - 1);   /* not the one opendir itself holds */
    return 1;
}

/* fd_limit() -> soft, hard RLIMIT_NOFILE (-1 = unlimited) */
static int l_fd_limit(lua_State *L)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    lua_pushinteger(L, rl.rlim_cur == RLIM_INFINITY ? -1 : (lua_Integer)rl.rlim_cur);
    lua_pushinteger(L, rl.rlim_max == RLIM_INFINITY ? -1 : (lua_Integer)rl.rlim_max);
    return 2;
}

int luaopen_mlxbench_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"isatty", l_isatty}, {"cpu", l_cpu}, {"max_rss", l_max_rss},
        {"getpid", l_getpid}, {"ncpu", l_ncpu}, {"file_kind", l_file_kind},
        {"rss", l_rss}, {"fd_count", l_fd_count}, {"fd_limit", l_fd_limit}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

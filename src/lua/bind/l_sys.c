/* l_sys.c: mlxbench._sys -- the few facts about this process and machine
 * the Lua side needs, all from the platform layer (platform.h): is stderr a
 * terminal (progress), CPU time and peak memory (the client's own cost,
 * recorded with every run), current RSS, open and allowed file descriptors
 * (resource checks, soak tests), file kinds, the host description of a
 * results file, the server under test's process (--server-pid), and the
 * version and platform the binary was built with. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
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
    double user, sys;
    mb_plat_process_cpu_s(&user, &sys);
    lua_pushnumber(L, user);
    lua_pushnumber(L, sys);
    return 2;
}

/* max_rss() -> peak resident set size in bytes */
static int l_max_rss(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)mb_plat_peak_rss_bytes());
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

/* rss() -> resident set size now, in bytes; nothing when the system cannot tell */
static int l_rss(lua_State *L)
{
    int64_t v = mb_plat_rss_bytes();
    if (v < 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* fd_count() -> open file descriptors of this process; nothing if unknown */
static int l_fd_count(lua_State *L)
{
    int64_t v = mb_plat_fd_count();
    if (v < 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

/* fd_limit() -> soft, hard RLIMIT_NOFILE (-1 = unlimited) */
static int l_fd_limit(lua_State *L)
{
    int64_t soft, hard;
    if (mb_plat_fd_limit(&soft, &hard) < 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)soft);
    lua_pushinteger(L, (lua_Integer)hard);
    return 2;
}

/* proc(pid) -> {cpu_s, rss, threads, name} | nil, "gone" | "hidden": the
 * server under test's CPU time, memory and threads (platform.h);
 * "hidden" when the system will not tell (another user's process). */
static int l_proc(lua_State *L)
{
    mb_plat_proc p;
    int rc = mb_plat_proc_sample((int64_t)luaL_checkinteger(L, 1), &p);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, rc == MB_EINVAL ? "gone" : "hidden");
        return 2;
    }
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, p.cpu_s);
    lua_setfield(L, -2, "cpu_s");
    if (p.rss_bytes >= 0) {
        lua_pushinteger(L, (lua_Integer)p.rss_bytes);
        lua_setfield(L, -2, "rss");
    }
    if (p.threads > 0) {
        lua_pushinteger(L, p.threads);
        lua_setfield(L, -2, "threads");
    }
    lua_pushstring(L, p.name);
    lua_setfield(L, -2, "name");
    return 1;
}

/* listening_pid(port) -> pid | nil, "none" | "hidden": the local process
 * listening on a loopback TCP port (--server-pid auto). */
static int l_listening_pid(lua_State *L)
{
    int64_t pid;
    int rc = mb_plat_listening_pid((int)luaL_checkinteger(L, 1), &pid);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, rc == MB_EINVAL ? "none" : "hidden");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)pid);
    return 1;
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v[0]) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    if (v > 0) {
        lua_pushinteger(L, v);
        lua_setfield(L, -2, k);
    }
}

/* host() -> {os, hostname, kernel, cpu_model, machine, cpus, perf_cores,
 * efficiency_cores, memory_bytes}: what the system tells (unknown fields
 * are absent); no user names, no secrets. */
static int l_host(lua_State *L)
{
    mb_plat_host h;
    mb_plat_host_info(&h);
    lua_createtable(L, 0, 9);
    set_str(L, "os", h.os);
    set_str(L, "hostname", h.hostname);
    set_str(L, "kernel", h.kernel);
    set_str(L, "cpu_model", h.cpu_model);
    set_str(L, "machine", h.machine);
    set_int(L, "cpus", h.cpus);
    set_int(L, "perf_cores", h.perf_cores);
    set_int(L, "efficiency_cores", h.efficiency_cores);
    set_int(L, "memory_bytes", (lua_Integer)h.memory_bytes);
    return 1;
}

/* The build's facts as fields: version (from CMake), platform (linux,
 * darwin, posix) and the C side's defaults (defaults.h), so Lua repeats
 * none of them. */
static void build_facts(lua_State *L)
{
    lua_pushstring(L, MLXBENCH_VERSION);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, mb_plat_name());
    lua_setfield(L, -2, "platform");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, MB_DEFAULT_TIMEOUT_S);
    lua_setfield(L, -2, "timeout");
    lua_pushinteger(L, MB_DEFAULT_CONNECT_TIMEOUT_S);
    lua_setfield(L, -2, "connect_timeout");
    lua_setfield(L, -2, "defaults");
}

int luaopen_mlxbench_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"isatty", l_isatty}, {"cpu", l_cpu}, {"max_rss", l_max_rss},
        {"getpid", l_getpid}, {"ncpu", l_ncpu}, {"file_kind", l_file_kind},
        {"rss", l_rss}, {"fd_count", l_fd_count}, {"fd_limit", l_fd_limit},
        {"host", l_host}, {"proc", l_proc}, {"listening_pid", l_listening_pid}, {NULL, NULL}};
    luaL_newlib(L, f);
    build_facts(L);
    return 1;
}

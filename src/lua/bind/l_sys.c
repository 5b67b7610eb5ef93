/* l_sys.c: mlxbench._sys -- the few facts about this process and machine
 * the Lua side needs, all from the platform layer (platform.h): is stderr a
 * terminal (progress), CPU time and peak memory (the client's own cost,
 * recorded with every run), current RSS, open and allowed file descriptors
 * (resource checks, soak tests), file kinds, the host description of a
 * results file, the server under test's process (--server-pid), and the
 * version and platform the binary was built with; and the one writer and
 * reader of files (write_file, read_file). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <lauxlib.h>
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mlxbench/platform.h"
#include "mlxbench/redact.h"
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

/* The reason a platform call about another process failed, for Lua. */
static const char *proc_why(int rc, const char *invalid)
{
    return rc == MB_EINVAL ? invalid : rc == MB_ENOTSUP ? "unsupported" : "hidden";
}

/* proc(pid) -> {cpu_s, rss, threads, name} | nil, "gone" | "hidden" |
 * "unsupported": the server under test's CPU time, memory and threads
 * (platform.h); "hidden" when the system will not tell (another user's
 * process), "unsupported" when this build's platform layer cannot ask. */
static int l_proc(lua_State *L)
{
    mb_plat_proc p;
    int rc = mb_plat_proc_sample((int64_t)luaL_checkinteger(L, 1), &p);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, proc_why(rc, "gone"));
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

/* listening_pid(port) -> pid | nil, "none" | "hidden" | "unsupported": the
 * local process listening on a loopback TCP port (--server-pid auto). */
static int l_listening_pid(lua_State *L)
{
    int64_t pid;
    int rc = mb_plat_listening_pid((int)luaL_checkinteger(L, 1), &pid);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, proc_why(rc, "none"));
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

/* host() -> {os, os_release, hostname, kernel, cpu_model, chip, machine,
 * cpus, perf_cores, efficiency_cores, memory_bytes, unified_memory}: what
 * the system tells (unknown fields are absent; chip and unified_memory on
 * Apple silicon only); no user names, no secrets. */
static int l_host(lua_State *L)
{
    mb_plat_host h;
    mb_plat_host_info(&h);
    lua_createtable(L, 0, 12);
    set_str(L, "os", h.os);
    set_str(L, "os_release", h.os_release);
    set_str(L, "hostname", h.hostname);
    set_str(L, "kernel", h.kernel);
    set_str(L, "cpu_model", h.cpu_model);
    set_str(L, "chip", h.chip);
    set_str(L, "machine", h.machine);
    set_int(L, "cpus", h.cpus);
    set_int(L, "perf_cores", h.perf_cores);
    set_int(L, "efficiency_cores", h.efficiency_cores);
    set_int(L, "memory_bytes", (lua_Integer)h.memory_bytes);
    if (h.unified_memory) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "unified_memory");
    }
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

/* ---- write_file ------------------------------------------------------------ */

/* Waits until fd is ready for `events` (POLLIN/POLLOUT), in slices, so a
 * SIGINT/SIGTERM/SIGHUP that arrives meanwhile ends the wait (EINTR) --
 * a fifo or terminal nobody feeds must not make the process deaf. */
static int wait_fd(int fd, short events)
{
    int seen = mb_sig_count();
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, 200);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return errno;
        if (mb_sig_count() != seen)
            return EINTR;
    }
}

/* Writes all of buf to fd (non-blocking: waits with wait_fd). 0 or an errno. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int e = wait_fd(fd, POLLOUT);
                if (e)
                    return e;
                continue;
            }
            return errno;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The file a dangling symlink names (followed link by link, relative
 * targets against the link's folder), in out. 0 or an errno (ELOOP). */
static int follow_dangling(const char *path, char *out, size_t cap)
{
    char cur[PATH_MAX], target[PATH_MAX];
    struct stat st;
    snprintf(cur, sizeof cur, "%s", path);
    for (int hops = 0; hops < 40; hops++) {
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            if (strlen(cur) >= cap)
                return ENAMETOOLONG;
            memcpy(out, cur, strlen(cur) + 1);
            return 0;
        }
        ssize_t n = readlink(cur, target, sizeof target - 1);
        if (n < 0)
            return errno;
        target[n] = 0;
        if (target[0] == '/') {
            memcpy(cur, target, (size_t)n + 1);
        } else {
            char *slash = strrchr(cur, '/');
            size_t dl = slash ? (size_t)(slash - cur) + 1 : 0;
            if (dl + (size_t)n + 1 > sizeof cur)
                return ENAMETOOLONG;
            memmove(cur + dl, target, (size_t)n + 1);
        }
    }
    return ELOOP;
}

/* Writes to a path that exists and is not a regular file (a device, a
 * fifo) in place: renaming over it would replace the node. A fifo is
 * opened without blocking, so one with no reader is an error at once, not
 * a process stuck in open() deaf to signals. */
static const char *write_special(lua_State *L, const char *path, const struct stat *st,
                                 const char *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err;
    if (fd < 0) {
        if (errno == ENXIO && S_ISFIFO(st->st_mode))
            return "it is a fifo with no reader (start the reader first)";
        if (errno == ENXIO && S_ISSOCK(st->st_mode))
            return "it is a socket";
        return lua_pushstring(L, strerror(errno));
    }
    err = write_all(fd, buf, n);   /* a slow reader: waited for, signals heard */
    if (close(fd) != 0 && !err)
        err = errno;
    return err ? lua_pushstring(L, strerror(err)) : NULL;
}

/* Temp file in the target's folder, written, synced and renamed over it:
 * a reader never sees half a file, a crash never leaves one. An existing
 * file keeps its permissions. */
static const char *write_atomic(lua_State *L, const char *path, const struct stat *old,
                                const char *buf, size_t n)
{
    char tmp[PATH_MAX + 32];
    int fd = -1, err = 0;
    for (int k = 0; k < 100 && fd < 0; k++) {
        snprintf(tmp, sizeof tmp, "%s.%ld.%d.tmp", path, (long)getpid(), rand() % 1000000);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return lua_pushstring(L, strerror(errno));
    }
    if (fd < 0)
        return "cannot create a temporary file next to it";
    if (old && fchmod(fd, old->st_mode & 07777) != 0)
        err = errno;
    if (!err)
        err = write_all(fd, buf, n);
    if (!err && fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        unlink(tmp);
        return lua_pushfstring(L, "%s (temp file %s removed)", strerror(err), tmp);
    }
    return NULL;
}

/* write_file(path, text) -> true | nil, "cannot write PATH: why"
 * The one way output files (results, reports, traces, merged files) are
 * written: the text goes through the redactor (known secrets); a symlink
 * is followed -- its target is written, the link stays (a dangling one
 * creates its target), as shell redirection does; a directory is refused;
 * a device or fifo is written in place (a fifo with no reader is an error,
 * not a hang); anything else is replaced atomically. */
static int l_write_file(lua_State *L)
{
    size_t n, rl;
    const char *path = luaL_checkstring(L, 1);
    const char *text = luaL_checklstring(L, 2, &n), *why = NULL;
    char *red = NULL, final[PATH_MAX];
    struct stat st, lst;
    if (mb_redact(text, n, MB_REDACT_KNOWN, &red, &rl) == 1) {
        text = red;
        n = rl;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            why = "it is a directory";
        } else if (!S_ISREG(st.st_mode)) {
            why = write_special(L, path, &st, text, n);
        } else if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
            if (!realpath(path, final))
                why = lua_pushstring(L, strerror(errno));
            else
                why = write_atomic(L, final, &st, text, n);
        } else {
            why = write_atomic(L, path, &st, text, n);
        }
    } else if (errno == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        int e = follow_dangling(path, final, sizeof final);
        if (e)
            why = lua_pushstring(L, strerror(e));
        else if ((why = write_atomic(L, final, NULL, text, n)) != NULL)
            why = lua_pushfstring(L, "the link's target %s: %s", final, why);
    } else if (errno == ENOENT) {
        why = write_atomic(L, path, NULL, text, n);
    } else {
        why = lua_pushstring(L, strerror(errno));
    }
    free(red);
    if (why) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot write %s: %s", path, why);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* read_file(path, max) -> text | nil, message, "too_large"?
 * A whole input file (a prompt, a results file), at most `max` bytes: a
 * larger one is refused once max is passed, never read to the end of
 * memory; a device that is not a terminal (/dev/zero, /dev/urandom) is
 * refused outright. A fifo is opened without waiting for a writer (one
 * nobody writes to reads as empty), and reading a fifo, pipe or terminal
 * waits in slices, so a signal ends it. */
static int l_read_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_Buffer b;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC), err = 0;
    size_t total = 0;
    if (fd < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot open %s: %s", path, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) && !isatty(fd)) {
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read %s: it is a device, not a file", path);
        return 2;
    }
    luaL_buffinit(L, &b);
    for (;;) {
        char *p = luaL_prepbuffsize(&b, 65536);
        ssize_t r = read(fd, p, 65536);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if ((errno == EAGAIN || errno == EWOULDBLOCK) && (err = wait_fd(fd, POLLIN)) == 0)
                continue;
            err = err ? err : errno;
            break;
        }
        if (r == 0)
            break;
        luaL_addsize(&b, (size_t)r);
        total += (size_t)r;
        if ((lua_Integer)total > max)
            break;
    }
    close(fd);
    if (err) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot read %s: %s", path, err == EINTR ? "interrupted" : strerror(err));
        return 2;
    }
    if ((lua_Integer)total > max) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s is over %I bytes", path, max);
        lua_pushliteral(L, "too_large");
        return 3;
    }
    luaL_pushresult(&b);
    return 1;
}

int luaopen_mlxbench_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"isatty", l_isatty}, {"cpu", l_cpu}, {"max_rss", l_max_rss},
        {"getpid", l_getpid}, {"ncpu", l_ncpu}, {"file_kind", l_file_kind},
        {"rss", l_rss}, {"fd_count", l_fd_count}, {"fd_limit", l_fd_limit},
        {"host", l_host}, {"proc", l_proc}, {"listening_pid", l_listening_pid},
        {"write_file", l_write_file}, {"read_file", l_read_file}, {NULL, NULL}};
    luaL_newlib(L, f);
    build_facts(L);
    return 1;
}

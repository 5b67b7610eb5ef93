/* l_proxy.c: mlxbench.proxy -- the TCP fault proxy on the script's loop.
 *
 *   local proxy = require "mlxbench.proxy"
 *   local px = proxy.start{listen = "127.0.0.1:0", upstream = "http://127.0.0.1:8080",
 *                          faults = {latency_ms = 100}, seed = 1}
 *   px.url, px.port, px.host, px.upstream
 *   px:set_faults{...}  px:clear()  px:faults()  px:stats()  px:stop()
 *   px:wait()           -- suspends the task until px:stop()
 *
 * A running proxy is anchored in the registry (dropping the object does not
 * stop it) and listed in the engine's proxy state, whose closer stops every
 * proxy when the engine shuts down. The per-engine state lives in the Lua
 * registry (key "mlxbench.proxy"), not in an engine slot. A proxy never
 * keeps a script alive: the engine ends when no task is live. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/proxy.h"
#include "engine.h"

#define PROXY_MT "mlxbench.proxy_server"
#define STATE_KEY "mlxbench.proxy"

typedef struct lwaiter {
    mb_vu *vu;
    struct lwaiter *next;
} lwaiter;

struct pstate;

typedef struct lproxy {
    mb_proxy *p;              /* NULL once stopped */
    int ref;                  /* registry anchor while running */
    char url[96], host[64], upstream[300];
    int port;
    lwaiter *waiters;         /* tasks in px:wait() */
    struct lproxy *next;      /* the engine's running proxies */
    struct pstate *st;
} lproxy;

typedef struct pstate {
    mb_closer closer;
    lproxy *running;
    lua_State *L;
} pstate;

/* Stops a proxy: out of the engine list, waiters woken, anchor released.
 * Safe to call twice. */
static void lproxy_stop(lproxy *lp)
{
    if (!lp->p)
        return;
    mb_proxy_stop(lp->p, NULL, NULL);
    lp->p = NULL;
    for (lproxy **pp = &lp->st->running; *pp; pp = &(*pp)->next)
        if (*pp == lp) {
            *pp = lp->next;
            break;
        }
    lp->next = NULL;
    while (lp->waiters) {
        lwaiter *w = lp->waiters;
        lp->waiters = w->next;
        mb_vu_wake(w->vu, 0);
        free(w);
    }
    if (lp->ref != LUA_NOREF) {
        luaL_unref(lp->st->L, LUA_REGISTRYINDEX, lp->ref);
        lp->ref = LUA_NOREF;
    }
}

/* Engine shutdown: stop every proxy still running. Tasks are cancelled by
 * then (nobody waits) and Lua is about to close (no unref needed). */
static void state_close(void *ud)
{
    pstate *st = ud;
    while (st->running) {
        lproxy *lp = st->running;
        st->running = lp->next;
        lp->next = NULL;
        while (lp->waiters) {
            lwaiter *w = lp->waiters;
            lp->waiters = w->next;
            free(w);
        }
        mb_proxy_stop(lp->p, NULL, NULL);
        lp->p = NULL;
    }
    lua_pushnil(st->L);
    lua_setfield(st->L, LUA_REGISTRYINDEX, STATE_KEY);
    free(st);
}

/* The engine's proxy state, created (with its closer) on first use. */
static pstate *get_state(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    pstate *st = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (st)
        return st;
    st = calloc(1, sizeof *st);
    if (!st)
        luaL_error(L, "proxy.start: out of memory");
    mb_engine *eng = mb_engine_of(L);
    st->L = eng->L;
    st->closer.close = state_close;
    st->closer.ud = st;
    mb_engine_add_closer(eng, &st->closer);
    lua_pushlightuserdata(L, st);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    return st;
}

/* The proxy object at argument 1 (raises if it is not one). */
static lproxy *check_proxy(lua_State *L)
{
    return luaL_checkudata(L, 1, PROXY_MT);
}

/* Its running proxy; methods other than stop/wait/running raise once
 * it is stopped. */
static mb_proxy *check_running(lua_State *L, const char *what)
{
    lproxy *lp = check_proxy(L);
    if (!lp->p)
        luaL_error(L, "proxy:%s: the proxy is stopped", what);
    return lp->p;
}

/* ------------------------------------------------------------- parsing */

/* Parses a decimal port (0..65535) from s[0..n); -1 if not one. */
static int parse_port(const char *s, size_t n)
{
    int v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* Splits "host:port", "[v6]:port" or "host" (port = defport, -1 = required)
 * into host (brackets removed) and port. Returns 0, or -1 if malformed. */
static int split_hostport(const char *s, size_t n, int defport, char *host, size_t hostlen,
                          int *port)
{
    const char *h = s, *colon = NULL;
    size_t hl;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb)
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        if (rb + 1 < s + n) {
            if (rb[1] != ':')
                return -1;
            colon = rb + 1;
        }
    } else {
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':') {
                if (colon)
                    return -1;   /* an IPv6 address needs brackets */
                colon = s + i;
            }
        hl = colon ? (size_t)(colon - s) : n;
    }
    if (hl == 0 || hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = colon ? parse_port(colon + 1, (size_t)(s + n - colon - 1)) : defport;
    return *port < 0 ? -1 : 0;
}

/* An address option: "host:port", a URL ("http://host:port/..." -> host and
 * port, 80/443 by default), a port number (host 127.0.0.1), or
 * {host=, port=}. Raises a clear error when malformed. */
static void check_addr(lua_State *L, int idx, const char *what, int url_ok, char *host,
                       size_t hostlen, int *port)
{
    idx = lua_absindex(L, idx);
    if (lua_isinteger(L, idx)) {
        lua_Integer v = lua_tointeger(L, idx);
        if (v < 0 || v > 65535)
            luaL_error(L, "proxy.start: %s port must be in 0..65535", what);
        snprintf(host, hostlen, "127.0.0.1");
        *port = (int)v;
        return;
    }
    if (lua_istable(L, idx)) {
        int ty = lua_getfield(L, idx, "host");
        lua_getfield(L, idx, "port");
        if (ty != LUA_TNIL && ty != LUA_TSTRING)
            luaL_error(L, "proxy.start: %s.host must be a string", what);
        const char *h = ty == LUA_TNIL ? "127.0.0.1" : lua_tostring(L, -2);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 65535)
            luaL_error(L, "proxy.start: %s.port must be an integer in 0..65535", what);
        if (strlen(h) == 0 || strlen(h) >= hostlen)
            luaL_error(L, "proxy.start: %s.host is empty or too long", what);
        snprintf(host, hostlen, "%s", h);
        *port = (int)lua_tointeger(L, -1);
        lua_pop(L, 2);
        return;
    }
    if (lua_type(L, idx) != LUA_TSTRING)
        luaL_error(L, "proxy.start: %s must be \"host:port\"%s, a port or {host=, port=}", what,
                   url_ok ? ", a URL" : "");
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    const char *sep = strstr(s, "://");
    int defport = -1;
    if (sep) {
        if (!url_ok)
            luaL_error(L, "proxy.start: %s must be \"host:port\", not a URL", what);
        size_t sl = (size_t)(sep - s);
        if (sl == 4 && strncmp(s, "http", 4) == 0)
            defport = 80;
        else if (sl == 5 && strncmp(s, "https", 5) == 0)
            defport = 443;
        s = sep + 3;
        n = strcspn(s, "/?#");
        const char *at = memchr(s, '@', n);
        if (at) {
            n -= (size_t)(at + 1 - s);
            s = at + 1;
        }
    }
    if (split_hostport(s, n, defport, host, hostlen, port) < 0)
        luaL_error(L, "proxy.start: bad %s '%s' (expected host:port%s)", what,
                   lua_tostring(L, idx), url_ok ? " or http://host:port" : "");
}

/* A fault number: false/nil = off (returns 0), else a number within
 * [lo, hi] stored in *v (returns 1). */
static int fault_num(lua_State *L, const char *fn, const char *k, double lo, double hi, double *v)
{
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
        return 0;
    if (!lua_isnumber(L, -1) || lua_type(L, -1) != LUA_TNUMBER)
        luaL_error(L, "%s: fault '%s' must be a number or false", fn, k);
    *v = lua_tonumber(L, -1);
    if (!(*v >= lo && *v <= hi))
        luaL_error(L, "%s: fault '%s' must be in %I..%I", fn, k, (lua_Integer)lo, (lua_Integer)hi);
    return 1;
}

/* Reads a faults table at idx into *f (absent fields are off). Unknown
 * names and bad values raise, naming `fn`. */
static void check_faults(lua_State *L, int idx, mb_proxy_faults *f, const char *fn)
{
    double v;
    idx = lua_absindex(L, idx);
    mb_proxy_faults_clear(f);
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "latency_ms") == 0) {
            if (fault_num(L, fn, k, 0, 3600000, &v))
                f->latency_ms = (uint32_t)(v + 0.5);
        } else if (strcmp(k, "jitter_ms") == 0) {
            if (fault_num(L, fn, k, 0, 3600000, &v))
                f->jitter_ms = (uint32_t)(v + 0.5);
        } else if (strcmp(k, "bandwidth") == 0) {
            if (fault_num(L, fn, k, 0, 1e15, &v))
                f->bandwidth = v > 0 && v < 1 ? 1 : (uint64_t)v;   /* 0 = no limit */
        } else if (strcmp(k, "reset_after_bytes") == 0) {
            if (fault_num(L, fn, k, 0, 9e15, &v))
                f->reset_after_bytes = (int64_t)v;
        } else if (strcmp(k, "close_after_ms") == 0) {
            if (fault_num(L, fn, k, 0, 86400000, &v))
                f->close_after_ms = (int64_t)(v + 0.5);
        } else if (strcmp(k, "blackhole") == 0) {
            if (!lua_isboolean(L, -1))
                luaL_error(L, "%s: fault 'blackhole' must be a boolean", fn);
            f->blackhole = lua_toboolean(L, -1);
        } else if (strcmp(k, "refuse") == 0) {
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            if (lua_isboolean(L, -1))
                f->refuse = lua_toboolean(L, -1) ? MB_PROXY_REFUSE_CLOSE : MB_PROXY_REFUSE_NONE;
            else if (s && strcmp(s, "close") == 0)
                f->refuse = MB_PROXY_REFUSE_CLOSE;
            else if (s && strcmp(s, "reset") == 0)
                f->refuse = MB_PROXY_REFUSE_RESET;
            else
                luaL_error(L, "%s: fault 'refuse' must be true, false, \"close\" or \"reset\"", fn);
        } else {
            luaL_error(L, "%s: unknown fault '%s' (known: latency_ms, jitter_ms, bandwidth, "
                          "refuse, reset_after_bytes, blackhole, close_after_ms)", fn,
                       luaL_tolstring(L, -2, NULL));
        }
        lua_pop(L, 1);
    }
}

/* ------------------------------------------------------------- the API */

/* proxy.start{listen=, upstream=, faults=, seed=} -> proxy. Bad options,
 * an unresolvable upstream or a busy port raise: a scenario that cannot
 * put its proxy in place should stop at once with the reason. */
static int l_start(lua_State *L)
{
    mb_proxy_config cfg;
    char lhost[64], uhost[256], err[300];
    memset(&cfg, 0, sizeof cfg);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    static const char *const known[] = {"listen", "upstream", "faults", "seed", NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), known[i]) == 0;
        if (!ok)
            return luaL_error(L, "proxy.start: unknown option '%s' (known: listen, upstream, "
                                 "faults, seed)", luaL_tolstring(L, -2, NULL));
        lua_pop(L, 1);
    }
    if (lua_getfield(L, 1, "listen") == LUA_TNIL) {
        snprintf(lhost, sizeof lhost, "127.0.0.1");
        cfg.port = 0;
    } else {
        check_addr(L, -1, "listen", 0, lhost, sizeof lhost, &cfg.port);
    }
    if (lua_getfield(L, 1, "upstream") == LUA_TNIL)
        return luaL_error(L, "proxy.start: 'upstream' is required (\"host:port\" or a URL)");
    check_addr(L, -1, "upstream", 1, uhost, sizeof uhost, &cfg.upstream_port);
    if (cfg.upstream_port == 0)
        return luaL_error(L, "proxy.start: upstream port must be in 1..65535");
    if (lua_getfield(L, 1, "seed") != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            return luaL_error(L, "proxy.start: seed must be a non-negative integer");
        cfg.seed = (uint64_t)lua_tointeger(L, -1);
    } else {
        cfg.seed = 1;
    }
    if (lua_getfield(L, 1, "faults") != LUA_TNIL)
        check_faults(L, -1, &cfg.faults, "proxy.start");
    else
        mb_proxy_faults_clear(&cfg.faults);
    lua_settop(L, 1);
    cfg.host = lhost;
    cfg.upstream_host = uhost;

    pstate *st = get_state(L);
    lproxy *lp = lua_newuserdatauv(L, sizeof *lp, 0);
    memset(lp, 0, sizeof *lp);
    lp->ref = LUA_NOREF;
    lp->st = st;
    luaL_setmetatable(L, PROXY_MT);
    int rc = mb_proxy_start(&lp->p, mb_engine_of(L)->loop, &cfg, err, sizeof err);
    if (rc < 0)
        return luaL_error(L, "proxy.start: %s", err[0] ? err : mb_strerror(rc));
    const char *h = mb_proxy_host(lp->p);
    lp->port = mb_proxy_port(lp->p);
    snprintf(lp->host, sizeof lp->host, "%s", h);
    /* a wildcard listener is reached through loopback */
    if (strcmp(h, "0.0.0.0") == 0)
        h = "127.0.0.1";
    else if (strcmp(h, "::") == 0)
        h = "::1";
    snprintf(lp->url, sizeof lp->url, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h,
             lp->port);
    snprintf(lp->upstream, sizeof lp->upstream,
             strchr(uhost, ':') ? "[%s]:%d" : "%s:%d", uhost, cfg.upstream_port);
    lp->next = st->running;
    st->running = lp;
    lua_pushvalue(L, -1);
    lp->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* The message of an mb_proxy_set_faults error. Fault values are checked
 * here first, so what is left is listening again after refuse. */
static const char *set_error(int rc)
{
    if (rc == MB_ENOMEM)
        return "out of memory";
    if (rc == MB_EINVAL)
        return "invalid fault values";
    return uv_strerror(rc);
}

/* px:set_faults{...}: replaces the whole fault set ({} clears it). */
static int p_set_faults(lua_State *L)
{
    mb_proxy *p = check_running(L, "set_faults");
    mb_proxy_faults f;
    if (lua_isnoneornil(L, 2))
        return luaL_error(L, "proxy:set_faults: expected a table of faults ({} clears them)");
    check_faults(L, 2, &f, "proxy:set_faults");
    int rc = mb_proxy_set_faults(p, &f);
    if (rc < 0)
        return luaL_error(L, "proxy:set_faults: cannot listen again (still refusing): %s",
                          set_error(rc));
    return 0;
}

/* px:clear(): every fault off. */
static int p_clear(lua_State *L)
{
    mb_proxy *p = check_running(L, "clear");
    mb_proxy_faults f;
    mb_proxy_faults_clear(&f);
    int rc = mb_proxy_set_faults(p, &f);
    if (rc < 0)
        return luaL_error(L, "proxy:clear: cannot listen again (still refusing): %s",
                          set_error(rc));
    return 0;
}

/* px:faults() -> the faults in force, only those that are on (a table that
 * set_faults accepts). */
static int p_faults(lua_State *L)
{
    mb_proxy_faults f;
    mb_proxy_get_faults(check_running(L, "faults"), &f);
    lua_newtable(L);
    if (f.latency_ms) {
        lua_pushinteger(L, f.latency_ms);
        lua_setfield(L, -2, "latency_ms");
    }
    if (f.jitter_ms) {
        lua_pushinteger(L, f.jitter_ms);
        lua_setfield(L, -2, "jitter_ms");
    }
    if (f.bandwidth) {
        lua_pushinteger(L, (lua_Integer)f.bandwidth);
        lua_setfield(L, -2, "bandwidth");
    }
    if (f.refuse) {
        lua_pushstring(L, f.refuse == MB_PROXY_REFUSE_RESET ? "reset" : "close");
        lua_setfield(L, -2, "refuse");
    }
    if (f.blackhole) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "blackhole");
    }
    if (f.reset_after_bytes >= 0) {
        lua_pushinteger(L, (lua_Integer)f.reset_after_bytes);
        lua_setfield(L, -2, "reset_after_bytes");
    }
    if (f.close_after_ms >= 0) {
        lua_pushinteger(L, (lua_Integer)f.close_after_ms);
        lua_setfield(L, -2, "close_after_ms");
    }
    return 1;
}

/* px:stats() -> a table of the counters of mb_proxy_stats. */
static int p_stats(lua_State *L)
{
    mb_proxy_stats s;
    mb_proxy_get_stats(check_running(L, "stats"), &s);
    const struct { const char *k; uint64_t v; } f[] = {
        {"accepted", s.accepted}, {"active", s.active}, {"refused", s.refused},
        {"reset", s.reset}, {"closed_after", s.closed_after}, {"blackholed", s.blackholed},
        {"upstream_failed", s.upstream_failed}, {"bytes_up", s.bytes_up},
        {"bytes_down", s.bytes_down}, {"bytes_dropped", s.bytes_dropped},
        {"delayed_chunks", s.delayed_chunks}, {"throttled", s.throttled},
        {"listener_closed", s.listener_closed}, {"dropped", s.dropped}};
    lua_createtable(L, 0, (int)(sizeof f / sizeof f[0]));
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        lua_pushinteger(L, (lua_Integer)f[i].v);
        lua_setfield(L, -2, f[i].k);
    }
    return 1;
}

/* px:stop(): idempotent; waiters wake. */
static int p_stop(lua_State *L)
{
    lproxy_stop(check_proxy(L));
    return 0;
}

/* A task cancelled in px:wait() leaves the waiter list. */
static void wait_cancel(mb_vu *vu, void *ud)
{
    lproxy *lp = ud;
    for (lwaiter **pp = &lp->waiters; *pp; pp = &(*pp)->next)
        if ((*pp)->vu == vu) {
            lwaiter *w = *pp;
            *pp = w->next;
            free(w);
            return;
        }
}

/* px:wait(): suspends the calling task until px:stop() (from another task,
 * e.g. an on_interrupt hook). Returns at once if already stopped. */
static int p_wait(lua_State *L)
{
    lproxy *lp = check_proxy(L);
    if (!lp->p)
        return 0;
    mb_vu *vu = mb_vu_require(L, "proxy:wait");
    lwaiter *w = malloc(sizeof *w);
    if (!w)
        return luaL_error(L, "proxy:wait: out of memory");
    w->vu = vu;
    w->next = lp->waiters;
    lp->waiters = w;
    return mb_vu_suspend(L, vu, wait_cancel, lp);
}

/* px:running() -> false once stopped. */
static int p_running(lua_State *L)
{
    lua_pushboolean(L, check_proxy(L)->p != NULL);
    return 1;
}

/* Fields (url, port, host, upstream) are read from C; anything else is a
 * method. */
static int p_index(lua_State *L)
{
    lproxy *lp = check_proxy(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "url") == 0)
        lua_pushstring(L, lp->url);
    else if (strcmp(k, "port") == 0)
        lua_pushinteger(L, lp->port);
    else if (strcmp(k, "host") == 0)
        lua_pushstring(L, lp->host);
    else if (strcmp(k, "upstream") == 0)
        lua_pushstring(L, lp->upstream);
    else {
        luaL_getmetatable(L, PROXY_MT);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

/* "proxy http://127.0.0.1:P -> host:port (running)" */
static int p_tostring(lua_State *L)
{
    lproxy *lp = check_proxy(L);
    lua_pushfstring(L, "proxy %s -> %s (%s)", lp->url, lp->upstream,
                    lp->p ? "running" : "stopped");
    return 1;
}

/* Only reached with a running proxy if the engine closer has not run,
 * i.e. never in practice; stop it rather than leak. */
static int p_gc(lua_State *L)
{
    lproxy *lp = check_proxy(L);
    if (lp->p)
        lproxy_stop(lp);
    return 0;
}

/* The module: start(), and the proxy object's metatable. */
int luaopen_mlxbench_proxy(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"set_faults", p_set_faults}, {"clear", p_clear}, {"faults", p_faults},
        {"stats", p_stats}, {"stop", p_stop}, {"wait", p_wait}, {"running", p_running},
        {NULL, NULL}};
    static const luaL_Reg f[] = {{"start", l_start}, {NULL, NULL}};
    if (luaL_newmetatable(L, PROXY_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, p_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, p_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, p_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

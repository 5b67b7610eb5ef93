/* l_mock.c: mlxbench.mock -- the emulated LLM server inside a script, on the
 * script's own loop.
 *
 *   local srv = require("mlxbench.mock").start{port = 0, profile = {...}}
 *   srv.url, srv.port, srv:set_faults{...}, srv:faults(), srv:stats(),
 *   srv:trace{since=, limit=, id=, wall=}, srv:reset_trace(), srv:stop(),
 *   srv:wait()   -- suspends the task until the server is stopped
 *   mock.prompt_tokens(text) -- the token rule the mock applies to prompts
 *
 * A running server is anchored in the registry (dropping the object does not
 * stop it) and listed in the engine's mock slot, whose closer stops every
 * server when the engine shuts down. The server never keeps a script alive:
 * the engine ends when no task is live, whatever handles are open. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/mock.h"
#include "mlxbench/redact.h"
#include "engine.h"

#define MOCK_MT "mlxbench.mock_server"

typedef struct lwaiter {
    mb_vu *vu;
    struct lwaiter *next;
} lwaiter;

struct mstate;

typedef struct lmock {
    mb_mock *m;               /* NULL once stopped */
    int ref;                  /* registry anchor while running */
    char url[96];
    int port;
    lwaiter *waiters;         /* tasks in srv:wait() */
    struct lmock *next;       /* the engine's running servers */
    struct mstate *st;
} lmock;

typedef struct mstate {
    mb_closer closer;
    lmock *running;
    lua_State *L;
} mstate;

/* Stops a server: out of the engine list, waiters woken, anchor released.
 * Safe to call twice. */
static void lmock_stop(lmock *lm)
{
    if (!lm->m)
        return;
    mb_mock_stop(lm->m, NULL, NULL);
    lm->m = NULL;
    for (lmock **pp = &lm->st->running; *pp; pp = &(*pp)->next)
        if (*pp == lm) {
            *pp = lm->next;
            break;
        }
    lm->next = NULL;
    while (lm->waiters) {
        lwaiter *w = lm->waiters;
        lm->waiters = w->next;
        mb_vu_wake(w->vu, 0);
        free(w);
    }
    if (lm->ref != LUA_NOREF) {
        luaL_unref(lm->st->L, LUA_REGISTRYINDEX, lm->ref);
        lm->ref = LUA_NOREF;
    }
}

/* Engine shutdown: stop every server still running. Tasks are cancelled by
 * then (so nobody waits) and Lua is about to close (so no unref). */
static void state_close(void *ud)
{
    mstate *st = ud;
    while (st->running) {
        lmock *lm = st->running;
        st->running = lm->next;
        lm->next = NULL;
        while (lm->waiters) {
            lwaiter *w = lm->waiters;
            lm->waiters = w->next;
            free(w);
        }
        mb_mock_stop(lm->m, NULL, NULL);
        lm->m = NULL;
    }
    free(st);
}

static mstate *get_state(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    mstate *st = eng->slots[MB_SLOT_MOCK];
    if (st)
        return st;
    st = calloc(1, sizeof *st);
    if (!st)
        luaL_error(L, "mock.start: out of memory");
    st->L = eng->L;
    st->closer.close = state_close;
    st->closer.ud = st;
    mb_engine_add_closer(eng, &st->closer);
    eng->slots[MB_SLOT_MOCK] = st;
    return st;
}

static lmock *check_mock(lua_State *L)
{
    return luaL_checkudata(L, 1, MOCK_MT);
}

static mb_mock *check_running(lua_State *L, const char *what)
{
    lmock *lm = check_mock(L);
    if (!lm->m)
        luaL_error(L, "mock server:%s: the server is stopped", what);
    return lm->m;
}

/* cjson.encode(v) / cjson.decode(s) through the preloaded module: one JSON
 * implementation for Lua values, the same one scripts use. */
static void cjson_call(lua_State *L, const char *fn, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getglobal(L, "require");
    lua_pushstring(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
}

/* Option value at t[k] as a JSON string: tables are encoded, strings are
 * taken as JSON text. Leaves the string on the stack; NULL if absent. */
static const char *json_opt(lua_State *L, int t, const char *k, const char *what)
{
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (ty == LUA_TTABLE) {
        cjson_call(L, "encode", -1);
        lua_remove(L, -2);
        return lua_tostring(L, -1);
    }
    if (ty != LUA_TSTRING)
        luaL_error(L, "mock.start: %s must be a table or a JSON string", what);
    return lua_tostring(L, -1);
}

static const char *str_opt(lua_State *L, int t, const char *k)
{
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (ty != LUA_TSTRING)
        luaL_error(L, "mock.start: '%s' must be a string", k);
    return lua_tostring(L, -1);   /* stays on the stack until start returns */
}

/* mock.start{port=0, host="127.0.0.1", profile=table|path|json, seed=,
 * api_key=, faults=table|json, log=false|true|"auto", control_token=} -> server.
 * Errors (bad option, port in use, bad profile) are raised: a scenario that
 * cannot host its target should stop at once with the reason. */
static int l_start(lua_State *L)
{
    mb_mock_config cfg;
    char err[256];
    int rc;
    memset(&cfg, 0, sizeof cfg);
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    static const char *const known[] = {"port", "host", "profile", "seed", "api_key", "faults",
                                        "log", "control_token", NULL};
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++)
            ok = lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), known[i]) == 0;
        if (!ok) {
            lua_pop(L, 1);
            return luaL_error(L, "mock.start: unknown option '%s'", luaL_tolstring(L, -1, NULL));
        }
        lua_pop(L, 1);
    }
    if (lua_getfield(L, 1, "port") != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 65535)
            return luaL_error(L, "mock.start: port must be an integer in 0..65535");
        cfg.port = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "seed") != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            return luaL_error(L, "mock.start: seed must be a non-negative integer");
        cfg.has_seed = 1;
        cfg.seed = (uint64_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    int ty = lua_getfield(L, 1, "log");
    if (ty == LUA_TBOOLEAN)
        cfg.log = lua_toboolean(L, -1);
    else if (ty == LUA_TSTRING && strcmp(lua_tostring(L, -1), "auto") == 0)
        cfg.log = -1;
    else if (ty != LUA_TNIL)
        return luaL_error(L, "mock.start: log must be true, false or \"auto\"");
    lua_pop(L, 1);
    cfg.host = str_opt(L, 1, "host");
    cfg.api_key = str_opt(L, 1, "api_key");
    cfg.control_token = str_opt(L, 1, "control_token");
    /* the emulator's own credentials are secrets like any key (redact.h) */
    if (cfg.api_key && strlen(cfg.api_key) >= MB_REDACT_MIN_SECRET)
        mb_redact_add_secret(cfg.api_key, strlen(cfg.api_key));
    if (cfg.control_token && strlen(cfg.control_token) >= MB_REDACT_MIN_SECRET)
        mb_redact_add_secret(cfg.control_token, strlen(cfg.control_token));
    ty = lua_getfield(L, 1, "profile");
    lua_pop(L, 1);
    if (ty == LUA_TSTRING) {
        const char *p = str_opt(L, 1, "profile");
        size_t i = strspn(p, " \t\r\n");
        if (p[i] == '{')
            cfg.profile_json = p;
        else
            cfg.profile_path = p;
    } else if (ty != LUA_TNIL) {
        cfg.profile_json = json_opt(L, 1, "profile", "profile");
    }
    cfg.faults_json = json_opt(L, 1, "faults", "faults");

    mstate *st = get_state(L);
    lmock *lm = lua_newuserdatauv(L, sizeof *lm, 0);
    memset(lm, 0, sizeof *lm);
    lm->ref = LUA_NOREF;
    lm->st = st;
    luaL_setmetatable(L, MOCK_MT);
    rc = mb_mock_start(&lm->m, mb_engine_of(L)->loop, &cfg, err, sizeof err);
    if (rc < 0)
        return luaL_error(L, "mock.start: %s", err[0] ? err : mb_strerror(rc));
    snprintf(lm->url, sizeof lm->url, "%s", mb_mock_url(lm->m));
    lm->port = mb_mock_port(lm->m);
    lm->next = st->running;
    st->running = lm;
    lua_pushvalue(L, -1);
    lm->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* srv:set_faults{...} or srv:set_faults('{"error_rate":1}'): the same
 * fields as POST /mock/faults; effective from the next request. */
static int m_set_faults(lua_State *L)
{
    mb_mock *m = check_running(L, "set_faults");
    char err[256];
    size_t len;
    if (lua_istable(L, 2))
        cjson_call(L, "encode", 2);
    else
        luaL_checktype(L, 2, LUA_TSTRING);
    const char *json = lua_tolstring(L, -1, &len);
    if (mb_mock_set_faults(m, json, len, err, sizeof err) < 0)
        return luaL_error(L, "mock server:set_faults: %s", err);
    return 0;
}

/* Decodes a malloc'd JSON document into a Lua table and frees it. */
static int push_doc(lua_State *L, char *doc, const char *what)
{
    if (!doc)
        return luaL_error(L, "mock server:%s: out of memory", what);
    lua_pushstring(L, doc);
    free(doc);
    cjson_call(L, "decode", -1);
    return 1;
}

static int m_faults(lua_State *L)
{
    return push_doc(L, mb_mock_faults_json(check_running(L, "faults")), "faults");
}

static int m_stats(lua_State *L)
{
    return push_doc(L, mb_mock_stats_json(check_running(L, "stats")), "stats");
}

/* srv:trace{since=0, limit=1000, id=nil, wall=false} -> the /mock/trace
 * document as a table ({requests = {...}, next = seq, ...}). */
static int m_trace(lua_State *L)
{
    mb_mock *m = check_running(L, "trace");
    lua_Integer since = 0, limit = 1000;
    const char *id = NULL;
    int wall = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "since") != LUA_TNIL) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
                return luaL_error(L, "mock server:trace: since must be a non-negative integer");
            since = lua_tointeger(L, -1);
        }
        if (lua_getfield(L, 2, "limit") != LUA_TNIL) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 1000000)
                return luaL_error(L, "mock server:trace: limit must be an integer in 1..1000000");
            limit = lua_tointeger(L, -1);
        }
        if (lua_getfield(L, 2, "id") != LUA_TNIL)
            id = luaL_checkstring(L, -1);
        lua_getfield(L, 2, "wall");
        wall = lua_toboolean(L, -1);
    }
    return push_doc(L, mb_mock_trace_json(m, (uint64_t)since, (size_t)limit, id, wall), "trace");
}

static int m_reset_trace(lua_State *L)
{
    mb_mock_trace_reset(check_running(L, "reset_trace"));
    return 0;
}

static int m_stop(lua_State *L)
{
    lmock_stop(check_mock(L));
    return 0;
}

static void wait_cancel(mb_vu *vu, void *ud)
{
    lmock *lm = ud;
    for (lwaiter **pp = &lm->waiters; *pp; pp = &(*pp)->next)
        if ((*pp)->vu == vu) {
            lwaiter *w = *pp;
            *pp = w->next;
            free(w);
            return;
        }
}

/* srv:wait(): suspends the calling task until srv:stop() (from another task
 * such as an on_interrupt hook). Returns at once if already stopped. */
static int m_wait(lua_State *L)
{
    lmock *lm = check_mock(L);
    if (!lm->m)
        return 0;
    mb_vu *vu = mb_vu_require(L, "mock server:wait");
    lwaiter *w = malloc(sizeof *w);
    if (!w)
        return luaL_error(L, "mock server:wait: out of memory");
    w->vu = vu;
    w->next = lm->waiters;
    lm->waiters = w;
    return mb_vu_suspend(L, vu, wait_cancel, lm);
}

static int m_running(lua_State *L)
{
    lua_pushboolean(L, check_mock(L)->m != NULL);
    return 1;
}

static int m_index(lua_State *L)
{
    lmock *lm = check_mock(L);
    const char *k = luaL_checkstring(L, 2);
    if (strcmp(k, "url") == 0)
        lua_pushstring(L, lm->url);
    else if (strcmp(k, "port") == 0)
        lua_pushinteger(L, lm->port);
    else {
        luaL_getmetatable(L, MOCK_MT);
        lua_getfield(L, -1, "methods");
        lua_getfield(L, -1, k);
    }
    return 1;
}

static int m_tostring(lua_State *L)
{
    lmock *lm = check_mock(L);
    lua_pushfstring(L, "mock server %s (%s)", lm->url, lm->m ? "running" : "stopped");
    return 1;
}

/* Only reached with a running server if the engine closer has not run,
 * i.e. never in practice; stop it rather than leak. */
static int m_gc(lua_State *L)
{
    lmock *lm = check_mock(L);
    if (lm->m)
        lmock_stop(lm);
    return 0;
}

/* mock.prompt_tokens(text) -> ceil(chars / 4), the rule of docs/MOCK.md. */
static int l_prompt_tokens(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushinteger(L, (lua_Integer)mb_mock_prompt_tokens(s, n));
    return 1;
}

/* mock.running_ports() -> {port...}: the emulators running in this
 * process (a benchmark against one needs two descriptors per connection). */
static int l_running_ports(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    mstate *st = eng->slots[MB_SLOT_MOCK];
    int i = 0;
    lua_newtable(L);
    for (lmock *lm = st ? st->running : NULL; lm; lm = lm->next) {
        lua_pushinteger(L, lm->port);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int luaopen_mlxbench_mock(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"set_faults", m_set_faults}, {"faults", m_faults}, {"stats", m_stats},
        {"trace", m_trace}, {"reset_trace", m_reset_trace}, {"stop", m_stop},
        {"wait", m_wait}, {"running", m_running}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"start", l_start}, {"prompt_tokens", l_prompt_tokens},
        {"running_ports", l_running_ports}, {NULL, NULL}};
    if (luaL_newmetatable(L, MOCK_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "methods");
        lua_pushcfunction(L, m_index);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, m_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, m_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

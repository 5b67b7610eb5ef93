/* l_sse.c: mlxbench.sse -- the incremental SSE parser for Lua scripts. */
#include <lauxlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/sse.h"
#include "engine.h"

#define SSE_MT "mlxbench.sse_parser"

typedef struct { mb_sse p; int finished; } lsse;

static lsse *check_sse(lua_State *L)
{
    return luaL_checkudata(L, 1, SSE_MT);
}

/* Pushes {event=, data=, id=?, retry=?} for one event. */
static void push_event(lua_State *L, const mb_sse_event *ev)
{
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, ev->type, ev->type_len);
    lua_setfield(L, -2, "event");
    lua_pushlstring(L, ev->data, ev->data_len);
    lua_setfield(L, -2, "data");
    if (ev->id_len) {
        lua_pushlstring(L, ev->id, ev->id_len);
        lua_setfield(L, -2, "id");
    }
    if (ev->retry >= 0) {
        lua_pushinteger(L, ev->retry);
        lua_setfield(L, -2, "retry");
    }
}

/* Appends each event to the table at stack top. Runs inside mb_sse_feed, so
 * it must not raise: the table has room (lua_rawseti cannot fail short of
 * memory, which Lua reports as its own error). */
static int collect(void *ud, const mb_sse_event *ev)
{
    lua_State *L = ud;
    push_event(L, ev);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* sse.parser{max_line = 1<<20} */
static int l_parser(lua_State *L)
{
    lua_Integer max_line = 0;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_getfield(L, 1, "max_line") != LUA_TNIL) {
            if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
                return luaL_error(L, "sse.parser: max_line must be a positive integer");
            max_line = lua_tointeger(L, -1);
        }
        lua_pop(L, 1);
    }
    lsse *u = lua_newuserdatauv(L, sizeof *u, 0);
    mb_sse_init(&u->p, (size_t)max_line);
    u->finished = 0;
    luaL_setmetatable(L, SSE_MT);
    return 1;
}

/* p:feed(bytes) -> events | nil, message (line over max_line: sticky). */
static int p_feed(lua_State *L)
{
    lsse *u = check_sse(L);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (u->finished)
        return luaL_error(L, "sse parser: feed after finish");
    lua_newtable(L);
    int rc = mb_sse_feed(&u->p, s, n, collect, L);
    if (rc < 0) {
        lua_pushnil(L);
        if (rc == MB_ETOOLONG)
            lua_pushfstring(L, "sse: line exceeds max_line (%I bytes)", (lua_Integer)u->p.max_line);
        else
            lua_pushfstring(L, "sse: %s", mb_strerror(rc));
        return 2;
    }
    return 1;
}

static int keep_partial(void *ud, const mb_sse_event *ev)
{
    push_event(ud, ev);
    return 0;
}

/* p:finish() -> events (always empty: the spec drops an unterminated event),
 * truncated (true if the stream ended mid-event), partial (that event, if it
 * had data, for lenient callers). */
static int p_finish(lua_State *L)
{
    lsse *u = check_sse(L);
    if (u->finished)
        return luaL_error(L, "sse parser: finish called twice");
    u->finished = 1;
    lua_newtable(L);
    int top = lua_gettop(L);
    int truncated = mb_sse_finish(&u->p, keep_partial, L);
    int has_partial = lua_gettop(L) > top;
    lua_pushboolean(L, truncated != 0);   /* a sticky error also ends mid-event */
    if (has_partial)
        lua_rotate(L, -2, 1);   /* events, truncated, partial */
    return has_partial ? 3 : 2;
}

static int p_gc(lua_State *L)
{
    mb_sse_free(&check_sse(L)->p);
    return 0;
}

int luaopen_mlxbench_sse(lua_State *L)
{
    static const luaL_Reg m[] = {{"feed", p_feed}, {"finish", p_finish}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"parser", l_parser}, {NULL, NULL}};
    if (luaL_newmetatable(L, SSE_MT)) {
        luaL_newlib(L, m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, p_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

/* l_dataset.c: mlxbench._dataset -- the streaming JSON array splitter, so
 * Lua can read a multi-GB dataset file block by block. */
#include <lauxlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/jsplit.h"
#include "engine.h"

#define SPLIT_MT "mlxbench.jsplit"

static int collect(void *ud, const char *e, size_t len)
{
    lua_State *L = ud;
    lua_pushlstring(L, e, len);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    return 0;
}

/* splitter([max_elem]) -> s;  s:feed(block) -> {elements} | nil, message;
 * s:done() -> whether the array's closing bracket was seen */
static int l_splitter(lua_State *L)
{
    lua_Integer max = luaL_optinteger(L, 1, 0);
    luaL_argcheck(L, max >= 0, 1, "max_elem must be >= 0");
    mb_jsplit *s = lua_newuserdatauv(L, sizeof *s, 0);
    mb_jsplit_init(s, (size_t)max);
    luaL_setmetatable(L, SPLIT_MT);
    return 1;
}

static int s_feed(lua_State *L)
{
    mb_jsplit *s = luaL_checkudata(L, 1, SPLIT_MT);
    size_t n;
    const char *p = luaL_checklstring(L, 2, &n);
    lua_newtable(L);
    int rc = mb_jsplit_feed(s, p, n, collect, L);
    if (rc < 0) {
        lua_pushnil(L);
        lua_pushstring(L, rc == MB_EPARSE ? "not a JSON array (or bytes after its end)"
                          : rc == MB_ETOOLONG ? "an element exceeds the size limit"
                          : mb_strerror(rc));
        return 2;
    }
    return 1;
}

static int s_done(lua_State *L)
{
    lua_pushboolean(L, mb_jsplit_done(luaL_checkudata(L, 1, SPLIT_MT)));
    return 1;
}

static int s_gc(lua_State *L)
{
    mb_jsplit_free(luaL_checkudata(L, 1, SPLIT_MT));
    return 0;
}

int luaopen_mlxbench_dataset(lua_State *L)
{
    static const luaL_Reg m[] = {{"feed", s_feed}, {"done", s_done}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"splitter", l_splitter}, {NULL, NULL}};
    if (luaL_newmetatable(L, SPLIT_MT)) {
        luaL_newlib(L, m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, s_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

/* l_redact.c: mlxbench._redact -- the redactor (core/redact.c) for Lua, and
 * the engine's output paths routed through it.
 *
 *   _redact.add(secret)        register a key (targets do, for every key,
 *                              URL credential and secret header value)
 *   _redact.add_name(name)     a header/parameter name whose values are secret
 *   _redact.is_secret_name(n)  -> bool
 *   _redact.text(s)            -> s for a message: known secrets + shapes
 *   _redact.known(s)           -> s with the known secrets only (files)
 *   _redact.url(s)             -> a URL for display: no user info, secret
 *                              parameter values REDACTED
 *   _redact.count()            -> secrets registered
 *
 * mb_redact_install_io() wraps print, io.write and every file handle's
 * write: bytes for stderr get MB_REDACT_TEXT, everything else (stdout,
 * results files, reports) MB_REDACT_KNOWN -- a results file must stay
 * byte-exact apart from secrets, and shapes could match its encodings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include <lualib.h>
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"
#include "engine.h"

/* Replaces the string at index i with its redaction (if any). */
static void redact_at(lua_State *L, int i, int flags)
{
    size_t n, outlen;
    char *out;
    const char *s;
    i = lua_absindex(L, i);
    s = lua_tolstring(L, i, &n);
    int rc = mb_redact(s, n, flags, &out, &outlen);
    if (rc == 1) {
        lua_pushlstring(L, out, outlen);
        free(out);
        lua_replace(L, i);
    } else if (rc < 0) {
        luaL_error(L, "out of memory while redacting output");
    }
}

static int redact_with(lua_State *L, int flags)
{
    luaL_checkstring(L, 1);
    lua_settop(L, 1);
    redact_at(L, 1, flags);
    return 1;
}

static int l_text(lua_State *L) { return redact_with(L, MB_REDACT_TEXT); }
static int l_known(lua_State *L) { return redact_with(L, MB_REDACT_KNOWN); }
static int l_url(lua_State *L) { return redact_with(L, MB_REDACT_TEXT | MB_REDACT_URL); }

/* add(secret): strings shorter than 4 bytes are ignored (not an error: an
 * empty or tiny key cannot be told from ordinary text). */
static int l_add(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n >= MB_REDACT_MIN_SECRET && mb_redact_add_secret(s, n) == MB_ENOMEM)
        return luaL_error(L, "out of memory");
    return 0;
}

static int l_add_name(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (mb_redact_add_name(s, n) < 0)
        return luaL_error(L, "secret header name '%s' not accepted (1..128 bytes, at most 64 names)",
                          s);
    return 0;
}

static int l_is_secret_name(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, mb_redact_secret_name(s, n));
    return 1;
}

static int l_count(lua_State *L)
{
    lua_pushinteger(L, mb_redact_count());
    return 1;
}

int luaopen_mlxbench_redact(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"add", l_add}, {"add_name", l_add_name}, {"is_secret_name", l_is_secret_name},
        {"text", l_text}, {"known", l_known}, {"url", l_url}, {"count", l_count},
        {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

/* ---- output paths ---------------------------------------------------------- */

/* The first error writing to stdout (an errno), for the exit check. */
static int out_errno;

int mb_output_errno(void)
{
    return out_errno;
}

/* file:write(...) -- upvalue 1 is liolib's own write. */
static int f_write(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    FILE *fp = p->f;
    int flags = fp == stderr ? MB_REDACT_TEXT : MB_REDACT_KNOWN, n = lua_gettop(L);
    for (int i = 2; i <= n; i++)
        if (lua_type(L, i) == LUA_TSTRING)
            redact_at(L, i, flags);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    if (fp == stdout && lua_isnil(L, 1) && lua_isinteger(L, 3) && !out_errno)
        out_errno = (int)lua_tointeger(L, 3);
    return lua_gettop(L);
}

/* file:flush() -- upvalue 1 is liolib's own flush; a failure on stdout is
 * remembered like a failed write. */
static int f_flush(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    FILE *fp = p->f;
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    if (fp == stdout && lua_isnil(L, 1) && lua_isinteger(L, 3) && !out_errno)
        out_errno = (int)lua_tointeger(L, 3);
    return lua_gettop(L);
}

/* io.write(...) = io.output():write(...), through f_write. */
static int io_write(lua_State *L)
{
    int n = lua_gettop(L);
    lua_getglobal(L, "io");
    lua_getfield(L, -1, "output");
    lua_remove(L, -2);
    lua_call(L, 0, 1);                  /* the default output file */
    lua_getfield(L, -1, "write");
    lua_insert(L, 1);
    lua_insert(L, 2);                   /* write file args... */
    lua_call(L, n + 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* print(...) as Lua's, with the line redacted before it reaches stdout. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    redact_at(L, -1, MB_REDACT_KNOWN);
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if ((fwrite(s, 1, len, stdout) != len || fflush(stdout) != 0) && !out_errno)
        out_errno = errno;
    return 0;
}

void mb_redact_install_io(lua_State *L)
{
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
    if (luaL_getmetatable(L, LUA_FILEHANDLE) == LUA_TTABLE) {
        if (lua_getfield(L, -1, "__index") == LUA_TTABLE) {
            lua_getfield(L, -1, "write");
            lua_pushcclosure(L, f_write, 1);
            lua_setfield(L, -2, "write");
            lua_getfield(L, -1, "flush");
            lua_pushcclosure(L, f_flush, 1);
            lua_setfield(L, -2, "flush");
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getglobal(L, "io");
    if (lua_istable(L, -1)) {
        lua_pushcfunction(L, io_write);
        lua_setfield(L, -2, "write");
    }
    lua_pop(L, 1);
}

/* The well-known key variables are secrets even when no target reads them
 * (a script may print the environment; a server may echo what it got). */
void mb_redact_register_env(void)
{
    static const char *const vars[] = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                       "MLXBENCH_MOCK_CONTROL_TOKEN", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && strlen(v) >= MB_REDACT_MIN_SECRET)
            mb_redact_add_secret(v, strlen(v));
    }
}

/* Writes prefix, msg and a newline to stderr, msg redacted as a message:
 * for the engine's own reports of Lua errors, which quote URLs and values. */
void mb_redact_eputs(const char *prefix, const char *msg)
{
    char *out = NULL;
    size_t n;
    if (!msg)
        msg = "(no message)";
    if (mb_redact(msg, strlen(msg), MB_REDACT_TEXT, &out, &n) != 1)
        out = NULL;
    fprintf(stderr, "%s%s\n", prefix, out ? out : msg);
    free(out);
}

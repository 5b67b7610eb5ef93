/* l_http_opts.c: the options of a mlxbench._http request, checked.
 *
 * start(opts) reads its table here into an mb_req_opts: unknown option
 * names, values of the wrong type, a URL that is not http(s), a method or
 * header that is not a valid HTTP token or carries CR/LF/NUL are refused
 * with a one-line message naming the option, before anything is sent. */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <lauxlib.h>
#include "mlxbench/defaults.h"
#include "l_http_int.h"

#define MAX_HEADERS 1024

/* A header name is an HTTP token. */
static int is_token(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 32 || ch >= 127 || strchr("()<>@,;:\\\"/[]?={}", ch))
            return 0;
    }
    return 1;
}

/* Appends "name: value" (checked) to the line table at index `lines`.
 * Returns NULL, or a static error message (the stack is left as found). */
static const char *add_header(lua_State *L, int lines, int ki, int vi)
{
    size_t nl, vl;
    if (lua_type(L, ki) != LUA_TSTRING)
        return "header names must be strings";
    if (lua_type(L, vi) != LUA_TSTRING && lua_type(L, vi) != LUA_TNUMBER)
        return "header values must be strings or numbers";
    const char *n = lua_tolstring(L, ki, &nl);
    const char *v = (lua_pushvalue(L, vi), luaL_tolstring(L, -1, &vl));
    lua_remove(L, -2);
    if (!is_token(n, nl)) {
        lua_pop(L, 1);
        return "a header name is empty or has characters not allowed in a header name";
    }
    for (size_t i = 0; i < vl; i++)
        if (v[i] == '\r' || v[i] == '\n' || v[i] == 0) {
            lua_pop(L, 1);
            return "header values must not contain CR, LF or NUL";
        }
    if (lua_rawlen(L, lines) >= MAX_HEADERS) {
        lua_pop(L, 1);
        return "too many headers";
    }
    lua_pushfstring(L, "%s: %s", n, v);
    lua_rawseti(L, lines, (lua_Integer)lua_rawlen(L, lines) + 1);
    lua_pop(L, 1);
    return NULL;
}

/* headers = {Name = value, ...} or {"Name: value", {name, value}, ...}:
 * fills the line table at index `lines`. */
static const char *collect_headers(lua_State *L, int hi, int lines)
{
    const char *err = NULL;
    lua_pushnil(L);
    while (!err && lua_next(L, hi)) {
        int top = lua_gettop(L);
        if (lua_type(L, top - 1) == LUA_TNUMBER && lua_type(L, top) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, top, &n);
            const char *colon = memchr(s, ':', n);
            if (!colon) {
                err = "a header line must look like 'Name: value'";
            } else {
                lua_pushlstring(L, s, (size_t)(colon - s));
                const char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                    v++;
                lua_pushstring(L, v);
                err = add_header(L, lines, top + 1, top + 2);
                lua_pop(L, 2);
            }
        } else if (lua_type(L, top - 1) == LUA_TNUMBER && lua_type(L, top) == LUA_TTABLE) {
            lua_rawgeti(L, top, 1);
            lua_rawgeti(L, top, 2);
            err = add_header(L, lines, top + 1, top + 2);
            lua_pop(L, 2);
        } else {
            err = add_header(L, lines, top - 1, top);
        }
        lua_pop(L, 1);
    }
    if (err)
        lua_pop(L, 1);   /* the key lua_next left */
    return err;
}

/* Seconds (number > 0) to ms, rounded up so a tiny timeout is not "none". */
static const char *opt_seconds(lua_State *L, int t, const char *k, long *ms)
{
    int ty = lua_getfield(L, t, k);
    const char *err = NULL;
    if (ty != LUA_TNIL) {
        double s = lua_tonumber(L, -1);
        if (ty != LUA_TNUMBER || !(s > 0) || s > 1e7)
            err = "must be a number of seconds > 0";
        else
            *ms = (long)ceil(s * 1000.0);
    }
    lua_pop(L, 1);
    return err;
}

/* A boolean option; absent leaves *v alone. */
static const char *opt_bool(lua_State *L, int t, const char *k, int *v)
{
    int ty = lua_getfield(L, t, k);
    const char *err = NULL;
    if (ty == LUA_TBOOLEAN)
        *v = lua_toboolean(L, -1);
    else if (ty != LUA_TNIL)
        err = "must be a boolean";
    lua_pop(L, 1);
    return err;
}

/* A string option, left on the stack (anchored) when present. */
static const char *opt_string(lua_State *L, int t, const char *k, const char **v, size_t *len)
{
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (ty != LUA_TSTRING) {
        lua_pop(L, 1);
        return "must be a string";
    }
    *v = lua_tolstring(L, -1, len);
    return NULL;
}

/* A byte count option (positive integer); absent leaves *v alone. */
static const char *opt_size(lua_State *L, int t, const char *k, size_t *v)
{
    int ty = lua_getfield(L, t, k);
    const char *err = NULL;
    if (ty != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
            err = "must be a positive integer (bytes)";
        else
            *v = (size_t)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return err;
}

/* Every option start() reads. */
static const char *const known_opts[] = {
    "method", "url", "headers", "body", "timeout", "connect_timeout", "stream",
    "on_event", "http2", "insecure", "cacert", "max_body", "max_line",
    "accept_encoding", "proxy", NULL};

/* Rejects option names nobody reads: a typo must not pass silently. */
static const char *check_keys(lua_State *L, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; known_opts[i] && !known; i++)
                known = strcmp(known_opts[i], lua_tostring(L, -1)) == 0;
        if (!known) {
            const char *m = lua_pushfstring(L, "unknown option '%s'", luaL_tolstring(L, -1, NULL));
            lua_replace(L, -3);
            lua_pop(L, 1);
            return m;   /* left on the stack */
        }
    }
    return NULL;
}

/* Reads and checks the options table at index 1 into `o`. Strings stay
 * anchored on the stack above index 1. Returns NULL or an error message. */
const char *mb_lhttp_read_opts(lua_State *L, mb_req_opts *o, int *lines)
{
    const char *e, *k = NULL;
    size_t n;
    if ((e = check_keys(L, 1)))
        return e;
    lua_newtable(L);
    *lines = lua_gettop(L);
#define TRY(key, call) do { k = key; if ((e = (call))) goto bad; } while (0)
    TRY("url", opt_string(L, 1, "url", &o->url, &n));
    if (!o->url)
        return "the url option is required";
    if (!(strncasecmp(o->url, "http://", 7) == 0 && o->url[7])
        && !(strncasecmp(o->url, "https://", 8) == 0 && o->url[8]))
        return lua_pushfstring(L, "url '%s' is not an http:// or https:// URL", o->url);
    TRY("method", opt_string(L, 1, "method", &o->method, &n));
    if (o->method) {
        luaL_Buffer b;
        char *m = luaL_buffinitsize(L, &b, n);
        for (size_t i = 0; i < n; i++)
            m[i] = (o->method[i] >= 'a' && o->method[i] <= 'z') ? (char)(o->method[i] - 32)
                                                                : o->method[i];
        luaL_pushresultsize(&b, n);
        o->method = lua_tostring(L, -1);
        if (!is_token(o->method, n))
            return lua_pushfstring(L, "method '%s' is not a valid HTTP method", o->method);
    }
    TRY("body", opt_string(L, 1, "body", &o->body, &o->body_len));
    TRY("timeout", opt_seconds(L, 1, "timeout", &o->timeout_ms));
    TRY("connect_timeout", opt_seconds(L, 1, "connect_timeout", &o->connect_timeout_ms));
    if (!o->connect_timeout_ms)   /* libcurl's own (300 s) would hide a dead host */
        o->connect_timeout_ms = MB_DEFAULT_CONNECT_TIMEOUT_S * 1000L;
    TRY("stream", opt_bool(L, 1, "stream", &o->stream));
    TRY("http2", opt_bool(L, 1, "http2", &o->http2));
    TRY("insecure", opt_bool(L, 1, "insecure", &o->insecure));
    TRY("cacert", opt_string(L, 1, "cacert", &o->cacert, &n));
    TRY("proxy", opt_string(L, 1, "proxy", &o->proxy, &n));
    TRY("max_body", opt_size(L, 1, "max_body", &o->max_body));
    TRY("max_line", opt_size(L, 1, "max_line", &o->max_line));
    k = "accept_encoding";
    int ty = lua_getfield(L, 1, "accept_encoding");
    if (ty == LUA_TBOOLEAN)
        o->accept_encoding = lua_toboolean(L, -1) ? "" : NULL;
    else if (ty == LUA_TSTRING)
        o->accept_encoding = lua_tostring(L, -1);
    else if (ty != LUA_TNIL)
        goto bad_type;
    k = "on_event";
    ty = lua_getfield(L, 1, "on_event");
    if (ty != LUA_TNIL && ty != LUA_TFUNCTION)
        return "option 'on_event' must be a function";
    if (ty == LUA_TFUNCTION && !o->stream)
        return "option 'on_event' needs stream = true";
    k = "headers";
    ty = lua_getfield(L, 1, "headers");
    if (ty == LUA_TTABLE) {
        if ((e = collect_headers(L, lua_gettop(L), *lines)))
            return lua_pushfstring(L, "option 'headers': %s", e);
    } else if (ty != LUA_TNIL) {
        return "option 'headers' must be a table";
    }
#undef TRY
    return NULL;
bad_type:
    e = "must be a string or a boolean";
bad:
    return lua_pushfstring(L, "option '%s' %s", k, e);
}

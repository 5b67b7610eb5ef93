/* l_prom.c: mlxbench._prom -- the Prometheus text parser (src/core/prom.c)
 * for the server-metrics scraper (mlxbench.scrape) and the probe.
 *
 *   local prom = require "mlxbench._prom"
 *   local keep = assert(prom.matcher("node_cpu_.*"))   -- PCRE2, anchored
 *   local samples, info = prom.parse(text, { names = { ["vllm:num_requests_running"] = true },
 *                                            keep = keep, openmetrics = false })
 *
 * Only the samples asked for become Lua tables (a node_exporter scrape has
 * ~500 samples; a run keeps a handful), so a scrape every half second costs
 * the parse and little else. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <lauxlib.h>
#include "mlxbench/prom.h"
#include "engine.h"

#define MATCHER_MT "mlxbench.prom_matcher"

typedef struct matcher {
    pcre2_code *re;
    pcre2_match_data *md;
} matcher;

static int matcher_gc(lua_State *L)
{
    matcher *m = luaL_checkudata(L, 1, MATCHER_MT);
    if (m->md)
        pcre2_match_data_free(m->md);
    if (m->re)
        pcre2_code_free(m->re);
    m->md = NULL;
    m->re = NULL;
    return 0;
}

static int matches(matcher *m, const char *s, size_t n)
{
    return pcre2_match(m->re, (PCRE2_SPTR)s, n, 0, 0, m->md, NULL) >= 0;
}

/* prom.matcher(regex) -> matcher | nil, message. The regex must match a
 * whole metric name (anchored at both ends, as Prometheus's relabelling
 * regexes are). */
static int l_matcher(lua_State *L)
{
    size_t n;
    const char *pat = luaL_checklstring(L, 1, &n);
    int code;
    PCRE2_SIZE off;
    matcher *m = lua_newuserdatauv(L, sizeof *m, 0);
    m->re = NULL;
    m->md = NULL;
    luaL_setmetatable(L, MATCHER_MT);
    m->re = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF,
                          &code, &off, NULL);
    if (!m->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        lua_pushnil(L);
        lua_pushfstring(L, "%s at offset %d", (const char *)msg, (int)off);
        return 2;
    }
    m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
    if (!m->md)
        return luaL_error(L, "prom.matcher: out of memory");
    return 1;
}

/* matcher:match(name) -> boolean */
static int l_match(lua_State *L)
{
    matcher *m = luaL_checkudata(L, 1, MATCHER_MT);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    lua_pushboolean(L, m->re && matches(m, s, n));
    return 1;
}

typedef struct pctx {
    lua_State *L;
    int names;        /* stack index of the names set, or 0 */
    int out;          /* stack index of the result list */
    matcher *keep;    /* or NULL */
    lua_Integer kept;
} pctx;

/* Whether a sample is wanted: its name or its family in `names`, or its
 * name matched by `keep`. With neither, every sample is. */
static int wanted(pctx *c, const mb_prom_sample *s)
{
    lua_State *L = c->L;
    if (!c->names && !c->keep)
        return 1;
    if (c->names) {
        lua_pushlstring(L, s->name, s->name_len);
        int hit = lua_rawget(L, c->names) != LUA_TNIL;
        lua_pop(L, 1);
        if (!hit && s->family_len != s->name_len) {
            lua_pushlstring(L, s->family, s->family_len);
            hit = lua_rawget(L, c->names) != LUA_TNIL;
            lua_pop(L, 1);
        }
        if (hit)
            return 1;
    }
    return c->keep && matches(c->keep, s->name, s->name_len);
}

/* Appends {name, labels, value, type, family, suffix, ts_ms} for a wanted
 * sample. A Lua memory error unwinds out of mb_prom_parse, which holds
 * nothing that needs freeing. */
static int on_sample(void *ud, const mb_prom_sample *s)
{
    pctx *c = ud;
    lua_State *L = c->L;
    if (!wanted(c, s))
        return 0;
    lua_createtable(L, 0, 7);
    lua_pushlstring(L, s->name, s->name_len);
    lua_setfield(L, -2, "name");
    lua_newtable(L);
    mb_prom_labels it;
    const char *ln;
    size_t lnl, vl;
    char val[512];
    mb_prom_labels_init(&it, s);
    while (mb_prom_labels_next(&it, &ln, &lnl, val, sizeof val, &vl) > 0) {
        lua_pushlstring(L, ln, lnl);
        lua_pushlstring(L, val, vl < sizeof val ? vl : sizeof val - 1);
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, "labels");
    lua_pushnumber(L, s->value);
    lua_setfield(L, -2, "value");
    lua_pushstring(L, mb_prom_type_name(s->type));
    lua_setfield(L, -2, "type");
    lua_pushlstring(L, s->family, s->family_len);
    lua_setfield(L, -2, "family");
    if (s->suffix[0]) {
        lua_pushstring(L, s->suffix);
        lua_setfield(L, -2, "suffix");
    }
    if (s->has_ts) {
        lua_pushinteger(L, (lua_Integer)s->ts_ms);
        lua_setfield(L, -2, "ts_ms");
    }
    lua_rawseti(L, c->out, ++c->kept);
    return 0;
}

/* prom.parse(text [, {names = set, keep = matcher, openmetrics = bool}])
 * -> samples, {samples = all parsed, kept, errors, lines, first_error} */
static int l_parse(lua_State *L)
{
    size_t n;
    const char *text = luaL_checklstring(L, 1, &n);
    pctx c = {L, 0, 0, NULL, 0};
    int flags = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "names") != LUA_TNIL) {
            luaL_argcheck(L, lua_istable(L, -1), 2, "names must be a set of metric names");
            c.names = lua_gettop(L);
        } else
            lua_pop(L, 1);
        if (lua_getfield(L, 2, "keep") != LUA_TNIL)
            c.keep = luaL_checkudata(L, -1, MATCHER_MT);
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "openmetrics") != LUA_TNIL && lua_toboolean(L, -1))
            flags |= MB_PROM_OPENMETRICS;
        lua_pop(L, 1);
    }
    lua_newtable(L);
    c.out = lua_gettop(L);
    mb_prom_result r;
    mb_prom_parse(text, n, flags, on_sample, &c, &r);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, r.samples);
    lua_setfield(L, -2, "samples");
    lua_pushinteger(L, c.kept);
    lua_setfield(L, -2, "kept");
    lua_pushinteger(L, r.errors);
    lua_setfield(L, -2, "errors");
    lua_pushinteger(L, r.lines);
    lua_setfield(L, -2, "lines");
    if (r.errors) {
        lua_pushfstring(L, "line %d: %s", (int)r.first_error_line, r.first_error);
        lua_setfield(L, -2, "first_error");
    }
    return 2;
}

int luaopen_mlxbench_prom(lua_State *L)
{
    static const luaL_Reg mm[] = {{"match", l_match}, {"__gc", matcher_gc}, {NULL, NULL}};
    static const luaL_Reg f[] = {{"matcher", l_matcher}, {"parse", l_parse}, {NULL, NULL}};
    luaL_newmetatable(L, MATCHER_MT);
    luaL_setfuncs(L, mm, 0);
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

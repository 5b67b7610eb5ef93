/* l_stats.c: mlxbench.stats -- histograms for Lua (wrapping core/hist). */
#include <stdint.h>
#include <stdlib.h>
#include <lauxlib.h>
#include <zlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/hist.h"
#include "engine.h"

#define HIST_MT "mlxbench.histogram"

/* Shared with other bindings (ITL recorded in C from mlxbench.llm). */

typedef struct { mb_hist *h; } lhist;

mb_hist *mb_lstats_check(lua_State *L, int i)
{
    lhist *u = luaL_checkudata(L, i, HIST_MT);
    luaL_argcheck(L, u->h != NULL, i, "histogram already freed");
    return u->h;
}

/* Wraps an existing mb_hist (takes ownership) as a Lua object. */
static void push_hist(lua_State *L, mb_hist *h)
{
    lhist *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->h = h;
    luaL_setmetatable(L, HIST_MT);
}

static lua_Number opt_field(lua_State *L, int t, const char *k, lua_Number def)
{
    lua_Number v = def;
    if (lua_getfield(L, t, k) != LUA_TNIL) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "histogram: option '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* stats.histogram{lowest=1e-6, highest=3600, digits=3} */
static int l_histogram(lua_State *L)
{
    double lo = 1e-6, hi = 3600;
    int digits = 3;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lo = opt_field(L, 1, "lowest", lo);
        hi = opt_field(L, 1, "highest", hi);
        digits = (int)opt_field(L, 1, "digits", digits);
    }
    mb_hist *h;
    int rc = mb_hist_new(&h, lo, hi, digits);
    if (rc < 0)
        return luaL_error(L, "histogram: invalid settings (need 0 < lowest, 2*lowest <= highest, "
                             "digits 1..5): %s", mb_strerror(rc));
    push_hist(L, h);
    return 1;
}

/* h:record(v [, count]) */
static int h_record(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1);
    double v = luaL_checknumber(L, 2);
    lua_Integer n = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, n >= 0, 3, "count must be >= 0");
    if (mb_hist_record(h, v, (uint64_t)n) < 0)
        return luaL_argerror(L, 2, "value must be finite and >= 0");
    return 0;
}

static int h_count(lua_State *L) { lua_pushinteger(L, (lua_Integer)mb_hist_count(mb_lstats_check(L, 1))); return 1; }
static int h_min(lua_State *L) { lua_pushnumber(L, mb_hist_min(mb_lstats_check(L, 1))); return 1; }
static int h_max(lua_State *L) { lua_pushnumber(L, mb_hist_max(mb_lstats_check(L, 1))); return 1; }
static int h_mean(lua_State *L) { lua_pushnumber(L, mb_hist_mean(mb_lstats_check(L, 1))); return 1; }
static int h_stddev(lua_State *L) { lua_pushnumber(L, mb_hist_stddev(mb_lstats_check(L, 1))); return 1; }
static int h_reset(lua_State *L) { mb_hist_reset(mb_lstats_check(L, 1)); return 0; }

static int h_percentile(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1);
    double p = luaL_checknumber(L, 2);
    luaL_argcheck(L, p >= 0 && p <= 100, 2, "percentile must be in 0..100");
    lua_pushnumber(L, mb_hist_percentile(h, p));
    return 1;
}

static int h_merge(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1), *o = mb_lstats_check(L, 2);
    if (mb_hist_merge(h, o) < 0)
        return luaL_error(L, "histogram:merge: out of memory");
    lua_settop(L, 1);
    return 1;
}

static int h_encode(lua_State *L)
{
    char *s;
    size_t n;
    if (mb_hist_encode(mb_lstats_check(L, 1), &s, &n) < 0)
        return luaL_error(L, "histogram:encode: out of memory");
    lua_pushlstring(L, s, n);
    free(s);
    return 1;
}

/* Standard base64 (RFC 4648, padded) of n bytes, pushed as a Lua string. */
static void push_base64(lua_State *L, const unsigned char *in, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    luaL_Buffer b;
    char *o = luaL_buffinitsize(L, &b, (n + 2) / 3 * 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        o[k++] = A[v >> 18];
        o[k++] = A[(v >> 12) & 63];
        o[k++] = i + 1 < n ? A[(v >> 6) & 63] : '=';
        o[k++] = i + 2 < n ? A[v & 63] : '=';
    }
    luaL_pushresultsize(&b, k);
}

/* h:hdr() -> the histogram as an HdrHistogram interval-log payload: the V2
 * encoding (core/hist_hdr.c) deflated with zlib behind the compressed
 * cookie and its length, in base64 -- what HdrHistogram's log readers take. */
static int h_hdr(lua_State *L)
{
    unsigned char *raw, *z = NULL;
    size_t n;
    if (mb_hist_hdr_encode(mb_lstats_check(L, 1), &raw, &n) < 0)
        return luaL_error(L, "histogram:hdr: out of memory");
    uLongf zn = compressBound((uLong)n);
    z = malloc(8 + zn);
    int zrc = z ? compress2(z + 8, &zn, raw, (uLong)n, Z_DEFAULT_COMPRESSION) : Z_MEM_ERROR;
    free(raw);
    if (zrc != Z_OK) {
        free(z);
        return luaL_error(L, "histogram:hdr: compression failed (zlib %d)", zrc);
    }
    static const uint32_t cookie = 0x1c849314u;   /* V2 compressed, word size 1 */
    for (int i = 0; i < 4; i++) {
        z[i] = (unsigned char)(cookie >> (24 - 8 * i));
        z[4 + i] = (unsigned char)((uint32_t)zn >> (24 - 8 * i));
    }
    push_base64(L, z, 8 + (size_t)zn);
    free(z);
    return 1;
}

/* h:summary() -> {count, mean, stddev, min, max, p50, p90, p95, p99, p999}
 * -- the shape of every metric in the results file. */
static int h_summary(lua_State *L)
{
    static const struct { const char *k; double p; } ps[] = {
        {"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p999", 99.9}};
    mb_hist *h = mb_lstats_check(L, 1);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, (lua_Integer)mb_hist_count(h));
    lua_setfield(L, -2, "count");
    lua_pushnumber(L, mb_hist_mean(h));
    lua_setfield(L, -2, "mean");
    lua_pushnumber(L, mb_hist_stddev(h));
    lua_setfield(L, -2, "stddev");
    lua_pushnumber(L, mb_hist_min(h));
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, mb_hist_max(h));
    lua_setfield(L, -2, "max");
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        lua_pushnumber(L, mb_hist_percentile(h, ps[i].p));
        lua_setfield(L, -2, ps[i].k);
    }
    return 1;
}

/* h:buckets() -> { {value, count}, ... } over non-empty buckets, ascending:
 * what CDF plots and exports need without re-reading raw samples. */
static int h_buckets(lua_State *L)
{
    mb_hist_iter it;
    double v;
    uint64_t c;
    lua_Integer i = 0;
    mb_hist_iter_init(&it, mb_lstats_check(L, 1));
    lua_newtable(L);
    while (mb_hist_iter_next(&it, &v, &c)) {
        lua_createtable(L, 2, 0);
        lua_pushnumber(L, v);
        lua_rawseti(L, -2, 1);
        lua_pushinteger(L, (lua_Integer)c);
        lua_rawseti(L, -2, 2);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

static int h_settings(lua_State *L)
{
    double lo, hi;
    int d;
    mb_hist_settings(mb_lstats_check(L, 1), &lo, &hi, &d);
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, lo);
    lua_setfield(L, -2, "lowest");
    lua_pushnumber(L, hi);
    lua_setfield(L, -2, "highest");
    lua_pushinteger(L, d);
    lua_setfield(L, -2, "digits");
    return 1;
}

static int h_gc(lua_State *L)
{
    lhist *u = luaL_checkudata(L, 1, HIST_MT);
    mb_hist_free(u->h);
    u->h = NULL;
    return 0;
}

static int h_tostring(lua_State *L)
{
    mb_hist *h = mb_lstats_check(L, 1);
    lua_pushfstring(L, "histogram (count=%I, p50=%f)", (lua_Integer)mb_hist_count(h),
                    (lua_Number)mb_hist_percentile(h, 50));
    return 1;
}

/* stats.decode(s) -> histogram; raises on a malformed encoding. */
static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    mb_hist *h;
    if (mb_hist_decode(s, n, &h) < 0)
        return luaL_error(L, "stats.decode: not a valid histogram encoding");
    push_hist(L, h);
    return 1;
}

int luaopen_mlxbench_stats(lua_State *L)
{
    static const luaL_Reg m[] = {
        {"record", h_record}, {"count", h_count}, {"min", h_min}, {"max", h_max},
        {"mean", h_mean}, {"stddev", h_stddev}, {"percentile", h_percentile},
        {"merge", h_merge}, {"encode", h_encode}, {"hdr", h_hdr}, {"summary", h_summary},
        {"buckets", h_buckets}, {"settings", h_settings}, {"reset", h_reset},
        {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"histogram", l_histogram}, {"decode", l_decode}, {NULL, NULL}};
    if (luaL_newmetatable(L, HIST_MT)) {
        luaL_newlib(L, m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, h_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, h_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

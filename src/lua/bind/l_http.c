/* l_http.c: mlxbench._http -- the C half of mlxbench.http.
 *
 * One mb_client per engine (mb_lua_client: slot MB_SLOT_HTTP, created on
 * first use, freed by an engine closer, shared with mlxbench.llm). A
 * request is a userdata (to-be-closed in the Lua wrapper) owning one mb_req.
 * The task waits with mb_vu_suspend; the client's notifications (delivered
 * after curl_multi_socket_action has returned) only wake it, and Lua reads
 * results and events once resumed.
 *
 *   h, err = start(opts)   starts the transfer (nil, message on misuse)
 *   wait(h)                suspends until done (or new events, with on_event)
 *   done, evs = events(h)  events not yet taken, as tables (nil if none)
 *   response(h [, evs])    the response table; releases the transfer
 *
 * The options of start() are read and checked in l_http_opts.c. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/client.h"
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "engine.h"
#include "l_http_int.h"

#define REQ_MT "mlxbench.http_request"

typedef struct lreq {
    mb_req *req;
    mb_vu *waiter;             /* the task suspended in wait(), if any */
    int want_events;
    int stream;
    size_t consumed;           /* events already handed to Lua */
} lreq;

/* Frees the transfer of `lr` (cancelling it if it runs). Idempotent. The
 * client (mb_lua_client, shared with mlxbench.llm) orphans requests it
 * outlives, so this is safe at any time, state close included. */
static void lreq_release(lreq *lr)
{
    if (!lr->req)
        return;
    mb_req_free(lr->req);
    lr->req = NULL;
    lr->waiter = NULL;
}

/* Wakes the task waiting on this request, if any: only enqueues it. */
static void wake(lreq *lr)
{
    mb_vu *vu = lr->waiter;
    if (vu) {
        lr->waiter = NULL;
        mb_vu_wake(vu, 0);
    }
}

/* Client notification: the transfer ended. */
static void on_done(mb_req *r, void *ud)
{
    (void)r;
    wake(ud);
}

/* Client notification: new SSE events were stored. Only a task that asked
 * for per-event callbacks is woken for them. */
static void on_events(mb_req *r, void *ud)
{
    lreq *lr = ud;
    (void)r;
    if (lr->want_events)
        wake(lr);
}

/* start(opts) -> handle, or nil + message when the options are wrong. The
 * request is running when this returns; no Lua runs before wait(). */
static int l_start(lua_State *L)
{
    mb_req_opts o;
    int lines = 0, rc;
    memset(&o, 0, sizeof o);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_checkstack(L, 40, "http.request");   /* anchored option strings */
    mb_vu_require(L, "mlxbench.http.request");
    const char *err = mb_lhttp_read_opts(L, &o, &lines);
    if (err) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    mb_client *client = mb_lua_client(L);
    size_t nh = lua_rawlen(L, lines);
    const char **hv = lua_newuserdatauv(L, (nh ? nh : 1) * sizeof *hv, 0);
    for (size_t i = 0; i < nh; i++) {
        lua_rawgeti(L, lines, (lua_Integer)i + 1);
        hv[i] = lua_tostring(L, -1);   /* anchored by the lines table */
        lua_pop(L, 1);
    }
    o.headers = hv;
    o.nheaders = nh;
    lua_getfield(L, 1, "on_event");
    int want_events = lua_isfunction(L, -1);
    lua_pop(L, 1);
    lreq *lr = lua_newuserdatauv(L, sizeof *lr, 1);
    memset(lr, 0, sizeof *lr);
    luaL_setmetatable(L, REQ_MT);
    if (o.body) {
        lua_getfield(L, 1, "body");   /* curl reads it in place: anchor it */
        lua_setiuservalue(L, -2, 1);
    }
    o.on_done = on_done;
    o.on_events = on_events;
    o.ud = lr;
    lr->want_events = want_events;
    lr->stream = o.stream;
    if ((rc = mb_req_start(client, &o, &lr->req)) < 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "cannot start the request: %s", mb_strerror(rc));
        return 2;
    }
    return 1;
}

/* The request handle at index 1, with its transfer still held. */
static lreq *check_req(lua_State *L)
{
    lreq *lr = luaL_checkudata(L, 1, REQ_MT);
    if (!lr->req)
        luaL_error(L, "http request already closed");
    return lr;
}

/* The task was cancelled while waiting: the transfer goes with it. */
static void wait_cancel(mb_vu *vu, void *ud)
{
    lreq *lr = ud;
    (void)vu;
    lr->waiter = NULL;
    lreq_release(lr);
}

/* wait(h): returns at once when done (or, with on_event, when events are
 * waiting), else suspends the task until the client says so. */
static int l_wait(lua_State *L)
{
    lreq *lr = check_req(L);
    const mb_resp *s = mb_req_resp(lr->req);
    if (s->done || (lr->want_events && lr->consumed < s->nevents))
        return 0;
    mb_vu *vu = mb_vu_require(L, "mlxbench.http.request");
    lr->waiter = vu;
    return mb_vu_suspend(L, vu, wait_cancel, lr);
}

/* t[k] = ns as seconds, unless ns < 0 (the phase did not happen). */
static void set_secs(lua_State *L, const char *k, int64_t ns)
{
    if (ns >= 0) {
        lua_pushnumber(L, (lua_Number)ns * 1e-9);
        lua_setfield(L, -2, k);
    }
}

/* Pushes {event=, data=, id=?, retry=?, t=, read_lag=?} for stored event
 * i: t is the arrival stamp (the kernel's when the read had one), read_lag
 * how much later the client read it (only then). */
static void push_event(lua_State *L, const mb_req *r, size_t i)
{
    mb_resp_event ev;
    mb_req_event(r, i, &ev);
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, ev.type, ev.type_len);
    lua_setfield(L, -2, "event");
    lua_pushlstring(L, ev.data, ev.data_len);
    lua_setfield(L, -2, "data");
    if (ev.id_len) {
        lua_pushlstring(L, ev.id, ev.id_len);
        lua_setfield(L, -2, "id");
    }
    if (ev.retry >= 0) {
        lua_pushinteger(L, ev.retry);
        lua_setfield(L, -2, "retry");
    }
    lua_pushnumber(L, mb_clock_secs(mb_req_resp(r)->start_ns, ev.t_ns));
    lua_setfield(L, -2, "t");
    if (ev.kernel) {
        lua_pushnumber(L, mb_clock_secs(ev.t_ns, ev.t_user_ns));
        lua_setfield(L, -2, "read_lag");
    }
}

/* Appends events [consumed, nevents) to the table at the top. */
static void take_events(lua_State *L, lreq *lr)
{
    size_t n = mb_req_resp(lr->req)->nevents;
    lua_Integer at = (lua_Integer)lua_rawlen(L, -1);
    for (; lr->consumed < n; lr->consumed++) {
        push_event(L, lr->req, lr->consumed);
        lua_rawseti(L, -2, ++at);
    }
}

/* events(h) -> done, {new events} | nil */
static int l_events(lua_State *L)
{
    lreq *lr = check_req(L);
    const mb_resp *s = mb_req_resp(lr->req);
    lua_pushboolean(L, s->done);
    if (lr->consumed >= s->nevents) {
        lua_pushnil(L);
    } else {
        lua_createtable(L, (int)(s->nevents - lr->consumed), 0);
        take_events(L, lr);
    }
    return 2;
}

/* Pushes the headers table: lower-cased names; repeats joined with ", ",
 * except set-cookie which becomes a list. */
static void push_headers(lua_State *L, const mb_req *r)
{
    const mb_resp *s = mb_req_resp(r);
    mb_resp_header h;
    lua_createtable(L, 0, (int)s->nheaders);
    for (size_t i = 0; i < s->nheaders; i++) {
        mb_req_header(r, i, &h);
        int cookie = h.name_len == 10 && memcmp(h.name, "set-cookie", 10) == 0;
        lua_pushlstring(L, h.name, h.name_len);           /* T n */
        lua_pushvalue(L, -1);
        int ty = lua_rawget(L, -3);                       /* T n old */
        if (cookie) {
            if (ty != LUA_TTABLE) {
                lua_pop(L, 1);
                lua_newtable(L);                          /* T n list */
                lua_pushvalue(L, -2);
                lua_pushvalue(L, -2);
                lua_rawset(L, -5);
            }
            lua_pushlstring(L, h.value, h.value_len);
            lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            lua_pop(L, 2);
        } else {
            if (ty == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushlstring(L, h.value, h.value_len);
            } else {
                lua_pushliteral(L, ", ");
                lua_pushlstring(L, h.value, h.value_len);
                lua_concat(L, 3);                         /* T n "old, v" */
            }
            lua_rawset(L, -3);
        }
    }
}

/* response(h [, events]) -> the response table; the transfer is released. */
static int l_response(lua_State *L)
{
    lreq *lr = check_req(L);
    const mb_req *r = lr->req;
    const mb_resp *s = mb_req_resp(r);
    if (!s->done)
        return luaL_error(L, "http request not finished");
    lua_createtable(L, 0, 12);
    lua_pushinteger(L, s->status);
    lua_setfield(L, -2, "status");
    lua_pushboolean(L, s->err == MB_ERR_NONE);
    lua_setfield(L, -2, "ok");
    if (s->http_version) {
        lua_pushstring(L, s->http_version == 10 ? "1.0" : s->http_version == 11 ? "1.1"
                          : s->http_version == 20 ? "2" : "3");
        lua_setfield(L, -2, "http_version");
    }
    push_headers(L, r);
    lua_setfield(L, -2, "headers");
    if (!lr->stream || s->status < 200 || s->status > 299) {
        lua_pushlstring(L, s->body, s->body_len);
        lua_setfield(L, -2, "body");
    }
    if (lr->stream) {
        if (lua_istable(L, 2))
            lua_pushvalue(L, 2);
        else
            lua_createtable(L, (int)(s->nevents - lr->consumed), 0);
        take_events(L, lr);
        lua_setfield(L, -2, "events");
        lua_pushboolean(L, s->truncated);
        lua_setfield(L, -2, "truncated");
    }
    lua_pushinteger(L, (lua_Integer)s->bytes);
    lua_setfield(L, -2, "bytes");
    lua_createtable(L, 0, 5);
    set_secs(L, "dns", s->t.dns);
    set_secs(L, "connect", s->t.connect);
    set_secs(L, "tls", s->t.tls);
    set_secs(L, "ttfb", s->t.ttfb);
    set_secs(L, "done", s->t.done);
    lua_setfield(L, -2, "timings");
    lua_pushboolean(L, s->reused);
    lua_setfield(L, -2, "reused");
    lua_pushstring(L, mb_stamp_source_name(s->stamp_source));
    lua_setfield(L, -2, "stamp_source");
    lua_pushnumber(L, (lua_Number)s->start_ns * 1e-9);
    lua_setfield(L, -2, "start");
    if (s->err != MB_ERR_NONE) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, mb_err_kind_name(s->err));
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, s->err_msg);
        lua_setfield(L, -2, "message");
        lua_setfield(L, -2, "error");
    }
    lreq_release(lr);
    return 1;
}

/* __close / __gc: a request nobody waits for any more is cancelled. */
static int l_close(lua_State *L)
{
    lreq *lr = luaL_checkudata(L, 1, REQ_MT);
    lreq_release(lr);
    return 0;
}

/* _http.abort_all(why) -> n: every transfer in flight on this engine ends
 * now with kind `aborted` (the interrupt grace period ran out). */
static int l_abort_all(lua_State *L)
{
    const char *why = luaL_optstring(L, 1, "aborted");
    lua_pushinteger(L, mb_lua_client_abort(mb_engine_of(L), why));
    return 1;
}

/* _http.active() -> requests started and not yet released (both modules). */
static int l_active(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    lua_pushinteger(L, eng->slots[MB_SLOT_HTTP]
                           ? (lua_Integer)mb_client_active(mb_lua_client(L)) : 0);
    return 1;
}

/* _http.libcurl() -> {version, ssl, loaded_from}, or nil and why: the
 * libcurl that https://, HTTP/2 and proxies use (loaded now if it was
 * not). */
static int l_libcurl(lua_State *L)
{
    mb_curl_info ci;
    const char *err = "";
    if (mb_client_curl_info(&ci, &err) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ci.version);
    lua_setfield(L, -2, "version");
    lua_pushstring(L, ci.ssl);
    lua_setfield(L, -2, "ssl");
    lua_pushstring(L, ci.loaded_from);
    lua_setfield(L, -2, "loaded_from");
    return 1;
}

/* Opens mlxbench._http (the public module is mlxbench.http, in Lua). */
int luaopen_mlxbench_http(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"start", l_start}, {"wait", l_wait}, {"events", l_events},
        {"response", l_response}, {"abort_all", l_abort_all}, {"active", l_active},
        {"libcurl", l_libcurl}, {NULL, NULL}};
    if (luaL_newmetatable(L, REQ_MT)) {
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, l_close);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

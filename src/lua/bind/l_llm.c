/* l_llm.c: mlxbench._llm -- one measured LLM API call.
 *
 * The request goes out through the engine's HTTP client with the extractor
 * (core/llm) hooked into the write callback: every SSE event is classified
 * and stamped in C as it arrives, and Lua sees one result table per request.
 * With on_token, events are stored instead and the task is woken per batch
 * of new events to run the callback itself (never from a curl callback).
 * This file is the call's lifecycle; l_llm_result.c builds its result. */
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/defaults.h"
#include "mlxbench/clock.h"
#include "l_llm_int.h"

/* The cancel timer is gone (it frees itself): nothing to release here. */
static void timer_closed(void *ud) { (void)ud; }

/* Releases everything the call holds; idempotent (cancel hook, __gc). */
static void call_release(call *c)
{
    if (c->cancel_timer) {
        mb_ptimer_disarm(c->cancel_timer);
        mb_ptimer_close(c->cancel_timer, timer_closed);
        c->cancel_timer = NULL;
    }
    if (c->req) {
        mb_req_free(c->req);
        c->req = NULL;
    }
    mb_llm_free(&c->x);
    for (size_t i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->headers);
    c->headers = NULL;
    c->nheaders = 0;
    free(c->body);
    c->body = NULL;
}

/* __gc of a call: whatever became of the task, nothing leaks. */
static int call_gc(lua_State *L)
{
    call_release(luaL_checkudata(L, 1, CALL_MT));
    return 0;
}

/* Latches a cancellation at t_ns (the first one counts). */
static void mark_cancelled(call *c, uint64_t t_ns)
{
    if (!c->cancelled) {
        c->cancelled = 1;
        c->cancel_ns = t_ns;
    }
}

/* Each SSE event of a stream, stamped on arrival, goes to the extractor;
 * a cancel_events limit closes the connection once reached. */
static int on_sse(void *ud, const mb_sse_event *ev, uint64_t t_ns)
{
    call *c = ud;
    int stop = mb_llm_event(&c->x, ev, t_ns);
    if (!stop && c->cancel_events && c->x.nct >= c->cancel_events && !c->x.done) {
        mark_cancelled(c, t_ns);
        return 1;   /* the transfer stops here: the connection is closed */
    }
    return stop;
}

/* The cancel timer fired: the request, if still in flight, is stopped. */
static void cancel_fired(void *ud)
{
    call *c = ud;
    if (c->req && !mb_req_resp(c->req)->done) {
        mark_cancelled(c, mb_clock_now_ns());
        if (!mb_req_abort(c->req, "cancelled by the client"))
            c->cancelled = 0;
    }
}


/* The stream ended (or was cut): an HTML error page is rejected, a
 * truncated last event handed over. */
static void on_sse_end(void *ud, int truncated, const mb_sse_event *partial, uint64_t t_ns)
{
    call *c = ud;
    (void)t_ns;
    c->ended = 1;
    if (mb_lllm_html_page(c->req))
        mb_llm_reject(&c->x, MB_ERR_PROTOCOL, "the server answered with an HTML page "
                      "(Content-Type: text/html), not an event stream");
    mb_llm_stream_end(&c->x, truncated, partial);
}

/* Wakes the task only if it waits in _llm.wait: between waits it may be
 * sleeping inside on_token, and that sleep is not ours to end. */
static void wake(call *c)
{
    if (c->waiting) {
        c->waiting = 0;
        mb_vu_wake(c->vu, 0);
    }
}

/* The transfer is over: the waiting task resumes to build the result. */
static void on_done(mb_req *r, void *ud)
{
    call *c = ud;
    (void)r;
    c->finished = 1;
    wake(c);
}

/* on_token mode: new events are stored; the waiting task resumes to
 * hand them to Lua. */
static void on_events(mb_req *r, void *ud)
{
    (void)r;
    wake(ud);
}

/* The waiting task was cancelled (engine shutdown, error elsewhere): the
 * request is stopped and freed now. */
static void cancel_call(mb_vu *vu, void *ud)
{
    call *c = ud;
    (void)vu;
    c->waiting = 0;
    call_release(c);
}

/* Options, read with clear errors for misuse. */
static const char *opt_str(lua_State *L, const char *k, size_t *len, int required)
{
    const char *s = NULL;
    lua_getfield(L, 1, k);
    if (lua_isnil(L, -1)) {
        if (required)
            luaL_error(L, "llm request: '%s' is required", k);
    } else if (lua_type(L, -1) != LUA_TSTRING) {
        luaL_error(L, "llm request: '%s' must be a string", k);
    } else {
        s = lua_tolstring(L, -1, len);
    }
    lua_pop(L, 1);
    return s;
}

/* A number option, def when absent. */
static double opt_num(lua_State *L, const char *k, double def)
{
    double v = def;
    lua_getfield(L, 1, k);
    if (!lua_isnil(L, -1)) {
        if (!lua_isnumber(L, -1))
            luaL_error(L, "llm request: '%s' must be a number", k);
        v = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

/* A boolean option (truthiness, absent = false). */
static int opt_bool(lua_State *L, const char *k)
{
    lua_getfield(L, 1, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}


/* on_token mode: feeds stored events not yet seen to the extractor, then
 * drops them (a long stream's events do not pile up in the request). */
static void feed_stored(call *c)
{
    const mb_resp *rs = mb_req_resp(c->req);
    mb_resp_event e;
    while (c->fed < rs->nevents && mb_req_event(c->req, c->fed, &e) == 0) {
        mb_sse_event ev = {e.type, e.type_len, e.data, e.data_len, e.id, e.id_len, e.retry, 0};
        c->fed++;
        mb_llm_event(&c->x, &ev, e.t_ns);
    }
    if (c->fed > 0 && c->fed == rs->nevents) {
        mb_req_drop_events(c->req);
        c->fed = 0;
    }
}


/* Pushes what a wait returns: `false, {t...}` for content events not yet
 * handed over (on_token mode), else the result table (consuming the call). */
static int push_wait(lua_State *L, call *c)
{
    if (c->on_token) {
        feed_stored(c);
        if (c->cancel_events && c->x.nct >= c->cancel_events && !c->x.done && !c->finished) {
            mark_cancelled(c, c->x.ct[c->cancel_events - 1]);
            if (!mb_req_abort(c->req, "cancelled by the client"))
                c->cancelled = 0;
        }
        if (c->told < c->x.nct) {
            uint64_t t0 = mb_req_resp(c->req)->start_ns;
            lua_pushboolean(L, 0);
            lua_createtable(L, (int)(c->x.nct - c->told), 0);
            for (int i = 1; c->told < c->x.nstored; c->told++, i++) {   /* keep_all: all */
                lua_pushnumber(L, secs((int64_t)(c->x.ct[c->told] - t0)));
                lua_rawseti(L, -2, i);
            }
            return 2;
        }
        if (c->finished && !c->ended)
            mb_llm_stream_end(&c->x, mb_req_resp(c->req)->truncated, NULL), c->ended = 1;
    }
    mb_lllm_push_result(L, c);
    lua_getfield(L, -1, "ok");
    int ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (ok) {
        mb_llm_phases p;
        mb_lllm_push_gaps(L, c, 0);
        lua_setfield(L, -2, "gaps");
        mb_llm_phases_of(&c->x, &p);
        if (p.reasoning_events) {   /* ITL of each phase */
            mb_lllm_push_gaps(L, c, MB_LLM_REASONING);
            lua_setfield(L, -2, "gaps_reasoning");
            mb_lllm_push_gaps(L, c, MB_LLM_ANSWER);
            lua_setfield(L, -2, "gaps_answer");
        }
    }
    c->consumed = 1;
    call_release(c);
    return 1;
}

/* Continuation of _llm.wait: stack 1 = call. */
static int wait_cont(lua_State *L, int status, lua_KContext ctx)
{
    call *c = (call *)ctx;
    (void)status;
    if (!c->finished && !(c->on_token && (feed_stored(c), c->told < c->x.nct))) {
        c->waiting = 1;
        c->vu = mb_vu_current(L);
        return mb_vu_suspendk(L, c->vu, cancel_call, c, ctx, wait_cont);
    }
    return push_wait(L, c);
}

/* _llm.wait(call) -> result | false, {t...} */
static int l_wait(lua_State *L)
{
    call *c = luaL_checkudata(L, 1, CALL_MT);
    lua_settop(L, 1);
    if (c->consumed)
        return luaL_error(L, "llm wait: this request's result was already returned");
    if (!c->req)
        return luaL_error(L, "llm wait: this request was cancelled");
    mb_vu_require(L, "mlxbench.llm.request");
    return wait_cont(L, 0, (lua_KContext)c);
}

/* _llm.start{url, headers={"K: V",...}, body, api=0|1|2, stream, timeout,
 *            connect_timeout, capture, on_token=bool, insecure, cacert, http2,
 *            accept_encoding="gzip"|"", max_body, max_line}
 * -> call (then _llm.wait(call)). The body and headers are copied.
 * count_text: also return `generated_text`, everything the model generated
 * (content, reasoning, tool-call arguments), for exact token counts.
 * cancel_events = N: the client closes the connection once N content events
 * have arrived; cancel_after = S: S seconds after the start. Either makes
 * the result `cancelled` (not an error) when it fires before the end. */
static int l_start(lua_State *L)
{
    size_t body_len = 0;
    const char *url, *body, *cacert;
    mb_req_opts o;
    call *c;
    int api;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    url = opt_str(L, "url", NULL, 1);
    body = opt_str(L, "body", &body_len, 1);
    cacert = opt_str(L, "cacert", NULL, 0);
    api = (int)opt_num(L, "api", 0);
    luaL_argcheck(L, api >= 0 && api <= 2, 1, "api must be 0 (openai), 1 (completions) or 2 (anthropic)");

    c = lua_newuserdatauv(L, sizeof *c, 0);   /* 2 */
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, CALL_MT);
    mb_llm_init(&c->x, (mb_api)api, opt_bool(L, "capture") | (opt_bool(L, "count_text") ? 2 : 0));
    c->stream = opt_bool(L, "stream");
    c->on_token = opt_bool(L, "on_token") && c->stream;
    c->x.keep_all = c->on_token || opt_bool(L, "itl");   /* the caller wants every time */
    c->body_len = body_len;
    {
        double mt = opt_num(L, "max_tokens", 0);
        c->max_tokens = mt >= 1 && mt < 1e15 ? (int64_t)mt : 0;
    }
    c->body = malloc(body_len + 1);
    if (!c->body)
        return luaL_error(L, "out of memory");
    memcpy(c->body, body, body_len);
    c->body[body_len] = 0;

    lua_getfield(L, 1, "headers");
    if (!lua_isnil(L, -1)) {
        luaL_argcheck(L, lua_istable(L, -1), 1, "headers must be a list of \"Name: value\"");
        size_t n = (size_t)lua_rawlen(L, -1);
        c->headers = calloc(n ? n : 1, sizeof *c->headers);
        if (!c->headers)
            return luaL_error(L, "out of memory");
        for (size_t i = 0; i < n; i++) {
            size_t l;
            lua_rawgeti(L, -1, (lua_Integer)i + 1);
            const char *h = lua_tolstring(L, -1, &l);
            if (!h)
                return luaL_error(L, "llm request: headers[%d] must be a string", (int)i + 1);
            c->headers[i] = malloc(l + 1);
            if (!c->headers[i])
                return luaL_error(L, "out of memory");
            memcpy(c->headers[i], h, l + 1);
            c->nheaders++;
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);

    memset(&o, 0, sizeof o);
    o.method = "POST";
    o.url = url;
    o.headers = (const char *const *)c->headers;
    o.nheaders = c->nheaders;
    o.body = c->body;
    o.body_len = body_len;
    o.timeout_ms = (long)(opt_num(L, "timeout", MB_DEFAULT_TIMEOUT_S) * 1000);
    o.connect_timeout_ms = (long)(opt_num(L, "connect_timeout", MB_DEFAULT_CONNECT_TIMEOUT_S) * 1000);
    o.stream = c->stream;
    o.http2 = opt_bool(L, "http2");
    o.insecure = opt_bool(L, "insecure");
    o.cacert = cacert;
    o.reject_encoded = 1;   /* JSON/SSE through an unasked encoding is garbage */
    o.max_error_body = 64 * 1024;   /* an error's message is in its first bytes */
    o.accept_encoding = opt_str(L, "accept_encoding", NULL, 0);
    {
        double mb = opt_num(L, "max_body", 0), ml = opt_num(L, "max_line", 0);
        luaL_argcheck(L, mb >= 0 && mb <= 1e15 && ml >= 0 && ml <= 1e15, 1,
                      "max_body and max_line must be byte counts >= 0");
        o.max_body = (size_t)mb;
        o.max_line = (size_t)ml;
    }
    if (c->stream && !c->on_token) {
        o.on_sse = on_sse;
        o.on_sse_end = on_sse_end;
        o.hook_ud = c;
    } else if (c->on_token) {
        o.on_events = on_events;
    }
    o.on_done = on_done;
    o.ud = c;
    {
        double ce = opt_num(L, "cancel_events", 0), ca = opt_num(L, "cancel_after", 0);
        luaL_argcheck(L, ce >= 0 && ce <= 1e9 && ca >= 0 && ca <= 1e7, 1,
                      "cancel_events and cancel_after must be >= 0");
        c->cancel_events = (size_t)ce;
        if (ca > 0 && mb_ptimer_new(&c->cancel_timer, mb_engine_of(L)->loop, cancel_fired, c) < 0)
            return luaL_error(L, "out of memory");
        if (mb_req_start(mb_lua_client(L), &o, &c->req) < 0) {
            c->req = NULL;
            /* no URL here: it may carry a key; llm.lua names it, redacted */
            return luaL_error(L, "llm request: invalid request (check the URL and headers)");
        }
        if (c->cancel_timer)
            mb_ptimer_arm(c->cancel_timer, mb_req_resp(c->req)->start_ns + (uint64_t)(ca * 1e9 + 0.5));
    }
    return 1;
}

/* _llm.events(call) -> content events received so far (0 once the result
 * was returned): the live token count of a request in flight, for the
 * progress line. */
static int l_events(lua_State *L)
{
    call *c = luaL_checkudata(L, 1, CALL_MT);
    lua_pushinteger(L, (c->consumed || !c->req) ? 0 : (lua_Integer)c->x.nct);
    return 1;
}

/* Opens mlxbench._llm: the call and gaps metatables, then the functions. */
int luaopen_mlxbench_llm(lua_State *L)
{
    static const luaL_Reg f[] = {{"start", l_start}, {"wait", l_wait}, {"events", l_events},
                                 {NULL, NULL}};
    if (luaL_newmetatable(L, CALL_MT)) {
        lua_pushcfunction(L, call_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    mb_lllm_gaps_register(L);
    luaL_newlib(L, f);
    return 1;
}

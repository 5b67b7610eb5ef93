/* l_llm.c: mlxbench._llm -- one measured LLM API call.
 *
 * The request goes out through the engine's HTTP client with the extractor
 * (core/llm) hooked into the write callback: every SSE event is classified
 * and stamped in C as it arrives, and Lua sees one result table per request.
 * With on_token, events are stored instead and the task is woken per batch
 * of new events to run the callback itself (never from a curl callback). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <lauxlib.h>
#include "mlxbench/client.h"
#include "mlxbench/defaults.h"
#include "mlxbench/clock.h"
#include "mlxbench/hist.h"
#include "mlxbench/llm.h"
#include "mlxbench/platform.h"
#include "engine.h"

#define CALL_MT "mlxbench.llm_call"

/* One call; a full userdata so the collector frees it whatever happens to
 * the task (error in on_token, cancel, engine shutdown). */
typedef struct call {
    mb_llm x;
    mb_req *req;
    mb_vu *vu;          /* the task waiting in _llm.wait, when waiting */
    char *body;
    char **headers;
    size_t nheaders;
    int stream;
    int ended;          /* on_sse_end ran */
    int finished;       /* on_done ran */
    int waiting;        /* a task is suspended in _llm.wait */
    int on_token;       /* events stored and handed to Lua per batch */
    int consumed;       /* the result was returned: nothing more to wait for */
    int64_t max_tokens; /* what the request asked for (usage check), 0 if none */
    size_t body_len;    /* the request body's size (usage check) */
    size_t fed;         /* on_token mode: stored events already extracted */
    size_t told;        /* on_token mode: content events handed to Lua */
    /* cancellation, as a user stops a generation (docs/LOAD.md) */
    size_t cancel_events;      /* > 0: close once this many content events arrived */
    mb_ptimer *cancel_timer;   /* cancel after a time (ns resolution; closed async) */
    int cancelled;             /* the client cancelled it: an outcome, not an error */
    uint64_t cancel_ns;        /* when */
} call;

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

static int html_page(const mb_req *req);

static void on_sse_end(void *ud, int truncated, const mb_sse_event *partial, uint64_t t_ns)
{
    call *c = ud;
    (void)t_ns;
    c->ended = 1;
    if (html_page(c->req))
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

static void on_done(mb_req *r, void *ud)
{
    call *c = ud;
    (void)r;
    c->finished = 1;
    wake(c);
}

static void on_events(mb_req *r, void *ud)
{
    (void)r;
    wake(ud);
}

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

static int opt_bool(lua_State *L, const char *k)
{
    lua_getfield(L, 1, k);
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

static double secs(int64_t ns) { return (double)ns * 1e-9; }

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
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

/* 1 when a response's Content-Type is text/html: a proxy's or load
 * balancer's error page sent with status 200 is not an API response. */
static int html_page(const mb_req *req)
{
    mb_resp_header h;
    for (size_t i = 0; mb_req_header(req, i, &h) == 0; i++)
        if (h.name_len == 12 && memcmp(h.name, "content-type", 12) == 0)
            return h.value_len >= 9 && strncasecmp(h.value, "text/html", 9) == 0;
    return 0;
}

/* t[k] = v, on the table at the stack top. */
static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* The usage details a server may send beside cached_tokens: the prompt
 * tokens Anthropic wrote to its cache, and the reasoning part of the
 * output. */
static void push_usage_details(lua_State *L, call *c)
{
    if (c->x.usage_cache_write >= 0)
        set_int(L, "cache_write_tokens", c->x.usage_cache_write);
    if (c->x.usage_reasoning >= 0)
        set_int(L, "usage_reasoning_tokens", c->x.usage_reasoning);
}

/* The reasoning split, for a stream that carried reasoning: time to the
 * first reasoning and the first answer event, each phase's event count and
 * span (METRICS.md, "Reasoning"). */
static void push_phases(lua_State *L, call *c, uint64_t t0)
{
    mb_llm_phases p;
    mb_llm_phases_of(&c->x, &p);
    if (!p.reasoning_events)
        return;
    set_num(L, "ttfr_s", secs((int64_t)(p.first_reasoning - t0)));
    set_int(L, "reasoning_events", (int64_t)p.reasoning_events);
    set_num(L, "reasoning_span_s", secs((int64_t)(p.last_reasoning - p.first_reasoning)));
    set_int(L, "answer_events", (int64_t)p.answer_events);
    if (p.answer_events) {
        set_num(L, "ttfa_s", secs((int64_t)(p.first_answer - t0)));
        set_num(L, "answer_span_s", secs((int64_t)(p.last_answer - p.first_answer)));
    }
    if (c->x.capture & 2) {
        lua_pushlstring(L, c->x.rgen ? c->x.rgen : "", c->x.rgen_len);
        lua_setfield(L, -2, "reasoning_text");
    }
}

/* r.server = {prefill_s, queue_s, load_s, decode_s, total_s, prompt_n,
 * predicted_n, cache_n, source}: what the server reported of its own work
 * (llm.h, mb_llm_server); absent fields it did not report. */
static void push_server(lua_State *L, const mb_llm_server *sv)
{
    char src[96];
    lua_createtable(L, 0, 9);
    if (sv->prefill_s >= 0) set_num(L, "prefill_s", sv->prefill_s);
    if (sv->queue_s >= 0) set_num(L, "queue_s", sv->queue_s);
    if (sv->load_s >= 0) set_num(L, "load_s", sv->load_s);
    if (sv->decode_s >= 0) set_num(L, "decode_s", sv->decode_s);
    if (sv->total_s >= 0) set_num(L, "total_s", sv->total_s);
    const struct { const char *k; int64_t v; } counts[] = {
        {"prompt_n", sv->prompt_n}, {"predicted_n", sv->predicted_n}, {"cache_n", sv->cache_n}};
    for (int i = 0; i < 3; i++)
        if (counts[i].v >= 0) {
            lua_pushinteger(L, (lua_Integer)counts[i].v);
            lua_setfield(L, -2, counts[i].k);
        }
    lua_pushstring(L, mb_llm_server_source(sv->src, src, sizeof src));
    lua_setfield(L, -2, "source");
    lua_setfield(L, -2, "server");
}

/* Builds the result table from the finished call (runs inside the task). */
static void push_result(lua_State *L, call *c)
{
    const mb_resp *rs = mb_req_resp(c->req);
    const char *kind = NULL, *msg = "";
    mb_tok_source src;
    int64_t tokens;
    int ok;

    if (c->cancelled && rs->err == MB_ERR_ABORTED) {
        kind = "cancelled";   /* the client's choice: its own outcome */
    } else if (rs->err != MB_ERR_NONE && rs->err != MB_ERR_HTTP) {
        /* transport failure, or our hook stopped the transfer */
        if (rs->err == MB_ERR_ABORTED && c->x.err_kind) {
            kind = mb_err_kind_name(c->x.err_kind);
            msg = c->x.err_msg;
        } else {
            kind = mb_err_kind_name(rs->err);
            msg = rs->err_msg;
        }
    } else if (rs->status < 200 || rs->status > 299) {
        mb_llm_http_error(&c->x, rs->status, rs->body, rs->body_len);
        kind = mb_err_kind_name(c->x.err_kind);
        msg = c->x.err_msg;
    } else {
        if (html_page(c->req))
            mb_llm_reject(&c->x, MB_ERR_PROTOCOL, "the server answered with an HTML page "
                          "(Content-Type: text/html), not an API response");
        if (!c->stream)
            mb_llm_body(&c->x, rs->body ? rs->body : "", rs->body_len,
                        rs->start_ns + (uint64_t)rs->t.done);
        else if (c->on_token && !c->ended)
            mb_llm_stream_end(&c->x, rs->truncated, NULL);
        else if (!c->ended)
            mb_llm_stream_end(&c->x, 1, NULL);
        if (c->x.err_kind) {
            kind = mb_err_kind_name(c->x.err_kind);
            msg = c->x.err_msg;
        }
    }
    ok = kind == NULL;
    mb_llm_check_usage(&c->x, rs->bytes, c->body_len, c->max_tokens);
    tokens = mb_llm_output_tokens(&c->x, &src);
    /* the server's own timings may also ride in headers (TGI, Server-Timing) */
    mb_resp_header hd;
    for (size_t i = 0; mb_req_header(c->req, i, &hd) == 0; i++)
        mb_llm_header(&c->x, hd.name, hd.name_len, hd.value, hd.value_len);

    lua_createtable(L, 0, 24);
    lua_pushboolean(L, ok);
    lua_setfield(L, -2, "ok");
    lua_pushinteger(L, rs->status);
    lua_setfield(L, -2, "status");
    if (kind && strcmp(kind, "cancelled") == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "cancelled");
        set_num(L, "cancel_s", secs((int64_t)(c->cancel_ns - rs->start_ns)));
    } else if (!ok) {
        lua_createtable(L, 0, 2);
        lua_pushstring(L, kind);
        lua_setfield(L, -2, "kind");
        lua_pushstring(L, msg);
        lua_setfield(L, -2, "message");
        lua_setfield(L, -2, "error");
    }
    set_num(L, "start_s", secs((int64_t)rs->start_ns));
    if (rs->t.done >= 0) {
        set_num(L, "end_s", secs((int64_t)rs->start_ns + rs->t.done));
        set_num(L, "e2e_s", secs(rs->t.done));
    }
    if (rs->t.ttfb >= 0)
        set_num(L, "ttfb_s", secs(rs->t.ttfb));
    if (c->x.nct > 0)
        set_num(L, "ttft_s", secs((int64_t)(c->x.t_first - rs->start_ns)));
    lua_pushinteger(L, (lua_Integer)c->x.nct);
    lua_setfield(L, -2, "content_events");
    lua_pushinteger(L, (lua_Integer)c->x.content_bytes);
    lua_setfield(L, -2, "content_bytes");
    if (ok) {
        lua_pushinteger(L, tokens);
        lua_setfield(L, -2, "output_tokens");
        lua_pushstring(L, mb_llm_source_name(src));
        lua_setfield(L, -2, "token_source");
        if (rs->t.done > 0)
            set_num(L, "req_tok_s", (double)tokens / secs(rs->t.done));
        if (tokens >= 2 && c->x.nct >= 2 && c->x.t_last > c->x.t_first) {
            double span = secs((int64_t)(c->x.t_last - c->x.t_first));
            set_num(L, "tpot_s", span / (double)(tokens - 1));
            set_num(L, "decode_tok_s", (double)(tokens - 1) / span);
        }
    } else {
        lua_pushinteger(L, tokens);
        lua_setfield(L, -2, "tokens_received");
    }
    if (c->x.usage_input >= 0) {
        lua_pushinteger(L, c->x.usage_input);
        lua_setfield(L, -2, "input_tokens");
    }
    if (c->x.usage_cached >= 0) {
        lua_pushinteger(L, c->x.usage_cached);
        lua_setfield(L, -2, "cached_tokens");
    }
    if (c->x.usage_invalid) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "usage_invalid");
    }
    push_usage_details(L, c);
    push_phases(L, c, rs->start_ns);
    if (c->x.server.src)
        push_server(L, &c->x.server);
    if (c->x.finish_reason[0]) {
        lua_pushstring(L, c->x.finish_reason);
        lua_setfield(L, -2, "finish_reason");
    }
    if (c->x.capture & 1) {
        lua_pushlstring(L, c->x.text ? c->x.text : "", c->x.text_len);
        lua_setfield(L, -2, "text");
    }
    if (c->x.capture & 2) {
        /* every generated text, for a tokenizer to count */
        lua_pushlstring(L, c->x.gen ? c->x.gen : "", c->x.gen_len);
        lua_setfield(L, -2, "generated_text");
    }
    if (c->x.nct >= 1)
        set_num(L, "content_span_s", secs((int64_t)(c->x.t_last - c->x.t_first)));
    lua_pushboolean(L, rs->reused);
    lua_setfield(L, -2, "reused");
    lua_pushstring(L, mb_stamp_source_name(rs->stamp_source));
    lua_setfield(L, -2, "stamp_source");
    lua_createtable(L, 0, 5);
    if (rs->t.dns >= 0) set_num(L, "dns", secs(rs->t.dns));
    if (rs->t.connect >= 0) set_num(L, "connect", secs(rs->t.connect));
    if (rs->t.tls >= 0) set_num(L, "tls", secs(rs->t.tls));
    if (rs->t.ttfb >= 0) set_num(L, "ttfb", secs(rs->t.ttfb));
    if (rs->t.done >= 0) set_num(L, "done", secs(rs->t.done));
    lua_setfield(L, -2, "timings");
}

#define GAPS_MT "mlxbench.itl_gaps"

/* The ITL gaps of one request, in seconds: a userdata so a caller records
 * them into a histogram with one C call once it knows the request counts
 * (warm-up and cool-down requests must not), with no per-token Lua. The
 * first MB_LLM_KEEP_TIMES-1 gaps one by one, the rest (a very long stream,
 * a flood) in the extractor's sparse histogram, handed over here. */
typedef struct gaps {
    size_t n;
    mb_hist_sparse *spill;
    double g[];
} gaps;

/* phase 0: every gap; MB_LLM_REASONING or MB_LLM_ANSWER: that phase's. */
static void push_gaps(lua_State *L, call *c, unsigned phase)
{
    size_t n = c->x.nstored > 1 ? c->x.nstored - 1 : 0;
    gaps *gp = lua_newuserdatauv(L, sizeof *gp + n * sizeof gp->g[0], 0);
    if (phase) {
        int k = MB_LLM_PHASE_INDEX(phase);
        gp->n = mb_llm_phase_gaps(&c->x, phase, gp->g);
        gp->spill = c->x.pspill[k];
        c->x.pspill[k] = NULL;
    } else {
        gp->n = n;
        gp->spill = c->x.spill;
        c->x.spill = NULL;
        for (size_t i = 0; i < n; i++)
            gp->g[i] = secs((int64_t)(c->x.ct[i + 1] - c->x.ct[i]));
    }
    luaL_setmetatable(L, GAPS_MT);
}

static int gaps_gc(lua_State *L)
{
    gaps *gp = luaL_checkudata(L, 1, GAPS_MT);
    mb_hist_sparse_free(gp->spill);
    gp->spill = NULL;
    return 0;
}

/* gaps:record_into(histogram) */
static int gaps_record(lua_State *L)
{
    gaps *gp = luaL_checkudata(L, 1, GAPS_MT);
    mb_hist *h = mb_lstats_check(L, 2);
    for (size_t i = 0; i < gp->n; i++)
        mb_hist_record(h, gp->g[i], 1);
    if (gp->spill)
        mb_hist_merge_sparse(h, gp->spill);
    return 0;
}

/* gaps:list() -> {seconds...} */
static int gaps_list(lua_State *L)
{
    gaps *gp = luaL_checkudata(L, 1, GAPS_MT);
    lua_createtable(L, (int)gp->n, 0);
    for (size_t i = 0; i < gp->n; i++) {
        lua_pushnumber(L, gp->g[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

static int gaps_len(lua_State *L)
{
    gaps *gp = luaL_checkudata(L, 1, GAPS_MT);
    lua_pushinteger(L, (lua_Integer)(gp->n + (gp->spill ? mb_hist_sparse_count(gp->spill) : 0)));
    return 1;
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
    push_result(L, c);
    lua_getfield(L, -1, "ok");
    int ok = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (ok) {
        mb_llm_phases p;
        push_gaps(L, c, 0);
        lua_setfield(L, -2, "gaps");
        mb_llm_phases_of(&c->x, &p);
        if (p.reasoning_events) {   /* ITL of each phase */
            push_gaps(L, c, MB_LLM_REASONING);
            lua_setfield(L, -2, "gaps_reasoning");
            push_gaps(L, c, MB_LLM_ANSWER);
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

int luaopen_mlxbench_llm(lua_State *L)
{
    static const luaL_Reg f[] = {{"start", l_start}, {"wait", l_wait}, {"events", l_events},
                                 {NULL, NULL}};
    static const luaL_Reg gm[] = {{"record_into", gaps_record}, {"list", gaps_list}, {NULL, NULL}};
    if (luaL_newmetatable(L, CALL_MT)) {
        lua_pushcfunction(L, call_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, GAPS_MT)) {
        luaL_newlib(L, gm);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, gaps_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, gaps_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

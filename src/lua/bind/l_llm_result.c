/* l_llm_result.c: the result table of one measured LLM call (mlxbench._llm).
 *
 * Once the transfer is over, the extractor's state (core/llm) and the
 * response's timings become one Lua table: outcome and error, start/end,
 * TTFB/TTFT, tokens and their source, usage as the server reported it, the
 * reasoning/answer split, the server's own timings, connection timings. The
 * ITL gaps go in a userdata that records into a histogram in one C call. */
#include <string.h>
#include <strings.h>
#include <lauxlib.h>
#include "mlxbench/hist.h"
#include "l_llm_int.h"

/* t[k] = v, on the table at the stack top. */
static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

/* 1 when a response's Content-Type is text/html: a proxy's or load
 * balancer's error page sent with status 200 is not an API response. */
int mb_lllm_html_page(const mb_req *req)
{
    mb_resp_header h;
    for (size_t i = 0; mb_req_header(req, i, &h) == 0; i++)
        if (h.name_len == 12 && memcmp(h.name, "content-type", 12) == 0)
            return h.value_len >= 9 && strncasecmp(h.value, "text/html", 9) == 0;
    return 0;
}

/* t[k] = v (an integer), on the table at the stack top. */
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
void mb_lllm_push_result(lua_State *L, call *c)
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
        if (mb_lllm_html_page(c->req))
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
void mb_lllm_push_gaps(lua_State *L, call *c, unsigned phase)
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

/* __gc of a gaps userdata: the spill it took over is freed. */
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

/* #gaps: every gap, the spilled ones included. */
static int gaps_len(lua_State *L)
{
    gaps *gp = luaL_checkudata(L, 1, GAPS_MT);
    lua_pushinteger(L, (lua_Integer)(gp->n + (gp->spill ? mb_hist_sparse_count(gp->spill) : 0)));
    return 1;
}

/* The gaps metatable: record_into, list, #, __gc. */
void mb_lllm_gaps_register(lua_State *L)
{
    static const luaL_Reg gm[] = {{"record_into", gaps_record}, {"list", gaps_list}, {NULL, NULL}};
    if (luaL_newmetatable(L, GAPS_MT)) {
        luaL_newlib(L, gm);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, gaps_len);
        lua_setfield(L, -2, "__len");
        lua_pushcfunction(L, gaps_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
}

/* l_llm_int.h: what the mlxbench._llm binding's files share (private to
 * src/lua/bind).
 *
 *   l_llm.c         the call's lifecycle: options, start, the extractor's
 *                   hooks, cancellation, wait (on_token batches), release
 *   l_llm_result.c  the result table of a finished call (status, error,
 *                   timings, tokens, usage, reasoning phases, the server's
 *                   own timings) and the ITL gaps userdata */
#ifndef MB_L_LLM_INT_H
#define MB_L_LLM_INT_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include "mlxbench/client.h"
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

/* Nanoseconds to seconds, for the result's fields. */
static inline double secs(int64_t ns) { return (double)ns * 1e-9; }

/* 1 when a response's Content-Type is text/html: a proxy's or load
 * balancer's error page sent with status 200 is not an API response. */
int mb_lllm_html_page(const mb_req *req);
/* Builds the result table of the finished call (runs inside the task). */
void mb_lllm_push_result(lua_State *L, call *c);
/* Pushes the ITL gaps userdata of the call, taking its sparse spill:
 * phase 0 every gap, MB_LLM_REASONING or MB_LLM_ANSWER that phase's. */
void mb_lllm_push_gaps(lua_State *L, call *c, unsigned phase);
/* Registers the gaps userdata's metatable (luaopen_mlxbench_llm). */
void mb_lllm_gaps_register(lua_State *L);

#endif

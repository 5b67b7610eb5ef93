/* llm_openai.c: OpenAI chat completions and legacy completions, as sent by
 * OpenAI and the OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama,
 * mlx_lm, mlx-openai-server, TGI): role-only and null deltas carry nothing;
 * content, refusal, reasoning under `reasoning_content` or `reasoning`,
 * tool-call arguments and legacy `text` carry output. */
#include <string.h>
#include "llm_int.h"

/* Scans one choice (delta for streams, message for bodies) and returns
 * whether it carried output; captures the visible text. */
static int scan_choice(mb_llm *x, const char *s, int choice, const char *msgkey)
{
    const mb_json_tok *t = x->tok;
    int any = 0, d = mb_json_get(s, t, choice, msgkey), v;
    static const char *const fields[] = {"content", "reasoning_content", "reasoning",
                                         "refusal", NULL};
    mb_llm_set_finish(x, s, mb_json_get(s, t, choice, "finish_reason"));
    v = mb_json_get(s, t, choice, "text");   /* legacy completions */
    if (mb_json_nonempty(t, v)) {
        mb_llm_capture(x, s, v);
        any = 1;
    }
    if (d < 0 || t[d].type != MB_JSON_OBJECT)
        return any;
    for (int f = 0; fields[f]; f++) {
        v = mb_json_get(s, t, d, fields[f]);
        if (mb_json_nonempty(t, v)) {
            if (f == 0)
                mb_llm_capture(x, s, v);
            else
                mb_llm_capture_other(x, s, v, 1, f == 1 || f == 2);
            any = 1;
        }
    }
    v = mb_json_get(s, t, d, "tool_calls");
    if (v >= 0 && t[v].type == MB_JSON_ARRAY) {
        /* elements by their `next` links: mb_json_at per index would make a
         * hostile array of n elements cost n^2 */
        uint32_t e = (uint32_t)v + 1;
        for (uint32_t k = 0; k < t[v].size; k++, e = t[e].next) {
            int a = mb_json_path(s, t, (int)e, "function", "arguments", NULL);
            if (mb_json_nonempty(t, a)) {
                mb_llm_capture_other(x, s, a, 1, 0);
                any = 1;
            }
        }
    }
    return any;
}

/* usage: OpenAI names, on the usage chunk, the finish chunk or (vLLM
 * continuous_usage_stats) every chunk -- the latest wins, being cumulative. */
static void read_usage(mb_llm *x, const char *s, int root)
{
    int u = mb_json_get(s, x->tok, root, "usage");
    if (u < 0 || x->tok[u].type != MB_JSON_OBJECT)
        return;
    mb_llm_read_count(x, s, mb_json_get(s, x->tok, u, "completion_tokens"), &x->usage_output);
    mb_llm_read_count(x, s, mb_json_get(s, x->tok, u, "prompt_tokens"), &x->usage_input);
    mb_llm_read_count(x, s, mb_json_path(s, x->tok, u, "completion_tokens_details",
                                         "reasoning_tokens", NULL), &x->usage_reasoning);
}

/* Fails the request when the JSON carries a truthy `error` (what openai-node
 * throws on); returns 1 if it did. */
static int check_error(mb_llm *x, const char *s, int root)
{
    char msg[MB_LLM_MSG_WINDOW];
    if (!mb_json_truthy(s, x->tok, mb_json_get(s, x->tok, root, "error")))
        return 0;
    mb_llm_error_message(x, s, root, msg, sizeof msg);
    mb_llm_fail(x, MB_ERR_STREAM, "server error in stream: %s", msg[0] ? msg : "(no message)");
    return 1;
}

void mb_llm_openai_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns)
{
    const char *s = ev->data;
    size_t n;
    int any = 0, ch;
    if (ev->data_len == 6 && memcmp(s, "[DONE]", 6) == 0) {
        x->done = 1;
        return;
    }
    if (mb_llm_parse(x, s, ev->data_len, &n) < 0 || x->tok[0].type != MB_JSON_OBJECT) {
        if (ev->type_len == 5 && memcmp(ev->type, "error", 5) == 0) {
            char msg[MB_LLM_MSG_WINDOW];
            size_t l = ev->data_len < sizeof msg - 1 ? ev->data_len : sizeof msg - 1;
            memcpy(msg, s, l);
            msg[l] = 0;
            mb_llm_fail(x, MB_ERR_STREAM, "server error event: %s", msg);
        } else
            mb_llm_fail(x, MB_ERR_PROTOCOL, "stream event is not a JSON object");
        return;
    }
    if (check_error(x, s, 0))
        return;
    if (ev->type_len == 5 && memcmp(ev->type, "error", 5) == 0) {
        mb_llm_fail(x, MB_ERR_STREAM, "server sent an `error` event");
        return;
    }
    read_usage(x, s, 0);
    mb_llm_server_read(x, s, 0);
    ch = mb_json_get(s, x->tok, 0, "choices");
    if (ch >= 0 && x->tok[ch].type == MB_JSON_ARRAY)
        for (uint32_t k = 0, e = (uint32_t)ch + 1; k < x->tok[ch].size; k++, e = x->tok[e].next)
            any |= scan_choice(x, s, (int)e, "delta");
    if (any)
        mb_llm_content(x, t_ns);
}

void mb_llm_openai_body(mb_llm *x, const char *s, uint64_t t_ns)
{
    int any = 0, ch;
    if (check_error(x, s, 0))
        return;
    read_usage(x, s, 0);
    mb_llm_server_read(x, s, 0);
    ch = mb_json_get(s, x->tok, 0, "choices");
    if (ch < 0 || x->tok[ch].type != MB_JSON_ARRAY) {
        mb_llm_fail(x, MB_ERR_PROTOCOL, "response has no `choices` array");
        return;
    }
    for (uint32_t k = 0, e = (uint32_t)ch + 1; k < x->tok[ch].size; k++, e = x->tok[e].next)
        any |= scan_choice(x, s, (int)e, "message");
    if (any)
        mb_llm_content(x, t_ns);
    x->done = 1;
}

/* llm_anthropic.c: Anthropic Messages, streamed and not. The event kind is
 * read from the JSON `type` (matching the `event:` name on the real API; the
 * name is the fallback), pings and unknown events are ignored, usage is
 * cumulative on message_delta, input tokens come from message_start. */
#include <string.h>
#include "llm_int.h"

/* Delta kinds that carry output, and the field holding it. */
static int delta_content(mb_llm *x, const char *s, int d)
{
    static const struct { const char *type, *field; int visible, reasoning; } kinds[] = {
        {"text_delta", "text", 1, 0}, {"thinking_delta", "thinking", 0, 1},
        {"input_json_delta", "partial_json", 0, 0}, {NULL, NULL, 0, 0}};
    int ty = mb_json_get(s, x->tok, d, "type");
    for (int k = 0; kinds[k].type; k++) {
        if (mb_json_streq(s, x->tok, ty, kinds[k].type)) {
            int v = mb_json_get(s, x->tok, d, kinds[k].field);
            if (!mb_json_nonempty(x->tok, v))
                return 0;
            if (kinds[k].visible)
                mb_llm_capture(x, s, v);
            else
                mb_llm_capture_other(x, s, v, 1, kinds[k].reasoning);
            return 1;
        }
    }
    return 0;
}

/* Input usage (message_start, and again on message_delta where sent):
 * Anthropic counts the prompt in three parts -- input_tokens (not cached),
 * cache_read_input_tokens and cache_creation_input_tokens -- and the
 * prompt's length is their sum. */
static void read_usage(mb_llm *x, const char *s, int u)
{
    const mb_json_tok *t = x->tok;
    if (u < 0 || t[u].type != MB_JSON_OBJECT)
        return;
    mb_llm_read_count(x, s, mb_json_get(s, t, u, "input_tokens"), &x->anth_input);
    mb_llm_read_count(x, s, mb_json_get(s, t, u, "cache_read_input_tokens"), &x->usage_cached);
    mb_llm_read_count(x, s, mb_json_get(s, t, u, "cache_creation_input_tokens"),
                      &x->usage_cache_write);
    if (x->anth_input >= 0)
        x->usage_input = x->anth_input + (x->usage_cached > 0 ? x->usage_cached : 0) +
                         (x->usage_cache_write > 0 ? x->usage_cache_write : 0);
}

static int is_type(const char *s, const mb_json_tok *t, int ty, const mb_sse_event *ev,
                   const char *name)
{
    size_t l = strlen(name);
    if (ty >= 0)
        return mb_json_streq(s, t, ty, name);
    return ev->type_len == l && memcmp(ev->type, name, l) == 0;
}

void mb_llm_anthropic_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns)
{
    const char *s = ev->data;
    const mb_json_tok *t;
    size_t n;
    int ty;
    if (mb_llm_parse(x, s, ev->data_len, &n) < 0 || x->tok[0].type != MB_JSON_OBJECT) {
        if (ev->type_len == 4 && memcmp(ev->type, "ping", 4) == 0)
            return;
        mb_llm_fail(x, MB_ERR_PROTOCOL, "stream event is not a JSON object");
        return;
    }
    t = x->tok;
    ty = mb_json_get(s, t, 0, "type");
    if (is_type(s, t, ty, ev, "error")) {
        char msg[MB_LLM_MSG_WINDOW];
        mb_llm_error_message(x, s, 0, msg, sizeof msg);
        mb_llm_fail(x, MB_ERR_STREAM, "server error in stream: %s", msg[0] ? msg : "(no message)");
    } else if (is_type(s, t, ty, ev, "message_start")) {
        x->started = 1;
        read_usage(x, s, mb_json_path(s, t, 0, "message", "usage", NULL));
    } else if (is_type(s, t, ty, ev, "content_block_delta")) {
        if (delta_content(x, s, mb_json_get(s, t, 0, "delta")))
            mb_llm_content(x, t_ns);
    } else if (is_type(s, t, ty, ev, "content_block_start")) {
        /* blocks normally start empty; count one that does not */
        int cb = mb_json_get(s, t, 0, "content_block");
        int v = mb_json_get(s, t, cb, "text");
        if (mb_json_nonempty(t, v)) {
            mb_llm_capture(x, s, v);
            mb_llm_content(x, t_ns);
        }
    } else if (is_type(s, t, ty, ev, "message_delta")) {
        int u = mb_json_get(s, t, 0, "usage");
        mb_llm_set_finish(x, s, mb_json_path(s, t, 0, "delta", "stop_reason", NULL));
        if (u >= 0 && t[u].type == MB_JSON_OBJECT) {
            mb_llm_read_count(x, s, mb_json_get(s, t, u, "output_tokens"), &x->usage_output);
            read_usage(x, s, u);
        }
    } else if (is_type(s, t, ty, ev, "message_stop")) {
        x->done = 1;
    }
}

void mb_llm_anthropic_body(mb_llm *x, const char *s, uint64_t t_ns)
{
    const mb_json_tok *t = x->tok;
    int any = 0, c, u;
    if (mb_json_streq(s, t, mb_json_get(s, t, 0, "type"), "error")) {
        char msg[MB_LLM_MSG_WINDOW];
        mb_llm_error_message(x, s, 0, msg, sizeof msg);
        mb_llm_fail(x, MB_ERR_PROTOCOL, "error body with a 2xx status: %s", msg);
        return;
    }
    c = mb_json_get(s, t, 0, "content");
    if (c < 0 || t[c].type != MB_JSON_ARRAY) {
        mb_llm_fail(x, MB_ERR_PROTOCOL, "response has no `content` array");
        return;
    }
    for (uint32_t k = 0, e = (uint32_t)c + 1; k < t[c].size; k++, e = t[e].next) {
        int b = (int)e, v;
        if ((v = mb_json_get(s, t, b, "text")) >= 0 && mb_json_nonempty(t, v)) {
            mb_llm_capture(x, s, v);
            any = 1;
        } else if ((v = mb_json_get(s, t, b, "thinking")) >= 0 && mb_json_nonempty(t, v)) {
            mb_llm_capture_other(x, s, v, 1, 1);
            any = 1;
        } else if (mb_json_get(s, t, b, "input") >= 0) {
            any = 1;
        }
    }
    mb_llm_set_finish(x, s, mb_json_get(s, t, 0, "stop_reason"));
    u = mb_json_get(s, t, 0, "usage");
    if (u >= 0 && t[u].type == MB_JSON_OBJECT) {
        mb_llm_read_count(x, s, mb_json_get(s, t, u, "output_tokens"), &x->usage_output);
        read_usage(x, s, u);
    }
    if (any)
        mb_llm_content(x, t_ns);
    x->done = 1;
}

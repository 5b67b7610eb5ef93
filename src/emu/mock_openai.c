/* mock_openai.c: OpenAI's bytes -- chat completion chunks and bodies, legacy
 * text completions, and the error envelope -- as the real API and the SDKs
 * expect them (tests/fixtures/wire/REFERENCE.md, sections 3 and 6): compact
 * JSON, `data: ` + JSON + blank line, role chunk first, `delta:{}` finish
 * chunk, the usage chunk with `choices:[]`, and always `data: [DONE]`. */
#include <string.h>
#include "mock_int.h"

#define FINGERPRINT "fp_mlxbench_mock"

const char *mk_finish_reason(const mk_req *r)
{
    if (r->api == MK_MESSAGES)
        return r->finish_length ? "max_tokens" : "end_turn";
    return r->finish_length ? "length" : "stop";
}

void mk_openai_error(mb_buf *b, const char *message, const char *type, const char *param,
                     const char *code)
{
    mb_buf_puts(b, "{\"error\":{\"message\":");
    mb_json_put_str(b, message, strlen(message));
    mb_buf_puts(b, ",\"type\":");
    mb_json_put_str(b, type, strlen(type));
    mb_buf_puts(b, ",\"param\":");
    if (param)
        mb_json_put_str(b, param, strlen(param));
    else
        mb_buf_puts(b, "null");
    mb_buf_puts(b, ",\"code\":");
    if (code)
        mb_json_put_str(b, code, strlen(code));
    else
        mb_buf_puts(b, "null");
    mb_buf_puts(b, "}}");
}

/* `data: {"id":...,"object":...,"created":...,"model":...,` -- what every
 * chunk of a stream starts with. */
static void chunk_head(const mk_req *r, mb_buf *b)
{
    mb_buf_puts(b, "data: {\"id\":\"");
    mb_buf_puts(b, r->id);
    mb_buf_puts(b, r->api == MK_CHAT ? "\",\"object\":\"chat.completion.chunk\",\"created\":"
                                 : "\",\"object\":\"text_completion\",\"created\":");
    mb_buf_put_u64(b, (uint64_t)r->created);
    mb_buf_puts(b, ",\"model\":");
    mb_buf_puts(b, r->model_json);
    mb_buf_puts(b, ",\"system_fingerprint\":\"" FINGERPRINT "\",\"choices\":[");
}

static void usage_obj(const mk_req *r, mb_buf *b)
{
    uint64_t out = mk_usage_out((mk_req *)r);
    mb_buf_puts(b, "{\"prompt_tokens\":");
    mb_buf_put_u64(b, r->prompt_tokens);
    mb_buf_puts(b, ",\"completion_tokens\":");
    mb_buf_put_u64(b, out);
    mb_buf_puts(b, ",\"total_tokens\":");
    mb_buf_put_u64(b, r->prompt_tokens + out);
    if (r->api == MK_CHAT) {
        mb_buf_puts(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        mb_buf_put_u64(b, r->cached_tokens);
        mb_buf_puts(b, "},\"completion_tokens_details\":{\"reasoning_tokens\":");
        mb_buf_put_u64(b, mk_usage_reasoning((mk_req *)r));
        mb_buf_puts(b, "}");
    }
    mb_buf_puts(b, "}");
}

/* The chunk that carries usage (stream_options.include_usage), then [DONE]. */
static void stream_tail(const mk_req *r, mb_buf *b)
{
    if (r->include_usage && r->usage) {
        chunk_head(r, b);
        mb_buf_puts(b, "],\"usage\":");
        usage_obj(r, b);
        mb_buf_puts(b, "}\n\n");
    }
    mb_buf_puts(b, "data: [DONE]\n\n");
}

/* ------------------------------------------------------------------ chat */

static void chat_begin(mk_req *r, mb_buf *b)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
               "\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

static void chat_delta(mk_req *r, mb_buf *b, const char *text, size_t len, int reasoning)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"index\":0,\"delta\":{\"");
    mb_buf_puts(b, reasoning ? r->model->reasoning_field : "content");
    mb_buf_puts(b, "\":\"");
    mb_buf_add(b, text, len);   /* generator text needs no escaping */
    mb_buf_puts(b, "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

static void chat_finish(mk_req *r, mb_buf *b)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\"}]");
    mk_timings_json(r, b, 0);   /* llama.cpp's place for them: the finish chunk */
    mb_buf_puts(b, "}\n\n");
    stream_tail(r, b);
}

/* A failure after HTTP 200, as OpenAI and vLLM send it: an `error` chunk
 * (the SDKs raise APIError on it), then the terminator. */
static void openai_stream_error(mk_req *r, mb_buf *b)
{
    (void)r;
    mb_buf_puts(b, "data: ");
    mk_openai_error(b, "The server had an error while processing your request. Sorry about that!",
                    "server_error", NULL, NULL);
    mb_buf_puts(b, "\n\n");
    mb_buf_puts(b, "data: [DONE]\n\n");
}

/* An event whose JSON is cut short: parsers must reject it. */
static void openai_malformed(mk_req *r, mb_buf *b)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"index\":0,\"delta\":{\"content\":\"\n\n");
}

static void chat_body(mk_req *r, mb_buf *b, const char *text, size_t len, const char *rtext,
                      size_t rlen)
{
    mb_buf_puts(b, "{\"id\":\"");
    mb_buf_puts(b, r->id);
    mb_buf_puts(b, "\",\"object\":\"chat.completion\",\"created\":");
    mb_buf_put_u64(b, (uint64_t)r->created);
    mb_buf_puts(b, ",\"model\":");
    mb_buf_puts(b, r->model_json);
    mb_buf_puts(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
    mb_json_put_str(b, text, len);
    if (rtext && r->reasoning > 0) {
        mb_buf_puts(b, ",\"");
        mb_buf_puts(b, r->model->reasoning_field);
        mb_buf_puts(b, "\":");
        mb_json_put_str(b, rtext, rlen);
    }
    mb_buf_puts(b, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\"}]");
    if (r->usage) {
        mb_buf_puts(b, ",\"usage\":");
        usage_obj(r, b);
    }
    mk_timings_json(r, b, 1);
    mb_buf_puts(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"" FINGERPRINT "\"}");
}

const mk_api mk_api_chat = {
    chat_begin, chat_delta, chat_finish, openai_stream_error, openai_malformed, chat_body};

/* -------------------------------------------------- legacy completions */

static void cmpl_begin(mk_req *r, mb_buf *b)
{
    (void)r;
    (void)b;   /* the legacy stream has no role chunk */
}

static void cmpl_delta(mk_req *r, mb_buf *b, const char *text, size_t len, int reasoning)
{
    (void)reasoning;
    chunk_head(r, b);
    mb_buf_puts(b, "{\"text\":\"");
    mb_buf_add(b, text, len);
    mb_buf_puts(b, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}\n\n");
}

static void cmpl_finish(mk_req *r, mb_buf *b)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\"}]");
    mk_timings_json(r, b, 0);
    mb_buf_puts(b, "}\n\n");
    stream_tail(r, b);
}

static void cmpl_malformed(mk_req *r, mb_buf *b)
{
    chunk_head(r, b);
    mb_buf_puts(b, "{\"text\":\"\n\n");
}

static void cmpl_body(mk_req *r, mb_buf *b, const char *text, size_t len, const char *rtext,
                      size_t rlen)
{
    (void)rtext;
    (void)rlen;
    mb_buf_puts(b, "{\"id\":\"");
    mb_buf_puts(b, r->id);
    mb_buf_puts(b, "\",\"object\":\"text_completion\",\"created\":");
    mb_buf_put_u64(b, (uint64_t)r->created);
    mb_buf_puts(b, ",\"model\":");
    mb_buf_puts(b, r->model_json);
    mb_buf_puts(b, ",\"system_fingerprint\":\"" FINGERPRINT "\",\"choices\":[{\"text\":");
    mb_json_put_str(b, text, len);
    mb_buf_puts(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\"}]");
    if (r->usage) {
        mb_buf_puts(b, ",\"usage\":");
        usage_obj(r, b);
    }
    mk_timings_json(r, b, 1);
    mb_buf_puts(b, "}");
}

const mk_api mk_api_completions = {
    cmpl_begin, cmpl_delta, cmpl_finish, openai_stream_error, cmpl_malformed, cmpl_body};

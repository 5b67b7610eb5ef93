/* mock_anthropic.c: Anthropic Messages bytes (REFERENCE.md sections 4, 6):
 * every event is `event: NAME` + `data:` JSON whose "type" matches, usage in
 * message_start and message_delta (the SDK reads both), message_stop last,
 * errors as {"type":"error","error":{...}} in the body or as `event: error`. */
#include <string.h>
#include "mock_int.h"

void mk_anthropic_error(mk_buf *b, const char *type, const char *message, const char *request_id)
{
    mk_puts(b, "{\"type\":\"error\",\"error\":{\"type\":");
    mk_put_json_str(b, type, strlen(type));
    mk_puts(b, ",\"message\":");
    mk_put_json_str(b, message, strlen(message));
    mk_puts(b, "}");
    if (request_id) {
        mk_puts(b, ",\"request_id\":");
        mk_put_json_str(b, request_id, strlen(request_id));
    }
    mk_puts(b, "}");
}

static void usage_obj(const mk_req *r, mk_buf *b, uint64_t out)
{
    mk_puts(b, "{\"input_tokens\":");
    mk_put_u64(b, r->prompt_tokens);
    mk_puts(b, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":");
    mk_put_u64(b, out);
    mk_puts(b, ",\"service_tier\":\"standard\"}");
}

/* message_start (usage.output_tokens 1, as the real API reports before any
 * text), the text block's start and one ping. */
static void msg_begin(mk_req *r, mk_buf *b)
{
    mk_puts(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"");
    mk_puts(b, r->id);
    mk_puts(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    mk_puts(b, r->model_json);
    mk_puts(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    usage_obj(r, b, 1);
    mk_puts(b, "}}\n\n");
    mk_puts(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
               "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    mk_puts(b, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void msg_delta(mk_req *r, mk_buf *b, const char *text, size_t len, int reasoning)
{
    (void)r;
    (void)reasoning;
    mk_puts(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":\"");
    mk_put(b, text, len);
    mk_puts(b, "\"}}\n\n");
}

static void msg_finish(mk_req *r, mk_buf *b)
{
    mk_puts(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
    mk_puts(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    mk_puts(b, mk_finish_reason(r));
    mk_puts(b, "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
    mk_put_u64(b, r->emitted);
    mk_puts(b, "}}\n\n");
    mk_puts(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void msg_stream_error(mk_req *r, mk_buf *b)
{
    (void)r;
    mk_puts(b, "event: error\ndata: ");
    mk_anthropic_error(b, "overloaded_error", "Overloaded", NULL);
    mk_puts(b, "\n\n");
}

static void msg_malformed(mk_req *r, mk_buf *b)
{
    (void)r;
    mk_puts(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_de\n\n");
}

static void msg_body(mk_req *r, mk_buf *b, const char *text, size_t len, const char *rtext,
                     size_t rlen)
{
    (void)rtext;
    (void)rlen;
    mk_puts(b, "{\"id\":\"");
    mk_puts(b, r->id);
    mk_puts(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    mk_puts(b, r->model_json);
    mk_puts(b, ",\"content\":[{\"type\":\"text\",\"text\":");
    mk_put_json_str(b, text, len);
    mk_puts(b, "}],\"stop_reason\":\"");
    mk_puts(b, mk_finish_reason(r));
    mk_puts(b, "\",\"stop_sequence\":null,\"usage\":");
    usage_obj(r, b, mk_usage_out(r));
    mk_puts(b, "}");
}

const mk_api mk_api_messages = {
    msg_begin, msg_delta, msg_finish, msg_stream_error, msg_malformed, msg_body};

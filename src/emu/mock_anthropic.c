/* mock_anthropic.c: Anthropic Messages bytes (REFERENCE.md sections 4, 6):
 * every event is `event: NAME` + `data:` JSON whose "type" matches, usage in
 * message_start and message_delta (the SDK reads both), message_stop last,
 * errors as {"type":"error","error":{...}} in the body or as `event: error`. */
#include <string.h>
#include "mock_int.h"

void mk_anthropic_error(mb_buf *b, const char *type, const char *message, const char *request_id)
{
    mb_buf_puts(b, "{\"type\":\"error\",\"error\":{\"type\":");
    mb_json_put_str(b, type, strlen(type));
    mb_buf_puts(b, ",\"message\":");
    mb_json_put_str(b, message, strlen(message));
    mb_buf_puts(b, "}");
    if (request_id) {
        mb_buf_puts(b, ",\"request_id\":");
        mb_json_put_str(b, request_id, strlen(request_id));
    }
    mb_buf_puts(b, "}");
}

static void usage_obj(const mk_req *r, mb_buf *b, uint64_t out)
{
    mb_buf_puts(b, "{\"input_tokens\":");
    mb_buf_put_u64(b, r->prompt_tokens);
    mb_buf_puts(b, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":");
    mb_buf_put_u64(b, out);
    mb_buf_puts(b, ",\"service_tier\":\"standard\"}");
}

/* message_start (usage.output_tokens 1, as the real API reports before any
 * text), the text block's start and one ping. */
static void msg_begin(mk_req *r, mb_buf *b)
{
    mb_buf_puts(b, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"");
    mb_buf_puts(b, r->id);
    mb_buf_puts(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    mb_buf_puts(b, r->model_json);
    mb_buf_puts(b, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":");
    usage_obj(r, b, 1);
    mb_buf_puts(b, "}}\n\n");
    mb_buf_puts(b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
               "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
    mb_buf_puts(b, "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

static void msg_delta(mk_req *r, mb_buf *b, const char *text, size_t len, int reasoning)
{
    (void)r;
    (void)reasoning;
    mb_buf_puts(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_delta\",\"text\":\"");
    mb_buf_add(b, text, len);
    mb_buf_puts(b, "\"}}\n\n");
}

static void msg_finish(mk_req *r, mb_buf *b)
{
    mb_buf_puts(b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
    mb_buf_puts(b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":");
    mb_buf_put_u64(b, r->emitted);
    mb_buf_puts(b, "}}\n\n");
    mb_buf_puts(b, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
}

static void msg_stream_error(mk_req *r, mb_buf *b)
{
    (void)r;
    mb_buf_puts(b, "event: error\ndata: ");
    mk_anthropic_error(b, "overloaded_error", "Overloaded", NULL);
    mb_buf_puts(b, "\n\n");
}

static void msg_malformed(mk_req *r, mb_buf *b)
{
    (void)r;
    mb_buf_puts(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
               "\"delta\":{\"type\":\"text_de\n\n");
}

static void msg_body(mk_req *r, mb_buf *b, const char *text, size_t len, const char *rtext,
                     size_t rlen)
{
    (void)rtext;
    (void)rlen;
    mb_buf_puts(b, "{\"id\":\"");
    mb_buf_puts(b, r->id);
    mb_buf_puts(b, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    mb_buf_puts(b, r->model_json);
    mb_buf_puts(b, ",\"content\":[{\"type\":\"text\",\"text\":");
    mb_json_put_str(b, text, len);
    mb_buf_puts(b, "}],\"stop_reason\":\"");
    mb_buf_puts(b, mk_finish_reason(r));
    mb_buf_puts(b, "\",\"stop_sequence\":null,\"usage\":");
    usage_obj(r, b, mk_usage_out(r));
    mb_buf_puts(b, "}");
}

const mk_api mk_api_messages = {
    msg_begin, msg_delta, msg_finish, msg_stream_error, msg_malformed, msg_body};

/* llm_int.h: internals shared by llm.c and the per-API extractors. */
#ifndef MB_LLM_INT_H
#define MB_LLM_INT_H

#include "mlxbench/llm.h"

/* How much of a server's message is read (and redacted) before it is cut
 * to err_msg: a key anywhere in it is gone before the cut. */
#define MB_LLM_MSG_WINDOW 4096

/* Latches the first failure (kind and printf-formatted message); later
 * ones are ignored. The message is redacted (redact.h) before it is cut to
 * err_msg. */
void mb_llm_fail(mb_llm *x, mb_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Tokenizes s into x->tok, growing the array once if needed. */
int mb_llm_parse(mb_llm *x, const char *s, size_t n, size_t *ntok);
/* Records a content-carrying event at t_ns. */
int mb_llm_content(mb_llm *x, uint64_t t_ns);
/* Counts (and, with capture on, appends) the string token i as content. */
void mb_llm_capture(mb_llm *x, const char *s, int i);
/* Generated output that is not the visible text (reasoning, refusal,
 * tool-call arguments): kept only for counting (capture & 2; reasoning
 * also apart, in rgen); count adds its raw length to content_bytes; marks
 * the event as reasoning or answer. */
void mb_llm_capture_other(mb_llm *x, const char *s, int i, int count, int reasoning);
void mb_llm_set_finish(mb_llm *x, const char *s, int i);
/* Reads a usage count; marks usage invalid when negative, huge or not an integer. */
void mb_llm_read_count(mb_llm *x, const char *s, int i, int64_t *out);
void mb_llm_error_message(mb_llm *x, const char *s, int root, char *buf, size_t cap);

/* The server's report of its own work (llm_server.c): reads the top-level
 * object `root` of an event or body. */
void mb_llm_server_init(mb_llm_server *sv);
void mb_llm_server_read(mb_llm *x, const char *s, int root);

void mb_llm_openai_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns);
void mb_llm_openai_body(mb_llm *x, const char *s, uint64_t t_ns);
void mb_llm_anthropic_event(mb_llm *x, const mb_sse_event *ev, uint64_t t_ns);
void mb_llm_anthropic_body(mb_llm *x, const char *s, uint64_t t_ns);

#endif

/* json: a validating, non-allocating JSON tokenizer (jsmn-shaped).
 *
 * The LLM extractors read a handful of fields from every streamed chunk; a
 * DOM parser would allocate per token of output. This fills a caller-owned
 * token array instead, validates the grammar and UTF-8 strictly, bounds
 * nesting, and offers lookups by key/index. Pure C, no I/O. */
#ifndef MLXBENCH_JSON_H
#define MLXBENCH_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "mlxbench/buf.h"

enum { MB_JSON_NULL, MB_JSON_FALSE, MB_JSON_TRUE, MB_JSON_NUMBER,
       MB_JSON_STRING, MB_JSON_ARRAY, MB_JSON_OBJECT };

typedef struct mb_json_tok {
    uint32_t start, len;   /* bytes; for strings the raw text between quotes */
    uint32_t next;         /* index of the first token after this subtree */
    uint32_t size;         /* members (object: keys) or elements (array) */
    uint8_t type;
} mb_json_tok;

#define MB_JSON_MAX_DEPTH 256

/* Tokenizes s[0..n) as one JSON value (surrounding whitespace allowed).
 * Object members appear as key token then value subtree. Returns 0 and
 * *ntok, MB_EPARSE on malformed input (bad grammar, bad UTF-8, nesting over
 * MB_JSON_MAX_DEPTH, trailing bytes) or MB_ETOOLONG when more than `max`
 * tokens are needed (*ntok then holds how many would be needed, if known,
 * else 0). */
int mb_json_parse(const char *s, size_t n, mb_json_tok *toks, size_t max, size_t *ntok);

/* Index of the value for `key` in object token `obj`, or -1. Keys are
 * compared on their raw (escaped) text, fine for the ASCII keys of APIs. */
int mb_json_get(const char *s, const mb_json_tok *t, int obj, const char *key);
/* Index of element i of array token `arr`, or -1. */
int mb_json_at(const mb_json_tok *t, int arr, uint32_t i);
/* Follows a path of keys: mb_json_path(s, t, 0, "usage", "output_tokens", NULL). */
int mb_json_path(const char *s, const mb_json_tok *t, int from, ...);

/* 1 if token i is a string equal to lit (raw comparison). */
int mb_json_streq(const char *s, const mb_json_tok *t, int i, const char *lit);
/* 1 if token i is a non-empty string. */
int mb_json_nonempty(const mb_json_tok *t, int i);
/* JavaScript truthiness (null/false/0/"" are false; objects/arrays true). */
int mb_json_truthy(const char *s, const mb_json_tok *t, int i);
/* Reads an integral number in [-2^53, 2^53]: 0, or MB_EINVAL if token i is
 * not such a number (fractions, exponents that leave a fraction, huge). */
int mb_json_int(const char *s, const mb_json_tok *t, int i, int64_t *out);
/* Unescapes string token i into buf (always NUL-terminated, truncated to
 * cap-1 bytes at a UTF-8 boundary); returns the full unescaped length. */
size_t mb_json_str(const char *s, const mb_json_tok *t, int i, char *buf, size_t cap);
/* Appends the unescaped string token i to a growable buffer; MB_ENOMEM. */
int mb_json_str_append(const char *s, const mb_json_tok *t, int i,
                       char **buf, size_t *len, size_t *cap);

/* Appends s[0..n) as a JSON string literal ("..." with ", \\ and control
 * characters escaped; other bytes as they are). 0 or MB_ENOMEM. */
int mb_json_put_str(mb_buf *b, const char *s, size_t n);

#endif

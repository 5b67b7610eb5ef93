/* json: the one JSON reader of mlxbench -- validating, non-allocating.
 * Pure C, no I/O. Two ways to read a document:
 *
 *  - tokens (jsmn-shaped): mb_json_parse fills a caller-owned token array,
 *    then lookups by key/index. The LLM extractors read a handful of fields
 *    from every streamed chunk this way: no allocation per token of output.
 *  - a cursor: mb_json_doc validates the whole text once (storing nothing)
 *    and hands out values that point into it; iterate containers, find keys,
 *    read numbers and strings (unescaped in pieces if need be). Memory is
 *    O(1) whatever the input: the emulator reads request bodies, whose size
 *    is the client's to choose, this way.
 *
 * Both validate the grammar and UTF-8 strictly and bound nesting. */
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
/* Where a malformed document stops making sense: the byte offset the
 * parser failed at (n for an incomplete document, or a valid one). */
size_t mb_json_error_offset(const char *s, size_t n);

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

/* ---- the cursor ------------------------------------------------------ */

/* A value inside a validated document: p is its first byte (a string's
 * opening quote), n its length (quotes included). */
typedef struct mb_json_val {
    const char *p;
    size_t n;
    int type;                   /* MB_JSON_* */
} mb_json_val;

typedef struct mb_json_iter {
    const char *p, *end;        /* the next member or element; the container's last byte */
    int obj;                    /* iterating an object */
} mb_json_iter;

/* Validates s[0..n) as one JSON value (as mb_json_parse does) and sets
 * *root to it. 0, MB_EPARSE or MB_ETOOLONG (over 4 GiB). */
int mb_json_doc(const char *s, size_t n, mb_json_val *root);
/* Starts iterating an object's members or an array's elements (anything
 * else iterates nothing). */
void mb_json_iter_init(mb_json_iter *it, const mb_json_val *container);
/* The next member (*key its name, a string) or element (key may be NULL).
 * 1, or 0 at the end. */
int mb_json_next(mb_json_iter *it, mb_json_val *key, mb_json_val *val);
/* The first member of object `obj` named `key` (raw comparison, as
 * mb_json_get): 1 and *out, or 0. */
int mb_json_find(const mb_json_val *obj, const char *key, mb_json_val *out);
/* 1 if v is a string whose raw text is lit. */
int mb_json_eq(const mb_json_val *v, const char *lit);
/* The value of a number (strtod's reading); NAN if v is not a number. */
double mb_json_num(const mb_json_val *v);
/* Unescapes string v in pieces: from raw offset *pos (start at 0), writes
 * at most cap bytes (cap >= 4; a multi-byte character may straddle two
 * pieces) and advances *pos. Returns the bytes written, 0 once the string
 * is done. */
size_t mb_json_unescape(const mb_json_val *v, size_t *pos, char *buf, size_t cap);
/* Unescapes string v into buf (NUL-terminated, truncated to cap-1 bytes at
 * a character boundary); returns the whole unescaped length (0 if v is
 * not a string). */
size_t mb_json_strcpy(const mb_json_val *v, char *buf, size_t cap);
/* The unescaped string as a malloc'd C string; NULL if v is not a string
 * or out of memory. */
char *mb_json_strdup(const mb_json_val *v);

/* ---- writing ---------------------------------------------------------- */

/* Appends s[0..n) as a JSON string literal ("..." with ", \\ and control
 * characters escaped; other bytes as they are). 0 or MB_ENOMEM. */
int mb_json_put_str(mb_buf *b, const char *s, size_t n);

#endif

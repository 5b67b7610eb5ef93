/* tok_json.h: reading tokenizer.json through the project's JSON tokenizer
 * (src/core/json.c): a parsed document and typed accessors with errors
 * that name what is wrong. */
#ifndef MB_TOK_JSON_H
#define MB_TOK_JSON_H

#include "mlxbench/json.h"
#include "tok_int.h"

typedef struct tok_json {
    const char *s;
    mb_json_tok *t;
    size_t ntok;
    tok_buf tmp;            /* the last unescaped string */
    char *err;
    size_t errlen;
} tok_json;

/* Parses s (two passes: count, then fill). */
int tok_json_parse(tok_json *j, const char *s, size_t n);
void tok_json_free(tok_json *j);

int tok_json_get(const tok_json *j, int obj, const char *key);
/* Like tok_json_get, comparing keys unescaped (keys from the file). */
int tok_json_member(tok_json *j, int obj, const char *key, size_t keylen);
int tok_json_is(const tok_json *j, int i, int type);
/* The unescaped string i (valid until the next call), or NULL when i is
 * not a string. */
const char *tok_json_str(tok_json *j, int i, size_t *len);
/* A malloc'ed copy of string i; NULL with *rc set on error. */
char *tok_json_dup(tok_json *j, int i, size_t *len, int *rc);
/* obj.key as a bool: absent or null gives def; another type is an error
 * naming `what`. */
int tok_json_bool(tok_json *j, int obj, const char *key, int def, int *out, const char *what);
int tok_json_int(tok_json *j, int obj, const char *key, int64_t def, int64_t *out, const char *what);
/* obj.type, or "" */
const char *tok_json_type(tok_json *j, int obj);

#endif

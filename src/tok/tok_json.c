/* tok_json.c: accessors over the JSON tokenizer's tokens for the loaders. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_json.h"

/* One pass: every token but the first follows one of , : [ { so their
 * count bounds the tokens needed (strings containing them only make the
 * bound looser). */
int tok_json_parse(tok_json *j, const char *s, size_t n)
{
    size_t bound = 1;
    const unsigned char *u = (const unsigned char *)s;
    j->s = s;
    for (size_t i = 0; i < n; i++) {
        unsigned c = u[i];
        bound += (size_t)(c == ',') + (c == ':') + (c == '[') + (c == '{');   /* vectorizes */
    }
    j->t = malloc(bound * sizeof *j->t);
    if (!j->t)
        return MB_ENOMEM;
    return mb_json_parse(s, n, j->t, bound, &j->ntok);
}

void tok_json_free(tok_json *j)
{
    free(j->t);
    free(j->tmp.p);
    j->t = NULL;
    j->tmp.p = NULL;
}

int tok_json_get(const tok_json *j, int obj, const char *key)
{
    return mb_json_get(j->s, j->t, obj, key);
}

int tok_json_is(const tok_json *j, int i, int type)
{
    return i >= 0 && j->t[i].type == type;
}

const char *tok_json_str(tok_json *j, int i, size_t *len)
{
    if (!tok_json_is(j, i, MB_JSON_STRING))
        return NULL;
    j->tmp.len = 0;
    if (tok_buf_reserve(&j->tmp, j->t[i].len + 1) < 0)
        return NULL;
    *len = mb_json_str(j->s, j->t, i, j->tmp.p, j->tmp.cap);
    j->tmp.len = *len;
    return j->tmp.p;
}

char *tok_json_dup(tok_json *j, int i, size_t *len, int *rc)
{
    size_t l;
    const char *s = tok_json_str(j, i, &l);
    char *d;
    if (!s) {
        *rc = MB_EINVAL;
        return NULL;
    }
    d = malloc(l + 1);
    if (!d) {
        *rc = MB_ENOMEM;
        return NULL;
    }
    memcpy(d, s, l + 1);
    if (len)
        *len = l;
    *rc = 0;
    return d;
}

int tok_json_bool(tok_json *j, int obj, const char *key, int def, int *out, const char *what)
{
    int i = tok_json_get(j, obj, key);
    *out = def;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    if (j->t[i].type == MB_JSON_TRUE || j->t[i].type == MB_JSON_FALSE) {
        *out = j->t[i].type == MB_JSON_TRUE;
        return 0;
    }
    return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: \"%s\" must be true or false", what, key);
}

int tok_json_int(tok_json *j, int obj, const char *key, int64_t def, int64_t *out, const char *what)
{
    int i = tok_json_get(j, obj, key);
    *out = def;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    if (mb_json_int(j->s, j->t, i, out) < 0)
        return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: \"%s\" must be an integer", what, key);
    return 0;
}

const char *tok_json_type(tok_json *j, int obj)
{
    size_t l;
    const char *s = tok_json_str(j, tok_json_get(j, obj, "type"), &l);
    return s ? s : "";
}

int tok_json_member(tok_json *j, int obj, const char *key, size_t keylen)
{
    if (!tok_json_is(j, obj, MB_JSON_OBJECT))
        return -1;
    uint32_t k = (uint32_t)obj + 1;
    for (uint32_t m = 0; m < j->t[obj].size; m++) {
        const mb_json_tok *kt = &j->t[k];
        const char *raw = j->s + kt->start;
        if (!memchr(raw, '\\', kt->len)) {
            if (kt->len == keylen && memcmp(raw, key, keylen) == 0)
                return (int)k + 1;
        } else {
            size_t l;
            const char *u = tok_json_str(j, (int)k, &l);
            if (u && l == keylen && memcmp(u, key, keylen) == 0)
                return (int)k + 1;
        }
        k = j->t[k + 1].next;
    }
    return -1;
}

/* json.c: validating, non-allocating JSON tokenizer and lookups. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/json.h"
#include "mlxbench/utf8.h"

enum { ST_VALUE, ST_VALUE_OR_CLOSE, ST_KEY, ST_KEY_OR_CLOSE, ST_COLON,
       ST_COMMA_OR_CLOSE, ST_DONE };

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid:
 * rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && p[1] < 0xA0) return 0;   /* overlong */
        if (c == 0xED && p[1] >= 0xA0) return 0;  /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
            (p[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && p[1] < 0x90) return 0;   /* overlong */
        if (c == 0xF4 && p[1] >= 0x90) return 0;  /* > U+10FFFF */
        return 4;
    }
    return 0;
}

/* Scans a string body starting after the opening quote; returns the index of
 * the closing quote or (size_t)-1 when malformed. */
static size_t scan_string(const char *s, size_t n, size_t i)
{
    const unsigned char *u = (const unsigned char *)s;
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"')
            return i;
        if (c < 0x20)
            return (size_t)-1;
        if (c == '\\') {
            if (++i >= n) return (size_t)-1;
            switch (u[i]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                i++;
                break;
            case 'u':
                if (i + 4 >= n) return (size_t)-1;
                for (int k = 1; k <= 4; k++)
                    if (hexval(u[i + k]) < 0) return (size_t)-1;
                i += 5;
                break;
            default:
                return (size_t)-1;
            }
        } else if (c < 0x80) {
            i++;
        } else {
            size_t l = utf8_len(u + i, n - i);
            if (!l) return (size_t)-1;
            i += l;
        }
    }
    return (size_t)-1;
}

/* Scans a number per RFC 8259; returns the index after it or (size_t)-1. */
static size_t scan_number(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '-') i++;
    if (i >= n) return (size_t)-1;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    } else {
        return (size_t)-1;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return (size_t)-1;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d) return (size_t)-1;
    }
    return i;
}

/* One pass, explicit stack of open containers, so depth is bounded by
 * MB_JSON_MAX_DEPTH and never by the C stack. Tokens past `max` are counted
 * but not stored, so the caller learns how many it needs. */
/* A malformed document: where the parser stopped. */
#define BAD do { if (err_at) *err_at = i; return MB_EPARSE; } while (0)

static int parse(const char *s, size_t n, mb_json_tok *toks, size_t max, size_t *ntok,
                 size_t *err_at)
{
    uint32_t stack[MB_JSON_MAX_DEPTH];
    int depth = 0, state = ST_VALUE;
    size_t i = 0, count = 0;

    *ntok = 0;
    if (n > UINT32_MAX)
        return MB_ETOOLONG;
    while (i < n) {
        char c = s[i];
        if (is_ws(c)) {
            i++;
            continue;
        }
        if (state == ST_DONE)
            BAD;
        if (state == ST_COLON) {
            if (c != ':') BAD;
            state = ST_VALUE;
            i++;
            continue;
        }
        if (state == ST_COMMA_OR_CLOSE || state == ST_VALUE_OR_CLOSE || state == ST_KEY_OR_CLOSE) {
            int is_close = (c == '}' || c == ']');
            if (is_close) {
                uint32_t ent, top;
                if (state == ST_VALUE_OR_CLOSE && c != ']') BAD;
                if (state == ST_KEY_OR_CLOSE && c != '}') BAD;
                if (depth == 0) BAD;
                ent = stack[--depth];
                top = ent & 0x7fffffffu;
                if (!!(ent & 0x80000000u) != (c == '}')) BAD;
                if (top < max) {
                    toks[top].next = (uint32_t)count;
                    toks[top].len = (uint32_t)(i + 1 - toks[top].start);
                }
                state = depth ? ST_COMMA_OR_CLOSE : ST_DONE;
                i++;
                continue;
            }
            if (state == ST_COMMA_OR_CLOSE) {
                uint32_t top;
                if (c != ',' || depth == 0) BAD;
                top = stack[depth - 1];
                /* past max the type is unknown: the stack bit below keeps it */
                state = (top & 0x80000000u) ? ST_KEY : ST_VALUE;
                i++;
                continue;
            }
            state = state == ST_KEY_OR_CLOSE ? ST_KEY : ST_VALUE;
        }
        if (state == ST_KEY) {
            size_t e;
            if (c != '"') BAD;
            e = scan_string(s, n, i + 1);
            if (e == (size_t)-1) BAD;
            if (count < max) {
                toks[count] = (mb_json_tok){(uint32_t)(i + 1), (uint32_t)(e - i - 1),
                                            (uint32_t)(count + 1), 0, MB_JSON_STRING};
            }
            {
                uint32_t parent = stack[depth - 1] & 0x7fffffffu;
                if (parent < max) toks[parent].size++;
            }
            count++;
            i = e + 1;
            state = ST_COLON;
            continue;
        }
        /* ST_VALUE */
        {
            mb_json_tok t = {(uint32_t)i, 0, 0, 0, 0};
            size_t e;
            int opens = 0;
            if (depth > 0 && !(stack[depth - 1] & 0x80000000u)) {
                uint32_t parent = stack[depth - 1];
                if (parent < max) toks[parent].size++;
            }
            switch (c) {
            case '{': case '[':
                if (depth == MB_JSON_MAX_DEPTH) BAD;
                t.type = c == '{' ? MB_JSON_OBJECT : MB_JSON_ARRAY;
                stack[depth++] = (uint32_t)count | (c == '{' ? 0x80000000u : 0);
                opens = 1;
                e = i + 1;
                break;
            case '"':
                e = scan_string(s, n, i + 1);
                if (e == (size_t)-1) BAD;
                t.type = MB_JSON_STRING;
                t.start = (uint32_t)(i + 1);
                t.len = (uint32_t)(e - i - 1);
                e++;
                break;
            case 't':
                if (n - i < 4 || memcmp(s + i, "true", 4)) BAD;
                t.type = MB_JSON_TRUE, t.len = 4, e = i + 4;
                break;
            case 'f':
                if (n - i < 5 || memcmp(s + i, "false", 5)) BAD;
                t.type = MB_JSON_FALSE, t.len = 5, e = i + 5;
                break;
            case 'n':
                if (n - i < 4 || memcmp(s + i, "null", 4)) BAD;
                t.type = MB_JSON_NULL, t.len = 4, e = i + 4;
                break;
            default:
                e = scan_number(s, n, i);
                if (e == (size_t)-1) BAD;
                t.type = MB_JSON_NUMBER;
                t.len = (uint32_t)(e - i);
                break;
            }
            t.next = (uint32_t)(count + 1);
            if (count < max)
                toks[count] = t;
            count++;
            if (count > UINT32_MAX / 2)
                return MB_ETOOLONG;
            i = e;
            if (opens)
                state = c == '{' ? ST_KEY_OR_CLOSE : ST_VALUE_OR_CLOSE;
            else
                state = depth ? ST_COMMA_OR_CLOSE : ST_DONE;
        }
    }
    if (state != ST_DONE)
        BAD;   /* (at the end: the document is incomplete) */
    *ntok = count;
    return count > max ? MB_ETOOLONG : 0;
}

#undef BAD

int mb_json_parse(const char *s, size_t n, mb_json_tok *toks, size_t max, size_t *ntok)
{
    return parse(s, n, toks, max, ntok, NULL);
}

size_t mb_json_error_offset(const char *s, size_t n)
{
    size_t at = n, count;
    if (parse(s, n, NULL, 0, &count, &at) != MB_EPARSE)
        return n;
    return at < n ? at : n;
}

int mb_json_get(const char *s, const mb_json_tok *t, int obj, const char *key)
{
    size_t kl = strlen(key);
    uint32_t k;
    if (obj < 0 || t[obj].type != MB_JSON_OBJECT)
        return -1;
    k = (uint32_t)obj + 1;
    for (uint32_t m = 0; m < t[obj].size; m++) {
        if (t[k].len == kl && memcmp(s + t[k].start, key, kl) == 0)
            return (int)k + 1;
        k = t[k + 1].next;
    }
    return -1;
}

int mb_json_at(const mb_json_tok *t, int arr, uint32_t i)
{
    uint32_t k;
    if (arr < 0 || t[arr].type != MB_JSON_ARRAY || i >= t[arr].size)
        return -1;
    k = (uint32_t)arr + 1;
    while (i--)
        k = t[k].next;
    return (int)k;
}

int mb_json_path(const char *s, const mb_json_tok *t, int from, ...)
{
    va_list ap;
    const char *k;
    int cur = from;
    va_start(ap, from);
    while (cur >= 0 && (k = va_arg(ap, const char *)) != NULL)
        cur = mb_json_get(s, t, cur, k);
    va_end(ap);
    return cur;
}

int mb_json_streq(const char *s, const mb_json_tok *t, int i, const char *lit)
{
    size_t l = strlen(lit);
    return i >= 0 && t[i].type == MB_JSON_STRING && t[i].len == l &&
           memcmp(s + t[i].start, lit, l) == 0;
}

int mb_json_nonempty(const mb_json_tok *t, int i)
{
    return i >= 0 && t[i].type == MB_JSON_STRING && t[i].len > 0;
}

int mb_json_truthy(const char *s, const mb_json_tok *t, int i)
{
    if (i < 0)
        return 0;
    switch (t[i].type) {
    case MB_JSON_NULL: case MB_JSON_FALSE: return 0;
    case MB_JSON_STRING: return t[i].len > 0;
    case MB_JSON_NUMBER: {
        /* the token ends at a delimiter, but maybe not a NUL: copy it */
        char buf[64];
        size_t l = t[i].len < sizeof buf - 1 ? t[i].len : sizeof buf - 1;
        memcpy(buf, s + t[i].start, l);
        buf[l] = 0;
        return strtod(buf, NULL) != 0.0;
    }
    default: return 1;
    }
}

int mb_json_int(const char *s, const mb_json_tok *t, int i, int64_t *out)
{
    char buf[64];
    char *end;
    double d;
    if (i < 0 || t[i].type != MB_JSON_NUMBER || t[i].len >= sizeof buf)
        return MB_EINVAL;
    memcpy(buf, s + t[i].start, t[i].len);
    buf[t[i].len] = 0;
    d = strtod(buf, &end);
    if (*end || !isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return MB_EINVAL;
    *out = (int64_t)d;
    return 0;
}

/* Decodes the escape at p (after the backslash) into out; returns the bytes
 * written and advances *adv by the escape's length. Unpaired surrogates
 * become U+FFFD. The tokenizer already validated the syntax. */
static size_t unescape_one(const char *p, const char *end, char *out, size_t *adv)
{
    unsigned long cp;
    *adv = 1;
    switch (*p) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = *p; return 1;
    }
    cp = 0;
    for (int k = 1; k <= 4; k++)
        cp = cp * 16 + (unsigned long)hexval((unsigned char)p[k]);
    *adv = 5;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 11 && p[5] == '\\' && p[6] == 'u') {
        unsigned long lo = 0;
        for (int k = 7; k <= 10; k++)
            lo = lo * 16 + (unsigned long)hexval((unsigned char)p[k]);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            *adv = 11;
        } else {
            cp = 0xFFFD;
        }
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 0xFFFD;
    }
    return mb_utf8_put((uint32_t)cp, out);
}

/* Unescapes the raw string text p[0..end) into buf (NUL-terminated,
 * truncated at a character boundary); returns the full unescaped length. */
static size_t str_range(const char *p, const char *end, char *buf, size_t cap)
{
    size_t total = 0, w = 0;
    int full = 0;
    if (cap)
        buf[0] = 0;
    while (p < end) {
        char tmp[4];
        size_t l, adv;
        if (*p == '\\') {
            l = unescape_one(p + 1, end, tmp, &adv);
            p += 1 + adv;
        } else {
            tmp[0] = *p++;
            l = 1;
            /* keep multi-byte sequences whole */
            while (l < 4 && p < end && ((unsigned char)*p & 0xC0) == 0x80)
                tmp[l++] = *p++;
        }
        total += l;
        if (!full && cap && w + l < cap) {
            memcpy(buf + w, tmp, l);
            w += l;
        } else {
            full = 1;
        }
    }
    if (cap)
        buf[w] = 0;
    return total;
}

size_t mb_json_str(const char *s, const mb_json_tok *t, int i, char *buf, size_t cap)
{
    if (i < 0 || t[i].type != MB_JSON_STRING) {
        if (cap)
            buf[0] = 0;
        return 0;
    }
    return str_range(s + t[i].start, s + t[i].start + t[i].len, buf, cap);
}

int mb_json_str_append(const char *s, const mb_json_tok *t, int i,
                       char **buf, size_t *len, size_t *cap)
{
    size_t need;
    if (i < 0 || t[i].type != MB_JSON_STRING)
        return 0;
    need = *len + t[i].len + 1;   /* unescaping never grows the text */
    if (MB_VEC_GROW(*buf, *cap, need) < 0)
        return MB_ENOMEM;
    *len += mb_json_str(s, t, i, *buf + *len, *cap - *len);
    return 0;
}

/* ---- the cursor: values in a validated document -------------------- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/* One past the closing quote of the string whose body starts at p (the
 * text is validated: a quote preceded by an even run of backslashes ends
 * it). memchr finds the candidates, so long strings cost little. */
static const char *string_end(const char *p, const char *end)
{
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return end;
        size_t bs = 0;
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (!(bs & 1))
            return q + 1;
        p = q + 1;
    }
}

/* The bytes that matter when skipping a container. */
static const unsigned char SPECIAL[256] = {['"'] = 1, ['{'] = 1, ['['] = 1, ['}'] = 1, [']'] = 1};

/* One past the value starting at p (validated text). Containers are
 * skipped by counting brackets outside strings: no recursion, no memory. */
static const char *value_end(const char *p, const char *end)
{
    size_t depth = 0;
    switch (*p) {
    case '"':
        return string_end(p + 1, end);
    case 't': case 'n':
        return p + 4;
    case 'f':
        return p + 5;
    case '{': case '[':
        for (; p < end; p++) {
            unsigned char c = (unsigned char)*p;
            if (!SPECIAL[c])
                continue;   /* most bytes: numbers, literals, punctuation */
            if (c == '"')
                p = string_end(p + 1, end) - 1;
            else if (c == '{' || c == '[')
                depth++;
            else if (--depth == 0)
                return p + 1;
        }
        return end;
    default:
        while (p < end && ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+' || *p == '.' ||
                           *p == 'e' || *p == 'E'))
            p++;
        return p;
    }
}

static int type_at(char c)
{
    switch (c) {
    case '{': return MB_JSON_OBJECT;
    case '[': return MB_JSON_ARRAY;
    case '"': return MB_JSON_STRING;
    case 't': return MB_JSON_TRUE;
    case 'f': return MB_JSON_FALSE;
    case 'n': return MB_JSON_NULL;
    default: return MB_JSON_NUMBER;
    }
}

/* The value at p as a mb_json_val. */
static mb_json_val val_at(const char *p, const char *end)
{
    const char *e = value_end(p, end);
    return (mb_json_val){p, (size_t)(e - p), type_at(*p)};
}

/* mb_json_parse with no room for tokens validates and counts only. */
int mb_json_doc(const char *s, size_t n, mb_json_val *root)
{
    size_t count = 0;
    int rc = mb_json_parse(s, n, NULL, 0, &count);
    if (rc == MB_ETOOLONG && count > 0)
        rc = 0;   /* valid: it only had no room for the tokens */
    if (rc < 0)
        return rc;
    const char *p = skip_ws(s, s + n);
    *root = val_at(p, s + n);
    return 0;
}

void mb_json_iter_init(mb_json_iter *it, const mb_json_val *v)
{
    it->obj = v->type == MB_JSON_OBJECT;
    if (v->type == MB_JSON_OBJECT || v->type == MB_JSON_ARRAY) {
        it->p = v->p + 1;
        it->end = v->p + v->n - 1;   /* the closing bracket */
    } else {
        it->p = it->end = v->p;
    }
}

int mb_json_next(mb_json_iter *it, mb_json_val *key, mb_json_val *val)
{
    const char *p = skip_ws(it->p, it->end);
    if (p >= it->end)
        return 0;
    if (*p == ',')
        p = skip_ws(p + 1, it->end);
    if (it->obj) {
        mb_json_val k = val_at(p, it->end);
        if (key)
            *key = k;
        p = skip_ws(p + k.n, it->end);   /* the colon */
        p = skip_ws(p + 1, it->end);
    }
    *val = val_at(p, it->end);
    it->p = p + val->n;
    return 1;
}

int mb_json_find(const mb_json_val *obj, const char *key, mb_json_val *out)
{
    mb_json_iter it;
    mb_json_val k, v;
    size_t kl = strlen(key);
    if (obj->type != MB_JSON_OBJECT)
        return 0;
    mb_json_iter_init(&it, obj);
    while (mb_json_next(&it, &k, &v))
        if (k.n == kl + 2 && memcmp(k.p + 1, key, kl) == 0) {
            *out = v;
            return 1;
        }
    return 0;
}

int mb_json_eq(const mb_json_val *v, const char *lit)
{
    size_t l = strlen(lit);
    return v->type == MB_JSON_STRING && v->n == l + 2 && memcmp(v->p + 1, lit, l) == 0;
}

/* The token ends at a delimiter, maybe not a NUL: strtod reads a copy. */
double mb_json_num(const mb_json_val *v)
{
    char buf[128], *b = buf;
    double d;
    if (v->type != MB_JSON_NUMBER)
        return NAN;
    if (v->n >= sizeof buf && !(b = malloc(v->n + 1)))
        return NAN;
    memcpy(b, v->p, v->n);
    b[v->n] = 0;
    d = strtod(b, NULL);
    if (b != buf)
        free(b);
    return d;
}

size_t mb_json_unescape(const mb_json_val *v, size_t *pos, char *buf, size_t cap)
{
    const char *p, *end, *start;
    size_t w = 0;
    if (v->type != MB_JSON_STRING || cap < 4)
        return 0;
    start = v->p + 1;
    end = v->p + v->n - 1;
    p = start + *pos;
    while (p < end && w < cap) {
        if (*p == '\\') {
            size_t adv;
            if (cap - w < 4)
                break;
            w += unescape_one(p + 1, end, buf + w, &adv);
            p += 1 + adv;
            continue;
        }
        /* a run up to the next escape, as much as fits */
        const char *q = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((q ? q : end) - p);
        if (run > cap - w)
            run = cap - w;
        memcpy(buf + w, p, run);
        w += run;
        p += run;
    }
    *pos = (size_t)(p - start);
    return w;
}

size_t mb_json_strcpy(const mb_json_val *v, char *buf, size_t cap)
{
    if (v->type != MB_JSON_STRING) {
        if (cap)
            buf[0] = 0;
        return 0;
    }
    return str_range(v->p + 1, v->p + v->n - 1, buf, cap);
}

char *mb_json_strdup(const mb_json_val *v)
{
    char *s;
    if (v->type != MB_JSON_STRING)
        return NULL;
    size_t n = mb_json_strcpy(v, NULL, 0);
    if (!(s = malloc(n + 1)))
        return NULL;
    mb_json_strcpy(v, s, n + 1);
    return s;
}

/* ---- writing ---------------------------------------------------------- */

/* Escapes the way JSON requires and no more: the emulator writes every
 * token through here. */
int mb_json_put_str(mb_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    mb_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        mb_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[ch >> 4]; esc[5] = hex[ch & 15];
            el = 6;
        }
        mb_buf_add(b, esc, el);
    }
    mb_buf_add(b, s + run, n - run);
    return mb_buf_add(b, "\"", 1);
}

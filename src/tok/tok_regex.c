/* tok_regex.c: the pre-tokenizers' regular expressions on PCRE2.
 *
 * Hugging Face compiles Split/Replace patterns with Oniguruma and tiktoken
 * with Rust's regex engines. Their shorthand classes are Unicode-wide and
 * defined differently from PCRE2's (\s is White_Space, \w has the marks,
 * \h is a hex digit in Oniguruma), so each pattern is translated to
 * explicit Unicode properties before PCRE2 compiles it in UTF mode. What
 * cannot be translated exactly (word boundaries, anchors, nested classes,
 * back-references, ...) is refused with the construct named. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

#define WS "\\p{White_Space}"
#define NWS "\\P{White_Space}"

static int put(tok_buf *b, const char *s)
{
    return tok_buf_put(b, s, strlen(s));
}

/* The items of \p{name} inside a class: the property, plus the characters
 * PCRE2's older tables miss (tok_unicode.c). */
static int prop_items(tok_buf *b, const char *name, size_t n)
{
    if (put(b, "\\p{") || tok_buf_put(b, name, n) || put(b, "}"))
        return MB_ENOMEM;
    if (!tok_pcre2_unicode_ge16() && tok_u16_is_category(name, n))
        return tok_u16_ranges(name, n, b);
    return 0;
}

/* \p{name} (neg: \P{name}) in or out of a class. */
static int prop(tok_buf *b, const char *name, size_t n, int in_class, int neg, char *err, size_t errlen)
{
    int aug = !tok_pcre2_unicode_ge16() && tok_u16_is_category(name, n);
    if (!aug)
        return put(b, neg ? "\\P{" : "\\p{") || tok_buf_put(b, name, n) || put(b, "}") ? MB_ENOMEM : 0;
    if (neg && in_class)
        return tok_fail(err, errlen, MB_EINVAL, "regex: \\P{%.*s} inside a character class is not supported",
                        (int)n, name);
    if (!in_class && put(b, neg ? "[^" : "["))
        return MB_ENOMEM;
    if (prop_items(b, name, n) < 0)
        return MB_ENOMEM;
    return !in_class && put(b, "]") ? MB_ENOMEM : 0;
}

/* \w: Oniguruma's (letters, marks, decimal digits, connectors) or Rust
 * regex's (Alphabetic, marks, decimal digits, connectors, joiners). */
static int word_items(tok_buf *b, int dialect)
{
    int rc = prop_items(b, "L", 1) || prop_items(b, "M", 1) || prop_items(b, "Nd", 2) ||
             prop_items(b, "Pc", 2);
    if (!rc && dialect == TOK_RE_RUST)
        rc = put(b, "\\p{Alphabetic}\\p{Nl}\\p{Join_Control}");
    return rc ? MB_ENOMEM : 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Translates the escape at p[i] == '\\'; returns bytes consumed or < 0. */
static int escape(const char *p, size_t n, size_t i, int dialect, int in_class, tok_buf *b,
                  char *err, size_t errlen)
{
    if (i + 1 >= n)
        return tok_fail(err, errlen, MB_EINVAL, "regex ends with a lone backslash");
    char c = p[i + 1];
    int r = 0;
    switch (c) {
    case 's': r = put(b, WS); break;
    case 'S': r = put(b, NWS); break;
    case 'd': r = prop(b, "Nd", 2, in_class, 0, err, errlen); break;
    case 'D': r = prop(b, "Nd", 2, in_class, 1, err, errlen); break;
    case 'w':
        r = in_class ? word_items(b, dialect) : (put(b, "[") || word_items(b, dialect) || put(b, "]"));
        break;
    case 'W':
        if (in_class)
            return tok_fail(err, errlen, MB_EINVAL, "regex: \\W inside a character class is not supported");
        r = put(b, "[^") || word_items(b, dialect) || put(b, "]");
        break;
    case 'h': case 'H':
        if (dialect != TOK_RE_ONIG)
            return tok_fail(err, errlen, MB_EINVAL, "regex: \\%c is not supported", c);
        if (c == 'H' && in_class)
            return tok_fail(err, errlen, MB_EINVAL, "regex: \\H inside a character class is not supported");
        r = put(b, c == 'h' ? (in_class ? "0-9A-Fa-f" : "[0-9A-Fa-f]") : "[^0-9A-Fa-f]");
        break;
    case 'v': r = put(b, "\\x0b"); break;
    case 'n': case 'r': case 't': case 'f': case 'a': case 'e':
        r = tok_buf_put(b, p + i, 2);
        break;
    case 'p': case 'P': {
        size_t j = i + 2, ns, nn;
        int neg = c == 'P';
        if (j < n && p[j] == '{') {
            ns = j + 1;
            while (j < n && p[j] != '}')
                j++;
            if (j >= n)
                return tok_fail(err, errlen, MB_EINVAL, "regex: unterminated \\%c{", c);
            nn = j - ns;
            j++;
        } else if (j < n) {
            ns = j++;
            nn = 1;
        } else {
            return tok_fail(err, errlen, MB_EINVAL, "regex: \\%c without a property", c);
        }
        if (nn && p[ns] == '^') {
            neg = !neg;
            ns++, nn--;
        }
        if (nn == 0)
            return tok_fail(err, errlen, MB_EINVAL, "regex: empty property name");
        r = prop(b, p + ns, nn, in_class, neg, err, errlen);
        return r < 0 ? r : (int)(j - i);
    }
    case 'u': case 'x': {
        /* \uHHHH, \u{H..}, \xHH, \x{H..} -> \x{H..} */
        size_t j = i + 2, k;
        char hex[16];
        size_t nh = 0;
        if (j < n && p[j] == '{') {
            for (k = j + 1; k < n && p[k] != '}' && nh < sizeof hex - 1; k++) {
                if (!is_hex(p[k]))
                    return tok_fail(err, errlen, MB_EINVAL, "regex: bad \\%c escape", c);
                hex[nh++] = p[k];
            }
            if (k >= n || p[k] != '}')
                return tok_fail(err, errlen, MB_EINVAL, "regex: bad \\%c escape", c);
            j = k + 1;
        } else {
            size_t want = c == 'u' ? 4 : 2;
            for (k = 0; k < want && j + k < n && is_hex(p[j + k]); k++)
                hex[nh++] = p[j + k];
            if (nh == 0 || (c == 'u' && nh != 4))
                return tok_fail(err, errlen, MB_EINVAL, "regex: bad \\%c escape", c);
            j += nh;
        }
        hex[nh] = 0;
        if (put(b, "\\x{") || put(b, hex) || put(b, "}"))
            return MB_ENOMEM;
        return (int)(j - i);
    }
    case 'A': case 'z':
        r = tok_buf_put(b, p + i, 2);
        break;
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return tok_fail(err, errlen, MB_EINVAL, "regex: \\%c is not supported", c);
        /* an escaped punctuation or other character stands for itself */
        {
            size_t l;
            tok_utf8_get(p + i + 1, n - i - 1, &l);
            if (tok_buf_put(b, p + i, 1 + l) < 0)
                return MB_ENOMEM;
            return (int)(1 + l);
        }
    }
    return r ? MB_ENOMEM : 2;
}

/* Translates "(?flags)" / "(?flags:" and the other group openers at p[i]. */
static int group(const char *p, size_t n, size_t i, int dialect, tok_buf *b, char *err, size_t errlen)
{
    size_t j = i + 2;
    if (j >= n)
        return tok_fail(err, errlen, MB_EINVAL, "regex: unterminated group");
    char c = p[j];
    if (c == ':' || c == '=' || c == '!' || c == '>' || c == '#') {
        if (tok_buf_put(b, p + i, 3) < 0)
            return MB_ENOMEM;
        return 3;
    }
    if (c == '<' && j + 1 < n && (p[j + 1] == '=' || p[j + 1] == '!')) {
        if (tok_buf_put(b, p + i, 4) < 0)
            return MB_ENOMEM;
        return 4;
    }
    if (c == '<' || c == 'P')
        return tok_fail(err, errlen, MB_EINVAL, "regex: named groups are not supported");
    /* inline flags */
    if (put(b, "(?") < 0)
        return MB_ENOMEM;
    for (; j < n && p[j] != ':' && p[j] != ')'; j++) {
        char f = p[j], o;
        if (f == 'i' || f == 'x' || f == '-')
            o = f;
        else if (f == 'm')
            o = dialect == TOK_RE_ONIG ? 's' : 'm';   /* Oniguruma's m is dot-all */
        else if (f == 's' && dialect == TOK_RE_RUST)
            o = 's';
        else
            return tok_fail(err, errlen, MB_EINVAL, "regex: inline flag '%c' is not supported", f);
        if (tok_buf_put(b, &o, 1) < 0)
            return MB_ENOMEM;
    }
    if (j >= n)
        return tok_fail(err, errlen, MB_EINVAL, "regex: unterminated group");
    if (tok_buf_put(b, p + j, 1) < 0)
        return MB_ENOMEM;
    return (int)(j + 1 - i);
}

int tok_re_translate(const char *p, size_t n, int dialect, tok_buf *b, char *err, size_t errlen)
{
    int in_class = 0;
    size_t class_open = 0;      /* where the class's first member starts */
    size_t i = 0;
    b->len = 0;
    while (i < n) {
        char c = p[i];
        int r;
        if (c == '\\') {
            r = escape(p, n, i, dialect, in_class, b, err, errlen);
            if (r < 0)
                return r;
            i += (size_t)r;
            continue;
        }
        if (in_class) {
            if (c == '[')
                return tok_fail(err, errlen, MB_EINVAL,
                                "regex: nested or POSIX character classes are not supported");
            if (c == '&' && i + 1 < n && p[i + 1] == '&')
                return tok_fail(err, errlen, MB_EINVAL, "regex: class intersection (&&) is not supported");
            if (c == ']' && i != class_open)
                in_class = 0;
        } else if (c == '[') {
            in_class = 1;
            if (tok_buf_put(b, "[", 1) < 0)
                return MB_ENOMEM;
            i++;
            if (i < n && p[i] == '^') {
                if (tok_buf_put(b, "^", 1) < 0)
                    return MB_ENOMEM;
                i++;
            }
            class_open = i;
            continue;
        } else if (c == '(' && i + 1 < n && p[i + 1] == '?') {
            r = group(p, n, i, dialect, b, err, errlen);
            if (r < 0)
                return r;
            i += (size_t)r;
            continue;
        } else if (c == '^' || c == '$') {
            return tok_fail(err, errlen, MB_EINVAL, "regex: anchor '%c' is not supported", c);
        } else if (c == '{' && dialect == TOK_RE_ONIG && i + 1 < n && p[i + 1] == ',') {
            /* Oniguruma's {,n} is {0,n} */
            if (tok_buf_put(b, "{0", 2) < 0)
                return MB_ENOMEM;
            i++;
            continue;
        }
        {
            size_t l;
            tok_utf8_get(p + i, n - i, &l);
            if (l > n - i)
                l = n - i;
            if (tok_buf_put(b, p + i, l) < 0)
                return MB_ENOMEM;
            i += l;
        }
    }
    if (in_class)
        return tok_fail(err, errlen, MB_EINVAL, "regex: unterminated character class");
    if (!b->p && tok_buf_put(b, "", 0) < 0)
        return MB_ENOMEM;
    return 0;
}

static int compile(const char *pat, size_t n, tok_re **out, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc)
        return MB_ENOMEM;
    pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK,
                                   &code, &off, cc);
    pcre2_compile_context_free(cc);
    if (!re) {
        char msg[160];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof msg);
        return tok_fail(err, errlen, MB_EINVAL, "regex: %s (at offset %zu)", msg, (size_t)off);
    }
    /* JIT is an optimisation: without it (a platform without JIT support)
     * the interpreter gives the same matches */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    tok_re *r = malloc(sizeof *r);
    if (!r) {
        pcre2_code_free(re);
        return MB_ENOMEM;
    }
    r->code = re;
    *out = r;
    return 0;
}

int tok_re_compile(const char *pat, size_t n, int dialect, tok_re **out, char *err, size_t errlen)
{
    tok_buf b = {0};
    int rc = tok_re_translate(pat, n, dialect, &b, err, errlen);
    if (rc == 0)
        rc = compile(b.p, b.len, out, err, errlen);
    free(b.p);
    return rc;
}

int tok_re_literal(const char *s, size_t n, tok_re **out, char *err, size_t errlen)
{
    tok_buf b = {0};
    int rc = put(&b, "\\Q");
    /* \Q...\E quotes everything except a literal \E, which is split */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'E') {
            rc = put(&b, "\\E\\\\\\Q");
            continue;
        }
        rc = tok_buf_put(&b, s + i, 1);
    }
    if (rc == 0)
        rc = put(&b, "\\E");
    if (rc == 0)
        rc = compile(b.p, b.len, out, err, errlen);
    free(b.p);
    return rc < 0 && rc != MB_ENOMEM && rc != MB_EINVAL ? MB_EINVAL : rc;
}

void tok_re_free(tok_re *re)
{
    if (re) {
        pcre2_code_free(re->code);
        free(re);
    }
}

int tok_match_init(tok_match *m)
{
    memset(m, 0, sizeof *m);
    m->md = pcre2_match_data_create(1, NULL);
    m->ctx = pcre2_match_context_create(NULL);
    /* long runs of one class (whitespace, digits) backtrack deep: give the
     * JIT room (grown on demand by PCRE2 up to the maximum) */
    m->stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, NULL);
    if (!m->md || !m->ctx || !m->stack) {
        tok_match_free(m);
        return MB_ENOMEM;
    }
    pcre2_jit_stack_assign(m->ctx, NULL, m->stack);
    return 0;
}

void tok_match_free(tok_match *m)
{
    if (m->md) pcre2_match_data_free(m->md);
    if (m->ctx) pcre2_match_context_free(m->ctx);
    if (m->stack) pcre2_jit_stack_free(m->stack);
    memset(m, 0, sizeof *m);
}

int tok_re_find_all(const tok_re *re, tok_match *m, const char *s, size_t n, tok_spans *out)
{
    size_t last_end = 0, prev = 0;
    int have_last = 0;
    size_t last_match_end = 0;
    while (last_end <= n) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, last_end, PCRE2_NO_UTF_CHECK, m->md, m->ctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return MB_ERANGE;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
        size_t ms = ov[0], me = ov[1];
        if (ms == me && have_last && last_match_end == me) {
            /* an empty match right after the previous one: step a char */
            size_t l = 1;
            if (last_end < n)
                tok_utf8_get(s + last_end, n - last_end, &l);
            last_end += l;
            continue;
        }
        last_end = me;
        last_match_end = me;
        have_last = 1;
        if (prev != ms && tok_spans_push(out, (uint32_t)prev, (uint32_t)ms, 0) < 0)
            return MB_ENOMEM;
        if (tok_spans_push(out, (uint32_t)ms, (uint32_t)me, 1) < 0)
            return MB_ENOMEM;
        prev = me;
    }
    if (prev != n && tok_spans_push(out, (uint32_t)prev, (uint32_t)n, 0) < 0)
        return MB_ENOMEM;
    return 0;
}

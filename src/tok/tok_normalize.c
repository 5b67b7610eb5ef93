/* tok_normalize.c: the normalizers -- Unicode forms (utf8proc), Lowercase,
 * Strip, StripAccents, Replace, Prepend, Nmt, ByteLevel -- applied in order
 * (a Sequence is flattened at load). Offsets are not tracked: only the
 * text matters for ids. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

static int is_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* One run of s through utf8proc. */
static int form_run(int opt, const char *s, size_t n, tok_buf *out)
{
    utf8proc_uint8_t *dst = NULL;
    if (n == 0)
        return 0;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      (utf8proc_option_t)opt);
    if (r < 0)
        return r == UTF8PROC_ERROR_NOMEM ? MB_ENOMEM : MB_EINVAL;
    int rc = tok_buf_put(out, dst, (size_t)r);
    free(dst);
    return rc;
}

/* NFC, NFD, NFKC, NFKD through utf8proc; ASCII is its own normal form.
 * A character the reference's tables do not know stays as it is and, with
 * combining class 0, nothing reorders or composes across it: the runs
 * between such characters are normalized apart. */
static int unicode_form(int type, const char *s, size_t n, tok_buf *out)
{
    int opt = UTF8PROC_STABLE;
    if (is_ascii(s, n))
        return tok_buf_put(out, s, n);
    switch (type) {
    case NORM_NFC: opt |= UTF8PROC_COMPOSE; break;
    case NORM_NFD: opt |= UTF8PROC_DECOMPOSE; break;
    case NORM_NFKC: opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    size_t run = 0, i = 0;
    while (i < n) {
        size_t l;
        uint32_t cp = tok_utf8_get(s + i, n - i, &l);
        if (cp >= 0x300 && tok_in_ranges(tok_ref_norm_unknown, tok_ref_norm_unknown_n, cp)) {
            if (form_run(opt, s + run, i - run, out) < 0 || tok_buf_put(out, s + i, l) < 0)
                return MB_ENOMEM;
            run = i + l;
        }
        i += l;
    }
    return form_run(opt, s + run, n - run, out);
}

/* Rust's char::to_lowercase, from the reference's table. */
static int lowercase(const char *s, size_t n, tok_buf *out)
{
    if (tok_buf_reserve(out, n + 8) < 0)
        return MB_ENOMEM;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            out->p[out->len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            continue;
        }
        size_t l;
        uint32_t cp = tok_utf8_get(s + i, n - i, &l);
        size_t k;
        const char *low = tok_ref_lowercase(cp);
        if (low)
            k = strlen(low);
        else
            k = l;
        if (tok_buf_put(out, low ? low : s + i, k) < 0)
            return MB_ENOMEM;
        i += l;
    }
    out->p[out->len] = 0;
    return 0;
}

static int strip(const char *s, size_t n, int left, int right, tok_buf *out)
{
    size_t a = 0, b = n, l;
    while (left && a < b && tok_is_whitespace(tok_utf8_get(s + a, b - a, &l)))
        a += l;
    while (right && b > a) {
        size_t k = b - 1;
        while (k > a && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (!tok_is_whitespace(tok_utf8_get(s + k, b - k, &l)))
            break;
        b = k;
    }
    return tok_buf_put(out, s + a, b - a);
}

/* Keeps characters that are not combining marks (the reference's). */
static int strip_accents(const char *s, size_t n, tok_buf *out)
{
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t cp = tok_utf8_get(s + i, n - i, &l);
        if (!tok_in_ranges(tok_ref_mark, tok_ref_mark_n, cp) && tok_buf_put(out, s + i, l) < 0)
            return MB_ENOMEM;
        i += l;
    }
    return 0;
}

/* Nmt: drops some control characters, maps others to a space. */
static int nmt(const char *s, size_t n, tok_buf *out)
{
    for (size_t i = 0; i < n;) {
        size_t l;
        uint32_t c = tok_utf8_get(s + i, n - i, &l);
        int rc = 0;
        if ((c >= 1 && c <= 8) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
            c == 0x8F || c == 0x9F)
            ;
        else if (c == 9 || c == 0x0A || c == 0x0C || c == 0x0D || c == 0x1680 ||
                 (c >= 0x200B && c <= 0x200F) || c == 0x2028 || c == 0x2029 || c == 0x2581 ||
                 c == 0xFEFF || c == 0xFFFD)
            rc = tok_buf_put(out, " ", 1);
        else
            rc = tok_buf_put(out, s + i, l);
        if (rc < 0)
            return MB_ENOMEM;
        i += l;
    }
    return 0;
}

static int byte_level(const char *s, size_t n, tok_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        char u[4];
        size_t k = mb_utf8_put(tok_byte_char[(unsigned char)s[i]], u);
        if (tok_buf_put(out, u, k) < 0)
            return MB_ENOMEM;
    }
    return 0;
}

/* Replace: every match of the pattern (left to right, not overlapping)
 * becomes the content. */
static int replace(const tok_norm *nm, mb_tok_enc *e, const char *s, size_t n, tok_buf *out)
{
    tok_spans sp = {0};
    int rc = tok_re_find_all(nm->re, &e->m, s, n, &sp);
    for (size_t i = 0; rc == 0 && i < sp.len; i++) {
        if (sp.p[i].id)
            rc = tok_buf_put(out, nm->b, nm->blen);
        else
            rc = tok_buf_put(out, s + sp.p[i].s, sp.p[i].e - sp.p[i].s);
    }
    free(sp.p);
    return rc;
}

int tok_normalize_one(const tok_norm *nm, mb_tok_enc *e, const char *s, size_t n, tok_buf *out)
{
    out->len = 0;
    if (tok_buf_reserve(out, n) < 0)
        return MB_ENOMEM;
    out->p[0] = 0;
    switch (nm->type) {
    case NORM_NFC: case NORM_NFD: case NORM_NFKC: case NORM_NFKD:
        return unicode_form(nm->type, s, n, out);
    case NORM_LOWERCASE:
        return lowercase(s, n, out);
    case NORM_STRIP:
        return strip(s, n, nm->left, nm->right, out);
    case NORM_STRIP_ACCENTS:
        return strip_accents(s, n, out);
    case NORM_REPLACE:
        return replace(nm, e, s, n, out);
    case NORM_PREPEND:
        if (n && tok_buf_put(out, nm->a, nm->alen) < 0)
            return MB_ENOMEM;
        return tok_buf_put(out, s, n);
    case NORM_NMT:
        return nmt(s, n, out);
    case NORM_BYTELEVEL:
        return byte_level(s, n, out);
    }
    return MB_EINVAL;
}

/* Runs the whole chain, alternating between out and the encoder's spare
 * buffer; the result ends in out. */
int tok_normalize(const mb_tok *t, mb_tok_enc *e, const char *s, size_t n, tok_buf *out)
{
    tok_buf *bufs[2] = {out, &e->norm2};
    int cur = -1;
    if (t->nnorm == 0) {
        out->len = 0;
        return tok_buf_put(out, s, n);
    }
    for (size_t k = 0; k < t->nnorm; k++) {
        int dst = cur == 0 ? 1 : 0;
        const char *src = cur < 0 ? s : bufs[cur]->p;
        size_t sn = cur < 0 ? n : bufs[cur]->len;
        int rc = tok_normalize_one(&t->norm[k], e, src, sn, bufs[dst]);
        if (rc < 0)
            return rc;
        cur = dst;
    }
    if (cur == 1) {
        out->len = 0;
        return tok_buf_put(out, e->norm2.p, e->norm2.len);
    }
    return 0;
}

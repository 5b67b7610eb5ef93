/* tok_pretok.c: the pre-tokenizer stages (ByteLevel, Split, Metaspace,
 * Digits, Whitespace, WhitespaceSplit, Punctuation, CharDelimiterSplit; a
 * Sequence is flattened at load), run piece by piece: stage k splits or
 * transforms its piece and hands every non-empty result to stage k + 1;
 * after the last stage the model encodes it.
 *
 * Splitting is the reference's NormalizedString::split: a pattern marks
 * spans as delimiter or not, then the behavior (removed, isolated, merged
 * with the previous or next piece, contiguous) decides the pieces. */
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

/* Marks every character for which pred holds as its own delimiter span
 * (a Fn(char) -> bool pattern). */
static int find_chars(int (*pred)(uint32_t, const tok_pretok *), const tok_pretok *p,
                      const char *s, size_t n, tok_spans *out)
{
    size_t last = 0, i = 0;
    while (i < n) {
        size_t l;
        uint32_t c = tok_utf8_get(s + i, n - i, &l);
        if (pred(c, p)) {
            if (last < i && tok_spans_push(out, (uint32_t)last, (uint32_t)i, 0) < 0)
                return MB_ENOMEM;
            if (tok_spans_push(out, (uint32_t)i, (uint32_t)(i + l), 1) < 0)
                return MB_ENOMEM;
            last = i + l;
        }
        i += l;
    }
    if (last < n && tok_spans_push(out, (uint32_t)last, (uint32_t)n, 0) < 0)
        return MB_ENOMEM;
    return 0;
}

static int is_num(uint32_t c, const tok_pretok *p) { (void)p; return tok_is_numeric(c); }
static int is_ws(uint32_t c, const tok_pretok *p) { (void)p; return tok_is_whitespace(c); }
static int is_punct(uint32_t c, const tok_pretok *p) { (void)p; return tok_is_punct(c); }
static int is_ch(uint32_t c, const tok_pretok *p) { return c == p->ch; }

/* Applies a split behavior to the marked spans in place (id: 1 =
 * delimiter); removed spans get id -1. */
static void behave(tok_spans *sp, int behavior)
{
    size_t w = 0;
    int prev = 0;
    switch (behavior) {
    case SPLIT_ISOLATED:
        return;
    case SPLIT_REMOVED:
        for (size_t i = 0; i < sp->len; i++)
            if (sp->p[i].id)
                sp->p[i].id = -1;
        return;
    case SPLIT_CONTIGUOUS:
        for (size_t i = 0; i < sp->len; i++) {
            int m = sp->p[i].id;
            if (m == prev && w > 0)
                sp->p[w - 1].e = sp->p[i].e;
            else
                sp->p[w++] = sp->p[i];
            prev = m;
        }
        break;
    case SPLIT_MERGED_PREV:
        for (size_t i = 0; i < sp->len; i++) {
            int m = sp->p[i].id;
            if (m && !prev && w > 0)
                sp->p[w - 1].e = sp->p[i].e;
            else
                sp->p[w++] = sp->p[i];
            prev = m;
        }
        break;
    case SPLIT_MERGED_NEXT: {
        /* right to left, then the kept spans are moved to the front */
        size_t r = sp->len;   /* kept spans are written downwards from the end */
        for (size_t i = sp->len; i-- > 0;) {
            int m = sp->p[i].id;
            if (m && !prev && r < sp->len)
                sp->p[r].s = sp->p[i].s;
            else
                sp->p[--r] = sp->p[i];
            prev = m;
        }
        memmove(sp->p, sp->p + r, (sp->len - r) * sizeof *sp->p);
        w = sp->len - r;
        break;
    }
    }
    for (size_t i = 0; i < w; i++)
        sp->p[i].id = 0;
    sp->len = w;
}

/* Hands each kept span of s to the next stage. A span is at the start of
 * the input when its piece was and it starts at 0. */
static int emit(mb_tok_enc *e, size_t k, const char *s, const tok_spans *sp, int at_start)
{
    for (size_t i = 0; i < sp->len; i++) {
        const tok_span *x = &sp->p[i];
        if (x->id < 0 || x->e == x->s)
            continue;
        int rc = tok_pretok_run(e, k + 1, s + x->s, x->e - x->s, at_start && x->s == 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ByteLevel: optional prefix space, GPT-2's split, then each byte as its
 * mapped character (or raw, when the model reads bytes directly). */
static int byte_level(mb_tok_enc *e, size_t k, const tok_pretok *p, const char *s, size_t n,
                      int at_start)
{
    const mb_tok *t = e->t;
    tok_buf *in = &e->sbuf[k];
    tok_spans *sp = &e->ssp[k];
    if (p->add_prefix_space && s[0] != ' ') {
        in->len = 0;
        if (tok_buf_put(in, " ", 1) < 0 || tok_buf_put(in, s, n) < 0)
            return MB_ENOMEM;
        s = in->p;
        n = in->len;
    }
    sp->len = 0;
    if (p->use_regex) {
        int rc = tok_re_find_all(p->re, &e->m, s, n, sp);
        if (rc < 0)
            return rc;
    } else if (tok_spans_push(sp, 0, (uint32_t)n, 0) < 0) {
        return MB_ENOMEM;
    }
    for (size_t i = 0; i < sp->len; i++) {
        const char *w = s + sp->p[i].s;
        size_t wn = sp->p[i].e - sp->p[i].s;
        int rc;
        if (wn == 0)
            continue;
        if (k + 1 == t->npre && t->bytelevel_raw) {
            rc = tok_bpe_piece(e, w, wn);
        } else {
            tok_buf *m = &e->mbuf[k];
            m->len = 0;
            for (size_t j = 0; j < wn; j++) {
                char u[4];
                size_t l = mb_utf8_put(tok_byte_char[(unsigned char)w[j]], u);
                if (tok_buf_put(m, u, l) < 0)
                    return MB_ENOMEM;
            }
            rc = tok_pretok_run(e, k + 1, m->p, m->len, at_start && sp->p[i].s == 0);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Metaspace: spaces become the replacement, which is prepended (always,
 * or only to the input's first piece), then the piece is split before
 * each replacement character. */
static int metaspace(mb_tok_enc *e, size_t k, const tok_pretok *p, const char *s, size_t n,
                     int at_start)
{
    tok_buf *in = &e->sbuf[k];
    tok_spans *sp = &e->ssp[k];
    in->len = 0;
    if (tok_buf_reserve(in, n + 4) < 0)
        return MB_ENOMEM;
    int starts = n >= (size_t)p->rep_len && memcmp(s, p->rep, (size_t)p->rep_len) == 0;
    /* the replacement check is on the text after spaces are replaced */
    if (!starts && n > 0 && s[0] == ' ')
        starts = 1;
    if (!starts && (p->prepend == PREPEND_ALWAYS || (p->prepend == PREPEND_FIRST && at_start)))
        if (tok_buf_put(in, p->rep, (size_t)p->rep_len) < 0)
            return MB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int rc = s[i] == ' ' ? tok_buf_put(in, p->rep, (size_t)p->rep_len) : tok_buf_put(in, s + i, 1);
        if (rc < 0)
            return MB_ENOMEM;
    }
    sp->len = 0;
    if (p->split) {
        int rc = find_chars(is_ch, p, in->p, in->len, sp);
        if (rc < 0)
            return rc;
        behave(sp, SPLIT_MERGED_NEXT);
    } else if (tok_spans_push(sp, 0, (uint32_t)in->len, 0) < 0) {
        return MB_ENOMEM;
    }
    return emit(e, k, in->p, sp, at_start);
}

int tok_pretok_run(mb_tok_enc *e, size_t k, const char *s, size_t n, int at_start)
{
    const mb_tok *t = e->t;
    if (n == 0)
        return 0;
    if (k == t->npre)
        return tok_bpe_piece(e, s, n);
    const tok_pretok *p = &t->pre[k];
    tok_spans *sp = &e->ssp[k];
    int rc = 0;
    sp->len = 0;
    switch (p->type) {
    case PT_BYTELEVEL:
        return byte_level(e, k, p, s, n, at_start);
    case PT_METASPACE:
        return metaspace(e, k, p, s, n, at_start);
    case PT_SPLIT:
        rc = tok_re_find_all(p->re, &e->m, s, n, sp);
        if (rc == 0 && p->invert)
            for (size_t i = 0; i < sp->len; i++)
                sp->p[i].id = !sp->p[i].id;
        break;
    case PT_WHITESPACE:
        /* \w+|[^\w\s]+ inverted and removed: the matches are the pieces */
        rc = tok_re_find_all(p->re, &e->m, s, n, sp);
        if (rc == 0)
            for (size_t i = 0; i < sp->len; i++)
                sp->p[i].id = !sp->p[i].id;
        break;
    case PT_DIGITS:
        rc = find_chars(is_num, p, s, n, sp);
        break;
    case PT_WHITESPACE_SPLIT:
        rc = find_chars(is_ws, p, s, n, sp);
        break;
    case PT_PUNCT:
        rc = find_chars(is_punct, p, s, n, sp);
        break;
    case PT_CHAR_DELIM:
        rc = find_chars(is_ch, p, s, n, sp);
        break;
    default:
        return MB_EINVAL;
    }
    if (rc < 0)
        return rc;
    behave(sp, p->behavior);
    return emit(e, k, s, sp, at_start);
}

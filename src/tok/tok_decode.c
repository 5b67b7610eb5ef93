/* tok_decode.c: ids back to text, through the decoder chain (ByteLevel,
 * Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder; a Sequence is
 * flattened at load). Each decoder maps a list of strings to a list of
 * strings, as the reference's decode_chain; the result is their
 * concatenation (without a decoder: joined with spaces). */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

typedef struct list { tok_buf a; tok_spans l; } list;

static int add(list *o, const char *s, size_t n)
{
    size_t off = o->a.len;
    if (tok_buf_put(&o->a, s, n) < 0 || tok_spans_push(&o->l, (uint32_t)off, (uint32_t)o->a.len, 0) < 0)
        return MB_ENOMEM;
    return 0;
}

/* Appends to the last string of o. */
static int extend(list *o, const char *s, size_t n)
{
    if (tok_buf_put(&o->a, s, n) < 0)
        return MB_ENOMEM;
    o->l.p[o->l.len - 1].e = (uint32_t)o->a.len;
    return 0;
}

static int byte_level(const list *in, list *o)
{
    tok_buf raw = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s, j = 0, mark = raw.len;
        while (j < n) {
            size_t l;
            int b = tok_char_byte(tok_utf8_get(s + j, n - j, &l));
            if (b < 0)
                break;
            char c = (char)b;
            if ((rc = tok_buf_put(&raw, &c, 1)) < 0)
                break;
            j += l;
        }
        if (rc == 0 && j < n) {
            /* a character outside the alphabet: the token's bytes as they are */
            raw.len = mark;
            rc = tok_buf_put(&raw, s, n);
        }
    }
    if (rc == 0)
        rc = add(o, "", 0);
    if (rc == 0)
        rc = tok_utf8_lossy(&o->a, raw.p ? raw.p : "", raw.len);
    if (rc == 0)
        o->l.p[o->l.len - 1].e = (uint32_t)o->a.len;
    free(raw.p);
    return rc;
}

static int metaspace(const tok_dec *d, const list *in, list *o)
{
    char rep[4];
    size_t rl = mb_utf8_put(d->ch, rep);
    for (size_t i = 0; i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s, j = 0;
        if (add(o, "", 0) < 0)
            return MB_ENOMEM;
        while (j < n) {
            size_t l;
            tok_utf8_get(s + j, n - j, &l);
            int rc = 0;
            if (l == rl && memcmp(s + j, rep, rl) == 0) {
                if (!(i == 0 && d->prepend != PREPEND_NEVER))
                    rc = extend(o, " ", 1);
            } else {
                rc = extend(o, s + j, l);
            }
            if (rc < 0)
                return rc;
            j += l;
        }
    }
    return 0;
}

/* "<0xXX>" (u8::from_str_radix accepts a leading '+'): the byte, or -1. */
static int fallback_byte(const char *s, size_t n)
{
    int v = 0;
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    for (int k = 3; k < 5; k++) {
        char c = s[k];
        int d;
        if (k == 3 && c == '+')
            continue;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

static int flush_bytes(tok_buf *bytes, list *o)
{
    int rc = 0;
    if (!bytes->len)
        return 0;
    if (tok_utf8_valid(bytes->p, bytes->len) == bytes->len)
        rc = add(o, bytes->p, bytes->len);
    else
        for (size_t k = 0; rc == 0 && k < bytes->len; k++)
            rc = add(o, "\xEF\xBF\xBD", 3);
    bytes->len = 0;
    return rc;
}

static int byte_fallback(const list *in, list *o)
{
    tok_buf bytes = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s;
        int b = fallback_byte(s, n);
        if (b >= 0) {
            char c = (char)b;
            rc = tok_buf_put(&bytes, &c, 1);
        } else {
            rc = flush_bytes(&bytes, o);
            if (rc == 0)
                rc = add(o, s, n);
        }
    }
    if (rc == 0)
        rc = flush_bytes(&bytes, o);
    free(bytes.p);
    return rc;
}

/* Strip: up to start leading and stop trailing `content` characters. */
static int strip(const tok_dec *d, const list *in, list *o)
{
    char c[4];
    size_t cl = mb_utf8_put(d->ch, c);
    for (size_t i = 0; i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s, a = 0, b = n;
        for (int k = 0; k < d->start && a + cl <= b && memcmp(s + a, c, cl) == 0; k++)
            a += cl;
        for (int k = 0; k < d->stop && b >= a + cl && memcmp(s + b - cl, c, cl) == 0; k++)
            b -= cl;
        if (add(o, s + a, b - a) < 0)
            return MB_ENOMEM;
    }
    return 0;
}

static int replace(const tok_dec *d, tok_match *m, const list *in, list *o)
{
    tok_spans sp = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s;
        sp.len = 0;
        rc = add(o, "", 0);
        if (rc == 0 && n)
            rc = tok_re_find_all(d->re, m, s, n, &sp);
        for (size_t k = 0; rc == 0 && k < sp.len; k++)
            rc = sp.p[k].id ? extend(o, d->b, d->blen) : extend(o, s + sp.p[k].s, sp.p[k].e - sp.p[k].s);
    }
    free(sp.p);
    return rc;
}

/* BPEDecoder: the suffix becomes a space, or nothing in the last token. */
static int bpe_suffix(const tok_dec *d, const list *in, list *o)
{
    for (size_t i = 0; i < in->l.len; i++) {
        const char *s = in->a.p + in->l.p[i].s;
        size_t n = in->l.p[i].e - in->l.p[i].s, j = 0;
        int last = i + 1 == in->l.len;
        if (add(o, "", 0) < 0)
            return MB_ENOMEM;
        while (j < n) {
            int rc;
            if (d->alen && j + d->alen <= n && memcmp(s + j, d->a, d->alen) == 0) {
                rc = last ? 0 : extend(o, " ", 1);
                j += d->alen;
            } else {
                rc = extend(o, s + j, 1);
                j++;
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int fuse(const list *in, list *o)
{
    if (add(o, "", 0) < 0)
        return MB_ENOMEM;
    for (size_t i = 0; i < in->l.len; i++)
        if (extend(o, in->a.p + in->l.p[i].s, in->l.p[i].e - in->l.p[i].s) < 0)
            return MB_ENOMEM;
    return 0;
}

int mb_tok_decode(const mb_tok *t, const uint32_t *ids, size_t n, int skip_special, char **out,
                  size_t *outlen)
{
    list cur = {0}, nxt = {0};
    tok_match m = {0};
    int rc = 0;
    *out = NULL;
    *outlen = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint32_t id = ids[i];
        const char *s = NULL;
        size_t sl = 0;
        const tok_added *a = &t->added;
        if (id < a->nid && a->by_id[id] >= 0) {
            const tok_added_tok *k = &a->tok[a->by_id[id]];
            s = k->norm ? k->norm : k->content;
            sl = k->norm ? k->nlen : k->len;
        } else if (t->kind == TOK_TIKTOKEN && (s = tok_strtab_str(&t->specials, id, &sl)) != NULL) {
            ;
        } else {
            s = tok_strtab_str(&t->vocab, id, &sl);
        }
        if (!s)
            continue;
        if (skip_special && (tok_strtab_find(&a->special, s, sl) >= 0 ||
                             (t->kind == TOK_TIKTOKEN && tok_strtab_find(&t->specials, s, sl) >= 0)))
            continue;
        rc = add(&cur, s, sl);
    }
    if (rc == 0 && t->kind == TOK_TIKTOKEN) {
        /* bytes joined, then read as UTF-8 with replacement */
        rc = add(&nxt, "", 0);
        for (size_t i = 0; rc == 0 && i < cur.l.len; i++)
            rc = tok_buf_put(&cur.a, "", 0);  /* keeps cur.a.p valid when empty */
        if (rc == 0 && cur.l.len) {
            size_t s0 = cur.l.p[0].s, e0 = cur.l.p[cur.l.len - 1].e;
            rc = tok_utf8_lossy(&nxt.a, cur.a.p + s0, e0 - s0);
        }
        if (rc == 0)
            nxt.l.p[0].e = (uint32_t)nxt.a.len;
        list tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    for (size_t k = 0; rc == 0 && k < t->ndec; k++) {
        const tok_dec *d = &t->dec[k];
        nxt.a.len = 0;
        nxt.l.len = 0;
        switch (d->type) {
        case DEC_BYTELEVEL: rc = byte_level(&cur, &nxt); break;
        case DEC_METASPACE: rc = metaspace(d, &cur, &nxt); break;
        case DEC_BYTE_FALLBACK: rc = byte_fallback(&cur, &nxt); break;
        case DEC_FUSE: rc = fuse(&cur, &nxt); break;
        case DEC_STRIP: rc = strip(d, &cur, &nxt); break;
        case DEC_BPE: rc = bpe_suffix(d, &cur, &nxt); break;
        case DEC_REPLACE:
            rc = m.md ? 0 : tok_match_init(&m);
            if (rc == 0)
                rc = replace(d, &m, &cur, &nxt);
            break;
        default: rc = MB_EINVAL;
        }
        list tmp = cur;
        cur = nxt;
        nxt = tmp;
    }
    tok_buf res = {0};
    for (size_t i = 0; rc == 0 && i < cur.l.len; i++) {
        if (i && !t->has_decoder && t->kind != TOK_TIKTOKEN)
            rc = tok_buf_put(&res, " ", 1);
        if (rc == 0)
            rc = tok_buf_put(&res, cur.a.p + cur.l.p[i].s, cur.l.p[i].e - cur.l.p[i].s);
    }
    if (rc == 0 && !res.p)
        rc = tok_buf_put(&res, "", 0);
    if (rc == 0) {
        *out = res.p;
        *outlen = res.len;
    } else {
        free(res.p);
    }
    free(cur.a.p), free(cur.l.p), free(nxt.a.p), free(nxt.l.p);
    if (m.md)
        tok_match_free(&m);
    return rc;
}

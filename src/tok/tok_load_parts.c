/* tok_load_parts.c: tokenizer.json's components -- normalizer,
 * pre_tokenizer, post_processor, decoder -- read into the flat stage
 * lists the encoder runs (every Sequence is flattened: applying its
 * members in order to all pieces is what a Sequence does). A type this
 * code does not implement is refused with its name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_json.h"

#define MAX_PARTS 64

static int unsupported(tok_json *j, const char *what, const char *type)
{
    return tok_fail(j->err, j->errlen, MB_EINVAL, "%s \"%s\" is not supported", what,
                    type[0] ? type : "(without a type)");
}

/* A {"String": s} or {"Regex": r} pattern, compiled. */
static int pattern(tok_json *j, int obj, const char *what, tok_re **re)
{
    int p = tok_json_get(j, obj, "pattern");
    int sv = tok_json_get(j, p, "String"), rv = tok_json_get(j, p, "Regex");
    size_t l;
    const char *s;
    char e2[MB_TOK_ERRLEN];
    int rc;
    if ((s = tok_json_str(j, sv, &l)) != NULL) {
        if (l == 0)
            return tok_fail(j->err, j->errlen, MB_EINVAL, "%s: an empty pattern is not supported", what);
        rc = tok_re_literal(s, l, re, e2, sizeof e2);
    } else if ((s = tok_json_str(j, rv, &l)) != NULL) {
        rc = tok_re_compile(s, l, TOK_RE_ONIG, re, e2, sizeof e2);
    } else {
        return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}", what);
    }
    if (rc == MB_EINVAL)
        return tok_fail(j->err, j->errlen, rc, "%s: %s", what, e2);
    return rc;
}

/* One character given as a string (Metaspace replacement, Strip content). */
static int one_char(tok_json *j, int obj, const char *key, const char *what, uint32_t def, uint32_t *out)
{
    int i = tok_json_get(j, obj, key);
    size_t l, cl;
    const char *s;
    if (i < 0) {
        *out = def;
        return 0;
    }
    s = tok_json_str(j, i, &l);
    if (!s || l == 0 || (*out = tok_utf8_get(s, l, &cl), cl != l))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: \"%s\" must be one character", what, key);
    return 0;
}

static int behavior(tok_json *j, int obj, const char *what, int def, int *out)
{
    static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                  "Contiguous"};
    int i = tok_json_get(j, obj, "behavior");
    size_t l;
    const char *s;
    *out = def;
    if (i < 0)
        return 0;
    s = tok_json_str(j, i, &l);
    for (int k = 0; s && k < 5; k++)
        if (strcmp(s, names[k]) == 0) {
            *out = k;
            return 0;
        }
    return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: unknown behavior \"%s\"", what, s ? s : "?");
}

/* Metaspace's prepend_scheme (with the legacy add_prefix_space). */
static int prepend_scheme(tok_json *j, int obj, const char *what, int *out)
{
    int i = tok_json_get(j, obj, "prepend_scheme"), aps;
    size_t l;
    const char *s = tok_json_str(j, i, &l);
    int rc = tok_json_bool(j, obj, "add_prefix_space", -1, &aps, what);
    if (rc < 0)
        return rc;
    *out = PREPEND_ALWAYS;
    if (s) {
        if (strcmp(s, "first") == 0) *out = PREPEND_FIRST;
        else if (strcmp(s, "never") == 0) *out = PREPEND_NEVER;
        else if (strcmp(s, "always") != 0)
            return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: unknown prepend_scheme \"%s\"", what, s);
    }
    if (aps == 0) {
        if (*out != PREPEND_NEVER)
            return tok_fail(j->err, j->errlen, MB_EPARSE,
                            "%s: add_prefix_space does not match declared prepend_scheme", what);
    }
    return 0;
}

/* ---- normalizers -------------------------------------------------------- */

static int add_norm(mb_tok *t, tok_json *j, int i, int depth)
{
    char type[32];
    tok_norm nm;
    int rc = 0;
    if (depth > 8)
        return tok_fail(j->err, j->errlen, MB_EINVAL, "normalizer: Sequence nested too deep");
    snprintf(type, sizeof type, "%s", tok_json_type(j, i));
    memset(&nm, 0, sizeof nm);
    if (strcmp(type, "Sequence") == 0) {
        int arr = tok_json_get(j, i, "normalizers");
        if (!tok_json_is(j, arr, MB_JSON_ARRAY))
            return tok_fail(j->err, j->errlen, MB_EPARSE, "normalizer Sequence: \"normalizers\" must be a list");
        for (uint32_t k = 0; k < j->t[arr].size && rc == 0; k++)
            rc = add_norm(t, j, mb_json_at(j->t, arr, k), depth + 1);
        return rc;
    }
    if (strcmp(type, "NFC") == 0) nm.type = NORM_NFC;
    else if (strcmp(type, "NFD") == 0) nm.type = NORM_NFD;
    else if (strcmp(type, "NFKC") == 0) nm.type = NORM_NFKC;
    else if (strcmp(type, "NFKD") == 0) nm.type = NORM_NFKD;
    else if (strcmp(type, "Lowercase") == 0) nm.type = NORM_LOWERCASE;
    else if (strcmp(type, "StripAccents") == 0) nm.type = NORM_STRIP_ACCENTS;
    else if (strcmp(type, "Nmt") == 0) nm.type = NORM_NMT;
    else if (strcmp(type, "ByteLevel") == 0) nm.type = NORM_BYTELEVEL;
    else if (strcmp(type, "Strip") == 0) {
        nm.type = NORM_STRIP;
        rc = tok_json_bool(j, i, "strip_left", 0, &nm.left, "normalizer Strip");
        if (rc == 0)
            rc = tok_json_bool(j, i, "strip_right", 0, &nm.right, "normalizer Strip");
    } else if (strcmp(type, "Prepend") == 0) {
        nm.type = NORM_PREPEND;
        nm.a = tok_json_dup(j, tok_json_get(j, i, "prepend"), &nm.alen, &rc);
        if (rc == MB_EINVAL)
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "normalizer Prepend: \"prepend\" must be a string");
    } else if (strcmp(type, "Replace") == 0) {
        nm.type = NORM_REPLACE;
        rc = pattern(j, i, "normalizer Replace", &nm.re);
        if (rc == 0) {
            nm.b = tok_json_dup(j, tok_json_get(j, i, "content"), &nm.blen, &rc);
            if (rc == MB_EINVAL)
                rc = tok_fail(j->err, j->errlen, MB_EPARSE, "normalizer Replace: \"content\" must be a string");
        }
    } else {
        return unsupported(j, "normalizer", type);
    }
    if (rc == 0 && t->nnorm >= MAX_PARTS)
        rc = tok_fail(j->err, j->errlen, MB_EINVAL, "normalizer: more than %d parts", MAX_PARTS);
    if (rc == 0) {
        tok_norm *nn = realloc(t->norm, (t->nnorm + 1) * sizeof *nn);
        if (!nn)
            rc = MB_ENOMEM;
        else {
            t->norm = nn;
            t->norm[t->nnorm++] = nm;
            return 0;
        }
    }
    free(nm.a);
    free(nm.b);
    tok_re_free(nm.re);
    return rc;
}

int tok_load_normalizer(mb_tok *t, tok_json *j, int i, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    return add_norm(t, j, i, 0);
}

/* ---- pre-tokenizers ----------------------------------------------------- */

#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define WHITESPACE_RE "\\w+|[^\\w\\s]+"

static int add_pre(mb_tok *t, tok_json *j, int i, int depth)
{
    char type[32];
    tok_pretok p;
    int rc = 0;
    char e2[MB_TOK_ERRLEN];
    if (depth > 8)
        return tok_fail(j->err, j->errlen, MB_EINVAL, "pre_tokenizer: Sequence nested too deep");
    snprintf(type, sizeof type, "%s", tok_json_type(j, i));
    memset(&p, 0, sizeof p);
    if (strcmp(type, "Sequence") == 0) {
        int arr = tok_json_get(j, i, "pretokenizers");
        if (!tok_json_is(j, arr, MB_JSON_ARRAY))
            return tok_fail(j->err, j->errlen, MB_EPARSE, "pre_tokenizer Sequence: \"pretokenizers\" must be a list");
        for (uint32_t k = 0; k < j->t[arr].size && rc == 0; k++)
            rc = add_pre(t, j, mb_json_at(j->t, arr, k), depth + 1);
        return rc;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        p.type = PT_BYTELEVEL;
        rc = tok_json_bool(j, i, "add_prefix_space", 1, &p.add_prefix_space, "pre_tokenizer ByteLevel");
        if (rc == 0)
            rc = tok_json_bool(j, i, "use_regex", 1, &p.use_regex, "pre_tokenizer ByteLevel");
        if (rc == 0 && p.use_regex)
            rc = tok_re_compile(GPT2_RE, strlen(GPT2_RE), TOK_RE_ONIG, &p.re, e2, sizeof e2);
    } else if (strcmp(type, "Split") == 0) {
        p.type = PT_SPLIT;
        rc = pattern(j, i, "pre_tokenizer Split", &p.re);
        if (rc == 0)
            rc = behavior(j, i, "pre_tokenizer Split", -1, &p.behavior);
        if (rc == 0 && p.behavior < 0)
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "pre_tokenizer Split: \"behavior\" is required");
        if (rc == 0)
            rc = tok_json_bool(j, i, "invert", 0, &p.invert, "pre_tokenizer Split");
    } else if (strcmp(type, "Metaspace") == 0) {
        p.type = PT_METASPACE;
        rc = one_char(j, i, "replacement", "pre_tokenizer Metaspace", 0x2581, &p.ch);
        if (rc == 0)
            rc = prepend_scheme(j, i, "pre_tokenizer Metaspace", &p.prepend);
        if (rc == 0)
            rc = tok_json_bool(j, i, "split", 1, &p.split, "pre_tokenizer Metaspace");
        p.rep_len = (int)mb_utf8_put(p.ch, p.rep);
    } else if (strcmp(type, "Digits") == 0) {
        p.type = PT_DIGITS;
        rc = tok_json_bool(j, i, "individual_digits", 0, &p.individual, "pre_tokenizer Digits");
        p.behavior = p.individual ? SPLIT_ISOLATED : SPLIT_CONTIGUOUS;
    } else if (strcmp(type, "Whitespace") == 0) {
        p.type = PT_WHITESPACE;
        p.behavior = SPLIT_REMOVED;
        rc = tok_re_compile(WHITESPACE_RE, strlen(WHITESPACE_RE), TOK_RE_RUST, &p.re, e2, sizeof e2);
    } else if (strcmp(type, "WhitespaceSplit") == 0) {
        p.type = PT_WHITESPACE_SPLIT;
        p.behavior = SPLIT_REMOVED;
    } else if (strcmp(type, "Punctuation") == 0) {
        p.type = PT_PUNCT;
        rc = behavior(j, i, "pre_tokenizer Punctuation", SPLIT_ISOLATED, &p.behavior);
    } else if (strcmp(type, "CharDelimiterSplit") == 0) {
        p.type = PT_CHAR_DELIM;
        p.behavior = SPLIT_REMOVED;
        rc = one_char(j, i, "delimiter", "pre_tokenizer CharDelimiterSplit", 0, &p.ch);
        if (rc == 0 && tok_json_get(j, i, "delimiter") < 0)
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "pre_tokenizer CharDelimiterSplit: \"delimiter\" is required");
    } else {
        return unsupported(j, "pre_tokenizer", type);
    }
    if (rc == 0 && t->npre >= TOK_MAX_STAGES)
        rc = tok_fail(j->err, j->errlen, MB_EINVAL, "pre_tokenizer: more than %d stages", TOK_MAX_STAGES);
    if (rc == 0) {
        tok_pretok *np = realloc(t->pre, (t->npre + 1) * sizeof *np);
        if (!np)
            rc = MB_ENOMEM;
        else {
            t->pre = np;
            t->pre[t->npre++] = p;
            return 0;
        }
    }
    tok_re_free(p.re);
    return rc;
}

int tok_load_pretokenizer(mb_tok *t, tok_json *j, int i, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    return add_pre(t, j, i, 0);
}

/* ---- decoders ----------------------------------------------------------- */

static int add_dec(mb_tok *t, tok_json *j, int i, int depth)
{
    char type[32];
    tok_dec d;
    int rc = 0;
    if (depth > 8)
        return tok_fail(j->err, j->errlen, MB_EINVAL, "decoder: Sequence nested too deep");
    snprintf(type, sizeof type, "%s", tok_json_type(j, i));
    memset(&d, 0, sizeof d);
    if (strcmp(type, "Sequence") == 0) {
        int arr = tok_json_get(j, i, "decoders");
        if (!tok_json_is(j, arr, MB_JSON_ARRAY))
            return tok_fail(j->err, j->errlen, MB_EPARSE, "decoder Sequence: \"decoders\" must be a list");
        for (uint32_t k = 0; k < j->t[arr].size && rc == 0; k++)
            rc = add_dec(t, j, mb_json_at(j->t, arr, k), depth + 1);
        return rc;
    }
    if (strcmp(type, "ByteLevel") == 0) d.type = DEC_BYTELEVEL;
    else if (strcmp(type, "ByteFallback") == 0) d.type = DEC_BYTE_FALLBACK;
    else if (strcmp(type, "Fuse") == 0) d.type = DEC_FUSE;
    else if (strcmp(type, "Metaspace") == 0) {
        d.type = DEC_METASPACE;
        rc = one_char(j, i, "replacement", "decoder Metaspace", 0x2581, &d.ch);
        if (rc == 0)
            rc = prepend_scheme(j, i, "decoder Metaspace", &d.prepend);
    } else if (strcmp(type, "Strip") == 0) {
        int64_t a = 0, b = 0;
        d.type = DEC_STRIP;
        rc = one_char(j, i, "content", "decoder Strip", ' ', &d.ch);
        if (rc == 0)
            rc = tok_json_int(j, i, "start", 0, &a, "decoder Strip");
        if (rc == 0)
            rc = tok_json_int(j, i, "stop", 0, &b, "decoder Strip");
        if (rc == 0 && (a < 0 || b < 0 || a > 1 << 20 || b > 1 << 20))
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "decoder Strip: start and stop must be counts");
        d.start = (int)a, d.stop = (int)b;
    } else if (strcmp(type, "Replace") == 0) {
        d.type = DEC_REPLACE;
        rc = pattern(j, i, "decoder Replace", &d.re);
        if (rc == 0) {
            d.b = tok_json_dup(j, tok_json_get(j, i, "content"), &d.blen, &rc);
            if (rc == MB_EINVAL)
                rc = tok_fail(j->err, j->errlen, MB_EPARSE, "decoder Replace: \"content\" must be a string");
        }
    } else if (strcmp(type, "BPEDecoder") == 0) {
        d.type = DEC_BPE;
        if (tok_json_get(j, i, "suffix") < 0) {
            d.a = strdup("</w>");
            d.alen = 4;
            rc = d.a ? 0 : MB_ENOMEM;
        } else {
            d.a = tok_json_dup(j, tok_json_get(j, i, "suffix"), &d.alen, &rc);
            if (rc == MB_EINVAL)
                rc = tok_fail(j->err, j->errlen, MB_EPARSE, "decoder BPEDecoder: \"suffix\" must be a string");
        }
    } else {
        return unsupported(j, "decoder", type);
    }
    if (rc == 0 && t->ndec >= MAX_PARTS)
        rc = tok_fail(j->err, j->errlen, MB_EINVAL, "decoder: more than %d parts", MAX_PARTS);
    if (rc == 0) {
        tok_dec *nd = realloc(t->dec, (t->ndec + 1) * sizeof *nd);
        if (!nd)
            rc = MB_ENOMEM;
        else {
            t->dec = nd;
            t->dec[t->ndec++] = d;
            return 0;
        }
    }
    free(d.a);
    free(d.b);
    tok_re_free(d.re);
    return rc;
}

int tok_load_decoder(mb_tok *t, tok_json *j, int i, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    t->has_decoder = 1;
    return add_dec(t, j, i, 0);
}

/* ---- post-processors ---------------------------------------------------- */

/* A [token, id] pair of RobertaProcessing / BertProcessing. */
static int pair_id(tok_json *j, int obj, const char *key, const char *what, uint32_t *id)
{
    int a = tok_json_get(j, obj, key);
    int64_t v;
    if (!tok_json_is(j, a, MB_JSON_ARRAY) || j->t[a].size != 2 ||
        mb_json_int(j->s, j->t, mb_json_at(j->t, a, 1), &v) < 0 || v < 0 || v > UINT32_MAX - 1)
        return tok_fail(j->err, j->errlen, MB_EPARSE, "%s: \"%s\" must be [token, id]", what, key);
    *id = (uint32_t)v;
    return 0;
}

/* A template piece: 1 for the sequence A, 0 for a special token (its name
 * in *name), -1 when malformed or naming B. */
static int template_piece(tok_json *j, int p, char *name, size_t cap)
{
    size_t l;
    const char *s;
    if (tok_json_is(j, p, MB_JSON_STRING)) {
        /* "$A", "$0", "$", "$A:1", "[CLS]", "[CLS]:0" */
        s = tok_json_str(j, p, &l);
        if (s[0] == '$') {
            if (s[1] == 0 || s[1] == 'A' || s[1] == 'a' || s[1] == '0' || s[1] == ':')
                return 1;
            return -1;
        }
        const char *colon = strrchr(s, ':');
        size_t nl = colon ? (size_t)(colon - s) : l;
        if (nl >= cap)
            return -1;
        memcpy(name, s, nl);
        name[nl] = 0;
        return 0;
    }
    int seq = tok_json_get(j, p, "Sequence"), sp = tok_json_get(j, p, "SpecialToken");
    if (seq >= 0) {
        s = tok_json_str(j, tok_json_get(j, seq, "id"), &l);
        return s && strcmp(s, "A") == 0 ? 1 : -1;
    }
    s = tok_json_str(j, tok_json_get(j, sp, "id"), &l);
    if (!s || l >= cap)
        return -1;
    memcpy(name, s, l + 1);
    return 0;
}

/* TemplateProcessing's single template: special tokens before and after
 * the one $A. */
static int template(tok_json *j, int i, tok_ids *before, tok_ids *after)
{
    int single = tok_json_get(j, i, "single"), specials = tok_json_get(j, i, "special_tokens");
    int seen_a = 0;
    char name[256];
    if (!tok_json_is(j, single, MB_JSON_ARRAY))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "post_processor TemplateProcessing: \"single\" must be a list");
    for (uint32_t k = 0; k < j->t[single].size; k++) {
        int r = template_piece(j, mb_json_at(j->t, single, k), name, sizeof name);
        if (r < 0 || (r == 1 && seen_a))
            return tok_fail(j->err, j->errlen, MB_EINVAL,
                            "post_processor TemplateProcessing: only single templates with one $A are supported");
        if (r == 1) {
            seen_a = 1;
            continue;
        }
        int st = tok_json_member(j, specials, name, strlen(name));
        int ids = tok_json_get(j, st, "ids");
        if (!tok_json_is(j, ids, MB_JSON_ARRAY))
            return tok_fail(j->err, j->errlen, MB_EPARSE,
                            "post_processor TemplateProcessing: special token \"%s\" is not defined", name);
        for (uint32_t q = 0; q < j->t[ids].size; q++) {
            int64_t v;
            if (mb_json_int(j->s, j->t, mb_json_at(j->t, ids, q), &v) < 0 || v < 0 || v > UINT32_MAX - 1)
                return tok_fail(j->err, j->errlen, MB_EPARSE,
                                "post_processor TemplateProcessing: bad id for \"%s\"", name);
            if (tok_ids_push(seen_a ? after : before, (uint32_t)v) < 0)
                return MB_ENOMEM;
        }
    }
    if (!seen_a)
        return tok_fail(j->err, j->errlen, MB_EINVAL,
                        "post_processor TemplateProcessing: the single template has no $A");
    return 0;
}

/* Wraps the current post-processing with one more processor: its own
 * tokens go outside what earlier processors added. */
static int wrap(tok_post *pp, const tok_ids *b, const tok_ids *a)
{
    tok_ids nb = {0};
    for (size_t k = 0; k < b->len; k++)
        if (tok_ids_push(&nb, b->p[k]) < 0)
            goto oom;
    for (size_t k = 0; k < pp->before.len; k++)
        if (tok_ids_push(&nb, pp->before.p[k]) < 0)
            goto oom;
    free(pp->before.p);
    pp->before = nb;
    for (size_t k = 0; k < a->len; k++)
        if (tok_ids_push(&pp->after, a->p[k]) < 0)
            return MB_ENOMEM;
    return 0;
oom:
    free(nb.p);
    return MB_ENOMEM;
}

static int add_post(mb_tok *t, tok_json *j, int i, int depth)
{
    char type[40];
    tok_ids b = {0}, a = {0};
    int rc = 0;
    if (depth > 8)
        return tok_fail(j->err, j->errlen, MB_EINVAL, "post_processor: Sequence nested too deep");
    snprintf(type, sizeof type, "%s", tok_json_type(j, i));
    if (strcmp(type, "Sequence") == 0) {
        int arr = tok_json_get(j, i, "processors");
        if (!tok_json_is(j, arr, MB_JSON_ARRAY))
            return tok_fail(j->err, j->errlen, MB_EPARSE, "post_processor Sequence: \"processors\" must be a list");
        for (uint32_t k = 0; k < j->t[arr].size && rc == 0; k++)
            rc = add_post(t, j, mb_json_at(j->t, arr, k), depth + 1);
        return rc;
    }
    if (strcmp(type, "ByteLevel") == 0)
        return 0;   /* offsets only */
    if (strcmp(type, "TemplateProcessing") == 0) {
        rc = template(j, i, &b, &a);
    } else if (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0) {
        uint32_t cls, sep;
        rc = pair_id(j, i, "cls", type, &cls);
        if (rc == 0)
            rc = pair_id(j, i, "sep", type, &sep);
        if (rc == 0 && (tok_ids_push(&b, cls) < 0 || tok_ids_push(&a, sep) < 0))
            rc = MB_ENOMEM;
    } else {
        return unsupported(j, "post_processor", type);
    }
    if (rc == 0)
        rc = wrap(&t->post, &b, &a);
    if (rc == 0)
        t->post.any = 1;
    free(b.p);
    free(a.p);
    return rc;
}

int tok_load_post(mb_tok *t, tok_json *j, int i, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    return add_post(t, j, i, 0);
}

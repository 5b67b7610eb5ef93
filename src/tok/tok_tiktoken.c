/* tok_tiktoken.c: OpenAI's tiktoken encodings: a `.tiktoken` rank file
 * ("<base64 token> <rank>" per line, as tiktoken caches them) or the
 * tiktoken npm package's JSON ({"pat_str", "special_tokens", "bpe_ranks":
 * "<label> <first rank> <base64>..." lines}). A rank file carries no
 * pattern nor special tokens: those are tiktoken's, by encoding name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_json.h"

typedef struct special { const char *name; uint32_t id; } special;

static const char O200K_PAT[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*"
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char CL100K_PAT[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const special O200K_SPECIAL[] = {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
static const special CL100K_SPECIAL[] = {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258},
    {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260}, {"<|endofprompt|>", 100276}};

static const struct encoding {
    const char *name;
    uint32_t ranks;
    const char *pat;
    const special *sp;
    size_t nsp;
} ENCODINGS[] = {
    {"o200k_base", 199998, O200K_PAT, O200K_SPECIAL, 2},
    {"cl100k_base", 100256, CL100K_PAT, CL100K_SPECIAL, 5},
};

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decodes base64 s[0..n) into out; -1 when malformed. */
static int b64(const char *s, size_t n, tok_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    out->len = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            char c = (char)(acc >> (bits - 8));
            bits -= 8;
            if (tok_buf_put(out, &c, 1) < 0)
                return MB_ENOMEM;
        }
    }
    return out->len ? 0 : -1;
}

static int add_rank(mb_tok *t, const char *tok, size_t tl, uint64_t rank, tok_buf *tmp,
                    char *err, size_t errlen)
{
    int rc = b64(tok, tl, tmp);
    if (rc == MB_ENOMEM)
        return rc;
    if (rc < 0 || rank >= UINT32_MAX - 1)
        return tok_fail(err, errlen, MB_EPARSE, "tiktoken: bad token or rank near rank %llu",
                        (unsigned long long)rank);
    return tok_strtab_set(&t->vocab, (uint32_t)rank, tmp->p, tmp->len);
}

/* Every single byte must have a rank: the merge starts from bytes. */
static int finish(mb_tok *t, const char *pat, size_t patlen, char *err, size_t errlen)
{
    char e2[MB_TOK_ERRLEN];
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        int64_t r = tok_strtab_find(&t->vocab, &c, 1);
        if (r < 0)
            return tok_fail(err, errlen, MB_EPARSE, "tiktoken: byte 0x%02X has no rank", b);
        t->byte_id[b] = (int32_t)r;
    }
    t->model_size = t->vocab.count;
    int rc = tok_re_compile(pat, patlen, TOK_RE_RUST, &t->pattern, e2, sizeof e2);
    if (rc == MB_EINVAL)
        return tok_fail(err, errlen, rc, "tiktoken pattern: %s", e2);
    if (rc < 0)
        return rc;
    if (tok_trie_init(&t->special_trie) < 0)
        return MB_ENOMEM;
    for (uint32_t e = 0; e <= t->specials.mask; e++) {
        const tok_strent *en = &t->specials.slots[e];
        if (!en->tag)
            continue;
        rc = tok_trie_add(&t->special_trie, t->specials.arena + en->off, en->len, (int32_t)en->id);
        if (rc < 0 && rc != MB_EINVAL)
            return rc;
    }
    t->ignore_merges = 1;
    return 0;
}

/* .tiktoken: which encoding, by file name, else by its number of ranks. */
static const struct encoding *which(const char *name, uint32_t count)
{
    for (size_t k = 0; k < sizeof ENCODINGS / sizeof ENCODINGS[0]; k++)
        if (name && strstr(name, ENCODINGS[k].name))
            return &ENCODINGS[k];
    for (size_t k = 0; k < sizeof ENCODINGS / sizeof ENCODINGS[0]; k++)
        if (count == ENCODINGS[k].ranks)
            return &ENCODINGS[k];
    return NULL;
}

static int load_rank_file(mb_tok *t, const char *s, size_t n, const char *name, char *err,
                          size_t errlen)
{
    tok_buf tmp = {0};
    size_t i = 0, line = 0;
    int rc = tok_strtab_init(&t->vocab, 1 << 17);
    while (rc == 0 && i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        line++;
        if (e > i) {
            const char *sp = memchr(s + i, ' ', e - i);
            char num[24];
            size_t nlen = sp ? e - (size_t)(sp + 1 - s) : 0;
            if (nlen && s[e - 1] == '\r')
                nlen--;
            if (!sp || nlen == 0 || nlen >= sizeof num) {
                rc = tok_fail(err, errlen, MB_EPARSE, "tiktoken: line %zu is not \"<base64> <rank>\"", line);
                break;
            }
            memcpy(num, sp + 1, nlen);
            num[nlen] = 0;
            char *end;
            unsigned long long r = strtoull(num, &end, 10);
            if (*end || num[0] < '0' || num[0] > '9') {
                rc = tok_fail(err, errlen, MB_EPARSE, "tiktoken: line %zu: bad rank", line);
                break;
            }
            rc = add_rank(t, s + i, (size_t)(sp - (s + i)), r, &tmp, err, errlen);
        }
        i = e + 1;
    }
    free(tmp.p);
    if (rc < 0)
        return rc;
    const struct encoding *enc = which(name, t->vocab.count);
    if (!enc)
        return tok_fail(err, errlen, MB_EINVAL,
                        "tiktoken: unknown encoding with %u ranks (name the file o200k_base.tiktoken "
                        "or cl100k_base.tiktoken)", t->vocab.count);
    if (tok_strtab_init(&t->specials, 8) < 0)
        return MB_ENOMEM;
    for (size_t k = 0; k < enc->nsp; k++)
        if (tok_strtab_set(&t->specials, enc->sp[k].id, enc->sp[k].name, strlen(enc->sp[k].name)) < 0)
            return MB_ENOMEM;
    snprintf(t->kind_name, sizeof t->kind_name, "tiktoken:%s", enc->name);
    return finish(t, enc->pat, strlen(enc->pat), err, errlen);
}

/* The npm package's JSON form. */
static int load_json_ranks(mb_tok *t, tok_json *j, const char *name, char *err, size_t errlen)
{
    size_t l;
    int rc = 0;
    char *pat = tok_json_dup(j, tok_json_get(j, 0, "pat_str"), &l, &rc);
    const char *ranks;
    size_t rn;
    tok_buf tmp = {0};
    if (!pat)
        return rc == MB_ENOMEM ? rc : tok_fail(err, errlen, MB_EPARSE, "tiktoken JSON: \"pat_str\" must be a string");
    ranks = tok_json_str(j, tok_json_get(j, 0, "bpe_ranks"), &rn);
    if (!ranks) {
        free(pat);
        return tok_fail(err, errlen, MB_EPARSE, "tiktoken JSON: \"bpe_ranks\" must be a string");
    }
    rc = tok_strtab_init(&t->vocab, 1 << 17);
    for (size_t i = 0; rc == 0 && i < rn;) {
        const char *nl = memchr(ranks + i, '\n', rn - i);
        size_t e = nl ? (size_t)(nl - ranks) : rn, p = i, field = 0;
        uint64_t rank = 0;
        while (rc == 0 && p < e) {
            const char *sp = memchr(ranks + p, ' ', e - p);
            size_t fe = sp ? (size_t)(sp - ranks) : e;
            if (field == 1) {
                char num[24];
                size_t fl = fe - p < sizeof num - 1 ? fe - p : sizeof num - 1;
                memcpy(num, ranks + p, fl);
                num[fl] = 0;
                rank = strtoull(num, NULL, 10);
            } else if (field > 1 && fe > p) {
                rc = add_rank(t, ranks + p, fe - p, rank++, &tmp, err, errlen);
            }
            field++;
            p = fe + 1;
        }
        i = e + 1;
    }
    free(tmp.p);
    int sp = tok_json_get(j, 0, "special_tokens");
    if (rc == 0 && tok_strtab_init(&t->specials, 8) < 0)
        rc = MB_ENOMEM;
    if (rc == 0 && tok_json_is(j, sp, MB_JSON_OBJECT)) {
        uint32_t k = (uint32_t)sp + 1;
        for (uint32_t m = 0; rc == 0 && m < j->t[sp].size; m++, k = j->t[k + 1].next) {
            int64_t id;
            const char *s = tok_json_str(j, (int)k, &l);
            if (!s || mb_json_int(j->s, j->t, (int)k + 1, &id) < 0 || id < 0 || id >= UINT32_MAX - 1)
                rc = tok_fail(err, errlen, MB_EPARSE, "tiktoken JSON: bad special token");
            else
                rc = tok_strtab_set(&t->specials, (uint32_t)id, s, l);
        }
    }
    if (rc == 0) {
        const struct encoding *enc = which(name, t->vocab.count);
        snprintf(t->kind_name, sizeof t->kind_name, "tiktoken:%s", enc ? enc->name : "json");
        rc = finish(t, pat, strlen(pat), err, errlen);
    }
    free(pat);
    return rc;
}

int tok_load_tiktoken(mb_tok *t, const char *s, size_t n, const char *name, char *err, size_t errlen)
{
    t->kind = TOK_TIKTOKEN;
    if (n && s[0] == '{') {
        tok_json j = {0};
        j.err = err;
        j.errlen = errlen;
        int rc = tok_json_parse(&j, s, n);
        if (rc == 0)
            rc = load_json_ranks(t, &j, name, err, errlen);
        else if (rc != MB_ENOMEM)
            rc = tok_fail(err, errlen, MB_EPARSE, "not valid JSON");
        tok_json_free(&j);
        return rc;
    }
    return load_rank_file(t, s, n, name, err, errlen);
}

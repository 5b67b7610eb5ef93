/* tok_load.c: a Hugging Face tokenizer.json: the BPE model (vocabulary and
 * merges), its components (tok_load_parts.c) and the added tokens, read
 * the way the reference deserializes them -- including its refusals (a
 * merge naming a token outside the vocabulary) -- then the byte-level
 * shortcuts the encoder uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_json.h"

/* Loading is bound by memory latency (a random slot per key): keys are
 * first read into a flat list with their hashes, then inserted or looked
 * up with the slots of the keys AHEAD steps later being prefetched. */
#define AHEAD 16

typedef struct lkey { uint32_t off, len; uint64_t h; } lkey;

static int push_key(tok_buf *arena, lkey **v, size_t *n, size_t *cap, const char *s, size_t l)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        lkey *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return MB_ENOMEM;
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = (lkey){(uint32_t)arena->len, (uint32_t)l, tok_hash(s, l)};
    return tok_buf_put(arena, s, l);
}

/* An id: plain digits are read here (strtod per entry is a tenth of the
 * load), anything else as JSON says. */
static int read_id(tok_json *j, int i, int64_t *out)
{
    const mb_json_tok *t = &j->t[i];
    if (t->type == MB_JSON_NUMBER && t->len > 0 && t->len <= 9) {
        const char *p = j->s + t->start;
        int64_t v = 0;
        uint32_t k;
        for (k = 0; k < t->len && p[k] >= '0' && p[k] <= '9'; k++)
            v = v * 10 + (p[k] - '0');
        if (k == t->len && (t->len == 1 || p[0] != '0')) {
            *out = v;
            return 0;
        }
    }
    return mb_json_int(j->s, j->t, i, out);
}

/* The vocabulary: token -> id; a key given twice keeps its last id. */
static int load_vocab(mb_tok *t, tok_json *j, int v)
{
    tok_buf arena = {0};
    lkey *keys = NULL;
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    if (!tok_json_is(j, v, MB_JSON_OBJECT))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "model: \"vocab\" must be an object");
    if (tok_strtab_init(&t->vocab, j->t[v].size) < 0 || tok_buf_reserve(&arena, j->t[v].len) < 0)
        return MB_ENOMEM;
    cap = j->t[v].size + 1;
    keys = malloc(cap * sizeof *keys);
    ids = malloc((j->t[v].size + 1) * sizeof *ids);
    if (!keys) {
        free(ids);
        return MB_ENOMEM;
    }
    if (!ids)
        return MB_ENOMEM;
    uint32_t k = (uint32_t)v + 1;
    for (uint32_t m = 0; m < j->t[v].size && rc == 0; m++) {
        int64_t id;
        size_t l;
        if (read_id(j, (int)k + 1, &id) < 0 || id < 0 || id >= 0x7fffffff) {
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "model: vocab ids must be integers >= 0");
            break;
        }
        /* the raw key when it has no escape, else unescaped */
        const char *s = j->s + j->t[k].start;
        l = j->t[k].len;
        if (memchr(s, '\\', l))
            s = tok_json_str(j, (int)k, &l);
        rc = s ? push_key(&arena, &keys, &n, &cap, s, l) : MB_ENOMEM;
        ids[m] = (uint32_t)id;
        k = j->t[k + 1].next;
    }
    for (size_t i = 0; rc == 0 && i < n + AHEAD; i++) {
        if (i < n)
            tok_strtab_prefetch(&t->vocab, keys[i].h);
        if (i >= AHEAD) {
            const lkey *x = &keys[i - AHEAD];
            rc = tok_strtab_set_h(&t->vocab, ids[i - AHEAD], arena.p + x->off, x->len, x->h);
        }
    }
    free(arena.p);
    free(keys);
    free(ids);
    t->model_size = t->vocab.count;
    return rc;
}

/* Every merge's parts, and their join (the right part without the
 * continuing_subword_prefix), as keys: three per merge. */
static int read_merges(mb_tok *t, tok_json *j, int arr, tok_buf *arena, lkey **keys, size_t *n)
{
    size_t cap = 3 * (size_t)j->t[arr].size + 3;
    int rc = 0;
    /* sized once: the parts and joins of all merges fit in twice the raw text */
    if (tok_buf_reserve(arena, 2 * (size_t)j->t[arr].len + 64) < 0 ||
        !(*keys = malloc(cap * sizeof **keys)))
        return MB_ENOMEM;
    uint32_t k = (uint32_t)arr + 1;
    for (uint32_t m = 0; m < j->t[arr].size && rc == 0; m++, k = j->t[k].next) {
        size_t l, al, bl, base = arena->len;
        const char *s;
        if (j->t[k].type == MB_JSON_ARRAY && j->t[k].size == 2 &&
            tok_json_is(j, j->t[k + 1].next, MB_JSON_STRING) && (s = tok_json_str(j, (int)k + 1, &l))) {
            /* ["a", "b"] */
            if (tok_buf_put(arena, s, l) < 0 || !(s = tok_json_str(j, (int)j->t[k + 1].next, &bl)) ||
                tok_buf_put(arena, s, bl) < 0) {
                rc = MB_ENOMEM;
                break;
            }
            al = l;
        } else if (j->t[k].type == MB_JSON_STRING) {
            /* "a b": the raw text when it has no escape, else unescaped */
            s = j->s + j->t[k].start;
            l = j->t[k].len;
            if (memchr(s, '\\', l) && !(s = tok_json_str(j, (int)k, &l))) {
                rc = MB_ENOMEM;
                break;
            }
            if (l >= 8 && memcmp(s, "#version", 8) == 0)
                continue;
            const char *sp = memchr(s, ' ', l);
            if (!sp || memchr(sp + 1, ' ', l - (size_t)(sp + 1 - s))) {
                rc = tok_fail(j->err, j->errlen, MB_EPARSE, "model: merge %zu is not \"a b\"", *n / 3 + 1);
                break;
            }
            al = (size_t)(sp - s);
            bl = l - al - 1;
            if (tok_buf_put(arena, s, al) < 0 || tok_buf_put(arena, sp + 1, bl) < 0) {
                rc = MB_ENOMEM;
                break;
            }
        } else {
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "model: merges must be strings or pairs of strings");
            break;
        }
        if (*n + 3 > cap) {
            lkey *nv = realloc(*keys, (cap *= 2) * sizeof *nv);
            if (!nv) {
                rc = MB_ENOMEM;
                break;
            }
            *keys = nv;
        }
        /* arena: a b, then the join when the continuing_subword_prefix must go */
        const char *p = arena->p + base;
        size_t skip = t->prefix_len <= bl ? t->prefix_len : bl;
        lkey *kv = *keys + *n;
        kv[0] = (lkey){(uint32_t)base, (uint32_t)al, tok_hash(p, al)};
        kv[1] = (lkey){(uint32_t)(base + al), (uint32_t)bl, tok_hash(p + al, bl)};
        if (skip == 0) {
            kv[2] = (lkey){(uint32_t)base, (uint32_t)(al + bl), tok_hash(p, al + bl)};
        } else {
            size_t jb = arena->len;
            if (tok_buf_put(arena, p, al) < 0 || tok_buf_put(arena, arena->p + base + al + skip, bl - skip) < 0) {
                rc = MB_ENOMEM;
                break;
            }
            kv[2] = (lkey){(uint32_t)jb, (uint32_t)(al + bl - skip), tok_hash(arena->p + jb, al + bl - skip)};
        }
        *n += 3;
    }
    return rc;
}

static int load_merges(mb_tok *t, tok_json *j, int arr)
{
    tok_buf arena = {0};
    lkey *keys = NULL;
    size_t n = 0;
    uint32_t *res = NULL;
    int rc;
    if (!tok_json_is(j, arr, MB_JSON_ARRAY))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "model: \"merges\" must be a list");
    if (tok_pairmap_init(&t->merges, j->t[arr].size) < 0)
        return MB_ENOMEM;
    rc = read_merges(t, j, arr, &arena, &keys, &n);
    if (rc == 0 && !(res = malloc((n + 1) * sizeof *res)))
        rc = MB_ENOMEM;
    /* ids of every key, slots prefetched AHEAD keys early, keys half way */
    for (size_t i = 0; rc == 0 && i < n + AHEAD; i++) {
        if (i < n)
            tok_strtab_prefetch(&t->vocab, keys[i].h);
        if (i >= AHEAD / 2 && i - AHEAD / 2 < n)
            tok_strtab_prefetch_key(&t->vocab, keys[i - AHEAD / 2].h);
        if (i >= AHEAD) {
            size_t q = i - AHEAD;
            const lkey *x = &keys[q];
            int64_t id = tok_strtab_find_h(&t->vocab, arena.p + x->off, x->len, x->h);
            if (id < 0)
                rc = tok_fail(j->err, j->errlen, MB_EPARSE,
                              "model: merge token \"%.*s\" is not in the vocabulary",
                              (int)(x->len < 60 ? x->len : 60), arena.p + x->off);
            res[q] = (uint32_t)id;
        }
    }
    /* then the pair map, in rank order (a pair seen twice keeps the last) */
    size_t nm = n / 3;
    for (size_t i = 0; rc == 0 && i < nm + AHEAD; i++) {
        if (i < nm)
            tok_pairmap_prefetch(&t->merges, res[3 * i], res[3 * i + 1]);
        if (i >= AHEAD) {
            size_t q = i - AHEAD;
            rc = tok_pairmap_set(&t->merges, res[3 * q], res[3 * q + 1], (uint32_t)q, res[3 * q + 2]);
        }
    }
    free(arena.p);
    free(keys);
    free(res);
    return rc;
}

/* An optional string option of the model (null or absent: none). */
static int opt_str(tok_json *j, int model, const char *key, char **out, size_t *len)
{
    int i = tok_json_get(j, model, key), rc;
    *out = NULL;
    *len = 0;
    if (i < 0 || j->t[i].type == MB_JSON_NULL)
        return 0;
    *out = tok_json_dup(j, i, len, &rc);
    if (rc == MB_EINVAL)
        return tok_fail(j->err, j->errlen, MB_EPARSE, "model: \"%s\" must be a string", key);
    return rc;
}

static int load_model(mb_tok *t, tok_json *j, int model)
{
    char type[32];
    int rc;
    if (!tok_json_is(j, model, MB_JSON_OBJECT))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "tokenizer.json has no \"model\" object");
    snprintf(type, sizeof type, "%s", tok_json_type(j, model));
    if (type[0] == 0 && tok_json_get(j, model, "merges") >= 0)
        snprintf(type, sizeof type, "BPE");
    if (strcmp(type, "BPE") != 0)
        return tok_fail(j->err, j->errlen, MB_EINVAL, "model \"%s\" is not supported (only BPE)",
                        type[0] ? type : "(without a type)");
    int d = tok_json_get(j, model, "dropout");
    if (d >= 0 && j->t[d].type != MB_JSON_NULL) {
        char buf[32];
        size_t l = j->t[d].len < sizeof buf - 1 ? j->t[d].len : sizeof buf - 1;
        memcpy(buf, j->s + j->t[d].start, l);
        buf[l] = 0;
        if (j->t[d].type != MB_JSON_NUMBER || strtod(buf, NULL) != 0.0)
            return tok_fail(j->err, j->errlen, MB_EINVAL, "model BPE with dropout is not supported (it is random)");
    }
    rc = opt_str(j, model, "continuing_subword_prefix", &t->prefix, &t->prefix_len);
    if (rc == 0)
        rc = opt_str(j, model, "end_of_word_suffix", &t->suffix, &t->suffix_len);
    if (rc == 0)
        rc = tok_json_bool(j, model, "fuse_unk", 0, &t->fuse_unk, "model");
    if (rc == 0)
        rc = tok_json_bool(j, model, "byte_fallback", 0, &t->byte_fallback, "model");
    if (rc == 0)
        rc = tok_json_bool(j, model, "ignore_merges", 0, &t->ignore_merges, "model");
    if (rc == 0)
        rc = load_vocab(t, j, tok_json_get(j, model, "vocab"));
    if (rc == 0)
        rc = load_merges(t, j, tok_json_get(j, model, "merges"));
    if (rc < 0)
        return rc;
    t->unk_id = -1;
    int u = tok_json_get(j, model, "unk_token");
    if (u >= 0 && j->t[u].type != MB_JSON_NULL) {
        size_t l;
        const char *s = tok_json_str(j, u, &l);
        if (!s)
            return tok_fail(j->err, j->errlen, MB_EPARSE, "model: \"unk_token\" must be a string");
        t->unk_id = tok_strtab_find(&t->vocab, s, l);
        if (t->unk_id < 0)
            return tok_fail(j->err, j->errlen, MB_EINVAL,
                            "model: unk_token \"%.40s\" is not in the vocabulary", s);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->fallback_id[b] = (int32_t)tok_strtab_find(&t->vocab, name, 6);
    }
    return 0;
}

static int load_added(mb_tok *t, tok_json *j, int arr)
{
    mb_tok_enc *e = NULL;
    int rc = 0;
    if (arr < 0 || j->t[arr].type == MB_JSON_NULL)
        return 0;
    if (!tok_json_is(j, arr, MB_JSON_ARRAY))
        return tok_fail(j->err, j->errlen, MB_EPARSE, "\"added_tokens\" must be a list");
    if (tok_strtab_init(&t->added.map, j->t[arr].size) < 0 ||
        tok_strtab_init(&t->added.special, 16) < 0)
        return MB_ENOMEM;
    if (t->nnorm && !(e = mb_tok_enc_new(t)))
        return MB_ENOMEM;
    uint32_t k = (uint32_t)arr + 1;
    for (uint32_t m = 0; m < j->t[arr].size && rc == 0; m++, k = j->t[k].next) {
        int f[5];
        static const char *flags[5] = {"special", "lstrip", "rstrip", "normalized", "single_word"};
        for (int q = 0; q < 5 && rc == 0; q++)
            rc = tok_json_bool(j, (int)k, flags[q], q == 3 ? -1 : 0, &f[q], "added_tokens");
        if (rc < 0)
            break;
        if (f[3] < 0)
            f[3] = !f[0];   /* AddedToken's default: normalized unless special */
        size_t l;
        const char *s = tok_json_str(j, tok_json_get(j, (int)k, "content"), &l);
        if (!s) {
            rc = tok_fail(j->err, j->errlen, MB_EPARSE, "added_tokens: \"content\" must be a string");
            break;
        }
        char *c = malloc(l + 1);
        if (!c) {
            rc = MB_ENOMEM;
            break;
        }
        memcpy(c, s, l + 1);
        rc = tok_added_add(t, e, c, l, (uint8_t)f[0], (uint8_t)f[1], (uint8_t)f[2], (uint8_t)f[3],
                           (uint8_t)f[4], j->err, j->errlen);
        free(c);
    }
    mb_tok_enc_free(e);
    if (rc == 0)
        rc = tok_added_build(t, j->err, j->errlen);
    return rc;
}

/* When the last pre-tokenizer stage is ByteLevel and every byte's
 * character is a token, the model reads raw bytes: a piece is mapped to
 * its characters only when it is not in the word cache and the model
 * needs its whole form (ignore_merges). */
static int setup_byte_level(mb_tok *t)
{
    t->bytelevel_raw = 0;
    if (!t->npre || t->pre[t->npre - 1].type != PT_BYTELEVEL || t->prefix_len || t->suffix_len)
        return 0;
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t l = mb_utf8_put(tok_byte_char[b], u);
        int64_t id = tok_strtab_find(&t->vocab, u, l);
        if (id < 0)
            return 0;
        t->byte_id[b] = (int32_t)id;
    }
    t->bytelevel_raw = 1;
    return 0;
}

int tok_load_hf(mb_tok *t, const char *s, size_t n, char *err, size_t errlen)
{
    tok_json j = {0};
    int rc;
    j.err = err;
    j.errlen = errlen;
    rc = tok_json_parse(&j, s, n);
    if (rc < 0) {
        tok_json_free(&j);
        return rc == MB_ENOMEM ? rc : tok_fail(err, errlen, MB_EPARSE, "not valid JSON");
    }
    if (!tok_json_is(&j, 0, MB_JSON_OBJECT)) {
        tok_json_free(&j);
        return tok_fail(err, errlen, MB_EPARSE, "not a tokenizer.json (not a JSON object)");
    }
    t->kind = TOK_HF;
    snprintf(t->kind_name, sizeof t->kind_name, "tokenizer.json");
    {
        size_t l;
        const char *v = tok_json_str(&j, tok_json_get(&j, 0, "version"), &l);
        if (v && strcmp(v, "1.0") != 0)
            rc = tok_fail(err, errlen, MB_EINVAL, "tokenizer.json version \"%.20s\" is not supported", v);
    }
    if (rc == 0)
        rc = load_model(t, &j, tok_json_get(&j, 0, "model"));
    if (rc == 0)
        rc = tok_load_normalizer(t, &j, tok_json_get(&j, 0, "normalizer"), err, errlen);
    if (rc == 0)
        rc = tok_load_pretokenizer(t, &j, tok_json_get(&j, 0, "pre_tokenizer"), err, errlen);
    if (rc == 0)
        rc = tok_load_post(t, &j, tok_json_get(&j, 0, "post_processor"), err, errlen);
    if (rc == 0)
        rc = tok_load_decoder(t, &j, tok_json_get(&j, 0, "decoder"), err, errlen);
    if (rc == 0)
        rc = load_added(t, &j, tok_json_get(&j, 0, "added_tokens"));
    if (rc == 0)
        rc = setup_byte_level(t);
    tok_json_free(&j);
    return rc;
}

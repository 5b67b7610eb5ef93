/* tok_encode.c: loading (format detection), the encoder state and the
 * encode pipeline:
 *   added tokens in the raw text -> normalizer -> added tokens in the
 *   normalized text -> pre-tokenizer stages -> BPE -> post-processor
 * (tiktoken: special tokens when allowed -> pattern -> byte-pair merge). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

void tok_components_free(mb_tok *t)
{
    for (size_t i = 0; i < t->nnorm; i++) {
        free(t->norm[i].a);
        free(t->norm[i].b);
        tok_re_free(t->norm[i].re);
    }
    for (size_t i = 0; i < t->npre; i++)
        tok_re_free(t->pre[i].re);
    for (size_t i = 0; i < t->ndec; i++) {
        free(t->dec[i].a);
        free(t->dec[i].b);
        tok_re_free(t->dec[i].re);
    }
    free(t->norm);
    free(t->pre);
    free(t->dec);
    free(t->post.before.p);
    free(t->post.after.p);
}

void mb_tok_free(mb_tok *t)
{
    if (!t)
        return;
    tok_components_free(t);
    tok_strtab_free(&t->vocab);
    tok_strtab_free(&t->specials);
    tok_pairmap_free(&t->merges);
    tok_added_free(&t->added);
    tok_trie_free(&t->special_trie);
    tok_re_free(t->pattern);
    free(t->prefix);
    free(t->suffix);
    free(t);
}

/* Whether key appears in the first 4 KiB (where the tiktoken JSON's keys
 * are; a tokenizer.json has neither). */
static int has(const char *s, size_t n, const char *key)
{
    size_t kl = strlen(key);
    if (n > 4096)
        n = 4096;
    for (size_t i = 0; i + kl <= n; i++)
        if (s[i] == key[0] && memcmp(s + i, key, kl) == 0)
            return 1;
    return 0;
}

int mb_tok_load_mem(const char *data, size_t n, const char *name, mb_tok **out, char *err,
                    size_t errlen)
{
    mb_tok *t = calloc(1, sizeof *t);
    size_t i = 0;
    int rc;
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    *out = NULL;
    if (!t)
        return MB_ENOMEM;
    t->unk_id = -1;
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = t->fallback_id[b] = -1;
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        i = 3;      /* a byte order mark */
    while (i < n && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
        i++;
    if (i < n && data[i] == '{' && (has(data, n, "\"pat_str\"") || has(data, n, "\"bpe_ranks\"")))
        rc = tok_load_tiktoken(t, data + i, n - i, name, err, errlen);
    else if (i < n && (data[i] == '{' || data[i] == '['))
        rc = tok_load_hf(t, data + i, n - i, err, errlen);
    else
        rc = tok_load_tiktoken(t, data + i, n - i, name, err, errlen);
    if (rc < 0) {
        if (!err[0])
            tok_fail(err, errlen, rc, "%s", mb_strerror(rc));
        mb_tok_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int mb_tok_load_file(const char *path, mb_tok **out, char *err, size_t errlen)
{
    char full[4096];
    struct stat st;
    FILE *f;
    char *buf;
    long sz;
    int rc;
    *out = NULL;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(full, sizeof full, "%s/tokenizer.json", path);
        path = full;
    }
    f = fopen(path, "rb");
    if (!f)
        return tok_fail(err, errlen, MB_EIO, "cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tok_fail(err, errlen, MB_EIO, "cannot read %s", path);
    }
    buf = malloc((size_t)sz + 1);
    if (!buf) {
        fclose(f);
        return MB_ENOMEM;
    }
    if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(buf);
        return tok_fail(err, errlen, MB_EIO, "cannot read %s", path);
    }
    fclose(f);
    buf[sz] = 0;
    const char *base = strrchr(path, '/');
    rc = mb_tok_load_mem(buf, (size_t)sz, base ? base + 1 : path, out, err, errlen);
    free(buf);
    return rc;
}

const char *mb_tok_kind(const mb_tok *t)
{
    return t->kind_name;
}

size_t mb_tok_vocab_size(const mb_tok *t)
{
    if (t->kind == TOK_TIKTOKEN) {
        uint32_t n = t->vocab.nid;
        return t->specials.nid > n ? t->specials.nid : n;
    }
    size_t overlap = 0;
    for (uint32_t e = 0; t->added.map.slots && e <= t->added.map.mask; e++) {
        const tok_strent *en = &t->added.map.slots[e];
        if (!en->tag)
            continue;
        if (tok_strtab_find(&t->vocab, t->added.map.arena + en->off, en->len) >= 0)
            overlap++;
    }
    return t->model_size + t->added.map.count - overlap;
}

int64_t mb_tok_token_id(const mb_tok *t, const char *s, size_t n)
{
    int64_t id = tok_strtab_find(t->kind == TOK_TIKTOKEN ? &t->specials : &t->added.map, s, n);
    return id >= 0 ? id : tok_strtab_find(&t->vocab, s, n);
}

mb_tok_enc *mb_tok_enc_new(const mb_tok *t)
{
    mb_tok_enc *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->t = t;
    if (tok_match_init(&e->m) < 0 || tok_cache_init(e) < 0) {
        mb_tok_enc_free(e);
        return NULL;
    }
    return e;
}

void mb_tok_enc_free(mb_tok_enc *e)
{
    if (!e)
        return;
    tok_match_free(&e->m);
    free(e->out.p);
    free(e->text.p);
    free(e->norm.p);
    free(e->norm2.p);
    free(e->seg.p);
    free(e->seg2.p);
    for (int k = 0; k < TOK_MAX_STAGES; k++) {
        free(e->sbuf[k].p);
        free(e->mbuf[k].p);
        free(e->ssp[k].p);
    }
    free(e->word.p);
    free(e->sym);
    free(e->heap);
    free(e->cache);
    free(e->cache_keys.p);
    free(e->cache_ids.p);
    free(e);
}

/* tiktoken: special tokens (when allowed) split the text; each part is
 * cut by the pattern and every piece merged. */
static int encode_tiktoken(mb_tok_enc *e, const char *s, size_t n, int allow_special)
{
    const mb_tok *t = e->t;
    size_t start = 0;
    while (start <= n) {
        size_t end = n, mlen = 0;
        int32_t sid = -1;
        if (allow_special && t->special_trie.nnodes) {
            for (size_t i = start; i < n; i++) {
                if (t->special_trie.root[(unsigned char)s[i]] < 0)
                    continue;
                sid = tok_trie_longest(&t->special_trie, s + i, n - i, &mlen);
                if (sid >= 0) {
                    end = i;
                    break;
                }
            }
        }
        if (end > start) {
            e->seg.len = 0;
            int rc = tok_re_find_all(t->pattern, &e->m, s + start, end - start, &e->seg);
            for (size_t k = 0; rc == 0 && k < e->seg.len; k++)
                if (e->seg.p[k].id)
                    rc = tok_bpe_piece(e, s + start + e->seg.p[k].s, e->seg.p[k].e - e->seg.p[k].s);
            if (rc < 0)
                return rc;
        }
        if (sid < 0)
            break;
        if (tok_ids_push(&e->out, (uint32_t)sid) < 0)
            return MB_ENOMEM;
        start = end + mlen;
    }
    return 0;
}

static int encode_hf(mb_tok_enc *e, const char *s, size_t n)
{
    const mb_tok *t = e->t;
    int rc;
    e->seg.len = 0;
    rc = tok_added_split(t, 0, s, n, &e->seg);
    for (size_t i = 0; rc == 0 && i < e->seg.len; i++) {
        tok_span x = e->seg.p[i];
        if (x.id >= 0) {
            rc = tok_ids_push(&e->out, (uint32_t)x.id);
            continue;
        }
        if (x.e == x.s)
            continue;
        rc = tok_normalize(t, e, s + x.s, x.e - x.s, &e->norm);
        if (rc < 0 || e->norm.len == 0)
            continue;
        e->seg2.len = 0;
        rc = tok_added_split(t, 1, e->norm.p, e->norm.len, &e->seg2);
        for (size_t k = 0; rc == 0 && k < e->seg2.len; k++) {
            tok_span y = e->seg2.p[k];
            if (y.id >= 0)
                rc = tok_ids_push(&e->out, (uint32_t)y.id);
            else if (y.e > y.s)
                rc = tok_pretok_run(e, 0, e->norm.p + y.s, y.e - y.s, x.s == 0 && y.s == 0);
        }
    }
    return rc;
}

int mb_tok_encode(mb_tok_enc *e, const char *text, size_t n, int add_special, const uint32_t **ids,
                  size_t *nids)
{
    const mb_tok *t = e->t;
    int rc;
    e->out.len = 0;
    *ids = NULL;
    *nids = 0;
    if (tok_utf8_valid(text, n) != n) {
        e->text.len = 0;
        if (tok_utf8_lossy(&e->text, text, n) < 0)
            return MB_ENOMEM;
        text = e->text.p;
        n = e->text.len;
    }
    if (t->kind == TOK_TIKTOKEN) {
        rc = encode_tiktoken(e, text, n, add_special);
    } else {
        size_t nb = add_special ? t->post.before.len : 0;
        for (size_t k = 0; k < nb; k++)
            if (tok_ids_push(&e->out, t->post.before.p[k]) < 0)
                return MB_ENOMEM;
        rc = encode_hf(e, text, n);
        for (size_t k = 0; rc == 0 && add_special && k < t->post.after.len; k++)
            rc = tok_ids_push(&e->out, t->post.after.p[k]);
    }
    if (rc < 0)
        return rc;
    if (!e->out.p && tok_ids_push(&e->out, 0) == 0)
        e->out.len = 0;
    *ids = e->out.p;
    *nids = e->out.len;
    return 0;
}

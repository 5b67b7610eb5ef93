/* mock_tokens.c: the emulator with a real tokenizer, when its profile
 * names one ("tokenizer": a tokenizer.json or .tiktoken file), so emulated
 * usage is what the model's server would report: prompt_tokens is the
 * tokenizer's count of the prompt text (the contents joined by newlines,
 * the rule the client uses), and the answer is made of that tokenizer's
 * tokens -- each emitted token one of its tokens, so completion_tokens
 * (the tokens emitted, never more than max_tokens) is what a client
 * re-tokenizing the stream finds. Without one: the 4-characters rule and
 * one token per emitted word. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

int mk_tokenizer_set(mb_mock *m, const char *path, char *err, size_t errlen)
{
    char e2[MB_TOK_ERRLEN];
    mb_tok *t = NULL;
    mb_tok_enc *e = NULL;
    int rc = mb_tok_load_file(path, &t, e2, sizeof e2);
    if (rc < 0) {
        snprintf(err, errlen, "'tokenizer': %s", e2);
        return MB_EINVAL;
    }
    if (!(e = mb_tok_enc_new(t))) {
        mb_tok_free(t);
        return MB_ENOMEM;
    }
    mk_tokenizer_free(m);
    m->tokenizer = t;
    m->tok_enc = e;
    return 0;
}

void mk_tokenizer_free(mb_mock *m)
{
    mb_tok_enc_free(m->tok_enc);
    mb_tok_free(m->tokenizer);
    m->tok_enc = NULL;
    m->tokenizer = NULL;
}

uint64_t mk_count(mb_mock *m, const char *s, size_t n)
{
    const uint32_t *ids;
    size_t k = 0;
    if (!m->tok_enc || n == 0 || mb_tok_encode(m->tok_enc, s, n, 0, &ids, &k) < 0)
        return 0;
    return k;
}

/* One side (content or reasoning) of an answer of `need` tokens: words
 * from the request's generator until the tokenizer makes at least `need`
 * tokens of them, cut to `need`, and each token's piece of the decoded
 * text found by decoding it after its predecessor (a decoder may treat the
 * first token apart, e.g. Metaspace's leading space). The concatenated
 * pieces are the decode of the `need` ids; ASCII text, so no piece splits a
 * character. */
static int toktext_build(mb_mock *m, mb_mock_textgen *g, uint64_t need, mk_toktext *tt)
{
    mb_buf words = {0};
    char w[MB_MOCK_TOKEN_MAX];
    const uint32_t *ids = NULL;
    size_t k = 0;
    uint32_t *keep = NULL;
    int rc = MB_ENOMEM;
    memset(tt, 0, sizeof *tt);
    if (need == 0)
        return 0;
    for (uint64_t want = need; k < need; want = need - k) {
        for (uint64_t i = 0; i < want; i++) {
            size_t n = mb_mock_text_token(g, w);
            if (mb_buf_add(&words, w, n) < 0)
                goto out;
        }
        if (mb_tok_encode(m->tok_enc, words.p, words.len, 0, &ids, &k) < 0)
            goto out;
    }
    if (!(keep = malloc(need * sizeof *keep)) || !(tt->off = malloc((need + 1) * sizeof *tt->off)))
        goto out;
    memcpy(keep, ids, need * sizeof *keep);
    mb_buf text = {0};
    for (uint64_t i = 0; i < need; i++) {
        char *a = NULL, *ab = NULL;
        size_t na = 0, nab = 0;
        int bad = i ? mb_tok_decode(m->tokenizer, keep + i - 1, 1, 0, &a, &na) : 0;
        bad = bad || mb_tok_decode(m->tokenizer, keep + (i ? i - 1 : 0), i ? 2 : 1, 0, &ab, &nab);
        const char *piece = ab;
        size_t np = nab;
        if (!bad && i) {
            assert(nab >= na && memcmp(ab, a, na) == 0);
            piece = ab + na;
            np = nab - na;
        }
        tt->off[i] = text.len;
        if (bad || mb_buf_add(&text, piece, np) < 0) {
            free(a);
            free(ab);
            mb_buf_free(&text);
            goto out;
        }
        free(a);
        free(ab);
    }
    tt->off[need] = text.len;
    if (mb_buf_add(&text, "", 1) < 0) {   /* a NUL: text.p is never NULL */
        mb_buf_free(&text);
        goto out;
    }
    tt->text = text.p;
    tt->n = need;
    rc = 0;
out:
    free(keep);
    mb_buf_free(&words);
    if (rc < 0) {
        free(tt->off);
        memset(tt, 0, sizeof *tt);
    }
    return rc;
}

int mk_tok_prepare(mk_req *r)
{
    if (!r->m->tok_enc)
        return 0;
    int rc = toktext_build(r->m, &r->text, r->total - r->reasoning, &r->tt[0]);
    if (rc == 0)
        rc = toktext_build(r->m, &r->rtext, r->reasoning, &r->tt[1]);
    return rc;
}

void mk_tok_free(mk_req *r)
{
    for (int i = 0; i < 2; i++) {
        free(r->tt[i].text);
        free(r->tt[i].off);
        memset(&r->tt[i], 0, sizeof r->tt[i]);
    }
}

size_t mk_next_token(mk_req *r, int reasoning, char *tmp, const char **s)
{
    mk_toktext *tt = &r->tt[reasoning ? 1 : 0];
    size_t n;
    if (!tt->text) {
        *s = tmp;
        n = mb_mock_text_token(reasoning ? &r->rtext : &r->text, tmp);
    } else {
        assert(tt->next < tt->n);
        uint64_t i = tt->next++;
        *s = tt->text + tt->off[i];
        n = tt->off[i + 1] - tt->off[i];
    }
    if (r->m->cache && !reasoning)
        mb_buf_add(&r->gen, *s, n);   /* the answer, cached with its prompt when done */
    return n;
}

/* Usage: the tokens emitted, a real server's count (with a tokenizer they
 * are that tokenizer's tokens). */
uint64_t mk_usage_out(mk_req *r)
{
    return r->emitted;
}

uint64_t mk_usage_reasoning(mk_req *r)
{
    return r->emitted < r->reasoning ? r->emitted : r->reasoning;
}

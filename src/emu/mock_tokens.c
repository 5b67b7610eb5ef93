/* mock_tokens.c: the emulator's counts with a real tokenizer, when its
 * profile names one ("tokenizer": a tokenizer.json or .tiktoken file), so
 * emulated usage is what the model's server would report: prompt_tokens
 * the tokenizer's count of the prompt text (the contents joined by
 * newlines, the rule the client uses), completion_tokens its count of
 * everything emitted (content and reasoning). Without one: the 4-characters
 * rule and one token per emitted word, as before. */
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

/* Keeps an emitted piece of text for the usage count (tokenizer only). */
void mk_keep_text(mk_req *r, const char *s, size_t n, int reasoning)
{
    if (r->m->tokenizer)
        mb_buf_add(reasoning ? &r->rgen : &r->gen, s, n);
}

uint64_t mk_usage_out(mk_req *r)
{
    if (!r->m->tokenizer)
        return r->emitted;
    return mk_count(r->m, r->gen.p, r->gen.len) + mk_count(r->m, r->rgen.p, r->rgen.len);
}

uint64_t mk_usage_reasoning(mk_req *r)
{
    if (!r->m->tokenizer)
        return r->emitted < r->reasoning ? r->emitted : r->reasoning;
    return mk_count(r->m, r->rgen.p, r->rgen.len);
}

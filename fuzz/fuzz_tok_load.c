/* fuzz_tok_load.c: the tokenizer loader (src/tok) on arbitrary files --
 * tokenizer.json, tiktoken rank files and the tiktoken JSON form, chosen by
 * the content as mb_tok_load_mem chooses.
 *
 * A load either fails with a one-line reason, or gives a tokenizer that
 * encodes (fixed texts and the input itself, with and without special
 * tokens) into ids it can decode; encoding the same text twice (the second
 * time from the word cache) gives the same ids as a fresh encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/tok.h"

static const char *texts[] = {"Hello world", " \t\n 12345 <s></s> ", "日本語 ☃ 👍🏽 \xC0 e\xCC\x81", ""};

static void encode_checked(const mb_tok *t, mb_tok_enc *e, const char *s, size_t n, int special)
{
    const uint32_t *ids;
    size_t nids;
    if (mb_tok_encode(e, s, n, special, &ids, &nids) < 0)
        return;
    uint32_t *copy = malloc((nids ? nids : 1) * sizeof *copy);
    if (!copy)
        return;
    memcpy(copy, ids, nids * sizeof *ids);
    /* again, now from the word cache, then with a fresh encoder */
    if (mb_tok_encode(e, s, n, special, &ids, &nids) < 0)
        abort();
    mb_tok_enc *fresh = mb_tok_enc_new(t);
    const uint32_t *f;
    size_t nf;
    if (fresh && mb_tok_encode(fresh, s, n, special, &f, &nf) == 0) {
        if (nf != nids || memcmp(f, ids, nf * sizeof *f) != 0 ||
            memcmp(f, copy, nf * sizeof *f) != 0)
            abort();    /* the cache changed a result */
    }
    mb_tok_enc_free(fresh);
    char *out;
    size_t len;
    if (mb_tok_decode(t, copy, nids, 0, &out, &len) == 0) {
        if (strlen(out) > len)
            abort();
        free(out);
    }
    if (mb_tok_decode(t, copy, nids, 1, &out, &len) == 0)
        free(out);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[MB_TOK_ERRLEN];
    mb_tok *t = NULL;
    int rc = mb_tok_load_mem((const char *)data, size, "fuzz.tiktoken", &t, err, sizeof err);
    if (rc < 0) {
        if (t || !err[0] || memchr(err, '\n', strlen(err)))
            abort();    /* a refusal is one line, and loads nothing */
        return 0;
    }
    mb_tok_enc *e = mb_tok_enc_new(t);
    if (e) {
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
            for (int sp = 0; sp < 2; sp++)
                encode_checked(t, e, texts[i], strlen(texts[i]), sp);
        encode_checked(t, e, (const char *)data, size < 4096 ? size : 4096, 1);
    }
    (void)mb_tok_vocab_size(t);
    (void)mb_tok_token_id(t, "a", 1);
    mb_tok_enc_free(e);
    mb_tok_free(t);
    return 0;
}

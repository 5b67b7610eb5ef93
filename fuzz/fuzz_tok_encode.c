/* fuzz_tok_encode.c: the encoder and decoder (src/tok) on arbitrary text,
 * through every hand-made tokenizer of tests/fixtures/tok (one per group of
 * components: added tokens, normalizers, pre-tokenizers, byte fallback,
 * unknown tokens, suffixes) and a byte-level tiktoken-style rank file.
 * The first input byte picks the tokenizer and options.
 *
 * Invariants: encoding never fails on any bytes (invalid UTF-8 is read as
 * U+FFFD); the word cache never changes a result (the long-lived encoder,
 * warm from earlier inputs, a fresh one and the fresh one again agree);
 * every id decodes, with and without special tokens. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/tok.h"

#ifndef MB_TOK_FIXTURES
#error "MB_TOK_FIXTURES must name tests/fixtures/tok"
#endif

static mb_tok *toks[32];
static mb_tok_enc *encs[32];
static size_t ntoks;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    DIR *d = opendir(MB_TOK_FIXTURES);
    struct dirent *de;
    if (!d)
        abort();
    while ((de = readdir(d)) != NULL && ntoks < 31) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        char path[1024], err[MB_TOK_ERRLEN];
        snprintf(path, sizeof path, "%s/%s", MB_TOK_FIXTURES, de->d_name);
        if (mb_tok_load_file(path, &toks[ntoks], err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", path, err);
            abort();
        }
        encs[ntoks] = mb_tok_enc_new(toks[ntoks]);
        ntoks++;
    }
    closedir(d);
    /* a tiktoken rank file: every byte, and some pairs */
    static char ranks[8192];
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    for (int b = 0; b < 256; b++)
        n += (size_t)snprintf(ranks + n, sizeof ranks - n, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    n += (size_t)snprintf(ranks + n, sizeof ranks - n, "YWI= 256\nYWJj 257\nIGE= 258\nICA= 259\nMTI= 260\n");
    char err[MB_TOK_ERRLEN];
    if (mb_tok_load_mem(ranks, n, "cl100k_base.tiktoken", &toks[ntoks], err, sizeof err) < 0)
        abort();
    encs[ntoks] = mb_tok_enc_new(toks[ntoks]);
    ntoks++;
    return 0;
}

static size_t encode(mb_tok_enc *e, const char *s, size_t n, int sp, uint32_t **out)
{
    const uint32_t *ids;
    size_t k;
    if (mb_tok_encode(e, s, n, sp, &ids, &k) < 0)
        abort();
    *out = malloc((k + 1) * sizeof **out);
    if (!*out)
        abort();
    memcpy(*out, ids, k * sizeof *ids);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || ntoks == 0)
        return 0;
    size_t which = data[0] % ntoks;
    int sp = (data[0] / 32) & 1;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    mb_tok *t = toks[which];
    uint32_t *warm, *cold;
    size_t nw = encode(encs[which], s, n, sp, &warm);
    mb_tok_enc *fresh = mb_tok_enc_new(t);
    if (!fresh)
        abort();
    size_t nc = encode(fresh, s, n, sp, &cold);
    if (nw != nc || memcmp(warm, cold, nw * sizeof *warm) != 0)
        abort();
    free(cold);
    nc = encode(fresh, s, n, sp, &cold);   /* now from the fresh one's cache */
    if (nw != nc || memcmp(warm, cold, nw * sizeof *warm) != 0)
        abort();
    mb_tok_enc_free(fresh);
    char *out;
    size_t len;
    for (int skip = 0; skip < 2; skip++) {
        if (mb_tok_decode(t, warm, nw, skip, &out, &len) < 0)
            abort();
        if (out[len] != 0)
            abort();
        free(out);
    }
    free(warm);
    free(cold);
    return 0;
}

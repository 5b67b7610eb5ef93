/* test_tok.c: the tokenizer's components on the small hand-made files of
 * tests/fixtures/tok (one per group of components), with ids Hugging
 * Face's tokenizers 0.23.2 gives for the same inputs; refusals of what is
 * not supported, by name; tiktoken rank files. */
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/tok.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static mb_tok *load_fixture(const char *name)
{
    char path[512], err[MB_TOK_ERRLEN];
    mb_tok *t = NULL;
    const char *src = getenv("MB_SRC");
    snprintf(path, sizeof path, "%s/tests/fixtures/tok/%s", src ? src : ".", name);
    int rc = mb_tok_load_file(path, &t, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", name, err);
    return t;
}

/* Encodes text and compares with the expected ids. */
static void expect_ids(mb_tok_enc *e, const char *text, int special, const uint32_t *want, size_t nw)
{
    const uint32_t *ids;
    size_t n;
    int rc = mb_tok_encode(e, text, strlen(text), special, &ids, &n);
    CHECK_EQ_INT(rc, 0);
    int same = n == nw;
    for (size_t i = 0; same && i < n; i++)
        same = ids[i] == want[i];
    if (!same) {
        fprintf(stderr, "  \"%s\" (special %d): got", text, special);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %u", ids[i]);
        fputc('\n', stderr);
    }
    CHECK_MSG(same, "ids of \"%s\"", text);
}

static void expect_decode(const mb_tok *t, const uint32_t *ids, size_t n, int skip, const char *want)
{
    char *out;
    size_t len;
    CHECK_EQ_INT(mb_tok_decode(t, ids, n, skip, &out, &len), 0);
    CHECK_STR(out, want);
    CHECK_EQ_INT(len, strlen(want));
    free(out);
}

#define IDS(...) ((const uint32_t[]){__VA_ARGS__}), N(((const uint32_t[]){__VA_ARGS__}))

/* Added tokens: lstrip, rstrip, single_word, normalized; RobertaProcessing. */
static void test_roberta(void)
{
    mb_tok *t = load_fixture("bl_roberta.json");
    mb_tok_enc *e = mb_tok_enc_new(t);
    expect_ids(e, "<mask> hello world<rs>   x", 1, IDS(468, 470, 32, 340, 348, 471, 32, 120, 469));
    expect_ids(e, "<mask> hello world<rs>   x", 0, IDS(470, 32, 340, 348, 471, 32, 120));
    expect_ids(e, "say hello!", 0, IDS(331, 97, 121, 32, 340, 32, 33));
    expect_ids(e, "sayhello there", 0, IDS(331, 97, 121, 340, 32, 257, 367));
    expect_ids(e, "a [NL] b", 0, IDS(263, 32, 472, 32, 98));
    expect_ids(e, "x <both>  y", 0, IDS(32, 120, 473, 295));
    expect_ids(e, "  <mask>", 1, IDS(468, 470, 469));
    expect_ids(e, "hello<mask>world", 0, IDS(340, 470, 348));
    expect_ids(e, "", 1, IDS(468, 469));
    expect_decode(t, IDS(468, 470, 32, 340, 348, 471, 32, 120, 469), 0, "<s><mask> helloworld<rs> x</s>");
    expect_decode(t, IDS(468, 470, 32, 340, 348, 471, 32, 120, 469), 1, " helloworld x");
    CHECK_EQ_INT(mb_tok_token_id(t, "<mask>", 6), 470);
    CHECK_EQ_INT(mb_tok_token_id(t, "Ġthe", 5), mb_tok_token_id(t, "\xC4\xA0the", 5));
    CHECK_EQ_INT(mb_tok_token_id(t, "nope-not-a-token", 16), -1);
    CHECK_EQ_INT(mb_tok_vocab_size(t), 474);
    CHECK_STR(mb_tok_kind(t), "tokenizer.json");
    mb_tok_enc_free(e);
    mb_tok_free(t);
}

/* Metaspace (prepend first), byte fallback, TemplateProcessing <s> A </s>. */
static void test_spm(void)
{
    mb_tok *t = load_fixture("spm_metaspace.json");
    mb_tok_enc *e = mb_tok_enc_new(t);
    expect_ids(e, "Hello world", 1, IDS(1, 498, 419, 2));
    expect_ids(e, " leading", 0, IDS(462, 260, 263, 341));
    expect_ids(e, "日本 ok", 0, IDS(259, 233, 154, 168, 233, 159, 175, 441, 270));
    expect_ids(e, "the end</s>", 1, IDS(1, 329, 430, 263, 2, 2));
    expect_decode(t, IDS(1, 259, 233, 154, 168, 233, 159, 175, 441, 270, 2), 0, "<s> 日本 ok</s>");
    expect_decode(t, IDS(1, 259, 233, 154, 168, 233, 159, 175, 441, 270, 2), 1, "日本 ok");
    /* a lone continuation byte decodes as U+FFFD, one per byte */
    expect_decode(t, IDS(154, 168), 1, "\xEF\xBF\xBD\xEF\xBF\xBD");
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("spm_unk.json");
    e = mb_tok_enc_new(t);
    /* no byte fallback: unknown characters fuse into one <unk> */
    expect_ids(e, "a日本b cd", 1, IDS(1, 76, 0, 5, 3, 6, 7));
    expect_ids(e, "hello 世界!", 0, IDS(155, 3, 0, 68));
    expect_decode(t, IDS(1, 155, 3, 0, 68), 0, "<s> hello <unk>!");
    expect_decode(t, IDS(1, 155, 3, 0, 68), 1, "hello !");
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("spm_nosplit.json");
    e = mb_tok_enc_new(t);
    expect_ids(e, "a b", 0, IDS(332, 259, 261));
    expect_ids(e, " c", 0, IDS(259, 262));
    expect_decode(t, IDS(259, 262), 0, "c");
    mb_tok_enc_free(e);
    mb_tok_free(t);
}

/* continuing_subword_prefix, end_of_word_suffix, BPEDecoder, Lowercase. */
static void test_suffix(void)
{
    mb_tok *t = load_fixture("bpe_suffix.json");
    mb_tok_enc *e = mb_tok_enc_new(t);
    expect_ids(e, "The cat and the dog", 0, IDS(167, 9, 3, 80, 170, 167, 13, 59, 28));
    expect_ids(e, "xyz@q", 0, IDS(93, 99, 103, 0, 68));
    expect_decode(t, IDS(167, 9, 3, 80, 170, 167, 13, 59, 28), 0, "the c##a##t and the d##o##g");
    mb_tok_enc_free(e);
    mb_tok_free(t);
}

/* Pre-tokenizers and normalizers. */
static void test_pipelines(void)
{
    mb_tok *t = load_fixture("bl_pretok.json");
    mb_tok_enc *e = mb_tok_enc_new(t);
    expect_ids(e, "Hello World 123, qq!", 1,
               IDS(468, 459, 108, 108, 111, 32, 87, 111, 114, 108, 100, 32, 49, 50, 51, 44, 32, 33, 469));
    expect_ids(e, "AbcDef...ghi", 0, IDS(65, 98, 99, 68, 101, 102, 46, 46, 46, 103, 104, 105));
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("bl_norm_nfd.json");
    e = mb_tok_enc_new(t);
    /* NFD, StripAccents, Lowercase, Strip, Replace; "Yesterday" matched
     * by its normalized form */
    expect_ids(e, "  Café  YESTERDAY  ", 0, IDS(99, 97, 102, 101, 32, 468));
    expect_ids(e, "naïve<SEP>Ü", 0, IDS(110, 97, 105, 400, 469, 117));
    expect_decode(t, IDS(110, 97, 105, 400, 469, 117), 1, "naiveu");
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("bl_norm_nfkc.json");
    e = mb_tok_enc_new(t);
    expect_ids(e, "ＡＢ ﬁ ①", 1, IDS(468, 469, 226, 150, 129, 102, 105, 226, 150, 129, 49));
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("bl_whitespace.json");
    e = mb_tok_enc_new(t);
    expect_ids(e, "axb  c1 23", 0, IDS(97, 98, 99, 49, 50, 51));
    expect_ids(e, "foo.bar", 0, IDS(288, 111, 46, 98, 387));
    mb_tok_enc_free(e);
    mb_tok_free(t);

    t = load_fixture("bl_wssplit.json");
    e = mb_tok_enc_new(t);
    expect_ids(e, "a  b,c", 0, IDS(263, 32, 98, 32, 44, 32, 99));
    mb_tok_enc_free(e);
    mb_tok_free(t);
}

/* Invalid UTF-8 is read as U+FFFD (lossy), never an error. */
static void test_invalid_utf8(void)
{
    mb_tok *t = load_fixture("bl_wssplit.json");
    mb_tok_enc *e = mb_tok_enc_new(t);
    const uint32_t *a, *b;
    size_t na, nb;
    CHECK_EQ_INT(mb_tok_encode(e, "x\xC0y", 3, 0, &a, &na), 0);
    uint32_t *keep = malloc(na * sizeof *keep);
    memcpy(keep, a, na * sizeof *keep);
    CHECK_EQ_INT(mb_tok_encode(e, "x\xEF\xBF\xBDy", 5, 0, &b, &nb), 0);
    CHECK_EQ_INT(na, nb);
    CHECK(na == nb && memcmp(keep, b, na * sizeof *b) == 0);
    free(keep);
    mb_tok_enc_free(e);
    mb_tok_free(t);
}

/* Loads a document from memory; returns the code, the message in err. */
static int load_str(const char *json, char *err)
{
    mb_tok *t = NULL;
    int rc = mb_tok_load_mem(json, strlen(json), "inline.json", &t, err, MB_TOK_ERRLEN);
    mb_tok_free(t);
    return rc;
}

#define MODEL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}"

/* What is not supported is refused at load, naming the component. */
static void test_refusals(void)
{
    static const struct { const char *json; int code; const char *says; } cases[] = {
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", MB_EINVAL, "model \"Unigram\""},
        {"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", MB_EINVAL, "model \"WordPiece\""},
        {"{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}, " MODEL "}",
         MB_EINVAL, "normalizer \"Precompiled\""},
        {"{\"normalizer\": {\"type\": \"BertNormalizer\"}, " MODEL "}", MB_EINVAL, "normalizer \"BertNormalizer\""},
        {"{\"pre_tokenizer\": {\"type\": \"UnicodeScripts\"}, " MODEL "}", MB_EINVAL,
         "pre_tokenizer \"UnicodeScripts\""},
        {"{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"BertPreTokenizer\"}]}, "
         MODEL "}", MB_EINVAL, "pre_tokenizer \"BertPreTokenizer\""},
        {"{\"decoder\": {\"type\": \"WordPiece\", \"prefix\": \"##\"}, " MODEL "}", MB_EINVAL, "decoder \"WordPiece\""},
        {"{\"decoder\": {\"type\": \"CTC\"}, " MODEL "}", MB_EINVAL, "decoder \"CTC\""},
        {"{\"post_processor\": {\"type\": \"Whatever\"}, " MODEL "}", MB_EINVAL, "post_processor \"Whatever\""},
        {"{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {\"a\": 0}, \"merges\": []}}", MB_EINVAL,
         "dropout"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}}", MB_EPARSE,
         "\"ab\" is not in the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c\"]}}", MB_EPARSE,
         "is not \"a b\""},
        {"{\"version\": \"2.0\", " MODEL "}", MB_EINVAL, "version \"2.0\""},
        {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\bx\"}, \"behavior\": "
         "\"Isolated\", \"invert\": false}, " MODEL "}", MB_EINVAL, "\\b is not supported"},
        {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[[:alpha:]]\"}, \"behavior\": "
         "\"Isolated\", \"invert\": false}, " MODEL "}", MB_EINVAL, "POSIX"},
        {"{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \"\"}, \"behavior\": "
         "\"Isolated\", \"invert\": false}, " MODEL "}", MB_EINVAL, "empty pattern"},
        {"{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"_\", \"add_prefix_space\": false}, "
         MODEL "}", MB_EPARSE, "add_prefix_space does not match"},
        {"{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [\"$B\"], \"pair\": [], "
         "\"special_tokens\": {}}, " MODEL "}", MB_EINVAL, "one $A"},
        {"{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
         MB_EINVAL, "unk_token"},
        {"[1, 2, 3]", MB_EPARSE, "not a JSON object"},
        {"{\"model\": ", MB_EPARSE, "not valid JSON"},
    };
    char err[MB_TOK_ERRLEN];
    for (size_t i = 0; i < N(cases); i++) {
        err[0] = 0;
        int rc = load_str(cases[i].json, err);
        CHECK_MSG(rc == cases[i].code, "case %zu: rc %d, want %d (%s)", i, rc, cases[i].code, err);
        CHECK_MSG(strstr(err, cases[i].says) != NULL, "case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].says);
    }
    /* the minimal document loads (no added tokens: found by the fuzzer);
     * a character outside the vocabulary without unk is dropped */
    mb_tok *m = NULL;
    CHECK_EQ_INT(mb_tok_load_mem("{" MODEL "}", strlen("{" MODEL "}"), NULL, &m, err, sizeof err), 0);
    if (m) {
        mb_tok_enc *e = mb_tok_enc_new(m);
        CHECK_EQ_INT(mb_tok_vocab_size(m), 3);
        expect_ids(e, "abcab", 1, IDS(2, 2));
        expect_ids(e, "c", 0, (const uint32_t[]){0}, 0);
        mb_tok_enc_free(e);
        mb_tok_free(m);
    }
    mb_tok *t = NULL;
    CHECK_EQ_INT(mb_tok_load_file("/nonexistent/tokenizer.json", &t, err, sizeof err), MB_EIO);
    CHECK(t == NULL && strstr(err, "/nonexistent") != NULL);
}

/* A .tiktoken rank file: every byte, "ab" 256, "abc" 257, " a" 258. */
static void test_tiktoken(void)
{
    char buf[16384], err[MB_TOK_ERRLEN];
    size_t n = 0;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int b = 0; b < 256; b++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%c%c== %d\n", b64[b >> 2], b64[(b & 3) << 4], b);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "YWI= 256\nYWJj 257\nIGE= 258\n");
    mb_tok *t = NULL;
    /* the encoding is named by the file: o200k's pattern and specials */
    CHECK_EQ_INT(mb_tok_load_mem(buf, n, "o200k_base.tiktoken", &t, err, sizeof err), 0);
    if (!t) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK_STR(mb_tok_kind(t), "tiktoken:o200k_base");
    mb_tok_enc *e = mb_tok_enc_new(t);
    expect_ids(e, "abc abd", 0, IDS(257, 32, 256, 100));
    expect_ids(e, "x<|endoftext|>", 1, IDS(120, 199999));
    expect_ids(e, "x<|endoftext|>", 0, IDS(120, 60, 124, 101, 110, 100, 111, 102, 116, 101, 120, 116, 124, 62));
    expect_decode(t, IDS(257, 32, 256, 100, 199999), 0, "abc abd<|endoftext|>");
    expect_decode(t, IDS(257, 199999), 1, "abc");
    expect_decode(t, IDS(0xC3), 0, "\xEF\xBF\xBD");
    CHECK_EQ_INT(mb_tok_token_id(t, "<|endofprompt|>", 15), 200018);
    CHECK_EQ_INT(mb_tok_vocab_size(t), 200019);
    mb_tok_enc_free(e);
    mb_tok_free(t);
    /* unnamed, with a count no encoding has: refused with what to do */
    CHECK_EQ_INT(mb_tok_load_mem(buf, n, "ranks.txt", &t, err, sizeof err), MB_EINVAL);
    CHECK(strstr(err, "o200k_base.tiktoken") != NULL);
    /* a broken line is named */
    CHECK_EQ_INT(mb_tok_load_mem("YWI= 1\nnot-a-line\n", 18, "o200k_base.tiktoken", &t, err, sizeof err),
                 MB_EPARSE);
    CHECK(strstr(err, "line 2") != NULL);
}

int main(void)
{
    test_roberta();
    test_spm();
    test_suffix();
    test_pipelines();
    test_invalid_utf8();
    test_refusals();
    test_tiktoken();
    TEST_MAIN_END();
}

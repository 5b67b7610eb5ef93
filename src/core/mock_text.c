/* mock_text.c: the emulated server's pure helpers for text -- hashing,
 * the prompt-token rule and the deterministic pseudo-text generator. No I/O,
 * so the engine can share the token rule and tests can pin the text. */
#include <string.h>
#include "mlxbench/mock_model.h"

/* splitmix64's output function: spreads a counter or hash over 64 bits. */
uint64_t mb_mock_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t mb_mock_hash(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Code points of UTF-8 text: every byte that is not a continuation byte
 * (10xxxxxx). Invalid sequences count byte by byte, never zero. */
uint64_t mb_mock_count_chars(const char *s, size_t len)
{
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

uint64_t mb_mock_tokens_for_chars(uint64_t chars)
{
    return (chars + 3) / 4;
}

uint64_t mb_mock_prompt_tokens(const char *text, size_t len)
{
    return mb_mock_tokens_for_chars(mb_mock_count_chars(text, len));
}

/* Short, common words: readable output, one token each, nothing to escape.
 * Lengths are stored so the per-token path has no strlen. */
#define W(s) {s, sizeof s - 1}
static const struct word { const char *s; unsigned char len; } words[] = {
    W("the"), W("model"), W("runs"), W("fast"), W("on"), W("a"), W("small"), W("machine"),
    W("and"), W("every"), W("token"), W("arrives"), W("in"), W("time"), W("we"), W("measure"),
    W("what"), W("the"), W("server"), W("sends"), W("each"), W("stream"), W("has"), W("its"),
    W("own"), W("clock"), W("light"), W("moves"), W("over"), W("quiet"), W("water"), W("while"),
    W("birds"), W("sing"), W("near"), W("old"), W("trees"), W("people"), W("walk"), W("home"),
    W("after"), W("work"), W("with"), W("bright"), W("lamps"), W("that"), W("glow"),
    W("softly"), W("at"), W("night"), W("data"), W("flows"), W("through"), W("wide"),
    W("pipes"), W("into"), W("memory"), W("where"), W("it"), W("waits"), W("for"), W("the"),
    W("next"), W("step"), W("of"), W("careful"), W("work"), W("numbers"), W("tell"), W("us"),
    W("how"), W("long"), W("things"), W("take"), W("so"), W("we"), W("can"), W("plan"),
    W("better"), W("days"), W("rain"), W("falls"), W("on"), W("green"), W("hills"), W("far"),
    W("from"), W("busy"), W("roads"), W("calm"), W("ideas"), W("grow"), W("when"), W("minds"),
    W("rest"), W("then"), W("return"), W("to"), W("simple"), W("tasks"), W("code"), W("builds"),
    W("tests"), W("pass"), W("logs"), W("show"), W("clear"), W("lines"), W("about"), W("load"),
    W("sun"), W("rises"), W("over"), W("the"), W("sea"), W("ships"), W("sail"), W("out"),
    W("with"), W("cargo"), W("every"), W("answer"), W("starts"), W("as"), W("a"), W("question"),
    W("asked"), W("well"), W("by"), W("someone"),
};
#undef W
#define NWORDS (sizeof words / sizeof words[0])

void mb_mock_text_init(mb_mock_textgen *g, uint64_t seed)
{
    mb_rng_seed(&g->rng, seed);
    g->left = 0;
}

/* Picks the next word; a new sentence starts capitalised and its last word
 * carries the period, so the text reads as sentences of 6..14 words. */
size_t mb_mock_text_token(mb_mock_textgen *g, char *out)
{
    int first = 0;
    if (g->left == 0) {
        g->left = 6 + (unsigned)(mb_rng_next(&g->rng) % 9);
        first = 1;
    }
    const struct word *w = &words[mb_rng_next(&g->rng) % NWORDS];
    size_t n = w->len;
    memcpy(out, w->s, n);
    if (first && out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
    if (--g->left == 0)
        out[n++] = '.';
    out[n++] = ' ';
    return n;
}

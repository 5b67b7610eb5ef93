/* test_mock_text: the emulated server's pure text helpers -- RNG, hash, the
 * prompt-token rule and the pseudo-text generator (deterministic, readable,
 * one word + space per token, nothing to escape). */
#include <ctype.h>
#include "mb_test.h"
#include "mlxbench/mock_model.h"

static void test_rng(void)
{
    mb_rng a, b, c;
    mb_rng_seed(&a, 42);
    mb_rng_seed(&b, 42);
    mb_rng_seed(&c, 43);
    int same = 1, differ = 0;
    double sum = 0, lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = mb_rng_next(&a), y = mb_rng_next(&b), z = mb_rng_next(&c);
        same &= x == y;
        differ += x != z;
        double u = mb_rng_uniform(&a);
        mb_rng_uniform(&b);
        mb_rng_uniform(&c);
        sum += u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    CHECK(same);
    CHECK(differ > 99990);
    CHECK_NEAR(sum / 100000, 0.5, 0.01);
    CHECK(lo >= 0 && lo < 0.001);
    CHECK(hi < 1 && hi > 0.999);
    /* seed 0 is a normal seed */
    mb_rng_seed(&a, 0);
    CHECK(mb_rng_next(&a) != 0);
}

static void test_hash(void)
{
    CHECK(mb_mock_hash(MB_MOCK_HASH_INIT, "", 0) == MB_MOCK_HASH_INIT);
    /* FNV-1a 64 of "a" */
    CHECK(mb_mock_hash(MB_MOCK_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
    CHECK(mb_mock_hash(MB_MOCK_HASH_INIT, "ab", 2) ==
          mb_mock_hash(mb_mock_hash(MB_MOCK_HASH_INIT, "a", 1), "b", 1));
    CHECK(mb_mock_mix(1) != mb_mock_mix(2));
}

static void test_token_rule(void)
{
    CHECK_EQ_INT(mb_mock_prompt_tokens("", 0), 0);
    CHECK_EQ_INT(mb_mock_prompt_tokens("a", 1), 1);
    CHECK_EQ_INT(mb_mock_prompt_tokens("abcd", 4), 1);
    CHECK_EQ_INT(mb_mock_prompt_tokens("abcde", 5), 2);
    CHECK_EQ_INT(mb_mock_prompt_tokens("hello there", 11), 3);
    /* characters are code points: "héllo" is 5 chars in 6 bytes */
    CHECK_EQ_INT(mb_mock_count_chars("h\xc3\xa9llo", 6), 5);
    CHECK_EQ_INT(mb_mock_prompt_tokens("h\xc3\xa9llo", 6), 2);
    /* 4-byte emoji = 1 char */
    CHECK_EQ_INT(mb_mock_count_chars("\xf0\x9f\x98\x80", 4), 1);
    CHECK_EQ_INT(mb_mock_tokens_for_chars(400), 100);
    CHECK_EQ_INT(mb_mock_tokens_for_chars(401), 101);
}

static void test_text(void)
{
    mb_mock_textgen a, b, c;
    char ta[MB_MOCK_TOKEN_MAX], tb[MB_MOCK_TOKEN_MAX], tc[MB_MOCK_TOKEN_MAX];
    mb_mock_text_init(&a, 7);
    mb_mock_text_init(&b, 7);
    mb_mock_text_init(&c, 8);
    int same = 1, differ = 0, caps = 0, periods = 0, bad = 0;
    for (int i = 0; i < 10000; i++) {
        size_t na = mb_mock_text_token(&a, ta), nb = mb_mock_text_token(&b, tb);
        size_t nc = mb_mock_text_token(&c, tc);
        same &= na == nb && memcmp(ta, tb, na) == 0;
        differ += na != nc || memcmp(ta, tc, na) != 0;
        if (na < 2 || na > MB_MOCK_TOKEN_MAX || ta[na - 1] != ' ')
            bad++;
        for (size_t j = 0; j + 1 < na; j++)
            if (!isalpha((unsigned char)ta[j]) && ta[j] != '.')
                bad++;
        for (size_t j = 0; j + 1 < na; j++)
            if (ta[j] == '.' && j + 2 != na)
                bad++;   /* a period only ends a word */
        caps += isupper((unsigned char)ta[0]) != 0;
        periods += na >= 2 && ta[na - 2] == '.';
    }
    CHECK(same);
    CHECK(differ > 5000);
    CHECK_EQ_INT(bad, 0);
    /* sentences of 6..14 words: as many capitals as periods (+-1) */
    CHECK(caps >= 10000 / 14 && caps <= 10000 / 6 + 1);
    CHECK(periods == caps || periods + 1 == caps);
    /* the first token starts a sentence */
    mb_mock_text_init(&a, 123);
    size_t n = mb_mock_text_token(&a, ta);
    CHECK(n > 1 && isupper((unsigned char)ta[0]));
}

int main(void)
{
    test_rng();
    test_hash();
    test_token_rule();
    test_text();
    TEST_MAIN_END();
}

/* test_tok_parts.c: the tokenizer's building blocks -- UTF-8 repair as
 * Rust's from_utf8_lossy, the regex translation and Oniguruma's find_iter
 * order, the string table and pair map, the leftmost-longest trie, the
 * reference's Unicode tables, SHA-256. */
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/sha256.h"
#include "../../src/tok/tok_int.h"

static void expect_lossy(const char *in, size_t n, const char *want)
{
    tok_buf b = {0};
    CHECK_EQ_INT(tok_utf8_lossy(&b, in, n), 0);
    CHECK_MSG(b.p && b.len == strlen(want) && memcmp(b.p, want, b.len) == 0, "lossy of %zu bytes", n);
    free(b.p);
}

#define R "\xEF\xBF\xBD"

/* Each maximal invalid subpart becomes one U+FFFD. */
static void test_lossy(void)
{
    expect_lossy("Hello \xF0\x90\x80World", 14, "Hello " R "World");
    expect_lossy("\xC0\x80", 2, R R);
    expect_lossy("\xED\xA0\x80", 3, R R R);           /* a surrogate */
    expect_lossy("ab\xE2\x82", 4, "ab" R);             /* cut at the end */
    expect_lossy("\xF4\x90\x80\x80", 4, R R R R);      /* above U+10FFFF */
    expect_lossy("\xE0\x80\xAF", 3, R R R);            /* overlong */
    expect_lossy("ok \xC3\xA9", 5, "ok \xC3\xA9");
    CHECK_EQ_INT(tok_utf8_valid("a\xC3\xA9\xFF", 4), 3);
}

static void expect_tr(const char *pat, int dialect, const char *want)
{
    tok_buf b = {0};
    char err[MB_TOK_ERRLEN] = "";
    int rc = tok_re_translate(pat, strlen(pat), dialect, &b, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", pat, err);
    if (rc == 0)
        CHECK_STR(b.p, want);
    free(b.p);
}

static void expect_refused(const char *pat, const char *says)
{
    tok_buf b = {0};
    char err[MB_TOK_ERRLEN] = "";
    int rc = tok_re_translate(pat, strlen(pat), TOK_RE_ONIG, &b, err, sizeof err);
    CHECK_MSG(rc == MB_EINVAL && strstr(err, says), "%s: rc %d \"%s\"", pat, rc, err);
    free(b.p);
}

static void test_regex(void)
{
    expect_tr("\\s+(?!\\S)", TOK_RE_ONIG, "\\p{White_Space}+(?!\\P{White_Space})");
    expect_tr("[^\\s]", TOK_RE_ONIG, "[^\\p{White_Space}]");
    expect_tr("\\h+", TOK_RE_ONIG, "[0-9A-Fa-f]+");   /* Oniguruma: a hex digit */
    expect_tr("a{,3}", TOK_RE_ONIG, "a{0,3}");
    expect_tr("(?m:.)", TOK_RE_ONIG, "(?s:.)");        /* Oniguruma's m is dot-all */
    expect_tr("(?m:.)", TOK_RE_RUST, "(?m:.)");
    expect_tr("\\u00e9\\x41\\v", TOK_RE_ONIG, "\\x{00e9}\\x{41}\\x0b");
    expect_tr("(?i:'s|'t)", TOK_RE_RUST, "(?i:'s|'t)");
    expect_tr("[\\-\\]a]", TOK_RE_ONIG, "[\\-\\]a]");
    expect_refused("\\bx", "\\b");
    expect_refused("^x", "anchor");
    expect_refused("[[:alpha:]]", "POSIX");
    expect_refused("[a-z&&[^aeiou]]", "&&");
    expect_refused("(?<n>x)", "named");
    expect_refused("\\1", "\\1");
    expect_refused("[\\W]", "\\W");
    expect_refused("[abc", "unterminated");
    /* classes get the characters PCRE2's tables lack (Kawi letter A is
     * Unicode 15.0) */
    if (!tok_pcre2_unicode_ge16()) {
        tok_buf b = {0};
        char err[MB_TOK_ERRLEN];
        CHECK_EQ_INT(tok_re_translate("\\p{L}", 5, TOK_RE_ONIG, &b, err, sizeof err), 0);
        CHECK(b.p && strstr(b.p, "[\\p{L}") == b.p && strstr(b.p, "\\x{11F04}"));
        free(b.p);
    }
    /* and PCRE2 then finds it */
    tok_re *re = NULL;
    tok_match m;
    tok_spans sp = {0};
    char err[MB_TOK_ERRLEN];
    CHECK_EQ_INT(tok_re_compile("\\p{L}+", 6, TOK_RE_ONIG, &re, err, sizeof err), 0);
    CHECK_EQ_INT(tok_match_init(&m), 0);
    CHECK_EQ_INT(tok_re_find_all(re, &m, "1\xF0\x91\xBC\x84z 2", 8, &sp), 0);
    CHECK_EQ_INT(sp.len, 3);
    if (sp.len == 3)
        CHECK(sp.p[1].s == 1 && sp.p[1].e == 6 && sp.p[1].id == 1);
    tok_re_free(re);
    /* empty matches as Oniguruma's find_iter yields them: one at each
     * position, none right after the previous match */
    sp.len = 0;
    CHECK_EQ_INT(tok_re_compile("x*", 2, TOK_RE_ONIG, &re, err, sizeof err), 0);
    CHECK_EQ_INT(tok_re_find_all(re, &m, "ab", 2, &sp), 0);
    static const tok_span want[] = {{0, 0, 1}, {0, 1, 0}, {1, 1, 1}, {1, 2, 0}, {2, 2, 1}};
    CHECK_EQ_INT(sp.len, 5);
    CHECK(sp.len == 5 && memcmp(sp.p, want, sizeof want) == 0);
    sp.len = 0;
    CHECK_EQ_INT(tok_re_find_all(re, &m, "axxb", 4, &sp), 0);
    static const tok_span want2[] = {{0, 0, 1}, {0, 1, 0}, {1, 3, 1}, {3, 4, 0}, {4, 4, 1}};
    CHECK(sp.len == 5 && memcmp(sp.p, want2, sizeof want2) == 0);
    tok_re_free(re);
    /* a literal, with regex syntax and \E inside */
    sp.len = 0;
    CHECK_EQ_INT(tok_re_literal("a.\\E", 4, &re, err, sizeof err), 0);
    CHECK_EQ_INT(tok_re_find_all(re, &m, "xa.\\Eab", 7, &sp), 0);
    CHECK(sp.len == 3 && sp.p[1].s == 1 && sp.p[1].e == 5 && sp.p[1].id == 1);
    tok_re_free(re);
    tok_match_free(&m);
    free(sp.p);
}

static void test_maps(void)
{
    tok_strtab t;
    size_t n;
    CHECK_EQ_INT(tok_strtab_init(&t, 4), 0);
    /* grows past its first size */
    char key[16];
    for (uint32_t i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%u", i);
        CHECK_EQ_INT(tok_strtab_set(&t, i * 2, key, strlen(key)), 0);
    }
    CHECK_EQ_INT(tok_strtab_find(&t, "k4999", 5), 9998);
    CHECK_EQ_INT(tok_strtab_find(&t, "k5000", 5), -1);
    const char *s = tok_strtab_str(&t, 9998, &n);
    CHECK(s && n == 5 && memcmp(s, "k4999", 5) == 0);
    CHECK(tok_strtab_str(&t, 9999, &n) == NULL);
    /* a key given again takes its new id; two keys may share an id */
    CHECK_EQ_INT(tok_strtab_set(&t, 7, "k0", 2), 0);
    CHECK_EQ_INT(tok_strtab_find(&t, "k0", 2), 7);
    CHECK(tok_strtab_str(&t, 0, &n) == NULL);
    CHECK_EQ_INT(tok_strtab_set(&t, 7, "other", 5), 0);
    CHECK_EQ_INT(tok_strtab_find(&t, "k0", 2), 7);
    CHECK_EQ_INT(tok_strtab_find(&t, "other", 5), 7);
    CHECK_EQ_INT(tok_strtab_set(&t, 11, "", 0), 0);   /* the empty key */
    CHECK_EQ_INT(tok_strtab_find(&t, "", 0), 11);
    tok_strtab_free(&t);

    tok_pairmap m;
    CHECK_EQ_INT(tok_pairmap_init(&m, 2), 0);
    for (uint32_t i = 0; i < 3000; i++)
        CHECK_EQ_INT(tok_pairmap_set(&m, i, i + 1, i, 100000 + i), 0);
    const tok_pair *p = tok_pairmap_get(&m, 2999, 3000);
    CHECK(p && p->rank == 2999 && p->id == 102999);
    CHECK(tok_pairmap_get(&m, 3000, 2999) == NULL);
    CHECK_EQ_INT(tok_pairmap_set(&m, 5, 6, 1, 42), 0);   /* a pair again: last wins */
    p = tok_pairmap_get(&m, 5, 6);
    CHECK(p && p->rank == 1 && p->id == 42);
    tok_pairmap_free(&m);
}

static void test_trie(void)
{
    tok_trie tr;
    size_t len = 0;
    CHECK_EQ_INT(tok_trie_init(&tr), 0);
    CHECK_EQ_INT(tok_trie_add(&tr, "ab", 2, 1), 0);
    CHECK_EQ_INT(tok_trie_add(&tr, "abc", 3, 2), 0);
    CHECK_EQ_INT(tok_trie_add(&tr, "b", 1, 3), 0);
    CHECK_EQ_INT(tok_trie_add(&tr, "ab", 2, 9), MB_EINVAL);   /* twice */
    CHECK_EQ_INT(tok_trie_longest(&tr, "abcd", 4, &len), 2);
    CHECK_EQ_INT(len, 3);
    CHECK_EQ_INT(tok_trie_longest(&tr, "abd", 3, &len), 1);
    CHECK_EQ_INT(len, 2);
    CHECK_EQ_INT(tok_trie_longest(&tr, "a", 1, &len), -1);
    CHECK_EQ_INT(tok_trie_longest(&tr, "x", 1, &len), -1);
    tok_trie_free(&tr);
}

static void test_unicode(void)
{
    /* the byte-level alphabet is a bijection */
    int ok = 1;
    for (int b = 0; b < 256; b++)
        ok &= tok_char_byte(tok_byte_char[b]) == b;
    CHECK(ok);
    CHECK_EQ_INT(tok_byte_char[' '], 0x120);
    CHECK_EQ_INT(tok_char_byte(0x20), -1);
    CHECK(tok_is_whitespace(0x3000) && !tok_is_whitespace(0x180E) && !tok_is_whitespace(0x200B));
    CHECK(tok_is_numeric('7') && tok_is_numeric(0x0663) && tok_is_numeric(0x2155) && !tok_is_numeric('x'));
    CHECK(tok_is_punct('$') && tok_is_punct(0x3001) && !tok_is_punct(0x061D));  /* the reference's punctuation table is old */
    CHECK(tok_is_word(0x11F04) && tok_is_word('_') && !tok_is_word('-'));
    const char *low = tok_ref_lowercase(0x130);
    CHECK(low && strcmp(low, "i\xCC\x87") == 0);
    CHECK(tok_ref_lowercase('a') == NULL);
    CHECK(tok_in_ranges(tok_ref_norm_unknown, tok_ref_norm_unknown_n, 0x11938));   /* Unicode 13 */
    CHECK(!tok_in_ranges(tok_ref_norm_unknown, tok_ref_norm_unknown_n, 0x0301));
    CHECK(tok_u16_category(0x11F04) && strcmp(tok_u16_category(0x11F04), "Lo") == 0);
    CHECK(tok_u16_category('a') == NULL);
}

static void expect_sha(const char *in, size_t n, const char *want)
{
    mb_sha256 s;
    char hex[65];
    mb_sha256_init(&s);
    /* fed in uneven pieces, across block boundaries */
    for (size_t i = 0; i < n;) {
        size_t k = (i % 7) + 1;
        if (k > n - i)
            k = n - i;
        mb_sha256_update(&s, in + i, k);
        i += k;
    }
    mb_sha256_hex(&s, hex);
    CHECK_STR(hex, want);
}

static void test_sha256(void)
{
    expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char big[1000];
    memset(big, 'a', sizeof big);
    expect_sha(big, sizeof big, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

int main(void)
{
    test_lossy();
    test_regex();
    test_maps();
    test_trie();
    test_unicode();
    test_sha256();
    TEST_MAIN_END();
}

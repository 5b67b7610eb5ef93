/* test_json.c: the cursor of core/json.c -- validation, iteration, lookup,
 * strings unescaped whole and in pieces, numbers -- on the shapes request
 * bodies have, including the ones that trip naive skipping (brackets and
 * escaped quotes inside strings, deep nesting). The token API is tested by
 * test_llm and fuzzed (fuzz_json, which also checks that the cursor and
 * the tokens agree). */
#include <math.h>
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/json.h"

static mb_json_val doc(const char *s)
{
    mb_json_val v = {0};
    int rc = mb_json_doc(s, strlen(s), &v);
    CHECK_MSG(rc == 0, "mb_json_doc(%s) = %d", s, rc);
    return v;
}

static void test_validation(void)
{
    static const char *bad[] = {"", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "\"\\x\"",
                                "[\"\x01\"]", "tru", "01", "1.", "{} {}", "[\"\xc3\x28\"]",
                                "{\"a\":1}x", NULL};
    mb_json_val v;
    for (int i = 0; bad[i]; i++)
        CHECK_MSG(mb_json_doc(bad[i], strlen(bad[i]), &v) == MB_EPARSE, "accepted %s", bad[i]);
    v = doc("  {\"a\" : [1, 2]}  \n");
    CHECK(v.type == MB_JSON_OBJECT && v.n == 14 && v.p[0] == '{' && v.p[13] == '}');
    v = doc("\"x\"");
    CHECK(v.type == MB_JSON_STRING && v.n == 3);
    v = doc("-1.5e3");
    CHECK(v.type == MB_JSON_NUMBER && mb_json_num(&v) == -1500);
    /* nesting: 256 levels pass, 257 do not (as the tokenizer) */
    char deep[600];
    memset(deep, '[', 256);
    memset(deep + 256, ']', 256);
    deep[512] = 0;
    v = doc(deep);
    CHECK(v.n == 512);
    memset(deep, '[', 257);
    memset(deep + 257, ']', 257);
    deep[514] = 0;
    CHECK(mb_json_doc(deep, 514, &v) == MB_EPARSE);
}

static void test_walk(void)
{
    /* strings holding brackets, braces, escaped quotes and backslashes
     * before a closing quote: the skipping must not be fooled */
    const char *s = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"a]}\\\"{[\\\\\"},"
                    "{\"content\":[{\"type\":\"text\",\"text\":\"b\\\\\"},{\"type\":\"image\"}]}],"
                    "\"stream\":true,\"n\":1,\"model\":\"second\",\"seed\":12.5e-1}";
    mb_json_val root = doc(s), v, k, msgs, m;
    mb_json_iter it, jt;
    char buf[64];
    int n = 0;
    CHECK(mb_json_find(&root, "model", &v) && mb_json_eq(&v, "m"));   /* the first one wins */
    CHECK(mb_json_find(&root, "stream", &v) && v.type == MB_JSON_TRUE);
    CHECK(mb_json_find(&root, "seed", &v) && mb_json_num(&v) == 1.25);
    CHECK(!mb_json_find(&root, "mode", &v) && !mb_json_find(&root, "models", &v));
    CHECK(mb_json_find(&root, "messages", &msgs) && msgs.type == MB_JSON_ARRAY);
    mb_json_iter_init(&it, &msgs);
    while (mb_json_next(&it, NULL, &m)) {
        CHECK(m.type == MB_JSON_OBJECT);
        CHECK(mb_json_find(&m, "content", &v));
        if (n == 0) {
            CHECK(v.type == MB_JSON_STRING);
            CHECK_EQ_INT(mb_json_strcpy(&v, buf, sizeof buf), 7);
            CHECK_STR(buf, "a]}\"{[\\");
        } else {
            CHECK(v.type == MB_JSON_ARRAY);
            int parts = 0;
            mb_json_iter_init(&jt, &v);
            while (mb_json_next(&jt, NULL, &k))
                parts++;
            CHECK_EQ_INT(parts, 2);
        }
        n++;
    }
    CHECK_EQ_INT(n, 2);
    /* every member of the root, in order, keys as written */
    static const char *keys[] = {"model", "messages", "stream", "n", "model", "seed"};
    n = 0;
    mb_json_iter_init(&it, &root);
    while (mb_json_next(&it, &k, &v)) {
        CHECK(n < 6 && k.type == MB_JSON_STRING);
        if (n < 6) {
            mb_json_strcpy(&k, buf, sizeof buf);
            CHECK_STR(buf, keys[n]);
        }
        n++;
    }
    CHECK_EQ_INT(n, 6);
    /* empty containers iterate nothing; scalars iterate nothing */
    root = doc("{\"a\":{},\"b\":[ ],\"c\":3}");
    CHECK(mb_json_find(&root, "a", &v));
    mb_json_iter_init(&it, &v);
    CHECK(!mb_json_next(&it, &k, &m));
    CHECK(mb_json_find(&root, "b", &v));
    mb_json_iter_init(&it, &v);
    CHECK(!mb_json_next(&it, NULL, &m));
    CHECK(mb_json_find(&root, "c", &v));
    mb_json_iter_init(&it, &v);
    CHECK(!mb_json_next(&it, NULL, &m));
    CHECK(isnan(mb_json_num(&root)));
}

static void test_strings(void)
{
    /* escapes of every kind, a surrogate pair, an unpaired surrogate */
    const char *s = "\"a\\n\\t\\\"\\\\\\/\\u00e9\\ud83d\\ude00\\ud800x\xc3\xa9\"";
    const char *want = "a\n\t\"\\/\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx\xc3\xa9";
    mb_json_val v = doc(s);
    char buf[64], small[6], piece[8];
    CHECK_EQ_INT(mb_json_strcpy(&v, buf, sizeof buf), strlen(want));
    CHECK_STR(buf, want);
    /* truncation keeps whole characters: "a\n\t\"\\/" then é would not fit */
    CHECK_EQ_INT(mb_json_strcpy(&v, small, sizeof small), strlen(want));
    CHECK_STR(small, "a\n\t\"\\");
    /* in pieces of 4 bytes: the same bytes */
    char all[64];
    size_t pos = 0, got, w = 0;
    while ((got = mb_json_unescape(&v, &pos, piece, 4)) > 0) {
        CHECK(got <= 4);
        memcpy(all + w, piece, got);
        w += got;
    }
    CHECK(w == strlen(want) && memcmp(all, want, w) == 0);
    char *d = mb_json_strdup(&v);
    CHECK_STR(d, want);
    free(d);
    v = doc("[1]");
    CHECK(mb_json_strdup(&v) == NULL && mb_json_strcpy(&v, buf, sizeof buf) == 0 && !buf[0]);
    /* a long string without escapes goes in large pieces */
    char big[5000];
    big[0] = '"';
    memset(big + 1, 'x', 4000);
    strcpy(big + 4001, "\"");
    v = doc(big);
    pos = 0;
    CHECK_EQ_INT(mb_json_unescape(&v, &pos, all, sizeof all), 64);
    CHECK_EQ_INT(pos, 64);
}

int main(void)
{
    test_validation();
    test_walk();
    test_strings();
    TEST_MAIN_END();
}

/* test_redact.c: the redactor (src/core/redact.c) -- known secrets whole
 * and in pieces of 8 or more characters, before truncation; credential
 * shapes in messages (sk-, Bearer, Basic, secret headers and parameters,
 * URL user info); what must stay untouched; threads registering and
 * redacting at once. */
#include <pthread.h>
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"

/* Redacts s at `flags`; returns a static copy of the result. */
static const char *red(const char *s, int flags)
{
    static char buf[8192];
    char *out;
    size_t n;
    int rc = mb_redact(s, strlen(s), flags, &out, &n);
    if (rc == 0) {
        snprintf(buf, sizeof buf, "%s", s);
    } else if (rc == 1) {
        CHECK_EQ_INT(strlen(out), n);
        snprintf(buf, sizeof buf, "%s", out);
        free(out);
    } else {
        snprintf(buf, sizeof buf, "(error %d)", rc);
    }
    return buf;
}

#define KEY "Zq7vK2mP9xW4tR8nL3cY6hB1"      /* not sk-shaped: found only by the registry */
#define SHORT "ab12"

static void test_known(void)
{
    CHECK_EQ_INT(mb_redact_add_secret("abc", 3), MB_EINVAL);   /* too short */
    CHECK_EQ_INT(mb_redact_add_secret(KEY, strlen(KEY)), 0);
    CHECK_EQ_INT(mb_redact_add_secret(KEY, strlen(KEY)), 0);   /* twice: harmless */
    CHECK_EQ_INT(mb_redact_add_secret(SHORT, 4), 0);
    CHECK_EQ_INT(mb_redact_count(), 2);

    CHECK_STR(red("key=" KEY " end", MB_REDACT_KNOWN), "key=[REDACTED] end");
    CHECK_STR(red(KEY, MB_REDACT_KNOWN), "[REDACTED]");
    /* pieces of 8 or more: a prefix, a suffix, the middle */
    CHECK_STR(red("prefix Zq7vK2mP9x...", MB_REDACT_KNOWN), "prefix [REDACTED]...");
    CHECK_STR(red("...tR8nL3cY6hB1 suffix", MB_REDACT_KNOWN), "...[REDACTED] suffix");
    CHECK_STR(red("(P9xW4tR8)", MB_REDACT_KNOWN), "([REDACTED])");
    /* 7 characters of it stay: too little to be a key */
    CHECK_STR(red("P9xW4tR", MB_REDACT_KNOWN), "P9xW4tR");
    /* twice, adjacent: one marker each run */
    CHECK_STR(red(KEY KEY, MB_REDACT_KNOWN), "[REDACTED]");
    CHECK_STR(red(KEY "/" KEY, MB_REDACT_KNOWN), "[REDACTED]/[REDACTED]");
    /* a short secret matches whole only */
    CHECK_STR(red("x ab12 y ab1", MB_REDACT_KNOWN), "x [REDACTED] y ab1");
    /* known level leaves shapes alone (files: a histogram may hold "sk-") */
    CHECK_STR(red("sk-abcdefgh Bearer xyz", MB_REDACT_KNOWN), "sk-abcdefgh Bearer xyz");
    /* nothing to do: no allocation, rc 0 */
    char *out = NULL;
    size_t n;
    CHECK_EQ_INT(mb_redact("plain text", 10, MB_REDACT_TEXT, &out, &n), 0);
    CHECK(out == NULL);
    /* binary input with NULs */
    char bin[40] = "a\0b";
    memcpy(bin + 5, KEY, strlen(KEY));
    CHECK_EQ_INT(mb_redact(bin, sizeof bin, MB_REDACT_KNOWN, &out, &n), 1);
    CHECK(n == sizeof bin - strlen(KEY) + 10);
    CHECK(memcmp(out + 5, "[REDACTED]", 10) == 0);
    free(out);
}

/* Redaction before truncation: a key across the cut is gone, not halved. */
static void test_buf(void)
{
    char whole[200];
    const char *msg = "HTTP 401: Incorrect API key provided: " KEY ". You can find yours";
    memcpy(whole, msg, strlen(msg) + 1);
    /* redact the whole message, then cut at 48: the marker, never a piece
     * of the key (cutting first would leave "Zq7vK2mP9x" for an exact
     * match to miss) */
    mb_redact_buf(whole, 48, MB_REDACT_TEXT);
    CHECK(strstr(whole, "Zq7") == NULL);
    CHECK_EQ_INT(strlen(whole), 47);
    CHECK_MSG(strncmp(whole, "HTTP 401: Incorrect API key provided: [REDAC", 44) == 0, "%s", whole);
    /* already cut by someone else: the piece (>= 8 characters) still goes */
    char cut[64];
    memcpy(cut, msg, 48);
    cut[48] = 0;
    mb_redact_buf(cut, sizeof cut, MB_REDACT_KNOWN);
    CHECK_STR(cut, "HTTP 401: Incorrect API key provided: [REDACTED]");
}

static void test_shapes(void)
{
    const int T = MB_REDACT_TEXT;
    CHECK_STR(red("Incorrect API key provided: sk-proj-abc123XYZ.", T),
              "Incorrect API key provided: sk-[REDACTED].");
    CHECK_STR(red("masked sk-abc1...wxyz here", T), "masked sk-[REDACTED] here");
    CHECK_STR(red("disk-full and task-runner", T), "disk-full and task-runner");
    CHECK_STR(red("Authorization: Bearer abc.def-123", T), "Authorization: [REDACTED]");
    CHECK_STR(red("token was Bearer xyz123; retry", T), "token was Bearer [REDACTED]; retry");
    CHECK_STR(red("Basic dXNlcjpwYXNzd29yZA==", T), "Basic [REDACTED]");
    CHECK_STR(red("a basic question", T), "a basic question");
    CHECK_STR(red("x-api-key: my-secret-value", T), "x-api-key: [REDACTED]");
    CHECK_STR(red("< X-Api-Key: q1w2e3r4", T), "< X-Api-Key: [REDACTED]");
    CHECK_STR(red("api-key:\tabc", T), "api-key:\t[REDACTED]");
    /* a host or a scheme is not a header */
    CHECK_STR(red("http://keyserver:8080/v1 and token:1", T), "http://keyserver:8080/v1 and token:1");
    CHECK_STR(red("{\"api_key\": \"s3cr3t\", \"model\": \"m\"}", T),
              "{\"api_key\": \"[REDACTED]\", \"model\": \"m\"}");
    CHECK_STR(red("Cookie: sid=1; other=2", T), "Cookie: [REDACTED]");
    CHECK_STR(red("proxy-authorization: Basic Zm9vOmJhcg==", T), "proxy-authorization: [REDACTED]");
    /* counts and ordinary words are not secrets */
    CHECK_STR(red("max_tokens: 5000 exceeds the limit", T), "max_tokens: 5000 exceeds the limit");
    CHECK_STR(red("x-ratelimit-remaining-tokens: 99", T), "x-ratelimit-remaining-tokens: 99");
    CHECK_STR(red("author: me", T), "author: me");
    CHECK_STR(red("profile: 'tokenizer': /no/such.json", T), "profile: 'tokenizer': /no/such.json");
    CHECK(mb_redact_secret_name("x-mock-token", 12) && mb_redact_secret_name("id_token", 8)
          && mb_redact_secret_name("token", 5) && !mb_redact_secret_name("tokenizer", 9));
    CHECK_STR(red("authentication_error: invalid x-api-key", T), "authentication_error: invalid x-api-key");
    CHECK_STR(red("x-auth: abc", T), "x-auth: [REDACTED]");
    CHECK_STR(red("url?auth_token=def&x=1", T), "url?auth_token=[REDACTED]&x=1");
    CHECK_STR(red("no API key: set OPENAI_API_KEY", T), "no API key: set OPENAI_API_KEY");
    CHECK_STR(red("api_key_env = \"MY_KEY\" or --api-key-env=MY_KEY", T),
              "api_key_env = \"MY_KEY\" or --api-key-env=MY_KEY");
    CHECK_STR(red("{\"key\": \"v4lue\"} token=abc", T), "{\"key\": \"[REDACTED]\"} token=[REDACTED]");
    CHECK_STR(red("model=gpt-4o&stream=true", T), "model=gpt-4o&stream=true");
    /* query parameters */
    CHECK_STR(red("GET /v1?key=abc&x=1", T), "GET /v1?key=[REDACTED]&x=1");
    CHECK_STR(red("u?sig=S1G&sv=2020&sas=zz&access_token=t0k&password=pw#f", T),
              "u?sig=[REDACTED]&sv=2020&sas=[REDACTED]&access_token=[REDACTED]"
              "&password=[REDACTED]#f");
    CHECK_STR(red("x?signature=abc&api_key=1", T), "x?signature=[REDACTED]&api_key=[REDACTED]");
    /* URL user info */
    CHECK_STR(red("cannot reach https://bob:hunter2@host:8443/v1", T),
              "cannot reach https://[REDACTED]@host:8443/v1");
    CHECK_STR(red("https://host/p@x", T), "https://host/p@x");
    /* URL style: what target:public() shows */
    CHECK_STR(red("https://bob:pw@host/v1?key=abc&sig=d", MB_REDACT_SHAPES | MB_REDACT_URL),
              "https://host/v1?key=REDACTED&sig=REDACTED");
    /* idempotent */
    CHECK_STR(red("sk-[REDACTED] Bearer [REDACTED] x-api-key: [REDACTED] ?key=REDACTED", T),
              "sk-[REDACTED] Bearer [REDACTED] x-api-key: [REDACTED] ?key=REDACTED");
    /* names added by the user */
    CHECK_STR(red("X-Team-Pass: zz", T), "X-Team-Pass: zz");
    CHECK_EQ_INT(mb_redact_add_name("X-Team-Pass", 11), 0);
    CHECK(mb_redact_secret_name("x-team-pass", 11));
    CHECK_STR(red("X-Team-Pass: zz", T), "X-Team-Pass: [REDACTED]");
    CHECK(mb_redact_secret_name("Ocp-Apim-Subscription-Key", 25));
    CHECK(mb_redact_secret_name("x-goog-api-key", 14));
    CHECK(!mb_redact_secret_name("content-type", 12));
}

/* Engine threads register and redact at the same time. */
static void *worker(void *arg)
{
    char key[40], text[120];
    int id = (int)(long)arg;
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof key, "thread-%d-secret-%04d-xyzw", id, i);
        mb_redact_add_secret(key, strlen(key));
        snprintf(text, sizeof text, "echo %s done", key);
        char *out;
        size_t n;
        if (mb_redact(text, strlen(text), MB_REDACT_KNOWN, &out, &n) != 1 || strstr(out, key))
            return (void *)1;
        free(out);
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    void *r;
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &r);
        CHECK(r == NULL);
    }
}

int main(void)
{
    test_known();
    test_buf();
    test_shapes();
    test_threads();
    TEST_MAIN_END();
}

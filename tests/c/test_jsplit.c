/* test_jsplit.c: streaming JSON array splitting under any chunking. */
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/jsplit.h"

typedef struct { char out[4096]; size_t len; int n; } acc_t;

static int collect(void *ud, const char *e, size_t len)
{
    acc_t *a = ud;
    memcpy(a->out + a->len, e, len);
    a->len += len;
    a->out[a->len++] = '|';
    a->out[a->len] = 0;
    a->n++;
    return 0;
}

/* Splits `in` fed in chunks of `step` bytes; returns the joined elements. */
static const char *split(const char *in, size_t step, int *rc, int *n)
{
    static acc_t a;
    mb_jsplit s;
    size_t len = strlen(in);
    memset(&a, 0, sizeof a);
    mb_jsplit_init(&s, 256);
    *rc = 0;
    for (size_t off = 0; off < len && *rc == 0; off += step)
        *rc = mb_jsplit_feed(&s, in + off, len - off < step ? len - off : step, collect, &a);
    if (*rc == 0 && !mb_jsplit_done(&s))
        *rc = 1;
    mb_jsplit_free(&s);
    *n = a.n;
    return a.out;
}

int main(void)
{
    static const struct { const char *in, *want; int n; } ok[] = {
        {"[]", "", 0},
        {"\xEF\xBB\xBF [ 1 , 2,3 ] \n", "1|2|3|", 3},
        {"[{\"a\":[1,2,{\"b\":\"]}\\\"\"}]},{\"c\":\"x,y\"}]", "{\"a\":[1,2,{\"b\":\"]}\\\"\"}]}|{\"c\":\"x,y\"}|", 2},
        {"[\"s\\\\\",[[]],true, null ]", "\"s\\\\\"|[[]]|true|null|", 4},
        {"[{\"conversations\":[{\"from\":\"human\",\"value\":\"hi\"}]}]",
         "{\"conversations\":[{\"from\":\"human\",\"value\":\"hi\"}]}|", 1},
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        for (size_t step = 1; step <= 9; step++) {
            int rc, n;
            const char *got = split(ok[k].in, step, &rc, &n);
            CHECK_MSG(rc == 0, "case %zu step %zu rc %d", k, step, rc);
            CHECK_MSG(strcmp(got, ok[k].want) == 0, "case %zu step %zu: %s", k, step, got);
            CHECK_EQ_INT(n, ok[k].n);
        }
    int rc, n;
    split("{\"not\":\"array\"}", 4, &rc, &n);
    CHECK_EQ_INT(rc, MB_EPARSE);
    split("[1,2] x", 3, &rc, &n);
    CHECK_EQ_INT(rc, MB_EPARSE);
    split("[1,2", 3, &rc, &n);
    CHECK_EQ_INT(rc, 1);   /* not done */
    /* found by fuzz/fuzz_json (fuzz/corpus/json/regress-jsplit-brace-loop):
     * a '}' closing nothing after a scalar was re-read forever */
    for (size_t step = 1; step <= 4; step++) {
        split("[1}]", step, &rc, &n);
        CHECK_EQ_INT(rc, MB_EPARSE);
        split("[{\"a\":1}},2]", step, &rc, &n);
        CHECK_EQ_INT(rc, MB_EPARSE);
    }
    char big[600];
    memset(big, 'a', sizeof big);
    big[0] = '[';
    big[1] = '"';
    big[sizeof big - 3] = '"';
    big[sizeof big - 2] = ']';
    big[sizeof big - 1] = 0;
    split(big, 50, &rc, &n);
    CHECK_EQ_INT(rc, MB_ETOOLONG);
    TEST_MAIN_END();
}

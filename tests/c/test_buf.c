/* test_buf.c: the growable buffer and the array growth rule (core/buf.c):
 * contents, NUL termination, doubling, sticky out-of-memory, overflow. */
#include <stdint.h>
#include "mb_test.h"
#include "mlxbench/buf.h"
#include "mlxbench/errors.h"

static void test_bytes(void)
{
    mb_buf b = MB_BUF_INIT;
    CHECK(b.p == NULL && b.len == 0);
    CHECK_EQ_INT(mb_buf_add(&b, "", 0), 0);
    CHECK(b.p && b.p[0] == 0 && b.len == 0 && b.cap == 256);
    CHECK_EQ_INT(mb_buf_add(&b, "abc", 3), 0);
    CHECK_EQ_INT(mb_buf_printf(&b, "-%d-%s", 42, "x"), 0);
    CHECK_STR(b.p, "abc-42-x");
    CHECK_EQ_INT(b.len, 8);
    /* a formatted piece longer than printf's stack buffer */
    char big[1000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK_EQ_INT(mb_buf_printf(&b, "%s!", big), 0);
    CHECK_EQ_INT(b.len, 8 + 999 + 1);
    CHECK(b.p[b.len] == 0 && b.p[b.len - 1] == '!' && b.p[8] == 'y');
    CHECK_EQ_INT(b.cap, 1024);   /* doubled from 256 */
    /* growth settles: appending within capacity keeps the pointer */
    char *keep = b.p;
    mb_buf_reset(&b);
    CHECK(b.len == 0 && b.p == keep && b.p[0] == 0);
    for (int i = 0; i < 100; i++)
        mb_buf_puts(&b, "0123456789");
    CHECK(b.p == keep && b.len == 1000);
    char *s = mb_buf_take(&b);
    CHECK(s && strlen(s) == 1000 && b.p == NULL && b.len == 0 && b.cap == 0);
    free(s);
    s = mb_buf_take(&b);   /* empty: "" */
    CHECK_STR(s, "");
    free(s);
    mb_buf_free(&b);
}

static void test_oom(void)
{
    mb_buf b = MB_BUF_INIT;
    mb_buf_puts(&b, "keep");
    /* a size that cannot be represented fails like ENOMEM, and sticks */
    CHECK_EQ_INT(mb_buf_reserve(&b, SIZE_MAX - 2), MB_ENOMEM);
    CHECK(b.oom);
    CHECK_EQ_INT(mb_buf_add(&b, "x", 1), MB_ENOMEM);
    CHECK_STR(b.p, "keep");
    CHECK(mb_buf_take(&b) == NULL);
    CHECK(b.p == NULL && !b.oom);
    mb_buf_free(&b);
}

typedef struct rec { uint64_t a, b; } rec;

static void test_vec(void)
{
    rec *v = NULL;
    size_t cap = 0;
    CHECK_EQ_INT(MB_VEC_GROW(v, cap, 1), 0);
    CHECK(v && cap == 16);
    CHECK_EQ_INT(MB_VEC_GROW(v, cap, 16), 0);
    CHECK_EQ_INT(cap, 16);
    CHECK_EQ_INT(MB_VEC_GROW(v, cap, 17), 0);
    CHECK_EQ_INT(cap, 32);
    for (size_t i = 0; i < 1000; i++) {
        CHECK_EQ_INT(MB_VEC_GROW(v, cap, i + 1), 0);
        v[i] = (rec){i, i * 2};
    }
    CHECK_EQ_INT(cap, 1024);
    CHECK(v[999].b == 1998 && v[0].a == 0);
    /* overflow: need * size does not fit, the array stays as it was */
    rec *old = v;
    CHECK_EQ_INT(MB_VEC_GROW(v, cap, SIZE_MAX / 8), MB_ENOMEM);
    CHECK(v == old && cap == 1024);
    CHECK_EQ_INT(MB_VEC_GROW(v, cap, SIZE_MAX), MB_ENOMEM);
    CHECK(v == old && cap == 1024 && v[500].a == 500);
    MB_VEC_SHRINK(v, cap, 1000);
    CHECK(cap == 1000 && v[999].a == 999);
    MB_VEC_SHRINK(v, cap, 0);   /* never to nothing */
    CHECK_EQ_INT(cap, 1000);
    free(v);
}

int main(void)
{
    test_bytes();
    test_oom();
    test_vec();
    TEST_MAIN_END();
}

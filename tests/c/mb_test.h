/* mb_test.h: a minimal assert harness for the C unit tests.
 * CHECK records a failure and goes on; the test's exit code is the verdict. */
#ifndef MB_TEST_H
#define MB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int mb_test_failures;
static int mb_test_checks;

#define CHECK(cond) do { mb_test_checks++; if (!(cond)) { mb_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { mb_test_checks++; if (!(cond)) { mb_test_failures++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
    CHECK_MSG(_a == _b, "%lld != %lld", _a, _b); } while (0)
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); \
    CHECK_MSG(fabs(_a - _b) <= (tol), "%.9g vs %.9g (tol %.3g)", _a, _b, (double)(tol)); } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
    CHECK_MSG(_a && _b && strcmp(_a, _b) == 0, "\"%s\" != \"%s\"", _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)

#define TEST_MAIN_END() do { \
    fprintf(stderr, "%d checks, %d failures\n", mb_test_checks, mb_test_failures); \
    return mb_test_failures ? 1 : 0; } while (0)

/* Reads a whole file (fixtures); aborts the test on failure. */
static inline char *mb_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "read %s\n", path); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Path of a fixture file under $MB_FIXTURES (default tests/fixtures/wire). */
static inline const char *mb_test_fixture(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("MB_FIXTURES");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures/wire", name);
    return buf;
}

#endif

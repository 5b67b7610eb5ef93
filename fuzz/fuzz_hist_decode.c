/* fuzz_hist_decode.c: mb_hist_decode on arbitrary bytes must fail cleanly
 * or accept a canonical encoding: encode(decode(s)) == s byte for byte. An
 * accepted histogram is then queried and merged to shake out bad state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mb_hist *h = NULL, *h2 = NULL, *m = NULL;
    char *e = NULL, *e2 = NULL;
    size_t n = 0, n2 = 0;
    int rc = mb_hist_decode((const char *)data, size, &h);
    if (rc) {
        if ((rc != MB_EPARSE && rc != MB_ENOMEM) || h)
            abort();
        return 0;
    }
    if (mb_hist_encode(h, &e, &n) || n != size || memcmp(e, data, size))
        abort();                                  /* not canonical */
    if (mb_hist_decode(e, n, &h2) || mb_hist_encode(h2, &e2, &n2) ||
        n2 != n || memcmp(e, e2, n))
        abort();
    /* queries stay in range and consistent */
    uint64_t total = 0, c;
    double v, prev = -1, lo = mb_hist_min(h), hi = mb_hist_max(h);
    mb_hist_iter it;
    mb_hist_iter_init(&it, h);
    while (mb_hist_iter_next(&it, &v, &c)) {
        if (!(v > prev) || !c)
            abort();
        prev = v;
        total += c;
    }
    if (total != mb_hist_count(h))
        abort();
    for (double p = 0; p <= 100; p += 12.5) {
        double q = mb_hist_percentile(h, p);
        if (total && !(q >= lo && q <= hi))
            abort();
    }
    double mean = mb_hist_mean(h), sd = mb_hist_stddev(h);
    if (!(sd >= 0 && sd <= hi * (1 + 1e-12)) ||
        (total && !(mean >= lo * (1 - 1e-15) && mean <= hi * (1 + 1e-15))))
        abort();                                  /* sums are bounded by min/max */
    /* merge across settings and back */
    if (mb_hist_new(&m, 1e-6, 3600, 3))
        abort();
    if (mb_hist_merge(m, h) || mb_hist_count(m) != total)
        abort();
    if (mb_hist_merge(h2, h) == 0 && mb_hist_count(h2) != 2 * total)
        abort();
    mb_hist_free(m);
    mb_hist_free(h);
    mb_hist_free(h2);
    free(e);
    free(e2);
    return 0;
}

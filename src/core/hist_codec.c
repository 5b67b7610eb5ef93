/* hist_codec.c: the "mbh1:" text encoding of mb_hist.
 *
 *   mbh1:<digits>,<lowest>,<highest>,<count>,<saturated>,<min>,<max>,
 *        <sum>,<sumsq>,<slots>                          (one line, no spaces)
 *
 * Counts are decimal. Doubles and the wide sums are "0x<hex>p<+|-><dec>",
 * meaning hex * 2^dec with an odd hex integer ("0x0p+0" for zero): valid C
 * hex-float syntax, but printed and parsed here so no locale can interfere.
 * <slots> lists runs of non-empty slots as varints: the first run's start
 * (later runs: empty slots skipped, minus 1), run length minus 1, the run's
 * first count minus 1, then each next count as the zigzag of its difference
 * from the previous one (mod 2^64): neighbours in a smooth distribution are
 * close, so most slots cost one char. A varint is 5 bits per base64url char,
 * low bits first, and chars 32..63 mean "more follows". Every field has exactly one spelling and
 * decode accepts only that, so encode(decode(s)) == s byte for byte. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "mlxbench/errors.h"
#include "mlxbench/buf.h"
#include "hist_int.h"

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- encode ------------------------------------------------------------------ */

/* Shortest varint of v: 5 bits per char, low first, 32 = more follows. */
static void put_varint(mb_buf *b, uint64_t v)
{
    char tmp[13];
    size_t n = 0;
    do {
        unsigned d = (unsigned)(v & 31);
        v >>= 5;
        tmp[n++] = B64[d | (v ? 32u : 0u)];
    } while (v);
    mb_buf_add(b, tmp, n);
}

/* Decimal v then the field separator. */
static void put_u64(mb_buf *b, uint64_t v, char sep)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu%c", (unsigned long long)v, sep);
    mb_buf_add(b, tmp, (size_t)n);
}

/* A finite double >= 0 as 0x<odd hex>p<exp>. */
static void put_double(mb_buf *b, double v, char sep)
{
    uint64_t m;
    int e;
    mb_hist__split(v, &m, &e);
    if (!m)
        e = 0;
    while (m && !(m & 1)) {
        m >>= 1;
        e++;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "0x%llxp%+d%c", (unsigned long long)m, e, sep);
    mb_buf_add(b, tmp, (size_t)n);
}

/* A fixed-point wide integer (unit 2^-scale) in the same odd-hex form. */
static void put_big(mb_buf *b, const uint64_t *L, int n, int scale, char sep)
{
    int lo = 0, hi = n - 1;
    while (lo < n && !L[lo])
        lo++;
    if (lo == n) {
        char z[8] = "0x0p+0";
        z[6] = sep;
        mb_buf_add(b, z, 7);
        return;
    }
    while (!L[hi])
        hi--;
    int lob = 64 * lo + __builtin_ctzll(L[lo]);
    int hib = 64 * hi + 63 - __builtin_clzll(L[hi]);
    char tmp[MB_HSQ_LIMBS * 16 + 32];
    size_t k = 0;
    tmp[k++] = '0';
    tmp[k++] = 'x';
    for (int j = (hib - lob) / 4; j >= 0; j--) {
        int pos = lob + 4 * j, li = pos / 64, r = pos % 64;
        uint64_t d = L[li] >> r;
        if (r > 60 && li + 1 < n)
            d |= L[li + 1] << (64 - r);
        tmp[k++] = "0123456789abcdef"[d & 15];
    }
    k += (size_t)snprintf(tmp + k, sizeof tmp - k, "p%+d%c", lob - scale, sep);
    mb_buf_add(b, tmp, k);
}

/* Serializes h; runs of adjacent non-empty slots share one header, so a dense
 * histogram costs about one or two chars per slot. */
int mb_hist_encode(const mb_hist *h, char **out, size_t *len)
{
    mb_buf b = MB_BUF_INIT;
    char head[16];
    int n = snprintf(head, sizeof head, "mbh1:%d,", h->digits);
    mb_buf_add(&b, head, (size_t)n);
    put_double(&b, h->lowest, ',');
    put_double(&b, h->highest, ',');
    put_u64(&b, h->count, ',');
    put_u64(&b, h->saturated, ',');
    put_double(&b, h->min, ',');
    put_double(&b, h->max, ',');
    put_big(&b, h->sum, MB_HSUM_LIMBS, MB_HSUM_SCALE, ',');
    put_big(&b, h->sumsq, MB_HSQ_LIMBS, MB_HSQ_SCALE, ',');
    size_t prev_end = 0;
    int first = 1;
    for (size_t i = h->lo_idx; i <= h->hi_idx && i < h->len;) {
        if (!h->counts[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 <= h->hi_idx && h->counts[j + 1])
            j++;
        put_varint(&b, first ? i : i - prev_end - 1);
        put_varint(&b, j - i);
        put_varint(&b, h->counts[i] - 1);
        for (size_t k = i + 1; k <= j; k++) {
            uint64_t d = h->counts[k] - h->counts[k - 1];
            put_varint(&b, (d << 1) ^ (0 - (d >> 63)));
        }
        first = 0;
        prev_end = j + 1;
        i = j + 1;
    }
    if (b.oom) {
        mb_buf_free(&b);
        *out = NULL;
        if (len)
            *len = 0;
        return MB_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}

/* ---- decode ------------------------------------------------------------------ */

typedef struct { const char *s, *end; } cur;

/* Consumes the literal l if it is next. */
static int lit(cur *c, const char *l, size_t n)
{
    if ((size_t)(c->end - c->s) < n || memcmp(c->s, l, n))
        return 0;
    c->s += n;
    return 1;
}

/* Next char is an ASCII digit (locale-free, unlike isdigit). */
static int isdig(const cur *c) { return c->s < c->end && *c->s >= '0' && *c->s <= '9'; }

/* Decimal u64 without sign, leading zeros or overflow. */
static int get_u64(cur *c, uint64_t *out)
{
    uint64_t v = 0;
    if (!isdig(c) || (*c->s == '0' && c->s + 1 < c->end && c->s[1] >= '0' && c->s[1] <= '9'))
        return 0;
    while (isdig(c)) {
        unsigned d = (unsigned)(*c->s++ - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* Lowercase hex digit value, else -1: uppercase is not canonical. */
static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Canonical "0x<hex>p<exp>": lowercase hex, odd unless exactly 0 (then exp
 * is +0), explicit sign ("+0", never "-0"), at most 5 exponent digits. */
static int get_hexp(cur *c, const char **dig, size_t *nd, int *exp)
{
    if (!lit(c, "0x", 2))
        return 0;
    *dig = c->s;
    while (c->s < c->end && hexval(*c->s) >= 0)
        c->s++;
    *nd = (size_t)(c->s - *dig);
    if (!*nd || !lit(c, "p", 1) || c->s == c->end || (*c->s != '+' && *c->s != '-'))
        return 0;
    int neg = *c->s++ == '-';
    const char *e0 = c->s;
    uint64_t e;
    if (!get_u64(c, &e) || c->s - e0 > 5 || (neg && !e))
        return 0;
    *exp = neg ? -(int)e : (int)e;
    if (*nd == 1 && **dig == '0')
        return e == 0;
    return **dig != '0' && (hexval((*dig)[*nd - 1]) & 1);
}

/* A double printed by put_double: exact, finite, >= 0. */
static int get_double(cur *c, double *out)
{
    const char *dig;
    size_t nd;
    int e, e2;
    uint64_t m = 0, m2;
    if (!get_hexp(c, &dig, &nd, &e) || nd > 14)
        return 0;
    for (size_t i = 0; i < nd; i++)
        m = m << 4 | (uint64_t)hexval(dig[i]);
    if (m >> 53)
        return 0;
    double v = ldexp((double)m, e);
    if (!isfinite(v))
        return 0;
    mb_hist__split(v, &m2, &e2);
    if (!m2)
        e2 = 0;
    while (m2 && !(m2 & 1)) {
        m2 >>= 1;
        e2++;
    }
    if (m2 != m || e2 != e)
        return 0;                     /* inexact (under/overflow) */
    *out = v;
    return 1;
}

/* A wide integer printed by put_big; every set bit must fit n limbs. */
static int get_big(cur *c, uint64_t *L, int n, int scale)
{
    const char *dig;
    size_t nd;
    int e;
    if (!get_hexp(c, &dig, &nd, &e))
        return 0;
    memset(L, 0, (size_t)n * sizeof *L);
    if (nd == 1 && *dig == '0')
        return 1;
    if (e + scale < 0 || nd > (size_t)n * 16)
        return 0;
    size_t nbits = (size_t)n * 64;
    for (size_t j = 0; j < nd; j++) {
        uint64_t d = (uint64_t)hexval(dig[nd - 1 - j]);
        size_t pos = (size_t)(e + scale) + 4 * j;
        for (int k = 0; k < 4; k++, pos++) {
            if (!(d >> k & 1))
                continue;
            if (pos >= nbits)
                return 0;
            L[pos / 64] |= (uint64_t)1 << (pos % 64);
        }
    }
    return 1;
}

/* Index of ch in the base64url alphabet, else -1. */
static int b64val(char ch)
{
    const char *p = ch ? memchr(B64, ch, 64) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Minimal varint: at most 64 bits, no trailing zero groups. */
static int get_varint(cur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; c->s < c->end; shift += 5) {
        int d = b64val(*c->s++);
        if (d < 0 || shift > 60 || (shift == 60 && (d & 31) > 15))
            return 0;
        v |= (uint64_t)(d & 31) << shift;
        if (!(d & 32)) {
            if (shift && !(d & 31))
                return 0;
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* Reads the slot runs into h (fresh) and checks they sum to h->count. */
static int get_slots(cur *c, mb_hist *h)
{
    size_t limit = mb_hist__index(h, h->hi_units) + 1, next = 0;
    uint64_t total = 0, v, run, n;
    for (int first = 1; c->s < c->end; first = 0) {
        if (!get_varint(c, &v) || !get_varint(c, &run) || v >= limit)
            return 0;
        size_t i = next + (size_t)v + !first;
        if (i >= limit || run >= limit - i)
            return 0;
        for (uint64_t k = 0, prev = 0; k <= run; k++, i++) {
            if (!get_varint(c, &n))
                return 0;
            n = k ? prev + ((n >> 1) ^ (0 - (n & 1))) : n + 1;
            if (!n || total > UINT64_MAX - n)
                return 0;
            h->counts[i] = prev = n;
            total += n;
            if (i < h->lo_idx)
                h->lo_idx = i;
            h->hi_idx = i;
        }
        next = i;
    }
    return total == h->count;
}

/* Compares two n-limb wide integers: -1, 0, 1. */
static int big_cmp(const uint64_t *a, const uint64_t *b, int n)
{
    while (n--)
        if (a[n] != b[n])
            return a[n] < b[n] ? -1 : 1;
    return 0;
}

/* Whether the exact sums fit their bounds: count*min <= sum <= count*max,
 * and the same for the squares, so mean and stddev stay within [min, max]. */
static int sums_ok(const mb_hist *h)
{
    uint64_t lo1[MB_HSUM_LIMBS] = {0}, lo2[MB_HSQ_LIMBS] = {0};
    uint64_t hi1[MB_HSUM_LIMBS] = {0}, hi2[MB_HSQ_LIMBS] = {0};
    mb_hist__moments_add(lo1, lo2, h->min, h->count);
    mb_hist__moments_add(hi1, hi2, h->max, h->count);
    return big_cmp(h->sum, lo1, MB_HSUM_LIMBS) >= 0 && big_cmp(h->sum, hi1, MB_HSUM_LIMBS) <= 0 &&
           big_cmp(h->sumsq, lo2, MB_HSQ_LIMBS) >= 0 && big_cmp(h->sumsq, hi2, MB_HSQ_LIMBS) <= 0;
}

/* Parses an encoding, then checks the invariants the rest of hist.c relies
 * on: slots inside [index(min), index(max)], saturated values in the top
 * slot, sums within count*[min, max], an empty histogram entirely zero.
 * Settings are validated by mb_hist_new before anything is allocated, which
 * bounds the counts array (ratio <= 2^53, digits <= 5: at most 38 MB). */
int mb_hist_decode(const char *s, size_t len, mb_hist **out)
{
    cur c = {s, s + len};
    mb_hist *h = NULL;
    double lowest, highest, mn, mx;
    uint64_t count, sat;
    int rc = MB_EPARSE, digits;
    *out = NULL;
    if (!s || !lit(&c, "mbh1:", 5) || c.s == c.end || *c.s < '1' || *c.s > '5')
        goto out;
    digits = *c.s++ - '0';
    if (!lit(&c, ",", 1) || !get_double(&c, &lowest) || !lit(&c, ",", 1) ||
        !get_double(&c, &highest) || !lit(&c, ",", 1) ||
        !get_u64(&c, &count) || !lit(&c, ",", 1) ||
        !get_u64(&c, &sat) || !lit(&c, ",", 1) ||
        !get_double(&c, &mn) || !lit(&c, ",", 1) ||
        !get_double(&c, &mx) || !lit(&c, ",", 1) || mn > mx || sat > count)
        goto out;
    rc = mb_hist_new(&h, lowest, highest, digits);
    if (rc) {
        rc = rc == MB_ENOMEM ? rc : MB_EPARSE;
        goto out;
    }
    rc = MB_EPARSE;
    h->count = count;
    h->saturated = sat;
    h->min = mn;
    h->max = mx;
    if (!get_big(&c, h->sum, MB_HSUM_LIMBS, MB_HSUM_SCALE) || !lit(&c, ",", 1) ||
        !get_big(&c, h->sumsq, MB_HSQ_LIMBS, MB_HSQ_SCALE) || !lit(&c, ",", 1) ||
        !get_slots(&c, h))
        goto out;
    if (!count) {
        static const uint64_t z[MB_HSQ_LIMBS];
        if (mx != 0 || memcmp(h->sum, z, sizeof h->sum) || memcmp(h->sumsq, z, sizeof h->sumsq))
            goto out;
    } else {
        size_t top = mb_hist__index(h, h->hi_units);
        if (h->lo_idx < mb_hist__index(h, mb_hist__units(h, mn)) ||
            h->hi_idx > mb_hist__index(h, mb_hist__units(h, mx)) ||
            sat > h->counts[top] || (sat && !(mx > highest)) || !sums_ok(h))
            goto out;
    }
    *out = h;
    h = NULL;
    rc = 0;
out:
    mb_hist_free(h);
    return rc;
}

/* tok_unicode.c: lookups in the reference's own Unicode data
 * (tok_unicode_ref.c, generated from Hugging Face's tokenizers by
 * tests/node/gen_unicode_tables.mjs).
 *
 * The reference's components do not share one Unicode version: Oniguruma's
 * classes are 16.0, Rust's char methods newer, its normalization and
 * punctuation crates older. Debian 12's PCRE2 10.42 knows Unicode 14.0 and
 * utf8proc 2.8 knows 15.0. A letter of a script added since (Kawi, Garay,
 * CJK extensions H and I, ...) would otherwise not be \p{L} and a piece
 * would be cut elsewhere than the reference cuts it; a character its
 * normalizer does not know yet would be decomposed. So patterns get the
 * characters PCRE2's tables miss added to their \p{..} classes, and the
 * character tests and normalizers read the reference's tables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

int tok_in_ranges(const tok_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

const char *tok_ref_lowercase(uint32_t cp)
{
    size_t lo = 0, hi = tok_ref_lower_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_ref_lower[mid].cp)
            hi = mid;
        else if (cp > tok_ref_lower[mid].cp)
            lo = mid + 1;
        else
            return tok_ref_lower[mid].s;
    }
    return NULL;
}

const char *tok_u16_category(uint32_t cp)
{
    size_t lo = 0, hi = tok_ref_category_n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < tok_ref_category[mid].lo)
            hi = mid;
        else if (cp > tok_ref_category[mid].hi)
            lo = mid + 1;
        else
            return tok_ref_category[mid].cat;
    }
    return NULL;
}

/* Whether category cat belongs to property name p (a general category:
 * one letter, two letters, or LC / L& for the cased letters). */
static int in_prop(const char *cat, const char *p, size_t n)
{
    if (n == 1)
        return cat[0] == p[0];
    if (n == 2 && (memcmp(p, "LC", 2) == 0 || memcmp(p, "L&", 2) == 0))
        return cat[0] == 'L' && (cat[1] == 'u' || cat[1] == 'l' || cat[1] == 't');
    return n == 2 && cat[0] == p[0] && cat[1] == p[1];
}

int tok_u16_is_category(const char *p, size_t n)
{
    static const char *cats[] = {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "LC", "L&", "M", "Mn", "Mc",
        "Me", "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm",
        "Sc", "Sk", "So", "Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co", "Cs", "Cn"};
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++)
        if (strlen(cats[i]) == n && memcmp(cats[i], p, n) == 0)
            return 1;
    return 0;
}

int tok_u16_ranges(const char *p, size_t n, tok_buf *out)
{
    for (size_t i = 0; i < tok_ref_category_n; i++) {
        const tok_catrange *d = &tok_ref_category[i];
        if (!in_prop(d->cat, p, n))
            continue;
        char r[48];
        int l = d->lo == d->hi ? snprintf(r, sizeof r, "\\x{%X}", (unsigned)d->lo)
                               : snprintf(r, sizeof r, "\\x{%X}-\\x{%X}", (unsigned)d->lo, (unsigned)d->hi);
        if (tok_buf_put(out, r, (size_t)l) < 0)
            return MB_ENOMEM;
    }
    return 0;
}

int tok_pcre2_unicode_ge16(void)
{
    static int v = -1;
    if (v < 0) {
        char b[32] = "";
        pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, b);
        v = atoi(b) >= 16;
    }
    return v;
}

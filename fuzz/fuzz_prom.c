/* fuzz_prom.c: the Prometheus text parser on arbitrary bytes. Byte 0
 * chooses the flags (bit 0: OpenMetrics), the rest is the scrape. Every
 * sample must satisfy the parser's promises -- a non-empty name, a family
 * that is its name or a prefix of it, labels that iterate to their end
 * with every value unescaped -- and parsing the text in two pieces cut at
 * a line boundary must deliver the same samples, errors and lines as the
 * whole (lines are judged alone: only the family state, which sets types,
 * is lost at the cut). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/prom.h"

typedef struct { unsigned n; } tally;

static int on_sample(void *ud, const mb_prom_sample *s)
{
    tally *t = ud;
    mb_prom_labels it;
    const char *ln;
    size_t lnl, vl;
    char v[16];
    if (!s->name || !s->name_len || !s->family || !s->family_len || s->family_len > s->name_len)
        abort();
    if (s->family != s->name && memcmp(s->family, s->name, s->family_len) != 0)
        abort();
    if (s->suffix[0] && strlen(s->suffix) != s->name_len - s->family_len)
        abort();
    if (!s->line || (s->has_ts != 0 && s->has_ts != 1))
        abort();
    mb_prom_labels_init(&it, s);
    unsigned k = 0;
    while (mb_prom_labels_next(&it, &ln, &lnl, v, sizeof v, &vl) > 0) {
        if (!lnl || v[sizeof v - 1 < vl ? sizeof v - 1 : vl] != 0)
            abort();
        if (++k > s->labels_len)
            abort();   /* a label costs at least one byte of the raw text */
    }
    /* validated text is read to its end: only blanks and commas are left */
    for (const char *p = it.p; p < it.end; p++)
        if (*p != ' ' && *p != '\t' && *p != ',')
            abort();
    char help[8];
    mb_prom_unescape(s->help, s->help_len, help, sizeof help);
    t->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int flags = (data[0] & 1) ? MB_PROM_OPENMETRICS : 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    tally whole = {0}, a = {0}, b = {0};
    mb_prom_result r, ra, rb;
    if (mb_prom_parse(text, len, flags, on_sample, &whole, &r) != 0 || whole.n != r.samples)
        abort();
    if (r.errors > r.lines || r.samples > r.lines || (r.errors && !r.first_error_line))
        abort();
    const char *mid = len ? memchr(text + len / 2, '\n', len - len / 2) : NULL;
    if (mid && !r.eof) {
        size_t cut = (size_t)(mid + 1 - text);
        mb_prom_parse(text, cut, flags, on_sample, &a, &ra);
        mb_prom_parse(text + cut, len - cut, flags, on_sample, &b, &rb);
        if (rb.eof)
            return 0;
        if (a.n + b.n != whole.n || ra.errors + rb.errors != r.errors ||
            ra.lines + rb.lines != r.lines)
            abort();
    }
    return 0;
}

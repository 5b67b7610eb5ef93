/* hist_hdr.c: mb_hist in HdrHistogram's V2 binary encoding, the payload of
 * an HdrHistogram interval log line (once deflated and base64'd, which the
 * Lua binding does). Exact: mb_hist's slots are HdrHistogram's counts array
 * for lowestDiscernibleValue 1 in units of `lowest` (hist_int.h).
 *
 *   int32  cookie 0x1c849313 (V2, LEB128+ZigZag counts)
 *   int32  payload bytes
 *   int32  normalizingIndexOffset (0)
 *   int32  numberOfSignificantValueDigits
 *   int64  lowestDiscernibleValue (1)
 *   int64  highestTrackableValue (highest, in units)
 *   double integerToDoubleValueConversionRatio (1.0)
 *   counts up to the slot of the highest value: ZigZag LEB128 (9 bytes at
 *   most, the 9th taking 8 bits); a run of k > 1 empty slots is written -k.
 * All big-endian. */
#include <stdlib.h>
#include "mlxbench/errors.h"
#include "hist_int.h"

#define HDR_V2_COOKIE 0x1c849313u
#define HDR_HEADER 40

static unsigned char *put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* HdrHistogram's ZigZagEncoding.putLong: 7 bits a byte, low first, the 9th
 * byte carries the last 8 bits whole. */
static unsigned char *put_zigzag(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    for (int i = 0; i < 8; i++) {
        if (z < 0x80) {
            *p++ = (unsigned char)z;
            return p;
        }
        *p++ = (unsigned char)((z & 0x7f) | 0x80);
        z >>= 7;
    }
    *p++ = (unsigned char)z;
    return p;
}

int mb_hist_hdr_encode(const mb_hist *h, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    /* Counts run to the slot of the highest value recorded (none: none). */
    size_t limit = h->count ? h->hi_idx + 1 : 0;
    /* Worst case 9 bytes a slot, plus the header. */
    unsigned char *buf = malloc(HDR_HEADER + 9 * limit + 1);
    if (!buf)
        return MB_ENOMEM;
    unsigned char *p = buf + HDR_HEADER;
    for (size_t i = 0; i < limit;) {
        uint64_t c = h->counts[i++];
        if (c == 0) {
            int64_t zeros = 1;
            while (i < limit && h->counts[i] == 0) {
                zeros++;
                i++;
            }
            p = put_zigzag(p, zeros > 1 ? -zeros : 0);
        } else {
            /* Counts above 2^63 cannot occur (the total fits 64 bits). */
            p = put_zigzag(p, (int64_t)c);
        }
    }
    size_t payload = (size_t)(p - buf) - HDR_HEADER;
    if (payload > 0x7fffffff) {
        free(buf);
        return MB_EINVAL;
    }
    union { double d; uint64_t u; } one = { 1.0 };
    unsigned char *q = buf;
    q = put_be(q, HDR_V2_COOKIE, 4);
    q = put_be(q, payload, 4);
    q = put_be(q, 0, 4);
    q = put_be(q, (uint64_t)h->digits, 4);
    q = put_be(q, 1, 8);
    q = put_be(q, h->hi_units, 8);
    put_be(q, one.u, 8);
    *out = buf;
    *len = HDR_HEADER + payload;
    return 0;
}

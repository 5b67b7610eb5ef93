/* sha256.c: SHA-256 per FIPS 180-4. On x86-64 CPUs with the SHA
 * extensions the blocks go through them (about 8x faster: a 9 MB
 * tokenizer file hashes in a few milliseconds); elsewhere the portable
 * rounds. */
#include <string.h>
#include "mlxbench/sha256.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define MB_SHA_NI 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

/* One 64-byte block. */
static void block(mb_sha256 *s, const uint8_t *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
    s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

#ifdef MB_SHA_NI
/* n blocks with the SHA extensions (sha256rnds2, sha256msg1/2). */
__attribute__((target("sha,sse4.1")))
static void blocks_ni(uint32_t h[8], const uint8_t *p, size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i st1 = _mm_loadu_si128((const __m128i *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);               /* CDAB */
    st1 = _mm_shuffle_epi32(st1, 0x1B);               /* EFGH */
    __m128i st0 = _mm_alignr_epi8(tmp, st1, 8);       /* ABEF */
    st1 = _mm_blend_epi16(st1, tmp, 0xF0);            /* CDGH */
    for (; n; n--, p += 64) {
        __m128i abef = st0, cdgh = st1, w[16];
        for (int i = 0; i < 16; i++) {
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
            } else {
                __m128i t = _mm_alignr_epi8(w[i - 1], w[i - 2], 4);
                w[i] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]), t),
                                            w[i - 1]);
            }
            __m128i m = _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, m);
            st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(m, 0x0E));
        }
        st0 = _mm_add_epi32(st0, abef);
        st1 = _mm_add_epi32(st1, cdgh);
    }
    tmp = _mm_shuffle_epi32(st0, 0x1B);               /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);               /* DCHG */
    st0 = _mm_blend_epi16(tmp, st1, 0xF0);            /* DCBA */
    st1 = _mm_alignr_epi8(st1, tmp, 8);               /* ABEF */
    _mm_storeu_si128((__m128i *)&h[0], st0);
    _mm_storeu_si128((__m128i *)&h[4], st1);
}

/* CPUID: leaf 7 EBX bit 29 (SHA), leaf 1 ECX bit 19 (SSE4.1). */
static int have_ni(void)
{
    static int v = -1;
    if (v < 0) {
        unsigned a, b, c, d;
        int sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1);
        int sse41 = __get_cpuid(1, &a, &b, &c, &d) && (c >> 19 & 1);
        v = sha && sse41;
    }
    return v;
}
#endif

/* n consecutive blocks. */
static void blocks(mb_sha256 *s, const uint8_t *p, size_t n)
{
#ifdef MB_SHA_NI
    if (have_ni()) {
        blocks_ni(s->h, p, n);
        return;
    }
#endif
    for (; n; n--, p += 64)
        block(s, p);
}

void mb_sha256_init(mb_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->len = 0;
    s->nbuf = 0;
}

void mb_sha256_update(mb_sha256 *s, const void *data, size_t n)
{
    const uint8_t *p = data;
    s->len += n;
    if (s->nbuf) {
        size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k, p += k, n -= k;
        if (s->nbuf == 64) {
            blocks(s, s->buf, 1);
            s->nbuf = 0;
        }
    }
    blocks(s, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
    if (n) {
        memcpy(s->buf, p, n);
        s->nbuf = n;
    }
}

void mb_sha256_hex(mb_sha256 *s, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t bits = s->len * 8;
    uint8_t pad = 0x80, zero = 0, len[8];
    mb_sha256_update(s, &pad, 1);
    while (s->nbuf != 56)
        mb_sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    mb_sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < 4; k++) {
            uint8_t byte = (uint8_t)(s->h[i] >> (24 - 8 * k));
            out[8 * i + 2 * k] = hex[byte >> 4];
            out[8 * i + 2 * k + 1] = hex[byte & 15];
        }
    out[64] = 0;
}

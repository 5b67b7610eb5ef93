/* sha256: SHA-256 (FIPS 180-4), for naming the exact files a run used
 * (a tokenizer's hash goes into the results). Pure C. */
#ifndef MLXBENCH_SHA256_H
#define MLXBENCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
} mb_sha256;

void mb_sha256_init(mb_sha256 *s);
void mb_sha256_update(mb_sha256 *s, const void *data, size_t n);
/* Writes the digest as 64 lowercase hex characters and a NUL. */
void mb_sha256_hex(mb_sha256 *s, char out[65]);

#endif

/* utf8: the UTF-8 encoder shared by the JSON reader (\u escapes) and the
 * tokenizer (byte-level alphabets, replacement characters). Pure C. */
#ifndef MLXBENCH_UTF8_H
#define MLXBENCH_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Writes code point cp (<= 0x10FFFF) as UTF-8 into out (room for 4);
 * returns the bytes written. */
size_t mb_utf8_put(uint32_t cp, char *out);

#endif

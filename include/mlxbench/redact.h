/* redact: the one redactor every byte mlxbench prints or writes goes
 * through, so an API key never reaches a terminal, a log or a file.
 *
 * Two levels:
 *   MB_REDACT_KNOWN   the secrets registered in this process (API keys,
 *                     credentials found in target URLs and secret headers):
 *                     every occurrence, and every piece of 8 or more
 *                     characters of one (a key cut in half by a message
 *                     limit, or partly masked by a server, still goes).
 *                     Safe for any output: results files, reports, stdout.
 *   MB_REDACT_SHAPES  also text shaped like a credential, for messages
 *                     (server errors, transport errors, traces, stderr):
 *                     `sk-...`, `Bearer ...`, `Basic <base64>`, the value
 *                     of a secret header or parameter (`x-api-key: ...`,
 *                     `"api_key": "..."`, `?key=...`, `&sig=...`) and URL
 *                     user info (`https://user:pass@host`).
 *
 * The registry is process-wide (engine threads share it) and guarded by a
 * mutex; the matching itself is pure string work. Pure C, no I/O. */
#ifndef MLXBENCH_REDACT_H
#define MLXBENCH_REDACT_H

#include <stddef.h>

enum {
    MB_REDACT_KNOWN = 1,
    MB_REDACT_SHAPES = 2,
    MB_REDACT_TEXT = 3,       /* KNOWN | SHAPES: for messages */
    MB_REDACT_URL = 4         /* with SHAPES: URL style -- user info dropped,
                                 parameter values become REDACTED */
};

/* The marker that replaces a secret. */
#define MB_REDACTED "[REDACTED]"

/* Secrets shorter than this are ignored (they would redact ordinary text). */
#define MB_REDACT_MIN_SECRET 4
/* Pieces of a known secret at least this long are redacted too. */
#define MB_REDACT_PIECE 8

/* Registers a secret (copied). 0, or MB_EINVAL (too short, over 4 KiB, or
 * the registry is full) / MB_ENOMEM. Registering one twice is harmless. */
int mb_redact_add_secret(const char *s, size_t n);
/* Marks a header or parameter name as secret (compared case-insensitively)
 * beyond the built-in ones. 0, MB_EINVAL or MB_ENOMEM. */
int mb_redact_add_name(const char *name, size_t n);
/* 1 when a header or parameter name carries a credential: the built-in
 * list (authorization, x-api-key, api-key, cookie, ...), any name holding
 * key, token (not tokens), secret, passw, signature, credential or auth,
 * and the names added with mb_redact_add_name. */
int mb_redact_secret_name(const char *name, size_t n);
/* Number of secrets registered (tests). */
int mb_redact_count(void);
/* Forgets every secret and name (frees the registry): at process exit,
 * once nothing prints any more. */
void mb_redact_reset(void);

/* Redacts in[0..n) at the given level. Returns 0 when nothing matched
 * (*out untouched), 1 with *out a malloc'd NUL-terminated copy of *outlen
 * bytes, or MB_ENOMEM. */
int mb_redact(const char *in, size_t n, int flags, char **out, size_t *outlen);

/* Redacts the NUL-terminated text in buf (capacity cap) in place, then
 * truncates it to fit: the redaction comes first, so a secret cut by the
 * limit is already gone. On MB_ENOMEM the text is replaced by a marker. */
void mb_redact_buf(char *buf, size_t cap, int flags);

#endif

/* tok: exact tokenizers -- Hugging Face `tokenizer.json` (BPE models) and
 * OpenAI tiktoken rank files -- so token counts and prompt lengths are the
 * model's own, not an estimate.
 *
 * Encoding and decoding follow Hugging Face's `tokenizers` (and OpenAI's
 * `tiktoken`) exactly; tests/e2e/test_tokenizer_oracle.sh compares ids with
 * both on a large mixed corpus. A file that uses a component this code does
 * not implement is refused at load with that component's name: never an
 * approximation. Regular expressions run on PCRE2 (UTF mode, JIT), Unicode
 * normalization on utf8proc. No I/O besides reading the file to load.
 *
 * A loaded mb_tok is immutable and may be shared by threads; each thread
 * encodes through its own mb_tok_enc (word cache, regex match data). */
#ifndef MLXBENCH_TOK_H
#define MLXBENCH_TOK_H

#include <stddef.h>
#include <stdint.h>

typedef struct mb_tok mb_tok;
typedef struct mb_tok_enc mb_tok_enc;

#define MB_TOK_ERRLEN 256

/* Loads a tokenizer from a file: a Hugging Face tokenizer.json, a tiktoken
 * `.tiktoken` rank file (o200k_base, cl100k_base), or the JSON rank format
 * of the tiktoken npm package ({"pat_str", "special_tokens", "bpe_ranks"}).
 * A directory is searched for tokenizer.json. Returns 0, or a negative
 * MB_E* code with a one-line reason in err (MB_EINVAL: unsupported
 * component; MB_EPARSE: malformed file; MB_EIO: unreadable). */
int mb_tok_load_file(const char *path, mb_tok **out, char *err, size_t errlen);
/* The same from bytes in memory; `name` (a file name, may be NULL) tells a
 * .tiktoken rank file which encoding it is when the content cannot. */
int mb_tok_load_mem(const char *data, size_t n, const char *name, mb_tok **out,
                    char *err, size_t errlen);
void mb_tok_free(mb_tok *t);

/* "tokenizer.json" or "tiktoken:o200k_base" (...): what was loaded. */
const char *mb_tok_kind(const mb_tok *t);
/* Vocabulary size with added tokens, as Hugging Face's
 * get_vocab_size(with_added_tokens=true) counts it. */
size_t mb_tok_vocab_size(const mb_tok *t);
/* Id of a token given as its vocabulary string (an added token's content,
 * or the model's own form, e.g. "Ġthe"), or -1. */
int64_t mb_tok_token_id(const mb_tok *t, const char *s, size_t n);

/* Per-thread encoder state; NULL when out of memory. */
mb_tok_enc *mb_tok_enc_new(const mb_tok *t);
void mb_tok_enc_free(mb_tok_enc *e);

/* Encodes text (UTF-8; invalid sequences are read as U+FFFD, as a
 * lossy conversion would). add_special adds what the post-processor adds
 * (a BOS for Llama, Gemma...) -- Hugging Face's add_special_tokens; for
 * tiktoken it allows special tokens in the text (allowed_special="all"),
 * else they are plain text (encode_ordinary). Added tokens of a
 * tokenizer.json are always matched in the text, as the reference does.
 * *ids stays valid until the next call on e. Returns 0 or MB_ENOMEM. */
int mb_tok_encode(mb_tok_enc *e, const char *text, size_t n, int add_special,
                  const uint32_t **ids, size_t *nids);

/* Decodes ids to text (malloc'ed, NUL-terminated; *len without the NUL)
 * through the tokenizer's decoder; unknown ids are skipped, as the
 * reference does. skip_special drops special tokens. 0 or MB_ENOMEM. */
int mb_tok_decode(const mb_tok *t, const uint32_t *ids, size_t n, int skip_special,
                  char **out, size_t *len);

#endif

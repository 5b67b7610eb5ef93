/* tok_int.h: the tokenizer's internal structures, shared by the files of src/tok.
 *
 * Encoding follows Hugging Face's pipeline, stage by stage:
 *   added tokens (not normalized) -> normalizer -> added tokens (normalized)
 *   -> pre-tokenizer stages -> model (BPE) -> post-processor,
 * streamed piece by piece: each stage splits or transforms a piece and hands
 * each result to the next stage, so nothing is allocated per piece once the
 * encoder's buffers have grown. */
#ifndef MB_TOK_INT_H
#define MB_TOK_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>
#include "mlxbench/tok.h"
#include "mlxbench/utf8.h"

/* ---- small containers (tok_util.c) ------------------------------------- */

typedef struct tok_buf { char *p; size_t len, cap; } tok_buf;
typedef struct tok_ids { uint32_t *p; size_t len, cap; } tok_ids;
/* One piece of a split: [s, e) with the id of an added token, or -1. */
typedef struct tok_span { uint32_t s, e; int32_t id; } tok_span;
typedef struct tok_spans { tok_span *p; size_t len, cap; } tok_spans;

int tok_buf_reserve(tok_buf *b, size_t extra);
int tok_buf_put(tok_buf *b, const void *s, size_t n);
int tok_ids_push(tok_ids *v, uint32_t id);
int tok_spans_push(tok_spans *v, uint32_t s, uint32_t e, int32_t id);
uint64_t tok_hash(const void *p, size_t n);
/* Formats a load error into err (snprintf-style); returns code. */
int tok_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- UTF-8 and character classes (tok_utf8.c) -------------------------- */

/* Decodes one code point at p (n > 0 bytes left, valid UTF-8); *l = bytes. */
uint32_t tok_utf8_get(const char *p, size_t n, size_t *l);
/* Length of the valid prefix of s (n bytes) as UTF-8. */
size_t tok_utf8_valid(const char *s, size_t n);
/* Appends s to b, each maximal invalid subpart replaced by U+FFFD, as
 * Rust's String::from_utf8_lossy does. */
int tok_utf8_lossy(tok_buf *b, const char *s, size_t n);
int tok_category_is(uint32_t cp, char major);  /* general category's first letter */
int tok_is_whitespace(uint32_t cp);    /* Unicode White_Space (Rust char::is_whitespace) */
int tok_is_numeric(uint32_t cp);       /* general category N* (char::is_numeric) */
int tok_is_punct(uint32_t cp);         /* ASCII punctuation or category P* */
int tok_is_word(uint32_t cp);          /* Rust regex \w: Alphabetic, M, Nd, Pc, Join_Control */

/* ---- the reference's Unicode data (tok_unicode.c, tok_unicode_ref.c) ----- */

typedef struct tok_range { uint32_t lo, hi; } tok_range;
typedef struct tok_catrange { uint32_t lo, hi; char cat[3]; } tok_catrange;
typedef struct tok_lower { uint32_t cp; const char *s; } tok_lower;
extern const tok_range tok_ref_numeric[], tok_ref_punct[], tok_ref_mark[], tok_ref_norm_unknown[];
extern const size_t tok_ref_numeric_n, tok_ref_punct_n, tok_ref_mark_n, tok_ref_norm_unknown_n;
extern const tok_lower tok_ref_lower[];
extern const size_t tok_ref_lower_n;
extern const tok_catrange tok_ref_category[];
extern const size_t tok_ref_category_n;

int tok_in_ranges(const tok_range *r, size_t n, uint32_t cp);
/* The reference's lowercase of cp (UTF-8), or NULL when it keeps cp. */
const char *tok_ref_lowercase(uint32_t cp);

/* The category (two letters) of a character assigned since Unicode 14.0,
 * or NULL. */
const char *tok_u16_category(uint32_t cp);
/* Whether p[0..n) names a general category (L, Lu, ..., LC, L&). */
int tok_u16_is_category(const char *p, size_t n);
/* Appends the missing characters of category p as class items
 * (\x{..}-\x{..}) to out. */
int tok_u16_ranges(const char *p, size_t n, tok_buf *out);
/* Whether PCRE2's own tables are Unicode 16.0 or newer. */
int tok_pcre2_unicode_ge16(void);

/* ---- string tables and pair maps (tok_map.c) --------------------------- */

/* bytes -> id and id -> bytes over one arena; a key maps to one id, an id
 * to the last key set for it. Open addressing, one 16-byte slot per key
 * (tag, length, offset, id), so a lookup touches the slot and the key. */
typedef struct tok_strent { uint32_t tag, len, off, id; } tok_strent;
typedef struct tok_strtab {
    char *arena;
    size_t alen, acap;
    tok_strent *slots;          /* tag 0: empty */
    uint32_t mask, count;
    uint32_t *by_id;            /* id -> slot, TOK_NOSTR: none */
    uint32_t nid, idcap;        /* ids known (max id + 1) */
} tok_strtab;

#define TOK_NOSTR UINT32_MAX

int tok_strtab_init(tok_strtab *t, size_t expect);
void tok_strtab_free(tok_strtab *t);
/* Maps s -> id and id -> s (a key seen before now maps to id, as a JSON
 * object read into a hash map keeps the last value). */
int tok_strtab_set(tok_strtab *t, uint32_t id, const char *s, size_t n);
int64_t tok_strtab_find(const tok_strtab *t, const char *s, size_t n);
/* The same with the key's tok_hash given, and prefetches of the slot a
 * hash names and of the key stored there (for loops over many keys). */
int tok_strtab_set_h(tok_strtab *t, uint32_t id, const char *s, size_t n, uint64_t h);
int64_t tok_strtab_find_h(const tok_strtab *t, const char *s, size_t n, uint64_t h);
void tok_strtab_prefetch(const tok_strtab *t, uint64_t h);
void tok_strtab_prefetch_key(const tok_strtab *t, uint64_t h);
/* The string of id, or NULL. */
const char *tok_strtab_str(const tok_strtab *t, uint32_t id, size_t *n);

/* (left id, right id) -> (rank, merged id). */
typedef struct tok_pair { uint64_t key; uint32_t rank, id; } tok_pair;
typedef struct tok_pairmap { tok_pair *slot; uint32_t mask, count; } tok_pairmap;

int tok_pairmap_init(tok_pairmap *m, size_t expect);
void tok_pairmap_free(tok_pairmap *m);
int tok_pairmap_set(tok_pairmap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id);
const tok_pair *tok_pairmap_get(const tok_pairmap *m, uint32_t a, uint32_t b);
void tok_pairmap_prefetch(const tok_pairmap *m, uint32_t a, uint32_t b);

/* ---- regular expressions (tok_regex.c) ---------------------------------- */

enum { TOK_RE_ONIG,     /* Hugging Face Split/Replace patterns (Oniguruma) */
       TOK_RE_RUST };   /* tiktoken / Rust `regex` patterns */

typedef struct tok_re { pcre2_code *code; } tok_re;

/* Translates pat to PCRE2 and compiles it (UTF, UCP, JIT). A construct
 * whose meaning differs and cannot be translated is refused. */
int tok_re_compile(const char *pat, size_t n, int dialect, tok_re **out,
                   char *err, size_t errlen);
/* A literal (escaped) pattern. */
int tok_re_literal(const char *s, size_t n, tok_re **out, char *err, size_t errlen);
void tok_re_free(tok_re *re);
/* Translation only (for tests): PCRE2 pattern into b. */
int tok_re_translate(const char *pat, size_t n, int dialect, tok_buf *b,
                     char *err, size_t errlen);

/* Per-thread matching state. */
typedef struct tok_match {
    pcre2_match_data *md;
    pcre2_match_context *ctx;
    pcre2_jit_stack *stack;
} tok_match;

int tok_match_init(tok_match *m);
void tok_match_free(tok_match *m);
/* Every match of re in s, as Oniguruma's find_iter yields them (an empty
 * match right after the previous match is skipped), appended to out as
 * spans; id is 1 for a match, 0 for the text between. Returns 0,
 * MB_ENOMEM, or MB_ERANGE when PCRE2 gave up (stack or match limit). */
int tok_re_find_all(const tok_re *re, tok_match *m, const char *s, size_t n, tok_spans *out);

/* ---- components --------------------------------------------------------- */

enum { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWERCASE, NORM_STRIP,
       NORM_STRIP_ACCENTS, NORM_REPLACE, NORM_PREPEND, NORM_NMT, NORM_BYTELEVEL };

typedef struct tok_norm {
    int type;
    int left, right;            /* Strip */
    char *a; size_t alen;       /* Replace literal pattern, Prepend text */
    char *b; size_t blen;       /* Replace content */
    tok_re *re;                 /* Replace regex (NULL: literal a) */
} tok_norm;

/* Split behaviors (Hugging Face SplitDelimiterBehavior). */
enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT,
       SPLIT_CONTIGUOUS };

enum { PT_BYTELEVEL, PT_SPLIT, PT_METASPACE, PT_DIGITS, PT_WHITESPACE,
       PT_WHITESPACE_SPLIT, PT_PUNCT, PT_CHAR_DELIM };

enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

typedef struct tok_pretok {
    int type;
    int behavior, invert;       /* Split, Punctuation */
    tok_re *re;                 /* Split (literal patterns too), Whitespace */
    int add_prefix_space, use_regex;  /* ByteLevel */
    uint32_t ch;                /* Metaspace replacement, CharDelimiterSplit */
    char rep[4]; int rep_len;   /* the replacement as UTF-8 */
    int prepend, split;         /* Metaspace */
    int individual;             /* Digits */
} tok_pretok;

enum { DEC_BYTELEVEL, DEC_METASPACE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP,
       DEC_REPLACE, DEC_BPE };

typedef struct tok_dec {
    int type;
    uint32_t ch; int start, stop;   /* Strip (content, counts); Metaspace replacement */
    int prepend;                    /* Metaspace */
    char *a; size_t alen;           /* Replace pattern literal; BPEDecoder suffix */
    char *b; size_t blen;           /* Replace content */
    tok_re *re;
} tok_dec;

/* The post-processor as what it puts around a single sequence when asked
 * for special tokens: ids before and after. */
typedef struct tok_post { tok_ids before, after; int any; } tok_post;

/* ---- added tokens (tok_added.c) ----------------------------------------- */

typedef struct tok_added_tok {
    uint32_t id;
    char *content; size_t len;
    char *norm; size_t nlen;     /* content through the normalizer, if it differs */
    uint8_t special, lstrip, rstrip, normalized, single_word;
} tok_added_tok;

/* A byte trie for leftmost-longest matching. */
typedef struct tok_trie {
    int32_t root[256];          /* child of the root by byte, -1 */
    tok_pairmap edges;          /* (node, byte) -> child in .id */
    int32_t *value;             /* node -> added token index, -1 */
    uint32_t nnodes, cap;
} tok_trie;

typedef struct tok_added {
    tok_added_tok *tok;
    size_t n, cap;
    tok_strtab map;             /* content -> id */
    tok_trie raw, normed;       /* patterns matched before / after the normalizer */
    int has_raw, has_normed;
    tok_strtab special;         /* contents of special tokens (ids unused) */
    int32_t *by_id;             /* id -> index in tok, -1 (size nid) */
    uint32_t nid;
    uint32_t next_id;           /* the next id for a token new to both vocabularies */
} tok_added;

/* ---- the tokenizer ------------------------------------------------------ */

enum { TOK_HF = 1, TOK_TIKTOKEN = 2 };

struct mb_tok {
    int kind;
    char kind_name[48];
    /* model */
    tok_strtab vocab;           /* model vocabulary as in the file */
    uint32_t model_size;        /* entries in the model vocabulary */
    tok_pairmap merges;         /* HF BPE */
    int byte_fallback, fuse_unk, ignore_merges;
    int64_t unk_id;             /* -1: no unk token */
    char *prefix, *suffix;      /* continuing_subword_prefix, end_of_word_suffix */
    size_t prefix_len, suffix_len;
    int32_t fallback_id[256];   /* <0xXX> */
    /* byte level: the model sees each byte as one mapped character */
    int bytelevel_raw;          /* the pipeline hands raw bytes to the model */
    int32_t byte_id[256];       /* id of each byte's character */
    /* pipeline */
    tok_norm *norm; size_t nnorm;
    tok_pretok *pre; size_t npre;
    tok_dec *dec; size_t ndec;  int has_decoder;
    tok_post post;
    tok_added added;
    /* tiktoken */
    tok_re *pattern;
    tok_strtab specials;        /* tiktoken special tokens (content -> id) */
    tok_trie special_trie;
};

/* ---- encoder state ------------------------------------------------------ */

#define TOK_MAX_STAGES 16

typedef struct tok_sym { uint32_t c; int32_t prev, next; uint32_t start, len; } tok_sym;
typedef struct tok_merge { uint32_t rank, pos, id; } tok_merge;

typedef struct tok_cache_ent { uint64_t h; uint32_t koff, klen, ioff, n; } tok_cache_ent;

struct mb_tok_enc {
    const mb_tok *t;
    tok_match m;
    tok_ids out;
    tok_buf text, norm, norm2;
    tok_spans seg, seg2;
    tok_buf sbuf[TOK_MAX_STAGES], mbuf[TOK_MAX_STAGES];
    tok_spans ssp[TOK_MAX_STAGES];
    tok_buf word;               /* the model's input when it must be built */
    /* BPE scratch */
    tok_sym *sym; size_t nsym_cap;
    tok_merge *heap; size_t heap_cap;
    /* word cache */
    tok_cache_ent *cache; uint32_t cache_mask, cache_n;
    tok_buf cache_keys; tok_ids cache_ids;
};

/* ---- entry points between files ---------------------------------------- */

int tok_load_hf(mb_tok *t, const char *s, size_t n, char *err, size_t errlen);
int tok_load_tiktoken(mb_tok *t, const char *s, size_t n, const char *name,
                      char *err, size_t errlen);
void tok_components_free(mb_tok *t);

/* JSON component loaders (tok_load_parts.c). ctx is the parsed document. */
struct tok_json;
int tok_load_normalizer(mb_tok *t, struct tok_json *j, int i, char *err, size_t errlen);
int tok_load_pretokenizer(mb_tok *t, struct tok_json *j, int i, char *err, size_t errlen);
int tok_load_decoder(mb_tok *t, struct tok_json *j, int i, char *err, size_t errlen);
int tok_load_post(mb_tok *t, struct tok_json *j, int i, char *err, size_t errlen);

/* Normalizes s into out (which must not alias s). */
int tok_normalize(const mb_tok *t, mb_tok_enc *e, const char *s, size_t n, tok_buf *out);
int tok_normalize_one(const tok_norm *nm, mb_tok_enc *e, const char *s, size_t n, tok_buf *out);

/* Runs pre-tokenizer stages k.. on one piece, then the model. */
int tok_pretok_run(mb_tok_enc *e, size_t k, const char *s, size_t n, int at_start);

/* The model on one pre-tokenized piece; ids appended to e->out. raw: s is
 * raw text for a byte-level vocabulary (bytelevel_raw). */
int tok_bpe_piece(mb_tok_enc *e, const char *s, size_t n);
int tok_cache_init(mb_tok_enc *e);

/* Added tokens. */
int tok_added_add(mb_tok *t, mb_tok_enc *e, const char *content, size_t len, uint8_t special,
                  uint8_t lstrip, uint8_t rstrip, uint8_t normalized, uint8_t single_word,
                  char *err, size_t errlen);
int tok_added_build(mb_tok *t, char *err, size_t errlen);
void tok_added_free(tok_added *a);
/* Splits s with the raw (normed = 0) or normalized trie into spans. */
int tok_added_split(const mb_tok *t, int normed, const char *s, size_t n, tok_spans *out);
/* Leftmost-longest matches of trie in s: calls fn(ud, start, end, value). */
int tok_trie_init(tok_trie *tr);
void tok_trie_free(tok_trie *tr);
int tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t value);
int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, size_t *mlen);

/* Decoder chain over a list of strings. */
int tok_decode_chain(const mb_tok *t, tok_buf *arena, tok_spans *list);

/* The byte-level alphabet (GPT-2's bytes_to_unicode). */
extern const uint16_t tok_byte_char[256];
int tok_char_byte(uint32_t cp);     /* inverse, or -1 */

#endif

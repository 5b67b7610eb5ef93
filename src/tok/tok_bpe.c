/* tok_bpe.c: the BPE model on one pre-tokenized piece, as the reference's
 * Word::merge_all does it -- a min-heap of candidate merges ordered by
 * (rank, position) over a linked list of symbols, stale candidates skipped
 * -- so the result is identical, ties included, in O(n log n).
 *
 * Three ways to read the piece into symbols:
 *   - characters looked up in the vocabulary (SentencePiece-style files,
 *     with byte_fallback <0xXX> tokens and unk fusing);
 *   - bytes, for byte-level vocabularies read raw (each byte stands for its
 *     GPT-2 character; the piece is never mapped);
 *   - bytes ranked by tiktoken, where a pair's rank is the rank of the two
 *     parts' bytes together.
 * Pieces up to 256 bytes are cached per encoder: text repeats its words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

#define CACHE_KEY_MAX 256
#define CACHE_SLOTS (1u << 16)

int tok_cache_init(mb_tok_enc *e)
{
    e->cache = calloc(CACHE_SLOTS, sizeof *e->cache);
    if (!e->cache)
        return MB_ENOMEM;
    e->cache_mask = CACHE_SLOTS - 1;
    e->cache_n = 0;
    return 0;
}

static void cache_clear(mb_tok_enc *e)
{
    memset(e->cache, 0, (size_t)(e->cache_mask + 1) * sizeof *e->cache);
    e->cache_n = 0;
    e->cache_keys.len = 0;
    e->cache_ids.len = 0;
}

/* Slot of key (found: .n > 0 or a cached empty result has klen == n and
 * h == hash), or the empty slot for it. Slots with klen == 0 && h == 0 are
 * empty (keys are never empty). */
static tok_cache_ent *cache_slot(mb_tok_enc *e, const char *s, size_t n, uint64_t h)
{
    uint32_t j = (uint32_t)h & e->cache_mask;
    for (;;) {
        tok_cache_ent *c = &e->cache[j];
        if (c->klen == 0)
            return c;
        if (c->h == h && c->klen == n && memcmp(e->cache_keys.p + c->koff, s, n) == 0)
            return c;
        j = (j + 1) & e->cache_mask;
    }
}

static int cache_put(mb_tok_enc *e, const char *s, size_t n, uint64_t h, const uint32_t *ids,
                     size_t nids)
{
    if (e->cache_n >= CACHE_SLOTS / 2 || e->cache_keys.len > (64u << 20))
        cache_clear(e);
    tok_cache_ent *c = cache_slot(e, s, n, h);
    if (c->klen)
        return 0;
    size_t koff = e->cache_keys.len, ioff = e->cache_ids.len;
    if (tok_buf_put(&e->cache_keys, s, n) < 0)
        return MB_ENOMEM;
    for (size_t i = 0; i < nids; i++)
        if (tok_ids_push(&e->cache_ids, ids[i]) < 0)
            return MB_ENOMEM;
    *c = (tok_cache_ent){h, (uint32_t)koff, (uint32_t)n, (uint32_t)ioff, (uint32_t)nids};
    e->cache_n++;
    return 0;
}

static int sym_reserve(mb_tok_enc *e, size_t n)
{
    if (n <= e->nsym_cap)
        return 0;
    size_t nc = e->nsym_cap ? e->nsym_cap : 64;
    while (nc < n)
        nc *= 2;
    tok_sym *ns = realloc(e->sym, nc * sizeof *ns);
    if (!ns)
        return MB_ENOMEM;
    e->sym = ns;
    e->nsym_cap = nc;
    return 0;
}

/* Appends a symbol (Word::add). */
static void sym_add(mb_tok_enc *e, size_t *ns, uint32_t c, uint32_t start, uint32_t len)
{
    int32_t i = (int32_t)*ns;
    if (i > 0)
        e->sym[i - 1].next = i;
    e->sym[i] = (tok_sym){c, i - 1, -1, start, len};
    (*ns)++;
}

/* ---- the heap of candidate merges: min by rank, then position ----------- */

static int merge_less(const tok_merge *a, const tok_merge *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static int heap_push(mb_tok_enc *e, size_t *hn, tok_merge m)
{
    if (*hn == e->heap_cap) {
        size_t nc = e->heap_cap ? e->heap_cap * 2 : 64;
        tok_merge *nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh)
            return MB_ENOMEM;
        e->heap = nh;
        e->heap_cap = nc;
    }
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(&m, &e->heap[p]))
            break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = m;
    return 0;
}

static tok_merge heap_pop(mb_tok_enc *e, size_t *hn)
{
    tok_merge top = e->heap[0], last = e->heap[--(*hn)];
    size_t i = 0, n = *hn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && merge_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!merge_less(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* The merge of symbols a and b (adjacent, a first): 1 and *m when the
 * model has one. tiktoken: the rank of their bytes joined. */
static int pair_of(const mb_tok *t, const char *s, const tok_sym *a, const tok_sym *b,
                   tok_merge *m)
{
    if (t->kind == TOK_TIKTOKEN) {
        int64_t r = tok_strtab_find(&t->vocab, s + a->start, a->len + b->len);
        if (r < 0)
            return 0;
        m->rank = (uint32_t)r;
        m->id = (uint32_t)r;
        return 1;
    }
    const tok_pair *p = tok_pairmap_get(&t->merges, a->c, b->c);
    if (!p)
        return 0;
    m->rank = p->rank;
    m->id = p->id;
    return 1;
}

/* Word::merge_all. s is the piece (tiktoken reads pair bytes from it). */
static int merge_all(mb_tok_enc *e, const char *s, size_t ns)
{
    const mb_tok *t = e->t;
    tok_sym *sym = e->sym;
    size_t hn = 0;
    tok_merge m;
    for (size_t i = 0; i + 1 < ns; i++) {
        if (pair_of(t, s, &sym[i], &sym[i + 1], &m)) {
            m.pos = (uint32_t)i;
            if (heap_push(e, &hn, m) < 0)
                return MB_ENOMEM;
        }
    }
    while (hn) {
        tok_merge top = heap_pop(e, &hn);
        sym = e->sym;
        tok_sym *cur = &sym[top.pos];
        if (cur->len == 0 || cur->next == -1)
            continue;
        tok_sym right = sym[cur->next];
        /* a stale candidate: the pair there now merges differently */
        if (!pair_of(t, s, cur, &right, &m) || m.id != top.id)
            continue;
        size_t next_pos = (size_t)cur->next;
        cur->c = top.id;
        cur->len += right.len;
        cur->next = right.next;
        sym[next_pos].len = 0;
        if (right.next > -1 && (size_t)right.next < ns)
            sym[right.next].prev = (int32_t)top.pos;
        if (cur->prev >= 0 && pair_of(t, s, &sym[cur->prev], cur, &m)) {
            m.pos = (uint32_t)cur->prev;
            if (heap_push(e, &hn, m) < 0)
                return MB_ENOMEM;
        }
        if (cur->next >= 0 && (size_t)cur->next < ns && pair_of(t, s, cur, &sym[cur->next], &m)) {
            m.pos = top.pos;
            if (heap_push(e, &hn, m) < 0)
                return MB_ENOMEM;
        }
    }
    return 0;
}

/* Symbols of a piece read character by character (BPE::merge_word):
 * continuing_subword_prefix and end_of_word_suffix, byte fallback, then
 * the unknown token (fused when fuse_unk). */
static int chars_to_symbols(mb_tok_enc *e, const char *s, size_t n, size_t *ns)
{
    const mb_tok *t = e->t;
    int64_t unk = -1;
    uint32_t unk_len = 0;
    for (size_t i = 0; i < n;) {
        size_t l;
        tok_utf8_get(s + i, n - i, &l);
        const char *key = s + i;
        size_t kn = l;
        int first = i == 0, last = i + l >= n;
        if ((!first && t->prefix_len) || (last && t->suffix_len)) {
            tok_buf *w = &e->word;
            w->len = 0;
            if ((!first && tok_buf_put(w, t->prefix, t->prefix_len) < 0) ||
                tok_buf_put(w, s + i, l) < 0 ||
                (last && tok_buf_put(w, t->suffix, t->suffix_len) < 0))
                return MB_ENOMEM;
            key = w->p;
            kn = w->len;
        }
        int64_t id = tok_strtab_find(&t->vocab, key, kn);
        if (id >= 0) {
            if (unk >= 0) {
                sym_add(e, ns, (uint32_t)unk, (uint32_t)(i - unk_len), unk_len);
                unk = -1;
            }
            sym_add(e, ns, (uint32_t)id, (uint32_t)i, (uint32_t)l);
            i += l;
            continue;
        }
        if (t->byte_fallback) {
            size_t k;
            for (k = 0; k < kn && t->fallback_id[(unsigned char)key[k]] >= 0; k++)
                ;
            if (k == kn) {
                if (sym_reserve(e, *ns + kn + 2) < 0)
                    return MB_ENOMEM;
                for (k = 0; k < kn; k++)
                    sym_add(e, ns, (uint32_t)t->fallback_id[(unsigned char)key[k]], (uint32_t)i, 1);
                i += l;
                continue;
            }
        }
        if (t->unk_id >= 0) {
            if (unk >= 0 && t->fuse_unk) {
                unk_len += (uint32_t)l;
            } else {
                if (unk >= 0)
                    sym_add(e, ns, (uint32_t)unk, (uint32_t)(i - unk_len), unk_len);
                unk = t->unk_id;
                unk_len = (uint32_t)l;
            }
        }
        i += l;
    }
    if (unk >= 0)
        sym_add(e, ns, (uint32_t)unk, (uint32_t)(n - unk_len), unk_len);
    return 0;
}

/* ignore_merges on a raw byte-level piece: its characters' token. */
static int64_t whole_mapped(mb_tok_enc *e, const char *s, size_t n)
{
    tok_buf *w = &e->word;
    w->len = 0;
    if (tok_buf_reserve(w, 2 * n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        w->len += mb_utf8_put(tok_byte_char[(unsigned char)s[i]], w->p + w->len);
    return tok_strtab_find(&e->t->vocab, w->p, w->len);
}

int tok_bpe_piece(mb_tok_enc *e, const char *s, size_t n)
{
    const mb_tok *t = e->t;
    uint64_t h = 0;
    size_t ns = 0, first = e->out.len;
    int64_t whole = -1;
    if (n == 0)
        return 0;
    if (n <= CACHE_KEY_MAX) {
        h = tok_hash(s, n);
        tok_cache_ent *c = cache_slot(e, s, n, h);
        if (c->klen) {
            for (uint32_t i = 0; i < c->n; i++)
                if (tok_ids_push(&e->out, e->cache_ids.p[c->ioff + i]) < 0)
                    return MB_ENOMEM;
            return 0;
        }
    }
    /* a piece that is a token is that token (ignore_merges; tiktoken) */
    if (t->kind == TOK_TIKTOKEN)
        whole = tok_strtab_find(&t->vocab, s, n);
    else if (t->ignore_merges && t->bytelevel_raw)
        whole = whole_mapped(e, s, n);
    else if (t->ignore_merges)
        whole = tok_strtab_find(&t->vocab, s, n);
    if (whole >= 0) {
        if (tok_ids_push(&e->out, (uint32_t)whole) < 0)
            return MB_ENOMEM;
    } else {
        if (sym_reserve(e, n + 2) < 0)
            return MB_ENOMEM;
        if (t->kind == TOK_TIKTOKEN || t->bytelevel_raw) {
            for (size_t i = 0; i < n; i++)
                sym_add(e, &ns, (uint32_t)t->byte_id[(unsigned char)s[i]], (uint32_t)i, 1);
        } else {
            int rc = chars_to_symbols(e, s, n, &ns);
            if (rc < 0)
                return rc;
        }
        if (merge_all(e, s, ns) < 0)
            return MB_ENOMEM;
        for (size_t i = 0; i < ns; i++)
            if (e->sym[i].len && tok_ids_push(&e->out, e->sym[i].c) < 0)
                return MB_ENOMEM;
    }
    if (n <= CACHE_KEY_MAX)
        return cache_put(e, s, n, h, e->out.len > first ? e->out.p + first : NULL, e->out.len - first);
    return 0;
}

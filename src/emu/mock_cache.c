/* mock_cache.c: the emulated server's prefix cache -- what vLLM calls
 * automatic prefix caching and mlx_lm.server its prompt cache.
 *
 * A prompt is cut into blocks of `block_tokens` tokens (the profile's
 * tokenizer's ids, or without one 4 characters a token, the emulator's
 * token rule); each block is named by a hash chained over the model and
 * every block before it, so a block matches only when the whole prefix up
 * to it matches. The cache holds `blocks` such names, least recently used
 * evicted first. A request's cached tokens are its leading blocks found in
 * the cache -- at most up to its last prompt token, which is always
 * computed (vLLM's rule) -- and they skip prefill time; then all its full
 * blocks are stored (touched). Lookups are O(1) per block: an
 * open-addressing table (linear probing, backward-shift deletion) over a
 * fixed array of entries linked in LRU order. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

#define NIL UINT32_MAX

struct mk_cache {
    size_t cap;                 /* blocks held at most */
    unsigned block_tokens;
    struct cent { uint64_t key; uint32_t prev, next; } *e;   /* LRU: head = most recent */
    uint32_t *slot;             /* table: entry index or NIL */
    size_t mask, used;
    uint32_t head, tail, free_next;   /* free_next: first never-used entry */
    uint64_t lookups, hits, hit_blocks, evicted;
};

/* A cache of `blocks` block names, its table at most half full. 0 or
 * MB_ENOMEM. */
int mk_cache_new(mk_cache **out, size_t blocks, unsigned block_tokens)
{
    mk_cache *c;
    size_t tsize = 16;
    *out = NULL;
    assert(blocks > 0 && blocks < NIL / 2 && block_tokens > 0);
    while (tsize < blocks * 2)
        tsize <<= 1;
    if (!(c = calloc(1, sizeof *c)))
        return MB_ENOMEM;
    c->e = malloc(blocks * sizeof *c->e);
    c->slot = malloc(tsize * sizeof *c->slot);
    if (!c->e || !c->slot) {
        mk_cache_free(c);
        return MB_ENOMEM;
    }
    memset(c->slot, 0xff, tsize * sizeof *c->slot);
    c->cap = blocks;
    c->block_tokens = block_tokens;
    c->mask = tsize - 1;
    c->head = c->tail = NIL;
    *out = c;
    return 0;
}

/* Frees the cache (NULL is fine). */
void mk_cache_free(mk_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->slot);
    free(c);
}

unsigned mk_cache_block_tokens(const mk_cache *c) { return c->block_tokens; }

/* The table slot a key's probe starts at. */
static size_t home(const mk_cache *c, uint64_t key) { return (size_t)(mb_mock_mix(key) & c->mask); }

/* The table slot holding `key`, or the empty slot where it would go. */
static size_t find(const mk_cache *c, uint64_t key)
{
    size_t i = home(c, key);
    while (c->slot[i] != NIL && c->e[c->slot[i]].key != key)
        i = (i + 1) & c->mask;
    return i;
}

/* Takes entry x out of the LRU list. */
static void unlink_e(mk_cache *c, uint32_t x)
{
    struct cent *e = &c->e[x];
    if (e->prev != NIL) c->e[e->prev].next = e->next; else c->head = e->next;
    if (e->next != NIL) c->e[e->next].prev = e->prev; else c->tail = e->prev;
}

/* Makes entry x the most recently used. */
static void push_front(mk_cache *c, uint32_t x)
{
    c->e[x].prev = NIL;
    c->e[x].next = c->head;
    if (c->head != NIL)
        c->e[c->head].prev = x;
    c->head = x;
    if (c->tail == NIL)
        c->tail = x;
}

/* Removes the table slot i, shifting back the entries that probed past it
 * (no tombstones: lookups stay short however long the cache runs). */
static void slot_delete(mk_cache *c, size_t i)
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & c->mask;
        if (c->slot[j] == NIL)
            break;
        size_t h = home(c, c->e[c->slot[j]].key);
        /* j's entry may move back to i when i is not before its home */
        if (((j - h) & c->mask) >= ((j - i) & c->mask)) {
            c->slot[i] = c->slot[j];
            i = j;
        }
    }
    c->slot[i] = NIL;
}

/* Stores key as the most recent block, evicting the least recent if full. */
static void insert(mk_cache *c, uint64_t key)
{
    size_t i = find(c, key);
    uint32_t x;
    if (c->slot[i] != NIL) {   /* present: touch */
        x = c->slot[i];
        unlink_e(c, x);
        push_front(c, x);
        return;
    }
    if (c->used < c->cap) {
        x = c->free_next++;
        c->used++;
    } else {
        x = c->tail;
        unlink_e(c, x);
        slot_delete(c, find(c, c->e[x].key));
        c->evicted++;
        i = find(c, key);   /* the shift may have moved the empty slot */
    }
    c->e[x].key = key;
    c->slot[i] = x;
    push_front(c, x);
}

/* How many of the leading keys (at most `usable`) are cached; then every
 * key is stored as most recent. Counted in the stats. */
size_t mk_cache_lookup(mk_cache *c, const uint64_t *keys, size_t n, size_t usable)
{
    size_t hit = 0;
    c->lookups++;
    while (hit < n && hit < usable && c->slot[find(c, keys[hit])] != NIL)
        hit++;
    for (size_t k = 0; k < n; k++)
        insert(c, keys[k]);
    if (hit) {
        c->hits++;
        c->hit_blocks += hit;
    }
    return hit;
}

/* The cache's counters, the `prefix_cache` object of /mock/stats. */
void mk_cache_stats_json(const mk_cache *c, mb_buf *b)
{
    mb_buf_printf(b, "{\"blocks\":%zu,\"block_tokens\":%u,\"used\":%zu,\"lookups\":%llu,"
                  "\"hits\":%llu,\"cached_tokens\":%llu,\"evicted\":%llu}",
                  c->cap, c->block_tokens, c->used, (unsigned long long)c->lookups,
                  (unsigned long long)c->hits,
                  (unsigned long long)(c->hit_blocks * c->block_tokens),
                  (unsigned long long)c->evicted);
}

/* ------------------------------------------------------ prompt blocks */

/* Chained block names of a prompt's text: the 4-characters rule (a block
 * is 4 x block_tokens code points) or, with the profile's tokenizer, its
 * ids. *nblocks: full blocks (only they are cached). */
static int text_blocks(mb_mock *m, const mk_model *md, const char *s, size_t len,
                       uint64_t **out, size_t *nblocks)
{
    unsigned bt = m->cache->block_tokens;
    uint64_t h = mb_mock_hash(MB_MOCK_HASH_INIT, md->name, strlen(md->name) + 1);
    uint64_t *keys = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *nblocks = 0;
    if (m->tok_enc) {
        const uint32_t *ids;
        size_t k = 0;
        if (len && mb_tok_encode(m->tok_enc, s, len, 0, &ids, &k) < 0)
            k = 0;
        for (size_t i = 0; i + bt <= k; i += bt) {
            if (MB_VEC_GROW(keys, cap, n + 1) < 0)
                goto oom;
            h = mb_mock_hash(h, ids + i, bt * sizeof *ids);
            keys[n++] = h;
        }
    } else {
        size_t per = (size_t)bt * 4, chars = 0, start = 0;
        for (size_t i = 0; i <= len; i++) {
            if (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
                continue;   /* inside a UTF-8 sequence */
            if (chars == per) {   /* s[start, i) is one block */
                if (MB_VEC_GROW(keys, cap, n + 1) < 0)
                    goto oom;
                h = mb_mock_hash(h, s + start, i - start);
                keys[n++] = h;
                start = i;
                chars = 0;
            }
            chars++;
        }
    }
    *out = keys;
    *nblocks = n;
    return 0;
oom:
    free(keys);
    return MB_ENOMEM;
}

/* The blocks of a finished request's whole sequence -- its prompt, then
 * the answer as the next turn of a conversation sends it back (joined by a
 * newline, the prompt text's rule) -- are stored too, as vLLM and SGLang
 * keep generated tokens' KV: a conversation's next turn finds its history. */
void mk_cache_store(mb_mock *m, const mk_model *md, const char *prompt, size_t plen,
                    const char *answer, size_t alen)
{
    mb_buf b = MB_BUF_INIT;
    uint64_t *keys;
    size_t n;
    if (!m->cache || !alen)
        return;
    mb_buf_add(&b, prompt, plen);
    mb_buf_add(&b, "\n", 1);
    mb_buf_add(&b, answer, alen);
    if (!b.oom && text_blocks(m, md, b.p, b.len, &keys, &n) == 0) {
        for (size_t k = 0; k < n; k++)
            insert(m->cache, keys[k]);
        free(keys);
    }
    mb_buf_free(&b);
}

/* A request's cached tokens: its prompt's leading cached blocks, in
 * tokens (0 without a cache or for a prompt of one token). */
uint64_t mk_cache_request(mb_mock *m, const mk_model *md, const char *text, size_t len,
                          uint64_t prompt_tokens)
{
    uint64_t *keys;
    size_t n, usable, hit;
    unsigned bt;
    if (!m->cache || prompt_tokens < 2)
        return 0;
    bt = m->cache->block_tokens;
    if (text_blocks(m, md, text, len, &keys, &n) < 0)
        return 0;
    usable = (size_t)((prompt_tokens - 1) / bt);   /* the last token is computed */
    hit = mk_cache_lookup(m->cache, keys, n, usable);
    free(keys);
    return (uint64_t)hit * bt;
}

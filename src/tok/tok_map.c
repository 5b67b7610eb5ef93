/* tok_map.c: the vocabulary's string table (id <-> bytes) and the pair map
 * of BPE merges, both open addressing with linear probing. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

static uint32_t pow2_for(size_t n)
{
    uint32_t c = 16;
    while (c < n * 2 && c < (1u << 31))
        c <<= 1;
    return c;
}

int tok_strtab_init(tok_strtab *t, size_t expect)
{
    memset(t, 0, sizeof *t);
    uint32_t cap = pow2_for(expect);
    t->slots = calloc(cap, sizeof *t->slots);
    if (!t->slots)
        return MB_ENOMEM;
    t->mask = cap - 1;
    return 0;
}

void tok_strtab_free(tok_strtab *t)
{
    free(t->arena);
    free(t->by_id);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static int grow_ids(tok_strtab *t, uint32_t id)
{
    if (id < t->idcap)
        return 0;
    uint32_t nc = t->idcap ? t->idcap : 1024;
    while (nc <= id)
        nc *= 2;
    uint32_t *nb = realloc(t->by_id, nc * sizeof *nb);
    if (!nb)
        return MB_ENOMEM;
    for (uint32_t i = t->idcap; i < nc; i++)
        nb[i] = TOK_NOSTR;
    t->by_id = nb;
    t->idcap = nc;
    return 0;
}

/* Doubles the table; by_id follows the slots. */
static int rehash(tok_strtab *t)
{
    uint32_t cap = (t->mask + 1) * 2;
    tok_strent *ns = calloc(cap, sizeof *ns);
    if (!ns)
        return MB_ENOMEM;
    for (uint32_t i = 0; i <= t->mask; i++) {
        tok_strent *en = &t->slots[i];
        if (!en->tag)
            continue;
        uint64_t h = tok_hash(t->arena + en->off, en->len);
        uint32_t j = (uint32_t)h & (cap - 1);
        while (ns[j].tag)
            j = (j + 1) & (cap - 1);
        ns[j] = *en;
        if (t->by_id[en->id] == i)
            t->by_id[en->id] = j | 0x80000000u;   /* moved: marked until the pass ends */
    }
    for (uint32_t id = 0; id < t->nid; id++)
        if (t->by_id[id] != TOK_NOSTR)
            t->by_id[id] &= 0x7fffffffu;
    free(t->slots);
    t->slots = ns;
    t->mask = cap - 1;
    return 0;
}

/* A slot's tag: the hash's high bits, never 0 (0 marks an empty slot). */
static uint32_t tag_of(uint64_t h)
{
    uint32_t g = (uint32_t)(h >> 32);
    return g ? g : 1;
}

/* Slot holding s, or the empty slot where it would go. */
static uint32_t probe(const tok_strtab *t, const char *s, size_t n, uint64_t h)
{
    uint32_t j = (uint32_t)h & t->mask;
    uint32_t tag = tag_of(h);
    for (;;) {
        const tok_strent *en = &t->slots[j];
        if (!en->tag)
            return j;
        if (en->tag == tag && en->len == n && memcmp(t->arena + en->off, s, n) == 0)
            return j;
        j = (j + 1) & t->mask;
    }
}

void tok_strtab_prefetch(const tok_strtab *t, uint64_t h)
{
    __builtin_prefetch(&t->slots[(uint32_t)h & t->mask]);
}

void tok_strtab_prefetch_key(const tok_strtab *t, uint64_t h)
{
    const tok_strent *en = &t->slots[(uint32_t)h & t->mask];
    if (en->tag == tag_of(h))
        __builtin_prefetch(t->arena + en->off);
}

int tok_strtab_set(tok_strtab *t, uint32_t id, const char *s, size_t n)
{
    return tok_strtab_set_h(t, id, s, n, tok_hash(s, n));
}

int tok_strtab_set_h(tok_strtab *t, uint32_t id, const char *s, size_t n, uint64_t h)
{
    if (id >= 0x7fffffffu || n >= UINT32_MAX)
        return MB_EINVAL;
    if (grow_ids(t, id) < 0)
        return MB_ENOMEM;
    if ((t->count + 1) * 4 > (t->mask + 1) * 3 && rehash(t) < 0)
        return MB_ENOMEM;
    uint32_t j = probe(t, s, n, h);
    tok_strent *en = &t->slots[j];
    if (en->tag) {
        /* a key seen again: it now names id */
        if (t->by_id[en->id] == j)
            t->by_id[en->id] = TOK_NOSTR;
        en->id = id;
    } else {
        if (t->alen + n > t->acap) {
            size_t nc = t->acap ? t->acap : 4096;
            while (nc < t->alen + n)
                nc *= 2;
            if (nc > UINT32_MAX)
                return MB_ENOMEM;
            char *na = realloc(t->arena, nc);
            if (!na)
                return MB_ENOMEM;
            t->arena = na;
            t->acap = nc;
        }
        if (n)
            memcpy(t->arena + t->alen, s, n);
        *en = (tok_strent){tag_of(h), (uint32_t)n, (uint32_t)t->alen, id};
        t->alen += n;
        t->count++;
    }
    t->by_id[id] = j;
    if (id >= t->nid)
        t->nid = id + 1;
    return 0;
}

int64_t tok_strtab_find(const tok_strtab *t, const char *s, size_t n)
{
    return tok_strtab_find_h(t, s, n, tok_hash(s, n));
}

int64_t tok_strtab_find_h(const tok_strtab *t, const char *s, size_t n, uint64_t h)
{
    if (!t->slots)
        return -1;
    const tok_strent *en = &t->slots[probe(t, s, n, h)];
    return en->tag ? (int64_t)en->id : -1;
}

const char *tok_strtab_str(const tok_strtab *t, uint32_t id, size_t *n)
{
    if (id >= t->nid || t->by_id[id] == TOK_NOSTR)
        return NULL;
    const tok_strent *en = &t->slots[t->by_id[id]];
    *n = en->len;
    return t->arena + en->off;
}

/* ---- pair map ----------------------------------------------------------- */

#define EMPTY UINT64_MAX

static uint32_t pair_slot(uint64_t key, uint32_t mask)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & mask;
}

int tok_pairmap_init(tok_pairmap *m, size_t expect)
{
    /* up to 3/4 full: merges are looked up by id pairs, cheap to compare */
    uint32_t cap = 16;
    while (cap < expect + expect / 3 + 2 && cap < (1u << 31))
        cap <<= 1;
    m->slot = malloc(cap * sizeof *m->slot);
    if (!m->slot)
        return MB_ENOMEM;
    for (uint32_t i = 0; i < cap; i++)
        m->slot[i].key = EMPTY;
    m->mask = cap - 1;
    m->count = 0;
    return 0;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static int pair_grow(tok_pairmap *m)
{
    tok_pairmap n;
    if (tok_pairmap_init(&n, (size_t)(m->mask + 1)) < 0)
        return MB_ENOMEM;
    for (uint32_t i = 0; i <= m->mask; i++) {
        if (m->slot[i].key == EMPTY)
            continue;
        uint32_t j = pair_slot(m->slot[i].key, n.mask);
        while (n.slot[j].key != EMPTY)
            j = (j + 1) & n.mask;
        n.slot[j] = m->slot[i];
    }
    n.count = m->count;
    free(m->slot);
    *m = n;
    return 0;
}

void tok_pairmap_prefetch(const tok_pairmap *m, uint32_t a, uint32_t b)
{
    __builtin_prefetch(&m->slot[pair_slot((uint64_t)a << 32 | b, m->mask)], 1);
}

/* Sets (a, b) -> (rank, id); a pair seen again takes the new values, as
 * the reference's map built from the merges list keeps the last. */
int tok_pairmap_set(tok_pairmap *m, uint32_t a, uint32_t b, uint32_t rank, uint32_t id)
{
    uint64_t key = (uint64_t)a << 32 | b;
    if ((m->count + 1) * 4 > (m->mask + 1) * 3 && pair_grow(m) < 0)
        return MB_ENOMEM;
    uint32_t j = pair_slot(key, m->mask);
    while (m->slot[j].key != EMPTY && m->slot[j].key != key)
        j = (j + 1) & m->mask;
    if (m->slot[j].key == EMPTY)
        m->count++;
    m->slot[j] = (tok_pair){key, rank, id};
    return 0;
}

const tok_pair *tok_pairmap_get(const tok_pairmap *m, uint32_t a, uint32_t b)
{
    uint64_t key = (uint64_t)a << 32 | b;
    if (!m->slot)
        return NULL;
    uint32_t j = pair_slot(key, m->mask);
    for (;;) {
        const tok_pair *p = &m->slot[j];
        if (p->key == key)
            return p;
        if (p->key == EMPTY)
            return NULL;
        j = (j + 1) & m->mask;
    }
}

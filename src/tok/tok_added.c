/* tok_added.c: added and special tokens, found in the text before the model
 * sees it, as the reference's AddedVocabulary does: leftmost-longest
 * matches (daachorse's LeftmostLongest), then single_word, lstrip and
 * rstrip applied to each match in order. Two tries: tokens matched in the
 * raw text (normalized = false) and tokens matched after the normalizer. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "tok_int.h"

int tok_trie_init(tok_trie *tr)
{
    memset(tr, 0, sizeof *tr);
    for (int i = 0; i < 256; i++)
        tr->root[i] = -1;
    return tok_pairmap_init(&tr->edges, 64);
}

void tok_trie_free(tok_trie *tr)
{
    tok_pairmap_free(&tr->edges);
    free(tr->value);
    memset(tr, 0, sizeof *tr);
}

static int32_t new_node(tok_trie *tr)
{
    if (tr->nnodes == tr->cap) {
        uint32_t nc = tr->cap ? tr->cap * 2 : 64;
        int32_t *nv = realloc(tr->value, nc * sizeof *nv);
        if (!nv)
            return -1;
        tr->value = nv;
        tr->cap = nc;
    }
    tr->value[tr->nnodes] = -1;
    return (int32_t)tr->nnodes++;
}

/* Adds pattern s -> value; MB_EINVAL if s is already there. Node 0 is
 * never used (root children live in root[]). */
int tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t value)
{
    int32_t node = -1;
    if (n == 0)
        return MB_EINVAL;
    if (tr->nnodes == 0 && new_node(tr) < 0)
        return MB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int32_t child;
        if (node < 0) {
            child = tr->root[c];
        } else {
            const tok_pair *p = tok_pairmap_get(&tr->edges, (uint32_t)node, c);
            child = p ? (int32_t)p->id : -1;
        }
        if (child < 0) {
            child = new_node(tr);
            if (child < 0)
                return MB_ENOMEM;
            if (node < 0)
                tr->root[c] = child;
            else if (tok_pairmap_set(&tr->edges, (uint32_t)node, c, 0, (uint32_t)child) < 0)
                return MB_ENOMEM;
        }
        node = child;
    }
    if (tr->value[node] >= 0)
        return MB_EINVAL;
    tr->value[node] = value;
    return 0;
}

/* The longest pattern that starts at s: its value and *mlen, or -1. */
int32_t tok_trie_longest(const tok_trie *tr, const char *s, size_t n, size_t *mlen)
{
    int32_t best = -1;
    if (!n || tr->nnodes == 0)
        return -1;
    int32_t node = tr->root[(unsigned char)s[0]];
    size_t i = 1;
    while (node >= 0) {
        if (tr->value[node] >= 0) {
            best = tr->value[node];
            *mlen = i;
        }
        if (i >= n)
            break;
        const tok_pair *p = tok_pairmap_get(&tr->edges, (uint32_t)node, (unsigned char)s[i]);
        node = p ? (int32_t)p->id : -1;
        i++;
    }
    return best;
}

void tok_added_free(tok_added *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->tok[i].content);
        free(a->tok[i].norm);
    }
    free(a->tok);
    free(a->by_id);
    tok_strtab_free(&a->map);
    tok_strtab_free(&a->special);
    tok_trie_free(&a->raw);
    tok_trie_free(&a->normed);
    memset(a, 0, sizeof *a);
}

/* Adds one token as AddedVocabulary::add_tokens does: its id is the one
 * its content already has (added map, then model vocabulary), else the
 * next free id; a token with an id already taken replaces that id's
 * entry. The normalizer must be loaded first (normalized tokens are
 * matched by their normalized form); e is an encoder for running it. */
int tok_added_add(mb_tok *t, mb_tok_enc *e, const char *content, size_t len, uint8_t special,
                  uint8_t lstrip, uint8_t rstrip, uint8_t normalized, uint8_t single_word,
                  char *err, size_t errlen)
{
    tok_added *a = &t->added;
    int64_t id;
    if (len == 0)
        return 0;
    id = tok_strtab_find(&a->map, content, len);
    if (id >= 0 && (uint32_t)id < a->nid && a->by_id[id] >= 0) {
        const tok_added_tok *o = &a->tok[a->by_id[id]];
        if (o->len == len && memcmp(o->content, content, len) == 0 && o->special == special &&
            o->lstrip == lstrip && o->rstrip == rstrip && o->normalized == normalized &&
            o->single_word == single_word)
            return 0;   /* the same token again */
    }
    if (id < 0)
        id = tok_strtab_find(&t->vocab, content, len);
    if (id < 0) {
        /* the file's tokens are added in one call: new ids count up from
         * the model's vocabulary size */
        if (!a->next_id)
            a->next_id = t->model_size;
        id = a->next_id++;
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 64;
        tok_added_tok *nt = realloc(a->tok, nc * sizeof *nt);
        if (!nt)
            return MB_ENOMEM;
        a->tok = nt;
        a->cap = nc;
    }
    if ((uint32_t)id >= a->nid) {
        uint32_t nn = (uint32_t)id + 1;
        int32_t *nb = realloc(a->by_id, nn * sizeof *nb);
        if (!nb)
            return MB_ENOMEM;
        for (uint32_t i = a->nid; i < nn; i++)
            nb[i] = -1;
        a->by_id = nb;
        a->nid = nn;
    }
    tok_added_tok *k = &a->tok[a->n];
    memset(k, 0, sizeof *k);
    k->id = (uint32_t)id;
    k->content = malloc(len + 1);
    if (!k->content)
        return MB_ENOMEM;
    memcpy(k->content, content, len);
    k->content[len] = 0;
    k->len = len;
    k->special = special, k->lstrip = lstrip, k->rstrip = rstrip;
    k->normalized = normalized, k->single_word = single_word;
    a->n++;
    if (normalized && t->nnorm) {
        tok_buf out = {0};
        int rc = tok_normalize(t, e, content, len, &out);
        if (rc < 0) {
            free(out.p);
            return tok_fail(err, errlen, rc, "added token %.40s: normalizer failed", content);
        }
        if (out.len != len || memcmp(out.p, content, len) != 0) {
            k->norm = out.p ? out.p : calloc(1, 1);
            k->nlen = out.len;
            if (!k->norm)
                return MB_ENOMEM;
        } else {
            free(out.p);
        }
    }
    if (tok_strtab_set(&a->map, (uint32_t)id, content, len) < 0)
        return MB_ENOMEM;
    if (special && tok_strtab_find(&a->special, content, len) < 0 &&
        tok_strtab_set(&a->special, a->special.count, content, len) < 0)
        return MB_ENOMEM;
    a->by_id[id] = (int32_t)(a->n - 1);
    return 0;
}

/* Builds the two tries from the live tokens (one per id). */
int tok_added_build(mb_tok *t, char *err, size_t errlen)
{
    tok_added *a = &t->added;
    if (tok_trie_init(&a->raw) < 0 || tok_trie_init(&a->normed) < 0)
        return MB_ENOMEM;
    for (uint32_t id = 0; id < a->nid; id++) {
        if (a->by_id[id] < 0)
            continue;
        const tok_added_tok *k = &a->tok[a->by_id[id]];
        const char *p = k->normalized && k->norm ? k->norm : k->content;
        size_t n = k->normalized && k->norm ? k->nlen : k->len;
        int rc;
        if (n == 0)
            return tok_fail(err, errlen, MB_EINVAL,
                            "added token %.40s is empty once normalized", k->content);
        rc = tok_trie_add(k->normalized ? &a->normed : &a->raw, p, n, (int32_t)id);
        if (rc == MB_EINVAL)
            return tok_fail(err, errlen, MB_EINVAL,
                            "two added tokens match the same text (%.40s)", p);
        if (rc < 0)
            return rc;
        if (k->normalized)
            a->has_normed = 1;
        else
            a->has_raw = 1;
    }
    return 0;
}

/* Rust regex `\w$` on s[..i]: the character before i is a word char. */
static int ends_with_word(const char *s, size_t i)
{
    size_t k = i, l;
    if (i == 0)
        return 0;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
        k--;
    if (k > 0)
        k--;
    return tok_is_word(tok_utf8_get(s + k, i - k, &l));
}

static int starts_with_word(const char *s, size_t n)
{
    size_t l;
    return n > 0 && tok_is_word(tok_utf8_get(s, n, &l));
}

/* Start of the whitespace run that ends s[..i]. */
static size_t space_start(const char *s, size_t i)
{
    while (i > 0) {
        size_t k = i - 1, l;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        if (!tok_is_whitespace(tok_utf8_get(s + k, i - k, &l)))
            break;
        i = k;
    }
    return i;
}

/* Length of the whitespace run that starts s. */
static size_t space_len(const char *s, size_t n)
{
    size_t i = 0, l;
    while (i < n && tok_is_whitespace(tok_utf8_get(s + i, n - i, &l)))
        i += l;
    return i;
}

int tok_added_split(const mb_tok *t, int normed, const char *s, size_t n, tok_spans *out)
{
    const tok_added *a = &t->added;
    const tok_trie *tr = normed ? &a->normed : &a->raw;
    size_t pos = 0, start_offset = 0;
    if ((normed ? !a->has_normed : !a->has_raw) || n == 0)
        return n ? tok_spans_push(out, 0, (uint32_t)n, -1) : 0;
    while (pos < n) {
        size_t mlen = 0, ms = pos;
        int32_t id = -1;
        for (; ms < n; ms++) {
            if (tr->root[(unsigned char)s[ms]] < 0)
                continue;
            id = tok_trie_longest(tr, s + ms, n - ms, &mlen);
            if (id >= 0)
                break;
        }
        if (id < 0)
            break;
        size_t start = ms, stop = ms + mlen;
        pos = stop;
        const tok_added_tok *k = &a->tok[a->by_id[id]];
        if (k->single_word) {
            int start_space = start == 0 || !ends_with_word(s, start);
            int stop_space = stop == n || !starts_with_word(s + stop, n - stop);
            if (!start_space || !stop_space)
                continue;
        }
        if (k->lstrip) {
            size_t ns = space_start(s, start);
            start = ns > start_offset ? ns : start_offset;
        }
        if (k->rstrip)
            stop += space_len(s + stop, n - stop);
        if (start_offset < start && tok_spans_push(out, (uint32_t)start_offset, (uint32_t)start, -1) < 0)
            return MB_ENOMEM;
        if (tok_spans_push(out, (uint32_t)start, (uint32_t)stop, id) < 0)
            return MB_ENOMEM;
        start_offset = stop;
    }
    if (start_offset != n && tok_spans_push(out, (uint32_t)start_offset, (uint32_t)n, -1) < 0)
        return MB_ENOMEM;
    return 0;
}

/* fuzz_json.c: the C JSON tokenizer (src/core/json.c) that reads every
 * streamed chunk, and the streaming array splitter (src/core/jsplit.c)
 * that reads dataset files.
 *
 * (The results-file loader of report/compare/merge is lua-cjson, Debian's
 * library, plus the histogram decoder fuzzed by fuzz_hist_decode; the
 * hostile-input e2e test feeds those commands broken files instead.)
 *
 * json: a parse either fails, or yields a token tree whose every link stays
 * in range, whose sizes agree with a walk, and whose lookups, string
 * unescaping and number reading stay inside their buffers; a parse into too
 * small an array reports the exact count it needs. Accepted documents must
 * also be accepted by cJSON (a lenient parser): strictness, not a different
 * grammar. The cursor (mb_json_doc and friends) must see the same tree as
 * the tokens: types, member names, strings unescaped whole and in pieces,
 * numbers.
 * jsplit: the elements must not depend on the chunking, and for a valid
 * array they are exactly the array's elements. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "mlxbench/errors.h"
#include "mlxbench/json.h"
#include "mlxbench/jsplit.h"

static mb_json_tok *toks;
static size_t tokcap;

/* Walks the subtree at i; returns the index after it (must equal next). */
static uint32_t walk(const char *s, size_t n, const mb_json_tok *t, size_t ntok, uint32_t i,
                     int depth)
{
    const mb_json_tok *k = &t[i];
    uint32_t j = i + 1;
    if (i >= ntok || depth > MB_JSON_MAX_DEPTH || k->start > n || k->len > n - k->start)
        abort();
    switch (k->type) {
    case MB_JSON_OBJECT:
        for (uint32_t m = 0; m < k->size; m++) {
            if (j >= ntok || t[j].type != MB_JSON_STRING)
                abort();                      /* a key */
            j = walk(s, n, t, ntok, j, depth + 1);
            j = walk(s, n, t, ntok, j, depth + 1);
        }
        break;
    case MB_JSON_ARRAY:
        for (uint32_t m = 0; m < k->size; m++) {
            if (mb_json_at(t, (int)i, m) != (int)j)
                abort();
            j = walk(s, n, t, ntok, j, depth + 1);
        }
        if (mb_json_at(t, (int)i, k->size) != -1)
            abort();
        break;
    case MB_JSON_STRING: {
        char buf[16];
        size_t l = mb_json_str(s, t, (int)i, buf, sizeof buf);
        if (l > k->len || strlen(buf) > sizeof buf - 1 || strlen(buf) > l)
            abort();                          /* unescaping never grows */
        break;
    }
    case MB_JSON_NUMBER: {
        int64_t v;
        if (mb_json_int(s, t, (int)i, &v) == 0 && (v > 9007199254740992LL || v < -9007199254740992LL))
            abort();
        (void)mb_json_truthy(s, t, (int)i);
        break;
    }
    default:
        if (k->size)
            abort();
    }
    if (k->next != j)
        abort();
    return j;
}

/* The cursor's value v and token i describe the same subtree; returns the
 * index after it. */
static uint32_t agree(const char *s, const mb_json_tok *t, uint32_t i, const mb_json_val *v)
{
    const mb_json_tok *k = &t[i];
    uint32_t j = i + 1;
    if (v->type != k->type)
        abort();
    switch (k->type) {
    case MB_JSON_OBJECT: case MB_JSON_ARRAY: {
        mb_json_iter it;
        mb_json_val key, val;
        uint32_t m = 0;
        mb_json_iter_init(&it, v);
        while (mb_json_next(&it, &key, &val)) {
            if (m++ >= k->size)
                abort();
            if (k->type == MB_JSON_OBJECT)
                j = agree(s, t, j, &key);
            j = agree(s, t, j, &val);
        }
        if (m != k->size)
            abort();
        break;
    }
    case MB_JSON_STRING: {
        static char a[4096], b[4096], c[4096 + 8];
        char piece[8];
        size_t la = mb_json_str(s, t, (int)i, a, sizeof a);
        size_t lb = mb_json_strcpy(v, b, sizeof b);
        size_t pos = 0, got, w = 0, cap = 4;
        if (la != lb || strcmp(a, b) != 0 || v->p != s + k->start - 1 || v->n != k->len + 2)
            abort();
        /* in pieces of 4..7 bytes: the same bytes as whole */
        while ((got = mb_json_unescape(v, &pos, piece, cap)) > 0) {
            if (got > cap)
                abort();
            if (w + got <= sizeof c)
                memcpy(c + w, piece, got);
            w += got;
            cap = 4 + w % 4;
        }
        if (w != la || (la < sizeof a && memcmp(a, c, la) != 0))
            abort();
        break;
    }
    case MB_JSON_NUMBER: {
        char buf[64];
        if (k->len < sizeof buf) {
            memcpy(buf, s + k->start, k->len);
            buf[k->len] = 0;
            double d = strtod(buf, NULL), e = mb_json_num(v);
            if (!(d == e || (d != d && e != e)))
                abort();
        }
        break;
    }
    default:
        if (v->n != k->len)
            abort();
    }
    return j;
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    size_t ntok = 0, need = 0;
    int rc = mb_json_parse(s, size, NULL, 0, &need);
    if (rc == MB_EPARSE) {
        mb_json_val root;
        if (need || mb_json_doc(s, size, &root) != MB_EPARSE)
            abort();
        return;
    }
    if (rc != MB_ETOOLONG || need == 0)
        abort();                              /* every document has a token */
    if (need > tokcap) {
        mb_json_tok *nt = realloc(toks, need * sizeof *nt);
        if (!nt)
            abort();
        toks = nt;
        tokcap = need;
    }
    if (need > 1) {
        /* one short: still MB_ETOOLONG with the same count */
        size_t again = 0;
        if (mb_json_parse(s, size, toks, need - 1, &again) != MB_ETOOLONG || again != need)
            abort();
    }
    if (mb_json_parse(s, size, toks, need, &ntok) != 0 || ntok != need)
        abort();
    if (walk(s, size, toks, ntok, 0, 0) != ntok)
        abort();
    {
        mb_json_val root;
        if (mb_json_doc(s, size, &root) != 0 || agree(s, toks, 0, &root) != ntok)
            abort();
    }
    /* lookups of every key of the root object find the first such key */
    if (toks[0].type == MB_JSON_OBJECT) {
        uint32_t k = 1;
        for (uint32_t m = 0; m < toks[0].size; m++) {
            char key[64];
            if (toks[k].len < sizeof key && !memchr(s + toks[k].start, '\\', toks[k].len)) {
                memcpy(key, s + toks[k].start, toks[k].len);
                key[toks[k].len] = 0;
                int v = mb_json_get(s, toks, 0, key);
                if (v < 0 || v > (int)k + 1)
                    abort();
            }
            k = toks[k + 1].next;
        }
    }
    /* a strict parser's yes is a lenient parser's yes */
    {
        /* (cJSON refuses unpaired UTF-16 surrogates, which RFC 8259's
         * grammar allows and json.c turns into U+FFFD: skip those) */
        int surrogate = 0;
        for (size_t i = 0; i + 2 < size && !surrogate; i++)
            surrogate = s[i] == '\\' && s[i + 1] == 'u' && (s[i + 2] == 'd' || s[i + 2] == 'D');
        cJSON *c = cJSON_ParseWithLength(s, size);
        if (!c && !surrogate && !memchr(s, 0, size))
            abort();
        cJSON_Delete(c);
    }
}

typedef struct { char *p; size_t len, cap; size_t n; } elems;

static int on_elem(void *ud, const char *e, size_t len)
{
    elems *b = ud;
    size_t need = b->len + len + sizeof len;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < need)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, &len, sizeof len);
    memcpy(b->p + b->len + sizeof len, e, len);
    b->len += len + sizeof len;
    b->n++;
    return 0;
}

static int split(elems *b, const uint8_t *d, size_t n, size_t max, uint64_t seed, int *done)
{
    mb_jsplit js;
    int rc = 0;
    b->len = b->n = 0;
    mb_jsplit_init(&js, max);
    for (size_t off = 0; off < n && rc == 0;) {
        size_t k = n - off;
        if (seed) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            k = 1 + (size_t)(seed % 9);
            k = k > n - off ? n - off : k;
        }
        rc = mb_jsplit_feed(&js, (const char *)d + off, k, on_elem, b);
        off += k;
    }
    *done = mb_jsplit_done(&js);
    mb_jsplit_free(&js);
    return rc;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void fuzz_jsplit(const uint8_t *data, size_t size, uint64_t h)
{
    static elems a, b;
    int da, db;
    size_t max = (h & 3) == 0 ? 1 + (size_t)((h >> 4) % 64) : 0;
    int ra = split(&a, data, size, max, 0, &da);
    int rb = split(&b, data, size, max, h | 1, &db);
    if (ra != rb || da != db || a.n != b.n || a.len != b.len ||
        (a.len && memcmp(a.p, b.p, a.len)))
        abort();
    /* a valid array (per json.c, within max) splits into its elements */
    size_t ntok = 0;
    if (ra == 0 && max == 0 && size && toks && mb_json_parse((const char *)data, size, toks,
                                                              tokcap, &ntok) == 0 &&
        toks[0].type == MB_JSON_ARRAY) {
        if (!da || a.n != toks[0].size)
            abort();
        size_t off = 0;
        for (uint32_t m = 0; m < toks[0].size; m++) {
            int e = mb_json_at(toks, 0, m);
            size_t len;
            const char *st = (const char *)data + toks[e].start;
            size_t tl = toks[e].len;
            if (toks[e].type == MB_JSON_STRING) {
                st--;
                tl += 2;                       /* the quotes */
            }
            memcpy(&len, a.p + off, sizeof len);
            const char *ep = a.p + off + sizeof len;
            off += sizeof len + len;
            while (len && is_ws(ep[0]))
                ep++, len--;
            while (len && is_ws(ep[len - 1]))
                len--;
            if (len != tl || memcmp(ep, st, tl))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    fuzz_json(data, size);
    fuzz_jsplit(data, size, h);
    return 0;
}

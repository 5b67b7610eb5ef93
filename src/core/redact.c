/* redact.c: the process-wide secret registry and the redactor (redact.h).
 *
 * Known secrets are matched through their 8-byte windows: every window of
 * every secret of 8 bytes or more sits in a sorted array (with a 64 Ki-bit
 * filter on its first two bytes), and a window of the text found there marks
 * those 8 bytes; overlapping marks merge, so a whole key, a prefix, a
 * suffix or any piece of 8 or more characters becomes one marker. Shorter
 * secrets (4..7 bytes) are matched whole. Shapes are found in one pass.
 * Marked spans are sorted, merged and replaced in one copy. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/redact.h"

#define MAX_SECRETS 256
#define MAX_SECRET_LEN 4096
#define MAX_NAMES 64
#define MAX_NAME_LEN 128

typedef struct { char *s; size_t n; } secret;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static secret secrets[MAX_SECRETS];
static int nsecrets;
static uint64_t *grams;            /* sorted 8-byte windows of long secrets */
static size_t ngrams, gramcap;
static uint8_t filter[8192];       /* bit per (first byte, second byte) */
static char names[MAX_NAMES][MAX_NAME_LEN + 1];   /* extra secret names */
static int nnames;

/* A marked span [a, b) and what replaces it. */
enum { K_MARK = 0, K_PARAM = 1, K_DROP = 2 };
typedef struct { size_t a, b; int kind; } span;
typedef struct { span *v; size_t n, cap; int oom; } spans;

static const char *const replacement[] = {MB_REDACTED, "REDACTED", ""};

static uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static unsigned fkey(const char *p)
{
    return (unsigned)(unsigned char)p[0] << 8 | (unsigned char)p[1];
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Case-insensitive equality of s[0..n) with the lower-case word w. */
static int word_eq(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++)
        if (lower(s[i]) != w[i])
            return 0;
    return i == n && !w[i];
}

/* Case-insensitive search of the lower-case word w inside s[0..n). Returns
 * the offset after the match, or 0. */
static size_t word_in(const char *s, size_t n, const char *w, size_t from)
{
    size_t l = strlen(w);
    for (size_t i = from; i + l <= n; i++) {
        size_t k = 0;
        while (k < l && lower(s[i + k]) == w[k])
            k++;
        if (k == l)
            return i + l;
    }
    return 0;
}

/* Adds a secret and its windows to the registry. */
int mb_redact_add_secret(const char *s, size_t n)
{
    int rc = 0;
    if (!s || n < MB_REDACT_MIN_SECRET || n > MAX_SECRET_LEN)
        return MB_EINVAL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nsecrets; i++)
        if (secrets[i].n == n && memcmp(secrets[i].s, s, n) == 0)
            goto out;
    if (nsecrets == MAX_SECRETS) {
        rc = MB_EINVAL;
        goto out;
    }
    char *copy = malloc(n);
    if (!copy) {
        rc = MB_ENOMEM;
        goto out;
    }
    memcpy(copy, s, n);
    if (n >= MB_REDACT_PIECE) {
        size_t add = n - (MB_REDACT_PIECE - 1);
        if (ngrams + add > gramcap) {
            size_t cap = gramcap ? gramcap : 256;
            while (cap < ngrams + add)
                cap *= 2;
            uint64_t *g = realloc(grams, cap * sizeof *g);
            if (!g) {
                free(copy);
                rc = MB_ENOMEM;
                goto out;
            }
            grams = g;
            gramcap = cap;
        }
        for (size_t i = 0; i + 8 <= n; i++) {
            unsigned k = fkey(s + i);
            grams[ngrams++] = load8(s + i);
            filter[k >> 3] |= (uint8_t)(1u << (k & 7));
        }
        qsort(grams, ngrams, sizeof *grams, cmp_u64);
    }
    secrets[nsecrets++] = (secret){copy, n};
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

/* Adds a secret header/parameter name (stored lower-cased). */
int mb_redact_add_name(const char *name, size_t n)
{
    int rc = 0;
    if (!name || n == 0 || n > MAX_NAME_LEN)
        return MB_EINVAL;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nnames; i++)
        if (word_eq(name, n, names[i]))
            goto out;
    if (nnames == MAX_NAMES) {
        rc = MB_EINVAL;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        names[nnames][i] = lower(name[i]);
    names[nnames][n] = 0;
    nnames++;
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

void mb_redact_reset(void)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nsecrets; i++)
        free(secrets[i].s);
    nsecrets = 0;
    free(grams);
    grams = NULL;
    ngrams = gramcap = 0;
    memset(filter, 0, sizeof filter);
    nnames = 0;
    pthread_mutex_unlock(&mu);
}

int mb_redact_count(void)
{
    pthread_mutex_lock(&mu);
    int n = nsecrets;
    pthread_mutex_unlock(&mu);
    return n;
}

/* The name test without the lock (the caller holds it). */
static int secret_name_locked(const char *s, size_t n)
{
    static const char *const exact[] = {"sig", "sas", "pwd", "cookie", "set-cookie",
                                        "session", "sessionid", NULL};
    static const char *const parts[] = {"key", "secret", "passw", "signature", "credential",
                                        NULL};
    size_t at;
    if (n == 0 || n > MAX_NAME_LEN)
        return 0;
    /* api_key_env, --api-key-env: the name of a variable, not a value */
    if (n > 4 && (s[n - 4] == '_' || s[n - 4] == '-') && word_eq(s + n - 3, 3, "env"))
        return 0;
    for (int i = 0; exact[i]; i++)
        if (word_eq(s, n, exact[i]))
            return 1;
    for (int i = 0; parts[i]; i++)
        if (word_in(s, n, parts[i], 0))
            return 1;
    /* token, access_token, x-mock-token, id_token -- "token" as a part of
     * the name, not max_tokens (a count) nor tokenizer (a file) */
    for (at = 0; (at = word_in(s, n, "token", at)) != 0;)
        if (at == n || s[at] == '-' || s[at] == '_')
            return 1;
    /* authorization, proxy-authorization, x-auth, auth_token: "auth" as a
     * part of the name -- not author, not authentication_error */
    if (word_in(s, n, "authoriz", 0))
        return 1;
    for (at = 0; (at = word_in(s, n, "auth", at)) != 0;)
        if ((at == 4 || s[at - 5] == '-' || s[at - 5] == '_')
            && (at == n || s[at] == '-' || s[at] == '_'))
            return 1;
    for (int i = 0; i < nnames; i++)
        if (word_eq(s, n, names[i]))
            return 1;
    return 0;
}

int mb_redact_secret_name(const char *name, size_t n)
{
    pthread_mutex_lock(&mu);
    int r = secret_name_locked(name, n);
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- spans ---------------------------------------------------------------- */

static void mark(spans *sp, size_t a, size_t b, int kind)
{
    if (a >= b)
        return;
    if (sp->n == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 16;
        span *v = realloc(sp->v, cap * sizeof *v);
        if (!v) {
            sp->oom = 1;
            return;
        }
        sp->v = v;
        sp->cap = cap;
    }
    sp->v[sp->n++] = (span){a, b, kind};
}

static int cmp_span(const void *x, const void *y)
{
    const span *a = x, *b = y;
    return a->a < b->a ? -1 : a->a > b->a ? 1 : (a->b > b->b) - (a->b < b->b);
}

/* ---- known secrets -------------------------------------------------------- */

static int gram_known(uint64_t w)
{
    size_t lo = 0, hi = ngrams;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (grams[mid] < w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ngrams && grams[lo] == w;
}

static void find_known(const char *in, size_t n, spans *sp)
{
    size_t open_a = 0, open_b = 0;   /* the span being grown */
    if (ngrams)
        for (size_t i = 0; i + 8 <= n; i++) {
            unsigned k = fkey(in + i);
            if (!(filter[k >> 3] & (1u << (k & 7))) || !gram_known(load8(in + i)))
                continue;
            if (open_b > open_a && i <= open_b) {
                open_b = i + 8;
            } else {
                mark(sp, open_a, open_b, K_MARK);
                open_a = i;
                open_b = i + 8;
            }
        }
    mark(sp, open_a, open_b, K_MARK);
    for (int s = 0; s < nsecrets; s++) {
        const secret *k = &secrets[s];
        if (k->n >= MB_REDACT_PIECE || k->n > n)
            continue;
        for (size_t i = 0; i + k->n <= n; i++)
            if (in[i] == k->s[0] && memcmp(in + i, k->s, k->n) == 0)
                mark(sp, i, i + k->n, K_MARK);
    }
}

/* ---- shapes --------------------------------------------------------------- */

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_name(char c) { return is_alnum(c) || c == '_' || c == '-'; }

/* Characters of a key or token: sk-..., Bearer ... (RFC 6750 b64token). */
static int is_tok(char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '.' || c == '~' || c == '+' || c == '/'
           || c == '=' || c == '*';
}

static int is_b64(char c) { return is_alnum(c) || c == '+' || c == '/' || c == '='; }

static int is_space(char c) { return c == ' ' || c == '\t'; }

/* Already a marker: leave it (keeps redaction idempotent and cheap). */
static int at_marker(const char *in, size_t n, size_t i)
{
    return (n - i >= 10 && memcmp(in + i, MB_REDACTED, 10) == 0)
           || (n - i >= 8 && memcmp(in + i, "REDACTED", 8) == 0);
}

/* `name<sep>value` at i (a name boundary): a secret header or parameter.
 * Returns the end of the name (the scan goes on from there). */
static size_t name_value(const char *in, size_t n, size_t i, int url, spans *sp)
{
    size_t e = i, j;
    char sep, q = 0;
    while (e < n && is_name(in[e]))
        e++;
    j = e;
    if (j < n && (in[j] == '"' || in[j] == '\''))
        j++;                                   /* the end of a quoted key */
    while (j < n && is_space(in[j]))
        j++;
    if (j >= n || (in[j] != ':' && in[j] != '='))
        return e;
    sep = in[j++];
    /* `Name: value` (a header) or `"name": value` (JSON); not `host:8080`
     * nor `https://` */
    if (sep == ':' && !(j < n && is_space(in[j])) && !(e < n && (in[e] == '"' || in[e] == '\''))
        && j < n)
        return e;
    if (!secret_name_locked(in + i, e - i))
        return e;
    /* "API key: set X" is prose: a bare word before an unquoted colon is a
     * header only if it is one (Authorization, Cookie) */
    if (sep == ':' && !(e < n && (in[e] == '"' || in[e] == '\''))
        && !memchr(in + i, '-', e - i) && !memchr(in + i, '_', e - i)
        && !word_eq(in + i, e - i, "authorization") && !word_eq(in + i, e - i, "cookie"))
        return e;
    while (j < n && is_space(in[j]))
        j++;
    if (j < n && (in[j] == '"' || in[j] == '\''))
        q = in[j++];
    if (j < n && at_marker(in, n, j))
        return e;
    size_t a = j;
    if (q) {
        while (j < n && in[j] != q && in[j] != '\n') {
            if (in[j] == '\\' && j + 1 < n)
                j++;
            j++;
        }
        if (j > n)
            j = n;
    } else if (sep == ':') {
        while (j < n && !strchr("\r\n\"',}", in[j]))
            j++;
        while (j > a && is_space(in[j - 1]))
            j--;
    } else {
        while (j < n && !strchr("\r\n\t \"'&;#,})]", in[j]))
            j++;
    }
    mark(sp, a, j, url && sep == '=' ? K_PARAM : K_MARK);
    return e;
}

/* `scheme://user:pass@host`: the user info. */
static void userinfo(const char *in, size_t n, size_t i, int url, spans *sp)
{
    size_t a = i + 3, j = a, at = 0;
    while (j < n && !strchr("/?#\"'<> \t\r\n", in[j])) {
        if (in[j] == '@')
            at = j;
        j++;
    }
    if (at > a)
        mark(sp, a, url ? at + 1 : at, url ? K_DROP : K_MARK);
}

static int b64val(char c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
         : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* 1 when s[0..n) is base64 of "user:password" (a Basic credential), not a
 * word that happens to use the alphabet ("a basic question"). */
static int basic_credential(const char *s, size_t n)
{
    uint32_t acc = 0;
    int bits = 0;
    if (n % 4)
        return 0;
    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64val(s[i]);
        if (v < 0)
            return 0;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (((acc >> bits) & 0xff) == ':')
                return 1;
        }
    }
    return 0;
}

/* `word <token>` (Bearer, Basic): the token, at least `min` characters. */
static void scheme_token(const char *in, size_t n, size_t i, size_t wl, size_t min, int b64,
                         spans *sp)
{
    size_t j = i + wl, a;
    if (j >= n || !is_space(in[j]))
        return;
    while (j < n && is_space(in[j]))
        j++;
    a = j;
    while (j < n && (b64 ? is_b64(in[j]) : is_tok(in[j])))
        j++;
    while (!b64 && j > a && in[j - 1] == '.')
        j--;                                   /* the sentence's full stop */
    if (j - a >= min && !(j < n && is_name(in[j])) && (!b64 || basic_credential(in + a, j - a)))
        mark(sp, a, j, K_MARK);
}

static void find_shapes(const char *in, size_t n, int url, spans *sp)
{
    size_t i = 0;
    while (i < n) {
        char c = in[i];
        int boundary = i == 0 || !is_name(in[i - 1]);
        if (c == ':' && n - i >= 3 && in[i + 1] == '/' && in[i + 2] == '/') {
            userinfo(in, n, i, url, sp);
            i += 3;
            continue;
        }
        if (!boundary || !is_name(c)) {
            i++;
            continue;
        }
        if (n - i > 3 && c == 's' && in[i + 1] == 'k' && in[i + 2] == '-') {
            size_t j = i + 3;
            while (j < n && is_tok(in[j]))
                j++;
            while (j > i + 3 && in[j - 1] == '.')
                j--;
            if (j - (i + 3) >= 4 && !at_marker(in, n, i + 3))
                mark(sp, i + 3, j, K_MARK);
        } else if (n - i >= 6 && word_eq(in + i, 6, "bearer")) {
            scheme_token(in, n, i, 6, 1, 0, sp);
        } else if (n - i >= 5 && word_eq(in + i, 5, "basic")) {
            scheme_token(in, n, i, 5, 8, 1, sp);
        }
        i = name_value(in, n, i, url, sp);
    }
}

/* ---- public --------------------------------------------------------------- */

int mb_redact(const char *in, size_t n, int flags, char **out, size_t *outlen)
{
    spans sp = {0};
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (flags & MB_REDACT_KNOWN)
        find_known(in, n, &sp);
    if (flags & MB_REDACT_SHAPES)
        find_shapes(in, n, (flags & MB_REDACT_URL) != 0, &sp);
    pthread_mutex_unlock(&mu);
    if (sp.oom) {
        rc = MB_ENOMEM;
        goto done;
    }
    if (sp.n == 0)
        goto done;
    qsort(sp.v, sp.n, sizeof *sp.v, cmp_span);
    /* merge overlapping or touching spans: a span that covers the whole
     * group gives it its kind (user info dropped, a parameter's REDACTED;
     * a marker loses to those), anything else becomes a marker */
    size_t m = 0;
    int cover = sp.v[0].kind;
    for (size_t k = 1; k < sp.n; k++) {
        span *cur = &sp.v[m], *x = &sp.v[k];
        if (x->a <= cur->b) {
            size_t nb = x->b > cur->b ? x->b : cur->b;
            int x_covers = x->a == cur->a && x->b == nb, cur_covers = cover >= 0 && cur->b == nb;
            if (x_covers && cur_covers)
                cover = cover != K_MARK ? cover : x->kind;
            else if (x_covers)
                cover = x->kind;
            else if (!cur_covers)
                cover = -1;
            cur->b = nb;
        } else {
            cur->kind = cover < 0 ? K_MARK : cover;
            sp.v[++m] = *x;
            cover = x->kind;
        }
    }
    sp.v[m].kind = cover < 0 ? K_MARK : cover;
    sp.n = m + 1;
    size_t len = n;
    for (size_t k = 0; k < sp.n; k++)
        len = len - (sp.v[k].b - sp.v[k].a) + strlen(replacement[sp.v[k].kind]);
    char *o = malloc(len + 1), *w = o;
    if (!o) {
        rc = MB_ENOMEM;
        goto done;
    }
    size_t at = 0;
    for (size_t k = 0; k < sp.n; k++) {
        const char *r = replacement[sp.v[k].kind];
        size_t rl = strlen(r);
        memcpy(w, in + at, sp.v[k].a - at);
        w += sp.v[k].a - at;
        memcpy(w, r, rl);
        w += rl;
        at = sp.v[k].b;
    }
    memcpy(w, in + at, n - at);
    w += n - at;
    *w = 0;
    *out = o;
    *outlen = (size_t)(w - o);
    rc = 1;
done:
    free(sp.v);
    return rc;
}

void mb_redact_buf(char *buf, size_t cap, int flags)
{
    char *out;
    size_t len;
    if (cap == 0)
        return;
    int rc = mb_redact(buf, strlen(buf), flags, &out, &len);
    if (rc == 0)
        return;
    if (rc < 0) {
        strncpy(buf, MB_REDACTED " (out of memory while redacting)", cap - 1);
        buf[cap - 1] = 0;
        return;
    }
    if (len > cap - 1)
        len = cap - 1;
    memcpy(buf, out, len);
    buf[len] = 0;
    free(out);
}

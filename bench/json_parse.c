/* json_parse.c: MB/s of src/core/json.c next to cJSON and jsmn on the
 * JSON mlxbench reads -- SSE chunks (every `data:` payload of the wire
 * fixtures, 100-600 bytes each) and request bodies of the emulator (a
 * chat turn, a long-context request, many messages, a prompt of token ids).
 *
 *   json_parse SECONDS ROUNDS FIXTURE_DIR
 *
 * Parsers, each doing what a reader needs before it can look fields up:
 *   mb tokens   mb_json_parse into a token array that has grown to fit
 *               (what the LLM extractor does per chunk)
 *   mb cursor   mb_json_doc (validate) plus a walk over every value (what
 *               the emulator does with a body, at most)
 *   cJSON       cJSON_ParseWithLength + cJSON_Delete (a DOM, allocated)
 *   jsmn        jsmn_parse (JSMN_STRICT) into a token array that has grown
 *               to fit; jsmn checks far less (no UTF-8, no number grammar)
 * Each input set is parsed over and over for SECONDS per round; ROUNDS
 * rounds, parsers interleaved; printed: the median MB/s per set and
 * parser. Compiled by bench/json_parse.sh. */
#define JSMN_STRICT
#define JSMN_STATIC
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>
#include <jsmn.h>
#include "mlxbench/buf.h"
#include "mlxbench/json.h"

#define MAXDOCS 4096
#define NPARSERS 4

typedef struct docset {
    const char *name;
    const char *doc[MAXDOCS];
    size_t len[MAXDOCS];
    size_t n, bytes;
} docset;

static const char *const parsers[NPARSERS] = {"mb tokens", "mb cursor", "cJSON", "jsmn"};

static mb_json_tok *toks;
static size_t ntoks;
static jsmntok_t *jtoks;
static size_t njtoks;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add(docset *s, char *doc, size_t len)
{
    if (s->n == MAXDOCS)
        return;
    s->doc[s->n] = doc;
    s->len[s->n] = len;
    s->n++;
    s->bytes += len;
}

/* The `data:` payloads of every .sse fixture (not [DONE]). */
static void load_sse(docset *s, const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096], line[65536];
    if (!d) {
        fprintf(stderr, "json_parse: cannot open %s\n", dir);
        exit(2);
    }
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".sse") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "data:", 5) != 0)
                continue;
            char *p = line + 5;
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, "\r\n");
            if (n == 0 || (n == 6 && strncmp(p, "[DONE]", 6) == 0) || *p != '{')
                continue;
            add(s, strndup(p, n), n);
        }
        fclose(f);
    }
    closedir(d);
}

/* Pseudo-text of n bytes: words, punctuation, an escape now and then. */
static void text(mb_buf *b, size_t n, unsigned seed)
{
    static const char *const w[] = {"the ", "model ", "answers ", "quickly, ", "and ", "then ",
                                    "\\n", "tokens ", "stream. ", "caf\\u00e9 ", "\\\"quote\\\" "};
    size_t start = b->len;
    while (b->len - start < n) {
        seed = seed * 1103515245u + 12345u;
        mb_buf_puts(b, w[(seed >> 16) % (sizeof w / sizeof w[0])]);
    }
}

static char *chat(size_t turns, size_t turn_bytes, size_t *len, unsigned seed)
{
    mb_buf b = MB_BUF_INIT;
    mb_buf_puts(&b, "{\"model\":\"mlx-community/Llama-3.1-8B-Instruct-4bit\",\"stream\":true,"
                    "\"stream_options\":{\"include_usage\":true},\"max_tokens\":256,"
                    "\"temperature\":0.7,\"messages\":[{\"role\":\"system\",\"content\":\"");
    text(&b, 300, seed);
    mb_buf_puts(&b, "\"}");
    for (size_t i = 0; i < turns; i++) {
        mb_buf_printf(&b, ",{\"role\":\"%s\",\"content\":\"", i % 2 ? "assistant" : "user");
        text(&b, turn_bytes, seed + (unsigned)i);
        mb_buf_puts(&b, "\"}");
    }
    mb_buf_puts(&b, "]}");
    *len = b.len;
    return mb_buf_take(&b);
}

static char *ids(size_t n, size_t *len)
{
    mb_buf b = MB_BUF_INIT;
    mb_buf_puts(&b, "{\"model\":\"m\",\"max_tokens\":16,\"prompt\":[");
    for (size_t i = 0; i < n; i++)
        mb_buf_printf(&b, "%s%zu", i ? "," : "", (i * 7919) % 128000);
    mb_buf_puts(&b, "]}");
    *len = b.len;
    return mb_buf_take(&b);
}

/* Visits every value under v (the cursor's full walk). */
static size_t walk(const mb_json_val *v)
{
    mb_json_iter it;
    mb_json_val k, x;
    size_t n = 1;
    if (v->type != MB_JSON_OBJECT && v->type != MB_JSON_ARRAY)
        return n;
    mb_json_iter_init(&it, v);
    while (mb_json_next(&it, &k, &x))
        n += walk(&x);
    return n;
}

/* Parses one document with parser p; returns a count that depends on it
 * (so the work is not optimised away), 0 on failure. */
static size_t parse(int p, const char *s, size_t n)
{
    switch (p) {
    case 0: {
        size_t nt = 0;
        int rc = mb_json_parse(s, n, toks, ntoks, &nt);
        if (rc == -4 && nt > ntoks) {   /* MB_ETOOLONG: grow once, as the extractor does */
            free(toks);
            ntoks = nt;
            toks = malloc(nt * sizeof *toks);
            rc = mb_json_parse(s, n, toks, ntoks, &nt);
        }
        return rc == 0 ? nt : 0;
    }
    case 1: {
        mb_json_val root;
        return mb_json_doc(s, n, &root) == 0 ? walk(&root) : 0;
    }
    case 2: {
        cJSON *c = cJSON_ParseWithLength(s, n);
        size_t r = c && c->child ? 2 : c ? 1 : 0;
        cJSON_Delete(c);
        return r;
    }
    default: {
        jsmn_parser jp;
        int r;
        jsmn_init(&jp);
        r = jsmn_parse(&jp, s, n, jtoks, (unsigned)njtoks);
        if (r == JSMN_ERROR_NOMEM) {
            jsmn_init(&jp);
            int need = jsmn_parse(&jp, s, n, NULL, 0);
            free(jtoks);
            njtoks = need > 0 ? (size_t)need : 1;
            jtoks = malloc(njtoks * sizeof *jtoks);
            jsmn_init(&jp);
            r = jsmn_parse(&jp, s, n, jtoks, (unsigned)njtoks);
        }
        return r > 0 ? (size_t)r : 0;
    }
    }
}

/* MB/s of parser p over the set for `secs`. */
static double round_mbs(int p, const docset *s, double secs)
{
    double t0 = now_s(), t;
    size_t bytes = 0, sink = 0;
    do {
        for (size_t i = 0; i < s->n; i++) {
            size_t r = parse(p, s->doc[i], s->len[i]);
            if (!r) {
                fprintf(stderr, "json_parse: %s failed on a document of %s\n", parsers[p], s->name);
                exit(1);
            }
            sink += r;
        }
        bytes += s->bytes;
        t = now_s();
    } while (t - t0 < secs);
    if (sink == 42)
        putchar(' ');
    return (double)bytes / 1e6 / (t - t0);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    const char *fix = argc > 3 ? argv[3] : "tests/fixtures/wire";
    static docset sets[5];
    size_t len;
    char *d;
    if (rounds < 1 || rounds > 99)
        rounds = 5;
    sets[0].name = "sse_chunks";
    load_sse(&sets[0], fix);
    sets[1].name = "chat_2KB";
    for (unsigned i = 0; i < 64; i++) {
        d = chat(4, 400, &len, i);
        add(&sets[1], d, len);
    }
    sets[2].name = "long_context_200KB";
    d = chat(1, 200000, &len, 7);
    add(&sets[2], d, len);
    sets[3].name = "many_messages_1MB";
    d = chat(4000, 200, &len, 9);
    add(&sets[3], d, len);
    sets[4].name = "token_ids_1MB";
    d = ids(150000, &len);
    add(&sets[4], d, len);

    printf("%-20s %6s %9s", "input", "docs", "avg_bytes");
    for (int p = 0; p < NPARSERS; p++)
        printf(" %11s", parsers[p]);
    printf("   (median MB/s of %d rounds x %.2f s)\n", rounds, secs);
    for (int k = 0; k < 5; k++) {
        double r[NPARSERS][99];
        for (int p = 0; p < NPARSERS; p++)
            round_mbs(p, &sets[k], secs / 5);   /* warm-up */
        for (int i = 0; i < rounds; i++)
            for (int p = 0; p < NPARSERS; p++)
                r[p][i] = round_mbs(p, &sets[k], secs);
        printf("%-20s %6zu %9zu", sets[k].name, sets[k].n, sets[k].bytes / sets[k].n);
        for (int p = 0; p < NPARSERS; p++) {
            qsort(r[p], (size_t)rounds, sizeof r[p][0], cmp);
            printf(" %11.1f", r[p][rounds / 2]);
        }
        printf("\n");
    }
    return 0;
}

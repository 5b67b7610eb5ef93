/* llm_server.c: what a server says about its own work on a request, in
 * every shape servers say it (include/mlxbench/llm.h, mb_llm_server):
 *
 *   llama.cpp   "timings": {"prompt_n", "prompt_ms", "predicted_n",
 *               "predicted_ms", "cache_n"} on the finish chunk and in bodies
 *   Ollama      "load_duration", "prompt_eval_duration", "eval_duration",
 *               "total_duration" (ns) at the top of a response
 *   LM Studio   "stats": {"time_to_first_token" | "time_to_first_token_seconds",
 *               "generation_time", "model_load_time_seconds"} (s)
 *   Cerebras    "time_info": {"queue_time", "prompt_time", "completion_time",
 *               "total_time"} (s); Groq the same names in "usage" and in
 *               "x_groq": {"usage"} on its last chunk
 *   headers     TGI's x-queue-time, x-total-time (ms); W3C Server-Timing
 *   mlxbench    the emulator's "timings" adds "queue_ms"
 *
 * and the prompt tokens a cache served (OpenAI's
 * usage.prompt_tokens_details.cached_tokens, llama.cpp's cache_n). One
 * pass over the top-level keys of each event, dispatched on the first
 * character: a chunk that carries none of these costs a few comparisons. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm_int.h"

void mb_llm_server_init(mb_llm_server *sv)
{
    sv->prefill_s = sv->queue_s = sv->load_s = sv->decode_s = sv->total_s = -1;
    sv->prompt_n = sv->predicted_n = sv->cache_n = -1;
    sv->src = 0;
}

/* A duration in `unit` seconds per unit (1e-3 for ms, 1e-9 for ns), or -1
 * unless token i is a finite number in [0, a day]. */
static double secs_of(const char *s, const mb_json_tok *t, int i, double unit)
{
    char buf[48];
    if (i < 0 || t[i].type != MB_JSON_NUMBER || t[i].len >= sizeof buf)
        return -1;
    memcpy(buf, s + t[i].start, t[i].len);
    buf[t[i].len] = 0;
    double v = strtod(buf, NULL) * unit;
    return isfinite(v) && v >= 0 && v <= 86400 ? v : -1;
}

static void set_s(double *dst, double v)
{
    if (v >= 0)
        *dst = v;
}

static int key_is(const char *key, size_t kl, const char *lit)
{
    return kl == strlen(lit) && memcmp(key, lit, kl) == 0;
}

/* llama.cpp's `timings` (and the emulator's queue_ms). */
static void llamacpp(mb_llm *x, const char *s, int o)
{
    const mb_json_tok *t = x->tok;
    mb_llm_server *sv = &x->server;
    int64_t n;
    if (t[o].type != MB_JSON_OBJECT)
        return;
    set_s(&sv->prefill_s, secs_of(s, t, mb_json_get(s, t, o, "prompt_ms"), 1e-3));
    set_s(&sv->decode_s, secs_of(s, t, mb_json_get(s, t, o, "predicted_ms"), 1e-3));
    if (mb_json_int(s, t, mb_json_get(s, t, o, "prompt_n"), &n) == 0 && n >= 0)
        sv->prompt_n = n;
    if (mb_json_int(s, t, mb_json_get(s, t, o, "predicted_n"), &n) == 0 && n >= 0)
        sv->predicted_n = n;
    if (mb_json_int(s, t, mb_json_get(s, t, o, "cache_n"), &n) == 0 && n >= 0) {
        sv->cache_n = n;
        x->usage_cached = n;
    }
    sv->src |= MB_SRV_LLAMACPP;
    double q = secs_of(s, t, mb_json_get(s, t, o, "queue_ms"), 1e-3);
    if (q >= 0) {
        sv->queue_s = q;
        sv->src |= MB_SRV_MOCK;
    }
}

/* Cerebras time_info, Groq usage / x_groq.usage: seconds. Returns whether
 * any field was there. */
static int time_info(mb_llm *x, const char *s, int o)
{
    const mb_json_tok *t = x->tok;
    mb_llm_server *sv = &x->server;
    if (o < 0 || t[o].type != MB_JSON_OBJECT)
        return 0;
    double q = secs_of(s, t, mb_json_get(s, t, o, "queue_time"), 1);
    double p = secs_of(s, t, mb_json_get(s, t, o, "prompt_time"), 1);
    double c = secs_of(s, t, mb_json_get(s, t, o, "completion_time"), 1);
    double a = secs_of(s, t, mb_json_get(s, t, o, "total_time"), 1);
    if (q < 0 && p < 0 && c < 0 && a < 0)
        return 0;
    set_s(&sv->queue_s, q);
    set_s(&sv->prefill_s, p);
    set_s(&sv->decode_s, c);
    set_s(&sv->total_s, a);
    sv->src |= MB_SRV_TIME_INFO;
    return 1;
}

/* LM Studio's `stats`: v0 time_to_first_token / generation_time, v1
 * time_to_first_token_seconds / model_load_time_seconds (s). */
static void lmstudio(mb_llm *x, const char *s, int o)
{
    const mb_json_tok *t = x->tok;
    mb_llm_server *sv = &x->server;
    if (t[o].type != MB_JSON_OBJECT)
        return;
    double ttft = secs_of(s, t, mb_json_get(s, t, o, "time_to_first_token_seconds"), 1);
    if (ttft < 0)
        ttft = secs_of(s, t, mb_json_get(s, t, o, "time_to_first_token"), 1);
    double gen = secs_of(s, t, mb_json_get(s, t, o, "generation_time"), 1);
    double load = secs_of(s, t, mb_json_get(s, t, o, "model_load_time_seconds"), 1);
    if (ttft < 0 && gen < 0 && load < 0)
        return;
    set_s(&sv->prefill_s, ttft);
    set_s(&sv->decode_s, gen);
    set_s(&sv->load_s, load);
    sv->src |= MB_SRV_LMSTUDIO;
}

/* OpenAI's usage: cached prompt tokens; Groq's timings ride there too. */
static void usage(mb_llm *x, const char *s, int o)
{
    const mb_json_tok *t = x->tok;
    int64_t n;
    if (t[o].type != MB_JSON_OBJECT)
        return;
    int c = mb_json_path(s, t, o, "prompt_tokens_details", "cached_tokens", NULL);
    if (c >= 0 && mb_json_int(s, t, c, &n) == 0 && n >= 0)
        x->usage_cached = n;
    time_info(x, s, o);
}

void mb_llm_server_read(mb_llm *x, const char *s, int root)
{
    const mb_json_tok *t = x->tok;
    mb_llm_server *sv = &x->server;
    if (root < 0 || t[root].type != MB_JSON_OBJECT)
        return;
    uint32_t k = (uint32_t)root + 1;
    for (uint32_t m = 0; m < t[root].size; m++, k = t[k + 1].next) {
        const char *key = s + t[k].start;
        size_t kl = t[k].len;
        int v = (int)k + 1;
        double d;
        if (kl < 5)
            continue;
        switch (key[0]) {
        case 't':
            if (key_is(key, kl, "timings"))
                llamacpp(x, s, v);
            else if (key_is(key, kl, "time_info"))
                time_info(x, s, v);
            else if (key_is(key, kl, "total_duration") && (d = secs_of(s, t, v, 1e-9)) >= 0) {
                sv->total_s = d;
                sv->src |= MB_SRV_OLLAMA;
            }
            break;
        case 's':
            if (key_is(key, kl, "stats"))
                lmstudio(x, s, v);
            break;
        case 'u':
            if (key_is(key, kl, "usage"))
                usage(x, s, v);
            break;
        case 'x':
            if (key_is(key, kl, "x_groq") && t[v].type == MB_JSON_OBJECT)
                time_info(x, s, mb_json_get(s, t, v, "usage"));
            break;
        case 'l':
            if (key_is(key, kl, "load_duration") && (d = secs_of(s, t, v, 1e-9)) >= 0) {
                sv->load_s = d;
                sv->src |= MB_SRV_OLLAMA;
            }
            break;
        case 'p':
            if (key_is(key, kl, "prompt_eval_duration") && (d = secs_of(s, t, v, 1e-9)) >= 0) {
                sv->prefill_s = d;
                sv->src |= MB_SRV_OLLAMA;
            }
            break;
        case 'e':
            if (key_is(key, kl, "eval_duration") && (d = secs_of(s, t, v, 1e-9)) >= 0) {
                sv->decode_s = d;
                sv->src |= MB_SRV_OLLAMA;
            }
            break;
        default:
            break;
        }
    }
}

/* A header value in ms (TGI): a plain non-negative number. */
static double header_ms(const char *v, size_t n)
{
    char buf[48], *end;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = 0;
    double d = strtod(buf, &end);
    while (*end == ' ')
        end++;
    return *end == 0 && isfinite(d) && d >= 0 && d <= 86400e3 ? d * 1e-3 : -1;
}

/* One Server-Timing metric "name;dur=12.5;desc=..." (dur in ms). */
static void server_timing_metric(mb_llm_server *sv, const char *p, size_t n)
{
    size_t nl = 0;
    while (nl < n && p[nl] != ';' && p[nl] != ' ')
        nl++;
    const char *dur = NULL;
    for (size_t i = nl; i + 4 <= n; i++)
        if ((i == 0 || p[i - 1] == ';' || p[i - 1] == ' ') && memcmp(p + i, "dur=", 4) == 0) {
            dur = p + i + 4;
            break;
        }
    if (!dur)
        return;
    size_t dl = 0;
    while (dur + dl < p + n && dur[dl] != ';' && dur[dl] != ' ')
        dl++;
    double s = header_ms(dur, dl);
    if (s < 0)
        return;
    static const struct { const char *name; int field; } names[] = {
        {"queue", 0}, {"queue_time", 0}, {"wait", 0}, {"prefill", 1}, {"prompt", 1},
        {"prompt_eval", 1}, {"decode", 2}, {"generation", 2}, {"completion", 2}, {"eval", 2},
        {"load", 3}, {"model_load", 3}, {"total", 4}, {NULL, 0}};
    for (int i = 0; names[i].name; i++)
        if (key_is(p, nl, names[i].name)) {
            double *f[] = {&sv->queue_s, &sv->prefill_s, &sv->decode_s, &sv->load_s, &sv->total_s};
            *f[names[i].field] = s;
            sv->src |= MB_SRV_HEADERS;
            return;
        }
}

void mb_llm_header(mb_llm *x, const char *name, size_t nlen, const char *value, size_t vlen)
{
    mb_llm_server *sv = &x->server;
    double d;
    if (nlen < 12 || (name[0] != 'x' && name[0] != 's'))
        return;
    if (key_is(name, nlen, "x-queue-time") && (d = header_ms(value, vlen)) >= 0) {
        sv->queue_s = d;
        sv->src |= MB_SRV_HEADERS;
    } else if (key_is(name, nlen, "x-total-time") && (d = header_ms(value, vlen)) >= 0) {
        sv->total_s = d;
        sv->src |= MB_SRV_HEADERS;
    } else if (key_is(name, nlen, "server-timing")) {
        size_t i = 0;
        while (i < vlen) {
            while (i < vlen && (value[i] == ' ' || value[i] == ','))
                i++;
            size_t j = i;
            int quoted = 0;
            while (j < vlen && (quoted || value[j] != ',')) {
                if (value[j] == '"')
                    quoted = !quoted;
                j++;
            }
            if (j > i)
                server_timing_metric(sv, value + i, j - i);
            i = j;
        }
    }
}

const char *mb_llm_server_source(unsigned src, char *buf, size_t cap)
{
    static const char *const names[] = {"llama.cpp", "ollama", "lmstudio", "time_info", "headers",
                                        "mock"};
    size_t w = 0;
    if (cap == 0)
        return buf;
    buf[0] = 0;
    if (src & MB_SRV_MOCK)
        src &= ~(unsigned)MB_SRV_LLAMACPP;   /* the emulator's timings have llama.cpp's shape */
    for (int i = 0; i < 6; i++)
        if (src & (1u << i)) {
            int k = snprintf(buf + w, cap - w, "%s%s", w ? "+" : "", names[i]);
            if (k < 0 || (size_t)k >= cap - w)
                break;
            w += (size_t)k;
        }
    return buf;
}

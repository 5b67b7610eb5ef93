/* mock_profile.c: the emulated server's models (built-in and from a JSON
 * profile) and its fault fields. Parsing is strict -- an unknown field or a
 * value of the wrong type is an error naming the field -- because a typo in
 * a benchmark profile should fail loudly, not silently change the timing. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

/* The seed product's three tiers at clearly different speeds (roughly an
 * Apple-silicon laptop), plus cloud-like models so OpenAI- and
 * Anthropic-shaped runs work against the mock out of the box. */
static const struct builtin {
    const char *name, *owned_by;
    mb_mock_timing t;
    int reasoning;
} builtins[] = {
    {"mlx-community/Llama-3.2-3B-Instruct-4bit", "mlx-community", {45, 4000, 110, 0.05, 16, 900}, 0},
    {"mlx-community/Llama-3.1-8B-Instruct-4bit", "mlx-community", {90, 1500, 55, 0.05, 12, 400}, 0},
    {"mlx-community/Llama-3.3-70B-Instruct-4bit", "mlx-community", {400, 180, 9, 0.05, 8, 48}, 0},
    {"gpt-4o-mini", "openai", {300, 20000, 85, 0.25, 0, 0}, 0},
    {"gpt-4o", "openai", {400, 15000, 60, 0.25, 0, 0}, 0},
    {"claude-3-5-haiku-latest", "anthropic", {450, 20000, 65, 0.25, 0, 0}, 0},
    {"claude-sonnet-4-5", "anthropic", {600, 15000, 55, 0.25, 0, 0}, 0},
    {"mock-reasoning", "mlxbench-mock", {150, 3000, 80, 0.05, 12, 600}, 32},
};
#define DEFAULT_FALLBACK "mlx-community/Llama-3.1-8B-Instruct-4bit"

static void err_set(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the one-line reason of a refused profile or fault body. */
static void err_set(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (!err || !n)
        return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    for (char *q = err; *q; q++)   /* names from the input: keep one printable line */
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
}

/* Generic values for a model the profile invents. */
static void model_base(mk_model *md)
{
    md->t = (mb_mock_timing){100, 2000, 50, 0, 0, 0};
    md->tokens_per_chunk = 1;
    md->events_per_write = 1;
    md->reasoning_tokens = 0;
    memcpy(md->reasoning_field, "reasoning_content", sizeof "reasoning_content");
    md->usage = 1;
    md->natural_tokens = 64;
    md->length_spread = 0.8;
    md->always_max = 0;
    md->timings = 0;
    md->max_running = 0;
    md->kv_cache_tokens = 131072;
}

static mk_model *model_new(mb_mock *m, const char *name, const char *owned_by)
{
    mk_model *md = calloc(1, sizeof *md);
    if (!md)
        return NULL;
    md->name = strdup(name);
    md->owned_by = strdup(owned_by);
    if (!md->name || !md->owned_by) {
        free(md->name);
        free(md->owned_by);
        free(md);
        return NULL;
    }
    model_base(md);
    /* append, so /v1/models lists in definition order */
    mk_model **pp = &m->models;
    while (*pp)
        pp = &(*pp)->next;
    *pp = md;
    return md;
}

mk_model *mk_find_model(mb_mock *m, const char *name)
{
    for (mk_model *md = m->models; md; md = md->next)
        if (strcmp(md->name, name) == 0)
            return md;
    return NULL;
}

void mk_models_free(mb_mock *m)
{
    while (m->models) {
        mk_model *md = m->models;
        m->models = md->next;
        if (md == m->fallback)
            m->fallback = NULL;
        free(md->name);
        free(md->owned_by);
        free(md);
    }
}

/* The timing unknown models get when any_model is on: default_model, else
 * the medium tier, else the first model. */
void mk_default_fallback(mb_mock *m)
{
    if (!m->fallback)
        m->fallback = mk_find_model(m, DEFAULT_FALLBACK);
    if (!m->fallback)
        m->fallback = m->models;
}

int mk_builtin_models(mb_mock *m)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        mk_model *md = model_new(m, builtins[i].name, builtins[i].owned_by);
        if (!md)
            return MB_ENOMEM;
        md->t = builtins[i].t;
        md->reasoning_tokens = builtins[i].reasoning;
    }
    return 0;
}

/* Reads a number field in [lo, hi] into *out when present. 1 (read), 0
 * (absent) or MB_EINVAL. */
static int num_field(const mb_json_val *o, const char *k, double lo, double hi, double *out,
                     char *err, size_t errlen)
{
    mb_json_val v;
    double d;
    if (!mb_json_find(o, k, &v))
        return 0;
    d = mb_json_num(&v);
    if (v.type != MB_JSON_NUMBER || !isfinite(d) || d < lo || d > hi) {
        char range[64];
        snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
        err_set(err, errlen, "'%s' must be %s", k, range);
        return MB_EINVAL;
    }
    *out = d;
    return 1;
}

/* An integer field in [lo, hi]: 1, 0 (absent) or MB_EINVAL. */
static int int_field(const mb_json_val *o, const char *k, long lo, long hi, int *out,
                     char *err, size_t errlen)
{
    double d = 0;
    int rc = num_field(o, k, (double)lo, (double)hi, &d, err, errlen);
    if (rc <= 0)
        return rc;
    if (d != floor(d)) {
        err_set(err, errlen, "'%s' must be an integer", k);
        return MB_EINVAL;
    }
    *out = (int)d;
    return 1;
}

/* A boolean field: 1, 0 (absent) or MB_EINVAL. */
static int bool_field(const mb_json_val *o, const char *k, int *out, char *err, size_t errlen)
{
    mb_json_val v;
    if (!mb_json_find(o, k, &v))
        return 0;
    if (v.type != MB_JSON_TRUE && v.type != MB_JSON_FALSE) {
        err_set(err, errlen, "'%s' must be true or false", k);
        return MB_EINVAL;
    }
    *out = v.type == MB_JSON_TRUE;
    return 1;
}

/* Ignored keys: documentation inside a profile. */
static int is_comment_key(const mb_json_val *k)
{
    return (k->n > 2 && k->p[1] == '_') || mb_json_eq(k, "description") ||
           mb_json_eq(k, "$comment");
}

/* Every key of object o is one of `allowed` (or a comment). */
static int check_keys(const mb_json_val *o, const char *const *allowed, const char *what,
                      char *err, size_t errlen)
{
    mb_json_iter it;
    mb_json_val k, v;
    mb_json_iter_init(&it, o);
    while (mb_json_next(&it, &k, &v)) {
        int ok = is_comment_key(&k);
        for (int i = 0; !ok && allowed[i]; i++)
            ok = mb_json_eq(&k, allowed[i]);
        if (!ok) {
            char name[64];
            mb_json_strcpy(&k, name, sizeof name);
            err_set(err, errlen, "unknown %s field '%s'", what, name);
            return MB_EINVAL;
        }
    }
    return 0;
}

static const char *const model_keys[] = {
    "id", "ttft_ms", "prefill_tok_s", "decode_tok_s", "jitter", "batch_knee",
    "max_aggregate_tok_s", "tokens_per_chunk", "events_per_write", "reasoning_tokens",
    "reasoning_field", "usage", "natural_tokens", "length_spread", "length", "owned_by",
    "timings", "max_running", "kv_cache_tokens", NULL};

static int mode_field(const mb_json_val *o, const char *k, const char *one, const char *zero,
                      int *out, char *err, size_t errlen);

/* Applies the fields of one model object over md (missing fields keep their
 * current value). */
static int model_apply(mk_model *md, const mb_json_val *o, char *err, size_t errlen)
{
    int rc;
    mb_json_val v;
    if (o->type != MB_JSON_OBJECT) {
        err_set(err, errlen, "model '%s' must be an object", md->name);
        return MB_EINVAL;
    }
    if ((rc = check_keys(o, model_keys, "model", err, errlen)) < 0)
        return rc;
    if ((rc = num_field(o, "ttft_ms", 0, 3.6e6, &md->t.ttft_ms, err, errlen)) < 0 ||
        (rc = num_field(o, "prefill_tok_s", 0, 1e9, &md->t.prefill_tok_s, err, errlen)) < 0 ||
        (rc = num_field(o, "decode_tok_s", 0.001, 1e6, &md->t.decode_tok_s, err, errlen)) < 0 ||
        (rc = num_field(o, "jitter", 0, 0.99, &md->t.jitter, err, errlen)) < 0 ||
        (rc = num_field(o, "batch_knee", 0, 1e6, &md->t.batch_knee, err, errlen)) < 0 ||
        (rc = num_field(o, "max_aggregate_tok_s", 0, 1e9, &md->t.max_aggregate_tok_s, err, errlen)) < 0 ||
        (rc = int_field(o, "tokens_per_chunk", 1, 1000, &md->tokens_per_chunk, err, errlen)) < 0 ||
        (rc = int_field(o, "events_per_write", 1, 1000, &md->events_per_write, err, errlen)) < 0 ||
        (rc = int_field(o, "reasoning_tokens", 0, 1000000, &md->reasoning_tokens, err, errlen)) < 0 ||
        (rc = int_field(o, "natural_tokens", 1, 1000000, &md->natural_tokens, err, errlen)) < 0 ||
        (rc = num_field(o, "length_spread", 0, 3, &md->length_spread, err, errlen)) < 0 ||
        (rc = mode_field(o, "length", "max_tokens", "natural", &md->always_max, err, errlen)) < 0 ||
        (rc = bool_field(o, "usage", &md->usage, err, errlen)) < 0 ||
        (rc = bool_field(o, "timings", &md->timings, err, errlen)) < 0 ||
        (rc = int_field(o, "max_running", 0, 1000000, &md->max_running, err, errlen)) < 0)
        return rc;
    int kv = (int)md->kv_cache_tokens;
    if ((rc = int_field(o, "kv_cache_tokens", 1, 1000000000, &kv, err, errlen)) < 0)
        return rc;
    md->kv_cache_tokens = (uint64_t)kv;
    if (mb_json_find(o, "reasoning_field", &v)) {
        char name[sizeof md->reasoning_field];
        size_t l = mb_json_strcpy(&v, name, sizeof name);
        if (v.type != MB_JSON_STRING || l == 0 || l >= sizeof name ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz_") != l) {
            err_set(err, errlen, "'reasoning_field' must be a short lowercase name such as "
                                 "\"reasoning_content\" or \"reasoning\"");
            return MB_EINVAL;
        }
        memcpy(md->reasoning_field, name, l + 1);
    }
    if (mb_json_find(o, "owned_by", &v)) {
        char *s;
        if (!(s = mb_json_strdup(&v))) {
            err_set(err, errlen, "'owned_by' must be a string");
            return MB_EINVAL;
        }
        free(md->owned_by);
        md->owned_by = s;
    }
    return 0;
}

/* One entry of "models": an existing (built-in) model is updated, a new
 * one starts from the generic values; model_defaults come first either way. */
static int profile_model(mb_mock *m, const char *name, const mb_json_val *fields,
                         const mb_json_val *defaults, char *err, size_t errlen)
{
    int rc;
    if (!name || !*name || strlen(name) > 256) {
        err_set(err, errlen, "every model needs a non-empty id (at most 256 bytes)");
        return MB_EINVAL;
    }
    mk_model *md = mk_find_model(m, name);
    if (!md) {
        if (!(md = model_new(m, name, "mlxbench-mock")))
            return MB_ENOMEM;
        if (defaults && (rc = model_apply(md, defaults, err, errlen)) < 0)
            return rc;
    }
    return model_apply(md, fields, err, errlen);
}

static const char *const top_keys[] = {
    "builtin_models", "any_model", "default_model", "models", "model_defaults", "seed",
    "api_key", "faults", "trace", "max_body_bytes", "control_token", "tokenizer", "prefix_cache",
    "request_timeout_s", "idle_timeout_s", NULL};

/* "prefix_cache": {"blocks": N, "block_tokens": B} (docs/MOCK.md, "Prefix
 * cache"), or false / null for none. */
static int profile_cache(mb_mock *m, const mb_json_val *v, char *err, size_t errlen)
{
    static const char *const keys[] = {"blocks", "block_tokens", NULL};
    double blocks = 65536, bt = 16;
    int rc;
    if (v->type == MB_JSON_NULL || v->type == MB_JSON_FALSE) {
        mk_cache_free(m->cache);
        m->cache = NULL;
        return 0;
    }
    if (v->type != MB_JSON_OBJECT) {
        err_set(err, errlen, "'prefix_cache' must be an object {\"blocks\": N, \"block_tokens\": B} "
                             "or false");
        return MB_EINVAL;
    }
    if ((rc = check_keys(v, keys, "prefix_cache", err, errlen)) < 0 ||
        (rc = num_field(v, "blocks", 1, 4194304, &blocks, err, errlen)) < 0 ||
        (rc = num_field(v, "block_tokens", 1, 4096, &bt, err, errlen)) < 0)
        return rc;
    if (blocks != (double)(size_t)blocks || bt != (double)(unsigned)bt) {
        err_set(err, errlen, "'prefix_cache': blocks and block_tokens must be integers");
        return MB_EINVAL;
    }
    mk_cache_free(m->cache);
    m->cache = NULL;
    return mk_cache_new(&m->cache, (size_t)blocks, (unsigned)bt);
}

/* Reads a profile (docs/MOCK.md, "Profile"). Called once at start, before
 * any model is in use. */
int mk_profile_load(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    int rc = 0, builtin = 1, has_defaults;
    mb_json_val root, v, d, *defaults = NULL;
    mb_json_iter it;
    if (mb_json_doc(json, len, &root) < 0 || root.type != MB_JSON_OBJECT) {
        size_t at = mb_json_doc(json, len, &root) < 0 ? mb_json_error_offset(json, len) : 0;
        /* the text need not be NUL-terminated: never read past len */
        err_set(err, errlen, "profile is not a JSON object (near '%.*s')",
                (int)(len - at < 20 ? len - at : 20), json + at);
        return MB_EPARSE;
    }
    if ((rc = check_keys(&root, top_keys, "profile", err, errlen)) < 0)
        return rc;
    if ((rc = bool_field(&root, "builtin_models", &builtin, err, errlen)) < 0 ||
        (rc = bool_field(&root, "any_model", &m->any_model, err, errlen)) < 0)
        return rc;
    if (!builtin)
        mk_models_free(m);
    has_defaults = mb_json_find(&root, "model_defaults", &d);
    if (has_defaults) {
        if (d.type != MB_JSON_OBJECT || mb_json_find(&d, "id", &v)) {
            err_set(err, errlen, "'model_defaults' must be an object of model fields");
            return MB_EINVAL;
        }
        defaults = &d;
        for (mk_model *md = m->models; md; md = md->next)
            if ((rc = model_apply(md, defaults, err, errlen)) < 0)
                return rc;
    }
    int has_models = mb_json_find(&root, "models", &v);
    if (has_models && mb_json_eq(&v, "*")) {
        m->any_model = 1;
    } else if (has_models && v.type == MB_JSON_OBJECT) {
        mb_json_val k, fv;
        mb_json_iter_init(&it, &v);
        while (mb_json_next(&it, &k, &fv)) {
            char name[258];
            mb_json_strcpy(&k, name, sizeof name);
            if ((rc = profile_model(m, name, &fv, defaults, err, errlen)) < 0)
                return rc;
        }
    } else if (has_models && v.type == MB_JSON_ARRAY) {
        mb_json_val fv, id;
        mb_json_iter_init(&it, &v);
        while (mb_json_next(&it, NULL, &fv)) {
            char name[258] = "";
            if (mb_json_find(&fv, "id", &id))
                mb_json_strcpy(&id, name, sizeof name);
            if ((rc = profile_model(m, name[0] ? name : NULL, &fv, defaults, err, errlen)) < 0)
                return rc;
        }
    } else if (has_models) {
        err_set(err, errlen, "'models' must be an object, an array or \"*\"");
        return MB_EINVAL;
    }
    if (!m->models) {
        err_set(err, errlen, "the profile defines no model (builtin_models is false and "
                             "'models' is empty)");
        return MB_EINVAL;
    }
    if (mb_json_find(&root, "default_model", &v)) {
        char name[258];
        mb_json_strcpy(&v, name, sizeof name);
        if (v.type != MB_JSON_STRING || !(m->fallback = mk_find_model(m, name))) {
            err_set(err, errlen, "'default_model' must name a model of the profile");
            return MB_EINVAL;
        }
    }
    if (mb_json_find(&root, "seed", &v)) {
        double s = mb_json_num(&v);
        if (v.type != MB_JSON_NUMBER || s < 0 || s > 9007199254740991.0 || s != floor(s)) {
            err_set(err, errlen, "'seed' must be a non-negative integer");
            return MB_EINVAL;
        }
        m->seed = (uint64_t)s;
    }
    if (mb_json_find(&root, "api_key", &v) && v.type != MB_JSON_NULL) {
        char *k = mb_json_strdup(&v);
        if (!k) {
            err_set(err, errlen, "'api_key' must be a string");
            return MB_EINVAL;
        }
        free(m->api_key);
        m->api_key = k;
        if (!*k) {
            free(k);
            m->api_key = NULL;
        }
    }
    if (mb_json_find(&root, "tokenizer", &v) && v.type != MB_JSON_NULL) {
        char *path = mb_json_strdup(&v);
        if (!path || !*path) {
            free(path);
            err_set(err, errlen, "'tokenizer' must be the path of a tokenizer.json or .tiktoken file");
            return MB_EINVAL;
        }
        rc = mk_tokenizer_set(m, path, err, errlen);
        free(path);
        if (rc < 0)
            return rc;
    }
    if (mb_json_find(&root, "prefix_cache", &v) && (rc = profile_cache(m, &v, err, errlen)) < 0)
        return rc;
    if (mb_json_find(&root, "control_token", &v) && v.type != MB_JSON_NULL) {
        char *t = mb_json_strdup(&v);
        if (!t || strlen(t) < 8) {
            free(t);
            err_set(err, errlen, "'control_token' must be a string of at least 8 characters");
            return MB_EINVAL;
        }
        free(m->control_token);
        m->control_token = t;
    }
    if (mb_json_find(&root, "trace", &v)) {
        static const char *const tk[] = {"max_requests", "max_chunks", NULL};
        double a = (double)m->trace.max_rec, b = (double)m->trace.max_chunks;
        if (v.type != MB_JSON_OBJECT) {
            err_set(err, errlen, "'trace' must be an object");
            return MB_EINVAL;
        }
        if ((rc = check_keys(&v, tk, "trace", err, errlen)) < 0 ||
            (rc = num_field(&v, "max_requests", 1, 1e7, &a, err, errlen)) < 0 ||
            (rc = num_field(&v, "max_chunks", 0, 1e9, &b, err, errlen)) < 0)
            return rc;
        m->trace.max_rec = (size_t)a;
        m->trace.max_chunks = (size_t)b;
    }
    {
        double mb = (double)m->max_body;
        if ((rc = num_field(&root, "request_timeout_s", 0, 86400, &m->request_timeout_s, err,
                            errlen)) < 0 ||
            (rc = num_field(&root, "idle_timeout_s", 0, 86400, &m->idle_timeout_s, err, errlen)) < 0)
            return rc;
        if ((rc = num_field(&root, "max_body_bytes", 1024, 1 << 30, &mb, err, errlen)) < 0)
            return rc;
        m->max_body = (size_t)mb;
    }
    if (mb_json_find(&root, "faults", &v) &&
        (rc = mk_faults_apply(&m->faults, &m->faults, &v, err, errlen)) < 0)
        return rc;
    return 0;
}

/* ------------------------------------------------------------------ faults */

void mk_faults_defaults(mk_faults *f)
{
    memset(f, 0, sizeof *f);
    f->simple_status = 500;
    f->retry_after = 1;
    f->should_retry = -1;
    f->stream_error_after = 10;
    f->stall_after = 10;
    f->stall_s = 5;
    f->disconnect_after = 10;
    f->disconnect_reset = 1;
    f->malformed_after = 10;
    f->slow_ttft_s = 2;
}

static const char *const fault_keys[] = {
    "reset", "error_rate", "status", "error_rates", "retry_after", "should_retry",
    "stream_error_rate", "stream_error_after", "stall_rate", "stall_after", "stall_s",
    "disconnect_rate", "disconnect_after", "disconnect_mode", "malformed_rate",
    "malformed_after", "malformed_mode", "slow_ttft_rate", "slow_ttft_s",
    "refuse_connections", "refuse_s", "seed", NULL};

/* Parses a "mode" string field against two choices; *out = 1 for `one`. */
static int mode_field(const mb_json_val *o, const char *k, const char *one, const char *zero,
                      int *out, char *err, size_t errlen)
{
    mb_json_val v;
    if (!mb_json_find(o, k, &v))
        return 0;
    if (mb_json_eq(&v, one))
        *out = 1;
    else if (mb_json_eq(&v, zero))
        *out = 0;
    else {
        char what[96];
        snprintf(what, sizeof what, "\"%s\" or \"%s\"", one, zero);
        err_set(err, errlen, "'%s' must be %s", k, what);
        return MB_EINVAL;
    }
    return 1;
}

int mk_faults_apply(mk_faults *dst, const mk_faults *initial, const mb_json_val *o,
                    char *err, size_t errlen)
{
    mk_faults f = *dst;
    int rc, reset = 0, a = 0, has;
    mb_json_val v;
    if (o->type != MB_JSON_OBJECT) {
        err_set(err, errlen, "faults must be a JSON object");
        return MB_EINVAL;
    }
    if ((rc = check_keys(o, fault_keys, "fault", err, errlen)) < 0 ||
        (rc = bool_field(o, "reset", &reset, err, errlen)) < 0)
        return rc;
    if (reset)
        f = *initial;
    if ((rc = num_field(o, "error_rate", 0, 1, &f.simple_rate, err, errlen)) < 0 ||
        (rc = int_field(o, "status", 400, 599, &f.simple_status, err, errlen)) < 0 ||
        (rc = num_field(o, "stream_error_rate", 0, 1, &f.stream_error_rate, err, errlen)) < 0 ||
        (rc = int_field(o, "stream_error_after", 0, 100000000, &f.stream_error_after, err, errlen)) < 0 ||
        (rc = num_field(o, "stall_rate", 0, 1, &f.stall_rate, err, errlen)) < 0 ||
        (rc = int_field(o, "stall_after", 0, 100000000, &f.stall_after, err, errlen)) < 0 ||
        (rc = num_field(o, "stall_s", 0, 3600, &f.stall_s, err, errlen)) < 0 ||
        (rc = num_field(o, "disconnect_rate", 0, 1, &f.disconnect_rate, err, errlen)) < 0 ||
        (rc = int_field(o, "disconnect_after", 0, 100000000, &f.disconnect_after, err, errlen)) < 0 ||
        (rc = mode_field(o, "disconnect_mode", "reset", "close", &f.disconnect_reset, err, errlen)) < 0 ||
        (rc = num_field(o, "malformed_rate", 0, 1, &f.malformed_rate, err, errlen)) < 0 ||
        (rc = int_field(o, "malformed_after", 0, 100000000, &f.malformed_after, err, errlen)) < 0 ||
        (rc = mode_field(o, "malformed_mode", "http", "json", &f.malformed_http, err, errlen)) < 0 ||
        (rc = num_field(o, "slow_ttft_rate", 0, 1, &f.slow_ttft_rate, err, errlen)) < 0 ||
        (rc = num_field(o, "slow_ttft_s", 0, 3600, &f.slow_ttft_s, err, errlen)) < 0 ||
        (rc = bool_field(o, "refuse_connections", &f.refuse_connections, err, errlen)) < 0 ||
        (rc = num_field(o, "refuse_s", 0, 86400, &f.refuse_s, err, errlen)) < 0)
        return rc;
    has = mb_json_find(o, "retry_after", &v);
    if (has && v.type == MB_JSON_NULL)
        f.retry_after = -1;
    else if ((rc = num_field(o, "retry_after", 0, 86400, &f.retry_after, err, errlen)) < 0)
        return rc;
    has = mb_json_find(o, "should_retry", &v);
    if (has && v.type == MB_JSON_NULL)
        f.should_retry = -1;
    else if ((rc = bool_field(o, "should_retry", &a, err, errlen)) < 0)
        return rc;
    else if (rc > 0)
        f.should_retry = a;
    if (mb_json_find(o, "error_rates", &v)) {
        mb_json_iter it;
        mb_json_val k, r;
        if (v.type != MB_JSON_OBJECT) {
            err_set(err, errlen, "'error_rates' must be an object {\"503\": 0.1, ...}");
            return MB_EINVAL;
        }
        f.nstatus = 0;
        mb_json_iter_init(&it, &v);
        while (mb_json_next(&it, &k, &r)) {
            char name[32], *end = NULL;
            mb_json_strcpy(&k, name, sizeof name);
            long st = strtol(name, &end, 10);
            double p = mb_json_num(&r);
            if (!end || *end || st < 400 || st > 599 || r.type != MB_JSON_NUMBER || p < 0 ||
                p > 1 || f.nstatus == MK_MAX_STATUS) {
                err_set(err, errlen, "'error_rates' entry '%s' must map a status 400..599 to a "
                                     "probability in [0, 1] (at most 8 entries)", name);
                return MB_EINVAL;
            }
            f.status[f.nstatus] = (int)st;
            f.rate[f.nstatus] = p;
            f.nstatus++;
        }
    }
    if (mb_json_find(o, "seed", &v)) {
        double sd = mb_json_num(&v);
        if (v.type != MB_JSON_NUMBER || sd < 0 || sd > 9007199254740991.0) {
            err_set(err, errlen, "'seed' must be a non-negative integer");
            return MB_EINVAL;
        }
        f.seed = (uint64_t)sd;
    }
    *dst = f;
    return 0;
}

void mk_faults_to_json(const mk_faults *f, mb_buf *b)
{
    mb_buf_printf(b, "{\"error_rate\":%.6g,\"status\":%d,\"error_rates\":{", f->simple_rate,
              f->simple_status);
    for (int i = 0; i < f->nstatus; i++)
        mb_buf_printf(b, "%s\"%d\":%.6g", i ? "," : "", f->status[i], f->rate[i]);
    mb_buf_puts(b, "},\"retry_after\":");
    if (f->retry_after < 0)
        mb_buf_puts(b, "null");
    else
        mb_buf_printf(b, "%.6g", f->retry_after);
    mb_buf_printf(b, ",\"should_retry\":%s", f->should_retry < 0 ? "null" : f->should_retry ? "true" : "false");
    mb_buf_printf(b, ",\"stream_error_rate\":%.6g,\"stream_error_after\":%d", f->stream_error_rate,
              f->stream_error_after);
    mb_buf_printf(b, ",\"stall_rate\":%.6g,\"stall_after\":%d,\"stall_s\":%.6g", f->stall_rate,
              f->stall_after, f->stall_s);
    mb_buf_printf(b, ",\"disconnect_rate\":%.6g,\"disconnect_after\":%d,\"disconnect_mode\":\"%s\"",
              f->disconnect_rate, f->disconnect_after, f->disconnect_reset ? "reset" : "close");
    mb_buf_printf(b, ",\"malformed_rate\":%.6g,\"malformed_after\":%d,\"malformed_mode\":\"%s\"",
              f->malformed_rate, f->malformed_after, f->malformed_http ? "http" : "json");
    mb_buf_printf(b, ",\"slow_ttft_rate\":%.6g,\"slow_ttft_s\":%.6g", f->slow_ttft_rate, f->slow_ttft_s);
    mb_buf_printf(b, ",\"refuse_connections\":%s,\"refuse_s\":%.6g,\"seed\":%llu}",
              f->refuse_connections ? "true" : "false", f->refuse_s, (unsigned long long)f->seed);
}

/* mock_profile.c: the emulated server's models (built-in and from a JSON
 * profile; its fields read by mock_fields.c, its "faults" by mock_faults.c).
 * Parsing is strict -- an unknown field or a
 * value of the wrong type is an error naming the field -- because a typo in
 * a benchmark profile should fail loudly, not silently change the timing. */
#include <math.h>
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

static const char *const model_keys[] = {
    "id", "ttft_ms", "prefill_tok_s", "decode_tok_s", "jitter", "batch_knee",
    "max_aggregate_tok_s", "tokens_per_chunk", "events_per_write", "reasoning_tokens",
    "reasoning_field", "usage", "natural_tokens", "length_spread", "length", "owned_by",
    "timings", "max_running", "kv_cache_tokens", NULL};

/* Applies the fields of one model object over md (missing fields keep their
 * current value). */
static int model_apply(mk_model *md, const mb_json_val *o, char *err, size_t errlen)
{
    int rc;
    mb_json_val v;
    if (o->type != MB_JSON_OBJECT) {
        mk_err_set(err, errlen, "model '%s' must be an object", md->name);
        return MB_EINVAL;
    }
    if ((rc = mk_check_keys(o, model_keys, "model", err, errlen)) < 0)
        return rc;
    if ((rc = mk_num_field(o, "ttft_ms", 0, 3.6e6, &md->t.ttft_ms, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "prefill_tok_s", 0, 1e9, &md->t.prefill_tok_s, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "decode_tok_s", 0.001, 1e6, &md->t.decode_tok_s, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "jitter", 0, 0.99, &md->t.jitter, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "batch_knee", 0, 1e6, &md->t.batch_knee, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "max_aggregate_tok_s", 0, 1e9, &md->t.max_aggregate_tok_s, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "tokens_per_chunk", 1, 1000, &md->tokens_per_chunk, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "events_per_write", 1, 1000, &md->events_per_write, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "reasoning_tokens", 0, 1000000, &md->reasoning_tokens, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "natural_tokens", 1, 1000000, &md->natural_tokens, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "length_spread", 0, 3, &md->length_spread, err, errlen)) < 0 ||
        (rc = mk_mode_field(o, "length", "max_tokens", "natural", &md->always_max, err, errlen)) < 0 ||
        (rc = mk_bool_field(o, "usage", &md->usage, err, errlen)) < 0 ||
        (rc = mk_bool_field(o, "timings", &md->timings, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "max_running", 0, 1000000, &md->max_running, err, errlen)) < 0)
        return rc;
    int kv = (int)md->kv_cache_tokens;
    if ((rc = mk_int_field(o, "kv_cache_tokens", 1, 1000000000, &kv, err, errlen)) < 0)
        return rc;
    md->kv_cache_tokens = (uint64_t)kv;
    if (mb_json_find(o, "reasoning_field", &v)) {
        char name[sizeof md->reasoning_field];
        size_t l = mb_json_strcpy(&v, name, sizeof name);
        if (v.type != MB_JSON_STRING || l == 0 || l >= sizeof name ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz_") != l) {
            mk_err_set(err, errlen, "'reasoning_field' must be a short lowercase name such as "
                                 "\"reasoning_content\" or \"reasoning\"");
            return MB_EINVAL;
        }
        memcpy(md->reasoning_field, name, l + 1);
    }
    if (mb_json_find(o, "owned_by", &v)) {
        char *s;
        if (!(s = mb_json_strdup(&v))) {
            mk_err_set(err, errlen, "'owned_by' must be a string");
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
        mk_err_set(err, errlen, "every model needs a non-empty id (at most 256 bytes)");
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
        mk_err_set(err, errlen, "'prefix_cache' must be an object {\"blocks\": N, \"block_tokens\": B} "
                             "or false");
        return MB_EINVAL;
    }
    if ((rc = mk_check_keys(v, keys, "prefix_cache", err, errlen)) < 0 ||
        (rc = mk_num_field(v, "blocks", 1, 4194304, &blocks, err, errlen)) < 0 ||
        (rc = mk_num_field(v, "block_tokens", 1, 4096, &bt, err, errlen)) < 0)
        return rc;
    if (blocks != (double)(size_t)blocks || bt != (double)(unsigned)bt) {
        mk_err_set(err, errlen, "'prefix_cache': blocks and block_tokens must be integers");
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
        mk_err_set(err, errlen, "profile is not a JSON object (near '%.*s')",
                (int)(len - at < 20 ? len - at : 20), json + at);
        return MB_EPARSE;
    }
    if ((rc = mk_check_keys(&root, top_keys, "profile", err, errlen)) < 0)
        return rc;
    if ((rc = mk_bool_field(&root, "builtin_models", &builtin, err, errlen)) < 0 ||
        (rc = mk_bool_field(&root, "any_model", &m->any_model, err, errlen)) < 0)
        return rc;
    if (!builtin)
        mk_models_free(m);
    has_defaults = mb_json_find(&root, "model_defaults", &d);
    if (has_defaults) {
        if (d.type != MB_JSON_OBJECT || mb_json_find(&d, "id", &v)) {
            mk_err_set(err, errlen, "'model_defaults' must be an object of model fields");
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
        mk_err_set(err, errlen, "'models' must be an object, an array or \"*\"");
        return MB_EINVAL;
    }
    if (!m->models) {
        mk_err_set(err, errlen, "the profile defines no model (builtin_models is false and "
                             "'models' is empty)");
        return MB_EINVAL;
    }
    if (mb_json_find(&root, "default_model", &v)) {
        char name[258];
        mb_json_strcpy(&v, name, sizeof name);
        if (v.type != MB_JSON_STRING || !(m->fallback = mk_find_model(m, name))) {
            mk_err_set(err, errlen, "'default_model' must name a model of the profile");
            return MB_EINVAL;
        }
    }
    if (mb_json_find(&root, "seed", &v)) {
        double s = mb_json_num(&v);
        if (v.type != MB_JSON_NUMBER || s < 0 || s > 9007199254740991.0 || s != floor(s)) {
            mk_err_set(err, errlen, "'seed' must be a non-negative integer");
            return MB_EINVAL;
        }
        m->seed = (uint64_t)s;
    }
    if (mb_json_find(&root, "api_key", &v) && v.type != MB_JSON_NULL) {
        char *k = mb_json_strdup(&v);
        if (!k) {
            mk_err_set(err, errlen, "'api_key' must be a string");
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
            mk_err_set(err, errlen, "'tokenizer' must be the path of a tokenizer.json or .tiktoken file");
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
            mk_err_set(err, errlen, "'control_token' must be a string of at least 8 characters");
            return MB_EINVAL;
        }
        free(m->control_token);
        m->control_token = t;
    }
    if (mb_json_find(&root, "trace", &v)) {
        static const char *const tk[] = {"max_requests", "max_chunks", NULL};
        double a = (double)m->trace.max_rec, b = (double)m->trace.max_chunks;
        if (v.type != MB_JSON_OBJECT) {
            mk_err_set(err, errlen, "'trace' must be an object");
            return MB_EINVAL;
        }
        if ((rc = mk_check_keys(&v, tk, "trace", err, errlen)) < 0 ||
            (rc = mk_num_field(&v, "max_requests", 1, 1e7, &a, err, errlen)) < 0 ||
            (rc = mk_num_field(&v, "max_chunks", 0, 1e9, &b, err, errlen)) < 0)
            return rc;
        m->trace.max_rec = (size_t)a;
        m->trace.max_chunks = (size_t)b;
    }
    {
        double mb = (double)m->max_body;
        if ((rc = mk_num_field(&root, "request_timeout_s", 0, 86400, &m->request_timeout_s, err,
                            errlen)) < 0 ||
            (rc = mk_num_field(&root, "idle_timeout_s", 0, 86400, &m->idle_timeout_s, err, errlen)) < 0)
            return rc;
        if ((rc = mk_num_field(&root, "max_body_bytes", 1024, 1 << 30, &mb, err, errlen)) < 0)
            return rc;
        m->max_body = (size_t)mb;
    }
    if (mb_json_find(&root, "faults", &v) &&
        (rc = mk_faults_apply(&m->faults, &m->faults, &v, err, errlen)) < 0)
        return rc;
    return 0;
}

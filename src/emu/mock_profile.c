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
    md->natural_tokens = 128;
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

/* Reads a number field in [lo, hi] into *out when present. */
static int num_field(const cJSON *o, const char *k, double lo, double hi, double *out,
                     char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char range[64];
        snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
        err_set(err, errlen, "'%s' must be %s", k, range);
        return MB_EINVAL;
    }
    *out = v->valuedouble;
    return 1;
}

static int int_field(const cJSON *o, const char *k, long lo, long hi, int *out,
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

static int bool_field(const cJSON *o, const char *k, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v)) {
        err_set(err, errlen, "'%s' must be true or false", k);
        return MB_EINVAL;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* Ignored keys: documentation inside a profile. */
static int is_comment_key(const char *k)
{
    return k[0] == '_' || strcmp(k, "description") == 0 || strcmp(k, "$comment") == 0;
}

static int check_keys(const cJSON *o, const char *const *allowed, const char *what,
                      char *err, size_t errlen)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = is_comment_key(it->string);
        for (int i = 0; !ok && allowed[i]; i++)
            ok = strcmp(it->string, allowed[i]) == 0;
        if (!ok) {
            err_set(err, errlen, "unknown %s field '%s'", what, it->string);
            return MB_EINVAL;
        }
    }
    return 0;
}

static const char *const model_keys[] = {
    "id", "ttft_ms", "prefill_tok_s", "decode_tok_s", "jitter", "batch_knee",
    "max_aggregate_tok_s", "tokens_per_chunk", "events_per_write", "reasoning_tokens",
    "reasoning_field", "usage", "natural_tokens", "owned_by", NULL};

/* Applies the fields of one model object over md (missing fields keep their
 * current value). */
static int model_apply(mk_model *md, const cJSON *o, char *err, size_t errlen)
{
    int rc;
    if (!cJSON_IsObject(o)) {
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
        (rc = bool_field(o, "usage", &md->usage, err, errlen)) < 0)
        return rc;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "reasoning_field");
    if (v) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 ||
            strlen(v->valuestring) >= sizeof md->reasoning_field ||
            strspn(v->valuestring, "abcdefghijklmnopqrstuvwxyz_") != strlen(v->valuestring)) {
            err_set(err, errlen, "'reasoning_field' must be a short lowercase name such as "
                                 "\"reasoning_content\" or \"reasoning\"");
            return MB_EINVAL;
        }
        memcpy(md->reasoning_field, v->valuestring, strlen(v->valuestring) + 1);
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "owned_by");
    if (v) {
        char *s;
        if (!cJSON_IsString(v) || !(s = strdup(v->valuestring))) {
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
static int profile_model(mb_mock *m, const char *name, const cJSON *fields,
                         const cJSON *defaults, char *err, size_t errlen)
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
    "api_key", "faults", "trace", "max_body_bytes", "control_token", "tokenizer",
    "request_timeout_s", "idle_timeout_s", NULL};

/* Reads a profile (docs/MOCK.md, "Profile"). Called once at start, before
 * any model is in use. */
int mk_profile_load(mb_mock *m, const char *json, size_t len, char *err, size_t errlen)
{
    int rc = 0, builtin = 1;
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *v, *defaults;
    if (!root || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        char near[32] = "";
        if (at && at >= json && at < json + len) {
            /* the text need not be NUL-terminated: never read past len */
            size_t left = (size_t)(json + len - at);
            snprintf(near, sizeof near, "%.*s", (int)(left < 20 ? left : 20), at);
        }
        err_set(err, errlen, "profile is not a JSON object (near '%s')", near);
        rc = MB_EPARSE;
        goto out;
    }
    if ((rc = check_keys(root, top_keys, "profile", err, errlen)) < 0)
        goto out;
    if ((rc = bool_field(root, "builtin_models", &builtin, err, errlen)) < 0 ||
        (rc = bool_field(root, "any_model", &m->any_model, err, errlen)) < 0)
        goto out;
    if (!builtin)
        mk_models_free(m);
    defaults = cJSON_GetObjectItemCaseSensitive(root, "model_defaults");
    if (defaults) {
        if (!cJSON_IsObject(defaults) || cJSON_GetObjectItemCaseSensitive(defaults, "id")) {
            err_set(err, errlen, "'model_defaults' must be an object of model fields");
            rc = MB_EINVAL;
            goto out;
        }
        for (mk_model *md = m->models; md; md = md->next)
            if ((rc = model_apply(md, defaults, err, errlen)) < 0)
                goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "models");
    if (cJSON_IsString(v) && strcmp(v->valuestring, "*") == 0) {
        m->any_model = 1;
    } else if (cJSON_IsObject(v)) {
        for (const cJSON *it = v->child; it; it = it->next)
            if ((rc = profile_model(m, it->string, it, defaults, err, errlen)) < 0)
                goto out;
    } else if (cJSON_IsArray(v)) {
        for (const cJSON *it = v->child; it; it = it->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            if ((rc = profile_model(m, cJSON_IsString(id) ? id->valuestring : NULL, it, defaults,
                                    err, errlen)) < 0)
                goto out;
        }
    } else if (v) {
        err_set(err, errlen, "'models' must be an object, an array or \"*\"");
        rc = MB_EINVAL;
        goto out;
    }
    if (!m->models) {
        err_set(err, errlen, "the profile defines no model (builtin_models is false and "
                             "'models' is empty)");
        rc = MB_EINVAL;
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "default_model");
    if (v) {
        if (!cJSON_IsString(v) || !(m->fallback = mk_find_model(m, v->valuestring))) {
            err_set(err, errlen, "'default_model' must name a model of the profile");
            rc = MB_EINVAL;
            goto out;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740991.0 ||
            v->valuedouble != floor(v->valuedouble)) {
            err_set(err, errlen, "'seed' must be a non-negative integer");
            rc = MB_EINVAL;
            goto out;
        }
        m->seed = (uint64_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "api_key");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)) {
            err_set(err, errlen, "'api_key' must be a string");
            rc = MB_EINVAL;
            goto out;
        }
        free(m->api_key);
        m->api_key = *v->valuestring ? strdup(v->valuestring) : NULL;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || !*v->valuestring) {
            err_set(err, errlen, "'tokenizer' must be the path of a tokenizer.json or .tiktoken file");
            rc = MB_EINVAL;
            goto out;
        }
        if ((rc = mk_tokenizer_set(m, v->valuestring, err, errlen)) < 0)
            goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "control_token");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) < 8) {
            err_set(err, errlen, "'control_token' must be a string of at least 8 characters");
            rc = MB_EINVAL;
            goto out;
        }
        free(m->control_token);
        m->control_token = strdup(v->valuestring);
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "trace");
    if (v) {
        static const char *const tk[] = {"max_requests", "max_chunks", NULL};
        double a = (double)m->trace.max_rec, b = (double)m->trace.max_chunks;
        if (!cJSON_IsObject(v)) {
            err_set(err, errlen, "'trace' must be an object");
            rc = MB_EINVAL;
            goto out;
        }
        if ((rc = check_keys(v, tk, "trace", err, errlen)) < 0 ||
            (rc = num_field(v, "max_requests", 1, 1e7, &a, err, errlen)) < 0 ||
            (rc = num_field(v, "max_chunks", 0, 1e9, &b, err, errlen)) < 0)
            goto out;
        m->trace.max_rec = (size_t)a;
        m->trace.max_chunks = (size_t)b;
    }
    {
        double mb = (double)m->max_body;
        if ((rc = num_field(root, "max_body_bytes", 1024, 1 << 30, &mb, err, errlen)) < 0)
            goto out;
        m->max_body = (size_t)mb;
    }
    if ((rc = num_field(root, "request_timeout_s", 0, 86400, &m->request_timeout_s, err, errlen)) < 0 ||
        (rc = num_field(root, "idle_timeout_s", 0, 86400, &m->idle_timeout_s, err, errlen)) < 0)
        goto out;
    v = cJSON_GetObjectItemCaseSensitive(root, "faults");
    if (v) {
        if ((rc = mk_faults_apply(&m->faults, &m->faults, v, err, errlen)) < 0)
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
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
static int mode_field(const cJSON *o, const char *k, const char *one, const char *zero, int *out,
                      char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return 0;
    if (cJSON_IsString(v) && strcmp(v->valuestring, one) == 0)
        *out = 1;
    else if (cJSON_IsString(v) && strcmp(v->valuestring, zero) == 0)
        *out = 0;
    else {
        char what[96];
        snprintf(what, sizeof what, "\"%s\" or \"%s\"", one, zero);
        err_set(err, errlen, "'%s' must be %s", k, what);
        return MB_EINVAL;
    }
    return 1;
}

int mk_faults_apply(mk_faults *dst, const mk_faults *initial, const cJSON *o,
                    char *err, size_t errlen)
{
    mk_faults f = *dst;
    int rc, reset = 0, a = 0;
    const cJSON *v;
    if (!cJSON_IsObject(o)) {
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
    v = cJSON_GetObjectItemCaseSensitive(o, "retry_after");
    if (cJSON_IsNull(v))
        f.retry_after = -1;
    else if ((rc = num_field(o, "retry_after", 0, 86400, &f.retry_after, err, errlen)) < 0)
        return rc;
    v = cJSON_GetObjectItemCaseSensitive(o, "should_retry");
    if (cJSON_IsNull(v))
        f.should_retry = -1;
    else if ((rc = bool_field(o, "should_retry", &a, err, errlen)) < 0)
        return rc;
    else if (rc > 0)
        f.should_retry = a;
    v = cJSON_GetObjectItemCaseSensitive(o, "error_rates");
    if (v) {
        if (!cJSON_IsObject(v)) {
            err_set(err, errlen, "'error_rates' must be an object {\"503\": 0.1, ...}");
            return MB_EINVAL;
        }
        f.nstatus = 0;
        for (const cJSON *it = v->child; it; it = it->next) {
            char *end = NULL;
            long st = strtol(it->string, &end, 10);
            if (!end || *end || st < 400 || st > 599 || !cJSON_IsNumber(it) ||
                it->valuedouble < 0 || it->valuedouble > 1 || f.nstatus == MK_MAX_STATUS) {
                err_set(err, errlen, "'error_rates' entry '%s' must map a status 400..599 to a "
                                     "probability in [0, 1] (at most 8 entries)", it->string);
                return MB_EINVAL;
            }
            f.status[f.nstatus] = (int)st;
            f.rate[f.nstatus] = it->valuedouble;
            f.nstatus++;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740991.0) {
            err_set(err, errlen, "'seed' must be a non-negative integer");
            return MB_EINVAL;
        }
        f.seed = (uint64_t)v->valuedouble;
    }
    *dst = f;
    return 0;
}

void mk_faults_to_json(const mk_faults *f, mk_buf *b)
{
    mk_printf(b, "{\"error_rate\":%.6g,\"status\":%d,\"error_rates\":{", f->simple_rate,
              f->simple_status);
    for (int i = 0; i < f->nstatus; i++)
        mk_printf(b, "%s\"%d\":%.6g", i ? "," : "", f->status[i], f->rate[i]);
    mk_puts(b, "},\"retry_after\":");
    if (f->retry_after < 0)
        mk_puts(b, "null");
    else
        mk_printf(b, "%.6g", f->retry_after);
    mk_printf(b, ",\"should_retry\":%s", f->should_retry < 0 ? "null" : f->should_retry ? "true" : "false");
    mk_printf(b, ",\"stream_error_rate\":%.6g,\"stream_error_after\":%d", f->stream_error_rate,
              f->stream_error_after);
    mk_printf(b, ",\"stall_rate\":%.6g,\"stall_after\":%d,\"stall_s\":%.6g", f->stall_rate,
              f->stall_after, f->stall_s);
    mk_printf(b, ",\"disconnect_rate\":%.6g,\"disconnect_after\":%d,\"disconnect_mode\":\"%s\"",
              f->disconnect_rate, f->disconnect_after, f->disconnect_reset ? "reset" : "close");
    mk_printf(b, ",\"malformed_rate\":%.6g,\"malformed_after\":%d,\"malformed_mode\":\"%s\"",
              f->malformed_rate, f->malformed_after, f->malformed_http ? "http" : "json");
    mk_printf(b, ",\"slow_ttft_rate\":%.6g,\"slow_ttft_s\":%.6g", f->slow_ttft_rate, f->slow_ttft_s);
    mk_printf(b, ",\"refuse_connections\":%s,\"refuse_s\":%.6g,\"seed\":%llu}",
              f->refuse_connections ? "true" : "false", f->refuse_s, (unsigned long long)f->seed);
}

/* fuzz_mock_profile.c: the emulator's profile loader and fault fields
 * (src/emu/mock_profile.c), fed arbitrary bytes as a profile and as a
 * POST /mock/faults body.
 *
 * A profile is refused with a non-empty one-line reason, or accepted with
 * every model inside its documented ranges and a fallback model; faults
 * are refused (state unchanged) or accepted, and the fault state always
 * serialises to valid JSON that the loader accepts back. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mock_int.h"

static void check_reason(int rc, const char *err)
{
    if (rc < 0 && (!err[0] || memchr(err, '\n', strlen(err))))
        abort();
}

static void check_models(mb_mock *m)
{
    if (!m->models || !m->fallback)
        abort();
    for (mk_model *md = m->models; md; md = md->next) {
        const mb_mock_timing *t = &md->t;
        if (!md->name || !(t->decode_tok_s > 0) || !isfinite(t->decode_tok_s) ||
            t->ttft_ms < 0 || t->prefill_tok_s < 0 || t->jitter < 0 || t->jitter >= 1 ||
            t->batch_knee < 0 || t->max_aggregate_tok_s < 0 || md->tokens_per_chunk < 1 ||
            md->tokens_per_chunk > 1000 || md->natural_tokens < 1 || md->reasoning_tokens < 0 ||
            !memchr(md->reasoning_field, 0, sizeof md->reasoning_field))
            abort();
    }
}

static void faults_roundtrip(const mk_faults *f)
{
    mb_buf b = MB_BUF_INIT;
    mk_faults g, init;
    char err[256];
    mk_faults_to_json(f, &b);
    if (b.oom)
        abort();
    mb_json_val o;
    if (mb_json_doc(b.p, b.len, &o) < 0)
        abort();                                   /* the state is valid JSON */
    mk_faults_defaults(&init);
    g = init;
    /* the document GET /mock/faults returns is a valid POST body (minus
     * nothing): applying it must succeed */
    if (mk_faults_apply(&g, &init, &o, err, sizeof err) < 0)
        abort();
    mb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mb_mock *m = calloc(1, sizeof *m);
    char err[256];
    int rc;
    if (!m)
        abort();
    m->seed = 42;
    m->trace.max_rec = 10000;
    m->trace.max_chunks = 2000000;
    m->max_body = MB_DEFAULT_MAX_REQUEST_BODY;
    mk_faults_defaults(&m->faults);
    if (mk_builtin_models(m) < 0)
        abort();

    /* 1. as a profile */
    err[0] = 0;
    rc = mk_profile_load(m, (const char *)data, size, err, sizeof err);
    check_reason(rc, err);
    if (rc == 0) {
        mk_default_fallback(m);
        check_models(m);
        if (m->max_body < 1024 || m->max_body > (1u << 30) || m->trace.max_rec < 1)
            abort();
    }
    faults_roundtrip(&m->faults);

    /* 2. as a faults body: refused changes nothing */
    {
        mb_json_val o;
        mk_faults before = m->faults, init;
        mk_faults_defaults(&init);
        if (mb_json_doc((const char *)data, size, &o) == 0) {
            err[0] = 0;
            rc = mk_faults_apply(&m->faults, &init, &o, err, sizeof err);
            check_reason(rc, err);
            if (rc < 0 && memcmp(&before, &m->faults, sizeof before) != 0)
                abort();
            faults_roundtrip(&m->faults);
        }
    }
    mk_models_free(m);
    free(m->api_key);
    free(m->control_token);
    free(m);
    return 0;
}

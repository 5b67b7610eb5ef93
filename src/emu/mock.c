/* mock.c: the emulated LLM server's life -- start (profile, models, keys,
 * faults, the server and the emission engine) and stop (every part closed,
 * then the memory).
 *
 *   mock_route.c      routing, responses and errors in each API's shape, models, log
 *   mock_validate.c   generation requests: validation, prompt tokens, the fault draw
 *   mock_control.c    the /mock/... control endpoints and their C API
 *   mock_stats.c      counters and /mock/stats
 *   mock_stream.c     the emission engine
 *   mock_profile.c    models, profile JSON (fields: mock_fields.c)
 *   mock_faults.c     the fault state and its JSON
 *   mock_openai.c, mock_anthropic.c   the APIs' bytes
 *   mock_trace.c      the ground truth */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mlxbench/clock.h"
#include "mlxbench/defaults.h"
#include "mlxbench/errors.h"
#include "mock_int.h"

/* Frees what the mock holds, once its last part has closed. */
static void mock_free(void *obj)
{
    mb_mock *m = obj;
    mk_trace_clear(&m->trace);
    while (m->trace.head) {   /* live records of requests cut at stop */
        m->trace.head->done = 1;
        mk_trace_clear(&m->trace);
    }
    mk_models_free(m);
    mb_hist_free(m->emit_hist);
    mb_buf_free(&m->out);
    mb_buf_free(&m->tok);
    free(m->heap);
    free(m->api_key);
    free(m->control_token);
    mk_tokenizer_free(m);
    mk_cache_free(m->cache);
    free(m);
}

/* One of the mock's parts (the server, the engine's timer, the refuse
 * timer) has closed; the last one frees the mock. */
static void part_closed(void *ud)
{
    mb_mock *m = ud;
    m->life.open--;
    mb_life_end(&m->life, 0, mock_free, m);
}

static void handle_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

/* Stops the server (open streams are cut), the engine and the refuse
 * timer; the mock goes with the last of them. */
void mb_mock_stop(mb_mock *m, void (*done)(void *ud), void *ud)
{
    if (!mb_life_stop(m ? &m->life : NULL, done, ud))
        return;
    if (m->srv) {
        m->life.open++;   /* released by part_closed */
        mb_server_stop(m->srv, part_closed, m);
        m->srv = NULL;
    }
    mk_engine_close(m, part_closed);
    uv_timer_stop(&m->refuse_timer);
    uv_close((uv_handle_t *)&m->refuse_timer, handle_closed);
}

int mb_mock_port(const mb_mock *m) { return m->port; }
const char *mb_mock_url(const mb_mock *m) { return m->url; }

/* Reads a whole profile file (at most 64 MiB) into a NUL-terminated
 * malloc'd string. 0, MB_EIO or MB_ENOMEM with the reason in err. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    mb_buf b = MB_BUF_INIT;
    size_t got;
    if (!f) {
        snprintf(err, errlen, "cannot open profile '%s' (a file, or a built-in profile: %s)", path,
                 MK_PRESET_NAMES);
        return MB_EIO;
    }
    do {
        if (b.len > (64u << 20) || mb_buf_reserve(&b, 4096) < 0) {
            mb_buf_free(&b);
            fclose(f);
            snprintf(err, errlen, "profile '%s' is too large or out of memory", path);
            return MB_ENOMEM;
        }
        got = fread(b.p + b.len, 1, b.cap - b.len - 1, f);
        b.len += got;
        b.p[b.len] = 0;
    } while (got > 0);
    fclose(f);
    *len = b.len;
    *out = mb_buf_take(&b);
    return 0;
}

/* Models (built-in, then the profile's), seed, keys and faults, then the
 * server and the engine (docs/MOCK.md). */
int mb_mock_start(mb_mock **out, uv_loop_t *loop, const mb_mock_config *cfg, char *err, size_t errlen)
{
    mb_mock *m = NULL;
    char tmp[256], *file = NULL;
    size_t flen = 0;
    int rc;
    if (!err) {
        err = tmp;
        errlen = sizeof tmp;
    }
    err[0] = 0;
    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return MB_ENOMEM;
    }
    m->loop = loop;
    m->seed = 42;
    m->trace.max_rec = 10000;
    m->trace.max_chunks = 2000000;
    m->max_body = MB_DEFAULT_MAX_REQUEST_BODY;
    m->request_timeout_s = MB_DEFAULT_REQUEST_TIMEOUT_MS / 1000.0;
    m->idle_timeout_s = MB_DEFAULT_IDLE_TIMEOUT_MS / 1000.0;
    m->start_ns = mb_clock_now_ns();
    mk_faults_defaults(&m->faults);
    if ((rc = mk_builtin_models(m)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->profile_json || cfg->profile_path) {
        char perr[200] = "";
        if (cfg->profile_json) {
            rc = mk_profile_load(m, cfg->profile_json, strlen(cfg->profile_json), perr, sizeof perr);
        } else if (mk_preset(cfg->profile_path) && access(cfg->profile_path, F_OK) != 0) {
            const char *pj = mk_preset(cfg->profile_path);   /* a built-in profile by name */
            rc = mk_profile_load(m, pj, strlen(pj), perr, sizeof perr);
        } else {
            rc = read_file(cfg->profile_path, &file, &flen, perr, sizeof perr);
            if (rc == 0)
                rc = mk_profile_load(m, file, flen, perr, sizeof perr);
            free(file);
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s%s", strncmp(perr, "cannot open", 11) ? "profile: " : "", perr);
            goto fail;
        }
    }
    mk_default_fallback(m);
    if (cfg->has_seed)
        m->seed = cfg->seed;
    if (cfg->api_key) {
        free(m->api_key);
        m->api_key = *cfg->api_key ? strdup(cfg->api_key) : NULL;
    }
    if (cfg->control_token) {
        if (strlen(cfg->control_token) < 8) {
            snprintf(err, errlen, "the control token must have at least 8 characters");
            rc = MB_EINVAL;
            goto fail;
        }
        free(m->control_token);
        m->control_token = strdup(cfg->control_token);
    }
    if (cfg->faults_json) {
        mb_json_val o;
        if (mb_json_doc(cfg->faults_json, strlen(cfg->faults_json), &o) < 0) {
            snprintf(err, errlen, "faults: not valid JSON");
            rc = MB_EPARSE;
            goto fail;
        }
        if ((rc = mk_faults_apply(&m->faults, &m->faults, &o, err, errlen)) < 0)
            goto fail;
    }
    if (!m->faults.seed)
        m->faults.seed = m->seed;
    m->faults_initial = m->faults;
    mb_rng_seed(&m->frng, m->faults.seed);
    if ((rc = mb_hist_new(&m->emit_hist, 1e-7, 3600, 3)) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    m->log = cfg->log < 0 ? isatty(2) : cfg->log != 0;

    mb_server_config sc;
    memset(&sc, 0, sizeof sc);
    sc.host = cfg->host ? cfg->host : "127.0.0.1";
    sc.port = cfg->port;
    sc.max_body = m->max_body;
    /* a client holding a connection without asking is let go (0 = never) */
    sc.request_timeout_ms = m->request_timeout_s > 0 ? (int)(m->request_timeout_s * 1000 + 0.5) : -1;
    sc.idle_timeout_ms = m->idle_timeout_s > 0 ? (int)(m->idle_timeout_s * 1000 + 0.5) : -1;
    if (m->request_timeout_s > 0 && sc.request_timeout_ms < 1)
        sc.request_timeout_ms = 1;
    if (m->idle_timeout_s > 0 && sc.idle_timeout_ms < 1)
        sc.idle_timeout_ms = 1;
    sc.h = mk_handlers;
    sc.h.ud = m;
    rc = mb_server_start(&m->srv, loop, &sc);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", sc.host, cfg->port,
                 rc <= -8 || rc >= 0 ? uv_strerror(rc) : mb_strerror(rc));
        goto fail;
    }
    m->port = mb_server_port(m->srv);
    m->control_open = !m->control_token && mb_server_loopback(m->srv);
    {
        const char *h = mb_server_host(m->srv);
        if (strcmp(h, "0.0.0.0") == 0)
            h = "127.0.0.1";
        else if (strcmp(h, "::") == 0)
            h = "::1";
        snprintf(m->url, sizeof m->url, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d", h, m->port);
    }
    uv_timer_init(loop, &m->refuse_timer);
    m->refuse_timer.data = m;
    m->life.open++;
    if ((rc = mk_engine_init(m)) < 0) {
        mb_mock_stop(m, NULL, NULL);   /* what is open closes, then m goes */
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (m->faults.refuse_connections)
        mk_refuse_start(m);
    *out = m;
    return 0;
fail:
    mk_models_free(m);
    mb_hist_free(m->emit_hist);
    free(m->api_key);
    free(m->control_token);
    mk_tokenizer_free(m);
    mk_cache_free(m->cache);
    free(m);
    return rc < 0 ? rc : MB_EINVAL;
}

/* mock_route.c: the emulated server's front door -- routing by path,
 * responses and errors in each API's own shape, the model list, health,
 * and the per-request log line. Generation requests go to mock_validate.c,
 * /mock/... to mock_control.c. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "mlxbench/clock.h"
#include "mock_int.h"

/* One line per request on stderr (when logging is on): what a developer
 * watching the terminal wants -- status, model, token counts and timings. */
void mk_log_line(mb_mock *m, const char *method, const char *path, int status, const mk_req *r,
                 const char *outcome)
{
    char ts[32], extra[256] = "";
    struct timespec now;
    struct tm tmv;
    if (!m->log)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    localtime_r(&now.tv_sec, &tmv);
    strftime(ts, sizeof ts, "%H:%M:%S", &tmv);
    if (r) {
        double ttft = r->tr && r->tr->first_ns && r->tr->first_ns > r->arrival_ns
                          ? (double)(r->tr->first_ns - r->arrival_ns) * 1e-6 : 0;
        double dur = (double)(mb_clock_now_ns() - r->arrival_ns) * 1e-6;
        snprintf(extra, sizeof extra, " model=%s%s in=%llu out=%llu ttft=%.1fms dur=%.1fms %s",
                 r->model ? r->model->name : "?", r->stream ? " stream" : "",
                 (unsigned long long)r->prompt_tokens, (unsigned long long)r->emitted, ttft, dur,
                 outcome ? outcome : "");
        if (r->tr && r->tr->model && r->model && strcmp(r->tr->model, r->model->name) != 0)
            snprintf(extra, sizeof extra, " model=%s(as %s)%s in=%llu out=%llu ttft=%.1fms "
                     "dur=%.1fms %s", r->tr->model, r->model->name, r->stream ? " stream" : "",
                     (unsigned long long)r->prompt_tokens, (unsigned long long)r->emitted, ttft,
                     dur, outcome ? outcome : "");
    } else if (outcome) {
        snprintf(extra, sizeof extra, " %s", outcome);
    }
    fprintf(stderr, "%s.%03ld %s %s %d%s\n", ts, now.tv_nsec / 1000000, method, path, status, extra);
}

void mk_log_req(mb_mock *m, const mk_req *r, int status, const char *outcome)
{
    mk_log_line(m, r->method, r->path, status, r, outcome);
}

/* ----------------------------------------------------------- responding */

/* A JSON response (the body "{}" when it could not be formatted). */
void mk_respond(mb_mock *m, mb_server_conn *c, int status, const char *extra, mb_buf *b)
{
    mk_count_status(m, status);
    mb_server_respond(c, status, "application/json", extra, b->oom ? "{}" : b->p ? b->p : "",
                      b->oom ? 2 : b->len);
}

/* An error in the shape of the API the client speaks. */
void mk_api_error(mb_mock *m, mb_server_conn *c, int shape, int status, const char *message,
                  const char *param, const char *code, const char *extra)
{
    mb_buf b = {0};
    const char *type;
    if (shape == SHAPE_ANTHROPIC) {
        switch (status) {
        case 400: type = "invalid_request_error"; break;
        case 401: type = "authentication_error"; break;
        case 403: type = "permission_error"; break;
        case 404: type = "not_found_error"; break;
        case 413: type = "request_too_large"; break;
        case 429: type = "rate_limit_error"; break;
        case 529: type = "overloaded_error"; break;
        default: type = status >= 500 ? "api_error" : "invalid_request_error";
        }
        char rid[40];
        snprintf(rid, sizeof rid, "req_mock%016llx", (unsigned long long)mb_mock_mix(m->seq));
        mk_anthropic_error(&b, type, message, rid);
    } else {
        type = status == 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
        mk_openai_error(&b, message, type, param, code);
    }
    mk_respond(m, c, status, extra, &b);
    mb_buf_free(&b);
}

/* The API a path belongs to, for the shape of its errors. */
static int shape_of_path(const char *path)
{
    return strstr(path, "/messages") ? SHAPE_ANTHROPIC : SHAPE_OPENAI;
}

/* ---------------------------------------------------------------- models */

/* GET /v1/models and /v1/models/ID, OpenAI's shape. */
static void models_list(mb_mock *m, mb_server_conn *c, const mb_server_req *q, const char *one)
{
    mb_buf b = {0};
    long long created = 1721692800;   /* fixed: model lists are stable */
    if (!mk_auth_ok(m, q, SHAPE_OPENAI)) {
        mk_api_error(m, c, SHAPE_OPENAI, 401, "Incorrect API key provided.", NULL, "invalid_api_key", NULL);
        return;
    }
    if (one) {
        mk_model *md = mk_find_model(m, one);
        if (!md && !m->any_model) {
            char msg[400];
            snprintf(msg, sizeof msg, "The model `%.300s` does not exist or you do not have "
                     "access to it.", one);
            mk_api_error(m, c, SHAPE_OPENAI, 404, msg, "model", "model_not_found", NULL);
            return;
        }
        mb_buf_puts(&b, "{\"id\":");
        mb_json_put_str(&b, one, strlen(one));
        mb_buf_printf(&b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":", created);
        const char *own = md ? md->owned_by : "mlxbench-mock";
        mb_json_put_str(&b, own, strlen(own));
        mb_buf_puts(&b, "}");
    } else {
        mb_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
        for (mk_model *md = m->models; md; md = md->next) {
            mb_buf_puts(&b, md == m->models ? "{\"id\":" : ",{\"id\":");
            mb_json_put_str(&b, md->name, strlen(md->name));
            mb_buf_printf(&b, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":", created);
            mb_json_put_str(&b, md->owned_by, strlen(md->owned_by));
            mb_buf_puts(&b, "}");
        }
        mb_buf_puts(&b, "]}");
    }
    mk_respond(m, c, 200, NULL, &b);
    mb_buf_free(&b);
}

/* ---------------------------------------------------------------- routing */

/* The server's on_request: routing by path. */
static void on_request(void *ud, mb_server_conn *c, const mb_server_req *q)
{
    mb_mock *m = ud;
    const char *p = q->path;
    int ep = EP_OTHER;
    m->st.requests++;
    if (strncmp(p, "/v1/", 4) == 0)
        p += 3;   /* "/v1/chat/completions" and "/chat/completions" both work */
    if (strcmp(p, "/chat/completions") == 0)
        ep = EP_CHAT;
    else if (strcmp(p, "/completions") == 0)
        ep = EP_COMPLETIONS;
    else if (strcmp(p, "/messages") == 0)
        ep = EP_MESSAGES;
    else if (strcmp(p, "/models") == 0 || strncmp(p, "/models/", 8) == 0)
        ep = EP_MODELS;
    else if (strncmp(q->path, "/mock/", 6) == 0)
        ep = EP_MOCK;
    m->st.by_endpoint[ep]++;
    switch (ep) {
    case EP_CHAT: mk_generate(m, c, q, MK_CHAT); return;
    case EP_COMPLETIONS: mk_generate(m, c, q, MK_COMPLETIONS); return;
    case EP_MESSAGES: mk_generate(m, c, q, MK_MESSAGES); return;
    case EP_MODELS:
        if (strcmp(q->method, "GET") != 0)
            mk_api_error(m, c, SHAPE_OPENAI, 405, "Method not allowed: use GET.", NULL, NULL, NULL);
        else if (p[7] == '/' && p[8]) {
            char id[512];
            mk_url_decode(p + 8, strlen(p + 8), id, sizeof id, 0);   /* SDKs encode the '/' of ids */
            models_list(m, c, q, id);
        } else {
            models_list(m, c, q, NULL);
        }
        break;
    case EP_MOCK:
        mk_control(m, c, q, q->path + 6);
        return;   /* control calls are not logged: they would drown the requests */
    default:
        if (strcmp(q->path, "/metrics") == 0) {
            mk_metrics(m, c, q);
        } else if (strcmp(q->path, "/health") == 0 || strcmp(q->path, "/") == 0) {
            mb_buf b = {0};
            mb_buf_puts(&b, "{\"status\":\"ok\",\"server\":\"mlxbench mock\",\"docs\":\"docs/MOCK.md\"}");
            mk_respond(m, c, 200, NULL, &b);
            mb_buf_free(&b);
        } else {
            char msg[200];
            snprintf(msg, sizeof msg, "Invalid URL (%s %.100s)", q->method, q->path);
            mk_api_error(m, c, shape_of_path(q->path), 404, msg, NULL, NULL, NULL);
        }
    }
    mk_log_line(m, q->method, q->path, m->last_status, NULL, NULL);
}

/* The server refused a request: the answer in the API's error shape. */
static void on_bad_request(void *ud, mb_server_conn *c, int status, const char *message,
                           const mb_server_req *partial)
{
    mb_mock *m = ud;
    char msg[200];
    m->st.requests++;
    m->st.by_endpoint[EP_OTHER]++;
    snprintf(msg, sizeof msg, "%s: %s", status == 413 ? "Request too large" : "Malformed HTTP request",
             message);
    mk_api_error(m, c, shape_of_path(partial->path), status, msg, NULL,
              status == 413 ? "request_too_large" : NULL, NULL);
    mk_log_line(m, partial->method ? partial->method : "?", partial->path, status, NULL, message);
}

/* A connection closed: its request in flight, if any, is cut. */
static void on_close(void *ud, mb_server_conn *c)
{
    mk_req *r = mb_server_conn_data(c);
    (void)ud;
    if (r)
        mk_req_conn_closed(r);
}

/* A congested connection drained: its stream goes on. */
static void on_drain(void *ud, mb_server_conn *c)
{
    mk_req *r = mb_server_conn_data(c);
    (void)ud;
    if (r)
        mk_req_drained(r);
}

const mb_server_handlers mk_handlers = {
    .on_request = on_request,
    .on_bad_request = on_bad_request,
    .on_close = on_close,
    .on_drain = on_drain,
};

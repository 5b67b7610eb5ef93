/* mock_metrics.c: what the emulator says about its own work, as the real
 * servers say it --
 *
 *   GET /metrics   Prometheus text format in vLLM's names, per model
 *                  (label model_name): requests running and waiting (its
 *                  max_running slots, mock_queue.c), KV-cache usage (the
 *                  prompt and generated tokens its running requests hold,
 *                  over kv_cache_tokens), prompt and generation tokens,
 *                  finished requests by reason, and a TTFT histogram in
 *                  vLLM's buckets;
 *   "timings"      llama.cpp's object on the finish chunk and in bodies
 *                  (profile `timings: true`): prompt_n, prompt_ms (its slot
 *                  to its first token's write: what it actually spent),
 *                  predicted_n, predicted_ms, and queue_ms (its wait for a
 *                  slot; llama.cpp has no such field) --
 *
 * so `mlxbench run --mock` shows server metrics on the timeline and the
 * client-vs-server TTFT split with nothing else running. */
#include "mlxbench/clock.h"
#include "mock_int.h"

/* vLLM's time_to_first_token_seconds buckets (v0.8). */
static const double TTFT_LE[MK_TTFT_BUCKETS] = {
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};

void mk_metrics_admit(mk_req *r)
{
    mk_model *md = r->model;
    md->m_prompt += r->prompt_tokens;
    md->kv_used += r->prompt_tokens;
    r->kv_held = r->prompt_tokens;
}

void mk_metrics_tokens(mk_req *r, uint64_t k)
{
    r->model->m_generation += k;
    r->model->kv_used += k;
    r->kv_held += k;
}

void mk_metrics_first(mk_req *r, uint64_t t_ns)
{
    mk_model *md = r->model;
    double s = t_ns > r->arrival_ns ? (double)(t_ns - r->arrival_ns) * 1e-9 : 0;
    r->first_ns = t_ns;
    for (int i = 0; i < MK_TTFT_BUCKETS; i++)
        if (s <= TTFT_LE[i])
            md->m_ttft[i]++;
    md->m_ttft_count++;
    md->m_ttft_sum += s;
}

void mk_metrics_done(mk_req *r, const char *outcome)
{
    mk_model *md = r->model;
    md->kv_used -= r->kv_held <= md->kv_used ? r->kv_held : md->kv_used;
    r->kv_held = 0;
    if (strcmp(outcome, "ok") == 0) {
        if (r->finish_length)
            md->m_length++;
        else
            md->m_stop++;
    } else if (r->admit_ns || r->queued) {
        md->m_abort++;
    }
}

void mk_timings_json(const mk_req *r, mb_buf *b, int body)
{
    if (!r->model->timings)
        return;
    double queue_ms = r->admit_ns > r->arrival_ns ? (double)(r->admit_ns - r->arrival_ns) * 1e-6 : 0;
    double prompt_ms, predicted_ms;
    uint64_t now = mb_clock_now_ns();
    if (body) {
        /* the whole body is due now: the model's TTFT, then its decode */
        prompt_ms = r->ttft_target_s * 1e3;
        double all = now > r->admit_ns ? (double)(now - r->admit_ns) * 1e-6 : 0;
        predicted_ms = all > prompt_ms ? all - prompt_ms : 0;
    } else {
        /* the finish chunk goes out with the last token's write; the first
         * token's write is now when the answer is one write long */
        uint64_t first = r->first_ns ? r->first_ns : now;
        prompt_ms = first > r->admit_ns ? (double)(first - r->admit_ns) * 1e-6 : 0;
        predicted_ms = now > first ? (double)(now - first) * 1e-6 : 0;
    }
    uint64_t gen = r->emitted > 0 ? r->emitted : 1;
    mb_buf_printf(b, ",\"timings\":{\"prompt_n\":%llu,\"prompt_ms\":%.3f,\"prompt_per_token_ms\":%.3f,"
                  "\"predicted_n\":%llu,\"predicted_ms\":%.3f,\"predicted_per_token_ms\":%.3f,"
                  "\"queue_ms\":%.3f}",
                  (unsigned long long)r->prompt_tokens, prompt_ms,
                  r->prompt_tokens ? prompt_ms / (double)r->prompt_tokens : 0,
                  (unsigned long long)r->emitted, predicted_ms, predicted_ms / (double)gen, queue_ms);
}

/* One gauge or counter family: # HELP, # TYPE, a sample per model. */
static void family(mb_mock *m, mb_buf *b, const char *name, const char *type, const char *help,
                   double (*value)(const mk_model *))
{
    mb_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (const mk_model *md = m->models; md; md = md->next) {
        mb_buf_printf(b, "%s{model_name=", name);
        mb_json_put_str(b, md->name, strlen(md->name));   /* JSON and Prometheus escape alike */
        mb_buf_printf(b, "} %.17g\n", value(md));
    }
}

static double running(const mk_model *md) { return (double)md->active; }
static double waiting(const mk_model *md) { return (double)md->waiting; }
static double kv_usage(const mk_model *md)
{
    double u = md->kv_cache_tokens ? (double)md->kv_used / (double)md->kv_cache_tokens : 0;
    return u < 1 ? u : 1;
}
static double prompt_total(const mk_model *md) { return (double)md->m_prompt; }
static double generation_total(const mk_model *md) { return (double)md->m_generation; }

/* The label value of a model, escaped (into the buffer). */
static void model_label(mb_buf *b, const mk_model *md)
{
    mb_buf_puts(b, "model_name=");
    mb_json_put_str(b, md->name, strlen(md->name));
}

void mk_metrics(mb_mock *m, mb_server_conn *c, const mb_server_req *q)
{
    mb_buf b = MB_BUF_INIT;
    if (strcmp(q->method, "GET") != 0) {
        mk_api_error(m, c, SHAPE_OPENAI, 405, "Method not allowed: use GET.", NULL, NULL, NULL);
        return;
    }
    family(m, &b, "vllm:num_requests_running", "gauge",
           "Number of requests in model execution batches.", running);
    family(m, &b, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
           waiting);
    family(m, &b, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.",
           kv_usage);
    family(m, &b, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.",
           prompt_total);
    family(m, &b, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
           generation_total);
    mb_buf_puts(&b, "# HELP vllm:request_success_total Count of successfully processed requests.\n"
                    "# TYPE vllm:request_success_total counter\n");
    for (const mk_model *md = m->models; md; md = md->next) {
        static const char *const reasons[] = {"stop", "length", "abort"};
        const uint64_t n[] = {md->m_stop, md->m_length, md->m_abort};
        for (int i = 0; i < 3; i++) {
            mb_buf_printf(&b, "vllm:request_success_total{finished_reason=\"%s\",", reasons[i]);
            model_label(&b, md);
            mb_buf_printf(&b, "} %llu\n", (unsigned long long)n[i]);
        }
    }
    mb_buf_puts(&b, "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in "
                    "seconds.\n# TYPE vllm:time_to_first_token_seconds histogram\n");
    for (const mk_model *md = m->models; md; md = md->next) {
        for (int i = 0; i < MK_TTFT_BUCKETS; i++) {
            mb_buf_printf(&b, "vllm:time_to_first_token_seconds_bucket{le=\"%g\",", TTFT_LE[i]);
            model_label(&b, md);
            mb_buf_printf(&b, "} %llu\n", (unsigned long long)md->m_ttft[i]);
        }
        mb_buf_puts(&b, "vllm:time_to_first_token_seconds_bucket{le=\"+Inf\",");
        model_label(&b, md);
        mb_buf_printf(&b, "} %llu\nvllm:time_to_first_token_seconds_count{",
                      (unsigned long long)md->m_ttft_count);
        model_label(&b, md);
        mb_buf_printf(&b, "} %llu\nvllm:time_to_first_token_seconds_sum{",
                      (unsigned long long)md->m_ttft_count);
        model_label(&b, md);
        mb_buf_printf(&b, "} %.17g\n", md->m_ttft_sum);
    }
    mk_count_status(m, 200);
    mb_server_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                      b.oom ? "" : b.p ? b.p : "", b.oom ? 0 : b.len);
    mb_buf_free(&b);
}

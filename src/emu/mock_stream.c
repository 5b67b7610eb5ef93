/* mock_stream.c: the emission engine of the emulated server.
 *
 * Every request in flight has one deadline: the time its next chunk is due
 * (for a non-streamed request, the time its whole body is due). Deadlines
 * live in one binary min-heap; a single timer of the platform layer, armed
 * at the heap's minimum (nanosecond resolution on Linux and macOS, a
 * uv_timer at millisecond resolution elsewhere), wakes the engine.
 * One wake-up emits everything due, so thousands of streams cost one timer
 * and O(log n) per chunk, and nothing ever sleeps.
 *
 * Deadlines are absolute: the next one is the previous *scheduled* time plus
 * the model's interval, so lateness never accumulates into drift, and every
 * chunk's (scheduled, actual) pair goes to the trace and to the
 * emission-error histogram in /mock/stats. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mlxbench/clock.h"
#include "mlxbench/errors.h"
#include "mock_int.h"

#define NOT_IN_HEAP ((size_t)-1)
#define WAKE_GRID_NS 100000u   /* 0.1 ms */

static void arm(mb_mock *m);

/* ------------------------------------------------------------------ heap */

static void heap_set(mb_mock *m, size_t i, struct mk_hent e)
{
    m->heap[i] = e;
    e.r->heap_idx = i;
}

static void sift_up(mb_mock *m, size_t i)
{
    struct mk_hent e = m->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (m->heap[p].deadline <= e.deadline)
            break;
        heap_set(m, i, m->heap[p]);
        i = p;
    }
    heap_set(m, i, e);
}

static void sift_down(mb_mock *m, size_t i)
{
    struct mk_hent e = m->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = l;
        if (l >= m->heap_len)
            break;
        if (r < m->heap_len && m->heap[r].deadline < m->heap[l].deadline)
            s = r;
        if (m->heap[s].deadline >= e.deadline)
            break;
        heap_set(m, i, m->heap[s]);
        i = s;
    }
    heap_set(m, i, e);
}

/* Queues r at r->deadline. */
static int heap_push(mb_mock *m, mk_req *r)
{
    if (MB_VEC_GROW(m->heap, m->heap_cap, m->heap_len + 1) < 0)
        return MB_ENOMEM;
    m->heap[m->heap_len] = (struct mk_hent){r->deadline, r};
    r->heap_idx = m->heap_len++;
    sift_up(m, r->heap_idx);
    return 0;
}

static void heap_remove(mb_mock *m, mk_req *r)
{
    size_t i = r->heap_idx;
    if (i == NOT_IN_HEAP || i >= m->heap_len || m->heap[i].r != r)
        return;
    r->heap_idx = NOT_IN_HEAP;
    m->heap_len--;
    if (i == m->heap_len)
        return;
    heap_set(m, i, m->heap[m->heap_len]);
    sift_down(m, i);
    sift_up(m, i);
}

/* --------------------------------------------------------------- timing */

/* One decode interval of this request's model at its current load. */
static uint64_t interval_ns(mk_req *r)
{
    double u = mb_rng_uniform(&r->jit);
    double s = mb_mock_interval_s(&r->model->t, r->model->active, u);
    return (uint64_t)(s * 1e9 + 0.5);
}

static uint64_t intervals_ns(mk_req *r, uint64_t n)
{
    uint64_t sum = 0;
    if (n > 100000) {   /* long bodies: the mean is exact enough */
        double s = mb_mock_interval_s(&r->model->t, r->model->active, 0.5);
        return (uint64_t)(s * 1e9 * (double)n + 0.5);
    }
    for (uint64_t i = 0; i < n; i++)
        sum += interval_ns(r);
    return sum;
}

/* Tokens of the next write: events_per_write events of tokens_per_chunk
 * tokens each, never mixing reasoning and content in one write (so never
 * in one event). The write is one chunk of the trace. */
static uint64_t chunk_size(const mk_req *r)
{
    uint64_t left = r->emitted < r->reasoning ? r->reasoning - r->emitted : r->total - r->emitted;
    uint64_t w = (uint64_t)r->tpc * (uint64_t)(r->epw > 0 ? r->epw : 1);
    return left < w ? left : w;
}

/* ------------------------------------------------------------- finishing */

void mk_req_free(mk_req *r)
{
    free(r->model_json);
    mk_tok_free(r);
    mb_buf_free(&r->gen);
    mb_buf_free(&r->ptext);
    free(r);
}

/* Ends a request's life in the mock: out of the heap, counters, trace,
 * log line, memory. The caller holds what it still needs (the connection). */
static void req_finish(mk_req *r, const char *outcome)
{
    mb_mock *m = r->m;
    mk_model *md = r->model;
    heap_remove(m, r);
    if (r->queued)
        mk_queue_leave(r);
    else if (r->admit_ns && md->active > 0)   /* it had a running slot */
        md->active--;
    mk_metrics_done(r, outcome);
    m->live--;
    if (r->stream)
        m->live_streams--;
    if (r->tr) {
        r->tr->outcome = outcome;
        r->tr->end_ns = mb_clock_now_ns();
        r->tr->output_tokens = r->emitted;
        r->tr->reasoning_tokens = r->emitted < r->reasoning ? r->emitted : r->reasoning;
        if (strcmp(outcome, "ok") == 0)
            r->tr->finish = mk_finish_reason(r);
        mk_trace_done(&m->trace, r->tr);
    }
    if (m->cache && strcmp(outcome, "ok") == 0 && r->api != MK_COMPLETIONS)
        mk_cache_store(m, r->model, r->ptext.p, r->ptext.len, r->gen.p, r->gen.len);
    if (r->conn && !r->conn_closed)
        mb_server_conn_set_data(r->conn, NULL);
    mk_log_req(m, r, 200, outcome);
    mk_req_free(r);
    mk_queue_release(m, md);   /* a slot may have freed: the next waiting request runs */
}

static const mk_api *api_of(const mk_req *r)
{
    return r->api == MK_MESSAGES ? &mk_api_messages
         : r->api == MK_COMPLETIONS ? &mk_api_completions : &mk_api_chat;
}

/* Writes the scratch buffer to the client. A failed write means the
 * connection is closed (so `gone`); callers check it and finish. */
static void flush(mk_req *r, mb_buf *b)
{
    if (r->gone) {
        b->len = 0;
        return;
    }
    if (b->oom) {   /* could not format the event: cut the stream */
        b->oom = 0;
        b->len = 0;
        r->gone = 1;
        mb_server_abort(r->conn);
        return;
    }
    if (b->len > 0 && mb_server_write(r->conn, b->p, b->len) < 0) {
        r->gone = 1;   /* the server closed the connection (on_close ran) */
        if (!r->conn_closed)
            mb_server_abort(r->conn);   /* or refused the write: cut it */
    }
    b->len = 0;
}

static void record_chunk(mk_req *r, uint64_t actual, uint64_t tokens)
{
    mb_mock *m = r->m;
    uint64_t late = actual > r->deadline ? actual - r->deadline : 0;
    mk_trace_chunk(&m->trace, r->tr, r->deadline, actual, (uint32_t)tokens);
    mb_hist_record(m->emit_hist, (double)late * 1e-9, 1);
    if (late > 1000000)
        m->st.late_1ms++;
    if (late > 2000000)
        m->st.late_2ms++;
    m->st.tokens += tokens;
    m->st.chunks++;
    if (r->tr && !r->tr->first_ns)
        r->tr->first_ns = actual;
    if (!r->first_ns)
        mk_metrics_first(r, actual);
}

/* --------------------------------------------------------------- faults */

static int fault_due(const mk_req *r)
{
    long e = (long)r->emitted;
    return (r->disconnect_at >= 0 && e >= r->disconnect_at) ||
           (r->stream_error_at >= 0 && e >= r->stream_error_at) ||
           (r->stall_at >= 0 && e >= r->stall_at) ||
           (r->malformed_at >= 0 && e >= r->malformed_at);
}

/* Applies the faults due at this token boundary of a stream. Returns 1 when
 * the request is over or rescheduled (the caller stops), 0 to go on. */
static int stream_faults(mk_req *r, mb_buf *b)
{
    mb_mock *m = r->m;
    long e = (long)r->emitted;
    mb_server_conn *c = r->conn;
    if (r->disconnect_at >= 0 && e >= r->disconnect_at) {
        int reset = m->faults.disconnect_reset;
        flush(r, b);
        m->st.f_disconnect++;
        if (r->tr)
            r->tr->faults |= MK_F_DISCONNECT;
        int gone = r->gone;
        req_finish(r, "disconnect");
        if (!gone) {
            if (reset)
                mb_server_abort(c);
            else
                mb_server_close(c);
        }
        return 1;
    }
    if (r->stream_error_at >= 0 && e >= r->stream_error_at) {
        api_of(r)->stream_error(r, b);
        flush(r, b);
        m->st.f_stream_error++;
        if (r->tr)
            r->tr->faults |= MK_F_STREAM_ERROR;
        int gone = r->gone;
        req_finish(r, "stream_error");
        if (!gone)
            mb_server_end(c);
        return 1;
    }
    if (r->stall_at >= 0 && e >= r->stall_at) {
        r->stall_at = -1;
        m->st.f_stall++;
        if (r->tr)
            r->tr->faults |= MK_F_STALL;
        flush(r, b);
        if (r->gone) {
            req_finish(r, "client_closed");
            return 1;
        }
        r->in_emit = 0;   /* alive and waiting: a close now finishes it */
        r->deadline += r->stall_ns;
        heap_push(m, r);
        return 1;
    }
    if (r->malformed_at >= 0 && e >= r->malformed_at) {
        r->malformed_at = -1;
        m->st.f_malformed++;
        if (r->tr)
            r->tr->faults |= MK_F_MALFORMED;
        if (!m->faults.malformed_http) {
            api_of(r)->malformed(r, b);
            return 0;
        }
        /* a broken chunk header, then the connection goes */
        flush(r, b);
        if (!r->gone)
            mb_server_write_raw(c, "zz\r\nnot a chunk\r\n", 17);
        int gone = r->gone;
        req_finish(r, "malformed");
        if (!gone)
            mb_server_close(c);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- emitting */

/* The whole body of a non-streamed request, at its deadline. */
static void emit_body(mk_req *r)
{
    mb_mock *m = r->m;
    mb_buf *b = &m->out, text = {0}, rtext = {0};
    mb_server_conn *c = r->conn;
    char tok[MB_MOCK_TOKEN_MAX];
    char extra[256];
    if (r->disconnect_at >= 0) {
        m->st.f_disconnect++;
        if (r->tr)
            r->tr->faults |= MK_F_DISCONNECT;
        req_finish(r, "disconnect");
        if (m->faults.disconnect_reset)
            mb_server_abort(c);
        else
            mb_server_close(c);
        return;
    }
    for (uint64_t i = 0; i < r->total; i++) {
        const char *s;
        size_t n = mk_next_token(r, i < r->reasoning, tok, &s);
        mb_buf_add(i < r->reasoning ? &rtext : &text, s, n);
    }
    b->len = 0;
    r->emitted = r->total;
    mk_metrics_tokens(r, r->total);
    api_of(r)->body(r, b, text.p ? text.p : "", text.len, rtext.p, rtext.len);
    mb_buf_free(&text);
    mb_buf_free(&rtext);
    size_t len = b->len;
    if (r->malformed_at >= 0) {   /* a body cut in the middle of the JSON */
        m->st.f_malformed++;
        if (r->tr)
            r->tr->faults |= MK_F_MALFORMED;
        len = len / 2;
    }
    snprintf(extra, sizeof extra, "%s: %s\r\n", r->api == MK_MESSAGES ? "request-id" : "x-request-id",
             r->id);
    uint64_t now = mb_clock_now_ns();
    if (r->tr)
        r->tr->headers_ns = now;
    record_chunk(r, now, r->total);
    r->in_emit = 1;
    if (b->oom || mb_server_respond(c, 200, "application/json", extra, b->p, len) < 0) {
        r->gone = 1;
        if (!r->conn_closed)
            mb_server_abort(c);
    }
    b->len = 0;
    req_finish(r, r->malformed_at >= 0 ? "malformed" : r->gone ? "client_closed" : "ok");
}

/* Emits the chunk due now (and the stream's end when it is the last). */
static void emit(mk_req *r)
{
    mb_mock *m = r->m;
    mb_buf *b = &m->out;
    const mk_api *api = api_of(r);
    mb_server_conn *c = r->conn;
    char tok[MB_MOCK_TOKEN_MAX];
    if (!r->stream) {
        emit_body(r);
        return;
    }
    if (mb_server_congested(c)) {   /* the client reads slower than we send */
        r->blocked = 1;
        m->st.blocked++;
        return;
    }
    b->len = 0;
    r->in_emit = 1;
    while (fault_due(r))
        if (stream_faults(r, b))
            return;   /* malformed-json returns 0 and clears itself */
    if (r->emitted == r->total) {   /* end deferred past a fault boundary */
        api->finish(r, b);
        flush(r, b);
        int gone = r->gone;
        req_finish(r, gone ? "client_closed" : "ok");
        if (!gone)
            mb_server_end(c);
        return;
    }
    uint64_t k = chunk_size(r);
    int reasoning = r->emitted < r->reasoning;
    mb_buf *text = &m->tok;
    for (uint64_t done = 0; done < k;) {   /* one event per tokens_per_chunk */
        uint64_t e = k - done < (uint64_t)r->tpc ? k - done : (uint64_t)r->tpc;
        text->len = 0;
        for (uint64_t i = 0; i < e; i++) {
            const char *s;
            size_t n = mk_next_token(r, reasoning, tok, &s);
            mb_buf_add(text, s, n);
        }
        api->delta(r, b, text->p ? text->p : "", text->len, reasoning);
        done += e;
    }
    r->emitted += k;
    mk_metrics_tokens(r, k);
    if (!reasoning)
        r->started_content = 1;
    int final = r->emitted == r->total && !fault_due(r);
    if (final)
        api->finish(r, b);
    uint64_t now = mb_clock_now_ns();
    flush(r, b);
    record_chunk(r, now, k);
    if (r->gone) {
        req_finish(r, "client_closed");
        return;
    }
    if (final) {
        req_finish(r, "ok");
        mb_server_end(c);
        return;
    }
    r->in_emit = 0;
    if (r->emitted < r->total)
        r->deadline += intervals_ns(r, chunk_size(r));
    /* else: a fault is due after the last token; handle it right away */
    heap_push(m, r);
}

/* Emits what is due, then re-arms for the earliest deadline left. At most
 * MAX_BATCH emissions per wake-up: an overloaded mock must still read
 * sockets and answer /mock/stats between batches (the timer, re-armed in
 * the past, fires again right after the loop has polled). */
#define MAX_BATCH 512
static void run_due(mb_mock *m)
{
    for (int i = 0; i < MAX_BATCH && m->heap_len > 0; i++) {
        mk_req *r = m->heap[0].r;
        if (m->heap[0].deadline > mb_clock_now_ns())
            break;
        heap_remove(m, r);
        emit(r);
    }
    arm(m);
}

static void on_timer(void *ud)
{
    mb_mock *m = ud;
    m->armed = 0;
    run_due(m);
}

/* Sets the wake-up for the earliest deadline (absolute, ns on Linux). */
static void arm(mb_mock *m)
{
    if (m->life.stopping)
        return;
    if (m->heap_len == 0) {
        if (m->armed) {
            mb_ptimer_disarm(m->timer);
            m->armed = 0;
        }
        return;
    }
    /* Wake-ups on a WAKE_GRID_NS grid: every chunk due in the same slot goes
     * out in one wake-up. Under load that halves the cost of sleeping and
     * waking for at most WAKE_GRID_NS of added lateness (recorded as such). */
    uint64_t d = (m->heap[0].deadline + WAKE_GRID_NS - 1) / WAKE_GRID_NS * WAKE_GRID_NS;
    if (d == 0)
        d = 1;
    if (d == m->armed)
        return;
    m->armed = d;
    mb_ptimer_arm(m->timer, d);
}

/* The engine's one timer. 0 or MB_ENOMEM. */
int mk_engine_init(mb_mock *m)
{
    int rc = mb_ptimer_new(&m->timer, m->loop, on_timer, m);
    if (rc == 0)
        m->life.open++;
    return rc;
}

/* Cuts every request in flight and closes the engine's timer; `closed(m)`
 * runs once it is gone. */
void mk_engine_close(mb_mock *m, void (*closed)(void *))
{
    mk_queue_cut_all(m, req_finish);
    while (m->heap_len > 0) {
        mk_req *r = m->heap[0].r;
        req_finish(r, "server_stopped");
    }
    if (m->timer)
        mb_ptimer_close(m->timer, closed);
    m->timer = NULL;
}

/* ---------------------------------------------------------------- start */

/* A running slot for r (at once, or when one freed: mock_queue.c): its
 * TTFT counts from now, and its first emission is scheduled. */
void mk_req_admit(mk_req *r)
{
    mb_mock *m = r->m;
    /* cached prompt tokens skip prefill (mock_cache.c) */
    double ttft = mb_mock_ttft_s(&r->model->t, r->prompt_tokens - r->cached_tokens);
    r->admit_ns = r->queued ? mb_clock_now_ns() : r->arrival_ns;
    r->queued = 0;
    r->model->active++;
    mk_metrics_admit(r);
    ttft += r->slow_ttft_s;   /* the slow-TTFT fault (0 when not drawn) */
    r->ttft_target_s = ttft;
    if (r->tr)
        r->tr->ttft_target_s = ttft;
    if (!r->stream) {
        uint64_t d = r->admit_ns + (uint64_t)(ttft * 1e9 + 0.5) + intervals_ns(r, r->total - 1);
        if (r->stall_at >= 0) {
            d += r->stall_ns;
            m->st.f_stall++;
            if (r->tr)
                r->tr->faults |= MK_F_STALL;
        }
        r->deadline = d;
    } else {
        r->deadline = r->admit_ns + (uint64_t)(ttft * 1e9 + 0.5) + intervals_ns(r, chunk_size(r) - 1);
    }
    heap_push(m, r);
    arm(m);
}

void mk_req_start(mk_req *r, const mb_server_req *req)
{
    mb_mock *m = r->m;
    mb_server_conn *c = r->conn;
    char extra[256];
    r->heap_idx = NOT_IN_HEAP;
    r->arrival_ns = req->done_ns;
    m->live++;
    if (r->stream) {
        m->live_streams++;
        m->st.streams_started++;
    }
    mb_server_conn_set_data(c, r);
    if (!r->stream) {
        if (!mk_queue_wait(r))
            mk_req_admit(r);
        return;
    }
    /* headers and the opening events go out now; tokens when due */
    int n = snprintf(extra, sizeof extra, "Cache-Control: no-cache\r\n%s: %s\r\n",
                     r->api == MK_MESSAGES ? "request-id" : "x-request-id", r->id);
    if (r->tr && r->tr->client_id[0] && n > 0 && (size_t)n < sizeof extra)
        snprintf(extra + n, sizeof extra - (size_t)n, "x-mock-request-id: %s\r\n", r->tr->client_id);
    r->in_emit = 1;
    if (mb_server_begin(c, 200, "text/event-stream; charset=utf-8", extra) < 0) {
        r->gone = 1;
        mb_server_abort(c);   /* no response can start: cut the connection */
    }
    if (r->tr)
        r->tr->headers_ns = mb_clock_now_ns();
    m->out.len = 0;
    api_of(r)->begin(r, &m->out);
    flush(r, &m->out);
    r->in_emit = 0;
    if (r->gone) {
        req_finish(r, "client_closed");
        return;
    }
    if (!mk_queue_wait(r))
        mk_req_admit(r);
}

void mk_req_conn_closed(mk_req *r)
{
    r->conn_closed = 1;
    if (r->in_emit) {
        r->gone = 1;   /* the emitter notices after its write returns */
        return;
    }
    mb_mock *m = r->m;
    r->gone = 1;
    req_finish(r, m->life.stopping ? "server_stopped" : "client_closed");
    arm(m);
}

void mk_req_drained(mk_req *r)
{
    if (!r->blocked || r->heap_idx != NOT_IN_HEAP)
        return;
    r->blocked = 0;
    mb_mock *m = r->m;
    emit(r);
    arm(m);
}

/* mock_trace.c: the ground truth of the emulated server -- one record per
 * generation request with the monotonic times of its headers and of every
 * chunk write (scheduled and actual) -- and its JSON.
 *
 * Memory is bounded by two caps (profile "trace": max_requests, max_chunks):
 * past either, the oldest finished records are evicted; a live request that
 * finds the chunk budget spent by other live requests stops recording chunks
 * (counted in its "chunks_dropped"). */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/list.h"
#include "mock_int.h"

/* ------------------------------------------------------------- records */

static void rec_free(mk_trace *t, mk_trace_rec *r)
{
    MB_LIST_REMOVE2(t->head, t->tail, r, prev, next);
    t->nrec--;
    t->nchunks -= r->nchunks;
    free(r->chunks);
    free(r->model);
    free(r);
}

/* Drops the oldest finished record other than `keep`; 0 if none exists. */
static int evict_one(mk_trace *t, const mk_trace_rec *keep)
{
    for (mk_trace_rec *r = t->head; r; r = r->next)
        if (r->done && r != keep) {
            rec_free(t, r);
            t->evicted++;
            return 1;
        }
    return 0;
}

mk_trace_rec *mk_trace_new(mk_trace *t, uint64_t seq)
{
    while (t->nrec >= t->max_rec && evict_one(t, NULL))
        ;
    mk_trace_rec *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->seq = seq;
    r->outcome = "pending";
    MB_LIST_APPEND(t->head, t->tail, r, prev, next);
    t->nrec++;
    return r;
}

void mk_trace_chunk(mk_trace *t, mk_trace_rec *r, uint64_t sched, uint64_t actual, uint32_t tokens)
{
    if (!r)
        return;
    while (t->nchunks >= t->max_chunks && evict_one(t, r))
        ;
    if (t->nchunks >= t->max_chunks) {
        r->dropped++;
        return;
    }
    if (MB_VEC_GROW(r->chunks, r->cap, (size_t)r->nchunks + 1) < 0) {
        r->dropped++;
        return;
    }
    r->chunks[r->nchunks++] = (mk_chunk){sched, actual, tokens};
    t->nchunks++;
}

void mk_trace_done(mk_trace *t, mk_trace_rec *r)
{
    if (!r)
        return;
    r->done = 1;
    MB_VEC_SHRINK(r->chunks, r->cap, r->nchunks);   /* the slack of the doubling */
    while (t->nrec > t->max_rec && evict_one(t, NULL))
        ;
}

/* Frees every finished record; live ones stay (their request still holds
 * them) but lose the chunks recorded so far. */
void mk_trace_clear(mk_trace *t)
{
    mk_trace_rec *r = t->head;
    while (r) {
        mk_trace_rec *next = r->next;
        if (r->done) {
            rec_free(t, r);
        } else {
            t->nchunks -= r->nchunks;
            r->nchunks = 0;
        }
        r = next;
    }
    t->evicted = 0;
}

static void put_wall(mb_buf *b, const mk_trace_rec *r, uint64_t ns)
{
    double w = r->arrival_wall + ((double)ns - (double)r->arrival_ns) * 1e-9;
    mb_buf_printf(b, "%.6f", w);
}

static void put_ns(mb_buf *b, const char *key, uint64_t ns)
{
    mb_buf_puts(b, key);
    if (ns)
        mb_buf_put_u64(b, ns);
    else
        mb_buf_puts(b, "null");
}

static const char *const fault_names[] = {
    "error", "stream_error", "stall", "disconnect", "malformed", "slow_ttft"};

/* One record as JSON (docs/MOCK.md, "Trace"). */
static void rec_json(mb_buf *b, const mk_trace_rec *r, int wall)
{
    mb_buf_puts(b, "{\"seq\":");
    mb_buf_put_u64(b, r->seq);
    mb_buf_puts(b, ",\"client_id\":");
    if (r->client_id[0])
        mb_json_put_str(b, r->client_id, strlen(r->client_id));
    else
        mb_buf_puts(b, "null");
    mb_buf_puts(b, ",\"id\":");
    mb_json_put_str(b, r->id, strlen(r->id));
    mb_buf_printf(b, ",\"endpoint\":\"%s\",\"model\":", r->endpoint ? r->endpoint : "");
    mb_json_put_str(b, r->model ? r->model : "", r->model ? strlen(r->model) : 0);
    mb_buf_printf(b, ",\"stream\":%s,\"status\":%d,\"done\":%s,\"outcome\":\"%s\",\"finish_reason\":",
              r->stream ? "true" : "false", r->status, r->done ? "true" : "false", r->outcome);
    if (r->finish)
        mb_buf_printf(b, "\"%s\"", r->finish);
    else
        mb_buf_puts(b, "null");
    mb_buf_puts(b, ",\"faults\":[");
    int first = 1;
    for (unsigned i = 0; i < sizeof fault_names / sizeof fault_names[0]; i++)
        if (r->faults & (1u << i)) {
            mb_buf_printf(b, "%s\"%s\"", first ? "" : ",", fault_names[i]);
            first = 0;
        }
    mb_buf_puts(b, "],\"prompt_tokens\":");
    mb_buf_put_u64(b, r->prompt_tokens);
    mb_buf_puts(b, ",\"output_tokens\":");
    mb_buf_put_u64(b, r->output_tokens);
    mb_buf_puts(b, ",\"reasoning_tokens\":");
    mb_buf_put_u64(b, r->reasoning_tokens);
    mb_buf_printf(b, ",\"ttft_target_s\":%.9g", r->ttft_target_s);
    put_ns(b, ",\"start_ns\":", r->start_ns);
    put_ns(b, ",\"arrival_ns\":", r->arrival_ns);
    mb_buf_printf(b, ",\"arrival_wall\":%.6f", r->arrival_wall);
    put_ns(b, ",\"headers_ns\":", r->headers_ns);
    mb_buf_puts(b, ",\"headers_wall\":");
    if (r->headers_ns)
        put_wall(b, r, r->headers_ns);
    else
        mb_buf_puts(b, "null");
    put_ns(b, ",\"first_token_ns\":", r->first_ns);
    put_ns(b, ",\"end_ns\":", r->end_ns);
    mb_buf_puts(b, ",\"chunks_dropped\":");
    mb_buf_put_u64(b, r->dropped);
    mb_buf_puts(b, ",\"chunks\":[");
    for (uint32_t i = 0; i < r->nchunks; i++) {
        const mk_chunk *c = &r->chunks[i];
        mb_buf_puts(b, i ? ",[" : "[");
        mb_buf_put_u64(b, c->sched_ns);
        mb_buf_add(b, ",", 1);
        mb_buf_put_u64(b, c->actual_ns);
        mb_buf_add(b, ",", 1);
        mb_buf_put_u64(b, c->tokens);
        if (wall) {
            mb_buf_add(b, ",", 1);
            put_wall(b, r, c->actual_ns);
        }
        mb_buf_add(b, "]", 1);
    }
    mb_buf_puts(b, "]}");
}

void mk_trace_json(const mk_trace *t, mb_buf *b, uint64_t since, size_t limit,
                   const char *client_id, int wall)
{
    size_t n = 0;
    uint64_t last = since;
    mb_buf_puts(b, "{\"requests\":[");
    for (const mk_trace_rec *r = t->head; r && n < limit; r = r->next) {
        if (r->seq <= since)
            continue;
        if (client_id && strcmp(client_id, r->client_id) != 0)
            continue;
        if (n++)
            mb_buf_add(b, ",", 1);
        rec_json(b, r, wall);
        last = r->seq;
    }
    mb_buf_puts(b, "],\"count\":");
    mb_buf_put_u64(b, n);
    mb_buf_puts(b, ",\"next\":");
    mb_buf_put_u64(b, last);
    mb_buf_puts(b, ",\"evicted\":");
    mb_buf_put_u64(b, t->evicted);
    mb_buf_puts(b, ",\"max_requests\":");
    mb_buf_put_u64(b, t->max_rec);
    mb_buf_puts(b, ",\"max_chunks\":");
    mb_buf_put_u64(b, t->max_chunks);
    mb_buf_puts(b, "}");
}

/* mock_stats.c: the emulated server's counters and the /mock/stats
 * document (requests by endpoint and status, faults, emission error,
 * connections, trace size). */
#include <stdio.h>
#include <string.h>
#include "mlxbench/clock.h"
#include "mlxbench/platform.h"
#include "mock_int.h"

/* One more of `status` in a small table of (status, count) pairs; a status
 * past the table's `cap` entries is not counted. */
static void count_in(int *status_of, uint64_t *count, int *n, int cap, int status)
{
    for (int i = 0; i < *n; i++)
        if (status_of[i] == status) {
            count[i]++;
            return;
        }
    if (*n < cap) {
        status_of[*n] = status;
        count[(*n)++] = 1;
    }
}

/* Counts a response by status (the last one is kept for the log line). */
void mk_count_status(mb_mock *m, int status)
{
    mk_stats *s = &m->st;
    m->last_status = status;
    count_in(s->status, s->status_count, &s->nstatus,
             (int)(sizeof s->status / sizeof s->status[0]), status);
}

/* Counts an injected HTTP error by status. */
void mk_count_fault_error(mb_mock *m, int status)
{
    mk_stats *s = &m->st;
    count_in(s->f_error_status, s->f_error, &s->nf_error,
             (int)(sizeof s->f_error / sizeof s->f_error[0]), status);
}

/* A histogram of seconds as the summary /mock/stats shows, in ms. */
static void hist_json(mb_buf *b, const mb_hist *h)
{
    mb_buf_printf(b, "{\"count\":%llu,\"mean\":%.4f,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,"
              "\"p999\":%.4f,\"max\":%.4f}",
              (unsigned long long)mb_hist_count(h), mb_hist_mean(h) * 1e3,
              mb_hist_percentile(h, 50) * 1e3, mb_hist_percentile(h, 90) * 1e3,
              mb_hist_percentile(h, 99) * 1e3, mb_hist_percentile(h, 99.9) * 1e3,
              mb_hist_max(h) * 1e3);
}

/* "process": the serving process as the platform layer sees it (the
 * whole process: a script's client shares it with an in-process mock);
 * null where the system cannot tell. */
static void process_json(mb_buf *b)
{
    int64_t v[3] = {mb_plat_rss_bytes(), mb_plat_peak_rss_bytes(), mb_plat_fd_count()};
    static const char *const k[] = {"rss_bytes", "peak_rss_bytes", "open_fds"};
    mb_buf_puts(b, "\"process\":{");
    for (int i = 0; i < 3; i++) {
        if (v[i] >= 0)
            mb_buf_printf(b, "%s\"%s\":%lld", i ? "," : "", k[i], (long long)v[i]);
        else
            mb_buf_printf(b, "%s\"%s\":null", i ? "," : "", k[i]);
    }
    mb_buf_puts(b, "}");
}

/* GET /mock/stats (docs/MOCK.md, "Stats"). */
char *mb_mock_stats_json(mb_mock *m)
{
    mb_buf b = {0};
    const mk_stats *s = &m->st;
    static const char *const eps[] = {"chat", "completions", "messages", "models", "mock", "other"};
    mb_buf_printf(&b, "{\"uptime_s\":%.3f,\"requests\":{\"total\":%llu,\"by_endpoint\":{",
              (double)(mb_clock_now_ns() - m->start_ns) * 1e-9, (unsigned long long)s->requests);
    for (int i = 0; i < 6; i++)
        mb_buf_printf(&b, "%s\"%s\":%llu", i ? "," : "", eps[i], (unsigned long long)s->by_endpoint[i]);
    mb_buf_puts(&b, "},\"by_status\":{");
    for (int i = 0; i < s->nstatus; i++)
        mb_buf_printf(&b, "%s\"%d\":%llu", i ? "," : "", s->status[i], (unsigned long long)s->status_count[i]);
    mb_buf_printf(&b, "}},\"active_requests\":%zu,\"active_streams\":%zu,\"streams_started\":%llu,"
              "\"connections\":{\"open\":%zu,\"accepted\":%llu,\"refusing\":%s},"
              "\"tokens_emitted\":%llu,\"chunks_emitted\":%llu,\"faults\":{",
              m->live, m->live_streams, (unsigned long long)s->streams_started,
              m->srv ? mb_server_nconns(m->srv) : 0,
              (unsigned long long)(m->srv ? mb_server_accepted(m->srv) : 0),
              m->srv && mb_server_paused(m->srv) ? "true" : "false",
              (unsigned long long)s->tokens, (unsigned long long)s->chunks);
    uint64_t total_err = 0;
    for (int i = 0; i < s->nf_error; i++) {
        mb_buf_printf(&b, "\"error_%d\":%llu,", s->f_error_status[i], (unsigned long long)s->f_error[i]);
        total_err += s->f_error[i];
    }
    mb_buf_printf(&b, "\"error\":%llu,\"stream_error\":%llu,\"stall\":%llu,\"disconnect\":%llu,"
              "\"malformed\":%llu,\"slow_ttft\":%llu,\"refuse_connections\":%llu},",
              (unsigned long long)total_err, (unsigned long long)s->f_stream_error,
              (unsigned long long)s->f_stall, (unsigned long long)s->f_disconnect,
              (unsigned long long)s->f_malformed, (unsigned long long)s->f_slow_ttft,
              (unsigned long long)s->f_refuse);
    mb_buf_printf(&b, "\"emission_timer\":\"%s\",\"emission_error_ms\":",
                  m->timer ? mb_ptimer_kind(m->timer) : "none");
    hist_json(&b, m->emit_hist);
    mb_buf_printf(&b, ",\"late_over_1ms\":%llu,\"late_over_2ms\":%llu,\"blocked_by_backpressure\":%llu,"
              "\"trace\":{\"requests\":%zu,\"chunks\":%zu,\"evicted\":%llu},",
              (unsigned long long)s->late_1ms, (unsigned long long)s->late_2ms,
              (unsigned long long)s->blocked, m->trace.nrec, m->trace.nchunks,
              (unsigned long long)m->trace.evicted);
    process_json(&b);
    mb_buf_puts(&b, "}");
    return mb_buf_take(&b);
}

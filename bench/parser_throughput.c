/* parser_throughput.c: events per second per core of the SSE parser plus
 * the LLM extractor (src/core) on the wire fixtures -- the work mlxbench does
 * in the libcurl write callback for every streamed event.
 *
 *   parser_throughput SECONDS FIXTURE_DIR
 *
 * For each fixture with an API (OpenAI chat, Anthropic messages), one
 * "request" is: init an SSE parser and an extractor, feed the fixture, end
 * the stream, read the token count, free both -- repeated for SECONDS
 * seconds per mode on one thread. Two modes: the whole body in one feed, and
 * one feed per event (as a stream arrives from the network: each read
 * usually holds one event). Prints one line per fixture and mode and the
 * event-weighted total. Compiled by bench/parser_throughput.sh against
 * src/core (pure C, no I/O). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mlxbench/llm.h"
#include "mlxbench/sse.h"

typedef struct {
    const char *file;
    mb_api api;
} fixture_t;

static const fixture_t FIXTURES[] = {
    {"openai_chat_stream_usage.sse", MB_API_OPENAI},
    {"openai_chat_stream_tool_calls.sse", MB_API_OPENAI},
    {"nim_vllm_chat_stream_role_null.sse", MB_API_OPENAI},
    {"anthropic_messages_stream.sse", MB_API_ANTHROPIC},
    {"anthropic_messages_stream_tool_use.sse", MB_API_ANTHROPIC},
    {"anthropic_docs_stream_thinking.sse", MB_API_ANTHROPIC},
};

typedef struct {
    mb_llm x;
    uint64_t t;
    unsigned long events;
} sink_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_event(void *ud, const mb_sse_event *ev)
{
    sink_t *s = ud;
    s->events++;
    mb_llm_event(&s->x, ev, s->t);
    return 0;
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
}

/* Split points: the end of each event (after a blank line). */
static size_t split_events(const char *buf, size_t len, size_t *ends, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < len && n < max; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n')
            ends[n++] = i + 2;
    }
    if (n == 0 || ends[n - 1] != len) {
        if (n < max)
            ends[n++] = len;
    }
    return n;
}

/* One request over the fixture; returns the output token count. */
static long long one_request(const char *buf, mb_api api, const size_t *ends,
                             size_t nends, sink_t *s)
{
    mb_sse p;
    mb_tok_source src;
    mb_sse_init(&p, 0);
    mb_llm_init(&s->x, api, 0);
    size_t off = 0;
    for (size_t k = 0; k < nends; k++) {
        s->t += 1000;
        mb_sse_feed(&p, buf + off, ends[k] - off, on_event, s);
        off = ends[k];
    }
    int truncated = mb_sse_finish(&p, NULL, NULL);
    mb_llm_stream_end(&s->x, truncated, NULL);
    long long toks = (long long)mb_llm_output_tokens(&s->x, &src);
    mb_llm_free(&s->x);
    mb_sse_free(&p);
    return toks;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SECONDS FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    char *endp;
    double secs = strtod(argv[1], &endp);
    if (*endp || !(secs > 0)) {
        fprintf(stderr, "SECONDS must be a number > 0\n");
        return 2;
    }
    static const char *const modes[] = {"whole", "per-event"};
    double tot_events[2] = {0, 0}, tot_time[2] = {0, 0};
    double oa_events[2] = {0, 0}, oa_time[2] = {0, 0};   /* OpenAI fixtures only */
    printf("%-42s %-10s %8s %10s %14s %12s\n", "fixture", "feed", "events", "requests",
           "events/s", "ns/event");
    for (size_t f = 0; f < sizeof FIXTURES / sizeof FIXTURES[0]; f++) {
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", argv[2], FIXTURES[f].file);
        if (w < 0 || (size_t)w >= sizeof path)
            return 2;
        char *buf;
        size_t len;
        if (read_file(path, &buf, &len) < 0) {
            fprintf(stderr, "cannot read %s\n", path);
            return 1;
        }
        size_t ends[4096];
        size_t nev = split_events(buf, len, ends, sizeof ends / sizeof ends[0]);
        size_t whole[1] = {len};
        for (int m = 0; m < 2; m++) {
            sink_t s;
            memset(&s, 0, sizeof s);
            long long toks = 0;
            unsigned long reqs = 0;
            /* warm up, then time batches until SECONDS have passed */
            for (int i = 0; i < 100; i++)
                one_request(buf, FIXTURES[f].api, m ? ends : whole, m ? nev : 1, &s);
            s.events = 0;
            double t0 = now_s(), t1;
            do {
                for (int i = 0; i < 200; i++, reqs++)
                    toks += one_request(buf, FIXTURES[f].api, m ? ends : whole,
                                        m ? nev : 1, &s);
                t1 = now_s();
            } while (t1 - t0 < secs);
            double dt = t1 - t0;
            printf("%-42s %-10s %8lu %10lu %14.0f %12.1f\n", FIXTURES[f].file, modes[m],
                   s.events / reqs, reqs, (double)s.events / dt, dt * 1e9 / (double)s.events);
            if (toks <= 0) {
                fprintf(stderr, "%s: no tokens counted\n", FIXTURES[f].file);
                return 1;
            }
            tot_events[m] += (double)s.events;
            tot_time[m] += dt;
            if (FIXTURES[f].api == MB_API_OPENAI) {
                oa_events[m] += (double)s.events;
                oa_time[m] += dt;
            }
        }
        free(buf);
    }
    for (int m = 0; m < 2; m++)
        printf("%-42s %-10s %8s %10s %14.0f %12.1f\n", "OPENAI (event-weighted)", modes[m], "", "",
               oa_events[m] / oa_time[m], oa_time[m] * 1e9 / oa_events[m]);
    for (int m = 0; m < 2; m++)
        printf("%-42s %-10s %8s %10s %14.0f %12.1f\n", "ALL (event-weighted)", modes[m], "", "",
               tot_events[m] / tot_time[m], tot_time[m] * 1e9 / tot_events[m]);
    return 0;
}

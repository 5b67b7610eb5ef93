/* test_llm.c: the LLM extractors on every OpenAI/Anthropic wire fixture
 * (expectations written by reading the fixtures), fed whole and byte by
 * byte, plus edge cases: errors, usage sanity, partial terminators, bodies. */
#include <math.h>
#include <time.h>
#include "mb_test.h"
#include "mlxbench/llm.h"
#include "mlxbench/sse.h"

typedef struct {
    mb_llm x;
    uint64_t t;       /* fake clock: one ms per feed call */
    int ended;        /* stream_end already called (with a partial event) */
} run_t;

static int on_ev(void *ud, const mb_sse_event *ev)
{
    run_t *r = ud;
    mb_llm_event(&r->x, ev, r->t);
    return 0;
}

static int on_partial(void *ud, const mb_sse_event *ev)
{
    run_t *r = ud;
    mb_llm_stream_end(&r->x, 1, ev);
    r->ended = 1;
    return 1;
}

/* Feeds bytes through the SSE parser in chunks of `step` (0 = whole). */
static void run_stream(run_t *r, int api, const char *buf, size_t len, size_t step)
{
    mb_sse p;
    mb_sse_init(&p, 0);
    mb_llm_init(&r->x, api, 1);
    r->t = 1000000;
    r->ended = 0;
    if (!step)
        step = len;
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        mb_sse_feed(&p, buf + off, n, on_ev, r);
        r->t += 1000000;
    }
    /* a partial event goes to stream_end via on_partial */
    int truncated = mb_sse_finish(&p, on_partial, r);
    if (!r->ended)
        mb_llm_stream_end(&r->x, truncated, NULL);
    mb_sse_free(&p);
}

typedef struct {
    const char *file;
    int api;
    const char *err;          /* expected error kind or NULL */
    long long tokens;         /* output tokens */
    const char *source;
    long long input;          /* -1 when not reported */
    const char *finish;
    long long content_events;
    const char *text_prefix;
    size_t text_len;
} expect_t;

static const expect_t cases[] = {
    {"openai_chat_stream_usage.sse", MB_API_OPENAI, NULL, 30, "usage", 14, "stop", 30,
     "I'm unable to provide real-time weather updates. T", 159},
    {"openai_chat_stream_tool_calls.sse", MB_API_OPENAI, NULL, 16, "usage", 44, "tool_calls", 7,
     "", 0},
    {"nim_vllm_chat_stream_role_null.sse", MB_API_OPENAI, NULL, 45, "events", -1, "stop", 45,
     "A GPU so swift and so clever,\nIn computations it's", 164},
    {"anthropic_docs_stream_basic.sse", MB_API_ANTHROPIC, NULL, 15, "usage", 25, "end_turn", 2,
     "Hello!", 6},
    {"anthropic_docs_stream_thinking.sse", MB_API_ANTHROPIC, NULL, 7, "events", -1, "end_turn", 7,
     "27 * 453 = 12,231", 17},
    {"anthropic_messages_stream.sse", MB_API_ANTHROPIC, NULL, 6, "usage", 11, "end_turn", 3,
     "Hello there!", 12},
    {"anthropic_messages_stream_thinking_padded.sse", MB_API_ANTHROPIC, NULL, 106, "usage", 28,
     "refusal", 4, "Hi", 2},
    {"anthropic_messages_stream_tool_use.sse", MB_API_ANTHROPIC, NULL, 65, "usage", 377,
     "tool_use", 6, "I'll check the current weather in Paris for you.", 48},
    {"anthropic_stream_error_overloaded.sse", MB_API_ANTHROPIC, "stream", 0, "none", -1, "", 0,
     "", 0},
};

static void check_case(const expect_t *e, size_t step)
{
    size_t len;
    char *buf = mb_test_slurp(mb_test_fixture(e->file), &len);
    run_t r;
    mb_tok_source src;
    run_stream(&r, e->api, buf, len, step);
    const char *kind = r.x.err_kind ? mb_err_kind_name(r.x.err_kind) : "(none)";
    CHECK_MSG((e->err == NULL) == (r.x.err_kind == MB_ERR_NONE) &&
                  (!e->err || strcmp(e->err, mb_err_kind_name(r.x.err_kind)) == 0),
              "%s step %zu: error %s (%s)", e->file, step, kind, r.x.err_msg);
    long long tokens = mb_llm_output_tokens(&r.x, &src);
    if (!e->err) {
        CHECK_MSG(tokens == e->tokens, "%s: tokens %lld != %lld", e->file, tokens, e->tokens);
        CHECK_MSG(strcmp(mb_llm_source_name(src), e->source) == 0, "%s: source %s",
                  e->file, mb_llm_source_name(src));
    }
    CHECK_MSG(r.x.usage_input == e->input, "%s: input %lld", e->file, (long long)r.x.usage_input);
    CHECK_MSG(strcmp(r.x.finish_reason, e->finish) == 0, "%s: finish '%s'", e->file,
              r.x.finish_reason);
    CHECK_MSG((long long)r.x.nct == e->content_events, "%s: content events %zu", e->file, r.x.nct);
    CHECK_MSG(r.x.text_len == e->text_len, "%s: text len %zu", e->file, r.x.text_len);
    CHECK_MSG(r.x.text_len == 0 || strncmp(r.x.text, e->text_prefix, strlen(e->text_prefix)) == 0,
              "%s: text '%.60s'", e->file, r.x.text ? r.x.text : "");
    /* content times ascend and the first is the TTFT stamp */
    for (size_t i = 1; i < r.x.nct; i++)
        CHECK(r.x.ct[i] >= r.x.ct[i - 1]);
    mb_llm_free(&r.x);
    free(buf);
}

static void test_fixtures(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(&cases[i], 0);
        check_case(&cases[i], 1);
        check_case(&cases[i], 7);
    }
}

/* Feeds literal SSE text, whole. */
static run_t *lit(run_t *r, int api, const char *text)
{
    run_stream(r, api, text, strlen(text), 0);
    return r;
}

static void test_edges(void)
{
    run_t r;
    int64_t n;
    mb_tok_source src;

    /* role-only, empty and null deltas carry nothing; reasoning counts */
    lit(&r, MB_API_OPENAI,
        "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":null}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hmm\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"reasoning\":\"so\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"\"}]}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\n\n"
        "data: [DONE]\n\n");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK_EQ_INT(r.x.nct, 3);
    n = mb_llm_output_tokens(&r.x, &src);
    CHECK_EQ_INT(n, 3);
    CHECK(src == MB_TOK_EVENTS);
    CHECK_STR(r.x.finish_reason, "length");
    CHECK_STR(r.x.text, "Hi");
    mb_llm_free(&r.x);

    /* missing [DONE] fails as `stream` */
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");
    CHECK(strstr(r.x.err_msg, "terminator") != NULL);
    mb_llm_free(&r.x);

    /* [DONE] without its blank line (llama.cpp) is accepted */
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK(r.x.done);
    mb_llm_free(&r.x);

    /* [DONE] before any token: zero output tokens fails */
    lit(&r, MB_API_OPENAI, "data: [DONE]\n\ndata: [DONE]\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");
    CHECK(strstr(r.x.err_msg, "no output tokens") != NULL);
    mb_llm_free(&r.x);

    /* duplicate [DONE] after tokens is harmless */
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                           "data: [DONE]\n\ndata: [DONE]\n\n");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK_EQ_INT(r.x.after_done, 1);
    mb_llm_free(&r.x);

    /* error JSON in a chunk (mlx-openai-server style, then finish + DONE) */
    lit(&r, MB_API_OPENAI,
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
        "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":\"500\"}}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");
    CHECK(strstr(r.x.err_msg, "server_error: boom") != NULL);
    mb_llm_free(&r.x);

    /* invalid JSON and invalid UTF-8 in data are protocol errors */
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}]}\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "protocol");
    mb_llm_free(&r.x);
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "protocol");
    mb_llm_free(&r.x);

    /* JSON nested far too deep is an error, not a crash */
    {
        size_t depth = 100000, len = 6 + depth * 2 + 2;
        char *s = malloc(len + 1);
        memcpy(s, "data: ", 6);
        memset(s + 6, '[', depth);
        memset(s + 6 + depth, ']', depth);
        memcpy(s + 6 + 2 * depth, "\n\n", 2);
        s[len] = 0;
        run_stream(&r, MB_API_OPENAI, s, len, 0);
        CHECK_STR(mb_err_kind_name(r.x.err_kind), "protocol");
        mb_llm_free(&r.x);
        free(s);
    }

    /* usage: negative, huge and non-numeric counts are ignored */
    lit(&r, MB_API_OPENAI,
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"completion_tokens\":-5,\"prompt_tokens\":\"x\"}}\n\n"
        "data: [DONE]\n\n");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK(r.x.usage_invalid);
    n = mb_llm_output_tokens(&r.x, &src);
    CHECK_EQ_INT(n, 2);
    CHECK(src == MB_TOK_EVENTS);
    mb_llm_free(&r.x);
    lit(&r, MB_API_OPENAI,
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":{\"completion_tokens\":1e300}}\n\n"
        "data: [DONE]\n\n");
    CHECK(r.x.usage_invalid);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, NULL), 1);
    mb_llm_free(&r.x);

    /* several tokens per chunk: usage gives the count, events the ITL */
    lit(&r, MB_API_OPENAI,
        "data: {\"choices\":[{\"delta\":{\"content\":\"one two \"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"three four\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"completion_tokens\":4,\"prompt_tokens\":3}}\n\n"
        "data: [DONE]\n\n");
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, &src), 4);
    CHECK(src == MB_TOK_USAGE);
    CHECK_EQ_INT(r.x.nct, 2);
    mb_llm_free(&r.x);

    /* legacy completions */
    lit(&r, MB_API_COMPLETIONS,
        "data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\"x\",\"index\":0,\"finish_reason\":null}]}\n\n"
        "data: {\"object\":\"text_completion\",\"choices\":[{\"text\":\"y\",\"index\":0,\"finish_reason\":\"length\"}]}\n\n"
        "data: [DONE]\n\n");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK_STR(r.x.text, "xy");
    CHECK_STR(r.x.finish_reason, "length");
    mb_llm_free(&r.x);

    /* Anthropic: no message_stop -> stream error; pings ignored */
    lit(&r, MB_API_ANTHROPIC,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
        "event: ping\ndata: {\"type\": \"ping\"}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n");
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");
    CHECK_EQ_INT(r.x.usage_input, 3);
    mb_llm_free(&r.x);
}

/* The reasoning and answer phases, their gaps, and the usage details:
 * reasoning tokens, cached prompt tokens (OpenAI-style, llama.cpp timings,
 * Anthropic's cache reads and writes, which add up to the prompt). */
static void test_phases(void)
{
    run_t r;
    mb_llm_phases p;
    double g[8];
    size_t n;
    /* stamps: one ms per feed; fed byte by byte would blur them, so whole
     * events at known stamps through mb_llm_event */
    static const char *const evs[] = {
        "{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
        "{\"choices\":[{\"delta\":{\"reasoning_content\":\"Let\"}}]}",
        "{\"choices\":[{\"delta\":{\"reasoning\":\" me\"}}]}",
        "{\"choices\":[{\"delta\":{\"reasoning\":\" think\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\"Four\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":9,"
        "\"prompt_tokens_details\":{\"cached_tokens\":32},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":6}}}",
        "[DONE]"};
    static const uint64_t at[] = {10, 20, 25, 40, 100, 103, 104, 105};
    mb_llm_init(&r.x, MB_API_OPENAI, 3);
    for (size_t i = 0; i < 8; i++) {
        mb_sse_event ev = {"message", 7, evs[i], strlen(evs[i]), "", 0, -1, 0};
        mb_llm_event(&r.x, &ev, at[i] * 1000000);
    }
    mb_llm_stream_end(&r.x, 0, NULL);
    CHECK(r.x.err_kind == MB_ERR_NONE);
    mb_llm_phases_of(&r.x, &p);
    CHECK_EQ_INT(p.reasoning_events, 3);
    CHECK_EQ_INT(p.answer_events, 2);
    CHECK_EQ_INT(p.first_reasoning, 20000000);
    CHECK_EQ_INT(p.last_reasoning, 40000000);
    CHECK_EQ_INT(p.first_answer, 100000000);
    CHECK_EQ_INT(p.last_answer, 103000000);
    n = mb_llm_phase_gaps(&r.x, MB_LLM_REASONING, g);
    CHECK_EQ_INT(n, 2);
    CHECK(fabs(g[0] - 0.005) < 1e-12 && fabs(g[1] - 0.015) < 1e-12);
    n = mb_llm_phase_gaps(&r.x, MB_LLM_ANSWER, g);
    CHECK_EQ_INT(n, 1);
    CHECK(fabs(g[0] - 0.003) < 1e-12);
    CHECK_EQ_INT(r.x.usage_cached, 32);
    CHECK_EQ_INT(r.x.usage_reasoning, 6);
    CHECK_EQ_INT(r.x.usage_input, 40);
    CHECK_STR(r.x.text, "Four.");
    CHECK_STR(r.x.gen, "Let me thinkFour.");
    CHECK_STR(r.x.rgen, "Let me think");
    mb_llm_free(&r.x);

    /* a stream without reasoning: every event is the answer */
    lit(&r, MB_API_OPENAI, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                           "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],"
                           "\"timings\":{\"cache_n\":12,\"prompt_n\":3}}\n\ndata: [DONE]\n\n");
    mb_llm_phases_of(&r.x, &p);
    CHECK_EQ_INT(p.reasoning_events, 0);
    CHECK_EQ_INT(p.answer_events, 2);
    CHECK_EQ_INT(p.first_reasoning, 0);
    CHECK_EQ_INT(r.x.usage_cached, 12);   /* llama.cpp */
    CHECK_EQ_INT(r.x.usage_reasoning, -1);
    mb_llm_free(&r.x);

    /* Anthropic thinking (fixture): 6 thinking deltas, then the text */
    {
        size_t len;
        char *buf = mb_test_slurp(mb_test_fixture("anthropic_docs_stream_thinking.sse"), &len);
        run_stream(&r, MB_API_ANTHROPIC, buf, len, 0);
        mb_llm_phases_of(&r.x, &p);
        CHECK_EQ_INT(p.reasoning_events, 6);
        CHECK_EQ_INT(p.answer_events, 1);
        CHECK(p.first_answer >= p.last_reasoning);
        CHECK_EQ_INT(r.x.usage_cached, -1);
        mb_llm_free(&r.x);
        free(buf);
    }

    /* Anthropic prompt caching: the prompt is input + cache reads + writes */
    lit(&r, MB_API_ANTHROPIC,
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":"
        "{\"input_tokens\":5,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":2048,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"a\"}}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK_EQ_INT(r.x.usage_cached, 2048);
    CHECK_EQ_INT(r.x.usage_cache_write, 100);
    CHECK_EQ_INT(r.x.usage_input, 2153);
    mb_llm_free(&r.x);
}

static void test_bodies(void)
{
    size_t len;
    char *buf = mb_test_slurp(mb_test_fixture("openai_chat_completion.json"), &len);
    mb_llm x;
    mb_tok_source src;
    mb_llm_init(&x, MB_API_OPENAI, 1);
    mb_llm_body(&x, buf, len, 5);
    CHECK(x.err_kind == MB_ERR_NONE);
    CHECK_EQ_INT(mb_llm_output_tokens(&x, &src), 37);
    CHECK(src == MB_TOK_USAGE);
    CHECK_EQ_INT(x.usage_input, 14);
    CHECK_STR(x.finish_reason, "stop");
    CHECK(strncmp(x.text, "I'm unable to provide real-time weather updates.", 48) == 0);
    CHECK(x.text[x.text_len - 1] == '.');
    mb_llm_free(&x);
    free(buf);

    /* no usage: estimate from the text, ~4 bytes a token */
    const char *b = "{\"choices\":[{\"message\":{\"content\":\"abcdefghij\"},\"finish_reason\":\"stop\"}]}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, b, strlen(b), 5);
    CHECK_EQ_INT(mb_llm_output_tokens(&x, &src), 3);
    CHECK(src == MB_TOK_ESTIMATE);
    mb_llm_free(&x);

    const char *a = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
                    "[{\"type\":\"text\",\"text\":\"Hello\"}],\"stop_reason\":\"end_turn\","
                    "\"usage\":{\"input_tokens\":9,\"output_tokens\":2}}";
    mb_llm_init(&x, MB_API_ANTHROPIC, 1);
    mb_llm_body(&x, a, strlen(a), 5);
    CHECK(x.err_kind == MB_ERR_NONE);
    CHECK_EQ_INT(mb_llm_output_tokens(&x, NULL), 2);
    CHECK_EQ_INT(x.usage_input, 9);
    CHECK_STR(x.finish_reason, "end_turn");
    CHECK_STR(x.text, "Hello");
    mb_llm_free(&x);

    /* HTTP error bodies in every shape */
    static const struct { const char *body; const char *msg; } errs[] = {
        {"{\"error\":{\"message\":\"Incorrect API key\",\"type\":\"invalid_request_error\"}}",
         "HTTP 401: invalid_request_error: Incorrect API key"},
        {"{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
         "HTTP 401: overloaded_error: Overloaded"},
        {"{\"object\":\"error\",\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\"}",
         "HTTP 401: The model `x` does not exist."},
        {"{\"error\": \"string error\"}", "HTTP 401: string error"},
        {"{\"detail\":\"Not Found\"}", "HTTP 401: Not Found"},
        {"<html>Bad\ngateway</html>", "HTTP 401: <html>Bad gateway</html>"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        mb_llm_init(&x, MB_API_OPENAI, 0);
        mb_llm_http_error(&x, 401, errs[i].body, strlen(errs[i].body));
        CHECK_STR(mb_err_kind_name(x.err_kind), "http");
        CHECK_STR(x.err_msg, errs[i].msg);
        mb_llm_free(&x);
    }
}

/* Hostile servers (docs/RELIABILITY.md): what comes back is sanitised and
 * bounded in time. */
static void test_hostile(void)
{
    mb_llm x;
    run_t r;
    /* an error message carrying a terminal escape and a cut UTF-8 sequence
     * (found by fuzz/fuzz_llm): control bytes become spaces */
    static const char esc[] = "data: {\"error\":{\"message\":\"boom \\u001b[31mred\","
                              "\"type\":\"server_error\"}}\n\n";
    run_stream(&r, MB_API_OPENAI, esc, sizeof esc - 1, 0);
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");
    CHECK_MSG(strchr(r.x.err_msg, 0x1b) == NULL, "%s", r.x.err_msg);
    CHECK_MSG(strstr(r.x.err_msg, "boom  [31mred") != NULL, "%s", r.x.err_msg);
    mb_llm_free(&r.x);
    mb_llm_init(&x, MB_API_OPENAI, 0);
    static const char bell[] = "{\"detail\":\"a\\u0007b\\nc\"}";
    mb_llm_http_error(&x, 500, bell, sizeof bell - 1);
    CHECK_STR(x.err_msg, "HTTP 500: a b c");
    mb_llm_free(&x);

    /* one chunk with a 200k-element `choices` array: elements are walked by
     * their links, not by index (that was n^2: minutes of a stalled loop) */
    static const char head[] = "data: {\"choices\":[", tail[] = "]}\n\ndata: [DONE]\n\n";
    size_t n = 200000, len = 0;
    char *big = malloc(n * 3 + sizeof head + sizeof tail);
    clock_t c0 = clock();
    memcpy(big, head, sizeof head - 1);
    len += sizeof head - 1;
    for (size_t i = 0; i < n; i++) {
        memcpy(big + len, i ? ",{}" : "{}", i ? 3 : 2);
        len += i ? 3 : 2;
    }
    memcpy(big + len, tail, sizeof tail - 1);
    len += sizeof tail - 1;
    run_stream(&r, MB_API_OPENAI, big, len, 0);
    CHECK_STR(mb_err_kind_name(r.x.err_kind), "stream");   /* no content: zero output tokens */
    CHECK_MSG((double)(clock() - c0) / CLOCKS_PER_SEC < 2.0, "took %.1f s",
              (double)(clock() - c0) / CLOCKS_PER_SEC);
    mb_llm_free(&r.x);
    free(big);
}

/* The server's own timings, in every shape servers send them
 * (src/core/llm_server.c), and the prompt tokens a cache served. */
/* Stamps of one stream never go back: an event stamped before its
 * predecessor (a user-space stamp, then an earlier kernel one) takes the
 * predecessor's time, so every gap is recorded and none is negative. */
static void test_stamps_in_order(void)
{
    run_t r;
    static const uint64_t at[] = {10, 12, 11, 15, 14, 20};
    static const uint64_t want[] = {10, 12, 12, 15, 15, 20};
    const char *ev1 = "{\"choices\":[{\"delta\":{\"content\":\"a\"}}]}";
    mb_llm_init(&r.x, MB_API_OPENAI, 0);
    for (size_t i = 0; i < 6; i++) {
        mb_sse_event ev = {"message", 7, ev1, strlen(ev1), "", 0, -1, 0};
        mb_llm_event(&r.x, &ev, at[i] * 1000000);
    }
    CHECK_EQ_INT(r.x.nct, 6);
    for (size_t i = 0; i < 6; i++)
        CHECK_EQ_INT(r.x.ct[i], want[i] * 1000000);
    CHECK_EQ_INT(r.x.t_last, 20000000);
    mb_llm_free(&r.x);
}

static void test_server_timings(void)
{
    run_t r;
    char src[64];
    /* llama.cpp's /v1/chat/completions: timings on the finish chunk (the
     * numbers of the llamacpp_completion_stream.sse capture) */
    static const char lc[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
        "\"timings\":{\"cache_n\":20,\"prompt_n\":13,\"prompt_ms\":8553.384,"
        "\"prompt_per_token_ms\":657.95,\"predicted_n\":7,\"predicted_ms\":3150.478}}\n\n"
        "data: [DONE]\n\n";
    run_stream(&r, MB_API_OPENAI, lc, sizeof lc - 1, 7);
    CHECK(r.x.err_kind == MB_ERR_NONE);
    CHECK_NEAR(r.x.server.prefill_s, 8.553384, 1e-12);
    CHECK_NEAR(r.x.server.decode_s, 3.150478, 1e-12);
    CHECK(r.x.server.queue_s < 0 && r.x.server.load_s < 0 && r.x.server.total_s < 0);
    CHECK_EQ_INT(r.x.server.prompt_n, 13);
    CHECK_EQ_INT(r.x.server.predicted_n, 7);
    CHECK_EQ_INT(r.x.server.cache_n, 20);
    CHECK_EQ_INT(r.x.usage_cached, 20);
    CHECK_STR(mb_llm_server_source(r.x.server.src, src, sizeof src), "llama.cpp");
    mb_llm_free(&r.x);

    /* Ollama-style durations (ns, the ollama_generate.ndjson capture's
     * final object) and OpenAI's cached_tokens, in a body */
    mb_llm x;
    const char *ol = "{\"choices\":[{\"message\":{\"content\":\"A\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":37,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":16}},"
                     "\"total_duration\":2609028500,\"load_duration\":1667040600,"
                     "\"prompt_eval_count\":31,\"prompt_eval_duration\":116817000,"
                     "\"eval_count\":37,\"eval_duration\":824111500}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, ol, strlen(ol), 5);
    CHECK(x.err_kind == MB_ERR_NONE);
    CHECK_NEAR(x.server.total_s, 2.6090285, 1e-12);
    CHECK_NEAR(x.server.load_s, 1.6670406, 1e-12);
    CHECK_NEAR(x.server.prefill_s, 0.116817, 1e-12);
    CHECK_NEAR(x.server.decode_s, 0.8241115, 1e-12);
    CHECK_EQ_INT(x.usage_cached, 16);
    CHECK_STR(mb_llm_server_source(x.server.src, src, sizeof src), "ollama");
    mb_llm_free(&x);

    /* LM Studio stats (v0 and v1 names), Cerebras time_info, Groq x_groq */
    const char *lm = "{\"choices\":[{\"message\":{\"content\":\"A\"}}],\"stats\":"
                     "{\"tokens_per_second\":51.4,\"time_to_first_token\":0.111,"
                     "\"generation_time\":0.954,\"stop_reason\":\"eosFound\"}}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, lm, strlen(lm), 5);
    CHECK_NEAR(x.server.prefill_s, 0.111, 1e-12);
    CHECK_NEAR(x.server.decode_s, 0.954, 1e-12);
    CHECK_STR(mb_llm_server_source(x.server.src, src, sizeof src), "lmstudio");
    mb_llm_free(&x);
    const char *lm1 = "{\"choices\":[{\"message\":{\"content\":\"A\"}}],\"stats\":"
                      "{\"time_to_first_token_seconds\":0.25,\"model_load_time_seconds\":2.5}}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, lm1, strlen(lm1), 5);
    CHECK_NEAR(x.server.prefill_s, 0.25, 1e-12);
    CHECK_NEAR(x.server.load_s, 2.5, 1e-12);
    mb_llm_free(&x);
    static const char gq[] =
        "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{\"id\":\"r\","
        "\"usage\":{\"queue_time\":0.0125,\"prompt_tokens\":3,\"prompt_time\":0.0021,"
        "\"completion_tokens\":1,\"completion_time\":0.004,\"total_time\":0.0061}}}\n\n"
        "data: [DONE]\n\n";
    run_stream(&r, MB_API_OPENAI, gq, sizeof gq - 1, 0);
    CHECK_NEAR(r.x.server.queue_s, 0.0125, 1e-12);
    CHECK_NEAR(r.x.server.prefill_s, 0.0021, 1e-12);
    CHECK_NEAR(r.x.server.total_s, 0.0061, 1e-12);
    CHECK_STR(mb_llm_server_source(r.x.server.src, src, sizeof src), "time_info");
    mb_llm_free(&r.x);
    const char *cb = "{\"choices\":[{\"message\":{\"content\":\"A\"}}],\"time_info\":"
                     "{\"queue_time\":0.0004,\"prompt_time\":0.003,\"completion_time\":0.05,"
                     "\"total_time\":0.056,\"created\":1700000000}}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, cb, strlen(cb), 5);
    CHECK_NEAR(x.server.queue_s, 0.0004, 1e-12);
    CHECK_NEAR(x.server.decode_s, 0.05, 1e-12);
    mb_llm_free(&x);

    /* nonsense is ignored: negative, strings, huge, not objects */
    const char *bad = "{\"choices\":[{\"message\":{\"content\":\"A\"}}],\"timings\":"
                      "{\"prompt_ms\":-5,\"predicted_ms\":\"12\"},\"stats\":7,"
                      "\"load_duration\":1e300,\"eval_duration\":null}";
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_body(&x, bad, strlen(bad), 5);
    CHECK(x.server.prefill_s < 0 && x.server.decode_s < 0 && x.server.load_s < 0);
    mb_llm_free(&x);

    /* headers: TGI's (ms) and Server-Timing */
    mb_llm_init(&x, MB_API_OPENAI, 0);
    mb_llm_header(&x, "x-queue-time", 12, "15", 2);
    mb_llm_header(&x, "x-total-time", 12, "120", 3);
    mb_llm_header(&x, "x-request-id", 12, "99", 2);
    CHECK_NEAR(x.server.queue_s, 0.015, 1e-12);
    CHECK_NEAR(x.server.total_s, 0.120, 1e-12);
    const char *st = "cache;desc=\"hit, warm\", queue;dur=2.5, prefill;desc=\"p\";dur=40.25,"
                     "decode;dur=bad, load;dur=0";
    mb_llm_header(&x, "server-timing", 13, st, strlen(st));
    CHECK_NEAR(x.server.queue_s, 0.0025, 1e-12);
    CHECK_NEAR(x.server.prefill_s, 0.04025, 1e-12);
    CHECK(x.server.decode_s < 0);
    CHECK_NEAR(x.server.load_s, 0, 1e-12);
    CHECK_STR(mb_llm_server_source(x.server.src, src, sizeof src), "headers");
    mb_llm_free(&x);

    /* Anthropic's cache reads */
    const char *an = "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}],"
                     "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":9,"
                     "\"cache_read_input_tokens\":1024,\"output_tokens\":2}}";
    mb_llm_init(&x, MB_API_ANTHROPIC, 0);
    mb_llm_body(&x, an, strlen(an), 5);
    CHECK_EQ_INT(x.usage_cached, 1024);
    CHECK_EQ_INT(x.server.src, 0);
    mb_llm_free(&x);
    /* source names joined */
    CHECK_STR(mb_llm_server_source(MB_SRV_LLAMACPP | MB_SRV_MOCK | MB_SRV_HEADERS, src, sizeof src),
              "headers+mock");
    CHECK_STR(mb_llm_server_source(MB_SRV_LLAMACPP | MB_SRV_HEADERS, src, sizeof src), "llama.cpp+headers");
}

/* Usage that contradicts what arrived is dropped and flagged (issue 15
 * item 18); plausible usage -- several tokens per chunk, hidden reasoning
 * tokens -- is kept. */
static void test_usage_plausible(void)
{
    run_t r;
    mb_tok_source src;
    static const char three[] =
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\n";
    char buf[1024];
    /* 999,999,999 tokens in ~300 bytes: impossible */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[],\"usage\":{\"completion_tokens\":999999999,"
             "\"prompt_tokens\":7}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    CHECK_EQ_INT(r.x.usage_output, 999999999);   /* read as sent ... */
    mb_llm_check_usage(&r.x, strlen(buf), 500, 64);
    CHECK(r.x.usage_invalid);                    /* ... and judged against the stream */
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, &src), 3);
    CHECK(src == MB_TOK_EVENTS);
    CHECK_EQ_INT(r.x.usage_input, 7);            /* the input count was plausible */
    mb_llm_free(&r.x);
    /* more than max_tokens while the stream stayed within it */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[],\"usage\":{\"completion_tokens\":50}}\n\n"
             "data: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 500, 8);
    CHECK(r.x.usage_invalid);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, NULL), 3);
    mb_llm_free(&r.x);
    /* the same 50 with no max_tokens sent: several tokens per chunk is fine */
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 500, 0);
    CHECK(!r.x.usage_invalid);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, NULL), 50);
    mb_llm_free(&r.x);
    /* a server that stopped at the limit honours it: 20 tokens for
     * max_tokens 16 cannot be true, even at 7 tokens an event */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}],"
             "\"usage\":{\"completion_tokens\":20}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 500, 16);
    CHECK(r.x.usage_invalid);
    mb_llm_free(&r.x);
    /* ... while a natural stop may come from a server that ignores
     * max_tokens and packs chunks: 20 for 16 over 3 events stands */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],"
             "\"usage\":{\"completion_tokens\":20}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 500, 16);
    CHECK(!r.x.usage_invalid);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, NULL), 20);
    mb_llm_free(&r.x);
    /* hidden reasoning tokens explain a count above the bytes received */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[],\"usage\":{\"completion_tokens\":5000,"
             "\"completion_tokens_details\":{\"reasoning_tokens\":4990}}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 500, 10000);
    CHECK(!r.x.usage_invalid);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, NULL), 5000);
    mb_llm_free(&r.x);
    /* a template's tokens on top of a tiny request: plausible */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[],\"usage\":{\"completion_tokens\":3,"
             "\"prompt_tokens\":377}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 100, 64);
    CHECK(!r.x.usage_invalid);
    mb_llm_free(&r.x);
    /* an input count far larger than the request itself */
    snprintf(buf, sizeof buf, "%sdata: {\"choices\":[],\"usage\":{\"completion_tokens\":3,"
             "\"prompt_tokens\":99999999}}\n\ndata: [DONE]\n\n", three);
    lit(&r, MB_API_OPENAI, buf);
    mb_llm_check_usage(&r.x, strlen(buf), 400, 64);
    CHECK(r.x.usage_invalid);
    CHECK_EQ_INT(r.x.usage_input, -1);
    CHECK_EQ_INT(mb_llm_output_tokens(&r.x, &src), 3);
    CHECK(src == MB_TOK_USAGE);
    mb_llm_free(&r.x);
}

int main(void)
{
    test_usage_plausible();
    test_fixtures();
    test_stamps_in_order();
    test_server_timings();
    test_edges();
    test_phases();
    test_bodies();
    test_hostile();
    CHECK_EQ_INT(mb_llm_estimate_tokens("abcd", 4), 1);
    CHECK_EQ_INT(mb_llm_estimate_tokens("abcde", 5), 2);
    CHECK_EQ_INT(mb_llm_estimate_tokens("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8), 1);
    TEST_MAIN_END();
}

/* test_prom.c: the Prometheus text-format parser (src/core/prom.c) on the
 * exposition format's corners -- escapes, comments, # TYPE / # HELP,
 * histograms, timestamps, NaN/Inf, quoted names, OpenMetrics' # EOF,
 * malformed lines -- and on two real scrapes: Debian's
 * prometheus-node-exporter 1.5 and vLLM's metric names. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include "mb_test.h"
#include "mlxbench/errors.h"
#include "mlxbench/prom.h"

/* What one parse delivered, as text: one line per sample,
 * "name|family|type|suffix|labels|value|ts" with the labels unescaped
 * (k=v;...), so a test compares one string. */
typedef struct { char s[16384]; size_t n; int stop_after; int seen; } log_t;

static void put(log_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(log_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(l->s + l->n, sizeof l->s - l->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        l->n += (size_t)k < sizeof l->s - l->n ? (size_t)k : sizeof l->s - l->n - 1;
}

static int on_sample(void *ud, const mb_prom_sample *s)
{
    log_t *l = ud;
    char v[256];
    const char *ln;
    size_t lnl, vl;
    mb_prom_labels it;
    put(l, "%.*s|%.*s|%s|%s|", (int)s->name_len, s->name, (int)s->family_len, s->family,
        mb_prom_type_name(s->type), s->suffix);
    mb_prom_labels_init(&it, s);
    while (mb_prom_labels_next(&it, &ln, &lnl, v, sizeof v, &vl) > 0)
        put(l, "%.*s=%s;", (int)lnl, ln, v);
    if (isnan(s->value))
        put(l, "|NaN");
    else {
        /* the shortest of %.15g / %.17g that reads back exactly */
        char num[40];
        snprintf(num, sizeof num, "%.15g", s->value);
        if (strtod(num, NULL) != s->value)
            snprintf(num, sizeof num, "%.17g", s->value);
        put(l, "|%s", num);
    }
    if (s->has_ts)
        put(l, "|%lld", (long long)s->ts_ms);
    put(l, "\n");
    l->seen++;
    return l->stop_after && l->seen >= l->stop_after ? 7 : 0;
}

static mb_prom_result parse(const char *text, int flags, log_t *l)
{
    mb_prom_result r;
    memset(l, 0, sizeof *l);
    int rc = mb_prom_parse(text, strlen(text), flags, on_sample, l, &r);
    CHECK_EQ_INT(rc, 0);
    return r;
}

static void test_basic(void)
{
    log_t l;
    mb_prom_result r = parse(
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
        "\n"
        "# Escaping in label values:\n"
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
        "# Minimalistic line:\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "# A weird metric from before the epoch:\n"
        "something_weird{problem=\"division by zero\"} +Inf -3982045\n",
        0, &l);
    CHECK_EQ_INT(r.samples, 5);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_EQ_INT(r.lines, 11);
    CHECK_STR(l.s,
        "http_requests_total|http_requests_total|counter||method=post;code=200;|1027|1395066363000\n"
        "http_requests_total|http_requests_total|counter||method=post;code=400;|3|1395066363000\n"
        "msdos_file_access_time_seconds|msdos_file_access_time_seconds|untyped||"
        "path=C:\\DIR\\FILE.TXT;error=Cannot find file:\n\"FILE.TXT\";|1458255915\n"
        "metric_without_timestamp_and_labels|metric_without_timestamp_and_labels|untyped|||12.47\n"
        "something_weird|something_weird|untyped||problem=division by zero;|inf|-3982045\n");
}

static int help_of(void *ud, const mb_prom_sample *s)
{
    char *out = ud;
    mb_prom_unescape(s->help, s->help_len, out, 128);
    return 0;
}

static void test_help_escapes(void)
{
    char help[128] = "";
    const char *t = "# HELP x Line one\\nline two, a backslash \\\\ and \\q kept\n# TYPE x gauge\nx 1\n";
    mb_prom_result r;
    CHECK_EQ_INT(mb_prom_parse(t, strlen(t), 0, help_of, help, &r), 0);
    CHECK_STR(help, "Line one\nline two, a backslash \\ and \\q kept");
    /* the unescaped length is returned even when the buffer is short */
    char small[5];
    CHECK_EQ_INT(mb_prom_unescape("ab\\ncdef", 8, small, sizeof small), 7);
    CHECK_STR(small, "ab\nc");
}

static void test_histogram_summary(void)
{
    log_t l;
    mb_prom_result r = parse(
        "# HELP h A histogram.\n"
        "# TYPE h histogram\n"
        "h_bucket{le=\"0.05\"} 24054\n"
        "h_bucket{le=\"+Inf\"} 144320\n"
        "h_sum 53423\n"
        "h_count 144320\n"
        "h_created 1.7e9\n"
        "h_other 3\n"
        "# TYPE s summary\n"
        "s{quantile=\"0.5\"} NaN\n"
        "s_sum 1.7560473e+07\n"
        "s_count 2693\n",
        0, &l);
    CHECK_EQ_INT(r.samples, 9);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_STR(l.s,
        "h_bucket|h|histogram|_bucket|le=0.05;|24054\n"
        "h_bucket|h|histogram|_bucket|le=+Inf;|144320\n"
        "h_sum|h|histogram|_sum||53423\n"
        "h_count|h|histogram|_count||144320\n"
        "h_created|h|histogram|_created||1700000000\n"
        "h_other|h_other|untyped|||3\n"
        "s|s|summary||quantile=0.5;|NaN\n"
        "s_sum|s|summary|_sum||17560473\n"
        "s_count|s|summary|_count||2693\n");
}

static void test_values(void)
{
    log_t l;
    mb_prom_result r = parse("a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e-3\nf 1.5E+09\ng -0\nh 0x10\n"
                             "i nan\nj 12abc\nk\nl 1 2 3\n", 0, &l);
    CHECK_EQ_INT(r.samples, 9);
    CHECK_EQ_INT(r.errors, 3);
    CHECK_EQ_INT(r.first_error_line, 10);
    CHECK_STR(r.first_error, "value is not a number");
    CHECK_STR(l.s, "a|a|untyped|||NaN\nb|b|untyped|||inf\nc|c|untyped|||-inf\nd|d|untyped|||inf\n"
                   "e|e|untyped|||0.001\nf|f|untyped|||1500000000\ng|g|untyped|||-0\n"
                   "h|h|untyped|||16\ni|i|untyped|||NaN\n");
}

static void test_whitespace_and_comments(void)
{
    log_t l;
    mb_prom_result r = parse("# just a comment\r\n#\r\n   \t\r\n\tx{ a = \"1\" , b=\"2\" , } \t 5 \t\r\n"
                             "y{} 6\ny {c=\"3\"} 7\n#TYPE y gauge\ny 8\nz 9", 0, &l);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_EQ_INT(r.samples, 5);
    CHECK_STR(l.s, "x|x|untyped||a=1;b=2;|5\ny|y|untyped|||6\ny|y|untyped||c=3;|7\n"
                   "y|y|gauge|||8\nz|z|untyped|||9\n");
}

static void test_quoted_names(void)
{
    log_t l;
    mb_prom_result r = parse("# TYPE \"my.metric\" gauge\n"
                             "{\"my.metric\", \"label.with.dots\"=\"v\", b=\"2\"} 1\n"
                             "{\"my.metric\"} 2\n"
                             "{\"esc\\\"aped\",a=\"x\"} 3\n", 0, &l);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_STR(l.s, "my.metric|my.metric|gauge||label.with.dots=v;b=2;|1\n"
                   "my.metric|my.metric|gauge|||2\n"
                   "esc\"aped|esc\"aped|untyped||a=x;|3\n");
}

static void test_openmetrics(void)
{
    log_t l;
    const char *t = "# TYPE c counter\n# UNIT c seconds\nc_total 3 1700000000.5\n"
                    "c_created 1700000000\nd 1 # {trace_id=\"abc\"} 0.5 1700000000\n# EOF\nafter 1\n";
    mb_prom_result r = parse(t, MB_PROM_OPENMETRICS, &l);
    CHECK_EQ_INT(r.eof, 1);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_STR(l.s, "c_total|c|counter|_total||3|1700000000500\nc_created|c|counter|_created||"
                   "1700000000\nd|d|untyped|||1\n");
    /* the same text as 0.0.4: # EOF is a comment, timestamps are integer ms */
    r = parse(t, 0, &l);
    CHECK_EQ_INT(r.eof, 0);
    CHECK_EQ_INT(r.samples, 4);
    CHECK(strstr(l.s, "c_total|c|counter|_total||3|1700000001\n") != NULL);   /* float ms, rounded */
    CHECK(strstr(l.s, "after|after|untyped|||1\n") != NULL);
}

static void test_malformed(void)
{
    log_t l;
    mb_prom_result r = parse("good 1\n"
                             "1bad 2\n"
                             "x{a=\"unterminated} 3\n"
                             "x{a=unquoted} 4\n"
                             "x{a=\"1\" b=\"2\"} 5\n"
                             "x{=\"1\"} 6\n"
                             "x{a=\"1\"} 7 notatime\n"
                             "x 8 9 extra\n"
                             "# TYPE t nosuchtype\n"
                             "# TYPE\n"
                             "x{a=\"1\"\n"
                             "{\"\"} 1\n"
                             "{a=\"1\"} 1\n"
                             "good 2\n", 0, &l);
    CHECK_EQ_INT(r.samples, 2);
    CHECK_EQ_INT(r.errors, 12);
    CHECK_EQ_INT(r.first_error_line, 2);
    CHECK_STR(r.first_error, "expected a metric name");
    CHECK_STR(l.s, "good|good|untyped|||1\ngood|good|untyped|||2\n");
}

static void test_stop_and_args(void)
{
    log_t l;
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    const char *t = "a 1\nb 2\nc 3\n";
    mb_prom_result r;
    CHECK_EQ_INT(mb_prom_parse(t, strlen(t), 0, on_sample, &l, &r), 7);
    CHECK_EQ_INT(l.seen, 2);
    CHECK_EQ_INT(mb_prom_parse(t, strlen(t), 0, NULL, NULL, NULL), MB_EINVAL);
    CHECK_EQ_INT(mb_prom_parse(NULL, 0, 0, on_sample, &l, NULL), 0);
    /* NUL bytes are bytes: the length bounds the text */
    const char nul[] = "a 1\nb\0 2\nc 3\n";
    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(mb_prom_parse(nul, sizeof nul - 1, 0, on_sample, &l, &r), 0);
    CHECK_EQ_INT(r.samples, 2);
    CHECK_EQ_INT(r.errors, 1);
}

/* Every non-comment line of a real scrape is a sample; no errors. */
typedef struct { int n, cpu; double idle0; char kv[64]; } tally;

static int count_sample(void *ud, const mb_prom_sample *s)
{
    tally *t = ud;
    t->n++;
    if (s->name_len == 22 && memcmp(s->name, "node_cpu_seconds_total", 22) == 0) {
        CHECK(s->type == MB_PROM_COUNTER);
        CHECK(strstr(s->help, "Seconds the CPUs spent in each mode.") == s->help);
        t->cpu++;
        mb_prom_labels it;
        const char *ln;
        size_t lnl, vl;
        char v[32], cpu[32] = "", mode[32] = "";
        mb_prom_labels_init(&it, s);
        while (mb_prom_labels_next(&it, &ln, &lnl, v, sizeof v, &vl) > 0) {
            if (lnl == 3 && memcmp(ln, "cpu", 3) == 0)
                snprintf(cpu, sizeof cpu, "%s", v);
            if (lnl == 4 && memcmp(ln, "mode", 4) == 0)
                snprintf(mode, sizeof mode, "%s", v);
        }
        if (strcmp(cpu, "0") == 0 && strcmp(mode, "idle") == 0)
            t->idle0 = s->value;
    }
    return 0;
}

static void test_fixture(const char *name, int samples, int cpu, double idle0)
{
    size_t len;
    char *text = mb_test_slurp(name, &len);
    tally t = {0};
    mb_prom_result r;
    CHECK_EQ_INT(mb_prom_parse(text, len, 0, count_sample, &t, &r), 0);
    CHECK_MSG(r.errors == 0, "%s: %u errors, line %u: %s", name, r.errors, r.first_error_line,
              r.first_error);
    CHECK_EQ_INT(r.samples, samples);
    CHECK_EQ_INT(t.n, samples);
    CHECK_EQ_INT(t.cpu, cpu);
    CHECK_NEAR(t.idle0, idle0, 1e-12);
    /* every chunking point of the text is a line boundary or not: parsing
     * the two halves at a line boundary gives the same count */
    const char *mid = memchr(text + len / 2, '\n', len - len / 2);
    if (mid) {
        tally a = {0}, b = {0};
        mb_prom_parse(text, (size_t)(mid + 1 - text), 0, count_sample, &a, NULL);
        mb_prom_parse(mid + 1, len - (size_t)(mid + 1 - text), 0, count_sample, &b, NULL);
        CHECK_EQ_INT(a.n + b.n, samples);
    }
    free(text);
}

static int vllm_sample(void *ud, const mb_prom_sample *s)
{
    if (s->name_len > 30 && memcmp(s->name, "vllm:time_to_first_token_seconds", 32) == 0)
        return on_sample(ud, s);
    if (s->name_len >= 25 && memcmp(s->name, "vllm:num_requests_running", 25) == 0)
        return on_sample(ud, s);
    return 0;
}

static void test_vllm(void)
{
    size_t len;
    char *text = mb_test_slurp("tests/fixtures/prom/vllm_0.8.txt", &len);
    log_t l;
    mb_prom_result r;
    memset(&l, 0, sizeof l);
    CHECK_EQ_INT(mb_prom_parse(text, len, 0, vllm_sample, &l, &r), 0);
    CHECK_EQ_INT(r.errors, 0);
    CHECK_EQ_INT(r.samples, 19);
    CHECK_STR(l.s,
        "vllm:num_requests_running|vllm:num_requests_running|gauge||engine=0;"
        "model_name=Qwen/Qwen2.5-7B-Instruct;|3\n"
        "vllm:time_to_first_token_seconds_bucket|vllm:time_to_first_token_seconds|histogram|_bucket|"
        "engine=0;le=0.001;model_name=Qwen/Qwen2.5-7B-Instruct;|0\n"
        "vllm:time_to_first_token_seconds_bucket|vllm:time_to_first_token_seconds|histogram|_bucket|"
        "engine=0;le=0.02;model_name=Qwen/Qwen2.5-7B-Instruct;|4\n"
        "vllm:time_to_first_token_seconds_bucket|vllm:time_to_first_token_seconds|histogram|_bucket|"
        "engine=0;le=0.1;model_name=Qwen/Qwen2.5-7B-Instruct;|30\n"
        "vllm:time_to_first_token_seconds_bucket|vllm:time_to_first_token_seconds|histogram|_bucket|"
        "engine=0;le=+Inf;model_name=Qwen/Qwen2.5-7B-Instruct;|32\n"
        "vllm:time_to_first_token_seconds_count|vllm:time_to_first_token_seconds|histogram|_count|"
        "engine=0;model_name=Qwen/Qwen2.5-7B-Instruct;|32\n"
        "vllm:time_to_first_token_seconds_sum|vllm:time_to_first_token_seconds|histogram|_sum|"
        "engine=0;model_name=Qwen/Qwen2.5-7B-Instruct;|1.4377\n"
        "vllm:time_to_first_token_seconds_created|vllm:time_to_first_token_seconds_created|gauge||"
        "engine=0;model_name=Qwen/Qwen2.5-7B-Instruct;|1736401718.2123742\n");
    free(text);
}

int main(void)
{
    test_basic();
    test_help_escapes();
    test_histogram_summary();
    test_values();
    test_whitespace_and_comments();
    test_quoted_names();
    test_openmetrics();
    test_malformed();
    test_stop_and_args();
    test_fixture("tests/fixtures/prom/node_exporter_1.5.txt", 507, 16, 2470.05);
    test_vllm();
    TEST_MAIN_END();
}

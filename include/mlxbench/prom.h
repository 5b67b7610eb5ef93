/* prom: a parser for the Prometheus text exposition format (0.0.4) and its
 * OpenMetrics 1.0 relative, as servers' /metrics endpoints send it (vLLM,
 * SGLang, TGI, llama.cpp --metrics, node_exporter).
 *
 *   # HELP vllm:num_requests_running Number of requests in model execution.
 *   # TYPE vllm:num_requests_running gauge
 *   vllm:num_requests_running{model_name="Qwen/Qwen2.5-7B"} 3.0
 *   http_request_duration_seconds_bucket{le="+Inf",path="/a\"b"} 17 1712345678000
 *
 * One pass over a scrape held in memory, one callback per sample, nothing
 * allocated: names and raw label text point into the input, values are
 * parsed as doubles (NaN, +Inf, -Inf included), the family's type comes
 * from its `# TYPE` line (histogram and summary samples -- _bucket, _sum,
 * _count, _created -- get their family's type and a suffix). A malformed
 * line is skipped and counted (the first error is kept with its line
 * number): one bad line in a scrape must not lose the others. Pure C, no
 * I/O; fuzzed by fuzz/fuzz_prom.c. */
#ifndef MLXBENCH_PROM_H
#define MLXBENCH_PROM_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MB_PROM_UNTYPED = 0, MB_PROM_COUNTER, MB_PROM_GAUGE, MB_PROM_HISTOGRAM, MB_PROM_SUMMARY,
    MB_PROM_GAUGEHISTOGRAM, MB_PROM_INFO, MB_PROM_STATESET
} mb_prom_type;

/* Flags of mb_prom_parse. */
enum {
    /* OpenMetrics (application/openmetrics-text): timestamps are seconds
     * (possibly fractional) instead of integer milliseconds, and `# EOF`
     * ends the exposition. */
    MB_PROM_OPENMETRICS = 1
};

/* Longest metric name accepted in the quoted form ({"my.metric"}), after
 * unescaping; unquoted names point into the input and have no limit. */
#define MB_PROM_NAME_MAX 1024

typedef struct mb_prom_sample {
    const char *name;   size_t name_len;    /* the sample's name (not NUL-terminated) */
    const char *labels; size_t labels_len;  /* raw text between the braces, escapes
                                               intact and validated: read it with
                                               mb_prom_labels_*; "" when none */
    double value;                           /* NaN, +-Inf as such */
    int has_ts;
    int64_t ts_ms;                          /* the sample's timestamp (ms), if has_ts */
    mb_prom_type type;                      /* its family's # TYPE, else UNTYPED */
    const char *family; size_t family_len;  /* the family (# TYPE name) it belongs to,
                                               or the sample's name */
    const char *suffix;                     /* "_bucket", "_sum", "_count", "_total",
                                               "_created", ... when the name is the
                                               family's plus a suffix, else "" */
    const char *help;   size_t help_len;    /* the family's # HELP text, raw (\\ and \n
                                               escaped; mb_prom_unescape), or "" */
    unsigned line;                          /* 1-based line number */
} mb_prom_sample;

/* Return non-zero to stop; mb_prom_parse then returns that value. */
typedef int (*mb_prom_fn)(void *ud, const mb_prom_sample *s);

typedef struct mb_prom_result {
    unsigned lines;            /* lines read */
    unsigned samples;          /* samples handed to the callback */
    unsigned errors;           /* malformed lines skipped */
    unsigned first_error_line; /* 0 when none */
    char first_error[96];      /* what was wrong with it, "" when none */
    int eof;                   /* OpenMetrics: `# EOF` seen */
} mb_prom_result;

/* Parses len bytes of text (NUL bytes included: the length bounds it).
 * Returns 0 when the whole text was read (malformed lines counted in *res),
 * the callback's non-zero value when it stopped, or MB_EINVAL for a NULL
 * callback. res may be NULL. */
int mb_prom_parse(const char *text, size_t len, int flags, mb_prom_fn fn, void *ud,
                  mb_prom_result *res);

/* Labels of a sample, one at a time:
 *   mb_prom_labels it; mb_prom_labels_init(&it, s);
 *   while (mb_prom_labels_next(&it, &name, &nlen, val, sizeof val, &vlen) > 0) ...
 * name points into the input; the value is unescaped (\\ \" \n) into val,
 * NUL-terminated and truncated to cap - 1 bytes; *vlen is its full length.
 * Returns 1 per label, 0 at the end. */
typedef struct mb_prom_labels { const char *p, *end; } mb_prom_labels;
void mb_prom_labels_init(mb_prom_labels *it, const mb_prom_sample *s);
int mb_prom_labels_next(mb_prom_labels *it, const char **name, size_t *nlen, char *val,
                        size_t cap, size_t *vlen);

/* Unescapes a HELP text (\\ and \n) or a label value (also \") into out
 * (NUL-terminated, truncated to cap - 1); returns the full length. An
 * unknown escape is kept as it is (backslash and character), as
 * Prometheus's own parser does. */
size_t mb_prom_unescape(const char *s, size_t n, char *out, size_t cap);

/* "counter", "gauge", "histogram", "summary", "gaugehistogram", "info",
 * "stateset" or "untyped". */
const char *mb_prom_type_name(mb_prom_type t);

#endif

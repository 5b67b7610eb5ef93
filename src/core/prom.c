/* prom.c: the Prometheus text exposition format (0.0.4) and OpenMetrics
 * 1.0, one line at a time (include/mlxbench/prom.h).
 *
 * A line is a comment (`# HELP name text`, `# TYPE name type`, `# EOF`,
 * anything else ignored), blank, or a sample:
 *
 *   name [ "{" label "=" "\"" value "\"" { "," ... } [","] "}" ] value [ timestamp ] [ # exemplar ]
 *
 * where a name may also be written quoted as the first item inside the
 * braces ({"my.metric", a="b"}, Prometheus 3), label values escape \\, \"
 * and \n, and values are Go floats (NaN, +Inf, -Inf). Everything points
 * into the input except a quoted name, which is unescaped into a buffer on
 * the stack. The current family is the last name a # HELP or # TYPE line
 * gave; a sample belongs to it when its name is the family's, or the
 * family's plus one of the suffixes histograms, summaries and OpenMetrics
 * counters use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/prom.h"

typedef struct cursor {
    const char *p, *end;   /* the current line, without its line ending */
} cursor;

typedef struct family {
    const char *name; size_t name_len;
    mb_prom_type type;
    const char *help; size_t help_len;
    char qname[MB_PROM_NAME_MAX];   /* a quoted family name, unescaped */
} family;

static const char *const SUFFIXES[] = {"_bucket", "_sum", "_count", "_total", "_created",
                                       "_gcount", "_gsum", "_info", NULL};

static int is_ws(char c) { return c == ' ' || c == '\t'; }
static int name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
static int name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

static void skip_ws(cursor *c)
{
    while (c->p < c->end && is_ws(*c->p))
        c->p++;
}

/* A bare name ([a-zA-Z_:][a-zA-Z0-9_:]*; label names exclude ':' but are
 * read by the same rule, as Prometheus's lexer does). 0 when none. */
static size_t bare_name(cursor *c)
{
    const char *s = c->p;
    if (c->p >= c->end || !name_start(*c->p))
        return 0;
    while (c->p < c->end && name_char(*c->p))
        c->p++;
    return (size_t)(c->p - s);
}

/* A quoted string at c->p (the opening quote): moves past the closing
 * quote and returns the raw contents' length in *n, or -1 when it is not
 * closed on this line. */
static int quoted(cursor *c, const char **s, size_t *n)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const char *q = ++c->p;
    while (c->p < c->end && *c->p != '"') {
        if (*c->p == '\\') {
            if (c->p + 1 >= c->end)
                return -1;
            c->p++;
        }
        c->p++;
    }
    if (c->p >= c->end)
        return -1;
    *s = q;
    *n = (size_t)(c->p - q);
    c->p++;
    return 0;
}

size_t mb_prom_unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == '\\' || e == '"' || e == 'n') {
                ch = e == 'n' ? '\n' : e;
                i++;
            }
        }
        if (w + 1 < cap)
            out[w] = ch;
        w++;
    }
    if (cap)
        out[w < cap ? w : cap - 1] = 0;
    return w;
}

/* A float the way Go's strconv.ParseFloat reads it (NaN, +Inf, -Inf, Inf,
 * exponents). 0 or -1. */
static int parse_float(const char *s, size_t n, double *v)
{
    char buf[64];
    char *end;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    errno = 0;
    *v = strtod(buf, &end);
    if (end != buf + n)
        return -1;
    /* strtod sets ERANGE for under/overflow; Go gives +-Inf or 0 as well */
    return 0;
}

/* A timestamp: integer milliseconds (text format; a float is read as
 * milliseconds too), or seconds with OpenMetrics. 0 or -1. */
static int parse_ts(const char *s, size_t n, int om, int64_t *ms)
{
    char buf[64];
    char *end;
    double v;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (!om) {
        errno = 0;
        long long i = strtoll(buf, &end, 10);
        if (end == buf + n && errno == 0) {
            *ms = (int64_t)i;
            return 0;
        }
    }
    if (parse_float(s, n, &v) < 0 || !isfinite(v))
        return -1;
    v = om ? v * 1000.0 : v;
    if (v > 9.2e18 || v < -9.2e18)
        return -1;
    *ms = (int64_t)llround(v);
    return 0;
}

/* The next whitespace-delimited token of the line. */
static size_t token(cursor *c, const char **s)
{
    *s = c->p;
    while (c->p < c->end && !is_ws(*c->p))
        c->p++;
    return (size_t)(c->p - *s);
}

static const struct { const char *name; mb_prom_type t; } TYPES[] = {
    {"counter", MB_PROM_COUNTER}, {"gauge", MB_PROM_GAUGE}, {"histogram", MB_PROM_HISTOGRAM},
    {"summary", MB_PROM_SUMMARY}, {"untyped", MB_PROM_UNTYPED}, {"unknown", MB_PROM_UNTYPED},
    {"gaugehistogram", MB_PROM_GAUGEHISTOGRAM}, {"info", MB_PROM_INFO},
    {"stateset", MB_PROM_STATESET}, {NULL, MB_PROM_UNTYPED}};

const char *mb_prom_type_name(mb_prom_type t)
{
    for (int i = 0; TYPES[i].name; i++)
        if (TYPES[i].t == t && strcmp(TYPES[i].name, "unknown") != 0)
            return TYPES[i].name;
    return "untyped";
}

/* A family name after # HELP / # TYPE: bare (pointing into the input) or
 * quoted (unescaped into buf, MB_PROM_NAME_MAX bytes). 0 or -1. */
static int family_name(cursor *c, char *buf, const char **name, size_t *len)
{
    if (c->p < c->end && *c->p == '"') {
        const char *s;
        size_t n;
        if (quoted(c, &s, &n) < 0)
            return -1;
        size_t l = mb_prom_unescape(s, n, buf, MB_PROM_NAME_MAX);
        if (l >= MB_PROM_NAME_MAX || l == 0)
            return -1;
        *name = buf;
        *len = l;
        return 0;
    }
    *name = c->p;
    *len = bare_name(c);
    return *len ? 0 : -1;
}

/* Makes `name` the current family: a new one (untyped, no help) when the
 * name differs from the current family's. A name in `buf` (quoted) is
 * copied into the family's own buffer. */
static void set_family(family *f, const char *name, size_t len, const char *buf)
{
    if (f->name && f->name_len == len && memcmp(f->name, name, len) == 0)
        return;
    if (name == buf) {
        memcpy(f->qname, buf, len);
        name = f->qname;
    }
    f->name = name;
    f->name_len = len;
    f->type = MB_PROM_UNTYPED;
    f->help = "";
    f->help_len = 0;
}

/* `# ...`: HELP, TYPE, EOF or a plain comment. Returns 1 at `# EOF`
 * (OpenMetrics), 0, or -1 with *why set. */
static int comment(cursor *c, family *f, int om, const char **why)
{
    const char *w, *name;
    size_t n, nlen;
    char buf[MB_PROM_NAME_MAX];
    c->p++;   /* '#' */
    skip_ws(c);
    n = token(c, &w);
    int help = n == 4 && memcmp(w, "HELP", 4) == 0;
    int type = n == 4 && memcmp(w, "TYPE", 4) == 0;
    if (n == 3 && memcmp(w, "EOF", 3) == 0 && om)
        return 1;
    if (!help && !type)
        return 0;   /* any other comment */
    skip_ws(c);
    if (family_name(c, buf, &name, &nlen) < 0) {
        *why = type ? "# TYPE without a metric name" : "# HELP without a metric name";
        return -1;
    }
    if (c->p < c->end && !is_ws(*c->p)) {
        *why = "bad character in a metric name";
        return -1;
    }
    skip_ws(c);
    if (type) {
        const char *t;
        size_t tl = token(c, &t);
        int k;
        for (k = 0; TYPES[k].name; k++)
            if (strlen(TYPES[k].name) == tl && memcmp(TYPES[k].name, t, tl) == 0)
                break;
        skip_ws(c);
        if (!TYPES[k].name || c->p < c->end) {
            *why = "# TYPE with an unknown type";
            return -1;
        }
        set_family(f, name, nlen, buf);
        f->type = TYPES[k].t;
        return 0;
    }
    set_family(f, name, nlen, buf);
    f->help = c->p;
    f->help_len = (size_t)(c->end - c->p);
    return 0;
}

/* The labels of a sample, from just past '{' to just past '}'. A quoted
 * first item without '=' is the metric name. 0 or -1 with *why. */
static int labels(cursor *c, mb_prom_sample *s, char *qname, const char **why)
{
    int first = 1;
    s->labels = c->p;
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end) {
            *why = "labels not closed with '}'";
            return -1;
        }
        if (*c->p == '}') {
            s->labels_len = (size_t)(c->p - s->labels);
            c->p++;
            return 0;
        }
        const char *ln;
        size_t lnl;
        if (*c->p == '"') {
            if (quoted(c, &ln, &lnl) < 0) {
                *why = "unterminated quoted name";
                return -1;
            }
            skip_ws(c);
            if (first && !s->name_len && c->p < c->end && (*c->p == ',' || *c->p == '}')) {
                size_t l = mb_prom_unescape(ln, lnl, qname, MB_PROM_NAME_MAX);
                if (l == 0 || l >= MB_PROM_NAME_MAX) {
                    *why = "quoted metric name empty or too long";
                    return -1;
                }
                s->name = qname;
                s->name_len = l;
                if (*c->p == ',')
                    c->p++;
                s->labels = c->p;   /* the labels start after the name */
                first = 0;
                continue;
            }
        } else {
            ln = c->p;
            lnl = bare_name(c);
            if (!lnl) {
                *why = "bad label name";
                return -1;
            }
            skip_ws(c);
        }
        first = 0;
        if (c->p >= c->end || *c->p != '=') {
            *why = "expected '=' after a label name";
            return -1;
        }
        c->p++;
        skip_ws(c);
        const char *v;
        size_t vl;
        if (quoted(c, &v, &vl) < 0) {
            *why = "label value not a closed quoted string";
            return -1;
        }
        skip_ws(c);
        if (c->p < c->end && *c->p == ',')
            c->p++;
        else if (c->p < c->end && *c->p != '}') {
            *why = "expected ',' or '}' after a label";
            return -1;
        }
    }
}

/* A family's name plus one of the known suffixes, or the name itself. */
static const char *member_of(const family *f, const char *name, size_t len)
{
    if (!f->name || len < f->name_len || memcmp(name, f->name, f->name_len) != 0)
        return NULL;
    if (len == f->name_len)
        return "";
    for (int i = 0; SUFFIXES[i]; i++)
        if (strlen(SUFFIXES[i]) == len - f->name_len &&
            memcmp(name + f->name_len, SUFFIXES[i], len - f->name_len) == 0)
            return SUFFIXES[i];
    return NULL;
}

/* One sample line. 0, or -1 with *why. */
static int sample(cursor *c, const family *f, int om, mb_prom_sample *s, char *qname,
                  const char **why)
{
    memset(s, 0, sizeof *s);
    s->name = c->p;
    s->name_len = bare_name(c);
    if (!s->name_len && (c->p >= c->end || *c->p != '{')) {
        *why = "expected a metric name";
        return -1;
    }
    skip_ws(c);
    s->labels = "";
    if (c->p < c->end && *c->p == '{') {
        c->p++;
        if (labels(c, s, qname, why) < 0)
            return -1;
        if (!s->name_len) {
            *why = "no metric name";
            return -1;
        }
    }
    skip_ws(c);
    const char *v;
    size_t vl = token(c, &v);
    if (!vl) {
        *why = "no value";
        return -1;
    }
    if (parse_float(v, vl, &s->value) < 0) {
        *why = "value is not a number";
        return -1;
    }
    skip_ws(c);
    if (c->p < c->end && *c->p != '#') {
        const char *t;
        size_t tl = token(c, &t);
        if (parse_ts(t, tl, om, &s->ts_ms) < 0) {
            *why = "timestamp is not a number";
            return -1;
        }
        s->has_ts = 1;
        skip_ws(c);
    }
    if (c->p < c->end && *c->p != '#') {
        *why = "unexpected text after the value";
        return -1;
    }
    /* an exemplar (`# {trace_id="..."} 1.0`) is not read */
    const char *suf = member_of(f, s->name, s->name_len);
    if (suf) {
        s->type = f->type;
        s->family = f->name;
        s->family_len = f->name_len;
        s->suffix = suf;
        s->help = f->help;
        s->help_len = f->help_len;
    } else {
        s->type = MB_PROM_UNTYPED;
        s->family = s->name;
        s->family_len = s->name_len;
        s->suffix = "";
        s->help = "";
    }
    return 0;
}

static void note_error(mb_prom_result *r, unsigned line, const char *why)
{
    r->errors++;
    if (!r->first_error_line) {
        r->first_error_line = line;
        snprintf(r->first_error, sizeof r->first_error, "%s", why);
    }
}

int mb_prom_parse(const char *text, size_t len, int flags, mb_prom_fn fn, void *ud,
                  mb_prom_result *res)
{
    mb_prom_result local;
    family fam;
    char qname[MB_PROM_NAME_MAX];
    const char *p = text, *end = text + len;
    unsigned line = 0;
    int om = (flags & MB_PROM_OPENMETRICS) != 0;
    if (!fn || (!text && len))
        return MB_EINVAL;
    if (!res)
        res = &local;
    memset(res, 0, sizeof *res);
    memset(&fam, 0, sizeof fam);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        cursor c = {p, nl ? nl : end};
        p = nl ? nl + 1 : end;
        line++;
        if (c.end > c.p && c.end[-1] == '\r')
            c.end--;
        skip_ws(&c);
        if (c.p == c.end)
            continue;
        const char *why = NULL;
        if (*c.p == '#') {
            int r = comment(&c, &fam, om, &why);
            if (r == 1) {
                res->eof = 1;
                break;
            }
            if (r < 0)
                note_error(res, line, why);
            continue;
        }
        mb_prom_sample s;
        if (sample(&c, &fam, om, &s, qname, &why) < 0) {
            note_error(res, line, why);
            continue;
        }
        s.line = line;
        res->samples++;
        int rc = fn(ud, &s);
        if (rc) {
            res->lines = line;
            return rc;
        }
    }
    res->lines = line;
    return 0;
}

void mb_prom_labels_init(mb_prom_labels *it, const mb_prom_sample *s)
{
    it->p = s->labels;
    it->end = s->labels + s->labels_len;
}

int mb_prom_labels_next(mb_prom_labels *it, const char **name, size_t *nlen, char *val,
                        size_t cap, size_t *vlen)
{
    cursor c = {it->p, it->end};
    const char *v;
    size_t vl;
    for (;;) {
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        break;
    }
    if (c.p >= c.end)
        return 0;
    if (*c.p == '"') {
        if (quoted(&c, name, nlen) < 0)
            return 0;
    } else {
        *name = c.p;
        *nlen = bare_name(&c);
        if (!*nlen)
            return 0;   /* cannot happen on text mb_prom_parse validated */
    }
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '=')
        return 0;
    c.p++;
    skip_ws(&c);
    if (quoted(&c, &v, &vl) < 0)
        return 0;
    size_t l = mb_prom_unescape(v, vl, val, cap);
    if (vlen)
        *vlen = l;
    it->p = c.p;
    return 1;
}

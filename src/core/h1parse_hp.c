/* h1parse_hp.c: the framing interface (h1parse.h) on http_parser (Debian's
 * libhttp-parser; CMake compiles this file or h1parse_ll.c). Callbacks go
 * through small trampolines from http_parser's `data` to the owner's. */
#include <assert.h>
#include <http_parser.h>
#include "mlxbench/h1parse.h"

_Static_assert(sizeof(http_parser) <= sizeof(((mb_h1p *)0)->impl), "mb_h1p.impl too small");

#define HP(p) ((http_parser *)(void *)(p)->impl.b)
#define CHP(p) ((const http_parser *)(const void *)(p)->impl.b)

/* A callback's answer in http_parser's terms: pausing is asked of the
 * parser itself; anything else is 0, 1 (no body) or an error. */
static int answer(http_parser *hp, int rc)
{
    if (rc == MB_H1P_PAUSE) {
        http_parser_pause(hp, 1);
        return 0;
    }
    return rc == MB_H1P_GO || rc == MB_H1P_NOBODY ? rc : -1;
}

#define NOTIFY(name)                                                         \
    static int hp_##name(http_parser *hp)                                    \
    {                                                                        \
        mb_h1p *p = hp->data;                                                \
        return p->cb->name ? answer(hp, p->cb->name(p)) : 0;                 \
    }
#define DATA(name)                                                           \
    static int hp_##name(http_parser *hp, const char *at, size_t n)          \
    {                                                                        \
        mb_h1p *p = hp->data;                                                \
        return p->cb->name ? answer(hp, p->cb->name(p, at, n)) : 0;          \
    }
NOTIFY(on_message_begin)
DATA(on_url)
DATA(on_status)
DATA(on_header_field)
DATA(on_header_value)
NOTIFY(on_headers_complete)
DATA(on_body)
NOTIFY(on_message_complete)

static const http_parser_settings settings = {
    .on_message_begin = hp_on_message_begin,
    .on_url = hp_on_url,
    .on_status = hp_on_status,
    .on_header_field = hp_on_header_field,
    .on_header_value = hp_on_header_value,
    .on_headers_complete = hp_on_headers_complete,
    .on_body = hp_on_body,
    .on_message_complete = hp_on_message_complete,
};

void mb_h1p_init(mb_h1p *p, int kind, const mb_h1p_cb *cb, void *data)
{
    http_parser *hp = HP(p);
    http_parser_init(hp, kind & MB_H1P_RESPONSE ? HTTP_RESPONSE : HTTP_REQUEST);
    hp->data = p;
    hp->allow_chunked_length = (kind & MB_H1P_CHUNKED_WINS) != 0;
    p->cb = cb;
    p->data = data;
}

static mb_h1p_state state_of(const http_parser *hp)
{
    enum http_errno e = HTTP_PARSER_ERRNO(hp);
    if (e == HPE_PAUSED)
        return MB_H1P_PAUSED;
    if (e != HPE_OK)
        return MB_H1P_ERROR;
    return hp->upgrade ? MB_H1P_UPGRADE : MB_H1P_OK;
}

mb_h1p_state mb_h1p_execute(mb_h1p *p, const char *d, size_t n, size_t *used)
{
    assert(n > 0);
    *used = http_parser_execute(HP(p), &settings, d, n);
    return state_of(HP(p));
}

/* http_parser takes a zero-length read as the end of the stream. */
mb_h1p_state mb_h1p_finish(mb_h1p *p)
{
    http_parser_execute(HP(p), &settings, NULL, 0);
    return state_of(HP(p));
}

void mb_h1p_resume(mb_h1p *p)
{
    http_parser_pause(HP(p), 0);
}

const char *mb_h1p_error(const mb_h1p *p)
{
    enum http_errno e = HTTP_PARSER_ERRNO(CHP(p));
    return e == HPE_OK || e == HPE_PAUSED ? "" : http_errno_description(e);
}

unsigned mb_h1p_status(const mb_h1p *p) { return CHP(p)->status_code; }
unsigned mb_h1p_http_major(const mb_h1p *p) { return CHP(p)->http_major; }
unsigned mb_h1p_http_minor(const mb_h1p *p) { return CHP(p)->http_minor; }
int mb_h1p_chunked(const mb_h1p *p) { return (CHP(p)->flags & F_CHUNKED) != 0; }
int mb_h1p_has_length(const mb_h1p *p) { return (CHP(p)->flags & F_CONTENTLENGTH) != 0; }
uint64_t mb_h1p_length(const mb_h1p *p) { return CHP(p)->content_length; }

const char *mb_h1p_method(const mb_h1p *p)
{
    return http_method_str((enum http_method)CHP(p)->method);
}

int mb_h1p_keep_alive(const mb_h1p *p)
{
    return http_should_keep_alive(CHP(p));
}

void mb_h1p_set_max_head(uint32_t bytes)
{
    http_parser_set_max_header_size(bytes);
}

#define STR_(x) #x
#define STR(x) STR_(x)
/* The version of the header compiled against (a shared library of the
 * same soname keeps its interface). */
const char *mb_h1p_library(void)
{
    return "http_parser " STR(HTTP_PARSER_VERSION_MAJOR) "." STR(HTTP_PARSER_VERSION_MINOR) "."
        STR(HTTP_PARSER_VERSION_PATCH);
}

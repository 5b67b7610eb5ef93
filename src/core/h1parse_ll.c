/* h1parse_ll.c: the framing interface (h1parse.h) on llhttp (Node.js's
 * parser: Homebrew's llhttp, Debian's node-llhttp sources, or its release
 * fetched at configure time; CMake compiles this file or h1parse_hp.c).
 *
 * Where llhttp is stricter than http_parser by default it is told to
 * accept what http_parser and libcurl accept, so that both libraries give
 * the same results: a bare LF ending a line, a folded header line and any
 * HTTP/x.y version (the callers judge versions themselves, with their own
 * messages). */
#include <assert.h>
#include <llhttp.h>
#include "mlxbench/h1parse.h"

_Static_assert(sizeof(llhttp_t) <= sizeof(((mb_h1p *)0)->impl), "mb_h1p.impl too small");

#define LL(p) ((llhttp_t *)(void *)(p)->impl.b)
#define CLL(p) ((const llhttp_t *)(const void *)(p)->impl.b)

/* A callback's answer in llhttp's terms. */
static int answer(int rc)
{
    if (rc == MB_H1P_PAUSE)
        return HPE_PAUSED;
    return rc == MB_H1P_GO || rc == MB_H1P_NOBODY ? rc : -1;
}

#define NOTIFY(name)                                                         \
    static int ll_##name(llhttp_t *ll)                                       \
    {                                                                        \
        mb_h1p *p = ll->data;                                                \
        return p->cb->name ? answer(p->cb->name(p)) : 0;                     \
    }
#define DATA(name)                                                           \
    static int ll_##name(llhttp_t *ll, const char *at, size_t n)             \
    {                                                                        \
        mb_h1p *p = ll->data;                                                \
        return p->cb->name ? answer(p->cb->name(p, at, n)) : 0;              \
    }
NOTIFY(on_message_begin)
DATA(on_url)
DATA(on_status)
DATA(on_header_field)
DATA(on_header_value)
NOTIFY(on_headers_complete)
DATA(on_body)
NOTIFY(on_message_complete)

static const llhttp_settings_t settings = {
    .on_message_begin = ll_on_message_begin,
    .on_url = ll_on_url,
    .on_status = ll_on_status,
    .on_header_field = ll_on_header_field,
    .on_header_value = ll_on_header_value,
    .on_headers_complete = ll_on_headers_complete,
    .on_body = ll_on_body,
    .on_message_complete = ll_on_message_complete,
};

void mb_h1p_init(mb_h1p *p, int kind, const mb_h1p_cb *cb, void *data)
{
    llhttp_t *ll = LL(p);
    llhttp_init(ll, kind & MB_H1P_RESPONSE ? HTTP_RESPONSE : HTTP_REQUEST, &settings);
    ll->data = p;
    if (kind & MB_H1P_CHUNKED_WINS)
        llhttp_set_lenient_chunked_length(ll, 1);
    /* obsolete line folding (and, before 9.x, a bare LF after a value) */
    llhttp_set_lenient_headers(ll, 1);
#if LLHTTP_VERSION_MAJOR >= 9
    llhttp_set_lenient_optional_cr_before_lf(ll, 1);
    llhttp_set_lenient_version(ll, 1);
#endif
    p->cb = cb;
    p->data = data;
}

/* llhttp reports where it stopped through the error position. */
mb_h1p_state mb_h1p_execute(mb_h1p *p, const char *d, size_t n, size_t *used)
{
    llhttp_t *ll = LL(p);
    llhttp_errno_t e;
    assert(n > 0);
    e = llhttp_execute(ll, d, n);
    if (e == HPE_OK) {
        *used = n;
        return MB_H1P_OK;
    }
    const char *at = llhttp_get_error_pos(ll);
    *used = at && at >= d && at <= d + n ? (size_t)(at - d) : n;
    return e == HPE_PAUSED ? MB_H1P_PAUSED : e == HPE_PAUSED_UPGRADE ? MB_H1P_UPGRADE
                                                                   : MB_H1P_ERROR;
}

mb_h1p_state mb_h1p_finish(mb_h1p *p)
{
    llhttp_errno_t e = llhttp_finish(LL(p));
    return e == HPE_OK ? MB_H1P_OK : e == HPE_PAUSED ? MB_H1P_PAUSED : MB_H1P_ERROR;
}

void mb_h1p_resume(mb_h1p *p)
{
    llhttp_resume(LL(p));
}

const char *mb_h1p_error(const mb_h1p *p)
{
    llhttp_errno_t e = llhttp_get_errno(CLL(p));
    const char *r = llhttp_get_error_reason(CLL(p));
    if (e == HPE_OK || e == HPE_PAUSED)
        return "";
    return r && *r ? r : llhttp_errno_name(e);
}

unsigned mb_h1p_status(const mb_h1p *p) { return CLL(p)->status_code; }
unsigned mb_h1p_http_major(const mb_h1p *p) { return CLL(p)->http_major; }
unsigned mb_h1p_http_minor(const mb_h1p *p) { return CLL(p)->http_minor; }
int mb_h1p_chunked(const mb_h1p *p) { return (CLL(p)->flags & F_CHUNKED) != 0; }
int mb_h1p_has_length(const mb_h1p *p) { return (CLL(p)->flags & F_CONTENT_LENGTH) != 0; }
uint64_t mb_h1p_length(const mb_h1p *p) { return CLL(p)->content_length; }

const char *mb_h1p_method(const mb_h1p *p)
{
    return llhttp_method_name((llhttp_method_t)CLL(p)->method);
}

int mb_h1p_keep_alive(const mb_h1p *p)
{
    return llhttp_should_keep_alive(CLL(p));
}

/* llhttp has no limit of its own on a head: the callers' apply alone. */
void mb_h1p_set_max_head(uint32_t bytes)
{
    (void)bytes;
}

#define STR_(x) #x
#define STR(x) STR_(x)
const char *mb_h1p_library(void)
{
    return "llhttp " STR(LLHTTP_VERSION_MAJOR) "." STR(LLHTTP_VERSION_MINOR) "."
        STR(LLHTTP_VERSION_PATCH);
}

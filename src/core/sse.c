/* sse.c: incremental Server-Sent Events parser (WHATWG "interpreting an
 * event stream").
 *
 * Bytes are cut into lines with memchr; a line that lies whole inside the
 * chunk is parsed in place, only a line split across chunks is copied into
 * p->line (never beyond max_line). A CR ends its line at once; p->cr then
 * swallows one LF at the start of the next chunk, so CRLF split across reads
 * is one terminator. The BOM is matched byte by byte, also across chunks. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mlxbench/buf.h"
#include "mlxbench/errors.h"
#include "mlxbench/sse.h"

static const char BOM[3] = {'\xEF', '\xBB', '\xBF'};

/* Records a sticky error: the stream position is lost after it. */
static int fail(mb_sse *p, int err)
{
    p->error = err;
    return err;
}

/* Ends a block: the type buffer and per-block state reset, data is consumed. */
static void end_block(mb_sse *p)
{
    p->data_len = 0;
    p->type_len = 0;
    p->ev_retry = -1;
    p->fields = 0;
}

/* Hands the pending event to cb: data loses its final LF, type defaults to
 * "message", id is the persistent last event ID. */
static int dispatch(mb_sse *p, mb_sse_cb cb, void *ud, int partial)
{
    mb_sse_event ev;
    p->data[--p->data_len] = 0;
    ev.type = p->type_len ? p->type : "message";
    ev.type_len = p->type_len ? p->type_len : 7;
    ev.data = p->data;
    ev.data_len = p->data_len;
    ev.id = p->id_len ? p->id : "";
    ev.id_len = p->id_len;
    ev.retry = p->ev_retry;
    ev.partial = partial;
    end_block(p);
    return cb ? cb(ud, &ev) : 0;
}

/* Copies v into a NUL-terminated buffer (event type, last event ID). */
static int set_buf(char **b, size_t *len, size_t *cap, const char *v, size_t n)
{
    if (MB_VEC_GROW(*b, *cap, n + 1))
        return MB_ENOMEM;
    memcpy(*b, v, n);
    (*b)[n] = 0;
    *len = n;
    return 0;
}

/* Interprets one line (terminator excluded): blank -> dispatch, ':' ->
 * comment, else "name[:[ ]value]" with names matched case-sensitively. */
static int line(mb_sse *p, const char *s, size_t n, mb_sse_cb cb, void *ud)
{
    if (!n) {
        if (p->data_len)
            return dispatch(p, cb, ud, 0);
        end_block(p);
        return 0;
    }
    if (s[0] == ':')
        return 0;
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen && *v == ' ') {
        v++;
        vlen--;
    }
    p->fields = 1;
    if (nlen == 4 && !memcmp(s, "data", 4)) {
        if (MB_VEC_GROW(p->data, p->data_cap, p->data_len + vlen + 2))
            return fail(p, MB_ENOMEM);
        memcpy(p->data + p->data_len, v, vlen);
        p->data_len += vlen;
        p->data[p->data_len++] = '\n';
        p->data[p->data_len] = 0;
    } else if (nlen == 5 && !memcmp(s, "event", 5)) {
        if (set_buf(&p->type, &p->type_len, &p->type_cap, v, vlen))
            return fail(p, MB_ENOMEM);
    } else if (nlen == 2 && !memcmp(s, "id", 2)) {
        if (!memchr(v, 0, vlen) && set_buf(&p->id, &p->id_len, &p->id_cap, v, vlen))
            return fail(p, MB_ENOMEM);
    } else if (nlen == 5 && !memcmp(s, "retry", 5)) {
        long r = 0;
        size_t i = 0;
        for (; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
            r = r > (LONG_MAX - 9) / 10 ? LONG_MAX : r * 10 + (v[i] - '0');
        if (vlen && i == vlen)
            p->retry = p->ev_retry = r;
    }
    return 0;
}

/* Appends a piece of a line that continues in a later chunk. */
static int hold(mb_sse *p, const char *s, size_t n)
{
    if (n > p->max_line - p->line_len)
        return fail(p, MB_ETOOLONG);
    if (MB_VEC_GROW(p->line, p->line_cap, p->line_len + n + 1))
        return fail(p, MB_ENOMEM);
    memcpy(p->line + p->line_len, s, n);
    p->line_len += n;
    return 0;
}

/* Splits [s, end) into lines. The next CR and LF positions are each found
 * once by memchr and reused until passed, so a chunk is scanned in two
 * passes however many lines it holds. */
static int scan(mb_sse *p, const char *s, const char *end, mb_sse_cb cb, void *ud)
{
    const char *lf = NULL, *cr = NULL;
    if (p->cr && s < end) {
        p->cr = 0;
        if (*s == '\n')
            s++;
    }
    while (s < end) {
        if (!lf || lf < s) {
            lf = memchr(s, '\n', (size_t)(end - s));
            lf = lf ? lf : end;
        }
        if (!cr || cr < s) {
            cr = memchr(s, '\r', (size_t)(end - s));
            cr = cr ? cr : end;
        }
        const char *t = lf < cr ? lf : cr;
        size_t n = (size_t)(t - s);
        if (t == end)
            return hold(p, s, n);
        const char *next = t + 1;
        if (*t == '\r') {
            if (next == end)
                p->cr = 1;
            else if (*next == '\n')
                next++;
        }
        int rc;
        if (p->line_len) {
            if ((rc = hold(p, s, n)) != 0)
                return rc;
            rc = line(p, p->line, p->line_len, cb, ud);
            p->line_len = 0;
        } else if (n > p->max_line) {
            return fail(p, MB_ETOOLONG);
        } else {
            rc = line(p, s, n, cb, ud);
        }
        if (rc)
            return rc;
        s = next;
    }
    return 0;
}

/* Empty parser; buffers grow on first use. max_line is capped so that
 * length arithmetic (line_len + n + 1) cannot overflow. */
void mb_sse_init(mb_sse *p, size_t max_line)
{
    memset(p, 0, sizeof *p);
    p->max_line = max_line ? max_line : MB_DEFAULT_MAX_LINE;
    if (p->max_line > SIZE_MAX / 4)
        p->max_line = SIZE_MAX / 4;
    p->retry = -1;
    p->ev_retry = -1;
}

/* Releases the buffers; the struct is left in a state every call rejects
 * with MB_ESTATE until the next mb_sse_init. */
void mb_sse_free(mb_sse *p)
{
    free(p->line);
    free(p->data);
    free(p->type);
    free(p->id);
    memset(p, 0, sizeof *p);
    p->error = MB_ESTATE;
}

/* Strips a leading BOM (its bytes may arrive one per feed; a mismatch
 * replays the matched prefix as ordinary bytes), then scans. */
int mb_sse_feed(mb_sse *p, const char *buf, size_t len, mb_sse_cb cb, void *ud)
{
    if (p->error)
        return p->error;
    if (!len)
        return 0;
    const char *s = buf, *end = buf + len;
    p->bytes += len;
    while (p->bom < 3 && s < end) {
        if (*s == BOM[p->bom]) {
            p->bom++;
            s++;
            continue;
        }
        int held = p->bom, rc;
        p->bom = 3;
        if (held && (rc = scan(p, BOM, BOM + held, cb, ud)) != 0)
            return rc;
    }
    return scan(p, s, end, cb, ud);
}

/* Completes a pending partial line as if terminated, reports whether the
 * stream stopped mid-event, and offers the open event as partial. */
int mb_sse_finish(mb_sse *p, mb_sse_cb cb, void *ud)
{
    int rc;
    if (p->error)
        return p->error;
    if (p->bom > 0 && p->bom < 3 && (rc = hold(p, BOM, (size_t)p->bom)) != 0)
        return rc;
    p->bom = 3;
    int truncated = p->line_len > 0 || p->fields;
    if (p->line_len) {
        rc = line(p, p->line, p->line_len, NULL, NULL);
        p->line_len = 0;
        if (rc)
            return rc;
    }
    if (cb && p->data_len)
        dispatch(p, cb, ud, 1);
    p->error = MB_ESTATE;
    return truncated;
}

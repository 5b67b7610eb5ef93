/* jsplit.c: streaming splitter of a top-level JSON array. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mlxbench/jsplit.h"

enum { S_START, S_BETWEEN, S_ELEM, S_END };

#define DEFAULT_MAX ((size_t)64 << 20)

void mb_jsplit_init(mb_jsplit *s, size_t max_elem)
{
    memset(s, 0, sizeof *s);
    s->max = max_elem ? max_elem : DEFAULT_MAX;
}

void mb_jsplit_free(mb_jsplit *s)
{
    mb_buf_free(&s->elem);
}

int mb_jsplit_done(const mb_jsplit *s)
{
    return s->state == S_END;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int append(mb_jsplit *s, const char *p, size_t n)
{
    if (s->elem.len + n > s->max)
        return MB_ETOOLONG;
    return mb_buf_add(&s->elem, p, n) < 0 ? MB_ENOMEM : 0;
}

/* Emits the collected element without trailing whitespace. */
static int emit(mb_jsplit *s, mb_jsplit_cb cb, void *ud)
{
    size_t l = s->elem.len;
    while (l && is_ws(s->elem.p[l - 1]))
        l--;
    s->elem.len = 0;   /* the bytes stay for the callback */
    return l ? cb(ud, s->elem.p, l) : 0;
}

/* A byte loop with a run copy: bytes of an element are appended in spans,
 * not one by one, and strings are skipped with their escapes. */
int mb_jsplit_feed(mb_jsplit *s, const char *p, size_t n, mb_jsplit_cb cb, void *ud)
{
    size_t i = 0, span = 0;
    int rc;
    if (s->err)
        return s->err;
    while (i < n) {
        char c = p[i];
        switch (s->state) {
        case S_START:
            if ((unsigned char)c == 0xEF || (unsigned char)c == 0xBB || (unsigned char)c == 0xBF ||
                is_ws(c)) {
                i++;   /* BOM bytes and whitespace before the array */
            } else if (c == '[') {
                s->state = S_BETWEEN;
                i++;
            } else {
                return s->err = MB_EPARSE;
            }
            break;
        case S_BETWEEN:
            if (is_ws(c) || c == ',') {
                i++;
            } else if (c == ']') {
                s->state = S_END;
                i++;
            } else {
                s->state = S_ELEM;
                s->depth = 0;
                s->in_str = s->esc = 0;
                span = i;
            }
            break;
        case S_ELEM:
            if (s->in_str) {
                if (s->esc)
                    s->esc = 0;
                else if (c == '\\')
                    s->esc = 1;
                else if (c == '"')
                    s->in_str = 0;
                i++;
                if (s->elem.len + (i - span) > s->max)   /* at the same byte however fed */
                    return s->err = MB_ETOOLONG;
                break;
            }
            if (c == '"') {
                s->in_str = 1;
            } else if (c == '{' || c == '[') {
                s->depth++;
            } else if (c == '}' || c == ']') {
                if (s->depth == 0 && c == '}')
                    return s->err = MB_EPARSE;   /* unbalanced: never re-read it */
                if (s->depth == 0) {   /* the array's own ']' after a scalar */
                    if ((rc = append(s, p + span, i - span)) < 0)
                        return s->err = rc;
                    s->state = S_BETWEEN;
                    if ((rc = emit(s, cb, ud)) != 0)
                        return rc;
                    continue;          /* re-read ']' in S_BETWEEN */
                }
                s->depth--;
            } else if (c == ',' && s->depth == 0) {
                if ((rc = append(s, p + span, i - span)) < 0)
                    return s->err = rc;
                s->state = S_BETWEEN;
                if ((rc = emit(s, cb, ud)) != 0)
                    return rc;
                continue;
            }
            i++;
            if (s->elem.len + (i - span) > s->max)
                return s->err = MB_ETOOLONG;
            if (s->depth == 0 && (c == '}' || c == ']')) {
                if ((rc = append(s, p + span, i - span)) < 0)
                    return s->err = rc;
                s->state = S_BETWEEN;
                if ((rc = emit(s, cb, ud)) != 0)
                    return rc;
            }
            break;
        default:   /* S_END: only whitespace may follow */
            if (!is_ws(c))
                return s->err = MB_EPARSE;
            i++;
        }
    }
    if (s->state == S_ELEM && (rc = append(s, p + span, n - span)) < 0)
        return s->err = rc;
    return 0;
}

/* mock_fields.c: strict readers of the JSON fields of a profile and of a
 * /mock/faults body. An unknown field or a value of the wrong type or out of
 * range is an error with a one-line reason naming the field; keys starting
 * with "_", "description" and "$comment" are documentation and ignored. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

/* Writes the one-line reason of a refused profile or fault body. */
void mk_err_set(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    if (!err || !n)
        return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    for (char *q = err; *q; q++)   /* names from the input: keep one printable line */
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
}

/* Reads a number field in [lo, hi] into *out when present. 1 (read), 0
 * (absent) or MB_EINVAL. */
int mk_num_field(const mb_json_val *o, const char *k, double lo, double hi, double *out,
                 char *err, size_t errlen)
{
    mb_json_val v;
    double d;
    if (!mb_json_find(o, k, &v))
        return 0;
    d = mb_json_num(&v);
    if (v.type != MB_JSON_NUMBER || !isfinite(d) || d < lo || d > hi) {
        char range[64];
        snprintf(range, sizeof range, "a number in [%g, %g]", lo, hi);
        mk_err_set(err, errlen, "'%s' must be %s", k, range);
        return MB_EINVAL;
    }
    *out = d;
    return 1;
}

/* An integer field in [lo, hi]: 1, 0 (absent) or MB_EINVAL. */
int mk_int_field(const mb_json_val *o, const char *k, long lo, long hi, int *out,
                 char *err, size_t errlen)
{
    double d = 0;
    int rc = mk_num_field(o, k, (double)lo, (double)hi, &d, err, errlen);
    if (rc <= 0)
        return rc;
    if (d != floor(d)) {
        mk_err_set(err, errlen, "'%s' must be an integer", k);
        return MB_EINVAL;
    }
    *out = (int)d;
    return 1;
}

/* A boolean field: 1, 0 (absent) or MB_EINVAL. */
int mk_bool_field(const mb_json_val *o, const char *k, int *out, char *err, size_t errlen)
{
    mb_json_val v;
    if (!mb_json_find(o, k, &v))
        return 0;
    if (v.type != MB_JSON_TRUE && v.type != MB_JSON_FALSE) {
        mk_err_set(err, errlen, "'%s' must be true or false", k);
        return MB_EINVAL;
    }
    *out = v.type == MB_JSON_TRUE;
    return 1;
}

/* Ignored keys: documentation inside a profile. */
static int is_comment_key(const mb_json_val *k)
{
    return (k->n > 2 && k->p[1] == '_') || mb_json_eq(k, "description") ||
           mb_json_eq(k, "$comment");
}

/* Every key of object o is one of `allowed` (or a comment). */
int mk_check_keys(const mb_json_val *o, const char *const *allowed, const char *what,
                  char *err, size_t errlen)
{
    mb_json_iter it;
    mb_json_val k, v;
    mb_json_iter_init(&it, o);
    while (mb_json_next(&it, &k, &v)) {
        int ok = is_comment_key(&k);
        for (int i = 0; !ok && allowed[i]; i++)
            ok = mb_json_eq(&k, allowed[i]);
        if (!ok) {
            char name[64];
            mb_json_strcpy(&k, name, sizeof name);
            mk_err_set(err, errlen, "unknown %s field '%s'", what, name);
            return MB_EINVAL;
        }
    }
    return 0;
}

/* Parses a "mode" string field against two choices; *out = 1 for `one`. */
int mk_mode_field(const mb_json_val *o, const char *k, const char *one, const char *zero,
                  int *out, char *err, size_t errlen)
{
    mb_json_val v;
    if (!mb_json_find(o, k, &v))
        return 0;
    if (mb_json_eq(&v, one))
        *out = 1;
    else if (mb_json_eq(&v, zero))
        *out = 0;
    else {
        char what[96];
        snprintf(what, sizeof what, "\"%s\" or \"%s\"", one, zero);
        mk_err_set(err, errlen, "'%s' must be %s", k, what);
        return MB_EINVAL;
    }
    return 1;
}

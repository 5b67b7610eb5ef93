/* mock_faults.c: the emulated server's fault state -- its defaults, a
 * /mock/faults (or profile "faults") body applied over it, and the state as
 * JSON for GET /mock/faults. A body with an unknown field or a bad value
 * changes nothing. */
#include <stdlib.h>
#include <string.h>
#include "mlxbench/errors.h"
#include "mock_int.h"

/* The faults of a fresh server: none on, each with its usual parameters. */
void mk_faults_defaults(mk_faults *f)
{
    memset(f, 0, sizeof *f);
    f->simple_status = 500;
    f->retry_after = 1;
    f->should_retry = -1;
    f->stream_error_after = 10;
    f->stall_after = 10;
    f->stall_s = 5;
    f->disconnect_after = 10;
    f->disconnect_reset = 1;
    f->malformed_after = 10;
    f->slow_ttft_s = 2;
}

/* The fields a faults body may have. */
static const char *const fault_keys[] = {
    "reset", "error_rate", "status", "error_rates", "retry_after", "should_retry",
    "stream_error_rate", "stream_error_after", "stall_rate", "stall_after", "stall_s",
    "disconnect_rate", "disconnect_after", "disconnect_mode", "malformed_rate",
    "malformed_after", "malformed_mode", "slow_ttft_rate", "slow_ttft_s",
    "refuse_connections", "refuse_s", "seed", NULL};

/* Applies a faults body over *dst, all or nothing (mock_int.h). */
int mk_faults_apply(mk_faults *dst, const mk_faults *initial, const mb_json_val *o,
                    char *err, size_t errlen)
{
    mk_faults f = *dst;
    int rc, reset = 0, a = 0, has;
    mb_json_val v;
    if (o->type != MB_JSON_OBJECT) {
        mk_err_set(err, errlen, "faults must be a JSON object");
        return MB_EINVAL;
    }
    if ((rc = mk_check_keys(o, fault_keys, "fault", err, errlen)) < 0 ||
        (rc = mk_bool_field(o, "reset", &reset, err, errlen)) < 0)
        return rc;
    if (reset)
        f = *initial;
    if ((rc = mk_num_field(o, "error_rate", 0, 1, &f.simple_rate, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "status", 400, 599, &f.simple_status, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "stream_error_rate", 0, 1, &f.stream_error_rate, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "stream_error_after", 0, 100000000, &f.stream_error_after, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "stall_rate", 0, 1, &f.stall_rate, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "stall_after", 0, 100000000, &f.stall_after, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "stall_s", 0, 3600, &f.stall_s, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "disconnect_rate", 0, 1, &f.disconnect_rate, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "disconnect_after", 0, 100000000, &f.disconnect_after, err, errlen)) < 0 ||
        (rc = mk_mode_field(o, "disconnect_mode", "reset", "close", &f.disconnect_reset, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "malformed_rate", 0, 1, &f.malformed_rate, err, errlen)) < 0 ||
        (rc = mk_int_field(o, "malformed_after", 0, 100000000, &f.malformed_after, err, errlen)) < 0 ||
        (rc = mk_mode_field(o, "malformed_mode", "http", "json", &f.malformed_http, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "slow_ttft_rate", 0, 1, &f.slow_ttft_rate, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "slow_ttft_s", 0, 3600, &f.slow_ttft_s, err, errlen)) < 0 ||
        (rc = mk_bool_field(o, "refuse_connections", &f.refuse_connections, err, errlen)) < 0 ||
        (rc = mk_num_field(o, "refuse_s", 0, 86400, &f.refuse_s, err, errlen)) < 0)
        return rc;
    has = mb_json_find(o, "retry_after", &v);
    if (has && v.type == MB_JSON_NULL)
        f.retry_after = -1;
    else if ((rc = mk_num_field(o, "retry_after", 0, 86400, &f.retry_after, err, errlen)) < 0)
        return rc;
    has = mb_json_find(o, "should_retry", &v);
    if (has && v.type == MB_JSON_NULL)
        f.should_retry = -1;
    else if ((rc = mk_bool_field(o, "should_retry", &a, err, errlen)) < 0)
        return rc;
    else if (rc > 0)
        f.should_retry = a;
    if (mb_json_find(o, "error_rates", &v)) {
        mb_json_iter it;
        mb_json_val k, r;
        if (v.type != MB_JSON_OBJECT) {
            mk_err_set(err, errlen, "'error_rates' must be an object {\"503\": 0.1, ...}");
            return MB_EINVAL;
        }
        f.nstatus = 0;
        mb_json_iter_init(&it, &v);
        while (mb_json_next(&it, &k, &r)) {
            char name[32], *end = NULL;
            mb_json_strcpy(&k, name, sizeof name);
            long st = strtol(name, &end, 10);
            double p = mb_json_num(&r);
            if (!end || *end || st < 400 || st > 599 || r.type != MB_JSON_NUMBER || p < 0 ||
                p > 1 || f.nstatus == MK_MAX_STATUS) {
                mk_err_set(err, errlen, "'error_rates' entry '%s' must map a status 400..599 to a "
                                     "probability in [0, 1] (at most 8 entries)", name);
                return MB_EINVAL;
            }
            f.status[f.nstatus] = (int)st;
            f.rate[f.nstatus] = p;
            f.nstatus++;
        }
    }
    if (mb_json_find(o, "seed", &v)) {
        double sd = mb_json_num(&v);
        if (v.type != MB_JSON_NUMBER || sd < 0 || sd > 9007199254740991.0) {
            mk_err_set(err, errlen, "'seed' must be a non-negative integer");
            return MB_EINVAL;
        }
        f.seed = (uint64_t)sd;
    }
    *dst = f;
    return 0;
}

/* The fault state as one JSON object, every field present. */
void mk_faults_to_json(const mk_faults *f, mb_buf *b)
{
    mb_buf_printf(b, "{\"error_rate\":%.6g,\"status\":%d,\"error_rates\":{", f->simple_rate,
              f->simple_status);
    for (int i = 0; i < f->nstatus; i++)
        mb_buf_printf(b, "%s\"%d\":%.6g", i ? "," : "", f->status[i], f->rate[i]);
    mb_buf_puts(b, "},\"retry_after\":");
    if (f->retry_after < 0)
        mb_buf_puts(b, "null");
    else
        mb_buf_printf(b, "%.6g", f->retry_after);
    mb_buf_printf(b, ",\"should_retry\":%s", f->should_retry < 0 ? "null" : f->should_retry ? "true" : "false");
    mb_buf_printf(b, ",\"stream_error_rate\":%.6g,\"stream_error_after\":%d", f->stream_error_rate,
              f->stream_error_after);
    mb_buf_printf(b, ",\"stall_rate\":%.6g,\"stall_after\":%d,\"stall_s\":%.6g", f->stall_rate,
              f->stall_after, f->stall_s);
    mb_buf_printf(b, ",\"disconnect_rate\":%.6g,\"disconnect_after\":%d,\"disconnect_mode\":\"%s\"",
              f->disconnect_rate, f->disconnect_after, f->disconnect_reset ? "reset" : "close");
    mb_buf_printf(b, ",\"malformed_rate\":%.6g,\"malformed_after\":%d,\"malformed_mode\":\"%s\"",
              f->malformed_rate, f->malformed_after, f->malformed_http ? "http" : "json");
    mb_buf_printf(b, ",\"slow_ttft_rate\":%.6g,\"slow_ttft_s\":%.6g", f->slow_ttft_rate, f->slow_ttft_s);
    mb_buf_printf(b, ",\"refuse_connections\":%s,\"refuse_s\":%.6g,\"seed\":%llu}",
              f->refuse_connections ? "true" : "false", f->refuse_s, (unsigned long long)f->seed);
}

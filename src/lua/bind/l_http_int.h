/* l_http_int.h: what the mlxbench._http binding's files share (private to
 * src/lua/bind).
 *
 *   l_http.c       the request's life: start, wait, events, response, close
 *   l_http_opts.c  start()'s options table, checked, into an mb_req_opts */
#ifndef MB_L_HTTP_INT_H
#define MB_L_HTTP_INT_H

#include <lua.h>
#include "mlxbench/client.h"

/* Reads and checks the options table at index 1 into `o`; the header lines
 * go to a new table whose index is *lines. Strings stay anchored on the
 * stack above index 1. Returns NULL or an error message. */
const char *mb_lhttp_read_opts(lua_State *L, mb_req_opts *o, int *lines);

#endif

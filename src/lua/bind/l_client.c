/* l_client.c: the engine's HTTP client, shared by mlxbench.http and
 * mlxbench.llm: one libcurl multi per engine (per loop), created on first
 * use and freed by an engine closer before the loop closes. */
#include <stdlib.h>
#include <lauxlib.h>
#include "mlxbench/client.h"
#include "engine.h"

typedef struct {
    mb_client *client;
    mb_closer closer;
} client_slot;

static void close_client(void *ud)
{
    client_slot *s = ud;
    mb_client_free(s->client);
    free(s);
}

/* The engine's client; raises a Lua error if it cannot be created. */
mb_client *mb_lua_client(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    client_slot *s = eng->slots[MB_SLOT_HTTP];
    if (s)
        return s->client;
    s = calloc(1, sizeof *s);
    if (!s)
        luaL_error(L, "out of memory");
    if (mb_client_new(&s->client, eng->loop) < 0) {
        free(s);
        luaL_error(L, "cannot create the HTTP client (libcurl)");
    }
    s->closer.close = close_client;
    s->closer.ud = s;
    mb_engine_add_closer(eng, &s->closer);
    eng->slots[MB_SLOT_HTTP] = s;
    return s->client;
}

int mb_lua_client_abort(mb_engine *eng, const char *why)
{
    client_slot *s = eng->slots[MB_SLOT_HTTP];
    return s ? mb_client_abort_all(s->client, why) : 0;
}

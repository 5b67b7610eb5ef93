/* modules.c: one line per C module; the pure-Lua ones are found by the
 * embedded searcher (engine.c). */
#include "engine.h"
#include "modules.h"

/* lua-cjson's entry point (Debian's static library, or the release built
 * by cmake/deps.cmake: neither installs a header everywhere). */
int luaopen_cjson(lua_State *L);

const mb_cmodule mb_cmodules[] = {
    {"cjson", luaopen_cjson},
    {"mlxbench._sched", luaopen_mlxbench_sched},
    {"mlxbench.time", luaopen_mlxbench_time},
    {"mlxbench.stats", luaopen_mlxbench_stats},
    {"mlxbench.sse", luaopen_mlxbench_sse},
    {"mlxbench._http", luaopen_mlxbench_http},
    {"mlxbench._llm", luaopen_mlxbench_llm},
    {"mlxbench._embed", luaopen_mlxbench_embed},
    {"mlxbench.arrival", luaopen_mlxbench_arrival},
    {"mlxbench._dataset", luaopen_mlxbench_dataset},
    {"mlxbench._sys", luaopen_mlxbench_sys},
    {"mlxbench.mock", luaopen_mlxbench_mock},
    {"mlxbench.proxy", luaopen_mlxbench_proxy},
    {"mlxbench._thread", luaopen_mlxbench_thread},
    {"mlxbench._monitor", luaopen_mlxbench_monitor},
    {"mlxbench._redact", luaopen_mlxbench_redact},
    {"mlxbench._tokenizer", luaopen_mlxbench_tokenizer},
    {"mlxbench._prom", luaopen_mlxbench_prom},
    {"mlxbench._cmd", luaopen_mlxbench_cmd},
    {NULL, NULL}
};

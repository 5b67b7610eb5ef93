/* engine.c: the Lua state, module loading, the run loop and shutdown. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include <lualib.h>
#include "engine.h"
#include "mb_embed.h"
#include "modules.h"

const mb_embed_file *mb_embed_find(const char *name)
{
    for (const mb_embed_file *f = mb_embedded; f->name; f++)
        if (strcmp(f->name, name) == 0 || strcmp(f->path, name) == 0)
            return f;
    return NULL;
}

/* package.searchers entry for the embedded standard library: it comes right
 * after package.preload, so the binary's own modules win over files on
 * package.path and the binary works from any folder. */
static int embed_searcher(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const mb_embed_file *f = mb_embed_find(name);
    if (!f || strncmp(f->path, "src/lua/", 8) != 0) {
        lua_pushfstring(L, "no embedded module '%s'", name);
        return 1;
    }
    lua_pushfstring(L, "@[mlxbench]/%s", f->path + 8);
    if (luaL_loadbufferx(L, f->data, f->len, lua_tostring(L, -1), "t") != LUA_OK)
        return lua_error(L);
    lua_pushstring(L, f->path);
    return 2;
}

/* _embed.get(name) -> source, chunkname | nil: the embedded copy of a
 * shipped script (scripts/suite.lua) or module, for `mlxbench suite`. */
static int l_embed_get(lua_State *L)
{
    const mb_embed_file *f = mb_embed_find(luaL_checkstring(L, 1));
    if (!f)
        return 0;
    lua_pushlstring(L, f->data, f->len);
    lua_pushfstring(L, "@[mlxbench]/%s", f->path);
    return 2;
}

int luaopen_mlxbench_embed(lua_State *L)
{
    static const luaL_Reg f[] = {{"get", l_embed_get}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

/* package.path = each DIR/?.lua;DIR/?/init.lua for the given folders, then
 * $MLXBENCH_PATH (a ';'-separated Lua path, ";;" meaning the default), then
 * Lua's default path. */
static void set_package_path(lua_State *L, const char *const *paths, int npaths)
{
    luaL_Buffer b;
    lua_getglobal(L, "package");
    luaL_buffinit(L, &b);
    for (int i = 0; i < npaths; i++) {
        const char *d = paths[i];
        lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;", d, d);
        luaL_addvalue(&b);
    }
    const char *env = getenv("MLXBENCH_PATH");
    if (env && *env) {
        luaL_addstring(&b, env);
        luaL_addchar(&b, ';');
    }
    lua_getfield(L, -2, "path");
    luaL_addvalue(&b);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "path");
    lua_pop(L, 1);
}

static void preload(lua_State *L)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    for (const mb_cmodule *m = mb_cmodules; m->name; m++) {
        lua_pushcfunction(L, m->open);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 1);
    /* insert embed_searcher as package.searchers[2] */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    for (lua_Integer i = (lua_Integer)lua_rawlen(L, -1); i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, embed_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
}

static void check_cb(uv_check_t *h)
{
    mb_sched_drain(h->data);
}

/* First Ctrl-C (or SIGTERM, SIGHUP): run the script's interrupt hook as a
 * task (a benchmark stops sending, gives what is in flight a grace period
 * and writes what was measured), or stop now if there is none. Second,
 * with a hook: every HTTP transfer in flight ends now as `aborted`, and the
 * script still writes its results. Third: leave immediately (the handler
 * itself does, engine_sig.c, even when Lua never yields). */
static void signal_stage(mb_engine *eng, int signum)
{
    const char *what = signum == SIGINT ? "interrupt" : mb_sig_name(signum);
    int hook = eng->interrupt_ref != LUA_NOREF;
    eng->interrupted++;
    if (eng->interrupted >= 3)
        _exit(130);
    if (eng->interrupted == 2 && hook) {
        int n = mb_lua_client_abort(eng, "aborted by a second interrupt");
        fprintf(stderr, "\nmlxbench: %s received again: %d request(s) in flight aborted, "
                        "writing results (again to quit at once)\n", what, n);
        return;
    }
    fprintf(stderr, "\nmlxbench: %s received, %s\n", what,
            hook ? "stopping and writing results (again to abort requests in flight)"
                 : "stopping");
    if (hook) {
        lua_rawgeti(eng->L, LUA_REGISTRYINDEX, eng->interrupt_ref);
        mb_vu_spawn(eng->L, 0);
        lua_pop(eng->L, 1);
        return;
    }
    eng->stopping = 1;
    eng->exit_code = 130;
}

/* The loop side of a signal: every stage not yet handled, in order. */
static void sigasync_cb(uv_async_t *h)
{
    mb_engine *eng = h->data;
    while (eng->sig_seen < mb_sig_count()) {
        eng->sig_seen++;
        signal_stage(eng, mb_sig_last());
    }
}

void mb_engine_ignore_signals(mb_engine *eng)
{
    eng->watch_signals = 0;
}

int mb_engine_new(mb_engine **out, const char *const *paths, int npaths)
{
    mb_engine *eng = calloc(1, sizeof *eng);
    *out = NULL;
    if (!eng)
        return -1;
    eng->loop = malloc(sizeof *eng->loop);
    if (!eng->loop || uv_loop_init(eng->loop) != 0) {
        free(eng->loop);
        free(eng);
        return -1;
    }
    eng->interrupt_ref = LUA_NOREF;
    eng->L = luaL_newstate();
    if (!eng->L) {
        uv_loop_close(eng->loop);
        free(eng->loop);
        free(eng);
        return -1;
    }
    *(mb_vu **)lua_getextraspace(eng->L) = NULL;
    lua_pushlightuserdata(eng->L, eng);
    lua_setfield(eng->L, LUA_REGISTRYINDEX, "mlxbench.engine");
    luaL_openlibs(eng->L);
    mb_sig_wrap_coroutines(eng);
    mb_redact_install_io(eng->L);
    mb_redact_register_env();
    preload(eng->L);
    set_package_path(eng->L, paths, npaths);

    uv_check_init(eng->loop, &eng->check);
    eng->check.data = eng;
    uv_check_start(&eng->check, check_cb);
    uv_unref((uv_handle_t *)&eng->check);
    uv_idle_init(eng->loop, &eng->idle);
    eng->idle.data = eng;
    uv_unref((uv_handle_t *)&eng->idle);
    mb_sig_install();
    uv_async_init(eng->loop, &eng->sigasync, sigasync_cb);
    eng->sigasync.data = eng;
    uv_unref((uv_handle_t *)&eng->sigasync);
    eng->watch_signals = 1;
    eng->sig_seen = mb_sig_count();
    eng->sig_slot = -1;
    *out = eng;
    return 0;
}

struct unobserved { mb_vu *vu; const char *msg; };

static int by_task_id(const void *a, const void *b)
{
    const mb_vu *x = ((const struct unobserved *)a)->vu, *y = ((const struct unobserved *)b)->vu;
    return (x->id > y->id) - (x->id < y->id);
}

/* Prints the error of every failed task nobody joined (the registry's
 * mlxbench.failed: task -> message), oldest task first. Returns how many. */
static int report_unobserved(mb_engine *eng)
{
    lua_State *L = eng->L;
    struct unobserved *all = NULL;
    size_t cap = 0, len = 0;
    if (lua_getfield(L, LUA_REGISTRYINDEX, "mlxbench.failed") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            mb_vu *vu = lua_touserdata(L, -2);
            const char *msg = lua_tostring(L, -1);   /* anchored by the table */
            lua_pop(L, 1);
            if (!vu || vu->observed || !msg)
                continue;
            if (len == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                struct unobserved *grown = realloc(all, ncap * sizeof *all);
                if (!grown)
                    break;
                all = grown;
                cap = ncap;
            }
            all[len].vu = vu;
            all[len++].msg = msg;
        }
    }
    if (len)
        qsort(all, len, sizeof *all, by_task_id);
    for (size_t i = 0; i < len; i++) {
        mb_redact_eputs(all[i].vu == eng->main ? "mlxbench: " : "mlxbench: error in a task: ",
                        all[i].msg);
        all[i].vu->observed = 1;
    }
    free(all);
    lua_pop(L, 1);
    return (int)len;
}

int mb_engine_run_main(mb_engine *eng, int nargs)
{
    mb_sig_enter(eng);
    eng->main = mb_vu_spawn(eng->L, nargs);
    lua_pop(eng->L, 1);
    for (;;) {
        mb_sched_drain(eng);
        /* uv_run does not poll a loop that only unreferenced handles keep
         * (tasks that only yield): then look for signals here. Otherwise the
         * loop's poll delivers them in turn with the I/O that came first. */
        if (eng->watch_signals && mb_sig_count() > eng->sig_seen && !uv_loop_alive(eng->loop))
            sigasync_cb(&eng->sigasync);
        if (eng->stopping || eng->live == 0)
            break;
        uv_run(eng->loop, UV_RUN_ONCE);
        mb_sched_drain(eng);
        /* Liveness after the drain: resumed tasks may have started timers. */
        if (!uv_loop_alive(eng->loop) && !eng->ready_head && eng->live > 0 && !eng->stopping) {
            fprintf(stderr, "mlxbench: deadlock: %d task(s) wait on something "
                            "that can never happen\n", eng->live);
            eng->exit_code = 2;
            break;
        }
    }
    mb_sig_leave(eng);
    /* a signal the loop never got to (the main task was stuck in Lua and
     * the hook ended it) still makes this an interrupted run */
    if (eng->watch_signals && mb_sig_count() > eng->sig_seen)
        eng->interrupted += mb_sig_count() - eng->sig_seen;
    if (report_unobserved(eng) > 0 && eng->exit_code == 0 && !eng->interrupted)
        eng->exit_code = 2;
    if (eng->interrupted && eng->exit_code == 0)
        eng->exit_code = 130;
    return eng->exit_code;
}

void mb_engine_add_closer(mb_engine *eng, mb_closer *c)
{
    c->next = eng->closers;
    eng->closers = c;
}

void mb_engine_remove_closer(mb_engine *eng, mb_closer *c)
{
    mb_closer **pp = &eng->closers;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

void mb_engine_free(mb_engine *eng)
{
    if (!eng)
        return;
    /* Cancel live tasks first: their hooks release requests and timers. */
    while (eng->live_list)
        if (mb_vu_cancel(eng->live_list) < 0)
            break;
    while (eng->closers) {
        mb_closer *c = eng->closers;
        eng->closers = c->next;
        c->close(c->ud);
    }
    uv_run(eng->loop, UV_RUN_NOWAIT);
    uv_walk(eng->loop, walk_close, NULL);
    uv_run(eng->loop, UV_RUN_DEFAULT);
    lua_close(eng->L);
    uv_run(eng->loop, UV_RUN_DEFAULT);   /* handles closed by __gc */
    if (uv_loop_close(eng->loop) != 0) {
        uv_walk(eng->loop, walk_close, NULL);
        uv_run(eng->loop, UV_RUN_DEFAULT);
        uv_loop_close(eng->loop);
    }
    free(eng->loop);
    free(eng);
}

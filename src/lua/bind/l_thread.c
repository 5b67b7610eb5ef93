/* l_thread.c: mlxbench._thread -- engine threads (wrk's model).
 *
 * A worker is an OS thread running a fresh engine of its own: its own libuv
 * loop, lua_State and (on first use) libcurl multi handle. Nothing Lua
 * crosses between engines: the main state hands the worker a module name
 * and a payload string, the worker hands back one result string. While a
 * worker runs, the main engine keeps turning its loop (an emulator or fault
 * tasks there keep working); a task that joins the worker is suspended and
 * woken through a uv_async when the worker ends.
 *
 * Main side:
 *   _thread.start(module, payload) -> handle
 *       the worker runs require(module).worker(payload), which must return
 *       a string, in its main task
 *   h:join() -> ok, result, exit_code   (waits; call from a task)
 *   h:stop([how])    "soft" (default): the worker's _thread.stopped()
 *                    turns true (a benchmark stops sending and finishes
 *                    what is in flight); "abort": its stop_level() is 2
 *                    (a benchmark also aborts what is in flight, and
 *                    still hands back its results); "hard": its engine
 *                    stops now
 *   h:counters() -> done, inflight, failed, tokens (published by the worker)
 *   h:finished() -> bool
 * Worker side:
 *   _thread.worker() -> bool      running inside a worker?
 *   _thread.stopped() -> bool     the main state asked this worker to stop
 *   _thread.stop_level() -> 0..3  none, soft, abort, hard
 *   _thread.publish(done, inflight, failed, tokens)
 *   _thread.result(ok, string)    (the bootstrap sets it)
 *
 * The worker's engine does not watch SIGINT/SIGTERM (its thread blocks
 * them): interrupts go to the main engine, whose script decides to stop
 * the workers. At engine shutdown (or when a handle is collected) a
 * worker still running is stopped hard and joined. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <lauxlib.h>
#include "engine.h"

#define THREAD_MT "mlxbench.thread"
#define REG_KEY "mlxbench.thread_ctx"

enum { STOP_NONE = 0, STOP_SOFT = 1, STOP_ABORT = 2, STOP_HARD = 3 };
enum { C_DONE, C_INFLIGHT, C_FAILED, C_TOKENS, C_N };

typedef struct lthr lthr;

typedef struct mb_thr {
    /* main side */
    mb_engine *eng;              /* the main engine */
    uv_async_t *done_async;      /* on the main loop: the worker ended */
    uv_thread_t tid;
    int running;                 /* tid not joined yet */
    mb_vu *waiter;               /* task suspended in join */
    mb_closer closer;
    lthr *u;                     /* the Lua handle, NULL once released */
    /* shared */
    uv_mutex_t mu;               /* guards wake/worker_live */
    uv_async_t wake;             /* on the worker loop */
    mb_engine *weng;             /* the worker's engine (worker thread only) */
    int worker_live;
    atomic_int stop;
    atomic_int finished;
    atomic_llong counters[C_N];
    /* inputs (set before the thread starts) */
    char *module;
    char *payload;
    size_t payload_len;
    /* outputs (written by the worker before `finished`) */
    char *result;
    size_t result_len;
    int result_set;
    int result_ok;
    int exit_code;
} mb_thr;

struct lthr {
    mb_thr *t;
};

static const char bootstrap[] =
    "local mod, payload = ...\n"
    "local t = require 'mlxbench._thread'\n"
    "local ok, res = xpcall(function() return require(mod).worker(payload) end, debug.traceback)\n"
    "if ok and type(res) ~= 'string' then\n"
    "  ok, res = false, 'worker returned a ' .. type(res) .. ', not a string'\n"
    "end\n"
    "t.result(ok, res)\n";

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static void set_result(mb_thr *t, int ok, const char *s, size_t n)
{
    free(t->result);
    t->result = dup_bytes(s, n);
    t->result_len = t->result ? n : 0;
    t->result_ok = ok && t->result != NULL;
    t->result_set = 1;
}

/* ------------------------------------------------------------ the worker */

static mb_thr *worker_ctx(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, REG_KEY);
    mb_thr *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return t;
}

/* The main state asked for a hard stop: end this engine's run now. */
static void wake_cb(uv_async_t *h)
{
    mb_thr *t = h->data;
    mb_engine *eng = t->weng;
    if (atomic_load(&t->stop) == STOP_HARD) {
        eng->stopping = 1;
        if (eng->exit_code == 0)
            eng->exit_code = 130;
    }
}

static void worker_main(void *arg)
{
    mb_thr *t = arg;
    mb_engine *eng = NULL;
    sigset_t set;
    char msg[160];
    int rc = 2;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (mb_engine_new(&eng, NULL, 0) < 0) {
        snprintf(msg, sizeof msg, "engine thread: cannot create its engine (out of memory)");
        set_result(t, 0, msg, strlen(msg));
        goto out;
    }
    /* interrupts belong to the main engine; a signal still interrupts this
     * engine's Lua if it never yields (engine_sig.c) */
    mb_engine_ignore_signals(eng);
    t->weng = eng;
    uv_async_init(eng->loop, &t->wake, wake_cb);
    t->wake.data = t;
    uv_unref((uv_handle_t *)&t->wake);
    uv_mutex_lock(&t->mu);
    t->worker_live = 1;
    uv_mutex_unlock(&t->mu);
    if (atomic_load(&t->stop) == STOP_HARD)
        eng->stopping = 1;

    lua_State *L = eng->L;
    lua_pushlightuserdata(L, t);
    lua_setfield(L, LUA_REGISTRYINDEX, REG_KEY);
    if (luaL_loadbufferx(L, bootstrap, sizeof bootstrap - 1, "=[mlxbench thread]", "t") != LUA_OK) {
        const char *e = lua_tostring(L, -1);
        set_result(t, 0, e ? e : "bootstrap", e ? strlen(e) : 9);
        lua_pop(L, 1);
    } else {
        lua_pushstring(L, t->module);
        lua_pushlstring(L, t->payload, t->payload_len);
        rc = mb_engine_run_main(eng, 2);
    }
    uv_mutex_lock(&t->mu);
    t->worker_live = 0;
    uv_mutex_unlock(&t->mu);
    uv_close((uv_handle_t *)&t->wake, NULL);
out:
    mb_engine_free(eng);
    t->exit_code = rc;
    if (!t->result_set) {
        snprintf(msg, sizeof msg, "engine thread stopped before its work ended (exit code %d)", rc);
        set_result(t, 0, msg, strlen(msg));
    }
    atomic_store(&t->finished, 1);
    /* the last touch of `t`: the main side frees it only after joining us */
    uv_async_send(t->done_async);
}

/* ------------------------------------------------------------ main side */

static void push_outcome(lua_State *L, mb_thr *t)
{
    lua_pushboolean(L, t->result_ok);
    if (t->result)
        lua_pushlstring(L, t->result, t->result_len);
    else
        lua_pushliteral(L, "engine thread: out of memory for its result");
    lua_pushinteger(L, t->exit_code);
}

static void thr_free(mb_thr *t)
{
    free(t->module);
    free(t->payload);
    free(t->result);
    uv_mutex_destroy(&t->mu);
    free(t);
}

static void done_closed(uv_handle_t *h)
{
    mb_thr *t = h->data;
    free(h);
    thr_free(t);
}

/* Joins the OS thread once it has finished (a short wait at most). */
static void thr_reap(mb_thr *t)
{
    if (t->running && atomic_load(&t->finished)) {
        uv_thread_join(&t->tid);
        t->running = 0;
        uv_unref((uv_handle_t *)t->done_async);
    }
}

static void done_cb(uv_async_t *h)
{
    mb_thr *t = h->data;
    thr_reap(t);
    if (!t->running && t->waiter) {
        mb_vu *vu = t->waiter;
        t->waiter = NULL;
        mb_vu_wake(vu, 0);
    }
}

static void send_stop(mb_thr *t, int how)
{
    int cur = atomic_load(&t->stop);
    while (cur < how && !atomic_compare_exchange_weak(&t->stop, &cur, how))
        ;
    if (how == STOP_HARD) {
        uv_mutex_lock(&t->mu);
        if (t->worker_live)
            uv_async_send(&t->wake);
        uv_mutex_unlock(&t->mu);
    }
}

/* Ends the worker (hard) if it still runs, joins it and frees everything
 * once the main loop has closed the async handle. */
static void thr_release(mb_thr *t)
{
    if (t->u) {
        t->u->t = NULL;
        t->u = NULL;
    }
    if (t->running) {
        send_stop(t, STOP_HARD);
        uv_thread_join(&t->tid);
        t->running = 0;
    }
    mb_engine_remove_closer(t->eng, &t->closer);
    uv_close((uv_handle_t *)t->done_async, done_closed);
}

static void thr_close(void *ud)
{
    thr_release(ud);
}

static mb_thr *check_thr(lua_State *L)
{
    lthr *u = luaL_checkudata(L, 1, THREAD_MT);
    luaL_argcheck(L, u->t != NULL, 1, "engine thread already released");
    return u->t;
}

/* _thread.start(module, payload) -> handle */
static int l_start(lua_State *L)
{
    size_t mlen, plen;
    const char *mod = luaL_checklstring(L, 1, &mlen);
    const char *payload = luaL_checklstring(L, 2, &plen);
    mb_engine *eng = mb_engine_of(L);
    lthr *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    luaL_setmetatable(L, THREAD_MT);
    mb_thr *t = calloc(1, sizeof *t);
    if (!t)
        return luaL_error(L, "out of memory");
    t->module = dup_bytes(mod, mlen);
    t->payload = dup_bytes(payload, plen);
    t->payload_len = plen;
    t->done_async = malloc(sizeof *t->done_async);
    if (!t->module || !t->payload || !t->done_async || uv_mutex_init(&t->mu) != 0) {
        free(t->module);
        free(t->payload);
        free(t->done_async);
        free(t);
        return luaL_error(L, "out of memory");
    }
    t->eng = eng;
    for (int i = 0; i < C_N; i++)
        atomic_init(&t->counters[i], 0);
    atomic_init(&t->stop, STOP_NONE);
    atomic_init(&t->finished, 0);
    uv_async_init(eng->loop, t->done_async, done_cb);
    t->done_async->data = t;
    t->closer.close = thr_close;
    t->closer.ud = t;
    mb_engine_add_closer(eng, &t->closer);
    t->u = u;
    u->t = t;
    if (uv_thread_create(&t->tid, worker_main, t) != 0) {
        thr_release(t);
        return luaL_error(L, "cannot start an engine thread");
    }
    t->running = 1;
    return 1;
}

static void join_cancel(mb_vu *vu, void *ud)
{
    mb_thr *t = ud;
    (void)vu;
    t->waiter = NULL;
}

static int join_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    mb_thr *t = check_thr(L);
    push_outcome(L, t);
    return 3;
}

/* h:join() -> ok, result, exit_code */
static int t_join(lua_State *L)
{
    mb_thr *t = check_thr(L);
    lua_settop(L, 1);
    thr_reap(t);
    if (!t->running) {
        push_outcome(L, t);
        return 3;
    }
    mb_vu *vu = mb_vu_require(L, "engine thread join");
    if (t->waiter)
        return luaL_error(L, "engine thread: another task already waits for it");
    t->waiter = vu;
    return mb_vu_suspendk(L, vu, join_cancel, t, 0, join_k);
}

/* h:stop([how = "soft"]) */
static int t_stop(lua_State *L)
{
    static const char *const how[] = {"soft", "abort", "hard", NULL};
    mb_thr *t = check_thr(L);
    send_stop(t, STOP_SOFT + luaL_checkoption(L, 2, "soft", how));
    return 0;
}

/* h:counters() -> done, inflight, failed, tokens */
static int t_counters(lua_State *L)
{
    mb_thr *t = check_thr(L);
    for (int i = 0; i < C_N; i++)
        lua_pushinteger(L, (lua_Integer)atomic_load(&t->counters[i]));
    return C_N;
}

/* h:finished() -> bool */
static int t_finished(lua_State *L)
{
    lua_pushboolean(L, atomic_load(&check_thr(L)->finished));
    return 1;
}

static int t_gc(lua_State *L)
{
    lthr *u = luaL_checkudata(L, 1, THREAD_MT);
    if (u->t)
        thr_release(u->t);
    return 0;
}

/* _thread.worker() -> bool */
static int l_worker(lua_State *L)
{
    lua_pushboolean(L, worker_ctx(L) != NULL);
    return 1;
}

/* _thread.stopped() -> bool: always false outside a worker */
static int l_stopped(lua_State *L)
{
    mb_thr *t = worker_ctx(L);
    lua_pushboolean(L, t && atomic_load(&t->stop) != STOP_NONE);
    return 1;
}

/* _thread.stop_level() -> 0 none, 1 soft, 2 abort, 3 hard */
static int l_stop_level(lua_State *L)
{
    mb_thr *t = worker_ctx(L);
    lua_pushinteger(L, t ? atomic_load(&t->stop) : STOP_NONE);
    return 1;
}

/* _thread.publish(done, inflight, failed, tokens): progress for the main
 * state's status line; a no-op outside a worker. */
static int l_publish(lua_State *L)
{
    mb_thr *t = worker_ctx(L);
    if (!t)
        return 0;
    for (int i = 0; i < C_N; i++)
        atomic_store(&t->counters[i], (long long)luaL_optinteger(L, i + 1, 0));
    return 0;
}

/* _thread.result(ok, string) */
static int l_result(lua_State *L)
{
    mb_thr *t = worker_ctx(L);
    size_t n;
    int ok = lua_toboolean(L, 1);
    const char *s = luaL_tolstring(L, 2, &n);
    if (!t)
        return luaL_error(L, "_thread.result: not in an engine thread");
    set_result(t, ok, s, n);
    return 0;
}

int luaopen_mlxbench_thread(lua_State *L)
{
    static const luaL_Reg m[] = {
        {"join", t_join}, {"stop", t_stop}, {"counters", t_counters},
        {"finished", t_finished}, {NULL, NULL}};
    static const luaL_Reg f[] = {
        {"start", l_start}, {"worker", l_worker}, {"stopped", l_stopped},
        {"stop_level", l_stop_level},
        {"publish", l_publish}, {"result", l_result}, {NULL, NULL}};
    if (luaL_newmetatable(L, THREAD_MT)) {
        luaL_newlib(L, m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, t_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    luaL_newlib(L, f);
    return 1;
}

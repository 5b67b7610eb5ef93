/* engine_sig.c: SIGINT, SIGTERM and SIGHUP for every engine, even when its
 * Lua never yields.
 *
 * The process owns one handler for the three signals (not libuv's: its
 * watchers run only when the loop turns, and a `while true do end` never
 * lets it). The handler, async-signal-safe throughout:
 *   - counts the signal; the third leaves at once (_exit(130));
 *   - wakes the main engine's loop (uv_async_send), which runs the stages
 *     (engine.c: the script's interrupt hook, aborts) as before;
 *   - pokes every running engine: on its own thread (directly, or through
 *     SIGURG sent with pthread_kill -- the signal Go uses for the same job)
 *     it sets a count hook (lua_sethook, which Lua documents as safe from a
 *     signal handler) on the coroutines running there.
 * The hook costs nothing until a signal: then, every 1,000 instructions,
 * it checks whether the loop got control since (the engine's `turns`). If
 * it did, the hook removes itself; if the Lua code has run for
 * MB_INTR_BUSY_NS without yielding, it raises "interrupted by SIGINT" in
 * the running coroutine -- so a stuck task, `on_result` callback or engine
 * thread ends and the documented grace period and writing of results go on.
 *
 * The coroutines "running" on an engine are the task it resumed and any
 * coroutine that task resumed in turn (coroutine.resume/wrap are wrapped to
 * keep that stack), because a hook belongs to one lua_State. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include "engine.h"
#include "mlxbench/clock.h"

#define MAX_ENGINES 256
#define HOOK_COUNT 1000
#define POKE_SIGNAL SIGURG       /* default: ignored; unused by libuv and libcurl */

/* A running engine, as the handler sees it. `busy` keeps the slot (and the
 * thread) alive while a handler uses it. */
typedef struct {
    atomic_int claimed;          /* taken by an engine (tid being set) */
    _Atomic(mb_engine *) eng;    /* published once tid is set */
    pthread_t tid;
    atomic_int busy;
} sig_slot;

static sig_slot slots[MAX_ENGINES];
static atomic_int nsignals;                 /* SIGINT/SIGTERM/SIGHUP received */
static volatile sig_atomic_t last_signum;
static _Thread_local mb_engine *tl_eng;     /* the engine running on this thread */
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

const char *mb_sig_name(int signum)
{
    return signum == SIGINT ? "SIGINT" : signum == SIGTERM ? "SIGTERM"
         : signum == SIGHUP ? "SIGHUP" : "a signal";
}

/* Blocks (how = SIG_BLOCK) or restores the signals whose handlers arm
 * hooks, on this thread: a lua_sethook that removes a hook must not be
 * interrupted by one that sets it on the same state (the mix would leave
 * it off). */
static void poke_mask(int how, sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, POKE_SIGNAL);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    pthread_sigmask(how, how == SIG_SETMASK ? old : &s, how == SIG_SETMASK ? NULL : old);
}

static void disarm(lua_State *L)
{
    sigset_t old;
    poke_mask(SIG_BLOCK, &old);
    lua_sethook(L, NULL, 0, 0);
    poke_mask(SIG_SETMASK, &old);
}

/* The count hook: nothing while the loop turns; an error in the running
 * coroutine when Lua has kept the loop away for MB_INTR_BUSY_NS. */
static void intr_hook(lua_State *L, lua_Debug *ar)
{
    mb_engine *eng = tl_eng;
    (void)ar;
    if (!eng || !eng->poked || eng->turns != eng->poke_turns) {
        disarm(L);
        return;
    }
    uint64_t now = mb_clock_now_ns();
    if (now - eng->poke_ns < MB_INTR_BUSY_NS)
        return;
    eng->poke_ns = now;   /* still stuck after this (a pcall loop): again later */
    lua_Debug d;
    char where[200] = "", msg[300];
    if (lua_getstack(L, 0, &d) && lua_getinfo(L, "Sl", &d) && d.currentline > 0)
        snprintf(where, sizeof where, " at %s:%d", d.short_src, d.currentline);
    snprintf(msg, sizeof msg, "%s%s while running Lua%s (it had not yielded for %.1f s)",
             MB_INTERRUPTED, mb_sig_name(eng->poke_signum), where, (double)MB_INTR_BUSY_NS / 1e9);
    lua_pushstring(L, msg);
    lua_error(L);
}

/* Sets the hook on every coroutine running on eng. Runs on eng's thread
 * (the signal handler or the poke handler). */
static void arm(mb_engine *eng, int signum)
{
    eng->poke_turns = eng->turns;
    eng->poke_ns = mb_clock_now_ns();
    eng->poke_signum = signum;
    eng->poked = 1;
    int n = eng->nrunning;
    atomic_signal_fence(memory_order_acquire);
    for (int i = 0; i < n && i < MB_RUN_MAX; i++)
        lua_sethook(eng->running[i], intr_hook, LUA_MASKCOUNT, HOOK_COUNT);
}

static void on_poke(int signum)
{
    int saved = errno;
    (void)signum;
    if (tl_eng)
        arm(tl_eng, last_signum);
    errno = saved;
}

/* The process's handler for SIGINT, SIGTERM and SIGHUP. */
static void on_signal(int signum)
{
    int saved = errno;
    int n = atomic_fetch_add(&nsignals, 1) + 1;
    last_signum = signum;
    if (n >= 3)
        _exit(130);
    if (signum == SIGHUP) {
        /* the terminal is gone: a write to a dead pipe must not kill the
         * run before its results are written */
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &ign, NULL);
    }
    for (int i = 0; i < MAX_ENGINES; i++) {
        sig_slot *s = &slots[i];
        if (!atomic_load(&s->eng))
            continue;
        atomic_fetch_add(&s->busy, 1);
        mb_engine *eng = atomic_load(&s->eng);
        if (eng) {
            if (eng->watch_signals)
                uv_async_send(&eng->sigasync);
            if (pthread_equal(pthread_self(), s->tid))
                arm(eng, signum);
            else
                pthread_kill(s->tid, POKE_SIGNAL);
        }
        atomic_fetch_sub(&s->busy, 1);
    }
    errno = saved;
}

static void install(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* nohup(1) asked to survive the hangup: respect it */
    if (sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_poke;
    sigaction(POKE_SIGNAL, &sa, NULL);
}

/* Installs the process's handlers (once). */
void mb_sig_install(void)
{
    pthread_once(&install_once, install);
}

int mb_sig_count(void)
{
    return atomic_load(&nsignals);
}

int mb_sig_last(void)
{
    return last_signum;
}

/* Registers eng as running on this thread: signals poke it from now on. */
int mb_sig_enter(mb_engine *eng)
{
    tl_eng = eng;
    for (int i = 0; i < MAX_ENGINES; i++) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong(&slots[i].claimed, &free_slot, 1)) {
            slots[i].tid = pthread_self();
            atomic_store(&slots[i].eng, eng);
            eng->sig_slot = i;
            if (eng->watch_signals && mb_sig_count() > eng->sig_seen)
                uv_async_send(&eng->sigasync);   /* one came before we listened */
            return 0;
        }
    }
    eng->sig_slot = -1;   /* 256 engines at once: this one is not poked */
    return -1;
}

/* Unregisters eng; waits for a handler still using its slot. */
void mb_sig_leave(mb_engine *eng)
{
    if (eng->sig_slot >= 0) {
        sig_slot *s = &slots[eng->sig_slot];
        atomic_store(&s->eng, NULL);
        while (atomic_load(&s->busy))
            ;   /* a handler on another thread is between its two loads */
        atomic_store(&s->claimed, 0);
        eng->sig_slot = -1;
    }
    tl_eng = NULL;
}

/* Pushes a coroutine that starts running on eng; 0 when the stack is full
 * (then it is not pushed: the caller must not pop). */
int mb_sig_run_push(mb_engine *eng, lua_State *co)
{
    int n = eng->nrunning;
    if (n >= MB_RUN_MAX)
        return 0;
    eng->running[n] = co;
    atomic_signal_fence(memory_order_release);
    eng->nrunning = n + 1;
    if (eng->poked && eng->turns == eng->poke_turns)
        lua_sethook(co, intr_hook, LUA_MASKCOUNT, HOOK_COUNT);   /* stuck caller, new callee */
    return 1;
}

void mb_sig_run_pop(mb_engine *eng)
{
    if (eng->nrunning > 0)
        eng->nrunning--;
}

/* ---- coroutine.resume and coroutine.wrap, tracked ------------------------ */

/* coroutine.resume(co, ...): upvalues 1 = Lua's resume, 2 = the engine. */
static int co_resume(lua_State *L)
{
    mb_engine *eng = lua_touserdata(L, lua_upvalueindex(2));
    lua_State *co = lua_tothread(L, 1);
    int pushed = co && mb_sig_run_push(eng, co);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (pushed)
        mb_sig_run_pop(eng);
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* A function from coroutine.wrap: upvalues 1 = Lua's wrapper, 2 = its
 * coroutine, 3 = the engine. */
static int co_wrapped(lua_State *L)
{
    mb_engine *eng = lua_touserdata(L, lua_upvalueindex(3));
    int pushed = mb_sig_run_push(eng, lua_tothread(L, lua_upvalueindex(2)));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int st = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (pushed)
        mb_sig_run_pop(eng);
    if (st != LUA_OK)
        return lua_error(L);
    return lua_gettop(L);
}

/* coroutine.wrap(f): upvalues 1 = Lua's wrap, 2 = the engine. */
static int co_wrap(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    if (!lua_getupvalue(L, -1, 1) || !lua_isthread(L, -1)) {
        lua_pop(L, 1);
        return 1;   /* not the wrapper we know: leave it untracked */
    }
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_pushcclosure(L, co_wrapped, 3);
    return 1;
}

/* Replaces coroutine.resume and coroutine.wrap with tracking versions. */
void mb_sig_wrap_coroutines(mb_engine *eng)
{
    lua_State *L = eng->L;
    lua_getglobal(L, "coroutine");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "resume");
        lua_pushlightuserdata(L, eng);
        lua_pushcclosure(L, co_resume, 2);
        lua_setfield(L, -2, "resume");
        lua_getfield(L, -1, "wrap");
        lua_pushlightuserdata(L, eng);
        lua_pushcclosure(L, co_wrap, 2);
        lua_setfield(L, -2, "wrap");
    }
    lua_pop(L, 1);
}

/* sched.c: tasks (virtual users) as Lua coroutines on the engine's loop.
 *
 * A task object is a full userdata holding its mb_vu; user values: 1 = the
 * coroutine, 2 = the error message (+ traceback) once it failed. While a task
 * is not DONE, the registry anchors it, so the collector cannot take a task
 * some timer or request will wake. Results stay on the finished coroutine's
 * stack until joined. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "engine.h"
#include "mlxbench/clock.h"

#define TASK_MT "mlxbench.task"

static void vu_timer_closed(uv_handle_t *h) { free(h); }

/* Finishes a task: releases its anchor and timer, wakes its joiners. The
 * outcome (results or error) is already stored. */
static void vu_finish(mb_vu *vu)
{
    mb_engine *eng = vu->eng;
    assert(vu->state != MB_VU_DONE && eng->live > 0 && vu->ref != LUA_NOREF);
    vu->state = MB_VU_DONE;
    vu->cancel = NULL;
    eng->live--;
    if (vu->prev_live)
        vu->prev_live->next_live = vu->next_live;
    else
        eng->live_list = vu->next_live;
    if (vu->next_live)
        vu->next_live->prev_live = vu->prev_live;
    vu->prev_live = vu->next_live = NULL;
    if (vu->timer) {
        uv_close((uv_handle_t *)vu->timer, vu_timer_closed);
        vu->timer = NULL;
    }
    while (vu->waiters) {
        mb_vu *w = vu->waiters;
        vu->waiters = w->next_waiter;
        w->next_waiter = NULL;
        w->joining = NULL;
        mb_vu_wake(w, 0);  /* the joiner reads the outcome itself */
    }
    luaL_unref(eng->L, LUA_REGISTRYINDEX, vu->ref);
    vu->ref = LUA_NOREF;
}

/* Records the error at the top of vu->co (with its traceback) as the task's
 * outcome. Runs on the main state so the message outlives the coroutine. */
static void vu_store_error(mb_vu *vu)
{
    lua_State *L = vu->eng->L, *co = vu->co;
    const char *msg = lua_tostring(co, -1);
    if (!msg) {
        if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING)
            msg = lua_tostring(co, -1);
        else
            msg = lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, vu->ref);
    if (strstr(msg, MB_INTERRUPTED)) {
        /* an interrupt is not a bug: said once, no traceback, and whoever
         * waits for this task goes on (a benchmark still writes results) */
        mb_redact_eputs(vu == vu->eng->main ? "mlxbench: " : "mlxbench: a task was ", msg);
        vu->interrupted = 1;
        vu->observed = 1;
        lua_pushstring(L, msg);
        lua_setiuservalue(L, -2, 2);
        lua_pop(L, 1);
        vu->failed = 1;
        return;
    }
    luaL_traceback(L, co, msg, 0);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, -3, 2);
    /* Remember it until it is joined: an error nobody joins is reported
     * when the script ends (failed[task] = message; push_outcome forgets it). */
    if (lua_getfield(L, LUA_REGISTRYINDEX, "mlxbench.failed") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "mlxbench.failed");
    }
    lua_pushvalue(L, -3);   /* the task */
    lua_pushvalue(L, -3);   /* its message */
    lua_rawset(L, -3);
    lua_pop(L, 3);
    vu->failed = 1;
}

/* Drops a failed task from the unjoined-failures set once its error has
 * been observed, so a long run of failing tasks holds none of them. */
static void forget_failed(lua_State *L, int ti)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "mlxbench.failed") == LUA_TTABLE) {
        lua_pushvalue(L, ti);
        lua_pushnil(L);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}

/* Resumes one task and handles the three outcomes: yielded (waiting),
 * returned (results kept on its stack) or raised (error stored). */
static void vu_resume(mb_vu *vu)
{
    mb_engine *eng = vu->eng;
    int nres = 0, st;
    assert(vu->state == MB_VU_READY && !vu->next_ready);
    vu->state = MB_VU_RUNNING;
    int pushed = mb_sig_run_push(eng, vu->co);
    st = lua_resume(vu->co, eng->L, vu->nargs, &nres);
    if (pushed)
        mb_sig_run_pop(eng);
    vu->nargs = 0;
    if (st == LUA_YIELD) {
        /* A plain coroutine.yield inside a task has no waker: treat it as
         * "let others run" and requeue it with the yielded values dropped. */
        if (vu->state == MB_VU_RUNNING) {
            lua_pop(vu->co, nres);
            vu->state = MB_VU_WAITING;
            mb_vu_wake(vu, 0);
        } else {
            lua_pop(vu->co, nres);
        }
        return;
    }
    if (st != LUA_OK) {
        vu_store_error(vu);
        lua_resetthread(vu->co);
    }
    vu_finish(vu);
    if (vu->failed && vu == eng->main)
        eng->stopping = 1;   /* the main chunk failed: stop everything */
}

/* The idle handle only keeps poll from blocking while tasks are ready; the
 * drain itself runs from the check handle and the run loop. */
static void idle_cb(uv_idle_t *h)
{
    mb_sched_drain(h->data);
}

void mb_vu_wake(mb_vu *vu, int nargs)
{
    mb_engine *eng = vu->eng;
    if (vu->state != MB_VU_WAITING)
        return;
    vu->state = MB_VU_READY;
    vu->cancel = NULL;
    vu->nargs = nargs;
    vu->next_ready = NULL;
    if (eng->ready_tail)
        eng->ready_tail->next_ready = vu;
    else
        eng->ready_head = vu;
    eng->ready_tail = vu;
    assert(eng->ready_head && !vu->next_ready);
    /* An active idle handle makes the next poll non-blocking. */
    if (!uv_is_active((uv_handle_t *)&eng->idle))
        uv_idle_start(&eng->idle, idle_cb);
}

/* Runs the ready tasks, those spawned or woken meanwhile included, until
 * it meets one that already ran in this drain: a task yielding with
 * sleep(0), or two waking each other, then wait for the next drain -- so a
 * task that only ever yields still lets the loop poll (a signal, a timer,
 * a socket), and a task spawned now starts now. */
void mb_sched_drain(mb_engine *eng)
{
    if (eng->draining)
        return;
    eng->draining = 1;
    eng->turns++;
    while (eng->ready_head && !eng->stopping) {
        mb_vu *vu = eng->ready_head;
        if (vu->ran_turn == eng->turns)
            break;   /* it already ran in this drain: the loop polls first */
        eng->ready_head = vu->next_ready;
        if (!eng->ready_head)
            eng->ready_tail = NULL;
        vu->next_ready = NULL;
        assert(!eng->ready_head == !eng->ready_tail);
        if (vu->state == MB_VU_READY) {
            vu->ran_turn = eng->turns;
            vu_resume(vu);
        }
    }
    if (!eng->ready_head)
        uv_idle_stop(&eng->idle);
    eng->draining = 0;
}

mb_vu *mb_vu_current(lua_State *L)
{
    return *(mb_vu **)lua_getextraspace(L);
}

mb_engine *mb_engine_of(lua_State *L)
{
    mb_vu *vu = mb_vu_current(L);
    if (vu)
        return vu->eng;
    /* The main thread keeps the engine in its registry slot. */
    lua_getfield(L, LUA_REGISTRYINDEX, "mlxbench.engine");
    mb_engine *eng = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return eng;
}

mb_vu *mb_vu_require(lua_State *L, const char *fname)
{
    mb_vu *vu = mb_vu_current(L);
    if (!vu || vu->co != L || !lua_isyieldable(L))
        luaL_error(L, "%s: must be called from a task (the main chunk or a "
                      "function started with mlxbench.spawn), not from a C callback", fname);
    return vu;
}

int mb_vu_suspend(lua_State *L, mb_vu *vu, mb_vu_cancel_fn cancel, void *ud)
{
    assert(vu->state == MB_VU_RUNNING && vu->co == L);
    vu->state = MB_VU_WAITING;
    vu->cancel = cancel;
    vu->cancel_ud = ud;
    return lua_yield(L, 0);
}

int mb_vu_suspendk(lua_State *L, mb_vu *vu, mb_vu_cancel_fn cancel, void *ud,
                   lua_KContext ctx, lua_KFunction k)
{
    assert(vu->state == MB_VU_RUNNING && vu->co == L);
    vu->state = MB_VU_WAITING;
    vu->cancel = cancel;
    vu->cancel_ud = ud;
    return lua_yieldk(L, 0, ctx, k);
}

static int t_cancel(lua_State *L);
static int t_done(lua_State *L);
static int t_status(lua_State *L);
static int t_id(lua_State *L);
static int t_tostring(lua_State *L);

/* Pushes the task metatable, creating it on first use. */
static void push_task_mt(lua_State *L)
{
    static const luaL_Reg task_m[] = {
        {"cancel", t_cancel}, {"done", t_done}, {"status", t_status},
        {"id", t_id}, {NULL, NULL}};
    if (luaL_newmetatable(L, TASK_MT)) {
        luaL_newlib(L, task_m);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, t_tostring);
        lua_setfield(L, -2, "__tostring");
    }
}

mb_vu *mb_vu_spawn(lua_State *L, int nargs)
{
    mb_engine *eng = mb_engine_of(L);
    int base = lua_gettop(L) - nargs;   /* index of the function */
    luaL_checktype(L, base, LUA_TFUNCTION);
    mb_vu *vu = lua_newuserdatauv(L, sizeof *vu, 2);
    memset(vu, 0, sizeof *vu);
    push_task_mt(L);   /* the main task exists before _sched is required */
    lua_setmetatable(L, -2);
    vu->eng = eng;
    vu->id = ++eng->next_id;
    vu->ref = LUA_NOREF;
    vu->co = lua_newthread(L);
    *(mb_vu **)lua_getextraspace(vu->co) = vu;
    lua_setiuservalue(L, -2, 1);
    /* stack: fn args... task -> move fn and args onto the coroutine */
    lua_insert(L, base);                /* task fn args... */
    lua_xmove(L, vu->co, nargs + 1);    /* task */
    lua_pushvalue(L, -1);
    vu->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    eng->live++;
    vu->next_live = eng->live_list;
    if (eng->live_list)
        eng->live_list->prev_live = vu;
    eng->live_list = vu;
    vu->state = MB_VU_WAITING;
    mb_vu_wake(vu, nargs);
    return vu;
}

static mb_vu *check_task(lua_State *L, int i)
{
    return luaL_checkudata(L, i, TASK_MT);
}

/* Pushes a finished task's outcome onto L: its results, or raises its error.
 * Marks the outcome observed so the engine does not report it again. */
static int push_outcome(lua_State *L, int ti, mb_vu *t)
{
    t->observed = 1;
    if (t->interrupted)
        return 0;   /* ended by an interrupt (engine_sig.c): no results */
    if (t->failed) {
        ti = lua_absindex(L, ti);
        forget_failed(L, ti);
        lua_getiuservalue(L, ti, 2);
        return lua_error(L);
    }
    if (t->cancelled) {
        lua_pushfstring(L, "task %d was cancelled", t->id);
        return lua_error(L);
    }
    int n = lua_gettop(t->co);
    luaL_checkstack(L, n, "too many results");
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(t->co, i);
        lua_xmove(t->co, L, 1);
    }
    return n;
}

static int join_cont(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    return push_outcome(L, (int)ctx, check_task(L, (int)ctx));
}

/* Called when a joining task is cancelled: unlink it from the waiters. */
static void join_cancel(mb_vu *vu, void *ud)
{
    mb_vu *t = ud, **pp = &t->waiters;
    while (*pp && *pp != vu)
        pp = &(*pp)->next_waiter;
    if (*pp)
        *pp = vu->next_waiter;
    vu->next_waiter = NULL;
    vu->joining = NULL;
}

/* _sched.join(task) -> the task's results; re-raises its error. */
static int l_join(lua_State *L)
{
    mb_vu *t = check_task(L, 1);
    lua_settop(L, 1);
    if (t->state == MB_VU_DONE)
        return push_outcome(L, 1, t);
    mb_vu *vu = mb_vu_require(L, "mlxbench.wait");
    if (t == vu)
        return luaL_error(L, "mlxbench.wait: a task cannot wait for itself");
    for (mb_vu *j = t; j; j = j->joining)
        if (j == vu)
            return luaL_error(L, "mlxbench.wait: deadlock (task %d waits on task %d which waits on it)",
                              vu->id, t->id);
    vu->next_waiter = t->waiters;
    t->waiters = vu;
    vu->joining = t;
    vu->state = MB_VU_WAITING;
    vu->cancel = join_cancel;
    vu->cancel_ud = t;
    return lua_yieldk(L, 0, 1, join_cont);
}

/* _sched.spawn(fn, ...) -> task */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    mb_vu_spawn(L, lua_gettop(L) - 1);
    return 1;
}

/* Whole milliseconds (rounded up) from now to the deadline, 0 if past. */
static uint64_t ms_until(uint64_t deadline_ns)
{
    uint64_t now = mb_clock_now_ns();
    return deadline_ns > now ? (deadline_ns - now + 999999u) / 1000000u : 0;
}

/* libuv timers count from the loop's cached time, which may be behind the
 * clock, so a timer can fire early: re-arm for the rest rather than wake a
 * sleeper before its deadline. */
static void sleep_fired(uv_timer_t *t)
{
    mb_vu *vu = t->data;
    uint64_t ms = ms_until(vu->wake_ns);
    if (ms > 0) {
        uv_update_time(t->loop);
        uv_timer_start(t, sleep_fired, ms, 0);
        return;
    }
    mb_vu_wake(vu, 0);
}

static void sleep_cancel(mb_vu *vu, void *ud)
{
    (void)ud;
    uv_timer_stop(vu->timer);
}

/* time.sleep(s): suspends the task on its own libuv timer. sleep(0) yields to
 * every other ready task once. */
int mb_l_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    luaL_argcheck(L, s >= 0 && s < 1e9, 1, "must be a number of seconds >= 0");
    mb_vu *vu = mb_vu_require(L, "mlxbench.time.sleep");
    if (!vu->timer) {
        vu->timer = malloc(sizeof *vu->timer);
        if (!vu->timer)
            return luaL_error(L, "out of memory");
        uv_timer_init(vu->eng->loop, vu->timer);
        vu->timer->data = vu;
    }
    if (s == 0) {
        vu->state = MB_VU_WAITING;
        mb_vu_wake(vu, 0);
        return lua_yield(L, 0);
    }
    /* never early, at most ~1 ms late: libuv timers have ms resolution */
    vu->wake_ns = mb_clock_now_ns() + (uint64_t)(s * 1e9);
    uv_update_time(vu->eng->loop);
    uv_timer_start(vu->timer, sleep_fired, ms_until(vu->wake_ns), 0);
    return mb_vu_suspend(L, vu, sleep_cancel, NULL);
}

int mb_vu_cancel(mb_vu *t)
{
    if (t->state == MB_VU_DONE)
        return 0;
    if (t->state == MB_VU_RUNNING)
        return -1;
    if (t->state == MB_VU_WAITING && t->cancel)
        t->cancel(t, t->cancel_ud);
    if (t->state == MB_VU_READY) {   /* unlink from the ready queue */
        mb_engine *eng = t->eng;
        mb_vu **pp = &eng->ready_head, *prev = NULL;
        while (*pp && *pp != t) {
            prev = *pp;
            pp = &(*pp)->next_ready;
        }
        if (*pp) {
            *pp = t->next_ready;
            if (eng->ready_tail == t)
                eng->ready_tail = prev;
        }
    }
    t->cancelled = 1;
    t->observed = 1;
    lua_settop(t->co, 0);
    lua_resetthread(t->co);   /* runs pending to-be-closed variables */
    vu_finish(t);
    return 0;
}

/* task:cancel(): stops a task where it waits. It never resumes; joiners see
 * "task N was cancelled". Returns false if it had already finished. */
static int t_cancel(lua_State *L)
{
    mb_vu *t = check_task(L, 1);
    int was_live = t->state != MB_VU_DONE;
    if (mb_vu_cancel(t) < 0)
        return luaL_error(L, "task:cancel: a running task cannot cancel itself");
    lua_pushboolean(L, was_live);
    return 1;
}

static int t_done(lua_State *L)
{
    lua_pushboolean(L, check_task(L, 1)->state == MB_VU_DONE);
    return 1;
}

static int t_status(lua_State *L)
{
    mb_vu *t = check_task(L, 1);
    static const char *const names[] = {"ready", "running", "waiting", "done"};
    if (t->state == MB_VU_DONE)
        lua_pushstring(L, t->cancelled ? "cancelled" : t->failed ? "failed" : "done");
    else
        lua_pushstring(L, names[t->state]);
    return 1;
}

static int t_id(lua_State *L)
{
    lua_pushinteger(L, check_task(L, 1)->id);
    return 1;
}

static int t_tostring(lua_State *L)
{
    mb_vu *t = check_task(L, 1);
    lua_pushfstring(L, "task %d (%s)", t->id, t->state == MB_VU_DONE ? "done" : "live");
    return 1;
}

static void park_cancel(mb_vu *vu, void *ud)
{
    (void)ud;
    vu->parked = 0;
}

/* _sched.park(): suspends the running task until someone unparks it. An
 * unpark that came first is kept as a permit, so park/unpark never lose a
 * wake-up (the primitive behind queues and semaphores in Lua). */
static int l_park(lua_State *L)
{
    mb_vu *vu = mb_vu_require(L, "mlxbench.park");
    if (vu->permit) {
        vu->permit = 0;
        return 0;
    }
    vu->parked = 1;
    return mb_vu_suspend(L, vu, park_cancel, NULL);
}

/* _sched.unpark(task): wakes a parked task, or leaves it a permit. */
static int l_unpark(lua_State *L)
{
    mb_vu *t = check_task(L, 1);
    if (t->state == MB_VU_DONE)
        return 0;
    if (t->parked && t->state == MB_VU_WAITING) {
        t->parked = 0;
        mb_vu_wake(t, 0);
    } else {
        t->permit = 1;
    }
    return 0;
}

/* _sched.current() -> the running task, or nil outside tasks. */
static int l_current(lua_State *L)
{
    mb_vu *vu = mb_vu_current(L);
    if (!vu || vu->ref == LUA_NOREF)
        lua_pushnil(L);
    else
        lua_rawgeti(L, LUA_REGISTRYINDEX, vu->ref);
    return 1;
}

/* _sched.interrupted() -> number of SIGINT/SIGTERM/SIGHUP received so
 * far, counting those the loop has not handled yet (Lua learns of them at
 * once, even when a blocking read kept the loop away). */
static int l_interrupted(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    int pending = eng->watch_signals ? mb_sig_count() - eng->sig_seen : 0;
    lua_pushinteger(L, eng->interrupted + (pending > 0 ? pending : 0));
    return 1;
}

/* _sched.on_interrupt(fn|nil) -> previous fn|nil: fn runs as a new task on
 * the first Ctrl-C instead of stopping at once, so a benchmark can write
 * what it measured. */
static int l_on_interrupt(lua_State *L)
{
    mb_engine *eng = mb_engine_of(L);
    if (!lua_isnoneornil(L, 1))
        luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    if (eng->interrupt_ref != LUA_NOREF)
        lua_rawgeti(L, LUA_REGISTRYINDEX, eng->interrupt_ref);   /* 2: the previous hook */
    else
        lua_pushnil(L);
    luaL_unref(L, LUA_REGISTRYINDEX, eng->interrupt_ref);
    eng->interrupt_ref = LUA_NOREF;
    if (!lua_isnoneornil(L, 1)) {
        lua_pushvalue(L, 1);
        eng->interrupt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    return 1;
}

/* _sched.live() -> number of tasks not yet finished. */
static int l_live(lua_State *L)
{
    lua_pushinteger(L, mb_engine_of(L)->live);
    return 1;
}

int luaopen_mlxbench_sched(lua_State *L)
{
    push_task_mt(L);
    lua_pop(L, 1);
    static const luaL_Reg f[] = {
        {"spawn", l_spawn}, {"join", l_join}, {"sleep", mb_l_sleep},
        {"current", l_current}, {"interrupted", l_interrupted},
        {"on_interrupt", l_on_interrupt}, {"live", l_live}, {"park", l_park},
        {"unpark", l_unpark}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

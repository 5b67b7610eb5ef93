/* engine: one libuv loop + one lua_State + the task (VU) scheduler.
 *
 * Every task is a Lua coroutine. A C function that must wait (sleep, an HTTP
 * request, a join) registers what will wake it and yields with
 * mb_vu_suspend(); whoever completes the wait pushes the results onto the
 * task's stack and calls mb_vu_wake(). Wakes only enqueue: tasks are resumed
 * from the scheduler's drain point (a uv_check after I/O callbacks, and the
 * run loop), never from inside a libcurl or libuv callback that is itself
 * inside a library call. */
#ifndef MB_ENGINE_H
#define MB_ENGINE_H

#include <signal.h>
#include <stdint.h>
#include <uv.h>
#include <lua.h>

typedef struct mb_engine mb_engine;
typedef struct mb_vu mb_vu;

/* Called when a suspended task is cancelled: release whatever it waits on.
 * Must not wake the task. */
typedef void (*mb_vu_cancel_fn)(mb_vu *vu, void *ud);

/* A resource that must be released before the loop closes (servers, the HTTP
 * client). Closers run in reverse order of registration. */
typedef struct mb_closer {
    void (*close)(void *ud);
    void *ud;
    struct mb_closer *next;
} mb_closer;

enum { MB_VU_READY, MB_VU_RUNNING, MB_VU_WAITING, MB_VU_DONE };

/* Coroutines tracked as running on one engine (a task and what it resumed). */
#define MB_RUN_MAX 256
/* Lua that keeps the loop away this long after a signal gets an error. */
#define MB_INTR_BUSY_NS 500000000ull
/* The start of that error's message (no traceback is added to it). */
#define MB_INTERRUPTED "interrupted by "

struct mb_vu {
    mb_engine *eng;
    lua_State *co;
    int ref;                 /* registry ref to the task userdata while live */
    int id;
    int state;
    int nargs;               /* values pushed on co for the next resume */
    int failed;              /* finished with an error (uservalue 2 holds it) */
    int observed;            /* someone joined it and saw its outcome */
    int cancelled;
    int interrupted;         /* its Lua was interrupted by a signal */
    int permit;              /* unpark() arrived before park() */
    int parked;              /* suspended in park() */
    int ran_turn;            /* the drain (engine turns) it last ran in */
    mb_vu *next_ready;
    mb_vu *prev_live, *next_live;  /* engine's list of tasks not yet DONE */
    mb_vu *waiters;          /* tasks joined on this one (linked by next_waiter) */
    mb_vu *next_waiter;
    mb_vu *joining;          /* the task this one waits on, if any */
    mb_vu_cancel_fn cancel;  /* set while WAITING on an external operation */
    void *cancel_ud;
    uv_timer_t *timer;       /* sleep timer, created on first use */
    uint64_t wake_ns;        /* sleep deadline (monotonic ns) */
};

struct mb_engine {
    uv_loop_t *loop;
    lua_State *L;
    uv_check_t check;
    uv_idle_t idle;
    uv_async_t sigasync;     /* a signal arrived (engine_sig.c), for the loop */
    int watch_signals;       /* this engine runs the stages (not a worker) */
    int sig_seen;            /* signals the loop has handled */
    int sig_slot;            /* engine_sig.c's slot while running, or -1 */
    volatile sig_atomic_t turns;      /* drains started: the loop had control */
    volatile sig_atomic_t poked;      /* a signal set the interrupt hook */
    volatile sig_atomic_t poke_turns; /* turns when it was set */
    volatile sig_atomic_t poke_signum;
    volatile uint64_t poke_ns;
    lua_State *volatile running[MB_RUN_MAX];   /* coroutines running, outermost first */
    volatile sig_atomic_t nrunning;
    mb_vu *main;             /* the script's main chunk */
    mb_vu *live_list;        /* every task not yet DONE */
    mb_vu *ready_head, *ready_tail;
    int draining;
    int live;                /* tasks not yet DONE */
    int next_id;
    int stopping;            /* run loop should end (main failed, stop()) */
    int exit_code;           /* 0 ok, 2 script error, 130 interrupted */
    int interrupted;         /* SIGINT/SIGTERM/SIGHUP count */
    int interrupt_ref;       /* Lua function to run on the first interrupt */
    mb_closer *closers;
    void *slots[8];          /* per-engine singletons of other bindings */
};

/* Slots in mb_engine.slots, so bindings find their per-engine state. */
enum { MB_SLOT_HTTP = 0, MB_SLOT_MOCK = 1, MB_SLOT_LLM = 2 };

/* Creates the engine: loop, Lua state with the standard libraries, cjson and
 * the embedded mlxbench modules preloaded, package.path from `paths`. */
int mb_engine_new(mb_engine **out, const char *const *paths, int npaths);
/* Runs registered closers, closes every handle, frees the state and loop. */
void mb_engine_free(mb_engine *eng);

/* Starts fn (at stack top, with nargs arguments above it) as the main task and
 * runs the loop until every task is done or the engine stops. Returns the
 * process exit code (0, 2 or 130). */
int mb_engine_run_main(mb_engine *eng, int nargs);

void mb_engine_add_closer(mb_engine *eng, mb_closer *c);
void mb_engine_remove_closer(mb_engine *eng, mb_closer *c);

/* The engine / current task of a Lua state (task = NULL outside a task). */
mb_engine *mb_engine_of(lua_State *L);
mb_vu *mb_vu_current(lua_State *L);

/* Spawns the function at stack index -(nargs+1) with nargs arguments; pops
 * them and pushes the task object. */
mb_vu *mb_vu_spawn(lua_State *L, int nargs);

/* Suspends the current task (raises a Lua error when not inside a task or
 * not yieldable). Use as `return mb_vu_suspend(L, vu, cancel, ud);`. */
int mb_vu_suspend(lua_State *L, mb_vu *vu, mb_vu_cancel_fn cancel, void *ud);

/* Like mb_vu_suspend, but resumes into continuation k (with ctx) inside the
 * task, so results are built in the task's own protected context. */
int mb_vu_suspendk(lua_State *L, mb_vu *vu, mb_vu_cancel_fn cancel, void *ud,
                   lua_KContext ctx, lua_KFunction k);

/* Schedules a WAITING task to resume with the `nargs` values already pushed
 * on vu->co. Safe from any callback: it only enqueues. */
void mb_vu_wake(mb_vu *vu, int nargs);

/* Stops a task that is not running: its pending wait is released through
 * its cancel hook and it never resumes. Returns 0, or -1 if it is running. */
int mb_vu_cancel(mb_vu *vu);

/* engine_sig.c: the process's SIGINT/SIGTERM/SIGHUP handler and the hook
 * that interrupts Lua which never yields. */
void mb_sig_install(void);
int mb_sig_count(void);          /* signals received by the process */
int mb_sig_last(void);           /* the last one's number */
const char *mb_sig_name(int signum);
int mb_sig_enter(mb_engine *eng);   /* eng runs on this thread from now */
void mb_sig_leave(mb_engine *eng);
int mb_sig_run_push(mb_engine *eng, lua_State *co);   /* 1 if pushed */
void mb_sig_run_pop(mb_engine *eng);
void mb_sig_wrap_coroutines(mb_engine *eng);
/* A worker engine: signals only interrupt its Lua; the main engine decides. */
void mb_engine_ignore_signals(mb_engine *eng);

/* Resumes every ready task. Re-entrant calls return at once. */
void mb_sched_drain(mb_engine *eng);

/* Raises "name: must be called from a task" when L cannot suspend. */
mb_vu *mb_vu_require(lua_State *L, const char *fname);

/* mlxbench.time.sleep(s), shared by the time and _sched modules. */
int mb_l_sleep(lua_State *L);

/* The mb_hist inside a stats.histogram argument (raises when it is not). */
struct mb_hist *mb_lstats_check(lua_State *L, int i);

/* luaopen_* of the C modules, registered in package.preload. */
int luaopen_mlxbench_sched(lua_State *L);
int luaopen_mlxbench_time(lua_State *L);
int luaopen_mlxbench_stats(lua_State *L);
int luaopen_mlxbench_sse(lua_State *L);
int luaopen_mlxbench_http(lua_State *L);
int luaopen_mlxbench_llm(lua_State *L);
int luaopen_mlxbench_embed(lua_State *L);
int luaopen_mlxbench_arrival(lua_State *L);
int luaopen_mlxbench_dataset(lua_State *L);
int luaopen_mlxbench_sys(lua_State *L);
int luaopen_mlxbench_mock(lua_State *L);
int luaopen_mlxbench_proxy(lua_State *L);
int luaopen_mlxbench_thread(lua_State *L);
int luaopen_mlxbench_monitor(lua_State *L);
int luaopen_mlxbench_tokenizer(lua_State *L);
int luaopen_mlxbench_prom(lua_State *L);
int luaopen_mlxbench_cmd(lua_State *L);
int luaopen_mlxbench_redact(lua_State *L);

/* l_redact.c: print, io.write and file:write redact what they write;
 * register the well-known key variables; print a redacted message. */
void mb_redact_install_io(lua_State *L);
void mb_redact_register_env(void);
void mb_redact_eputs(const char *prefix, const char *msg);
/* The first errno of a failed write to stdout from Lua, or 0. */
int mb_output_errno(void);

/* The engine's HTTP client (l_client.c), created on first use. */
struct mb_client *mb_lua_client(lua_State *L);
/* Stops every HTTP transfer in flight on this engine (kind `aborted`,
 * message `why`); returns how many. 0 when no client exists. */
int mb_lua_client_abort(mb_engine *eng, const char *why);

#endif

/* l_cmd.c: mlxbench._cmd -- run a shell command without stopping the loop.
 *
 *   local r = require("mlxbench._cmd").run("nvidia-smi --query-gpu=power.draw ...",
 *                                          { timeout = 5 })
 *   -- r = {status = 0, signal = 0, stdout = "...", stderr = "...", timed_out = false}
 *
 * What `--power-cmd` samples a machine's power with (and what a scenario
 * may use for any side measurement): the command runs under /bin/sh -c
 * with uv_spawn, its output is read by pipes on the engine's loop, and the
 * calling task waits while every other task -- the benchmark's requests --
 * goes on. io.popen would block the loop for as long as the command runs
 * (powermetrics takes a sampling interval), delaying every timestamp.
 * Output beyond `max_output` bytes (default 64 KiB) per stream is dropped;
 * past `timeout` seconds the command is killed (SIGKILL) and `timed_out`
 * is true. A cancelled task (or the engine's end) kills it too. The
 * command runs in a process group of its own, and the whole group is
 * killed: a shell's children (`sleep 5` under sh -c) must not keep the
 * pipes, and so the task, waiting. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <lauxlib.h>
#include "mlxbench/buf.h"
#include "engine.h"

typedef struct lcmd {
    uv_process_t proc;
    uv_pipe_t out, err;
    uv_timer_t timer;
    mb_buf obuf, ebuf;
    size_t max_output;
    int open;            /* handles whose close callback is still due */
    int exited, eofs;    /* process exit seen; pipes at EOF (of 2) */
    int64_t status;
    int term_signal;
    int timed_out;
    mb_vu *vu;           /* the waiting task; NULL once cancelled */
    mb_engine *eng;
    mb_closer closer;
    int closing;
    int pid;             /* the command's process (and group) id */
    char scratch[16384]; /* each read lands here, then is copied */
} lcmd;

/* SIGKILL to the command's process group (it leads one: UV_PROCESS_DETACHED) */
static void kill_group(lcmd *c)
{
    if (c->pid > 0)
        uv_kill(-c->pid, SIGKILL);
}

static void handle_closed(uv_handle_t *h)
{
    lcmd *c = h->data;
    if (--c->open > 0)
        return;
    mb_buf_free(&c->obuf);
    mb_buf_free(&c->ebuf);
    free(c);
}

/* Closes every handle (killing the process if it still runs); the memory
 * goes with the last close callback. */
static void shutdown_cmd(lcmd *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    mb_engine_remove_closer(c->eng, &c->closer);
    if (!c->exited || c->eofs < 2)   /* not after a normal end: the group id may be reused */
        kill_group(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    uv_close((uv_handle_t *)&c->proc, handle_closed);
    uv_close((uv_handle_t *)&c->out, handle_closed);
    uv_close((uv_handle_t *)&c->err, handle_closed);
}

static void push_str(lua_State *L, const char *k, const mb_buf *b)
{
    lua_pushlstring(L, b->p ? b->p : "", b->len);
    lua_setfield(L, -2, k);
}

/* The command exited and both pipes are drained: the task gets its table. */
static void maybe_done(lcmd *c)
{
    if (!c->exited || c->eofs < 2 || c->closing)
        return;
    mb_vu *vu = c->vu;
    if (vu) {
        lua_State *co = vu->co;
        lua_createtable(co, 0, 5);
        lua_pushinteger(co, (lua_Integer)c->status);
        lua_setfield(co, -2, "status");
        lua_pushinteger(co, c->term_signal);
        lua_setfield(co, -2, "signal");
        push_str(co, "stdout", &c->obuf);
        push_str(co, "stderr", &c->ebuf);
        lua_pushboolean(co, c->timed_out);
        lua_setfield(co, -2, "timed_out");
        c->vu = NULL;
        mb_vu_wake(vu, 1);
    }
    shutdown_cmd(c);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int term_signal)
{
    lcmd *c = p->data;
    c->exited = 1;
    c->status = status;
    c->term_signal = term_signal;
    maybe_done(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    lcmd *c = h->data;
    (void)hint;
    buf->base = c->scratch;   /* copied into the buffers at once */
    buf->len = sizeof c->scratch;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    lcmd *c = s->data;
    mb_buf *b = (uv_pipe_t *)s == &c->out ? &c->obuf : &c->ebuf;
    if (n > 0) {
        size_t room = b->len < c->max_output ? c->max_output - b->len : 0;
        mb_buf_add(b, buf->base, (size_t)n < room ? (size_t)n : room);
        return;
    }
    if (n < 0) {   /* EOF or a read error: this pipe is done */
        uv_read_stop(s);
        c->eofs++;
        maybe_done(c);
    }
}

static void on_timeout(uv_timer_t *t)
{
    lcmd *c = t->data;
    c->timed_out = 1;
    kill_group(c);
}

/* The task was cancelled (or the engine is ending): no wake, kill, close. */
static void cancel_cmd(mb_vu *vu, void *ud)
{
    lcmd *c = ud;
    (void)vu;
    c->vu = NULL;
    shutdown_cmd(c);
}

static void engine_closing(void *ud)
{
    lcmd *c = ud;
    c->vu = NULL;
    shutdown_cmd(c);
}

/* _cmd.run(command [, {timeout = s, max_output = bytes}]) -> result table;
 * raises only on misuse or when the command cannot be started at all. */
static int l_run(lua_State *L)
{
    const char *command = luaL_checkstring(L, 1);
    double timeout = 30;
    lua_Integer max_output = 65536;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        if (lua_getfield(L, 2, "timeout") != LUA_TNIL) {
            timeout = luaL_checknumber(L, -1);
            luaL_argcheck(L, timeout > 0 && timeout < 86400, 2, "timeout must be 0 < s < 86400");
        }
        if (lua_getfield(L, 2, "max_output") != LUA_TNIL) {
            max_output = luaL_checkinteger(L, -1);
            luaL_argcheck(L, max_output > 0, 2, "max_output must be positive");
        }
        lua_pop(L, 2);
    }
    mb_vu *vu = mb_vu_require(L, "cmd.run");
    mb_engine *eng = mb_engine_of(L);
    lcmd *c = calloc(1, sizeof *c);
    if (!c)
        return luaL_error(L, "cmd.run: out of memory");
    c->eng = eng;
    c->max_output = (size_t)max_output;
    uv_pipe_init(eng->loop, &c->out, 0);
    uv_pipe_init(eng->loop, &c->err, 0);
    uv_timer_init(eng->loop, &c->timer);
    c->out.data = c->err.data = c->timer.data = c->proc.data = c;
    c->open = 4;
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&c->err;
    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.file = "/bin/sh";
    po.args = argv;
    po.exit_cb = on_exit_cb;
    po.stdio = stdio;
    po.stdio_count = 3;
    po.flags = UV_PROCESS_DETACHED;   /* a process group of its own, killed whole */
    int rc = uv_spawn(eng->loop, &c->proc, &po);
    if (rc < 0) {
        /* the process handle is initialised even when spawning fails */
        c->exited = 1;
        c->closing = 1;
        uv_close((uv_handle_t *)&c->timer, handle_closed);
        uv_close((uv_handle_t *)&c->proc, handle_closed);
        uv_close((uv_handle_t *)&c->out, handle_closed);
        uv_close((uv_handle_t *)&c->err, handle_closed);
        return luaL_error(L, "cmd.run: cannot start /bin/sh: %s", uv_strerror(rc));
    }
    c->pid = c->proc.pid;
    uv_read_start((uv_stream_t *)&c->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&c->err, on_alloc, on_read);
    uv_timer_start(&c->timer, on_timeout, (uint64_t)(timeout * 1000 + 0.5), 0);
    c->closer.close = engine_closing;
    c->closer.ud = c;
    mb_engine_add_closer(eng, &c->closer);
    c->vu = vu;
    return mb_vu_suspend(L, vu, cancel_cmd, c);
}

int luaopen_mlxbench_cmd(lua_State *L)
{
    static const luaL_Reg f[] = {{"run", l_run}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}

/* main.c: the mlxbench command line.
 *
 *   mlxbench [-I DIR]... SCRIPT.lua [ARGS...]   run a scenario (arg as lua(1))
 *   mlxbench [-I DIR]... -e CODE [ARGS...]      run a chunk of Lua
 *   mlxbench COMMAND [OPTIONS...]               run, suite, mock, report, ...
 *
 * Subcommands are implemented in the embedded Lua module mlxbench.cli, so
 * option parsing lives with the code that uses the options. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <lauxlib.h>
#include "engine.h"
#include "mb_embed.h"
#include "mlxbench/net.h"
#include "mlxbench/redact.h"

#define MAX_INCLUDES 64

static const char usage_text[] =
    "usage: mlxbench [-I DIR]... SCRIPT.lua [ARGS...]\n"
    "       mlxbench [-I DIR]... -e CODE [ARGS...]\n"
    "       mlxbench run -m MODEL [-n N] [--stream] [--url URL] [--mock] [-o FILE.json] ...\n"
    "       mlxbench suite [--url URL] [-n N] [-o FILE.json] [--html FILE.html] [--mock]\n"
    "       mlxbench mock [--host H] [--port P] [--profile FILE] [--seed N]\n"
    "       mlxbench report FILE.json [--format md|csv|html] [-o OUT]\n"
    "       mlxbench compare BASE.json NEW.json [--max-regression 5%] [--format text|md|json]\n"
    "       mlxbench merge FILE.json... -o OUT.json\n"
    "       mlxbench probe [--url URL] [-m MODEL] [--format table|json]\n"
    "       mlxbench calibrate\n"
    "       mlxbench tokenize --tokenizer PATH|MODEL [--ids|--count] [TEXT|@FILE|-]\n"
    "       mlxbench --version | --help\n"
    "\n"
    "Scripts find modules in their own folder, each -I DIR and $MLXBENCH_PATH.\n"
    "`mlxbench COMMAND --help` describes a command. Docs: docs/LUA_API.md.\n";

static void usage_error(const char *fmt, const char *what)
{
    fputs("mlxbench: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\n", stderr);
    fputs(usage_text, stderr);
}

/* The folder part of a script path ("." for a bare name). */
static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    char *d = malloc(n + 2);
    if (!d)
        return NULL;
    if (!slash) {
        memcpy(d, ".", 2);
    } else if (n == 0) {
        memcpy(d, "/", 2);
    } else {
        memcpy(d, path, n);
        d[n] = 0;
    }
    return d;
}

/* Builds the global `arg` table as lua(1) does: arg[0] is the script,
 * arg[1..] its arguments, negative indices the interpreter and options. */
static void set_arg_table(lua_State *L, char **argv, int argc, int script)
{
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");
}

/* Descriptors 0, 1 and 2 open, as daemons make sure: started with one
 * closed (`<&-`, `>&-`), the first socket or file would take its number --
 * libuv asserts on closing it, and a report would go into a socket. A
 * closed one reads or writes /dev/null instead. */
static void std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}

/* At exit (main's return or os.exit): output that could not be written
 * (a full disk, /dev/full, a closed pipe with SIGPIPE ignored) is an
 * error -- exit 2 with a line on stderr -- never a silent success. After
 * a hangup the terminal is gone and a lost line is expected. */
static void check_output(void)
{
    int err = 0;
    if (fflush(stdout) != 0)
        err = errno;
    else if (ferror(stdout))
        err = mb_output_errno();
    if ((err || ferror(stdout)) && !(mb_sig_count() > 0 && mb_sig_last() == SIGHUP)) {
        fprintf(stderr, "mlxbench: output lost: error writing to standard output%s%s\n",
                err ? ": " : "", err ? strerror(err) : "");
        fflush(stderr);
        _exit(2);
    }
    if (ferror(stderr) && !(mb_sig_count() > 0 && mb_sig_last() == SIGHUP))
        _exit(2);   /* nowhere left to say it */
}

static int is_command(const char *s)
{
    static const char *const cmds[] = {"run", "suite", "mock", "report", "compare",
                                       "merge", "calibrate", "tokenize", "probe", NULL};
    for (int i = 0; cmds[i]; i++)
        if (strcmp(s, cmds[i]) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *includes[MAX_INCLUDES + 1];
    int nincl = 0, i = 1, rc = 2, script = -1, nargs;
    const char *code = NULL;
    char *scriptdir = NULL;
    mb_engine *eng = NULL;
    lua_State *L;

    std_fds_open();
    atexit(check_output);
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("mlxbench %s (Lua 5.4)\n", MLXBENCH_VERSION);   /* reproducible: no build date */
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(a, "-I") == 0 || strncmp(a, "-I", 2) == 0) {
            const char *d = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!d) {
                usage_error("%s needs a folder", "-I");
                return 2;
            }
            if (nincl == MAX_INCLUDES) {
                usage_error("too many %s folders", "-I");
                return 2;
            }
            includes[nincl++] = d;
        } else if (strcmp(a, "-e") == 0) {
            if (i + 1 >= argc) {
                usage_error("%s needs a chunk of Lua code", "-e");
                return 2;
            }
            code = argv[++i];
            script = i;   /* arguments after the code are its `...` */
            break;
        } else if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                script = ++i;
            break;
        } else if (a[0] == '-' && a[1]) {
            usage_error("unknown option '%s'", a);
            return 2;
        } else {
            script = i;
            break;
        }
    }
    if (script < 0) {
        usage_error("%s", "nothing to run: give a script, -e CODE or a command");
        return 2;
    }
    if (!code && !is_command(argv[script])) {
        FILE *f = fopen(argv[script], "r");
        if (!f) {
            if (!strstr(argv[script], ".lua") && !strchr(argv[script], '/'))
                usage_error("unknown command '%s'", argv[script]);
            else
                usage_error("cannot open script '%s'", argv[script]);
            return 2;
        }
        fclose(f);
        scriptdir = dirname_of(argv[script]);
        if (!scriptdir)
            return 2;
        memmove(includes + 1, includes, (size_t)nincl * sizeof includes[0]);
        includes[0] = scriptdir;
        nincl++;
    }

    if (mb_net_global_init() < 0) {
        fputs("mlxbench: cannot set up the network layer\n", stderr);
        goto out;
    }
    if (mb_engine_new(&eng, includes, nincl) < 0) {
        fputs("mlxbench: cannot create the engine (out of memory)\n", stderr);
        goto out;
    }
    L = eng->L;
    set_arg_table(L, argv, argc, script);
    if (code) {
        if (luaL_loadbufferx(L, code, strlen(code), "=(command line)", "t") != LUA_OK) {
            mb_redact_eputs("mlxbench: ", lua_tostring(L, -1));
            goto out;
        }
    } else if (is_command(argv[script])) {
        /* require("mlxbench.cli").main(command, args...) */
        lua_getglobal(L, "require");
        lua_pushstring(L, "mlxbench.cli");
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            mb_redact_eputs("mlxbench: ", lua_tostring(L, -1));
            goto out;
        }
        lua_getfield(L, -1, "main");
        lua_remove(L, -2);
        if (lua_type(L, -1) != LUA_TFUNCTION) {
            fputs("mlxbench: mlxbench.cli has no main()\n", stderr);
            goto out;
        }
        lua_pushstring(L, argv[script]);
    } else if (luaL_loadfilex(L, argv[script], "t") != LUA_OK) {
        mb_redact_eputs("mlxbench: ", lua_tostring(L, -1));
        goto out;
    }
    /* stack: fn [command]; then the arguments after the script/command */
    nargs = lua_type(L, -1) == LUA_TFUNCTION ? 0 : 1;
    for (i = script + 1; i < argc; i++, nargs++)
        lua_pushstring(L, argv[i]);
    rc = mb_engine_run_main(eng, nargs);
out:
    mb_engine_free(eng);
    free(scriptdir);
    mb_redact_reset();   /* the engine (and its threads) are gone: nothing prints */
    return rc;   /* check_output runs at exit */
}

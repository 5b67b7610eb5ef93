#!/usr/bin/env python3
"""check_layers.py: the dependency rule of docs/ARCHITECTURE.md, checked.

    tools/check_layers.py [--src ROOT] [--libs BUILD_DIR]

(a) Includes. Every C file under src/ and every public header under
    include/mlxbench/ belongs to a layer; it may include
      - public headers (include/mlxbench/X.h) of its own layer or of a layer
        it depends on (the table LAYERS below),
      - private headers ("x_int.h", "engine.h", ...) of its own folder only,
      - third-party and system headers its layer is allowed (SYSTEM below);
        headers that exist on one operating system only are the platform
        layer's alone.
(b) System-specific code. Outside src/platform:
      - no source names a Linux- or macOS-only interface (timerfd_*,
        epoll_*, accept4, pipe2, signalfd, eventfd, kqueue, sysctlbyname,
        ...), a Linux-only flag (SOCK_CLOEXEC, SOCK_NONBLOCK, MSG_NOSIGNAL,
        EFD_*, TFD_*, ...), a GNU libc extension macOS lacks or defines
        otherwise (memrchr, strchrnul, qsort_r, clock_nanosleep, ...), reads
        /proc or /sys, or tests __linux__ / __APPLE__;
      - (--libs) no object in the built static libraries (nm -u) calls one.
(c) Test scripts run anywhere (tests/, tools/test.sh, fuzz/run.sh,
    .ci/run): no /proc (a process asks mlxbench._sys, another's RSS comes
    from ps), no nproc (getconf _NPROCESSORS_ONLN), no flock(1), no
    apt-get or dpkg (tools/deps.sh installs), no /usr/sbin/ path (command
    -v finds programs), no date +%s%N.

Prints one line per violation (file:line: what) and exits 1 if there is
any, 0 otherwise."""
import argparse
import os
import re
import subprocess
import sys

# layer -> the layers it may use (itself included):
#   core < platform, tok < client, server < emu, proxy < lua < main
LAYERS = {
    "core": {"core"},
    "platform": {"core", "platform"},
    "tok": {"core", "tok"},
    "client": {"core", "platform", "client"},
    "server": {"core", "platform", "server"},
    "emu": {"core", "platform", "server", "tok", "emu"},
    "proxy": {"core", "platform", "server", "proxy"},
    "lua": {"core", "platform", "tok", "client", "server", "emu", "proxy", "lua"},
    "main": {"core", "platform", "tok", "client", "server", "emu", "proxy", "lua", "main"},
}

# public header -> its layer (a header missing here is a violation: add it)
HEADERS = {
    "arrival": "core", "buf": "core", "list": "core", "clock": "core", "defaults": "core", "errors": "core",
    "hist": "core", "json": "core", "redact": "core", "jsplit": "core", "llm": "core", "mock_model": "core",
    "rng": "core", "sse": "core", "sha256": "core", "h1parse": "core", "prom": "core", "utf8": "core",
    "platform": "platform", "net": "platform", "config": "platform",
    "tok": "tok",
    "client": "client", "server": "server", "listen": "server", "mock": "emu",
    "proxy": "proxy",
}
PRIVATE_HEADERS_OF_PLATFORM = {"config"}   # generated; only src/platform reads it
# headers of a src/ folder that the layers above it may include (the engine's
# API lives with the engine in src/lua; CMake exports that folder)
EXPORTED = {"engine.h": "lua", "modules.h": "lua", "mb_embed.h": "lua"}
# folders a layer's files find quoted headers in through -I (CMake): the
# engine's runtime, for its bindings (src/lua/bind) and src/main.c
INCLUDE_DIRS = {"lua": ["src/lua/runtime"], "main": ["src/lua/runtime"]}

# third-party headers: which layers may include them (anything not listed
# here and not in OS_ONLY is a standard C / POSIX header, allowed everywhere)
SYSTEM = {
    "uv.h": {"platform", "client", "server", "emu", "proxy", "lua", "main"},
    # the HTTP/1 framing library: behind core's h1parse.h only
    "http_parser.h": {"core"}, "llhttp.h": {"core"},
    "curl/curl.h": {"client"},
    "lua.h": {"lua", "main"}, "lauxlib.h": {"lua", "main"}, "lualib.h": {"lua", "main"},
    "cjson/cJSON.h": set(),   # the fuzz oracle only (fuzz/), never the binary
    "dlfcn.h": {"client"},    # libcurl is dlopen'ed there
    # PCRE2: the tokenizers' regexes; the Lua layer's --metrics-keep matcher (l_prom.c)
    "pcre2.h": {"tok", "lua"}, "utf8proc.h": {"tok"},
}
# headers of one operating system: src/platform only
OS_ONLY = re.compile(r"^(sys/(timerfd|epoll|signalfd|eventfd|inotify|sendfile|sysinfo|prctl|"
                     r"event|sysctl)\.h|linux/.*|mach/.*|mach-o/.*|libproc\.h|"
                     r"CoreFoundation/.*|malloc\.h|features\.h)$")
# interfaces of one operating system: src/platform only
OS_SYMBOLS = [
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "accept4", "pipe2", "dup3", "signalfd",
    "eventfd", "inotify_init", "inotify_init1", "inotify_add_watch", "sendfile", "splice",
    "vmsplice", "memfd_create", "prctl", "sched_getaffinity", "sched_setaffinity", "getrandom",
    "sysinfo", "get_nprocs", "gettid", "mremap", "fallocate", "syncfs",
    "kqueue", "kevent", "sysctlbyname", "sysctl", "task_info", "proc_pidinfo",
    "mach_absolute_time", "mach_task_self_", "host_statistics64", "thread_info",
    "mach_thread_self",
    # GNU libc extensions that macOS lacks (or declares with other arguments)
    "memrchr", "strchrnul", "rawmemchr", "mempcpy", "qsort_r", "clock_nanosleep",
    "pthread_setname_np", "pthread_timedjoin_np", "pthread_tryjoin_np", "ppoll",
    "sched_getcpu", "getauxval", "secure_getenv", "get_current_dir_name",
    "canonicalize_file_name", "malloc_usable_size", "mallinfo", "strverscmp", "epoll_pwait2",
]
OS_WORDS = re.compile(r"\b(" + "|".join(OS_SYMBOLS + [
    "RUSAGE_THREAD", "SOCK_CLOEXEC", "SOCK_NONBLOCK", "MSG_NOSIGNAL", "MSG_DONTWAIT",
    "MSG_MORE", "MSG_CMSG_CLOEXEC", "TFD_[A-Z_]+", "EFD_[A-Z_]+", "SFD_[A-Z_]+", "IN_CLOEXEC",
    "IN_NONBLOCK", "EPOLL[A-Z_]*", "SO_NOSIGPIPE", "SO_TIMESTAMP[A-Z_]*", "SCM_TIMESTAMP[A-Z_]*",
    "O_TMPFILE", "__linux__", "__APPLE__",
    "__MACH__", "program_invocation_name", "program_invocation_short_name"]) + r")\b")
OS_PATHS = re.compile(r"[\"'](/proc/|/sys/)")

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def strip_comments(text):
    """C comments and string contents out (line structure kept), so words
    in prose do not count; the strings are checked for paths separately."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def layer_of(rel):
    """The layer of a file path relative to the root (None: not checked)."""
    parts = rel.split("/")
    if parts[0] == "src":
        if len(parts) == 2 and parts[1] == "main.c":
            return "main"
        return parts[1] if parts[1] in LAYERS else None
    if parts[0] == "include" and len(parts) == 3 and parts[2].endswith(".h"):
        return HEADERS.get(parts[2][:-2], "?")
    return None


def check_file(root, rel, problems):
    layer = layer_of(rel)
    if layer is None:
        return
    path = os.path.join(root, rel)
    if layer == "?":
        problems.append("%s:1: public header has no layer: add it to HEADERS in %s" %
                        (rel, os.path.relpath(__file__, root)))
        return
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    allowed = LAYERS[layer]
    top = rel.split("/")[:2]
    for no, line in enumerate(raw.split("\n"), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        kind, name = m.groups()
        if name.startswith("mlxbench/") and name.endswith(".h"):
            h = name[len("mlxbench/"):-2]
            owner = HEADERS.get(h)
            if owner is None:
                problems.append("%s:%d: includes unknown public header %s" % (rel, no, name))
            elif owner not in allowed:
                problems.append("%s:%d: %s layer includes %s (%s layer): a lower layer must not "
                                "use a higher one" % (rel, no, layer, name, owner))
            elif h in PRIVATE_HEADERS_OF_PLATFORM and layer != "platform":
                problems.append("%s:%d: %s is read by src/platform only" % (rel, no, name))
            continue
        if kind == '"':
            # found next to the file or through the folder's -I, and inside
            # the file's own top folder either way
            folder = os.path.join(root, *top)
            here = os.path.normpath(os.path.join(os.path.dirname(path), name))
            own = os.path.normpath(os.path.join(folder, name)) if top[0] == "src" else None
            exported = EXPORTED.get(name)
            if exported and exported in allowed and exported != layer:
                continue
            via = [os.path.normpath(os.path.join(root, d, name)) for d in INCLUDE_DIRS.get(layer, [])]
            inside = [f for f in (here, own) if f and os.path.exists(f) and
                      f.startswith(folder + os.sep)] + [f for f in via if os.path.exists(f)]
            if not inside:
                problems.append("%s:%d: includes \"%s\", not a header of its own folder" %
                                (rel, no, name))
            continue
        if OS_ONLY.match(name) and layer != "platform":
            problems.append("%s:%d: includes <%s>, a header of one operating system: use "
                            "mlxbench/platform.h" % (rel, no, name))
        elif name in SYSTEM and layer not in SYSTEM[name]:
            problems.append("%s:%d: %s layer includes <%s>" % (rel, no, layer, name))
    if layer == "platform":
        return
    code = strip_comments(raw)
    for no, line in enumerate(code.split("\n"), 1):
        if line.lstrip().startswith("#") and INCLUDE.match(line):
            continue
        m = OS_WORDS.search(line)
        if m:
            problems.append("%s:%d: names %s, an interface of one operating system: it belongs "
                            "in src/platform" % (rel, no, m.group(1)))
        if OS_PATHS.search(line):
            problems.append("%s:%d: reads /proc or /sys: system facts come from "
                            "mlxbench/platform.h" % (rel, no))


def check_lua(root, problems):
    """The Lua library reads no system files either (mlxbench._sys does)."""
    for d in ("src/lua/mlxbench", "scripts"):
        base = os.path.join(root, d)
        for dirpath, _, files in os.walk(base):
            for fn in sorted(files):
                if not fn.endswith(".lua"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, fn), root)
                with open(os.path.join(dirpath, fn), encoding="utf-8", errors="replace") as f:
                    for no, line in enumerate(f, 1):
                        code = line.split("--", 1)[0]
                        if OS_PATHS.search(code):
                            problems.append("%s:%d: reads /proc or /sys: use mlxbench._sys" %
                                            (rel, no))


# (c): what a test script must not use, and what to do instead
SCRIPT_RULES = [
    (re.compile(r"/proc/"), "reads /proc: a process asks mlxbench._sys (mlxbench -e); another's "
     "RSS comes from ps -o rss= (mocklib.ps_rss), the emulator's from /mock/stats"),
    (re.compile(r"(?<![\w.-])nproc\b"), "nproc is GNU coreutils: getconf _NPROCESSORS_ONLN"),
    (re.compile(r"(?<![\w.-])flock\b"), "flock(1) is Linux-only"),
    # run as a command (not named in a message a test expects)
    (re.compile(r"(^\s*|[;&|]\s*|\$\(\s*|\[\s*[\"'])(sudo\s+)?(apt-get|dpkg(-query)?)\b"),
     "installs belong in tools/deps.sh"),
    (re.compile(r"/usr/sbin/"), "a Debian path: find the program with command -v / shutil.which"),
    (re.compile(r"date \+%s%N"), "date +%N is GNU-only: now_ms (tests/e2e/lib.sh)"),
]
SCRIPT_DIRS = ("tests",)
SCRIPT_FILES = ("tools/test.sh", "fuzz/run.sh", ".ci/run")
SCRIPT_EXT = (".sh", ".py", ".lua")
SCRIPT_SKIP = {"tests/e2e/test_layering.sh"}   # plants violations on purpose


def check_scripts(root, problems):
    """(c) test scripts: full-line comments are prose and not checked."""
    paths = [os.path.join(root, f) for f in SCRIPT_FILES]
    for d in SCRIPT_DIRS:
        for dirpath, dirnames, files in os.walk(os.path.join(root, d)):
            dirnames[:] = [x for x in dirnames if x not in ("node_modules", "fixtures")]
            paths += [os.path.join(dirpath, f) for f in sorted(files) if f.endswith(SCRIPT_EXT)]
    for path in paths:
        if not os.path.isfile(path):
            continue
        rel = os.path.relpath(path, root)
        if rel in SCRIPT_SKIP:
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for no, line in enumerate(f, 1):
                t = line.strip()
                if t.startswith(("#", "--", "//", "*", "/*")):
                    continue
                for rx, why in SCRIPT_RULES:
                    if rx.search(line):
                        problems.append("%s:%d: %s" % (rel, no, why))


def check_libs(libdir, problems):
    """nm -u of every static library but the platform's."""
    libs = sorted(f for f in os.listdir(libdir) if f.startswith("libmb_") and f.endswith(".a"))
    if not libs:
        problems.append("%s: no libmb_*.a to check (build first)" % libdir)
        return
    bad = set(OS_SYMBOLS)
    for lib in libs:
        if lib == "libmb_platform.a":
            continue
        out = subprocess.run(["nm", "-A", "-u", os.path.join(libdir, lib)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            problems.append("%s: nm failed: %s" % (lib, out.stderr.strip()))
            continue
        for line in out.stdout.splitlines():
            sym = line.split()[-1] if line.split() else ""
            sym = sym.split("@")[0].lstrip("_") if sym.startswith("_") and sys.platform == "darwin" \
                else sym.split("@")[0]
            if sym in bad:
                obj = line.split(":")[1] if line.count(":") >= 2 else lib
                problems.append("%s(%s): calls %s, an interface of one operating system: it "
                                "belongs in src/platform" % (lib, obj, sym))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--libs", help="build directory with the libmb_*.a to check with nm")
    a = ap.parse_args()
    root = os.path.abspath(a.src)
    problems = []
    for d in ("src", "include"):
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in sorted(files):
                if fn.endswith((".c", ".h")):
                    check_file(root, os.path.relpath(os.path.join(dirpath, fn), root), problems)
    check_lua(root, problems)
    check_scripts(root, problems)
    if a.libs:
        check_libs(a.libs, problems)
    for p in problems:
        print(p)
    print("layering: %d problem%s" % (len(problems), "" if len(problems) == 1 else "s"),
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

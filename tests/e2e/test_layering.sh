# The dependency rule of docs/ARCHITECTURE.md, checked by
# tools/check_layers.py on the tree and on the built static libraries:
# no lower layer includes a higher one (core < platform < client, server <
# emu, proxy < lua < main), no source outside src/platform names a
# Linux- or macOS-only interface (timerfd_*, epoll_*, accept4, pipe2,
# signalfd, SOCK_CLOEXEC-style flags, GNU-only libc calls) or reads /proc,
# no object outside libmb_platform.a calls one (nm), and no test script
# uses /proc, nproc, flock, apt-get or GNU date. Then the check is shown to
# fail, on a copy of the tree with one violation of each kind planted.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
BUILD=${MB_BUILD:-build}
CHECK="$SRC/tools/check_layers.py"
not() { ! "$@"; }

python3 "$CHECK" --src "$SRC" --libs "$BUILD" > "$TMP/ok.txt" 2>&1
expect "the tree keeps the rule: $(head -c 800 "$TMP/ok.txt")" [ $? -eq 0 ]
expect "it says so" contains "$TMP/ok.txt" '^layering: 0 problems'

# a copy with one planted violation per kind
mkdir -p "$TMP/tree"
cp -r "$SRC/src" "$SRC/include" "$SRC/tools" "$TMP/tree/"
mkdir -p "$TMP/tree/scripts"
printf '#include "mlxbench/mock.h"\n' >> "$TMP/tree/src/core/clock.c"                # core -> emu
printf '#include "mlxbench/client.h"\n' >> "$TMP/tree/src/server/listen.c"           # server -> client
printf '#include "../emu/mock_int.h"\n' >> "$TMP/tree/src/proxy/proxy.c"             # another's private header
printf '#include <sys/epoll.h>\n' >> "$TMP/tree/src/client/client.c"                 # Linux-only header
printf 'static int fd_of(void) { return timerfd_create(1, 0); }\n' >> "$TMP/tree/src/emu/mock_stats.c"
printf 'static const char *p = "/proc/self/status";\n' >> "$TMP/tree/src/lua/bind/l_sys.c"
printf 'local f = io.open("/proc/meminfo")\n' >> "$TMP/tree/src/lua/mlxbench/results.lua"
printf '#include "mlxbench/nothing_here.h"\n' >> "$TMP/tree/src/server/server.c"      # unknown header
printf 'static int p2(int *f) { return pipe2(f, 0); }\n' >> "$TMP/tree/src/server/listen.c"
printf 'static int a4(int s) { return accept4(s, 0, 0, SOCK_CLOEXEC); }\n' >> "$TMP/tree/src/proxy/proxy.c"
printf 'static const int fl = SOCK_NONBLOCK;\n' >> "$TMP/tree/src/client/client_req.c"
printf 'static int sf(void) { return signalfd(-1, 0, 0); }\n' >> "$TMP/tree/src/emu/mock.c"
printf 'static char *cn(char *s) { return strchrnul(s, 47); }\n' >> "$TMP/tree/src/tok/tok.c"
# ... and in test scripts
mkdir -p "$TMP/tree/tests/e2e"
{ echo '# a test script that only runs on Linux'
  echo 'jobs=$(nproc)'
  echo 'flock /tmp/lock true'
  echo 'grep VmRSS /proc/self/status'
  echo 'apt-get install -y foo'
  echo 'start=$(date +%s%N)'; } > "$TMP/tree/tests/e2e/test_linux_only.sh"
printf 'rss = open("/proc/%%d/status" %% pid).read()\n' > "$TMP/tree/tests/e2e/test_linux_only.py"
python3 "$TMP/tree/tools/check_layers.py" --src "$TMP/tree" > "$TMP/bad.txt" 2>&1
rc=$?
expect "the planted copy fails (exit 1, got $rc)" [ $rc -eq 1 ]
expect "core including the emulator" contains "$TMP/bad.txt" '^src/core/clock\.c:[0-9]+: core layer includes mlxbench/mock\.h \(emu layer\)'
expect "server including the client" contains "$TMP/bad.txt" '^src/server/listen\.c:[0-9]+: server layer includes mlxbench/client\.h'
expect "another folder's private header" contains "$TMP/bad.txt" '^src/proxy/proxy\.c:[0-9]+: includes "\.\./emu/mock_int\.h", not a header of its own folder'
expect "a Linux-only header" contains "$TMP/bad.txt" '^src/client/client\.c:[0-9]+: includes <sys/epoll\.h>'
expect "a Linux-only call" contains "$TMP/bad.txt" '^src/emu/mock_stats\.c:[0-9]+: names timerfd_create'
expect "a /proc path in C" contains "$TMP/bad.txt" '^src/lua/bind/l_sys\.c:[0-9]+: reads /proc or /sys'
expect "a /proc path in Lua" contains "$TMP/bad.txt" '^src/lua/mlxbench/results\.lua:[0-9]+: reads /proc or /sys'
expect "an unknown public header" contains "$TMP/bad.txt" '^src/server/server\.c:[0-9]+: includes unknown public header'
expect "pipe2" contains "$TMP/bad.txt" '^src/server/listen\.c:[0-9]+: names pipe2'
expect "accept4" contains "$TMP/bad.txt" '^src/proxy/proxy\.c:[0-9]+: names accept4'
expect "a Linux-only socket flag" contains "$TMP/bad.txt" '^src/client/client_req\.c:[0-9]+: names SOCK_NONBLOCK'
expect "signalfd" contains "$TMP/bad.txt" '^src/emu/mock\.c:[0-9]+: names signalfd'
expect "a GNU libc extension" contains "$TMP/bad.txt" '^src/tok/tok\.c:[0-9]+: names strchrnul'
expect "nproc in a test script" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.sh:2: nproc is GNU coreutils'
expect "flock in a test script" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.sh:3: flock'
expect "/proc in a test script" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.sh:4: reads /proc'
expect "apt-get in a test script" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.sh:5: installs belong in tools/deps\.sh'
expect "GNU date in a test script" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.sh:6: date \+%N is GNU-only'
expect "/proc in a Python test" contains "$TMP/bad.txt" '^tests/e2e/test_linux_only\.py:1: reads /proc'
expect "the comment line is prose, not checked" not contains "$TMP/bad.txt" 'test_linux_only\.sh:1:'
expect "19 problems counted" contains "$TMP/bad.txt" '^layering: 19 problems'

# nm: a static library whose object calls Linux-only functions (built
# where Linux's headers are: elsewhere this part cannot be made)
mkdir -p "$TMP/libs"
cat > "$TMP/bad_obj.c" <<'C'
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>
int probe(int s, int *f) { return timerfd_create(1, 0) + pipe2(f, 0) + accept4(s, 0, 0, 0) +
                           epoll_wait(s, 0, 0, 0) + signalfd(-1, 0, 0); }
C
if cc -c "$TMP/bad_obj.c" -o "$TMP/bad_obj.o" 2>/dev/null; then
  ar rcs "$TMP/libs/libmb_server.a" "$TMP/bad_obj.o"
  cp "$TMP/libs/libmb_server.a" "$TMP/libs/libmb_platform.a"
  python3 "$CHECK" --src "$SRC" --libs "$TMP/libs" > "$TMP/nm.txt" 2>&1
  for f in timerfd_create pipe2 accept4 epoll_wait signalfd; do
    expect "nm finds $f in libmb_server.a" contains "$TMP/nm.txt" "^libmb_server\\.a\\(.*\\): calls $f,"
  done
  expect "and not in libmb_platform.a, where it belongs" not contains "$TMP/nm.txt" 'libmb_platform\.a'
else
  echo "no Linux headers here: the nm part is not made"
fi
finish

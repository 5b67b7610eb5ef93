# The dependency rule of docs/ARCHITECTURE.md, checked by
# tools/check_layers.py on the tree and on the built static libraries:
# no lower layer includes a higher one (core < platform < client, server <
# emu, proxy < lua < main), no source outside src/platform names a
# Linux- or macOS-only interface or reads /proc, no object outside
# libmb_platform.a calls one (nm). Then the check is shown to fail, on a
# copy of the tree with one violation of each kind planted.
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
expect "8 problems counted" contains "$TMP/bad.txt" '^layering: 8 problems'

# nm: a static library whose object calls a Linux-only function
mkdir -p "$TMP/libs"
printf '#include <sys/timerfd.h>\nint probe(void) { return timerfd_create(1, 0); }\n' > "$TMP/bad_obj.c"
if cc -c "$TMP/bad_obj.c" -o "$TMP/bad_obj.o" 2>/dev/null; then
  ar rcs "$TMP/libs/libmb_server.a" "$TMP/bad_obj.o"
  cp "$TMP/libs/libmb_server.a" "$TMP/libs/libmb_platform.a"
  python3 "$CHECK" --src "$SRC" --libs "$TMP/libs" > "$TMP/nm.txt" 2>&1
  expect "nm finds the call in libmb_server.a" contains "$TMP/nm.txt" '^libmb_server\.a\(.*\): calls timerfd_create'
  expect "and not in libmb_platform.a, where it belongs" not contains "$TMP/nm.txt" 'libmb_platform\.a'
fi
finish

# The macOS side of src/platform compiles on Linux with -fsyntax-only (gcc
# and, when installed, clang; -Wall -Wextra -Werror; the definitions
# CMakeLists.txt gives every file): darwin.c against the SDK declarations
# copied into tests/darwin_shim/ (Linux has no macOS SDK), and posix.c with
# the config.h a Mac's probes give (no SOCK_CLOEXEC, no MSG_NOSIGNAL,
# SO_NOSIGPIPE, kqueue, ru_maxrss in bytes), so its macOS branches compile
# too. Nothing is linked or run here: on a Mac the real headers are used
# (the macos-14 job of .github/workflows/ci.yml). The shim is not a blank
# cheque: a call darwin.c gets wrong is caught.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
not() { ! "$@"; }

# config.h as CMake writes it on a Mac (cmake/config.h.in, darwin values)
mkdir -p "$TMP/include/mlxbench"
sed -e 's/@MLXBENCH_PLATFORM@/darwin/' \
    -e 's/#cmakedefine01 \(MB_PLATFORM_DARWIN\|MB_HAVE_SO_NOSIGPIPE\|MB_HAVE_CLOCK_THREAD_CPUTIME_ID\|MB_HAVE_SC_PHYS_PAGES\|MB_HAVE_KQUEUE\|MB_RU_MAXRSS_BYTES\)$/#define \1 1/' \
    -e 's/#cmakedefine01 \([A-Z_]*\)$/#define \1 0/' \
    "$SRC/cmake/config.h.in" > "$TMP/include/mlxbench/config.h"
expect "config.h for darwin: every probe defined" not grep -q cmakedefine "$TMP/include/mlxbench/config.h"
expect "config.h for darwin: kqueue, no SOCK_CLOEXEC" \
  contains "$TMP/include/mlxbench/config.h" '^#define MB_HAVE_KQUEUE 1'
# the one macOS socket option posix.c uses, with Apple's value
printf '#define SO_NOSIGPIPE 0x1022\n' > "$TMP/darwin_extra.h"

DEFS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_DARWIN_C_SOURCE -DMLXBENCH_VERSION=\"0\""
WARN="-Wall -Wextra -Wshadow -Werror -Wno-unused-parameter -fsyntax-only"
INC="-I$SRC/tests/darwin_shim -I$TMP/include -I$SRC/include"
found=0
for cc in cc clang; do
  command -v "$cc" > /dev/null || continue
  found=1
  for f in darwin posix; do
    extra=""
    [ $f = posix ] && extra="-include $TMP/darwin_extra.h"
    # shellcheck disable=SC2086
    "$cc" $DEFS $WARN $INC $extra "$SRC/src/platform/$f.c" > "$TMP/$cc-$f.err" 2>&1
    expect "$cc -fsyntax-only src/platform/$f.c (darwin): $(head -c 600 "$TMP/$cc-$f.err")" \
      [ ! -s "$TMP/$cc-$f.err" ]
  done
  # the check can fail: a wrong argument type in a copy of darwin.c
  sed 's/sysctlbyname("hw.memsize", &mem, &len, NULL, 0)/sysctlbyname("hw.memsize", mem, len, NULL, 0)/' \
    "$SRC/src/platform/darwin.c" > "$TMP/darwin_bad.c"
  cp "$SRC/src/platform/platform_int.h" "$TMP/"
  expect "the bad copy differs" not cmp -s "$SRC/src/platform/darwin.c" "$TMP/darwin_bad.c"
  # shellcheck disable=SC2086
  expect "$cc rejects a wrong call in a copy" not "$cc" $DEFS $WARN $INC "$TMP/darwin_bad.c" > /dev/null 2>&1
  # ... and a Mach call the shim does not declare as used
  sed 's/thread_info(self, THREAD_BASIC_INFO/thread_info(self, THREAD_BASIC_INFO, 1/' \
    "$SRC/src/platform/darwin.c" > "$TMP/darwin_bad2.c"
  expect "the second bad copy differs" not cmp -s "$SRC/src/platform/darwin.c" "$TMP/darwin_bad2.c"
  # shellcheck disable=SC2086
  expect "$cc rejects a wrong Mach call" not "$cc" $DEFS $WARN $INC "$TMP/darwin_bad2.c" > /dev/null 2>&1
done
if [ $found -eq 0 ]; then
  echo "SKIP: no C compiler (cc or clang) on PATH"
  exit 77
fi
finish

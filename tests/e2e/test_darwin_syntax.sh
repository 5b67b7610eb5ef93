# src/platform/darwin.c compiles on Linux with -fsyntax-only (gcc and, when
# installed, clang; -Wall -Wextra -Werror) against the SDK declarations
# copied into tests/darwin_shim/ (Linux has no macOS SDK). It is never
# built into a binary here; on a Mac the real headers are used. Also: the
# shim is not a blank cheque -- a call darwin.c gets wrong is caught.
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
BUILD=${MB_BUILD:-build}
FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Werror -Wno-unused-parameter
       -fsyntax-only -I$SRC/tests/darwin_shim -I$SRC/include -I$BUILD/include"
not() { ! "$@"; }
found=0
for cc in cc clang; do
  command -v "$cc" > /dev/null || continue
  found=1
  # shellcheck disable=SC2086
  "$cc" $FLAGS "$SRC/src/platform/darwin.c" > "$TMP/$cc.err" 2>&1
  expect "$cc -fsyntax-only src/platform/darwin.c: $(head -c 600 "$TMP/$cc.err")" [ ! -s "$TMP/$cc.err" ]
  # the check can fail: a wrong argument type in a copy of darwin.c
  sed 's/sysctlbyname("hw.memsize", &mem, &len, NULL, 0)/sysctlbyname("hw.memsize", mem, len, NULL, 0)/' \
    "$SRC/src/platform/darwin.c" > "$TMP/darwin_bad.c"
  cp "$SRC/src/platform/platform_int.h" "$TMP/"
  expect "the bad copy differs" not cmp -s "$SRC/src/platform/darwin.c" "$TMP/darwin_bad.c"
  # shellcheck disable=SC2086
  expect "$cc rejects a wrong call in a copy" not "$cc" $FLAGS "$TMP/darwin_bad.c" > /dev/null 2>&1
done
if [ $found -eq 0 ]; then
  echo "SKIP: no C compiler (cc or clang) on PATH"
  exit 77
fi
finish

# tier: slow (configures the project seven times)
# cmake/deps.cmake's paths for a system without Debian's packages, run here
# against a local web server (this machine reaches no release site):
#   - llhttp as a release fetched at configure time: downloaded, checked
#     against its SHA-256, unpacked, compiled (a release tarball made from
#     Debian's node-llhttp sources, served on 127.0.0.1); kept in the build
#     folder, so configuring again needs no network;
#   - a download that fails, or that is not the pinned release: configuring
#     stops with one clear message saying what to install;
#   - lua-cjson with Debian's library hidden (-DMLXBENCH_SYSTEM_LUACJSON=OFF)
#     and no network: the same kind of message;
#   - Lua under Homebrew's pkg-config name `lua`, taken at 5.4 and passed
#     over at 5.5 (Homebrew's plain lua is 5.5 now: FindLua then looks for
#     a 5.4 elsewhere).
. "$(dirname "$0")/lib.sh"
SRC=$(pwd)
not() { ! "$@"; }
if [ ! -f /usr/share/llhttp/llhttp.c ] || [ ! -f /usr/share/include/llhttp/llhttp.h ]; then
  echo "SKIP: Debian's node-llhttp sources are missing (tools/deps.sh test installs node-llhttp)"
  exit 77
fi

# a release tarball in llhttp's layout (src/*.c, include/llhttp.h)
rel=llhttp-release-v8.1.0
mkdir -p "$TMP/www" "$TMP/pkg/$rel/src" "$TMP/pkg/$rel/include"
cp /usr/share/llhttp/*.c "$TMP/pkg/$rel/src/"
cp /usr/share/include/llhttp/llhttp.h "$TMP/pkg/$rel/include/"
tar -C "$TMP/pkg" -czf "$TMP/www/llhttp.tar.gz" "$rel"
sha=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
      "$TMP/www/llhttp.tar.gz")
port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$TMP/www" > "$TMP/http.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$port" 2>/dev/null && break
  sleep 0.1
done
closed=$(free_port)

# configure NAME ARGS...: cmake -S . -B $TMP/NAME ARGS; output in
# $TMP/NAME.log, and with CMake's line wrapping undone in $TMP/NAME.flat
configure() {
  local name=$1 rc
  shift
  cmake -S "$SRC" -B "$TMP/$name" -DMLXBENCH_WERROR=ON "$@" > "$TMP/$name.log" 2>&1
  rc=$?
  tr '\n' ' ' < "$TMP/$name.log" | tr -s ' ' > "$TMP/$name.flat"
  return $rc
}

# 1. fetched, checked, unpacked, compiled
configure fetch -DMLXBENCH_HTTP_PARSER=llhttp -DMLXBENCH_SYSTEM_LLHTTP=OFF \
  -DMLXBENCH_LLHTTP_URL="http://127.0.0.1:$port/llhttp.tar.gz" -DMLXBENCH_LLHTTP_SHA256="$sha"
expect "configure with llhttp fetched: $(tail -c 600 "$TMP/fetch.log")" [ $? -eq 0 ]
expect "it says it downloads" contains "$TMP/fetch.log" "llhttp: not installed; downloading http://127.0.0.1:$port/llhttp.tar.gz"
expect "it says where llhttp comes from" contains "$TMP/fetch.log" "HTTP/1 framing: llhttp built from http://127.0.0.1:$port/"
expect "the release was requested once" [ "$(grep -c 'GET /llhttp.tar.gz' "$TMP/http.log")" = 1 ]
expect "unpacked in the build folder" [ -f "$TMP/fetch/_deps/llhttp-src/src/llhttp.c" ]
cmake --build "$TMP/fetch" --target mb_llhttp mb_core > "$TMP/fetch-build.log" 2>&1
expect "llhttp and the framing interface on it compile: $(tail -c 600 "$TMP/fetch-build.log")" [ $? -eq 0 ]
expect "the core library holds the llhttp side" \
  sh -c "nm '$TMP/fetch/libmb_core.a' | grep -q 'U llhttp_execute'"

# 2. configured again with the server gone: the kept release, no download
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
configure fetch
expect "configure again offline: $(tail -c 400 "$TMP/fetch.log")" [ $? -eq 0 ]
expect "... without downloading" not contains "$TMP/fetch.log" "downloading"

# 3. offline: one clear message
configure offline -DMLXBENCH_HTTP_PARSER=llhttp -DMLXBENCH_SYSTEM_LLHTTP=OFF \
  -DMLXBENCH_LLHTTP_URL="http://127.0.0.1:$closed/llhttp.tar.gz" -DMLXBENCH_LLHTTP_SHA256="$sha"
expect "configure fails when llhttp cannot be had" [ $? -ne 0 ]
expect "... saying what is missing and why" contains "$TMP/offline.flat" \
  "llhttp is not installed on this system, and its release could not be"
expect "... and what to install" contains "$TMP/offline.flat" "brew install llhttp"
expect "... not a stack of CMake noise" not contains "$TMP/offline.log" "Build step for"

# 4. not the pinned release: refused (a served file with another checksum)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$TMP/www" > "$TMP/http2.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    "$port" 2>/dev/null && break
  sleep 0.1
done
configure badsum -DMLXBENCH_HTTP_PARSER=llhttp -DMLXBENCH_SYSTEM_LLHTTP=OFF \
  -DMLXBENCH_LLHTTP_URL="http://127.0.0.1:$port/llhttp.tar.gz" \
  -DMLXBENCH_LLHTTP_SHA256=0000000000000000000000000000000000000000000000000000000000000000
expect "configure refuses a release with another checksum" [ $? -ne 0 ]
expect "... naming both checksums" contains "$TMP/badsum.flat" "is not the pinned release \\(SHA-256 $sha,"
expect "... and keeps nothing of it" [ ! -e "$TMP/badsum/_deps/llhttp-release.tar.gz" ]
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null

# 5. lua-cjson hidden, no network
configure cjson -DMLXBENCH_SYSTEM_LUACJSON=OFF \
  -DMLXBENCH_LUACJSON_URL="http://127.0.0.1:$closed/lua-cjson.tar.gz"
expect "configure fails without lua-cjson and without network" [ $? -ne 0 ]
expect "... saying so" contains "$TMP/cjson.flat" "lua-cjson is not installed on this system"
expect "... and what to install" contains "$TMP/cjson.flat" "apt-get install lua-cjson-dev"
expect "... or how to bring the release" contains "$TMP/cjson.flat" "FETCHCONTENT_SOURCE_DIR_LUACJSON"

# 6. Lua under the name `lua` (Homebrew's .pc): taken at 5.4, refused at 5.5
pcdir=$(pkg-config --variable=pcfiledir lua5.4 2>/dev/null)
if [ -n "$pcdir" ]; then
  mkdir -p "$TMP/pc54" "$TMP/pc55"
  for f in "$pcdir"/*.pc; do
    case $(basename "$f") in lua*) ;; *) cp "$f" "$TMP/pc54/"; cp "$f" "$TMP/pc55/" ;; esac
  done
  for d in pc54 pc55; do   # Debian's lua-cjson, on the Lua named `lua`
    sed 's/^Requires:.*/Requires: lua/' "$pcdir/lua5.4-cjson.pc" > "$TMP/$d/lua5.4-cjson.pc"
  done
  sed 's/^Name:.*/Name: Lua/' "$pcdir/lua5.4.pc" > "$TMP/pc54/lua.pc"
  sed 's/^Version:.*/Version: 5.5.0/' "$TMP/pc54/lua.pc" > "$TMP/pc55/lua.pc"
  PKG_CONFIG_LIBDIR="$TMP/pc54" configure lua54
  expect "Lua 5.4 under the name lua: $(grep -i 'lua\|error' "$TMP/lua54.log" | head -3)" \
    contains "$TMP/lua54.log" '^-- Lua 5\.4\.[0-9]+: pkg-config lua$'
  PKG_CONFIG_LIBDIR="$TMP/pc55" configure lua55
  expect "a lua.pc of 5.5 is not taken for 5.4: $(grep -i 'lua' "$TMP/lua55.log" | head -3)" \
    not contains "$TMP/lua55.log" 'pkg-config lua$'
fi
finish

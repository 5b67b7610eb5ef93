#!/usr/bin/env bash
# Lists reads and writes of global variables in Lua files (a missing
# `local`, or a local read before its declaration): every GETTABUP/SETTABUP
# on _ENV in `luac5.4 -l -l` whose name is not Lua's standard library.
# Usage: tools/lua_globals.sh FILE... ; prints "file: name" per global and
# exits 1 if there is any, 0 if none, 2 if no Lua 5.4 compiler is found
# (luac5.4 on Debian; Homebrew's keg-only lua@5.4 on macOS; $LUAC).
set -u
luac=${LUAC:-}
if [ -z "$luac" ]; then
  for c in luac5.4 luac-5.4 /opt/homebrew/opt/lua@5.4/bin/luac /usr/local/opt/lua@5.4/bin/luac luac; do
    command -v "$c" >/dev/null 2>&1 || continue
    case $("$c" -v 2>&1) in "Lua 5.4"*) luac=$c; break ;; esac
  done
fi
[ -n "$luac" ] || { echo "no Lua 5.4 compiler (luac5.4; Debian: lua5.4, macOS: brew install lua@5.4)" >&2; exit 2; }
std='^(_G|_VERSION|assert|collectgarbage|coroutine|debug|dofile|error|getmetatable|io|ipairs|load|loadfile|math|next|os|package|pairs|pcall|print|rawequal|rawget|rawlen|rawset|require|select|setmetatable|string|table|tonumber|tostring|type|utf8|warn|xpcall|arg)$'
found=0
for f in "$@"; do
  out=$("$luac" -p -l -l "$f" 2>&1) || { echo "$f: does not compile: $out"; found=1; continue; }
  names=$(printf '%s\n' "$out" | grep -E '[GS]ETTABUP.*_ENV "' |
          grep -oE '_ENV "[A-Za-z_][A-Za-z0-9_]*"' | cut -d'"' -f2 | grep -vE "$std" | sort -u)
  for n in $names; do
    echo "$f: $n"
    found=1
  done
done
exit $found

# No Lua file shipped (the embedded library, scripts, examples) reads or
# writes a global variable: tools/lua_globals.sh over all of them finds
# nothing, and does find a planted global read (so the check can fail).
# The embedded library has no require cycle (tools/lua_requires.py), and a
# planted one is found.
. "$(dirname "$0")/lib.sh"
tools/lua_globals.sh > /dev/null 2>&1
[ $? -eq 2 ] && { echo "SKIP: no Lua 5.4 compiler (tools/deps.sh test installs it)"; exit 77; }
files=$(find src/lua scripts examples -name '*.lua' | sort)
expect "some Lua files found" [ -n "$files" ]
# shellcheck disable=SC2086
tools/lua_globals.sh $files > "$TMP/globals.txt"
rc=$?
expect "no globals in the shipped Lua ($(tr '\n' ' ' < "$TMP/globals.txt"))" [ $rc -eq 0 ]
cat > "$TMP/bad.lua" <<'LUA'
local M = {}
function M.f() return counter + 1 end   -- read before the local below
local counter = 0
return M
LUA
tools/lua_globals.sh "$TMP/bad.lua" > "$TMP/bad.txt"
expect "a planted global read is found (exit 1)" [ $? -eq 1 ]
expect "... and named" contains "$TMP/bad.txt" 'bad.lua: counter$'
python3 tools/lua_requires.py > "$TMP/req.txt"
expect "no require cycle in the library ($(tail -c 400 "$TMP/req.txt"))" [ $? -eq 0 ]
mkdir -p "$TMP/tree/src/lua/mlxbench"
printf 'local b = require "mlxbench.b"\nreturn {}\n' > "$TMP/tree/src/lua/mlxbench/a.lua"
printf 'local function f() return require("mlxbench.a") end\nreturn { f = f }\n' > "$TMP/tree/src/lua/mlxbench/b.lua"
python3 tools/lua_requires.py "$TMP/tree" > "$TMP/cyc.txt"
expect "a planted cycle is found (exit 1)" [ $? -eq 1 ]
expect "... and printed" contains "$TMP/cyc.txt" '^mlxbench\.a -> mlxbench\.b -> mlxbench\.a$'
finish

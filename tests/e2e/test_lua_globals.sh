# No Lua file shipped (the embedded library, scripts, examples) reads or
# writes a global variable: tools/lua_globals.sh over all of them finds
# nothing, and does find a planted global read (so the check can fail).
. "$(dirname "$0")/lib.sh"
command -v luac5.4 >/dev/null 2>&1 || { echo "SKIP: luac5.4 missing (tools/deps.sh test installs lua5.4)"; exit 77; }
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
finish
